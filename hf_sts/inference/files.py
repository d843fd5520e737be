"""Score files with a model: the commands `hf-sts predict` and `hf-sts evaluate`.

    hf-sts predict MODEL --input test.csv --output predictions.csv      # id,target in input order
    hf-sts evaluate MODEL --validation_file dev.json --output_dir DIR    # eval_* metrics, predictions, report

Both read any format of `hf_sts.data.readers`, load the model with `hf_sts.inference.loading.load_model` and score
through `hf_sts.inference.scoring`. Inputs and outputs are checked before the model loads (the output by
`hf_sts.utils.write_guard.check_output`: never an input, a model folder or another run), nothing is written on an
error, and each file is written atomically.
"""

import json
from pathlib import Path

from hf_sts.data.checks import check_scorable, resolve_binary_threshold
from hf_sts.data.readers import read_sts_file
from hf_sts.data.writers import write_predictions, write_submission
from hf_sts.inference.loading import LoadedModel, load_model
from hf_sts.inference.report import REPORT_FILES, write_report
from hf_sts.inference.scoring import evaluate_split
from hf_sts.utils.write_guard import check_output, write_text


# What `hf-sts evaluate --output_dir` holds: an earlier evaluation there is replaced, nothing else is written over.
EVALUATION_FILES = ("all_results.json", "eval_predictions.csv", *REPORT_FILES.values())


def predict_file(
    model_name_or_path: str,
    input_file: str | Path,
    output_file: str | Path,
    batch_size: int = 64,
    with_sentences: bool = False,
    bf16: bool | None = None,
    **load_kwargs,
) -> tuple[LoadedModel, int]:
    """`hf-sts predict`: score every pair of `input_file` (any format of `hf_sts.data.readers.READERS`, labels optional
    and ignored) and write `id,target` (clipped to [0, 5]; with `with_sentences`, also `sentence1,sentence2`), one row
    per pair in input order, to `output_file`. The input and the output path are checked before the model loads,
    and nothing is written on an error.

    Args:
        model_name_or_path, **load_kwargs: the model and where it runs, see [`load_model`].
        batch_size, bf16: how it scores, see [`predict_scores`].

    Returns:
        `(loaded model, number of pairs written)`.

    Raises:
        hf_sts.errors.DataFormatError: for a missing or malformed input file.
        hf_sts.errors.ModelLoadError: for a model that cannot be loaded.
        hf_sts.errors.OutputError: for an `output_file` that is the input, an existing folder, or lies inside a model
            folder or a run (see `hf_sts.utils.write_guard.check_output`).
    """
    output_file = check_output(output_file, "--output", inputs=[input_file, model_name_or_path])
    dataset = read_sts_file(input_file, require_labels=False)
    loaded = load_model(model_name_or_path, **load_kwargs)
    predictions = loaded.score(dataset["sentence1"][:], dataset["sentence2"][:], batch_size, bf16=bf16)
    return loaded, len(write_submission(dataset, predictions, output_file, with_sentences))


def evaluate_file(
    model_name_or_path: str,
    validation_file: str | Path,
    output_dir: str | Path | None = None,
    batch_size: int = 64,
    bf16: bool | None = None,
    binary_threshold: float | None = None,
    **load_kwargs,
) -> tuple[LoadedModel, dict[str, float]]:
    """`hf-sts evaluate`: score the labeled pairs of `validation_file` and compute the `eval_*` metrics; with
    `output_dir`, also write `all_results.json` (the metrics, the model description, the file, the precision and the
    binary threshold),
    `eval_predictions.csv` and the report of `hf_sts.inference.report.write_report` there. The file is checked before
    the model loads.

    Args:
        model_name_or_path, **load_kwargs: the model and where it runs, see [`load_model`].
        batch_size, bf16: how it scores, see [`predict_scores`].
        binary_threshold: F1 compares `prediction >= binary_threshold`; `None`: what the file's binary labels imply
            (`hf_sts.data.checks.implied_binary_threshold`), else KLUE's 3.0. Recorded as `binary_threshold` in the
            metrics.

    Returns:
        `(loaded model, metrics)`.

    Raises:
        hf_sts.errors.DataFormatError: for a missing or malformed file, or a pair without a label.
        hf_sts.errors.ModelLoadError: for a model that cannot be loaded.
        hf_sts.errors.OutputError: for an `output_dir` that is an existing file, holds or lies inside the model or
            the file, is a model folder or a run, or holds files other than an earlier evaluation's
            (`EVALUATION_FILES`, replaced with a notice).
    """
    if output_dir is not None:
        output_dir = check_output(
            output_dir,
            "--output_dir",
            inputs=[model_name_or_path, validation_file],
            folder=True,
            own_names=EVALUATION_FILES,
        )
    dataset = read_sts_file(validation_file, require_labels=True)
    check_scorable(dataset, str(validation_file))
    binary_threshold = resolve_binary_threshold(
        {"validation": dataset}, binary_threshold, {"validation": str(validation_file)}
    )
    loaded = load_model(model_name_or_path, **load_kwargs)
    bf16 = loaded.use_bf16(bf16)
    predictions, metrics = evaluate_split(
        loaded.model, loaded.tokenizer, dataset, loaded.max_seq_length, batch_size, binary_threshold, bf16=bf16
    )
    metrics["binary_threshold"] = binary_threshold
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        frame = write_predictions(dataset, predictions, output_dir / "eval_predictions.csv")
        write_report(frame, output_dir)
        results = {
            **metrics,
            "model": loaded.description,
            "validation_file": str(validation_file),
            "precision": "bf16" if bf16 else "fp32",
        }
        write_text(output_dir / "all_results.json", json.dumps(results, indent=4, sort_keys=True))
    return loaded, metrics
