# Copyright 2026 The hf_sts Authors. Licensed under the Apache License, Version 2.0.
"""Models for semantic textual similarity (STS): cross-encoders with their regression heads, and bi-encoders.

This file imports only `torch` and `transformers` (and its siblings `configuration_sts.py` and `text_cleaning.py`):
`save_pretrained` copies them next to the weights so that `AutoModel.from_pretrained(path, trust_remote_code=True)`
works where hf_sts is not installed.

Cross-encoder heads live in one registry, `HEADS`; the recipe key `head` picks one by name. A head takes the
backbone's token states and the attention mask and returns one score per pair. The recipe key
`architecture: "bi-encoder"` picks [`StsBiEncoderModel`] instead.
"""

from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_outputs import BaseModelOutput, SequenceClassifierOutput

from .configuration_sts import StsBackboneConfig, StsBiEncoderConfig, StsCrossEncoderConfig
from .text_cleaning import clean_texts


HEADS: dict[str, type[nn.Module]] = {}

# The middle of the 0.0-5.0 STS scale: where a new head's output starts (see `StsCrossEncoderModel._init_weights`).
SCORE_CENTER = 2.5


def register_head(name: str):
    """Class decorator that adds a regression head to `HEADS` under `name`.

    A head is an `nn.Module` built as `Head(config)` from a [`StsCrossEncoderConfig`], whose `forward(hidden_states,
    attention_mask)` maps token states of shape `(batch, seq_len, hidden_size)` and a mask of shape
    `(batch, seq_len)` (1 for real tokens, 0 for padding) to scores of shape `(batch,)`. A head whose last layer is
    an `nn.Linear` named `out_proj` starts with that layer's bias at `SCORE_CENTER` (2.5), as the built-in heads do.

    Raises:
        ValueError: if `name` is already registered.
    """

    def decorator(cls: type[nn.Module]) -> type[nn.Module]:
        if name in HEADS:
            raise ValueError(f"A head named {name!r} is already registered ({HEADS[name].__name__}).")
        HEADS[name] = cls
        return cls

    return decorator


def pool(hidden_states: torch.Tensor, attention_mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Pool token states into one vector per sequence.

    Args:
        hidden_states (`torch.Tensor` of shape `(batch, seq_len, hidden_size)`): the backbone's token states.
        attention_mask (`torch.Tensor` of shape `(batch, seq_len)`): 1 for real tokens, 0 for padding.
        mode (`str`): `"cls"`, the first token's state (`[CLS]` / `<s>`, never padding), or `"mean"`, the mean of
            the states of the real tokens (the pooling of Sentence-BERT, Reimers & Gurevych 2019), so padding
            changes nothing.

    Returns:
        `torch.Tensor` of shape `(batch, hidden_size)`.

    Raises:
        ValueError: for another `mode`.
    """
    if mode == "cls":
        return hidden_states[:, 0]
    if mode == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
        return (hidden_states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    raise ValueError(f"Unknown pooling {mode!r}; expected 'cls' or 'mean'.")


def apply_prompt(sentences: list[str], prompt: str | None, text_cleaning: list[str] | None = None) -> list[str]:
    """The text a model reads: `sentences` cleaned by the steps of `text_cleaning` (see
    `hf_sts.models.sts.text_cleaning`; the prompt itself is never cleaned), then `prompt` put before each one (no
    change for `None` or empty ones)."""
    sentences = clean_texts(sentences, text_cleaning)
    return [prompt + sentence for sentence in sentences] if prompt else sentences


def pair_cosine(embeddings_a: torch.Tensor, embeddings_b: torch.Tensor) -> torch.Tensor:
    """The cosine of each pair of sentence embeddings, in fp32 (also under bf16 autocast, whose rounding would put
    5 × cosine on a grid of 1/64 near 2.5): a bi-encoder's score divided by its `score_scale`.

    Args:
        embeddings_a, embeddings_b (`torch.Tensor` of shape `(batch, hidden_size)`): the embeddings of the first and
            the second sentences, normalised or not.

    Returns:
        `torch.Tensor` of shape `(batch,)`, fp32, in [-1, 1].
    """
    return nn.functional.cosine_similarity(embeddings_a.float(), embeddings_b.float(), dim=-1)


def regression_loss(predictions: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | None:
    """The loss of transformers' regression heads (`problem_type="regression"`): the mean squared error of
    `predictions` against `labels`, both `(batch,)`, in fp32; `None` without labels."""
    if labels is None:
        return None
    return nn.functional.mse_loss(predictions.float(), labels.to(predictions.device).float().view(-1))


# The activation of transformers' own sequence-classification head per backbone type (tanh elsewhere).
CLS_HEAD_ACTIVATIONS = {"electra": "gelu"}

# Backbone types whose `...ForSequenceClassification` classifies the pooler's output (dense + tanh on the first token,
# pretrained with next-sentence or sentence-order prediction): the `cls` head's dense layer starts from that pooler.
POOLER_CLASSIFIER_TYPES = ("bert", "albert", "ernie", "megatron-bert")


@register_head("cls")
class ClsHead(nn.Module):
    """The sequence-classification head transformers puts on the backbone, with one output: on the first token's
    state (`[CLS]` / `<s>`), Dropout → Linear(hidden, hidden) → activation → Dropout → Linear(hidden, 1).

    The activation is tanh, or GELU for ELECTRA, as in `RobertaClassificationHead`, `ElectraClassificationHead` and
    BERT's pooler + classifier, so the head maps one to one onto `AutoModelForSequenceClassification`
    (`hf-sts export --format sequence-classification`). On a BERT-type backbone (`POOLER_CLASSIFIER_TYPES`), the dense
    layer starts from the backbone's pretrained pooler, as `BertForSequenceClassification` reuses it (see
    [`StsCrossEncoderModel.from_backbone`]).

    Input: `hidden_states` `(batch, seq_len, hidden_size)`, `attention_mask` `(batch, seq_len)` (unused: the first
    token is never padding). Output: scores `(batch,)`.
    """

    def __init__(self, config: StsCrossEncoderConfig):
        super().__init__()
        self.dropout = nn.Dropout(config.resolved_head_dropout)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = ACT2FN[CLS_HEAD_ACTIVATIONS.get(config.backbone_config.model_type, "tanh")]
        self.out_proj = nn.Linear(config.hidden_size, 1)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        features = self.activation(self.dense(self.dropout(hidden_states[:, 0])))
        return self.out_proj(self.dropout(features)).squeeze(-1)


@register_head("mean")
class MeanHead(nn.Module):
    """Masked mean of all token states (padding excluded) → Dropout → Linear(hidden, 1): the competition code's
    "average of all token representations".

    Input: `hidden_states` `(batch, seq_len, hidden_size)`, `attention_mask` `(batch, seq_len)`.
    Output: scores `(batch,)`.
    """

    def __init__(self, config: StsCrossEncoderConfig):
        super().__init__()
        self.dropout = nn.Dropout(config.resolved_head_dropout)
        self.out_proj = nn.Linear(config.hidden_size, 1)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.dropout(pool(hidden_states, attention_mask, "mean"))).squeeze(-1)


@register_head("mlp")
class MlpHead(nn.Module):
    """A stack of Dropout → Linear → activation blocks, one per width in `config.head_hidden_sizes`, then
    Dropout → Linear to one score, on the first token's state or the masked mean of the token states
    (`config.head_pooling`).

    The competition code's three: `[384]` on a base model (768 → 384 → 1), `[512, 256]` on a base or large model
    (768 or 1024 → 512 → 256 → 1, their best with `head_activation="tanh"`, `head_dropout=0.2`).

    Input: `hidden_states` `(batch, seq_len, hidden_size)`, `attention_mask` `(batch, seq_len)`.
    Output: scores `(batch,)`.
    """

    def __init__(self, config: StsCrossEncoderConfig):
        super().__init__()
        self.pooling = config.head_pooling
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
        features = self.layers(pool(hidden_states, attention_mask, self.pooling))
        return self.out_proj(self.dropout(features)).squeeze(-1)


@register_head("rnn")
class RnnHead(nn.Module):
    """A bidirectional LSTM (or GRU, `config.head_rnn_type`) over the real token states, then the final states of
    both directions, concatenated → Dropout → Linear(2 * rnn_hidden, 1): the competition code's classifier swap.

    Padding is excluded by packing each sequence to its length (`torch.nn.utils.rnn.pack_padded_sequence`), so a
    pair scores the same alone and in a padded batch. Padding must be on the right, as hf_sts tokenizes.

    Input: `hidden_states` `(batch, seq_len, hidden_size)`, `attention_mask` `(batch, seq_len)`.
    Output: scores `(batch,)`.

    Raises:
        ValueError: in `forward`, if the attention mask has padding before a real token (left padding).
    """

    def __init__(self, config: StsCrossEncoderConfig):
        super().__init__()
        rnn = nn.LSTM if config.head_rnn_type == "lstm" else nn.GRU
        hidden = config.resolved_head_rnn_hidden_size
        self.rnn = rnn(config.hidden_size, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(config.resolved_head_dropout)
        self.out_proj = nn.Linear(2 * hidden, 1)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        lengths = attention_mask.sum(dim=1)
        if not torch.equal(attention_mask.long().cumprod(dim=1).sum(dim=1), lengths.long()):
            raise ValueError("The rnn head needs right padding: the attention mask has padding before a real token.")
        packed = nn.utils.rnn.pack_padded_sequence(
            hidden_states, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, state = self.rnn(packed)
        final = state[0] if isinstance(state, tuple) else state  # LSTM returns (h_n, c_n); h_n: (2, batch, hidden)
        features = torch.cat([final[0], final[1]], dim=-1)
        return self.out_proj(self.dropout(features)).squeeze(-1)


class StsPreTrainedModel(PreTrainedModel):
    """Base class of the hf_sts models: a backbone built from (or passed with) the config, without its pooler, and
    the attributes `from_pretrained` reads.

    Args:
        config ([`StsBackboneConfig`]): the backbone configuration and the model's own settings.
        backbone (`PreTrainedModel`, *optional*): an already built backbone (for example from
            `AutoModel.from_pretrained`); built from `config.backbone_config` with random weights when omitted.
    """

    config_class = StsBackboneConfig
    base_model_prefix = "backbone"
    supports_gradient_checkpointing = True
    _supports_sdpa = True

    def __init__(self, config: StsBackboneConfig, backbone: PreTrainedModel | None = None):
        super().__init__(config)
        self.backbone = backbone if backbone is not None else AutoModel.from_config(config.backbone_config)
        if getattr(self.backbone, "pooler", None) is not None:
            # The models read the token states; the backbone's pooler would be dead weight (and unused parameters
            # make DDP search for them every step), so it is neither kept nor saved.
            self.backbone.pooler = None

    @classmethod
    def from_backbone(cls, backbone: PreTrainedModel, **config_kwargs) -> "StsPreTrainedModel":
        """Wrap a built backbone (pretrained or fresh) with newly initialised layers of this model.

        Args:
            backbone (`PreTrainedModel`): an encoder such as `AutoModel.from_pretrained("klue/roberta-large")`.
            **config_kwargs: the model's own settings (`head`, `head_hidden_sizes`, ... or `pooling`).
        """
        config = cls.config_class(backbone_config=backbone.config.to_dict(), **config_kwargs)
        return cls(config, backbone=backbone)

    @staticmethod
    def pair_inputs(
        tokenizer,
        sentences1: list[str],
        sentences2: list[str],
        prompt: str | None = None,
        text_cleaning: list[str] | None = None,
        **kwargs,
    ) -> dict:
        """The model inputs of sentence pairs, in this architecture's layout (see the subclasses)."""
        raise NotImplementedError

    def tokenize(self, tokenizer, sentences1: list[str], sentences2: list[str], **kwargs) -> dict:
        """The model inputs of sentence pairs, each sentence cleaned by the model's own steps (`config.text_cleaning`)
        and its prompt (`config.prompt`) put before it: the one way to turn text into this model's inputs, as
        training did.

        Args:
            tokenizer: the model's tokenizer.
            sentences1, sentences2 (`list[str]`): the first and second sentences, one per pair.
            **kwargs: passed to the tokenizer (`padding`, `truncation`, `max_length`, `return_tensors`).

        Returns:
            `dict` of model inputs: `input_ids`, `attention_mask`, ... of shape `(batch, seq_len)` with
            `return_tensors="pt"` (a bi-encoder adds the second sentences' `input_ids_b`, ...).
        """
        config = self.config
        return self.pair_inputs(
            tokenizer, sentences1, sentences2, prompt=config.prompt, text_cleaning=config.text_cleaning, **kwargs
        )

    def get_input_embeddings(self) -> nn.Module:
        return self.backbone.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module):
        self.backbone.set_input_embeddings(value)

    def _token_states(self, **inputs) -> BaseModelOutput:
        """Run the backbone on the inputs that are set (`None` ones are left out)."""
        return self.backbone(**{key: value for key, value in inputs.items() if value is not None})


class StsCrossEncoderModel(StsPreTrainedModel):
    """A cross-encoder for STS: the backbone reads `[CLS] sentence1 [SEP] sentence2 [SEP]` as one sequence and the
    regression head (`config.head`, one of `HEADS`) maps its token states to one similarity score per pair, trained
    on the 0.0–5.0 scale.

    Given `labels`, `forward` returns the mean squared error as `loss`, as transformers' regression heads do, so a
    plain `transformers.Trainer` trains it; `hf_sts.training.trainer.StsTrainer` trains with the recipe's losses
    instead (see `hf_sts.training.losses`). Scores are not clipped; clip to [0, 5] when writing them out.

    Args:
        config ([`StsCrossEncoderConfig`]): the backbone configuration and head settings.
        backbone (`PreTrainedModel`, *optional*): an already built backbone; built from `config.backbone_config`
            with random weights when omitted.

    Raises:
        ValueError: if `config.head` is not a registered head.
    """

    config_class = StsCrossEncoderConfig

    @staticmethod
    def pair_inputs(
        tokenizer,
        sentences1: list[str],
        sentences2: list[str],
        prompt: str | None = None,
        text_cleaning: list[str] | None = None,
        **kwargs,
    ) -> dict:
        """The model inputs of sentence pairs: each pair as one sequence, `[CLS] prompt+s1 [SEP] prompt+s2 [SEP]`.

        Args:
            tokenizer: the model's tokenizer.
            sentences1, sentences2: the first and second sentences, one per pair.
            prompt: text put before every sentence (`config.prompt`), or `None`.
            text_cleaning: cleaning steps applied to every sentence first (`config.text_cleaning`), or `None`.
            **kwargs: passed to the tokenizer (`padding`, `truncation`, `max_length`, `return_tensors`).
        """
        first = apply_prompt(sentences1, prompt, text_cleaning)
        return dict(tokenizer(first, apply_prompt(sentences2, prompt, text_cleaning), **kwargs))

    @classmethod
    def from_backbone(cls, backbone: PreTrainedModel, **config_kwargs) -> "StsCrossEncoderModel":
        """Wrap a built backbone with a newly initialised head (see [`StsPreTrainedModel.from_backbone`]). With the
        `cls` head on a backbone of `POOLER_CLASSIFIER_TYPES` (BERT, ALBERT, ...), the head's dense layer is a copy
        of the backbone's pooler, which the model does not keep otherwise: the pretrained start that
        `BertForSequenceClassification` gets from the same weights. (RoBERTa and ELECTRA classify with a fresh dense
        layer in transformers too, and so does hf_sts.)
        """
        pooler_dense = getattr(getattr(backbone, "pooler", None), "dense", None)
        model = super().from_backbone(backbone, **config_kwargs)
        if (
            isinstance(model.head, ClsHead)
            and backbone.config.model_type in POOLER_CLASSIFIER_TYPES
            and isinstance(pooler_dense, nn.Linear)
            and pooler_dense.weight.shape == model.head.dense.weight.shape
        ):
            model.head.dense.load_state_dict(pooler_dense.state_dict())
        return model

    def _init_weights(self, module: nn.Module) -> None:
        """transformers' initialisation, except that the head's output layer (`head.out_proj`) starts with its bias
        at the middle of the scale, `SCORE_CENTER` (2.5), so a new head predicts mid-scale rather than 0.

        Fine-tuning a pretrained encoder uses small learning rates (2e-5 to 5e-5), and Adam moves a parameter by
        about one learning rate per step: a bias starting at 0 would need tens of thousands of steps to reach the
        labels' mean, and an epoch of KLUE-STS ends with every score compressed below 3 (F1 0). This plays the role
        of sentence-transformers' CrossEncoder, whose STS heads start at sigmoid(0) = 0.5, the middle of its 0-1
        scale.
        """
        super()._init_weights(module)
        head = getattr(self, "head", None)
        if module is getattr(head, "out_proj", None) and isinstance(module, nn.Linear) and module.bias is not None:
            init.constant_(module.bias, SCORE_CENTER)

    def __init__(self, config: StsCrossEncoderConfig, backbone: PreTrainedModel | None = None):
        if config.head not in HEADS:
            raise ValueError(f"Unknown head {config.head!r}; registered heads: {sorted(HEADS)}.")
        super().__init__(config, backbone)
        self.head = HEADS[config.head](config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        labels: torch.Tensor | None = None,
    ) -> SequenceClassifierOutput:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch, seq_len)`): token ids of the encoded pairs.
            attention_mask (`torch.Tensor` of shape `(batch, seq_len)`, *optional*): 1 for real tokens, 0 for padding.
            token_type_ids (`torch.LongTensor` of shape `(batch, seq_len)`, *optional*): segment ids, for backbones
                that use them.
            labels (`torch.Tensor` of shape `(batch,)`, *optional*): gold scores on the 0.0–5.0 scale; when given,
                `loss` is their mean squared error, as `BertForSequenceClassification` computes it with
                `problem_type="regression"` (so a plain `transformers.Trainer` trains this model).
                `hf_sts.training.trainer.StsTrainer` passes no labels and computes the recipe's loss itself.

        Returns:
            [`~transformers.modeling_outputs.SequenceClassifierOutput`] whose `logits` of shape `(batch,)` are the
            similarity scores on the 0.0–5.0 training scale (unclipped), and `loss` (a scalar, fp32) with `labels`.

        Raises:
            TypeError: for an input this model does not take (`input_ids_b`: a bi-encoder's batch).
        """
        outputs = self._token_states(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        hidden_states = outputs.last_hidden_state
        if attention_mask is None:
            attention_mask = torch.ones(hidden_states.shape[:2], dtype=torch.long, device=hidden_states.device)
        # The head runs outside autocast, in its weights' dtype (fp32 unless the whole model was loaded in half
        # precision): under bf16 autocast a score near 2.5 would otherwise be rounded to a multiple of 1/64.
        head_dtype = next(self.head.parameters()).dtype
        with torch.autocast(hidden_states.device.type, enabled=False):
            scores = self.head(hidden_states.to(head_dtype), attention_mask)
        return SequenceClassifierOutput(
            loss=regression_loss(scores, labels),
            logits=scores,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


# The key suffixes of a bi-encoder's sentence sides: first (no suffix), second (`_b`), third (`_c`, a triplet's hard
# negative).
SIDE_SUFFIXES = ("", "_b", "_c")
# The inputs of one side, `StsBiEncoderModel.encode`'s arguments.
SENTENCE_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def sentence_sides(inputs: dict) -> list[dict]:
    """A bi-encoder batch split by side: per side present (first, second, third, in that order), the inputs of
    `StsBiEncoderModel.encode` without their suffix (`input_ids_b` -> `input_ids`), each `(batch, seq_len)`."""
    return [
        {name: inputs[name + suffix] for name in SENTENCE_INPUTS if name + suffix in inputs}
        for suffix in SIDE_SUFFIXES
        if "input_ids" + suffix in inputs
    ]


@dataclass
class BiEncoderOutput(SequenceClassifierOutput):
    """[`StsBiEncoderModel`]'s output: `SequenceClassifierOutput` (`loss`, `logits` of shape `(batch,)`) plus
    `sentence_embeddings`, a tuple of the `(batch, hidden_size)` embeddings of each sentence side, not normalised."""

    sentence_embeddings: tuple[torch.Tensor, ...] | None = None


class StsBiEncoderModel(StsPreTrainedModel):
    """A bi-encoder for STS in the style of Sentence-BERT (Reimers & Gurevych 2019, as in sentence-transformers):
    one shared backbone embeds each sentence alone, the token states are pooled (`config.pooling`, mean by default),
    and a pair scores `config.score_scale * cos(u, v)`, on the 0.0–5.0 scale (negative for opposed embeddings;
    clip to [0, 5] when writing scores out). Embeddings can be computed once per sentence and compared cheaply.

    Batches carry the first sentences as `input_ids` / `attention_mask` / `token_type_ids` and the second ones as
    `input_ids_b` / `attention_mask_b` / `token_type_ids_b` (see `hf_sts.data.tokenization.tokenize_pairs`). The score
    is symmetric: swapping the two sentences gives the same score.

    Args:
        config ([`StsBiEncoderConfig`]): the backbone configuration, pooling and score scale.
        backbone (`PreTrainedModel`, *optional*): an already built backbone; built from `config.backbone_config`
            with random weights when omitted.
    """

    config_class = StsBiEncoderConfig

    @staticmethod
    def sentence_inputs(
        tokenizer,
        columns: list[list[str]],
        prompt: str | None = None,
        text_cleaning: list[str] | None = None,
        **kwargs,
    ) -> dict:
        """The model inputs of up to three sentence columns, each sentence alone (cleaned, after `prompt`): a pair's
        two sentences, or a triplet's anchor, positive and hard negative. The first column's keys are the tokenizer's
        (`input_ids`, ...), the others' end in `SIDE_SUFFIXES` (`input_ids_b`, `input_ids_c`, ...).

        Args:
            tokenizer: the model's tokenizer.
            columns: one to three lists of sentences of equal length.
            prompt: text put before every sentence (`config.prompt`), or `None`.
            text_cleaning: cleaning steps applied to every sentence first (`config.text_cleaning`), or `None`.
            **kwargs: passed to the tokenizer (`padding`, `truncation`, `max_length`, `return_tensors`).

        Raises:
            ValueError: for more than three columns.
        """
        if len(columns) > len(SIDE_SUFFIXES):
            raise ValueError(f"A bi-encoder reads at most {len(SIDE_SUFFIXES)} sentence columns, got {len(columns)}.")
        inputs = {}
        for suffix, sentences in zip(SIDE_SUFFIXES[: len(columns)], columns, strict=True):
            encoded = tokenizer(apply_prompt(sentences, prompt, text_cleaning), **kwargs)
            inputs.update({f"{key}{suffix}": value for key, value in encoded.items()})
        return inputs

    @staticmethod
    def pair_inputs(
        tokenizer,
        sentences1: list[str],
        sentences2: list[str],
        prompt: str | None = None,
        text_cleaning: list[str] | None = None,
        **kwargs,
    ) -> dict:
        """The model inputs of sentence pairs: each sentence alone (cleaned, after `prompt`), the second ones under
        keys ending in `_b` (see [`sentence_inputs`]).

        Args:
            tokenizer: the model's tokenizer.
            sentences1, sentences2: the first and second sentences, one per pair.
            prompt: text put before every sentence (`config.prompt`), or `None`.
            text_cleaning: cleaning steps applied to every sentence first (`config.text_cleaning`), or `None`.
            **kwargs: passed to the tokenizer (`padding`, `truncation`, `max_length`, `return_tensors`).
        """
        return StsBiEncoderModel.sentence_inputs(tokenizer, [sentences1, sentences2], prompt, text_cleaning, **kwargs)

    def __init__(self, config: StsBiEncoderConfig, backbone: PreTrainedModel | None = None):
        super().__init__(config, backbone)
        self.post_init()

    def encode(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
    ) -> torch.Tensor:
        """Sentence embeddings: the pooled token states of single sentences.

        Args:
            input_ids (`torch.LongTensor` of shape `(batch, seq_len)`): token ids of single sentences.
            attention_mask (`torch.Tensor` of shape `(batch, seq_len)`, *optional*): 1 for real tokens, 0 for padding.
            token_type_ids (`torch.LongTensor` of shape `(batch, seq_len)`, *optional*).

        Returns:
            `torch.Tensor` of shape `(batch, hidden_size)`, not normalised.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        outputs = self._token_states(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return pool(outputs.last_hidden_state, attention_mask, self.config.pooling)

    def forward(
        self,
        input_ids: torch.LongTensor,
        input_ids_b: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        attention_mask_b: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        token_type_ids_b: torch.LongTensor | None = None,
        labels: torch.Tensor | None = None,
        input_ids_c: torch.LongTensor | None = None,
        attention_mask_c: torch.Tensor | None = None,
        token_type_ids_c: torch.LongTensor | None = None,
    ) -> "BiEncoderOutput":
        r"""
        Args:
            input_ids, attention_mask, token_type_ids (`torch.Tensor` of shape `(batch, seq_len_a)`): the first
                sentences (a triplet's anchors).
            input_ids_b, attention_mask_b, token_type_ids_b (`torch.Tensor` of shape `(batch, seq_len_b)`): the
                second sentences (a triplet's positives).
            input_ids_c, attention_mask_c, token_type_ids_c (`torch.Tensor`, *optional*): of shape
                `(batch, seq_len_c)`, a third sentence per row, embedded too (a triplet's hard negatives, for
                in-batch-negatives losses; see `hf_sts.training.losses.MultipleNegativesRankingLoss`).
            labels (`torch.Tensor` of shape `(batch,)`, *optional*): gold scores on the 0.0–5.0 scale; when given,
                `loss` is sentence-transformers' `CosineSimilarityLoss` (Reimers & Gurevych 2019): the mean squared
                error of `cos(u, v)` against `label / score_scale`. `hf_sts.training.trainer.StsTrainer` passes no
                labels and computes the recipe's loss itself.

        Returns:
            [`BiEncoderOutput`]: `logits` of shape `(batch,)`, `score_scale * cos(u, v)` of the first and second
            sentences (in [-5, 5] with the default scale), `loss` (a scalar) with `labels`, and
            `sentence_embeddings`, the `(batch, hidden_size)` embedding of each side given (two, or three).
        """
        embeddings = [
            self.encode(input_ids, attention_mask, token_type_ids),
            self.encode(input_ids_b, attention_mask_b, token_type_ids_b),
        ]
        if input_ids_c is not None:
            embeddings.append(self.encode(input_ids_c, attention_mask_c, token_type_ids_c))
        cosine = pair_cosine(embeddings[0], embeddings[1])
        scale = self.config.score_scale
        loss = None if labels is None else regression_loss(cosine, labels / scale)
        return BiEncoderOutput(loss=loss, logits=scale * cosine, sentence_embeddings=tuple(embeddings))


# The model class of each recipe `architecture`.
MODEL_CLASSES: dict[str, type[StsPreTrainedModel]] = {
    "cross-encoder": StsCrossEncoderModel,
    "bi-encoder": StsBiEncoderModel,
}


__all__ = [
    "HEADS",
    "MODEL_CLASSES",
    "register_head",
    "pool",
    "apply_prompt",
    "pair_cosine",
    "ClsHead",
    "MeanHead",
    "MlpHead",
    "RnnHead",
    "StsPreTrainedModel",
    "StsCrossEncoderModel",
    "StsBiEncoderModel",
    "BiEncoderOutput",
    "SIDE_SUFFIXES",
    "SENTENCE_INPUTS",
    "sentence_sides",
]
