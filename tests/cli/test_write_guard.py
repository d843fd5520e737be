"""The write guard as a property of every command: each `hf-sts` subcommand and `hf_sts/run.py` is run against the
same hostile outputs (the output is an input, reaches an input through a symlink, lies inside a model folder, is
another run) and must refuse each one as every refusal ends (exit status 2, one line, no traceback) with nothing
written anywhere. A command joins by being registered in `hf_sts.cli.main.COMMANDS`:
`test_every_command_is_covered` fails until it is listed below, as a command that writes (`GUARDED`) or one that
writes nothing the user names (`WRITES_NOTHING`)."""

import hashlib
import json
import os
import re
import runpy
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from hf_sts.cli.main import COMMANDS, main
from hf_sts.run import main as run_main

from ..conftest import KLUE_DEV, QUICKSTART, REPO_ROOT, TINY, refusal_line


RUN_ARGS = [*TINY, "--max_train_samples=40", "--max_eval_samples=20", "--disable_tqdm=true"]
SWEEP = str(REPO_ROOT / "recipes" / "sweeps" / "quickstart.yaml")
PRETRAIN_ARGS = [
    "--model_type=bert",
    "--config_overrides=hidden_size=32,num_hidden_layers=1,num_attention_heads=2,intermediate_size=64",
    "--tokenizer_vocab_size=500",
    "--max_seq_length=32",
]


@dataclass
class World:
    """The inputs every command reads, each a file or folder whose bytes the tests check are unchanged."""

    root: Path
    run: Path  # a trained hf_sts run (a model folder and a run)
    other_run: Path  # a second run: no command may write into or over it
    model: Path  # a model folder that is not a run
    recipe: Path
    dev: Path  # labeled pairs
    test: Path  # unlabeled pairs
    predictions: Path  # a member of an ensemble (validation predictions of a run, copied out of it)
    text: Path  # text for pretraining
    back_translated: Path  # labeled pairs with back-translations made elsewhere, for `augment`
    encoder: Path  # a plain encoder (tiny, random weights), the cosine filter of `augment`


@pytest.fixture(scope="module")
def world(tmp_path_factory, stand_in_encoders) -> World:
    root = tmp_path_factory.mktemp("write_guard")
    dev = pd.read_json(KLUE_DEV)[["sentence1", "sentence2"]].assign(
        label=[row["real-label"] for row in pd.read_json(KLUE_DEV)["labels"]]
    )
    dev.iloc[:30].to_csv(root / "dev.csv", index=False)
    dev.iloc[30:40].drop(columns="label").assign(id=[f"t{i}" for i in range(10)]).to_csv(
        root / "test.csv", index=False
    )
    dev.iloc[:10].assign(bt1=dev.sentence1.iloc[:10], bt2=dev.sentence2.iloc[:10]).to_csv(
        root / "back_translated.csv", index=False
    )
    (root / "text.txt").write_text("\n".join(dev.sentence1.iloc[:40]) + "\n", encoding="utf-8")
    shutil.copy(REPO_ROOT / QUICKSTART, root / "recipe.json")
    run = root / "run"
    run_main(
        [
            "recipes/quickstart_cross_encoder.json",
            *RUN_ARGS,
            "--output_dir",
            str(run),
            "--save_strategy=no",
            "--head=cls",
        ]
        + ["--validation_file", str(root / "dev.csv")]
    )
    shutil.copytree(run, root / "other_run")
    shutil.copytree(run, root / "model", ignore=shutil.ignore_patterns("recipe.json", "all_results.json"))
    shutil.copy(run / "eval_predictions.csv", root / "predictions.csv")
    return World(
        root=root,
        run=run,
        other_run=root / "other_run",
        model=root / "model",
        recipe=root / "recipe.json",
        dev=root / "dev.csv",
        test=root / "test.csv",
        predictions=root / "predictions.csv",
        text=root / "text.txt",
        back_translated=root / "back_translated.csv",
        encoder=stand_in_encoders["bert"],
    )


@dataclass
class Guarded:
    """How a command writes: `argv(world, output)` is its command line writing to `output`, a file or a folder
    (`folder`); `input(world)` is the input the first two hostile outputs aim at."""

    argv: object
    folder: bool
    input: object


def _script(world: World, output: str) -> list[str]:
    return ["--run.py", str(world.recipe), *RUN_ARGS, "--validation_file", str(world.dev), "--output_dir", output]


GUARDED = {
    "train": Guarded(
        lambda w, out: ["train", str(w.recipe), *RUN_ARGS, "--validation_file", str(w.dev), "--output_dir", out],
        folder=True,
        input=lambda w: w.recipe,
    ),
    "hf_sts/run.py": Guarded(_script, folder=True, input=lambda w: w.dev),
    "pretrain": Guarded(
        lambda w, out: ["pretrain", *PRETRAIN_ARGS, "--text_file", str(w.text), "--output_dir", out],
        folder=True,
        input=lambda w: w.text,
    ),
    "search": Guarded(
        lambda w, out: ["search", str(w.recipe), "--n-trials", "1", "--output_dir", out, "--sweep", SWEEP, *RUN_ARGS],
        folder=True,
        input=lambda w: w.recipe,
    ),
    "evaluate": Guarded(
        lambda w, out: ["evaluate", str(w.run), "--validation_file", str(w.dev), "--output_dir", out],
        folder=True,
        input=lambda w: w.dev,
    ),
    "predict": Guarded(
        lambda w, out: ["predict", str(w.run), "--input", str(w.test), "--output", out],
        folder=False,
        input=lambda w: w.test,
    ),
    "label": Guarded(
        lambda w, out: ["label", str(w.run), "--input", str(w.test), "--output", out],
        folder=False,
        input=lambda w: w.test,
    ),
    "export": Guarded(
        lambda w, out: ["export", str(w.run), "--format", "sequence-classification", "--output", out],
        folder=True,
        input=lambda w: w.run,
    ),
    "ensemble": Guarded(
        lambda w, out: ["ensemble", "--method", "mean", "--output", out, str(w.predictions), str(w.predictions)],
        folder=True,
        input=lambda w: w.predictions,
    ),
    "describe": Guarded(
        lambda w, out: ["describe", str(w.dev), "--output_dir", out],
        folder=True,
        input=lambda w: w.dev,
    ),
    "leaderboard": Guarded(
        lambda w, out: ["leaderboard", str(w.run), str(w.other_run), "--output", out],
        folder=False,
        input=lambda w: w.run / "all_results.json",
    ),
    "augment": Guarded(
        lambda w, out: (
            ["augment", "back-translate", "--input", str(w.back_translated), "--output", out]
            + ["--translation_columns", "bt1", "bt2", "--filter_model", str(w.encoder)]
        ),
        folder=False,
        input=lambda w: w.back_translated,
    ),
    # `push` writes into the run it uploads, as documented (its manifest, `space/`): the Space folder must not lead
    # elsewhere. `argv` gets the path `space/` links to.
    "push": Guarded(None, folder=True, input=lambda w: w.dev.parent),
}
WRITES_NOTHING = {
    "demo": "serves a page; the files it scores are written to a private temporary folder, the model to the Hub cache",
}
# Hostile output -> (how it is made from the world and the command, what the refusal names).
HOSTILE = {
    "the input": lambda w, guarded, tmp: guarded.input(w),
    "a symlink to the input": lambda w, guarded, tmp: _link(tmp / "link", guarded.input(w)),
    "inside a model folder": lambda w, guarded, tmp: w.model / ("exported" if guarded.folder else "scores.csv"),
    "another run": lambda w, guarded, tmp: w.other_run if guarded.folder else w.other_run / "all_results.json",
}
# What each refusal says (`hf_sts.utils.write_guard` and the training run's own rule for a non-empty output_dir).
REFUSALS = (
    r"is the input|lies inside|contains the input|is an hf_sts run|is a model folder|is not empty|is a file|"
    r"is a folder|is a link|reaches outside"
)


def _push(run: Path) -> list[str]:
    return ["push", str(run), "--repo-id", "me/model", "--dry-run"]


def _link(link: Path, target: Path) -> Path:
    link.symlink_to(target, target_is_directory=target.is_dir())
    return link


def snapshot(root: Path) -> dict[str, str]:
    """Every path under `root` (links as links) with a digest of its content: equal snapshots mean nothing was
    written, deleted or created."""
    entries = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            entries[key] = f"-> {os.readlink(path)}"
        elif path.is_file():
            entries[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            entries[key] = "folder"
    return entries


def run_command(argv: list[str], monkeypatch) -> None:
    """Run the command line in this process: `hf-sts ARGV`, or with `--run.py ...` the script `hf_sts/run.py` as
    `python hf_sts/run.py ...` runs it."""
    if argv[0] != "--run.py":
        main(argv)
        return
    monkeypatch.setattr(sys, "argv", ["hf_sts/run.py", *argv[1:]])
    runpy.run_path(str(REPO_ROOT / "hf_sts" / "run.py"), run_name="__main__")


def refuse(argv: list[str], capsys, monkeypatch) -> tuple[str, str]:
    """Run the command line (see `run_command`), check that it ends as every refusal must (exit status 2, exactly one
    `hf-sts: error:` line, no traceback) and return that line and everything printed."""
    with pytest.raises(SystemExit) as exit_info:
        run_command(argv, monkeypatch)
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.startswith("hf-sts: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    return lines[0], out + err


def test_every_command_is_covered():
    assert set(GUARDED) | set(WRITES_NOTHING) == {*COMMANDS, "hf_sts/run.py"}


@pytest.mark.parametrize("hostile", list(HOSTILE))
@pytest.mark.parametrize("command", [name for name in GUARDED if name != "push"])
def test_every_command_refuses_every_hostile_output(command, hostile, world, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    guarded = GUARDED[command]
    output = HOSTILE[hostile](world, guarded, tmp_path)
    before, around = snapshot(world.root), snapshot(tmp_path)
    line, _ = refuse(guarded.argv(world, str(output)), capsys, monkeypatch)
    assert str(output) in line or os.path.basename(output) in line, line
    assert re.search(REFUSALS, line), line
    assert snapshot(world.root) == before and snapshot(tmp_path) == around


@pytest.mark.parametrize("hostile", list(HOSTILE))
def test_push_refuses_a_space_folder_that_leads_out_of_the_run(hostile, world, tmp_path, capsys, monkeypatch):
    """`hf-sts push --space --dry-run` writes `space/` into the run; a `space` that is a link to an input, a model
    folder or another run is refused before anything (the upload manifest included) is written."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "pushed"
    shutil.copytree(world.run, run)
    target = HOSTILE[hostile](world, GUARDED["push"], tmp_path)
    target = target if Path(target).is_dir() else Path(target).parent
    _link(run / "space", Path(target))
    before, around = snapshot(world.root), snapshot(tmp_path)
    line = refusal_line([*_push(run), "--space"], capsys)
    assert "space" in line and "is a link" in line, line
    assert snapshot(world.root) == before and snapshot(tmp_path) == around


def test_a_command_updating_its_own_earlier_output_says_so(world, tmp_path, capsys, caplog):
    """Not hostile: an earlier output of the same command is replaced, with one notice naming it."""
    output = tmp_path / "ensemble"
    argv = GUARDED["ensemble"].argv(world, str(output))
    main(argv)
    first = json.loads((output / "ensemble_results.json").read_text())
    caplog.clear()
    main(argv)
    assert json.loads((output / "ensemble_results.json").read_text()) == first
    assert any("holds an earlier output of this command" in record.getMessage() for record in caplog.records)


TOKEN = "hf_WriteGuardTestTokenNotReal0123456789"


@pytest.mark.parametrize("command", list(GUARDED))
def test_a_token_on_the_command_line_is_never_printed(command, world, tmp_path, capsys, monkeypatch):
    """A token typed as `--token hf_...` (a recipe key of the script commands, a flag no other command has) is on no
    line a refused command prints, and in no file."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_TOKEN", "unset")  # the run commands move a given token into HF_TOKEN
    if command == "push":
        argv = _push(world.run)
    else:
        argv = GUARDED[command].argv(world, str(world.other_run if GUARDED[command].folder else world.test))
    _, printed = refuse([*argv, "--token", TOKEN], capsys, monkeypatch)
    assert TOKEN not in printed and TOKEN[3:12] not in printed, printed
    assert not [path for path in tmp_path.rglob("*") if path.is_file() and TOKEN.encode() in path.read_bytes()]


@pytest.mark.slow
def test_no_command_writes_or_prints_a_token(world, tmp_path, capsys, monkeypatch):
    """Every command run to the end with a Hub token in the environment (`HF_TOKEN`), and the script commands also
    given one as `--hub_token`: the token is in nothing printed and in no file written."""
    monkeypatch.chdir(REPO_ROOT)  # the recipe's data paths are relative to the repository
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    run = tmp_path / "pushed"
    shutil.copytree(world.run, run)
    given = {"train", "hf_sts/run.py", "pretrain", "search"}
    for command, guarded in GUARDED.items():
        if command == "push":
            argv = _push(run)
        else:
            output = tmp_path / command.replace("/", "_") / ("" if guarded.folder else "out.csv")
            suffix = ".md" if command == "leaderboard" else ""
            argv = guarded.argv(world, str(output).rstrip("/") + suffix)
            argv += ["--hub_token", TOKEN, "--max_steps=2", "--eval_strategy=no"] if command in given else []
        run_command(argv, monkeypatch)
    printed = "".join(capsys.readouterr())
    assert TOKEN not in printed
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert len(written) > 30
    assert [str(path) for path in written if TOKEN.encode() in path.read_bytes()] == []
