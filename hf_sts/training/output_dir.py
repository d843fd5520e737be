"""The lifecycle of a run's `output_dir`: refused when it holds another run or other files (unless
`overwrite_output_dir` replaces an earlier hf_sts run, or the run resumes), started with the effective
`recipe.json`, and the checkpoint `resume_from_checkpoint` names (the last whole one for `true`), all checked before
the run writes anything.
"""

import json
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from accelerate import PartialState
from transformers.trainer_utils import sort_checkpoints

from hf_sts.errors import (
    RecipeError,
    local_weights_problem,
)
from hf_sts.training.arguments import BaseTrainingArguments
from hf_sts.utils.write_guard import check_placement, real_path, write_text


logger = logging.getLogger(__name__)


def check_output_dir(training_args: BaseTrainingArguments, inputs: Iterable[str | None]) -> bool:
    """Check `output_dir` before the run writes anything, so no file of an earlier run survives unnoticed beside the
    new one (an old `submission.csv`, a `checkpoint-*` that rotation would delete): it must not be, hold or lie
    inside one of the run's inputs, a model folder or another run (`hf_sts.utils.write_guard.check_placement`; a
    resumed run may read its own files); a missing or empty folder is used; a non-empty one only to resume
    (`resume_from_checkpoint`) or, with `overwrite_output_dir`, to replace an earlier hf_sts run (one with
    `recipe.json`), whose files [`clear_output_dir`] then deletes.

    Args:
        inputs: the paths the run reads (recipe, model, tokenizer, data files; `None` for unset ones), which the
            run must not write over and `overwrite_output_dir` must not delete.

    Returns:
        Whether the folder holds an earlier run to clear.

    Raises:
        RecipeError: for a non-empty `output_dir` without either key, or one that is not an hf_sts run.
        hf_sts.errors.OutputError: for an `output_dir` that is, holds or lies inside an input, or lies inside a
            model folder or another run.
    """
    output_dir = real_path(training_args.output_dir)
    inputs = [path for path in inputs if path]
    if training_args.resume_from_checkpoint:  # a resumed run reads its own recipe and checkpoints
        inputs = [path for path in inputs if not real_path(path).is_relative_to(output_dir)]
    check_placement(training_args.output_dir, "output_dir", inputs, folder=True)
    entries = sorted(entry.name for entry in output_dir.iterdir()) if output_dir.is_dir() else []
    if not entries or training_args.resume_from_checkpoint:
        return False
    listed = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
    if not training_args.overwrite_output_dir:
        raise RecipeError(
            f"`output_dir` {training_args.output_dir} is not empty ({listed}): set `overwrite_output_dir` true to "
            "replace that run, `resume_from_checkpoint` true to continue it, or choose another output_dir."
        )
    if not (output_dir / "recipe.json").is_file():
        raise RecipeError(
            f"`output_dir` {training_args.output_dir} holds files that are not an hf_sts run ({listed}), which "
            "`overwrite_output_dir` does not delete: choose an empty or new folder."
        )
    return True


def clear_output_dir(output_dir: str) -> None:
    """Delete everything in `output_dir` (an earlier run that [`check_output_dir`] allowed to replace), with one
    warning naming what went."""
    entries = sorted(Path(output_dir).iterdir())
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    logger.warning(
        "overwrite_output_dir: deleted the earlier run in %s (%d entries: %s).",
        output_dir,
        len(entries),
        ", ".join(entry.name for entry in entries[:5]) + (", ..." if len(entries) > 5 else ""),
    )


def start_output_dir(
    training_args: BaseTrainingArguments, recipe: dict, replace_earlier_run: bool, recipe_file: str | None = None
) -> None:
    """Open the run's `output_dir` once every process has checked it ([`check_output_dir`]): the main process clears
    the earlier run it replaces ([`clear_output_dir`]) and writes the effective `recipe.json` (atomically), unless
    `recipe_file`, the recipe being run, is that very file (a resumed run), which is kept as it is. Without an
    `output_dir` in the recipe, one notice names the Trainer's default folder the run writes to."""
    PartialState().wait_for_everyone()  # every process has checked output_dir before the main one writes to it
    if not recipe.get("output_dir"):
        logger.warning(
            "No output_dir in the recipe: writing to %s (the Trainer's default).",
            os.path.abspath(training_args.output_dir),
        )
    if replace_earlier_run and training_args.should_save:
        clear_output_dir(training_args.output_dir)
    os.makedirs(training_args.output_dir, exist_ok=True)
    target = os.path.join(training_args.output_dir, "recipe.json")
    if recipe_file is not None and os.path.exists(recipe_file) and real_path(recipe_file) == real_path(target):
        logger.info("%s is the recipe this run resumes from: kept as it is.", recipe_file)
    elif training_args.should_save:
        write_text(target, json.dumps(recipe, indent=2, ensure_ascii=False))


def resolve_checkpoint(training_args: BaseTrainingArguments) -> str | None:
    """The checkpoint `resume_from_checkpoint` names, checked before the run writes anything: a folder holding a
    whole Trainer checkpoint, or `true` for the last whole `checkpoint-*` in `output_dir` (the Trainer's convention);
    `None` when unset. A checkpoint is whole when its `trainer_state.json` (the Trainer writes it last) parses and its
    weights read (see [`checkpoint_problem`]); with `true`, later checkpoints that are not (a run killed while
    saving) are skipped with one warning naming them and the one used.

    Raises:
        RecipeError: for a folder that is missing or not a whole checkpoint, or `true` without one in `output_dir`.
    """
    resume = training_args.resume_from_checkpoint
    if resume is None or resume.lower() == "false":
        return None
    if resume.lower() != "true":
        problem = checkpoint_problem(Path(resume))
        if problem is not None:
            raise RecipeError(
                f"`resume_from_checkpoint` {resume}: {problem}; give a whole checkpoint-* folder, or true."
            )
        return resume
    broken = []
    for candidate in reversed(sort_checkpoints(training_args.output_dir)):  # the Trainer's order, newest first
        problem = checkpoint_problem(Path(candidate))
        if problem is None:
            if broken:
                logger.warning(
                    "Skipping %s: resuming from %s, the last whole checkpoint in output_dir.",
                    "; ".join(broken),
                    candidate,
                )
            logger.info("Resuming from %s, the last checkpoint in output_dir.", candidate)
            return candidate
        broken.append(f"{Path(candidate).name} ({problem})")
    found = f" (incomplete: {'; '.join(broken)})" if broken else ""
    raise RecipeError(
        f"`resume_from_checkpoint` true: {training_args.output_dir} holds no whole checkpoint-* folder to resume"
        f"{found}."
    )


def checkpoint_problem(folder: Path) -> str | None:
    """Why `folder` is not a whole Trainer checkpoint, or `None` if it is: it must exist, hold a `trainer_state.json`
    that parses (the Trainer writes it after the weights, optimizer and RNG states) and weights whose files read
    (`hf_sts.errors.local_weights_problem`)."""
    if not folder.is_dir():
        return "no such folder"
    state = folder / "trainer_state.json"
    if not state.is_file():
        return "not a Trainer checkpoint (no trainer_state.json)"
    try:
        json.loads(state.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return "trainer_state.json is cut short (a run stopped while saving)"
    if (folder / "adapter_config.json").is_file():  # a LoRA checkpoint: peft's adapter files, not a model folder
        return None
    return local_weights_problem(folder)
