# Copyright 2026 The hf_sts Authors. Licensed under the Apache License, Version 2.0.
"""Configuration of the hf_sts models: [`StsCrossEncoderConfig`] and [`StsBiEncoderConfig`].

This file imports only `transformers` (and its sibling `text_cleaning.py`, standard library only): `save_pretrained`
copies both next to the weights so that
`AutoConfig.from_pretrained(path, trust_remote_code=True)` works where hf_sts is not installed.
"""

from transformers import AutoConfig, PreTrainedConfig
from transformers.activations import ACT2FN
from transformers.configuration_utils import SubConfigSpec
from transformers.utils import logging

from .text_cleaning import check_cleaning_steps


logger = logging.get_logger(__name__)

POOLING_MODES = ("cls", "mean")
RNN_TYPES = ("lstm", "gru")
# The `mlp` head's hidden widths when unset: 512 -> 256, the best of the competition code hf_sts started from.
DEFAULT_HEAD_HIDDEN_SIZES = (512, 256)
# Earlier names of heads, still read (with one notice) in recipes and saved configs: `lstm` became `rnn` when the
# head learned GRUs (`head_rnn_type`), with the same weights and settings.
HEAD_ALIASES = {"lstm": "rnn"}
# The settings of how a model reads text (fields of `StsBackboneConfig`, recipe keys of the same name).
INPUT_KEYS = ("prompt", "text_cleaning")
# The settings of a cross-encoder's regression head (fields of `StsCrossEncoderConfig`, recipe keys of the same name).
HEAD_KEYS = (
    "head",
    "head_hidden_sizes",
    "head_dropout",
    "head_activation",
    "head_pooling",
    "head_rnn_type",
    "head_rnn_hidden_size",
)


def resolve_head_name(head: str) -> str:
    """`head`, or the current name of a head that was renamed (`HEAD_ALIASES`), with one notice saying so."""
    if head in HEAD_ALIASES:
        # Once per process (transformers' `warning_once`): a config is built several times per load.
        logger.warning_once(
            f"head {head!r} is now called {HEAD_ALIASES[head]!r} (same weights and settings); read as such."
        )
        return HEAD_ALIASES[head]
    return head


def _check_choice(key: str, value: str, choices) -> None:
    if value not in choices:
        raise ValueError(f"`{key}` must be one of {sorted(choices)}, got {value!r}.")


class StsBackboneConfig(PreTrainedConfig):
    r"""
    What every hf_sts model configuration shares: the backbone encoder's own configuration, stored whole under
    `backbone_config`, so a saved checkpoint rebuilds the backbone without access to the checkpoint it was
    fine-tuned from (the design of [`~transformers.EncoderDecoderConfig`]).

    Args:
        backbone_config (`PreTrainedConfig` or `dict`, *optional*, defaults to a default `BertConfig`):
            Configuration of the backbone encoder (any `AutoModel`: BERT, RoBERTa, ELECTRA, ...). A `dict` must carry
            `model_type`.
        prompt (`str`, *optional*):
            Text put before every sentence the model reads, in training and at inference (`model.tokenize` applies
            it): what sentence-transformers calls a prompt. multilingual-e5 models expect `"query: "` for
            symmetric tasks such as STS (Wang et al. 2022, "Text Embeddings by Weakly-Supervised Contrastive
            Pre-training").
        text_cleaning (`list[str]`, *optional*):
            Names of the cleaning steps (`hf_sts.models.sts.text_cleaning.CLEANING_STEPS`: `emoji`,
            `special_characters`, `repeated_characters`, `whitespace`) applied, in order, to every sentence before the
            prompt, in training and at inference (`model.tokenize` applies them).
        pad_token_id (`int`, *optional*):
            The padding token's id; defaults to the backbone's (what the Trainer checks the tokenizer against).
    """

    sub_configs_defaults = {"backbone_config": SubConfigSpec(config_class=AutoConfig, model_type="bert")}

    backbone_config: PreTrainedConfig | dict | None = None
    prompt: str | None = None
    text_cleaning: list[str] | None = None
    pad_token_id: int | None = None

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.text_cleaning = check_cleaning_steps(self.text_cleaning) or None
        if self.pad_token_id is None:
            self.pad_token_id = getattr(self.backbone_config, "pad_token_id", None)

    @property
    def hidden_size(self) -> int:
        """Width of the backbone's token states."""
        return self.backbone_config.hidden_size

    @property
    def initializer_range(self) -> float:
        """Standard deviation of the normal init of new layers, taken from the backbone (0.02 if it has none)."""
        return getattr(self.backbone_config, "initializer_range", 0.02)


class StsCrossEncoderConfig(StsBackboneConfig):
    r"""
    Configuration of [`StsCrossEncoderModel`]: a backbone encoder that reads both sentences of a pair as one sequence,
    and a regression head that maps its token states to one similarity score on the 0.0–5.0 scale.

    Args:
        backbone_config (`PreTrainedConfig` or `dict`, *optional*, defaults to a default `BertConfig`):
            Configuration of the backbone encoder. A `dict` must carry `model_type`.
        prompt (`str`, *optional*):
            Text put before every sentence, see [`StsBackboneConfig`] (e.g. `"query: "` for multilingual-e5).
        text_cleaning (`list[str]`, *optional*):
            Cleaning steps applied to every sentence, see [`StsBackboneConfig`].
        head (`str`, *optional*, defaults to `"cls"`):
            Name of the regression head in `hf_sts.models.sts.modeling_sts.HEADS`: `"cls"`, `"mean"`, `"mlp"`, `"rnn"`.
        head_hidden_sizes (`list[int]`, *optional*, defaults to `[512, 256]`):
            Widths of the hidden layers of the `"mlp"` head, input side first.
        head_dropout (`float`, *optional*):
            Dropout probability before each linear layer of the head. Defaults to the backbone's
            `classifier_dropout`, else its `hidden_dropout_prob` (the convention of transformers' classifiers).
        head_activation (`str`, *optional*, defaults to `"tanh"`):
            Activation between the layers of the `"mlp"` head; any key of `transformers.activations.ACT2FN`.
        head_pooling (`str`, *optional*, defaults to `"cls"`):
            Input of the `"mlp"` head: the first token's state (`"cls"`) or the masked mean of all token states
            (`"mean"`).
        head_rnn_type (`str`, *optional*, defaults to `"lstm"`):
            Recurrent layer of the `"rnn"` head: `"lstm"` or `"gru"`.
        head_rnn_hidden_size (`int`, *optional*):
            Hidden width of each direction of the `"rnn"` head; defaults to half the backbone's `hidden_size`.

    Raises:
        ValueError: if `head_dropout` is outside [0, 1), `head_activation`, `head_pooling`, `head_rnn_type` or a
            `text_cleaning` step is unknown, or a width is below 1.

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

    head: str = "cls"
    head_hidden_sizes: list[int] | None = None
    head_dropout: float | None = None
    head_activation: str = "tanh"
    head_pooling: str = "cls"
    head_rnn_type: str = "lstm"
    head_rnn_hidden_size: int | None = None

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.head = resolve_head_name(self.head)
        if self.head_hidden_sizes is None:
            self.head_hidden_sizes = list(DEFAULT_HEAD_HIDDEN_SIZES)
        self.head_hidden_sizes = [int(width) for width in self.head_hidden_sizes]
        if any(width < 1 for width in self.head_hidden_sizes):
            raise ValueError(f"`head_hidden_sizes` must hold widths >= 1, got {self.head_hidden_sizes}.")
        if self.head_rnn_hidden_size is not None and self.head_rnn_hidden_size < 1:
            raise ValueError(f"`head_rnn_hidden_size` must be >= 1, got {self.head_rnn_hidden_size}.")
        if self.head_dropout is not None and not 0.0 <= self.head_dropout < 1.0:
            raise ValueError(f"`head_dropout` must be in [0, 1), got {self.head_dropout}.")
        _check_choice("head_activation", self.head_activation, ACT2FN)
        _check_choice("head_pooling", self.head_pooling, POOLING_MODES)
        _check_choice("head_rnn_type", self.head_rnn_type, RNN_TYPES)

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

    @property
    def resolved_head_rnn_hidden_size(self) -> int:
        """`head_rnn_hidden_size`, or half the backbone's width (so both directions together match it)."""
        return self.head_rnn_hidden_size or max(1, self.hidden_size // 2)


class StsBiEncoderConfig(StsBackboneConfig):
    r"""
    Configuration of [`StsBiEncoderModel`]: a Sentence-BERT bi-encoder (Reimers & Gurevych 2019) that embeds each
    sentence alone with one shared backbone, pools its token states, and scores a pair by the cosine similarity of
    the two embeddings times `score_scale`.

    Args:
        backbone_config (`PreTrainedConfig` or `dict`, *optional*, defaults to a default `BertConfig`):
            Configuration of the backbone encoder. A `dict` must carry `model_type`.
        prompt (`str`, *optional*):
            Text put before every sentence, see [`StsBackboneConfig`] (e.g. `"query: "` for multilingual-e5).
        text_cleaning (`list[str]`, *optional*):
            Cleaning steps applied to every sentence, see [`StsBackboneConfig`].
        pooling (`str`, *optional*, defaults to `"mean"`):
            Sentence embedding: the masked mean of the token states (`"mean"`, SBERT's default) or the first token's
            state (`"cls"`).
        score_scale (`float`, *optional*, defaults to `5.0`):
            Scores are `score_scale * cos(u, v)`, so a cosine of 1 is the top of the 0.0–5.0 STS scale.

    Raises:
        ValueError: if `pooling` or a `text_cleaning` step is unknown, or `score_scale` is not positive.
    """

    model_type = "hf_sts_bi_encoder"

    pooling: str = "mean"
    score_scale: float = 5.0

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        _check_choice("pooling", self.pooling, POOLING_MODES)
        if self.score_scale <= 0:
            raise ValueError(f"`score_scale` must be positive, got {self.score_scale}.")


__all__ = [
    "DEFAULT_HEAD_HIDDEN_SIZES",
    "HEAD_KEYS",
    "INPUT_KEYS",
    "POOLING_MODES",
    "RNN_TYPES",
    "StsBackboneConfig",
    "StsCrossEncoderConfig",
    "StsBiEncoderConfig",
]
