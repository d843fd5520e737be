"""`hf-sts leaderboard`: the runs of output folders in one table of the keys that differ and the metrics."""

import json

import pandas as pd
import pytest

from hf_sts.cli.main import main as hf_sts_cli
from hf_sts.tools.leaderboard import leaderboard

from ..conftest import refusal_line


def _run(folder, recipe, results):
    folder.mkdir(parents=True)
    (folder / "recipe.json").write_text(json.dumps({"output_dir": str(folder), **recipe}))
    (folder / "all_results.json").write_text(json.dumps(results))
    return folder


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "outputs"
    _run(root / "base", {"loss": "mse", "learning_rate": 5e-5}, {"eval_pearson": 0.71, "train_runtime": 12.5})
    _run(root / "huber", {"loss": "l1+huber"}, {"eval_pearson": 0.74, "eval_f1": 0.7})
    cv = _run(root / "sweep" / "cv", {"loss": "mse", "num_folds": 2}, {"cv_pearson_mean": 0.69, "oof_pearson": 0.7})
    _run(cv / "fold-0", {"loss": "mse", "num_folds": 2}, {"eval_pearson": 0.99})  # a fold model, not a run
    (root / "notes").mkdir()
    return root


def test_table_holds_the_differing_keys_and_sorts_by_the_metric(runs):
    table = leaderboard([runs])
    assert list(table["run"]) == ["huber", "base", "sweep/cv"]  # sorted by eval_pearson; the CV run has none
    # `learning_rate` 5e-5 is the default, so only `loss` and `num_folds` differ; output_dir never counts.
    assert [column for column in table.columns if column in ("loss", "num_folds", "learning_rate", "output_dir")] == [
        "loss",
        "num_folds",
    ]
    assert list(table["loss"]) == ["l1+huber", "mse", "mse"]
    assert list(table["num_folds"]) == ["0", "0", "2"]
    assert table["eval_pearson"].iloc[0] == 0.74 and pd.isna(table["eval_pearson"].iloc[2])
    by_cv = leaderboard([runs], metric="cv_pearson_mean")
    assert list(by_cv["run"])[0] == "sweep/cv"


def test_command_prints_and_writes_markdown_or_csv(runs, tmp_path, capsys):
    hf_sts_cli(["leaderboard", str(runs), "--output", str(tmp_path / "board.md")])
    printed = capsys.readouterr().out
    assert "| huber " in printed and "0.7400" in printed and "Wrote 3 runs to" in printed
    assert (tmp_path / "board.md").read_text().splitlines()[2].startswith("| huber ")
    hf_sts_cli(["leaderboard", str(runs / "base"), str(runs / "huber"), "--output", str(tmp_path / "board.csv")])
    assert list(pd.read_csv(tmp_path / "board.csv")["run"]) == ["huber", "base"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["{root}/missing"], r"missing: no such folder"),
        (["{root}/notes"], r"notes: no run found \(a run folder holds recipe\.json and all_results\.json\)"),
        (["{root}", "--metric", "eval_pearsonn"], r"`--metric` 'eval_pearsonn': no run has it; the runs have \["),
        (["{root}", "--output", "{root}"], r"outputs is a folder; --output names the file to write"),
        (
            ["{root}", "--output", "{root}/table.xlsx"],
            r"table\.xlsx: the table is written as .*\.csv \(CSV\); not as \.xlsx",
        ),
        (
            ["{root}", "--output", "{root}/base/board.md"],
            r"board\.md lies inside the input folder .*base: write elsewhere",
        ),
        (["{root}/base", "--output", "{root}/huber/board.md"], r"board\.md lies inside .*huber, an hf_sts run"),
        (["{broken}"], r"broken/all_results\.json: not valid JSON"),
    ],
)
def test_errors_are_one_line(runs, arguments, message, capsys):
    import re

    broken = _run(runs.parent / "broken", {}, {})
    (broken / "all_results.json").write_text("{not json")
    before = sorted(runs.parent.rglob("*"))
    line = refusal_line(
        ["leaderboard", *(argument.format(root=runs, broken=broken) for argument in arguments)], capsys
    )
    assert re.search(message, line), line
    assert sorted(runs.parent.rglob("*")) == before
