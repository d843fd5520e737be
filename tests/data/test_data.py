import json
import os

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from hf_sts.data.pairs import add_swapped_pairs
from hf_sts.data.readers import load_sts_datasets, read_sts_file
from hf_sts.data.tokenization import map_fingerprint, tokenize_pairs
from hf_sts.data.wordpiece import train_wordpiece_tokenizer
from hf_sts.errors import DataFormatError
from hf_sts.metrics import StsMetric

from ..conftest import KLUE_DEV, KLUE_TRAIN, KORSTS


@pytest.mark.parametrize(
    ("path", "rows", "first_id", "binary_labels"),
    [
        (KLUE_TRAIN, 11_668, "klue-sts-v1.1_train-0", {-1}),
        (KLUE_DEV, 519, "klue-sts-v1_dev_00000", {0, 1}),
        (KORSTS / "sts-train.tsv", 5_749, "MSRvid-2012test-0001", {-1}),
        (KORSTS / "sts-dev.tsv", 1_500, "MSRvid-2012test-0000", {-1}),
        (KORSTS / "sts-test.tsv", 1_379, "MSRvid-2012test-0024", {-1}),
    ],
)
def test_readers_on_real_files(path, rows, first_id, binary_labels):
    if not path.is_file():
        pytest.skip(f"needs {path} (../shared/data beside the repository)")
    dataset = read_sts_file(path)
    assert len(dataset) == rows
    assert dataset.column_names == ["id", "source", "sentence1", "sentence2", "label", "binary_label"]
    assert dataset[0]["id"] == first_id
    labels = dataset["label"][:]
    assert min(labels) >= 0.0 and max(labels) <= 5.0
    assert set(dataset["binary_label"][:]) == binary_labels  # -1: the file carries none
    assert len(set(dataset["id"][:])) == rows


def test_klue_json_keeps_official_labels(klue_dev):
    raw = json.loads(KLUE_DEV.read_text(encoding="utf-8"))
    for item, row in zip(raw, klue_dev, strict=True):
        assert row["label"] == item["labels"]["real-label"]
        assert row["binary_label"] == item["labels"]["binary-label"]
        assert row["source"] == item["source"]


def test_f1_without_binary_labels_compares_labels_at_the_threshold():
    dataset = read_sts_file(KLUE_TRAIN).select(range(300))
    labels = np.asarray(dataset["label"][:])
    predictions = np.clip(labels + np.random.default_rng(0).normal(0, 0.8, len(labels)), 0, 5)
    for threshold in (3.0, 2.5):
        metrics = StsMetric(keep_in_memory=True).compute(
            predictions=predictions,
            references=labels,
            binary_references=dataset["binary_label"][:],
            binary_threshold=threshold,
        )
        assert metrics["f1"] == pytest.approx(f1_score(labels >= threshold, predictions >= threshold))
    assert f1_score(labels >= 3.0, predictions >= 3.0) != pytest.approx(f1_score(labels >= 2.5, predictions >= 2.5))


def _competition_frame(klue_dev, rows=6, labeled=True):
    frame = klue_dev.select(range(rows)).to_pandas()
    out = pd.DataFrame(
        {
            "id": [f"boostcamp-sts-v1-test-{i:03d}" for i in range(rows)],
            "source": frame["source"],
            "sentence_1": frame["sentence1"],
            "sentence_2": frame["sentence2"],
        }
    )
    if labeled:
        out["label"] = frame["label"].round(1)
        out["binary-label"] = frame["binary_label"]
    return out


def test_competition_csv_train_and_unlabeled_test(tmp_path, klue_dev):
    _competition_frame(klue_dev).to_csv(tmp_path / "train.csv", index=False)
    _competition_frame(klue_dev, labeled=False).to_csv(tmp_path / "test.csv", index=False)
    train = read_sts_file(tmp_path / "train.csv")
    assert train["id"][:] == [f"boostcamp-sts-v1-test-{i:03d}" for i in range(6)]
    assert train["sentence1"][:] == klue_dev["sentence1"][:6]
    test = read_sts_file(tmp_path / "test.csv", require_labels=False)
    assert test["label"][:] == [None] * 6
    assert test["binary_label"][:] == [-1] * 6
    with pytest.raises(DataFormatError, match=r"test\.csv: row 1 .*label is missing"):
        read_sts_file(tmp_path / "test.csv", require_labels=True)


def test_validation_split_percentage_and_limits():
    splits = load_sts_datasets(train_file=str(KLUE_DEV), validation_split_percentage=10, seed=1)
    assert len(splits["validation"]) == 52 and len(splits["train"]) == 519 - 52
    assert not set(splits["train"]["id"][:]) & set(splits["validation"]["id"][:])
    assert "validation" not in load_sts_datasets(train_file=str(KLUE_DEV), validation_split_percentage=0)


def test_swapped_pairs_and_tokenization(klue_dev, tokenizer):
    small = klue_dev.select(range(4))
    doubled = add_swapped_pairs(small)
    assert len(doubled) == 8
    assert doubled[4]["sentence1"] == small[0]["sentence2"] and doubled[4]["label"] == small[0]["label"]
    encoded = tokenize_pairs(doubled, tokenizer, max_seq_length=64)
    assert set(encoded.column_names) == {"input_ids", "token_type_ids", "attention_mask", "labels", "binary_labels"}
    assert len({len(ids) for ids in encoded["input_ids"]}) > 1  # no padding to a fixed length
    assert encoded["labels"][:] == doubled["label"][:]
    truncated = tokenize_pairs(doubled, tokenizer, max_seq_length=8)
    assert {len(ids) for ids in truncated["input_ids"]} == {8}


def test_tokenizing_never_pickles_the_tokenizer(klue_dev, tokenizer, monkeypatch):
    """datasets would fingerprint the map by pickling the tokenizer (seconds for a 250k-piece vocabulary); the
    fingerprint is built from its serialized pipeline instead, and still tells tokenizers and settings apart."""
    from datasets.utils._dill import Pickler  # what datasets' fingerprints pickle with

    pickled = []
    save = Pickler.save

    def recording_save(pickler, obj, *args, **kwargs):
        pickled.append(type(obj))
        return save(pickler, obj, *args, **kwargs)

    monkeypatch.setattr(Pickler, "save", recording_save)
    small = klue_dev.select(range(8))
    encoded = tokenize_pairs(small, tokenizer, max_seq_length=64)
    assert type(tokenizer) not in pickled and len(encoded) == 8
    fingerprint = map_fingerprint(small, tokenizer, length=64)
    assert map_fingerprint(small, tokenizer, length=64) == fingerprint
    other = train_wordpiece_tokenizer(small["sentence1"][:] + small["sentence2"][:], vocab_size=200)
    assert map_fingerprint(small, other, length=64) != fingerprint
    assert map_fingerprint(small, tokenizer, length=32) != fingerprint
    assert map_fingerprint(klue_dev.select(range(9)), tokenizer, length=64) != fingerprint


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "sentence1,sentence2,label\n가,나,3.0\n다,라,high\n",
            r"bad\.csv: row 2 .*label 'high' is not a number in \[0\.0, 5\.0\]",
        ),
        ("sentence1,sentence2,label\n가,나,3.0\n다,라,7\n", r"bad\.csv: row 2 .*label '7' is not a number"),
        ("sentence1,sentence2,label\n가,나,3.0\n다,,1\n", r"bad\.csv: row 2 .*`sentence2` is empty"),
        (
            "text_a,text_b,score\n가,나,3\n",
            r"bad\.csv: columns \['score', 'text_a', 'text_b'\] match no known STS format",
        ),
        (
            "id,source,sentence_1,sentence_2,label,binary-label\nx,s,가,나,1,0\nx,s,다,라,2,0\n",
            r"bad\.csv: row 2 .*id 'x' occurs more than once",
        ),
        (
            "id,source,sentence_1,sentence_2,label,binary-label\na,s,가,나,1,0\nb,s,다,라,4,yes\n",
            r"bad\.csv: row 2 .*binary label 'yes' is not 0 or 1",
        ),
        (  # a KorSTS layout without its second sentence: named as such, not read as another format
            "genre,filename,year,id,score,sentence1\nmain-news,MSRvid,2012,1,5.0,가\n",
            r"bad\.csv: reads as the korsts format but lacks the column\(s\) \['sentence2'\]",
        ),
        ("sentence1,sentence2,label\n가,나,3.0\n,다,1\n", r"bad\.csv: row 2 .*`sentence1` is empty"),
        ("id,sentence1,sentence2,label\na,가,나,3.0\n ,다,라,1\n", r"bad\.csv: row 2 .*the id is blank"),
        (
            'sentence1,sentence2,label\n가,"나\n다,라",3.0\n',
            r"bad\.csv: row 1 .*`sentence2` holds a line break, the mark of a stray quote",
        ),
    ],
)
def test_broken_files_name_file_row_and_problem(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFormatError, match=message):
        read_sts_file(path)


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(DataFormatError, match=r"nope\.csv: no such file"):
        read_sts_file(tmp_path / "nope.csv")
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(DataFormatError, match=r"data\.xlsx: unsupported file extension"):
        read_sts_file(tmp_path / "data.xlsx")
    (tmp_path / "data.json").write_text('{"sentence1": "a"}')
    with pytest.raises(DataFormatError, match=r"data\.json: expected a JSON list of objects"):
        read_sts_file(tmp_path / "data.json")


def test_hub_dataset_gets_the_runs_cache_token_and_revision(monkeypatch, tmp_path):
    import datasets

    from hf_sts.errors import DataFormatError
    from hf_sts.training.setup import prepare

    calls = []

    def load_dataset(name, config_name=None, **kwargs):
        calls.append((name, config_name, kwargs))
        raise FileNotFoundError(f"Dataset '{name}' doesn't exist on the Hub or cannot be accessed.\nmore detail")

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.setenv("HF_TOKEN", "")  # restored after the test: the run moves its token here
    argv = ["--dataset_name", "someone/sts", "--dataset_config_name", "ko", "--dataset_revision", "v1.1"]
    argv += ["--cache_dir", str(tmp_path / "cache"), "--token", "hf_x", "--model_type", "bert"]
    with pytest.raises(DataFormatError, match=r"^someone/sts: cannot load the dataset: Dataset 'someone/sts' doesn't"):
        prepare([*argv, "--output_dir", str(tmp_path / "out")])
    # The token reaches `datasets` through HF_TOKEN, where huggingface_hub reads it; the argument is blanked.
    assert calls == [("someone/sts", "ko", {"cache_dir": str(tmp_path / "cache"), "token": None, "revision": "v1.1"})]
    assert os.environ["HF_TOKEN"] == "hf_x"
    assert not (tmp_path / "out").exists()


def test_json_with_a_byte_order_mark_and_jsonl_line_numbers(tmp_path, klue_dev):
    rows = [{"sentence1": row["sentence1"], "sentence2": row["sentence2"], "label": row["label"]} for row in klue_dev]
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(rows[:3], ensure_ascii=False).encode("utf-8"))
    assert read_sts_file(bom)["sentence1"][:] == [row["sentence1"] for row in rows[:3]]
    lines = [json.dumps(row, ensure_ascii=False) for row in rows[:4]]
    lines[2] = lines[2][:-1]  # the third record loses its closing brace
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"broken\.jsonl: line 3 is not valid JSON"):
        read_sts_file(broken)


def test_run_warns_about_0_to_1_labels_and_validation_pairs_seen_in_training(tmp_path, klue_dev, caplog):
    from hf_sts.training.setup import prepare

    rows = klue_dev.select(range(40)).to_pandas()[["sentence1", "sentence2", "label"]]
    rows.assign(label=rows.label / 5).to_csv(tmp_path / "train.csv", index=False)
    # 6 validation pairs: 2 from the training rows (one with its sentences swapped), 4 unseen.
    seen = rows.iloc[[3, 7]].copy()
    seen.iloc[1, [0, 1]] = seen.iloc[1, [1, 0]].to_numpy()
    unseen = klue_dev.select(range(100, 104)).to_pandas()[["sentence1", "sentence2", "label"]]
    pd.concat([seen, unseen]).to_csv(tmp_path / "dev.csv", index=False)
    argv = ["--model_type", "bert", "--train_file", str(tmp_path / "train.csv")]
    argv += ["--validation_file", str(tmp_path / "dev.csv"), "--output_dir", str(tmp_path / "out")]
    with caplog.at_level("WARNING", logger="hf_sts.data"):
        prepare(argv)
    messages = [record.getMessage() for record in caplog.records if record.name.startswith("hf_sts.data.")]
    assert len(messages) == 2
    assert messages[0].startswith("All 40 training labels lie in [0, 1]")
    assert messages[1].startswith("2 of the 6 validation pairs also occur in the training data")
