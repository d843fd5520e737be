"""`StsTrainer`: a `transformers.Trainer` that owns the STS losses."""

import os

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, RandomSampler
from transformers import EvalPrediction, Trainer
from transformers.trainer_pt_utils import LengthGroupedSampler, nested_gather
from transformers.trainer_utils import EvalLoopOutput

from hf_sts.errors import RecipeError
from hf_sts.hub import push
from hf_sts.inference.scoring import score_features
from hf_sts.models.sts.modeling_sts import sentence_sides
from hf_sts.training.card import write_model_card


def scale_for_accumulation(
    trainer: Trainer, loss: torch.Tensor, count: int, num_items_in_batch: torch.Tensor | int | None
) -> torch.Tensor:
    """A micro-batch's training loss, the mean over its `count` items, scaled so the update equals one large batch:
    `loss * count / num_items_in_batch` when the Trainer counted the items of the whole accumulated batch (across
    processes too with `average_tokens_across_devices`, where DDP's gradient averaging is undone by the process
    count), else `loss / gradient_accumulation_steps`. `StsTrainer` counts pairs,
    `hf_sts.pretraining.trainer.MlmTrainer` masked tokens."""
    if num_items_in_batch is None:
        return loss / trainer.current_gradient_accumulation_steps
    loss = loss * count / num_items_in_batch
    if trainer.args.average_tokens_across_devices:
        loss = loss * trainer.accelerator.num_processes
    return loss


# The `train_sampling_strategy` values a multi-dataset run applies within each dataset (the others apply to one
# training dataset only; see `StsTrainer.get_train_dataloader`).
MULTI_DATASET_SAMPLING = ("random", "group_by_length")


def import_multi_dataset_samplers() -> dict[str, type]:
    """sentence-transformers' batch samplers of multi-dataset training, by the names
    `multi_dataset_batch_sampler` takes (and `"default"`, its batch sampler of one dataset).

    Raises:
        hf_sts.errors.RecipeError: one line naming the extra to install, without sentence-transformers.
    """
    try:  # an optional dependency (the `multitask` extra), imported by multi-dataset runs only
        from sentence_transformers.base.sampler import (
            DefaultBatchSampler,
            ProportionalBatchSampler,
            RoundRobinBatchSampler,
        )
    except ImportError:
        raise RecipeError(
            '`train_datasets` draws its batches with sentence-transformers\' samplers: pip install "hf_sts[multitask]"'
        ) from None
    return {
        "default": DefaultBatchSampler,
        "proportional": ProportionalBatchSampler,
        "round_robin": RoundRobinBatchSampler,
    }


class FinalPushMixin:
    """`transformers.Trainer` overrides for hf_sts' one push at the end of a run (`push_to_hub: true`), shared by
    [`StsTrainer`] and `hf_sts.pretraining.trainer.MlmTrainer`: no repository at the start, no push at each save, and
    at the end exactly the files a user loads, through `hf_sts.hub.push`. Put it before `Trainer` in the bases."""

    def init_hf_repo(self, token: str | None = None, private: bool | None = None) -> None:
        """Create no repository when training starts: `push_to_hub` creates it at the end, with the files it
        uploads (so a run without network fails only at the push, with one clear line)."""

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Save the model (and tokenizer) as `Trainer.save_model` does, without its automatic push: the run pushes
        once at the end, after the metrics and the model card are written (see `push_to_hub`)."""
        # `_internal_call=True` is the Trainer's own way (a private parameter) to save without pushing; transformers
        # offers no public one. `tests/training/test_trainer.py::test_private_trainer_api_hf_sts_relies_on` fails
        # when transformers changes it.
        super().save_model(output_dir, _internal_call=True)

    def push_to_hub(self, commit_message: str | None = "End of training", **kwargs) -> str | None:
        """Upload the model in `args.output_dir` to `args.hub_model_id` (else the folder's name), with
        `hub_private_repo`, `hub_revision` and `hub_token`, through `hf_sts.hub.push`: exactly the files a user
        loads (model, code files, tokenizer, card, `all_results.json`, `recipe.json`), never checkpoints, optimizer
        states or `training_args.bin` (the Trainer's own pushes, at repository creation and at each save, are
        turned off: see `init_hf_repo`, and `hub_strategy` is always `"end"`). Main process only; other keyword
        arguments of `Trainer.push_to_hub` are ignored.

        Returns:
            The commit URL on the main process, else `None`.

        Raises:
            hf_sts.errors.PushError: when there is nothing to push or the Hub cannot be reached or refuses.
        """
        if not self.is_world_process_zero():
            return None

        repo_id = self.args.hub_model_id or os.path.basename(os.path.abspath(self.args.output_dir))
        return push(
            self.args.output_dir,
            repo_id,
            private=self.args.hub_private_repo,
            revision=self.args.hub_revision,
            token=self.args.hub_token,
            commit_message=commit_message or "Upload hf_sts model",
        )


class StsTrainer(FinalPushMixin, Trainer):
    """`transformers.Trainer` for hf_sts models, with the regression loss chosen by the training arguments.

    The loss comes from `args.build_loss()` (`loss`, `loss_weights`, `huber_delta`, `cosent_scale`; see
    `hf_sts.training.losses`) unless `loss_fn` is given. Batches carry `labels` (gold scores, `(batch,)`, 0.0–5.0) and
    optionally `binary_labels` (`(batch,)`, 0/1, for F1); the model's `logits` `(batch,)` are the predicted scores.

    The loss is normalised over the whole accumulated batch: the trainer passes `num_items_in_batch` (pairs across
    gradient-accumulation steps, and across processes when `average_tokens_across_devices`), and each micro-batch
    contributes `mean_loss * batch_size / num_items_in_batch`, so with the pointwise losses gradient accumulation and
    DDP give the same update as one large batch (`cosent` ranks the pairs of each micro-batch among themselves). A
    loss that returns a dict of parts (a combined loss such as `l1+huber`) is trained on their sum, and each part is
    logged as well (`loss_l1`, `loss_huber`, ...), accumulated detached on the device and gathered across processes
    at each log, as sentence-transformers' trainer does.

    Evaluation and prediction (`evaluate`, `predict`) go through hf_sts' one scoring path (see `evaluation_loop`):
    rows longest first, so each batch pads little, predictions in the dataset's row order, so they can be written
    next to their ids; `eval_loss` and its parts (`eval_loss_l1`, ...) are the loss over the whole split.

    Several training datasets (a recipe's `train_datasets`; `train_dataset` a dict of tokenized datasets by name,
    each row carrying its `dataset_name`) train as sentence-transformers trains a dict of datasets with a dict of
    losses: each batch comes from one dataset (`args.multi_dataset_batch_sampler`: sentence-transformers'
    `ProportionalBatchSampler` or `RoundRobinBatchSampler`, see `get_train_dataloader`) and trains with that
    dataset's loss times its weight (`dataset_losses`), logged as `loss_<dataset>` (its mean over that dataset's
    batches since the last log). A loss of sentence embeddings (`mnrl`) reads the `sentence_embeddings` of the
    bi-encoder's output instead of its scores; its batches' `labels` are the in-batch targets `0..batch-1`.

    Args:
        loss_fn (`nn.Module`, *optional*): a loss mapping `(scores, labels)` to a scalar batch mean, or to a dict of
            named scalar parts.
        dataset_losses (`dict[str, tuple[str | None, float]]`, *optional*): per training dataset, its loss (a name
            of `hf_sts.training.losses.LOSSES`, or parts joined by `+`; `None`: the run's `loss`) and its weight.
        *args, **kwargs: as for `transformers.Trainer`; `args` should be
            `hf_sts.training.arguments.StsTrainingArguments`.
    """

    loss_is_scaled_for_ga = True

    def __init__(
        self,
        *args,
        loss_fn: nn.Module | None = None,
        dataset_losses: dict[str, tuple[str | None, float]] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self._loss_from_args = loss_fn is None
        self.loss_fn = self.args.build_loss() if loss_fn is None else loss_fn
        self._dataset_loss_specs = dataset_losses or {}
        self.dataset_losses = self._build_dataset_losses()
        # Makes the Trainer count `num_items_in_batch` over the accumulated batch and pass it to `compute_loss`.
        self.model_accepts_loss_kwargs = True
        # Each logged training loss (a part, or a dataset's loss) since the last log: `[sum, count]` over the
        # micro-batches that had it.
        self._loss_parts: dict[str, torch.Tensor] = {}

    def _build_dataset_losses(self) -> dict[str, tuple[nn.Module, float]]:
        """Each training dataset's loss module (from the arguments' options) and weight."""
        return {
            name: (self.args.build_loss(loss), weight) for name, (loss, weight) in self._dataset_loss_specs.items()
        }

    def get_train_dataloader(self):
        """The Trainer's training dataloader for one training dataset; for several (`train_dataset` a dict), batches
        of one dataset at a time, as sentence-transformers' trainer draws them: each dataset shuffled into batches of
        `per_device_train_batch_size` (seeded with `args.seed`; with `train_sampling_strategy: group_by_length`, in
        groups of rows of similar length, transformers' `LengthGroupedSampler`, as the Trainer orders one dataset, so
        batches pad less), the datasets' batches ordered by
        `args.multi_dataset_batch_sampler` (`ProportionalBatchSampler` or `RoundRobinBatchSampler` of
        `sentence_transformers.base.sampler`), and, as there, `accelerator.even_batches` off so that no process
        repeats rows of another dataset to even out the last batches.

        Raises:
            hf_sts.errors.RecipeError: for several datasets where sentence-transformers is not installed.
        """
        if not isinstance(self.train_dataset, dict):
            return super().get_train_dataloader()
        samplers = import_multi_dataset_samplers()
        generator = torch.Generator()
        generator.manual_seed(self.args.seed)
        parts = list(self.train_dataset.values())
        grouped = self.args.train_sampling_strategy == "group_by_length"
        group_size = self.args.train_batch_size * self.args.gradient_accumulation_steps  # as `Trainer`'s
        batch_samplers = [
            samplers["default"](
                LengthGroupedSampler(group_size, dataset=part, generator=generator)
                if grouped
                else RandomSampler(part, generator=generator),
                batch_size=self.args.train_batch_size,
                drop_last=self.args.dataloader_drop_last,
            )
            for part in parts
        ]
        dataset = ConcatDataset(parts)
        batch_sampler = samplers[self.args.multi_dataset_batch_sampler](
            dataset, batch_samplers=batch_samplers, generator=generator, seed=self.args.seed
        )
        self.accelerator.even_batches = False
        dataloader = DataLoader(
            dataset,
            batch_sampler=batch_sampler,
            collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
            persistent_workers=self.args.dataloader_persistent_workers and self.args.dataloader_num_workers > 0,
        )
        return self.accelerator.prepare(dataloader)

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, torch.Tensor],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ):
        """Score the batch and compute the loss against `inputs["labels"]`.

        The model's `logits` must have the labels' shape `(batch,)`; `(batch, 1)`, the regression output of an
        `AutoModelForSequenceClassification` with `num_labels=1`, is read as `(batch,)`.

        Returns:
            The scalar loss, or `(loss, outputs)` with `return_outputs=True`.

        Raises:
            ValueError: if the batch has no `labels`, or the logits do not hold one score per label (a classifier
                with several labels, for instance), which would otherwise broadcast into a wrong loss.
        """
        if "labels" not in inputs:
            raise ValueError("StsTrainer: the batch has no `labels`; training and evaluation data need gold scores.")
        dataset = inputs.pop("dataset_name", None)
        loss_fn, weight = (self.loss_fn, 1.0) if dataset is None else self.dataset_losses[dataset]
        labels = inputs.pop("labels")
        inputs.pop("binary_labels", None)
        cached = model.training and hasattr(loss_fn, "cached_loss")  # GradCache: the loss embeds the batch itself
        outputs = None if cached else model(**inputs)
        if cached:
            encode = self.accelerator.unwrap_model(model).encode
            loss = loss_fn.cached_loss(encode, sentence_sides(inputs), self.accelerator.autocast)
        elif getattr(loss_fn, "uses_embeddings", False):
            loss = loss_fn(outputs.sentence_embeddings)
        else:
            scores = outputs.logits.float()
            if scores.ndim == 2 and scores.shape[-1] == 1:
                scores = scores.squeeze(-1)
            if scores.shape != labels.shape:
                raise ValueError(
                    f"StsTrainer: the model's logits have shape {tuple(outputs.logits.shape)}, expected one score per "
                    f"pair, {tuple(labels.shape)} like the labels (a sequence classifier needs num_labels=1)."
                )
            loss = loss_fn(scores, labels.to(scores.dtype))
        parts = loss if isinstance(loss, dict) else None
        if parts is not None:
            loss = torch.stack(list(parts.values())).sum()
        loss = loss * weight
        if model.training:
            self._track_loss_parts({dataset: loss} if dataset is not None else parts or {})
            loss = scale_for_accumulation(self, loss, labels.numel(), num_items_in_batch)
        return (loss, outputs) if return_outputs else loss

    def evaluation_loop(
        self,
        dataloader,
        description: str,
        prediction_loss_only: bool | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> EvalLoopOutput:
        """Score `dataloader.dataset` through hf_sts' one scoring path instead of the Trainer's batch loop:
        `hf_sts.inference.scoring.score_features` (rows longest first in fixed batches of
        `per_device_eval_batch_size`, under bf16 autocast when `args.bf16`, predictions in the dataset's row order),
        the same code that scores `hf-sts predict`, `hf-sts evaluate` and the demo. `Trainer.evaluate` and
        `Trainer.predict` call this (a public hook, as sentence-transformers' trainer overrides it to run its
        evaluator), so checkpoint selection, logging and callbacks are the Trainer's own.

        Every process scores the whole split with the unwrapped model (no gathering): the split is small next to
        training. `loss` is the configured loss over the whole split (its parts too, `loss_<name>`), the metrics
        those of `compute_metrics`, all keys prefixed `{metric_key_prefix}_`.

        Returns:
            `EvalLoopOutput` with `predictions` `(n,)` (unclipped scores), `label_ids` `(labels, binary_labels)` when
            the dataset is labeled, else `None`, and the metrics.
        """
        dataset = dataloader.dataset
        scores = score_features(
            self.model,
            dataset,
            self.data_collator,
            self.args.per_device_eval_batch_size,
            bf16=self.args.bf16,
            show_progress_bar=not self.args.disable_tqdm,
            description=description,
        )
        label_ids, metrics = None, {}
        if "labels" in dataset.column_names:
            labels = np.asarray(dataset["labels"], dtype=np.float64)
            binary = np.asarray(dataset["binary_labels"]) if "binary_labels" in dataset.column_names else None
            label_ids = (labels, binary)
            loss = self.loss_fn(torch.as_tensor(scores, dtype=torch.float32), torch.as_tensor(labels).float())
            if isinstance(loss, dict):
                metrics.update({f"loss_{name}": round(part.item(), 4) for name, part in loss.items()})
                loss = torch.stack(list(loss.values())).sum()
            metrics["loss"] = loss.item()
            if self.compute_metrics is not None and not prediction_loss_only:
                metrics.update(self.compute_metrics(EvalPrediction(predictions=scores, label_ids=label_ids)))
        metrics = {f"{metric_key_prefix}_{name}": value for name, value in metrics.items()}
        return EvalLoopOutput(predictions=scores, label_ids=label_ids, metrics=metrics, num_samples=len(dataset))

    def _track_loss_parts(self, parts: dict[str, torch.Tensor]) -> None:
        """Add a micro-batch's logged losses (its loss parts, or its dataset's loss), detached (no `.item()`: no
        device sync per step), to their `[sum, count]`. With several datasets every dataset has an entry from the
        first step on, so each process gathers the same keys."""
        if not parts:
            return
        device = next(iter(parts.values())).device
        sums = self._loss_parts
        for name in [*self.dataset_losses, *parts]:
            sums.setdefault(name, torch.zeros(2, device=device))
        for name, value in parts.items():
            sums[name] = sums[name] + torch.stack([value.detach().float(), torch.ones((), device=device)])

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the mean of each loss part, or each dataset's loss, since the last log (over the micro-batches that
        had it, on every process) to the training logs (`loss_<name>`); evaluation logs carry theirs from
        `evaluation_loop`."""
        if "loss" in logs and self._loss_parts:
            gathered = nested_gather(self._loss_parts, self.args.parallel_mode)  # each process's [sum, count]
            means = {}
            for name, values in gathered.items():
                total, count = values.reshape(-1, 2).sum(0)
                if count > 0:
                    means[f"loss_{name}"] = round((total / count).item(), 4)
            logs = {**logs, **means}
            self._loss_parts = {}
        super().log(logs, start_time)

    def create_model_card(self, **kwargs) -> None:
        """Write the hf_sts model card (`README.md`) into `args.output_dir` (main process only); `hf_sts/run.py` calls
        this at the end of every run, before `push_to_hub`, which uploads the card found there. Keyword arguments of
        `Trainer.create_model_card` are accepted and ignored: the card is rendered from the run's `recipe.json` and
        `all_results.json`."""
        if self.is_world_process_zero():
            write_model_card(self.args.output_dir)

    def _hp_search_setup(self, trial) -> None:
        """Apply a hyperparameter-search trial's values to the arguments as sampled, then rebuild the loss from them
        (a trial may change `loss_weights` or `huber_delta`), and each training dataset's.

        `_hp_search_setup` is private: it is where `Trainer.hyperparameter_search` applies a trial, and transformers
        has no public hook there. `tests/training/test_trainer.py::test_private_trainer_api_hf_sts_relies_on` fails
        when transformers changes it."""
        super()._hp_search_setup(trial)
        if trial is not None and self.hp_space is not None and not isinstance(trial, dict):
            # The parent casts each value to the type of the argument's current value, so a `warmup_steps` of 0
            # would turn a sampled 0.1 into 0: set the sampled values as they are.
            for key, value in self.hp_space(trial).items():
                if hasattr(self.args, key):
                    setattr(self.args, key, value)
        if self._loss_from_args:
            self.loss_fn = self.args.build_loss()
        self.dataset_losses = self._build_dataset_losses()
