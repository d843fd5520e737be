"""Cross-validation for STS: folds (scikit-learn `KFold` / `StratifiedKFold`) and one model trained per fold.

`run.py` calls [`cross_validate`] when a recipe sets `num_folds`; the predictions of each model on its held-out fold
together form the out-of-fold (OOF) predictions: one honest prediction per row, from a model that never saw it.
Ensembles fit their weights or stacker on those (see `hf_sts.tools.ensemble`).
"""

import dataclasses
import gc
import json
import logging
import os
import shutil

import datasets
import numpy as np
import pandas as pd

from hf_sts.data.pairs import assign_folds, pair_keys, training_pairs
from hf_sts.data.wordpiece import train_sentences
from hf_sts.data.writers import write_predictions, write_submission
from hf_sts.errors import RecipeError
from hf_sts.inference.scoring import sts_metrics
from hf_sts.metrics import clip_scores, f1_threshold
from hf_sts.training.builder import load_tokenizer
from hf_sts.training.card import write_model_card
from hf_sts.training.fit import fit
from hf_sts.training.tracking import finish_wandb
from hf_sts.utils.write_guard import atomic_output, write_text


logger = logging.getLogger(__name__)


@dataclasses.dataclass
class FoldResults:
    """What the fold models of [`train_folds`] predicted.

    Attributes:
        oof (`np.ndarray` of shape `(n,)`): each pooled row's prediction by the model that held it out (unclipped).
        metrics (`list[dict]`): each fold's `eval_*` metrics on its held-out rows.
        predictions (`dict[str, list[np.ndarray]]`): per extra split (`"dev"`, `"test"`), each fold model's
            predictions of it, shape `(m,)` each.
    """

    oof: np.ndarray
    metrics: list[dict]
    predictions: dict[str, list[np.ndarray]]


def plan_folds(data_args, training_args, splits: dict):
    """Check a cross-validation request and assign the folds, before the run writes anything (`hf_sts/run.py`
    calls it while preparing, and hands the plan to [`cross_validate`]).

    Returns:
        `(pooled, validation, folds)`: the rows to cross-validate (train, plus validation with
        `cv_include_validation`), the unpooled validation split or `None`, and each pooled row's fold (see
        [`assign_folds`]).

    Raises:
        hf_sts.errors.RecipeError: with `push_to_hub` or `resume_from_checkpoint`, or more folds than pairs.
    """
    if training_args.push_to_hub:
        raise RecipeError("`push_to_hub` with `num_folds`: push one fold model afterwards (`hf-sts push OUT/fold-K`).")
    if training_args.resume_from_checkpoint:
        raise RecipeError("`resume_from_checkpoint` with `num_folds`: a checkpoint belongs to one fold; rerun the CV.")
    pooled, validation = splits["train"], splits.get("validation")
    if data_args.cv_include_validation and validation is not None:
        pooled, validation = datasets.concatenate_datasets([pooled, validation]), None
    try:
        folds = assign_folds(
            np.asarray(pooled["label"]),
            data_args.num_folds,
            data_args.fold_strategy,
            data_args.fold_seed,
            groups=pair_keys(pooled["sentence1"][:], pooled["sentence2"][:]),  # duplicate pairs share a fold
        )
    except ValueError as error:
        raise RecipeError(str(error).replace(" rows,", " distinct pairs,")) from None
    return pooled, validation, folds


def cross_validate(
    model_args, data_args, training_args, splits: dict, fold_plan: tuple, callbacks: list | None = None, tokenizer=None
) -> dict:
    """Train one model per fold (`num_folds`, `fold_strategy`, `fold_seed`; see [`assign_folds`]), in sequence, each
    one distributed over the launched processes, then aggregate and write the results.

    The pooled data is the training split, plus the validation split with `cv_include_validation` (the
    setup). Fold K trains on the other folds (with their swapped pairs when `add_swapped_pairs`: a pair and its swap
    always fall in the same fold) into `output_dir/fold-K/`, evaluated on its held-out fold. A from-scratch tokenizer
    is trained once on the pooled sentences (text only, no labels) and shared by the folds. Duplicate pairs always
    share a fold. Each fold keeps its last epoch (`load_best_model_at_end` is off: choosing an epoch on the held-out
    rows would make the OOF predictions optimistic), and gets its own wandb run (`run_name`-fold-K).

    Writes (main process; see [`write_cv_outputs`]): `oof_predictions.csv`, `cv_results.json`, `all_results.json`,
    with an unpooled validation split `eval_predictions.csv` (the mean of the fold models), with a test split each
    fold's `fold-K/test_predictions.csv` (unclipped) and their mean as `submission.csv` (clipped), and each fold
    model's card.

    Args:
        fold_plan: `(pooled, validation, folds)` from [`plan_folds`], which checks the request.
        tokenizer: the pretrained tokenizer the run's checks loaded (`RunSetup.tokenizer`), if any.

    Returns:
        The metrics written to `all_results.json`: `cv_*` (mean and population standard deviation over folds),
        `oof_*` and, with an unpooled validation split, `eval_*`.
    """
    if training_args.load_best_model_at_end:
        logger.warning(
            "load_best_model_at_end is off for the folds: picking a fold's best epoch on its own held-out rows would "
            "make the out-of-fold predictions optimistic. Each fold keeps its last epoch."
        )
    pooled, validation, folds = fold_plan
    tokenizer = load_tokenizer(model_args, training_args, train_sentences(pooled, model_args.text_cleaning), tokenizer)
    extra = {name: split for name, split in (("dev", validation), ("test", splits.get("test"))) if split is not None}
    results = train_folds(model_args, data_args, training_args, tokenizer, pooled, folds, extra, callbacks)
    summary = summarize_folds(results, pooled, validation, data_args.binary_threshold)
    if training_args.process_index == 0:
        write_cv_outputs(training_args.output_dir, data_args, pooled, folds, results, summary, splits)
    logger.info("Cross-validation: %s", json.dumps(summary, indent=2))
    return summary


def train_folds(
    model_args, data_args, training_args, tokenizer, pooled, folds: np.ndarray, extra: dict, callbacks=None
) -> FoldResults:
    """The fold loop: for each fold K, `hf_sts.training.fit.fit` a model on the rows of the other folds into
    `output_dir/fold-K/`, scoring its held-out rows and each `extra` split (`{"dev": ..., "test": ...}`); the fold's
    own `all_results.json` and, with a test split, `test_predictions.csv` are written there (main process).

    Args:
        pooled (`datasets.Dataset`): the rows to cross-validate, in the hf_sts schema.
        folds (`np.ndarray` of shape `(len(pooled),)`): each row's fold, from [`assign_folds`].
    """
    root = training_args.output_dir
    results = FoldResults(np.zeros(len(pooled)), [], {name: [] for name in extra})
    for fold in range(data_args.num_folds):
        fold_args = dataclasses.replace(
            training_args,
            output_dir=os.path.join(root, f"fold-{fold}"),
            load_best_model_at_end=False,
            run_name=f"{training_args.run_name or os.path.basename(os.path.abspath(root))}-fold-{fold}",
        )
        train = pooled.select(np.flatnonzero(folds != fold))
        fold_splits = {
            "train": training_pairs(train, data_args, training_args.seed),
            "validation": pooled.select(np.flatnonzero(folds == fold)),
            **extra,
        }
        logger.info(
            "Fold %d of %d: %d pairs to train on, %d held out.",
            fold,
            data_args.num_folds,
            len(train),
            len(fold_splits["validation"]),
        )
        outcome = fit(model_args, data_args, fold_args, tokenizer, fold_splits, callbacks)
        results.oof[folds == fold] = outcome.predictions["validation"]
        results.metrics.append({key: value for key, value in outcome.metrics.items() if key.startswith("eval_")})
        outcome.trainer.save_metrics("all", outcome.metrics, combined=False)
        for name in extra:
            results.predictions[name].append(outcome.predictions[name])
        if "test" in extra and outcome.trainer.is_world_process_zero():
            frame = pd.DataFrame({"id": extra["test"]["id"], "prediction": outcome.predictions["test"]})
            with atomic_output(os.path.join(fold_args.output_dir, "test_predictions.csv")) as temporary:
                frame.to_csv(temporary, index=False)
        del outcome
        gc.collect()
        finish_wandb(fold_args)  # one wandb run per fold
    return results


def summarize_folds(
    results: FoldResults, pooled, validation=None, binary_threshold: float | None = None
) -> dict[str, float]:
    """The cross-validation metrics: `cv_{pearson,spearmanr,f1}_{mean,std}` over the folds (population standard
    deviation), `oof_*` of the pooled out-of-fold predictions (clipped to [0, 5]), and, with an unpooled
    `validation` split, `eval_*` of the mean of the fold models' predictions on it and `eval_samples`; F1 at
    `binary_threshold` (`None`: KLUE's 3.0), recorded as `binary_threshold`."""
    summary = {}
    for name in ("pearson", "spearmanr", "f1"):
        values = np.array([metrics[f"eval_{name}"] for metrics in results.metrics])
        summary[f"cv_{name}_mean"], summary[f"cv_{name}_std"] = float(values.mean()), float(values.std())
    summary.update(sts_metrics(results.oof, pooled, "oof", binary_threshold))
    if results.predictions.get("dev"):
        dev_mean = np.mean(results.predictions["dev"], axis=0)
        summary.update(sts_metrics(dev_mean, validation, "eval", binary_threshold), eval_samples=len(validation))
    summary["binary_threshold"] = f1_threshold(binary_threshold)
    return summary


def write_cv_outputs(root: str, data_args, pooled, folds, results: FoldResults, summary: dict, splits: dict) -> None:
    """Write the files of a cross-validation into `root`: `oof_predictions.csv` (`id,fold,label,prediction`, every
    pooled row once, clipped to [0, 5]), `cv_results.json` (the summary and each fold's metrics),
    `all_results.json` (the summary), `eval_predictions.csv` and `submission.csv` from the mean of the fold models
    when there is unpooled validation or test data, and a copy of `recipe.json` and a model card in each
    `fold-K/` (each fold model is a checkpoint of its own)."""
    frame = pd.DataFrame(
        {"id": pooled["id"], "fold": folds, "label": pooled["label"], "prediction": clip_scores(results.oof)}
    )
    with atomic_output(os.path.join(root, "oof_predictions.csv")) as temporary:
        frame.to_csv(temporary, index=False)
    cv_results = {
        "num_folds": data_args.num_folds,
        "fold_strategy": data_args.fold_strategy,
        **summary,
        "folds": results.metrics,
    }
    write_text(os.path.join(root, "cv_results.json"), json.dumps(cv_results, indent=2))
    write_text(os.path.join(root, "all_results.json"), json.dumps(summary, indent=4, sort_keys=True))
    if results.predictions.get("dev"):
        dev_mean = np.mean(results.predictions["dev"], axis=0)
        write_predictions(splits["validation"], dev_mean, os.path.join(root, "eval_predictions.csv"))
    if results.predictions.get("test"):
        test_mean = np.mean(results.predictions["test"], axis=0)
        write_submission(splits["test"], test_mean, os.path.join(root, "submission.csv"))
    for fold in range(data_args.num_folds):
        fold_dir = os.path.join(root, f"fold-{fold}")
        shutil.copy(os.path.join(root, "recipe.json"), fold_dir)
        write_model_card(fold_dir)
