"""A data file that is not UTF-8 throughout (UTF-8 rows and one row saved as CP949 / EUC-KR, the legacy Korean
encoding) is refused with one line naming the file and the 1-based line that does not decode, in every format the
readers take, by `hf-sts describe` and by training alike."""

import json
import re

import pytest

from hf_sts.data.readers import read_text_file
from hf_sts.errors import DataFormatError

from ..conftest import refusal_line


ROWS = [
    ("숙소가 깨끗해요.", "방이 깨끗했어요.", 4.2),
    ("위치가 좋아요.", "주차가 불편해요.", 0.4),
    ("오늘은 맑다.", "날씨가 맑다.", 3.6),
]


def lines_of(suffix: str) -> list[str]:
    """The file's lines, one pair a line (after a header for CSV and TSV; JSON: one object a line inside `[...]`)."""
    if suffix in (".csv", ".tsv"):
        separator = "," if suffix == ".csv" else "\t"
        return [separator.join(["sentence1", "sentence2", "label"])] + [
            separator.join([first, second, str(label)]) for first, second, label in ROWS
        ]
    objects = [
        json.dumps({"sentence1": first, "sentence2": second, "label": label}, ensure_ascii=False)
        for first, second, label in ROWS
    ]
    if suffix == ".jsonl":
        return objects
    return ["[", *[f"{line}," for line in objects[:-1]], objects[-1], "]"]


def write_mixed(path, legacy_line: int):
    """The file in UTF-8 but for its `legacy_line` (1-based), saved in CP949."""
    lines = lines_of(path.suffix)
    encoded = [line.encode("cp949" if number == legacy_line else "utf-8") for number, line in enumerate(lines, 1)]
    path.write_bytes(b"\n".join(encoded) + b"\n")
    return path


# The line of the second pair in each layout (1-based): after the header, or after `[`, or the second line.
SECOND_PAIR_LINE = {".csv": 3, ".tsv": 3, ".json": 3, ".jsonl": 2}


@pytest.mark.parametrize("suffix", list(SECOND_PAIR_LINE))
def test_describe_names_the_line_that_is_not_utf8(suffix, tmp_path, capsys):
    line_number = SECOND_PAIR_LINE[suffix]
    path = write_mixed(tmp_path / f"mixed{suffix}", line_number)
    line = refusal_line(["describe", str(path)], capsys)
    assert re.search(
        rf"mixed{re.escape(suffix)}: line {line_number} \(1-based\) is not UTF-8 \(byte 0x[0-9a-f]{{2}} at byte \d+ of "
        r"the line\); it reads as CP949 \(EUC-KR\); the lines before it are UTF-8 text: the file mixes encodings; "
        r"data files are read as UTF-8",
        line,
    ), line


def test_training_names_the_line_too(tmp_path, capsys):
    path = write_mixed(tmp_path / "train.csv", 4)
    out = tmp_path / "out"
    line = refusal_line(["train", "--model_type", "bert", "--train_file", str(path), "--output_dir", str(out)], capsys)
    assert "train.csv: line 4 (1-based) is not UTF-8" in line, line
    assert not out.exists()


def test_a_file_in_another_encoding_from_its_first_line(tmp_path, capsys):
    """Latin-1 is neither UTF-8 nor CP949: the line is named without a guess, and nothing is said of mixing."""
    path = tmp_path / "latin.csv"
    path.write_bytes("sentence1,sentence2,label\ncafé,bar,1.0\n".encode("latin-1"))
    line = refusal_line(["describe", str(path)], capsys)
    assert line.endswith(
        "latin.csv: line 2 (1-based) is not UTF-8 (byte 0xe9 at byte 4 of the line); data files are read as UTF-8: "
        "save it as UTF-8."
    ), line


def test_pretraining_text_names_the_line(tmp_path):
    path = tmp_path / "text.txt"
    path.write_bytes("첫 문장\n".encode() + "둘째 문장\n".encode("cp949") + "셋째 문장\n".encode())
    with pytest.raises(DataFormatError, match=r"text\.txt: line 2 \(1-based\) is not UTF-8 .*CP949"):
        read_text_file(path)
