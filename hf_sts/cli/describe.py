"""`hf-sts describe FILE [FILE ...] [--tokenizer NAME_OR_PATH] [--max_seq_length N] [--audit PREDICTIONS.csv]
[--output_dir DIR]`: a report on STS files, and a label-noise audit against out-of-fold predictions (see
`hf_sts.tools.describe`, `hf_sts.tools.audit`)."""

import argparse

from hf_sts.cli.options import positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="*", metavar="FILE", help="STS files, any supported format (labels optional; one or more)"
    )
    parser.add_argument("--tokenizer", help="tokenizer (folder or Hub id) to count tokens per pair with")
    parser.add_argument(
        "--max_seq_length",
        "--max-seq-length",
        type=positive_int,
        help="also report the pairs this many tokens truncates",
    )
    parser.add_argument(
        "--audit",
        metavar="PREDICTIONS.csv",
        help="audit labels: list the pairs whose out-of-fold prediction (oof_predictions.csv: id,label,prediction) "
        "disagrees most with their label; sentences from the FILEs, by id",
    )
    parser.add_argument(
        "--audit_top", "--audit-top", type=positive_int, default=20, metavar="N", help="--audit: pairs listed (20)"
    )
    parser.add_argument(
        "--output_dir", "--output-dir", help="write describe.md, the plots (and label_audit.csv) here (default: print)"
    )


def run(args: argparse.Namespace) -> None:
    from hf_sts.tools.describe import describe_files

    report = describe_files(
        args.files, args.tokenizer, args.output_dir, args.max_seq_length, audit=args.audit, audit_top=args.audit_top
    )
    print(report.markdown)
    if report.written:
        print(f"Wrote {', '.join(path.name for path in report.written.values())} to {args.output_dir}")
