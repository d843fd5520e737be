"""Checks of loaded STS splits before a run uses them: that a validation split can be scored (two or more pairs with
labels that vary), the binary threshold its binary labels imply (KLUE's `binary-label` is `label >= 3.0`; other
data may use another one), warnings about data that looks wrong (labels on a 0–1 scale, validation pairs also in the
training data), and the log line that says which text cleaning a run applies.
"""

import logging
from dataclasses import dataclass

import datasets
import numpy as np

from hf_sts.data.pairs import pair_keys
from hf_sts.data.triplets import text_columns
from hf_sts.errors import DataFormatError
from hf_sts.metrics import BINARY_THRESHOLD, SCORE_MIN
from hf_sts.models.sts.text_cleaning import clean_text


logger = logging.getLogger(__name__)


def check_scorable(dataset: datasets.Dataset, origin: str) -> None:
    """Refuse labeled data that Pearson r cannot score: fewer than 2 pairs.

    Raises:
        DataFormatError: naming `origin` (a file, or the split) and the count.
    """
    if len(dataset) < 2:
        raise DataFormatError(
            f"{origin}: {len(dataset)} labeled pair(s); Pearson r needs at least 2 pairs to score a model."
        )


@dataclass(frozen=True)
class ImpliedThreshold:
    """The binary threshold a file's binary labels follow: binary 1 exactly where `label >= threshold`.

    Attributes:
        threshold (`float`): on the 0.0–5.0 scale (3.0 for KLUE-STS, 2.5 for the competition data).
        contradictions (`np.ndarray` of int, shape `(k,)`): the 0-based rows whose binary label disagrees with
            `label >= threshold`.
        labeled (`int`): how many rows carry a binary label.
    """

    threshold: float
    contradictions: np.ndarray
    labeled: int


def implied_binary_threshold(labels, binary_labels) -> ImpliedThreshold | None:
    """The threshold that binary labels imply. Any score in the gap between the largest label with binary 0 and the
    smallest label with binary 1 splits the rows the same way; the roundest one is taken (a whole point, else a half,
    a tenth, a twentieth, a hundredth, else that smallest label): 3.0 on KLUE-STS dev (binary 0 up to 2.857, 1 from
    3.0), 2.5 on the competition data (binary 0 up to 2.4, 1 from 2.6). Where some rows break every such split, the
    smallest label with binary 1 that the fewest rows contradict stands for the gap (ties: the smallest).

    Args:
        labels: scores of shape `(n,)`, 0.0–5.0 (`None` / NaN rows are ignored).
        binary_labels: 0 / 1 of shape `(n,)`, -1 where a row has none.

    Returns:
        An [`ImpliedThreshold`], or `None` when no row has both a label and binary label 1.
    """
    labels = np.asarray([np.nan if label is None else label for label in labels], dtype=np.float64)
    binary = np.asarray(binary_labels, dtype=np.int64)
    known = np.flatnonzero((binary >= 0) & ~np.isnan(labels))
    candidates = np.unique(labels[known][binary[known] == 1])
    if not len(candidates):
        return None
    # contradictions[c] = rows of binary 1 below candidate c + rows of binary 0 at or above it
    above = labels[known][None, :] >= candidates[:, None]
    wrong = (above != (binary[known] == 1)[None, :]).sum(axis=1)
    best = int(np.argmin(wrong))  # the first (smallest) candidate among equals
    contradictions = known[above[best] != (binary[known] == 1)]
    smallest = candidates[best]
    below = labels[known][labels[known] < smallest]
    lower = below.max() if len(below) else SCORE_MIN - 1
    threshold = smallest
    for step in (1.0, 0.5, 0.1, 0.05, 0.01):
        roundest = round((np.floor(lower / step + 1e-9) + 1) * step, 4)  # the first multiple of `step` above `lower`
        if roundest <= smallest:
            threshold = roundest
            break
    return ImpliedThreshold(float(threshold), contradictions, len(known))


def resolve_binary_threshold(
    splits: dict[str, datasets.Dataset], given: float | None, origins: dict[str, str]
) -> float:
    """The F1 threshold of a run: `given` when set; otherwise the one implied by the binary labels of the training
    data, else of the validation data ([`implied_binary_threshold`]); otherwise KLUE's 3.0. One line says which
    applies, and one warns of rows that contradict it or of another threshold implied by the other split.

    Args:
        splits: the run's splits in the hf_sts schema.
        given: the recipe's `binary_threshold`, or `None`.
        origins: a name per split for the messages (the file).
    """
    implied = {
        split: found
        for split in ("train", "validation")
        if split in splits
        and (found := implied_binary_threshold(splits[split]["label"], splits[split]["binary_label"]))
    }
    for split, found in implied.items():
        if len(found.contradictions):
            logger.warning(
                "%s: %d of its %d binary labels contradict `label >= %g` (first at row %d).",
                origins[split],
                len(found.contradictions),
                found.labeled,
                found.threshold,
                found.contradictions[0] + 1,
            )
    if given is not None:
        logger.info("binary_threshold %s (the recipe's): F1 compares `prediction >= %s`.", given, given)
        return given
    if not implied:
        logger.info("binary_threshold %s (KLUE's; the data carries no binary labels).", BINARY_THRESHOLD)
        return BINARY_THRESHOLD
    split, found = next(iter(implied.items()))
    for other, also in implied.items():
        if also.threshold != found.threshold:
            logger.warning(
                "%s's binary labels imply the threshold %g, %s's %g: F1 uses %g (set `binary_threshold` to choose).",
                origins[split],
                found.threshold,
                origins[other],
                also.threshold,
                found.threshold,
            )
    logger.info("binary_threshold %s, implied by the binary labels of %s.", found.threshold, origins[split])
    return found.threshold


def warn_about_data(splits: dict[str, datasets.Dataset]) -> None:
    """One warning line for each thing in a run's data that would change its results without failing it: training
    labels that all lie in [0, 1] (a 0–1 similarity scale fed to a 0–5 model), and validation pairs that also occur
    in the training data (in either order; their count), which make the validation scores optimistic."""
    train, validation = splits.get("train"), splits.get("validation")
    if train is not None and len(train) and max(train["label"][:]) <= 1.0:
        logger.warning(
            "All %d training labels lie in [0, 1]: hf_sts trains on the 0-5 STS scale, so these are read as "
            "near-zero similarities. Multiply 0-1 labels by 5.",
            len(train),
        )
    if train is not None and validation is not None:
        seen = set(pair_keys(train["sentence1"][:], train["sentence2"][:]))
        shared = sum(key in seen for key in pair_keys(validation["sentence1"][:], validation["sentence2"][:]))
        if shared:
            logger.warning(
                "%d of the %d validation pairs also occur in the training data (in either order): validation "
                "scores are optimistic.",
                shared,
                len(validation),
            )


def log_cleaning(splits: dict[str, datasets.Dataset], steps: list[str] | None) -> None:
    """One line on what the cleaning steps change in each split (sentences changed, of all), and one warning for
    sentences they leave empty (the model then reads only the prompt and special tokens there), naming the first by
    its column, its 1-based row in the split and its pair's id. Splits may hold scored pairs or triplets."""
    if not steps:
        return
    for split, dataset in splits.items():
        columns = text_columns(dataset)
        sentences = [sentence for column in columns for sentence in dataset[column][:]]
        cleaned = [clean_text(sentence, steps) for sentence in sentences]
        changed = sum(before != after for before, after in zip(sentences, cleaned, strict=True))
        logger.info("text_cleaning %s changes %d of the %d %s sentences.", steps, changed, len(sentences), split)
        empty = [index for index, text in enumerate(cleaned) if not text.strip()]
        if empty:
            # `sentences` holds every sentence of the first column, then of the next: the first emptied one, in row
            # order
            first = min(empty, key=lambda index: (index % len(dataset), index // len(dataset)))
            row, column = first % len(dataset), columns[first // len(dataset)]
            logger.warning(
                "text_cleaning leaves %d %s sentence(s) empty, first `%s` of row %d (1-based) of the %s data, the "
                "pair with id %r: %r.",
                len(empty),
                split,
                column,
                row + 1,
                split,
                dataset["id"][row],
                sentences[first],
            )
