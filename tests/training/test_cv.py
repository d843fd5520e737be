"""Cross-validation: fold assignment, and K-fold runs of the quickstart recipe end to end (one and two processes)."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hf_sts.data.pairs import assign_folds, label_buckets
from hf_sts.run import main as run_main

from ..conftest import KLUE_DEV, QUICKSTART, REPO_ROOT, TINY, accelerate, launch


def test_folds_cover_each_row_once(klue_dev):
    labels = np.asarray(klue_dev["label"])
    for strategy in ("kfold", "stratified"):
        folds = assign_folds(labels, 5, strategy, seed=0)
        assert folds.shape == labels.shape and set(folds) == {0, 1, 2, 3, 4}
        assert np.bincount(folds).max() - np.bincount(folds).min() <= 1
    assert not np.array_equal(assign_folds(labels, 5, "kfold", seed=0), assign_folds(labels, 5, "kfold", seed=1))


def test_stratified_folds_keep_bucket_shares(klue_dev):
    labels = np.asarray(klue_dev["label"])
    buckets = label_buckets(labels)
    assert set(buckets) <= set(range(6)) and label_buckets(np.array([5.0, 0.0, 2.99]).tolist()).tolist() == [5, 0, 2]
    folds = assign_folds(labels, 5, "stratified", seed=3)
    for fold in range(5):
        held_out = folds == fold
        for bucket in set(buckets):
            # Rows of this bucket in the fold vs its share of the fold's size: within one row.
            expected = (buckets == bucket).mean() * held_out.sum()
            assert abs((buckets[held_out] == bucket).sum() - expected) <= 1, (fold, bucket)


def test_duplicate_and_swapped_pairs_share_a_fold(klue_dev):
    from hf_sts.data.pairs import pair_keys

    first, second = klue_dev["sentence1"][:60], klue_dev["sentence2"][:60]
    # Rows 60.. repeat rows 0..29, half of them swapped: each copy must land in the fold of its original.
    sentences1 = first + [second[i] if i % 2 else first[i] for i in range(30)]
    sentences2 = second + [first[i] if i % 2 else second[i] for i in range(30)]
    labels = np.asarray(klue_dev["label"][:60] + klue_dev["label"][:30])
    for strategy in ("kfold", "stratified"):
        folds = assign_folds(labels, 3, strategy, seed=0, groups=pair_keys(sentences1, sentences2))
        assert (folds[60:] == folds[:30]).all()
        assert set(folds) == {0, 1, 2}


def test_fold_errors():
    with pytest.raises(ValueError, match=r"`num_folds` must be between 2 and the 3 rows, got 4"):
        assign_folds(np.array([0.0, 1.0, 2.0]), 4)
    with pytest.raises(ValueError, match=r"`fold_strategy` must be one of \['kfold', 'stratified'\], got 'group'"):
        assign_folds(np.array([0.0, 1.0, 2.0]), 2, "group")


def _check_cv_outputs(output_dir, num_pooled, num_folds=2):
    oof = pd.read_csv(output_dir / "oof_predictions.csv")
    assert list(oof.columns) == ["id", "fold", "label", "prediction"]
    assert len(oof) == num_pooled and oof.id.is_unique and set(oof.fold) == set(range(num_folds))
    assert oof.prediction.between(0, 5).all()
    results = json.loads((output_dir / "cv_results.json").read_text())
    assert len(results["folds"]) == num_folds
    # Every score recomputed from the written OOF rows: each fold's from its held-out rows, then their mean.
    pearsons = [stats.pearsonr(rows.prediction, rows.label).statistic for _, rows in oof.groupby("fold")]
    assert [fold["eval_pearson"] for fold in results["folds"]] == pytest.approx(pearsons, abs=1e-6)
    assert results["cv_pearson_mean"] == pytest.approx(np.mean(pearsons), abs=1e-6)
    assert results["cv_pearson_std"] == pytest.approx(np.std(pearsons), abs=1e-6)
    assert results["oof_pearson"] == pytest.approx(stats.pearsonr(oof.prediction, oof.label).statistic, abs=1e-6)
    for fold in range(num_folds):
        held_out = json.loads((output_dir / f"fold-{fold}" / "all_results.json").read_text())
        assert held_out["eval_samples"] == (oof.fold == fold).sum()
        assert (output_dir / f"fold-{fold}" / "model.safetensors").is_file()
    return oof, results


@pytest.mark.slow
def test_two_fold_quickstart_with_test_predictions(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)  # the recipe names its data relative to the repository
    output_dir = tmp_path / "cv"
    run_main(
        [
            QUICKSTART,
            "--output_dir", str(output_dir),
            "--max_train_samples=200",
            "--num_folds=2",
            "--test_file", str(KLUE_DEV),
            *TINY,
            "--add_swapped_pairs=true",
        ]
    )  # fmt: skip
    oof, results = _check_cv_outputs(output_dir, num_pooled=200)
    assert not oof.id.str.endswith("-swapped").any()  # swapped copies only ever train
    for fold in range(2):
        trained = json.loads((output_dir / f"fold-{fold}" / "all_results.json").read_text())["train_samples"]
        assert trained == 2 * (oof.fold != fold).sum()  # the other folds' pairs, each also swapped
    dev = pd.read_csv(output_dir / "eval_predictions.csv")  # the dev set, scored by the mean of the fold models
    assert len(dev) == 519
    assert results["eval_pearson"] == pytest.approx(stats.pearsonr(dev.prediction, dev.label).statistic, abs=1e-6)
    folds = [pd.read_csv(output_dir / f"fold-{fold}" / "test_predictions.csv") for fold in range(2)]
    submission = pd.read_csv(output_dir / "submission.csv")
    assert list(submission.columns) == ["id", "target"] and len(submission) == 519
    mean = np.clip((folds[0].prediction + folds[1].prediction) / 2, 0, 5)
    np.testing.assert_allclose(submission.target, mean, atol=1e-6)


@pytest.mark.slow
def test_two_fold_quickstart_under_two_process_ddp(tmp_path):
    """`accelerate launch --multi_gpu --num_processes 2` on a CPU-only machine: real DDP over gloo, fold by fold."""
    output_dir = tmp_path / "cv-ddp"
    result = launch(
        QUICKSTART,
        "--output_dir", str(output_dir),
        "--max_train_samples=128",
        "--max_eval_samples=64",
        "--per_device_train_batch_size=16",
        "--num_folds=2",
        "--cv_include_validation=true",
        *TINY,
        launcher=accelerate("--multi_gpu", "--num_processes", "2"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    # Every pooled row predicted once although each fold model scored its held-out rows in two processes.
    _check_cv_outputs(output_dir, num_pooled=128 + 64)
    state = json.loads((output_dir / "fold-0" / "trainer_state.json").read_text())
    # 96 training pairs (+96 swapped is off in TINY), 16 per process and step: 3 steps when the processes share the
    # data (6 if each trained alone), and one checkpoint written, by the main process.
    assert state["global_step"] == 3
    assert [path.name for path in (output_dir / "fold-0").glob("checkpoint-*")] == ["checkpoint-3"]
