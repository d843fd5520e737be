"""Training on a shared machine: what a second process busy on one core does to an hf_sts run, and what helps.

    python benchmarks/shared_machine.py                    # about 3 minutes on 2 cores
    python benchmarks/shared_machine.py --pairs 1600 --repeats 3

One small training run (`recipes/quickstart_cross_encoder.json`: the 2-layer BERT cross-encoder trained from scratch,
`--pairs` KLUE-STS train pairs, 1 epoch, fp32, no evaluation), each in a fresh process, under each setting:

- alone, and with a busy process (a Python loop) pinned to core 0, the case of a shared machine;
- `OMP_NUM_THREADS` = every core (PyTorch's default) or one fewer;
- `OMP_WAIT_POLICY` unset (the OpenMP runtime's default: threads spin a while waiting for work), `PASSIVE` (they
  sleep) or `ACTIVE`.

Pairs/s is the run's `train_samples_per_second`; the best of `--repeats` runs is kept. The records, with the CPU they
ran on, are in `benchmarks/shared_machine.md`.
"""

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


REPO_ROOT = Path(__file__).resolve().parents[1]
RECIPE = REPO_ROOT / "recipes" / "quickstart_cross_encoder.json"
TRAIN = REPO_ROOT / "recipes" / "data" / "klue-sts" / "klue-sts-v1.1_train.csv"
BUSY = "import os\nos.sched_setaffinity(0, {0})\nwhile True:\n    pass\n"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def train_once(pairs: int, threads: int, wait_policy: str | None, work: Path) -> float:
    """One run in a fresh process; returns its training pairs/s."""
    output_dir = Path(tempfile.mkdtemp(dir=work))
    output_dir.rmdir()  # a new folder for the run
    env = {key: value for key, value in os.environ.items() if key not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    env["OMP_NUM_THREADS"] = str(threads)
    if wait_policy:
        env["OMP_WAIT_POLICY"] = wait_policy
    command = [sys.executable, str(REPO_ROOT / "hf_sts" / "run.py"), str(RECIPE), "--output_dir", str(output_dir)]
    command += [f"--max_train_samples={pairs}", "--num_train_epochs=1", "--bf16=false", "--eval_strategy=no"]
    command += ["--validation_file=none", "--validation_split_percentage=0", "--do_predict=false", "--report_to=none"]
    command += [
        "--save_strategy=no",
        "--disable_tqdm=true",
        "--add_swapped_pairs=false",
        "--load_best_model_at_end=false",
    ]
    subprocess.run(command, cwd=REPO_ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads((output_dir / "all_results.json").read_text())["train_samples_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=1200, help="training pairs (1200)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per setting, the best kept (2)")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    print(f"{cpu_model()}, {cores} usable cores; {args.pairs} pairs, 1 epoch, best of {args.repeats}\n")
    print("| machine | OMP_NUM_THREADS | OMP_WAIT_POLICY | pairs/s | vs alone, every core, default |")
    print("| --- | --- | --- | --- | --- |")
    baseline = None
    with tempfile.TemporaryDirectory() as work:
        for busy, threads, policy in itertools.product(
            (False, True), (cores, max(1, cores - 1)), (None, "PASSIVE", "ACTIVE")
        ):
            if threads != cores and not busy:
                continue  # fewer threads only helps beside a busy core
            neighbour = subprocess.Popen([sys.executable, "-c", BUSY]) if busy else None
            try:
                rate = max(train_once(args.pairs, threads, policy, Path(work)) for _ in range(args.repeats))
            finally:
                if neighbour is not None:
                    neighbour.kill()
                    neighbour.wait()
            baseline = baseline or rate
            print(
                f"| {'core 0 busy' if busy else 'alone'} | {threads} | {policy or 'unset'} | {rate:.1f} | "
                f"{rate / baseline:.2f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
