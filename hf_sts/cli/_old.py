"""The `hf-sts` command.

    hf-sts train RECIPE.json [--key value ...]          # as `python hf_sts/run.py`; see run.py
    hf-sts train --config_file accelerate_config.yaml RECIPE.json [--key value ...]  # via `accelerate launch`
    hf-sts pretrain [ACCELERATE LAUNCH OPTIONS] RECIPE.json [--key value ...]  # MLM pretraining (TAPT); pretrain.py
    hf-sts export RUN_DIR --format FORMAT --output DIR  # see export.py
    hf-sts ensemble --method METHOD --output DIR PREDICTIONS.csv ... [--test TEST.csv ...]  # see ensemble.py
    hf-sts push OUTPUT_DIR --repo-id ORG/NAME [--private] [--revision BRANCH] [--space [ORG/SPACE]] [--dry-run]  # hub.py
    hf-sts search RECIPE.json --n-trials N --output_dir DIR [--sweep SWEEP.yaml] [--key value ...]  # search.py
    hf-sts evaluate MODEL --validation_file FILE [--output_dir DIR] [--binary_threshold T] [--pooling mean]  # predict.py
    hf-sts predict MODEL --input FILE --output FILE [--with-sentences]  # see predict.py
    hf-sts augment back-translate --input FILE --output FILE --model MT_MODEL --filter_model MODEL  # see augment.py
    hf-sts leaderboard OUTPUT_DIR [OUTPUT_DIR ...] [--metric eval_pearson] [--output FILE.md]  # leaderboard.py
    hf-sts describe FILE [FILE ...] [--tokenizer NAME_OR_PATH] [--max_seq_length N] [--output_dir DIR]  # describe.py
    hf-sts demo MODEL [--host 127.0.0.1] [--port 7860] [--share false] [--device cpu]  # a page; see demo.py

A bad recipe, data file, model, run directory or prediction file ends the command with one line on stderr and exit
status 2: `hf-sts: error: ...`, for usage errors too (`train` as well, which is `hf_sts/run.py`).
"""

import argparse
import json
import logging
import sys


# Commands that run a script of the package on a recipe, in this process or through `accelerate launch`.
SCRIPT_COMMANDS = ("train", "pretrain")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors (a missing or unknown argument, a bad choice) raise `HfStsError`, so
    they print as every other hf_sts error: one line, `hf-sts: error: ...`, exit status 2."""

    def error(self, message: str):
        from hf_sts.errors import HfStsError

        command = self.prog.removeprefix("hf-sts").strip() or "command line"
        raise HfStsError(f"{command}: {message} (see `{self.prog} --help`)")


def configure_logging(library_level: int = logging.WARNING, main_process: bool = True) -> None:
    """Log to stdout, once per process: transformers and datasets at `library_level`, hf_sts' own loggers (the
    `hf_sts` package logger and its children) at INFO on the main process and at `library_level` elsewhere."""
    import datasets
    import transformers

    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", handlers=[logging.StreamHandler(sys.stdout)]
    )
    datasets.utils.logging.set_verbosity(library_level)
    transformers.utils.logging.set_verbosity(library_level)
    logging.getLogger("hf_sts").setLevel(logging.INFO if main_process else library_level)


def _export(args: argparse.Namespace) -> None:
    from hf_sts.tools.export import export_model

    output = export_model(args.run_dir, args.output, args.format)
    print(f"Exported {args.run_dir} ({args.format}) to {output}")


def _ensemble(args: argparse.Namespace) -> None:
    from hf_sts.tools.ensemble import ensemble

    results = ensemble(
        args.predictions,
        args.method,
        args.output,
        test_files=args.test,
        weights=args.weights,
        fit=args.fit,
        stacker=args.stacker,
        nested_folds=args.nested_folds,
        seed=args.seed,
    )
    for member in results["members"]:
        print(f"{member['file']} ({member['kind']}): Pearson {member.get('pearson', float('nan')):.4f}")
    score = results.get("pearson_nested", results.get("pearson"))
    if score is not None:
        nested = " (nested cross-validation)" if "pearson_nested" in results else ""
        print(f"{args.method} ensemble: Pearson {score:.4f}{nested}")
    print(f"Wrote {args.output}")


def _push(args: argparse.Namespace) -> None:
    from hf_sts.hub import MANIFEST_NAME, push, write_manifest
    from hf_sts.tools.space import SPACE_MANIFEST_NAME, push_space, space_repo_id, write_space

    space_id = None if args.space is None else space_repo_id(args.repo_id, args.space)
    if args.dry_run:
        manifest = write_manifest(args.output_dir, args.repo_id)
        for entry in manifest["files"]:
            print(f"{entry['size']:>12,}  {entry['path']}")
        print(f"{manifest['total_size']:>12,}  bytes to {args.repo_id} (dry run; listed in {MANIFEST_NAME})")
        if space_id is not None:
            space = write_space(args.output_dir, args.repo_id, space_id)
            for entry in space["files"]:
                print(f"{entry['size']:>12,}  space/{entry['path']}")
            print(
                f"{space['total_size']:>12,}  bytes to the Space {space_id} (dry run; written to "
                f"{space['folder']}, listed in {SPACE_MANIFEST_NAME})"
            )
        return
    if space_id is not None:  # checked and written before anything is uploaded
        write_space(args.output_dir, args.repo_id, space_id)
    print(f"Pushed {args.output_dir}: {push(args.output_dir, args.repo_id, args.private, args.revision)}")
    if space_id is not None:
        print(f"Pushed the Space {space_id}: {push_space(args.output_dir, space_id, args.private)}")


def _demo(args: argparse.Namespace) -> None:
    from hf_sts.tools.demo import serve

    serve(args.model, host=args.host, port=args.port, share=args.share, device=args.device)


def _boolean(value: str) -> bool:
    """An argparse type: `true` / `false` (also `yes` / `no`, `1` / `0`)."""
    words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
    if value.lower() not in words:
        raise argparse.ArgumentTypeError(f"{value!r} is not true or false")
    return words[value.lower()]


def _train(args: argparse.Namespace) -> None:
    _run_script("run", args.tokens)


def _pretrain(args: argparse.Namespace) -> None:
    _run_script("pretrain", args.tokens)


def _run_script(name: str, tokens: list[str]) -> None:
    """Run `hf_sts/NAME.py` (`run`: a fine-tune, `pretrain`: MLM pretraining) on `tokens`: in this process, or, with
    accelerate launch options before the recipe, through `accelerate launch` (see [`_launch`])."""
    import importlib

    from hf_sts.training.parser import recipe_keys

    script = importlib.import_module(f"hf_sts.{name}")
    launch_options, run_arguments = _split_launch_options(tokens, recipe_keys(script.ARGUMENT_CLASSES))
    if launch_options:
        _launch(name, launch_options, run_arguments)
    else:
        script.main(run_arguments)


def _split_launch_options(argv: list[str], keys: frozenset[str] = frozenset()) -> tuple[list[str], list[str]]:
    """`[ACCELERATE LAUNCH OPTIONS] RECIPE.json [--key value ...]` -> (launch options, run arguments): what comes
    before the recipe (the first `.json` argument) is for `accelerate launch`. Arguments that start with a recipe
    key (one of `keys`: no recipe file, `--key value ...` only) have no launch options."""
    if argv and argv[0].startswith("--") and argv[0][2:].split("=", 1)[0].replace("-", "_") in keys:
        return [], argv
    recipe = next((index for index, token in enumerate(argv) if token.endswith(".json")), 0)
    return argv[:recipe], argv[recipe:]


def _launch(name: str, launch_options: list[str], run_arguments: list[str]) -> None:
    """Check the run in this process (bad input ends here, as one line, before any process starts), then start it
    with `accelerate launch LAUNCH_OPTIONS hf_sts/NAME.py RUN_ARGUMENTS`, as trl's CLI launches its scripts. A run
    that fails in the launched processes ends with its hf_sts error line (repeated after the launcher's report) and
    exit status 2, without accelerate's traceback; one that fails otherwise (a crash, printed by the process) with
    the processes' exit status.

    Raises:
        HfStsError: the run's arguments are bad, `--config_file` is missing, or accelerate refuses the launch options
            (e.g. `--multi_gpu --num_processes 1`) before starting a process.
    """
    import importlib
    import os
    import tempfile
    from pathlib import Path
    from subprocess import CalledProcessError

    from accelerate.commands.launch import launch_command, launch_command_parser
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    from hf_sts.errors import ERROR_FILE_VARIABLE, HfStsError

    importlib.import_module(f"hf_sts.{name}").prepare(run_arguments, check_only=True)
    script = str(Path(__file__).with_name(f"{name}.py"))
    launch_args = launch_command_parser().parse_args([*launch_options, script])
    launch_args.training_script_args = run_arguments
    if launch_args.config_file and not os.path.isfile(launch_args.config_file):
        raise HfStsError(f"--config_file {launch_args.config_file}: no such file (an accelerate config YAML)")
    with tempfile.TemporaryDirectory() as folder:
        error_file = os.environ[ERROR_FILE_VARIABLE] = os.path.join(folder, "error")
        try:
            launch_command(launch_args)
        except (Exception, SystemExit) as failure:
            lines = Path(error_file).read_text(encoding="utf-8").splitlines() if os.path.exists(error_file) else []
            if lines:  # a launched process ended on an hf_sts error
                print(lines[0], file=sys.stderr)
                sys.exit(2)
            if isinstance(failure, SystemExit | CalledProcessError | ChildFailedError):  # they printed their reason
                status = getattr(failure, "returncode", None) or getattr(failure, "code", None)
                sys.exit(status if isinstance(status, int) and status else 1)
            # accelerate refused the launch options before starting any process
            raise HfStsError(f"accelerate launch {' '.join(launch_options)}: {failure}") from None
        finally:
            os.environ.pop(ERROR_FILE_VARIABLE, None)


def _search(args: argparse.Namespace) -> None:
    from hf_sts.training.search import search

    best = search(args.recipe, args.output_dir, args.n_trials, args.sweep, args.overrides)
    print(f"Best recipe: {args.output_dir}/best_recipe.json; all trials: {args.output_dir}/trials.csv")
    print(json.dumps(best, indent=2, ensure_ascii=False))


def _model_kwargs(args: argparse.Namespace) -> dict:
    """How `evaluate` and `predict` load and run the model (see `hf_sts.inference.loading.load_model`)."""
    return {
        "pooling": args.pooling,
        "prompt": args.prompt,
        "max_seq_length": args.max_seq_length,
        "revision": args.revision,
        "batch_size": args.batch_size,
        "device": args.device,
        "bf16": {"auto": None, "bf16": True, "fp32": False}[args.precision],
    }


def _evaluate(args: argparse.Namespace) -> None:
    from hf_sts.inference.files import evaluate_file

    loaded, metrics = evaluate_file(
        args.model,
        args.validation_file,
        args.output_dir,
        binary_threshold=args.binary_threshold,
        **_model_kwargs(args),
    )
    print(f"{loaded.description} on {args.validation_file}:")
    print(json.dumps(metrics, indent=2))
    if args.output_dir:
        print(f"Wrote all_results.json, eval_predictions.csv and the report to {args.output_dir}")


def _predict(args: argparse.Namespace) -> None:
    from hf_sts.inference.files import predict_file

    _, count = predict_file(
        args.model, args.input, args.output, with_sentences=args.with_sentences, **_model_kwargs(args)
    )
    print(f"Wrote {count} scores (id,target) to {args.output}")


def _back_translate(args: argparse.Namespace) -> None:
    from hf_sts.tools.augment import back_translate_file

    options = {key: value for key, value in vars(args).items() if key not in ("command", "method", "handler")}
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


def _leaderboard(args: argparse.Namespace) -> None:
    from hf_sts.tools.leaderboard import check_output, leaderboard, to_markdown, write_leaderboard

    if args.output:
        check_output(args.output)
    table = leaderboard(args.folders, args.metric)
    print(to_markdown(table))
    if args.output:
        print(f"Wrote {len(table)} runs to {write_leaderboard(table, args.output)}")


def _describe(args: argparse.Namespace) -> None:
    from hf_sts.tools.describe import describe_files

    report = describe_files(args.files, args.tokenizer, args.output_dir, args.max_seq_length)
    print(report.markdown)
    if report.written:
        print(f"Wrote {', '.join(path.name for path in report.written.values())} to {args.output_dir}")


def _score(value: str) -> float:
    """An argparse type: a score in (0, 5], as `binary_threshold` takes it."""
    from hf_sts.metrics import SCORE_MAX, SCORE_MIN

    try:
        score = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not SCORE_MIN < score <= SCORE_MAX:
        raise argparse.ArgumentTypeError(f"{value!r} is not a score in ({SCORE_MIN}, {SCORE_MAX}]")
    return score


def _positive_int(value: str) -> int:
    """An argparse type: a whole number >= 1 (batch sizes, token counts, trials)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= 1")
    return number


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments `evaluate` and `predict` share: the model and how to run it."""
    from hf_sts.models.sts.configuration_sts import POOLING_MODES

    parser.add_argument("model", help="hf_sts checkpoint, LoRA adapter folder, or plain encoder (folder or Hub id)")
    parser.add_argument(
        "--pooling", choices=POOLING_MODES, help="plain encoder only: pooling of the zero-shot bi-encoder (mean)"
    )
    parser.add_argument("--prompt", help='plain encoder only: text before every sentence (e5: "query: ")')
    parser.add_argument(
        "--max_seq_length",
        "--max-seq-length",
        type=_positive_int,
        help="tokens per pair (default: the run's, else 128)",
    )
    parser.add_argument("--batch_size", "--batch-size", type=_positive_int, default=64, help="pairs per batch (64)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when there is one)")
    parser.add_argument(
        "--precision",
        choices=["auto", "bf16", "fp32"],
        default="auto",
        help="bf16 autocast or fp32 (auto: bf16 where the device runs it natively and the run's recipe did not turn "
        "bf16 off; see hf_sts.hardware)",
    )
    parser.add_argument("--revision", help="branch, tag or commit of a Hub model")


def build_parser() -> argparse.ArgumentParser:
    """The `hf-sts` argument parser, one sub-command each."""
    from hf_sts.tools.export import EXPORT_FORMATS

    parser = _Parser(prog="hf-sts", description="Korean STS models from Hugging Face encoders.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train",
        help="train, evaluate and predict from a recipe (hf_sts/run.py)",
        usage="hf-sts train [ACCELERATE LAUNCH OPTIONS] RECIPE.json [--key value ...]",
        add_help=False,  # `--help` lists every recipe key: run.py's parser prints it
    )
    train.set_defaults(handler=_train)
    pretrain = commands.add_parser(
        "pretrain",
        help="masked-language-model pretraining on the task's text (TAPT; hf_sts/pretrain.py)",
        usage="hf-sts pretrain [ACCELERATE LAUNCH OPTIONS] RECIPE.json [--key value ...]",
        add_help=False,  # `--help` lists every recipe key: pretrain.py's parser prints it
    )
    pretrain.set_defaults(handler=_pretrain)
    export = commands.add_parser("export", help="export a trained model for transformers or sentence-transformers")
    export.add_argument("run_dir", help="output_dir of an hf_sts run (or one of its checkpoints)")
    export.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="what to export to")
    export.add_argument("--output", required=True, help="folder to write the exported model to")
    export.set_defaults(handler=_export)

    from hf_sts.tools.ensemble import METHODS, STACKERS

    combine = commands.add_parser("ensemble", help="combine prediction files: mean, weighted or stacking")
    combine.add_argument("predictions", nargs="+", help="one prediction file per member, aligned by id")
    combine.add_argument("--method", required=True, choices=METHODS, help="how to combine the members")
    combine.add_argument("--output", required=True, help="folder for ensemble_predictions.csv, results, submission")
    combine.add_argument("--test", nargs="+", help="one test-prediction file per member, to apply the ensemble to")
    combine.add_argument("--weights", nargs="+", type=float, help="weighted: given weights (else fitted)")
    combine.add_argument("--fit", default="nnls", choices=["nnls", "pearson"], help="weighted: how to fit weights")
    combine.add_argument("--stacker", default="ridge", choices=sorted(STACKERS), help="stacking: the regressor")
    combine.add_argument("--nested_folds", type=int, default=5, help="folds of the nested cross-validation")
    combine.add_argument("--seed", type=int, default=42, help="seed of the nested cross-validation folds")
    combine.set_defaults(handler=_ensemble)

    publish = commands.add_parser("push", help="upload a trained model to the Hugging Face Hub")
    publish.add_argument("output_dir", help="output_dir of a finished hf_sts run")
    publish.add_argument("--repo-id", "--repo_id", dest="repo_id", required=True, help="ORG/NAME on the Hub")
    publish.add_argument("--private", action="store_true", default=None, help="create the repository private")
    publish.add_argument("--revision", help="branch to push to (created if missing)")
    publish.add_argument(
        "--dry-run", "--dry_run", dest="dry_run", action="store_true", help="list the files, no upload"
    )
    publish.add_argument(
        "--space",
        nargs="?",
        const="",
        metavar="ORG/SPACE",
        help="also write OUTPUT_DIR/space/ and push it as a Gradio Space showing the model (default: REPO-ID-demo)",
    )
    publish.set_defaults(handler=_push)

    page = commands.add_parser(
        "demo", help='a web page scoring pairs with a model (Gradio; pip install "hf_sts[demo]")'
    )
    page.add_argument("model", help="hf_sts run output_dir, checkpoint, LoRA adapter folder, export, or Hub id")
    page.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1; 0.0.0.0: every one)")
    page.add_argument("--port", type=int, default=7860, help="port to listen on (7860)")
    page.add_argument(
        "--share", type=_boolean, default=False, metavar="{true,false}", help="also a public Gradio link (false)"
    )
    page.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when there is one)")
    page.set_defaults(handler=_demo)

    tune = commands.add_parser(
        "search",
        help="local hyperparameter search with Optuna over a sweep's space",
        epilog="Other --key value arguments override the recipe, as on the run.py command line.",
    )
    tune.add_argument("recipe", help="the base recipe")
    tune.add_argument(
        "--n-trials", "--n_trials", dest="n_trials", type=_positive_int, required=True, help="trials to train"
    )
    tune.add_argument("--output_dir", "--output-dir", dest="output_dir", required=True, help="where results go")
    tune.add_argument("--sweep", help="wandb sweep YAML with the parameter space (default: recipes/sweeps/NAME.yaml)")
    tune.set_defaults(handler=_search)

    score = commands.add_parser("evaluate", help="metrics of a model (or a plain encoder, zero-shot) on labeled pairs")
    _add_model_arguments(score)
    score.add_argument(
        "--validation_file", "--validation-file", required=True, help="labeled pairs, any supported format"
    )
    score.add_argument("--output_dir", "--output-dir", help="write all_results.json, eval_predictions.csv, report")
    score.add_argument(
        "--binary_threshold",
        "--binary-threshold",
        type=_score,
        help="F1 compares prediction >= this (default: what the file's binary labels imply, else KLUE's 3.0)",
    )
    score.set_defaults(handler=_evaluate)

    infer = commands.add_parser("predict", help="score unlabeled pairs into id,target (a submission file)")
    _add_model_arguments(infer)
    infer.add_argument("--input", required=True, help="pairs to score, any supported format (labels ignored)")
    infer.add_argument("--output", required=True, help="CSV to write: id,target in input order, clipped to [0, 5]")
    infer.add_argument(
        "--with-sentences", "--with_sentences", dest="with_sentences", action="store_true", help="add the sentences"
    )
    infer.set_defaults(handler=_predict)

    describe = commands.add_parser(
        "describe", help="report on STS files: labels, lengths, duplicates, train/dev leakage, binary threshold"
    )
    describe.add_argument("files", nargs="+", help="STS files, any supported format (labels optional)")
    describe.add_argument("--tokenizer", help="tokenizer (folder or Hub id) to count tokens per pair with")
    describe.add_argument(
        "--max_seq_length",
        "--max-seq-length",
        type=_positive_int,
        help="also report the pairs this many tokens truncates",
    )
    describe.add_argument("--output_dir", "--output-dir", help="write describe.md and the plots here (default: print)")
    describe.set_defaults(handler=_describe)

    board = commands.add_parser("leaderboard", help="the runs of output folders in one table, best first")
    board.add_argument("folders", nargs="+", help="run output folders, or folders holding runs")
    board.add_argument("--metric", default="eval_pearson", help="all_results.json key to sort by (eval_pearson)")
    board.add_argument("--output", help="also write the table: .md (Markdown) or .csv")
    board.set_defaults(handler=_leaderboard)

    from hf_sts.models.sts.configuration_sts import POOLING_MODES

    augment = commands.add_parser("augment", help="augment training pairs (back-translation with a cosine filter)")
    methods = augment.add_subparsers(dest="method", required=True, metavar="METHOD")
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
    bt.add_argument("--batch_size", "--batch-size", type=_positive_int, default=32, help="sentences per batch (32)")
    bt.add_argument("--max_length", "--max-length", type=_positive_int, default=128, help="tokens per sentence (128)")
    bt.add_argument(
        "--num_beams", "--num-beams", type=_positive_int, help="beam width (default: the model's own setting)"
    )
    bt.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when there is one)")
    bt.set_defaults(handler=_back_translate)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Run `hf-sts COMMAND ...` (`argv` defaults to `sys.argv[1:]`)."""
    from hf_sts.errors import exit_on_error

    with exit_on_error():
        parser = build_parser()
        argv = sys.argv[1:] if argv is None else argv
        args, unknown = parser.parse_known_args(argv)
        if args.command in SCRIPT_COMMANDS:  # everything after the command: launch options, recipe, overrides
            args.tokens = argv[argv.index(args.command) + 1 :]
        elif args.command == "search":
            args.overrides = unknown  # --key value overrides of the recipe, as run.py takes them
        elif unknown:
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        if args.command not in SCRIPT_COMMANDS:  # a run configures its logging from its arguments
            configure_logging()
        args.handler(args)


if __name__ == "__main__":
    main()
