"""The CSV files a run writes from predictions: `eval_predictions.csv` (ids, sentences, gold label and prediction),
`submission.csv` (exactly `id,target`, one row per test pair in input order) and the silver labels of `hf-sts label`
(`id,source,sentence1,sentence2,label`, training data), predictions clipped to 0.0–5.0. Each
file is written atomically (`hf_sts.utils.write_guard.atomic_output`): an interrupted write leaves the old file whole.
"""

from pathlib import Path

import datasets
import numpy as np
import pandas as pd

from hf_sts.metrics import clip_scores
from hf_sts.utils.write_guard import atomic_output


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
    with atomic_output(path) as temporary:
        frame.to_csv(temporary, index=False)
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
    with atomic_output(path) as temporary:
        frame.to_csv(temporary, index=False)
    return frame


def write_labels(dataset: datasets.Dataset, predictions: np.ndarray, path: str | Path) -> pd.DataFrame:
    """Write silver labels: `id,source,sentence1,sentence2,label`, one row per pair in the order of `dataset`, the
    label the prediction clipped to [0, 5]: a plain pairs CSV that `hf_sts.data.readers` reads back as labeled
    training data.

    Args:
        dataset: the pairs in the hf_sts schema (their own labels, if any, are not written).
        predictions: scores of shape `(len(dataset),)`, on the 0.0–5.0 scale.

    Raises:
        ValueError: if the number of predictions differs from the number of rows.
    """
    if len(predictions) != len(dataset):
        raise ValueError(f"{len(predictions)} predictions for {len(dataset)} rows of {path}.")
    frame = dataset.select_columns(["id", "source", "sentence1", "sentence2"]).to_pandas()
    frame["label"] = clip_scores(predictions)
    with atomic_output(path) as temporary:
        frame.to_csv(temporary, index=False)
    return frame
