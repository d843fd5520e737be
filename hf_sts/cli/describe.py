"""`hf-sts describe FILE [FILE ...] [--tokenizer NAME_OR_PATH] [--max_seq_length N] [--output_dir DIR]`: a report on
STS files (see `hf_sts.tools.describe`)."""

import argparse

from hf_sts.cli.options import positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", help="STS files, any supported format (labels optional)")
    parser.add_argument("--tokenizer", help="tokenizer (folder or Hub id) to count tokens per pair with")
    parser.add_argument(
        "--max_seq_length",
        "--max-seq-length",
        type=positive_int,
        help="also report the pairs this many tokens truncates",
    )
    parser.add_argument("--output_dir", "--output-dir", help="write describe.md and the plots here (default: print)")


def run(args: argparse.Namespace) -> None:
    from hf_sts.tools.describe import describe_files

    report = describe_files(args.files, args.tokenizer, args.output_dir, args.max_seq_length)
    print(report.markdown)
    if report.written:
        print(f"Wrote {', '.join(path.name for path in report.written.values())} to {args.output_dir}")
