"""`hf-sts evaluate MODEL --validation_file FILE [--output_dir DIR]`: the `eval_*` metrics of a model (or of a plain
encoder, zero-shot) on labeled pairs (see `hf_sts.inference.files.evaluate_file`)."""

import argparse
import json

from hf_sts.cli.options import add_model_arguments, model_kwargs, score


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument(
        "--validation_file", "--validation-file", required=True, help="labeled pairs, any supported format"
    )
    parser.add_argument("--output_dir", "--output-dir", help="write all_results.json, eval_predictions.csv, report")
    parser.add_argument(
        "--binary_threshold",
        "--binary-threshold",
        type=score,
        help="F1 compares prediction >= this (default: what the file's binary labels imply, else KLUE's 3.0)",
    )


def run(args: argparse.Namespace) -> None:
    from hf_sts.inference.files import evaluate_file

    loaded, metrics = evaluate_file(
        args.model, args.validation_file, args.output_dir, binary_threshold=args.binary_threshold, **model_kwargs(args)
    )
    print(f"{loaded.description} on {args.validation_file}:")
    print(json.dumps(metrics, indent=2))
    if args.output_dir:
        print(f"Wrote all_results.json, eval_predictions.csv and the report to {args.output_dir}")
