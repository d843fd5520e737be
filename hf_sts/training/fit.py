"""The steps of a training run, shared by `hf_sts/run.py`, cross-validation (`hf_sts.training.cv`) and the search
(`hf_sts.training.search`): the trainer over tokenized splits, and `fit`, which trains, saves and scores one model."""

import functools
import logging
import os
from dataclasses import dataclass

import numpy as np
from transformers import DataCollatorWithPadding

from hf_sts.data.checks import log_cleaning
from hf_sts.data.tokenization import BiEncoderCollator, MultiDatasetCollator, tokenize_pairs, tokenize_triplets
from hf_sts.data.triplets import is_triplets, training_datasets
from hf_sts.data.writers import write_predictions
from hf_sts.inference.report import write_report
from hf_sts.inference.scoring import predict_scores
from hf_sts.metrics import compute_metrics, f1_threshold
from hf_sts.training.builder import build_model
from hf_sts.training.tracking import log_report_to_wandb
from hf_sts.training.trainer import MULTI_DATASET_SAMPLING, StsTrainer


logger = logging.getLogger(__name__)


@dataclass
class FitOutcome:
    """What [`fit`] leaves: the trainer (its model trained and saved), the metrics, and the raw predictions on every
    split but `train` (`{split: np.ndarray of shape (n,)}`, unclipped scores on the 0–5 scale)."""

    trainer: StsTrainer
    metrics: dict[str, float]
    predictions: dict[str, np.ndarray]


def make_trainer(
    model_args, data_args, training_args, tokenizer, splits: dict, callbacks: list | None = None, **model_kwargs
) -> tuple[StsTrainer, dict]:
    """Tokenize the `train` and `validation` splits for the run's architecture (main process first) and build the
    `StsTrainer` over them, `validation` as the evaluation data of `eval_strategy`. A `train` split that is a dict of
    named training datasets (`train_datasets`) is tokenized dataset by dataset (triplets for a bi-encoder's `mnrl`,
    pairs otherwise), each row tagged with its `dataset_name`, and each dataset trains with its own loss and weight.

    Args:
        **model_kwargs: `model=` or `model_init=`, passed to the trainer.

    Returns:
        `(trainer, encoded)`, `encoded` holding the tokenized splits by name (`train` a dict of datasets for several
        training datasets).
    """
    model = model_kwargs.get("model")
    # The model's own prompt and cleaning steps (a checkpoint's, if the recipe leaves them unset).
    prompt = model.config.prompt if model is not None else model_args.prompt
    text_cleaning = model.config.text_cleaning if model is not None else model_args.text_cleaning
    settings = {"prompt": prompt, "text_cleaning": text_cleaning}
    parts = named_parts(splits)
    log_cleaning(parts, text_cleaning)
    with training_args.main_process_first(desc="tokenizing"):
        encoded = {
            name: tokenize_part(part, tokenizer, data_args, model_args.architecture, **settings)
            for name, part in parts.items()
        }
    if isinstance(splits.get("train"), dict):
        encoded["train"] = {
            name: encoded.pop(f"train_datasets.{name}").add_column("dataset_name", [name] * len(part))
            for name, part in splits["train"].items()
        }
    specs = {spec.name: spec for spec in training_datasets(data_args.train_datasets)}
    dataset_losses = {
        name: (specs[name].loss or ("mnrl" if is_triplets(part) else None), specs[name].loss_weight)
        for name, part in (splits["train"].items() if isinstance(splits.get("train"), dict) else [])
    }
    if dataset_losses and training_args.train_sampling_strategy not in MULTI_DATASET_SAMPLING:
        logger.info(
            "train_sampling_strategy %r applies to one training dataset; the batches of train_datasets are drawn at "
            "random within each dataset (multi_dataset_batch_sampler %r).",
            training_args.train_sampling_strategy,
            training_args.multi_dataset_batch_sampler,
        )
    bi_encoder = model_args.architecture == "bi-encoder"
    collator = BiEncoderCollator(tokenizer) if bi_encoder else DataCollatorWithPadding(tokenizer)
    trainer = StsTrainer(
        args=training_args,
        train_dataset=encoded.get("train"),
        eval_dataset=encoded.get("validation"),
        processing_class=tokenizer,
        data_collator=MultiDatasetCollator(collator) if dataset_losses else collator,
        compute_metrics=functools.partial(compute_metrics, binary_threshold=data_args.binary_threshold),
        callbacks=callbacks,
        dataset_losses=dataset_losses,
        **model_kwargs,
    )
    return trainer, encoded


def named_parts(splits: dict) -> dict:
    """The `train` and `validation` splits of `splits` by name, a dict of training datasets under
    `train_datasets.<name>` each."""
    parts = {}
    for split in ("train", "validation"):
        data = splits.get(split)
        if isinstance(data, dict):
            parts.update({f"train_datasets.{name}": part for name, part in data.items()})
        elif data is not None:
            parts[split] = data
    return parts


def tokenize_part(part, tokenizer, data_args, architecture: str, prompt=None, text_cleaning=None):
    """One split or training dataset tokenized: triplets by `tokenize_triplets`, scored pairs by `tokenize_pairs` in
    the layout of `architecture`."""
    if is_triplets(part):
        return tokenize_triplets(
            part, tokenizer, data_args.max_seq_length, data_args.preprocessing_num_workers, prompt, text_cleaning
        )
    return tokenize_pairs(
        part,
        tokenizer,
        data_args.max_seq_length,
        data_args.preprocessing_num_workers,
        architecture=architecture,
        prompt=prompt,
        text_cleaning=text_cleaning,
    )


def row_count(dataset) -> int:
    """The rows of a split, or of all the training datasets of a dict of them."""
    return sum(len(part) for part in dataset.values()) if isinstance(dataset, dict) else len(dataset)


def fit(model_args, data_args, training_args, tokenizer, splits: dict, callbacks: list | None = None) -> FitOutcome:
    """Build the model, train it on `splits["train"]` and save it to `training_args.output_dir`, then predict every
    other split: `validation` with metrics, `eval_predictions.csv` and the report of `hf_sts.inference.report` (plots
    and tables, also logged to wandb when it is on), the others (`test`, ...) as predictions only. Each step runs when
    its split is there; files are written by the main process only. `callbacks` go to the trainer.
    """
    model = build_model(model_args, data_args, tokenizer)
    trainer, encoded = make_trainer(model_args, data_args, training_args, tokenizer, splits, callbacks, model=model)
    metrics: dict[str, float] = {}
    if "train" in encoded:
        train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        if model_args.use_lora:
            finish_lora(trainer, tokenizer, model_args.save_adapter_only)
        else:
            trainer.save_model()
        metrics.update(train_result.metrics, train_samples=row_count(encoded["train"]))
        trainer.log_metrics("train", train_result.metrics)
        trainer.save_state()
    # The trained model scores every split through the one scoring path (`hf_sts.inference.scoring`), as evaluation
    # during training, `hf-sts predict` and `hf-sts evaluate` do (each process scores all pairs; only the main
    # process writes).
    predictions = {}
    if "validation" in splits:
        output = trainer.predict(encoded["validation"], metric_key_prefix="eval")
        eval_metrics = {**output.metrics, "eval_samples": len(splits["validation"])}
        metrics.update(eval_metrics, binary_threshold=f1_threshold(data_args.binary_threshold))
        trainer.log_metrics("eval", eval_metrics)
        predictions["validation"] = output.predictions
        if trainer.is_world_process_zero():
            path = os.path.join(training_args.output_dir, "eval_predictions.csv")
            frame = write_predictions(splits["validation"], output.predictions, path)
            paths = write_report(frame, training_args.output_dir)
            if "wandb" in training_args.report_to:
                log_report_to_wandb(frame, paths)
    for split in splits.keys() - {"train", "validation"}:
        dataset = splits[split]
        predictions[split] = predict_scores(
            trainer.model,
            tokenizer,
            dataset["sentence1"][:],
            dataset["sentence2"][:],
            max_seq_length=data_args.max_seq_length,
            batch_size=training_args.per_device_eval_batch_size,
            show_progress_bar=not training_args.disable_tqdm,
            bf16=training_args.bf16,  # as the trainer evaluated (on a CPU, false unless it runs bf16 natively)
        )
    return FitOutcome(trainer, metrics, predictions)


def finish_lora(trainer, tokenizer, save_adapter_only: bool) -> None:
    """Write a LoRA run's adapter to `output_dir/adapter/`, and to the root too with `save_adapter_only`; otherwise
    merge the adapters into the backbone and make the merged model the one saved to the root and evaluated."""
    from hf_sts.models.lora import ADAPTER_DIR, save_adapter  # peft, imported by LoRA runs only

    output_dir = trainer.args.output_dir
    if trainer.is_world_process_zero():
        for folder in [os.path.join(output_dir, ADAPTER_DIR)] + ([output_dir] if save_adapter_only else []):
            save_adapter(trainer.model, tokenizer, folder)
    if not save_adapter_only:
        trainer.model = trainer.model_wrapped = trainer.model.merge_and_unload()
        trainer.save_model()
