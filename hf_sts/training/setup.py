"""The setup of a training run, before anything trains: parse the recipe and overrides, check the encoder, the data
and the output folder, load the splits, infer the binary threshold, and write `recipe.json` (see `prepare`). What
`hf_sts/run.py`, `hf-sts train` (its check before launching processes) and `hf-sts search` share.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

import datasets
from transformers import PreTrainedTokenizerBase, set_seed

from hf_sts.data.checks import check_scorable, resolve_binary_threshold, warn_about_data
from hf_sts.data.readers import load_sts_datasets
from hf_sts.data.triplets import is_triplets, read_training_dataset, training_datasets
from hf_sts.errors import RecipeError
from hf_sts.training.arguments import DataArguments, ModelArguments, StsTrainingArguments
from hf_sts.training.builder import check_encoder
from hf_sts.training.cv import plan_folds
from hf_sts.training.output_dir import check_output_dir, resolve_checkpoint, start_output_dir
from hf_sts.training.parser import parse_args, recipe_file, take_hub_token
from hf_sts.training.trainer import import_multi_dataset_samplers
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
    specs = training_datasets(data_args.train_datasets)
    inputs = [recipe_file(argv), model_args.model_name_or_path, model_args.tokenizer_name]
    inputs += [*(data_args.train_file or []), *(path for spec in specs for path in spec.train_file)]
    inputs += [data_args.validation_file, data_args.test_file]
    replace_earlier_run = check_output_dir(training_args, inputs)

    raw = load_sts_datasets(
        train_file=data_args.train_file,
        validation_file=data_args.validation_file,
        test_file=data_args.test_file,
        dataset_name=data_args.dataset_name,
        dataset_config_name=data_args.dataset_config_name,
        validation_split_percentage=0 if data_args.num_folds or specs else data_args.validation_split_percentage,
        seed=training_args.seed,
        cache_dir=model_args.cache_dir,
        token=model_args.token,
        revision=data_args.dataset_revision,
    )
    hub_kwargs = {"cache_dir": model_args.cache_dir, "token": model_args.token}
    train_parts = {spec.name: read_training_dataset(spec, **hub_kwargs) for spec in specs}
    if train_parts:
        check_training_datasets(specs, train_parts, model_args.architecture, training_args)
        raw["train"] = train_parts
    do_train = training_args.do_train is not False and "train" in raw
    do_eval = training_args.do_eval is not False and "validation" in raw
    do_predict = training_args.do_predict is not False and "test" in raw
    if data_args.num_folds and not do_train:
        raise RecipeError("`num_folds` trains one model per fold: give training data.")
    if training_args.eval_strategy != "no" and do_train and not do_eval and not data_args.num_folds:
        held_out = "" if specs else " or `validation_split_percentage` > 0"
        raise RecipeError(
            f"eval_strategy={training_args.eval_strategy.value!r} needs validation data: give `validation_file`"
            f"{held_out}, or set `eval_strategy` to 'no'."
        )
    if do_train and data_args.max_train_samples is not None:
        limit = data_args.max_train_samples
        if train_parts:  # the first rows of each training dataset
            raw["train"] = {name: part.select(range(min(limit, len(part)))) for name, part in train_parts.items()}
        else:
            raw["train"] = raw["train"].select(range(min(limit, len(raw["train"]))))
    if do_eval and data_args.max_eval_samples is not None:
        raw["validation"] = raw["validation"].select(range(min(data_args.max_eval_samples, len(raw["validation"]))))
    splits = {
        split: raw[split]
        for split, wanted in (("train", do_train), ("validation", do_eval), ("test", do_predict))
        if wanted
    }
    origins = {
        "train": ", ".join(data_args.train_file or [])
        or ", ".join(f"train_datasets.{spec.name}" for spec in specs)
        or f"{data_args.dataset_name}'s train split",
        "validation": (
            data_args.validation_file or "the validation split (`dataset_name`'s, or `validation_split_percentage`)"
        ),
    }
    if "validation" in splits:
        check_scorable(splits["validation"], origins["validation"])
    fold_plan = plan_folds(data_args, training_args, splits) if data_args.num_folds else None
    scored = scored_splits(splits)
    warn_about_data(scored)
    if "train" in scored or "validation" in scored:
        data_args.binary_threshold = resolve_binary_threshold(scored, data_args.binary_threshold, origins)
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


def scored_splits(splits: dict) -> dict:
    """`splits` with a dict of training datasets (`train_datasets`) replaced by its scored pairs, concatenated (no
    `train` where every training dataset holds triplets): what the checks of labels and of the binary threshold
    read."""
    train = splits.get("train")
    if not isinstance(train, dict):
        return splits
    pairs = [part for part in train.values() if not is_triplets(part)]
    scored = {split: data for split, data in splits.items() if split != "train"}
    if pairs:
        scored["train"] = datasets.concatenate_datasets(pairs)
    return scored


def check_training_datasets(specs, parts: dict, architecture: str, training_args: StsTrainingArguments) -> None:
    """Check that each training dataset's loss can train on its rows: triplets need a bi-encoder and a loss of
    sentence embeddings (`mnrl`, their default, or `cached_mnrl`), scored pairs a loss of scores (the run's `loss`
    by default).

    Raises:
        RecipeError: naming `train_datasets.<name>`, its shape and its loss; `cached_mnrl` in a run of several
            processes; or naming the `multitask` extra, without sentence-transformers (its batch samplers draw the
            batches).
    """
    import_multi_dataset_samplers()  # before anything is written
    for spec in specs:
        triplets = is_triplets(parts[spec.name])
        loss = spec.loss or ("mnrl" if triplets else training_args.loss)
        where = f"`train_datasets.{spec.name}`"
        try:
            module = training_args.build_loss(loss)
        except ValueError as error:
            raise RecipeError(f"{where}: {error}") from None
        if triplets and architecture != "bi-encoder":
            raise RecipeError(
                f"{where} holds triplets (anchor, positive, negative), which train a bi-encoder's embeddings; the "
                f"architecture is {architecture!r}: set `architecture: bi-encoder`, or give the cross-encoder scored "
                "pairs."
            )
        if triplets != bool(getattr(module, "uses_embeddings", False)):
            shape, needs = (
                ("triplets", "a loss of sentence embeddings (mnrl)")
                if triplets
                else ("scored pairs", "a loss of scores (mse, cosine, cosent, ...)")
            )
            raise RecipeError(f"{where} holds {shape}, which train with {needs}; its loss is {loss!r}.")
        if hasattr(module, "cached_loss") and training_args.world_size > 1:
            raise RecipeError(
                f"{where}: {loss!r} runs in one process only (its second pass embeds outside DDP, whose gradient "
                f"averaging would not see it), and this run has {training_args.world_size}; use 'mnrl', or one "
                "process with a larger per_device_train_batch_size."
            )
