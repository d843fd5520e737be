"""The label-noise audit of `hf-sts describe --audit PREDICTIONS.csv`: the training pairs whose out-of-fold prediction
disagrees most with their label, for a person to review (nothing is relabelled).

    hf-sts train recipe.json --num_folds 5 --output_dir outputs/cv        # writes outputs/cv/oof_predictions.csv
    hf-sts describe train.csv --audit outputs/cv/oof_predictions.csv --output_dir outputs/audit

A cross-validation's out-of-fold (OOF) predictions (`hf_sts.training.cv`, `oof_predictions.csv`: `id,fold,label,
prediction`) give every training pair a prediction by a model that never saw it; where it is far from the label,
either the model or the label is wrong, and reviewing the pairs of largest disagreement first finds mislabelled pairs
fastest (the method of twigfarm/letr-sol-STS-Bechmark-improvement, which found KLUE-STS label errors concentrated in
the 2.0–3.5 band, where the binary label flips at 3.0, by cross-validating the whole train set). Any predictions file
with `id`, `label` and `prediction` columns can be audited (`eval_predictions.csv` too: a dev set's pairs); the
sentences come from the file when it has them, else from the STS files described beside it, joined by id.

The audit ranks every pair by `|prediction - label|` (score units, 0.0–5.0), overall and within its label bucket
(`hf_sts.data.pairs.label_buckets`: the floor of the label, 5.0 its own), summarises each bucket, and calls out the
pairs whose label lies in `NOISY_BAND`.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hf_sts.data.pairs import label_buckets
from hf_sts.data.readers import read_table
from hf_sts.errors import DataFormatError
from hf_sts.metrics import SCORE_MAX, SCORE_MIN
from hf_sts.training.card import markdown_table
from hf_sts.utils.write_guard import atomic_output


REQUIRED_COLUMNS = ("id", "label", "prediction")
# Read where present: the fold that held the pair out, and the pair itself.
OPTIONAL_COLUMNS = ("fold", "source", "sentence1", "sentence2")
# The label band where KLUE-STS label noise concentrates (twigfarm/letr-sol-STS-Bechmark-improvement), inclusive.
NOISY_BAND = (2.0, 3.5)
# A disagreement of at least this many points (score units) is counted as large in the bucket summary.
LARGE_ERROR = 1.0
# Pairs the report lists per label bucket.
PER_BUCKET = 3
# The label buckets, named as `hf-sts describe` names them.
BUCKET_NAMES = ("[0,1)", "[1,2)", "[2,3)", "[3,4)", "[4,5)", "5.0")
AUDIT_FILE = "label_audit.csv"
# The columns of `label_audit.csv`, in order.
AUDIT_COLUMNS = (
    "rank",
    "id",
    "fold",
    "source",
    "sentence1",
    "sentence2",
    "label",
    "prediction",
    "error",
    "abs_error",
    "bucket",
    "bucket_rank",
    "in_noisy_band",
)


@dataclass
class LabelAudit:
    """The pairs of a predictions file ranked by disagreement, and the summaries the report shows.

    Attributes:
        file (`str`): the predictions file audited.
        pairs (`pd.DataFrame`): one row per pair, most disagreeing first, with the columns `AUDIT_COLUMNS`:
            `rank` (1 = the largest `|error|`), `error` = prediction − label and `abs_error` (score units),
            `bucket` (a name of `BUCKET_NAMES`), `bucket_rank` (the rank within the bucket) and `in_noisy_band`
            (the label lies in `NOISY_BAND`); `fold`, `source`, `sentence1`, `sentence2` empty where unknown.
        buckets (`pd.DataFrame`): per label bucket: `bucket, pairs, mean abs error, mean error, large errors` (pairs
            off by `LARGE_ERROR` or more) and `pearson` of prediction against label within the bucket (NaN below 2
            pairs or for constant values).
        top (`int`): how many pairs the report lists overall (and a few per bucket).
        sentences (`bool`): whether the pairs' sentences are known.
    """

    file: str
    pairs: pd.DataFrame
    buckets: pd.DataFrame
    top: int = 20
    sentences: bool = False

    @property
    def band(self) -> pd.DataFrame:
        """The pairs whose label lies in `NOISY_BAND`, most disagreeing first."""
        return self.pairs[self.pairs["in_noisy_band"]]

    @property
    def markdown(self) -> str:
        """The audit as a Markdown section (what `hf-sts describe --audit` prints and adds to `describe.md`)."""
        return _render(self)


def read_predictions(path: str | Path) -> pd.DataFrame:
    """A predictions file (`oof_predictions.csv`, `eval_predictions.csv`, or any table `hf_sts.data.readers.read_table`
    reads) with `id`, `label` and `prediction` columns, labels and predictions on the 0.0–5.0 scale.

    Returns:
        A frame of `REQUIRED_COLUMNS` and those of `OPTIONAL_COLUMNS` the file has, in file order; `label` and
        `prediction` float64.

    Raises:
        DataFormatError: one line naming the file: missing, not a table, lacking a column (the expected columns
            named), an id given twice, or a label or prediction that is not a number in [0, 5] (the row named).
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"--audit {path}: no such file (relative paths are read from the current directory).")
    table = read_table(path)
    missing = [column for column in REQUIRED_COLUMNS if column not in table.columns]
    if missing:
        raise DataFormatError(
            f"--audit {path}: lacks the column(s) {missing}; expected the out-of-fold predictions of a "
            f"cross-validation (oof_predictions.csv: {', '.join(REQUIRED_COLUMNS)}, optionally fold, source, "
            f"sentence1, sentence2), found {list(table.columns)}."
        )
    if table.empty:
        raise DataFormatError(f"--audit {path}: no rows.")
    frame = table[[column for column in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if column in table.columns]].copy()
    frame["id"] = frame["id"].astype(str)
    duplicated = frame["id"].duplicated()
    if duplicated.any():
        row = int(np.argmax(duplicated.to_numpy()))
        raise DataFormatError(
            f"--audit {path}: row {row + 1} (1-based, header excluded): id {frame['id'].iloc[row]!r} occurs twice."
        )
    for column in ("label", "prediction"):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | (values < SCORE_MIN) | (values > SCORE_MAX)
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            raise DataFormatError(
                f"--audit {path}: row {row + 1} (1-based, header excluded): {column} {frame[column].iloc[row]!r} is "
                f"not a number in [{SCORE_MIN}, {SCORE_MAX}]."
            )
        frame[column] = values.astype("float64")
    return frame.reset_index(drop=True)


def join_sentences(predictions: pd.DataFrame, files: dict[str, pd.DataFrame], origin: str) -> pd.DataFrame:
    """`predictions` with the `source`, `sentence1` and `sentence2` of each id taken from `files` (STS files in the
    hf_sts schema, by name), where the predictions lack them.

    Raises:
        DataFormatError: for an id found in two of the files, or ids found in none (the count and the first
            named): the files must hold every pair the predictions were made for (a cross-validation's training
            files, and its validation file with `cv_include_validation`).
    """
    if {"sentence1", "sentence2"} <= set(predictions.columns) or not files:
        return predictions
    found: dict[str, str] = {}
    for name, frame in files.items():
        for id_ in frame["id"]:
            if id_ in found:
                raise DataFormatError(
                    f"id {id_!r} is in both {found[id_]} and {name}: the audit cannot tell its pair."
                )
            found[id_] = name
    lost = [id_ for id_ in predictions["id"] if id_ not in found]
    if lost:
        raise DataFormatError(
            f"--audit {origin}: {len(lost)} of its {len(predictions)} ids are in none of the files given "
            f"({', '.join(files)}), the first {lost[0]!r}; give every file the predictions were made for (the "
            "cross-validation's training files, and its validation file with cv_include_validation)."
        )
    pairs = pd.concat(list(files.values()), ignore_index=True).set_index("id")[["source", "sentence1", "sentence2"]]
    joined = pairs.loc[predictions["id"]].reset_index(drop=True)
    keep = [column for column in predictions.columns if column not in joined.columns]
    return pd.concat([predictions[keep].reset_index(drop=True), joined], axis=1)


def audit_labels(predictions: pd.DataFrame, file: str, top: int = 20) -> LabelAudit:
    """Rank the pairs of `predictions` (see [`read_predictions`], [`join_sentences`]) by `|prediction - label|` and
    summarise the label buckets.

    Args:
        predictions: `id, label, prediction` (0.0–5.0) and optionally `fold, source, sentence1, sentence2`.
        file: the predictions file's name, for the report.
        top: how many pairs the report lists overall (at least 1).

    Returns:
        A [`LabelAudit`]; ties keep file order.
    """
    frame = predictions.copy()
    for column in OPTIONAL_COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    frame["error"] = frame["prediction"] - frame["label"]
    frame["abs_error"] = frame["error"].abs()
    frame["bucket"] = [BUCKET_NAMES[bucket] for bucket in label_buckets(frame["label"].to_numpy())]
    frame["in_noisy_band"] = frame["label"].between(*NOISY_BAND)
    frame = frame.iloc[np.argsort(-frame["abs_error"].to_numpy(), kind="stable")].reset_index(drop=True)
    frame["rank"] = np.arange(1, len(frame) + 1)
    frame["bucket_rank"] = frame.groupby("bucket", sort=False).cumcount() + 1
    rows = []
    for name in BUCKET_NAMES:
        group = frame[frame["bucket"] == name]
        if group.empty:
            continue
        constant = group["label"].nunique() < 2 or group["prediction"].nunique() < 2
        rows.append(
            {
                "bucket": name,
                "pairs": len(group),
                "mean abs error": float(group["abs_error"].mean()),
                "mean error": float(group["error"].mean()),
                "large errors": int((group["abs_error"] >= LARGE_ERROR).sum()),
                "pearson": float("nan") if constant else float(np.corrcoef(group["prediction"], group["label"])[0, 1]),
            }
        )
    sentences = bool((frame["sentence1"].astype(str) != "").all())
    return LabelAudit(file, frame[list(AUDIT_COLUMNS)], pd.DataFrame(rows), max(1, top), sentences)


def _cell(value) -> str:
    """A table cell: scores with 2 decimals, text with `|` escaped (a sentence may hold one)."""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value).replace("|", "\\|")


def _pair_rows(pairs: pd.DataFrame, sentences: bool) -> list[dict[str, str]]:
    rows = []
    for row in pairs.to_dict("records"):
        line = {"rank": str(row["rank"]), "id": _cell(row["id"])}
        line.update({key: _cell(row[key]) for key in ("label", "prediction")})
        line["error"] = f"{row['error']:+.2f}"
        line["bucket"] = row["bucket"]
        if sentences:
            line.update({key: _cell(row[key]) for key in ("sentence1", "sentence2")})
        rows.append(line)
    return rows


def _by_bucket(pairs: pd.DataFrame) -> pd.DataFrame:
    """`pairs` ordered by label bucket (`BUCKET_NAMES` order), then by rank."""
    order = pairs["bucket"].map(BUCKET_NAMES.index)
    return pairs.assign(_order=order).sort_values(["_order", "rank"], kind="stable").drop(columns="_order")


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}% ({count:,})" if total else "0"


def _render(audit: LabelAudit) -> str:
    pairs, low, high = audit.pairs, *NOISY_BAND
    large = pairs[pairs["abs_error"] >= LARGE_ERROR]
    top = pairs.head(audit.top)
    band = audit.band
    parts = [
        f"## Label audit: {audit.file}",
        f"{len(pairs):,} pairs with a label and a prediction; mean |prediction − label| "
        f"{pairs['abs_error'].mean():.2f}; {_share(len(large), len(pairs))} off by {LARGE_ERROR:g} or more. The pairs "
        "of largest disagreement come first: each is a mislabelled pair or a model error, for a person to review "
        "(nothing is relabelled). Error = prediction − label, in score units.",
        "### Per label bucket",
        "The floor of the label (5.0 is a bucket of its own). mean error > 0: the predictions run above the labels.",
        markdown_table(
            [
                {
                    "bucket": row["bucket"],
                    "pairs": f"{row['pairs']:,}",
                    "mean abs error": f"{row['mean abs error']:.2f}",
                    "mean error": f"{row['mean error']:+.2f}",
                    f"off by >= {LARGE_ERROR:g}": _share(row["large errors"], row["pairs"]),
                    "pearson": "–" if np.isnan(row["pearson"]) else f"{row['pearson']:.3f}",
                }
                for row in audit.buckets.to_dict("records")
            ]
        ),
        f"### Labels {low:.1f}–{high:.1f}",
        f"{_share(len(band), len(pairs))} of the pairs have labels in [{low:.1f}, {high:.1f}], the band where KLUE-STS "
        "label noise concentrates (twigfarm/letr-sol-STS-Bechmark-improvement; KLUE's binary label flips at 3.0 "
        f"inside it). They hold {int(top['in_noisy_band'].sum())} of the {len(top)} most disagreeing pairs and "
        f"{int(large['in_noisy_band'].sum())} of the {len(large):,} off by {LARGE_ERROR:g} or more.",
        f"### The {len(top)} most disagreeing pairs",
        markdown_table(_pair_rows(top, audit.sentences)),
        f"### The {PER_BUCKET} most disagreeing pairs per label bucket",
        markdown_table(_pair_rows(_by_bucket(pairs[pairs["bucket_rank"] <= PER_BUCKET]), audit.sentences)),
    ]
    if not audit.sentences:
        parts.append(
            "The predictions file has no sentences: name the STS files it was made from beside `--audit` "
            "(`hf-sts describe train.csv --audit oof_predictions.csv`) to list them."
        )
    return "\n\n".join(parts)


def write_audit(audit: LabelAudit, path: str | Path) -> Path:
    """Write every audited pair, most disagreeing first, as `label_audit.csv` (`AUDIT_COLUMNS`), through
    `hf_sts.utils.write_guard.atomic_output`."""
    with atomic_output(path) as temporary:
        audit.pairs.to_csv(temporary, index=False)
    return Path(path)


__all__ = [
    "AUDIT_COLUMNS",
    "AUDIT_FILE",
    "BUCKET_NAMES",
    "LARGE_ERROR",
    "NOISY_BAND",
    "PER_BUCKET",
    "LabelAudit",
    "audit_labels",
    "join_sentences",
    "read_predictions",
    "write_audit",
]
