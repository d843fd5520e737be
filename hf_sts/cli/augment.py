"""`hf-sts augment back-translate --input FILE --output FILE --model MT_MODEL --filter_model MODEL`: training
pairs back-translated through a pivot language, kept where a sentence encoder finds both sentences close to the
originals (see `hf_sts.tools.augment`)."""

import argparse

from hf_sts.cli.options import POOLING_MODES, HfStsParser, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    methods = parser.add_subparsers(dest="method", required=True, metavar="METHOD", parser_class=HfStsParser)
    bt = methods.add_parser("back-translate", help="source -> pivot -> source, pairs kept where both cosines >= min")
    bt.add_argument("--input", required=True, help="labeled training pairs, any supported format")
    bt.add_argument("--output", required=True, help="CSV to write: the augmented pairs (competition columns)")
    bt.add_argument("--forward_model", "--forward-model", help="translation model, source -> pivot (opus-mt-ko-en)")
    bt.add_argument("--backward_model", "--backward-model", help="translation model, pivot -> source")
    bt.add_argument("--model", help="one multilingual translation model instead (facebook/m2m100_418M, NLLB)")
    bt.add_argument("--source_lang", "--source-lang", help="--model's code of the data's language (default ko)")
    bt.add_argument("--pivot_lang", "--pivot-lang", help="--model's code of the pivot language (default en)")
    bt.add_argument(
        "--translation_columns",
        "--translation-columns",
        nargs=2,
        metavar=("COLUMN1", "COLUMN2"),
        help="or: input columns with back-translations made elsewhere (Papago, Google), no translation model",
    )
    bt.add_argument("--filter_model", "--filter-model", required=True, help="sentence embedding model of the filter")
    bt.add_argument("--pooling", choices=POOLING_MODES, help="plain-encoder filter only: its pooling (mean)")
    bt.add_argument("--prompt", help='text before every sentence the filter embeds (multilingual-e5: "query: ")')
    bt.add_argument("--min_cosine", "--min-cosine", type=float, default=0.9, help="keep pairs with both cos >= (0.9)")
    bt.add_argument("--batch_size", "--batch-size", type=positive_int, default=32, help="sentences per batch (32)")
    bt.add_argument("--max_length", "--max-length", type=positive_int, default=128, help="tokens per sentence (128)")
    bt.add_argument(
        "--num_beams", "--num-beams", type=positive_int, help="beam width (default: the model's own setting)"
    )
    bt.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when there is one)")


def run(args: argparse.Namespace) -> None:
    from hf_sts.tools.augment import back_translate_file

    options = {
        key: value for key, value in vars(args).items() if key not in ("command", "method", "handler", "module")
    }
    summary = back_translate_file(options.pop("input"), options.pop("output"), **options)
    print(
        f"{summary.pairs} pairs in {args.input}; {summary.translated} back-translated ({summary.translation}), "
        f"{summary.unchanged} of them unchanged"
    )
    print(
        f"Cosine filter, {summary.filter}: kept {summary.kept} of {summary.translated} ({summary.kept_share:.1%}) "
        f"with both cosines >= {summary.min_cosine:g}"
    )
    print(f"Wrote {summary.kept} augmented pairs to {summary.output}")
