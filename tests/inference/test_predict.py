"""Scoring pairs: prompts, length-sorted batches back in input order, `hf-sts predict` and `hf-sts evaluate`."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from transformers import AutoModel, AutoTokenizer

from hf_sts.cli.main import main as hf_sts_cli
from hf_sts.inference.loading import load_model
from hf_sts.inference.scoring import default_batch_size, predict_scores

from ..conftest import KLUE_DEV


PROMPT = "질문: "


def _one_by_one(model, tokenizer, first, second, max_length=128):
    """Each pair scored alone, without padding: the reference for batched scoring."""
    with torch.no_grad():
        return np.array(
            [
                model(
                    **model.tokenize(tokenizer, [a], [b], truncation=True, max_length=max_length, return_tensors="pt")
                ).logits.item()
                for a, b in zip(first, second, strict=True)
            ]
        )


@pytest.mark.parametrize("kind", ["mean", "rnn", "bi-encoder"])
def test_length_sorted_batches_score_in_input_order(tiny_model, tokenizer, klue_dev, kind):
    model = tiny_model("bert", kind)
    rows = klue_dev.select(range(24))
    first, second = rows["sentence1"][:], rows["sentence2"][:]
    scores = predict_scores(model, tokenizer, first, second, batch_size=5, show_progress_bar=False, bf16=False)
    assert scores.shape == (24,) and scores.dtype == np.float64
    np.testing.assert_allclose(scores, _one_by_one(model, tokenizer, first, second), atol=1e-5)


def test_the_default_batch_size_is_16_on_a_cpu(tiny_model, tokenizer, klue_dev, monkeypatch):
    """Without a batch size, pairs are scored in batches of 16 on a CPU (64 on any other device)."""
    model = tiny_model("bert", "mean")
    sizes = []
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda **batch: sizes.append(len(batch["input_ids"])) or forward(**batch))
    rows = klue_dev.select(range(40))
    predict_scores(model, tokenizer, rows["sentence1"][:], rows["sentence2"][:], show_progress_bar=False, bf16=False)
    assert sizes == [16, 16, 8]
    assert default_batch_size(torch.device("cuda")) == 64


def test_prompt_is_part_of_the_model(tmp_path, tiny_model, tokenizer):
    model = tiny_model("roberta", "bi-encoder")
    model.config.prompt = PROMPT
    inputs = model.tokenize(tokenizer, ["숙소가 좋아요."], ["방이 깨끗해요."])
    plain = model.pair_inputs(tokenizer, ["숙소가 좋아요."], ["방이 깨끗해요."])
    prompt_ids = tokenizer(PROMPT, add_special_tokens=False)["input_ids"]
    assert inputs["input_ids"][0][1 : 1 + len(prompt_ids)] == prompt_ids  # right after [CLS]
    assert inputs["input_ids_b"][0][1 : 1 + len(prompt_ids)] == prompt_ids
    assert len(inputs["input_ids"][0]) == len(plain["input_ids"][0]) + len(prompt_ids)

    model.save_pretrained(tmp_path)
    for loaded in (AutoModel.from_pretrained(tmp_path), AutoModel.from_pretrained(tmp_path, trust_remote_code=True)):
        assert loaded.config.prompt == PROMPT
        assert loaded.tokenize(tokenizer, ["숙소가 좋아요."], ["방이 깨끗해요."]) == inputs


@pytest.fixture
def checkpoint(tmp_path, tiny_model, tokenizer, klue_dev):
    """A saved tiny cross-encoder with a prompt, as a run leaves it (with recipe.json)."""
    model = tiny_model("bert", "mean")
    model.config.prompt = PROMPT
    # Spread the scores out (the same way whatever ran before in the session), centred on the middle of the scale.
    torch.nn.init.normal_(model.head.out_proj.weight, std=1.0, generator=torch.Generator().manual_seed(0))
    rows = klue_dev.select(range(30))
    pairs = (rows["sentence1"], rows["sentence2"])
    batch = model.tokenize(tokenizer, *pairs, padding=True, truncation=True, max_length=48, return_tensors="pt")
    with torch.no_grad():
        model.head.out_proj.bias += 2.5 - model(**batch).logits.mean()
    folder = tmp_path / "run"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "recipe.json").write_text(json.dumps({"max_seq_length": 48}))
    return folder


def _competition_test_csv(klue_dev, path, n=30):
    rows = klue_dev.select(range(n))
    frame = pd.DataFrame(
        {
            "id": [f"boostcamp-sts-v1-test-{i:03d}" for i in range(n)][::-1],  # not in sorted order
            "source": rows["source"],
            "sentence_1": rows["sentence1"],
            "sentence_2": rows["sentence2"],
        }
    )
    frame.to_csv(path, index=False)
    return frame


def test_predict_writes_id_target_in_input_order(tmp_path, checkpoint, klue_dev, capsys):
    frame = _competition_test_csv(klue_dev, tmp_path / "test.csv")
    output = tmp_path / "out" / "predictions.csv"
    hf_sts_cli(["predict", str(checkpoint), "--input", str(tmp_path / "test.csv"), "--output", str(output)])
    written = pd.read_csv(output)
    assert list(written.columns) == ["id", "target"]
    assert written["id"].tolist() == frame["id"].tolist()
    loaded = load_model(str(checkpoint))
    assert loaded.max_seq_length == 48 and loaded.model.config.prompt == PROMPT
    first, second = frame["sentence_1"].tolist(), frame["sentence_2"].tolist()
    expected = _one_by_one(loaded.model, loaded.tokenizer, first, second, max_length=48)
    np.testing.assert_allclose(written["target"], np.clip(expected, 0, 5), atol=1e-5)
    assert written["target"].between(0, 5).all() and written["target"].nunique() > 1
    assert "Wrote 30 scores" in capsys.readouterr().out

    with_sentences = tmp_path / "with.csv"
    hf_sts_cli(
        ["predict", str(checkpoint), "--input", str(tmp_path / "test.csv"), "--output", str(with_sentences)]
        + ["--with-sentences"]
    )
    assert pd.read_csv(with_sentences).columns.tolist() == ["id", "target", "sentence1", "sentence2"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--input", "{tmp}/missing.csv"], "missing.csv: no such file"),
        (["--input", "{tmp}/bad.csv"], "bad.csv: row 2 (1-based, header excluded): `sentence2` is empty"),
        (["--input", "{tmp}/good.csv", "--prompt", "query: "], "is an hf_sts model, which carries its own"),
    ],
)
def test_predict_errors_are_one_line(tmp_path, checkpoint, capsys, arguments, message):
    (tmp_path / "bad.csv").write_text("sentence1,sentence2\n가,나\n다,\n")
    (tmp_path / "good.csv").write_text("sentence1,sentence2\n가,나\n다,라\n")
    output = tmp_path / "predictions.csv"
    arguments = [argument.replace("{tmp}", str(tmp_path)) for argument in arguments]
    with pytest.raises(SystemExit) as exit_info:
        hf_sts_cli(["predict", str(checkpoint), *arguments, "--output", str(output)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("hf-sts: error: ") and message in error and error.count("\n") == 1  # nothing else
    assert not output.exists()


def test_evaluate_plain_encoder_zero_shot(tmp_path, stand_in_encoders, klue_dev, capsys):
    encoder = stand_in_encoders["bert"]
    output_dir = tmp_path / "zero-shot"
    hf_sts_cli(
        ["evaluate", str(encoder), "--validation_file", str(KLUE_DEV), "--prompt", PROMPT, "--output_dir"]
        + [str(output_dir)]
    )
    results = json.loads((output_dir / "all_results.json").read_text())
    predictions = pd.read_csv(output_dir / "eval_predictions.csv")
    assert len(predictions) == results["eval_samples"] == 519
    # The metrics are those of the written predictions, and the predictions are 5 x the cosine of prompted
    # mean-pooled embeddings of the plain encoder.
    assert results["eval_pearson"] == pytest.approx(
        stats.pearsonr(predictions["prediction"], predictions["label"]).statistic, abs=1e-9
    )
    assert results["eval_mae"] == pytest.approx((predictions["prediction"] - predictions["label"]).abs().mean())
    backbone = AutoModel.from_pretrained(encoder).eval()
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    with torch.no_grad():
        embeddings = []
        for sentence in (klue_dev[0]["sentence1"], klue_dev[0]["sentence2"]):
            inputs = tokenizer(PROMPT + sentence, return_tensors="pt")
            embeddings.append(backbone(**inputs).last_hidden_state.mean(dim=1))
        expected = 5 * torch.nn.functional.cosine_similarity(*embeddings).item()
    assert predictions["prediction"][0] == pytest.approx(min(max(expected, 0), 5), abs=1e-5)
    assert "zero-shot as a bi-encoder (mean pooling, prompt '질문: '" in results["model"]
    for name in ("prediction_vs_gold.png", "residuals.png", "per_source_pearson.csv", "worst_pairs.csv"):
        assert (output_dir / name).is_file()
    assert '"eval_pearson"' in capsys.readouterr().out


def test_evaluate_precision_is_chosen_and_recorded(tmp_path, checkpoint, capsys):
    """`--precision bf16` scores under bf16 autocast (emulated where the CPU lacks it: slower, the same rounding),
    within 1e-2 of fp32 on the 0-5 scale; all_results.json says which precision scored."""
    outputs = {}
    for precision in ("fp32", "bf16"):
        output_dir = tmp_path / precision
        hf_sts_cli(
            ["evaluate", str(checkpoint), "--validation_file", str(KLUE_DEV), "--output_dir", str(output_dir)]
            + ["--precision", precision, "--device", "cpu"]
        )
        assert json.loads((output_dir / "all_results.json").read_text())["precision"] == precision
        outputs[precision] = pd.read_csv(output_dir / "eval_predictions.csv")["prediction"].to_numpy()
    assert not np.array_equal(outputs["bf16"], outputs["fp32"])
    np.testing.assert_allclose(outputs["bf16"], outputs["fp32"], atol=1e-2)


@pytest.mark.parametrize(
    "recipe, expected",
    [(None, "bf16"), ({"bf16": True}, "bf16"), ({"bf16": False}, "fp32"), ({}, "fp32"), ({"bf16": "auto"}, "bf16")],
    ids=["no recipe", "bf16 run", "bf16 off", "bf16 unset", "bf16 auto"],
)
def test_auto_precision_follows_the_runs_recipe(tmp_path, checkpoint, monkeypatch, recipe, expected):
    """On a device that runs bf16 natively, `--precision auto` scores as the run trained and scored: in fp32 where
    its recipe left `bf16` off (an fp16 or fp32 run, whose submission.csv was scored in fp32); in bf16 where it set
    it or where there is no run recipe (a plain encoder, an export)."""
    from hf_sts.inference import loading as predict

    monkeypatch.setattr(predict, "native_bf16", lambda device, hidden_size: True)
    (checkpoint / "recipe.json").unlink()
    if recipe is not None:
        (checkpoint / "recipe.json").write_text(json.dumps({"max_seq_length": 48, **recipe}))
    output_dir = tmp_path / "out"
    hf_sts_cli(["evaluate", str(checkpoint), "--validation_file", str(KLUE_DEV), "--output_dir", str(output_dir)])
    assert json.loads((output_dir / "all_results.json").read_text())["precision"] == expected


def test_hub_id_scores_with_its_runs_max_seq_length(tmp_path, checkpoint, monkeypatch):
    """A pushed run loaded by its Hub id (here from a Hub cache, offline) truncates pairs as its run did: to the
    `max_seq_length` of the `recipe.json` uploaded beside it."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    repo = tmp_path / "cache" / "models--me--sts-run"
    shutil.copytree(checkpoint, repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    loaded = load_model("me/sts-run", cache_dir=str(tmp_path / "cache"), device="cpu")
    assert loaded.max_seq_length == 48 and loaded.run_bf16 is False
    (repo / "snapshots" / "0123abcd" / "recipe.json").unlink()
    assert load_model("me/sts-run", cache_dir=str(tmp_path / "cache"), device="cpu").max_seq_length == 128


def test_evaluate_binary_threshold_is_the_files_unless_given(tmp_path, checkpoint, caplog):
    """KLUE dev's binary labels imply 3.0; `--binary_threshold` moves F1's cut on the predictions (the gold binary
    labels stay the file's); all_results.json records the threshold used."""
    from sklearn.metrics import f1_score

    caplog.set_level("INFO", logger="hf_sts")
    gold = [row["binary-label"] for row in pd.read_json(KLUE_DEV)["labels"]]
    for given, threshold in ((None, 3.0), ("2.0", 2.0)):
        output_dir = tmp_path / str(threshold)
        extra = [] if given is None else ["--binary_threshold", given]
        hf_sts_cli(
            ["evaluate", str(checkpoint), "--validation_file", str(KLUE_DEV), "--output_dir", str(output_dir)] + extra
        )
        results = json.loads((output_dir / "all_results.json").read_text())
        assert results["binary_threshold"] == threshold
        predictions = pd.read_csv(output_dir / "eval_predictions.csv")["prediction"]
        assert results["eval_f1"] == pytest.approx(f1_score(gold, predictions >= threshold))
    assert "binary_threshold 3.0, implied by the binary labels of" in caplog.text
