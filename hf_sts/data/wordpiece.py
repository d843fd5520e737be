"""A WordPiece tokenizer trained on the task's own sentences with the `tokenizers` library, for an encoder trained from
scratch (`model_type` + `config_overrides`, the convention of transformers' `run_mlm.py`) where no pretrained
tokenizer may be reachable; the vocabulary is the same in every process of a run.
"""

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    PreTrainedTokenizerFast,
)

from hf_sts.data.triplets import text_columns
from hf_sts.models.sts.text_cleaning import clean_texts


# SentencePiece's word-boundary mark, used while learning the WordPiece vocabulary.
_WORD_START = "\u2581"


SPECIAL_TOKENS = {
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "mask_token": "[MASK]",
}


def _learn_wordpiece_vocabulary(sentences: Iterable[str], vocab_size: int) -> list[str]:
    """The WordPiece pieces (special tokens excluded) of `train_wordpiece_tokenizer`, at most `vocab_size` less the
    special tokens: every character in both forms, then the pieces in the order BPE merged them."""
    specials = list(SPECIAL_TOKENS.values())
    learner = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk_token"]))
    learner.normalizer = normalizers.NFC()
    learner.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.BertPreTokenizer(), pre_tokenizers.Metaspace(prepend_scheme="always", split=False)]
    )
    learner.train_from_iterator(
        sentences, trainer=trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False)
    )
    learned_at: dict[str, int] = {}  # WordPiece piece -> the earliest BPE id it comes from (ids follow merge order)
    for piece, index in learner.get_vocab().items():
        if piece in specials or piece == _WORD_START:
            continue
        if piece.startswith(_WORD_START):
            names = [piece[1:]]
        else:
            names = ["##" + piece] + ([piece] if len(piece) == 1 else [])
        for name in names:
            learned_at[name] = min(index, learned_at.get(name, index))
    characters = sorted(name for name in learned_at if len(name.removeprefix("##")) == 1)
    merged = sorted(set(learned_at) - set(characters), key=lambda name: (learned_at[name], name))
    # The characters' second forms take the place of the last merges, so the vocabulary stays at `vocab_size`
    # (the first merges of a longer BPE run are the merges of a shorter one).
    return characters + merged[: max(vocab_size - len(specials) - len(characters), 0)]


def train_wordpiece_tokenizer(sentences: Iterable[str], vocab_size: int = 8000) -> PreTrainedTokenizerFast:
    """Train a BERT-style WordPiece tokenizer on `sentences`, the same one in every process.

    The same sentences always give the same vocabulary with the same ids (special tokens first, then sorted), in any
    process. `tokenizers`' own WordPiece trainer does not: it is a BPE trainer with the `##` continuation prefix and
    breaks ties between merges in hash-map order, which differs per process, so small corpora get a different
    vocabulary from run to run (huggingface/tokenizers#1794). Its plain BPE trainer is deterministic, so the pieces
    are learned by BPE with every word marked by a leading `▁` (SentencePiece's word-boundary mark) and then renamed
    to WordPiece's convention: `▁piece` (a word start) becomes `piece`, any other piece becomes `##piece`; every
    character is kept in both forms, so no word that was seen in training encodes to `[UNK]`.
    Encoding is WordPiece's greedy longest match. Normalisation is Unicode NFC only (no lower-casing, no accent
    stripping, which would decompose Hangul syllables); pre-tokenisation splits on whitespace and punctuation; pairs
    are encoded `[CLS] A [SEP] B [SEP]` with token type ids 0 and 1.

    Args:
        sentences: the training text, one sentence per item.
        vocab_size: the vocabulary size, special tokens included (larger only when the corpus has more distinct
            characters than that).

    Returns:
        A `transformers` fast tokenizer with the special tokens of `SPECIAL_TOKENS`.
    """
    specials = list(SPECIAL_TOKENS.values())
    ordered = specials + sorted(_learn_wordpiece_vocabulary(sentences, vocab_size))
    tokenizer = Tokenizer(
        models.WordPiece({token: i for i, token in enumerate(ordered)}, unk_token=SPECIAL_TOKENS["unk_token"])
    )
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
        **SPECIAL_TOKENS,
    )


def train_sentences(dataset, text_cleaning: list[str] | None = None) -> list[str] | None:
    """Every sentence of the training data `dataset` (`None` without one): both sentences of every pair, or of
    every training dataset of a dict of them (pairs or triplets), cleaned as the model will read them (the steps of
    `text_cleaning`): the text a from-scratch tokenizer is trained on."""
    if dataset is None:
        return None
    parts = dataset.values() if isinstance(dataset, dict) else [dataset]
    texts = [sentence for part in parts for column in text_columns(part) for sentence in part[column][:]]
    return clean_texts(texts, text_cleaning)
