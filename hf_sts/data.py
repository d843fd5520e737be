"""Readers that turn every supported STS data format into one schema, as a `datasets.DatasetDict`.

Schema (`STS_FEATURES`): `id` (str), `source` (str), `sentence1` (str), `sentence2` (str), `label` (float, 0.0–5.0;
`None` in unlabeled test files) and `binary_label` (int, 0 or 1 where the file carries binary labels, else -1).

Formats live in one registry, `READERS`, tried in order; each recognises a format by its columns:

| name | columns | from |
| --- | --- | --- |
| `klue` | `guid, source, sentence1, sentence2, labels.{label, real-label, binary-label}` | KLUE-STS JSON, `load_dataset("klue", "sts")` |
| `competition` | `id, source, sentence_1, sentence_2[, label[, binary-label]]` | competition CSV (test files have no labels) |
| `korsts` | `genre, filename, year, id, score, sentence1, sentence2` | KorSTS TSV |
| `pairs` | `sentence1, sentence2[, label][, id][, source][, binary_label]` | plain CSV |

Files are read by extension (`.csv`, `.tsv`, `.json`, `.jsonl`); the columns then choose the reader.
"""

import csv
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
from transformers import PreTrainedTokenizerBase

from .errors import HfStsError
from .metrics import BINARY_THRESHOLD, SCORE_MAX, SCORE_MIN, clip_scores


logger = logging.getLogger(__name__)

STS_FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),
        "source": datasets.Value("string"),
        "sentence1": datasets.Value("string"),
        "sentence2": datasets.Value("string"),
        "label": datasets.Value("float64"),
        "binary_label": datasets.Value("int64"),
    }
)


class DataFormatError(HfStsError):
    """A data file or dataset that hf_sts cannot read: the message names the file (or dataset split), the row or
    column, and what was expected."""


@dataclass(frozen=True)
class Reader:
    """One data format: `required` columns identify it (together with the optional `label_columns`, all present or
    all absent), and `convert` maps a frame with those columns to the hf_sts schema (labels may be NaN)."""

    name: str
    required: frozenset[str]
    label_columns: frozenset[str]
    convert: Callable[[pd.DataFrame, str], pd.DataFrame]

    def matches(self, columns: set[str]) -> bool:
        return self.required <= columns and (self.label_columns <= columns or not self.label_columns & columns)


READERS: list[Reader] = []


def register_reader(name: str, required: set[str], label_columns: set[str] = frozenset()):
    """Decorator that adds a converter `fn(frame, origin) -> frame` to `READERS` as the format `name`.

    `origin` is the file path or dataset name (for ids and error messages). The converter returns the columns of
    `STS_FEATURES`, with `label` NaN and `binary_label` -1 where the input has no labels.

    Raises:
        ValueError: if `name` is already registered.
    """

    def decorator(fn):
        if any(reader.name == name for reader in READERS):
            raise ValueError(f"A data reader named {name!r} is already registered.")
        READERS.append(Reader(name, frozenset(required), frozenset(label_columns), fn))
        return fn

    return decorator


def _to_schema(
    frame: pd.DataFrame,
    id: str,
    source: str,
    sentence1: str,
    sentence2: str,
    label: str,
    binary_label: str | None = None,
) -> pd.DataFrame:
    """Pick the schema's columns out of `frame` by name. A missing `label` column gives NaN labels (unlabeled test
    data); a missing `binary_label` column gives NaN binary labels (-1 in the schema: the metrics then compare
    `label >= binary_threshold`, see `hf_sts.metrics.StsMetric`)."""
    labels = frame[label] if label in frame else pd.Series(np.nan, index=frame.index)
    if binary_label is not None and binary_label in frame:
        binary = frame[binary_label]
    else:
        binary = pd.Series(np.nan, index=frame.index)
    return pd.DataFrame(
        {
            "id": frame[id],
            "source": frame[source],
            "sentence1": frame[sentence1],
            "sentence2": frame[sentence2],
            "label": labels,
            "binary_label": binary,
        }
    )


@register_reader(
    "klue",
    required={"guid", "source", "sentence1", "sentence2"},
    label_columns={"labels.real-label", "labels.binary-label"},
)
def _from_klue(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    # KLUE scores Pearson on the unrounded `real-label` (the train CSV's `label`); `label` is it rounded to 0.1.
    return _to_schema(frame, "guid", "source", "sentence1", "sentence2", "labels.real-label", "labels.binary-label")


@register_reader(
    "competition",
    required={"id", "source", "sentence_1", "sentence_2"},
    label_columns={"label"},
)
def _from_competition(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    return _to_schema(frame, "id", "source", "sentence_1", "sentence_2", "label", "binary-label")


@register_reader("korsts", required={"genre", "filename", "year", "id", "score", "sentence1", "sentence2"})
def _from_korsts(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    frame = frame.assign(pair_id=frame["filename"] + "-" + frame["year"] + "-" + frame["id"])
    return _to_schema(frame, "pair_id", "genre", "sentence1", "sentence2", "score")


@register_reader("pairs", required={"sentence1", "sentence2"}, label_columns={"label"})
def _from_pairs(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    stem = Path(origin).stem
    if "id" not in frame:
        frame = frame.assign(id=[f"{stem}-{row}" for row in range(len(frame))])
    if "source" not in frame:
        frame = frame.assign(source=stem)
    return _to_schema(frame, "id", "source", "sentence1", "sentence2", "label", "binary_label")


def read_table(path: Path) -> pd.DataFrame:
    """Read a data file (`.csv`, `.tsv`, `.json`, `.jsonl`) into a frame of strings, every column as it is (no value
    parsed or dropped; nested JSON fields flattened with dots): what the readers convert, and where extra columns
    (the back-translations of `hf-sts augment back-translate --translation_columns`) are found.

    Raises:
        DataFormatError: for an empty file, an unsupported extension or a file that does not parse.
    """
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise DataFormatError(f"{path}: empty file (0 bytes); expected a header row and one sentence pair per row.")
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if suffix == ".tsv":
            # KorSTS sentences contain unbalanced quote characters: read them literally.
            return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE)
        if suffix == ".jsonl":
            records = []
            for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise DataFormatError(f"{path}: line {number} is not valid JSON ({error.msg}).") from None
        elif suffix == ".json":
            # utf-8-sig: a byte-order mark is accepted, as for CSV and TSV files.
            records = json.loads(path.read_text(encoding="utf-8-sig"))
            if isinstance(records, dict) and isinstance(records.get("data"), list):
                records = records["data"]
        else:
            raise DataFormatError(
                f"{path}: unsupported file extension {suffix!r}; expected .csv, .tsv, .json or .jsonl."
            )
    except pd.errors.EmptyDataError:
        raise DataFormatError(
            f"{path}: no header row and no data; expected a header row and sentence pairs."
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataFormatError(f"{path}: cannot be parsed as {suffix[1:].upper()}: {error}") from None
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        raise DataFormatError(f"{path}: expected a JSON list of objects (one per sentence pair).")
    return pd.json_normalize(records)


def _validate(frame: pd.DataFrame, origin: str, require_labels: bool) -> pd.DataFrame:
    """Check a converted frame row by row and cast it to the schema's types."""

    def fail(row: int, problem: str):
        raise DataFormatError(f"{origin}: row {row + 1} (1-based, header excluded): {problem}")

    if frame.empty:
        raise DataFormatError(f"{origin}: no rows.")
    for column in ("sentence1", "sentence2"):
        text = frame[column]
        bad = text.isna() | (text.astype(str).str.strip() == "")
        if bad.any():
            fail(int(np.argmax(bad.to_numpy())), f"`{column}` is empty; every pair needs two sentences.")
        broken = text.astype(str).str.contains(r"[\r\n]")
        if broken.any():
            fail(
                int(np.argmax(broken.to_numpy())),
                f"`{column}` holds a line break, the mark of a stray quote that merged two rows into one pair; fix "
                "the quoting, or join the sentence onto one line.",
            )
    blank = frame["id"].isna() | (frame["id"].astype(str).str.strip() == "")
    if blank.any():
        fail(
            int(np.argmax(blank.to_numpy())), "the id is blank; every pair needs the id its prediction is filed under."
        )
    ids = frame["id"].astype(str)
    duplicated = ids.duplicated()
    if duplicated.any():
        row = int(np.argmax(duplicated.to_numpy()))
        fail(row, f"id {ids.iloc[row]!r} occurs more than once; ids must be unique to align predictions.")

    raw_labels = frame["label"]
    missing = raw_labels.isna() | (raw_labels.astype(str).str.strip() == "")
    if missing.all() and not require_labels:
        labels = pd.Series(np.nan, index=frame.index)
    else:
        if missing.any():
            fail(
                int(np.argmax(missing.to_numpy())),
                "the label is missing; every training or validation pair needs one."
                if require_labels
                else "the label is missing while other rows have one; label every pair, or none (here labels are "
                "optional).",
            )
        labels = pd.to_numeric(raw_labels, errors="coerce")
        bad = labels.isna() | (labels < SCORE_MIN) | (labels > SCORE_MAX)
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            fail(row, f"label {raw_labels.iloc[row]!r} is not a number in [{SCORE_MIN}, {SCORE_MAX}].")
    raw_binary = frame["binary_label"]
    if labels.notna().all() and not raw_binary.isna().all():
        binary = pd.to_numeric(raw_binary, errors="coerce")
        bad = ~binary.isin([0, 1])
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            fail(row, f"binary label {frame['binary_label'].iloc[row]!r} is not 0 or 1.")
    else:
        binary = pd.Series(-1, index=frame.index)
    return pd.DataFrame(
        {
            "id": ids,
            "source": frame["source"].astype(str),
            "sentence1": frame["sentence1"].astype(str),
            "sentence2": frame["sentence2"].astype(str),
            "label": labels.astype("float64"),
            "binary_label": binary.astype("int64"),
        }
    )


def to_sts_frame(frame: pd.DataFrame, origin: str, require_labels: bool = True) -> pd.DataFrame:
    """Convert a raw frame in any registered format to the hf_sts schema.

    Args:
        frame (`pd.DataFrame`): the raw columns, nested fields flattened with dots (`labels.real-label`).
        origin (`str`): file path or dataset split, for ids of files without them and for error messages.
        require_labels (`bool`): whether every row must carry a label in [0, 5] (train and validation data).

    Raises:
        DataFormatError: if no reader recognises the columns, or a row is malformed (named by its 1-based number).
    """
    columns = set(frame.columns)
    for reader in READERS:
        if reader.matches(columns):
            return _validate(reader.convert(frame, origin), origin, require_labels)
    closest = max(READERS, key=lambda reader: len(reader.required & columns) / len(reader.required))
    missing = sorted(closest.required - columns)
    if len(closest.required & columns) > len(closest.required) / 2:
        raise DataFormatError(
            f"{origin}: reads as the {closest.name} format but lacks the column(s) {missing} (columns found: "
            f"{sorted(columns)}); a {closest.name} file has {', '.join(sorted(closest.required | closest.label_columns))}."
        )
    expected = "; ".join(
        f"{reader.name}: {', '.join(sorted(reader.required | reader.label_columns))}" for reader in READERS
    )
    raise DataFormatError(
        f"{origin}: columns {sorted(columns)} match no known STS format. Expected one of: {expected}."
    )


def read_sts_file(path: str | Path, require_labels: bool = True) -> datasets.Dataset:
    """Read one STS file (KLUE JSON, competition CSV, KorSTS TSV or plain CSV) into the hf_sts schema.

    Returns:
        A `datasets.Dataset` with the features `STS_FEATURES`, rows in file order. Unlabeled files (allowed when
        `require_labels=False`) get `label` `None` and `binary_label` -1.

    Raises:
        DataFormatError: naming the file, and the row or column, when the file is missing or malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file (relative paths are read from the current directory).")
    frame = to_sts_frame(read_table(path), str(path), require_labels=require_labels)
    return datasets.Dataset.from_pandas(frame, features=STS_FEATURES, preserve_index=False)


def file_list(value) -> list[str]:
    """A recipe's file value as a list: `None` -> `[]`, a path -> `[path]`, a list as it is (`train_file` takes one
    file or several)."""
    if value is None:
        return []
    return [str(value)] if isinstance(value, (str, Path)) else [str(item) for item in value]


def read_training_files(paths: list[str]) -> datasets.Dataset:
    """Read one or more labeled training files and concatenate them in order (see [`read_sts_file`]).

    Raises:
        DataFormatError: for a malformed file, or an id found in two files (naming both), since ids align
            predictions and provenance.
    """
    parts = [read_sts_file(path, require_labels=True) for path in paths]
    seen: dict[str, str] = {}
    for path, part in zip(paths, parts, strict=True):
        for row, id_ in enumerate(part["id"]):
            if id_ in seen:
                raise DataFormatError(
                    f"{path}: row {row + 1} (1-based, header excluded): id {id_!r} is also in {seen[id_]}; the ids of "
                    "all training files must be unique."
                )
        seen.update(dict.fromkeys(part["id"], path))
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


# The text columns of a file read for masked-language-model pretraining (`read_text_file`): the first set a file
# has all of is read, in this order. STS files have sentence1/sentence2, KLUE-NLI premise/hypothesis.
TEXT_COLUMNS = (("sentence1", "sentence2"), ("premise", "hypothesis"), ("text",))


def read_text_file(path: str | Path) -> list[str]:
    """The sentences of an unlabeled text file, for masked-language-model pretraining (`hf-sts pretrain`): a `.txt`
    file holds one sentence per line (blank lines skipped); a `.csv`, `.tsv`, `.json` or `.jsonl` table (see
    [`read_table`]) gives the text of the first of `TEXT_COLUMNS` it has all of, row by row (KorSTS TSV and STS files:
    `sentence1`, `sentence2`; KLUE-NLI JSON: `premise`, `hypothesis`; or one `text` column). Labels are never read.

    Returns:
        The sentences, stripped, in file order (each pair's sentences one after the other), empty ones left out.

    Raises:
        DataFormatError: naming the file, for a missing or malformed file or a table without text columns (the
            columns found are listed).
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file (relative paths are read from the current directory).")
    if path.suffix.lower() == ".txt":
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except UnicodeDecodeError as error:
            raise DataFormatError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start}).") from None
        sentences = [line.strip() for line in lines]
    else:
        frame = read_table(path)
        columns = next((names for names in TEXT_COLUMNS if set(names) <= set(frame.columns)), None)
        if columns is None:
            raise DataFormatError(
                f"{path}: no text columns; expected one of {[list(names) for names in TEXT_COLUMNS]} (or a .txt file "
                f"with one sentence per line), found {list(frame.columns)}."
            )
        sentences = [str(text).strip() for text in frame[list(columns)].to_numpy().ravel()]
    return [sentence for sentence in sentences if sentence]


def load_hub_dataset(name: str, config_name: str | None = None, **kwargs):
    """`datasets.load_dataset(name, config_name, **kwargs)` (`split`, `cache_dir`, `token`, `revision`).

    Raises:
        DataFormatError: naming the dataset and the first line of the library's reason, when it cannot be loaded
            (not found, not cached while offline, unreachable, an unknown config or split).
    """
    try:
        return datasets.load_dataset(name, config_name, **kwargs)
    except (OSError, ValueError) as error:  # not found, not cached offline, unreachable, unknown config or split
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataFormatError(f"{name}: cannot load the dataset: {reason}") from None


def load_sts_datasets(
    train_file: str | list[str] | None = None,
    validation_file: str | None = None,
    test_file: str | None = None,
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    validation_split_percentage: float | None = 5,
    seed: int = 42,
    **hub_kwargs,
) -> datasets.DatasetDict:
    """Load the splits a run needs, as a `DatasetDict` with the keys `train`, `validation`, `test` (those present).

    Files take precedence over `dataset_name` split by split; several `train_file`s are concatenated in order (see
    [`read_training_files`]). `dataset_name` goes through `datasets.load_dataset`
    (e.g. `dataset_name="klue", dataset_config_name="sts"`; needs network access or a local copy). When there is
    training data but no validation data, `validation_split_percentage` percent of train (shuffled with `seed`)
    becomes the validation split. `hub_kwargs` (`cache_dir`, `token`, `revision`) go to `datasets.load_dataset`.

    Raises:
        DataFormatError: for a missing or malformed file or split, or a dataset that cannot be loaded (not found,
            or not cached while offline).
    """
    splits: dict[str, datasets.Dataset] = {}
    if dataset_name is not None:
        hub = load_hub_dataset(dataset_name, dataset_config_name, **hub_kwargs)
        for split, data in hub.items():
            origin = f"{dataset_name}/{dataset_config_name or 'default'} [{split}]"
            frame = pd.json_normalize(data.to_list())
            require_labels = split != "test"
            splits[split] = datasets.Dataset.from_pandas(
                to_sts_frame(frame, origin, require_labels), features=STS_FEATURES, preserve_index=False
            )
    train_files = file_list(train_file)
    if train_files:
        splits["train"] = read_training_files(train_files)
    for split, path in (("validation", validation_file), ("test", test_file)):
        if path is not None:
            splits[split] = read_sts_file(path, require_labels=split != "test")
    if "train" in splits and "validation" not in splits and validation_split_percentage:
        if len(train_files) > 1:
            logger.warning(
                "validation_split_percentage holds out pairs of all %d training files together: augmented copies of "
                "a held-out pair may stay in training. Give a `validation_file` to validate on untouched data.",
                len(train_files),
            )
        rows = len(splits["train"])
        held_out = math.ceil(rows * validation_split_percentage / 100)  # as `train_test_split` rounds
        if held_out < 2 or held_out >= rows:
            raise DataFormatError(
                f"{', '.join(train_files) or dataset_name}: holding out validation_split_percentage={validation_split_percentage}"
                f"% of its {rows} training pairs leaves {held_out} validation and {rows - held_out} training pair(s); "
                "give a validation_file, more training pairs, or another percentage."
            )
        carved = splits["train"].train_test_split(test_size=validation_split_percentage / 100, seed=seed)
        splits["train"], splits["validation"] = carved["train"], carved["test"]
    return datasets.DatasetDict(splits)


def check_scorable(dataset: datasets.Dataset, origin: str) -> None:
    """Refuse labeled data that Pearson r cannot score: fewer than 2 pairs.

    Raises:
        DataFormatError: naming `origin` (a file, or the split) and the count.
    """
    if len(dataset) < 2:
        raise DataFormatError(
            f"{origin}: {len(dataset)} labeled pair(s); Pearson r needs at least 2 pairs to score a model."
        )


@dataclass(frozen=True)
class ImpliedThreshold:
    """The binary threshold a file's binary labels follow: binary 1 exactly where `label >= threshold`.

    Attributes:
        threshold (`float`): on the 0.0–5.0 scale (3.0 for KLUE-STS, 2.5 for the competition data).
        contradictions (`np.ndarray` of int, shape `(k,)`): the 0-based rows whose binary label disagrees with
            `label >= threshold`.
        labeled (`int`): how many rows carry a binary label.
    """

    threshold: float
    contradictions: np.ndarray
    labeled: int


def implied_binary_threshold(labels, binary_labels) -> ImpliedThreshold | None:
    """The threshold that binary labels imply. Any score in the gap between the largest label with binary 0 and the
    smallest label with binary 1 splits the rows the same way; the roundest one is taken (a whole point, else a half,
    a tenth, a twentieth, a hundredth, else that smallest label): 3.0 on KLUE-STS dev (binary 0 up to 2.857, 1 from
    3.0), 2.5 on the competition data (binary 0 up to 2.4, 1 from 2.6). Where some rows break every such split, the
    smallest label with binary 1 that the fewest rows contradict stands for the gap (ties: the smallest).

    Args:
        labels: scores of shape `(n,)`, 0.0–5.0 (`None` / NaN rows are ignored).
        binary_labels: 0 / 1 of shape `(n,)`, -1 where a row has none.

    Returns:
        An [`ImpliedThreshold`], or `None` when no row has both a label and binary label 1.
    """
    labels = np.asarray([np.nan if label is None else label for label in labels], dtype=np.float64)
    binary = np.asarray(binary_labels, dtype=np.int64)
    known = np.flatnonzero((binary >= 0) & ~np.isnan(labels))
    candidates = np.unique(labels[known][binary[known] == 1])
    if not len(candidates):
        return None
    # contradictions[c] = rows of binary 1 below candidate c + rows of binary 0 at or above it
    above = labels[known][None, :] >= candidates[:, None]
    wrong = (above != (binary[known] == 1)[None, :]).sum(axis=1)
    best = int(np.argmin(wrong))  # the first (smallest) candidate among equals
    contradictions = known[above[best] != (binary[known] == 1)]
    smallest = candidates[best]
    below = labels[known][labels[known] < smallest]
    lower = below.max() if len(below) else SCORE_MIN - 1
    threshold = smallest
    for step in (1.0, 0.5, 0.1, 0.05, 0.01):
        roundest = round((np.floor(lower / step + 1e-9) + 1) * step, 4)  # the first multiple of `step` above `lower`
        if roundest <= smallest:
            threshold = roundest
            break
    return ImpliedThreshold(float(threshold), contradictions, len(known))


def resolve_binary_threshold(
    splits: dict[str, datasets.Dataset], given: float | None, origins: dict[str, str]
) -> float:
    """The F1 threshold of a run: `given` when set; otherwise the one implied by the binary labels of the training
    data, else of the validation data ([`implied_binary_threshold`]); otherwise KLUE's 3.0. One line says which
    applies, and one warns of rows that contradict it or of another threshold implied by the other split.

    Args:
        splits: the run's splits in the hf_sts schema.
        given: the recipe's `binary_threshold`, or `None`.
        origins: a name per split for the messages (the file).
    """
    implied = {
        split: found
        for split in ("train", "validation")
        if split in splits
        and (found := implied_binary_threshold(splits[split]["label"], splits[split]["binary_label"]))
    }
    for split, found in implied.items():
        if len(found.contradictions):
            logger.warning(
                "%s: %d of its %d binary labels contradict `label >= %g` (first at row %d).",
                origins[split],
                len(found.contradictions),
                found.labeled,
                found.threshold,
                found.contradictions[0] + 1,
            )
    if given is not None:
        logger.info("binary_threshold %s (the recipe's): F1 compares `prediction >= %s`.", given, given)
        return given
    if not implied:
        logger.info("binary_threshold %s (KLUE's; the data carries no binary labels).", BINARY_THRESHOLD)
        return BINARY_THRESHOLD
    split, found = next(iter(implied.items()))
    for other, also in implied.items():
        if also.threshold != found.threshold:
            logger.warning(
                "%s's binary labels imply the threshold %g, %s's %g: F1 uses %g (set `binary_threshold` to choose).",
                origins[split],
                found.threshold,
                origins[other],
                also.threshold,
                found.threshold,
            )
    logger.info("binary_threshold %s, implied by the binary labels of %s.", found.threshold, origins[split])
    return found.threshold


def warn_about_data(splits: dict[str, datasets.Dataset]) -> None:
    """One warning line for each thing in a run's data that would change its results without failing it: training
    labels that all lie in [0, 1] (a 0–1 similarity scale fed to a 0–5 model), and validation pairs that also occur
    in the training data (in either order; their count), which make the validation scores optimistic."""
    from .cv import pair_keys

    train, validation = splits.get("train"), splits.get("validation")
    if train is not None and len(train) and max(train["label"][:]) <= 1.0:
        logger.warning(
            "All %d training labels lie in [0, 1]: hf_sts trains on the 0-5 STS scale, so these are read as "
            "near-zero similarities. Multiply 0-1 labels by 5.",
            len(train),
        )
    if train is not None and validation is not None:
        seen = set(pair_keys(train["sentence1"][:], train["sentence2"][:]))
        shared = sum(key in seen for key in pair_keys(validation["sentence1"][:], validation["sentence2"][:]))
        if shared:
            logger.warning(
                "%d of the %d validation pairs also occur in the training data (in either order): validation "
                "scores are optimistic.",
                shared,
                len(validation),
            )


def add_swapped_pairs(dataset: datasets.Dataset) -> datasets.Dataset:
    """Append every pair with `sentence1` and `sentence2` exchanged (ids get the suffix `-swapped`).

    STS is symmetric, so this doubles the training data for free; a cross-encoder reads the two orders differently.
    """
    swapped = dataset.map(
        lambda batch: {
            "id": [f"{id_}-swapped" for id_ in batch["id"]],
            "sentence1": batch["sentence2"],
            "sentence2": batch["sentence1"],
        },
        batched=True,
        desc="Adding swapped pairs",
    )
    return datasets.concatenate_datasets([dataset, swapped])


def undersample(dataset: datasets.Dataset, bucket: int, ratio: float, seed: int) -> datasets.Dataset:
    """Keep a random `ratio` of the pairs whose integer label bucket (`hf_sts.cv.label_buckets`: the floor of the
    label, 0..5) is `bucket`, and every other pair; rows stay in their order. One line logs the bucket counts before
    and after. The seeds undersampled the dominant 0-bucket of the competition data.

    Args:
        dataset: labeled training pairs in the hf_sts schema.
        bucket (`int`): 0..5.
        ratio (`float`): in (0, 1]; the bucket keeps `round(ratio * count)` pairs (at least 1 when it has any).
        seed (`int`): seed of the draw (`numpy.random.default_rng`).

    Returns:
        The undersampled dataset.
    """
    from .cv import label_buckets

    buckets = label_buckets(dataset["label"][:])
    members = np.flatnonzero(buckets == bucket)
    keep = max(1, round(ratio * len(members))) if len(members) else 0
    chosen = np.random.default_rng(seed).choice(members, size=keep, replace=False)
    rows = np.sort(np.concatenate([np.flatnonzero(buckets != bucket), chosen]))
    before = np.bincount(buckets, minlength=6)
    after = np.bincount(buckets[rows], minlength=6)
    logger.info(
        "Undersampled label bucket %d to %.0f%%: %d of %d training pairs kept; buckets 0-5 before %s, after %s.",
        bucket,
        100 * ratio,
        len(rows),
        len(dataset),
        before.tolist(),
        after.tolist(),
    )
    return dataset.select(rows)


def training_pairs(dataset: datasets.Dataset, data_args, seed: int) -> datasets.Dataset:
    """The pairs a model trains on, from the training rows of a run or of one fold: undersampled as the recipe says
    (`undersample_bucket`, `undersample_ratio`, see [`undersample`]), then with swapped pairs added
    (`add_swapped_pairs`, see [`add_swapped_pairs`]). Validation and test data never go through it."""
    if data_args.undersample_bucket is not None:
        dataset = undersample(dataset, data_args.undersample_bucket, data_args.undersample_ratio, seed)
    return add_swapped_pairs(dataset) if data_args.add_swapped_pairs else dataset


def log_cleaning(splits: dict[str, datasets.Dataset], steps: list[str] | None) -> None:
    """One line on what the cleaning steps change in each split (sentences changed, of all), and one warning for
    sentences they leave empty (the model then reads only the prompt and special tokens there)."""
    from .text_cleaning import clean_text

    if not steps:
        return
    for split, dataset in splits.items():
        sentences = dataset["sentence1"][:] + dataset["sentence2"][:]
        cleaned = [clean_text(sentence, steps) for sentence in sentences]
        changed = sum(before != after for before, after in zip(sentences, cleaned, strict=True))
        logger.info("text_cleaning %s changes %d of the %d %s sentences.", steps, changed, len(sentences), split)
        empty = [row for row, text in enumerate(cleaned) if not text.strip()]
        if empty:
            row = empty[0] % len(dataset)
            logger.warning(
                "text_cleaning leaves %d %s sentence(s) empty, first in the pair with id %r: %r.",
                len(empty),
                split,
                dataset["id"][row],
                sentences[empty[0]],
            )


def map_fingerprint(dataset: datasets.Dataset, tokenizer: PreTrainedTokenizerBase, **settings) -> str:
    """The `new_fingerprint` of `dataset.map` with a transform that tokenizes with `tokenizer` under `settings`.

    Without it datasets fingerprints the map (the result's name, and its cache file for a dataset read from disk)
    by pickling the transform, and so the tokenizer it closes over, several times per map: about 7 seconds per split
    for the 250k-piece vocabulary of multilingual-e5-small or XLM-R (0.12 s with this), in every run, fold and test.
    This hashes what decides the result instead: the dataset's own fingerprint, the tokenizer's class, serialized
    pipeline (`backend_tokenizer`, about 0.05 s; a slow tokenizer is pickled as before) and init settings, and
    `settings` (the transform's parameters).

    Returns:
        A hex digest (`datasets.fingerprint.Hasher`).
    """
    from datasets.fingerprint import Hasher

    state = tokenizer.backend_tokenizer.to_str() if tokenizer.is_fast else tokenizer
    init = {key: str(value) for key, value in tokenizer.init_kwargs.items()}
    return Hasher.hash([dataset._fingerprint, type(tokenizer).__name__, state, init, settings])


def tokenize_pairs(
    dataset: datasets.Dataset,
    tokenizer,
    max_seq_length: int,
    num_proc: int | None = None,
    architecture: str = "cross-encoder",
    prompt: str | None = None,
    text_cleaning: list[str] | None = None,
) -> datasets.Dataset:
    """Encode the pairs for a model, without padding (batches are padded dynamically).

    A cross-encoder reads each pair as one sequence (`[CLS] sentence1 [SEP] sentence2 [SEP]`, the longer sentence
    truncated first); a bi-encoder reads each sentence alone: `sentence1` under the tokenizer's usual keys and
    `sentence2` under the same keys with the suffix `_b` (`input_ids_b`, ...), each truncated to `max_seq_length`.

    Args:
        architecture (`str`): `"cross-encoder"` or `"bi-encoder"`.
        prompt (`str`, *optional*): text put before every sentence (the model's `config.prompt`).
        text_cleaning (`list[str]`, *optional*): cleaning steps applied to every sentence first (the model's
            `config.text_cleaning`, see `hf_sts.text_cleaning`).

    Raises:
        ValueError: for another `architecture`.

    Returns:
        A dataset with the tokenizer's model inputs (`input_ids`, `attention_mask`, and `token_type_ids` where the
        tokenizer makes them; doubled with `_b` for a bi-encoder), plus `labels` (float scores) and `binary_labels`
        (0/1) when the split is labeled.
    """
    from .modeling_sts import MODEL_CLASSES

    if architecture not in MODEL_CLASSES:
        raise ValueError(f"`architecture` must be one of {list(MODEL_CLASSES)}, got {architecture!r}.")
    labeled = all(label is not None for label in dataset["label"])

    def encode(batch):
        encoded = MODEL_CLASSES[architecture].pair_inputs(
            tokenizer,
            batch["sentence1"],
            batch["sentence2"],
            prompt,
            text_cleaning,
            truncation=True,
            max_length=max_seq_length,
        )
        if labeled:
            encoded["labels"] = batch["label"]
            encoded["binary_labels"] = batch["binary_label"]
        return encoded

    fingerprint = map_fingerprint(
        dataset, tokenizer, architecture=architecture, prompt=prompt, cleaning=text_cleaning, length=max_seq_length
    )
    return dataset.map(
        encode,
        batched=True,
        num_proc=num_proc,
        remove_columns=dataset.column_names,
        new_fingerprint=fingerprint,
        desc="Tokenizing pairs",
    )


def length_order(features) -> np.ndarray | None:
    """The rows of tokenized pairs, longest first (ties in row order): `(n,)` int64 indices, the order in which
    batches are scored (`hf_sts.predict.predict_scores`, `StsTrainer`'s evaluation), so each pads little.

    Args:
        features: a dataset from [`tokenize_pairs`], or the `BatchEncoding` of a model's `tokenize`. A row's length
            is its longest token sequence (`input_ids`, and `input_ids_b` for a bi-encoder).

    Returns:
        The indices, or `None` when there are no `input_ids` columns.
    """
    names = features.column_names if isinstance(features, datasets.Dataset) else list(features.keys())
    columns = [features[name] for name in names if name.startswith("input_ids")]
    if not columns:
        return None
    lengths = np.max([[len(ids) for ids in column] for column in columns], axis=0)
    return np.argsort(-lengths, kind="stable")


def length_sorted_batches(
    features, collate, batch_size: int, device, description: str, show_progress_bar: bool = True
):
    """Yield `(rows, batch)` over tokenized rows, longest first ([`length_order`]): `rows` the `(b,)` row indices of
    the batch, `batch` the dict of tensors `collate` pads them to (`(b, seq_len)` each), moved to `device`; a tqdm
    bar named `description` counts the batches. What `hf_sts.predict.predict_scores` scores pairs and the
    back-translation filter embeds sentences with (`hf_sts.augment`).

    Args:
        features: a `BatchEncoding` (or dict of per-row lists) with `input_ids` columns.
        collate: a data collator (`DataCollatorWithPadding`, [`BiEncoderCollator`]).
    """
    from tqdm.auto import tqdm

    keys = list(features.keys())
    order = length_order(features)
    for start in tqdm(range(0, len(order), batch_size), desc=description, disable=not show_progress_bar):
        rows = order[start : start + batch_size]
        batch = collate([{key: features[key][row] for key in keys} for row in rows])
        yield rows, {key: value.to(device) for key, value in batch.items()}


@dataclass
class BiEncoderCollator:
    """Batch bi-encoder features (see `tokenize_pairs`): pad the first and the second sentences separately, each to
    the longest of its side in the batch, with `tokenizer.pad`.

    Returns (from `__call__`): a dict of tensors, `input_ids` / `attention_mask` / ... of shape `(batch, len_a)`,
    the same keys with `_b` of shape `(batch, len_b)`, and `labels` / `binary_labels` of shape `(batch,)` when the
    features have them.
    """

    tokenizer: PreTrainedTokenizerBase

    def __call__(self, features: list[dict]) -> dict:
        first = [{key: value for key, value in feature.items() if not key.endswith("_b")} for feature in features]
        second = [{key[:-2]: value for key, value in feature.items() if key.endswith("_b")} for feature in features]
        batch = dict(self.tokenizer.pad(first, return_tensors="pt"))
        batch.update({f"{key}_b": value for key, value in self.tokenizer.pad(second, return_tensors="pt").items()})
        return batch


def write_predictions(dataset: datasets.Dataset, predictions: np.ndarray, path: str | Path) -> pd.DataFrame:
    """Write `id,source,sentence1,sentence2,label,prediction` (predictions clipped to [0, 5]) to a CSV file.

    Args:
        dataset: the split in the hf_sts schema, in the order the predictions were made.
        predictions: scores of shape `(len(dataset),)`.

    Raises:
        ValueError: if the number of predictions differs from the number of rows.
    """
    if len(predictions) != len(dataset):
        raise ValueError(f"{len(predictions)} predictions for {len(dataset)} rows of {path}.")
    frame = dataset.select_columns(["id", "source", "sentence1", "sentence2", "label"]).to_pandas()
    frame["prediction"] = clip_scores(predictions)
    frame.to_csv(path, index=False)
    return frame


def write_submission(
    dataset: datasets.Dataset, predictions: np.ndarray, path: str | Path, with_sentences: bool = False
) -> pd.DataFrame:
    """Write exactly `id,target` (predictions clipped to [0, 5]), one row per test pair in input order; with
    `with_sentences`, `id,target,sentence1,sentence2`.

    Raises:
        ValueError: if the number of predictions differs from the number of rows.
    """
    if len(predictions) != len(dataset):
        raise ValueError(f"{len(predictions)} predictions for {len(dataset)} rows of {path}.")
    frame = pd.DataFrame({"id": dataset["id"], "target": clip_scores(predictions)})
    if with_sentences:
        frame = frame.assign(sentence1=dataset["sentence1"], sentence2=dataset["sentence2"])
    frame.to_csv(path, index=False)
    return frame
