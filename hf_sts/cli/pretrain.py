"""`hf-sts pretrain [ACCELERATE LAUNCH OPTIONS] RECIPE.json [--key value ...]`: `hf_sts/pretrain.py` (MLM
pretraining, TAPT) on a recipe."""

import argparse

from hf_sts.cli.launch import script_usage


USAGE = "hf-sts pretrain [ACCELERATE LAUNCH OPTIONS] RECIPE.json [--key value ...]"
TAKES_REST = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """None of its own: the tokens after `pretrain` are the launch options, the recipe and its overrides."""


def run(args: argparse.Namespace) -> None:
    if not args.tokens or args.tokens[0] in ("-h", "--help"):
        print(script_usage("pretrain", "pretrain"))
        return
    from hf_sts import pretrain as script
    from hf_sts.cli.launch import run_script
    from hf_sts.pretraining.arguments import ARGUMENT_CLASSES
    from hf_sts.pretraining.setup import prepare

    run_script("pretrain", args.tokens, ARGUMENT_CLASSES, prepare, script.main)
