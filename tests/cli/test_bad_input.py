"""A corpus of bad input through every command: each case ends with exit status 2 and one line naming the file,
row, key or flag, without a traceback and without writing anything; each case hf_sts proceeds on says what it did.
(The train command's recipe and data cases are in `test_run.py::test_bad_input_is_one_clear_line`; `hf_sts/run.py`
as the process `accelerate launch` starts, in `test_run.py::test_launched_run_ends_with_the_hf_sts_line`.)"""

import json
import re
import shutil
import sys

import pandas as pd
import pytest
import yaml
from transformers import AutoTokenizer

from hf_sts.run import main as run_main

from ..conftest import KLUE_DEV, KLUE_TRAIN, QUICKSTART, REPO_ROOT, TINY, refusal_line


RUN_ARGS = [*TINY, "--max_train_samples=40", "--max_eval_samples=20", "--disable_tqdm=true"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A trained tiny cross-encoder run (with a test file), and broken copies of its files."""
    root = tmp_path_factory.mktemp("bad_input")
    dev = pd.read_json(KLUE_DEV)[["sentence1", "sentence2"]].assign(
        label=[row["real-label"] for row in pd.read_json(KLUE_DEV)["labels"]]
    )
    dev.iloc[:30].to_csv(root / "dev.csv", index=False)
    dev.iloc[30:40].drop(columns="label").assign(id=[f"t{i}" for i in range(10)]).to_csv(
        root / "test.csv", index=False
    )
    run = root / "run"
    run_main(
        ["recipes/quickstart_cross_encoder.json", *RUN_ARGS, "--output_dir", str(run)]
        + ["--validation_file", str(root / "dev.csv"), "--test_file", str(root / "test.csv")]
    )
    predictions = pd.read_csv(run / "eval_predictions.csv")
    (root / "empty.csv").write_bytes(b"")
    (root / "binary.csv").write_bytes(bytes(range(256)) * 2)
    predictions.assign(prediction=predictions.prediction.astype(object).where(predictions.index != 4, "high")).to_csv(
        root / "non_numeric.csv", index=False
    )
    predictions.assign(prediction=predictions.prediction.where(predictions.index != 2)).to_csv(
        root / "blank_prediction.csv", index=False
    )
    (root / "a_file").write_text("not a folder")
    dev.iloc[:1].to_csv(root / "one_row.csv", index=False)
    test = pd.read_csv(root / "test.csv", dtype=str, keep_default_na=False)
    test.assign(id=test.id.where(test.index != 3, "")).to_csv(root / "blank_id.csv", index=False)
    (root / "stray_quote.csv").write_text(
        'sentence1,sentence2,label\n첫 문장.,"인용으로 시작하는 문장\n다음 줄,끝나는 문장",3.0\n셋째,넷째,1.0\n',
        encoding="utf-8",
    )
    truncated = root / "truncated_model"
    shutil.copytree(run, truncated, ignore=shutil.ignore_patterns("checkpoint-*"))
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    (root / "empty_model").mkdir()
    shutil.copytree(run, root / "run_with_recipe", ignore=shutil.ignore_patterns("checkpoint-*"))
    shutil.copy(REPO_ROOT / QUICKSTART, root / "run_with_recipe" / "my_recipe.json")  # the recipe kept in its run
    shutil.copytree(run, root / "no_pad_token", ignore=shutil.ignore_patterns("checkpoint-*"))
    tokenizer = AutoTokenizer.from_pretrained(run)
    tokenizer.pad_token = None
    tokenizer.save_pretrained(root / "no_pad_token")
    dev.iloc[:10].assign(label=dev.label.iloc[:10].where(dev.index[:10] != 6)).to_csv(
        root / "partly_labeled.csv", index=False
    )
    adapter = root / "adapter_without_config"  # a LoRA adapter folder missing the hf_sts config.json
    adapter.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(run / name, adapter / name)
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "base_model_name_or_path": "x"}))
    shutil.copytree(run, root / "no_tokenizer", ignore=shutil.ignore_patterns("checkpoint-*", "tokenizer*"))
    sweeps = {
        "reversed": {"learning_rate": {"distribution": "log_uniform_values", "min": 1e-2, "max": 1e-4}},
        "no_values": {"learning_rate": {"values": []}},
        "wrong_length": {"loss_weights": {"values": [[1.0, 2.0, 3.0]]}},
    }
    for name, parameters in sweeps.items():
        (root / f"{name}.yaml").write_text(yaml.safe_dump({"parameters": parameters}))
    return root


PREDICTIONS = "{root}/run/eval_predictions.csv"
# The commands of the cases ({root}: the `inputs` folder, {out}: an output path that must not appear).
MEAN = ["ensemble", "--method", "mean", "--output", "{out}", PREDICTIONS]
WEIGHTED = ["ensemble", "--method", "weighted", "--output", "{out}", PREDICTIONS, PREDICTIONS, "--weights"]
SEARCH = ["search", QUICKSTART, "--n-trials", "1", "--output_dir", "{out}", "--sweep"]
TRAIN = ["train", QUICKSTART, *RUN_ARGS, "--output_dir", "{out}"]
PREDICT = ["predict", "{root}/run", "--input", "{root}/test.csv", "--output", "{out}/p.csv"]
CASES = {
    # hf-sts ensemble: members that cannot be read, blank or non-numeric predictions, weights, output path
    "ensemble, empty member": (
        [*MEAN, "{root}/empty.csv"],
        r"empty\.csv: empty file",
    ),
    "ensemble, binary member": (
        [*MEAN, "{root}/binary.csv"],
        r"binary\.csv: not a CSV file",
    ),
    "ensemble, non-numeric prediction": (
        [*MEAN, "{root}/non_numeric.csv"],
        r"non_numeric\.csv: row 5 \(1-based\): `prediction` 'high' is not a finite number",
    ),
    "ensemble, blank prediction": (
        [*MEAN, "{root}/blank_prediction.csv"],
        r"blank_prediction\.csv: row 3 \(1-based\): `prediction` is blank",
    ),
    "ensemble, weights summing to zero": (
        [*WEIGHTED, "1", "-1"],
        r"`weights` \[1\.0, -1\.0\]: expected finite numbers with a non-zero sum",
    ),
    "ensemble, infinite weight": (
        [*WEIGHTED, "inf", "1"],
        r"`weights` \[inf, 1\.0\]",
    ),
    "ensemble, output is a file": (
        ["ensemble", "--method", "mean", "--output", "{root}/a_file", PREDICTIONS, PREDICTIONS],
        r"a_file is a file; --output names a folder to write",
    ),
    # hf-sts export
    "export, output is a file": (
        ["export", "{root}/run", "--format", "sequence-classification", "--output", "{root}/a_file"],
        r"a_file is a file; --output names a folder to write",
    ),
    "export, truncated weights": (
        ["export", "{root}/truncated_model", "--format", "sequence-classification", "--output", "{out}"],
        r"truncated_model/model\.safetensors: truncated or corrupt safetensors file",
    ),
    # hf-sts push --dry-run
    "push, bad repository id": (
        ["push", "{root}/run", "--repo-id", "not a repo", "--dry-run"],
        r"Invalid repository id 'not a repo'",
    ),
    "push, empty folder": (
        ["push", "{root}/empty_model", "--repo-id", "me/model", "--dry-run"],
        r"empty_model: no model to push",
    ),
    # hf-sts predict / evaluate
    "predict, truncated weights": (
        ["predict", "{root}/truncated_model", "--input", "{root}/test.csv", "--output", "{out}/p.csv"],
        r"model\.safetensors: truncated or corrupt safetensors file",
    ),
    "predict, empty model folder": (
        ["predict", "{root}/empty_model", "--input", "{root}/test.csv", "--output", "{out}/p.csv"],
        r"empty_model: cannot load it",
    ),
    "predict, model folder without a tokenizer": (
        ["predict", "{root}/no_tokenizer", "--input", "{root}/test.csv", "--output", "{out}/p.csv"],
        r"no_tokenizer: cannot load it \(a local folder or a Hub id\)",
    ),
    "predict, blank id": (
        ["predict", "{root}/run", "--input", "{root}/blank_id.csv", "--output", "{out}/p.csv"],
        r"blank_id\.csv: row 4 \(1-based, header excluded\): the id is blank",
    ),
    "predict, batch size 0": (
        [*PREDICT, "--batch_size", "0"],
        r"predict: argument --batch_size/--batch-size: '0' is not a whole number >= 1",
    ),
    "predict, tokenizer without a padding token": (
        ["predict", "{root}/no_pad_token", "--input", "{root}/test.csv", "--output", "{out}/p.csv"],
        r"no_pad_token: its tokenizer has no padding token, which batches of pairs need",
    ),
    "predict, more tokens than the position embeddings": (
        [*PREDICT, "--max_seq_length", "9999"],
        r"--max_seq_length 9999: .*/run reads at most \d+ tokens per sequence",
    ),
    "predict, a device this machine lacks": (
        [*PREDICT, "--device", "cuda:7"],
        r"device 'cuda:7': this machine has \d CUDA devices",
    ),
    "predict, not a device": (
        [*PREDICT, "--device", "gpu"],
        r"device 'gpu' is not a device \(cpu, cuda, cuda:1, mps, \.\.\.\)",
    ),
    "predict, labels on some pairs only": (
        ["predict", "{root}/run", "--input", "{root}/partly_labeled.csv", "--output", "{out}/p.csv"],
        r"partly_labeled\.csv: row 7 .*the label is missing while other rows have one; label every pair, or none",
    ),
    "predict, LoRA adapter folder without its config": (
        ["predict", "{root}/adapter_without_config", "--input", "{root}/test.csv", "--output", "{out}/p.csv"],
        r"adapter_without_config: no config\.json; give the adapter folder of an hf_sts LoRA run",
    ),
    "evaluate, one pair": (
        ["evaluate", "{root}/run", "--validation_file", "{root}/one_row.csv", "--output_dir", "{out}"],
        r"one_row\.csv: 1 labeled pair\(s\); Pearson r needs at least 2",
    ),
    # hf-sts search: sweep ranges, values the recipe rejects
    "search, min above max": (
        [*SEARCH, "{root}/reversed.yaml"],
        r"reversed\.yaml: parameter 'learning_rate': `min` 0\.01 is above `max` 0\.0001",
    ),
    "search, no values": (
        [*SEARCH, "{root}/no_values.yaml"],
        r"no_values\.yaml: parameter 'learning_rate': `values` must be a non-empty list",
    ),
    "search, list value of the wrong length": (
        [*SEARCH, "{root}/wrong_length.yaml"],
        r"wrong_length\.yaml: parameter 'loss_weights', value \[1\.0, 2\.0, 3\.0\]: `loss_weights` has 3 weights",
    ),
    "search, a cross-validation recipe": (
        ["search", QUICKSTART, "--n-trials", "1", "--output_dir", "{out}", *RUN_ARGS, "--num_folds", "2"],
        r"`hf-sts search` tunes single runs: drop `num_folds` from the recipe for the search",
    ),
    "search, no trials": (
        ["search", QUICKSTART, "--n-trials", "0", "--output_dir", "{out}"],
        r"search: argument --n-trials/--n_trials: '0' is not a whole number >= 1",
    ),
    # hf-sts train: data, model folders, output_dir, checkpoints, tokens
    "train, one validation pair": (
        [*TRAIN, "--validation_file", "{root}/one_row.csv"],
        r"one_row\.csv: 1 labeled pair\(s\)",
    ),
    "train, tiny train set without validation file": (
        [*TRAIN, "--validation_file", "none"] + ["--train_file", "{root}/one_row.csv"],
        r"one_row\.csv: holding out validation_split_percentage=5% of its 1 training pairs leaves 1 validation",
    ),
    "train, stray quote merging rows": (
        [*TRAIN, "--validation_file", "{root}/stray_quote.csv"],
        r"stray_quote\.csv: row 1 .*`sentence2` holds a line break, the mark of a stray quote",
    ),
    "train, blank test id": (
        [*TRAIN, "--test_file", "{root}/blank_id.csv"],
        r"blank_id\.csv: row 4 .*the id is blank",
    ),
    "train, earlier run in output_dir": (
        ["train", QUICKSTART, *RUN_ARGS, "--output_dir", "{root}/run"],
        r"`output_dir` .*/run is not empty \(README\.md, all_results\.json, checkpoint-\d+ and \d+ more\): set "
        r"`overwrite_output_dir` true",
    ),
    "train, overwrite a folder that is not a run": (
        ["train", QUICKSTART, *RUN_ARGS, "--output_dir", "{root}/truncated_model/..", "--overwrite_output_dir=true"],
        r"holds files that are not an hf_sts run",
    ),
    "train, overwrite the run that holds the recipe being run": (
        ["train", "{root}/run_with_recipe/my_recipe.json", *RUN_ARGS, "--output_dir", "{root}/run_with_recipe"]
        + ["--overwrite_output_dir=true"],
        r"output_dir .*/run_with_recipe contains the input .*my_recipe\.json, which it could overwrite",
    ),
    "train, output_dir inside the model it starts from": (
        ["train", QUICKSTART, "--model_name_or_path", "{root}/run", "--output_dir", "{root}/run/continued"],
        r"output_dir .*/run/continued lies inside the input folder .*/run: write elsewhere",
    ),
    "train, empty model folder": (
        ["train", QUICKSTART, "--model_name_or_path", "{root}/empty_model", "--output_dir", "{out}"],
        r"empty_model: cannot load it",
    ),
    "train, model folder without a tokenizer": (
        ["train", QUICKSTART, "--model_name_or_path", "{root}/no_tokenizer", "--output_dir", "{out}"],
        r"no_tokenizer: cannot load it \(a local folder or a Hub id\)",
    ),
    "train, tokenizer without a padding token": (
        ["train", QUICKSTART, "--model_name_or_path", "{root}/no_pad_token", "--output_dir", "{out}"],
        r"no_pad_token: its tokenizer has no padding token, which batches of pairs need",
    ),
    "train, truncated weights": (
        ["train", QUICKSTART, "--model_name_or_path", "{root}/truncated_model", "--output_dir", "{out}"],
        r"truncated_model/model\.safetensors: truncated or corrupt",
    ),
    "train, resume from an empty folder": (
        [*TRAIN, "--resume_from_checkpoint", "{root}/empty_model"],
        r"`resume_from_checkpoint` .*empty_model: not a Trainer checkpoint",
    ),
    "train, more folds than pairs": (
        [*TRAIN, "--num_folds", "50"],
        r"`num_folds` must be between 2 and the 40 distinct pairs, got 50",
    ),
    "train, unknown cleaning step": (
        [*TRAIN, "--text_cleaning", "emoji", "emojis"],
        r"Unknown `text_cleaning` step\(s\) \['emojis'\]; registered steps: \['emoji', 'repeated_characters'",
    ),
    "train, cleaning step named twice": (
        [*TRAIN, "--text_cleaning", "whitespace", "emoji", "whitespace"],
        r"`text_cleaning` names \['whitespace'\] more than once",
    ),
    "train, undersampling ratio above 1": (
        [*TRAIN, "--undersample_bucket", "0", "--undersample_ratio", "1.5"],
        r"`undersample_ratio` must be in \(0, 1\], the share of the bucket's pairs kept, got 1\.5",
    ),
    "train, undersampling ratio of 0": (
        [*TRAIN, "--undersample_bucket", "0", "--undersample_ratio", "0"],
        r"`undersample_ratio` must be in \(0, 1\]",
    ),
    "train, undersampling bucket without a ratio": (
        [*TRAIN, "--undersample_bucket", "0"],
        r"`undersample_bucket` needs `undersample_ratio`",
    ),
    "train, undersampling bucket outside 0..5": (
        [*TRAIN, "--undersample_bucket", "6", "--undersample_ratio", "0.5"],
        r"argument --undersample_bucket/--undersample-bucket: invalid choice: 6 \(choose from 0, 1, 2, 3, 4, 5\)",
    ),
    "train, binary threshold outside the scale": (
        [*TRAIN, "--binary_threshold", "5.5"],
        r"`binary_threshold` must be a score in \(0\.0, 5\.0\], got 5\.5",
    ),
    "train, one id in two training files": (
        [*TRAIN, "--train_file", "{root}/dev.csv", "{root}/dev.csv"],
        r"dev\.csv: row 1 \(1-based, header excluded\): id 'dev-0' is also in .*dev\.csv",
    ),
    "train, LoRA rank 0": (
        ["train", QUICKSTART, "--model_name_or_path", "{root}/run", "--output_dir", "{out}", "--use_lora", "true"]
        + ["--lora_r", "0"],
        r"LoRA needs `lora_r` >= 1, `lora_alpha` > 0 and `lora_dropout` in \[0, 1\), got 0, 32\.0 and 0\.05",
    ),
    "train, LoRA target module the backbone lacks": (
        ["train", QUICKSTART, "--model_name_or_path", "{root}/run", "--output_dir", "{out}", "--use_lora", "true"]
        + ["--lora_target_modules", "query", "q_proj"],
        r"`lora_target_modules` \['q_proj'\]: no such module in the \w+ backbone; its module names are \[.*'query'",
    ),
    "train, Huber delta 0": (
        [*TRAIN, "--loss", "huber", "--huber_delta", "0"],
        r"`huber_delta` must be > 0 \(score units\), got 0\.0",
    ),
    "train, a Hub push at every save": (
        [*TRAIN, "--push_to_hub", "true", "--hub_strategy", "every_save"],
        r"`hub_strategy` 'every_save': hf_sts pushes once, at the end of the run \('end'\)",
    ),
    "train, missing accelerate config": (
        ["train", "--config_file", "{root}/missing.yaml", *TRAIN[1:]],
        r"--config_file .*missing\.yaml: no such file \(an accelerate config YAML\)",
    ),
    "train, launch options accelerate refuses": (
        ["train", "--multi_gpu", "--num_processes", "1", *TRAIN[1:]],
        r"accelerate launch --multi_gpu --num_processes 1: You need to use at least 2 processes to use `--multi_gpu`",
    ),
    "train, two different tokens": (
        [*TRAIN, "--token", "hf_a", "--hub_token", "hf_b"],
        r"`token` and `hub_token` name two different Hub tokens",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_through_every_command(case, inputs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO_ROOT)
    argv, message = CASES[case]
    out = tmp_path / "out"
    before = sorted(path.relative_to(inputs) for path in inputs.rglob("*"))
    line = refusal_line([argument.format(root=inputs, out=out) for argument in argv], capsys)
    assert re.search(message, line), line
    assert not out.exists()  # nothing written
    assert sorted(path.relative_to(inputs) for path in inputs.rglob("*")) == before


def test_search_without_optuna_names_the_extra(inputs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` fails
    line = refusal_line(["search", QUICKSTART, "--n-trials", "1", "--output_dir", str(tmp_path / "out")], capsys)
    assert "needs Optuna: pip install 'hf_sts[search]'" in line
    assert not (tmp_path / "out").exists()


def test_a_run_without_output_dir_says_where_it_writes(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    caplog.set_level("WARNING", logger="hf_sts")
    run_main(
        [str(REPO_ROOT / "recipes" / "quickstart_cross_encoder.json"), *RUN_ARGS, "--num_train_epochs=0.1"]
        + ["--output_dir", "none", "--train_file", str(KLUE_TRAIN), "--validation_file", str(KLUE_DEV)]
    )
    assert f"No output_dir in the recipe: writing to {tmp_path / 'trainer_output'}" in caplog.text
    assert (tmp_path / "trainer_output" / "all_results.json").is_file()


def test_what_hf_sts_proceeds_on_it_says(inputs, tmp_path, monkeypatch, caplog):
    """The unusual inputs a run proceeds on: each gets one warning that says what was done."""
    monkeypatch.chdir(REPO_ROOT)
    caplog.set_level("WARNING", logger="hf_sts")
    # Text that reads as "missing" to pandas is a sentence like any other: kept as written.
    frame = pd.read_csv(inputs / "dev.csv")
    frame.loc[0, "sentence1"], frame.loc[1, "sentence2"], frame.loc[2, "sentence1"] = "nan", "NA", "null"
    frame.to_csv(tmp_path / "dev.csv", index=False)
    # An earlier run replaced with overwrite_output_dir: its files go first, named in one warning.
    run = tmp_path / "run"
    shutil.copytree(inputs / "run", run)
    run_main(
        ["recipes/quickstart_cross_encoder.json", *RUN_ARGS, "--num_train_epochs=0.1", "--output_dir", str(run)]
        + ["--validation_file", str(tmp_path / "dev.csv"), "--overwrite_output_dir=true"]
    )
    assert re.search(r"overwrite_output_dir: deleted the earlier run in .*run \(\d+ entries: README\.md", caplog.text)
    assert not (run / "submission.csv").exists()  # the earlier run's, not rewritten by this one
    written = pd.read_csv(run / "eval_predictions.csv", keep_default_na=False)
    assert [written.loc[0, "sentence1"], written.loc[1, "sentence2"], written.loc[2, "sentence1"]] == [
        "nan",
        "NA",
        "null",
    ]
    assert json.loads((run / "recipe.json").read_text())["overwrite_output_dir"] is True
