"""`hf-sts evaluate` on several files: one subfolder of results per file, a bi-encoder's cosine metrics computed from
its embeddings, MTEB-style result files (task, split, main score), and the refusals of clashing outputs."""

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from hf_sts.cli.main import main as hf_sts_cli
from hf_sts.inference.mteb import MtebTask, infer_task

from ..conftest import KLUE_DEV, refusal_line


def _save(model, tokenizer, folder):
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "recipe.json").write_text(json.dumps({"max_seq_length": 48}))
    return folder


@pytest.fixture
def files(tmp_path, klue_dev):
    """A KLUE-STS dev JSON of 40 pairs and a KorSTS test TSV of 30 (KLUE pairs in KorSTS columns), named as the
    official files are."""
    records = json.loads(KLUE_DEV.read_text(encoding="utf-8"))[:40]
    klue = tmp_path / "klue-sts-v1.1_dev.json"
    klue.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    rows = klue_dev.select(range(40, 70)).to_pandas()
    korsts = tmp_path / "sts-test.tsv"
    pd.DataFrame(
        {
            "genre": "main-news",
            "filename": "headlines",
            "year": "2015",
            "id": [f"{i:04d}" for i in range(30)],
            "score": rows["label"].round(2),
            "sentence1": rows["sentence1"],
            "sentence2": rows["sentence2"],
        }
    ).to_csv(korsts, sep="\t", index=False)
    return klue, korsts


def _cosines(model, tokenizer, first, second):
    """Each pair's cosine from the model's own embeddings of each sentence alone (one padded batch per side: the
    masked mean pooling ignores the padding)."""
    inputs = model.tokenize(
        tokenizer, list(first), list(second), padding=True, truncation=True, max_length=48, return_tensors="pt"
    )
    with torch.no_grad():
        u = model.encode(inputs["input_ids"], inputs["attention_mask"], inputs.get("token_type_ids"))
        v = model.encode(inputs["input_ids_b"], inputs["attention_mask_b"], inputs.get("token_type_ids_b"))
    return torch.nn.functional.cosine_similarity(u, v).numpy()


def test_two_files_get_a_folder_each_and_mteb_results(tmp_path, files, tiny_model, tokenizer, capsys):
    model = tiny_model("bert", "bi-encoder")
    run = _save(model, tokenizer, tmp_path / "bi-encoder")
    klue, korsts = files
    output_dir, mteb = tmp_path / "eval", tmp_path / "mteb"
    hf_sts_cli(
        ["evaluate", str(run), "--validation_file", str(klue), str(korsts), "--output_dir", str(output_dir)]
        + ["--mteb_results", str(mteb), "--precision", "fp32"]
    )
    printed = capsys.readouterr().out
    assert sorted(path.name for path in output_dir.iterdir()) == ["klue-sts-v1.1_dev", "sts-test"]
    assert "| file | pairs | pearson | spearman | f1 | cosine spearman |" in printed
    expected = {"klue-sts-v1.1_dev.json": ("KLUE-STS", "validation", 40), "sts-test.tsv": ("KorSTS", "test", 30)}
    for path in (klue, korsts):
        task, split, pairs = expected[path.name]
        results = json.loads((output_dir / path.stem / "all_results.json").read_text())
        predictions = pd.read_csv(output_dir / path.stem / "eval_predictions.csv")
        assert results["validation_file"] == str(path) and results["eval_samples"] == len(predictions) == pairs
        assert results["eval_pearson"] == pytest.approx(
            stats.pearsonr(predictions["prediction"], predictions["label"]).statistic, abs=1e-9
        )
        # The cosine metrics come from the embeddings, and the scores are 5 x those cosines.
        cosines = _cosines(model, tokenizer, predictions["sentence1"], predictions["sentence2"])
        np.testing.assert_allclose(predictions["prediction"], np.clip(5 * cosines, 0, 5), atol=1e-5)
        assert results["eval_cosine_spearman"] == pytest.approx(
            stats.spearmanr(cosines, predictions["label"]).statistic, abs=1e-6
        )
        assert results["eval_cosine_pearson"] == pytest.approx(
            stats.pearsonr(cosines, predictions["label"]).statistic, abs=1e-6
        )
        result = json.loads((mteb / f"{task}.json").read_text())
        assert result["task_name"] == task and result["mteb_version"] is None and result["evaluation_time"] > 0
        assert result["dataset_revision"] == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        (scores,) = result["scores"][split]
        assert scores["main_score"] == scores["cosine_spearman"] == results["eval_cosine_spearman"]
        assert scores["pearson"] == results["eval_pearson"] and scores["spearman"] == results["eval_spearmanr"]
        assert scores["hf_subset"] == "default" and scores["languages"] == ["kor-Hang"]
    assert sorted(path.name for path in mteb.iterdir()) == ["KLUE-STS.json", "KorSTS.json"]


def test_one_file_keeps_its_layout_and_a_cross_encoder_ranks_by_spearman(tmp_path, files, tiny_model, tokenizer):
    run = _save(tiny_model("bert", "mean"), tokenizer, tmp_path / "cross-encoder")
    klue, _ = files
    output_dir, mteb = tmp_path / "eval", tmp_path / "mteb"
    argv = ["evaluate", str(run), "--validation_file", str(klue), "--output_dir", str(output_dir)]
    hf_sts_cli([*argv, "--mteb_results", str(mteb), "--task_name", "MyKlue:dev"])
    results = json.loads((output_dir / "all_results.json").read_text())
    assert "eval_cosine_spearman" not in results  # a cross-encoder has no sentence embeddings
    (scores,) = json.loads((mteb / "MyKlue.json").read_text())["scores"]["dev"]
    assert scores["main_score"] == scores["spearman"] == results["eval_spearmanr"]
    assert "cosine_spearman" not in scores


def test_mteb_task_and_split_of_a_file(tmp_path, files, caplog):
    klue, korsts = files
    (tmp_path / "klue-sts-v1.1_train.csv").write_text("sentence1,sentence2,label\n가,나,1.0\n")
    (tmp_path / "mine.csv").write_text("sentence1,sentence2,label\n가,나,1.0\n")
    assert infer_task(klue) == MtebTask("KLUE-STS", "validation")
    assert infer_task(korsts) == MtebTask("KorSTS", "test")
    assert infer_task(tmp_path / "klue-sts-v1.1_train.csv") == MtebTask("KLUE-STS", "train")
    assert infer_task(korsts, "Foo:dev") == MtebTask("Foo", "dev")
    assert not caplog.records
    assert infer_task(tmp_path / "mine.csv") == MtebTask("mine", "test")  # said, not guessed silently
    assert "not a file of an MTEB task hf_sts knows" in caplog.text and "filed under the split 'test'" in caplog.text
    caplog.clear()
    assert infer_task(tmp_path / "mine.csv", "KorSTS") == MtebTask("KorSTS", "test")
    assert "filed under the split 'test'" in caplog.text


REFUSALS = {
    "two stems alike": (["{a}/sts-test.tsv", "{b}/sts-test.tsv", "--output_dir", "{out}"], r"would both be written"),
    "one task and split twice": (
        ["{a}/sts-test.tsv", "{b}/sts-test.tsv", "--mteb_results", "{out}"],
        r"are both MTEB task KorSTS, split test: give --task_name",
    ),
    "task names not one per file": (
        ["{a}/sts-test.tsv", "--mteb_results", "{out}", "--task_name", "A", "B"],
        r"--task_name: 2 name\(s\) for 1 --validation_file",
    ),
    "task name without mteb_results": (["{a}/sts-test.tsv", "--task_name", "A"], r"it needs --mteb_results"),
    "mteb_results inside output_dir": (
        ["{a}/sts-test.tsv", "--output_dir", "{out}", "--mteb_results", "{out}/mteb"],
        r"--mteb_results .* and --output_dir .* overlap",
    ),
    "a file twice": (["{a}/sts-test.tsv", "{a}/sts-test.tsv"], r"sts-test\.tsv: given twice"),
    "a broken second file": (
        ["{a}/sts-test.tsv", "{a}/broken.csv", "--output_dir", "{out}"],
        r"broken\.csv: columns .* match no known STS format",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusals_are_one_line_and_write_nothing(case, tmp_path, files, stand_in_encoders, capsys):
    _, korsts = files
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "sts-test.tsv").write_bytes(korsts.read_bytes())
    (tmp_path / "a" / "broken.csv").write_text("foo,bar\n1,2\n")
    arguments, message = REFUSALS[case]
    out = tmp_path / "out"
    arguments = [argument.format(a=tmp_path / "a", b=tmp_path / "b", out=out) for argument in arguments]
    line = refusal_line(["evaluate", str(stand_in_encoders["bert"]), "--validation_file", *arguments], capsys)
    assert re.search(message, line), line
    assert not out.exists()
