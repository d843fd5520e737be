"""`MlmTrainer`: the `transformers.Trainer` of pretraining, with sparse prediction (the MLM head on the masked
positions only) and hf_sts' one push at the end.
"""

import logging

import torch
from torch import nn
from transformers import Trainer

from hf_sts.pretraining.builder import MLM_HEAD_ATTRIBUTES
from hf_sts.training.trainer import FinalPushMixin, scale_for_accumulation


logger = logging.getLogger(__name__)


class MlmTrainer(FinalPushMixin, Trainer):
    """`transformers.Trainer` for masked-language modeling with sparse prediction: the MLM head (a position-wise
    module: dense, activation, norm, projection to the vocabulary) runs on the masked positions only, `(n_masked,
    hidden)` instead of `(batch, seq_len, hidden)`. With 15% of the tokens masked, that is about 7× fewer rows through
    the vocabulary projection, most of the cost of a large-vocabulary encoder (multilingual-e5-small: 250 k tokens).
    The loss is the same cross-entropy over the masked tokens. The method is
    ModernBERT's `sparse_prediction` (transformers' `ModernBertForMaskedLM`), here for any model whose head is one of
    `MLM_HEAD_ATTRIBUTES`; other models run their full forward.

    The forward still goes through the (possibly DDP-wrapped) model: a forward pre-hook on the head selects the
    masked rows. Normalisation: the summed loss over `num_items_in_batch` (the masked tokens of the accumulated
    batch, across processes with `average_tokens_across_devices`), as the Trainer counts them.

    With `push_to_hub`, the model is pushed once at the end (see `hf_sts.training.trainer.FinalPushMixin`).

    Args:
        sparse_prediction (`bool`, defaults to `True`): select the masked rows before the head.
        *args, **kwargs: as for `transformers.Trainer`.
    """

    def __init__(self, *args, sparse_prediction: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self._masked: torch.Tensor | None = None
        self._head = None
        if sparse_prediction:
            unwrapped = self.accelerator.unwrap_model(self.model)
            self._head = next(
                (getattr(unwrapped, name) for name in MLM_HEAD_ATTRIBUTES if hasattr(unwrapped, name)), None
            )
        if self._head is not None:
            self._head.register_forward_pre_hook(self._select_masked)
            self.model_accepts_loss_kwargs = True  # the Trainer counts the masked tokens as `num_items_in_batch`
        elif sparse_prediction:
            logger.info(
                "%s has no MLM head among %s: full prediction.", type(self.model).__name__, MLM_HEAD_ATTRIBUTES
            )

    def _select_masked(self, module: nn.Module, args: tuple) -> tuple | None:
        if self._masked is None:
            return None
        return (args[0][self._masked], *args[1:])

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The cross-entropy of the masked tokens (`labels` != -100), from the head's logits on those tokens only
        (`(n_masked, vocab_size)`), or the model's own loss without sparse prediction."""
        if self._head is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs.pop("labels")
        self._masked = labels != -100
        try:
            outputs = model(**inputs)
        finally:
            self._masked = None
        targets = labels[labels != -100]
        logits = outputs.logits.float()
        # A micro-batch in which nothing was masked contributes zero (not the NaN mean of no tokens).
        loss = nn.functional.cross_entropy(logits, targets) if targets.numel() else logits.sum() * 0.0
        if model.training:
            loss = scale_for_accumulation(self, loss, targets.numel(), num_items_in_batch)
        return (loss, outputs) if return_outputs else loss
