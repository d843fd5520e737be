"""Sentence pairs for training: swapped pairs (each pair again with its sentences in the other order), undersampling of
a dominant label bucket, and the folds of cross-validation (scikit-learn `KFold`, or `StratifiedKFold` over label
buckets), which keep every copy of a pair (in either order) in one fold so that no pair is both trained on and
scored out-of-fold.
"""

import logging

import datasets
import numpy as np

from hf_sts.metrics import SCORE_MAX


logger = logging.getLogger(__name__)


FOLD_STRATEGIES = ("kfold", "stratified")


def label_buckets(labels: np.ndarray) -> np.ndarray:
    """The integer bucket of each 0.0–5.0 score (0..5; 5.0 is bucket 5), the strata of stratified folds as in the
    competition code hf_sts started from.

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
    # scikit-learn's model selection is imported here, where folds are made: it takes about a second to import and
    # only cross-validation runs need it (every run imports this module).
    from sklearn.model_selection import KFold, StratifiedKFold

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


def add_swapped_pairs(dataset: datasets.Dataset) -> datasets.Dataset:
    """Append every pair with `sentence1` and `sentence2` exchanged (ids get the suffix `-swapped`).

    STS is symmetric, so this doubles the training data for free; a cross-encoder reads the two orders differently.
    """
    swapped = dataset.map(
        lambda batch: {
            "id": [f"{id_}-swapped" for id_ in batch["id"]],
            "sentence1": batch["sentence2"],
            "sentence2": batch["sentence1"],
        },
        batched=True,
        desc="Adding swapped pairs",
    )
    return datasets.concatenate_datasets([dataset, swapped])


def undersample(dataset: datasets.Dataset, bucket: int, ratio: float, seed: int) -> datasets.Dataset:
    """Keep a random `ratio` of the pairs whose integer label bucket (`hf_sts.data.pairs.label_buckets`: the floor of
    the label, 0..5) is `bucket`, and every other pair; rows stay in their order. One line logs the bucket counts
    before and after. Competition teams undersampled the dominant 0-bucket of the competition data.

    Args:
        dataset: labeled training pairs in the hf_sts schema.
        bucket (`int`): 0..5.
        ratio (`float`): in (0, 1]; the bucket keeps `round(ratio * count)` pairs (at least 1 when it has any).
        seed (`int`): seed of the draw (`numpy.random.default_rng`).

    Returns:
        The undersampled dataset.
    """
    buckets = label_buckets(dataset["label"][:])
    members = np.flatnonzero(buckets == bucket)
    keep = max(1, round(ratio * len(members))) if len(members) else 0
    chosen = np.random.default_rng(seed).choice(members, size=keep, replace=False)
    rows = np.sort(np.concatenate([np.flatnonzero(buckets != bucket), chosen]))
    before = np.bincount(buckets, minlength=6)
    after = np.bincount(buckets[rows], minlength=6)
    logger.info(
        "Undersampled label bucket %d to %.0f%%: %d of %d training pairs kept; buckets 0-5 before %s, after %s.",
        bucket,
        100 * ratio,
        len(rows),
        len(dataset),
        before.tolist(),
        after.tolist(),
    )
    return dataset.select(rows)


def training_pairs(dataset: datasets.Dataset, data_args, seed: int) -> datasets.Dataset:
    """The pairs a model trains on, from the training rows of a run or of one fold: undersampled as the recipe says
    (`undersample_bucket`, `undersample_ratio`, see [`undersample`]), then with swapped pairs added
    (`add_swapped_pairs`, see [`add_swapped_pairs`]). Validation and test data never go through it."""
    if data_args.undersample_bucket is not None:
        dataset = undersample(dataset, data_args.undersample_bucket, data_args.undersample_ratio, seed)
    return add_swapped_pairs(dataset) if data_args.add_swapped_pairs else dataset
