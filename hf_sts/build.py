"""Building a run's tokenizer and model from its arguments.

A pretrained encoder (Hub id or local path) gets a fresh regression head; an hf_sts checkpoint is loaded whole; with
neither, the run builds everything from scratch, since no pretrained weights may be reachable: a WordPiece tokenizer
trained on the training sentences with the `tokenizers` library, and a backbone config from `model_type` and
`config_overrides` (the convention of transformers' `run_mlm.py`).
"""

import difflib
import json
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
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
from transformers.trainer_utils import sort_checkpoints

from .arguments import DataArguments, EncoderArguments, HfStsTrainingArguments, ModelArguments, RecipeError
from .configuration_sts import INPUT_KEYS, StsBackboneConfig
from .errors import check_local_weights, checked_from_pretrained, checked_tokenizer, local_weights_problem
from .modeling_sts import MODEL_CLASSES, StsPreTrainedModel


if TYPE_CHECKING:
    from peft import PeftModel


logger = logging.getLogger(__name__)


# SentencePiece's word-boundary mark, used while learning the WordPiece vocabulary.
_WORD_START = "\u2581"

SPECIAL_TOKENS = {
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "mask_token": "[MASK]",
}


def _learn_wordpiece_vocabulary(sentences: Iterable[str], vocab_size: int) -> list[str]:
    """The WordPiece pieces (special tokens excluded) of `train_wordpiece_tokenizer`, at most `vocab_size` less the
    special tokens: every character in both forms, then the pieces in the order BPE merged them."""
    specials = list(SPECIAL_TOKENS.values())
    learner = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk_token"]))
    learner.normalizer = normalizers.NFC()
    learner.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.BertPreTokenizer(), pre_tokenizers.Metaspace(prepend_scheme="always", split=False)]
    )
    learner.train_from_iterator(
        sentences, trainer=trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False)
    )
    learned_at: dict[str, int] = {}  # WordPiece piece -> the earliest BPE id it comes from (ids follow merge order)
    for piece, index in learner.get_vocab().items():
        if piece in specials or piece == _WORD_START:
            continue
        if piece.startswith(_WORD_START):
            names = [piece[1:]]
        else:
            names = ["##" + piece] + ([piece] if len(piece) == 1 else [])
        for name in names:
            learned_at[name] = min(index, learned_at.get(name, index))
    characters = sorted(name for name in learned_at if len(name.removeprefix("##")) == 1)
    merged = sorted(set(learned_at) - set(characters), key=lambda name: (learned_at[name], name))
    # The characters' second forms take the place of the last merges, so the vocabulary stays at `vocab_size`
    # (the first merges of a longer BPE run are the merges of a shorter one).
    return characters + merged[: max(vocab_size - len(specials) - len(characters), 0)]


def train_wordpiece_tokenizer(sentences: Iterable[str], vocab_size: int = 8000) -> PreTrainedTokenizerFast:
    """Train a BERT-style WordPiece tokenizer on `sentences`, the same one in every process.

    The same sentences always give the same vocabulary with the same ids (special tokens first, then sorted), in any
    process. `tokenizers`' own WordPiece trainer does not: it is a BPE trainer with the `##` continuation prefix and
    breaks ties between merges in hash-map order, which differs per process, so small corpora get a different
    vocabulary from run to run (huggingface/tokenizers#1794). Its plain BPE trainer is deterministic, so the pieces
    are learned by BPE with every word marked by a leading `▁` (SentencePiece's word-boundary mark) and then renamed
    to WordPiece's convention: `▁piece` (a word start) becomes `piece`, any other piece becomes `##piece`; every
    character is kept in both forms, so no word that was seen in training encodes to `[UNK]`.
    Encoding is WordPiece's greedy longest match. Normalisation is Unicode NFC only (no lower-casing, no accent
    stripping, which would decompose Hangul syllables); pre-tokenisation splits on whitespace and punctuation; pairs
    are encoded `[CLS] A [SEP] B [SEP]` with token type ids 0 and 1.

    Args:
        sentences: the training text, one sentence per item.
        vocab_size: the vocabulary size, special tokens included (larger only when the corpus has more distinct
            characters than that).

    Returns:
        A `transformers` fast tokenizer with the special tokens of `SPECIAL_TOKENS`.
    """
    specials = list(SPECIAL_TOKENS.values())
    ordered = specials + sorted(_learn_wordpiece_vocabulary(sentences, vocab_size))
    tokenizer = Tokenizer(
        models.WordPiece({token: i for i, token in enumerate(ordered)}, unk_token=SPECIAL_TOKENS["unk_token"])
    )
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
        **SPECIAL_TOKENS,
    )


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
        from .lora import check_target_modules, default_target_modules

        if model_args.lora_target_modules:
            check_target_modules(config, model_args.lora_target_modules)
        else:
            default_target_modules(config.model_type)
    return tokenizer


def check_output_dir(training_args: HfStsTrainingArguments, inputs: Iterable[str | None]) -> bool:
    """Check `output_dir` before the run writes anything, so no file of an earlier run survives unnoticed beside the
    new one (an old `submission.csv`, a `checkpoint-*` that rotation would delete): a missing or empty folder is
    used; a non-empty one only to resume (`resume_from_checkpoint`) or, with `overwrite_output_dir`, to replace an
    earlier hf_sts run (one with `recipe.json`), whose files [`clear_output_dir`] then deletes.

    Args:
        inputs: the paths the run reads (model, tokenizer, data files; `None` for unset ones), which
            `overwrite_output_dir` must not delete.

    Returns:
        Whether the folder holds an earlier run to clear.

    Raises:
        RecipeError: for a non-empty `output_dir` without either key, one that is not an hf_sts run, or one that
            holds the run's own inputs (model, tokenizer or data files).
    """
    output_dir = Path(training_args.output_dir).resolve()
    entries = sorted(entry.name for entry in output_dir.iterdir()) if output_dir.is_dir() else []
    if not entries or training_args.resume_from_checkpoint:
        return False
    listed = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
    if not training_args.overwrite_output_dir:
        raise RecipeError(
            f"`output_dir` {training_args.output_dir} is not empty ({listed}): set `overwrite_output_dir` true to "
            "replace that run, `resume_from_checkpoint` true to continue it, or choose another output_dir."
        )
    if not (output_dir / "recipe.json").is_file():
        raise RecipeError(
            f"`output_dir` {training_args.output_dir} holds files that are not an hf_sts run ({listed}), which "
            "`overwrite_output_dir` does not delete: choose an empty or new folder."
        )
    for path in filter(None, inputs):
        if Path(path).exists() and Path(path).resolve().is_relative_to(output_dir):
            raise RecipeError(
                f"`overwrite_output_dir` would delete {path}, an input of this run inside `output_dir` "
                f"{training_args.output_dir}: choose another output_dir."
            )
    return True


def clear_output_dir(output_dir: str) -> None:
    """Delete everything in `output_dir` (an earlier run that [`check_output_dir`] allowed to replace), with one
    warning naming what went."""
    entries = sorted(Path(output_dir).iterdir())
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    logger.warning(
        "overwrite_output_dir: deleted the earlier run in %s (%d entries: %s).",
        output_dir,
        len(entries),
        ", ".join(entry.name for entry in entries[:5]) + (", ..." if len(entries) > 5 else ""),
    )


def start_output_dir(training_args: HfStsTrainingArguments, recipe: dict, replace_earlier_run: bool) -> None:
    """Open the run's `output_dir` once every process has checked it ([`check_output_dir`]): the main process clears
    the earlier run it replaces ([`clear_output_dir`]) and writes the effective `recipe.json`."""
    from accelerate import PartialState

    PartialState().wait_for_everyone()  # every process has checked output_dir before the main one writes to it
    if replace_earlier_run and training_args.should_save:
        clear_output_dir(training_args.output_dir)
    os.makedirs(training_args.output_dir, exist_ok=True)
    if training_args.should_save:
        with open(os.path.join(training_args.output_dir, "recipe.json"), "w", encoding="utf-8") as file:
            json.dump(recipe, file, indent=2, ensure_ascii=False)


def resolve_checkpoint(training_args: HfStsTrainingArguments) -> str | None:
    """The checkpoint `resume_from_checkpoint` names, checked before the run writes anything: a folder holding a
    whole Trainer checkpoint, or `true` for the last whole `checkpoint-*` in `output_dir` (the Trainer's convention);
    `None` when unset. A checkpoint is whole when its `trainer_state.json` (the Trainer writes it last) parses and its
    weights read (see [`checkpoint_problem`]); with `true`, later checkpoints that are not (a run killed while
    saving) are skipped with one warning naming them and the one used.

    Raises:
        RecipeError: for a folder that is missing or not a whole checkpoint, or `true` without one in `output_dir`.
    """
    resume = training_args.resume_from_checkpoint
    if resume is None or resume.lower() == "false":
        return None
    if resume.lower() != "true":
        problem = checkpoint_problem(Path(resume))
        if problem is not None:
            raise RecipeError(
                f"`resume_from_checkpoint` {resume}: {problem}; give a whole checkpoint-* folder, or true."
            )
        return resume
    broken = []
    for candidate in reversed(sort_checkpoints(training_args.output_dir)):  # the Trainer's order, newest first
        problem = checkpoint_problem(Path(candidate))
        if problem is None:
            if broken:
                logger.warning(
                    "Skipping %s: resuming from %s, the last whole checkpoint in output_dir.",
                    "; ".join(broken),
                    candidate,
                )
            logger.info("Resuming from %s, the last checkpoint in output_dir.", candidate)
            return candidate
        broken.append(f"{Path(candidate).name} ({problem})")
    found = f" (incomplete: {'; '.join(broken)})" if broken else ""
    raise RecipeError(
        f"`resume_from_checkpoint` true: {training_args.output_dir} holds no whole checkpoint-* folder to resume"
        f"{found}."
    )


def checkpoint_problem(folder: Path) -> str | None:
    """Why `folder` is not a whole Trainer checkpoint, or `None` if it is: it must exist, hold a `trainer_state.json`
    that parses (the Trainer writes it after the weights, optimizer and RNG states) and weights whose files read
    (`hf_sts.errors.local_weights_problem`)."""
    if not folder.is_dir():
        return "no such folder"
    state = folder / "trainer_state.json"
    if not state.is_file():
        return "not a Trainer checkpoint (no trainer_state.json)"
    try:
        json.loads(state.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return "trainer_state.json is cut short (a run stopped while saving)"
    if (folder / "adapter_config.json").is_file():  # a LoRA checkpoint: peft's adapter files, not a model folder
        return None
    return local_weights_problem(folder)


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
    training_args: HfStsTrainingArguments,
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
    `peft.PeftModel`, see `hf_sts.lora.apply_lora`). Logs the trainable and total parameter counts.

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
        from .lora import apply_lora

        model = apply_lora(model, model_args)
    trainable, total = parameter_counts(model)
    logger.info("Parameters: %s trainable of %s (%.2f%%).", f"{trainable:,}", f"{total:,}", 100 * trainable / total)
    return model


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    """`(trainable, total)` parameter counts of `model`."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def _with_new_layers(model_class: type, backbone: nn.Module, model_args: ModelArguments) -> StsPreTrainedModel:
    """`model_class.from_backbone` with the recipe's head settings; a setting the config rejects (an unknown
    activation, a width below 1, a dropout outside [0, 1)) becomes a `RecipeError`."""
    try:
        return model_class.from_backbone(backbone, **model_args.head_config())
    except ValueError as error:
        raise RecipeError(str(error)) from None


def _continue_checkpoint(model_class: type, config: StsBackboneConfig, model_args: ModelArguments):
    """Load the hf_sts checkpoint `model_args.model_name_or_path` to train it further. Its head settings (or
    pooling), prompt and cleaning steps stay unless the recipe sets other ones: a different head or pooling puts new
    layers on the checkpoint's backbone, a different prompt or cleaning replaces the checkpoint's, each with one
    notice.

    Raises:
        RecipeError: if the checkpoint is of another architecture than the recipe's.
    """
    name = model_args.model_name_or_path
    if not isinstance(config, model_class.config_class):
        raise RecipeError(
            f"{name} is an hf_sts {config.model_type} checkpoint, but the recipe asks for architecture "
            f"{model_args.architecture!r}; set `architecture` to match the checkpoint."
        )
    model = model_class.from_pretrained(name, **model_args.hub_kwargs())
    settings = model_args.head_config()
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
        freeze_ratio (`float`): in [0, 1); 0 freezes nothing. The seeds measured 1/3 better than 0 and 2/3 worse.

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
