"""Ensembles of hf_sts prediction files that do not leak.

    hf-sts ensemble --method mean --output DIR run_a/submission.csv run_b/submission.csv
    hf-sts ensemble --method weighted --output DIR cv_a/oof_predictions.csv cv_b/oof_predictions.csv \\
        --test cv_a/submission.csv cv_b/submission.csv
    hf-sts ensemble --method stacking --output DIR cv_a/oof_predictions.csv cv_b/oof_predictions.csv --test ...

Members are prediction files aligned by `id`: out-of-fold predictions (`oof_predictions.csv`, with a `fold` column),
validation predictions (`eval_predictions.csv`, held out when the run's `recipe.json` beside it validated on data it
did not train on), or test predictions without labels (`submission.csv`, `fold-K/test_predictions.csv`). A run with
`load_best_model_at_end: true` picked its best epoch on its validation rows: its `eval_predictions.csv` is not held
out from model selection, so it is kind `selected`, which `mean` (and given weights) may use, with a warning, but
nothing fits on.

- `mean`: soft voting, the plain average.
- `weighted`: a weighted average, with `weights` given, or fitted on the labeled members by non-negative least squares
  (`fit="nnls"`, scipy) or by maximising Pearson r (`fit="pearson"`, scipy L-BFGS-B over non-negative weights), then
  normalised to sum to 1.
- `stacking`: a scikit-learn regressor (`STACKERS`, default Ridge) fitted on the members' predictions. Any
  regressor works (`fit`/`predict`); its `coef_` and `intercept_` are reported when it has them.

Fitted weights and stackers are fitted only on out-of-fold or held-out predictions (anything else is refused, the
validation predictions of a run that picked its best epoch on them included), and
their reported score comes from nested cross-validation: each row is scored by weights or a stacker fitted without
it. The final weights or stacker, fitted on all labeled rows, are applied to the `test` files.
"""

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import KFold, cross_val_predict

from hf_sts.data.readers import file_list
from hf_sts.data.triplets import training_datasets
from hf_sts.errors import EnsembleError, read_json_object
from hf_sts.metrics import clip_scores
from hf_sts.utils.write_guard import atomic_output, check_output, write_text


logger = logging.getLogger(__name__)

METHODS = ("mean", "weighted", "stacking")
# What an ensemble's output folder holds (`submission.csv` with test predictions only).
FILES = ("ensemble_predictions.csv", "submission.csv", "ensemble_results.json")
# Stackers by name, each a factory of a scikit-learn regressor (any: `coef_` / `intercept_` are reported only when the
# fitted regressor has them): the one place to add another.
STACKERS: dict[str, Callable[[], BaseEstimator]] = {
    "ridge": lambda: Ridge(alpha=1.0),
    "linear": lambda: LinearRegression(positive=True),
}


class WeightedAverage(RegressorMixin, BaseEstimator):
    """A weighted average of member predictions with fitted weights: a scikit-learn regressor, so nested
    cross-validation can refit it like any stacker.

    Args:
        method (`str`): `"nnls"` (non-negative least squares, `scipy.optimize.nnls`) or `"pearson"` (maximise
            Pearson r of the average with the labels over non-negative weights, `scipy.optimize.minimize`).

    Attributes (after `fit`):
        weights_ (`np.ndarray` of shape `(n_members,)`): non-negative, summing to 1.
    """

    def __init__(self, method: str = "nnls"):
        self.method = method

    def fit(self, X: np.ndarray, y: np.ndarray) -> "WeightedAverage":
        """Fit the weights on predictions `X` `(n_rows, n_members)` against labels `y` `(n_rows,)`.

        Raises:
            ValueError: for an unknown `method`.
        """
        n_members = X.shape[1]
        if self.method == "nnls":
            weights, _ = optimize.nnls(X, y)
        elif self.method == "pearson":
            weights = optimize.minimize(
                lambda w: -stats.pearsonr(X @ w, y).statistic if w.sum() > 0 else 0.0,
                np.full(n_members, 1.0 / n_members),
                bounds=[(0.0, None)] * n_members,
                method="L-BFGS-B",
            ).x
        else:
            raise ValueError(f"Unknown weight fit {self.method!r}; expected 'nnls' or 'pearson'.")
        if weights.sum() > 0:
            self.weights_ = weights / weights.sum()
        else:
            logger.warning("The %s fit gave every member weight 0: using equal weights instead.", self.method)
            self.weights_ = np.full(n_members, 1.0 / n_members)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The weighted average `X @ weights_`, shape `(n_rows,)`."""
        return X @ self.weights_


def _scores(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """`frame[column]` as finite floats.

    Raises:
        EnsembleError: naming the file, the first bad row (1-based) and its value: blank, not a number, or not finite.
    """
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    bad = ~np.isfinite(values.to_numpy(dtype=float))
    if bad.any():
        row = int(np.argmax(bad))
        value = frame[column].iloc[row]
        problem = "is blank" if not value.strip() else f"{value!r} is not a finite number"
        raise EnsembleError(f"{path}: row {row + 1} (1-based): `{column}` {problem}.")
    return values.astype(float)


def read_member(path: str | Path) -> tuple[pd.DataFrame, str]:
    """Read one prediction file into `id`, `prediction` and, when labeled, `label` columns.

    Returns:
        The frame and its kind: `"oof"` (out-of-fold), `"held-out"` (validation predictions of a run that did not
        train on them), `"selected"` (validation predictions of a run that did not train on them but picked its best
        epoch on them, `load_best_model_at_end`), `"labeled"` (labeled, but not known to be held out) or `"test"`
        (no labels).

    Raises:
        EnsembleError: if the file is missing, has no `id` or prediction column, or repeats an id.
    """
    path = Path(path)
    if not path.is_file():
        raise EnsembleError(f"{path}: no such prediction file.")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        reason = "empty file" if isinstance(error, pd.errors.EmptyDataError) else f"not a CSV file ({error})"
        raise EnsembleError(f"{path}: {reason}; expected a prediction CSV with `id` and `prediction`.") from None
    column = next((name for name in ("prediction", "target") if name in frame.columns), None)
    if "id" not in frame.columns or column is None:
        raise EnsembleError(
            f"{path}: expected columns `id` and `prediction` (or `target`), got {list(frame.columns)}."
        )
    if frame.empty:
        raise EnsembleError(f"{path}: no rows.")
    blank = frame["id"].str.strip() == ""
    if blank.any():
        raise EnsembleError(f"{path}: row {int(np.argmax(blank.to_numpy())) + 1} (1-based): the id is blank.")
    if frame["id"].duplicated().any():
        raise EnsembleError(f"{path}: id {frame['id'][frame['id'].duplicated()].iloc[0]!r} appears twice.")
    member = frame[["id"]].assign(prediction=_scores(frame, column, path))
    if "label" not in frame.columns:
        return member, "test"
    member["label"] = _scores(frame, "label", path)
    if "fold" in frame.columns:
        return member, "oof"
    recipe_path = path.parent / "recipe.json"
    if path.name != "eval_predictions.csv" or not recipe_path.is_file():
        return member, "labeled"
    recipe = read_json_object(recipe_path, EnsembleError)
    if not _validated_on_held_out_data(recipe):
        return member, "labeled"
    return member, "selected" if _selected_best_epoch_on_validation(recipe) else "held-out"


def _validated_on_held_out_data(recipe: dict) -> bool:
    """Whether the run of `recipe` (the `recipe.json` beside an `eval_predictions.csv`) validated on data it did not
    train on: it trained (from a `train_file`, `train_datasets` or a dataset) and validated on another file, on a dataset's own
    validation split, or on a part carved out of its training file; and it did not pool validation into
    cross-validation folds."""
    specs = training_datasets(recipe.get("train_datasets"))
    if recipe.get("do_train") is False or not (recipe.get("train_file") or recipe.get("dataset_name") or specs):
        return False  # an evaluation-only run: its model may have trained on these rows elsewhere
    if recipe.get("num_folds") and recipe.get("cv_include_validation"):
        return False  # the validation rows were pooled into the folds' training data
    validation = recipe.get("validation_file")
    train = file_list(recipe.get("train_file")) + [path for spec in specs for path in spec.train_file]
    if validation is None or not train:
        return True  # a split carved out of train, or a dataset's own validation split
    return Path(validation).resolve() not in {Path(path).resolve() for path in train}


def _selected_best_epoch_on_validation(recipe: dict) -> bool:
    """Whether the run of `recipe` picked its best epoch on the validation rows: `load_best_model_at_end`
    (transformers' default is off), outside cross-validation (`num_folds`), whose folds always keep their last
    epoch."""
    return bool(recipe.get("load_best_model_at_end")) and not recipe.get("num_folds")


def _selected_reason(path: Path) -> str:
    """Why a `"selected"` member is not held out, in words naming its recipe."""
    return (
        f"{path}: its run picked its best epoch on these rows (load_best_model_at_end: true in "
        f"{path.parent / 'recipe.json'})"
    )


def _align(members: list[tuple[pd.DataFrame, str]], paths: Sequence[str | Path]) -> pd.DataFrame:
    """One frame with a column per member (`m0`, `m1`, ...) and `label` when a member has one (labeled members must
    agree), rows in the order of the first file.

    Raises:
        EnsembleError: if the files do not hold the same ids, or disagree on a label.
    """
    first, _ = members[0]
    table = first[["id"]].copy()
    for index, ((frame, _), path) in enumerate(zip(members, paths, strict=True)):
        missing, extra = set(first["id"]) - set(frame["id"]), set(frame["id"]) - set(first["id"])
        if missing or extra:
            example = sorted(missing or extra)[0]
            raise EnsembleError(
                f"{path}: ids do not match {paths[0]} ({len(missing)} missing, {len(extra)} extra, e.g. {example!r}); "
                "ensemble predictions of the same rows."
            )
        indexed = frame.set_index("id").loc[table["id"]]
        table[f"m{index}"] = indexed["prediction"].to_numpy()
        if "label" in indexed:
            if "label" in table and not np.allclose(table["label"], indexed["label"]):
                raise EnsembleError(f"{path}: its labels differ from those of {paths[0]} for the same ids.")
            table["label"] = indexed["label"].to_numpy()
    return table


def _pearson(predictions: np.ndarray, labels: np.ndarray) -> float:
    return float(stats.pearsonr(clip_scores(predictions), labels).statistic)


def _stacker_summary(name: str, regressor: BaseEstimator) -> dict:
    """`{"name": name}`, plus the fitted `coef` (a list, one per member) and `intercept` when the regressor has them
    (linear models do; trees, neighbours and most others do not)."""
    summary: dict = {"name": name}
    for attribute, key in (("coef_", "coef"), ("intercept_", "intercept")):
        if hasattr(regressor, attribute):
            summary[key] = np.asarray(getattr(regressor, attribute), dtype=float).tolist()
    return summary


def ensemble(
    prediction_files: Sequence[str | Path],
    method: str,
    output_dir: str | Path,
    test_files: Sequence[str | Path] | None = None,
    weights: Sequence[float] | None = None,
    fit: str = "nnls",
    stacker: str = "ridge",
    nested_folds: int = 5,
    seed: int = 42,
) -> dict:
    """Combine the members' predictions and write `ensemble_predictions.csv` (the members' and the ensemble's
    predictions per row; for fitted methods the ensemble column holds the nested cross-validation predictions),
    `ensemble_results.json` and, with test predictions, `submission.csv` (`id,target`, clipped to [0, 5]) into
    `output_dir`. Every file is read and checked before anything is written.

    Args:
        prediction_files: one file per member, all on the same ids (any order).
        method: `"mean"`, `"weighted"` or `"stacking"`.
        test_files: one test-prediction file per member, in the same order, to apply the ensemble to. When the
            `prediction_files` themselves are unlabeled test predictions, they are combined directly.
        weights: given weights for `"weighted"` (normalised to sum to 1); fitted when omitted.
        fit: how `"weighted"` fits weights: `"nnls"` or `"pearson"`.
        stacker: a name of `STACKERS` for `"stacking"`.
        nested_folds, seed: the cross-validation that scores fitted weights and stackers.

    Returns:
        The content of `ensemble_results.json`: `method`, each member's file, kind and Pearson r, the ensemble's
        Pearson r (`nested` when fitted), and the weights, or the stacker's name with its `coef` and `intercept`
        when the regressor has them.

    Raises:
        hf_sts.errors.OutputError: for an `output_dir` that holds or lies inside one of the files, is a model
            folder or a run, or holds other files than an earlier ensemble's (`FILES`).
        EnsembleError: on a missing or malformed file, misaligned ids, a fit asked of predictions that are not
            out-of-fold or held-out (including the validation predictions of a run that picked its best epoch on
            them, `load_best_model_at_end`), unlabeled files where labels are needed, wrong counts of weights or test
            files, or `nested_folds` outside [2, rows].
    """
    _check_request(method, prediction_files, test_files, weights, stacker, output_dir)
    members = [read_member(path) for path in prediction_files]
    test_members = [read_member(path) for path in test_files or []]  # read and checked before anything is written
    table = _align(members, prediction_files)
    columns = [f"m{index}" for index in range(len(members))]
    labeled = "label" in table
    fitted = method == "stacking" or (method == "weighted" and weights is None)
    _check_members(method, fitted, prediction_files, members, labeled, len(table), nested_folds)

    results: dict = {"method": method, "members": []}
    for path, column, (_, kind) in zip(prediction_files, columns, members, strict=True):
        entry = {"file": str(path), "kind": kind}
        if labeled:
            entry["pearson"] = _pearson(table[column].to_numpy(), table["label"].to_numpy())
        results["members"].append(entry)
    if fitted:
        model = WeightedAverage(method=fit) if method == "weighted" else STACKERS[stacker]()
        final, combined = _fit_nested(model, table, columns, nested_folds, seed)
        results.update(pearson_nested=_pearson(combined, table["label"].to_numpy()), nested_folds=nested_folds)
    else:
        final = WeightedAverage()
        final.weights_ = np.full(len(columns), 1.0 / len(columns)) if weights is None else np.asarray(weights, float)
        final.weights_ = final.weights_ / final.weights_.sum()
        combined = final.predict(table[columns].to_numpy())
        if labeled:
            results["pearson"] = _pearson(combined, table["label"].to_numpy())
    if hasattr(final, "weights_"):
        results["weights"] = final.weights_.tolist()
    else:
        results["stacker"] = _stacker_summary(stacker, final)

    test = test_combined = None
    if test_members:
        test = _align(test_members, test_files)
        test_combined = final.predict(test[columns].to_numpy())
    elif not labeled:
        test, test_combined = table, combined
    _write_outputs(Path(output_dir), table, columns, combined, test, test_combined, results)
    return results


def _check_request(method, prediction_files, test_files, weights, stacker, output_dir) -> None:
    """The arguments of `ensemble`, checked before any file is read; the output folder by
    `hf_sts.utils.write_guard.check_output` (never one of the files, a model folder or a run; an earlier ensemble
    there is replaced)."""
    if method not in METHODS:
        raise EnsembleError(f"Unknown method {method!r}; expected one of {list(METHODS)}.")
    if len(prediction_files) < 2:
        raise EnsembleError("An ensemble needs at least two prediction files.")
    if test_files and len(test_files) != len(prediction_files):
        raise EnsembleError(f"{len(test_files)} test files for {len(prediction_files)} members; give one per member.")
    if weights is not None and (method != "weighted" or len(weights) != len(prediction_files)):
        raise EnsembleError("`weights` go with --method weighted, one per prediction file.")
    if weights is not None and (not np.isfinite(weights).all() or abs(float(np.sum(weights))) < 1e-12):
        raise EnsembleError(f"`weights` {list(weights)}: expected finite numbers with a non-zero sum.")
    check_output(output_dir, "--output", inputs=[*prediction_files, *(test_files or [])], folder=True, own_names=FILES)
    if method == "stacking" and stacker not in STACKERS:
        raise EnsembleError(f"Unknown stacker {stacker!r}; expected one of {sorted(STACKERS)}.")


def _check_members(method, fitted, prediction_files, members, labeled, rows, nested_folds) -> None:
    """A fit (weights or a stacker) takes only out-of-fold or held-out labeled members, never validation predictions
    that picked the run's best epoch; without a fit those are used, with one warning each."""
    if not fitted:
        for path, (_, kind) in zip(prediction_files, members, strict=True):
            if labeled and kind == "selected":
                logger.warning("%s; its Pearson and the ensemble's are optimistic.", _selected_reason(Path(path)))
        return
    for path, (_, kind) in zip(prediction_files, members, strict=True):
        if kind == "selected":
            raise EnsembleError(
                f"{_selected_reason(Path(path))}, so {method} fitted on them would score optimistically; use "
                "out-of-fold predictions (oof_predictions.csv) or the eval_predictions.csv of a run without "
                "load_best_model_at_end."
            )
        if kind not in ("oof", "held-out"):
            raise EnsembleError(
                f"{path}: {'unlabeled' if kind == 'test' else 'not known to be out-of-fold or held out'}; "
                f"{method} fits on out-of-fold predictions (oof_predictions.csv) or on the eval_predictions.csv of "
                "a run validated on data it did not train on. Fitting on a model's own training rows would "
                "reward memorisation."
            )
    if not labeled:
        raise EnsembleError("Fitting needs labeled predictions.")
    if not 2 <= nested_folds <= rows:
        raise EnsembleError(f"`nested_folds` must be between 2 and the {rows} rows, got {nested_folds}.")


def _fit_nested(model, table: pd.DataFrame, columns: list[str], nested_folds: int, seed: int):
    """Predict every labeled row by nested cross-validation (each row by a copy of `model` fitted without it), then
    fit `model` on all of them. Returns `(fitted model, nested predictions of shape (rows,))`."""
    X, y = table[columns].to_numpy(), table["label"].to_numpy()
    combined = cross_val_predict(model, X, y, cv=KFold(n_splits=nested_folds, shuffle=True, random_state=seed))
    return model.fit(X, y), combined


def _write_outputs(output_dir: Path, table, columns, combined, test, test_combined, results: dict) -> None:
    """Write `ensemble_predictions.csv` (member columns `member_0`, ... in the order of `results["members"]`, and
    the ensemble's `prediction`), `submission.csv` when there are test predictions, and `ensemble_results.json`."""
    written = table.rename(columns={column: f"member_{column[1:]}" for column in columns})
    with atomic_output(output_dir / "ensemble_predictions.csv") as temporary:
        written.assign(prediction=clip_scores(combined)).to_csv(temporary, index=False)
    if test is not None:
        submission = pd.DataFrame({"id": test["id"], "target": clip_scores(test_combined)})
        with atomic_output(output_dir / "submission.csv") as temporary:
            submission.to_csv(temporary, index=False)
    write_text(output_dir / "ensemble_results.json", json.dumps(results, indent=2))


__all__ = ["METHODS", "STACKERS", "EnsembleError", "WeightedAverage", "ensemble", "read_member"]
