"""Dev Pearson of a recipe trained in fp32 and under bf16 autocast, one after the other in fresh processes.

    python benchmarks/bf16_accuracy.py recipes/quickstart.json [--seed 7 ...]
    python benchmarks/bf16_accuracy.py recipes/multilingual_e5_small.json \\
        --model_name_or_path .cache/multilingual-e5-small --max_train_samples 2000 --num_train_epochs 1

What bf16 does to accuracy depends on its rounding, not on the instructions that compute it, so on a CPU without
native bf16 (where hf_sts turns `bf16` off, see `hf_sts.utils.hardware`) the bf16 run forces autocast on: PyTorch then
emulates bf16, slower but rounded alike. The overrides after the recipe apply to both runs; each writes to a
temporary folder. Prints both `eval_pearson` values and their difference.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


REPO_ROOT = Path(__file__).resolve().parents[1]
FORCED_RUN = (
    "import sys, hf_sts.utils.hardware as hardware\n"
    "hardware.cpu_has_native_bf16 = lambda: True  # emulated where the CPU lacks it: same rounding, slower\n"
    "from hf_sts.errors import exit_on_error\n"
    "from hf_sts.run import main\n"
    "with exit_on_error():\n"
    "    main(sys.argv[1:])\n"
)


def train(recipe_and_overrides: list[str], bf16: bool, output_dir: Path) -> float:
    """Train with `bf16` on or off into `output_dir`; the run's dev Pearson."""
    arguments = [*recipe_and_overrides, "--bf16", str(bf16).lower(), "--output_dir", str(output_dir)]
    arguments += ["--overwrite_output_dir", "true", "--disable_tqdm", "true"]
    command = [sys.executable, "-c", FORCED_RUN] if bf16 else [sys.executable, "hf_sts/run.py"]
    process = subprocess.run([*command, *arguments], cwd=REPO_ROOT, capture_output=True, text=True)
    if process.returncode != 0:
        sys.exit(f"the {'bf16' if bf16 else 'fp32'} run failed:\n{process.stderr[-3000:]}")
    return json.loads((output_dir / "all_results.json").read_text())["eval_pearson"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", help="a recipe with validation data")
    recipe, overrides = parser.parse_known_args()
    with tempfile.TemporaryDirectory() as work:
        pearson = {
            precision: train([recipe.recipe, *overrides], precision == "bf16", Path(work) / precision)
            for precision in ("fp32", "bf16")
        }
    print(f"{recipe.recipe} {' '.join(overrides)}")
    print(
        f"dev Pearson: fp32 {pearson['fp32']:.4f}, bf16 {pearson['bf16']:.4f}, difference {pearson['bf16'] - pearson['fp32']:+.4f}"
    )


if __name__ == "__main__":
    main()
