"""`hf-sts leaderboard OUTPUT_DIR [OUTPUT_DIR ...] [--metric eval_pearson] [--output FILE.md]`: runs side by side,
best first (see `hf_sts.tools.leaderboard`)."""

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folders", nargs="+", help="run output folders, or folders holding runs")
    parser.add_argument("--metric", default="eval_pearson", help="all_results.json key to sort by (eval_pearson)")
    parser.add_argument("--output", help="also write the table: .md (Markdown) or .csv")


def run(args: argparse.Namespace) -> None:
    from hf_sts.tools.leaderboard import check_output, leaderboard, to_markdown, write_leaderboard

    if args.output:
        check_output(args.output, args.folders)
    table = leaderboard(args.folders, args.metric)
    print(to_markdown(table))
    if args.output:
        print(f"Wrote {len(table)} runs to {write_leaderboard(table, args.output)}")
