"""MTEB-style result files of an evaluation (`hf-sts evaluate --mteb_results DIR`): one `<task_name>.json` per task,
in the layout of MTEB's `TaskResult` (Muennighoff et al., 2023, arXiv 2210.07316; `mteb/results/task_result.py` of
embeddings-benchmark/mteb), so that the numbers sit beside MTEB's own results of the same tasks:

    {"dataset_revision": "sha256:...", "task_name": "KLUE-STS", "mteb_version": null, "evaluation_time": 1.9,
     "kg_co2_emissions": null,
     "scores": {"validation": [{"pearson": ..., "spearman": ..., "cosine_pearson": ..., "cosine_spearman": ...,
                                "main_score": ..., "hf_subset": "default", "languages": ["kor-Hang"]}]}}

MTEB's STS tasks (`AbsTaskSTS`) report `pearson` / `spearman` of the model's own similarity and `cosine_pearson` /
`cosine_spearman` of the cosine of the two sentence embeddings; KLUE-STS and KorSTS rank by `cosine_spearman`. A
bi-encoder has both (its similarity, the score, is 5 × the cosine, clipped to [0, 5] by hf_sts); a cross-encoder has
no sentence embeddings, so its entry has `pearson` / `spearman` of its scores and `main_score` is that `spearman`.

The task and split of a file: given (`--task_name NAME[:SPLIT]`), else inferred from the file's format (the KLUE JSON
format is KLUE-STS, the KorSTS TSV format KorSTS) or name (`klue-sts`, `korsts`) and the split from its name (`dev`,
`valid`, `validation`, `val` -> `validation`; `test`; `train`); what is not inferred is said in one notice, never
guessed silently. `dataset_revision` is the SHA-256 of the file scored (MTEB records a Hub dataset revision there, and
requires a string): a local file is not MTEB's copy of the dataset, and its digest says which file it was.
"""

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from hf_sts.data.readers import READERS, read_table
from hf_sts.errors import HfStsError


logger = logging.getLogger(__name__)


# MTEB's Korean STS tasks: hf_sts reader name -> (MTEB task name, the split MTEB evaluates), and the file-name
# pattern that names the task.
MTEB_TASKS = {
    "klue": ("KLUE-STS", "validation", re.compile(r"klue[-_ ]?sts", re.IGNORECASE)),
    "korsts": ("KorSTS", "test", re.compile(r"kor[-_ ]?sts", re.IGNORECASE)),
}
# Words of a file name that name its split.
SPLIT_WORDS = {"dev": "validation", "valid": "validation", "validation": "validation", "val": "validation"}
SPLIT_WORDS.update({"test": "test", "train": "train"})
LANGUAGES = ["kor-Hang"]
HF_SUBSET = "default"


@dataclass(frozen=True)
class MtebTask:
    """The MTEB task and split a file's scores are filed under.

    Attributes:
        name (`str`): the task name (`"KLUE-STS"`, `"KorSTS"`, or the file's stem for another file).
        split (`str`): the split (`"validation"`, `"test"`, `"train"`).
    """

    name: str
    split: str

    @property
    def file_name(self) -> str:
        """The result file of the task: `<name>.json`, as MTEB names them."""
        return f"{self.name}.json"


def split_from_name(path: str | Path) -> str | None:
    """The split a file's name says (`klue-sts-v1.1_dev.json` -> `"validation"`, `sts-test.tsv` -> `"test"`), or
    `None` when no word of its stem names one (see `SPLIT_WORDS`)."""
    words = re.split(r"[^a-z]+", Path(path).stem.lower())
    found = [SPLIT_WORDS[word] for word in words if word in SPLIT_WORDS]
    return found[-1] if found else None


def _format_of(path: str | Path) -> str | None:
    """The name of the hf_sts reader whose columns the file has (`"klue"`, `"korsts"`, ...), or `None`."""
    columns = set(read_table(Path(path)).columns)
    return next((reader.name for reader in READERS if reader.matches(columns)), None)


def infer_task(path: str | Path, given: str | None = None) -> MtebTask:
    """The MTEB task and split of the file `path`.

    Args:
        path: a labeled STS file that hf_sts reads.
        given: `"NAME"` or `"NAME:SPLIT"` (`--task_name`); without a split, the split comes from the file name, else
            the one MTEB evaluates for a known task, else `"test"` (said in a notice).

    Returns:
        An [`MtebTask`]. An unknown file is filed under its stem, with one notice saying so.

    Raises:
        HfStsError: for a `given` name that is empty or has an empty split.
    """
    name, split = None, None
    if given is not None:
        name, _, split = given.partition(":")
        if not name.strip() or (":" in given and not split.strip()):
            raise HfStsError(f"--task_name {given!r}: expected NAME or NAME:SPLIT (e.g. KorSTS:test).")
        name, split = name.strip(), split.strip() or None
        known = next((task for task in MTEB_TASKS.values() if task[0] == name), None)
    else:
        stem = Path(path).stem
        known = MTEB_TASKS.get(_format_of(path)) or next(
            (task for task in MTEB_TASKS.values() if task[2].search(stem)), None
        )
        name = known[0] if known is not None else stem
        if known is None:
            logger.warning(
                "%s: not a file of an MTEB task hf_sts knows (KLUE-STS, KorSTS); its MTEB result is filed under its "
                "stem %r (give --task_name NAME[:SPLIT] to name it).",
                path,
                stem,
            )
    if split is None:
        split = split_from_name(path)
        if split is None:
            split = known[1] if known is not None else "test"
            logger.warning(
                "%s: its name says no split (dev, test, train); its MTEB result is filed under the split %r (give "
                "--task_name %s:SPLIT to name it).",
                path,
                split,
                name,
            )
    return MtebTask(name, split)


def file_digest(path: str | Path) -> str:
    """`sha256:<hex digest>` of the file's bytes: the `dataset_revision` of its MTEB result."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def split_scores(metrics: dict[str, float]) -> dict:
    """The MTEB scores entry of one split from hf_sts' `eval_*` metrics: `pearson` and `spearman` of the scores
    (clipped to [0, 5], as hf_sts scores them), `cosine_pearson` and `cosine_spearman` where the metrics have them (a
    bi-encoder's `eval_cosine_*`), `main_score` (`cosine_spearman`, else `spearman`), `hf_subset` and `languages`.
    Correlations are in [-1, 1], as MTEB records them."""
    scores = {"pearson": metrics["eval_pearson"], "spearman": metrics["eval_spearmanr"]}
    if "eval_cosine_spearman" in metrics:
        scores["cosine_pearson"] = metrics["eval_cosine_pearson"]
        scores["cosine_spearman"] = metrics["eval_cosine_spearman"]
    scores["main_score"] = scores.get("cosine_spearman", scores["spearman"])
    return {**scores, "hf_subset": HF_SUBSET, "languages": list(LANGUAGES)}


def check_distinct(tasks: list[tuple[MtebTask, str | Path]]) -> None:
    """Refuse two files filed under the same MTEB task and split (one would replace the other's scores).

    Raises:
        HfStsError: naming both files, the task and the split.
    """
    seen: dict[tuple[str, str], str | Path] = {}
    for task, path in tasks:
        if (task.name, task.split) in seen:
            raise HfStsError(
                f"{seen[task.name, task.split]} and {path} are both MTEB task {task.name}, split {task.split}: give "
                "--task_name NAME:SPLIT for each file."
            )
        seen[task.name, task.split] = path


def task_results(entries: list[tuple[MtebTask, str | Path, dict[str, float], float]]) -> dict[str, dict]:
    """The MTEB result of each task, by file name (`<task_name>.json`): one entry per `(task, file, metrics,
    seconds)`, the splits of one task together in its file, `evaluation_time` their seconds summed, and
    `dataset_revision` the digest of the file (the files, joined by `+`, where one task has several).

    Raises:
        HfStsError: for two files under the same task and split.
    """
    check_distinct([(task, path) for task, path, _, _ in entries])
    results: dict[str, dict] = {}
    for task, path, metrics, seconds in entries:
        result = results.setdefault(
            task.file_name,
            {
                "dataset_revision": None,
                "task_name": task.name,
                "mteb_version": None,
                "evaluation_time": 0.0,
                "kg_co2_emissions": None,
                "scores": {},
            },
        )
        digest = file_digest(path)
        previous = result["dataset_revision"]
        result["dataset_revision"] = digest if previous is None else f"{previous}+{digest}"
        result["evaluation_time"] = round(result["evaluation_time"] + seconds, 4)
        result["scores"][task.split] = [split_scores(metrics)]
    return results


__all__ = [
    "MTEB_TASKS",
    "MtebTask",
    "check_distinct",
    "file_digest",
    "infer_task",
    "split_from_name",
    "split_scores",
    "task_results",
]
