"""The experiment table, `hf-sts leaderboard`: the runs of any set of output folders side by side.

    hf-sts leaderboard outputs/ [more_runs/ ...] [--metric eval_pearson] [--output leaderboard.md]

A run is a folder holding both `recipe.json` and `all_results.json` (what `hf_sts/run.py` writes); the folders named
on the command line are searched for runs, and a run's own subfolders (its `fold-K/` models, checkpoints) are not.
The table has one row per run: the run's folder, the recipe keys whose values differ between the runs (each run's
recipe on top of the argument defaults, so a key one recipe leaves out shows its default), and the metrics
(`eval_pearson`, `eval_spearmanr`, `eval_f1`, the cross-validation means where there are some, `train_runtime`),
sorted by `--metric`, best first. This is the table competition teams keep by hand.
"""

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from hf_sts.errors import LeaderboardError, read_json_object
from hf_sts.training.card import markdown_table
from hf_sts.training.parser import SECRET_KEYS, recipe_defaults
from hf_sts.utils.write_guard import atomic_output, check_placement, write_text
from hf_sts.utils.write_guard import check_output as check_output_path


DEFAULT_METRIC = "eval_pearson"
# Metrics shown when some run has them, in this order.
METRIC_COLUMNS = (
    "eval_pearson",
    "eval_spearmanr",
    "eval_f1",
    "cv_pearson_mean",
    "cv_pearson_std",
    "oof_pearson",
    "binary_threshold",
    "train_samples",
    "train_runtime",
)
# What `--output` can be: suffix -> format.
OUTPUT_FORMATS = {".md": "Markdown", ".markdown": "Markdown", ".csv": "CSV"}
# Metric columns shown with 4 decimals.
SCORE_PREFIXES = ("eval_", "cv_", "oof_")
# Recipe keys that differ between runs without describing the experiment.
IGNORED_KEYS = frozenset(
    {"output_dir", "run_name", "logging_dir", "overwrite_output_dir", "hub_model_id", "resume_from_checkpoint"}
)


def find_runs(folders: list[str | Path]) -> list[Path]:
    """The run folders (with `recipe.json` and `all_results.json`) in and under `folders`, in path order, without
    descending into a run (its `fold-K/` and `checkpoint-*` folders).

    Raises:
        LeaderboardError: for a folder that does not exist, or folders that hold no run.
    """
    runs: list[Path] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise LeaderboardError(f"{folder}: no such folder; name output folders of hf_sts runs.")
        pending = [folder]
        while pending:
            current = pending.pop()
            if (current / "recipe.json").is_file() and (current / "all_results.json").is_file():
                runs.append(current)
                continue
            pending += sorted((path for path in current.iterdir() if path.is_dir()), reverse=True)
    if not runs:
        raise LeaderboardError(
            f"{', '.join(map(str, folders))}: no run found (a run folder holds recipe.json and all_results.json)."
        )
    return sorted(set(runs))


def _read_json(path: Path) -> dict[str, Any]:
    return read_json_object(path, LeaderboardError)


def _cell(value: Any) -> str:
    """A recipe value as one table cell: lists and dicts as compact JSON, unset as an empty cell, the rest as text."""
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else str(value)


def leaderboard(folders: list[str | Path], metric: str = DEFAULT_METRIC) -> pd.DataFrame:
    """Collect the runs in `folders` into one table, sorted by `metric` (higher first; runs without it last).

    Args:
        folders: output folders of runs, or folders holding them (searched with [`find_runs`]).
        metric: an `all_results.json` key to sort by, e.g. `eval_pearson` (default), `cv_pearson_mean`.

    Returns:
        A `pd.DataFrame` with one row per run: `run` (its folder, relative to the common parent of all runs), the
        recipe keys whose values differ between the runs, and the metrics of `METRIC_COLUMNS` some run has (Pearson,
        Spearman and F1 in [-1, 1] / [0, 1], `train_runtime` in seconds), plus `metric` if it is none of those.

    Raises:
        LeaderboardError: for a missing folder, no run, a `recipe.json` / `all_results.json` that does not read, or a
            `metric` no run has (the message lists the metrics there are).
    """
    runs = find_runs(folders)
    defaults = recipe_defaults()
    settings = [{**defaults, **_read_json(run / "recipe.json")} for run in runs]
    results = [_read_json(run / "all_results.json") for run in runs]
    available = sorted({key for result in results for key, value in result.items() if isinstance(value, (int, float))})
    if metric not in available:
        raise LeaderboardError(f"`--metric` {metric!r}: no run has it; the runs have {available}.")
    keys = sorted(
        {
            key
            for setting in settings
            for key in setting
            if key not in IGNORED_KEYS
            and key not in SECRET_KEYS
            and len({json.dumps(other.get(key), sort_keys=True, default=str) for other in settings}) > 1
        }
    )
    metrics = [name for name in METRIC_COLUMNS if any(name in result for result in results)]
    if metric not in metrics:
        metrics.insert(0, metric)
    resolved = [run.resolve() for run in runs]
    common = Path(os.path.commonpath([run.parent for run in resolved]))
    table = pd.DataFrame(
        [
            {
                "run": str(run.relative_to(common)),
                **{key: _cell(setting.get(key)) for key in keys},
                **{name: result.get(name) for name in metrics},
            }
            for run, setting, result in zip(resolved, settings, results, strict=True)
        ]
    )
    return table.sort_values(metric, ascending=False, na_position="last", kind="stable").reset_index(drop=True)


def _number(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4f}" if column.startswith(SCORE_PREFIXES) else f"{value:g}"
    return str(value)


def to_markdown(table: pd.DataFrame) -> str:
    """The table as Markdown (`hf_sts.training.card.markdown_table`): scores (`eval_*`, `cv_*`, `oof_*`) to 4
    decimals, other numbers as they are, missing values blank."""
    rows = [{column: _number(column, value) for column, value in row.items()} for row in table.to_dict("records")]
    return markdown_table(rows)


def check_output(path: str | Path, folders: list[str | Path]) -> Path:
    """Refuse an output path before the runs are read: it must not be, or lie inside, one of the runs of `folders`
    or any other model folder or run (`hf_sts.utils.write_guard.check_output`), and its suffix must be one of
    `OUTPUT_FORMATS`.

    Raises:
        LeaderboardError: for another suffix, or `folders` that hold no run.
        hf_sts.errors.OutputError: for a path that would write over a run's files.
    """
    runs = find_runs(folders)
    check_placement(path, "--output", inputs=runs)
    if Path(path).suffix.lower() not in OUTPUT_FORMATS:
        raise LeaderboardError(
            f"--output {path}: the table is written as "
            f"{', '.join(f'{suffix} ({name})' for suffix, name in OUTPUT_FORMATS.items())}; not as "
            f"{Path(path).suffix or 'a file without a suffix'}."
        )
    return check_output_path(path, "--output", inputs=runs)


def write_leaderboard(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the table to `path` atomically: CSV for `.csv`, Markdown for `.md` (see `OUTPUT_FORMATS`); call
    [`check_output`] first.

    Raises:
        LeaderboardError: for a suffix not in `OUTPUT_FORMATS`.
    """
    path = Path(path)
    if OUTPUT_FORMATS.get(path.suffix.lower()) == "CSV":
        with atomic_output(path) as temporary:
            table.to_csv(temporary, index=False)
    elif path.suffix.lower() in OUTPUT_FORMATS:
        write_text(path, to_markdown(table) + "\n")
    else:
        raise LeaderboardError(f"--output {path}: not one of {', '.join(OUTPUT_FORMATS)}.")
    return path


__all__ = [
    "OUTPUT_FORMATS",
    "LeaderboardError",
    "check_output",
    "find_runs",
    "leaderboard",
    "to_markdown",
    "write_leaderboard",
]
