"""What the command modules share: the parser class, argument types and the model options of `evaluate` and
`predict`. Standard library only, so that `--help` stays fast.

The choices below are those of the modules that run the commands, repeated here so that `--help` imports neither
torch nor transformers; `tests/cli/test_cli.py` checks that each equals its source.
"""

import argparse

from hf_sts.errors import HfStsError


# hf_sts.models.sts.configuration_sts.POOLING_MODES
POOLING_MODES = ("cls", "mean")
# hf_sts.metrics.SCORE_MIN, SCORE_MAX
SCORE_MIN, SCORE_MAX = 0.0, 5.0
# hf_sts.tools.export.EXPORT_FORMATS and QUANTIZATIONS
EXPORT_FORMATS = ("sequence-classification", "sentence-transformers", "onnx")
QUANTIZATIONS = ("int8",)
# hf_sts.inference.onnx.BACKENDS
BACKENDS = ("torch", "onnx")
# hf_sts.tools.ensemble.METHODS and sorted(STACKERS)
ENSEMBLE_METHODS = ("mean", "weighted", "stacking")
STACKERS = ("linear", "ridge")
# hf-sts predict / evaluate --precision -> the `bf16` argument of hf_sts.inference.scoring.predict_scores
PRECISIONS = {"auto": None, "bf16": True, "fp32": False}


class HfStsParser(argparse.ArgumentParser):
    """An argument parser whose usage errors (a missing or unknown argument, a bad choice) raise `HfStsError`, so
    they print as every other hf_sts error: one line, `hf-sts: error: ...`, exit status 2. Options are matched whole
    (no abbreviations: `--token` must not silently become `--tokenizer`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        command = self.prog.removeprefix("hf-sts").strip() or "command line"
        raise HfStsError(f"{command}: {message} (see `{self.prog} --help`)")


def boolean(value: str) -> bool:
    """An argparse type: `true` / `false` (also `yes` / `no`, `1` / `0`), read by transformers' `string_to_bool`
    (imported when a value is parsed, not for `--help`)."""
    from transformers.hf_argparser import string_to_bool

    try:
        return string_to_bool(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{value!r} is not true or false") from None


def score(value: str) -> float:
    """An argparse type: a score in (0, 5], as `binary_threshold` takes it."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not SCORE_MIN < number <= SCORE_MAX:
        raise argparse.ArgumentTypeError(f"{value!r} is not a score in ({SCORE_MIN}, {SCORE_MAX}]")
    return number


def positive_int(value: str) -> int:
    """An argparse type: a whole number >= 1 (batch sizes, token counts, trials)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= 1")
    return number


def add_model_arguments(parser: argparse.ArgumentParser, several: bool = False) -> None:
    """The arguments `evaluate` and `predict` share: the model and how to run it; with `several`, one model or more
    (`args.model` is then a list), each run the same way."""
    kinds = "hf_sts checkpoint, LoRA adapter folder, or plain encoder (folder or Hub id)"
    if several:
        parser.add_argument("model", nargs="+", help=f"one or more models, each an {kinds}")
    else:
        parser.add_argument("model", help=kinds)
    parser.add_argument(
        "--pooling", choices=POOLING_MODES, help="plain encoder only: pooling of the zero-shot bi-encoder (mean)"
    )
    parser.add_argument("--prompt", help='plain encoder only: text before every sentence (e5: "query: ")')
    parser.add_argument(
        "--max_seq_length",
        "--max-seq-length",
        type=positive_int,
        help="tokens per pair (default: the run's, else 128)",
    )
    parser.add_argument(
        "--batch_size", "--batch-size", type=positive_int, help="pairs per batch (default: 16 on a CPU, 64 on a GPU)"
    )
    parser.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when there is one)")
    parser.add_argument(
        "--precision",
        choices=list(PRECISIONS),
        default="auto",
        help="bf16 autocast or fp32 (auto: bf16 where it is faster than fp32 on the device, measured on a CPU, and "
        "the run's recipe did not turn bf16 off; see hf_sts.utils.hardware.native_bf16)",
    )
    parser.add_argument("--revision", help="branch, tag or commit of a Hub model")
    add_backend_arguments(parser)


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments `evaluate`, `predict` and `demo` share: which backend runs the model."""
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="torch",
        help='torch, or onnx: the ONNX graph of an `hf-sts export --format onnx` folder (pip install "hf_sts[onnx]")',
    )
    parser.add_argument(
        "--onnx_file",
        "--onnx-file",
        metavar="NAME",
        help="--backend onnx: the graph in the folder's onnx/ (default: the int8 one if there, else model.onnx)",
    )


def model_kwargs(args: argparse.Namespace) -> dict:
    """How `evaluate` and `predict` load and run the model (see `hf_sts.inference.loading.load_model`)."""
    return {
        "pooling": args.pooling,
        "prompt": args.prompt,
        "max_seq_length": args.max_seq_length,
        "revision": args.revision,
        "batch_size": args.batch_size,
        "device": args.device,
        "bf16": PRECISIONS[args.precision],
        "backend": args.backend,
        "onnx_file": args.onnx_file,
    }
