"""The setup of a pretraining run, before anything trains: parse the recipe, check the encoder, the text and the output
folder, read the corpus, and write `recipe.json` (see `prepare`). What `hf_sts/pretrain.py` and `hf-sts pretrain`
share.
"""

import logging
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase, set_seed

from hf_sts.errors import RecipeError
from hf_sts.pretraining.arguments import ARGUMENT_CLASSES, MlmArguments, MlmTrainingArguments
from hf_sts.pretraining.builder import check_mlm_encoder, check_tokenizer
from hf_sts.pretraining.corpus import Corpus, check_corpus, read_corpus
from hf_sts.training.output_dir import check_output_dir, resolve_checkpoint, start_output_dir
from hf_sts.training.parser import parse_args, recipe_file, take_hub_token
from hf_sts.utils.hardware import use_every_core
from hf_sts.utils.logging import configure_logging


@dataclass
class PretrainSetup:
    """A parsed pretraining recipe with its text read: the arguments, the effective recipe, the corpus, and the
    pretrained tokenizer the checks loaded (`None` for a from-scratch run)."""

    args: MlmArguments
    training_args: MlmTrainingArguments
    recipe: dict
    corpus: Corpus
    tokenizer: PreTrainedTokenizerBase | None = None


def prepare(argv: list[str] | None = None, check_only: bool = False) -> PretrainSetup | None:
    """Parse `[RECIPE.json] [--key value ...]`, set up logging and the seed, check the model and `output_dir`, and
    read the text; then (main process) clear an earlier run that `overwrite_output_dir` replaces and write
    `recipe.json`. With `check_only`, stop (returning `None`) after every check, before anything is written: what
    `hf-sts pretrain` does before it launches processes.

    Raises:
        hf_sts.errors.HfStsError: for a bad recipe, override, model or text file (one line).
    """
    args, training_args, recipe = parse_args(argv, ARGUMENT_CLASSES, prog="hf_sts/pretrain.py")
    if check_only:
        configure_logging(logging.ERROR, main_process=False)  # the launched processes log the run
    else:
        configure_logging(training_args.get_process_log_level(), training_args.should_log)
        use_every_core()
    take_hub_token(args, training_args)
    set_seed(training_args.seed)
    check_mlm_encoder(args)  # a missing or unknown model is one line, before the text is read
    tokenizer = check_tokenizer(args) if args.tokenizer_name or args.model_name_or_path else None
    training_args.resume_from_checkpoint = resolve_checkpoint(training_args)
    replace_earlier_run = check_output_dir(training_args, [recipe_file(argv), *args.input_files()])
    corpus = read_corpus(args, training_args.seed)
    check_corpus(corpus, args, tokenizer, training_args.resume_from_checkpoint)  # text enough for one example
    if not corpus.validation and training_args.eval_strategy != "no":
        raise RecipeError(
            f"eval_strategy={training_args.eval_strategy.value!r} needs held-out text: set "
            "`validation_split_percentage` > 0, or `eval_strategy` to 'no'."
        )
    if check_only:
        return None
    start_output_dir(training_args, recipe, replace_earlier_run, recipe_file(argv))
    return PretrainSetup(args, training_args, recipe, corpus, tokenizer)
