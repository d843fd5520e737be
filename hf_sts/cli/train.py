"""`hf-sts train [ACCELERATE LAUNCH OPTIONS] RECIPE.json [--key value ...]`: `hf_sts/run.py` on a recipe."""

import argparse

from hf_sts.cli.launch import script_usage


USAGE = "hf-sts train [ACCELERATE LAUNCH OPTIONS] RECIPE.json [--key value ...]"
TAKES_REST = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """None of its own: the tokens after `train` are the launch options, the recipe and its overrides."""


def run(args: argparse.Namespace) -> None:
    if not args.tokens or args.tokens[0] in ("-h", "--help"):
        print(script_usage("train", "run"))
        return
    from hf_sts import run as script
    from hf_sts.cli.launch import run_script
    from hf_sts.training.parser import ARGUMENT_CLASSES
    from hf_sts.training.setup import prepare

    run_script("run", args.tokens, ARGUMENT_CLASSES, prepare, script.main)
