"""Evaluation report of a run's validation predictions, saved as files in `output_dir` (matplotlib):

- `prediction_vs_gold.png`: predicted vs gold score per pair, coloured by `source`, with the diagonal;
- `residuals.png`: histogram of prediction − gold;
- `per_source_pearson.csv`: Pearson r and pair count per `source` (and overall);
- `worst_pairs.csv`: the 20 pairs with the largest absolute error.

`hf_sts.training.tracking` logs the same report to Weights & Biases when a run reports there.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from hf_sts.utils.write_guard import atomic_output


NUM_WORST = 20
# The report's files: name -> file name in `output_dir`.
REPORT_FILES = {
    "prediction_vs_gold": "prediction_vs_gold.png",
    "residuals": "residuals.png",
    "per_source_pearson": "per_source_pearson.csv",
    "worst_pairs": "worst_pairs.csv",
}


def per_source_pearson(frame: pd.DataFrame) -> pd.DataFrame:
    """Pearson r of `prediction` vs `label` per `source`, plus an `all` row.

    Args:
        frame: rows with `source`, `label` and `prediction` (0–5 scores).

    Returns:
        A frame `source, pairs, pearson` (Pearson NaN for a source with fewer than 2 pairs or constant scores).
    """

    def pearson(group: pd.DataFrame) -> float:
        if len(group) < 2 or group.prediction.nunique() < 2 or group.label.nunique() < 2:
            return float("nan")
        return float(stats.pearsonr(group.prediction, group.label).statistic)

    rows = [
        {"source": source, "pairs": len(group), "pearson": pearson(group)} for source, group in frame.groupby("source")
    ]
    rows.append({"source": "all", "pairs": len(frame), "pearson": pearson(frame)})
    return pd.DataFrame(rows)


def worst_pairs(frame: pd.DataFrame, count: int = NUM_WORST) -> pd.DataFrame:
    """The `count` pairs with the largest absolute error `|prediction - label|`, largest first, with an `error`
    column (prediction − gold, score units)."""
    errors = frame.prediction - frame.label
    order = np.argsort(-errors.abs().to_numpy(), kind="stable")[:count]
    return frame.iloc[order].assign(error=errors.iloc[order].to_numpy())


def write_report(predictions: pd.DataFrame, output_dir: str | Path) -> dict[str, Path]:
    """Write the plots and tables of the validation predictions into `output_dir` (`REPORT_FILES`), each file
    atomically.

    Args:
        predictions: `eval_predictions.csv` as a frame (`id, source, sentence1, sentence2, label, prediction`).

    Returns:
        `{name: path}` of the written files.
    """
    # matplotlib's object API: a `Figure` draws with its own Agg canvas, so no backend is chosen and no pyplot state
    # (current figure, open windows) is touched. Imported here, when the report is drawn at the end of a run or an
    # evaluation, not when a run starts (every run imports this module).
    from matplotlib.figure import Figure

    paths = {name: Path(output_dir) / file_name for name, file_name in REPORT_FILES.items()}
    figure = Figure(figsize=(5.5, 5))
    axes = figure.subplots()
    for source, group in predictions.groupby("source"):
        axes.scatter(group.label, group.prediction, s=8, alpha=0.6, label=source)
    axes.plot([0, 5], [0, 5], color="grey", linewidth=1)
    axes.set(xlabel="gold score", ylabel="predicted score", xlim=(-0.1, 5.1), ylim=(-0.1, 5.1))
    axes.set_title(f"{len(predictions)} validation pairs")
    axes.legend(fontsize="small", markerscale=2)
    _save(figure, paths["prediction_vs_gold"])

    figure = Figure(figsize=(5.5, 4))
    axes = figure.subplots()
    axes.hist(predictions.prediction - predictions.label, bins=40, color="tab:blue")
    axes.axvline(0, color="grey", linewidth=1)
    axes.set(xlabel="prediction − gold (score units)", ylabel="pairs")
    _save(figure, paths["residuals"])

    with atomic_output(paths["per_source_pearson"]) as temporary:
        per_source_pearson(predictions).to_csv(temporary, index=False)
    with atomic_output(paths["worst_pairs"]) as temporary:
        worst_pairs(predictions).to_csv(temporary, index=False)
    return paths


def _save(figure, path: Path) -> None:
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=100)
