"""`hf-sts describe`: the STS data report (label buckets, lengths, tokens, duplicates, leakage, binary threshold),
checked against numbers counted by hand on tiny files and against KLUE-STS v1.1 (from `../shared/data`)."""

import pandas as pd
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from hf_sts.cli.main import main as hf_sts_cli
from hf_sts.errors import HfStsError
from hf_sts.tools.describe import BUCKET_COLUMNS, describe_files

from ..conftest import KLUE_DEV, KLUE_TRAIN, refusal_line


def write_csv(path, rows, columns):
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return path


COMPETITION = ["id", "source", "sentence_1", "sentence_2", "label", "binary-label"]
# Competition-style rows whose binary label follows label >= 2.5 (2.5 is binary 1, 2.4 binary 0).
# Buckets by hand: 0.0 -> 0, 1.2 -> 1, 2.4 and 2.5 -> 2, 3.0 -> 3, 4.99 -> 4, 5.0 -> 5.
COMPETITION_ROWS = [
    ("c-1", "alpha", "숙소가 깨끗해요.", "주차장이 넓어요.", 0.0, 0),
    ("c-2", "alpha", "방이 조용했어요.", "방이 시끄러웠어요.", 2.4, 0),
    ("c-3", "alpha", "위치가 좋아요.", "위치가 괜찮아요.", 2.5, 1),
    ("c-4", "beta", "정책이 바뀌었다.", "정책이 변경되었다.", 4.99, 1),
    ("c-5", "beta", "오늘은 맑다.", "오늘은 맑다.", 5.0, 1),
    ("c-6", "beta", "버스가 늦었다.", "기차가 빨랐다.", 1.2, 0),
    ("c-7", "beta", "예산이 늘었다.", "예산이 증가했다.", 3.0, 1),
]


@pytest.fixture
def competition_csv(tmp_path):
    return write_csv(tmp_path / "competition.csv", COMPETITION_ROWS, COMPETITION)


def word_tokenizer() -> PreTrainedTokenizerFast:
    """A tokenizer of one token per whitespace-separated word, pairs read `[CLS] A [SEP] B [SEP]`: a pair of w1 and
    w2 words is w1 + w2 + 3 tokens, countable by hand."""
    backend = Tokenizer(models.WordLevel({"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )


def words(count: int, word: str = "말") -> str:
    return " ".join([word] * count)


# Words per sentence -> tokens per pair: 2+3+3 = 8, 5+5+3 = 13, 1+1+3 = 5, 10+10+3 = 23, 300+300+3 = 603.
TOKEN_ROWS = [(words(2), words(3), 1.0), (words(5), words(5), 2.0), ("네", "예", 3.0)]
TOKEN_ROWS += [(words(10), words(10), 4.0), (words(300), words(300), 5.0)]


@pytest.fixture
def tokens_csv(tmp_path):
    return write_csv(tmp_path / "tokens.csv", TOKEN_ROWS, ["sentence1", "sentence2", "label"])


def only(frame: pd.DataFrame, **where) -> dict:
    """The one row of `frame` matching every `column=value` in `where`."""
    rows = frame
    for column, value in where.items():
        rows = rows[rows[column] == value]
    assert len(rows) == 1, rows
    return rows.iloc[0].to_dict()


def test_label_buckets_and_threshold_of_a_competition_file(competition_csv):
    report = describe_files([competition_csv])
    counts = lambda row: [row[column] for column in BUCKET_COLUMNS]  # noqa: E731
    assert counts(only(report.pairs, source="all")) == [1, 1, 2, 1, 1, 1]
    assert counts(only(report.pairs, source="alpha")) == [1, 0, 2, 0, 0, 0]
    assert counts(only(report.pairs, source="beta")) == [0, 1, 0, 1, 1, 1]
    assert list(report.pairs["pairs"]) == [7, 3, 4]
    binary = only(report.binary, file="competition.csv")
    assert binary["threshold"] == 2.5 and binary["binary labels"] == 7 and binary["contradicting rows"] == []
    assert "imply the threshold 2.5 (binary 1 where `label >= 2.5`); no row contradicts it" in report.markdown
    assert "different thresholds" not in report.markdown

    # A plain CSV whose binary labels follow KLUE's label >= 3.0: a second threshold, flagged.
    klue_like = [("가", "나", 2.9, 0), ("다", "라", 3.0, 1), ("마", "바", 4.5, 1)]
    other = write_csv(
        competition_csv.with_name("klue_like.csv"), klue_like, ["sentence1", "sentence2", "label", "binary_label"]
    )
    both = describe_files([competition_csv, other])
    assert only(both.binary, file="klue_like.csv")["threshold"] == 3.0
    assert "The files imply different thresholds (competition.csv 2.5, klue_like.csv 3.0)" in both.markdown


def test_a_contradicting_row_is_named(tmp_path):
    rows = [*COMPETITION_ROWS, ("c-8", "beta", "회의가 열렸다.", "회의가 개최되었다.", 4.2, 0)]
    report = describe_files([write_csv(tmp_path / "competition.csv", rows, COMPETITION)])
    binary = only(report.binary, file="competition.csv")
    assert binary["threshold"] == 2.5 and binary["contradicting rows"] == [7]
    assert "1 row(s) contradict it: row 8 (id c-8, label 4.2, binary 0)." in report.markdown


def test_sentence_lengths_in_characters(tmp_path):
    rows = [("가" * 10, "나" * 20, 1.0), ("다" * 30, "라" * 101, 2.0), ("마" * 40, "바" * 100, 3.0)]
    report = describe_files([write_csv(tmp_path / "lengths.csv", rows, ["sentence1", "sentence2", "label"])])
    # Lengths 10, 20, 30, 40, 100, 101: the 3rd of 6 is the median, the 6th the 90th percentile; only 101 is > 100.
    row = only(report.characters, source="all")
    assert (row["sentences"], row["p50"], row["p90"], row["p99"], row["max"], row["> 100"]) == (
        6,
        30,
        101,
        101,
        101,
        1,
    )


def test_exact_and_swapped_duplicates(tmp_path):
    rows = [
        ("가방", "나무", 1.0),
        ("가방", "나무", 2.0),  # repeated, with another label
        ("나무", "가방", 1.0),  # the same pair swapped
        ("다리", "라면", 3.0),
        ("다리", "라면", 3.0),  # repeated, same label
        ("마을", "바다", 4.0),
        ("바다", "마을", 4.0),  # swapped, same label
        ("사과", "아침", 0.5),
    ]
    report = describe_files([write_csv(tmp_path / "dupes.csv", rows, ["sentence1", "sentence2", "label"])])
    row = only(report.duplicates, file="dupes.csv")
    assert (row["repeated pairs"], row["rows"], row["different labels"]) == (2, 4, 1)
    assert (row["swapped pairs"], row["swapped rows"], row["swapped different labels"]) == (2, 5, 1)
    assert report.label_disagreements["dupes.csv"] == ["rows 1, 2, 3 (labels 1.0, 2.0, 1.0)"]


def test_pairs_shared_between_files_in_either_order(tmp_path):
    columns = ["sentence1", "sentence2", "label"]
    train = write_csv(
        tmp_path / "train.csv", [("가", "나", 1), ("다", "라", 2), ("마", "바", 3), ("가", "나", 1)], columns
    )
    dev = write_csv(tmp_path / "dev.csv", [("가", "나", 1), ("라", "다", 2), ("사", "아", 3)], columns)
    row = only(describe_files([train, dev]).shared, file="train.csv", other="dev.csv")
    assert (row["shared pairs"], row["rows in file"], row["rows in other"]) == (2, 3, 2)
    alone = describe_files([dev])
    assert alone.shared.empty and "One file: nothing to compare." in alone.markdown


def test_tokens_per_pair_and_truncation_share(tokens_csv):
    report = describe_files([tokens_csv], tokenizer=word_tokenizer(), max_seq_length=8)
    assert report.truncation_lengths == [8, 64, 128, 256, 512]
    # Tokens per pair 5, 8, 13, 23, 603: 3 pairs are longer than 8, one longer than 64 ... 512.
    row = only(report.tokens, source="all")
    assert (row["p50"], row["max"]) == (13, 603)
    assert [row[f"truncated at {limit}"] for limit in (8, 64, 128, 256, 512)] == [3, 1, 1, 1, 1]
    assert "max_seq_length 8 truncates 60.0% (3) of the pairs of tokens.csv." in report.markdown
    assert "20.0% (1)" in report.markdown
    assert describe_files([tokens_csv]).tokens is None
    with pytest.raises(HfStsError, match=r"`max_seq_length` must be a number of tokens of at least 1, got 0"):
        describe_files([tokens_csv], tokenizer=word_tokenizer(), max_seq_length=0)  # as a library call


def test_unlabeled_file_has_no_label_parts(tmp_path):
    rows = [(f"t-{i}", "alpha", f"문장 {i}", f"다른 문장 {i}") for i in range(3)] + [
        ("t-3", "alpha", "문장 0", "다른 문장 0")
    ]
    test = write_csv(tmp_path / "test.csv", rows, COMPETITION[:4])
    report = describe_files([test])
    row = only(report.pairs, source="all")
    assert not row["labeled"] and all(pd.isna(row[column]) for column in BUCKET_COLUMNS)
    duplicates = only(report.duplicates, file="test.csv")
    assert duplicates["repeated pairs"] == 1 and pd.isna(duplicates["different labels"])
    assert "test.csv: no labels (a test file)" in report.markdown


def test_klue_sts_train_and_dev():
    train, dev = KLUE_TRAIN, KLUE_DEV  # the copy shipped in recipes/data, byte-identical to ../shared/data
    report = describe_files([train, dev])
    assert only(report.binary, file=dev.name)["threshold"] == 3.0
    assert only(report.binary, file=dev.name)["contradicting rows"] == []
    assert only(report.binary, file=train.name)["binary labels"] == 0
    assert "klue-sts-v1.1_dev.json: the binary labels of 519 pairs imply the threshold 3.0" in report.markdown
    assert "klue-sts-v1.1_train.csv: no binary labels; F1 takes KLUE's default threshold 3.0" in report.markdown
    # The data's README: 11,668 train pairs, three of them on more than one row (10 rows); dev sources by count.
    duplicates = only(report.duplicates, file=train.name)
    assert (duplicates["pairs"], duplicates["repeated pairs"], duplicates["rows"]) == (11668, 3, 10)
    assert duplicates["different labels"] == 2 and duplicates["swapped pairs"] == 0
    dev_sources = report.pairs[(report.pairs.file == dev.name) & (report.pairs.source != "all")]
    assert dict(zip(dev_sources.source, dev_sources.pairs, strict=True)) == {
        "airbnb-rtt": 107,
        "airbnb-sampled": 148,
        "paraKQC-para": 87,
        "paraKQC-sampled": 45,
        "policy-rtt": 74,
        "policy-sampled": 58,
    }
    assert only(report.shared, file=train.name)["shared pairs"] == 0
    buckets = only(report.pairs, file=dev.name, source="all")
    assert sum(buckets[column] for column in BUCKET_COLUMNS) == 519 and buckets["5.0"] == 6


def test_cli_prints_and_writes_only_with_output_dir(competition_csv, tokens_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "tokenizer"
    word_tokenizer().save_pretrained(folder)
    before = sorted(tmp_path.rglob("*"))
    hf_sts_cli(["describe", str(competition_csv), str(tokens_csv), "--tokenizer", str(folder)])
    printed = capsys.readouterr().out
    assert "## Pairs shared between files" in printed and "truncated at 512" in printed
    assert sorted(tmp_path.rglob("*")) == before  # printed only

    out = tmp_path / "report" / "nested"
    argv = ["describe", str(competition_csv), str(tokens_csv), "--tokenizer", str(folder), "--output_dir", str(out)]
    hf_sts_cli([*argv, "--max_seq_length", "8"])
    printed = capsys.readouterr().out
    names = ["describe.md", "label_buckets.png", "pair_tokens.png", "sentence_chars.png"]
    assert sorted(path.name for path in out.iterdir()) == names
    assert all((out / name).read_bytes().startswith(b"\x89PNG") for name in names[1:])
    markdown = (out / "describe.md").read_text(encoding="utf-8")
    assert "max_seq_length 8 truncates 60.0% (3)" in markdown and "![pair_tokens](pair_tokens.png)" in markdown
    assert markdown.split("\n## Plots")[0] in printed
    assert f"Wrote describe.md, label_buckets.png, sentence_chars.png, pair_tokens.png to {out}" in printed

    hf_sts_cli(["describe", str(tokens_csv), "--output_dir", str(tmp_path / "plain")])  # no tokenizer: no token plot
    assert sorted(path.name for path in (tmp_path / "plain").iterdir()) == names[:2] + names[3:]


ERROR_CASES = {
    "missing file": (["{root}/nowhere.csv"], r"nowhere\.csv: no such file"),
    "malformed file": (["{root}/bad.csv"], r"bad\.csv: columns \['bar', 'foo'\] match no known STS format"),
    "output_dir is a file": (
        ["{root}/ok.csv", "--output_dir", "{root}/a_file"],
        r"a_file is a file; --output_dir names a folder",
    ),
    "tokenizer folder without a tokenizer": (
        ["{root}/ok.csv", "--tokenizer", "{root}/empty", "--output_dir", "{out}"],
        r"^hf-sts: error: --tokenizer .*empty: cannot load it \(a local folder or a Hub id\)",
    ),
    "tokenizer folder missing": (
        ["{root}/ok.csv", "--tokenizer", "{root}/no_tokenizer", "--output_dir", "{out}"],
        r"--tokenizer .*no_tokenizer: no such folder",
    ),
    "max_seq_length 0": (
        ["{root}/ok.csv", "--tokenizer", "{root}/tokenizer", "--max_seq_length", "0", "--output_dir", "{out}"],
        r"describe: argument --max_seq_length/--max-seq-length: '0' is not a whole number >= 1",
    ),
    "max_seq_length without tokenizer": (
        ["{root}/ok.csv", "--max_seq_length", "128", "--output_dir", "{out}"],
        r"`max_seq_length` counts tokens: give the tokenizer",
    ),
    "same file twice": (["{root}/ok.csv", "{root}/ok.csv", "--output_dir", "{out}"], r"ok\.csv: given twice"),
    "malformed second file, with output_dir": (
        ["{root}/ok.csv", "{root}/bad.csv", "--output_dir", "{out}"],
        r"bad\.csv: columns",
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_bad_input_is_one_line_and_writes_nothing(case, tmp_path, capsys):
    import re

    root = tmp_path / "inputs"
    root.mkdir()
    write_csv(root / "ok.csv", [("가", "나", 1.0), ("다", "라", 2.0)], ["sentence1", "sentence2", "label"])
    write_csv(root / "bad.csv", [(1, 2)], ["foo", "bar"])
    (root / "a_file").write_text("not a folder")
    (root / "empty").mkdir()
    word_tokenizer().save_pretrained(root / "tokenizer")
    before = {path: path.stat().st_mtime_ns for path in root.rglob("*")}
    argv, message = ERROR_CASES[case]
    out = tmp_path / "out"
    line = refusal_line(["describe", *(argument.format(root=root, out=out) for argument in argv)], capsys)
    assert re.search(message, line), line
    assert not out.exists()
    assert {path: path.stat().st_mtime_ns for path in root.rglob("*")} == before
