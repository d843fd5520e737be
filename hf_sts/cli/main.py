"""`hf-sts COMMAND ...`: the command table and the entry point. Only the chosen command's module is imported."""

import argparse
import importlib
import sys

from hf_sts.cli.options import HfStsParser
from hf_sts.errors import exit_on_error
from hf_sts.utils.logging import configure_logging


# Command -> (module of `hf_sts.cli`, one-line help). A module defines `add_arguments(parser)` (standard library only)
# and `run(args)`; optional `USAGE`, `EPILOG`, `PASS_UNKNOWN` (true: unrecognised `--key value` arguments reach `run`
# as `args.overrides`) and `TAKES_REST` (true: everything after the command, `--help` included, reaches `run` as
# `args.tokens`: the script commands, whose arguments are a recipe's).
COMMANDS = {
    "train": ("train", "train, evaluate and predict from a recipe (hf_sts/run.py)"),
    "pretrain": ("pretrain", "masked-language-model pretraining on the task's text (TAPT; hf_sts/pretrain.py)"),
    "search": ("search", "local hyperparameter search with Optuna over a sweep's space"),
    "evaluate": ("evaluate", "metrics of a model (or a plain encoder, zero-shot) on labeled pairs"),
    "predict": ("predict", "score unlabeled pairs into id,target (a submission file)"),
    "label": ("label", "silver labels: a teacher model scores unlabeled pairs into training data (AugSBERT)"),
    "export": ("export", "export a trained model for transformers, sentence-transformers or ONNX Runtime"),
    "ensemble": ("ensemble", "combine prediction files: mean, weighted or stacking"),
    "push": ("push", "upload a trained model to the Hugging Face Hub"),
    "demo": ("demo", 'a web page scoring pairs with a model (Gradio; pip install "hf_sts[demo]")'),
    "describe": ("describe", "report on STS files: labels, lengths, duplicates, train/dev leakage, binary threshold"),
    "leaderboard": ("leaderboard", "the runs of output folders in one table, best first"),
    "augment": ("augment", "augment training pairs (back-translation with a cosine filter)"),
}


def command_module(name: str):
    """The module of `hf_sts.cli` that implements the command `name`."""
    return importlib.import_module(f"hf_sts.cli.{COMMANDS[name][0]}")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `hf-sts` parser: every command listed with its help; the arguments of `command` only (its module is the
    only one imported)."""
    parser = HfStsParser(prog="hf-sts", description="Korean STS models from Hugging Face encoders.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=HfStsParser)
    for name, (_, help_text) in COMMANDS.items():
        if name != command:
            commands.add_parser(name, help=help_text)
            continue
        module = command_module(name)
        sub = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            usage=getattr(module, "USAGE", None),
            epilog=getattr(module, "EPILOG", None),
            add_help=not getattr(module, "TAKES_REST", False),
        )
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run, module=module)
    return parser


def unrecognized(unknown: list[str]) -> str:
    """The usage error for arguments no option takes: the flags named without their values (a value may be a
    secret, e.g. `--token hf_...` given to a command without that flag), the other values counted."""
    flags = [token.split("=", 1)[0] for token in unknown if token.startswith("-")]
    values = len(unknown) - len(flags)
    named = f"unrecognized arguments: {' '.join(flags)}" if flags else "unrecognized arguments"
    if values:
        named += f"; {values} value{'s' if values > 1 else ''} not shown"
    return named


def main(argv: list[str] | None = None) -> None:
    """Run `hf-sts COMMAND ...` (`argv` defaults to `sys.argv[1:]`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    with exit_on_error():
        command = next((token for token in argv if not token.startswith("-")), None)
        parser = build_parser(command if command in COMMANDS else None)
        args, unknown = parser.parse_known_args(argv)
        if getattr(args.module, "TAKES_REST", False):  # a run configures its logging from its recipe
            args.tokens = argv[argv.index(args.command) + 1 :]
        else:
            if getattr(args.module, "PASS_UNKNOWN", False):
                args.overrides = unknown
            elif unknown:
                parser.error(unrecognized(unknown))
            configure_logging()
        args.handler(args)


if __name__ == "__main__":
    main()
