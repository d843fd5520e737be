"""Masked-language-model pretraining on the task's own text: task-adaptive pretraining (TAPT).

    hf-sts pretrain recipes/tapt/multilingual_e5_small.json [--key value ...]
    accelerate launch hf_sts/pretrain.py recipes/tapt/multilingual_e5_small.json [--key value ...]

TAPT (Gururangan et al. 2020, "Don't Stop Pretraining: Adapt Language Models to Domains and Tasks") continues an
encoder's MLM training on the unlabeled sentences of the task before fine-tuning on its labels. This is transformers'
`examples/pytorch/language-modeling/run_mlm.py` on the Trainer, with hf_sts' data readers and recipes: the text is
the sentences of the STS training files (`train_file`), the unlabeled sentences of other STS files where the recipe
opts in (`unlabeled_file`: validation or test pairs, labels never read), and extra text (`text_file`: one sentence
per line, KLUE-NLI JSON, KorSTS TSV; `dataset_name`: a Hub dataset's `train` split). The start is a pretrained
encoder (`model_name_or_path`; an MLM head is added to one that has none, such as multilingual-e5-small) or a
from-scratch one (`model_type`, `config_overrides` and a WordPiece tokenizer trained on the text).

Outputs in `output_dir`: the `AutoModelForMaskedLM` model and its tokenizer (a folder `hf_sts/run.py` fine-tunes with
`--model_name_or_path output_dir`), `recipe.json`, `all_results.json` (`train_loss`, `eval_loss`, `perplexity`), the
card `README.md` (corpus and steps) and `corpus.json` (the text's sources and counts).
"""

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase, Trainer

from hf_sts.arguments import EncoderArguments, HfStsTrainingArguments, RecipeError, check_sample_limits
from hf_sts.data import load_hub_dataset, map_fingerprint, read_sts_file, read_text_file
from hf_sts.trainer import FinalPushMixin, scale_for_accumulation


logger = logging.getLogger("hf_sts.pretrain")

# Attributes that hold the position-wise MLM head of a transformers `*ForMaskedLM` model (BERT's `cls`, RoBERTa's and
# XLM-R's `lm_head`): the head sparse prediction feeds the masked positions only.
MLM_HEAD_ATTRIBUTES = ("cls", "lm_head")


@dataclass
class PretrainArguments(EncoderArguments):
    """The encoder to pretrain (the fields of `hf_sts.arguments.EncoderArguments`) and its text.

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
            `premise`/`hypothesis` or `text` columns (see `hf_sts.data.read_text_file`).
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
class PretrainingArguments(HfStsTrainingArguments):
    """[`hf_sts.arguments.HfStsTrainingArguments`] for masked-language-model pretraining.

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


ARGUMENT_CLASSES = (PretrainArguments, PretrainingArguments)


class MlmTrainer(FinalPushMixin, Trainer):
    """`transformers.Trainer` for masked-language modeling with sparse prediction: the MLM head (a position-wise
    module: dense, activation, norm, projection to the vocabulary) runs on the masked positions only, `(n_masked,
    hidden)` instead of `(batch, seq_len, hidden)`. With 15% of the tokens masked, that is about 7× fewer rows through
    the vocabulary projection, most of the cost of a large-vocabulary encoder (multilingual-e5-small: 250 k tokens;
    a training step 3.5× faster on a CPU). The loss is the same cross-entropy over the masked tokens. The method is
    ModernBERT's `sparse_prediction` (transformers' `ModernBertForMaskedLM`), here for any model whose head is one of
    `MLM_HEAD_ATTRIBUTES`; other models run their full forward.

    The forward still goes through the (possibly DDP-wrapped) model: a forward pre-hook on the head selects the
    masked rows. Normalisation: the summed loss over `num_items_in_batch` (the masked tokens of the accumulated
    batch, across processes with `average_tokens_across_devices`), as the Trainer counts them.

    With `push_to_hub`, the model is pushed once at the end (see `hf_sts.trainer.FinalPushMixin`).

    Args:
        sparse_prediction (`bool`, defaults to `True`): select the masked rows before the head.
        *args, **kwargs: as for `transformers.Trainer`.
    """

    def __init__(self, *args, sparse_prediction: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self._masked: torch.Tensor | None = None
        self._head = None
        if sparse_prediction:
            unwrapped = self.accelerator.unwrap_model(self.model)
            self._head = next(
                (getattr(unwrapped, name) for name in MLM_HEAD_ATTRIBUTES if hasattr(unwrapped, name)), None
            )
        if self._head is not None:
            self._head.register_forward_pre_hook(self._select_masked)
            self.model_accepts_loss_kwargs = True  # the Trainer counts the masked tokens as `num_items_in_batch`
        elif sparse_prediction:
            logger.info(
                "%s has no MLM head among %s: full prediction.", type(self.model).__name__, MLM_HEAD_ATTRIBUTES
            )

    def _select_masked(self, module: nn.Module, args: tuple) -> tuple | None:
        if self._masked is None:
            return None
        return (args[0][self._masked], *args[1:])

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The cross-entropy of the masked tokens (`labels` != -100), from the head's logits on those tokens only
        (`(n_masked, vocab_size)`), or the model's own loss without sparse prediction."""
        if self._head is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs.pop("labels")
        self._masked = labels != -100
        try:
            outputs = model(**inputs)
        finally:
            self._masked = None
        targets = labels[labels != -100]
        logits = outputs.logits.float()
        # A micro-batch in which nothing was masked contributes zero (not the NaN mean of no tokens).
        loss = nn.functional.cross_entropy(logits, targets) if targets.numel() else logits.sum() * 0.0
        if model.training:
            loss = scale_for_accumulation(self, loss, targets.numel(), num_items_in_batch)
        return (loss, outputs) if return_outputs else loss


@dataclass
class Corpus:
    """The text of a pretraining run: `train` and `validation` sentences (distinct, cleaned) and one record per
    source (`{"source", "kind", "sentences"}`) for the card."""

    train: list[str]
    validation: list[str]
    sources: list[dict[str, Any]]

    @property
    def total(self) -> int:
        """The sentences read, over every source, before cleaning and removing repeats."""
        return sum(source["sentences"] for source in self.sources)


def read_corpus(args: PretrainArguments, seed: int) -> Corpus:
    """Read, clean and deduplicate the run's text, and hold out `validation_split_percentage` of the distinct
    sentences (seeded shuffle); then keep the first `max_train_samples` / `max_eval_samples` of each part.

    Raises:
        hf_sts.data.DataFormatError: for a missing or malformed file (named), or a Hub dataset that cannot be loaded.
        RecipeError: for a dataset without `text_column`, or text too small to hold a validation slice out of.
    """
    import random

    from hf_sts.text_cleaning import clean_texts

    sources: list[tuple[str, str, list[str]]] = []
    files = [(path, "STS training pairs") for path in args.train_file or []]
    files += [(path, "unlabeled STS pairs (opt-in: validation or test text)") for path in args.unlabeled_file or []]
    for path, kind in files:
        pairs = read_sts_file(path, require_labels=False)
        sources.append((path, kind, pairs["sentence1"][:] + pairs["sentence2"][:]))
    for path in args.text_file or []:
        sources.append((path, "extra text", read_text_file(path)))
    if args.dataset_name:
        dataset = load_hub_dataset(
            args.dataset_name, args.dataset_config_name, split="train", cache_dir=args.cache_dir, token=args.token
        )
        if args.text_column not in dataset.column_names:
            raise RecipeError(
                f"`text_column` {args.text_column!r} is not a column of {args.dataset_name}: {dataset.column_names}."
            )
        sources.append((args.dataset_name, "extra text (Hub dataset)", dataset[args.text_column][:]))
    sentences = [text for _, _, texts in sources for text in texts]
    cleaned = [text for text in clean_texts(sentences, args.text_cleaning) if text.strip()]
    distinct = list(dict.fromkeys(cleaned))
    logger.info(
        "Pretraining text: %s sentences from %d sources, %s distinct%s.",
        f"{len(sentences):,}",
        len(sources),
        f"{len(distinct):,}",
        f" after cleaning ({', '.join(args.text_cleaning)})" if args.text_cleaning else "",
    )
    random.Random(seed).shuffle(distinct)
    held_out = len(distinct) * args.validation_split_percentage // 100
    if args.validation_split_percentage and held_out == 0:
        raise RecipeError(
            f"`validation_split_percentage` {args.validation_split_percentage} of {len(distinct)} distinct sentences "
            "holds out none: give more text or set it to 0."
        )
    validation, train = distinct[:held_out], distinct[held_out:]
    if args.max_train_samples is not None:
        train = train[: args.max_train_samples]
    if args.max_eval_samples is not None:
        validation = validation[: args.max_eval_samples]
    records = [{"source": name, "kind": kind, "sentences": len(texts)} for name, kind, texts in sources]
    return Corpus(train=train, validation=validation, sources=records)


def tokenize_text(sentences: list[str], tokenizer, args: PretrainArguments, training_args) -> datasets.Dataset:
    """Tokenize `sentences` for MLM, as run_mlm.py does: each sentence with its special tokens, then concatenated
    and cut into blocks of `max_seq_length` tokens (the last, shorter block dropped), or one example per sentence
    (truncated) with `line_by_line`. Rows carry `special_tokens_mask` (never masked) and, for whole-word masking,
    `offset_mapping` (where words start)."""
    wwm = args.whole_word_mask
    block = args.max_seq_length

    def encode(batch):
        encoded = tokenizer(
            batch["text"],
            truncation=args.line_by_line,
            max_length=block if args.line_by_line else None,
            padding="max_length" if args.line_by_line and wwm else False,
            return_special_tokens_mask=True,
            return_offsets_mapping=wwm,
        )
        if args.line_by_line:
            return dict(encoded)
        # run_mlm.py's `group_texts`: concatenate the batch, cut it into blocks.
        joined = {key: sum(values, []) for key, values in encoded.items()}
        length = len(joined["input_ids"]) // block * block
        return {key: [values[i : i + block] for i in range(0, length, block)] for key, values in joined.items()}

    dataset = datasets.Dataset.from_dict({"text": sentences})
    with training_args.main_process_first(desc="tokenizing the text"):
        return dataset.map(
            encode,
            batched=True,
            batch_size=1000,
            remove_columns=["text"],
            num_proc=args.preprocessing_num_workers,
            new_fingerprint=map_fingerprint(dataset, tokenizer, line_by_line=args.line_by_line, block=block, wwm=wwm),
            desc="Tokenizing",
        )


def check_tokenizer(args: PretrainArguments) -> PreTrainedTokenizerBase:
    """Check that the run's tokenizer (`tokenizer_name`, else `model_name_or_path`'s) can mask: it loads, has padding
    and mask tokens, and is fast where `whole_word_mask` needs its offsets. Returns it, for the run to use.

    Raises:
        RecipeError: one line naming the tokenizer and what it lacks.
    """
    from hf_sts.build import pretrained_tokenizer

    name = args.tokenizer_name or args.model_name_or_path
    tokenizer = pretrained_tokenizer(args)
    if tokenizer.mask_token is None:
        raise RecipeError(f"{name}: its tokenizer has no mask token, which masked-language modeling needs.")
    if args.whole_word_mask and not tokenizer.is_fast:
        raise RecipeError(f"{name}: `whole_word_mask` needs a fast tokenizer (word boundaries come from its offsets).")
    return tokenizer


def check_mlm_encoder(args: PretrainArguments) -> None:
    """What `prepare` checks of the model before anything is written: the from-scratch config of `model_type` and
    `config_overrides` can be built, or `model_name_or_path`'s config loads; and its type has a masked-LM class.

    Raises:
        RecipeError: one line naming the key or model and the problem (an hf_sts STS model, a decoder, a bad
            override).
    """
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    from hf_sts.build import pretrained_config, scratch_config

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


def build_mlm_model(args: PretrainArguments, tokenizer):
    """The `AutoModelForMaskedLM` to train: `model_name_or_path`'s, with a newly initialised MLM head (one line says
    so) where its checkpoint has none, or a from-scratch one of `model_type` sized for `tokenizer`.

    Raises:
        RecipeError: as [`check_mlm_encoder`], or when the weights cannot be loaded.
    """
    from transformers import AutoModelForMaskedLM

    from hf_sts.build import scratch_backbone_config
    from hf_sts.errors import checked_from_pretrained

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


@dataclass
class PretrainSetup:
    """A parsed pretraining recipe with its text read: the arguments, the effective recipe, the corpus, and the
    pretrained tokenizer the checks loaded (`None` for a from-scratch run)."""

    args: PretrainArguments
    training_args: PretrainingArguments
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
    from transformers import set_seed

    from hf_sts.arguments import parse_args, take_hub_token
    from hf_sts.build import check_output_dir, resolve_checkpoint, start_output_dir
    from hf_sts.cli import configure_logging
    from hf_sts.hardware import use_every_core

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
    replace_earlier_run = check_output_dir(training_args, args.input_files())
    corpus = read_corpus(args, training_args.seed)
    if not corpus.validation and training_args.eval_strategy != "no":
        raise RecipeError(
            f"eval_strategy={training_args.eval_strategy.value!r} needs held-out text: set "
            "`validation_split_percentage` > 0, or `eval_strategy` to 'no'."
        )
    if check_only:
        return None
    start_output_dir(training_args, recipe, replace_earlier_run)
    return PretrainSetup(args, training_args, recipe, corpus, tokenizer)


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the pretraining recipe `argv` (`[RECIPE.json] [--key value ...]`, default `sys.argv[1:]`): the model
    trained on the text, saved with its tokenizer, evaluated on the held-out sentences, and carded.

    Returns:
        The metrics written to `all_results.json`: `train_loss`, `eval_loss`, `perplexity` (with a held-out slice),
        the step and sentence counts, and the Trainer's runtime figures.

    Raises:
        hf_sts.errors.HfStsError: for a bad recipe, override or text file (one line; nothing written).
    """
    from transformers import DataCollatorForLanguageModeling

    from hf_sts.build import freeze_word_embeddings, load_tokenizer

    setup = prepare(argv)
    args, training_args, corpus = setup.args, setup.training_args, setup.corpus
    tokenizer = load_tokenizer(args, training_args, corpus.train, setup.tokenizer)
    model = build_mlm_model(args, tokenizer)
    if args.freeze_embeddings:
        freeze_word_embeddings(model)
    train_dataset = tokenize_text(corpus.train, tokenizer, args, training_args)
    eval_dataset = tokenize_text(corpus.validation, tokenizer, args, training_args) if corpus.validation else None
    # Whole-word masking replaces every selected word with the mask token (transformers does not support random
    # replacement there, and would say so in a warning); token masking keeps BERT's 80/10/10.
    replace = {"mask_replace_prob": 1.0, "random_replace_prob": 0.0} if args.whole_word_mask else {}
    collator = DataCollatorForLanguageModeling(
        tokenizer,
        mlm_probability=args.mlm_probability,
        whole_word_mask=args.whole_word_mask,
        seed=training_args.seed,
        **replace,
    )
    trainer = MlmTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        data_collator=collator,
        sparse_prediction=args.sparse_prediction,
    )
    train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model()
    trainer.save_state()
    metrics = {
        **train_result.metrics,
        "train_steps": trainer.state.global_step,
        "train_sentences": len(corpus.train),
        "train_blocks": len(train_dataset),
    }
    if eval_dataset is not None:
        eval_metrics = trainer.evaluate()
        eval_metrics["perplexity"] = math.exp(min(eval_metrics["eval_loss"], 700.0))
        eval_metrics["eval_sentences"] = len(corpus.validation)
        trainer.log_metrics("eval", eval_metrics)
        metrics.update(eval_metrics)
    trainer.save_metrics("all", metrics, combined=False)
    if trainer.is_world_process_zero():
        from hf_sts.model_card import write_pretraining_card

        Path(training_args.output_dir, "corpus.json").write_text(
            json.dumps({"sources": corpus.sources, "total": corpus.total}, indent=2, ensure_ascii=False),
            encoding="utf-8",
        )
        write_pretraining_card(training_args.output_dir)
    if training_args.push_to_hub:
        trainer.push_to_hub()
    return metrics


def cli(argv: list[str] | None = None) -> None:
    """Run `main`, turning a bad recipe, override or text file into one line on stderr and exit status 2."""
    from hf_sts.errors import exit_on_error

    with exit_on_error():
        main(argv)


if __name__ == "__main__":
    cli()
