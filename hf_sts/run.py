"""Train, evaluate and predict with an hf_sts model from a recipe.

    accelerate launch hf_sts/run.py recipes/quickstart.json [--key value ...]
    python hf_sts/run.py recipes/quickstart.json --output_dir outputs/run1 --num_train_epochs=2
    hf-sts train recipes/quickstart.json

Steps run when their data is there (`do_train`, `do_eval`, `do_predict` set to false turn one off). Outputs in
`output_dir`: the model (`config.json`, `model.safetensors`, code files), tokenizer files, `recipe.json`,
`all_results.json`, `eval_predictions.csv`, `submission.csv` (with `test_file`) and the model card `README.md`.
"""

import dataclasses
import gc
import json
import logging
import os
import shutil
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    import numpy as np

    from hf_sts.arguments import DataArguments, ModelArguments, StsTrainingArguments
    from hf_sts.trainer import StsTrainer


logger = logging.getLogger("hf_sts.run")


@dataclass
class RunSetup:
    """A parsed recipe with its data loaded: the three argument objects, the effective recipe, and the splits in the
    hf_sts schema (`train`, `validation`, `test`, those the run uses)."""

    model_args: "ModelArguments"
    data_args: "DataArguments"
    training_args: "StsTrainingArguments"
    recipe: dict
    splits: dict


def prepare(argv: list[str] | None = None) -> RunSetup:
    """Parse `[RECIPE.json] [--key value ...]`, set up logging and the seed, load the data, and write the effective
    recipe to `output_dir/recipe.json` (main process).

    Raises:
        hf_sts.arguments.RecipeError, hf_sts.data.DataFormatError: for a bad recipe, override or data file.
    """
    import datasets
    import transformers
    from transformers import set_seed

    from hf_sts.arguments import RecipeError, parse_args
    from hf_sts.data import load_sts_datasets

    model_args, data_args, training_args, recipe = parse_args(argv)
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", handlers=[logging.StreamHandler(sys.stdout)]
    )
    # Library logs at the level the arguments ask for (WARNING by default); hf_sts' own progress notes at INFO on
    # the main process, as the transformers example scripts do.
    log_level = training_args.get_process_log_level()
    datasets.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    logger.setLevel(logging.INFO if training_args.should_log else log_level)
    set_seed(training_args.seed)

    raw = load_sts_datasets(
        train_file=data_args.train_file,
        validation_file=data_args.validation_file,
        test_file=data_args.test_file,
        dataset_name=data_args.dataset_name,
        dataset_config_name=data_args.dataset_config_name,
        validation_split_percentage=0 if data_args.num_folds else data_args.validation_split_percentage,
        seed=training_args.seed,
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
    os.makedirs(training_args.output_dir, exist_ok=True)
    if training_args.should_save:
        with open(os.path.join(training_args.output_dir, "recipe.json"), "w", encoding="utf-8") as file:
            json.dump(recipe, file, indent=2, ensure_ascii=False)
    return RunSetup(model_args, data_args, training_args, recipe, splits)


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the recipe given as `argv` (`[RECIPE.json] [--key value ...]`, default `sys.argv[1:]`): one model, or one
    per fold when the recipe sets `num_folds` (see [`cross_validate`]).

    Returns:
        The metrics written to `all_results.json` (by the main process; every process returns them).

    Raises:
        hf_sts.arguments.RecipeError, hf_sts.data.DataFormatError: for a bad recipe, override or data file.
    """
    setup = prepare(argv)
    try:
        return _run(setup)
    finally:
        _finish_wandb(setup.training_args)


def _run(setup: RunSetup) -> dict[str, float]:
    """The body of `main`: cross-validation, or one model trained, evaluated, predicted, carded and pushed."""
    from hf_sts.build import load_tokenizer
    from hf_sts.data import add_swapped_pairs, write_submission

    model_args, data_args, training_args, splits = setup.model_args, setup.data_args, setup.training_args, setup.splits
    callbacks = []
    if "wandb" in training_args.report_to:
        from hf_sts.report import WandbRecipeCallback, setup_wandb

        setup_wandb(training_args.wandb_project)
        callbacks.append(WandbRecipeCallback(setup.recipe, f"eval_{training_args.metric_for_best_model}"))
    if data_args.num_folds:
        return cross_validate(model_args, data_args, training_args, splits, callbacks)

    if "train" in splits and data_args.add_swapped_pairs:
        if model_args.architecture == "bi-encoder":
            logger.warning(
                "add_swapped_pairs repeats every pair for a bi-encoder, whose scores are symmetric: each epoch "
                "takes twice as long, as if num_train_epochs were doubled."
            )
        splits["train"] = add_swapped_pairs(splits["train"])
    tokenizer = load_tokenizer(model_args, training_args, _sentences(splits.get("train")))
    outcome = fit(model_args, data_args, training_args, tokenizer, splits, callbacks)
    trainer = outcome.trainer
    if "test" in splits and trainer.is_world_process_zero():
        path = os.path.join(training_args.output_dir, "submission.csv")
        write_submission(splits["test"], outcome.predictions["test"], path)
    trainer.save_metrics("all", outcome.metrics, combined=False)
    if "train" in splits:
        trainer.create_model_card()
        if training_args.push_to_hub:
            trainer.push_to_hub()
    return outcome.metrics


def _finish_wandb(training_args) -> None:
    """Close the wandb run the Trainer's integration opened, so an offline run is complete on disk."""
    if "wandb" in training_args.report_to:
        import wandb

        if wandb.run is not None:
            wandb.finish()


def _sentences(dataset) -> list[str] | None:
    """Both sentences of every pair: the text a from-scratch tokenizer is trained on."""
    return None if dataset is None else dataset["sentence1"][:] + dataset["sentence2"][:]


@dataclass
class FitOutcome:
    """What [`fit`] leaves: the trainer (its model trained and saved), the metrics, and the raw predictions on every
    split but `train` (`{split: np.ndarray of shape (n,)}`, unclipped scores on the 0–5 scale)."""

    trainer: "StsTrainer"
    metrics: dict[str, float]
    predictions: dict[str, "np.ndarray"]


def make_trainer(
    model_args, data_args, training_args, tokenizer, splits: dict, callbacks: list | None = None, **model_kwargs
) -> tuple["StsTrainer", dict]:
    """Tokenize the `train` and `validation` splits for the run's architecture (main process first) and build the
    `StsTrainer` over them, `validation` as the evaluation data of `eval_strategy`.

    Args:
        **model_kwargs: `model=` or `model_init=`, passed to the trainer.

    Returns:
        `(trainer, encoded)`, `encoded` holding the tokenized splits by name.
    """
    from transformers import DataCollatorWithPadding

    from hf_sts.data import BiEncoderCollator, tokenize_pairs
    from hf_sts.metrics import compute_metrics
    from hf_sts.trainer import StsTrainer

    model = model_kwargs.get("model")
    prompt = model.config.prompt if model is not None else model_args.prompt  # a checkpoint's own, if unset
    with training_args.main_process_first(desc="tokenizing"):
        encoded = {
            split: tokenize_pairs(
                dataset,
                tokenizer,
                data_args.max_seq_length,
                data_args.preprocessing_num_workers,
                architecture=model_args.architecture,
                prompt=prompt,
            )
            for split, dataset in splits.items()
            if split in ("train", "validation")
        }
    bi_encoder = model_args.architecture == "bi-encoder"
    trainer = StsTrainer(
        args=training_args,
        train_dataset=encoded.get("train"),
        eval_dataset=encoded.get("validation"),
        processing_class=tokenizer,
        data_collator=BiEncoderCollator(tokenizer) if bi_encoder else DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics,
        callbacks=callbacks,
        **model_kwargs,
    )
    return trainer, encoded


def fit(model_args, data_args, training_args, tokenizer, splits: dict, callbacks: list | None = None) -> FitOutcome:
    """Build the model, train it on `splits["train"]` and save it to `training_args.output_dir`, then predict every
    other split: `validation` with metrics, `eval_predictions.csv` and the report of `hf_sts.report` (plots and
    tables, also logged to wandb when it is on), the others (`test`, ...) as predictions only. Each step runs when
    its split is there; files are written by the main process only. `callbacks` go to the trainer.
    """
    from hf_sts.build import build_model
    from hf_sts.data import write_predictions
    from hf_sts.predict import evaluate_split, predict_scores
    from hf_sts.report import log_report_to_wandb, write_report

    model = build_model(model_args, data_args, tokenizer)
    trainer, encoded = make_trainer(model_args, data_args, training_args, tokenizer, splits, callbacks, model=model)
    metrics: dict[str, float] = {}
    if "train" in encoded:
        train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        if model_args.use_lora:
            _finish_lora(trainer, tokenizer, model_args.save_adapter_only)
        else:
            trainer.save_model()
        metrics.update(train_result.metrics, train_samples=len(encoded["train"]))
        trainer.log_metrics("train", train_result.metrics)
        trainer.save_state()
    # The trained model scores every split the way `hf-sts predict` and `hf-sts evaluate` score files (each
    # process scores all pairs; only the main process writes).
    predict_kwargs = {
        "max_seq_length": data_args.max_seq_length,
        "batch_size": training_args.per_device_eval_batch_size,
        "show_progress_bar": not training_args.disable_tqdm,
    }
    predictions = {}
    if "validation" in splits:
        output, eval_metrics = evaluate_split(trainer.model, tokenizer, splits["validation"], **predict_kwargs)
        metrics.update(eval_metrics)
        trainer.log_metrics("eval", eval_metrics)
        predictions["validation"] = output
        if trainer.is_world_process_zero():
            path = os.path.join(training_args.output_dir, "eval_predictions.csv")
            frame = write_predictions(splits["validation"], output, path)
            paths = write_report(frame, training_args.output_dir)
            if "wandb" in training_args.report_to:
                log_report_to_wandb(frame, paths)
    for split in splits.keys() - {"train", "validation"}:
        dataset = splits[split]
        predictions[split] = predict_scores(
            trainer.model, tokenizer, dataset["sentence1"][:], dataset["sentence2"][:], **predict_kwargs
        )
    return FitOutcome(trainer, metrics, predictions)


def cross_validate(
    model_args, data_args, training_args, splits: dict, callbacks: list | None = None
) -> dict[str, float]:
    """Train one model per fold (`num_folds`, `fold_strategy`, `fold_seed`; see `hf_sts.cv.assign_folds`), in
    sequence, each one distributed over the launched processes.

    The pooled data is the training split, plus the validation split with `cv_include_validation` (the seeds'
    setup). Fold K trains on the other folds (with their swapped pairs when `add_swapped_pairs`: a pair and its swap
    always fall in the same fold) into `output_dir/fold-K/`, evaluated on its held-out fold. A from-scratch tokenizer
    is trained once on the pooled sentences (text only, no labels) and shared by the folds. Duplicate pairs always
    share a fold. Each fold keeps its last epoch (`load_best_model_at_end` is off: choosing an epoch on the held-out
    rows would make the OOF predictions optimistic), and gets its own wandb run (`run_name`-fold-K).

    Writes (main process): `oof_predictions.csv` (`id,fold,label,prediction`, every pooled row once, clipped to
    [0, 5]); `cv_results.json` (per-fold metrics, mean and population standard deviation of Pearson, Spearman and
    F1 over the folds, and the metrics of the pooled OOF predictions); with a validation split that is not pooled,
    `eval_predictions.csv` and `eval_*` metrics of the mean of the fold models; with a test split, each fold's
    `fold-K/test_predictions.csv` and their mean as `submission.csv`; `all_results.json`.

    Returns:
        The metrics written to `all_results.json`: `cv_*` (mean over folds), `oof_*` and, when computed, `eval_*`.

    Raises:
        hf_sts.arguments.RecipeError: with `push_to_hub` or `resume_from_checkpoint`, or more folds than pairs.
    """
    import datasets
    import numpy as np
    import pandas as pd

    from hf_sts.arguments import RecipeError
    from hf_sts.build import load_tokenizer
    from hf_sts.cv import assign_folds, pair_keys
    from hf_sts.data import add_swapped_pairs, write_predictions, write_submission
    from hf_sts.metrics import StsMetric, clip_scores

    if training_args.push_to_hub:
        raise RecipeError("`push_to_hub` with `num_folds`: push one fold model afterwards (`hf-sts push OUT/fold-K`).")
    if training_args.resume_from_checkpoint:
        raise RecipeError("`resume_from_checkpoint` with `num_folds`: a checkpoint belongs to one fold; rerun the CV.")
    if training_args.load_best_model_at_end:
        logger.warning(
            "load_best_model_at_end is off for the folds: picking a fold's best epoch on its own held-out rows would "
            "make the out-of-fold predictions optimistic. Each fold keeps its last epoch."
        )
    pooled = splits["train"]
    validation = splits.get("validation")
    if data_args.cv_include_validation and validation is not None:
        pooled, validation = datasets.concatenate_datasets([pooled, validation]), None
    labels = np.asarray(pooled["label"])
    try:
        folds = assign_folds(
            labels,
            data_args.num_folds,
            data_args.fold_strategy,
            data_args.fold_seed,
            groups=pair_keys(pooled["sentence1"][:], pooled["sentence2"][:]),  # duplicate pairs share a fold
        )
    except ValueError as error:
        raise RecipeError(str(error)) from None
    root = training_args.output_dir
    tokenizer = load_tokenizer(model_args, training_args, _sentences(pooled))
    main_process = training_args.process_index == 0

    oof = np.zeros(len(pooled))
    fold_metrics = []
    predictions = {"dev": [], "test": []}  # each fold model's predictions of the unpooled validation and test data
    for fold in range(data_args.num_folds):
        fold_args = dataclasses.replace(
            training_args,
            output_dir=os.path.join(root, f"fold-{fold}"),
            load_best_model_at_end=False,
            run_name=f"{training_args.run_name or os.path.basename(os.path.abspath(root))}-fold-{fold}",
        )
        train = pooled.select(np.flatnonzero(folds != fold))
        fold_splits = {
            "train": add_swapped_pairs(train) if data_args.add_swapped_pairs else train,
            "validation": pooled.select(np.flatnonzero(folds == fold)),
            "dev": validation,
            "test": splits.get("test"),
        }
        fold_splits = {split: dataset for split, dataset in fold_splits.items() if dataset is not None}
        logger.info(
            "Fold %d of %d: %d pairs to train on, %d held out.",
            fold,
            data_args.num_folds,
            len(train),
            len(fold_splits["validation"]),
        )
        outcome = fit(model_args, data_args, fold_args, tokenizer, fold_splits, callbacks)
        oof[folds == fold] = outcome.predictions["validation"]
        fold_metrics.append({key: value for key, value in outcome.metrics.items() if key.startswith("eval_")})
        outcome.trainer.save_metrics("all", outcome.metrics, combined=False)
        for split in ("dev", "test"):
            if split in outcome.predictions:
                predictions[split].append(outcome.predictions[split])
        if "test" in outcome.predictions and main_process:
            frame = pd.DataFrame({"id": splits["test"]["id"], "prediction": outcome.predictions["test"]})
            frame.to_csv(os.path.join(fold_args.output_dir, "test_predictions.csv"), index=False)
        del outcome
        gc.collect()
        _finish_wandb(fold_args)  # one wandb run per fold

    metric = StsMetric(keep_in_memory=True)
    binary = np.asarray(pooled["binary_label"])
    oof_metrics = metric.compute(predictions=clip_scores(oof), references=labels, binary_references=binary)
    summary = {}
    for name in ("pearson", "spearmanr", "f1"):
        values = np.array([metrics[f"eval_{name}"] for metrics in fold_metrics])
        summary[f"cv_{name}_mean"], summary[f"cv_{name}_std"] = float(values.mean()), float(values.std())
    summary.update({f"oof_{name}": value for name, value in oof_metrics.items()})
    dev_mean = np.mean(predictions["dev"], axis=0) if predictions["dev"] else None  # the fold models' mean
    if dev_mean is not None:
        eval_metrics = metric.compute(
            predictions=clip_scores(dev_mean),
            references=np.asarray(validation["label"]),
            binary_references=np.asarray(validation["binary_label"]),
        )
        summary.update({f"eval_{name}": value for name, value in eval_metrics.items()}, eval_samples=len(validation))
    if main_process:
        frame = pd.DataFrame({"id": pooled["id"], "fold": folds, "label": labels, "prediction": clip_scores(oof)})
        frame.to_csv(os.path.join(root, "oof_predictions.csv"), index=False)
        results = {
            "num_folds": data_args.num_folds,
            "fold_strategy": data_args.fold_strategy,
            **summary,
            "folds": fold_metrics,
        }
        with open(os.path.join(root, "cv_results.json"), "w", encoding="utf-8") as file:
            json.dump(results, file, indent=2)
        with open(os.path.join(root, "all_results.json"), "w", encoding="utf-8") as file:
            json.dump(summary, file, indent=4, sort_keys=True)
        if dev_mean is not None:
            write_predictions(validation, dev_mean, os.path.join(root, "eval_predictions.csv"))
        if predictions["test"]:
            write_submission(
                splits["test"], np.mean(predictions["test"], axis=0), os.path.join(root, "submission.csv")
            )
        from hf_sts.model_card import write_model_card

        for fold in range(data_args.num_folds):  # each fold model is a checkpoint of its own, with its card
            fold_dir = os.path.join(root, f"fold-{fold}")
            shutil.copy(os.path.join(root, "recipe.json"), fold_dir)
            write_model_card(fold_dir)
    logger.info("Cross-validation: %s", json.dumps(summary, indent=2))
    return summary


def _finish_lora(trainer, tokenizer, save_adapter_only: bool) -> None:
    """Write a LoRA run's adapter to `output_dir/adapter/`, and to the root too with `save_adapter_only`; otherwise
    merge the adapters into the backbone and make the merged model the one saved to the root and evaluated."""
    from hf_sts.lora import ADAPTER_DIR, save_adapter

    output_dir = trainer.args.output_dir
    if trainer.is_world_process_zero():
        for folder in [os.path.join(output_dir, ADAPTER_DIR)] + ([output_dir] if save_adapter_only else []):
            save_adapter(trainer.model, tokenizer, folder)
    if not save_adapter_only:
        trainer.model = trainer.model_wrapped = trainer.model.merge_and_unload()
        trainer.save_model()


def cli() -> None:
    """Run `main`, turning a bad recipe, override or data file into one line on stderr and exit status 2."""
    from hf_sts.errors import exit_on_error

    with exit_on_error():
        main()


if __name__ == "__main__":
    cli()
