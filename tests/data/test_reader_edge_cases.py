"""What the readers do at the edges of their formats: a KorSTS TSV short of a column, sentences that pandas would
read as missing values, ids made up for files without them, and the row the cleaning warning names."""

import logging

import pandas as pd
import pytest

from hf_sts.data.readers import load_sts_datasets, read_sts_file, read_training_files
from hf_sts.errors import DataFormatError

from ..conftest import KLUE_TRAIN, KORSTS, refusal_line


KORSTS_COLUMNS = ["genre", "filename", "year", "id", "score", "sentence1", "sentence2"]
KORSTS_ROWS = [
    ["main-captions", "MSRvid", "2012test", "0001", "5.000", "한 남자가 춤을 춘다.", "남자가 춤을 추고 있다."],
    ["main-news", "headlines", "2013", "0002", "1.200", "주가가 올랐다.", "비가 내렸다."],
]


def write_tsv(path, columns, rows):
    path.write_text("\n".join("\t".join(row) for row in [columns, *rows]) + "\n", encoding="utf-8")
    return path


# --- item 3: a KorSTS TSV without one of its seven columns -------------------------------------------------------


@pytest.mark.parametrize("missing", KORSTS_COLUMNS)
def test_korsts_without_a_column_names_it(missing, tmp_path):
    keep = [index for index, column in enumerate(KORSTS_COLUMNS) if column != missing]
    path = write_tsv(
        tmp_path / "sts-train.tsv",
        [KORSTS_COLUMNS[index] for index in keep],
        [[row[index] for index in keep] for row in KORSTS_ROWS],
    )
    for require_labels in (True, False):  # training, and describe or predict, which take unlabeled files
        with pytest.raises(DataFormatError) as error:
            read_sts_file(path, require_labels=require_labels)
        assert str(error.value).startswith(
            f"{path}: reads as the korsts format but lacks the column(s) ['{missing}'] (columns found: "
        ), error.value
        assert "label is missing" not in str(error.value)


def test_korsts_without_its_score_through_the_cli(tmp_path, capsys):
    path = write_tsv(
        tmp_path / "sts-dev.tsv",
        [c for c in KORSTS_COLUMNS if c != "score"],
        [
            [value for column, value in zip(KORSTS_COLUMNS, row, strict=True) if column != "score"]
            for row in KORSTS_ROWS
        ],
    )
    line = refusal_line(["describe", str(path)], capsys)
    assert f"{path}: reads as the korsts format but lacks the column(s) ['score']" in line, line
    out = tmp_path / "out"
    line = refusal_line(["train", "--model_type", "bert", "--train_file", str(path), "--output_dir", str(out)], capsys)
    assert "lacks the column(s) ['score']" in line and not out.exists(), line


def test_whole_korsts_and_pairs_with_one_extra_column_still_read(tmp_path):
    assert read_sts_file(write_tsv(tmp_path / "whole.tsv", KORSTS_COLUMNS, KORSTS_ROWS))["label"][:] == [5.0, 1.2]
    # A plain pairs file that happens to carry a `genre` column is no near KorSTS: one column is no evidence.
    frame = pd.DataFrame({"id": ["a", "b"], "sentence1": ["가", "다"], "sentence2": ["나", "라"], "label": [1, 2]})
    frame.assign(genre=["x", "y"]).to_csv(tmp_path / "pairs.csv", index=False)
    assert read_sts_file(tmp_path / "pairs.csv")["id"][:] == ["a", "b"]


@pytest.mark.skipif(not (KORSTS / "sts-dev.tsv").is_file(), reason=f"needs {KORSTS}/sts-dev.tsv")
def test_the_real_korsts_dev_file_without_its_score(tmp_path):
    frame = pd.read_csv(KORSTS / "sts-dev.tsv", sep="\t", dtype=str, keep_default_na=False, quoting=3)
    frame.drop(columns="score").to_csv(tmp_path / "sts-dev.tsv", sep="\t", index=False, quoting=3)
    with pytest.raises(DataFormatError, match=r"sts-dev\.tsv: reads as the korsts format but lacks .*\['score'\]"):
        read_sts_file(tmp_path / "sts-dev.tsv")


# --- item 4: sentences that pandas reads as missing values -------------------------------------------------------


def test_nan_like_sentences_stay_text_with_one_warning(tmp_path, caplog):
    sentences = ["nan", "가", "NULL", "다", "None", "라", "N/A", "NA", "마"]
    frame = pd.DataFrame({"sentence1": sentences, "sentence2": ["짝"] * 8 + ["nan"], "label": [1.0] * 9})
    frame.to_csv(tmp_path / "nan.csv", index=False)
    with caplog.at_level(logging.WARNING, logger="hf_sts.data"):
        dataset = read_sts_file(tmp_path / "nan.csv")
    assert dataset["sentence1"][:] == sentences and dataset["sentence2"][-1] == "nan"  # kept as text
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings == [
        f"{tmp_path / 'nan.csv'}: 6 pair(s) have a sentence that is only 'N/A' or 'NA' or 'NULL' or 'None' or 'nan', "
        "which pandas and spreadsheet tools read as a missing value; kept as that text. Rows 1, 3, 5, 7, 8, ... "
        "(1-based, header excluded)."
    ]


def test_json_string_nan_is_text_and_json_null_is_refused(tmp_path, caplog):
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        '{"sentence1": "가", "sentence2": "나", "label": 1}\n{"sentence1": "nan", "sentence2": "라", "label": 2}\n',
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="hf_sts.data"):
        assert read_sts_file(path)["sentence1"][:] == ["가", "nan"]
    assert (
        "pairs.jsonl: 1 pair(s) have a sentence that is only 'nan'" in caplog.text and "Rows 2 (1-based" in caplog.text
    )
    path.write_text('{"sentence1": "가", "sentence2": null, "label": 1}\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"pairs\.jsonl: row 1 .*`sentence2` is empty"):
        read_sts_file(path)


def test_ordinary_files_say_nothing(caplog):
    with caplog.at_level(logging.WARNING, logger="hf_sts.data"):
        read_sts_file(KLUE_TRAIN)
    assert not caplog.records


# --- item 5: ids made up for files without them ------------------------------------------------------------------


def write_pairs(path, rows, with_ids=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows, columns=["sentence1", "sentence2", "label"])
    if with_ids:
        frame.insert(0, "id", [f"p{i}" for i in range(len(rows))])
    frame.to_csv(path, index=False)
    return str(path)


ROWS_A = [("가", "나", 1.0), ("다", "라", 2.0), ("마", "바", 3.0)]
ROWS_B = [("사", "아", 4.0), ("자", "차", 5.0)]


def test_two_files_of_one_name_without_ids_load_together(tmp_path, caplog):
    a, b = write_pairs(tmp_path / "a" / "train.csv", ROWS_A), write_pairs(tmp_path / "b" / "train.csv", ROWS_B)
    with caplog.at_level(logging.INFO, logger="hf_sts.data"):
        splits = load_sts_datasets(train_file=[a, b], validation_split_percentage=0)
    assert splits["train"]["id"][:] == ["1.train-0", "1.train-1", "1.train-2", "2.train-0", "2.train-1"]
    assert splits["train"]["sentence1"][:] == ["가", "다", "마", "사", "자"]
    assert f"{b} has no id column: its pairs get the ids '2.train-0' to '2.train-1'" in caplog.text


def test_a_lone_file_and_files_of_other_names_keep_their_ids(tmp_path):
    a = write_pairs(tmp_path / "a" / "train.csv", ROWS_A)
    assert read_training_files([a])["id"][:] == ["train-0", "train-1", "train-2"]  # as saved runs have them
    assert (
        load_sts_datasets(train_file=a, validation_split_percentage=0)["train"]["id"][:] == read_sts_file(a)["id"][:]
    )
    other = write_pairs(tmp_path / "b" / "augmented.csv", ROWS_B)
    assert read_training_files([a, other])["id"][:] == ["train-0", "train-1", "train-2", "augmented-0", "augmented-1"]


def test_ids_the_user_wrote_still_collide(tmp_path):
    a = write_pairs(tmp_path / "a" / "train.csv", ROWS_A, with_ids=True)
    b = write_pairs(tmp_path / "b" / "train.csv", ROWS_B, with_ids=True)
    with pytest.raises(DataFormatError, match=rf"^{b}: row 1 \(1-based, header excluded\): id 'p0' is also in {a};"):
        read_training_files([a, b])
    # One file with ids, one of the same name without: only the made-up ids get a prefix; nothing collides.
    c = write_pairs(tmp_path / "c" / "train.csv", ROWS_B)
    assert read_training_files([a, c])["id"][:] == ["p0", "p1", "p2", "2.train-0", "2.train-1"]


def test_the_same_file_twice_is_refused_as_such(tmp_path):
    a = write_pairs(tmp_path / "a" / "train.csv", ROWS_A)
    twice = r"id '(1\.)?train-0' is also in .*train\.csv \(the same file, listed twice\)"
    with pytest.raises(DataFormatError, match=twice):
        read_training_files([a, str(tmp_path / "a" / ".." / "a" / "train.csv")])
    b = write_pairs(tmp_path / "b" / "train.csv", ROWS_B)  # with another file of its name: still refused
    with pytest.raises(DataFormatError, match=twice):
        read_training_files([a, b, a])


# --- item 6: the sentence text_cleaning empties, by its 1-based row ----------------------------------------------


def test_the_emptied_sentence_is_named_by_column_and_1_based_row(caplog):
    from hf_sts.data.checks import log_cleaning

    dataset = read_sts_file(KLUE_TRAIN).select(range(4))
    emptied = {(2, "sentence1"), (1, "sentence2"), (3, "sentence2")}  # the first in row order: row 2 (1-based)
    dataset = dataset.map(
        lambda row, i: {
            column: "😀👍" if (i, column) in emptied else row[column] for column in ("sentence1", "sentence2")
        },
        with_indices=True,
    )
    with caplog.at_level(logging.WARNING, logger="hf_sts.data"):
        log_cleaning({"validation": dataset}, ["emoji"])
    assert (
        "text_cleaning leaves 3 validation sentence(s) empty, first `sentence2` of row 2 (1-based) of the validation "
        "data, the pair with id 'klue-sts-v1.1_train-1': '😀👍'."
    ) in caplog.text
