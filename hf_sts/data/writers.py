"""Readers that turn every supported STS data format into one schema, as a `datasets.DatasetDict`.

Schema (`STS_FEATURES`): `id` (str), `source` (str), `sentence1` (str), `sentence2` (str), `label` (float, 0.0–5.0;
`None` in unlabeled test files) and `binary_label` (int, 0 or 1 where the file carries binary labels, else -1).

Formats live in one registry, `READERS`, tried in order; each recognises a format by its columns:

| name | columns | from |
| --- | --- | --- |
| `klue` | `guid, source, sentence1, sentence2, labels.{label, real-label, binary-label}` | KLUE-STS JSON, `load_dataset("klue", "sts")` |
| `competition` | `id, source, sentence_1, sentence_2[, label[, binary-label]]` | competition CSV (test files have no labels) |
| `korsts` | `genre, filename, year, id, score, sentence1, sentence2` | KorSTS TSV |
| `pairs` | `sentence1, sentence2[, label][, id][, source][, binary_label]` | plain CSV |

Files are read by extension (`.csv`, `.tsv`, `.json`, `.jsonl`); the columns then choose the reader.
"""

from pathlib import Path

import datasets
import numpy as np
import pandas as pd

from hf_sts.metrics import clip_scores


def write_predictions(dataset: datasets.Dataset, predictions: np.ndarray, path: str | Path) -> pd.DataFrame:
    """Write `id,source,sentence1,sentence2,label,prediction` (predictions clipped to [0, 5]) to a CSV file.

    Args:
        dataset: the split in the hf_sts schema, in the order the predictions were made.
        predictions: scores of shape `(len(dataset),)`.

    Raises:
        ValueError: if the number of predictions differs from the number of rows.
    """
    if len(predictions) != len(dataset):
        raise ValueError(f"{len(predictions)} predictions for {len(dataset)} rows of {path}.")
    frame = dataset.select_columns(["id", "source", "sentence1", "sentence2", "label"]).to_pandas()
    frame["prediction"] = clip_scores(predictions)
    frame.to_csv(path, index=False)
    return frame


def write_submission(
    dataset: datasets.Dataset, predictions: np.ndarray, path: str | Path, with_sentences: bool = False
) -> pd.DataFrame:
    """Write exactly `id,target` (predictions clipped to [0, 5]), one row per test pair in input order; with
    `with_sentences`, `id,target,sentence1,sentence2`.

    Raises:
        ValueError: if the number of predictions differs from the number of rows.
    """
    if len(predictions) != len(dataset):
        raise ValueError(f"{len(predictions)} predictions for {len(dataset)} rows of {path}.")
    frame = pd.DataFrame({"id": dataset["id"], "target": clip_scores(predictions)})
    if with_sentences:
        frame = frame.assign(sentence1=dataset["sentence1"], sentence2=dataset["sentence2"])
    frame.to_csv(path, index=False)
    return frame
