"""The STS data report, `hf-sts describe`: what sentence-pair files hold, before a model is trained on them.

    hf-sts describe train.csv dev.json [--tokenizer NAME_OR_PATH] [--max_seq_length N] [--output_dir DIR]

For each file, and for each `source` within a file that has several:

- pairs, and the label histogram over the integer buckets of the 0.0–5.0 score (`hf_sts.data.pairs.label_buckets`: the
  floor of the label, 5.0 in bucket 5);
- sentence lengths in characters (both sentences of every pair): percentiles, maximum, sentences over 100 characters;
- with a tokenizer, tokens per pair as a cross-encoder reads it (`tokenizer(sentence1, sentence2)`, special tokens
  included, no truncation): percentiles, maximum, and the share of pairs that `max_seq_length` 64, 128, 256, 512
  (and `--max_seq_length`) would truncate.

For each file: pairs that occur more than once (same `sentence1` and `sentence2`) and pairs that also occur with the
sentences exchanged, with how many of those disagree on the label; and the F1 threshold its binary labels imply
(`hf_sts.data.checks.implied_binary_threshold`), with the rows that contradict it. Across files: pairs that occur in
two files, in either order (train/dev leakage).

Files are read as training reads them (`hf_sts.data.readers.read_sts_file`, any supported format); unlabeled test files
are described without their label parts. The report is printed as Markdown; with `output_dir` it is also written there
as `describe.md`, with PNG plots.

With `audit` (`--audit PREDICTIONS.csv`), the report adds a label-noise audit (`hf_sts.tools.audit`): the pairs of a
cross-validation's out-of-fold predictions that disagree most with their labels, their sentences from the files
described (joined by id), and with `output_dir` all of them ranked in `label_audit.csv`. An audit needs no other
file when the predictions file holds the sentences.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from hf_sts.data.checks import implied_binary_threshold
from hf_sts.data.pairs import label_buckets, pair_keys
from hf_sts.data.readers import read_sts_file
from hf_sts.errors import HfStsError, checked_from_pretrained
from hf_sts.metrics import BINARY_THRESHOLD
from hf_sts.tools.audit import (
    AUDIT_FILE,
    BUCKET_NAMES,
    LabelAudit,
    audit_labels,
    join_sentences,
    read_predictions,
    write_audit,
)
from hf_sts.training.card import markdown_table
from hf_sts.utils.write_guard import atomic_output, check_output, write_text


PERCENTILES = (50, 90, 99)
LONG_SENTENCE_CHARS = 100
TRUNCATION_LENGTHS = (64, 128, 256, 512)
# The label buckets of `label_buckets`, as column names: bucket b holds the labels in [b, b+1); bucket 5 only 5.0.
BUCKET_COLUMNS = BUCKET_NAMES
MAX_NAMED_ROWS = 5
REPORT_NAME = "describe.md"
PLOT_NAMES = {
    "label_buckets": "label_buckets.png",
    "sentence_chars": "sentence_chars.png",
    "pair_tokens": "pair_tokens.png",
}
# What `--output_dir` holds: an earlier report there is replaced, nothing else is written over.
REPORT_FILES = (REPORT_NAME, *PLOT_NAMES.values(), AUDIT_FILE)


@dataclass
class DescribeReport:
    """What [`describe_files`] found, as tables (one row per file, or per file and source), and the files it wrote.

    Attributes:
        files (`list[str]`): the files' names in the tables (the file name, or the path where two names clash).
        pairs (`pd.DataFrame`): `file, source, pairs, labeled`, the pairs per label bucket (`[0,1)` ... `[4,5)`,
            `5.0`; `<NA>` for unlabeled files) and `mean label` (0.0–5.0). `source` is `all` for the whole file,
            followed by one row per source where a file has several.
        characters (`pd.DataFrame`): `file, source, sentences`, the percentiles `p50, p90, p99` and `max` of the
            sentence lengths in characters (pN: at least N% of the sentences are at most that long), and `> 100`,
            the sentences longer than 100 characters.
        tokens (`pd.DataFrame` or `None`): with a tokenizer, `file, source, pairs`, the percentiles and `max` of the
            tokens per pair, and one column `truncated at L` per length L: the pairs longer than L tokens.
        duplicates (`pd.DataFrame`): per file, `repeated pairs` (distinct pairs occurring more than once in the same
            order), their `rows` and how many of those pairs have `different labels`; then `swapped pairs` (pairs
            occurring in both orders), their `swapped rows` and `swapped different labels` (`<NA>` when unlabeled).
        shared (`pd.DataFrame`): per two files, `shared pairs` (distinct pairs in both, in either order) and the
            rows holding them in each (`rows in file`, `rows in other`).
        binary (`pd.DataFrame`): per file, `labeled`, `binary labels` (rows with a 0/1 binary label), `threshold`
            (implied, 0.0–5.0; NaN when none is), `contradicting rows` (0-based row numbers) and `named` (the first
            of them as text: `row 7 (id c7, label 4.2, binary 0)`, rows 1-based).
        label_disagreements (`dict[str, list[str]]`): per file, the first duplicate pairs (in either order) whose
            rows disagree on the label, as text: `rows 3, 9 (labels 2.0, 3.4)` (1-based).
        tokenizer (`str` or `None`): the tokenizer's name or path.
        max_seq_length (`int` or `None`): the extra truncation length asked for.
        audit (`LabelAudit` or `None`): the label-noise audit of a predictions file (`hf_sts.tools.audit`).
        written (`dict[str, Path]`): the written files by name (`report`, the plot names of `PLOT_NAMES`, and
            `audit` for `label_audit.csv`); empty when nothing was written.
    """

    files: list[str]
    pairs: pd.DataFrame
    characters: pd.DataFrame
    tokens: pd.DataFrame | None
    duplicates: pd.DataFrame
    shared: pd.DataFrame
    binary: pd.DataFrame
    label_disagreements: dict[str, list[str]] = field(default_factory=dict)
    tokenizer: str | None = None
    max_seq_length: int | None = None
    audit: LabelAudit | None = None
    written: dict[str, Path] = field(default_factory=dict)

    @property
    def truncation_lengths(self) -> list[int]:
        """The lengths (tokens) whose truncation share is reported: 64, 128, 256, 512 and `max_seq_length`."""
        return sorted(set(TRUNCATION_LENGTHS) | ({self.max_seq_length} if self.max_seq_length else set()))

    @property
    def markdown(self) -> str:
        """The report as Markdown (what `hf-sts describe` prints; `describe.md` adds the plots)."""
        parts = [_render(self)] if self.files else ["# STS data report\n"]
        if self.audit is not None:
            parts.append(self.audit.markdown + "\n")
        return "\n".join(parts)


def describe_files(
    paths: list[str | Path],
    tokenizer: str | PreTrainedTokenizerBase | None = None,
    output_dir: str | Path | None = None,
    max_seq_length: int | None = None,
    audit: str | Path | None = None,
    audit_top: int = 20,
) -> DescribeReport:
    """Describe STS files: pairs, labels, lengths, duplicates, leakage between files and binary labels; with `audit`,
    audit labels against a predictions file too.

    Every input is checked, and every file read, before anything is written.

    Args:
        paths: one or more files in any format `hf_sts.data.readers.read_sts_file` reads (labels 0.0–5.0, or none).
        tokenizer: a tokenizer, or the name or folder of one (`AutoTokenizer`), to count tokens per pair; `None`
            leaves token counts out.
        output_dir: the folder to write `describe.md` and the plots to (created if missing; see `check_output`);
            `None` writes nothing.
        max_seq_length: a length in tokens (at least 1) whose truncation share is reported next to 64, 128, 256
            and 512; needs `tokenizer`.
        audit: a predictions file with `id`, `label`, `prediction` (a cross-validation's `oof_predictions.csv`) to
            audit (see `hf_sts.tools.audit`); its sentences come from `paths` by id where it lacks them. `paths` may
            then be empty.
        audit_top: how many of the most disagreeing pairs the audit lists (at least 1).

    Returns:
        A [`DescribeReport`]; its `markdown` is the printed report.

    Raises:
        HfStsError: no file (and no `audit`), a file given twice, `max_seq_length` below 1 or without a
            tokenizer, `audit_top` below 1, or a tokenizer that cannot be loaded (one line naming it).
        hf_sts.errors.OutputError: an `output_dir` that is a file, holds or lies inside an input, is a model folder
            or a run, or holds other files than an earlier report's (`REPORT_FILES`).
        DataFormatError: a missing or malformed file (naming it, and the row or column); a predictions file to
            audit that lacks `id`, `label` or `prediction` (naming the expected columns), or whose ids are not all
            in `paths` when it has no sentences.
    """
    if not paths and audit is None:
        raise HfStsError("describe: no file given; name one or more STS files (or --audit PREDICTIONS.csv).")
    if isinstance(audit_top, bool) or not isinstance(audit_top, int) or audit_top < 1:
        raise HfStsError(f"`audit_top` must be a number of pairs of at least 1, got {audit_top}.")
    if max_seq_length is not None and (
        isinstance(max_seq_length, bool) or not isinstance(max_seq_length, int) or max_seq_length < 1
    ):
        raise HfStsError(f"`max_seq_length` must be a number of tokens of at least 1, got {max_seq_length}.")
    if max_seq_length is not None and tokenizer is None:
        raise HfStsError("`max_seq_length` counts tokens: give the tokenizer as well (--tokenizer NAME_OR_PATH).")
    resolved = [Path(path).resolve() for path in paths]
    twice = next((path for path, full in zip(paths, resolved, strict=True) if resolved.count(full) > 1), None)
    if twice is not None:
        raise HfStsError(f"{twice}: given twice; name each file once.")
    if output_dir is not None:  # a new or empty folder, or an earlier report; never a file, a run or an input
        check_output(
            output_dir,
            "--output_dir",
            inputs=[*paths, tokenizer if isinstance(tokenizer, str) else None, audit],
            folder=True,
            own_names=REPORT_FILES,
        )
    frames = [read_sts_file(path, require_labels=False).to_pandas() for path in paths]
    names = _display_names(paths)
    label_audit = None
    if audit is not None:
        predictions = join_sentences(read_predictions(audit), dict(zip(names, frames, strict=True)), str(audit))
        label_audit = audit_labels(predictions, Path(audit).name, audit_top)
    if not paths:
        empty = pd.DataFrame()
        report = DescribeReport([], empty, empty, None, empty, empty, empty, audit=label_audit)
        if output_dir is not None:
            report.written = _write(report, [], None, Path(output_dir))
        return report
    tokenizer_name = None
    if tokenizer is not None:
        tokenizer, tokenizer_name = _load_tokenizer(tokenizer)

    lengths = [_pair_tokens(tokenizer, frame) for frame in frames] if tokenizer is not None else None
    files = list(zip(names, frames, strict=True))
    report = DescribeReport(
        files=names,
        pairs=pd.DataFrame([row for name, frame in files for row in _pair_rows(name, frame)]).astype(
            dict.fromkeys(BUCKET_COLUMNS, "Int64")
        ),
        characters=pd.DataFrame([row for name, frame in files for row in _character_rows(name, frame)]),
        tokens=None,
        duplicates=pd.DataFrame([_duplicate_row(name, frame) for name, frame in files]).astype(
            dict.fromkeys(["different labels", "swapped different labels"], "Int64")
        ),
        shared=_shared_pairs(names, frames),
        binary=pd.DataFrame([_binary_row(name, frame) for name, frame in files]),
        label_disagreements={name: _disagreement_lines(frame) for name, frame in files},
        tokenizer=tokenizer_name,
        max_seq_length=max_seq_length,
        audit=label_audit,
    )
    if lengths is not None:
        report.tokens = pd.DataFrame(
            [
                row
                for (name, frame), counts in zip(files, lengths, strict=True)
                for row in _token_rows(name, frame, counts, report.truncation_lengths)
            ]
        )
    if output_dir is not None:
        report.written = _write(report, frames, lengths, Path(output_dir))
    return report


def _load_tokenizer(tokenizer: str | PreTrainedTokenizerBase) -> tuple[PreTrainedTokenizerBase, str]:
    """The tokenizer and its name; a name or folder is loaded with `AutoTokenizer`, a failure is one line."""
    if isinstance(tokenizer, PreTrainedTokenizerBase):
        return tokenizer, tokenizer.name_or_path or type(tokenizer).__name__
    name = str(tokenizer)
    folder = Path(name).expanduser()
    if (folder.is_absolute() or name.startswith((".", "~"))) and not folder.is_dir():
        raise HfStsError(f"--tokenizer {name}: no such folder (a tokenizer is a local folder or a Hub id).")
    try:
        return checked_from_pretrained(AutoTokenizer, str(folder) if folder.is_dir() else name), name
    except HfStsError as error:
        raise HfStsError(f"--tokenizer {error}") from None


def _display_names(paths: list[str | Path]) -> list[str]:
    """Each file's name in the tables: its file name, or its path as given where two files share a name."""
    names = [Path(path).name for path in paths]
    return [name if names.count(name) == 1 else str(path) for name, path in zip(names, paths, strict=True)]


def _is_labeled(frame: pd.DataFrame) -> bool:
    return bool(frame["label"].notna().all())


def _by_source(frame: pd.DataFrame):
    """`("all", frame)`, then `(source, rows)` for each source in name order where the file has more than one."""
    yield "all", frame
    if frame["source"].nunique() > 1:
        yield from frame.groupby("source", sort=True)


def _percentiles(values: np.ndarray) -> dict[str, int]:
    """`pN`: the smallest value that at least N% of `values` do not exceed (`inverted_cdf`), and `max`."""
    found = np.percentile(values, PERCENTILES, method="inverted_cdf")
    return {**{f"p{p}": int(v) for p, v in zip(PERCENTILES, found, strict=True)}, "max": int(np.max(values))}


def _pair_rows(name: str, frame: pd.DataFrame) -> list[dict]:
    labeled = _is_labeled(frame)
    rows = []
    for source, group in _by_source(frame):
        row = {"file": name, "source": source, "pairs": len(group), "labeled": labeled}
        if labeled:
            counts = np.bincount(label_buckets(group["label"].to_numpy()), minlength=len(BUCKET_COLUMNS))
            row.update(zip(BUCKET_COLUMNS, (int(count) for count in counts), strict=True))
            row["mean label"] = float(group["label"].mean())
        else:
            row.update(dict.fromkeys(BUCKET_COLUMNS, pd.NA))
            row["mean label"] = float("nan")
        rows.append(row)
    return rows


def _sentence_chars(frame: pd.DataFrame) -> np.ndarray:
    """Characters of every sentence, `sentence1` of every pair then `sentence2`: shape `(2 * pairs,)`."""
    return np.concatenate([frame["sentence1"].str.len().to_numpy(), frame["sentence2"].str.len().to_numpy()])


def _character_rows(name: str, frame: pd.DataFrame) -> list[dict]:
    rows = []
    for source, group in _by_source(frame):
        chars = _sentence_chars(group)
        rows.append(
            {
                "file": name,
                "source": source,
                "sentences": len(chars),
                **_percentiles(chars),
                f"> {LONG_SENTENCE_CHARS}": int((chars > LONG_SENTENCE_CHARS).sum()),
            }
        )
    return rows


def _pair_tokens(tokenizer: PreTrainedTokenizerBase, frame: pd.DataFrame) -> np.ndarray:
    """Tokens of every pair read as one sequence, special tokens included and nothing truncated: shape `(pairs,)`."""
    encoded = tokenizer(list(frame["sentence1"]), list(frame["sentence2"]), truncation=False, verbose=False)
    return np.asarray([len(ids) for ids in encoded["input_ids"]], dtype=np.int64)


def _token_rows(name: str, frame: pd.DataFrame, lengths: np.ndarray, truncation: list[int]) -> list[dict]:
    lengths = pd.Series(lengths, index=frame.index)
    rows = []
    for source, group in _by_source(frame):
        counts = lengths.loc[group.index].to_numpy()
        row = {"file": name, "source": source, "pairs": len(counts), **_percentiles(counts)}
        row.update({f"truncated at {limit}": int((counts > limit).sum()) for limit in truncation})
        rows.append(row)
    return rows


def _repeats(frame: pd.DataFrame, keys: pd.Series, both_orders: bool = False) -> tuple[int, int, object, list]:
    """`(pairs, rows, pairs with different labels, rows of each such pair)` over the groups of more than one row
    sharing `keys` (with `both_orders`, only groups holding the pair in both orders). Rows are 0-based, in file
    order; the different-label count is `<NA>` for an unlabeled file."""
    selected = keys.groupby(keys).transform("size") > 1
    if both_orders:
        selected &= _ordered_keys(frame).groupby(keys).transform("nunique") > 1
    keys = keys[selected]
    labeled = _is_labeled(frame)
    disagreeing = []
    if labeled and len(keys):
        distinct = frame.loc[keys.index, "label"].round(6).groupby(keys, sort=False).nunique()
        positions = keys.groupby(keys, sort=False).indices
        disagreeing = [keys.index[positions[key]].to_numpy() for key in distinct.index[distinct > 1]]
    return keys.nunique(), len(keys), len(disagreeing) if labeled else pd.NA, disagreeing


def _ordered_keys(frame: pd.DataFrame) -> pd.Series:
    return frame["sentence1"] + "\x1f" + frame["sentence2"]


def _unordered_keys(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(pair_keys(list(frame["sentence1"]), list(frame["sentence2"])), index=frame.index)


def _duplicate_row(name: str, frame: pd.DataFrame) -> dict:
    repeated = _repeats(frame, _ordered_keys(frame))
    swapped = _repeats(frame, _unordered_keys(frame), both_orders=True)
    return {
        "file": name,
        "pairs": len(frame),
        "repeated pairs": repeated[0],
        "rows": repeated[1],
        "different labels": repeated[2],
        "swapped pairs": swapped[0],
        "swapped rows": swapped[1],
        "swapped different labels": swapped[2],
    }


def _disagreement_lines(frame: pd.DataFrame) -> list[str]:
    """The rows of the first duplicate pairs (in either order) whose labels differ: `rows 3, 9 (labels 2.0, 3.4)`."""
    _, _, _, disagreeing = _repeats(frame, _unordered_keys(frame))
    lines = []
    for rows in disagreeing[:MAX_NAMED_ROWS]:
        labels = ", ".join(_score(label) for label in frame.loc[rows, "label"])
        lines.append(f"rows {', '.join(str(row + 1) for row in rows)} (labels {labels})")
    if len(disagreeing) > MAX_NAMED_ROWS:
        lines.append(f"and {len(disagreeing) - MAX_NAMED_ROWS} more pairs")
    return lines


def _shared_pairs(names: list[str], frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Per two files (in the order given), the distinct pairs both hold in either order and the rows holding them."""
    keys = [_unordered_keys(frame) for frame in frames]
    rows = []
    for first in range(len(frames)):
        for second in range(first + 1, len(frames)):
            shared = set(keys[first]) & set(keys[second])
            rows.append(
                {
                    "file": names[first],
                    "other": names[second],
                    "shared pairs": len(shared),
                    "rows in file": int(keys[first].isin(shared).sum()),
                    "rows in other": int(keys[second].isin(shared).sum()),
                }
            )
    columns = ["file", "other", "shared pairs", "rows in file", "rows in other"]
    return pd.DataFrame(rows, columns=columns)


def _binary_row(name: str, frame: pd.DataFrame) -> dict:
    labeled = _is_labeled(frame)
    binary = frame["binary_label"].to_numpy()
    implied = implied_binary_threshold(frame["label"].to_numpy(), binary) if labeled else None
    contradicting = [int(row) for row in implied.contradictions] if implied else []
    return {
        "file": name,
        "labeled": labeled,
        "binary labels": int((binary >= 0).sum()) if labeled else 0,
        "threshold": implied.threshold if implied else float("nan"),
        "contradicting rows": contradicting,
        "named": [
            f"row {row + 1} (id {frame['id'].iloc[row]}, label {_score(frame['label'].iloc[row])}, "
            f"binary {frame['binary_label'].iloc[row]})"
            for row in contradicting[:MAX_NAMED_ROWS]
        ],
    }


# ---------------------------------------------------------------------------------------------------------------
# Markdown


def _score(score: float) -> str:
    """A 0.0–5.0 score as text: one decimal where that is exact (`3.0`, `2.5`), else up to four significant digits."""
    return f"{score:.1f}" if abs(score * 10 - round(score * 10)) < 1e-9 else f"{score:.4g}"


def _count(count: int) -> str:
    return f"{count:,}"


def _share(count, total: int) -> str:
    """`12.3% (45)`; `<0.1%` for a share that rounds to zero; `–` for a count that does not apply."""
    if pd.isna(count):
        return "–"
    share = 100 * count / total if total else 0.0
    text = "<0.1%" if count and share < 0.05 else f"{share:.1f}%"
    return f"{text} ({count:,})"


def _pairs_table(report: DescribeReport) -> str:
    rows = []
    for row in report.pairs.to_dict("records"):
        line = {"file": row["file"], "source": row["source"], "pairs": _count(row["pairs"])}
        line.update({column: _share(row[column], row["pairs"]) for column in BUCKET_COLUMNS})
        line["mean label"] = f"{row['mean label']:.2f}" if row["labeled"] else "no labels"
        rows.append(line)
    return markdown_table(rows)


def _lengths_table(frame: pd.DataFrame, total: str, shares: list[str]) -> str:
    rows = []
    for row in frame.to_dict("records"):
        line = {key: (_count(value) if isinstance(value, int) else value) for key, value in row.items()}
        line.update({column: _share(row[column], row[total]) for column in shares})
        rows.append(line)
    return markdown_table(rows)


def _duplicates_table(report: DescribeReport) -> str:
    rows = []
    for row in report.duplicates.to_dict("records"):
        line = {"file": row["file"], "pairs": _count(row["pairs"])}
        for prefix in ("", "swapped "):
            different = row[f"{prefix}different labels"]
            line[f"{prefix or 'repeated '}pairs"] = _count(row[f"{prefix or 'repeated '}pairs"])
            line[f"{prefix}rows"] = _count(row[f"{prefix}rows"])
            line[f"{prefix}different labels"] = "–" if pd.isna(different) else _count(different)
        rows.append(line)
    return markdown_table(rows)


def _binary_lines(report: DescribeReport) -> list[str]:
    lines, default = [], _score(BINARY_THRESHOLD)
    for row in report.binary.to_dict("records"):
        name = row["file"]
        if not row["labeled"]:
            lines.append(f"- {name}: no labels (a test file): no label buckets, label disagreements or threshold.")
        elif not row["binary labels"]:
            lines.append(
                f"- {name}: no binary labels; F1 takes KLUE's default threshold {default} (`label >= {default}` is "
                "binary 1) unless another file implies one or the recipe sets `binary_threshold`."
            )
        elif np.isnan(row["threshold"]):
            lines.append(f"- {name}: all {row['binary labels']:,} binary labels are 0: they imply no threshold.")
        else:
            contradicting = row["contradicting rows"]
            line = (
                f"- {name}: the binary labels of {row['binary labels']:,} pairs imply the threshold "
                f"{_score(row['threshold'])} (binary 1 where `label >= {_score(row['threshold'])}`); "
            )
            if not contradicting:
                line += "no row contradicts it."
            else:
                named = ", ".join(row["named"])
                more = (
                    f" and {len(contradicting) - MAX_NAMED_ROWS} more" if len(contradicting) > MAX_NAMED_ROWS else ""
                )
                line += f"{len(contradicting):,} row(s) contradict it: {named}{more}."
            lines.append(line)
    thresholds = {row["file"]: row["threshold"] for row in report.binary.to_dict("records") if row["threshold"] >= 0}
    if len(set(thresholds.values())) > 1:
        found = ", ".join(f"{name} {_score(value)}" for name, value in thresholds.items())
        lines.append(f"- The files imply different thresholds ({found}): a run takes the training file's.")
    return lines


def _render(report: DescribeReport) -> str:
    pairs = report.pairs[report.pairs["source"] == "all"]
    summary = ", ".join(
        f"{row['file']} ({row['pairs']:,} pairs{'' if row['labeled'] else ', no labels'})"
        for row in pairs.to_dict("records")
    )
    parts = [
        "# STS data report",
        f"Files: {summary}." + (f" Tokenizer: {report.tokenizer}." if report.tokenizer else ""),
        "## Pairs and labels",
        "Pairs per integer bucket of the 0.0–5.0 label (the floor of the label; 5.0 is bucket 5), as a share of the "
        "file's (or source's) pairs. `source` all is the whole file; each source follows where a file has several.",
        _pairs_table(report),
        "## Sentence lengths (characters)",
        f"Both sentences of every pair. pN: N% of the sentences are at most this long; > {LONG_SENTENCE_CHARS}: "
        f"sentences longer than {LONG_SENTENCE_CHARS} characters.",
        _lengths_table(report.characters, "sentences", [f"> {LONG_SENTENCE_CHARS}"]),
    ]
    if report.tokens is not None:
        limits = report.truncation_lengths
        parts += [
            f"## Pair lengths (tokens of {report.tokenizer})",
            "Tokens per pair as a cross-encoder reads it (`tokenizer(sentence1, sentence2)`, special tokens included, "
            "nothing truncated). truncated at L: the pairs longer than L tokens, which `max_seq_length` L truncates.",
            _lengths_table(report.tokens, "pairs", [f"truncated at {limit}" for limit in limits]),
        ]
        if report.max_seq_length:
            column = f"truncated at {report.max_seq_length}"
            parts.append(
                "\n".join(
                    f"- max_seq_length {report.max_seq_length} truncates {_share(row[column], row['pairs'])} of the "
                    f"pairs of {row['file']}."
                    for row in report.tokens[report.tokens["source"] == "all"].to_dict("records")
                )
            )
    parts += [
        "## Duplicate pairs within a file",
        "repeated: the same `sentence1` and `sentence2` on more than one row (distinct pairs, and their rows). "
        "swapped: a pair that also occurs with its sentences exchanged. different labels: such pairs whose rows "
        "disagree on the label. Rows are numbered from 1, header excluded.",
        _duplicates_table(report),
    ]
    details = [
        f"- {name}: labels differ on {'; '.join(lines)}."
        for name, lines in report.label_disagreements.items()
        if lines
    ]
    if details:
        parts.append("\n".join(details))
    parts.append("## Pairs shared between files")
    if len(report.files) < 2:
        parts.append("One file: nothing to compare.")
    else:
        parts.append(
            "Distinct pairs that occur in both files, in either order (train/dev leakage makes dev scores "
            "optimistic), and the rows holding them in each."
        )
        rows = [
            {key: (_count(value) if isinstance(value, int) else value) for key, value in row.items()}
            for row in report.shared.to_dict("records")
        ]
        parts.append(markdown_table(rows))
    parts += [
        "## Binary labels and the F1 threshold",
        "KLUE's F1 compares binary labels with `prediction >= threshold`; a file's binary labels imply the threshold "
        "(`hf_sts.data.checks.implied_binary_threshold`). Rows are numbered from 1, header excluded.",
        "\n".join(_binary_lines(report)),
    ]
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# Files


def _write(
    report: DescribeReport, frames: list[pd.DataFrame], lengths: list[np.ndarray] | None, output_dir: Path
) -> dict[str, Path]:
    """Write `describe.md` and the plots into `output_dir` (created); returns `{name: path}` of the written files."""
    # matplotlib's object API, as `hf_sts.inference.report` draws: a `Figure` renders with its own Agg canvas.
    output_dir.mkdir(parents=True, exist_ok=True)
    written = {"audit": write_audit(report.audit, output_dir / AUDIT_FILE)} if report.audit is not None else {}
    if not report.files:  # an audit alone
        return {"report": write_text(output_dir / REPORT_NAME, report.markdown), **written}
    paths = {}
    # The whole-file rows of the pairs table hold each labeled file's bucket counts.
    labeled = report.pairs[(report.pairs["source"] == "all") & report.pairs["labeled"]].to_dict("records")
    if labeled:
        figure = Figure(figsize=(6.5, 4))
        axes = figure.subplots()
        width = 0.8 / len(labeled)
        for number, row in enumerate(labeled):
            counts = np.array([row[column] for column in BUCKET_COLUMNS], dtype=float)
            positions = np.arange(len(BUCKET_COLUMNS)) - 0.4 + width * (number + 0.5)
            axes.bar(positions, 100 * counts / row["pairs"], width=width, label=f"{row['file']} ({row['pairs']:,})")
        axes.set_xticks(np.arange(len(BUCKET_COLUMNS)), BUCKET_COLUMNS)
        axes.set(xlabel="label bucket (score)", ylabel="% of the file's pairs")
        axes.legend(fontsize="small")
        paths["label_buckets"] = _save(figure, output_dir / PLOT_NAMES["label_buckets"])

    figure = Figure(figsize=(6.5, 4))
    axes = figure.subplots()
    chars = [_sentence_chars(frame) for frame in frames]
    edges = _length_bins(np.concatenate(chars))
    for name, values in zip(report.files, chars, strict=True):
        axes.hist(values, bins=edges, histtype="step", weights=np.full(len(values), 100 / len(values)), label=name)
    axes.axvline(LONG_SENTENCE_CHARS, color="grey", linewidth=1, linestyle="--")
    axes.set(xlabel="sentence length (characters)", ylabel="% of the file's sentences")
    axes.legend(fontsize="small")
    paths["sentence_chars"] = _save(figure, output_dir / PLOT_NAMES["sentence_chars"])

    if lengths is not None:
        figure = Figure(figsize=(6.5, 4))
        axes = figure.subplots()
        edges = _length_bins(np.concatenate(lengths))
        for name, values in zip(report.files, lengths, strict=True):
            axes.hist(values, bins=edges, histtype="step", weights=np.full(len(values), 100 / len(values)), label=name)
        longest = max(int(values.max()) for values in lengths)
        for limit in report.truncation_lengths:
            if limit <= longest or limit == report.max_seq_length:
                axes.axvline(limit, color="grey", linewidth=1, linestyle="--")
                axes.annotate(str(limit), (limit, 1), xycoords=("data", "axes fraction"), fontsize="small")
        axes.set(xlabel=f"tokens per pair ({report.tokenizer})", ylabel="% of the file's pairs")
        axes.legend(fontsize="small")
        paths["pair_tokens"] = _save(figure, output_dir / PLOT_NAMES["pair_tokens"])

    plots = "\n".join(f"![{name}]({path.name})" for name, path in paths.items())
    report_path = write_text(output_dir / REPORT_NAME, f"{report.markdown}\n## Plots\n\n{plots}\n")
    return {"report": report_path, **paths, **written}


def _length_bins(lengths: np.ndarray, count: int = 50) -> np.ndarray:
    """Edges of about `count` histogram bins of equal whole-number width over integer `lengths` (each length falls
    inside a bin, never on an edge, so no bin holds more lengths than its neighbours by rounding)."""
    low, high = int(lengths.min()), int(lengths.max())
    width = max(1, -(-(high - low + 1) // count))
    return np.arange(low, high + width + 1, width) - 0.5


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=100)
    return path


__all__ = ["DescribeReport", "describe_files"]
