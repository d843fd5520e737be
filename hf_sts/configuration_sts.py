# Copyright 2026 The hf_sts Authors. Licensed under the Apache License, Version 2.0.
"""Configuration of the hf_sts models.

This file imports only `transformers`: `save_pretrained` copies it next to the weights so that
`AutoConfig.from_pretrained(path, trust_remote_code=True)` works where hf_sts is not installed.
"""

from transformers import AutoConfig, PreTrainedConfig
from transformers.activations import ACT2FN
from transformers.configuration_utils import SubConfigSpec


class StsCrossEncoderConfig(PreTrainedConfig):
    r"""
    Configuration of [`StsCrossEncoderModel`]: a backbone encoder (any `AutoModel`: BERT, RoBERTa, ELECTRA, ...)
    that reads both sentences of a pair as one sequence, and a regression head that maps its token states to one
    similarity score on the 0.0–5.0 scale.

    The backbone's own configuration is stored whole under `backbone_config`, so a saved checkpoint rebuilds the
    backbone without access to the checkpoint it was fine-tuned from (the same design as
    [`~transformers.EncoderDecoderConfig`]).

    Args:
        backbone_config (`PreTrainedConfig` or `dict`, *optional*, defaults to a default `BertConfig`):
            Configuration of the backbone encoder. A `dict` must carry `model_type`.
        head (`str`, *optional*, defaults to `"cls"`):
            Name of the regression head in `hf_sts.modeling_sts.HEADS` (`"cls"`, `"mlp"`).
        head_hidden_sizes (`list[int]`, *optional*, defaults to `[512, 256]`):
            Widths of the hidden layers of the `"mlp"` head, input side first. Ignored by the `"cls"` head.
        head_dropout (`float`, *optional*):
            Dropout probability before each linear layer of the head. Defaults to the backbone's
            `classifier_dropout`, else its `hidden_dropout_prob` (the convention of transformers' classifiers).
        head_activation (`str`, *optional*, defaults to `"tanh"`):
            Activation between the layers of the `"mlp"` head; any key of `transformers.activations.ACT2FN`.

    Raises:
        ValueError: if `head_dropout` is outside [0, 1), `head_activation` is unknown or `head_hidden_sizes` holds
            a width below 1.

    Example:

    ```python
    >>> from transformers import BertConfig
    >>> from hf_sts import StsCrossEncoderConfig, StsCrossEncoderModel

    >>> config = StsCrossEncoderConfig(backbone_config=BertConfig(hidden_size=32, num_hidden_layers=2,
    ...     num_attention_heads=2, intermediate_size=37), head="mlp", head_hidden_sizes=[16])
    >>> model = StsCrossEncoderModel(config)
    ```
    """

    model_type = "hf_sts_cross_encoder"
    sub_configs_defaults = {"backbone_config": SubConfigSpec(config_class=AutoConfig, model_type="bert")}

    backbone_config: PreTrainedConfig | dict | None = None
    head: str = "cls"
    head_hidden_sizes: list[int] | None = None
    head_dropout: float | None = None
    head_activation: str = "tanh"

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.head_hidden_sizes is None:
            self.head_hidden_sizes = [512, 256]
        self.head_hidden_sizes = [int(width) for width in self.head_hidden_sizes]
        if any(width < 1 for width in self.head_hidden_sizes):
            raise ValueError(f"`head_hidden_sizes` must hold widths >= 1, got {self.head_hidden_sizes}.")
        if self.head_dropout is not None and not 0.0 <= self.head_dropout < 1.0:
            raise ValueError(f"`head_dropout` must be in [0, 1), got {self.head_dropout}.")
        if self.head_activation not in ACT2FN:
            raise ValueError(f"`head_activation` must be one of {sorted(ACT2FN)}, got {self.head_activation!r}.")

    @property
    def hidden_size(self) -> int:
        """Width of the backbone's token states, the input width of the head."""
        return self.backbone_config.hidden_size

    @property
    def initializer_range(self) -> float:
        """Standard deviation of the normal init of the head, taken from the backbone (0.02 if it has none)."""
        return getattr(self.backbone_config, "initializer_range", 0.02)

    @property
    def resolved_head_dropout(self) -> float:
        """`head_dropout`, or the backbone's classifier dropout when unset."""
        if self.head_dropout is not None:
            return self.head_dropout
        backbone = self.backbone_config
        dropout = getattr(backbone, "classifier_dropout", None)
        if dropout is None:
            dropout = getattr(backbone, "hidden_dropout_prob", 0.1)
        return dropout


__all__ = ["StsCrossEncoderConfig"]
