"""`hf-sts train [ACCELERATE LAUNCH OPTIONS] RECIPE.json [--key value ...]`: `hf_sts/run.py` on a recipe."""

import argparse

from hf_sts.cli.launch import run_script_command


USAGE = "hf-sts train [ACCELERATE LAUNCH OPTIONS] RECIPE.json [--key value ...]"
TAKES_REST = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """None of its own: the tokens after `train` are the launch options, the recipe and its overrides."""


def run(args: argparse.Namespace) -> None:
    run_script_command("train", args.tokens)
