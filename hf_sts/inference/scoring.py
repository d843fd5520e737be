"""Score sentence pairs with a model: the prediction step of training, `hf-sts predict` and `hf-sts evaluate`.

    hf-sts predict MODEL --input test.csv --output predictions.csv      # id,target in input order
    hf-sts evaluate MODEL --validation_file dev.json --output_dir DIR    # eval_* metrics, predictions, report

`MODEL` is an hf_sts checkpoint (a run's `output_dir`, one of its checkpoints, or a Hub id), the adapter folder of a
LoRA run, a one-output regression `AutoModelForSequenceClassification` (such as `hf-sts export --format
sequence-classification` writes; scored with its own head, see [`SequenceClassificationScorer`]), or any other plain
pretrained encoder, which is scored zero-shot as a bi-encoder: `pooling` of its token states, the `prompt` before
every sentence, score = 5 × cosine (see [`StsBiEncoderModel`]). That zero-shot score is the baseline a fine-tune is
compared against.

Pairs are scored in batches of similar length (sorted by token count, longest first, then put back in input order),
so little compute goes to padding; padding changes no score, since every model masks it. Scoring runs under
`torch.inference_mode`, and under bf16 autocast where the device runs bf16 natively (a CPU with AVX512-BF16 or AMX,
a CUDA GPU of compute capability 8.0 or later; see `hf_sts.hardware`) and the model's training run did not turn
`bf16` off (`LoadedModel.use_bf16`), unless told otherwise.
"""

import time

import numpy as np
import torch
from transformers import (
    DataCollatorWithPadding,
    PreTrainedTokenizerBase,
)

from hf_sts.data.tokenization import DEFAULT_MAX_SEQ_LENGTH, BiEncoderCollator, length_sorted_batches
from hf_sts.metrics import StsMetric, clip_scores
from hf_sts.models.sts.modeling_sts import StsPreTrainedModel
from hf_sts.utils.hardware import autocast, native_bf16


def predict_scores(
    model: StsPreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sentences1: list[str],
    sentences2: list[str],
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
    batch_size: int = 64,
    show_progress_bar: bool = True,
    bf16: bool | None = None,
) -> np.ndarray:
    """Score sentence pairs with an hf_sts model, in input order.

    The pairs are tokenized as the model reads text (`model.tokenize`, its prompt included), truncated to
    `max_seq_length` tokens, sorted by length into batches of `batch_size`, scored under `torch.inference_mode` in
    eval mode on the model's device, and put back in input order. The model's training mode is restored afterwards.
    Sorting makes the batch size matter little: each batch is padded only to its own longest pair. On 2 CPU cores
    (`benchmarks/speed.py`), batches of 16 and 64 (the default) score KLUE-STS dev within 8% of each other, for a
    2-layer BERT and for multilingual-e5-small; 256 is 1.7× slower, its batches padding to 1.7× the real tokens.

    Args:
        model: a cross-encoder or bi-encoder (also wrapped: a peft model, the scorer of a plain
            `AutoModelForSequenceClassification` that `load_model` returns).
        sentences1, sentences2 (`list[str]`): the pairs, same length `n`.
        bf16: score under bf16 autocast (scores move by about 1e-2 on the 0–5 scale); `None` (default): where the
            model's device runs bf16 natively (`hf_sts.utils.hardware.native_bf16`).

    Returns:
        `np.ndarray` of shape `(n,)`, float64: the scores on the 0.0–5.0 scale, unclipped.

    Raises:
        ValueError: if the two lists differ in length, or `max_seq_length` or `batch_size` is below 1.
    """
    if len(sentences1) != len(sentences2):
        raise ValueError(f"{len(sentences1)} first sentences but {len(sentences2)} second ones.")
    if max_seq_length < 1 or batch_size < 1:
        raise ValueError(f"max_seq_length ({max_seq_length}) and batch_size ({batch_size}) must be >= 1.")
    device = next(model.parameters()).device
    bf16 = native_bf16(device) if bf16 is None else bf16
    encoded = model.tokenize(tokenizer, list(sentences1), list(sentences2), truncation=True, max_length=max_seq_length)
    # A bi-encoder's inputs carry the second sentences under `_b` keys (also through a peft wrapper).
    collate = BiEncoderCollator(tokenizer) if "input_ids_b" in encoded else DataCollatorWithPadding(tokenizer)
    scores = np.empty(len(sentences1), dtype=np.float64)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), autocast(device, bf16):
            batches = length_sorted_batches(encoded, collate, batch_size, device, "Scoring pairs", show_progress_bar)
            for rows, batch in batches:
                scores[rows] = model(**batch).logits.float().cpu().numpy()
    finally:
        model.train(was_training)
    return scores


def sts_metrics(
    predictions: np.ndarray, dataset, prefix: str = "eval", binary_threshold: float | None = None
) -> dict[str, float]:
    """Pearson r, Spearman rho, F1, MSE and MAE (see [`StsMetric`]) of `predictions` (clipped to [0, 5] first)
    against the `label` and `binary_label` of `dataset` (hf_sts schema), keys prefixed `{prefix}_`. F1 compares
    `prediction >= binary_threshold` (`None`: KLUE's 3.0)."""
    metrics = StsMetric(keep_in_memory=True).compute(
        predictions=clip_scores(predictions),
        references=np.asarray(dataset["label"], dtype=np.float64),
        binary_references=np.asarray(dataset["binary_label"]),
        binary_threshold=binary_threshold,
    )
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
