"""`hf-sts label TEACHER [TEACHER ...] --input FILE --output SILVER.csv [--sample_pairs K [--sampler BI_ENCODER]]`:
silver labels (AugSBERT): a teacher, or the mean of several, scores unlabeled pairs into training data (see
`hf_sts.tools.label`)."""

import argparse

from hf_sts.cli.options import POOLING_MODES, add_model_arguments, model_kwargs, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser, several=True)
    parser.add_argument(
        "--input",
        required=True,
        help="pairs to label: any supported STS file (labels ignored), or an NLI file of premise/hypothesis pairs",
    )
    parser.add_argument(
        "--output", required=True, help="CSV to write: id,source,sentence1,sentence2,label in input order, 0-5"
    )
    parser.add_argument(
        "--sample_pairs",
        "--sample-pairs",
        type=positive_int,
        metavar="K",
        help="label new pairs instead: each sentence of the input with its K nearest neighbours by a bi-encoder",
    )
    parser.add_argument(
        "--sampler",
        help="--sample_pairs: the bi-encoder that finds neighbours (hf_sts, sentence-transformers or plain encoder; "
        "default: the first teacher that is a bi-encoder)",
    )
    parser.add_argument(
        "--sampler_pooling", "--sampler-pooling", choices=POOLING_MODES, help="--sampler a plain encoder: its pooling"
    )
    parser.add_argument(
        "--sampler_prompt",
        "--sampler-prompt",
        help='--sampler a plain encoder: text before every sentence ("query: ")',
    )


def run(args: argparse.Namespace) -> None:
    from hf_sts.tools.label import label_file

    _, summary = label_file(
        args.model,
        args.input,
        args.output,
        sample_pairs_k=args.sample_pairs,
        sampler=args.sampler,
        sampler_pooling=args.sampler_pooling,
        sampler_prompt=args.sampler_prompt,
        **model_kwargs(args),
    )
    if summary.sampled is not None:
        print(
            f"Sampled {summary.pairs} new pairs: the {args.sample_pairs} nearest neighbour(s) of "
            f"{summary.sampled.sentences} sentences by {summary.sampler}, {summary.sampled.known} pair(s) of the input "
            "left out."
        )
    print(
        f"Wrote {summary.pairs} silver labels (id,source,sentence1,sentence2,label; mean {summary.mean_label:.2f}) by "
        f"{summary.teacher} to {args.output}"
    )
