"""Score files with a model: the commands `hf-sts predict` and `hf-sts evaluate`.

    hf-sts predict MODEL --input test.csv --output predictions.csv      # id,target in input order
    hf-sts evaluate MODEL --validation_file dev.json --output_dir DIR    # eval_* metrics, predictions, report
    hf-sts evaluate MODEL --validation_file dev.json test.tsv --output_dir DIR --mteb_results RESULTS

Both read any format of `hf_sts.data.readers`, load the model with `hf_sts.inference.loading.load_model` and score
through `hf_sts.inference.scoring`. Inputs and outputs are checked before the model loads (the output by
`hf_sts.utils.write_guard.check_output`: never an input, a model folder or another run), nothing is written on an
error, and each file is written atomically.
"""

import json
from pathlib import Path

import numpy as np
from scipy import stats

from hf_sts.data.checks import check_scorable, resolve_binary_threshold
from hf_sts.data.readers import read_sts_file
from hf_sts.data.writers import write_predictions, write_submission
from hf_sts.errors import HfStsError, OutputError
from hf_sts.inference.loading import LoadedModel, load_model
from hf_sts.inference.mteb import check_distinct, infer_task, task_results
from hf_sts.inference.report import REPORT_FILES, write_report
from hf_sts.inference.scoring import evaluate_split
from hf_sts.utils.write_guard import check_output, real_path, write_text


# What `hf-sts evaluate --output_dir` holds: an earlier evaluation there is replaced, nothing else is written over.
EVALUATION_FILES = ("all_results.json", "eval_predictions.csv", *REPORT_FILES.values())


def predict_file(
    model_name_or_path: str,
    input_file: str | Path,
    output_file: str | Path,
    batch_size: int | None = None,
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
    batch_size: int | None = None,
    bf16: bool | None = None,
    binary_threshold: float | None = None,
    **load_kwargs,
) -> tuple[LoadedModel, dict[str, float]]:
    """`hf-sts evaluate` on one file: [`evaluate_files`] with `[validation_file]`, whose `output_dir` layout (the
    files directly in `output_dir`) it keeps.

    Returns:
        `(loaded model, metrics of the file)`.

    Raises:
        hf_sts.errors.HfStsError: as [`evaluate_files`] (a malformed file, a model that does not load, an output
            the write guard refuses).
    """
    loaded, results = evaluate_files(
        model_name_or_path,
        [validation_file],
        output_dir,
        batch_size=batch_size,
        bf16=bf16,
        binary_threshold=binary_threshold,
        **load_kwargs,
    )
    return loaded, results[str(validation_file)]


def evaluation_folders(validation_files: list[str | Path], output_dir: str | Path) -> dict[str, Path]:
    """Where `hf-sts evaluate --output_dir` writes each file's evaluation: `output_dir` itself for one file, else one
    subfolder per file named after the file's stem (`dev.json` -> `output_dir/dev/`).

    Raises:
        hf_sts.errors.OutputError: for two files with the same stem (their subfolders would clash), naming both.
    """
    if len(validation_files) == 1:
        return {str(validation_files[0]): Path(output_dir)}
    folders: dict[str, Path] = {}
    stems: dict[str, str] = {}
    for path in map(str, validation_files):
        stem = Path(path).stem
        if stem in stems:
            raise OutputError(
                f"--output_dir {output_dir}: {stems[stem]} and {path} would both be written to {stem}/ (one subfolder "
                "per file stem); rename one, or evaluate them in two calls."
            )
        stems[stem] = path
        folders[path] = Path(output_dir) / stem
    return folders


def evaluate_files(
    model_name_or_path: str,
    validation_files: list[str | Path],
    output_dir: str | Path | None = None,
    batch_size: int | None = None,
    bf16: bool | None = None,
    binary_threshold: float | None = None,
    mteb_results: str | Path | None = None,
    task_names: list[str] | None = None,
    **load_kwargs,
) -> tuple[LoadedModel, dict[str, dict[str, float]]]:
    """`hf-sts evaluate`: score the labeled pairs of each of `validation_files` with one loaded model and compute the
    `eval_*` metrics of each. For a bi-encoder (see `LoadedModel.bi_encoder`) they include `eval_cosine_pearson` and
    `eval_cosine_spearman`: Pearson r and Spearman rho of the cosine of the two sentence embeddings (unclipped, in
    [-1, 1]; the unclipped scores over `score_scale`, which the bi-encoder computes as `score_scale` x the cosine of
    the embeddings, so no second pass), MTEB's main STS
    score. `eval_spearmanr` differs from `eval_cosine_spearman` only where scores are clipped (cosines below 0 all
    score 0.0), since a bi-encoder's score is 5 × its cosine.

    With `output_dir`, each file's `all_results.json` (the metrics, the model description, the file, the precision
    and the binary threshold), `eval_predictions.csv` and the report of `hf_sts.inference.report.write_report` are
    written to `output_dir` for one file, else to `output_dir/<file stem>/` (see [`evaluation_folders`]). With
    `mteb_results`, one MTEB result file per task goes there (`hf_sts.inference.mteb`). Every input and output is
    checked and every file read before the model loads, and every file is scored before anything is written.

    Args:
        model_name_or_path, **load_kwargs: the model and where it runs, see [`load_model`].
        validation_files: one or more labeled STS files, any format of `hf_sts.data.readers`.
        batch_size, bf16: how it scores, see [`predict_scores`].
        binary_threshold: F1 compares `prediction >= binary_threshold`; `None`: what each file's binary labels imply
            (`hf_sts.data.checks.implied_binary_threshold`), else KLUE's 3.0. Recorded as `binary_threshold` in the
            metrics.
        mteb_results: a folder for the MTEB-style result files (`<task_name>.json`), or `None`.
        task_names: with `mteb_results`, one `NAME[:SPLIT]` per file (see `hf_sts.inference.mteb.infer_task`);
            `None` infers each from the file.

    Returns:
        `(loaded model, {file as given: metrics})`, the files in the order given.

    Raises:
        hf_sts.errors.HfStsError: for no file, a file given twice, `task_names` not one per file or without
            `mteb_results`, or two files under one MTEB task and split.
        hf_sts.errors.DataFormatError: for a missing or malformed file, or a pair without a label.
        hf_sts.errors.ModelLoadError: for a model that cannot be loaded.
        hf_sts.errors.OutputError: for an `output_dir` or `mteb_results` that is an existing file, holds or lies
            inside the model or a file, is a model folder or a run, or holds files other than an earlier
            evaluation's (replaced with a notice); for two files with the same stem under `output_dir`; for
            `mteb_results` and `output_dir` that are the same folder or one inside the other.
    """
    files = [str(path) for path in validation_files]
    if not files:
        raise HfStsError("evaluate: no --validation_file given; name one or more labeled STS files.")
    resolved = [real_path(path) for path in files]
    twice = next((path for path, full in zip(files, resolved, strict=True) if resolved.count(full) > 1), None)
    if twice is not None:
        raise HfStsError(f"--validation_file {twice}: given twice; name each file once.")
    if task_names is not None and mteb_results is None:
        raise HfStsError("--task_name names the MTEB task of each file: it needs --mteb_results DIR.")
    if task_names is not None and len(task_names) != len(files):
        raise HfStsError(
            f"--task_name: {len(task_names)} name(s) for {len(files)} --validation_file(s); give one per file, in "
            "the same order."
        )
    inputs = [model_name_or_path, *files]
    folders = {}
    if output_dir is not None:
        folders = evaluation_folders(files, output_dir)
        own = EVALUATION_FILES if len(files) == 1 else [folder.name for folder in folders.values()]
        check_output(output_dir, "--output_dir", inputs=inputs, folder=True, own_names=own)
        if len(files) > 1:
            for folder in folders.values():
                check_output(folder, "--output_dir", inputs=inputs, folder=True, own_names=EVALUATION_FILES)
    tasks = []
    if mteb_results is not None:
        if output_dir is not None:
            _check_apart(mteb_results, output_dir)
        for index, path in enumerate(files):
            tasks.append(infer_task(path, None if task_names is None else task_names[index]))
        check_distinct(list(zip(tasks, files, strict=True)))
        own = sorted({task.file_name for task in tasks})
        check_output(mteb_results, "--mteb_results", inputs=inputs, folder=True, own_names=own)
    datasets_ = {}
    thresholds = {}
    for path in files:
        dataset = read_sts_file(path, require_labels=True)
        check_scorable(dataset, path)
        datasets_[path] = dataset
        thresholds[path] = resolve_binary_threshold({"validation": dataset}, binary_threshold, {"validation": path})
    loaded = load_model(model_name_or_path, **load_kwargs)
    bf16 = loaded.use_bf16(bf16)
    results, predictions, seconds = {}, {}, {}
    for path, dataset in datasets_.items():
        predictions[path], metrics = evaluate_split(
            loaded.model, loaded.tokenizer, dataset, loaded.max_seq_length, batch_size, thresholds[path], bf16=bf16
        )
        seconds[path] = metrics["eval_runtime"]
        if loaded.bi_encoder:
            # A bi-encoder's unclipped score is `score_scale` x the cosine of its two embeddings.
            cosines = predictions[path] / loaded.model.config.score_scale
            labels = np.asarray(dataset["label"], dtype=np.float64)
            metrics["eval_cosine_pearson"] = float(stats.pearsonr(cosines, labels).statistic)
            metrics["eval_cosine_spearman"] = float(stats.spearmanr(cosines, labels).statistic)
        metrics["binary_threshold"] = thresholds[path]
        results[path] = metrics
    for path, folder in folders.items():
        folder.mkdir(parents=True, exist_ok=True)
        frame = write_predictions(datasets_[path], predictions[path], folder / "eval_predictions.csv")
        write_report(frame, folder)
        written = {
            **results[path],
            "model": loaded.description,
            "validation_file": path,
            "precision": "bf16" if bf16 else "fp32",
        }
        write_text(folder / "all_results.json", json.dumps(written, indent=4, sort_keys=True))
    if mteb_results is not None:
        entries = [(task, path, results[path], seconds[path]) for task, path in zip(tasks, files, strict=True)]
        for name, result in task_results(entries).items():
            write_text(Path(mteb_results) / name, json.dumps(result, indent=2))
    return loaded, results


def _check_apart(mteb_results: str | Path, output_dir: str | Path) -> None:
    """Refuse an `--mteb_results` folder that is `--output_dir` or lies inside it, or the other way round: each
    command output is a folder of its own, replaced as a whole on a rerun.

    Raises:
        hf_sts.errors.OutputError: naming both.
    """
    first, second = real_path(mteb_results), real_path(output_dir)
    if first.is_relative_to(second) or second.is_relative_to(first):
        raise OutputError(
            f"--mteb_results {mteb_results} and --output_dir {output_dir} overlap; give --mteb_results a folder of "
            "its own (e.g. beside the evaluation)."
        )
