"""`hf-sts describe --audit`: the label-noise audit of out-of-fold predictions, checked against disagreements counted
by hand, with sentences joined from the training file; broken predictions files end in one line."""

import re

import pandas as pd
import pytest

from hf_sts.cli.main import main as hf_sts_cli
from hf_sts.tools.audit import AUDIT_COLUMNS
from hf_sts.tools.describe import describe_files

from ..conftest import refusal_line


# id, sentence1, sentence2, label; and the out-of-fold prediction of each. |prediction - label| by hand:
# t0 0.1, t1 2.5 (the worst), t2 0.5, t3 1.2, t4 0.0, t5 1.5, t6 0.3.
TRAIN = [
    ("t0", "숙소가 깨끗해요.", "숙소가 청결해요.", 4.6),
    ("t1", "방이 조용했어요.", "방이 시끄러웠어요.", 0.5),
    ("t2", "위치가 좋아요.", "위치가 괜찮아요.", 3.5),
    ("t3", "정책이 바뀌었다.", "정책이 변경되었다.", 2.2),
    ("t4", "오늘은 맑다.", "오늘은 맑다.", 5.0),
    ("t5", "버스가 늦었다.", "기차가 빨랐다.", 2.8),
    ("t6", "예산이 늘었다.", "예산이 증가했다.", 1.4),
]
PREDICTIONS = {"t0": 4.5, "t1": 3.0, "t2": 3.0, "t3": 3.4, "t4": 5.0, "t5": 1.3, "t6": 1.7}


@pytest.fixture
def train_and_oof(tmp_path):
    train = tmp_path / "train.csv"
    pd.DataFrame(TRAIN, columns=["id", "sentence1", "sentence2", "label"]).to_csv(train, index=False)
    oof = tmp_path / "oof_predictions.csv"
    pd.DataFrame(
        {
            "id": [row[0] for row in TRAIN],
            "fold": [0, 1, 2, 0, 1, 2, 0],
            "label": [row[3] for row in TRAIN],
            "prediction": [PREDICTIONS[row[0]] for row in TRAIN],
        }
    ).to_csv(oof, index=False)
    return train, oof


def test_audit_lists_the_most_disagreeing_pair_first(train_and_oof):
    train, oof = train_and_oof
    audit = describe_files([train], audit=oof, audit_top=3).audit
    pairs = audit.pairs
    assert list(pairs.columns) == list(AUDIT_COLUMNS)
    assert pairs["id"].tolist() == ["t1", "t5", "t3", "t2", "t6", "t0", "t4"]
    first = pairs.iloc[0]
    assert (first["rank"], first["sentence1"], first["error"], first["bucket"]) == (
        1,
        "방이 조용했어요.",
        2.5,
        "[0,1)",
    )
    assert pairs["bucket_rank"].tolist() == [1, 1, 2, 1, 1, 1, 1]  # t5 and t3 share the bucket [2,3)
    assert pairs.set_index("id")["in_noisy_band"].to_dict() == {
        "t0": False, "t1": False, "t2": True, "t3": True, "t4": False, "t5": True, "t6": False,
    }  # fmt: skip
    buckets = audit.buckets.set_index("bucket")
    assert buckets.loc["[2,3)", "pairs"] == 2 and buckets.loc["[2,3)", "large errors"] == 2
    assert buckets.loc["[2,3)", "mean abs error"] == pytest.approx(1.35)
    assert buckets.loc["[2,3)", "mean error"] == pytest.approx((-1.5 + 1.2) / 2)
    assert list(buckets.index) == ["[0,1)", "[1,2)", "[2,3)", "[3,4)", "[4,5)", "5.0"]
    markdown = audit.markdown
    assert "### The 3 most disagreeing pairs" in markdown
    assert "42.9% (3) of the pairs have labels in [2.0, 3.5]" in markdown
    assert "They hold 2 of the 3 most disagreeing pairs and 2 of the 3 off by 1 or more." in markdown


def test_cli_writes_label_audit_csv_beside_the_report(train_and_oof, tmp_path, capsys):
    train, oof = train_and_oof
    out = tmp_path / "audit"
    hf_sts_cli(["describe", str(train), "--audit", str(oof), "--output_dir", str(out)])
    printed = capsys.readouterr().out
    assert sorted(path.name for path in out.iterdir()) == [
        "describe.md", "label_audit.csv", "label_buckets.png", "sentence_chars.png",
    ]  # fmt: skip
    written = pd.read_csv(out / "label_audit.csv")
    assert written["id"].tolist()[:2] == ["t1", "t5"] and len(written) == len(TRAIN)
    assert "## Label audit: oof_predictions.csv" in (out / "describe.md").read_text(encoding="utf-8")
    assert "## Label audit: oof_predictions.csv" in printed and "label_audit.csv" in printed


def test_a_predictions_file_with_sentences_is_audited_alone(tmp_path):
    """`eval_predictions.csv` (`id,source,sentence1,sentence2,label,prediction`) needs no other file."""
    path = tmp_path / "eval_predictions.csv"
    frame = pd.DataFrame(TRAIN, columns=["id", "sentence1", "sentence2", "label"]).assign(source="dev")
    frame.assign(prediction=[PREDICTIONS[id_] for id_ in frame["id"]]).to_csv(path, index=False)
    report = describe_files([], audit=path)
    assert report.audit.sentences and report.audit.pairs["sentence2"].iloc[0] == "방이 시끄러웠어요."
    assert report.markdown.startswith("# STS data report") and "## Pairs and labels" not in report.markdown


ERRORS = {
    "missing columns": (
        ["{root}/train.csv", "--audit", "{root}/train.csv"],
        r"--audit .*train\.csv: lacks the column\(s\) \['prediction'\]; expected .*id, label, prediction",
    ),
    "ids in none of the files": (
        ["{root}/other.csv", "--audit", "{root}/oof_predictions.csv"],
        r"oof_predictions\.csv: 7 of its 7 ids are in none of the files given \(other\.csv\), the first 't0'",
    ),
    "prediction out of range": (
        ["--audit", "{root}/bad_oof.csv"],
        r"bad_oof\.csv: row 2 \(1-based, header excluded\): prediction '7.0' is not a number in \[0\.0, 5\.0\]",
    ),
    "missing file": (["--audit", "{root}/nowhere.csv"], r"--audit .*nowhere\.csv: no such file"),
    "no file, no audit": ([], r"describe: no file given"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_bad_audit_input_is_one_line_and_writes_nothing(case, train_and_oof, tmp_path, capsys):
    pd.DataFrame({"id": ["x"], "sentence1": ["가"], "sentence2": ["나"], "label": [1.0]}).to_csv(
        tmp_path / "other.csv", index=False
    )
    pd.DataFrame({"id": ["a", "b"], "label": [1.0, 2.0], "prediction": [1.0, 7]}).to_csv(
        tmp_path / "bad_oof.csv", index=False
    )
    arguments, message = ERRORS[case]
    out = tmp_path / "out"
    argv = ["describe", *(argument.format(root=tmp_path) for argument in arguments), "--output_dir", str(out)]
    line = refusal_line(argv, capsys)
    assert re.search(message, line), line
    assert not out.exists()
