"""The text of a pretraining run: the sentences of the STS training files, unlabeled sentences of other STS files where
the recipe opts in, and extra text files or a Hub dataset; deduplicated, with a held-out slice, and cut into blocks
(or kept line by line) by the tokenizer; and the check that each part gives at least one example.
"""

import logging
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import datasets
from tokenizers import pre_tokenizers
from transformers import AutoTokenizer

from hf_sts.data.readers import load_hub_dataset, read_sts_file, read_text_file
from hf_sts.data.tokenization import map_fingerprint
from hf_sts.data.wordpiece import train_wordpiece_tokenizer
from hf_sts.errors import DataFormatError, RecipeError
from hf_sts.models.sts.text_cleaning import clean_texts
from hf_sts.pretraining.arguments import MlmArguments


logger = logging.getLogger(__name__)


# Sentences tokenized together: `tokenize_text` cuts the tokens of each such batch into blocks on its own (run_mlm.py).
TOKENIZE_BATCH = 1000


@dataclass
class Corpus:
    """The text of a pretraining run: `train` and `validation` sentences (distinct, cleaned), one record per source
    (`{"source", "kind", "sentences"}`) for the card, and the count of distinct sentences the two parts come from."""

    train: list[str]
    validation: list[str]
    sources: list[dict[str, Any]]
    distinct: int = 0

    @property
    def total(self) -> int:
        """The sentences read, over every source, before cleaning and removing repeats."""
        return sum(source["sentences"] for source in self.sources)


def read_corpus(args: MlmArguments, seed: int) -> Corpus:
    """Read, clean and deduplicate the run's text, and hold out `validation_split_percentage` of the distinct
    sentences (seeded shuffle); then keep the first `max_train_samples` / `max_eval_samples` of each part.

    Raises:
        hf_sts.errors.DataFormatError: for a missing, malformed or empty file (named), or a Hub dataset that cannot be
            loaded or whose `text_column` holds no text.
        RecipeError: for a dataset without `text_column`, or text that `text_cleaning` empties entirely. (Text too
            small to hold a validation slice out of is [`check_corpus`]'s to refuse.)
    """
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
        texts = [text if isinstance(text, str) else "" for text in dataset[args.text_column][:]]
        if not any(text.strip() for text in texts):
            raise DataFormatError(f"{args.dataset_name}: its `{args.text_column}` column holds no text.")
        sources.append((args.dataset_name, "extra text (Hub dataset)", texts))
    sentences = [text for _, _, texts in sources for text in texts]
    cleaned = [text for text in clean_texts(sentences, args.text_cleaning) if text.strip()]
    distinct = list(dict.fromkeys(cleaned))
    if not distinct:  # every source has text (the readers refuse one without): the cleaning removed all of it
        raise RecipeError(
            f"`text_cleaning` {args.text_cleaning} leaves no text of {', '.join(name for name, _, _ in sources)}: "
            "give other steps, or other text."
        )
    logger.info(
        "Pretraining text: %s sentences from %d sources, %s distinct%s.",
        f"{len(sentences):,}",
        len(sources),
        f"{len(distinct):,}",
        f" after cleaning ({', '.join(args.text_cleaning)})" if args.text_cleaning else "",
    )
    random.Random(seed).shuffle(distinct)
    held_out = len(distinct) * args.validation_split_percentage // 100
    validation, train = distinct[:held_out], distinct[held_out:]
    if args.max_train_samples is not None:
        train = train[: args.max_train_samples]
    if args.max_eval_samples is not None:
        validation = validation[: args.max_eval_samples]
    records = [{"source": name, "kind": kind, "sentences": len(texts)} for name, kind, texts in sources]
    return Corpus(train=train, validation=validation, sources=records, distinct=len(distinct))


def _first_block(sentences: list[str], count_tokens: Callable[[list[str]], int], block: int) -> tuple[bool, int]:
    """Whether [`tokenize_text`] cuts at least one block of `block` tokens out of `sentences` (it cuts the tokens of
    each `TOKENIZE_BATCH` sentences on their own), and the tokens counted: all of them where it cuts none."""
    total = 0
    for start in range(0, len(sentences), TOKENIZE_BATCH):
        tokens = count_tokens(sentences[start : start + TOKENIZE_BATCH])
        total += tokens
        if tokens >= block:
            return True, total
    return False, total


def _fewest_wordpiece_tokens(sentences: list[str]) -> int:
    """A lower bound of the tokens a WordPiece tokenizer of `train_wordpiece_tokenizer` gives `sentences`, without
    training it: each sentence's words and punctuation marks, one token at least each, and `[CLS]` and `[SEP]`."""
    words = pre_tokenizers.BertPreTokenizer()
    return sum(len(words.pre_tokenize_str(unicodedata.normalize("NFC", text))) + 2 for text in sentences)


def check_corpus(corpus: Corpus, args: MlmArguments, tokenizer=None, checkpoint: str | None = None) -> None:
    """Refuse text that gives the run nothing to train or evaluate on, before anything is written: training text (or
    a held-out slice) with fewer tokens than one block of `max_seq_length` (the sampler would fail on zero
    examples), or a `validation_split_percentage` that holds out no sentence. With `line_by_line` every sentence is
    an example, so the training text is never too short.

    Args:
        corpus: the text, from [`read_corpus`].
        args: the run's arguments (`max_seq_length`, `line_by_line`, `validation_split_percentage`, ...).
        tokenizer: the pretrained tokenizer of the run; `None` for a from-scratch one, whose WordPiece tokenizer is
            trained here on the training text only where a count without it (every word one token) is not enough.
        checkpoint: the checkpoint a from-scratch run resumes from, whose tokenizer it uses.

    Raises:
        RecipeError: naming the text's sources, the tokens they hold and the tokens one block needs (or the empty
            held-out slice), and what to change.
    """
    names = ", ".join(str(source["source"]) for source in corpus.sources)
    block = args.max_seq_length
    parts = [("train", corpus.train, args.max_train_samples), ("validation", corpus.validation, args.max_eval_samples)]
    exact = None if tokenizer is None else _token_counter(tokenizer)
    for part, sentences, limit in [] if args.line_by_line else parts:
        if not sentences:  # no held-out slice: refused below where one was asked for
            continue
        found, tokens = _first_block(sentences, exact or _fewest_wordpiece_tokens, block)
        if not found and exact is None:
            scratch = AutoTokenizer.from_pretrained(checkpoint) if checkpoint else None
            exact = _token_counter(scratch or train_wordpiece_tokenizer(corpus.train, args.tokenizer_vocab_size))
            found, tokens = _first_block(sentences, exact, block)
        if found:
            continue
        limited = f" (`{'max_train_samples' if part == 'train' else 'max_eval_samples'}` {limit})" if limit else ""
        if part == "train":
            what = f"the {len(sentences):,} training sentence(s){limited}"
            fix = "so there is nothing to train on: give more text, a smaller `max_seq_length`, or `line_by_line` true"
        else:
            what = (
                f"the {len(sentences):,} held-out sentence(s) (`validation_split_percentage` "
                f"{args.validation_split_percentage}){limited}"
            )
            fix = (
                "so there is nothing to evaluate on: raise `validation_split_percentage`, give more text or a smaller "
                "`max_seq_length`, or set `validation_split_percentage` 0 and `eval_strategy` 'no'"
            )
        if tokens < block:
            raise RecipeError(
                f"{names}: {what} hold {tokens:,} tokens, fewer than the {block} that one block of `max_seq_length` "
                f"needs, {fix}."
            )
        raise RecipeError(
            f"{names}: {what} hold {tokens:,} tokens, but blocks are cut from {TOKENIZE_BATCH:,} sentences at a time "
            f"and no {TOKENIZE_BATCH:,} of them hold the {block} that one block of `max_seq_length` needs, {fix}."
        )
    if args.validation_split_percentage and not corpus.validation:
        raise RecipeError(
            f"{names}: `validation_split_percentage` {args.validation_split_percentage} of the {corpus.distinct:,} "
            "distinct sentences holds out none: give more text, a larger percentage, or set it to 0 (and "
            "`eval_strategy` 'no')."
        )


def _token_counter(tokenizer) -> Callable[[list[str]], int]:
    """The tokens `tokenizer` gives a batch of sentences, each with its special tokens, as [`tokenize_text`] does."""
    return lambda sentences: sum(len(ids) for ids in tokenizer(sentences)["input_ids"])


def tokenize_text(sentences: list[str], tokenizer, args: MlmArguments, training_args) -> datasets.Dataset:
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
            batch_size=TOKENIZE_BATCH,
            remove_columns=["text"],
            num_proc=args.preprocessing_num_workers,
            new_fingerprint=map_fingerprint(dataset, tokenizer, line_by_line=args.line_by_line, block=block, wwm=wwm),
            desc="Tokenizing",
        )
