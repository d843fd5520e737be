"""Building a run's tokenizer and model from its arguments.

A pretrained encoder (Hub id or local path) gets a fresh regression head; an hf_sts checkpoint is loaded whole; with
neither, the run builds everything from scratch, since no pretrained weights may be reachable: a WordPiece tokenizer
trained on the training sentences (`hf_sts.data.wordpiece`), and a backbone config from `model_type` and
`config_overrides` (the convention of transformers' `run_mlm.py`). Freezing (`freeze_ratio`, `freeze_embeddings`) and
LoRA (`hf_sts.models.lora`) are applied here.
"""

import difflib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from torch import nn
from transformers import (
    CONFIG_MAPPING,
    AutoConfig,
    AutoModel,
    AutoTokenizer,
    PreTrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

from hf_sts.data.tokenization import max_positions
from hf_sts.data.wordpiece import train_wordpiece_tokenizer
from hf_sts.errors import (
    RecipeError,
    check_local_weights,
    checked_from_pretrained,
    checked_tokenizer,
)
from hf_sts.models.sts.configuration_sts import INPUT_KEYS, StsBackboneConfig
from hf_sts.models.sts.modeling_sts import MODEL_CLASSES, StsPreTrainedModel
from hf_sts.training.arguments import BaseTrainingArguments, DataArguments, EncoderArguments, ModelArguments


if TYPE_CHECKING:
    from peft import PeftModel


logger = logging.getLogger(__name__)


def scratch_config(model_type: str, config_overrides: str | None, max_seq_length: int) -> PreTrainedConfig:
    """The from-scratch config of `model_type` with `config_overrides` applied (`max_position_embeddings` at least
    `max_seq_length` + 2 unless the overrides set it).

    Raises:
        RecipeError: for a `model_type` transformers does not know, an override naming a field the config lacks, or
            a `hidden_size` that is not a multiple of `num_attention_heads`.
    """
    if model_type not in CONFIG_MAPPING:
        close = difflib.get_close_matches(model_type, list(CONFIG_MAPPING.keys()), n=3)
        raise RecipeError(f"Unknown `model_type` {model_type!r}; closest types transformers knows: {close}.")
    config = CONFIG_MAPPING[model_type]()
    config.max_position_embeddings = max(config.max_position_embeddings, max_seq_length + 2)
    if config_overrides:
        try:
            config.update_from_string(config_overrides)
        except ValueError as error:
            raise RecipeError(f"`config_overrides` {config_overrides!r}: {error}.") from None
    heads = getattr(config, "num_attention_heads", None)
    if heads and config.hidden_size % heads:
        raise RecipeError(
            f"`config_overrides`: hidden_size {config.hidden_size} is not a multiple of num_attention_heads {heads}."
        )
    return config


def pretrained_config(model_args: ModelArguments) -> PreTrainedConfig:
    """The config of `model_args.model_name_or_path` (a local folder, the cache or the Hub, with the run's cache,
    revision and token): an encoder's own config, or an hf_sts checkpoint's.

    Raises:
        RecipeError: naming the model, for one that is missing, not cached while offline, or of no known type.
    """
    return checked_from_pretrained(
        AutoConfig,
        model_args.model_name_or_path,
        RecipeError,
        trust_remote_code=model_args.trust_remote_code,
        **model_args.hub_kwargs(),
    )


def check_encoder(model_args: ModelArguments, data_args: DataArguments) -> PreTrainedTokenizerBase | None:
    """What a run checks before it writes anything: the head settings are valid, the from-scratch config can be
    built, or the pretrained encoder's config can be loaded (local folder, cache or Hub) and a local folder's weights
    are whole, the tokenizer (`tokenizer_name`, else the encoder's) loads, its position embeddings hold
    `max_seq_length` tokens (`max_position_embeddings`, less RoBERTa's offset of 2), and a LoRA run has target
    modules (given, or peft's default for the backbone type).

    Returns:
        The pretrained tokenizer it loaded, for the run to use (pass it to [`load_tokenizer`]); `None` for a
        from-scratch run, whose tokenizer is trained later.

    Raises:
        RecipeError: one line naming the key and the problem.
    """
    try:  # the head settings, as the model config will check them
        MODEL_CLASSES[model_args.architecture].config_class(**model_args.head_config())
    except ValueError as error:
        raise RecipeError(str(error)) from None
    if model_args.model_name_or_path is None:
        config = scratch_config(model_args.model_type, model_args.config_overrides, data_args.max_seq_length)
    else:
        config = pretrained_config(model_args)
        config = config.backbone_config if isinstance(config, StsBackboneConfig) else config
        check_local_weights(model_args.model_name_or_path, RecipeError)
    limit = max_positions(config)
    if limit is not None and data_args.max_seq_length > limit:
        reserved = " (2 reserved by its padding offset)" if limit < config.max_position_embeddings else ""
        raise RecipeError(
            f"`max_seq_length` {data_args.max_seq_length} is beyond the {config.max_position_embeddings} position "
            f"embeddings of the {config.model_type} backbone{reserved}: use at most {limit}."
        )
    tokenizer = (
        pretrained_tokenizer(model_args) if model_args.tokenizer_name or model_args.model_name_or_path else None
    )
    if model_args.use_lora:
        from hf_sts.models.lora import check_target_modules, default_target_modules  # peft, imported by LoRA runs only

        if model_args.lora_target_modules:
            check_target_modules(config, model_args.lora_target_modules)
        else:
            default_target_modules(config.model_type)
    return tokenizer


def scratch_backbone_config(
    model_type: str, config_overrides: str | None, tokenizer: PreTrainedTokenizerFast, max_seq_length: int
) -> PreTrainedConfig:
    """Build a backbone config of `model_type` with `config_overrides` applied, sized for `tokenizer`.

    `vocab_size` and `pad_token_id` come from the tokenizer, and `max_position_embeddings` is at least
    `max_seq_length` (plus 2 for RoBERTa's position offset), unless the overrides set them.

    Raises:
        RecipeError: see `scratch_config`.
    """
    config = scratch_config(model_type, None, max_seq_length)
    config.vocab_size = len(tokenizer)
    config.pad_token_id = tokenizer.pad_token_id
    if config_overrides:
        config.update_from_string(config_overrides)
    return config


def pretrained_tokenizer(model_args: EncoderArguments) -> PreTrainedTokenizerBase:
    """The tokenizer of `tokenizer_name`, else of `model_name_or_path` (local folder, cache or Hub).

    Raises:
        RecipeError: naming the tokenizer, when it cannot be loaded or has no padding token (batches need one).
    """
    return checked_tokenizer(
        model_args.tokenizer_name or model_args.model_name_or_path,
        RecipeError,
        trust_remote_code=model_args.trust_remote_code,
        **model_args.hub_kwargs(),
    )


def load_tokenizer(
    model_args: ModelArguments,
    training_args: BaseTrainingArguments,
    train_sentences: Iterable[str] | None,
    pretrained: PreTrainedTokenizerBase | None = None,
) -> PreTrainedTokenizerBase:
    """The run's tokenizer: `tokenizer_name`, else that of `model_name_or_path`, else, for a from-scratch run, the
    one saved with the checkpoint it resumes from, or a WordPiece tokenizer trained on `train_sentences` (by the
    main process, saved to `output_dir` and read back by the others, so every process of a distributed run uses the
    same vocabulary). `pretrained`: that tokenizer, where the run's checks already loaded it ([`check_encoder`]).

    Raises:
        RecipeError: for a from-scratch run without training data.
    """
    if pretrained is not None:
        return pretrained
    if model_args.tokenizer_name or model_args.model_name_or_path:
        return pretrained_tokenizer(model_args)
    if training_args.resume_from_checkpoint:
        # The checkpoint's weights were trained against its own vocabulary: never a newly trained one.
        logger.info("Using the tokenizer saved with %s.", training_args.resume_from_checkpoint)
        return AutoTokenizer.from_pretrained(training_args.resume_from_checkpoint)
    if train_sentences is None:
        raise RecipeError(
            "A from-scratch run trains its tokenizer on `train_file`: give training data or `tokenizer_name`."
        )
    with training_args.main_process_first(desc="training the WordPiece tokenizer"):
        if training_args.process_index == 0:
            tokenizer = train_wordpiece_tokenizer(train_sentences, model_args.tokenizer_vocab_size)
            tokenizer.save_pretrained(training_args.output_dir)
            logger.info("Trained a WordPiece tokenizer of %d tokens on the training sentences.", len(tokenizer))
        else:
            tokenizer = AutoTokenizer.from_pretrained(training_args.output_dir)
    return tokenizer


def build_model(
    model_args: ModelArguments, data_args: DataArguments, tokenizer: PreTrainedTokenizerBase
) -> "StsPreTrainedModel | PeftModel":
    """The run's model (`model_args.architecture`: a cross-encoder or a bi-encoder): an hf_sts checkpoint loaded
    whole, a pretrained encoder with new layers on top, or a from-scratch backbone of `model_type`; then the
    `freeze_ratio` of it frozen (see `freeze_bottom_layers`), or LoRA adapters added with `use_lora` (a
    `peft.PeftModel`, see `hf_sts.models.lora.apply_lora`). Logs the trainable and total parameter counts.

    Raises:
        RecipeError: if an hf_sts checkpoint is of another architecture than the recipe's, or if
            `freeze_ratio` is set for a backbone whose layers cannot be found.
    """
    model_class = MODEL_CLASSES[model_args.architecture]
    hub_kwargs = model_args.hub_kwargs()
    if model_args.model_name_or_path is None:
        config = scratch_backbone_config(
            model_args.model_type, model_args.config_overrides, tokenizer, data_args.max_seq_length
        )
        model = _with_new_layers(model_class, AutoModel.from_config(config), model_args)
    else:
        config = pretrained_config(model_args)
        if isinstance(config, StsBackboneConfig):
            model = _continue_checkpoint(model_class, config, model_args)
        else:
            backbone = AutoModel.from_pretrained(
                model_args.model_name_or_path, trust_remote_code=model_args.trust_remote_code, **hub_kwargs
            )
            model = _with_new_layers(model_class, backbone, model_args)
    freeze_bottom_layers(model, model_args.freeze_ratio)
    if model_args.freeze_embeddings:
        freeze_word_embeddings(model)
    if model_args.use_lora:
        from hf_sts.models.lora import apply_lora  # peft, imported by LoRA runs only

        model = apply_lora(model, model_args)
    if model_args.use_lora:
        trainable, total = model.get_nb_trainable_parameters()  # peft's count
    else:
        trainable, total = model.num_parameters(only_trainable=True), model.num_parameters()
    logger.info("Parameters: %s trainable of %s (%.2f%%).", f"{trainable:,}", f"{total:,}", 100 * trainable / total)
    return model


def _with_new_layers(model_class: type, backbone: nn.Module, model_args: ModelArguments) -> StsPreTrainedModel:
    """`model_class.from_backbone` with the recipe's head settings; a setting the config rejects (an unknown
    activation, a width below 1, a dropout outside [0, 1)) becomes a `RecipeError`."""
    try:
        return model_class.from_backbone(backbone, **model_args.head_config())
    except ValueError as error:
        raise RecipeError(str(error)) from None


def _continue_checkpoint(model_class: type, config: StsBackboneConfig, model_args: ModelArguments):
    """Load the hf_sts checkpoint `model_args.model_name_or_path` (an earlier run: the next stage of a staged
    recipe, such as NLI then STS) to train it further. Its head settings (or pooling), prompt and cleaning steps stay
    unless the recipe sets other ones: a different head or pooling puts new layers on the checkpoint's backbone, a
    different prompt or cleaning replaces the checkpoint's, each with one notice. A checkpoint of the other
    architecture (a bi-encoder trained on NLI, continued as a cross-encoder) gives its backbone, prompt and cleaning
    to a new model of the recipe's architecture, with one notice.
    """
    name = model_args.model_name_or_path
    settings = model_args.head_config()
    if not isinstance(config, model_class.config_class):
        other = next(cls for cls in MODEL_CLASSES.values() if isinstance(config, cls.config_class))
        logger.warning(
            "%s is an hf_sts %s; the recipe's architecture is %r: its backbone continues under newly initialised "
            "%s layers.",
            name,
            config.model_type,
            model_args.architecture,
            model_args.architecture,
        )
        backbone = other.from_pretrained(name, **model_args.hub_kwargs()).backbone
        inputs = {key: getattr(config, key) for key in INPUT_KEYS if getattr(config, key) is not None}
        try:
            return model_class.from_backbone(backbone, **{**inputs, **settings})
        except ValueError as error:
            raise RecipeError(str(error)) from None
    model = model_class.from_pretrained(name, **model_args.hub_kwargs())
    changed = {
        key: value for key, value in settings.items() if key not in INPUT_KEYS and getattr(config, key) != value
    }
    if changed:
        logger.warning(
            "%s has %s; the recipe sets %s: its backbone continues under newly initialised layers.",
            name,
            ", ".join(f"{key}={getattr(config, key)!r}" for key in changed),
            ", ".join(f"{key}={value!r}" for key, value in changed.items()),
        )
        model = _with_new_layers(model_class, model.backbone, model_args)
    for key in INPUT_KEYS:
        if key in settings and settings[key] != getattr(config, key):
            logger.warning(
                "The recipe's %s %r replaces the %s %r of %s.", key, settings[key], key, getattr(config, key), name
            )
        setattr(model.config, key, settings.get(key, getattr(config, key)))
    return model


def _encoder_layers(backbone: nn.Module) -> nn.ModuleList | None:
    """The backbone's list of transformer layers: `encoder.layer` (BERT, RoBERTa, ELECTRA, ...), else the first
    `nn.ModuleList` with `num_hidden_layers` entries."""
    layers = getattr(getattr(backbone, "encoder", None), "layer", None)
    if isinstance(layers, nn.ModuleList):
        return layers
    count = getattr(backbone.config, "num_hidden_layers", None)
    for module in backbone.modules():
        if isinstance(module, nn.ModuleList) and len(module) == count:
            return module
    return None


def freeze_word_embeddings(model: StsPreTrainedModel | PreTrainedModel) -> int:
    """Freeze the word embedding matrix (`get_input_embeddings()`, shape `(vocab_size, hidden)`; an hf_sts model's is
    its backbone's, an MLM model's also its tied output projection) alone: no gradient and no optimizer state for it,
    while position and token-type embeddings, every layer and the head
    keep training. On a large-vocabulary encoder it is most of the parameters, few of whose rows a Korean corpus
    uses.

    Returns:
        The number of parameters frozen.
    """
    embeddings = model.get_input_embeddings()  # an hf_sts model's is its backbone's
    embeddings.requires_grad_(False)
    frozen = sum(parameter.numel() for parameter in embeddings.parameters())
    logger.info("Froze the word embeddings (%s parameters).", f"{frozen:,}")
    return frozen


def freeze_bottom_layers(model: StsPreTrainedModel, freeze_ratio: float) -> int:
    """Freeze the backbone's embeddings (with ELECTRA's embedding projection) and its bottom
    `round(freeze_ratio * num_hidden_layers)` transformer layers; the upper layers and the head stay trainable.

    Args:
        model: an hf_sts model.
        freeze_ratio (`float`): in [0, 1); 0 freezes nothing (see the technique table in the docs for measurements).

    Returns:
        The number of frozen transformer layers.

    Raises:
        RecipeError: if `freeze_ratio` is outside [0, 1), or is set for a backbone without `embeddings` or a layer
            list.
    """
    if not 0.0 <= freeze_ratio < 1.0:
        raise RecipeError(f"`freeze_ratio` must be in [0, 1), got {freeze_ratio}.")
    if freeze_ratio == 0.0:
        return 0
    backbone = model.backbone
    layers = _encoder_layers(backbone)
    embeddings = getattr(backbone, "embeddings", None)
    if layers is None or embeddings is None:
        raise RecipeError(
            f"`freeze_ratio` needs a backbone with `embeddings` and a list of layers; the "
            f"{backbone.config.model_type!r} backbone ({type(backbone).__name__}) has not."
        )
    frozen = round(freeze_ratio * len(layers))
    for module in [embeddings, getattr(backbone, "embeddings_project", None), *layers[:frozen]]:
        if module is not None:
            module.requires_grad_(False)
    logger.info(
        "Froze the embeddings and the bottom %d of %d layers (freeze_ratio=%s).", frozen, len(layers), freeze_ratio
    )
    return frozen
