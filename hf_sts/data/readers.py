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

Files are read by extension (`.csv`, `.tsv`, `.json`, `.jsonl`), as UTF-8; the columns then choose the reader. A file
that nearly has a format's columns (a KorSTS TSV without `score`) is refused, naming the columns it lacks, rather than
read as another format that ignores the rest.
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

from hf_sts.errors import DataFormatError, first_line
from hf_sts.metrics import SCORE_MAX, SCORE_MIN


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


# The strings pandas (`read_csv`'s default `na_values`) and spreadsheet tools read as a missing value. hf_sts reads every
# cell as the text it is, so a sentence that is one of these stays that text, with a warning (see `_validate`).
NA_STRINGS = frozenset(
    ["#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA"]
    + ["NULL", "NaN", "None", "n/a", "nan", "null"]
)

# How many 1-based rows a warning lists before it says "...".
ROWS_NAMED = 5


@dataclass(frozen=True)
class Reader:
    """One data format: `required` columns identify it (together with the optional `label_columns`, all present or
    all absent), and `convert` maps a frame with those columns to the hf_sts schema (labels may be NaN). `optional`
    are the other columns it reads where present."""

    name: str
    required: frozenset[str]
    label_columns: frozenset[str]
    convert: Callable[[pd.DataFrame, str], pd.DataFrame]
    optional: frozenset[str] = frozenset()

    def matches(self, columns: set[str]) -> bool:
        return self.required <= columns and (self.label_columns <= columns or not self.label_columns & columns)

    @property
    def columns(self) -> frozenset[str]:
        """Every column the format reads."""
        return self.required | self.label_columns | self.optional

    def lacking(self, columns: set[str]) -> list[str]:
        """The columns a file with `columns` lacks to be of this format (label columns where it has some)."""
        missing = self.required - columns
        if self.label_columns & columns:
            missing |= self.label_columns - columns
        return sorted(missing)


READERS: list[Reader] = []


def register_reader(
    name: str, required: set[str], label_columns: set[str] = frozenset(), optional: set[str] = frozenset()
):
    """Decorator that adds a converter `fn(frame, origin) -> frame` to `READERS` as the format `name`.

    `origin` is the file path or dataset name (for ids and error messages). The converter returns the columns of
    `STS_FEATURES`, with `label` NaN and `binary_label` -1 where the input has no labels. A converter that makes ids
    up (the input has none) sets `attrs["generated_ids"] = True` on the frame it returns, so that the files of one
    split can be told apart (see [`read_training_files`]). `optional`: the other columns it reads where present.

    Raises:
        ValueError: if `name` is already registered.
    """

    def decorator(fn):
        if any(reader.name == name for reader in READERS):
            raise ValueError(f"A data reader named {name!r} is already registered.")
        READERS.append(Reader(name, frozenset(required), frozenset(label_columns), fn, frozenset(optional)))
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
    optional={"binary-label"},
)
def _from_competition(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    return _to_schema(frame, "id", "source", "sentence_1", "sentence_2", "label", "binary-label")


@register_reader("korsts", required={"genre", "filename", "year", "id", "score", "sentence1", "sentence2"})
def _from_korsts(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    frame = frame.assign(pair_id=frame["filename"] + "-" + frame["year"] + "-" + frame["id"])
    return _to_schema(frame, "pair_id", "genre", "sentence1", "sentence2", "score")


@register_reader(
    "pairs", required={"sentence1", "sentence2"}, label_columns={"label"}, optional={"id", "source", "binary_label"}
)
def _from_pairs(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    stem = Path(origin).stem
    generated = "id" not in frame
    if generated:  # `{stem}-{row}`, the row 0-based: the ids of saved runs and predictions
        frame = frame.assign(id=[f"{stem}-{row}" for row in range(len(frame))])
    if "source" not in frame:
        frame = frame.assign(source=stem)
    converted = _to_schema(frame, "id", "source", "sentence1", "sentence2", "label", "binary_label")
    converted.attrs["generated_ids"] = generated
    return converted


def _decoding_error(path: Path, error: UnicodeDecodeError) -> DataFormatError:
    """The error for a file that is not UTF-8 throughout: it names the first line (1-based) that does not decode,
    and says where that line reads as CP949 (EUC-KR), the legacy Korean encoding, and where the lines before it are
    UTF-8 text (a file that mixes encodings)."""
    earlier_text = False
    for number, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as failure:
            clauses = [
                f"{path}: line {number} (1-based) is not UTF-8 (byte 0x{line[failure.start]:02x} at byte "
                f"{failure.start + 1} of the line)"
            ]
            try:
                line.decode("cp949")
                clauses.append("it reads as CP949 (EUC-KR)")
            except UnicodeDecodeError:
                pass
            if earlier_text:
                clauses.append("the lines before it are UTF-8 text: the file mixes encodings")
            return DataFormatError("; ".join([*clauses, "data files are read as UTF-8: save it as UTF-8."]))
        earlier_text = earlier_text or not line.isascii()
    return DataFormatError(f"{path}: not UTF-8 ({error.reason} at byte {error.start}); save it as UTF-8.")


def read_table(path: Path) -> pd.DataFrame:
    """Read a data file (`.csv`, `.tsv`, `.json`, `.jsonl`) into a frame of strings, every column as it is (no value
    parsed or dropped; nested JSON fields flattened with dots): what the readers convert, and where extra columns
    (the back-translations of `hf-sts augment back-translate --translation_columns`) are found.

    Raises:
        DataFormatError: for an empty file, an unsupported extension, a file that does not parse, or one that is not
            UTF-8 throughout (naming the first line that is not).
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
    except UnicodeDecodeError as error:
        raise _decoding_error(path, error) from None
    except (pd.errors.ParserError, json.JSONDecodeError) as error:
        raise DataFormatError(f"{path}: cannot be parsed as {suffix[1:].upper()}: {error}") from None
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        raise DataFormatError(f"{path}: expected a JSON list of objects (one per sentence pair).")
    return pd.json_normalize(records)


def _row_list(rows) -> str:
    """The first `ROWS_NAMED` of the 0-based `rows`, as the 1-based numbers messages name (`"3, 7, ..."`)."""
    named = ", ".join(str(row + 1) for row in rows[:ROWS_NAMED])
    return named + (", ..." if len(rows) > ROWS_NAMED else "")


def _warn_about_na_strings(frame: pd.DataFrame, origin: str) -> None:
    """One warning for the pairs of `frame` with a sentence that is only a missing-value mark (`NA_STRINGS`: `nan`,
    `NULL`, ...): hf_sts keeps it as the text it is, where pandas would have read a missing sentence."""
    marks = [frame[column].astype(str).str.strip() for column in ("sentence1", "sentence2")]
    rows = np.flatnonzero((marks[0].isin(NA_STRINGS) | marks[1].isin(NA_STRINGS)).to_numpy())
    if len(rows):
        found = sorted({text for column in marks for text in column.iloc[rows] if text in NA_STRINGS})
        logger.warning(
            "%s: %d pair(s) have a sentence that is only %s, which pandas and spreadsheet tools read as a missing "
            "value; kept as that text. Rows %s (1-based, header excluded).",
            origin,
            len(rows),
            " or ".join(repr(text) for text in found),
            _row_list(rows),
        )


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
    _warn_about_na_strings(frame, origin)
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


def _near_miss(columns: set[str], matched: Reader | None) -> Reader | None:
    """The format a file with `columns` nearly has, where it is not `matched` (the format it does have, if any): more
    than half of that format's columns are there, and, where another format matched, at least two of them are ones
    that format does not read (a KorSTS TSV without `score` still has `genre`, `filename` and `year`)."""
    candidates = []
    for reader in READERS:
        if reader.matches(columns):
            continue
        own = reader.required | reader.label_columns
        present = own & columns
        if len(present) * 2 <= len(own):
            continue
        if matched is not None and len(present - matched.columns) < 2:
            continue
        candidates.append((len(present) / len(own), reader))
    return max(candidates, key=lambda candidate: candidate[0])[1] if candidates else None


def to_sts_frame(frame: pd.DataFrame, origin: str, require_labels: bool = True, id_prefix: str = "") -> pd.DataFrame:
    """Convert a raw frame in any registered format to the hf_sts schema.

    Args:
        frame (`pd.DataFrame`): the raw columns, nested fields flattened with dots (`labels.real-label`).
        origin (`str`): file path or dataset split, for ids of files without them and for error messages.
        require_labels (`bool`): whether every row must carry a label in [0, 5] (train and validation data).
        id_prefix (`str`): put before the ids hf_sts makes up for a file without ids (never before ids it has).

    Raises:
        DataFormatError: if no reader recognises the columns, or the columns nearly make a format but lack some
            (named), or a row is malformed (named by its 1-based number).
    """
    columns = set(frame.columns)
    matched = next((reader for reader in READERS if reader.matches(columns)), None)
    closest = _near_miss(columns, matched)
    if closest is not None:
        raise DataFormatError(
            f"{origin}: reads as the {closest.name} format but lacks the column(s) {closest.lacking(columns)} "
            f"(columns found: {sorted(columns)}); a {closest.name} file has "
            f"{', '.join(sorted(closest.required | closest.label_columns))}."
        )
    if matched is not None:
        converted = matched.convert(frame, origin)
        if id_prefix and converted.attrs.get("generated_ids") and len(converted):
            converted = converted.assign(id=id_prefix + converted["id"].astype(str))
            logger.info(
                "%s has no id column: its pairs get the ids %r to %r, prefixed with its position in the list of "
                "files, as another file in the list has the same name.",
                origin,
                converted["id"].iloc[0],
                converted["id"].iloc[-1],
            )
        return _validate(converted, origin, require_labels)
    expected = "; ".join(
        f"{reader.name}: {', '.join(sorted(reader.required | reader.label_columns))}" for reader in READERS
    )
    raise DataFormatError(
        f"{origin}: columns {sorted(columns)} match no known STS format. Expected one of: {expected}."
    )


def read_sts_file(path: str | Path, require_labels: bool = True, id_prefix: str = "") -> datasets.Dataset:
    """Read one STS file (KLUE JSON, competition CSV, KorSTS TSV or plain CSV) into the hf_sts schema. A file without
    ids gets `{id_prefix}{stem}-{row}` (`row` 0-based, `stem` the file name without its extension). A sentence that is
    only a missing-value mark (`nan`, `NULL`, ...) stays that text, with one warning naming the file and rows.

    Returns:
        A `datasets.Dataset` with the features `STS_FEATURES`, rows in file order. Unlabeled files (allowed when
        `require_labels=False`) get `label` `None` and `binary_label` -1.

    Raises:
        DataFormatError: naming the file, and the row or column, when the file is missing or malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file (relative paths are read from the current directory).")
    frame = to_sts_frame(read_table(path), str(path), require_labels=require_labels, id_prefix=id_prefix)
    return datasets.Dataset.from_pandas(frame, features=STS_FEATURES, preserve_index=False)


def file_list(value) -> list[str]:
    """A recipe's file value as a list: `None` -> `[]`, a path -> `[path]`, a list as it is (`train_file` takes one
    file or several)."""
    if value is None:
        return []
    return [str(value)] if isinstance(value, (str, Path)) else [str(item) for item in value]


def read_training_files(paths: list[str]) -> datasets.Dataset:
    """Read one or more labeled training files and concatenate them in order (see [`read_sts_file`]).

    The ids hf_sts makes up for files without ids (`{stem}-{row}`) would collide between two different files of the
    same name (`a/train.csv`, `b/train.csv`): those files' made-up ids get their 1-based position in `paths` as a
    prefix (`1.train-0`, `2.train-0`), which one line logs. Every other id stays as it is.

    Raises:
        DataFormatError: for a malformed file, or an id found in two files (naming both; a file listed twice is said
            to be), since ids align predictions and provenance.
    """
    stems = [Path(path).stem for path in paths]
    resolved = [Path(path).resolve() for path in paths]
    parts = []
    for index, path in enumerate(paths):
        shares_its_name = any(
            stem == stems[index] and other != resolved[index] for stem, other in zip(stems, resolved, strict=True)
        )
        # A file listed twice gets the prefix of its first listing, so that its ids collide (and it is refused).
        prefix = f"{resolved.index(resolved[index]) + 1}." if shares_its_name else ""
        parts.append(read_sts_file(path, require_labels=True, id_prefix=prefix))
    seen: dict[str, int] = {}
    for position, (path, part) in enumerate(zip(paths, parts, strict=True)):
        for row, id_ in enumerate(part["id"]):
            if id_ in seen:
                first = seen[id_]
                listed_twice = " (the same file, listed twice)" if resolved[first] == resolved[position] else ""
                raise DataFormatError(
                    f"{path}: row {row + 1} (1-based, header excluded): id {id_!r} is also in {paths[first]}"
                    f"{listed_twice}; the ids of all training files must be unique."
                )
        seen.update(dict.fromkeys(part["id"], position))
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
        The sentences, stripped, in file order (each pair's sentences one after the other), empty ones (and JSON
        `null`s) left out.

    Raises:
        DataFormatError: naming the file, for a missing, malformed or non-UTF-8 file (the first line that is not
            UTF-8 named), a table without text columns (the columns found are listed), or a file without any text.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file (relative paths are read from the current directory).")
    if path.suffix.lower() == ".txt":
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except UnicodeDecodeError as error:
            raise _decoding_error(path, error) from None
        sentences = [line.strip() for line in lines]
        if not any(sentences):
            size = path.stat().st_size
            raise DataFormatError(
                f"{path}: no text ({'an empty file, 0 bytes' if not size else 'only blank lines'}); expected one "
                "sentence per line."
            )
    else:
        frame = read_table(path)
        columns = next((names for names in TEXT_COLUMNS if set(names) <= set(frame.columns)), None)
        if columns is None:
            raise DataFormatError(
                f"{path}: no text columns; expected one of {[list(names) for names in TEXT_COLUMNS]} (or a .txt file "
                f"with one sentence per line), found {list(frame.columns)}."
            )
        sentences = [
            "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text).strip()
            for text in frame[list(columns)].to_numpy().ravel()
        ]
        if not any(sentences):
            raise DataFormatError(f"{path}: no text; its text columns {list(columns)} are empty in every row.")
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
        raise DataFormatError(f"{name}: cannot load the dataset: {first_line(error)}") from None


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
