"""STS metrics as an `evaluate.Metric`: Pearson r, Spearman rho, KLUE F1, MSE and MAE.

The metric is a local `evaluate.Metric` subclass, so it works offline (nothing is fetched from the Hub).
"""

import datasets
import evaluate
import numpy as np
from scipy import stats
from sklearn.metrics import f1_score, mean_absolute_error, mean_squared_error


SCORE_MIN, SCORE_MAX = 0.0, 5.0
BINARY_THRESHOLD = 3.0

_CITATION = """\
@inproceedings{park2021klue,
  title={KLUE: Korean Language Understanding Evaluation},
  author={Park, Sungjoon and Moon, Jihyung and Kim, Sungdong and others},
  booktitle={Thirty-fifth Conference on Neural Information Processing Systems Datasets and Benchmarks Track},
  year={2021}
}
"""

_DESCRIPTION = """\
Semantic textual similarity metrics of KLUE-STS (Park et al., 2021): Pearson r and Spearman rho between predicted
and gold scores (0.0-5.0), F1 of the gold binary labels against `prediction >= binary_threshold` (KLUE's F1, at
3.0), mean squared error and mean absolute error.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[float]`): predicted similarity scores, 0.0-5.0.
    references (`list[float]`): gold similarity scores, 0.0-5.0.
    binary_references (`list[int]`, *optional*): gold binary labels (1 = paraphrase; -1 where the data has none,
        which then count as `reference >= binary_threshold`); F1 is omitted without them.
    binary_threshold (`float`, *optional*, `None` is `3.0`): a score at or above it is binary 1: KLUE's 3.0, or
        what the data's binary labels imply (`hf_sts.data.checks.implied_binary_threshold`; 2.5 for the competition data).
Returns:
    pearson (`float`): Pearson r, in [-1, 1] (NaN when either side is constant).
    spearmanr (`float`): Spearman rho, in [-1, 1].
    f1 (`float`): F1 of the binary references vs `predictions >= binary_threshold`, in [0, 1].
    mse (`float`), mae (`float`): squared and absolute errors, in score units (squared for MSE).
"""


class StsMetric(evaluate.Metric):
    """Pearson r, Spearman rho, KLUE F1, MSE and MAE of STS predictions (see `_KWARGS_DESCRIPTION`).

    Pearson and Spearman come from `scipy.stats`, F1, MSE and MAE from `sklearn.metrics`.
    """

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}
            ),
        )

    def _compute(
        self, predictions, references, binary_references=None, binary_threshold: float | None = None
    ) -> dict[str, float]:
        binary_threshold = f1_threshold(binary_threshold)
        predictions = np.asarray(predictions, dtype=np.float64)
        references = np.asarray(references, dtype=np.float64)
        results = {
            "pearson": float(stats.pearsonr(predictions, references).statistic),
            "spearmanr": float(stats.spearmanr(predictions, references).statistic),
        }
        if binary_references is not None:
            binary_references = np.asarray(binary_references, dtype=int)
            binary_references = np.where(binary_references < 0, references >= binary_threshold, binary_references)
            binary_predictions = (predictions >= binary_threshold).astype(int)
            results["f1"] = float(f1_score(binary_references, binary_predictions))
        results["mse"] = float(mean_squared_error(references, predictions))
        results["mae"] = float(mean_absolute_error(references, predictions))
        return results


def f1_threshold(binary_threshold: float | None) -> float:
    """The F1 threshold in effect (0.0–5.0): `binary_threshold`, or KLUE's 3.0 for `None`."""
    return BINARY_THRESHOLD if binary_threshold is None else binary_threshold


def clip_scores(scores: np.ndarray) -> np.ndarray:
    """Clip scores to the 0.0–5.0 STS scale (what is written to files and scored)."""
    return np.clip(np.asarray(scores, dtype=np.float64), SCORE_MIN, SCORE_MAX)


def compute_metrics(eval_prediction, binary_threshold: float | None = None) -> dict[str, float]:
    """`Trainer.compute_metrics` hook: metrics of the clipped predictions (bind `binary_threshold` with
    `functools.partial` for another F1 threshold than KLUE's 3.0, the default).

    `eval_prediction.label_ids` is the tuple `(labels, binary_labels)` of shapes `(n,)` when the trainer's
    `label_names` are `["labels", "binary_labels"]`, or the labels alone.
    """
    label_ids = eval_prediction.label_ids
    labels, binary_labels = label_ids if isinstance(label_ids, (tuple, list)) else (label_ids, None)
    return StsMetric(keep_in_memory=True).compute(
        predictions=clip_scores(eval_prediction.predictions),
        references=labels,
        binary_references=binary_labels,
        binary_threshold=binary_threshold,
    )
