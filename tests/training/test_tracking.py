"""Experiment tracking and search: offline wandb runs with the report, sweep configs that run, local Optuna search."""

import ast
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from hf_sts.errors import RecipeError
from hf_sts.run import main as run_main
from hf_sts.training.parser import recipe_keys
from hf_sts.training.search import load_sweep

from ..conftest import REPO_ROOT, TINY


SWEEPS = sorted((REPO_ROOT / "recipes" / "sweeps").glob("*.yaml"))
TINY_FAST = [*TINY, "--max_train_samples=64", "--max_eval_samples=32"]
HUB_TOKEN = "hf_TestTokenNotARealOneXyz0123456789"


def _run_offline(command: list[str], tmp_path, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run `command` from the repository root with no wandb credentials anywhere (no API key, a HOME without
    .netrc) and wandb runs written under `tmp_path`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WANDB_")}
    env.update(HOME=str(tmp_path), WANDB_DIR=str(tmp_path), WANDB_SILENT="true")
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.slow
def test_offline_wandb_run_holds_metrics_and_plots(tmp_path):
    output_dir = tmp_path / "run"
    result = _run_offline(
        [sys.executable, "hf_sts/run.py", "recipes/quickstart.json", "--output_dir", str(output_dir)]
        + [*TINY_FAST, "--report_to", "wandb", "--wandb_project", "hf-sts-test", "--run_name", "tiny"]
        + ["--hub_token", HUB_TOKEN, "--save_strategy", "epoch"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # The token given on the command line is in no file the run wrote: not in wandb's run file (which records the
    # command line), not in training_args.bin (root and checkpoints), nowhere else.
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert any(path.name == "training_args.bin" for path in written) and any(".wandb" in path.name for path in written)
    holding = [str(path) for path in written if HUB_TOKEN.encode() in path.read_bytes()]
    assert holding == []
    assert (result.stdout + result.stderr).count("wandb: no API key") == 1
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    records = list(_wandb_records(next(runs[0].glob("run-*.wandb"))))
    history = [
        {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
        for record in records
        if record.WhichOneof("record_type") == "history"
    ]
    pearsons = [row["eval_pearson"] for row in history if "eval_pearson" in row]
    assert len(pearsons) == 1 and -1 <= pearsons[0] <= 1  # one evaluation (one epoch)
    results = json.loads((output_dir / "all_results.json").read_text())
    assert pearsons[0] == pytest.approx(results["eval_pearson"], abs=1e-6)
    images = [path.name for path in (runs[0] / "files" / "media").rglob("*.png")]
    assert any(name.startswith("prediction_vs_gold") for name in images), images
    configs = [
        item for record in records if record.WhichOneof("record_type") == "config" for item in record.config.update
    ]
    recipe = next(json.loads(item.value_json) for item in configs if item.key == "recipe")
    assert recipe == json.loads((output_dir / "recipe.json").read_text())  # the full recipe is in the run config
    projects = [record.run.project for record in records if record.WhichOneof("record_type") == "run"]
    assert projects and set(projects) == {"hf-sts-test"}, projects  # the recipe's wandb_project reached wandb


def _wandb_records(path):
    """The records of a wandb run file (`run-*.wandb`): a 7-byte header (`:W&B`, magic, version), then the LevelDB
    log format (32 KiB blocks; each chunk has a 7-byte header: CRC32, length, type FULL/FIRST/MIDDLE/LAST) holding
    `wandb_internal_pb2.Record` messages. wandb 0.31 writes offline runs only in this form."""
    from wandb.proto import wandb_internal_pb2

    data, offset, block, pending = path.read_bytes(), 7, 32768, b""
    while offset + 7 <= len(data):
        if block - offset % block < 7:  # a block's tail too short for a header is padding
            offset += block - offset % block
            continue
        length, kind = int.from_bytes(data[offset + 4 : offset + 6], "little"), data[offset + 6]
        chunk, offset = data[offset + 7 : offset + 7 + length], offset + 7 + length
        if kind in (1, 2):  # FULL, FIRST
            pending = chunk
        elif kind in (3, 4):  # MIDDLE, LAST
            pending += chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


@pytest.mark.slow
def test_report_files_without_wandb(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    output_dir = tmp_path / "run"
    run_main(["recipes/quickstart.json", "--output_dir", str(output_dir), *TINY_FAST])  # in this process
    for name in ("prediction_vs_gold.png", "residuals.png"):
        assert (output_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    per_source = pd.read_csv(output_dir / "per_source_pearson.csv")
    predictions = pd.read_csv(output_dir / "eval_predictions.csv")
    assert set(per_source.source) == set(predictions.source) | {"all"}
    assert per_source.set_index("source").loc["all", "pairs"] == 32
    worst = pd.read_csv(output_dir / "worst_pairs.csv")
    assert len(worst) == 20 and worst.error.abs().is_monotonic_decreasing
    assert worst.error.abs().iloc[0] == pytest.approx((predictions.prediction - predictions.label).abs().max())


@pytest.mark.slow
@pytest.mark.parametrize("sweep_path", SWEEPS, ids=lambda path: path.stem)
def test_sweep_config_parses_and_its_command_runs(sweep_path, tmp_path, stand_in_encoders):
    sweep = load_sweep(sweep_path)
    assert sweep["metric"] == {"name": "eval_pearson", "goal": "maximize"}
    assert sweep["early_terminate"]["type"] == "hyperband"
    assert set(sweep["parameters"]) <= recipe_keys()
    # The command a wandb agent runs, with a sample of each parameter in its `--key=value` form.
    sampled = []
    for name, spec in sweep["parameters"].items():
        value = spec.get("value", spec["values"][-1] if "values" in spec else spec.get("min"))
        sampled.append(f"--{name}={value}")
    command = []
    for part in sweep["command"]:
        if part == "${env}":
            continue
        if part == "${args}":
            command += sampled
        else:
            command.append(sweep["program"] if part == "${program}" else part)
    assert command[:3] == ["accelerate", "launch", "hf_sts/run.py"] and command[3].startswith("recipes/")
    recipe = json.loads((REPO_ROOT / command[3]).read_text())
    tiny = ["--model_name_or_path", str(stand_in_encoders["roberta"])] if "model_name_or_path" in recipe else TINY
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1"]
    result = _run_offline(
        # The tiny stand-in right after the recipe, so the sampled values still have the last word.
        [*launcher, *command[2:4], *tiny, *command[4:], "--max_steps=1", "--max_train_samples=16"]
        + ["--max_eval_samples=16", "--output_dir", str(tmp_path / "run")],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    effective = json.loads((tmp_path / "run" / "recipe.json").read_text())
    for token in sampled:
        key, value = token[2:].split("=", 1)
        try:
            expected = ast.literal_eval(value)  # numbers and lists
        except (ValueError, SyntaxError):
            expected = [value] if key == "report_to" else value
        assert effective[key] == expected, key


@pytest.mark.slow
def test_search_writes_a_best_recipe_that_runs(tmp_path, monkeypatch):
    output_dir = tmp_path / "search"
    result = _run_offline(
        ["hf-sts", "search", "recipes/quickstart.json", "--n-trials", "2", "--output_dir", str(output_dir)]
        + [*TINY_FAST, "--sweep", "recipes/sweeps/quickstart.yaml"],
        tmp_path,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    trials = pd.read_csv(output_dir / "trials.csv")
    assert len(trials) == 2 and (trials.state == "COMPLETE").all()
    best = json.loads((output_dir / "best_recipe.json").read_text())
    best_trial = trials.loc[trials.value.idxmax()]
    assert best["learning_rate"] == pytest.approx(best_trial.params_learning_rate)
    assert best["num_train_epochs"] == best_trial.params_num_train_epochs
    assert best["max_train_samples"] == 64  # the overrides of the search are kept
    (tmp_path / "best.json").write_text(json.dumps({**best, "report_to": "none"}))
    monkeypatch.chdir(REPO_ROOT)
    run_main([str(tmp_path / "best.json"), "--output_dir", str(tmp_path / "rerun")])  # in this process
    assert "eval_pearson" in json.loads((tmp_path / "rerun" / "all_results.json").read_text())


def test_search_applies_model_keys_and_rebuilds_the_loss(tmp_path, monkeypatch):
    """Model keys reach `model_init`, training keys the arguments (as sampled), and the loss follows its weights."""
    from hf_sts.training import builder as build
    from hf_sts.training import search, trainer

    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        "method: random\nmetric: {name: eval_pearson, goal: maximize}\nparameters:\n"
        "  head: {values: [rnn]}\n  warmup_steps: {values: [0.25]}\n  loss_weights: {values: [[1.0, 0.25]]}\n"
    )
    heads, trials = [], []
    build_model = build.build_model
    monkeypatch.setattr(search, "build_model", lambda args, *rest: heads.append(args.head) or build_model(args, *rest))
    setup = trainer.StsTrainer._hp_search_setup

    def record(self, trial):
        setup(self, trial)
        if trial is not None:
            trials.append((self.args.warmup_steps, self.loss_fn.weights))

    monkeypatch.setattr(trainer.StsTrainer, "_hp_search_setup", record)
    monkeypatch.chdir(REPO_ROOT)
    best = search.search(
        "recipes/quickstart_cross_encoder.json",
        tmp_path / "out",
        1,
        sweep,
        [*TINY_FAST, "--warmup_steps", "0", "--loss", "l1+huber"],
    )
    assert heads == ["mean", "rnn"]  # the recipe's head for the trainer's first model, then the trial's
    assert trials == [(0.25, [1.0, 0.25])]
    assert best["head"] == "rnn" and best["loss_weights"] == [1.0, 0.25] and best["warmup_steps"] == 0.25


def test_sweep_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("parameters:\n  learnin_rate: {values: [1]}\n")
    with pytest.raises(RecipeError, match=r"bad\.yaml: parameter 'learnin_rate' is not a recipe key"):
        load_sweep(bad)
    bad.write_text("parameters:\n  max_seq_length: {values: [64, 128]}\n")
    with pytest.raises(RecipeError, match=r"parameter 'max_seq_length' changes the data or tokenizer"):
        load_sweep(bad)
    bad.write_text("parameters: [unclosed\n")
    with pytest.raises(RecipeError, match=r"bad\.yaml: not valid YAML"):
        load_sweep(bad)


@pytest.fixture
def no_wandb_credentials(tmp_path, monkeypatch):
    """An environment without any wandb credentials: no WANDB_* variables, a HOME without .netrc or settings."""
    for key in [key for key in os.environ if key.startswith("WANDB_")] + ["NETRC"]:
        monkeypatch.delenv(key, raising=False)
    for key in ("WANDB_MODE", "WANDB_PROJECT"):  # which setup_wandb sets: restored (unset) after the test
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))  # no workspace settings from ./wandb either
    return tmp_path


KEY = "a1b2c3d4e5" * 4  # an API key of wandb's format (40 characters)


def test_wandb_credentials_are_found_as_wandb_finds_them(no_wandb_credentials, monkeypatch):
    from wandb.sdk import wandb_setup

    from hf_sts.training.tracking import wandb_has_credentials

    home = no_wandb_credentials
    loaded = wandb_setup.singleton().settings_if_loaded
    assert wandb_has_credentials() is False
    monkeypatch.setenv("WANDB_API_KEY", KEY)
    assert wandb_has_credentials() is True
    monkeypatch.delenv("WANDB_API_KEY")
    # `wandb login` writes a .netrc entry for the W&B server.
    (home / ".netrc").write_text(f"machine api.wandb.ai\n  login user\n  password {KEY}\n")
    assert wandb_has_credentials() is True
    # A self-hosted server (`wandb login --host`): its entry counts only for that server ...
    monkeypatch.setenv("WANDB_BASE_URL", "http://wandb.example.com:8080")
    assert wandb_has_credentials() is False
    (home / ".netrc").write_text(f"machine wandb.example.com:8080\n  login user\n  password {KEY}\n")
    assert wandb_has_credentials() is True
    # ... also when the server is named in wandb's settings file, as `wandb login --host` leaves it.
    monkeypatch.delenv("WANDB_BASE_URL")
    assert wandb_has_credentials() is False
    (home / ".config" / "wandb").mkdir(parents=True)
    (home / ".config" / "wandb" / "settings").write_text("[default]\nbase_url = http://wandb.example.com:8080\n")
    assert wandb_has_credentials() is True
    # The process-wide wandb settings are not loaded by the lookup: wandb.init still reads the WANDB_MODE that
    # setup_wandb sets afterwards.
    assert wandb_setup.singleton().settings_if_loaded is loaded


def test_setup_wandb_goes_offline_without_credentials(no_wandb_credentials, monkeypatch, caplog):
    from hf_sts.training.tracking import setup_wandb

    with caplog.at_level("WARNING", logger="hf_sts.training.tracking"):
        setup_wandb("hf-sts-test")
    assert os.environ["WANDB_MODE"] == "offline" and os.environ["WANDB_PROJECT"] == "hf-sts-test"
    assert len(caplog.records) == 1 and caplog.records[0].getMessage().startswith("wandb: no API key")
    # With credentials, or a mode the user chose, nothing changes and nothing is said.
    caplog.clear()
    for variable, value in (("WANDB_API_KEY", KEY), ("WANDB_MODE", "disabled")):
        monkeypatch.delenv("WANDB_MODE", raising=False)
        monkeypatch.setenv(variable, value)
        with caplog.at_level("WARNING", logger="hf_sts.training.tracking"):
            setup_wandb(None)
        assert os.environ.get("WANDB_MODE") == (value if variable == "WANDB_MODE" else None)
        assert not caplog.records


def test_write_report_leaves_pyplot_alone(tmp_path):
    """The plots are `Figure` objects saved to files: no pyplot figure stays open and the backend is not switched."""
    import matplotlib
    import numpy as np

    from hf_sts.inference.report import write_report

    backend = matplotlib.get_backend()
    rng = np.random.default_rng(0)
    labels = rng.uniform(0, 5, 50)
    frame = pd.DataFrame(
        {
            "id": [f"row-{i}" for i in range(50)],
            "source": ["airbnb", "policy"] * 25,
            "sentence1": ["a"] * 50,
            "sentence2": ["b"] * 50,
            "label": labels,
            "prediction": np.clip(labels + rng.normal(0, 0.5, 50), 0, 5),
        }
    )
    paths = write_report(frame, tmp_path)
    for name in ("prediction_vs_gold", "residuals"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert matplotlib.get_backend() == backend
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []
    assert len(pd.read_csv(paths["worst_pairs"])) == 20
