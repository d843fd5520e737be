"""The text of a pretraining run: the sentences of the STS training files, unlabeled sentences of other STS files where
the recipe opts in, and extra text files or a Hub dataset; deduplicated, with a held-out slice, and cut into blocks
(or kept line by line) by the tokenizer.
"""

import logging
import random
from dataclasses import dataclass
from typing import Any

import datasets

from hf_sts.data.readers import load_hub_dataset, read_sts_file, read_text_file
from hf_sts.data.tokenization import map_fingerprint
from hf_sts.errors import RecipeError
from hf_sts.models.sts.text_cleaning import clean_texts
from hf_sts.pretraining.arguments import MlmArguments


logger = logging.getLogger(__name__)


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


def read_corpus(args: MlmArguments, seed: int) -> Corpus:
    """Read, clean and deduplicate the run's text, and hold out `validation_split_percentage` of the distinct
    sentences (seeded shuffle); then keep the first `max_train_samples` / `max_eval_samples` of each part.

    Raises:
        hf_sts.errors.DataFormatError: for a missing or malformed file (named), or a Hub dataset that cannot be loaded.
        RecipeError: for a dataset without `text_column`, or text too small to hold a validation slice out of.
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
            batch_size=1000,
            remove_columns=["text"],
            num_proc=args.preprocessing_num_workers,
            new_fingerprint=map_fingerprint(dataset, tokenizer, line_by_line=args.line_by_line, block=block, wwm=wwm),
            desc="Tokenizing",
        )
