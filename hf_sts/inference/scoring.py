"""Score sentence pairs with a model: the one scoring path of hf_sts.

[`score_features`] scores tokenized pairs in batches of similar length (sorted by token count, longest first, then
put back in row order), so little compute goes to padding; padding changes no score, since every model masks it.
Everything that scores goes through it: `StsTrainer`'s evaluation during training and the run's final scores
(`hf_sts.training.trainer`), [`predict_scores`] (text in, scores out) and so `hf-sts predict`, `hf-sts evaluate`,
cross-validation and the demo page. Scoring runs under `torch.inference_mode`, in eval mode, and under bf16 autocast
when asked (see `hf_sts.utils.hardware.native_bf16` for the default).
"""

import time

import datasets
import numpy as np
import torch
from transformers import DataCollatorWithPadding, EvalPrediction, PreTrainedTokenizerBase

from hf_sts.data.tokenization import DEFAULT_MAX_SEQ_LENGTH, BiEncoderCollator, length_sorted_batches
from hf_sts.metrics import compute_metrics
from hf_sts.models.sts.modeling_sts import StsPreTrainedModel
from hf_sts.utils.hardware import autocast, native_bf16


# Columns of tokenized pairs that are targets, not model inputs (see `hf_sts.data.tokenization.tokenize_pairs`).
TARGET_COLUMNS = ("labels", "binary_labels")
# Pairs per batch when the caller gives none: on a CPU, batches of 16 scored fastest on every CPU measured, torch and
# ONNX Runtime alike (benchmarks/speed.md); an accelerator is kept busy by larger ones.
CPU_BATCH_SIZE = 16
ACCELERATOR_BATCH_SIZE = 64


def default_batch_size(device: torch.device) -> int:
    """Pairs per scoring batch when none is given: `CPU_BATCH_SIZE` (16) on a CPU, `ACCELERATOR_BATCH_SIZE` (64)
    on any other device."""
    return CPU_BATCH_SIZE if device.type == "cpu" else ACCELERATOR_BATCH_SIZE


def model_device(model) -> torch.device:
    """The device a model's batches go to: its parameters' device, or the CPU for a model without parameters (the
    ONNX graph of `hf_sts.inference.onnx.OnnxScorer`, whose runtime takes its inputs from the CPU)."""
    parameter = next(model.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device


def score_features(
    model,
    features,
    collate,
    batch_size: int = 64,
    bf16: bool = False,
    show_progress_bar: bool = True,
    description: str = "Scoring pairs",
) -> np.ndarray:
    """Score tokenized pairs with a model, in row order: the one scoring loop of hf_sts.

    The rows are batched longest first (`hf_sts.data.tokenization.length_sorted_batches`), padded by `collate`,
    scored under `torch.inference_mode` (and bf16 autocast with `bf16`) in eval mode on the model's device, and the
    scores put back in row order. The model's training mode is restored afterwards.

    Args:
        model: a cross-encoder or bi-encoder (also wrapped: a peft model, the scorer of a plain
            `AutoModelForSequenceClassification`, the ONNX graph of an export, `hf_sts.inference.onnx.OnnxScorer`);
            its `logits` are `(batch,)` scores.
        features: tokenized pairs: a `BatchEncoding` (or dict of per-row lists) from `model.tokenize`, or a
            `datasets.Dataset` from `hf_sts.data.tokenization.tokenize_pairs` (its `labels` and `binary_labels`
            columns are left out of the batches).
        collate: the data collator that pads a list of rows into tensors.

    Returns:
        `np.ndarray` of shape `(n,)`, float64: the scores on the 0.0–5.0 scale, unclipped.
    """
    if isinstance(features, datasets.Dataset):
        inputs = [name for name in features.column_names if name not in TARGET_COLUMNS]
        features = features.select_columns(inputs).to_dict()
    else:
        features = {key: value for key, value in features.items() if key not in TARGET_COLUMNS}
    device = model_device(model)
    scores = np.empty(len(features["input_ids"]), dtype=np.float64)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), autocast(device, bf16):
            batches = length_sorted_batches(features, collate, batch_size, device, description, show_progress_bar)
            for rows, batch in batches:
                scores[rows] = model(**batch).logits.float().cpu().numpy()
    finally:
        model.train(was_training)
    return scores


def predict_scores(
    model: StsPreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sentences1: list[str],
    sentences2: list[str],
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
    batch_size: int | None = None,
    show_progress_bar: bool = True,
    bf16: bool | None = None,
) -> np.ndarray:
    """Score sentence pairs with an hf_sts model, in input order.

    The pairs are tokenized as the model reads text (`model.tokenize`, its prompt included), truncated to
    `max_seq_length` tokens, sorted by length into batches of `batch_size`, scored under `torch.inference_mode` in
    eval mode on the model's device, and put back in input order. The model's training mode is restored afterwards.
    Sorting makes the batch size matter little: each batch is padded only to its own longest pair (measured in
    `benchmarks/speed.py`).

    Args:
        model: a cross-encoder or bi-encoder (also wrapped: a peft model, the scorer of a plain
            `AutoModelForSequenceClassification` or the ONNX graph of an export that `load_model` returns).
        sentences1, sentences2 (`list[str]`): the pairs, same length `n`.
        batch_size: pairs per batch; `None` (default): [`default_batch_size`] of the model's device.
        bf16: score under bf16 autocast (scores move slightly; see `benchmarks/bf16_accuracy.py`); `None` (default):
            where the model's device runs bf16 natively (`hf_sts.utils.hardware.native_bf16`).

    Returns:
        `np.ndarray` of shape `(n,)`, float64: the scores on the 0.0–5.0 scale, unclipped.

    Raises:
        ValueError: if the two lists differ in length, or `max_seq_length` or `batch_size` is below 1.
    """
    if len(sentences1) != len(sentences2):
        raise ValueError(f"{len(sentences1)} first sentences but {len(sentences2)} second ones.")
    device = model_device(model)
    batch_size = default_batch_size(device) if batch_size is None else batch_size
    if max_seq_length < 1 or batch_size < 1:
        raise ValueError(f"max_seq_length ({max_seq_length}) and batch_size ({batch_size}) must be >= 1.")
    bf16 = native_bf16(device) if bf16 is None else bf16
    encoded = model.tokenize(tokenizer, list(sentences1), list(sentences2), truncation=True, max_length=max_seq_length)
    # A bi-encoder's inputs carry the second sentences under `_b` keys (also through a peft wrapper).
    collate = BiEncoderCollator(tokenizer) if "input_ids_b" in encoded else DataCollatorWithPadding(tokenizer)
    return score_features(model, encoded, collate, batch_size, bf16, show_progress_bar)


def sts_metrics(
    predictions: np.ndarray, dataset, prefix: str = "eval", binary_threshold: float | None = None
) -> dict[str, float]:
    """Pearson r, Spearman rho, F1, MSE and MAE (`hf_sts.metrics.compute_metrics`, as the trainer computes them) of
    `predictions` (clipped to [0, 5] first) against the `label` and `binary_label` of `dataset` (hf_sts schema), keys
    prefixed `{prefix}_`. F1 compares `prediction >= binary_threshold` (`None`: KLUE's 3.0)."""
    labels = (np.asarray(dataset["label"], dtype=np.float64), np.asarray(dataset["binary_label"]))
    metrics = compute_metrics(EvalPrediction(predictions=predictions, label_ids=labels), binary_threshold)
    return {f"{prefix}_{name}": value for name, value in metrics.items()}


def evaluate_split(
    model, tokenizer, dataset, max_seq_length: int, batch_size: int, binary_threshold: float | None = None, **kwargs
):
    """Score a labeled split (hf_sts schema) with [`predict_scores`]: `(predictions, metrics)`, the metrics of
    [`sts_metrics`] (F1 at `binary_threshold`) plus `eval_samples`, `eval_runtime` (seconds) and
    `eval_samples_per_second`."""
    start = time.perf_counter()
    predictions = predict_scores(
        model,
        tokenizer,
        dataset["sentence1"][:],
        dataset["sentence2"][:],
        max_seq_length,
        batch_size,
        **kwargs,
    )
    runtime = time.perf_counter() - start
    metrics = {
        **sts_metrics(predictions, dataset, binary_threshold=binary_threshold),
        "eval_samples": len(dataset),
        "eval_runtime": round(runtime, 4),
        "eval_samples_per_second": round(len(dataset) / runtime, 3),
    }
    return predictions, metrics
