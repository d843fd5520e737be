"""`hf-sts label`: silver labels that are exactly `hf-sts predict`'s scores, in input order, read back as training
data; NLI premise/hypothesis pairs; AugSBERT's semantic-search sampling checked against a brute-force search."""

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from hf_sts.cli.main import main as hf_sts_cli
from hf_sts.data.pairs import pair_keys
from hf_sts.data.readers import read_sts_file
from hf_sts.tools import label as label_module
from hf_sts.tools.label import nearest_neighbours

from ..conftest import refusal_line


def _save(model, tokenizer, folder):
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "recipe.json").write_text(json.dumps({"max_seq_length": 48}))
    return folder


@pytest.fixture
def cross_encoder(tmp_path, tiny_model, tokenizer, klue_dev):
    """A saved tiny cross-encoder run whose scores spread over the scale, centred on its middle."""
    model = tiny_model("bert", "mean")
    torch.nn.init.normal_(model.head.out_proj.weight, std=1.0, generator=torch.Generator().manual_seed(0))
    rows = klue_dev.select(range(30))
    batch = model.tokenize(tokenizer, rows["sentence1"], rows["sentence2"], padding=True, return_tensors="pt")
    with torch.no_grad():
        model.head.out_proj.bias += 2.5 - model(**batch).logits.mean()
    return _save(model, tokenizer, tmp_path / "teacher")


@pytest.fixture
def bi_encoder(tmp_path, tiny_model, tokenizer):
    return _save(tiny_model("bert", "bi-encoder"), tokenizer, tmp_path / "bi-encoder")


@pytest.fixture
def test_csv(tmp_path, klue_dev):
    """30 unlabeled competition-style pairs, ids out of sorted order."""
    rows = klue_dev.select(range(30))
    frame = pd.DataFrame(
        {
            "id": [f"test-{i:03d}" for i in range(30)][::-1],
            "source": rows["source"],
            "sentence_1": rows["sentence1"],
            "sentence_2": rows["sentence2"],
        }
    )
    frame.to_csv(tmp_path / "test.csv", index=False)
    return tmp_path / "test.csv"


def test_label_writes_the_scores_of_predict_as_training_labels(tmp_path, cross_encoder, test_csv, capsys):
    silver, predicted = tmp_path / "silver.csv", tmp_path / "predictions.csv"
    hf_sts_cli(["label", str(cross_encoder), "--input", str(test_csv), "--output", str(silver)])
    hf_sts_cli(["predict", str(cross_encoder), "--input", str(test_csv), "--output", str(predicted)])
    assert "Wrote 30 silver labels" in capsys.readouterr().out
    written, scores, source = pd.read_csv(silver), pd.read_csv(predicted), pd.read_csv(test_csv)
    assert list(written.columns) == ["id", "source", "sentence1", "sentence2", "label"]
    assert written["id"].tolist() == source["id"].tolist() == scores["id"].tolist()
    assert written["sentence1"].tolist() == source["sentence_1"].tolist()
    assert np.array_equal(written["label"].to_numpy(), scores["target"].to_numpy())  # the same scores, bit for bit
    assert written["label"].between(0, 5).all() and written["label"].nunique() > 10
    training = read_sts_file(silver)  # labeled training data
    assert training["id"] == written["id"].tolist() and training["source"] == source["source"].tolist()
    np.testing.assert_array_equal(training["label"], written["label"])


def test_several_teachers_label_with_the_mean_of_their_clipped_scores(
    tmp_path, cross_encoder, bi_encoder, test_csv, capsys
):
    """An ensemble teacher: each label is the mean of the teachers' `hf-sts predict` scores (clipped to [0, 5] each,
    as predict writes them); with `--sample_pairs` and no sampler, the first teacher that is a bi-encoder finds the
    pairs, which are then those it finds as the only teacher."""
    silver = tmp_path / "silver.csv"
    hf_sts_cli(["label", str(cross_encoder), str(bi_encoder), "--input", str(test_csv), "--output", str(silver)])
    assert f"by {cross_encoder} (hf_sts hf_sts_cross_encoder) + {bi_encoder}" in capsys.readouterr().out
    targets = []
    for teacher in (cross_encoder, bi_encoder):
        output = tmp_path / f"{teacher.name}.csv"
        hf_sts_cli(["predict", str(teacher), "--input", str(test_csv), "--output", str(output)])
        targets.append(pd.read_csv(output)["target"].to_numpy())
    assert not np.allclose(targets[0], targets[1])  # two different teachers
    written = pd.read_csv(silver)
    np.testing.assert_allclose(written["label"], (targets[0] + targets[1]) / 2, rtol=0, atol=1e-12)
    assert written["id"].tolist() == pd.read_csv(test_csv)["id"].tolist()

    sampled, alone = tmp_path / "sampled.csv", tmp_path / "alone.csv"
    for teachers, output in [([cross_encoder, bi_encoder], sampled), ([bi_encoder], alone)]:
        arguments = [*map(str, teachers), "--input", str(test_csv), "--output", str(output), "--sample_pairs", "2"]
        hf_sts_cli(["label", *arguments])
    both, one = pd.read_csv(sampled), pd.read_csv(alone)
    assert both[["sentence1", "sentence2"]].equals(one[["sentence1", "sentence2"]])
    assert not np.allclose(both["label"], one["label"])  # labeled by both teachers


def test_label_reads_nli_premise_hypothesis_pairs(tmp_path, cross_encoder, klue_dev):
    """A KLUE-NLI JSON file (premise, hypothesis, gold_label) is labeled as pairs: guid the id, source kept, the NLI
    label ignored; the scores are those of the same pairs in a plain pairs file."""
    rows = klue_dev.select(range(12))
    records = [
        {"guid": f"nli-{i}", "source": "airbnb", "premise": a, "hypothesis": b, "gold_label": "neutral"}
        for i, (a, b) in enumerate(zip(rows["sentence1"], rows["sentence2"], strict=True))
    ]
    (tmp_path / "nli.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    pd.DataFrame({"sentence1": rows["sentence1"], "sentence2": rows["sentence2"]}).to_csv(
        tmp_path / "pairs.csv", index=False
    )
    for name in ("nli.json", "pairs.csv"):
        hf_sts_cli(
            ["label", str(cross_encoder), "--input", str(tmp_path / name), "--output", f"{tmp_path}/{name}.out"]
        )
    nli, pairs = pd.read_csv(tmp_path / "nli.json.out"), pd.read_csv(tmp_path / "pairs.csv.out")
    assert nli["id"].tolist() == [f"nli-{i}" for i in range(12)] and set(nli["source"]) == {"airbnb"}
    assert nli["sentence2"].tolist() == rows["sentence2"]
    assert np.array_equal(nli["label"].to_numpy(), pairs["label"].to_numpy())


def test_nearest_neighbours_by_hand(monkeypatch):
    embeddings = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.05]])
    # cos(0,1) 0.994, cos(1,2) 0.110, cos(0,2) 0, cos(2,3) 0.050, cos(0,3) -0.999, cos(1,3) -0.988
    expected = [[1, 2], [0, 2], [1, 3], [2, 1]]
    for chunk in (1024, 3):
        monkeypatch.setattr(label_module, "SEARCH_CHUNK", chunk)
        indices, cosines = nearest_neighbours(embeddings, 2)
        assert indices.tolist() == expected
        assert cosines[0, 0] == pytest.approx(0.9 / np.hypot(0.9, 0.1), abs=1e-6)


def test_sample_pairs_labels_each_sentence_with_its_neighbours(tmp_path, bi_encoder, test_csv, capsys):
    """`--sample_pairs 2` with a bi-encoder teacher: the pairs are each distinct sentence and its 2 nearest others by
    the teacher's own embeddings (brute force here), each unordered pair once, none already in the input; their
    labels are the teacher's scores of them (5 x the cosine)."""
    # Two pairs of the input repeat a sentence, so that some neighbours are input pairs.
    frame = pd.read_csv(test_csv).head(12)
    frame.loc[1, "sentence_1"] = frame.loc[0, "sentence_1"]
    frame.to_csv(test_csv, index=False)
    silver = tmp_path / "silver.csv"
    hf_sts_cli(["label", str(bi_encoder), "--input", str(test_csv), "--output", str(silver), "--sample_pairs", "2"])
    printed = capsys.readouterr().out
    written = pd.read_csv(silver)

    from hf_sts.tools.augment import load_sentence_encoder

    sentences = list(dict.fromkeys([*frame["sentence_1"], *frame["sentence_2"]]))
    embeddings = load_sentence_encoder(str(bi_encoder), max_length=48).embed(sentences, show_progress_bar=False)
    similarity = embeddings @ embeddings.T
    np.fill_diagonal(similarity, -np.inf)
    found = {
        pair_keys([sentences[row]], [sentences[column]])[0]
        for row in range(len(sentences))
        for column in np.argsort(-similarity[row], kind="stable")[:2]
    }
    existing = set(pair_keys(list(frame["sentence_1"]), list(frame["sentence_2"])))
    keys = pair_keys(list(written["sentence1"]), list(written["sentence2"]))
    assert len(keys) == len(set(keys)) and not set(keys) & existing
    assert set(keys) == found - existing
    assert f"Sampled {len(keys)} new pairs: the 2 nearest neighbour(s) of {len(sentences)} sentences" in printed
    assert written["id"].tolist() == [f"test-knn-{row}" for row in range(len(keys))]
    assert set(written["source"]) == {"semantic-search"}
    # The teacher's scores: 5 x the cosine of the same (unit-length) embeddings, clipped.
    row = {sentence: index for index, sentence in enumerate(sentences)}
    cosines = [similarity[row[a], row[b]] for a, b in zip(written["sentence1"], written["sentence2"], strict=True)]
    np.testing.assert_allclose(written["label"], np.clip(5 * np.array(cosines), 0, 5), atol=1e-5)


ERRORS = {
    "sampler without --sample_pairs": (
        ["{teacher}", "--sampler", "{bi}"],
        r"--sampler: the sampler finds new pairs, with --sample_pairs K",
    ),
    "cross-encoder teacher, no sampler": (
        ["{teacher}", "--sample_pairs", "2"],
        r"the teacher .* is a cross-encoder, which has no sentence embeddings .* give a bi-encoder as --sampler",
    ),
    "cross-encoder sampler": (
        ["{bi}", "--sample_pairs", "2", "--sampler", "{teacher}"],
        r"is an hf_sts cross-encoder: .* --sample_pairs needs a bi-encoder",
    ),
    "two cross-encoder teachers, no sampler": (
        ["{teacher}", "{teacher2}", "--sample_pairs", "2"],
        r"--sample_pairs: every teacher is a cross-encoder, .* give a bi-encoder as --sampler",
    ),
    "a teacher twice": (
        ["{teacher}", "{bi}", "{teacher}"],
        r"teacher .*teacher is given twice: each teacher counts once",
    ),
    "a teacher twice, written two ways": (
        ["{teacher}", "{bi}", "{root}/./teacher"],
        r"teacher .*/\./teacher is given twice: each teacher counts once",
    ),
    "missing input": (["{teacher}", "--input", "{root}/nowhere.csv"], r"nowhere\.csv: no such file"),
    "NLI pair without a hypothesis": (
        ["{teacher}", "--input", "{root}/bad_nli.json"],
        r"bad_nli\.json: row 2 \(1-based, header excluded\): `sentence2` is empty",
    ),
    "sample_pairs 0": (["{bi}", "--sample_pairs", "0"], r"--sample_pairs.*'0' is not a whole number >= 1"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_label_refusals_are_one_line_and_write_nothing(case, tmp_path, cross_encoder, bi_encoder, test_csv, capsys):
    records = [{"guid": "a", "premise": "가", "hypothesis": "나"}, {"guid": "b", "premise": "다", "hypothesis": ""}]
    (tmp_path / "bad_nli.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    arguments, message = ERRORS[case]
    second_teacher = tmp_path / "teacher2"
    if "{teacher2}" in ERRORS[case][0]:
        shutil.copytree(cross_encoder, second_teacher)
    values = {"teacher": cross_encoder, "teacher2": second_teacher, "bi": bi_encoder, "root": tmp_path}
    arguments = [argument.format(**values) for argument in arguments]
    if "--input" not in arguments:
        arguments += ["--input", str(test_csv)]
    output = tmp_path / "out" / "silver.csv"
    line = refusal_line(["label", *arguments, "--output", str(output)], capsys)
    assert re.search(message, line), line
    assert not output.parent.exists()
