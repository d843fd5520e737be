"""Model cards rendered from a run folder: metadata by architecture, tables built by transformers."""

import json

import pytest
from huggingface_hub import ModelCard

from hf_sts.training.card import render_model_card, write_model_card


RESULTS = {"eval_pearson": 0.91234567, "eval_spearmanr": 0.9, "eval_f1": 0.85, "eval_mse": 0.3, "train_runtime": 1.0}
RECIPE = {
    "model_name_or_path": "klue/roberta-small",
    "train_file": "data/klue-sts/klue-sts-v1.1_train.csv",
    "validation_file": "data/klue-sts/klue-sts-v1.1_dev.json",
    "learning_rate": 3e-5,
}


def _run(folder, model, results=RESULTS):
    """What a finished run leaves in output_dir, as far as the card reads it."""
    model.save_pretrained(folder)
    (folder / "recipe.json").write_text(json.dumps(RECIPE))
    if results is not None:
        (folder / "all_results.json").write_text(json.dumps(results))
    return folder


@pytest.mark.parametrize(("kind", "task"), [("bi-encoder", "sentence-similarity"), ("cls", "text-classification")])
def test_card_metadata_names_the_task_of_the_architecture(tmp_path, tiny_model, kind, task):
    card = ModelCard.load(write_model_card(_run(tmp_path, tiny_model("roberta", kind)), "someone/model"))
    data = card.data.to_dict()
    assert data["pipeline_tag"] == task
    entry = data["model-index"][0]["results"][0]
    assert entry["task"]["type"] == task  # a bi-encoder is never listed as text classification
    assert entry["dataset"]["name"] == "KLUE-STS" and entry["dataset"]["split"] == "validation"
    metrics = {metric["type"]: metric["value"] for metric in entry["metrics"]}
    assert metrics == pytest.approx({"pearsonr": 0.91234567, "spearmanr": 0.9, "f1": 0.85})
    assert "{{" not in card.text and "{%" not in card.text
    assert ("**bi-encoder**" in card.text) == (kind == "bi-encoder")


def test_card_tables_are_markdown_tables(tmp_path, tiny_model):
    run = _run(tmp_path / "cv", tiny_model("bert", "cls"))
    cv = {"num_folds": 5, "cv_pearson_mean": 0.9, "cv_pearson_std": 0.01, "oof_pearson": 0.89}
    (tmp_path / "cv_results.json").write_text(json.dumps(cv))  # `cv` is a fold of the run in `tmp_path`
    text = render_model_card(run).text
    metrics = text.split("On the validation set", 1)[1].split("\n\n")[1].splitlines()
    assert [cell.strip() for cell in metrics[0].strip("|").split("|")] == ["metric", "value"]
    assert set(metrics[1]) <= set("|:-")  # the separator line
    rows = {line.strip("| ").split("|")[0].strip(): line.split("|")[2].strip() for line in metrics[2:]}
    assert rows == {"eval_f1": "0.8500", "eval_mse": "0.3000", "eval_pearson": "0.9123", "eval_spearmanr": "0.9000"}
    description = text.split("## Model description", 1)[1].split("\n\n")[1].splitlines()
    cells = {line.strip("| ").split("|")[0].strip(): line.split("|")[2].strip() for line in description[2:]}
    assert list(cells) == ["Architecture", "Base model", "Loss", "Output"]
    assert cells["Architecture"].endswith("+ `cls` regression head") and cells["Loss"] == "`mse`"
    assert "Cross-validation of this recipe (5 folds" in text
    cv_lines = text.split("pooled out-of-fold predictions):", 1)[1].split("\n\n")[1].splitlines()
    assert [cell.strip() for cell in cv_lines[0].strip("|").split("|")] == ["metric", "folds", "out-of-fold"]
    assert [cell.strip() for cell in cv_lines[2].strip("|").split("|")] == ["Pearson r", "0.9000 ± 0.0100", "0.8900"]


def test_card_without_evaluation(tmp_path, tiny_model):
    card = render_model_card(_run(tmp_path, tiny_model("bert", "mean"), results=None))
    assert "No evaluation was run." in card.text and "Cross-validation" not in card.text
    assert "model-index" not in card.data.to_dict()
    with pytest.raises(FileNotFoundError, match=r"missing: no config\.json"):
        render_model_card(tmp_path / "missing")
