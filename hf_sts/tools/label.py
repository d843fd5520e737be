"""Silver labels, `hf-sts label`: a teacher model scores unlabeled sentence pairs, and the scores become training
labels (Augmented SBERT, Thakur et al., 2021, arXiv 2010.08240: a cross-encoder teacher labels pairs that a
bi-encoder student then trains on).

    hf-sts label TEACHER --input pairs.tsv --output silver.csv                       # label the pairs of a file
    hf-sts label TEACHER_A TEACHER_B --input pairs.tsv --output silver.csv           # the mean of two teachers
    hf-sts label TEACHER --input train.csv --output silver.csv --sample_pairs 3 \\
        --sampler intfloat/multilingual-e5-small --sampler_prompt "query: "           # label new pairs (AugSBERT)

The output is `id,source,sentence1,sentence2,label` in input order (`hf_sts.data.writers.write_labels`), the labels
exactly the scores `hf-sts predict` writes for the same model and pairs (clipped to [0, 5]; the same loading and
scoring, `hf_sts.inference.loading.load_model` and `LoadedModel.score`), a plain pairs CSV that a recipe's
`train_file` reads. Several teachers label with the mean of their clipped scores: exactly what `hf-sts ensemble
--method mean` makes of their `hf-sts predict` files (an ensemble teacher, as AugSBERT's cross-encoders can be).

Pairs come from any STS file (its labels ignored), or from an NLI file of `premise` / `hypothesis` pairs (KLUE-NLI
JSON; [`read_pairs`]). With `sample_pairs=K`, the pairs labeled are new ones instead (AugSBERT's semantic-search
sampling, [`sample_pairs`]): every distinct sentence of the file is paired with its K nearest neighbours by the
cosine of a bi-encoder's embeddings, each unordered pair once, leaving out the pairs the file already has.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import torch

from hf_sts.data.pairs import pair_keys
from hf_sts.data.readers import STS_FEATURES, read_sts_file, read_table, to_sts_frame
from hf_sts.data.tokenization import DEFAULT_MAX_SEQ_LENGTH
from hf_sts.data.writers import write_labels
from hf_sts.errors import HfStsError
from hf_sts.inference.loading import LoadedModel, load_model
from hf_sts.inference.scoring import default_batch_size, model_device
from hf_sts.metrics import clip_scores
from hf_sts.tools.augment import SentenceEncoder, load_sentence_encoder
from hf_sts.utils.write_guard import check_output, real_path


logger = logging.getLogger(__name__)


# NLI columns read as a pair: premise -> sentence1, hypothesis -> sentence2; guid (else id) -> id and source (else
# genre) -> source where present (KLUE-NLI: guid, source). The NLI label (`gold_label`) is not an STS score and is
# never read.
NLI_COLUMNS = {"premise": "sentence1", "hypothesis": "sentence2"}
NLI_OPTIONAL = {"id": ("guid", "id"), "source": ("source", "genre")}
# The `source` of pairs made by `sample_pairs`.
SAMPLED_SOURCE = "semantic-search"
# Rows of the similarity matrix computed at once by `sample_pairs`.
SEARCH_CHUNK = 1024


def read_pairs(path: str | Path) -> datasets.Dataset:
    """The sentence pairs of a file, labels ignored, in the hf_sts schema (`label` `None`).

    Any file `hf_sts.data.readers.read_sts_file` reads (KLUE JSON, competition CSV, KorSTS TSV, plain CSV), read as
    `hf-sts predict` reads it; or an NLI file with `premise` and `hypothesis` columns and no `sentence1` /
    `sentence2` (KLUE-NLI JSON): `premise` is `sentence1`, `hypothesis` `sentence2`, `guid` (else `id`) the id
    and `source` (else `genre`) the source where present (else the ids `{stem}-{row}` and the stem as source); its
    NLI labels are not read.

    Raises:
        DataFormatError: naming the file, and the row or column, for a missing or malformed file.
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() in (".json", ".jsonl", ".csv", ".tsv"):
        table = read_table(path)
        columns = set(table.columns)
        if {"premise", "hypothesis"} <= columns and not {"sentence1", "sentence2"} & columns:
            names = dict(NLI_COLUMNS)
            for target, candidates in NLI_OPTIONAL.items():
                found = next((column for column in candidates if column in columns), None)
                if found is not None:
                    names[found] = target
            frame = table[list(names)].rename(columns=names)
            frame = to_sts_frame(frame, str(path), require_labels=False)
            return datasets.Dataset.from_pandas(frame, features=STS_FEATURES, preserve_index=False)
    return read_sts_file(path, require_labels=False)


@dataclass
class SampledPairs:
    """What [`sample_pairs`] found.

    Attributes:
        pairs (`datasets.Dataset`): the new pairs in the hf_sts schema (ids `{stem}-knn-{row}`, source
            `semantic-search`, no labels), each sentence's neighbours in order of similarity, sentences in order of
            first appearance in the file.
        sentences (`int`): the distinct sentences searched.
        candidates (`int`): the (sentence, neighbour) pairs found, before duplicates were left out.
        known (`int`): the distinct unordered candidate pairs left out because the file already has them.
    """

    pairs: datasets.Dataset
    sentences: int
    candidates: int
    known: int


def nearest_neighbours(embeddings: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The `k` nearest other rows of each row by cosine (`torch.topk` over the similarity matrix, computed
    `SEARCH_CHUNK` rows at a time; what `sentence_transformers.util.semantic_search` computes, without needing it).

    Args:
        embeddings: `(n, dim)` embeddings, normalised or not.
        k: neighbours per row, at most `n - 1`.

    Returns:
        `(indices, cosines)`, each of shape `(n, k)`: the neighbours of each row, most similar first (a row is never
        its own neighbour), and their cosines in [-1, 1].
    """
    vectors = torch.nn.functional.normalize(torch.as_tensor(embeddings, dtype=torch.float32), dim=-1)
    indices, cosines = [], []
    for start in range(0, len(vectors), SEARCH_CHUNK):
        similarity = vectors[start : start + SEARCH_CHUNK] @ vectors.T
        rows = torch.arange(start, min(start + SEARCH_CHUNK, len(vectors)))
        similarity[rows - start, rows] = -float("inf")
        top = torch.topk(similarity, k, dim=1)
        indices.append(top.indices)
        cosines.append(top.values)
    return torch.cat(indices).numpy(), torch.cat(cosines).clamp(-1.0, 1.0).numpy()


def sample_pairs(
    encoder: SentenceEncoder,
    dataset: datasets.Dataset,
    k: int,
    origin: str = "pairs",
    batch_size: int = 64,
    show_progress_bar: bool = True,
) -> SampledPairs:
    """AugSBERT's semantic-search sampling (Thakur et al., 2021): pair every distinct sentence of `dataset` with its
    `k` nearest neighbours by the cosine of `encoder`'s embeddings ([`nearest_neighbours`]), keep each unordered
    pair once (in the order found: sentence by sentence, then by similarity) and leave out the pairs `dataset`
    already holds in either order (`hf_sts.data.pairs.pair_keys`).

    Args:
        encoder: a bi-encoder's sentence embeddings (`hf_sts.tools.augment.load_sentence_encoder`).
        dataset: pairs in the hf_sts schema.
        k: neighbours per sentence, at least 1 (fewer where there are fewer other sentences).
        origin: the file's name, for the ids (`{stem}-knn-{row}`) and messages.

    Returns:
        A [`SampledPairs`].

    Raises:
        HfStsError: for `k` below 1, a file of fewer than 2 distinct sentences, or one whose every candidate pair
            it already holds.
    """
    if k < 1:
        raise HfStsError(f"--sample_pairs {k}: expected a number of neighbours of at least 1.")
    sentences = list(dict.fromkeys([*dataset["sentence1"], *dataset["sentence2"]]))
    if len(sentences) < 2:
        raise HfStsError(f"{origin}: {len(sentences)} distinct sentence(s); --sample_pairs needs at least 2 to pair.")
    embeddings = encoder.embed(sentences, batch_size, show_progress_bar)
    indices, _ = nearest_neighbours(embeddings, min(k, len(sentences) - 1))
    existing = set(pair_keys(dataset["sentence1"][:], dataset["sentence2"][:]))
    seen, known, first, second = set(), set(), [], []
    for row, neighbours in enumerate(indices):
        for neighbour in neighbours:
            pair = (sentences[row], sentences[neighbour])
            key = pair_keys([pair[0]], [pair[1]])[0]
            if key in existing:
                known.add(key)
            elif key not in seen:
                seen.add(key)
                first.append(pair[0])
                second.append(pair[1])
    if not first:
        raise HfStsError(
            f"{origin}: every pair of each sentence and its {k} nearest neighbour(s) is already in the file; give a "
            "larger --sample_pairs."
        )
    stem = Path(origin).stem
    frame = pd.DataFrame(
        {
            "id": [f"{stem}-knn-{row}" for row in range(len(first))],
            "source": SAMPLED_SOURCE,
            "sentence1": first,
            "sentence2": second,
            "label": np.nan,
            "binary_label": -1,
        }
    )
    pairs = datasets.Dataset.from_pandas(frame, features=STS_FEATURES, preserve_index=False)
    return SampledPairs(pairs, len(sentences), int(indices.size), len(known))


@dataclass
class LabelSummary:
    """What [`label_file`] did.

    Attributes:
        teacher (`str`): the one-line description of the teacher model (of each teacher, joined by " + ").
        pairs (`int`): the pairs labeled (rows written).
        mean_label (`float`): their mean silver label, 0.0–5.0.
        sampled (`SampledPairs` or `None`): with `sample_pairs`, how the pairs were found.
        sampler (`str` or `None`): with `sample_pairs`, the description of the bi-encoder that sampled them.
    """

    teacher: str
    pairs: int
    mean_label: float
    sampled: SampledPairs | None = None
    sampler: str | None = None


def label_file(
    teacher: str | Sequence[str],
    input_file: str | Path,
    output_file: str | Path,
    batch_size: int | None = None,
    bf16: bool | None = None,
    sample_pairs_k: int | None = None,
    sampler: str | None = None,
    sampler_pooling: str | None = None,
    sampler_prompt: str | None = None,
    **load_kwargs,
) -> tuple[list[LoadedModel], LabelSummary]:
    """`hf-sts label`: score the pairs of `input_file` (or, with `sample_pairs_k`, the new pairs [`sample_pairs`]
    finds) with `teacher` and write them with their scores as labels to `output_file` (`id,source,sentence1,
    sentence2,label`, input order, clipped to [0, 5]): exactly the scores `hf-sts predict` writes (the same
    `load_model` and `LoadedModel.score`); with several teachers, the mean of their clipped scores (what `hf-sts
    ensemble --method mean` makes of their `hf-sts predict` files). Inputs and output are checked, and the file
    read, before any model loads; every teacher loads before any scores; nothing is written on an error.

    Args:
        teacher, **load_kwargs: the teacher model, or several (an ensemble teacher), and where they run, as
            `hf-sts predict` takes them (see `hf_sts.inference.loading.load_model`: `pooling`, `prompt`,
            `max_seq_length`, `device`, `backend`, `onnx_file`, `revision`; the same for every teacher).
        input_file: pairs to label (see [`read_pairs`]); their labels, if any, are ignored.
        batch_size, bf16: how the teacher scores (see `hf_sts.inference.scoring.predict_scores`).
        sample_pairs_k: label new pairs instead: each sentence with its `sample_pairs_k` nearest neighbours.
        sampler: the bi-encoder whose embeddings find the neighbours (an hf_sts bi-encoder, a sentence-transformers
            model or a plain encoder; default: the first teacher that is a bi-encoder); `sampler_pooling` and
            `sampler_prompt` as `pooling` and `prompt` for a plain encoder (with the teacher as sampler, the
            teacher's own, and its `max_seq_length`). A sampler of its own truncates sentences to 128 tokens.

    Returns:
        `(the loaded teachers, in the order given, a LabelSummary)`.

    Raises:
        DataFormatError: for a missing or malformed input file.
        hf_sts.errors.ModelLoadError, hf_sts.errors.HfStsError: for a teacher or sampler that cannot be loaded, a
            sampler that is a cross-encoder (it has no sentence embeddings), sampler options without
            `sample_pairs_k`, no sampler where every teacher is a cross-encoder, or a teacher given twice.
        hf_sts.errors.OutputError: for an `output_file` that is the input, a model, an existing folder, or lies
            inside a model folder or a run (see `hf_sts.utils.write_guard.check_output`).
    """
    given = (("--sampler", sampler), ("--sampler_pooling", sampler_pooling), ("--sampler_prompt", sampler_prompt))
    sampler_options = [name for name, value in given if value is not None]
    if sample_pairs_k is None and sampler_options:
        raise HfStsError(f"{' and '.join(sampler_options)}: the sampler finds new pairs, with --sample_pairs K.")
    teachers = [teacher] if isinstance(teacher, str) else list(teacher)
    seen = set()  # real paths: the same folder however it is written (`run`, `./run`, a symlink to it)
    for name in teachers:
        path = real_path(name)
        if path in seen:
            raise HfStsError(f"teacher {name} is given twice: each teacher counts once in the mean of their scores.")
        seen.add(path)
    output_file = check_output(output_file, "--output", inputs=[input_file, *teachers, sampler])
    dataset = read_pairs(input_file)
    loaded = [load_model(name, **load_kwargs) for name in teachers]
    summary_sampled = sampler_description = None
    if sample_pairs_k is not None:
        encoder = _load_sampler(teachers, loaded, sampler, sampler_pooling, sampler_prompt, load_kwargs)
        sampler_description = encoder.description
        embedding_batch = default_batch_size(model_device(loaded[0].model)) if batch_size is None else batch_size
        summary_sampled = sample_pairs(encoder, dataset, sample_pairs_k, str(input_file), embedding_batch)
        logger.info(
            "%d new pairs from the %d nearest neighbour(s) of %d sentences by %s (%d pairs already in %s left out).",
            len(summary_sampled.pairs),
            sample_pairs_k,
            summary_sampled.sentences,
            encoder.description,
            summary_sampled.known,
            input_file,
        )
        dataset = summary_sampled.pairs
        del encoder
    first, second = dataset["sentence1"][:], dataset["sentence2"][:]
    scores = [loaded_teacher.score(first, second, batch_size, bf16=bf16) for loaded_teacher in loaded]
    frame = write_labels(dataset, np.mean(clip_scores(scores), axis=0), output_file)  # (teachers, pairs) -> (pairs,)
    mean = float(frame["label"].mean())
    description = " + ".join(loaded_teacher.description for loaded_teacher in loaded)
    return loaded, LabelSummary(description, len(frame), mean, summary_sampled, sampler_description)


def _load_sampler(
    teachers: list[str],
    loaded: list[LoadedModel],
    sampler: str | None,
    pooling: str | None,
    prompt: str | None,
    load_kwargs: dict,
) -> SentenceEncoder:
    """The bi-encoder of `--sample_pairs`: `sampler` (at 128 tokens per sentence), else the first of `teachers`
    that is a (torch or ONNX) bi-encoder, loaded as a torch model with its own pooling, prompt and `max_seq_length`
    (or the teachers' `--pooling` / `--prompt`).

    Raises:
        HfStsError: for no sampler where every teacher is a cross-encoder; as `load_sentence_encoder` otherwise.
    """
    if sampler is None:
        found = next((index for index, model in enumerate(loaded) if model.bi_encoder), None)
        if found is None:
            which = (
                f"the teacher {teachers[0]} is a cross-encoder"
                if len(teachers) == 1
                else "every teacher is a cross-encoder"
            )
            raise HfStsError(
                f"--sample_pairs: {which}, which has no sentence embeddings to find neighbours with; give a "
                "bi-encoder as --sampler (AugSBERT samples with the bi-encoder it trains)."
            )
        sampler, pooling, prompt = teachers[found], load_kwargs.get("pooling"), load_kwargs.get("prompt")
        max_length = loaded[found].max_seq_length
        hub_kwargs = {"revision": load_kwargs["revision"]} if load_kwargs.get("revision") else {}
    else:
        max_length, hub_kwargs = DEFAULT_MAX_SEQ_LENGTH, {}
    return load_sentence_encoder(
        sampler,
        pooling=pooling,
        prompt=prompt,
        max_length=max_length,
        device=load_kwargs.get("device"),
        purpose="--sample_pairs",
        error=HfStsError,
        **hub_kwargs,
    )


__all__ = [
    "NLI_COLUMNS",
    "NLI_OPTIONAL",
    "SAMPLED_SOURCE",
    "LabelSummary",
    "SampledPairs",
    "label_file",
    "nearest_neighbours",
    "read_pairs",
    "sample_pairs",
]
