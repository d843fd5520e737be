"""The setup of a training run, before anything trains: parse the recipe and overrides, check the encoder, the data
and the output folder, load the splits, infer the binary threshold, and write `recipe.json` (see `prepare`). What
`hf_sts/run.py`, `hf-sts train` (its check before launching processes) and `hf-sts search` share.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase, set_seed

from hf_sts.data.checks import check_scorable, resolve_binary_threshold, warn_about_data
from hf_sts.data.readers import load_sts_datasets
from hf_sts.errors import RecipeError
from hf_sts.training.arguments import DataArguments, ModelArguments, StsTrainingArguments
from hf_sts.training.builder import check_encoder
from hf_sts.training.cv import plan_folds
from hf_sts.training.output_dir import check_output_dir, resolve_checkpoint, start_output_dir
from hf_sts.training.parser import parse_args, recipe_file, take_hub_token
from hf_sts.utils.hardware import use_every_core
from hf_sts.utils.logging import configure_logging


logger = logging.getLogger(__name__)


@dataclass
class RunSetup:
    """A parsed recipe with its data loaded: the three argument objects, the effective recipe, the splits in the
    hf_sts schema (`train`, `validation`, `test`, those the run uses), with `num_folds` the checked fold plan
    (`(pooled, validation, folds)` of `hf_sts.training.cv.plan_folds`), and the pretrained tokenizer the checks loaded
    (`None` for a from-scratch run)."""

    model_args: ModelArguments
    data_args: DataArguments
    training_args: StsTrainingArguments
    recipe: dict
    splits: dict
    fold_plan: tuple | None = None
    tokenizer: PreTrainedTokenizerBase | None = None


def prepare(
    argv: list[str] | None = None, check_only: bool = False, check: Callable[["RunSetup"], None] | None = None
) -> RunSetup | None:
    """Parse `[RECIPE.json] [--key value ...]`, set up logging and the seed, load the data, and write the effective
    recipe to `output_dir/recipe.json` (main process). With `check_only`, stop (returning `None`) after every check,
    before anything is written, logging errors only: what `hf-sts train` does before it launches processes.

    Args:
        check: a caller's own check of the setup (e.g. `hf-sts search` refusing `num_folds`), run after hf_sts' and
            before anything is written; it raises to refuse.

    Raises:
        hf_sts.errors.RecipeError, hf_sts.errors.DataFormatError: for a bad recipe, override or data file; or
            what `check` raises.
    """
    model_args, data_args, training_args, recipe = parse_args(argv)
    # Library logs at the level the arguments ask for (WARNING by default); hf_sts' own notes at INFO on the main
    # process, as the transformers example scripts do.
    if check_only:
        configure_logging(logging.ERROR, main_process=False)  # the launched processes log the run
    else:
        configure_logging(training_args.get_process_log_level(), training_args.should_log)
        use_every_core()  # plain `accelerate launch` on a CPU machine leaves a lone process one thread
    take_hub_token(model_args, training_args)  # before the Trainer pickles its arguments or wandb starts
    set_seed(training_args.seed)
    tokenizer = check_encoder(model_args, data_args)  # before anything is written
    training_args.resume_from_checkpoint = resolve_checkpoint(training_args)
    inputs = [recipe_file(argv), model_args.model_name_or_path, model_args.tokenizer_name]
    inputs += [*(data_args.train_file or []), data_args.validation_file, data_args.test_file]
    replace_earlier_run = check_output_dir(training_args, inputs)

    raw = load_sts_datasets(
        train_file=data_args.train_file,
        validation_file=data_args.validation_file,
        test_file=data_args.test_file,
        dataset_name=data_args.dataset_name,
        dataset_config_name=data_args.dataset_config_name,
        validation_split_percentage=0 if data_args.num_folds else data_args.validation_split_percentage,
        seed=training_args.seed,
        cache_dir=model_args.cache_dir,
        token=model_args.token,
        revision=data_args.dataset_revision,
    )
    do_train = training_args.do_train is not False and "train" in raw
    do_eval = training_args.do_eval is not False and "validation" in raw
    do_predict = training_args.do_predict is not False and "test" in raw
    if data_args.num_folds and not do_train:
        raise RecipeError("`num_folds` trains one model per fold: give training data.")
    if training_args.eval_strategy != "no" and do_train and not do_eval and not data_args.num_folds:
        raise RecipeError(
            f"eval_strategy={training_args.eval_strategy.value!r} needs validation data: give `validation_file` or "
            "`validation_split_percentage` > 0, or set `eval_strategy` to 'no'."
        )
    if do_train and data_args.max_train_samples is not None:
        raw["train"] = raw["train"].select(range(min(data_args.max_train_samples, len(raw["train"]))))
    if do_eval and data_args.max_eval_samples is not None:
        raw["validation"] = raw["validation"].select(range(min(data_args.max_eval_samples, len(raw["validation"]))))
    splits = {
        split: raw[split]
        for split, wanted in (("train", do_train), ("validation", do_eval), ("test", do_predict))
        if wanted
    }
    origins = {
        "train": ", ".join(data_args.train_file or []) or f"{data_args.dataset_name}'s train split",
        "validation": (
            data_args.validation_file or "the validation split (`dataset_name`'s, or `validation_split_percentage`)"
        ),
    }
    if "validation" in splits:
        check_scorable(splits["validation"], origins["validation"])
    fold_plan = plan_folds(data_args, training_args, splits) if data_args.num_folds else None
    warn_about_data(splits)
    if "train" in splits or "validation" in splits:
        data_args.binary_threshold = resolve_binary_threshold(splits, data_args.binary_threshold, origins)
    if do_train and data_args.add_swapped_pairs and model_args.architecture == "bi-encoder":
        logger.warning(
            "add_swapped_pairs repeats every pair for a bi-encoder, whose scores are symmetric: each epoch takes "
            "twice as long, as if num_train_epochs were doubled."
        )
    setup = RunSetup(model_args, data_args, training_args, recipe, splits, fold_plan, tokenizer)
    if check is not None:
        check(setup)
    if check_only:
        return None
    start_output_dir(training_args, recipe, replace_earlier_run, recipe_file(argv))
    return setup
