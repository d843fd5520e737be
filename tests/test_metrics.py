import numpy as np
import pandas as pd
import pytest
from transformers import EvalPrediction

from hf_sts.metrics import StsMetric, compute_metrics


def test_metric_against_independent_computations(klue_dev):
    labels = np.asarray(klue_dev["label"][:])
    binary = np.asarray(klue_dev["binary_label"][:])
    rng = np.random.default_rng(0)
    predictions = np.clip(labels + rng.normal(0, 1.0, size=labels.shape), 0, 5)
    result = StsMetric(keep_in_memory=True).compute(
        predictions=predictions, references=labels, binary_references=binary
    )
    assert result["pearson"] == pytest.approx(np.corrcoef(predictions, labels)[0, 1])
    ranks = pd.DataFrame({"p": predictions, "l": labels}).rank()
    assert result["spearmanr"] == pytest.approx(np.corrcoef(ranks["p"], ranks["l"])[0, 1])
    predicted = predictions >= 3.0
    tp = np.sum(predicted & (binary == 1))
    fp = np.sum(predicted & (binary == 0))
    fn = np.sum(~predicted & (binary == 1))
    assert result["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert result["mse"] == pytest.approx(np.mean((predictions - labels) ** 2))
    assert result["mae"] == pytest.approx(np.mean(np.abs(predictions - labels)))
    assert 0.5 < result["pearson"] < 0.95  # noise of std 1 leaves a partial correlation


def test_compute_metrics_clips_predictions_to_scale():
    labels = np.array([0.0, 1.0, 4.0, 5.0])
    raw = np.array([-1.0, 1.0, 4.0, 7.0])
    metrics = compute_metrics(EvalPrediction(predictions=raw, label_ids=(labels, np.array([0, 0, 1, 1]))))
    assert metrics["mse"] == pytest.approx(0.0)  # -1 -> 0 and 7 -> 5
    assert metrics["f1"] == pytest.approx(1.0)
