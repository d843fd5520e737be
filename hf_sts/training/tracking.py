"""Weights & Biases tracking of a run (`report_to: wandb`): credentials checked before the run starts, the effective
recipe as the run's config, the evaluation report of `hf_sts.inference.report` logged as plots and tables, and the
run finished once per process. wandb is imported where it is used, so runs that do not report to it never load it.
"""

import logging
import os
from pathlib import Path

import pandas as pd
from transformers import TrainerCallback

from hf_sts.inference.report import per_source_pearson, worst_pairs


logger = logging.getLogger(__name__)


def log_report_to_wandb(predictions: pd.DataFrame, paths: dict[str, Path]) -> None:
    """Log the report of `write_report` to the active wandb run (if any): the two plots as images, the per-source
    Pearson and the worst pairs as `wandb.Table`s."""
    import wandb

    if wandb.run is None:
        return
    wandb.log(
        {
            "eval/prediction_vs_gold": wandb.Image(str(paths["prediction_vs_gold"])),
            "eval/residuals": wandb.Image(str(paths["residuals"])),
            "eval/per_source_pearson": wandb.Table(dataframe=per_source_pearson(predictions)),
            "eval/worst_pairs": wandb.Table(dataframe=worst_pairs(predictions)),
        }
    )


def wandb_has_credentials() -> bool:
    """Whether wandb will start a run without an interactive login prompt, found as wandb itself looks (never
    prompting, never reaching the network): `WANDB_API_KEY` or `WANDB_IDENTITY_TOKEN_FILE`, an `api_key` in wandb's
    settings files, or the `.netrc` entry that `wandb login` writes for the server (`WANDB_BASE_URL`, or the
    `base_url` of the settings files, or wandb's default).

    Credentials that are there but malformed (a key of the wrong format, an invalid server URL) count as there:
    wandb then stops the run with its own message instead of prompting.
    """
    import wandb
    from wandb import env
    from wandb.errors import AuthenticationError
    from wandb.sdk.lib import wbauth

    if os.environ.get(env.API_KEY) or os.environ.get(env.IDENTITY_TOKEN_FILE):
        return True
    try:
        # The settings `wandb.setup()` resolves (settings files, then WANDB_* variables), in a private `Settings`:
        # the process-wide ones of `wandb_setup.singleton()` would freeze the environment before `setup_wandb`
        # sets WANDB_MODE, and wandb.init would then ignore it.
        settings = wandb.Settings(quiet=True)
        config_dir = os.environ.get(env.CONFIG_DIR)
        settings.settings_system = str(Path(config_dir or "~/.config/wandb").expanduser() / "settings")
        settings.update_from_system_settings()
        settings.update_from_env_vars(dict(os.environ))
        if settings.api_key:
            return True
        host = wbauth.HostUrl(settings.base_url, app_url=settings.app_url)
        return wbauth.read_netrc_auth(host=host) is not None
    except (AuthenticationError, ValueError):
        return True


def setup_wandb(project: str | None) -> None:
    """Prepare the environment of the Trainer's wandb integration before it starts a run: the project name
    (`WANDB_PROJECT`: `project`, else a `WANDB_PROJECT` already set, else "hf_sts"), and offline mode with one
    notice when there are no credentials ([`wandb_has_credentials`]; instead of a login prompt that would hang an
    unattended run). A `WANDB_MODE` set by the user is kept."""
    if project:
        os.environ["WANDB_PROJECT"] = project
    else:
        os.environ.setdefault("WANDB_PROJECT", "hf_sts")
    if "WANDB_MODE" not in os.environ and not wandb_has_credentials():
        os.environ["WANDB_MODE"] = "offline"
        logger.warning(
            "wandb: no API key (WANDB_API_KEY or `wandb login`); logging offline to ./wandb. Upload later with "
            "`wandb sync wandb/offline-run-*`."
        )


class WandbRecipeCallback(TrainerCallback):
    """Adds the run's recipe to the wandb run config when training starts, and logs the metric that picks the best
    model under its plain name at each evaluation (`eval_pearson`; the Trainer's integration logs it as
    `eval/pearson`), so sweep configs can name the metric as `all_results.json` does.

    Args:
        recipe (`dict`): the effective recipe (`recipe.json`), secrets already removed.
        metric (`str`): the metric key to log, e.g. `"eval_pearson"`.
    """

    def __init__(self, recipe: dict, metric: str):
        self.recipe = recipe
        self.metric = metric

    def on_train_begin(self, args, state, control, **kwargs):
        import wandb

        if state.is_world_process_zero and wandb.run is not None:
            wandb.config.update({"recipe": self.recipe}, allow_val_change=True)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        import wandb

        if state.is_world_process_zero and wandb.run is not None and metrics and self.metric in metrics:
            wandb.log({self.metric: metrics[self.metric], "train/global_step": state.global_step})


def wandb_callbacks(training_args, recipe: dict) -> list[TrainerCallback]:
    """The wandb side of a run, in one place: with `"wandb"` in `training_args.report_to`, prepare the environment of
    the Trainer's integration (see `setup_wandb`, with `wandb_project`) and return a [`WandbRecipeCallback`] for
    the trainer; otherwise nothing. Close the run with `finish_wandb`.

    Args:
        training_args ([`StsTrainingArguments`]): the run's arguments.
        recipe (`dict`): the effective recipe, logged to the run config.
    """
    if "wandb" not in training_args.report_to:
        return []
    setup_wandb(training_args.wandb_project)
    return [WandbRecipeCallback(recipe, f"eval_{training_args.metric_for_best_model}")]


def finish_wandb(training_args) -> None:
    """Close the wandb run the Trainer's integration opened (if any), so an offline run is complete on disk and the
    next one (a cross-validation fold, a search trial) starts its own."""
    if "wandb" in training_args.report_to:
        import wandb

        if wandb.run is not None:
            wandb.finish()
