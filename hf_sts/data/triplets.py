"""Training data beyond scored pairs, and the named training datasets of a multi-dataset run.

A multi-dataset run (the recipe key `train_datasets`, as sentence-transformers trains on a dict of datasets with a
dict of losses) names each of its training datasets and reads each into one of two shapes:

- **scored pairs**, in the hf_sts schema of `hf_sts.data.readers` (`sentence1`, `sentence2`, `label` 0.0–5.0, ...):
  KLUE-STS, KorSTS, silver labels from `hf-sts label`, any format of `hf_sts.data.readers.READERS`;
- **triplets** (`TRIPLET_FEATURES`: `id`, `anchor`, `positive`, `negative`), for in-batch-negatives losses such as
  `mnrl` (`hf_sts.training.losses.MultipleNegativesRankingLoss`): read from
  - an NLI file (`NLI_FORMATS`: KLUE-NLI JSON `premise, hypothesis, gold_label`; KorNLI TSV `sentence1, sentence2,
    gold_label`), each premise the anchor of triplets pairing each of its entailment hypotheses (positive) with one
    of its contradiction hypotheses (hard negative), the "AllNLI" triplets sentence-transformers trains on
    (`examples/sentence_transformer/training/nli`); or
  - a triplet file with the columns `anchor, positive[, negative]` (without `negative`, the other positives of the
    batch are the only negatives).

The format is recognised by the columns, as for STS files.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import datasets
import pandas as pd

from hf_sts.data.readers import STS_FEATURES, load_hub_dataset, read_table, read_training_files, to_sts_frame
from hf_sts.errors import DataFormatError, RecipeError


logger = logging.getLogger(__name__)


TRIPLET_FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),
        "anchor": datasets.Value("string"),
        "positive": datasets.Value("string"),
        "negative": datasets.Value("string"),
    }
)

# The columns of the two shapes of training data, in the order a bi-encoder reads them (see
# `hf_sts.models.sts.modeling_sts.StsBiEncoderModel.sentence_inputs`).
PAIR_COLUMNS = ("sentence1", "sentence2")
TRIPLET_COLUMNS = ("anchor", "positive", "negative")

# NLI formats: name -> (premise column, hypothesis column, label column).
NLI_FORMATS = {
    "klue-nli": ("premise", "hypothesis", "gold_label"),
    "kornli": ("sentence1", "sentence2", "gold_label"),
}
NLI_LABELS = ("entailment", "neutral", "contradiction")
# Gold labels of pairs the annotators did not agree on (SNLI's, and KorNLI's translation of it): no label, left out.
NLI_NO_LABEL = ("-", "")

# The keys of one entry of `train_datasets`.
TRAINING_DATASET_KEYS = ("train_file", "dataset_name", "dataset_config_name", "split", "loss", "loss_weight")


@dataclass(frozen=True)
class TrainingDataset:
    """One named training dataset of a multi-dataset run: where its rows come from, and the loss it trains with.

    Attributes:
        name: its name in the recipe (logs show its loss as `loss_<name>`).
        train_file: files read and concatenated in order (all of one shape); or none, with `dataset_name`.
        dataset_name, dataset_config_name, split: a `datasets` dataset and its split (`"train"` by default).
        loss: a loss of `hf_sts.training.losses.LOSSES` (or parts joined by `+`); `None`: the run's `loss` for scored
            pairs, `"mnrl"` for triplets.
        loss_weight: multiplies this dataset's loss (> 0): below 1 for silver labels beside gold ones.
    """

    name: str
    train_file: tuple[str, ...] = ()
    dataset_name: str | None = None
    dataset_config_name: str | None = None
    split: str = "train"
    loss: str | None = None
    loss_weight: float = 1.0

    @classmethod
    def from_recipe(cls, name: str, entry) -> "TrainingDataset":
        """The entry `name` of a recipe's `train_datasets` (a JSON object with `TRAINING_DATASET_KEYS`).

        Raises:
            RecipeError: one line naming `train_datasets.<name>` and the key, for a name that cannot be a log key, an
                entry that is not an object, an unknown key (with the closest one), neither or both of `train_file`
                and `dataset_name`, or a `loss_weight` that is not a number above 0.
        """
        where = f"`train_datasets.{name}`"
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise RecipeError(
                f"`train_datasets`: name {name!r}: use letters, digits, '_' or '-' (it names the dataset's loss in "
                "the logs, loss_<name>)."
            )
        if not isinstance(entry, dict):
            raise RecipeError(
                f'{where}: expected an object such as {{"train_file": "nli.json", "loss": "mnrl"}}, got {entry!r}.'
            )
        unknown = sorted(set(entry) - set(TRAINING_DATASET_KEYS))
        if unknown:
            raise RecipeError(
                f"{where}: unknown key {unknown[0]!r}; an entry takes {', '.join(TRAINING_DATASET_KEYS)}."
            )
        files = entry.get("train_file")
        files = [files] if isinstance(files, str) else list(files or [])
        if bool(files) == bool(entry.get("dataset_name")):
            raise RecipeError(f"{where}: give `train_file` (one file or a list) or `dataset_name`, one of the two.")
        weight = entry.get("loss_weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
            raise RecipeError(f"{where}: `loss_weight` must be a number above 0, got {weight!r}.")
        loss = entry.get("loss")
        if loss is not None and not isinstance(loss, str):
            raise RecipeError(f'{where}: `loss` must be a loss name such as "mnrl" or "cosine", got {loss!r}.')
        return cls(
            name=name,
            train_file=tuple(str(path) for path in files),
            dataset_name=entry.get("dataset_name"),
            dataset_config_name=entry.get("dataset_config_name"),
            split=entry.get("split", "train"),
            loss=loss,
            loss_weight=float(weight),
        )


def training_datasets(value: dict | None) -> list[TrainingDataset]:
    """The entries of a recipe's `train_datasets` (`{name: entry}`), in recipe order; `[]` for `None`.

    Raises:
        RecipeError: see [`TrainingDataset.from_recipe`]; also for an empty object.
    """
    if value is None:
        return []
    if not isinstance(value, dict) or not value:
        raise RecipeError(
            '`train_datasets` must be an object of named datasets, e.g. {"nli": {"train_file": "nli.json", '
            f'"loss": "mnrl"}}, got {value!r}.'
        )
    return [TrainingDataset.from_recipe(name, entry) for name, entry in value.items()]


def is_triplets(dataset: datasets.Dataset) -> bool:
    """Whether `dataset` holds triplets (`anchor`, `positive`, ...) rather than scored pairs."""
    return "anchor" in dataset.column_names


def text_columns(dataset: datasets.Dataset) -> list[str]:
    """The sentence columns of training data in reading order: `sentence1, sentence2` for pairs, `anchor, positive`
    (and `negative` where present) for triplets."""
    return [column for column in (*PAIR_COLUMNS, *TRIPLET_COLUMNS) if column in dataset.column_names]


def _nli_format(columns: set[str]) -> str | None:
    return next((name for name, needed in NLI_FORMATS.items() if set(needed) <= columns), None)


def nli_triplets(frame: pd.DataFrame, origin: str, nli_format: str) -> pd.DataFrame:
    """(anchor, positive, negative) triplets from NLI pairs: per premise (in file order), each entailment hypothesis
    with a contradiction hypothesis of the same premise (the i-th entailment with the (i mod k)-th of its k
    contradictions). Premises without both are left out, with one line counting them; neutral pairs and pairs
    without a gold label (`NLI_NO_LABEL`) are not used.

    Returns:
        A frame with `TRIPLET_FEATURES`' columns; ids `{premise's first pair id or row}-{i}`.

    Raises:
        DataFormatError: naming `origin` and the 1-based row, for a gold label outside `NLI_LABELS` and
            `NLI_NO_LABEL`, or an empty premise or hypothesis; or when no premise has both.
    """
    premise_column, hypothesis_column, label_column = NLI_FORMATS[nli_format]
    labels = frame[label_column].fillna("").astype(str).str.strip()
    unknown = ~labels.isin([*NLI_LABELS, *NLI_NO_LABEL])
    if unknown.any():
        row = int(unknown.to_numpy().argmax())
        raise DataFormatError(
            f"{origin}: row {row + 1} (1-based): gold label {labels.iloc[row]!r}; an NLI file's labels are "
            f"{', '.join(NLI_LABELS)} (or '-' for none)."
        )
    for column in (premise_column, hypothesis_column):
        empty = frame[column].isna() | (frame[column].astype(str).str.strip() == "")
        if empty.any():
            row = int(empty.to_numpy().argmax())
            raise DataFormatError(f"{origin}: row {row + 1} (1-based): `{column}` is empty.")
    ids = frame["guid"].astype(str) if "guid" in frame else pd.Series([str(row) for row in range(len(frame))])
    groups: dict[str, dict[str, list]] = {}
    for premise, hypothesis, label, id_ in zip(
        frame[premise_column], frame[hypothesis_column], labels, ids, strict=True
    ):
        group = groups.setdefault(str(premise), {"id": id_, "entailment": [], "contradiction": []})
        if label in ("entailment", "contradiction"):
            group[label].append(str(hypothesis))
    rows = []
    for premise, group in groups.items():
        positives, negatives = group["entailment"], group["contradiction"]
        if positives and negatives:
            rows += [
                (f"{group['id']}-{i}", premise, positive, negatives[i % len(negatives)])
                for i, positive in enumerate(positives)
            ]
    if not rows:
        raise DataFormatError(
            f"{origin}: no premise has both an entailment and a contradiction hypothesis, so no triplet can be made."
        )
    left_out = len(groups) - len({row[1] for row in rows})
    logger.info(
        "%s: %d triplets (anchor, entailment, contradiction) from %d premises; %d premise(s) without both an "
        "entailment and a contradiction left out.",
        origin,
        len(rows),
        len(groups) - left_out,
        left_out,
    )
    return pd.DataFrame(rows, columns=list(TRIPLET_FEATURES))


def _triplet_frame(frame: pd.DataFrame, origin: str) -> pd.DataFrame | None:
    """`frame` as triplets when its columns are an NLI format or `anchor, positive[, negative]`, else `None`
    (scored pairs).

    Raises:
        DataFormatError: naming the row of an empty sentence.
    """
    columns = set(frame.columns)
    if {"anchor", "positive"} <= columns:
        names = [column for column in TRIPLET_COLUMNS if column in columns]
        for column in names:
            empty = frame[column].isna() | (frame[column].astype(str).str.strip() == "")
            if empty.any():
                raise DataFormatError(
                    f"{origin}: row {int(empty.to_numpy().argmax()) + 1} (1-based): `{column}` is empty."
                )
        ids = (
            frame["id"].astype(str) if "id" in columns else [f"{Path(origin).stem}-{row}" for row in range(len(frame))]
        )
        triplets = pd.DataFrame({"id": ids, **{column: frame[column].astype(str) for column in names}})
        return triplets.assign(negative=None) if "negative" not in columns else triplets
    nli_format = _nli_format(columns)
    return None if nli_format is None else nli_triplets(frame, origin, nli_format)


def _as_dataset(triplets: list[pd.DataFrame]) -> datasets.Dataset:
    frame = pd.concat(triplets, ignore_index=True)
    with_negatives = frame["negative"].notna()
    if with_negatives.any() and not with_negatives.all():
        raise DataFormatError(
            "triplets with and without a `negative` in one training dataset; give every row a negative, or none."
        )
    dataset = datasets.Dataset.from_pandas(frame.fillna(""), features=TRIPLET_FEATURES, preserve_index=False)
    return dataset if with_negatives.all() else dataset.remove_columns("negative")


def read_training_dataset(spec: TrainingDataset, **hub_kwargs) -> datasets.Dataset:
    """The rows of one named training dataset: its files (or its `datasets` split, with `hub_kwargs`: `cache_dir`,
    `token`, `revision`) read as scored pairs (`hf_sts.data.readers.STS_FEATURES`) or as triplets
    (`TRIPLET_FEATURES`, without `negative` for a triplet file without one), the shape chosen by the columns.

    Raises:
        DataFormatError: naming the file, row or column, for a malformed file, files of both shapes in one dataset,
            or a dataset that cannot be loaded.
    """
    origin = f"train_datasets.{spec.name}"
    if spec.dataset_name is not None:
        data = load_hub_dataset(spec.dataset_name, spec.dataset_config_name, split=spec.split, **hub_kwargs)
        where = f"{spec.dataset_name}/{spec.dataset_config_name or 'default'} [{spec.split}]"
        frame = pd.json_normalize(data.to_list())
        triplets = _triplet_frame(frame, where)
        if triplets is not None:
            return _as_dataset([triplets])
        return datasets.Dataset.from_pandas(to_sts_frame(frame, where), features=STS_FEATURES, preserve_index=False)
    shapes = {}
    for path in spec.train_file:
        if not Path(path).is_file():
            raise DataFormatError(
                f"{path}: no such file ({origin}; relative paths are read from the current directory)."
            )
        shapes[path] = _triplet_frame(read_table(Path(path)), path)
    kinds = {triplets is None for triplets in shapes.values()}
    if len(kinds) > 1:
        raise DataFormatError(
            f"{origin}: its files mix scored pairs and triplets ({', '.join(spec.train_file)}); give each shape its "
            "own entry in `train_datasets`."
        )
    if kinds == {True}:
        return read_training_files(list(spec.train_file))
    return _as_dataset(list(shapes.values()))


__all__ = [
    "NLI_FORMATS",
    "TRIPLET_FEATURES",
    "TrainingDataset",
    "is_triplets",
    "nli_triplets",
    "read_training_dataset",
    "text_columns",
    "training_datasets",
]
