"""Sentence pairs into model inputs: `tokenize_pairs` (a split for training, in the layout of the run's architecture),
`tokenize_triplets` (a bi-encoder's anchors, positives and hard negatives), the bi-encoder's and the multi-dataset
collators, the length order in which pairs are scored (`length_order`, `length_sorted_batches`), and the number of
tokens a backbone's position embeddings allow (`max_positions`).
"""

from dataclasses import dataclass

import datasets
import numpy as np
import torch
from datasets.fingerprint import Hasher
from tqdm.auto import tqdm
from transformers import (
    PreTrainedConfig,
    PreTrainedTokenizerBase,
)

from hf_sts.models.sts.modeling_sts import MODEL_CLASSES, SIDE_SUFFIXES, StsBiEncoderModel


# Tokens per pair when neither a recipe nor a command says (`DataArguments.max_seq_length`'s default).
DEFAULT_MAX_SEQ_LENGTH = 128


# Backbone types whose position ids start after the padding index (RoBERTa's offset): 2 positions are not for tokens.
POSITION_OFFSET_TYPES = ("roberta", "xlm-roberta", "camembert", "data2vec-text")


def max_positions(config: PreTrainedConfig) -> int | None:
    """The most tokens a sequence of the encoder of `config` (a backbone's config) can hold: its
    `max_position_embeddings` less RoBERTa's offset of 2 (`POSITION_OFFSET_TYPES`), or `None` where the config sets
    no limit."""
    limit = getattr(config, "max_position_embeddings", None)
    if limit is None:
        return None
    return limit - 2 if config.model_type in POSITION_OFFSET_TYPES else limit


def map_fingerprint(dataset: datasets.Dataset, tokenizer: PreTrainedTokenizerBase, **settings) -> str:
    """The `new_fingerprint` of `dataset.map` with a transform that tokenizes with `tokenizer` under `settings`.

    Without it datasets fingerprints the map (the result's name, and its cache file for a dataset read from disk)
    by pickling the transform, and so the tokenizer it closes over, several times per map: seconds per split for a
    large vocabulary such as multilingual-e5-small's or XLM-R's, in every run, fold and test. This hashes what
    decides the result instead: the dataset's own fingerprint, the tokenizer's class, serialized pipeline
    (`backend_tokenizer`; a slow tokenizer is pickled as before) and init settings, and `settings` (the transform's
    parameters).

    Returns:
        A hex digest (`datasets.fingerprint.Hasher`).
    """
    state = tokenizer.backend_tokenizer.to_str() if tokenizer.is_fast else tokenizer
    init = {key: str(value) for key, value in tokenizer.init_kwargs.items()}
    return Hasher.hash([dataset._fingerprint, type(tokenizer).__name__, state, init, settings])


def tokenize_pairs(
    dataset: datasets.Dataset,
    tokenizer,
    max_seq_length: int,
    num_proc: int | None = None,
    architecture: str = "cross-encoder",
    prompt: str | None = None,
    text_cleaning: list[str] | None = None,
) -> datasets.Dataset:
    """Encode the pairs for a model, without padding (batches are padded dynamically).

    A cross-encoder reads each pair as one sequence (`[CLS] sentence1 [SEP] sentence2 [SEP]`, the longer sentence
    truncated first); a bi-encoder reads each sentence alone: `sentence1` under the tokenizer's usual keys and
    `sentence2` under the same keys with the suffix `_b` (`input_ids_b`, ...), each truncated to `max_seq_length`.

    Args:
        architecture (`str`): `"cross-encoder"` or `"bi-encoder"`.
        prompt (`str`, *optional*): text put before every sentence (the model's `config.prompt`).
        text_cleaning (`list[str]`, *optional*): cleaning steps applied to every sentence first (the model's
            `config.text_cleaning`, see `hf_sts.models.sts.text_cleaning`).

    Raises:
        ValueError: for another `architecture`.

    Returns:
        A dataset with the tokenizer's model inputs (`input_ids`, `attention_mask`, and `token_type_ids` where the
        tokenizer makes them; doubled with `_b` for a bi-encoder), plus `labels` (float scores) and `binary_labels`
        (0/1) when the split is labeled.
    """
    if architecture not in MODEL_CLASSES:
        raise ValueError(f"`architecture` must be one of {list(MODEL_CLASSES)}, got {architecture!r}.")
    labeled = all(label is not None for label in dataset["label"])

    def encode(batch):
        encoded = MODEL_CLASSES[architecture].pair_inputs(
            tokenizer,
            batch["sentence1"],
            batch["sentence2"],
            prompt,
            text_cleaning,
            truncation=True,
            max_length=max_seq_length,
        )
        if labeled:
            encoded["labels"] = batch["label"]
            encoded["binary_labels"] = batch["binary_label"]
        return encoded

    settings = {"architecture": architecture, "prompt": prompt, "cleaning": text_cleaning, "length": max_seq_length}
    return _map_tokenized(dataset, encode, tokenizer, num_proc, "Tokenizing pairs", **settings)


def tokenize_triplets(
    dataset: datasets.Dataset,
    tokenizer,
    max_seq_length: int,
    num_proc: int | None = None,
    prompt: str | None = None,
    text_cleaning: list[str] | None = None,
) -> datasets.Dataset:
    """Encode (anchor, positive[, negative]) triplets (`hf_sts.data.triplets.TRIPLET_FEATURES`) for a bi-encoder,
    without padding: each sentence alone, the anchor under the tokenizer's keys, the positive under the same keys with
    `_b`, the negative with `_c` (see `StsBiEncoderModel.sentence_inputs`), each truncated to `max_seq_length`.

    Returns:
        A dataset of the model inputs only (no labels: the in-batch-negatives losses' targets are the rows' own
        positives).
    """
    columns = [column for column in ("anchor", "positive", "negative") if column in dataset.column_names]

    def encode(batch):
        return StsBiEncoderModel.sentence_inputs(
            tokenizer,
            [batch[column] for column in columns],
            prompt,
            text_cleaning,
            truncation=True,
            max_length=max_seq_length,
        )

    settings = {"shape": "triplets", "prompt": prompt, "cleaning": text_cleaning, "length": max_seq_length}
    return _map_tokenized(dataset, encode, tokenizer, num_proc, "Tokenizing triplets", **settings)


def _map_tokenized(dataset: datasets.Dataset, encode, tokenizer, num_proc: int | None, desc: str, **settings):
    """`dataset.map(encode)` in batches, its columns replaced by `encode`'s, fingerprinted by [`map_fingerprint`]
    over `settings` (what decides the result besides the dataset and the tokenizer)."""
    return dataset.map(
        encode,
        batched=True,
        num_proc=num_proc,
        remove_columns=dataset.column_names,
        new_fingerprint=map_fingerprint(dataset, tokenizer, **settings),
        desc=desc,
    )


def length_order(features) -> np.ndarray | None:
    """The rows of tokenized pairs, longest first (ties in row order): `(n,)` int64 indices, the order in which
    batches are scored (`hf_sts.inference.scoring.predict_scores`, `StsTrainer`'s evaluation), so each pads little.

    Args:
        features: a dataset from [`tokenize_pairs`], or the `BatchEncoding` of a model's `tokenize`. A row's length
            is its longest token sequence (`input_ids`, and `input_ids_b` for a bi-encoder).

    Returns:
        The indices, or `None` when there are no `input_ids` columns.
    """
    names = features.column_names if isinstance(features, datasets.Dataset) else list(features.keys())
    columns = [features[name] for name in names if name.startswith("input_ids")]
    if not columns:
        return None
    lengths = np.max([[len(ids) for ids in column] for column in columns], axis=0)
    return np.argsort(-lengths, kind="stable")


def length_sorted_batches(
    features, collate, batch_size: int, device, description: str, show_progress_bar: bool = True
):
    """Yield `(rows, batch)` over tokenized rows, longest first ([`length_order`]): `rows` the `(b,)` row indices of
    the batch, `batch` the dict of tensors `collate` pads them to (`(b, seq_len)` each), moved to `device`; a tqdm
    bar named `description` counts the batches. What `hf_sts.inference.scoring.predict_scores` scores pairs and the
    back-translation filter embeds sentences with (`hf_sts.tools.augment`).

    Args:
        features: a `BatchEncoding` (or dict of per-row lists) with `input_ids` columns.
        collate: a data collator (`DataCollatorWithPadding`, [`BiEncoderCollator`]).
    """
    keys = list(features.keys())
    order = length_order(features)
    for start in tqdm(range(0, len(order), batch_size), desc=description, disable=not show_progress_bar):
        rows = order[start : start + batch_size]
        batch = collate([{key: features[key][row] for key in keys} for row in rows])
        yield rows, {key: value.to(device) for key, value in batch.items()}


@dataclass
class BiEncoderCollator:
    """Batch bi-encoder features (see `tokenize_pairs`, [`tokenize_triplets`]): pad each sentence side separately
    (the first, `_b` and `_c` keys; `SIDE_SUFFIXES`), each to the longest of its side in the batch, with
    `tokenizer.pad`.

    Returns (from `__call__`): a dict of tensors, `input_ids` / `attention_mask` / ... of shape `(batch, len_a)`,
    the same keys with `_b` of shape `(batch, len_b)` (and `_c`, `(batch, len_c)`, for triplets), and `labels` /
    `binary_labels` of shape `(batch,)` when the features have them.
    """

    tokenizer: PreTrainedTokenizerBase

    def __call__(self, features: list[dict]) -> dict:
        def side(key: str) -> str:
            return next((suffix for suffix in SIDE_SUFFIXES[1:] if key.endswith(suffix)), "")

        batch = {}
        for suffix in SIDE_SUFFIXES:
            rows = [
                {key[: len(key) - len(suffix)]: value for key, value in feature.items() if side(key) == suffix}
                for feature in features
            ]
            if rows[0]:
                padded = self.tokenizer.pad(rows, return_tensors="pt")
                batch.update({f"{key}{suffix}": value for key, value in padded.items()})
        return batch


@dataclass
class MultiDatasetCollator:
    """Batch the rows of a multi-dataset run's training datasets (each row tagged with its `dataset_name`; a batch
    holds rows of one dataset): `collate` pads them, `labels` are added where the rows have none (triplets: the
    in-batch targets `0..batch-1`, each anchor's own positive), and `dataset_name` is the batch's dataset. Rows
    without a `dataset_name` (evaluation) go to `collate` alone.

    Raises (from `__call__`):
        ValueError: for a batch mixing datasets (a batch sampler that does not draw one dataset per batch).
    """

    collate: object

    def __call__(self, features: list[dict]) -> dict:
        if "dataset_name" not in features[0]:
            return self.collate(features)
        names = {feature["dataset_name"] for feature in features}
        if len(names) != 1:
            raise ValueError(f"MultiDatasetCollator: a batch mixes the training datasets {sorted(names)}.")
        batch = self.collate([{k: v for k, v in feature.items() if k != "dataset_name"} for feature in features])
        batch.setdefault("labels", torch.arange(len(features)))
        return {**batch, "dataset_name": names.pop()}
