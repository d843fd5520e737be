"""`hf-sts predict MODEL --input FILE --output FILE [--with-sentences]`: score unlabeled pairs into `id,target`
(see `hf_sts.inference.files.predict_file`)."""

import argparse

from hf_sts.cli.options import add_model_arguments, model_kwargs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--input", required=True, help="pairs to score, any supported format (labels ignored)")
    parser.add_argument("--output", required=True, help="CSV to write: id,target in input order, clipped to [0, 5]")
    parser.add_argument(
        "--with-sentences", "--with_sentences", dest="with_sentences", action="store_true", help="add the sentences"
    )


def run(args: argparse.Namespace) -> None:
    from hf_sts.inference.files import predict_file

    _, count = predict_file(
        args.model, args.input, args.output, with_sentences=args.with_sentences, **model_kwargs(args)
    )
    print(f"Wrote {count} scores (id,target) to {args.output}")
