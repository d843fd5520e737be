"""`hf-sts export RUN_DIR --format FORMAT --output DIR`: a trained model as a plain transformers or
sentence-transformers folder (see `hf_sts.tools.export`)."""

import argparse

from hf_sts.cli.options import EXPORT_FORMATS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="output_dir of an hf_sts run (or one of its checkpoints)")
    parser.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="what to export to")
    parser.add_argument("--output", required=True, help="folder to write the exported model to")


def run(args: argparse.Namespace) -> None:
    from hf_sts.tools.export import export_model

    output = export_model(args.run_dir, args.output, args.format)
    print(f"Exported {args.run_dir} ({args.format}) to {output}")
