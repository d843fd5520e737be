"""Hyperparameter search without a server: `Trainer.hyperparameter_search` with the Optuna backend, over the
parameter space of a `wandb sweep` config, so one YAML drives both engines.

    hf-sts search RECIPE.json [--sweep recipes/sweeps/NAME.yaml] --n-trials N --output_dir DIR [--key value ...]

Each trial trains the recipe with the sampled values (training arguments through the trainer, model keys such as
`head` or `freeze_ratio` through `model_init`) and is scored by the recipe's `metric_for_best_model` on the
validation data. Trials save no checkpoints. Writes `DIR/trials.csv` (one row per trial: number, value, parameters,
state, duration) and `DIR/best_recipe.json`: the recipe with the best values, ready for `hf_sts/run.py`. Runs in one
process (launch it with `python`, not a multi-process `accelerate launch`).
"""

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import yaml

from hf_sts.data.pairs import training_pairs
from hf_sts.data.wordpiece import train_sentences
from hf_sts.errors import RecipeError
from hf_sts.models.sts.configuration_sts import INPUT_KEYS
from hf_sts.training.arguments import DataArguments
from hf_sts.training.builder import build_model, load_tokenizer
from hf_sts.training.fit import make_trainer
from hf_sts.training.parser import FROM_SCRATCH_KEYS, parse_args, recipe_keys
from hf_sts.training.setup import RunSetup, prepare
from hf_sts.training.tracking import finish_wandb, wandb_callbacks
from hf_sts.utils.write_guard import atomic_output, check_placement, write_text


logger = logging.getLogger(__name__)

# Sweep keys that only concern wandb runs, not what a trial trains.
WANDB_ONLY_PARAMETERS = ("report_to", "wandb_project", "run_name")


def _fixed_per_search() -> frozenset[str]:
    """Recipe keys the local search cannot vary: the data, its tokenization and the tokenizer are made once and
    shared by all trials (every `DataArguments` field, and the model keys that decide the tokenizer, the input
    format or the input text: the prompt and the cleaning steps)."""
    model_keys = {"model_name_or_path", "architecture", *FROM_SCRATCH_KEYS, *INPUT_KEYS}
    return frozenset({field.name for field in dataclasses.fields(DataArguments)} | model_keys)


FIXED_PER_SEARCH = _fixed_per_search()


def load_sweep(path: str | Path) -> dict:
    """Read a `wandb sweep` YAML file and check its parameters.

    Returns:
        The sweep config (`method`, `metric`, `parameters`, `command`, ...).

    Raises:
        RecipeError: naming the file and the parameter, for a missing or invalid file, a parameter that is not a
            recipe key or that the local search cannot vary (`FIXED_PER_SEARCH`; a wandb sweep can), or a spec hf_sts
            cannot sample.
    """
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: no such sweep file.")
    try:
        sweep = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise RecipeError(f"{path}: not valid YAML ({str(error).splitlines()[0]}).") from None
    if not isinstance(sweep, dict) or not isinstance(sweep.get("parameters"), dict):
        raise RecipeError(f"{path}: a sweep config needs a `parameters` mapping.")
    for name, spec in sweep["parameters"].items():
        if name not in recipe_keys():
            raise RecipeError(f"{path}: parameter {name!r} is not a recipe key.")
        if name in FIXED_PER_SEARCH:
            raise RecipeError(
                f"{path}: parameter {name!r} changes the data or tokenizer every trial shares; sweep it with "
                "separate recipes (or with `wandb sweep`, which runs each trial from scratch)."
            )
        if not isinstance(spec, dict) or not ({"value", "values"} & spec.keys() or "distribution" in spec):
            raise RecipeError(f"{path}: parameter {name!r} needs `value`, `values` or a `distribution`.")
        if "distribution" in spec and spec["distribution"] not in ("uniform", "log_uniform_values", "int_uniform"):
            raise RecipeError(
                f"{path}: parameter {name!r}: distribution {spec['distribution']!r} is not supported; use "
                "uniform, log_uniform_values or int_uniform."
            )
        _check_range(path, name, spec)
    return sweep


def _check_range(path: Path, name: str, spec: dict) -> None:
    """A sweep parameter's `values` (a non-empty list) or its distribution's `min` and `max` (numbers, min <= max,
    min > 0 on a log scale), as wandb reads them.

    Raises:
        RecipeError: naming the file and the parameter.
    """
    if "value" in spec:
        return
    if "values" in spec:
        if not isinstance(spec["values"], list) or not spec["values"]:
            raise RecipeError(
                f"{path}: parameter {name!r}: `values` must be a non-empty list, got {spec['values']!r}."
            )
        return
    bounds = [spec.get("min"), spec.get("max")]
    if not all(isinstance(bound, int | float) and not isinstance(bound, bool) for bound in bounds):
        raise RecipeError(f"{path}: parameter {name!r}: a distribution needs numbers `min` and `max`, got {bounds}.")
    low, high = bounds
    if low > high:
        raise RecipeError(f"{path}: parameter {name!r}: `min` {low} is above `max` {high}.")
    if spec["distribution"] == "log_uniform_values" and low <= 0:
        raise RecipeError(f"{path}: parameter {name!r}: log_uniform_values needs `min` > 0, got {low}.")


def suggest(trial, name: str, spec: dict) -> Any:
    """Sample one sweep parameter with an Optuna trial: `values` → categorical (list values, such as
    `loss_weights`, are encoded as JSON strings for Optuna and decoded back), `uniform` / `log_uniform_values` →
    float (log scale for the latter), `int_uniform` → int, `value` → the constant.

    Returns:
        The sampled value, as the recipe key takes it.

    `spec` is one that `load_sweep` has checked.
    """
    if "value" in spec:
        return spec["value"]
    if "values" in spec:
        choices = [json.dumps(value) if isinstance(value, list) else value for value in spec["values"]]
        value = trial.suggest_categorical(name, choices)
        return json.loads(value) if isinstance(value, str) and value.startswith("[") else value
    if spec["distribution"] == "int_uniform":
        return trial.suggest_int(name, int(spec["min"]), int(spec["max"]))
    log = spec["distribution"] == "log_uniform_values"
    return trial.suggest_float(name, float(spec["min"]), float(spec["max"]), log=log)


def default_sweep_path(recipe_path: str | Path) -> Path:
    """`recipes/sweeps/<recipe name>.yaml` beside the recipe."""
    recipe_path = Path(recipe_path)
    return recipe_path.parent / "sweeps" / f"{recipe_path.stem}.yaml"


def _check_choices(path: Path, sweep: dict, argv: list[str]) -> None:
    """Parse the recipe (`argv`) with each value a sweep parameter can take (each of `values`, `value`, or `min` and
    `max`), so a value the recipe rejects (e.g. `loss_weights` of the wrong length) stops the search before it
    writes anything, not in its first trial.

    Raises:
        RecipeError: naming the sweep file, the parameter and the recipe's complaint.
    """
    for name, spec in sweep["parameters"].items():
        candidates = spec["values"] if "values" in spec else [spec["value"]] if "value" in spec else []
        candidates = candidates or [spec["min"], spec["max"]]
        for value in candidates:
            tokens = [str(item) for item in value] if isinstance(value, list) else [json.dumps(value).strip('"')]
            try:
                parse_args([*argv, f"--{name}", *tokens])
            except RecipeError as error:
                raise RecipeError(f"{path}: parameter {name!r}, value {value!r}: {error}") from None


def _check_searchable(setup: RunSetup) -> None:
    """Refuse a recipe the search cannot tune: one with `num_folds`, or without train and validation data."""
    if setup.data_args.num_folds:
        raise RecipeError("`hf-sts search` tunes single runs: drop `num_folds` from the recipe for the search.")
    if "train" not in setup.splits or "validation" not in setup.splits:
        raise RecipeError("`hf-sts search` scores trials on validation data: the recipe needs train and validation.")


def search(
    recipe_path: str | Path,
    output_dir: str | Path,
    n_trials: int,
    sweep_path: str | Path | None = None,
    overrides: list[str] | None = None,
) -> dict:
    """Search the sweep's parameter space for the recipe with Optuna, through `StsTrainer.hyperparameter_search`.

    Args:
        recipe_path: the base recipe.
        output_dir: where `trials.csv`, `best_recipe.json` and the trials' training outputs go.
        n_trials: how many trials to train.
        sweep_path: the `wandb sweep` YAML; defaults to `default_sweep_path(recipe_path)`.
        overrides: `--key value` overrides of the recipe, as on the `run.py` command line.

    Returns:
        The best recipe (also written to `best_recipe.json`).

    Raises:
        RecipeError: for a bad recipe or sweep, a cross-validation recipe, or a recipe without validation data.
    """
    # Where the output goes is checked first; what it holds, as a run's `output_dir`.
    check_placement(output_dir, "--output_dir", [recipe_path, sweep_path], folder=True)
    try:
        import optuna
    except ImportError:
        raise RecipeError("`hf-sts search` needs Optuna: pip install 'hf_sts[search]' (or optuna).") from None

    sweep_path = Path(sweep_path or default_sweep_path(recipe_path))
    sweep = load_sweep(sweep_path)
    output_dir = Path(output_dir)
    # Trials are scored, not kept: no checkpoints, no best-epoch reload.
    argv = [str(recipe_path), *(overrides or []), "--output_dir", str(output_dir), "--save_strategy", "no"]
    argv += ["--load_best_model_at_end", "false"]
    _check_choices(sweep_path, sweep, argv)
    setup = prepare(argv, check=_check_searchable)
    model_args, data_args, training_args, splits = setup.model_args, setup.data_args, setup.training_args, setup.splits
    splits.pop("test", None)
    splits["train"] = training_pairs(splits["train"], data_args, training_args.seed)
    sentences = train_sentences(splits["train"], model_args.text_cleaning)
    tokenizer = load_tokenizer(model_args, training_args, sentences, setup.tokenizer)

    parameters = {name: spec for name, spec in sweep["parameters"].items() if name not in WANDB_ONLY_PARAMETERS}
    model_fields = {field.name for field in dataclasses.fields(model_args)}

    def hp_space(trial) -> dict[str, Any]:
        # Every parameter is sampled (so model keys are in trial.params for model_init); training keys are returned.
        values = {name: suggest(trial, name, spec) for name, spec in parameters.items()}
        return {name: value for name, value in values.items() if name not in model_fields}

    def model_init(trial=None):
        if trial is None:
            return build_model(model_args, data_args, tokenizer)
        values = {name: suggest(trial, name, spec) for name, spec in parameters.items() if name in model_fields}
        return build_model(dataclasses.replace(model_args, **values), data_args, tokenizer)

    callbacks = wandb_callbacks(training_args, setup.recipe)
    trainer, _ = make_trainer(
        model_args, data_args, training_args, tokenizer, splits, callbacks, model_init=model_init
    )
    metric = f"eval_{training_args.metric_for_best_model}"
    storage = optuna.storages.InMemoryStorage()
    try:
        best = _search(trainer, hp_space, metric, n_trials, training_args, storage)
    finally:
        finish_wandb(training_args)
    study = optuna.load_study(study_name="hf_sts", storage=storage)
    with atomic_output(output_dir / "trials.csv") as temporary:
        study.trials_dataframe().to_csv(temporary, index=False, encoding="utf-8")

    best_trial = optuna.trial.FixedTrial(best.hyperparameters)
    best_values = {name: suggest(best_trial, name, spec) for name, spec in parameters.items()}
    # The recipe and the user's overrides, without the search's own settings, updated with the best values.
    base_recipe = parse_args([str(recipe_path), *(overrides or [])])[3]
    best_recipe = {**base_recipe, **best_values}
    write_text(output_dir / "best_recipe.json", json.dumps(best_recipe, indent=2, ensure_ascii=False) + "\n")
    logger.info("Best trial %s: %s = %.4f with %s", best.run_id, metric, best.objective, best_values)
    return best_recipe


def _search(trainer, hp_space, metric: str, n_trials: int, training_args, storage):
    """Run the Optuna study through the trainer; seeded TPE sampler, study kept in `storage` for the trials table."""
    import optuna

    return trainer.hyperparameter_search(
        hp_space=hp_space,
        compute_objective=lambda metrics: metrics[metric],
        n_trials=n_trials,
        direction="maximize" if training_args.greater_is_better else "minimize",
        backend="optuna",
        storage=storage,
        study_name="hf_sts",
        sampler=optuna.samplers.TPESampler(seed=training_args.seed),
    )


__all__ = ["FIXED_PER_SEARCH", "default_sweep_path", "load_sweep", "search", "suggest"]
