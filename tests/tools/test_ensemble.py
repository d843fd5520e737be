"""Ensembles: mean, fitted weights and stacking, scored without leaks, refusing what would leak."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hf_sts.cli.main import main as hf_sts_cli
from hf_sts.tools.ensemble import EnsembleError, WeightedAverage, ensemble


def _eval_run(folder, ids, labels, predictions, recipe):
    """A run folder as hf_sts leaves it: `eval_predictions.csv` and the `recipe.json` that tells where they come
    from."""
    folder.mkdir()
    frame = pd.DataFrame({"id": ids, "label": labels, "prediction": predictions})
    frame.to_csv(folder / "eval_predictions.csv", index=False)
    (folder / "recipe.json").write_text(json.dumps(recipe))
    return folder / "eval_predictions.csv"


def _oof(path, ids, labels, predictions):
    folds = np.arange(len(ids)) % 5
    pd.DataFrame({"id": ids, "fold": folds, "label": labels, "prediction": predictions}).to_csv(path, index=False)
    return path


def _member_files(tmp_path, ids, labels, members, test_rows):
    """Each member's OOF file and its test-prediction file (`id,target` of the first `test_rows` ids)."""
    oof = [_oof(tmp_path / f"oof{i}.csv", ids, labels, member) for i, member in enumerate(members)]
    tests = []
    for i, member in enumerate(members):
        tests.append(tmp_path / f"test{i}.csv")
        pd.DataFrame({"id": ids[:test_rows], "target": member[:test_rows]}).to_csv(tests[-1], index=False)
    return oof, tests


@pytest.fixture
def synthetic(klue_dev):
    """Real KLUE-STS dev ids and labels, with three members of known quality."""
    rng = np.random.default_rng(0)
    labels = np.asarray(klue_dev["label"])
    ids = klue_dev["id"][:]
    members = [np.clip(labels + rng.normal(0, sigma, len(labels)), 0, 5) for sigma in (0.5, 1.0, 2.0)]
    return ids, labels, members


def test_mean_of_identical_files_equals_either(tmp_path, synthetic):
    ids, labels, members = synthetic
    a = _oof(tmp_path / "a.csv", ids, labels, members[0])
    shuffled = pd.read_csv(a).sample(frac=1.0, random_state=0)  # the same rows in another order
    shuffled.to_csv(tmp_path / "b.csv", index=False)
    results = ensemble([a, tmp_path / "b.csv"], "mean", tmp_path / "out")
    written = pd.read_csv(tmp_path / "out" / "ensemble_predictions.csv")
    np.testing.assert_allclose(written.prediction, members[0], atol=1e-9)
    assert results["pearson"] == pytest.approx(results["members"][0]["pearson"])


def test_weighted_fit_recovers_known_weights():
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 5, size=(400, 3))
    y = X @ np.array([0.6, 0.3, 0.1])
    np.testing.assert_allclose(WeightedAverage("nnls").fit(X, y).weights_, [0.6, 0.3, 0.1], atol=1e-6)
    # Pearson is blind to scale: the fitted weights are proportional to the true ones.
    np.testing.assert_allclose(WeightedAverage("pearson").fit(X, y).weights_, [0.6, 0.3, 0.1], atol=0.02)


def test_weighted_ensemble_writes_submission_with_test_files(tmp_path, synthetic):
    ids, labels, members = synthetic
    oof, tests = _member_files(tmp_path, ids, labels, members, test_rows=50)
    hf_sts_cli(
        [
            "ensemble",
            "--method",
            "weighted",
            "--output",
            str(tmp_path / "out"),
            *map(str, oof),
            "--test",
            *map(str, tests),
        ]
    )
    results = json.loads((tmp_path / "out" / "ensemble_results.json").read_text())
    weights = np.array(results["weights"])
    assert weights.sum() == pytest.approx(1.0) and weights[0] > weights[1] > weights[2]  # less noise, more weight
    assert results["pearson_nested"] > results["members"][0]["pearson"] - 0.01
    submission = pd.read_csv(tmp_path / "out" / "submission.csv")
    assert list(submission.columns) == ["id", "target"]
    np.testing.assert_allclose(submission.target, np.clip(np.stack(members)[:, :50].T @ weights, 0, 5), atol=1e-9)


def test_stacking_nested_score_is_not_inflated(tmp_path):
    # 30 members of pure noise over 60 rows: a stacker scored on its own training rows looks good; it is not.
    rng = np.random.default_rng(2)
    ids = [f"row-{i}" for i in range(60)]
    labels = rng.uniform(0, 5, 60)
    files = [_oof(tmp_path / f"m{i}.csv", ids, labels, rng.uniform(0, 5, 60)) for i in range(30)]
    results = ensemble(files, "stacking", tmp_path / "out")  # the default stacker, Ridge(alpha=1)
    from sklearn.linear_model import Ridge

    X = np.stack([pd.read_csv(path).prediction for path in files], axis=1)
    in_sample = stats.pearsonr(Ridge(alpha=1.0).fit(X, labels).predict(X), labels).statistic
    assert in_sample > 0.5  # what a leaky evaluation would report
    assert results["pearson_nested"] < 0.3


def test_refuses_to_fit_on_rows_that_are_not_held_out(tmp_path, synthetic):
    ids, labels, members = synthetic
    oof = _oof(tmp_path / "oof.csv", ids, labels, members[0])
    # Labeled predictions of a run whose validation file is its training file: its own training rows.
    leaky = {"train_file": "data/train.csv", "validation_file": "data/train.csv"}
    predictions = _eval_run(tmp_path / "run", ids, labels, members[1], leaky)
    for method in ("weighted", "stacking"):
        with pytest.raises(EnsembleError, match=r"eval_predictions\.csv: not known to be out-of-fold or held out"):
            ensemble([oof, predictions], method, tmp_path / "out")
    # The same predictions from a run validated on another file are accepted.
    held_out = {"train_file": "data/train.csv", "validation_file": "data/dev.json"}
    predictions = _eval_run(tmp_path / "run2", ids, labels, members[1], held_out)
    assert ensemble([oof, predictions], "weighted", tmp_path / "out")["members"][1]["kind"] == "held-out"


def test_misaligned_ids_error(tmp_path, synthetic, capsys):
    ids, labels, members = synthetic
    a = _oof(tmp_path / "a.csv", ids, labels, members[0])
    b = _oof(tmp_path / "b.csv", ids[:-1] + ["elsewhere-1"], labels, members[1])
    with pytest.raises(SystemExit) as exit_info:
        hf_sts_cli(["ensemble", "--method", "mean", "--output", str(tmp_path / "out"), str(a), str(b)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("hf-sts: error: ") and "b.csv: ids do not match" in error and "1 missing, 1 extra" in error
    assert not (tmp_path / "out").exists()


def test_bad_test_file_writes_nothing(tmp_path, synthetic):
    ids, labels, members = synthetic
    oof = [_oof(tmp_path / f"oof{i}.csv", ids, labels, member) for i, member in enumerate(members[:2])]
    pd.DataFrame({"id": ids[:5], "target": members[0][:5]}).to_csv(tmp_path / "test0.csv", index=False)
    pd.DataFrame({"identifier": ids[:5]}).to_csv(tmp_path / "test1.csv", index=False)
    with pytest.raises(EnsembleError, match=r"test1\.csv: expected columns `id` and `prediction`"):
        ensemble(oof, "weighted", tmp_path / "out", test_files=[tmp_path / "test0.csv", tmp_path / "test1.csv"])
    assert not (tmp_path / "out").exists()


def test_evaluation_only_predictions_are_not_held_out(tmp_path, synthetic):
    ids, labels, members = synthetic
    oof = _oof(tmp_path / "oof.csv", ids, labels, members[0])
    # A checkpoint evaluated on a file, without training in this run: it may have trained on these rows elsewhere.
    evaluation_only = {"model_name_or_path": "some/ckpt", "validation_file": "dev.json"}
    predictions = _eval_run(tmp_path / "eval-only", ids, labels, members[1], evaluation_only)
    with pytest.raises(EnsembleError, match="not known to be out-of-fold or held out"):
        ensemble([oof, predictions], "stacking", tmp_path / "out")


def test_stacker_without_coefficients(tmp_path, synthetic, monkeypatch):
    """`STACKERS` takes any scikit-learn regressor: one without `coef_` / `intercept_` stacks and reports its name."""
    from sklearn.neighbors import KNeighborsRegressor

    from hf_sts.tools import ensemble as ensemble_module

    monkeypatch.setitem(ensemble_module.STACKERS, "knn", lambda: KNeighborsRegressor(n_neighbors=15))
    ids, labels, members = synthetic
    oof, tests = _member_files(tmp_path, ids, labels, members, test_rows=20)
    results = ensemble(oof, "stacking", tmp_path / "out", test_files=tests, stacker="knn")
    assert results["stacker"] == {"name": "knn"}
    assert results["pearson_nested"] > results["members"][2]["pearson"]  # better than the noisiest member
    assert json.loads((tmp_path / "out" / "ensemble_results.json").read_text())["stacker"] == {"name": "knn"}
    expected = KNeighborsRegressor(n_neighbors=15).fit(np.stack(members, axis=1), labels)
    submission = pd.read_csv(tmp_path / "out" / "submission.csv")
    np.testing.assert_allclose(
        submission.target, np.clip(expected.predict(np.stack(members, axis=1)[:20]), 0, 5), atol=1e-9
    )
    # A linear stacker still reports one coefficient per member and its intercept.
    linear = ensemble(oof, "stacking", tmp_path / "linear", stacker="linear")["stacker"]
    assert linear["name"] == "linear" and len(linear["coef"]) == 3 and isinstance(linear["intercept"], float)


def test_best_epoch_picked_on_the_validation_rows_is_not_held_out(tmp_path, synthetic, caplog):
    """`load_best_model_at_end: true` picked the epoch on the very rows of `eval_predictions.csv`: no fit on them."""
    ids, labels, members = synthetic
    oof = _oof(tmp_path / "oof.csv", ids, labels, members[0])
    recipe = {"train_file": "data/train.csv", "validation_file": "data/dev.json", "load_best_model_at_end": True}
    selected = _eval_run(tmp_path / "run", ids, labels, members[1], recipe)
    for method in ("weighted", "stacking"):
        with pytest.raises(EnsembleError) as info:
            ensemble([oof, selected], method, tmp_path / "out")
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith(f"{selected}: its run picked its best epoch on these rows")
        assert "load_best_model_at_end: true in" in message and "optimistic" in message
        assert "oof_predictions.csv" in message and "a run without load_best_model_at_end" in message
    assert not (tmp_path / "out").exists()
    # A mean fits nothing: allowed, with one warning naming the file.
    with caplog.at_level("WARNING", logger="hf_sts.tools.ensemble"):
        results = ensemble([oof, selected], "mean", tmp_path / "mean")
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1 and str(selected) in warnings[0] and "optimistic" in warnings[0]
    assert results["members"][1]["kind"] == "selected"
    # Transformers' default (false), and cross-validation runs (whose folds keep their last epoch), are held out.
    for name, settings in (("off", {"load_best_model_at_end": False}), ("cv", {"num_folds": 5})):
        held_out = _eval_run(tmp_path / name, ids, labels, members[1], {**recipe, **settings})
        assert ensemble([oof, held_out], "weighted", tmp_path / f"out-{name}")["members"][1]["kind"] == "held-out"
