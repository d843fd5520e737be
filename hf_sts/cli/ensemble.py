"""`hf-sts ensemble --method METHOD --output DIR PREDICTIONS.csv ... [--test TEST.csv ...]`: combine prediction
files by mean, fitted weights or stacking (see `hf_sts.tools.ensemble`)."""

import argparse

from hf_sts.cli.options import ENSEMBLE_METHODS, STACKERS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("predictions", nargs="+", help="one prediction file per member, aligned by id")
    parser.add_argument("--method", required=True, choices=ENSEMBLE_METHODS, help="how to combine the members")
    parser.add_argument("--output", required=True, help="folder for ensemble_predictions.csv, results, submission")
    parser.add_argument("--test", nargs="+", help="one test-prediction file per member, to apply the ensemble to")
    parser.add_argument("--weights", nargs="+", type=float, help="weighted: given weights (else fitted)")
    parser.add_argument("--fit", default="nnls", choices=["nnls", "pearson"], help="weighted: how to fit weights")
    parser.add_argument("--stacker", default="ridge", choices=STACKERS, help="stacking: the regressor")
    parser.add_argument("--nested_folds", type=int, default=5, help="folds of the nested cross-validation")
    parser.add_argument("--seed", type=int, default=42, help="seed of the nested cross-validation folds")


def run(args: argparse.Namespace) -> None:
    from hf_sts.tools.ensemble import ensemble

    results = ensemble(
        args.predictions,
        args.method,
        args.output,
        test_files=args.test,
        weights=args.weights,
        fit=args.fit,
        stacker=args.stacker,
        nested_folds=args.nested_folds,
        seed=args.seed,
    )
    for member in results["members"]:
        print(f"{member['file']} ({member['kind']}): Pearson {member.get('pearson', float('nan')):.4f}")
    pearson = results.get("pearson_nested", results.get("pearson"))
    if pearson is not None:
        nested = " (nested cross-validation)" if "pearson_nested" in results else ""
        print(f"{args.method} ensemble: Pearson {pearson:.4f}{nested}")
    print(f"Wrote {args.output}")
