"""The `hf-sts` command.

    hf-sts train RECIPE.json [--key value ...]          # as `python hf_sts/run.py`; see run.py
    hf-sts export RUN_DIR --format FORMAT --output DIR  # see export.py

A bad recipe, data file or run directory ends the command with one line, `hf-sts: error: ...`, and exit status 2.
"""

import argparse
import sys


def _export(args: argparse.Namespace) -> None:
    from hf_sts.export import export_model

    output = export_model(args.run_dir, args.output, args.format)
    print(f"Exported {args.run_dir} ({args.format}) to {output}")


def build_parser() -> argparse.ArgumentParser:
    """The `hf-sts` argument parser, one sub-command each."""
    from hf_sts.export import EXPORT_FORMATS

    parser = argparse.ArgumentParser(prog="hf-sts", description="Korean STS models from Hugging Face encoders.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train", help="train, evaluate and predict from a recipe", add_help=False, prefix_chars="\0"
    )
    train.add_argument("arguments", nargs=argparse.REMAINDER, help="RECIPE.json [--key value ...], as run.py takes")
    export = commands.add_parser("export", help="export a trained model for transformers or sentence-transformers")
    export.add_argument("run_dir", help="output_dir of an hf_sts run (or one of its checkpoints)")
    export.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="what to export to")
    export.add_argument("--output", required=True, help="folder to write the exported model to")
    export.set_defaults(handler=_export)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Run `hf-sts COMMAND ...` (`argv` defaults to `sys.argv[1:]`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "train":
        from hf_sts import run

        sys.argv = ["hf-sts train", *args.arguments]
        run.cli()
        return

    from hf_sts.export import ExportError

    try:
        args.handler(args)
    except ExportError as error:
        print(f"hf-sts: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
