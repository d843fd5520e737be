"""`hf-sts search RECIPE.json --n-trials N --output_dir DIR [--sweep SWEEP.yaml] [--key value ...]`: a local
hyperparameter search with Optuna over a wandb sweep's space (see `hf_sts.training.search`)."""

import argparse
import json

from hf_sts.cli.options import positive_int


EPILOG = "Other --key value arguments override the recipe, as on the run.py command line."
PASS_UNKNOWN = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="the base recipe")
    parser.add_argument(
        "--n-trials", "--n_trials", dest="n_trials", type=positive_int, required=True, help="trials to train"
    )
    parser.add_argument("--output_dir", "--output-dir", dest="output_dir", required=True, help="where results go")
    parser.add_argument(
        "--sweep", help="wandb sweep YAML with the parameter space (default: recipes/sweeps/NAME.yaml)"
    )


def run(args: argparse.Namespace) -> None:
    from hf_sts.training.search import search

    best = search(args.recipe, args.output_dir, args.n_trials, args.sweep, args.overrides)
    print(f"Best recipe: {args.output_dir}/best_recipe.json; all trials: {args.output_dir}/trials.csv")
    print(json.dumps(best, indent=2, ensure_ascii=False))
