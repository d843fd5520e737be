"""Cross-validation folds for STS data (scikit-learn `KFold` / `StratifiedKFold`).

`run.py` trains one model per fold when a recipe sets `num_folds`; the predictions of each model on its held-out fold
together form the out-of-fold (OOF) predictions: one honest prediction per row, from a model that never saw it.
Ensembles fit their weights or stacker on those (see `hf_sts.ensemble`).
"""

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from .metrics import SCORE_MAX


FOLD_STRATEGIES = ("kfold", "stratified")


def label_buckets(labels: np.ndarray) -> np.ndarray:
    """The integer bucket of each 0.0–5.0 score (0..5; 5.0 is bucket 5), the strata of stratified folds as in the
    seeds' competition code.

    Args:
        labels: scores of shape `(n,)`.

    Returns:
        `np.ndarray` of int, shape `(n,)`, values 0..5.
    """
    return np.clip(np.floor(np.asarray(labels, dtype=float)), 0, SCORE_MAX).astype(int)


def assign_folds(
    labels: np.ndarray,
    num_folds: int,
    strategy: str = "stratified",
    seed: int = 42,
    groups: list | None = None,
) -> np.ndarray:
    """Assign each row to one of `num_folds` folds, shuffled with `seed`.

    Args:
        labels: the rows' scores, shape `(n,)`, 0.0–5.0.
        num_folds: at least 2.
        strategy: `"kfold"` (`sklearn.model_selection.KFold`) or `"stratified"` (`StratifiedKFold` over
            `label_buckets`, so every fold has the same share of each score bucket, within one row).
        groups: optional, one key per row; rows with the same key (e.g. the same sentence pair appearing twice)
            always land in the same fold, so no pair is both trained on and held out. Folds are then made over the
            groups, each stratified by the label of its first row.

    Returns:
        `np.ndarray` of int, shape `(n,)`: the fold (0-based) whose held-out part holds each row; every row is
        held out exactly once.

    Raises:
        ValueError: if `num_folds` < 2 or above the number of rows (groups), or `strategy` is unknown.
    """
    labels = np.asarray(labels, dtype=float)
    if groups is not None:
        _, first_rows, inverse = np.unique(
            np.asarray(groups, dtype=object).astype(str), return_index=True, return_inverse=True
        )
        return assign_folds(labels[first_rows], num_folds, strategy, seed)[inverse]
    if strategy not in FOLD_STRATEGIES:
        raise ValueError(f"`fold_strategy` must be one of {list(FOLD_STRATEGIES)}, got {strategy!r}.")
    if not 2 <= num_folds <= len(labels):
        raise ValueError(f"`num_folds` must be between 2 and the {len(labels)} rows, got {num_folds}.")
    if strategy == "stratified":
        splitter = StratifiedKFold(n_splits=num_folds, shuffle=True, random_state=seed)
        splits = splitter.split(np.zeros(len(labels)), label_buckets(labels))
    else:
        splits = KFold(n_splits=num_folds, shuffle=True, random_state=seed).split(labels)
    folds = np.full(len(labels), -1, dtype=int)
    for fold, (_, held_out) in enumerate(splits):
        folds[held_out] = fold
    return folds


def pair_keys(sentences1: list[str], sentences2: list[str]) -> list[str]:
    """One key per pair, the same for a pair and its swap: the groups that keep duplicate pairs in one fold."""
    return ["\x1f".join(sorted(pair)) for pair in zip(sentences1, sentences2, strict=True)]


__all__ = ["FOLD_STRATEGIES", "assign_folds", "label_buckets", "pair_keys"]
