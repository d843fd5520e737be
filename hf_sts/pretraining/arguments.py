"""The arguments of an `hf-sts pretrain` run (TAPT: masked-language-model pretraining on the task's own text,
Gururangan et al. 2020): [`MlmArguments`] (the encoder, the text, masking) and [`MlmTrainingArguments`]
(`hf_sts.training.arguments.BaseTrainingArguments` with the pretraining defaults).
"""

from dataclasses import dataclass, field

from hf_sts.errors import RecipeError
from hf_sts.training.arguments import BaseTrainingArguments, EncoderArguments, check_sample_limits


@dataclass
class MlmArguments(EncoderArguments):
    """The encoder to pretrain (the fields of `hf_sts.training.arguments.EncoderArguments`) and its text.

    Model:
        model_name_or_path, model_type, config_overrides, tokenizer_name, tokenizer_vocab_size, text_cleaning,
            cache_dir, model_revision, token, trust_remote_code: see `EncoderArguments`. A pretrained encoder saved
            without an MLM head (multilingual-e5-small) gets a new one.
        freeze_embeddings (`bool`, defaults to `False`): freeze the word embeddings (and so the output projection
            tied to them): most of a large-vocabulary encoder's parameters.
        sparse_prediction (`bool`, defaults to `True`): compute the MLM head on the masked positions only (see
            [`MlmTrainer`]).

    Text:
        train_file (`list[str]`): STS training files; both sentences of every pair (labels not read).
        unlabeled_file (`list[str]`): other STS files whose sentences are added without their labels: the opt-in to
            pretrain on validation or test text, recorded as such in the card.
        text_file (`list[str]`): extra text: `.txt` (one sentence per line) or tables with `sentence1`/`sentence2`,
            `premise`/`hypothesis` or `text` columns (see `hf_sts.data.readers.read_text_file`).
        dataset_name, dataset_config_name, text_column: a Hub dataset's `train` split, its `text_column` read.
        validation_split_percentage (`int`, defaults to `5`): the share of distinct sentences held out for
            `eval_loss` and perplexity.
        max_seq_length (`int`, defaults to `128`), line_by_line (`bool`, defaults to `False`): sentences are
            concatenated and cut into blocks of `max_seq_length` tokens (run_mlm.py's `group_texts`), or, with
            `line_by_line`, each is one example.
        mlm_probability (`float`, defaults to `0.15`), whole_word_mask (`bool`, defaults to `False`): the masking of
            `transformers.DataCollatorForLanguageModeling`.
    """

    freeze_embeddings: bool = field(
        default=False, metadata={"help": "Freeze the word embeddings (and the output projection tied to them)."}
    )
    sparse_prediction: bool = field(
        default=True, metadata={"help": "Compute the MLM head on the masked positions only (faster, same loss)."}
    )
    train_file: list[str] | None = field(
        default=None, metadata={"help": "STS training files: the sentences of their pairs (labels not read)."}
    )
    unlabeled_file: list[str] | None = field(
        default=None,
        metadata={"help": "Opt-in: STS validation/test files whose sentences are added, without labels."},
    )
    text_file: list[str] | None = field(
        default=None,
        metadata={"help": "Extra text: .txt (a sentence per line), KLUE-NLI JSON, KorSTS TSV, tables with `text`."},
    )
    dataset_name: str | None = field(default=None, metadata={"help": "Hub dataset of extra text (its train split)."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "Configuration of `dataset_name`."})
    text_column: str = field(default="text", metadata={"help": "The column of `dataset_name` holding the text."})
    validation_split_percentage: int = field(
        default=5, metadata={"help": "Percent of the distinct sentences held out for eval_loss and perplexity."}
    )
    max_seq_length: int = field(default=128, metadata={"help": "Tokens per block (or per sentence, line_by_line)."})
    line_by_line: bool = field(
        default=False, metadata={"help": "One example per sentence instead of blocks of concatenated sentences."}
    )
    mlm_probability: float = field(default=0.15, metadata={"help": "Share of the tokens masked."})
    whole_word_mask: bool = field(
        default=False, metadata={"help": "Mask every token of a word together (needs a fast tokenizer)."}
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Keep the first N training sentences (quick runs)."}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Keep the first N held-out sentences for eval_loss (quick runs)."}
    )
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "Processes for tokenizing."})

    def __post_init__(self):
        super().__post_init__()
        if not (self.train_file or self.unlabeled_file or self.text_file or self.dataset_name):
            raise RecipeError("Give text: `train_file`, `unlabeled_file`, `text_file` or `dataset_name`.")
        if not 0.0 < self.mlm_probability < 1.0:
            raise RecipeError(f"`mlm_probability` must be in (0, 1), got {self.mlm_probability}.")
        if not 0 <= self.validation_split_percentage < 100:
            raise RecipeError(
                f"`validation_split_percentage` must be in [0, 100), got {self.validation_split_percentage}."
            )
        if self.max_seq_length < 8:
            raise RecipeError(f"`max_seq_length` must be at least 8, got {self.max_seq_length}.")
        check_sample_limits(self, "sentence")

    def input_files(self) -> list[str]:
        """Every file the run reads (model, tokenizer, text), for the checks of `output_dir`."""
        named = [self.model_name_or_path, self.tokenizer_name]
        return [path for path in named if path] + [
            *(self.train_file or []),
            *(self.unlabeled_file or []),
            *(self.text_file or []),
        ]


@dataclass
class MlmTrainingArguments(BaseTrainingArguments):
    """[`hf_sts.training.arguments.BaseTrainingArguments`] for masked-language-model pretraining.

    Defaults that differ from `TrainingArguments`: `eval_strategy="epoch"` and `save_strategy="epoch"` (with a
    held-out slice), `save_total_limit=1`, `logging_steps=50`, `prediction_loss_only=True` (the eval metric is
    the loss, whose exponential is the perplexity) and `remove_unused_columns=False` (the collator reads
    `special_tokens_mask` and `offset_mapping`, which the model's forward does not take).
    """

    eval_strategy: str = field(default="epoch", metadata={"help": "When to evaluate: 'no', 'steps' or 'epoch'."})
    save_strategy: str = field(default="epoch", metadata={"help": "When to save a checkpoint."})
    save_total_limit: int | None = field(default=1, metadata={"help": "Keep at most this many checkpoints."})
    logging_steps: float = field(default=50, metadata={"help": "Log the loss every N steps."})
    prediction_loss_only: bool = field(default=True, metadata={"help": "Evaluate the loss only (perplexity)."})
    remove_unused_columns: bool = field(
        default=False,
        metadata={"help": "Keep the columns the collator reads (special_tokens_mask, offset_mapping); it pops them."},
    )


ARGUMENT_CLASSES = (MlmArguments, MlmTrainingArguments)
