"""`hf-sts evaluate MODEL --validation_file FILE [FILE ...] [--output_dir DIR] [--mteb_results DIR]`: the `eval_*`
metrics of a model (or of a plain encoder, zero-shot) on labeled pairs, file by file (see
`hf_sts.inference.files.evaluate_files`)."""

import argparse
import json

from hf_sts.cli.options import add_model_arguments, model_kwargs, score


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument(
        "--validation_file",
        "--validation-file",
        required=True,
        nargs="+",
        metavar="FILE",
        help="labeled pairs, any supported format; several files are evaluated one by one with the model loaded once",
    )
    parser.add_argument(
        "--output_dir",
        "--output-dir",
        help="write all_results.json, eval_predictions.csv and the report (several files: one subfolder per stem)",
    )
    parser.add_argument(
        "--binary_threshold",
        "--binary-threshold",
        type=score,
        help="F1 compares prediction >= this (default: what the file's binary labels imply, else KLUE's 3.0)",
    )
    parser.add_argument(
        "--mteb_results",
        "--mteb-results",
        metavar="DIR",
        help="also write MTEB-style result files there, one <task_name>.json per task (KLUE-STS, KorSTS, ...)",
    )
    parser.add_argument(
        "--task_name",
        "--task-name",
        nargs="+",
        metavar="NAME[:SPLIT]",
        help="with --mteb_results: the MTEB task (and split) of each file, in order (default: from the file)",
    )


def run(args: argparse.Namespace) -> None:
    from hf_sts.inference.files import evaluate_files, evaluation_folders

    loaded, results = evaluate_files(
        args.model,
        args.validation_file,
        args.output_dir,
        binary_threshold=args.binary_threshold,
        mteb_results=args.mteb_results,
        task_names=args.task_name,
        **model_kwargs(args),
    )
    for path, metrics in results.items():
        print(f"{loaded.description} on {path}:")
        print(json.dumps(metrics, indent=2))
    if len(results) > 1:
        print(summary_table(results))
    if args.output_dir:
        folders = evaluation_folders(args.validation_file, args.output_dir)
        where = args.output_dir if len(results) == 1 else ", ".join(str(folder) for folder in folders.values())
        print(f"Wrote all_results.json, eval_predictions.csv and the report to {where}")
    if args.mteb_results:
        print(f"Wrote the MTEB results to {args.mteb_results}")


def summary_table(results: dict[str, dict[str, float]]) -> str:
    """The files' main metrics side by side, as a Markdown table: pairs, Pearson r, Spearman rho, F1 and, for a
    bi-encoder, the Spearman rho of the cosine (MTEB's main STS score)."""
    columns = {"pairs": "eval_samples", "pearson": "eval_pearson", "spearman": "eval_spearmanr", "f1": "eval_f1"}
    if all("eval_cosine_spearman" in metrics for metrics in results.values()):
        columns["cosine spearman"] = "eval_cosine_spearman"
    lines = ["| file | " + " | ".join(columns) + " |", "| --- |" + " --- |" * len(columns)]
    for path, metrics in results.items():
        cells = [
            f"{metrics[key]:,}" if isinstance(metrics.get(key), int) else f"{metrics.get(key, float('nan')):.4f}"
            for key in columns.values()
        ]
        lines.append(f"| {path} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
