"""The seeds' technique table, reproduced with one command: one base recipe, one budget, one seed set, one row per
technique, each run in its own output folder, summarised into `techniques.md` (technique | dev Pearson mean ± std
over seeds | Δ vs base | train time | CPU time | seeds) and `techniques.png`.

    python benchmarks/techniques.py --model .cache/multilingual-e5-small --output_dir outputs/techniques \\
        --tapt_model outputs/tapt_multilingual_e5_small          # every row; the TAPT row needs a pretrained folder
    python benchmarks/techniques.py --model DIR --output_dir outputs/techniques --rows base "loss: L1"   # in parts
    python benchmarks/techniques.py --summary_only   # the table of the ledger's runs so far

Resumable: every finished run is appended to the ledger `benchmarks/techniques_runs.csv` (one line per row and seed:
dev Pearson, wall and CPU minutes, machine, budget, note), which is committed with the table, so a (row, seed) in the
ledger is never rerun and the table can be built over several sessions or machines and re-summarised at any time from
the ledger alone. The run folders under `--output_dir` are scratch: a folder that holds `all_results.json` but is not
in the ledger yet is added to it, a folder without it (a run that was stopped) is replaced. Each run is `hf_sts/run.py
RECIPE --model_name_or_path MODEL --seed S` plus the budget and the row's overrides, in a fresh process, one after the
other; its time is that process's wall clock and CPU time (loading, training and scoring the 519 dev pairs): the wall
clock counts any pause or other job on the machine, the CPU time neither.

The base is `recipes/multilingual_e5_small.json` (a cross-encoder with the `mean` head and the MSE loss, frozen word
embeddings), at the budget of `--max_train_samples` / `--num_train_epochs` (default: all 11,668 KLUE-STS train pairs, 2
epochs), scored on the 519 KLUE-STS dev pairs, with no evaluation or checkpoint during training (the last epoch is
scored), in fp32: the recipe's `bf16` takes effect only on a CPU that runs bf16 natively, so leaving it on would make a
row's precision depend on the machine it ran on. The zero-shot row is the plain encoder as a bi-encoder (`hf-sts
evaluate --prompt "query: "`): the floor every fine-tune must clear. The rows are the techniques of the seeds' wrap-up
report, plus two controls of swapped pairs, the rows off the common budget: swapped pairs at half the epochs (the
swap at equal steps) and the base at twice the epochs (the steps without the swap), and the rows beyond one dataset
(KorSTS train added, NLI then STS from the `--nli_model` run of `recipes/multilingual_e5_small_nli.json`, with and
without KorSTS train, NLI + STS multitask, the distilled bi-encoder on KLUE-STS train and the `--silver_dir` files of
`hf-sts label`), and the cross-encoder + bi-encoder average (the mean of the base and bi-encoder runs' scores of the same
seed, which run first; no training of its own); `ROWS` is the one place to add a trained row, `AVERAGES` an averaged
one. Each run (and the zero-shot encoder) is also evaluated on KorSTS test
(`hf-sts evaluate`, beside its folder): the ledger's `korsts_spearman`, the Spearman rho the field reports for KorSTS
(a bi-encoder's cosine Spearman, MTEB's main score), chosen on nothing. A difference smaller than the seed-to-seed
standard deviation is not evidence either way.
"""

import argparse
import json
import math
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from scipy import stats


REPO_ROOT = Path(__file__).resolve().parents[1]
LEDGER = REPO_ROOT / "benchmarks" / "techniques_runs.csv"
LEDGER_COLUMNS = [
    "technique", "seed", "pearson", "minutes", "cpu_minutes", "machine", "budget", "note", "korsts_spearman"
]  # fmt: skip
BASE_RECIPE = "recipes/multilingual_e5_small.json"
DEV = "recipes/data/klue-sts/klue-sts-v1.1_dev.json"
KORSTS_TRAIN = "recipes/data/korsts/sts-train.tsv"
KORSTS_TEST = "recipes/data/korsts/sts-test.tsv"
ZERO_SHOT = "zero-shot"
TAPT = "TAPT"
NLI_STS = "bi-encoder: NLI → STS"
NLI_STS_KORSTS = "bi-encoder: NLI → STS + KorSTS train"
DISTILLED = "bi-encoder: distilled (AugSBERT)"
DISTILLED_RECIPE = "recipes/multilingual_e5_small_distilled.json"
# Rows that train on more than the budget's KLUE-STS pairs: row -> the ledger's note.
ROW_NOTES = {
    "bi-encoder + KorSTS train": "KorSTS train's 5,749 pairs beside KLUE-STS train, each epoch",
    "bi-encoder: NLI + STS multitask": "KLUE-NLI train's 8,338 triplets (mnrl) beside KLUE-STS train, each epoch",
    NLI_STS_KORSTS: "KorSTS train's 5,749 pairs beside KLUE-STS train in stage 2, each epoch",
    DISTILLED: "silver pairs (the --silver_dir files, labeled by a teacher with hf-sts label) beside KLUE-STS train",
}
AVERAGE = "cross-encoder + bi-encoder average"
# Rows that train nothing of their own: the mean of the dev and KorSTS test scores of other rows' runs of the same
# seed (`hf-sts ensemble --method mean`), which run first. Row -> its member rows.
AVERAGES = {AVERAGE: ("base", "bi-encoder")}
ROW_NOTES[AVERAGE] = "the mean of the base (cross-encoder) and bi-encoder runs' scores, same seed; their times summed"
# Rows that need a folder made by an earlier command (a model to start from, silver files): row -> the option naming
# it.
FOLDER_OPTIONS = {TAPT: "tapt_model", NLI_STS: "nli_model", NLI_STS_KORSTS: "nli_model", DISTILLED: "silver_dir"}
CLEANING = ["emoji", "special_characters", "repeated_characters", "whitespace"]
# Row name -> (recipe, overrides of the base budget run). `{tapt}` is the `--tapt_model` folder, `{half}` and
# `{double}` half and twice the budget's epochs.
ROWS: dict[str, tuple[str, list[str]]] = {
    "base": (BASE_RECIPE, []),
    "loss: L1": (BASE_RECIPE, ["--loss", "l1"]),
    "loss: Huber": (BASE_RECIPE, ["--loss", "huber"]),
    "loss: L1+Huber": (BASE_RECIPE, ["--loss", "l1+huber"]),
    "head: cls": (BASE_RECIPE, ["--head", "cls"]),
    "head: mlp": (BASE_RECIPE, ["--head", "mlp"]),
    "head: lstm": (BASE_RECIPE, ["--head", "rnn", "--head_rnn_type", "lstm"]),
    "bi-encoder": ("recipes/multilingual_e5_small_bi_encoder.json", []),
    "freeze_ratio 1/3": (BASE_RECIPE, ["--freeze_ratio", "0.3333"]),
    "freeze_ratio 2/3": (BASE_RECIPE, ["--freeze_ratio", "0.6667"]),
    "swapped pairs": (BASE_RECIPE, ["--add_swapped_pairs", "true"]),
    # The control of swapped pairs at equal steps: twice the pairs for half the epochs (its own budget, which its
    # ledger line records; the override follows the budget's, so it wins).
    "swapped pairs, equal steps": (BASE_RECIPE, ["--add_swapped_pairs", "true", "--num_train_epochs", "{half}"]),
    # Its other control: swapped pairs' steps without the swap.
    "base, twice the epochs": (BASE_RECIPE, ["--num_train_epochs", "{double}"]),
    "text cleaning": (BASE_RECIPE, ["--text_cleaning", *CLEANING]),
    "undersampling (bucket 0 to 50%)": (BASE_RECIPE, ["--undersample_bucket", "0", "--undersample_ratio", "0.5"]),
    TAPT: (BASE_RECIPE, ["--model_name_or_path", "{tapt}"]),
    "LoRA (r 16, lr 5e-4)": (
        BASE_RECIPE,
        ["--use_lora", "true", "--freeze_embeddings", "false", "--learning_rate", "5e-4"],
    ),
    "5-fold ensemble": (BASE_RECIPE, ["--num_folds", "5"]),
    # Beyond one dataset (the bi-encoder recipe's settings; KLUE-STS dev Pearson and KorSTS test Spearman).
    "bi-encoder + KorSTS train": (
        "recipes/multilingual_e5_small_bi_encoder.json",
        ["--train_file", "{klue}", KORSTS_TRAIN],
    ),
    # Stage 2 of NLI then STS; `{nli}` is the `--nli_model` folder, the run of recipes/multilingual_e5_small_nli.json.
    NLI_STS: ("recipes/multilingual_e5_small_nli_sts.json", ["--model_name_or_path", "{nli}"]),
    # The same stage 2 with KorSTS train beside KLUE-STS train (recipes/multilingual_e5_small_nli_sts_korsts.json).
    NLI_STS_KORSTS: ("recipes/multilingual_e5_small_nli_sts_korsts.json", ["--model_name_or_path", "{nli}"]),
    # NLI and STS in one run: KLUE-NLI's triplets beside the budget's KLUE-STS pairs, each epoch.
    "bi-encoder: NLI + STS multitask": ("recipes/multilingual_e5_small_multitask.json", []),
    # Cross-encoder -> bi-encoder distillation: the distilled recipe's gold and silver datasets, its silver files taken
    # from the `--silver_dir` folder (`{silver}`, see `silver_datasets`).
    DISTILLED: (DISTILLED_RECIPE, ["--train_datasets", "{silver}"]),
}
# Every row, in the table's order.
ALL_ROWS = [ZERO_SHOT, *ROWS, *AVERAGES]


def folder_name(row: str) -> str:
    """The output folder of a row: its name with every character but letters, digits and `.-` as `_`."""
    return "".join(character if character.isalnum() or character in ".-" else "_" for character in row)


def run_argv(row: str, seed: int, args: argparse.Namespace, output_dir: Path) -> list[str]:
    """The `hf_sts/run.py` arguments of one (row, seed) run."""
    recipe, overrides = ROWS[row]
    epochs = args.num_train_epochs
    budget = ["--num_train_epochs", str(epochs)]
    if args.max_train_samples is not None:
        budget += ["--max_train_samples", str(args.max_train_samples)]
    # The distilled recipe is read only for the row that uses its silver files, once.
    silver = silver_datasets(args.silver_dir) if "{silver}" in overrides else None
    return [
        recipe,
        "--model_name_or_path",
        args.model,
        "--seed",
        str(seed),
        *budget,
        "--eval_strategy=no",
        "--save_strategy=no",
        "--load_best_model_at_end=false",
        "--disable_tqdm=true",
        "--report_to=none",
        "--bf16=false",  # fp32 on every machine: rows run on CPUs with and without native bf16 compare
        "--overwrite_output_dir=true",  # reached only for a run that was stopped before its results
        "--output_dir",
        str(output_dir),
        *[
            override.format(
                tapt=args.tapt_model,
                nli=args.nli_model,
                silver=silver,
                klue="recipes/data/klue-sts/klue-sts-v1.1_train.csv",
                half=f"{epochs / 2:g}",
                double=f"{epochs * 2:g}",
            )
            for override in overrides
        ],
    ]


def silver_datasets(silver_dir: str) -> str:
    """The distilled recipe's `train_datasets` as the JSON `--train_datasets` takes, with each file of its `silver`
    dataset taken from `silver_dir` under the same name (the files `hf-sts label` wrote there, see
    docs/recipes.md#several-training-datasets-and-stages)."""
    datasets = json.loads((REPO_ROOT / DISTILLED_RECIPE).read_text(encoding="utf-8"))["train_datasets"]
    files = datasets["silver"]["train_file"]
    files = [files] if isinstance(files, str) else files
    datasets["silver"]["train_file"] = [str(Path(silver_dir) / Path(file).name) for file in files]
    return json.dumps(datasets, ensure_ascii=False)


def check_rows(args: argparse.Namespace) -> None:
    """Check every requested run's arguments and data before the first one starts (`hf_sts.training.setup.prepare` with
    `check_only`): a bad row stops the benchmark at once, with hf_sts' one-line error."""
    from hf_sts.errors import exit_on_error
    from hf_sts.training.setup import prepare

    for row in dict.fromkeys(member for asked in args.rows for member in AVERAGES.get(asked, [asked])):
        if row == ZERO_SHOT or (row in FOLDER_OPTIONS and not getattr(args, FOLDER_OPTIONS[row])):
            continue
        with exit_on_error():
            prepare(run_argv(row, args.seeds[0], args, Path(args.output_dir) / "check"), check_only=True)


def run_rows(args: argparse.Namespace) -> None:
    """Run every requested (row, seed) that is not in the ledger yet, one process each, the zero-shot row first, and
    append each finished run to the ledger; each run's wall and CPU time go to `benchmark_time.json` beside its
    results."""
    root, ledger = Path(args.output_dir), Path(args.ledger)
    done = finished(ingest(root, ledger))
    runs = [(ZERO_SHOT, None)] if ZERO_SHOT in args.rows else []
    for row in [row for row in args.rows if row != ZERO_SHOT]:
        if row in FOLDER_OPTIONS and not getattr(args, FOLDER_OPTIONS[row]):
            print(f"skipping {row!r}: give --{FOLDER_OPTIONS[row]} (the folder it needs)", flush=True)
            continue
        runs += [(member, seed) for seed in args.seeds for member in AVERAGES.get(row, ())]
        runs += [(row, seed) for seed in args.seeds]
    for row, seed in [run for run in dict.fromkeys(runs) if run not in done]:
        if row in AVERAGES:
            average(root, row, seed)
            ingest(root, ledger)
            continue
        if row == ZERO_SHOT:
            output_dir = root / folder_name(ZERO_SHOT)
            command = ["-m", "hf_sts.cli.main", "evaluate", args.model, "--prompt", "query: ", "--precision", "fp32"]
            command += ["--validation_file", DEV, "--output_dir", str(output_dir)]
        else:
            output_dir = root / folder_name(row) / f"seed-{seed}"
            command = ["hf_sts/run.py", *run_argv(row, seed, args, output_dir)]
        timed([sys.executable, *command], output_dir)
        evaluate_on_korsts(args.model if row == ZERO_SHOT else str(output_dir), output_dir)
        ingest(root, ledger)


def average(root: Path, row: str, seed: int) -> None:
    """The run folder of the average row `row` for `seed`, from its members' runs under `root`: `hf-sts ensemble
    --method mean` of their dev predictions into it and of their KorSTS test predictions beside it (as
    [`korsts_folder`]), each with an `all_results.json` of the mean's Pearson r and Spearman rho (`eval_pearson`,
    `eval_spearmanr`), the first member's `recipe.json` (the budget) and the members' times summed. A member run
    without its prediction files (one in the ledger from another machine, say) skips the row with one line."""
    members = [root / folder_name(member) / f"seed-{seed}" for member in AVERAGES[row]]
    splits = [
        [run / "eval_predictions.csv" for run in members],
        [korsts_folder(run) / "eval_predictions.csv" for run in members],
    ]
    missing = [str(path) for paths in splits for path in paths if not path.is_file()]
    if missing:
        print(f"skipping {row!r} seed {seed}: its members' predictions are not there ({', '.join(missing)})")
        return
    output_dir = root / folder_name(row) / f"seed-{seed}"
    for paths, output in zip(splits, (output_dir, korsts_folder(output_dir)), strict=True):
        shutil.rmtree(output, ignore_errors=True)  # a stopped run's scratch folder (a finished one is in the ledger)
        command = [sys.executable, "-m", "hf_sts.cli.main", "ensemble", "--method", "mean", *map(str, paths)]
        result = subprocess.run([*command, "--output", str(output)], cwd=REPO_ROOT, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stderr[-2000:]}")
        mean = pd.read_csv(output / "ensemble_predictions.csv")
        metrics = {
            "eval_pearson": stats.pearsonr(mean["prediction"], mean["label"]).statistic,
            "eval_spearmanr": stats.spearmanr(mean["prediction"], mean["label"]).statistic,
        }
        (output / "all_results.json").write_text(json.dumps(metrics, indent=2) + "\n")
    shutil.copyfile(members[0] / "recipe.json", output_dir / "recipe.json")
    times = [json.loads((run / "benchmark_time.json").read_text()) for run in members]
    summed = {key: round(sum(time[key] for time in times), 1) for key in ("wall_seconds", "cpu_seconds")}
    (output_dir / "benchmark_time.json").write_text(json.dumps(summed | {"machine": times[0].get("machine")}) + "\n")


def korsts_folder(output_dir: Path) -> Path:
    """Where a run's KorSTS test evaluation goes: beside its folder (`hf-sts evaluate` writes into no run)."""
    return output_dir.parent / f"{output_dir.name}-korsts_test"


def evaluate_on_korsts(model: str, output_dir: Path) -> None:
    """`hf-sts evaluate` of a finished run (or, for zero-shot, the encoder with e5's prompt) on KorSTS test (1,379
    pairs), in fp32, into [`korsts_folder`]: the Spearman rho the field reports for KorSTS (for a bi-encoder the
    cosine Spearman, MTEB's main score)."""
    prompt = ["--prompt", "query: "] if model != str(output_dir) else []
    command = [sys.executable, "-m", "hf_sts.cli.main", "evaluate", model, *prompt, "--precision", "fp32"]
    command += ["--validation_file", KORSTS_TEST, "--output_dir", str(korsts_folder(output_dir))]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stderr[-2000:]}")


def timed(command: list[str], output_dir: Path) -> None:
    """Run `command` from the repository root, its output to `output_dir` + `.log`, its wall and CPU seconds
    (user + system, of the process and its children) to `output_dir/benchmark_time.json`; a failure stops the
    benchmark with the log's last lines."""
    print(" ".join(command), flush=True)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    log = output_dir.parent / f"{output_dir.name}.log"
    start, cpu_start = time.perf_counter(), cpu_seconds_of_children()
    with open(log, "w", encoding="utf-8") as file:
        result = subprocess.run(command, cwd=REPO_ROOT, stdout=file, stderr=subprocess.STDOUT)
    seconds, cpu = time.perf_counter() - start, cpu_seconds_of_children() - cpu_start
    if result.returncode != 0:
        sys.exit(
            f"failed ({result.returncode}): {' '.join(command)}\n" + "".join(log.read_text().splitlines(True)[-20:])
        )
    timing = {"wall_seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1), "machine": machine()}
    (output_dir / "benchmark_time.json").write_text(json.dumps(timing) + "\n")
    print(f"  {seconds / 60:.1f} min ({cpu / 60:.1f} CPU min)", flush=True)


def machine() -> str:
    """This machine in a few words, for the times of its runs: CPU model, usable cores, accelerator, e.g.
    `AMD EPYC, 2 cores` or `Intel Xeon ..., 16 cores, NVIDIA H100 80GB HBM3`."""
    import platform

    import torch

    from hf_sts.utils.hardware import usable_cores

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    parts = [
        models[0] if models else platform.processor() or platform.machine(),
        f"{usable_cores()} cores",
    ]
    if torch.cuda.is_available():
        parts.append(torch.cuda.get_device_name())
    return ", ".join(parts)


def cpu_seconds_of_children() -> float:
    """User + system CPU seconds of this process's finished children so far (`getrusage(RUSAGE_CHILDREN)`)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_record(row: str, run: Path) -> dict | None:
    """The ledger line of the finished run in folder `run` (None while it has no `all_results.json`): `technique`,
    `seed` (None for zero-shot), `pearson` (dev Pearson r), `minutes` and `cpu_minutes` (wall and CPU time; NaN where
    not recorded), `machine` (where it ran, see `machine`; None where not recorded), `budget` (pairs and epochs, from
    its `recipe.json`) and `note` (for a row that starts from an earlier run's folder, that run, see
    `pretraining_note`; then the row's `ROW_NOTES` entry; None for neither)."""
    results, timing = run / "all_results.json", run / "benchmark_time.json"
    if not results.is_file():
        return None
    times = json.loads(timing.read_text()) if timing.is_file() else {}
    budget, recipe = None, {}
    if (run / "recipe.json").is_file():
        recipe = json.loads((run / "recipe.json").read_text())
        pairs = recipe.get("max_train_samples")
        epochs = recipe.get("num_train_epochs")
        budget = f"{f'{pairs:,}' if pairs else 'all 11,668'} pairs, {epochs:g} epoch{'' if epochs == 1 else 's'}"
    notes = [pretraining_note(recipe.get("model_name_or_path"))] if row in FOLDER_OPTIONS else []
    korsts = korsts_folder(run) / "all_results.json"
    korsts_results = json.loads(korsts.read_text()) if korsts.is_file() else {}
    return {
        "korsts_spearman": korsts_results.get("eval_cosine_spearman", korsts_results.get("eval_spearmanr")),
        "technique": row,
        "seed": None if row == ZERO_SHOT else int(run.name.removeprefix("seed-")),
        "pearson": json.loads(results.read_text())["eval_pearson"],
        "minutes": times.get("wall_seconds", float("nan")) / 60,
        "cpu_minutes": times.get("cpu_seconds", float("nan")) / 60,
        "machine": times.get("machine"),
        "budget": budget,
        "note": "; ".join(filter(None, [*notes, ROW_NOTES.get(row)])) or None,
    }


def pretraining_note(encoder: str | None) -> str | None:
    """Which `hf-sts pretrain` run made the TAPT row's encoder, from that folder's `recipe.json` and
    `all_results.json`: `encoder <folder name>: hf-sts pretrain seed S, N steps, held-out perplexity P` (None when
    `encoder` is not such a folder, e.g. a Hub id, or lacks either file); a relative `encoder` is taken from the
    repository root, where the runs start."""
    folder = REPO_ROOT / encoder if encoder else None
    if folder is None or not (folder / "all_results.json").is_file() or not (folder / "recipe.json").is_file():
        return None
    results = json.loads((folder / "all_results.json").read_text())
    seed = json.loads((folder / "recipe.json").read_text()).get("seed")
    if "perplexity" in results or "train_steps" in results:
        perplexity = f", held-out perplexity {results['perplexity']:.2f}" if "perplexity" in results else ""
        return f"encoder {folder.name}: hf-sts pretrain seed {seed}, {results.get('train_steps')} steps{perplexity}"
    return (
        f"encoder {folder.name}: stage 1, hf-sts train seed {seed}, {results.get('train_runtime', 0) / 60:.1f} min, "
        f"dev Pearson {results.get('eval_pearson', float('nan')):.4f}"
    )


def read_ledger(path: Path) -> pd.DataFrame:
    """The ledger at `path` (empty when there is none yet), one line per finished (technique, seed) run, with the
    columns of `run_record`; `seed` is a nullable integer (empty for zero-shot)."""
    if not path.is_file():
        return pd.DataFrame(columns=LEDGER_COLUMNS).astype({"seed": "Int64"})
    runs = pd.read_csv(path, dtype={"seed": "Int64", "machine": "string", "budget": "string", "note": "string"})
    return runs.reindex(columns=LEDGER_COLUMNS)  # a ledger from before a column was added: blank there


def finished(runs: pd.DataFrame) -> set[tuple[str, int | None]]:
    """The (technique, seed) pairs of the ledger `runs`; the zero-shot row's seed is None."""
    pairs = zip(runs["technique"], runs["seed"], strict=True)
    return {(row, None if pd.isna(seed) else int(seed)) for row, seed in pairs}


def ingest(root: Path | None, ledger: Path) -> pd.DataFrame:
    """Append to `ledger` every finished run under `root` (none when `root` is None) that it does not hold yet (a
    line each, said on stdout) and return the whole ledger. A (technique, seed) already in the ledger is never
    replaced; only a blank `korsts_spearman` of it is filled in from its folder's KorSTS test evaluation."""
    runs = read_ledger(ledger)
    if root is None:
        return runs
    done = finished(runs)
    new, filled = [], False
    for row in ALL_ROWS:
        folder = root / folder_name(row)
        seeds = [run for run in sorted(folder.glob("seed-*")) if run.name.removeprefix("seed-").isdigit()]
        for run in [folder] if row == ZERO_SHOT else seeds:
            record = run_record(row, run)
            if record is not None and (record["technique"], record["seed"]) not in done:
                print(f"{ledger}: added {row!r} seed {record['seed']} (dev Pearson {record['pearson']:.4f})")
                new.append(record)
            elif record is not None and record["korsts_spearman"] is not None:
                # A run in the ledger from before its KorSTS test evaluation: that value, and only it, is filled in.
                same = (runs["technique"] == row) & (
                    runs["seed"].isna() if record["seed"] is None else runs["seed"] == record["seed"]
                )
                if runs.loc[same, "korsts_spearman"].isna().all():
                    runs.loc[same, "korsts_spearman"] = record["korsts_spearman"]
                    filled = True
    if new or filled:
        runs = pd.concat([runs, pd.DataFrame.from_records(new, columns=LEDGER_COLUMNS)], ignore_index=True)
        runs = runs.astype({"seed": "Int64"})
        runs.to_csv(ledger, index=False, float_format="%.6g")
    return runs


def pooled_std(runs: pd.DataFrame) -> tuple[float, int]:
    """The seed-to-seed standard deviation of dev Pearson pooled over the techniques run with two or more seeds,
    `sqrt(Σ (n_i - 1) s_i² / Σ (n_i - 1))` (the one-way ANOVA's within-group estimate), and its degrees of freedom
    `Σ (n_i - 1)`; NaN and 0 while no technique has two seeds."""
    groups = runs.dropna(subset=["seed"]).groupby("technique")["pearson"]
    counts, variances = groups.count(), groups.var()
    several = counts > 1
    freedom = int((counts[several] - 1).sum())
    if not freedom:
        return float("nan"), 0
    return math.sqrt(((counts[several] - 1) * variances[several]).sum() / freedom), freedom


def summarize(runs: pd.DataFrame, spread: float) -> pd.DataFrame:
    """The table: per technique (in `ROWS` order, zero-shot first), dev Pearson mean ± standard deviation over its
    seeds (sample std; blank for one seed), Δ of the mean against the base's, Δ in standard errors (`spread`, the
    pooled seed sd of `pooled_std`, × sqrt(1/n + 1/n_base) for n and n_base seeds; blank for zero-shot and while
    `spread` is NaN), mean wall and CPU minutes (over the seeds that recorded them; blank where none did), and the
    seeds."""
    base = runs.loc[runs["technique"] == "base", "pearson"]
    base_mean = base.mean() if len(base) else float("nan")
    rows = []
    for technique in ALL_ROWS:
        group = runs[runs["technique"] == technique]
        if group.empty:
            continue
        values = group["pearson"].tolist()
        mean = statistics.fmean(values)
        std = f" ± {statistics.stdev(values):.4f}" if len(values) > 1 else ""
        seeds = ", ".join(str(int(seed)) for seed in group["seed"].dropna())
        compared = technique not in ("base", ZERO_SHOT) and len(base)
        error = spread * math.sqrt(1 / len(values) + 1 / len(base)) if compared else float("nan")
        rows.append(
            {
                "technique": technique,
                "dev Pearson (mean ± std over seeds)": f"{mean:.4f}{std}",
                "Δ vs base": "" if technique == "base" or not len(base) else f"{mean - base_mean:+.4f}",
                "Δ in SE": f"{(mean - base_mean) / error:+.1f}" if math.isfinite(error) else "",
                "KorSTS test Spearman (mean)": korsts_text(group["korsts_spearman"]),
                "train time (min, mean)": minutes_text(group["minutes"]),
                "CPU time (min, mean)": minutes_text(group["cpu_minutes"]),
                "seeds": seeds or "-",
                "_mean": mean,
                "_std": statistics.stdev(values) if len(values) > 1 else 0.0,
            }
        )
    return pd.DataFrame(rows)


def korsts_text(values: pd.Series) -> str:
    """The mean of the recorded KorSTS test Spearman rho to four decimals, blank where none were recorded."""
    recorded = pd.to_numeric(values, errors="coerce").dropna()
    return f"{recorded.mean():.4f}" if len(recorded) else ""


def minutes_text(minutes: pd.Series) -> str:
    """The mean of the recorded `minutes` to one decimal, blank where none were recorded."""
    recorded = minutes.dropna()
    return f"{recorded.mean():.1f}" if len(recorded) else ""


def plot(table: pd.DataFrame, path: Path) -> None:
    """A horizontal bar per technique: dev Pearson mean with its std as error bar, the base's mean as a line."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 0.35 * len(table) + 1.2))
    axes = figure.subplots()
    order = table.iloc[::-1]
    axes.barh(order["technique"], order["_mean"], xerr=order["_std"], color="#4c72b0", capsize=3)
    base = table.loc[table["technique"] == "base", "_mean"]
    if len(base):
        axes.axvline(base.iloc[0], color="#c44e52", linestyle="--", label="base")
        axes.legend(loc="lower right")
    low = max(0.0, table["_mean"].min() - 0.05)
    axes.set_xlim(low, min(1.0, (table["_mean"] + table["_std"]).max() + 0.02))
    axes.set_xlabel("KLUE-STS dev Pearson r (mean ± std over seeds)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def write_summary(args: argparse.Namespace) -> pd.DataFrame:
    """Summarise the ledger (after adding the finished runs under `--output_dir`, if given) into `--table` (Markdown)
    and the plot beside it; prints the table."""
    runs = ingest(Path(args.output_dir) if args.output_dir else None, Path(args.ledger))
    if runs.empty:
        sys.exit(f"{args.ledger}: no finished runs to summarise.")
    spread, freedom = pooled_std(runs)
    table = summarize(runs, spread)
    from hf_sts.training.card import markdown_table

    shown = table.drop(columns=["_mean", "_std"]).to_dict("records")
    seeds = ", ".join(map(str, sorted(set(runs["seed"].dropna().astype(int))))) or "-"
    machines = "; ".join(sorted(set(runs["machine"].dropna())))
    if runs["machine"].isna().any():
        machines += ("; " if machines else "") + "a machine not recorded for the runs without one in the ledger"
    notes = [f"- {runs_named(group)}: {note}\n" for note, group in runs.dropna(subset=["note"]).groupby("note")]
    noted = "\nNotes in the ledger:\n\n" + "".join(notes) if notes else ""
    error = (
        f" Δ in SE is Δ over its standard error, from the seed sd pooled over the techniques with two or more seeds "
        f"({spread:.4f}, {freedom} degrees of freedom): a row differs from the base at the two-sided 5% level only "
        f"beyond ±{stats.t.ppf(0.975, freedom):.1f} (Student's t)."
        if freedom
        else ""
    )
    text = (
        f"# Techniques on multilingual-e5-small, KLUE-STS dev (519 pairs)\n\nBudget (from the runs' recipes): "
        f"{budget_text(runs)}, in fp32; seeds {seeds}; base `{BASE_RECIPE}`. One line per run is in the "
        f"ledger `{display_path(Path(args.ledger))}`. The times were taken on: {machines}. Add runs with "
        "`python benchmarks/techniques.py --model DIR --output_dir DIR --rows ... --seeds ...` (a run in the ledger is "
        f"not rerun); `--summary_only` rewrites this table.{error}\n\n" + markdown_table(shown) + "\n" + noted
    )
    table_path = Path(args.table)
    table_path.write_text(text, encoding="utf-8")
    plot(table, table_path.with_suffix(".png"))
    print(text)
    return table


def budget_text(runs: pd.DataFrame) -> str:
    """The budget of the ledger `runs`, the base's (`all 11,668 pairs, 2 epochs of KLUE-STS train`), then the rows
    that ran on another, e.g. `(off it: swapped pairs, equal steps at all 11,668 pairs, 1 epoch)`; every budget
    when no base run is in the ledger."""
    budgets = runs.dropna(subset=["budget"])
    common = sorted(set(budgets.loc[budgets["technique"] == "base", "budget"])) or sorted(set(budgets["budget"]))
    if not common:
        return "no fine-tuning run yet"
    off = budgets[~budgets["budget"].isin(common)].groupby("budget", sort=False)
    others = [f"{', '.join(dict.fromkeys(group['technique']))} at {budget}" for budget, group in off]
    return f"{'; '.join(common)} of KLUE-STS train" + (f" (off it: {'; '.join(others)})" if others else "")


def runs_named(runs: pd.DataFrame) -> str:
    """The runs of `runs` by name, `TAPT seed 7, base seed 42` (zero-shot without a seed), or their count when more
    than three."""
    if len(runs) > 3:
        return f"{len(runs)} runs"
    return ", ".join(
        row if pd.isna(seed) else f"{row} seed {seed}"
        for row, seed in zip(runs["technique"], runs["seed"], strict=True)
    )


def display_path(path: Path) -> str:
    """`path` relative to the repository root when it lies inside it, else as given."""
    return str(path.resolve().relative_to(REPO_ROOT)) if path.resolve().is_relative_to(REPO_ROOT) else str(path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="the encoder folder or Hub id (multilingual-e5-small)")
    parser.add_argument("--output_dir", help="where the runs go, one scratch folder per row and seed")
    parser.add_argument("--ledger", default=str(LEDGER), help="CSV of the finished runs, one line each")
    parser.add_argument("--tapt_model", help="output folder of `hf-sts pretrain` for the TAPT row")
    parser.add_argument(
        "--silver_dir",
        help=f"folder of the silver files of {DISTILLED_RECIPE} (`hf-sts label` output) for the {DISTILLED!r} row",
    )
    parser.add_argument(
        "--nli_model", help=f"output folder of recipes/multilingual_e5_small_nli.json for the {NLI_STS!r} rows"
    )
    parser.add_argument("--rows", nargs="+", default=ALL_ROWS, help=f"rows to run: {ALL_ROWS}".replace("%", "%%"))
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 7], help="seeds of every row (42 7)")
    parser.add_argument("--max_train_samples", type=int, help="training pairs (default: all)")
    parser.add_argument("--num_train_epochs", type=float, default=2, help="epochs (2)")
    parser.add_argument("--table", default=str(REPO_ROOT / "benchmarks" / "techniques.md"), help="Markdown output")
    parser.add_argument("--summary_only", action="store_true", help="only summarise the runs already done")
    parser.add_argument("--dry_run", action="store_true", help="check every row's arguments and data, run nothing")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.rows) - set(ALL_ROWS))
    if unknown:
        parser.error(f"unknown rows {unknown}; rows are {ALL_ROWS}")
    if not args.summary_only and not (args.model and args.output_dir):
        parser.error("--model and --output_dir are required to run rows")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not args.summary_only:
        check_rows(args)
        if args.dry_run:
            print(f"{len(args.rows)} rows x {len(args.seeds)} seeds checked; nothing run.")
            return
        run_rows(args)
    write_summary(args)


if __name__ == "__main__":
    main()
