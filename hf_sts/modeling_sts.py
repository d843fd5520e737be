# Copyright 2026 The hf_sts Authors. Licensed under the Apache License, Version 2.0.
"""Cross-encoder models for semantic textual similarity (STS) and their regression heads.

This file imports only `torch` and `transformers` (and its sibling `configuration_sts.py`): `save_pretrained` copies
both next to the weights so that `AutoModel.from_pretrained(path, trust_remote_code=True)` works where hf_sts is not
installed.

Heads live in one registry, `HEADS`; the recipe key `head` picks one by name. A head takes the backbone's token
states and the attention mask and returns one score per pair.
"""

import torch
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import SequenceClassifierOutput

from .configuration_sts import StsCrossEncoderConfig


HEADS: dict[str, type[nn.Module]] = {}


def register_head(name: str):
    """Class decorator that adds a regression head to `HEADS` under `name`.

    A head is an `nn.Module` built as `Head(config)` from a [`StsCrossEncoderConfig`], whose `forward(hidden_states,
    attention_mask)` maps token states of shape `(batch, seq_len, hidden_size)` and a mask of shape
    `(batch, seq_len)` (1 for real tokens, 0 for padding) to scores of shape `(batch,)`.

    Raises:
        ValueError: if `name` is already registered.
    """

    def decorator(cls: type[nn.Module]) -> type[nn.Module]:
        if name in HEADS:
            raise ValueError(f"A head named {name!r} is already registered ({HEADS[name].__name__}).")
        HEADS[name] = cls
        return cls

    return decorator


@register_head("cls")
class ClsHead(nn.Module):
    """Dropout → linear on the state of the first token (`[CLS]` / `<s>`), the default head of transformers'
    sequence-classification models.

    Input: `hidden_states` `(batch, seq_len, hidden_size)`, `attention_mask` `(batch, seq_len)` (unused: the first
    token is never padding). Output: scores `(batch,)`.
    """

    def __init__(self, config: StsCrossEncoderConfig):
        super().__init__()
        self.dropout = nn.Dropout(config.resolved_head_dropout)
        self.out_proj = nn.Linear(config.hidden_size, 1)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.dropout(hidden_states[:, 0])).squeeze(-1)


@register_head("mlp")
class MlpHead(nn.Module):
    """A stack of Dropout → Linear → activation blocks on the first token's state, one per width in
    `config.head_hidden_sizes`, then Dropout → Linear to one score.

    With `head_hidden_sizes=[512, 256]`, `head_activation="tanh"`, `head_dropout=0.2` this is the best head of the
    seeds' competition runs: hidden → 512 → 256 → 1.

    Input: `hidden_states` `(batch, seq_len, hidden_size)`, `attention_mask` `(batch, seq_len)` (unused).
    Output: scores `(batch,)`.
    """

    def __init__(self, config: StsCrossEncoderConfig):
        super().__init__()
        widths = [config.hidden_size, *config.head_hidden_sizes]
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [
                nn.Dropout(config.resolved_head_dropout),
                nn.Linear(width_in, width_out),
                ACT2FN[config.head_activation],
            ]
        self.layers = nn.Sequential(*layers)
        self.dropout = nn.Dropout(config.resolved_head_dropout)
        self.out_proj = nn.Linear(widths[-1], 1)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.dropout(self.layers(hidden_states[:, 0]))).squeeze(-1)


class StsPreTrainedModel(PreTrainedModel):
    """Base class of the hf_sts models: weight initialisation and the attributes `from_pretrained` reads."""

    config_class = StsCrossEncoderConfig
    base_model_prefix = "backbone"
    supports_gradient_checkpointing = True
    _supports_sdpa = True


class StsCrossEncoderModel(StsPreTrainedModel):
    """A cross-encoder for STS: the backbone reads `[CLS] sentence1 [SEP] sentence2 [SEP]` as one sequence and the
    regression head maps its token states to one similarity score per pair, trained on the 0.0–5.0 scale.

    The backbone's pooler (BERT, RoBERTa), if any, is removed: heads read the token states.

    The model computes no loss: `hf_sts.StsTrainer` owns the losses (see `hf_sts.losses`). Scores are not clipped;
    clip to [0, 5] when writing them out.

    Args:
        config ([`StsCrossEncoderConfig`]): the backbone configuration and head settings.
        backbone (`PreTrainedModel`, *optional*): an already built backbone (for example from
            `AutoModel.from_pretrained`); built from `config.backbone_config` with random weights when omitted.

    Raises:
        ValueError: if `config.head` is not a registered head.
    """

    def __init__(self, config: StsCrossEncoderConfig, backbone: PreTrainedModel | None = None):
        super().__init__(config)
        if config.head not in HEADS:
            raise ValueError(f"Unknown head {config.head!r}; registered heads: {sorted(HEADS)}.")
        self.backbone = backbone if backbone is not None else AutoModel.from_config(config.backbone_config)
        if getattr(self.backbone, "pooler", None) is not None:
            # The head reads the token states; the backbone's pooler would be dead weight (and unused parameters
            # make DDP search for them every step), so it is neither kept nor saved.
            self.backbone.pooler = None
        self.head = HEADS[config.head](config)
        self.post_init()

    @classmethod
    def from_backbone(cls, backbone: PreTrainedModel, **config_kwargs) -> "StsCrossEncoderModel":
        """Wrap a built backbone (pretrained or fresh) with a newly initialised head.

        Args:
            backbone (`PreTrainedModel`): an encoder such as `AutoModel.from_pretrained("klue/roberta-large")`.
            **config_kwargs: head settings of [`StsCrossEncoderConfig`] (`head`, `head_hidden_sizes`, ...).
        """
        config = StsCrossEncoderConfig(backbone_config=backbone.config.to_dict(), **config_kwargs)
        return cls(config, backbone=backbone)

    def get_input_embeddings(self) -> nn.Module:
        return self.backbone.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module):
        self.backbone.set_input_embeddings(value)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch, seq_len)`): token ids of the encoded pairs.
            attention_mask (`torch.Tensor` of shape `(batch, seq_len)`, *optional*): 1 for real tokens, 0 for padding.
            token_type_ids (`torch.LongTensor` of shape `(batch, seq_len)`, *optional*): segment ids, for backbones
                that use them.

        Returns:
            [`~transformers.modeling_outputs.SequenceClassifierOutput`] whose `logits` of shape `(batch,)` are the
            similarity scores on the 0.0–5.0 training scale (unclipped); `loss` is always `None`.
        """
        backbone_inputs = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
            "position_ids": position_ids,
            "inputs_embeds": inputs_embeds,
            "output_attentions": output_attentions,
            "output_hidden_states": output_hidden_states,
        }
        outputs = self.backbone(**{key: value for key, value in backbone_inputs.items() if value is not None})
        hidden_states = outputs.last_hidden_state
        if attention_mask is None:
            attention_mask = torch.ones(hidden_states.shape[:2], dtype=torch.long, device=hidden_states.device)
        scores = self.head(hidden_states, attention_mask)
        return SequenceClassifierOutput(
            logits=scores, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


__all__ = ["HEADS", "register_head", "ClsHead", "MlpHead", "StsPreTrainedModel", "StsCrossEncoderModel"]
