"""Data preparation a recipe turns on: text cleaning saved with the model, undersampling of a label bucket, the binary
threshold of F1, and several training files."""

import json
import logging
import re

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import f1_score
from transformers import AutoModel

from hf_sts.data.checks import implied_binary_threshold, resolve_binary_threshold
from hf_sts.data.pairs import label_buckets, undersample
from hf_sts.data.readers import load_sts_datasets, read_sts_file
from hf_sts.models.sts.text_cleaning import CLEANING_STEPS, clean_text, register_cleaning_step
from hf_sts.run import main as run_main
from hf_sts.training.fit import FitOutcome
from hf_sts.training.parser import parse_args

from ..conftest import KLUE_DEV, KLUE_TRAIN, QUICKSTART, REPO_ROOT, TINY, run_python, write_competition_csv


ALL_STEPS = ["emoji", "special_characters", "repeated_characters", "whitespace"]
# No per-epoch evaluation or checkpoints: the runs below check what the final model scores.
FAST = ["--eval_strategy=no", "--save_strategy=no", "--load_best_model_at_end=false", "--disable_tqdm=true"]


@pytest.mark.parametrize(
    ("steps", "text", "expected"),
    [
        (["emoji"], "좋아요😀 👍🏽 최고🇰🇷 👨‍👩‍👧", "좋아요  최고 "),
        (["special_characters"], "(정말?) 1,000원~ A/B “좋다”! ㅋㅋ ㅠㅠ", "정말? 1,000원 AB 좋다! ㅋㅋ ㅠㅠ"),
        (["repeated_characters"], "ㅋㅋㅋㅋㅋ 하하하하 zzz 10000원 ㅠㅠ", "ㅋㅋ 하하 zz 10000원 ㅠㅠ"),
        (["whitespace"], "  숙소가\t 좋아요 \n", "숙소가 좋아요"),
        (ALL_STEPS, "숙소가 (진짜) 좋아요ㅋㅋㅋㅋ😀!!  ", "숙소가 진짜 좋아요ㅋㅋ!!"),
        ([], "그대로 😀", "그대로 😀"),
    ],
)
def test_cleaning_steps(steps, text, expected):
    assert clean_text(text, steps) == expected


def test_steps_run_in_the_listed_order():
    # Whitespace first leaves the gap the removed emoji opens; last, it closes it.
    assert clean_text("좋다 😀 정말", ["whitespace", "emoji"]) == "좋다  정말"
    assert clean_text("좋다 😀 정말", ["emoji", "whitespace"]) == "좋다 정말"


def test_a_step_name_is_registered_once():
    with pytest.raises(ValueError, match="A cleaning step named 'emoji' is already registered"):
        register_cleaning_step("emoji")(str.lower)
    assert set(CLEANING_STEPS) >= set(ALL_STEPS)


DIRTY = ("숙소가 (진짜) 깨끗해요ㅋㅋㅋㅋ😀!!", "방이   넓고 “조용”해요~ 👍🏽")


@pytest.mark.slow  # starts a process without hf_sts (about 8 s)
def test_cleaning_is_part_of_the_saved_model(tmp_path, tiny_model, tokenizer):
    expected = {}
    for kind in ("mean", "bi-encoder"):
        model = tiny_model("bert", kind)
        model.config.text_cleaning = ALL_STEPS
        model.config.prompt = "query: "  # never cleaned itself: `special_characters` would drop its colon
        cleaned = [clean_text(text, ALL_STEPS) for text in DIRTY]
        inputs = model.tokenize(tokenizer, [DIRTY[0]], [DIRTY[1]])
        assert inputs == model.pair_inputs(tokenizer, [cleaned[0]], [cleaned[1]], prompt="query: ")
        assert inputs != model.pair_inputs(tokenizer, [DIRTY[0]], [DIRTY[1]], prompt="query: ")

        folder = tmp_path / kind
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        assert (folder / "text_cleaning.py").is_file()  # copied with the code, for trust_remote_code
        assert json.loads((folder / "config.json").read_text())["text_cleaning"] == ALL_STEPS
        assert AutoModel.from_pretrained(folder).tokenize(tokenizer, [DIRTY[0]], [DIRTY[1]]) == inputs
        expected[str(folder)] = {key: value for key, value in inputs.items() if key.startswith("input_ids")}

    # Without hf_sts, the code saved beside the weights cleans the same way (one process for both models).
    code = (
        "import sys, json\n"
        "from transformers import AutoModel, AutoTokenizer\n"
        "out = {}\n"
        "for folder in sys.argv[3:]:\n"
        "    model = AutoModel.from_pretrained(folder, trust_remote_code=True)\n"
        "    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)\n"
        "    inputs = model.tokenize(tokenizer, [sys.argv[1]], [sys.argv[2]])\n"
        "    out[folder] = {key: value for key, value in inputs.items() if key.startswith('input_ids')}\n"
        "print(json.dumps(out))\n"
    )
    result = run_python(code, *DIRTY, *expected, block_hf_sts=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == expected, result.stdout[-2000:]


def test_undersampling_keeps_a_seeded_share_of_one_bucket():
    dataset = read_sts_file(KLUE_TRAIN).select(range(1000))
    before = np.bincount(label_buckets(dataset["label"][:]), minlength=6)
    half = undersample(dataset, bucket=0, ratio=0.5, seed=42)
    after = np.bincount(label_buckets(half["label"][:]), minlength=6)
    assert after[0] == round(before[0] / 2) and (after[1:] == before[1:]).all()
    ids = half["id"][:]
    order = {id_: row for row, id_ in enumerate(dataset["id"][:])}
    assert [order[id_] for id_ in ids] == sorted(order[id_] for id_ in ids)  # file order kept
    assert undersample(dataset, 0, 0.5, seed=42)["id"][:] == ids  # the same draw for the same seed
    assert undersample(dataset, 0, 0.5, seed=7)["id"][:] != ids
    assert len(undersample(dataset, 0, 1.0, seed=42)) == len(dataset)
    assert len(undersample(dataset, 5, 0.01, seed=42)) == len(dataset) - before[5] + 1  # at least one pair stays


def test_undersampling_applies_to_each_folds_training_part_only(tmp_path, monkeypatch):
    from hf_sts.data.pairs import assign_folds
    from hf_sts.training.cv import train_folds

    seen = []

    class Trainer:
        def save_metrics(self, *args, **kwargs):
            pass

        def is_world_process_zero(self):
            return True

    def fit(model_args, data_args, training_args, tokenizer, splits, callbacks=None):
        seen.append((splits["train"], splits["validation"]))
        predictions = {"validation": np.zeros(len(splits["validation"]))}
        return FitOutcome(Trainer(), {"eval_pearson": 0.0}, predictions)

    monkeypatch.setattr("hf_sts.training.cv.fit", fit)
    argv = [QUICKSTART, "--output_dir", str(tmp_path), "--num_folds", "2", "--undersample_bucket", "0"]
    model_args, data_args, training_args, _ = parse_args([*argv, "--undersample_ratio", "0.5"])
    pooled = read_sts_file(KLUE_TRAIN).select(range(400))
    folds = assign_folds(pooled["label"][:], 2, seed=42)
    train_folds(model_args, data_args, training_args, None, pooled, folds, {})
    buckets = label_buckets(pooled["label"][:])
    for fold, (train, validation) in enumerate(seen):
        outside = buckets[folds != fold]
        trained = np.bincount(label_buckets(train["label"][:]), minlength=6)
        assert trained[0] == round((outside == 0).sum() / 2)
        assert (trained[1:] == np.bincount(outside, minlength=6)[1:]).all()
        assert len(validation) == (folds == fold).sum()  # held-out rows untouched, bucket 0 included


def test_implied_binary_threshold():
    labels = [0.0, 1.2, 2.4, 2.5, 2.6, 3.0, 4.8, None]
    assert implied_binary_threshold(labels, [0, 0, 0, 1, 1, 1, 1, -1]).threshold == 2.5
    found = implied_binary_threshold(labels, [0, 0, 0, 1, 0, 1, 1, -1])  # row 4 (2.6, binary 0) breaks the rule
    assert found.threshold == 2.5 and found.contradictions.tolist() == [4] and found.labeled == 7
    assert implied_binary_threshold([2.4, 2.6, 0.0], [0, 1, 0]).threshold == 2.5  # the roundest score in (2.4, 2.6]
    assert implied_binary_threshold([2.857, 3.0, 4.2], [0, 1, 1]).threshold == 3.0
    assert implied_binary_threshold([2.41, 2.44], [0, 1]).threshold == 2.42
    assert implied_binary_threshold([0.0, 0.3], [1, 1]).threshold == 0.0
    assert implied_binary_threshold(labels, [-1] * 8) is None
    assert implied_binary_threshold(labels, [0, 0, 0, 0, 0, 0, 0, -1]) is None


def test_run_threshold_comes_from_the_data_unless_the_recipe_sets_it(caplog):
    caplog.set_level(logging.INFO, logger="hf_sts")
    klue = load_sts_datasets(train_file=str(KLUE_TRAIN), validation_file=str(KLUE_DEV))
    origins = {"train": "train.csv", "validation": "dev.json"}
    assert resolve_binary_threshold(dict(klue), None, origins) == 3.0  # the dev file's binary labels
    assert "implied by the binary labels of dev.json" in caplog.text
    assert resolve_binary_threshold({"train": klue["train"]}, None, origins) == 3.0  # none: KLUE's
    assert resolve_binary_threshold(dict(klue), 2.0, origins) == 2.0


def _competition_files(folder, rows=400):
    """KLUE-STS pairs as competition CSVs whose binary labels follow `label >= 2.5`."""
    paths = {"train": folder / "train.csv", "dev": folder / "dev.csv"}
    train, dev = read_sts_file(KLUE_TRAIN).select(range(rows)), read_sts_file(KLUE_DEV)
    write_competition_csv(train, paths["train"], id_prefix="train", binary_threshold=2.5)
    write_competition_csv(dev, paths["dev"], id_prefix="dev", binary_threshold=2.5)
    return paths


@pytest.mark.slow
def test_competition_run_scores_f1_at_the_threshold_its_labels_follow(tmp_path):
    paths = _competition_files(tmp_path)
    output_dir = tmp_path / "run"
    files = ["--train_file", str(paths["train"]), "--validation_file", str(paths["dev"])]
    run_main(
        [str(REPO_ROOT / QUICKSTART), *files, "--output_dir", str(output_dir), *TINY, *FAST, "--num_train_epochs=4"]
    )
    results = json.loads((output_dir / "all_results.json").read_text())
    assert results["binary_threshold"] == 2.5
    predictions = pd.read_csv(output_dir / "eval_predictions.csv")
    binary = pd.read_csv(paths["dev"])["binary-label"]
    assert results["eval_f1"] == pytest.approx(f1_score(binary, predictions.prediction >= 2.5))
    assert results["eval_f1"] != pytest.approx(f1_score(binary, predictions.prediction >= 3.0))
    assert (
        "`prediction >= 2.5` (the threshold the data's binary labels follow)" in (output_dir / "README.md").read_text()
    )


def test_recipe_with_cleaning_and_undersampling_predicts_dirty_text_as_its_cleaned_form(tmp_path, capsys, caplog):
    from hf_sts.cli.main import main as hf_sts_cli

    caplog.set_level(logging.INFO, logger="hf_sts")

    output_dir = tmp_path / "run"
    cleaning = ["--text_cleaning", *ALL_STEPS, "--undersample_bucket", "0", "--undersample_ratio", "0.5"]
    argv = [str(REPO_ROOT / QUICKSTART), "--output_dir", str(output_dir), *TINY, *cleaning]
    run_main([*argv, *FAST, "--max_train_samples=300", "--max_eval_samples=40"])
    results = json.loads((output_dir / "all_results.json").read_text())
    buckets = label_buckets(read_sts_file(KLUE_TRAIN)["label"][:300])
    assert results["train_samples"] == 300 - (buckets == 0).sum() + round((buckets == 0).sum() / 2)
    assert json.loads((output_dir / "config.json").read_text())["text_cleaning"] == ALL_STEPS
    assert re.search(
        rf"text_cleaning \[.*\] changes \d+ of the {2 * results['train_samples']} train sentences", caplog.text
    )
    assert "Undersampled label bucket 0 to 50%" in caplog.text
    assert (
        "`hf_sts.models.sts.text_cleaning` steps `emoji`, `special_characters`"
        in (output_dir / "README.md").read_text()
    )

    dirty = pd.DataFrame(
        {"sentence1": [DIRTY[0], "평범한 문장입니다."], "sentence2": [DIRTY[1], "평범한 문장이에요."]}
    )
    clean = dirty.map(lambda text: clean_text(text, ALL_STEPS))
    assert (dirty != clean).any().any()
    scores = {}
    for name, frame in (("dirty", dirty), ("clean", clean)):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
        hf_sts_cli(
            ["predict", str(output_dir), "--input", str(tmp_path / f"{name}.csv")]
            + ["--output", str(tmp_path / f"{name}_scores.csv")]
        )
        scores[name] = pd.read_csv(tmp_path / f"{name}_scores.csv").target.to_numpy()
    np.testing.assert_allclose(scores["dirty"], scores["clean"], atol=1e-6)


def test_several_training_files_train_together(tmp_path):
    klue = read_sts_file(KLUE_TRAIN)
    write_competition_csv(klue.select(range(0, 50)), tmp_path / "a.csv", id_prefix="a")
    write_competition_csv(klue.select(range(50, 80)), tmp_path / "b.csv", id_prefix="b")
    splits = load_sts_datasets(
        train_file=[str(tmp_path / "a.csv"), str(tmp_path / "b.csv")], validation_split_percentage=0
    )
    assert len(splits["train"]) == 80
    assert splits["train"]["sentence1"][:] == klue["sentence1"][:80]
    _, data_args, _, recipe = parse_args(
        [QUICKSTART, "--train_file", str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    )
    assert data_args.train_file == [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    assert recipe["train_file"] == data_args.train_file


def test_sentences_that_cleaning_empties_are_named(caplog):
    from hf_sts.data.checks import log_cleaning

    dataset = read_sts_file(KLUE_TRAIN).select(range(3))
    dataset = dataset.map(lambda row, i: {"sentence2": "😀👍" if i == 1 else row["sentence2"]}, with_indices=True)
    log_cleaning({"train": dataset}, ["emoji"])
    assert (
        "text_cleaning leaves 1 train sentence(s) empty, first `sentence2` of row 2 (1-based) of the train data, the "
        "pair with id 'klue-sts-v1.1_train-1'"
    ) in caplog.text


def test_cleaning_changes_no_model_that_does_not_ask_for_it(tiny_model, tokenizer):
    model = tiny_model("bert", "cls")
    assert model.config.text_cleaning is None
    assert model.tokenize(tokenizer, [DIRTY[0]], [DIRTY[1]]) == model.pair_inputs(tokenizer, [DIRTY[0]], [DIRTY[1]])
    with torch.no_grad():
        batch = model.tokenize(tokenizer, [DIRTY[0]], [DIRTY[1]], return_tensors="pt")
        assert torch.isfinite(model(**batch).logits).all()
