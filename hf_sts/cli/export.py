"""`hf-sts export RUN_DIR --format FORMAT [--quantize int8 [--validation_file FILE]] --output DIR`: a trained model as a plain transformers or
sentence-transformers folder, or with its ONNX graph (see `hf_sts.tools.export`)."""

import argparse

from hf_sts.cli.options import EXPORT_FORMATS, QUANTIZATIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="output_dir of an hf_sts run (or one of its checkpoints)")
    parser.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="what to export to")
    parser.add_argument(
        "--quantize", choices=QUANTIZATIONS, help="--format onnx: also the graph quantized to int8 for this CPU"
    )
    parser.add_argument(
        "--validation_file",
        "--validation-file",
        help="--quantize int8: labeled pairs on which the int8 graph may lose at most 0.005 Pearson r against fp32 "
        "(default: the run's own validation file, where found)",
    )
    parser.add_argument("--output", required=True, help="folder to write the exported model to")


def run(args: argparse.Namespace) -> None:
    from hf_sts.tools.export import export_model

    output = export_model(args.run_dir, args.output, args.format, args.quantize, args.validation_file)
    quantized = f", {args.quantize}" if args.quantize else ""
    print(f"Exported {args.run_dir} ({args.format}{quantized}) to {output}")
