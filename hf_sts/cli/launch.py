"""How `hf-sts train` and `hf-sts pretrain` run their script (`hf_sts/run.py`, `hf_sts/pretrain.py`): in this
process, or through `accelerate launch` when launch options come before the recipe."""

import importlib
import os
import sys
import tempfile
from pathlib import Path
from subprocess import CalledProcessError

from hf_sts.errors import ERROR_FILE_VARIABLE, HfStsError


SCRIPTS_DIR = Path(__file__).resolve().parent.parent  # hf_sts/, where run.py and pretrain.py are


# Script command -> (script of hf_sts/, module of its argument classes, module of its `prepare`).
SCRIPTS = {
    "train": ("run", "hf_sts.training.parser", "hf_sts.training.setup"),
    "pretrain": ("pretrain", "hf_sts.pretraining.arguments", "hf_sts.pretraining.setup"),
}


def run_script_command(command: str, tokens: list[str]) -> None:
    """`hf-sts train|pretrain TOKENS`: the script's usage for no tokens or `--help` alone; else `main(run
    arguments)` of `hf_sts/SCRIPT.py` in this process, or, with accelerate launch options before the recipe, its
    `prepare(..., check_only=True)` (bad input ends here, as one line, before any process starts) then [`launch`]."""
    script, arguments_module, setup_module = SCRIPTS[command]
    if not tokens or tokens[0] in ("-h", "--help"):
        print(script_usage(command, script))
        return
    # The training layer (transformers) is imported only when a run starts, not for `--help`.
    from hf_sts.training.parser import recipe_keys

    argument_classes = importlib.import_module(arguments_module).ARGUMENT_CLASSES
    launch_options, run_arguments = split_launch_options(tokens, recipe_keys(argument_classes))
    if launch_options:
        importlib.import_module(setup_module).prepare(run_arguments, check_only=True)
        launch(script, launch_options, run_arguments)
    else:
        importlib.import_module(f"hf_sts.{script}").main(run_arguments)


def script_usage(name: str, script: str) -> str:
    """The `--help` of a script command given without a recipe (every recipe key is listed by
    `hf-sts NAME RECIPE.json --help`, which reads the script's own parser)."""
    return (
        f"usage: hf-sts {name} [ACCELERATE LAUNCH OPTIONS] RECIPE.json [--key value ...]\n\n"
        f"Runs hf_sts/{script}.py on RECIPE.json, in this process, or through `accelerate launch` with the launch\n"
        "options given before the recipe (e.g. --config_file accelerate_config.yaml). `--key value` arguments after\n"
        "the recipe override its keys.\n\n"
        f"Every recipe key, with its help: hf-sts {name} RECIPE.json --help (or python hf_sts/{script}.py --help).\n"
    )


def split_launch_options(argv: list[str], keys: frozenset[str] = frozenset()) -> tuple[list[str], list[str]]:
    """`[ACCELERATE LAUNCH OPTIONS] RECIPE.json [--key value ...]` -> (launch options, run arguments): what comes
    before the recipe (the first `.json` argument) is for `accelerate launch`. Arguments that start with a recipe
    key (one of `keys`: no recipe file, `--key value ...` only) have no launch options."""
    if argv and argv[0].startswith("--") and argv[0][2:].split("=", 1)[0].replace("-", "_") in keys:
        return [], argv
    recipe = next((index for index, token in enumerate(argv) if token.endswith(".json")), 0)
    return argv[:recipe], argv[recipe:]


def launch(script: str, launch_options: list[str], run_arguments: list[str]) -> None:
    """Start `accelerate launch LAUNCH_OPTIONS hf_sts/SCRIPT.py RUN_ARGUMENTS`, as trl's CLI launches its scripts. A
    run that fails in the launched processes ends with its hf_sts error line (repeated after the launcher's report)
    and exit status 2, without accelerate's traceback; one that fails otherwise (a crash, printed by the process)
    with the processes' exit status.

    Raises:
        HfStsError: `--config_file` is missing, or accelerate refuses the launch options (e.g. `--multi_gpu
            --num_processes 1`) before starting a process.
    """
    from accelerate.commands.launch import launch_command, launch_command_parser
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    launch_args = launch_command_parser().parse_args([*launch_options, str(SCRIPTS_DIR / f"{script}.py")])
    launch_args.training_script_args = run_arguments
    if launch_args.config_file and not os.path.isfile(launch_args.config_file):
        raise HfStsError(f"--config_file {launch_args.config_file}: no such file (an accelerate config YAML)")
    with tempfile.TemporaryDirectory() as folder:
        error_file = os.environ[ERROR_FILE_VARIABLE] = os.path.join(folder, "error")
        try:
            launch_command(launch_args)
        except (Exception, SystemExit) as failure:
            lines = Path(error_file).read_text(encoding="utf-8").splitlines() if os.path.exists(error_file) else []
            if lines:  # a launched process ended on an hf_sts error
                print(lines[0], file=sys.stderr)
                sys.exit(2)
            if isinstance(failure, SystemExit | CalledProcessError | ChildFailedError):  # they printed their reason
                status = getattr(failure, "returncode", None) or getattr(failure, "code", None)
                sys.exit(status if isinstance(status, int) and status else 1)
            # accelerate refused the launch options before starting any process
            raise HfStsError(f"accelerate launch {' '.join(launch_options)}: {failure}") from None
        finally:
            os.environ.pop(ERROR_FILE_VARIABLE, None)
