"""Building a run's tokenizer and model from its arguments.

A pretrained encoder (Hub id or local path) gets a fresh regression head; an hf_sts checkpoint is loaded whole; with
neither, the run builds everything from scratch, since no pretrained weights may be reachable: a WordPiece tokenizer
trained on the training sentences with the `tokenizers` library, and a backbone config from `model_type` and
`config_overrides` (the convention of transformers' `run_mlm.py`).
"""

import logging
from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    CONFIG_MAPPING,
    AutoConfig,
    AutoModel,
    AutoTokenizer,
    PreTrainedConfig,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

from .arguments import DataArguments, ModelArguments, RecipeError, StsTrainingArguments
from .configuration_sts import StsCrossEncoderConfig
from .modeling_sts import StsCrossEncoderModel


logger = logging.getLogger(__name__)


SPECIAL_TOKENS = {
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "mask_token": "[MASK]",
}


def train_wordpiece_tokenizer(sentences: Iterable[str], vocab_size: int = 8000) -> PreTrainedTokenizerFast:
    """Train a BERT-style WordPiece tokenizer on `sentences`.

    The same sentences always give the same vocabulary with the same ids (special tokens first, then sorted).
    Normalisation is Unicode NFC only (no lower-casing, no accent stripping, which would decompose Hangul syllables);
    pre-tokenisation splits on whitespace and punctuation; pairs are encoded `[CLS] A [SEP] B [SEP]` with token type
    ids 0 and 1.

    Args:
        sentences: the training text, one sentence per item.
        vocab_size: the vocabulary size to learn, special tokens included.

    Returns:
        A `transformers` fast tokenizer with the special tokens of `SPECIAL_TOKENS`.
    """
    tokenizer = Tokenizer(models.WordPiece(unk_token=SPECIAL_TOKENS["unk_token"]))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS.values()), show_progress=False
    )
    tokenizer.train_from_iterator(sentences, trainer=trainer)
    # The trainer learns the same tokens on every run but numbers them in a run-dependent order, which would make
    # the same recipe and seed train a different model each time: renumber them, special tokens first.
    learned = tokenizer.get_vocab()
    specials = list(SPECIAL_TOKENS.values())
    ordered = specials + sorted(token for token in learned if token not in specials)
    tokenizer.model = models.WordPiece(
        {token: i for i, token in enumerate(ordered)}, unk_token=SPECIAL_TOKENS["unk_token"]
    )
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


def scratch_backbone_config(
    model_type: str, config_overrides: str | None, tokenizer: PreTrainedTokenizerFast, max_seq_length: int
) -> PreTrainedConfig:
    """Build a backbone config of `model_type` with `config_overrides` applied, sized for `tokenizer`.

    `vocab_size` and `pad_token_id` come from the tokenizer, and `max_position_embeddings` is at least
    `max_seq_length` (plus 2 for RoBERTa's position offset), unless the overrides set them.

    Raises:
        ValueError: if `model_type` is unknown to transformers or an override names a field the config lacks.
    """
    if model_type not in CONFIG_MAPPING:
        raise ValueError(f"Unknown `model_type` {model_type!r}; transformers knows {sorted(CONFIG_MAPPING.keys())}.")
    config = CONFIG_MAPPING[model_type]()
    config.vocab_size = len(tokenizer)
    config.pad_token_id = tokenizer.pad_token_id
    config.max_position_embeddings = max(config.max_position_embeddings, max_seq_length + 2)
    if config_overrides:
        config.update_from_string(config_overrides)
    return config


def load_tokenizer(
    model_args: ModelArguments, training_args: StsTrainingArguments, train_sentences: Iterable[str] | None
) -> PreTrainedTokenizerBase:
    """The run's tokenizer: `tokenizer_name`, else that of `model_name_or_path`, else a WordPiece tokenizer trained
    on `train_sentences` (by the main process, saved to `output_dir` and read back by the others, so every process
    of a distributed run uses the same vocabulary).

    Raises:
        RecipeError: for a from-scratch run without training data.
    """
    hub_kwargs = model_args.hub_kwargs()
    name = model_args.tokenizer_name or model_args.model_name_or_path
    if name is not None:
        return AutoTokenizer.from_pretrained(name, trust_remote_code=model_args.trust_remote_code, **hub_kwargs)
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
) -> StsCrossEncoderModel:
    """The run's model: an hf_sts checkpoint loaded whole, a pretrained encoder with a new head, or a from-scratch
    backbone of `model_type` with a new head.

    Raises:
        RecipeError: if an hf_sts checkpoint's head differs from the recipe's `head`.
    """
    hub_kwargs = model_args.hub_kwargs()
    if model_args.model_name_or_path is None:
        config = scratch_backbone_config(
            model_args.model_type, model_args.config_overrides, tokenizer, data_args.max_seq_length
        )
        backbone = AutoModel.from_config(config)
        return StsCrossEncoderModel.from_backbone(backbone, **model_args.head_config())
    config = AutoConfig.from_pretrained(
        model_args.model_name_or_path, trust_remote_code=model_args.trust_remote_code, **hub_kwargs
    )
    if isinstance(config, StsCrossEncoderConfig):
        if config.head != model_args.head:
            raise RecipeError(
                f"{model_args.model_name_or_path} is an hf_sts checkpoint with head {config.head!r}, but the recipe "
                f"asks for head {model_args.head!r}; set `head` to {config.head!r} to continue training it."
            )
        return StsCrossEncoderModel.from_pretrained(model_args.model_name_or_path, **hub_kwargs)
    backbone = AutoModel.from_pretrained(
        model_args.model_name_or_path, trust_remote_code=model_args.trust_remote_code, **hub_kwargs
    )
    return StsCrossEncoderModel.from_backbone(backbone, **model_args.head_config())
