"""The arguments of an hf_sts run: the dataclasses whose fields are the recipe keys.

A recipe is a flat JSON object whose keys are the fields of [`ModelArguments`], [`DataArguments`] and
[`StsTrainingArguments`] (a `transformers.TrainingArguments` subclass, through [`BaseTrainingArguments`], which
`hf_sts.pretraining.arguments.MlmTrainingArguments` shares). Each field has its help text, and `__post_init__`
refuses a bad value in one line (`hf_sts.errors.RecipeError`) naming the key. `hf_sts.training.parser` reads recipes
and command-line overrides into them.
"""

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import TrainingArguments
from transformers.trainer_utils import HubStrategy

from hf_sts.data.pairs import FOLD_STRATEGIES
from hf_sts.data.tokenization import DEFAULT_MAX_SEQ_LENGTH
from hf_sts.data.triplets import training_datasets
from hf_sts.errors import RecipeError
from hf_sts.metrics import SCORE_MAX, SCORE_MIN
from hf_sts.models.sts.configuration_sts import (
    DEFAULT_HEAD_HIDDEN_SIZES,
    HEAD_KEYS,
    INPUT_KEYS,
    POOLING_MODES,
    RNN_TYPES,
    StsBiEncoderConfig,
    StsCrossEncoderConfig,
    resolve_head_name,
)
from hf_sts.models.sts.modeling_sts import HEADS, MODEL_CLASSES
from hf_sts.models.sts.text_cleaning import CLEANING_STEPS, check_cleaning_steps
from hf_sts.training.losses import build_loss
from hf_sts.utils.hardware import bf16_setting, machine_settings


logger = logging.getLogger(__name__)


def check_sample_limits(args: Any, unit: str) -> None:
    """Check a recipe's `max_train_samples` and `max_eval_samples` (counts of `unit`, e.g. "pair"): unset, or >= 1.

    Raises:
        RecipeError: one line naming the key and its value.
    """
    for key in ("max_train_samples", "max_eval_samples"):
        value = getattr(args, key)
        if value is not None and value < 1:
            raise RecipeError(f"`{key}` must be >= 1 {unit} (unset: all {unit}s), got {value}.")


@dataclass
class EncoderArguments:
    """The encoder a command starts from and its tokenizer, shared by [`ModelArguments`] (`hf_sts/run.py`) and
    `hf_sts.pretraining.arguments.MlmArguments` (`hf-sts pretrain`): a pretrained encoder (`model_name_or_path`) or a
    from-scratch one (`model_type`, `config_overrides`, a WordPiece tokenizer of `tokenizer_vocab_size` trained on the
    text), the cleaning steps applied to every sentence, and the Hub settings of every `from_pretrained` call.

    Raises:
        RecipeError: without `model_name_or_path` and `model_type`, for `config_overrides` with a pretrained encoder,
            or an unknown or repeated cleaning step.
    """

    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Hub id (e.g. klue/roberta-large) or local path of the pretrained encoder to start from (for "
            "hf_sts/run.py also an hf_sts checkpoint to continue). Leave unset to start from scratch with `model_type`."
        },
    )
    model_type: str | None = field(
        default=None,
        metadata={
            "help": "Backbone type to build from scratch when `model_name_or_path` is unset (bert, roberta, ...)."
        },
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "Overrides of the from-scratch backbone config, as in transformers' run_mlm.py: "
            "'hidden_size=128,num_hidden_layers=2,num_attention_heads=2,intermediate_size=512'."
        },
    )
    tokenizer_name: str | None = field(
        default=None,
        metadata={"help": "Tokenizer to load, if not the one of `model_name_or_path`."},
    )
    tokenizer_vocab_size: int = field(
        default=8000,
        metadata={
            "help": "Vocabulary size of the WordPiece tokenizer trained on the training sentences when there is no "
            "pretrained tokenizer (from-scratch runs)."
        },
    )
    text_cleaning: list[str] | None = field(
        default=None,
        metadata={
            "help": "Cleaning steps applied, in order, to every sentence before the prompt (see hf_sts.models.sts.text_cleaning): "
            f"{', '.join(CLEANING_STEPS)}. Saved in the model's config and applied in training, evaluation and "
            "prediction. Unset: the checkpoint's own steps, if any."
        },
    )
    cache_dir: str | None = field(
        default=None, metadata={"help": "Where to store models and tokenizers downloaded from the Hub."}
    )
    model_revision: str = field(
        default="main", metadata={"help": "Branch, tag or commit of `model_name_or_path` on the Hub."}
    )
    token: str | None = field(
        default=None,
        metadata={"help": "Hub token for private models; defaults to the one stored by `hf auth login`."},
    )
    trust_remote_code: bool = field(
        default=False,
        metadata={"help": "Allow a backbone whose code lives on the Hub. Only for repositories you trust."},
    )

    def __post_init__(self):
        if self.model_name_or_path is None and self.model_type is None:
            raise RecipeError("Set `model_name_or_path` (a pretrained encoder) or `model_type` (train from scratch).")
        if self.model_name_or_path is not None and self.config_overrides is not None:
            raise RecipeError("`config_overrides` only applies to from-scratch models; unset `model_name_or_path`.")
        if self.text_cleaning is not None:
            try:
                self.text_cleaning = check_cleaning_steps(self.text_cleaning)
            except ValueError as error:
                raise RecipeError(str(error)) from None

    def hub_kwargs(self) -> dict[str, Any]:
        """The keyword arguments every `from_pretrained` call of the run passes: cache, revision and token."""
        return {"cache_dir": self.cache_dir, "revision": self.model_revision, "token": self.token}


@dataclass
class ModelArguments(EncoderArguments):
    """Which backbone to fine-tune (or build from scratch), its tokenizer, and the regression head.

    Model:
        model_name_or_path (`str`, *optional*): Hub id or local path of a pretrained encoder; from scratch if unset.
        model_type (`str`, *optional*): backbone type to build from scratch (`bert`, `roberta`, `electra`, ...).
        config_overrides (`str`, *optional*): `key=value,...` applied to the from-scratch config (run_mlm.py style).
        tokenizer_name (`str`, *optional*): tokenizer to load; without it and without a pretrained model, a
            WordPiece tokenizer of `tokenizer_vocab_size` is trained on the training sentences.
        prompt (`str`, *optional*): text put before every sentence, stored in the model's config and applied
            wherever the model reads text (`"query: "` for multilingual-e5).
        text_cleaning (`list[str]`, *optional*): cleaning steps of `hf_sts.models.sts.text_cleaning` applied, in order,
            to every sentence; stored in the model's config and applied wherever the model reads text, as the prompt
            is.

    Architecture:
        architecture (`str`, defaults to `"cross-encoder"`): `"cross-encoder"` ([`StsCrossEncoderModel`], one
            sequence per pair, a regression head) or `"bi-encoder"` ([`StsBiEncoderModel`], SBERT-style cosine of
            pooled sentence embeddings).
        head, head_hidden_sizes, head_dropout, head_activation, head_pooling, head_rnn_type, head_rnn_hidden_size:
            the cross-encoder's regression head, see [`StsCrossEncoderConfig`], whose defaults apply to unset keys
            (a checkpoint's own settings, when continuing one).
        pooling (`str`, *optional*): the bi-encoder's pooling, see [`StsBiEncoderConfig`].
        freeze_ratio (`float`, defaults to `0.0`): freeze the backbone's embeddings and its bottom
            `round(freeze_ratio * num_hidden_layers)` layers.
        freeze_embeddings (`bool`, defaults to `False`): freeze the word embedding matrix alone (most of a
            large-vocabulary encoder's parameters: 96 M of multilingual-e5-small's 118 M); every layer still trains.

    LoRA (see `hf_sts.models.lora`):
        use_lora (`bool`), lora_r (`int` >= 1, 16), lora_alpha (`float` > 0, 32), lora_dropout (`float` in
        [0, 1), 0.05), lora_target_modules (`list[str]`, *optional*), lora_modules_to_save (`list[str]`, *optional*),
        save_adapter_only (`bool`).
    """

    prompt: str | None = field(
        default=None,
        metadata={
            "help": "Text put before every sentence (sentence-transformers' prompts), saved in the model's config "
            "and applied in training, evaluation, prediction and exports: 'query: ' for multilingual-e5. Unset: the "
            "checkpoint's own prompt, if any."
        },
    )
    architecture: str = field(
        default="cross-encoder",
        metadata={
            "help": "'cross-encoder' (both sentences in one sequence, a regression head) or 'bi-encoder' (SBERT: "
            "each sentence embedded alone, scored by 5 * cosine).",
            "choices": tuple(MODEL_CLASSES),
        },
    )
    head: str | None = field(
        default=None,
        metadata={
            "help": "Cross-encoder regression head: 'cls' (transformers' classification head on the first token), "
            "'mean' (masked mean -> linear), 'mlp' (see head_hidden_sizes) or 'rnn' (BiLSTM/GRU over the tokens). "
            f"Unset: the checkpoint's own head, else {StsCrossEncoderConfig.head!r}."
        },
    )
    head_hidden_sizes: list[int] | None = field(
        default=None,
        metadata={
            "help": "Hidden widths of the 'mlp' head, input side first (unset: "
            f"{' '.join(map(str, DEFAULT_HEAD_HIDDEN_SIZES))}, the best of the KLUE-STS competition code hf_sts started from)."
        },
    )
    head_dropout: float | None = field(
        default=None,
        metadata={"help": "Dropout before each linear layer of the head; defaults to the backbone's dropout."},
    )
    head_activation: str | None = field(
        default=None,
        metadata={
            "help": "Activation inside the 'mlp' head (any transformers ACT2FN key; unset: "
            f"{StsCrossEncoderConfig.head_activation!r})."
        },
    )
    head_pooling: str | None = field(
        default=None,
        metadata={
            "help": "Input of the 'mlp' head: the first token ('cls') or the mean of the tokens ('mean'); unset: "
            f"{StsCrossEncoderConfig.head_pooling!r}.",
            "choices": POOLING_MODES,
        },
    )
    head_rnn_type: str | None = field(
        default=None,
        metadata={
            "help": f"Recurrent layer of the 'rnn' head: lstm or gru (unset: {StsCrossEncoderConfig.head_rnn_type!r}).",
            "choices": RNN_TYPES,
        },
    )
    head_rnn_hidden_size: int | None = field(
        default=None,
        metadata={"help": "Width of each direction of the 'rnn' head (default: half the backbone's hidden size)."},
    )
    pooling: str | None = field(
        default=None,
        metadata={
            "help": "Bi-encoder only: sentence embedding from the 'mean' of the tokens or 'cls' (unset: the "
            f"checkpoint's, else {StsBiEncoderConfig.pooling!r}).",
            "choices": POOLING_MODES,
        },
    )
    freeze_ratio: float = field(
        default=0.0,
        metadata={
            "help": "Freeze the backbone's embeddings and its bottom round(freeze_ratio * num_layers) layers, in "
            "[0, 1) (see the technique table in the docs)."
        },
    )

    freeze_embeddings: bool = field(
        default=False,
        metadata={
            "help": "Freeze the word embedding matrix alone (no gradient or optimizer state for it); position "
            "embeddings and every layer still train."
        },
    )

    use_lora: bool = field(
        default=False,
        metadata={"help": "Fine-tune with LoRA adapters (peft) on the backbone; the head trains in full."},
    )
    lora_r: int = field(default=16, metadata={"help": "LoRA rank r."})
    lora_alpha: float = field(
        default=32.0, metadata={"help": "LoRA alpha: the adapter update is scaled by alpha / r."}
    )
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the input of the LoRA adapters."})
    lora_target_modules: list[str] | None = field(
        default=None,
        metadata={
            "help": "Backbone modules that get adapters (default: the attention query/value projections of the "
            "backbone type, from peft's table)."
        },
    )
    lora_modules_to_save: list[str] | None = field(
        default=None,
        metadata={"help": "Modules trained in full and saved with the adapter (default: the cross-encoder's head)."},
    )
    save_adapter_only: bool = field(
        default=False,
        metadata={
            "help": "LoRA runs: write the adapter (not the merged model) to output_dir, so it is what gets pushed. "
            "The adapter is always also in output_dir/adapter."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if self.use_lora and self.freeze_ratio > 0:
            raise RecipeError(
                "`use_lora` and `freeze_ratio` both limit what trains; pick one: LoRA already freezes the backbone "
                "outside its adapters."
            )
        if self.use_lora and self.model_name_or_path is None:
            raise RecipeError(
                "`use_lora` adapts a pretrained encoder: set `model_name_or_path` (LoRA on a from-scratch backbone "
                "would leave its random weights frozen)."
            )
        if not self.use_lora and self.save_adapter_only:
            raise RecipeError("`save_adapter_only` applies to LoRA runs; set `use_lora` too.")
        if self.use_lora and (self.lora_r < 1 or not self.lora_alpha > 0 or not 0.0 <= self.lora_dropout < 1.0):
            raise RecipeError(
                f"LoRA needs `lora_r` >= 1, `lora_alpha` > 0 and `lora_dropout` in [0, 1), got {self.lora_r}, "
                f"{self.lora_alpha} and {self.lora_dropout}."
            )
        if not 0.0 <= self.freeze_ratio < 1.0:
            raise RecipeError(f"`freeze_ratio` must be in [0, 1), got {self.freeze_ratio}.")
        if self.head is not None:
            self.head = resolve_head_name(self.head)
        if self.head is not None and self.head not in HEADS:
            raise RecipeError(f"Unknown `head` {self.head!r}; registered heads: {sorted(HEADS)}.")
        head_keys = [key for key in HEAD_KEYS if getattr(self, key) is not None]
        if head_keys and self.architecture == "bi-encoder":
            raise RecipeError(
                f"{', '.join(f'`{key}`' for key in head_keys)}: a cross-encoder's head settings, but the architecture is "
                "'bi-encoder' (no head: it scores 5 x cosine; `pooling` sets its embedding). Unset them (`--head none`) "
                "or set `architecture: cross-encoder`."
            )
        if self.pooling is not None and self.architecture != "bi-encoder":
            raise RecipeError(
                "`pooling` is the bi-encoder's; a cross-encoder pools in its head: use `head: mean`, or "
                "`head: mlp` with `head_pooling`."
            )

    def head_config(self) -> dict[str, Any]:
        """The model-config settings this run sets: the prompt and cleaning steps, and the head settings of
        [`StsCrossEncoderConfig`] or the pooling of [`StsBiEncoderConfig`] that are not unset (unset ones take the
        config's defaults, or a checkpoint's own values)."""
        keys = ("pooling",) if self.architecture == "bi-encoder" else HEAD_KEYS
        return {key: getattr(self, key) for key in (*INPUT_KEYS, *keys) if getattr(self, key) is not None}


@dataclass
class DataArguments:
    """Which data to train, validate and predict on, and how to encode it.

    Data:
        train_file (`list[str]`, *optional*): one or more training files (a recipe may give one as a string), read
            and concatenated in order: the original data plus, say, the output of `hf-sts augment back-translate`.
        train_datasets (`dict`, *optional*): instead of `train_file`, several named training datasets, each with its
            own loss and `loss_weight` (see `hf_sts.data.triplets.TrainingDataset`): scored pairs, or NLI and
            triplet files for `mnrl`. Each batch comes from one dataset (`multi_dataset_batch_sampler`).
        validation_file / test_file (`str`, *optional*): CSV, TSV or JSON files in any format of
            `hf_sts.data.readers.READERS`; test files may lack labels.
        dataset_name / dataset_config_name / dataset_revision (`str`, *optional*): a `datasets` dataset, e.g.
            `klue` / `sts`, loaded with the run's `cache_dir` and `token`.

        validation_split_percentage (`float` in [0, 100), defaults to `5`): without a validation file, the share of
            the training pairs held out to validate on.
        max_train_samples / max_eval_samples (`int` >= 1, *optional*): use only the first pairs of the training /
            validation data (for quick runs and tests).

    Preprocessing:
        max_seq_length (`int` >= 1, defaults to `128`): pairs longer than this are truncated (longest sentence
            first).
        preprocessing_num_workers (`int`, *optional*): processes that tokenize the splits (`datasets.map`).
        add_swapped_pairs (`bool`, defaults to `False`): also train on every pair with its sentences swapped.
        undersample_bucket (`int`, *optional*), undersample_ratio (`float`, *optional*): keep a seeded random
            `undersample_ratio` of the training pairs whose integer label bucket is `undersample_bucket` (see
            `hf_sts.data.pairs.undersample`).

    Metrics:
        binary_threshold (`float`, *optional*): F1 compares the binary labels with `prediction >= binary_threshold`
            (and makes binary labels `label >= binary_threshold` where the data has none); unset, what the data's
            binary labels imply, else KLUE's 3.0 (see `hf_sts.data.checks.resolve_binary_threshold`).

    Cross-validation (see `hf_sts.training.cv.cross_validate`):
        num_folds (`int`, defaults to `0`, off), fold_strategy (`"stratified"` or `"kfold"`), fold_seed (`int`),
        cv_include_validation (`bool`).
    """

    dataset_name: str | None = field(
        default=None, metadata={"help": "Dataset on the Hub, loaded with datasets.load_dataset (e.g. klue)."}
    )
    dataset_config_name: str | None = field(
        default=None, metadata={"help": "Configuration of `dataset_name` (e.g. sts)."}
    )
    dataset_revision: str | None = field(
        default=None,
        metadata={
            "help": "Branch, tag or commit of `dataset_name` on the Hub (default: main). The run's `cache_dir` and "
            "`token` apply to the dataset as to the model."
        },
    )
    train_file: list[str] | None = field(
        default=None,
        metadata={
            "help": "Training data file(s) (.csv, .tsv, .json, .jsonl), concatenated in order: e.g. the original "
            "data and its back-translations from `hf-sts augment back-translate`. A recipe may give one as a string."
        },
    )
    train_datasets: dict | str | None = field(
        default=None,
        metadata={
            "help": "Several named training datasets, each with its own loss (instead of train_file): "
            '{"nli": {"train_file": "klue-nli.json", "loss": "mnrl"}, "sts": {"train_file": "train.csv"}}. An entry '
            "takes train_file (or dataset_name, dataset_config_name, split), loss (default: `loss` for scored pairs, "
            "mnrl for NLI or triplet files) and loss_weight; each batch comes from one dataset "
            "(multi_dataset_batch_sampler). See hf_sts.data.triplets."
        },
    )
    validation_file: str | None = field(
        default=None, metadata={"help": "Validation data file; eval_* metrics and eval_predictions.csv come from it."}
    )
    test_file: str | None = field(
        default=None, metadata={"help": "Test data file, labels optional; predictions go to submission.csv."}
    )
    validation_split_percentage: float = field(
        default=5,
        metadata={"help": "Percent of train held out for validation when no validation data is given (0 = none)."},
    )
    max_seq_length: int = field(
        default=DEFAULT_MAX_SEQ_LENGTH,
        metadata={
            "help": "Maximum tokens of a pair after tokenization; longer pairs are truncated. Batches are "
            "padded dynamically to their longest pair."
        },
    )
    add_swapped_pairs: bool = field(
        default=False,
        metadata={"help": "Also train on every training pair with sentence1 and sentence2 swapped."},
    )
    undersample_bucket: int | None = field(
        default=None,
        metadata={
            "help": "Integer label bucket (0..5: the floor of the label, 5.0 is bucket 5) to undersample in the "
            "training data (0, the dominant bucket of the competition data). Needs `undersample_ratio`.",
            "choices": tuple(range(6)),
        },
    )
    undersample_ratio: float | None = field(
        default=None,
        metadata={
            "help": "Share of the `undersample_bucket` training pairs kept, in (0, 1], drawn with `seed`; training "
            "data only (inside each fold's training part under `num_folds`)."
        },
    )
    binary_threshold: float | None = field(
        default=None,
        metadata={
            "help": "F1's threshold: a prediction (and, where the data has no binary labels, a label) at or above it "
            "is binary 1. Unset: what the data's binary labels imply (2.5 for the competition files), else KLUE's "
            "3.0. Recorded in all_results.json and the model card."
        },
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Truncate the training set to this many pairs (debugging, quick runs)."}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Truncate the validation set to this many pairs."}
    )
    preprocessing_num_workers: int | None = field(
        default=None, metadata={"help": "Processes for tokenization (datasets.map num_proc)."}
    )

    num_folds: int = field(
        default=0,
        metadata={
            "help": "Cross-validation: train one model per fold (0 = off, else >= 2); writes oof_predictions.csv "
            "and cv_results.json."
        },
    )
    fold_strategy: str = field(
        default="stratified",
        metadata={
            "help": "'stratified' (folds keep the share of each integer score bucket 0..5) or 'kfold'.",
            "choices": FOLD_STRATEGIES,
        },
    )
    fold_seed: int = field(default=42, metadata={"help": "Seed of the fold assignment."})
    cv_include_validation: bool = field(
        default=False,
        metadata={
            "help": "Pool the validation data with train before making folds (a competition setup: more training data per fold)."
        },
    )

    def __post_init__(self):
        if isinstance(self.train_file, str):
            self.train_file = [self.train_file]
        self._check_train_datasets()
        if self.train_file is not None and not self.train_file:
            raise RecipeError("`train_file` is an empty list; give one or more files, or leave it out.")
        if (self.undersample_bucket is None) != (self.undersample_ratio is None):
            given, missing = (
                ("undersample_bucket", "undersample_ratio")
                if self.undersample_ratio is None
                else ("undersample_ratio", "undersample_bucket")
            )
            raise RecipeError(f"`{given}` needs `{missing}`: set both to undersample a label bucket, or neither.")
        if self.undersample_ratio is not None and not 0 < self.undersample_ratio <= 1:
            raise RecipeError(
                f"`undersample_ratio` must be in (0, 1], the share of the bucket's pairs kept, got "
                f"{self.undersample_ratio}."
            )
        if self.binary_threshold is not None and not SCORE_MIN < self.binary_threshold <= SCORE_MAX:
            raise RecipeError(
                f"`binary_threshold` must be a score in ({SCORE_MIN}, {SCORE_MAX}], got {self.binary_threshold}."
            )
        if self.max_seq_length < 1:
            raise RecipeError(f"`max_seq_length` must be a number of tokens >= 1, got {self.max_seq_length}.")
        check_sample_limits(self, "pair")
        if self.num_folds == 1 or self.num_folds < 0:
            raise RecipeError(f"`num_folds` must be 0 (off) or at least 2, got {self.num_folds}.")
        if (
            self.dataset_name is None
            and self.train_file is None
            and self.test_file is None
            and not self.train_datasets
        ):
            raise RecipeError(
                "Give data: `train_file` or `train_datasets` (and `validation_file`, `test_file`), or `dataset_name`."
            )
        if not 0 <= self.validation_split_percentage < 100:
            raise RecipeError(
                f"`validation_split_percentage` must be in [0, 100), got {self.validation_split_percentage}."
            )

    def _check_train_datasets(self) -> None:
        """Read `train_datasets` (a JSON string from the command line becomes its object) and refuse what a
        multi-dataset run cannot combine with it, in one line."""
        if isinstance(self.train_datasets, str):
            try:
                self.train_datasets = json.loads(self.train_datasets)
            except json.JSONDecodeError as error:
                raise RecipeError(f"`train_datasets`: not a JSON object ({error.msg}).") from None
        if self.train_datasets is None:
            return
        training_datasets(self.train_datasets)  # each entry checked
        clashes = {
            "train_file": "list its files under one entry of `train_datasets`",
            "dataset_name": "name the dataset in an entry (`dataset_name`) and give a `validation_file`",
            "num_folds": "cross-validate a single training file",
            "add_swapped_pairs": "add the swapped pairs to a file of their own",
            "undersample_ratio": "undersample a single training file",
        }
        for key, advice in clashes.items():
            if getattr(self, key):
                raise RecipeError(f"`{key}` and `train_datasets` cannot be combined: {advice}.")


@dataclass
class BaseTrainingArguments(TrainingArguments):
    """`transformers.TrainingArguments` with the checks and machine defaults every hf_sts command that trains shares
    (`hf_sts/run.py` through [`StsTrainingArguments`], `hf-sts pretrain` through
    `hf_sts.pretraining.arguments.MlmTrainingArguments`).

    The machine decides `use_cpu`, `bf16`, `ddp_backend` and `dataloader_pin_memory` as
    `hf_sts.utils.hardware.machine_settings` says: `gloo` on the CPU for a distributed launch without CUDA, no pinned
    memory without an accelerator; `bf16: auto` (the CPU recipes') where bf16 is faster than fp32 on the machine (a
    timed probe on a CPU, said in one line), `bf16: true` on a CPU only where the CPU runs it natively (turned off
    with one warning elsewhere).

    Raises:
        RecipeError: for a batch size or accumulation below 1, a negative `warmup_steps`, an `output_dir` that is a
            file, `fp16` without CUDA, a `bf16` other than true, false or auto, or an `optim` whose package is missing.
    """

    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Replace the earlier hf_sts run in a non-empty output_dir (its files are deleted first). "
            "Without it, a non-empty output_dir is refused unless the run resumes (resume_from_checkpoint)."
        },
    )

    bf16: str = field(
        default="false",
        metadata={
            "help": "bf16 mixed precision: true, false, or auto: bf16 where it is faster than fp32 on the machine at "
            "hand (on a CPU, measured by a short timed probe of matmuls in both precisions; on CUDA, where the GPU "
            "supports bf16). See hf_sts.utils.hardware.native_bf16."
        },
    )

    hub_strategy: HubStrategy | str = field(
        default="end",
        metadata={
            "help": "Only 'end': with push_to_hub, hf_sts pushes the files a user loads once, at the end of the run "
            "(model, code, tokenizer, card, results), never checkpoints, optimizer states or training_args.bin."
        },
    )

    def __post_init__(self):
        strategy = getattr(self.hub_strategy, "value", self.hub_strategy)
        if strategy != "end":
            raise RecipeError(
                f"`hub_strategy` {strategy!r}: hf_sts pushes once, at the end of the run ('end'), the files a user "
                "loads; checkpoints are not pushed."
            )
        for key in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"):
            if getattr(self, key) < 1:
                raise RecipeError(f"`{key}` must be >= 1, got {getattr(self, key)}.")
        if self.warmup_steps < 0:
            raise RecipeError(f"`warmup_steps` must be >= 0 (a ratio below 1, else steps), got {self.warmup_steps}.")
        if self.output_dir is not None and os.path.isfile(self.output_dir):
            raise RecipeError(f"`output_dir` {self.output_dir!r} is a file; give a folder to write the run to.")
        try:
            self.bf16 = bf16_setting(self.bf16)
        except ValueError as error:
            raise RecipeError(str(error)) from None
        machine = machine_settings(self.use_cpu, self.bf16, self.ddp_backend)
        self.use_cpu, self.bf16, self.ddp_backend = machine.use_cpu, machine.bf16, machine.ddp_backend
        if machine.on_cpu:
            self.dataloader_pin_memory = False
        if machine.notice:
            logger.warning(machine.notice)
        if self.fp16 and not torch.cuda.is_available():
            raise RecipeError(
                "`fp16` needs a CUDA GPU and this machine has none: set `fp16` false (on a CPU with bf16 support, "
                "`bf16` true)."
            )
        super().__post_init__()
        from transformers import Trainer  # imported here: commands that only read the arguments never need it

        try:  # the optimizer's package, checked now rather than when training starts
            Trainer.get_optimizer_cls_and_kwargs(self)
        except ImportError as error:
            raise RecipeError(f"`optim` {self.optim.value!r}: {str(error).strip().splitlines()[0]}") from None


@dataclass
class StsTrainingArguments(BaseTrainingArguments):
    """[`BaseTrainingArguments`] (`transformers.TrainingArguments` with hf_sts' machine defaults) plus the loss of
    [`hf_sts.training.trainer.StsTrainer`].

    Loss:
        loss (`str`, defaults to `"mse"`): a name of `hf_sts.training.losses.LOSSES` or several joined by `+`
            (`"l1+huber"`, the best of the KLUE-STS competition code hf_sts started from).
        loss_weights (`list[float]`, *optional*): one weight per part of `loss`; all 1.0 when unset.
        huber_delta (`float`, defaults to `1.0`): where the Huber loss turns linear, in score units (> 0).
        cosent_scale (`float`, defaults to `20.0`): the inverse temperature of the CoSENT loss.
        mnrl_scale (`float`, defaults to `20.0`): the inverse temperature of the `mnrl` and `cached_mnrl` losses.
        mnrl_mini_batch_size (`int`, defaults to `32`): `cached_mnrl`: sentences embedded at once (GradCache).
        multi_dataset_batch_sampler (`str`, defaults to `"proportional"`): with `train_datasets`, the order of the
            datasets' batches: `"proportional"` or `"round_robin"` (sentence-transformers' samplers).
        wandb_project (`str`, *optional*): the wandb project when `report_to` includes `"wandb"`.

    Defaults that differ from `TrainingArguments`: `metric_for_best_model="pearson"` (so `greater_is_better` is
    true), `label_names=["labels", "binary_labels"]`, `eval_strategy="epoch"` and `save_strategy="epoch"`,
    `logging_strategy="epoch"`, `save_total_limit=1`, and `do_train` / `do_eval` / `do_predict` left unset, meaning
    "when that split is there" (false turns a step off).
    """

    loss: str = field(
        default="mse",
        metadata={
            "help": "Loss: l1, mse, huber, cosine, cosent, or parts joined by '+' such as l1+huber (weighted by "
            "loss_weights)."
        },
    )
    loss_weights: list[float] | None = field(
        default=None, metadata={"help": "One weight per part of `loss` (default: 1.0 each)."}
    )
    huber_delta: float = field(
        default=1.0, metadata={"help": "Delta of the Huber loss: quadratic below, linear above (score units)."}
    )
    cosent_scale: float = field(
        default=20.0, metadata={"help": "Inverse temperature of the CoSENT loss (sentence-transformers' default 20)."}
    )
    mnrl_scale: float = field(
        default=20.0,
        metadata={"help": "Inverse temperature of the mnrl loss's cosines (sentence-transformers' default 20)."},
    )
    mnrl_mini_batch_size: int = field(
        default=32,
        metadata={
            "help": "cached_mnrl: sentences embedded at once; the batch's memory is that of this many sentences "
            "(GradCache; sentence-transformers' mini_batch_size, default 32)."
        },
    )
    multi_dataset_batch_sampler: str = field(
        default="proportional",
        metadata={
            "help": "With train_datasets, which dataset each batch comes from (sentence-transformers' "
            "multi-dataset batch samplers): 'proportional' (every row of every dataset once per epoch, larger "
            "datasets more often) or 'round_robin' (one batch of each in turn, until the smallest runs out).",
            "choices": ("proportional", "round_robin"),
        },
    )
    wandb_project: str | None = field(
        default=None,
        metadata={"help": "wandb project of the run, with report_to wandb (run names come from run_name)."},
    )
    metric_for_best_model: str | None = field(
        default="pearson",
        metadata={"help": "Metric that picks the best checkpoint: pearson, spearmanr, f1, mse or mae."},
    )
    label_names: list[str] | None = field(
        default_factory=lambda: ["labels", "binary_labels"],
        metadata={"help": "Input keys holding the targets: the 0-5 scores and the binary labels for F1."},
    )
    eval_strategy: str = field(default="epoch", metadata={"help": "When to evaluate: 'no', 'steps' or 'epoch'."})
    save_strategy: str = field(
        default="epoch", metadata={"help": "When to save a checkpoint: 'no', 'steps', 'epoch', 'best'."}
    )
    logging_strategy: str = field(default="epoch", metadata={"help": "When to log: 'no', 'steps' or 'epoch'."})
    save_total_limit: int | None = field(
        default=1, metadata={"help": "Keep at most this many checkpoints in output_dir (the best is always kept)."}
    )
    do_train: bool | None = field(
        default=None, metadata={"help": "Train (default: when there is training data; false to skip)."}
    )
    do_eval: bool | None = field(
        default=None, metadata={"help": "Evaluate on the validation data (default: when there is some)."}
    )
    do_predict: bool | None = field(
        default=None, metadata={"help": "Predict the test data into submission.csv (default: with a test_file)."}
    )

    def __post_init__(self):
        super().__post_init__()
        try:
            loss = self.build_loss()
        except ValueError as error:  # a bad loss spec, named as the recipe names it
            raise RecipeError(str(error)) from None
        if getattr(loss, "uses_embeddings", False):
            raise RecipeError(
                f"`loss` {self.loss!r} reads sentence embeddings of triplets, but `loss` is the loss of scored pairs "
                "(and of eval_loss): name it for an NLI or triplet dataset of `train_datasets` instead."
            )

    def build_loss(self, loss: str | None = None) -> "torch.nn.Module":
        """The loss module `loss` names (default: these arguments' `loss`, weighted by `loss_weights`), with the
        arguments' options (`huber_delta`, `cosent_scale`, `mnrl_scale`, `mnrl_mini_batch_size`); see
        `hf_sts.training.losses.build_loss`.

        Raises:
            ValueError: on an unknown loss name or a `loss_weights` of the wrong length.
        """
        weights = self.loss_weights if loss is None or loss == self.loss else None
        return build_loss(
            self.loss if loss is None else loss,
            weights,
            huber_delta=self.huber_delta,
            cosent_scale=self.cosent_scale,
            mnrl_scale=self.mnrl_scale,
            mnrl_mini_batch_size=self.mnrl_mini_batch_size,
        )
