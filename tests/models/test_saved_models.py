"""Model folders saved before the subpackage layout (`tests/fixtures/saved_by_2abc0fa`, written by main at 2abc0fa)
load with hf_sts and without it, and score exactly as they did."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from hf_sts.inference.loading import load_model

from ..conftest import REPO_ROOT, run_python


SAVED = REPO_ROOT / "tests" / "fixtures" / "saved_by_2abc0fa"
FOLDERS = ("cross_encoder_mlp", "cross_encoder_lstm", "bi_encoder")


@pytest.fixture(scope="module")
def expected():
    return pd.read_csv(SAVED / "expected_scores.csv")


@pytest.mark.parametrize("name", FOLDERS)
def test_saved_model_scores_as_before_with_hf_sts(name, expected):
    loaded = load_model(str(SAVED / name), device="cpu")
    scores = loaded.score(expected["sentence1"].tolist(), expected["sentence2"].tolist(), bf16=False)
    np.testing.assert_allclose(scores, expected[name], rtol=0, atol=1e-6)
    # `AutoModel` with hf_sts imported returns the hf_sts class, whose own `tokenize` applies the saved prompt.
    model = AutoModel.from_pretrained(SAVED / name).eval()
    tokenizer = AutoTokenizer.from_pretrained(SAVED / name)
    inputs = model.tokenize(
        tokenizer,
        expected["sentence1"].tolist()[:4],
        expected["sentence2"].tolist()[:4],
        padding=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        logits = model(**inputs).logits
    np.testing.assert_allclose(logits.numpy(), expected[name][:4], rtol=0, atol=1e-5)


def test_saved_models_load_without_hf_sts(tmp_path, expected):
    """`trust_remote_code=True` runs the code files saved beside the weights, with hf_sts not importable."""
    for name in ("cross_encoder_mlp", "bi_encoder"):  # the `lstm` folder is for hf_sts' alias, below
        shutil.copytree(SAVED / name, tmp_path / name)
    code = (
        "import sys, json, torch\n"
        "from transformers import AutoModel, AutoTokenizer\n"
        "pairs = json.loads(sys.argv[2])\n"
        "for name in ('cross_encoder_mlp', 'bi_encoder'):\n"
        "    folder = sys.argv[1] + '/' + name\n"
        "    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()\n"
        "    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)\n"
        "    inputs = model.tokenize(tokenizer, pairs[0], pairs[1], padding=True, return_tensors='pt')\n"
        "    with torch.no_grad():\n"
        "        print('scores', name, json.dumps(model(**inputs).logits.tolist()))\n"
    )
    pairs = [expected["sentence1"].tolist()[:4], expected["sentence2"].tolist()[:4]]
    result = run_python(code, str(tmp_path), json.dumps(pairs), block_hf_sts=True)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line.split(" ", 2)[1:] for line in result.stdout.splitlines() if line.startswith("scores ")]
    scores = dict(lines)
    for name in ("cross_encoder_mlp", "bi_encoder"):
        np.testing.assert_allclose(json.loads(scores[name]), expected[name][:4], rtol=0, atol=1e-5)


def test_a_saved_lstm_head_is_read_as_rnn_with_one_notice():
    """`head: lstm` (the `rnn` head's name before it learned GRUs) loads as `rnn`, saying so once per process."""
    code = (
        "import sys, hf_sts\n"
        "from transformers import AutoModel\n"
        "models = [AutoModel.from_pretrained(sys.argv[1]) for _ in range(2)]\n"
        "print(models[0].config.head, type(models[0].head).__name__)\n"
    )
    result = run_python(code, str(SAVED / "cross_encoder_lstm"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["rnn", "RnnHead"]
    assert (result.stdout + result.stderr).count("head 'lstm' is now called 'rnn'") == 1
