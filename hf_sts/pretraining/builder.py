"""The model of a pretraining run: a pretrained encoder with its masked-language-model head (one is added where the
checkpoint has none, such as multilingual-e5-small), or a from-scratch one (`model_type`, `config_overrides`), and
the checks of its tokenizer (a mask token) and class (an `AutoModelForMaskedLM` type).
"""

import logging

from transformers import AutoModelForMaskedLM, PreTrainedTokenizerBase
from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

from hf_sts.errors import RecipeError, check_local_weights, checked_from_pretrained
from hf_sts.pretraining.arguments import MlmArguments
from hf_sts.training.builder import pretrained_config, pretrained_tokenizer, scratch_backbone_config, scratch_config


logger = logging.getLogger(__name__)


# Attributes that hold the position-wise MLM head of a transformers `*ForMaskedLM` model (BERT's `cls`, RoBERTa's and
# XLM-R's `lm_head`): the head sparse prediction feeds the masked positions only.
MLM_HEAD_ATTRIBUTES = ("cls", "lm_head")


def check_tokenizer(args: MlmArguments) -> PreTrainedTokenizerBase:
    """Check that the run's tokenizer (`tokenizer_name`, else `model_name_or_path`'s) can mask: it loads, has padding
    and mask tokens, and is fast where `whole_word_mask` needs its offsets. Returns it, for the run to use.

    Raises:
        RecipeError: one line naming the tokenizer and what it lacks.
    """
    name = args.tokenizer_name or args.model_name_or_path
    tokenizer = pretrained_tokenizer(args)
    if tokenizer.mask_token is None:
        raise RecipeError(f"{name}: its tokenizer has no mask token, which masked-language modeling needs.")
    if args.whole_word_mask and not tokenizer.is_fast:
        raise RecipeError(f"{name}: `whole_word_mask` needs a fast tokenizer (word boundaries come from its offsets).")
    return tokenizer


def check_mlm_encoder(args: MlmArguments) -> None:
    """What `prepare` checks of the model before anything is written: the from-scratch config of `model_type` and
    `config_overrides` can be built, or `model_name_or_path`'s config loads, and a local folder holds whole weights
    (`hf_sts.errors.check_local_weights`); and its type has a masked-LM class.

    Raises:
        RecipeError: one line naming the key, model or weights file and the problem (an hf_sts STS model, a decoder,
            a bad override, weights missing or cut short).
    """
    if args.model_name_or_path is None:
        model_type = scratch_config(args.model_type, args.config_overrides, args.max_seq_length).model_type
        if model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
            raise RecipeError(f"`model_type` {args.model_type!r} has no masked-LM class in transformers.")
        return
    model_type = pretrained_config(args).model_type
    if model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        raise RecipeError(
            f"{args.model_name_or_path}: a {model_type!r} model has no masked-LM class in transformers; give an "
            "encoder (BERT, RoBERTa, ELECTRA, XLM-R, ...)."
        )
    check_local_weights(args.model_name_or_path, RecipeError)


def build_mlm_model(args: MlmArguments, tokenizer):
    """The `AutoModelForMaskedLM` to train: `model_name_or_path`'s, with a newly initialised MLM head (one line says
    so) where its checkpoint has none, or a from-scratch one of `model_type` sized for `tokenizer`.

    Raises:
        RecipeError: as [`check_mlm_encoder`], or when the weights cannot be loaded.
    """
    check_mlm_encoder(args)
    if args.model_name_or_path is None:
        config = scratch_backbone_config(args.model_type, args.config_overrides, tokenizer, args.max_seq_length)
        return AutoModelForMaskedLM.from_config(config)
    model, info = checked_from_pretrained(
        AutoModelForMaskedLM,
        args.model_name_or_path,
        RecipeError,
        trust_remote_code=args.trust_remote_code,
        output_loading_info=True,
        **args.hub_kwargs(),
    )
    if info["missing_keys"]:
        new = sum(parameter.numel() for name, parameter in model.named_parameters() if name in info["missing_keys"])
        logger.warning(
            "%s has no MLM head: added a newly initialised one (%s parameters, %d tensors), trained from the start.",
            args.model_name_or_path,
            f"{new:,}",
            len(info["missing_keys"]),
        )
    return model
