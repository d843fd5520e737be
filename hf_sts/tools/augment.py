"""Data augmentation: back-translation with a cosine filter (`hf-sts augment back-translate`).

    hf-sts augment back-translate --input train.csv --output aug.csv \
        --forward_model Helsinki-NLP/opus-mt-ko-en --backward_model Helsinki-NLP/opus-mt-tc-big-en-ko \
        --filter_model intfloat/multilingual-e5-small --prompt "query: " --min_cosine 0.9
    hf-sts augment back-translate ... --model facebook/m2m100_418M --source_lang ko --pivot_lang en
    hf-sts augment back-translate ... --translation_columns bt_1 bt_2     # translations made elsewhere (Papago, ...)

Back-translation (Sennrich et al. 2016, "Improving Neural Machine Translation Models with Monolingual Data")
paraphrases a sentence by translating it into a pivot language and back: Korean -> English -> Korean here. Each
training pair `(sentence1, sentence2, label)` gives a new pair `(bt1, bt2, label)` with the same label. A
back-translation can drift from the original's meaning, and the label would then be wrong, so a pair is kept only
when both back-translated sentences stay close to their originals: `cos(e(sentence1), e(bt1)) >= min_cosine` and
`cos(e(sentence2), e(bt2)) >= min_cosine`, `e` a sentence-embedding model (the filter). This is the competition code's
method, "back-translation with a cosine filter": the team's competition code kept pairs at cosine >= 0.9, its best
threshold among 0.7-1.0, for +0.03 dev Pearson. That gain is theirs; it could not be measured here (no translation
model is available offline on the machines this package was built on).

Translation models (`transformers` sequence-to-sequence models, `AutoModelForSeq2SeqLM`, a Hub id or a local folder):

- two single-direction models, `--forward_model` (source -> pivot) and `--backward_model` (pivot -> source), e.g.
  `Helsinki-NLP/opus-mt-ko-en` and `Helsinki-NLP/opus-mt-tc-big-en-ko` (Marian models; their tokenizer needs the
  `sentencepiece` package);
- or one multilingual model, `--model`, with language codes: `facebook/m2m100_418M` (codes `ko`, `en`; its tokenizer
  needs `sentencepiece` too) or an NLLB model (codes `kor_Hang`, `eng_Latn`). The source language is set on the
  tokenizer (`tokenizer.src_lang`) and the target language forced as the first generated token
  (`forced_bos_token_id`: `tokenizer.get_lang_id(code)` for M2M100, `tokenizer.convert_tokens_to_ids(code)` else).

Licences, as the model cards state them to the best of our knowledge (not verified online: this package was
written without network access; check the cards before redistributing outputs): the Helsinki-NLP opus-mt models
(`Helsinki-NLP/opus-mt-ko-en`, `Helsinki-NLP/opus-mt-tc-big-en-ko`) are CC-BY 4.0; `facebook/m2m100_418M` is MIT.
NLLB models are CC-BY-NC 4.0 (non-commercial). Translations made with a web service (Papago, Google Translate) fall
under that service's terms; give them as `--translation_columns`.

Sentences are translated once each (many STS sentences occur in several pairs), sorted by length into batches so
little compute goes to padding, decoded with `model.generate` under `torch.inference_mode`, and put back in input
order. The translations are appended to a side file next to the output, `OUTPUT.partial.jsonl` (one JSON line per
sentence and direction, flushed after each batch), so a run that is interrupted and started again with the same
arguments skips what is done; the side file is deleted once the output is written. The output is written to a
temporary file and renamed, so there is never a partial output file.

The filter model: a sentence-transformers model (a folder or Hub id with `modules.json`, embedded with
`SentenceTransformer.encode`), an hf_sts bi-encoder checkpoint, or a plain encoder (mean pooling by default, with a
prompt: multilingual-e5 wants `"query: "`), the last two loaded with `hf_sts.inference.loading.load_model`.

The output is a competition CSV (`hf_sts.data.readers`'s `competition` format), the augmented pairs only: `id`
(`{original id}-bt`), `source` (`{original source}-bt`), `sentence_1`, `sentence_2` (the back-translations), `label`
and `binary-label` (the original pair's; `binary-label` only where the input has binary labels), then the provenance
columns `original_id`, `cosine_1`, `cosine_2`. Train on the original and the augmented file together.
"""

import functools
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from huggingface_hub import hf_hub_download
from tqdm.auto import tqdm
from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer, DataCollatorWithPadding

from hf_sts.data.readers import read_sts_file, read_table
from hf_sts.data.tokenization import length_sorted_batches
from hf_sts.errors import (
    AugmentError,
    HfStsError,
    ModelLoadError,
    check_local_weights,
    checked_from_pretrained,
    first_line,
)
from hf_sts.inference.loading import load_model
from hf_sts.models.sts.configuration_sts import StsCrossEncoderConfig
from hf_sts.models.sts.modeling_sts import StsBiEncoderModel, apply_prompt
from hf_sts.utils.hardware import resolve_device
from hf_sts.utils.write_guard import atomic_output, check_output


DEFAULT_MIN_COSINE = 0.9  # the team's best threshold among 0.7-1.0
DEFAULT_SOURCE_LANG = "ko"  # M2M100's codes; NLLB's are kor_Hang / eng_Latn
DEFAULT_PIVOT_LANG = "en"
AUGMENTED_SUFFIX = "-bt"  # appended to the original pair's id and source


def partial_path(output_file: str | Path) -> Path:
    """The side file that caches the translations of a run writing `output_file`: `OUTPUT.partial.jsonl`."""
    output_file = Path(output_file)
    return output_file.with_name(output_file.name + ".partial.jsonl")


@dataclass
class Translator:
    """One translation direction: a sequence-to-sequence model (eval mode), its tokenizer and how it decodes.

    Attributes:
        model: a `transformers` model with `generate` (an `AutoModelForSeq2SeqLM`).
        tokenizer: its tokenizer.
        name (`str`): the model's folder or Hub id, for messages.
        source_lang (`str`, *optional*): for a multilingual model, the code set as `tokenizer.src_lang` before
            each batch (one model can serve both directions).
        forced_bos_token_id (`int`, *optional*): for a multilingual model, the target language's token, forced as
            the first generated token.
        max_length (`int`): tokens per input sentence (longer ones are truncated) and per translation.
        num_beams (`int`, *optional*): beam search width; `None`: the model's generation config (greedy without one).
    """

    model: torch.nn.Module
    tokenizer: object
    name: str
    source_lang: str | None = None
    forced_bos_token_id: int | None = None
    max_length: int = 128
    num_beams: int | None = None

    def translate_batch(self, texts: list[str]) -> list[str]:
        """Translate one batch of `n` sentences: `n` translations, in order, line breaks folded into spaces."""
        if self.source_lang is not None:
            self.tokenizer.src_lang = self.source_lang
        encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        device = next(self.model.parameters()).device
        inputs = {key: encoded[key].to(device) for key in ("input_ids", "attention_mask") if key in encoded}
        options = {"max_new_tokens": self.max_length, "do_sample": False}
        if self.num_beams is not None:
            options["num_beams"] = self.num_beams
        if self.forced_bos_token_id is not None:
            options["forced_bos_token_id"] = self.forced_bos_token_id
        with torch.inference_mode():
            generated = self.model.generate(**inputs, **options)
        return [_one_line(text) for text in self.tokenizer.batch_decode(generated, skip_special_tokens=True)]


def _one_line(text: str) -> str:
    """`text` stripped, line breaks folded into spaces (a line break inside a CSV field reads as a broken row)."""
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()


def _load_tokenizer(name: str, **hub_kwargs):
    try:
        return checked_from_pretrained(AutoTokenizer, name, AugmentError, **hub_kwargs)
    except ImportError as failure:  # e.g. a Marian or M2M100 tokenizer without sentencepiece
        reason = re.split(r"(?<=\.)\s", str(failure).strip(), maxsplit=1)[0].replace("\n", " ")
        hint = " (`pip install sentencepiece`)" if "sentencepiece" in reason.lower() else ""
        raise AugmentError(f"{name}: cannot load its tokenizer: {reason}{hint}") from None


def language_token_id(tokenizer, code: str, name: str) -> int:
    """The token id of the language `code` in a multilingual tokenizer: `tokenizer.get_lang_id(code)` for M2M100,
    `tokenizer.convert_tokens_to_ids(code)` otherwise (NLLB's `kor_Hang`, mBART-50's `ko_KR`).

    Raises:
        AugmentError: naming the model `name` when its tokenizer has no such code.
    """
    if hasattr(tokenizer, "get_lang_id"):
        try:
            return tokenizer.get_lang_id(code)
        except KeyError:
            pass
    else:
        token_id = tokenizer.convert_tokens_to_ids(code)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
            return token_id
    raise AugmentError(
        f"{name}: its tokenizer has no language code {code!r} (M2M100 takes codes such as 'ko' and 'en', NLLB "
        "'kor_Hang' and 'eng_Latn'); a single-direction model goes in --forward_model / --backward_model."
    )


def load_translation_model(name: str, device: str | None = None, **hub_kwargs):
    """`(model, tokenizer)` of the sequence-to-sequence model `name` (a folder or Hub id), in eval mode on `device`
    (default: CUDA when there is one).

    Raises:
        AugmentError: one line naming `name`, for a model that cannot be loaded, is not a sequence-to-sequence model,
            or whose tokenizer needs a package that is not installed; or naming `device`, when this machine has no
            such device.
    """
    path = Path(name)
    if path.exists() and not path.is_dir():
        raise AugmentError(f"{path}: a model is a folder (or a Hub id), not a file.")
    device = resolve_device(device, AugmentError)
    config = checked_from_pretrained(AutoConfig, name, AugmentError, **hub_kwargs)
    check_local_weights(name, AugmentError)
    tokenizer = _load_tokenizer(name, **hub_kwargs)
    try:
        model = AutoModelForSeq2SeqLM.from_pretrained(name, **hub_kwargs)
    except ValueError:  # "Unrecognized configuration class ... for this kind of AutoModel"
        raise AugmentError(
            f"{name}: a {config.model_type} model, not a sequence-to-sequence translation model "
            "(AutoModelForSeq2SeqLM: Marian, M2M100, NLLB, mBART, T5, ...)."
        ) from None
    return model.to(device).eval(), tokenizer


def translate_sentences(
    sentences: list[str],
    translator: Translator,
    batch_size: int = 32,
    cache: dict[str, str] | None = None,
    on_batch=None,
    show_progress_bar: bool = True,
    description: str = "Translating",
) -> list[str]:
    """Translate `sentences` with `translator`: each distinct sentence once, longest first (by characters) in batches
    of `batch_size`, returned in input order.

    Args:
        sentences (`list[str]`): `n` sentences, repeats allowed.
        translator: the model and direction, see [`Translator`].
        cache (`dict[str, str]`, *optional*): translations already made (sentence -> translation); those sentences
            are not translated again, and the new translations are added to it.
        on_batch (*optional*): called as `on_batch(sentences, translations)` after each batch (to save progress).

    Returns:
        `list[str]` of length `n`: the translation of each sentence, in input order.
    """
    cache = {} if cache is None else cache
    pending = sorted({sentence for sentence in sentences if sentence not in cache}, key=lambda text: -len(text))
    with tqdm(total=len(pending), desc=description, unit="sentence", disable=not show_progress_bar) as progress:
        for start in range(0, len(pending), batch_size):
            batch = pending[start : start + batch_size]
            translations = translator.translate_batch(batch)
            cache.update(zip(batch, translations, strict=True))
            if on_batch is not None:
                on_batch(batch, translations)
            progress.update(len(batch))
    return [cache[sentence] for sentence in sentences]


class _TranslationCache:
    """The side file of a run: a header line with the translation settings, then one line per translated sentence,
    `{"direction": ..., "source": ..., "translation": ...}`, appended and flushed batch by batch."""

    def __init__(self, path: Path, settings: dict):
        self.path = path
        self.settings = settings
        self._file = None

    def load(self) -> dict[str, dict[str, str]]:
        """The cached translations per direction; an empty cache when there is no side file.

        Raises:
            AugmentError: when the side file was written under other translation settings.
        """
        translations: dict[str, dict[str, str]] = {"forward": {}, "backward": {}}
        if not self.path.is_file():
            return translations
        text = self.path.read_text(encoding="utf-8")
        complete = text[: text.rfind("\n") + 1]  # a line cut short by an interruption is dropped
        if complete != text:
            with open(self.path, "r+", encoding="utf-8") as file:
                file.truncate(len(complete.encode("utf-8")))
        lines = complete.splitlines()
        if not lines:
            return translations
        entries = []
        for number, line in enumerate(lines, start=1):
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                raise AugmentError(
                    f"{self.path}: line {number} is not JSON; not a side file of this command, or damaged: delete it "
                    "to start over."
                ) from None
        header = entries[0].get("settings") if isinstance(entries[0], dict) else None
        if not isinstance(header, dict):
            raise AugmentError(
                f"{self.path}: no settings line; not a side file of this command: delete it or move it."
            )
        if header != self.settings:
            changed = sorted(key for key in {**header, **self.settings} if header.get(key) != self.settings.get(key))
            raise AugmentError(
                f"{self.path}: translations cached by an interrupted run with other settings ({', '.join(changed)}: "
                f"{[header.get(key) for key in changed]} then, {[self.settings.get(key) for key in changed]} now); "
                "rerun with the same arguments to resume, or delete the file to start over."
            )
        for entry in entries[1:]:
            translations[entry["direction"]][entry["source"]] = entry["translation"]
        return translations

    def append(self, direction: str, sources: list[str], translations: list[str]) -> None:
        if self._file is None:
            new = not self.path.is_file() or self.path.stat().st_size == 0
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in `close`)
            if new:
                self._file.write(json.dumps({"settings": self.settings}, ensure_ascii=False) + "\n")
        for source, translation in zip(sources, translations, strict=True):
            entry = {"direction": direction, "source": source, "translation": translation}
            self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class SentenceEncoder:
    """A sentence-embedding model for the cosine filter. `embed(texts, batch_size)` gives `(n, dim)` float32
    embeddings of unit length, in input order; `description` says what the model is."""

    description: str

    def embed(self, texts: list[str], batch_size: int = 32, show_progress_bar: bool = True) -> np.ndarray:
        raise NotImplementedError


class _SentenceTransformersEncoder(SentenceEncoder):
    def __init__(self, model, prompt: str | None, description: str):
        self.model, self.prompt, self.description = model, prompt, description

    def embed(self, texts, batch_size=32, show_progress_bar=True):
        embeddings = self.model.encode(
            list(texts),
            prompt=self.prompt,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(embeddings, dtype=np.float32)


class _BiEncoder(SentenceEncoder):
    """An hf_sts bi-encoder (or a plain encoder wrapped as one): its prompt and text cleaning, then `model.encode`."""

    def __init__(self, model, tokenizer, max_length: int, description: str):
        self.model, self.tokenizer, self.max_length, self.description = model, tokenizer, max_length, description

    def embed(self, texts, batch_size=32, show_progress_bar=True):
        # The text as the model reads it (cleaning, prompt), each sentence tokenized once.
        config = self.model.config
        texts = apply_prompt(list(texts), config.prompt, config.text_cleaning)
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_length)
        collate = DataCollatorWithPadding(self.tokenizer)
        device = next(self.model.parameters()).device
        embeddings = None
        with torch.inference_mode():
            for rows, batch in length_sorted_batches(
                encoded, collate, batch_size, device, "Embedding", show_progress_bar
            ):
                vectors = self.model.encode(**batch)
                if embeddings is None:
                    embeddings = np.empty((len(texts), vectors.shape[-1]), dtype=np.float32)
                embeddings[rows] = torch.nn.functional.normalize(vectors.float(), dim=-1).cpu().numpy()
        return embeddings


def _is_sentence_transformers(name: str, **hub_kwargs) -> bool:
    """Whether `name` is a sentence-transformers model: a folder, or a Hub repository, with `modules.json`."""
    path = Path(name)
    if path.is_dir():
        return (path / "modules.json").is_file()
    if path.exists():
        return False
    try:
        hf_hub_download(name, "modules.json", **hub_kwargs)
    except Exception:  # not a repository, no such file, offline and not cached: not one (load_model will say why)
        return False
    return True


def load_sentence_encoder(
    name: str,
    pooling: str | None = None,
    prompt: str | None = None,
    max_length: int = 128,
    device: str | None = None,
    purpose: str = "the cosine filter",
    error: type[HfStsError] = AugmentError,
    **hub_kwargs,
) -> SentenceEncoder:
    """The filter model: a sentence-transformers model (`modules.json`), an hf_sts bi-encoder checkpoint, or a plain
    encoder scored as a bi-encoder (`pooling`, default mean; `prompt` before each sentence), the last two through
    `hf_sts.inference.loading.load_model`. Sentences are truncated to `max_length` tokens.

    Args:
        prompt: for a sentence-transformers model, the prompt given to `encode` (default: the model's default
            prompt, if it has one); for a plain encoder, the text before each sentence (`"query: "` for e5).
        purpose: what needs the embeddings, for the messages (`"the cosine filter"`; `hf-sts label`: its
            `--sample_pairs`).
        error: the error raised for a model that cannot embed sentences (`AugmentError`).

    Raises:
        `error`, hf_sts.errors.ModelLoadError: one line naming `name`, for a model that cannot be loaded, an
            hf_sts cross-encoder (it scores pairs and has no sentence embeddings), or `pooling` given for a
            sentence-transformers model or `pooling` / `prompt` for an hf_sts checkpoint.
    """
    if _is_sentence_transformers(name, **hub_kwargs):
        if pooling is not None:
            raise error(
                f"{name} is a sentence-transformers model, which carries its own pooling; --pooling applies only to "
                "a plain encoder."
            )
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise error(
                f"{name} is a sentence-transformers model: `pip install sentence-transformers` to embed with it."
            ) from None
        try:
            model = SentenceTransformer(name, device=device, **hub_kwargs)
        except (OSError, ValueError) as failure:
            raise error(f"{name}: cannot load it as a sentence-transformers model: {first_line(failure)}") from None
        model.max_seq_length = max_length
        shown = "its default prompt" if prompt is None else f"prompt {prompt!r}"
        return _SentenceTransformersEncoder(model, prompt, f"{name} (sentence-transformers, {shown})")
    cross_encoder = error(
        f"{name} is an hf_sts cross-encoder: it scores pairs and has no sentence embeddings to compare; {purpose} "
        "needs a bi-encoder (an hf_sts bi-encoder, a sentence-transformers model, or a plain encoder such as "
        'intfloat/multilingual-e5-small with --prompt "query: ").'
    )
    if not (Path(name) / "adapter_config.json").is_file():  # refused before its weights load (a LoRA run: after)
        config = checked_from_pretrained(AutoConfig, name, ModelLoadError, **hub_kwargs)
        if isinstance(config, StsCrossEncoderConfig):
            raise cross_encoder
    loaded = load_model(name, pooling=pooling, prompt=prompt, max_seq_length=max_length, device=device, **hub_kwargs)
    if not isinstance(loaded.model, StsBiEncoderModel):
        raise cross_encoder
    config = loaded.model.config
    description = f"{name} (bi-encoder, {config.pooling} pooling, prompt {config.prompt!r})"
    return _BiEncoder(loaded.model, loaded.tokenizer, max_length, description)


def pair_cosines(
    encoder: SentenceEncoder,
    originals: list[str],
    back_translations: list[str],
    batch_size: int = 32,
    show_progress_bar: bool = True,
) -> np.ndarray:
    """`cos(e(originals[i]), e(back_translations[i]))` for each `i`, `e` the embeddings of `encoder`; each distinct
    sentence is embedded once.

    Returns:
        `np.ndarray` of shape `(n,)`, float64, in [-1, 1].

    Raises:
        ValueError: if the two lists differ in length.
    """
    if len(originals) != len(back_translations):
        raise ValueError(f"{len(originals)} originals but {len(back_translations)} back-translations.")
    distinct = list(dict.fromkeys([*originals, *back_translations]))
    if not distinct:
        return np.empty(0, dtype=np.float64)
    row = {text: index for index, text in enumerate(distinct)}
    embeddings = torch.from_numpy(encoder.embed(distinct, batch_size, show_progress_bar).astype(np.float64))
    first = embeddings[[row[text] for text in originals]]
    second = embeddings[[row[text] for text in back_translations]]
    # torch's pairwise cosine: what sentence-transformers' `util.pairwise_cos_sim` computes, without making
    # sentence-transformers a requirement of filters that are hf_sts models.
    return torch.nn.functional.cosine_similarity(first, second, dim=-1).clamp(-1.0, 1.0).numpy()


@dataclass
class AugmentSummary:
    """What a back-translation run did.

    Attributes:
        pairs (`int`): pairs in the input file.
        translated (`int`): pairs with both back-translations non-empty (the ones the filter judged).
        unchanged (`int`): translated pairs whose two back-translations equal their originals.
        kept (`int`): pairs written: both cosines >= `min_cosine`.
        min_cosine (`float`): the threshold.
        sentences (`int`): distinct sentences translated per direction (0 with translation columns).
        translation (`str`): how the back-translations were made.
        filter (`str`): the filter model.
        output (`Path`): the file written.
    """

    pairs: int
    translated: int
    unchanged: int
    kept: int
    min_cosine: float
    sentences: int
    translation: str
    filter: str
    output: Path

    @property
    def kept_share(self) -> float:
        """`kept / translated` (NaN when nothing was translated)."""
        return self.kept / self.translated if self.translated else math.nan


def _check_arguments(
    forward_model, backward_model, model, source_lang, pivot_lang, translation_columns, min_cosine, counts
) -> None:
    try:
        min_cosine = float(min_cosine)
    except (TypeError, ValueError):
        raise AugmentError(f"--min_cosine {min_cosine!r} is not a number; give a cosine in [-1, 1].") from None
    if not -1.0 <= min_cosine <= 1.0:  # also refuses NaN
        raise AugmentError(
            f"--min_cosine {min_cosine} is outside [-1, 1], the range of a cosine (0.9 is the default)."
        )
    for option, value in counts.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise AugmentError(f"{option} must be an integer >= 1, got {value!r}.")
    sources = [
        option
        for option, given in (
            ("--forward_model/--backward_model", forward_model is not None or backward_model is not None),
            ("--model", model is not None),
            ("--translation_columns", translation_columns is not None),
        )
        if given
    ]
    if len(sources) != 1:
        found = f"got {' and '.join(sources)}" if sources else "got none"
        raise AugmentError(
            "give one source of back-translations: --forward_model and --backward_model (two translation models), "
            f"--model with --source_lang / --pivot_lang (one multilingual model), or --translation_columns; {found}."
        )
    if (forward_model is None) != (backward_model is None):
        missing = "--backward_model" if backward_model is None else "--forward_model"
        raise AugmentError(f"{missing} is missing: two translation models go together (source -> pivot -> source).")
    if model is None and (source_lang is not None or pivot_lang is not None):
        raise AugmentError("--source_lang and --pivot_lang are the language codes of --model, a multilingual model.")
    if translation_columns is not None and len(translation_columns) != 2:
        raise AugmentError(
            f"--translation_columns takes two columns (the back-translations of sentence 1 and 2), got "
            f"{len(translation_columns)}: {list(translation_columns)}."
        )


def back_translate_file(
    input_file: str | Path,
    output_file: str | Path,
    filter_model: str,
    forward_model: str | None = None,
    backward_model: str | None = None,
    model: str | None = None,
    source_lang: str | None = None,
    pivot_lang: str | None = None,
    translation_columns: list[str] | None = None,
    pooling: str | None = None,
    prompt: str | None = None,
    min_cosine: float = DEFAULT_MIN_COSINE,
    batch_size: int = 32,
    max_length: int = 128,
    num_beams: int | None = None,
    device: str | None = None,
    show_progress_bar: bool = True,
) -> AugmentSummary:
    """`hf-sts augment back-translate`: back-translate every pair of `input_file`, keep the pairs whose two
    back-translations both have cosine >= `min_cosine` with their originals, and write them to `output_file` (see the
    module docstring for the layout). Everything cheap (arguments, files, columns, the side file) is checked before
    any model loads; nothing is written on an error, except the side file of translations, which a rerun resumes.

    Args:
        input_file: labeled pairs, any format of `hf_sts.data.readers.READERS`.
        output_file: the CSV to write (its folder is created).
        filter_model: the cosine filter's model, see [`load_sentence_encoder`] (with `pooling`, `prompt`).
        forward_model, backward_model: two translation models, source -> pivot and pivot -> source; or
        model, source_lang, pivot_lang: one multilingual model and its codes (default `ko` and `en`); or
        translation_columns: two columns of `input_file` holding the back-translations of sentence 1 and 2 (a
            blank cell leaves its pair out).
        min_cosine: the threshold in [-1, 1] (default 0.9).
        batch_size: sentences per translation and embedding batch.
        max_length: tokens per sentence: translation inputs and outputs, and the filter's inputs.
        num_beams: beam search width of the translation models (default: each model's generation config).
        device: `cpu`, `cuda`, ... (default: CUDA when there is one).

    Returns:
        An [`AugmentSummary`].

    Raises:
        AugmentError: for bad arguments (none or two sources of back-translations, a `min_cosine` outside [-1, 1], a
            `batch_size` below 1, a missing translation column), a side file from other settings, or a model that
            cannot be used.
        hf_sts.errors.OutputError: for an `output_file` (or its side file) that is a folder, the input or a model,
            or lies inside a model folder or a run (`hf_sts.utils.write_guard.check_output`).
        hf_sts.errors.DataFormatError: for a missing or malformed input file.
        hf_sts.errors.ModelLoadError: for a filter model that cannot be loaded.
    """
    counts = {"--batch_size": batch_size, "--max_length": max_length, "--num_beams": num_beams}
    _check_arguments(
        forward_model, backward_model, model, source_lang, pivot_lang, translation_columns, min_cosine, counts
    )
    min_cosine = float(min_cosine)
    input_file = Path(input_file)
    models = [filter_model, forward_model, backward_model, model]
    output_file = check_output(output_file, "--output", inputs=[input_file, *models])
    check_output(partial_path(output_file), "--output (its side file)", inputs=[input_file, *models])
    dataset = read_sts_file(input_file, require_labels=True).to_pandas()
    translation_columns = None if translation_columns is None else list(translation_columns)
    if translation_columns is not None:
        raw = read_table(input_file)  # read_sts_file keeps only the schema's columns; rows are in the same order
        missing = [column for column in translation_columns if column not in raw.columns]
        if missing:
            raise AugmentError(
                f"{input_file}: no column {', '.join(map(repr, missing))} for --translation_columns (columns found: "
                f"{sorted(raw.columns)})."
            )
        back_1, back_2 = ([_one_line(str(text)) for text in raw[column].fillna("")] for column in translation_columns)
        translation = f"columns {translation_columns[0]!r} and {translation_columns[1]!r} of {input_file}"
        sentences = 0
    else:
        if model is not None:
            source_lang = source_lang or DEFAULT_SOURCE_LANG
            pivot_lang = pivot_lang or DEFAULT_PIVOT_LANG
            translation = f"{model} ({source_lang} -> {pivot_lang} -> {source_lang})"
        else:
            translation = f"{forward_model} then {backward_model}"
        settings = {
            "forward_model": forward_model or model,
            "backward_model": backward_model or model,
            "source_lang": source_lang,
            "pivot_lang": pivot_lang,
            "max_length": max_length,
            "num_beams": num_beams,
        }
        cache = _TranslationCache(partial_path(output_file), settings)
        cached = cache.load()
    encoder = load_sentence_encoder(filter_model, pooling=pooling, prompt=prompt, max_length=max_length, device=device)
    if translation_columns is None:
        forward, backward = _load_translators(
            forward_model, backward_model, model, source_lang, pivot_lang, max_length, num_beams, device
        )
        originals = [*dataset.sentence1, *dataset.sentence2]
        sentences = len(set(originals))
        back = originals  # source -> pivot, then pivot -> source
        try:
            for direction, translator in (("forward", forward), ("backward", backward)):
                back = translate_sentences(
                    back,
                    translator,
                    batch_size,
                    cached[direction],
                    on_batch=functools.partial(cache.append, direction),
                    show_progress_bar=show_progress_bar,
                    description=f"Translating ({direction})",
                )
        finally:
            cache.close()
        back_1, back_2 = back[: len(dataset)], back[len(dataset) :]

    translated = np.array([bool(first) and bool(second) for first, second in zip(back_1, back_2, strict=True)])
    rows = np.flatnonzero(translated)
    pairs = dataset.iloc[rows].reset_index(drop=True)
    back_1 = [back_1[row] for row in rows]
    back_2 = [back_2[row] for row in rows]
    cosines = pair_cosines(
        encoder, [*pairs.sentence1, *pairs.sentence2], [*back_1, *back_2], batch_size, show_progress_bar
    )
    cosine_1, cosine_2 = cosines[: len(pairs)], cosines[len(pairs) :]
    keep = (cosine_1 >= min_cosine) & (cosine_2 >= min_cosine)
    unchanged = sum(
        first == original_1 and second == original_2
        for first, second, original_1, original_2 in zip(back_1, back_2, pairs.sentence1, pairs.sentence2, strict=True)
    )
    output = pd.DataFrame(
        {
            "id": pairs.id + AUGMENTED_SUFFIX,
            "source": pairs.source + AUGMENTED_SUFFIX,
            "sentence_1": back_1,
            "sentence_2": back_2,
            "label": pairs.label,
            "binary-label": pairs.binary_label,
            "original_id": pairs.id,
            "cosine_1": np.round(cosine_1, 4),
            "cosine_2": np.round(cosine_2, 4),
        }
    )[keep]
    if not (dataset.binary_label >= 0).all():  # the input has no binary labels: none are made up
        output = output.drop(columns="binary-label")
    with atomic_output(output_file) as temporary:
        output.to_csv(temporary, index=False)
    if translation_columns is None:
        partial_path(output_file).unlink(missing_ok=True)
    return AugmentSummary(
        pairs=len(dataset),
        translated=len(pairs),
        unchanged=int(unchanged),
        kept=int(keep.sum()),
        min_cosine=min_cosine,
        sentences=sentences,
        translation=translation,
        filter=encoder.description,
        output=output_file,
    )


def _load_translators(forward_model, backward_model, model, source_lang, pivot_lang, max_length, num_beams, device):
    """The forward and backward [`Translator`]s: two models, or one multilingual model serving both directions."""
    if model is not None:
        network, tokenizer = load_translation_model(model, device)
        source_id = language_token_id(tokenizer, source_lang, model)
        pivot_id = language_token_id(tokenizer, pivot_lang, model)
        return (
            Translator(network, tokenizer, model, source_lang, pivot_id, max_length, num_beams),
            Translator(network, tokenizer, model, pivot_lang, source_id, max_length, num_beams),
        )
    translators = []
    for name in (forward_model, backward_model):
        network, tokenizer = load_translation_model(name, device)
        translators.append(Translator(network, tokenizer, name, max_length=max_length, num_beams=num_beams))
    return tuple(translators)


__all__ = [
    "DEFAULT_MIN_COSINE",
    "AugmentError",
    "AugmentSummary",
    "SentenceEncoder",
    "Translator",
    "back_translate_file",
    "language_token_id",
    "load_sentence_encoder",
    "load_translation_model",
    "pair_cosines",
    "partial_path",
    "translate_sentences",
]
