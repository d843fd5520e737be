"""Runs repeat exactly: the same sentences give the same tokenizer in every process, and the same recipe and seed
give the same model in another process, even when that run is killed after a checkpoint and resumed."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from safetensors.torch import load_file

from hf_sts.data.readers import read_sts_file
from hf_sts.data.wordpiece import train_wordpiece_tokenizer
from hf_sts.run import main as run_main

from ..conftest import KLUE_TRAIN, REPO_ROOT, TINY, launch, refusal_line


@pytest.mark.slow  # launches 2 processes (about 13 s)
def test_trained_tokenizer_is_the_same_in_every_process(klue_dev):
    sentences = klue_dev["sentence1"][:] + klue_dev["sentence2"][:]
    tokenizer = train_wordpiece_tokenizer(sentences, vocab_size=800)
    assert tokenizer.convert_ids_to_tokens(range(5)) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pair = tokenizer(sentences[0], sentences[1])
    assert tokenizer.decode(pair["input_ids"], skip_special_tokens=True).replace(" ", "") == (
        sentences[0] + sentences[1]
    ).replace(" ", "")
    # Every word of the training text encodes without [UNK], word starts and continuations alike.
    assert tokenizer.unk_token_id not in tokenizer(sentences[:50], sentences[50:100])["input_ids"][0]
    # Each process hashes differently: 3,000 sentences (where `tokenizers`' own WordPiece trainer gave another
    # vocabulary in about one process of two) must give one vocabulary in every process.
    script = (
        "import hashlib, json, sys\n"
        "from hf_sts.data.wordpiece import train_wordpiece_tokenizer\n"
        "from hf_sts.data.readers import read_sts_file\n"
        "rows = read_sts_file(sys.argv[1]).select(range(1500))\n"
        "vocab = train_wordpiece_tokenizer(rows['sentence1'][:] + rows['sentence2'][:], 4000).get_vocab()\n"
        "print(hashlib.sha256(json.dumps(sorted(vocab.items())).encode()).hexdigest())\n"
    )
    rows = read_sts_file(KLUE_TRAIN).select(range(1500))
    vocab = train_wordpiece_tokenizer(rows["sentence1"][:] + rows["sentence2"][:], 4000).get_vocab()
    assert len(vocab) == 4000
    processes = [  # two at once, each with its own hash seed
        subprocess.Popen(
            [sys.executable, "-c", script, str(KLUE_TRAIN)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    digests = {process.communicate(timeout=300)[0].strip() for process in processes}
    digests.add(hashlib.sha256(json.dumps(sorted(vocab.items())).encode()).hexdigest())
    assert len(digests) == 1, digests


# A from-scratch cross-encoder on 200 KLUE pairs, 3 epochs with a checkpoint after each.
RUN = [
    "recipes/quickstart_cross_encoder.json",
    *TINY,
    "--num_train_epochs=3",
    "--max_train_samples=200",
    "--max_eval_samples=100",
    "--save_total_limit=3",
    "--disable_tqdm=true",
]


def _start(*args: str) -> subprocess.Popen:
    """`python hf_sts/run.py ARGS` from the repository root, in the background."""
    command = [sys.executable, "hf_sts/run.py", *args]
    return subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _weights(output_dir):
    return load_file(output_dir / "model.safetensors")


def _assert_same_run(first, second):
    first_weights, second_weights = _weights(first), _weights(second)
    assert first_weights.keys() == second_weights.keys()
    assert all((first_weights[name] == second_weights[name]).all() for name in first_weights)
    predictions = [pd.read_csv(path / "eval_predictions.csv") for path in (first, second)]
    pd.testing.assert_frame_equal(*predictions)
    pearson = [json.loads((path / "all_results.json").read_text())["eval_pearson"] for path in (first, second)]
    assert pearson[0] == pearson[1]


@pytest.mark.slow
def _whole_checkpoints(output_dir):
    """The checkpoints of `output_dir` whose `trainer_state.json`, written last, is whole (it may be seen half
    written)."""
    whole = []
    for state in output_dir.glob("checkpoint-*/trainer_state.json"):
        try:
            json.loads(state.read_text())
        except (json.JSONDecodeError, OSError):
            continue
        whole.append(state.parent)
    return whole


@pytest.mark.slow  # three training processes, one killed (about 25 s): the fast tier stays under 2 minutes
def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    """Two processes (each with its own hash seed) start the same recipe and seed side by side; one is killed after
    its first checkpoint and resumed. Both train the same tokenizer, and the resumed run ends with the same weights,
    predictions and Pearson as the uninterrupted one: the same recipe and seed repeat exactly, killed or not."""
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    uninterrupted = _start(*RUN, "--output_dir", str(reference))  # side by side with the run to kill
    process = _start(*RUN, "--output_dir", str(killed))
    deadline = time.monotonic() + 300
    while not _whole_checkpoints(killed) and time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before its first checkpoint"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed / "all_results.json").exists()  # killed mid-run, not after it
    assert uninterrupted.wait(timeout=600) == 0

    result = launch(*RUN, "--output_dir", str(killed), "--resume_from_checkpoint=true")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Using the tokenizer saved with" in result.stdout  # never a newly trained one
    # The killed process trained its tokenizer itself, before its first checkpoint.
    assert (killed / "tokenizer.json").read_bytes() == (reference / "tokenizer.json").read_bytes()
    _assert_same_run(reference, killed)


def test_resume_skips_an_incomplete_checkpoint(tmp_path, monkeypatch, caplog, capsys):
    monkeypatch.chdir(REPO_ROOT)
    output_dir = tmp_path / "run"
    run = [
        *RUN,
        "--num_train_epochs=2",
        "--max_train_samples=40",
        "--max_eval_samples=20",
        "--output_dir",
        str(output_dir),
    ]
    run_main(run)
    first, last = sorted(output_dir.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[1]))
    weights = last / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # killed while saving

    line = refusal_line(["train", *run, f"--resume_from_checkpoint={last}"], capsys)  # named explicitly: refused
    assert f"`resume_from_checkpoint` {last}: {last}/model.safetensors: truncated or corrupt" in line

    caplog.set_level("WARNING", logger="hf_sts")
    run_main([*run, "--resume_from_checkpoint=true"])  # the last whole one, with a warning naming both
    assert f"Skipping {last.name} (" in caplog.text and f"resuming from {first}" in caplog.text
