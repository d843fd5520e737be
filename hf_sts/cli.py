"""The `hf-sts` command: `hf-sts train RECIPE.json [--key value ...]`."""

import argparse
import sys


def main(argv: list[str] | None = None) -> None:
    """Dispatch `hf-sts COMMAND ...`; `train` runs `hf_sts/run.py` with the remaining arguments."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="hf-sts", description="Korean STS models from Hugging Face encoders.")
    parser.add_argument("command", choices=["train"], help="train: train/evaluate/predict from a recipe (see run.py)")
    args, rest = parser.parse_known_args(argv[:1])
    if args.command == "train":
        from hf_sts import run

        sys.argv = ["hf-sts train", *argv[1:]]
        run.cli()


if __name__ == "__main__":
    main()
