"""`hf-sts pretrain` on text or a model it cannot run on: too little text for one block of `max_seq_length`, a
held-out slice too small (or empty), an empty text file, a model folder with truncated weights. Each is refused
through the command line with one line naming the culprit, before anything is written."""

import re
import shutil

import pandas as pd
import pytest

from ..conftest import KLUE_TRAIN, refusal_line


SCRATCH = [
    "--model_type=bert",
    "--config_overrides=hidden_size=32,num_hidden_layers=2,num_attention_heads=2,intermediate_size=64",
    "--tokenizer_vocab_size=800",
    "--report_to=none",
    "--disable_tqdm=true",
]


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    """Text files: 3 short lines (a dozen tokens), 60 KLUE-STS sentences (about a thousand tokens, of which the 5%
    held out hold fewer than 128), an empty file and one of blank lines."""
    root = tmp_path_factory.mktemp("texts")
    (root / "three.txt").write_text("첫 문장입니다.\n둘째 문장\n셋째 문장이다\n", encoding="utf-8")
    sentences = pd.read_csv(KLUE_TRAIN, nrows=60)["sentence1"]
    (root / "sixty.txt").write_text("\n".join(sentences) + "\n", encoding="utf-8")
    (root / "empty.txt").write_bytes(b"")
    (root / "blank.txt").write_text("\n   \n\n", encoding="utf-8")
    return root


CASES = {
    "text shorter than one block": (
        ["--text_file", "{root}/three.txt"],
        r"three\.txt: the 3 training sentence\(s\) hold \d+ tokens, fewer than the 128 that one block of "
        r"`max_seq_length` needs, so there is nothing to train on: give more text, a smaller `max_seq_length`",
    ),
    "text shorter than one block, nothing held out": (
        ["--text_file", "{root}/three.txt", "--validation_split_percentage=0", "--eval_strategy=no"],
        r"three\.txt: the 3 training sentence\(s\) hold \d+ tokens, fewer than the 128",
    ),
    "held-out slice shorter than one block": (
        ["--text_file", "{root}/sixty.txt"],
        r"sixty\.txt: the 3 held-out sentence\(s\) \(`validation_split_percentage` 5\) hold \d+ tokens, fewer than "
        r"the 128 that one block of `max_seq_length` needs, so there is nothing to evaluate on",
    ),
    "nothing held out": (
        ["--text_file", "{root}/three.txt", "--max_seq_length=8"],
        r"three\.txt: `validation_split_percentage` 5 of the 3 distinct sentences holds out none",
    ),
    "empty text file": (
        ["--text_file", "{root}/sixty.txt", "{root}/empty.txt"],
        r"empty\.txt: no text \(an empty file, 0 bytes\); expected one sentence per line",
    ),
    "text file of blank lines": (
        ["--text_file", "{root}/blank.txt"],
        r"blank\.txt: no text \(only blank lines\)",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_too_little_text_is_one_line_and_writes_nothing(case, texts, tmp_path, capsys):
    argv, message = CASES[case]
    out = tmp_path / "out"
    line = refusal_line(
        ["pretrain", *SCRATCH, *(token.format(root=texts) for token in argv), "--output_dir", str(out)], capsys
    )
    assert re.search(message, line), line
    if "validation_split_percentage" not in message:  # the text is to blame, not the held-out share
        assert "validation_split_percentage" not in line, line
    assert not out.exists()


def test_the_token_count_is_the_tokenizers(stand_in_encoders, texts, tmp_path, capsys):
    """With a pretrained tokenizer the count is its own: the tokens of each sentence, special tokens included."""
    from transformers import AutoTokenizer

    encoder = stand_in_encoders["bert"]
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    lines = (texts / "three.txt").read_text(encoding="utf-8").splitlines()
    tokens = sum(len(tokenizer(line)["input_ids"]) for line in lines)
    line = refusal_line(
        ["pretrain", "--model_name_or_path", str(encoder), "--text_file", str(texts / "three.txt")]
        + ["--report_to=none", "--output_dir", str(tmp_path / "out")],
        capsys,
    )
    assert f"three.txt: the 3 training sentence(s) hold {tokens} tokens, fewer than the 128" in line, line
    assert not (tmp_path / "out").exists()


def test_truncated_weights_are_one_line(stand_in_encoders, texts, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(stand_in_encoders["bert"], model)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # a download cut short
    out = tmp_path / "out"
    line = refusal_line(
        ["pretrain", "--model_name_or_path", str(model), "--text_file", str(texts / "sixty.txt")]
        + ["--report_to=none", "--output_dir", str(out)],
        capsys,
    )
    assert f"{weights}: truncated or corrupt safetensors file" in line, line
    assert not out.exists()
