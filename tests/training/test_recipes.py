"""Every shipped recipe passes a dry check: it parses, builds its model from a tiny stand-in of the same model type,
and runs one training step through `hf_sts/run.py`, with everything else as the recipe says."""

import json
from pathlib import Path

import pandas as pd
import pytest
from transformers import AutoModel, AutoTokenizer

from hf_sts.models.sts.modeling_sts import MODEL_CLASSES
from hf_sts.run import main

from ..conftest import REPO_ROOT


RECIPES = sorted((REPO_ROOT / "recipes").glob("*.json"))
# The model type of each Hub encoder the recipes name (their config.json cannot be fetched offline).
HUB_MODEL_TYPES = {
    "klue/roberta-large": "roberta",
    "klue/roberta-base": "roberta",
    "klue/roberta-small": "roberta",
    "monologg/koelectra-base-v3-discriminator": "electra",
    "intfloat/multilingual-e5-small": "bert",
}
DRY_RUN = ["--max_steps", "1", "--max_train_samples", "8", "--max_eval_samples", "8", "--report_to", "none"]
# From-scratch recipes: the same model type, tiny.
TINY_SCRATCH = ["--config_overrides", "hidden_size=32,num_hidden_layers=2,num_attention_heads=2,intermediate_size=37"]


def test_recipes_are_shipped():
    names = {path.stem for path in RECIPES}
    assert {
        "quickstart",
        "roberta_large",
        "roberta_large_mlp",
        "roberta_large_5fold",
        "roberta_large_lora",
        "roberta_base_mean",
        "koelectra_base_l1huber",
        "koelectra_base_freeze13",
        "roberta_large_lstm",
        "sbert_roberta_large",
        "sbert_cosent_roberta_large",
        "multilingual_e5_small",
        "multilingual_e5_small_bi_encoder",
        "multilingual_e5_small_nli",
        "multilingual_e5_small_nli_sts",
        "multilingual_e5_small_nli_sts_korsts",
        "multilingual_e5_small_multitask",
        "multilingual_e5_small_distilled",
    } <= names


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda path: path.stem)
def test_recipe_dry_run(recipe, stand_in_encoders, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)  # recipes name their data relative to the repository
    settings = json.loads(recipe.read_text(encoding="utf-8"))
    if settings.get("model_name_or_path", "").startswith("outputs/"):
        # The second stage of a staged recipe: it starts from the first stage's run, here a tiny one of the same
        # architecture.
        stage = tmp_path / "stage-1"
        backbone = AutoModel.from_pretrained(stand_in_encoders["bert"])
        MODEL_CLASSES[settings["architecture"]].from_backbone(backbone, prompt=settings.get("prompt")).save_pretrained(
            stage
        )
        AutoTokenizer.from_pretrained(stand_in_encoders["bert"]).save_pretrained(stage)
        model = ["--model_name_or_path", str(stage)]
    elif "model_name_or_path" in settings:
        name = settings["model_name_or_path"]
        assert name in HUB_MODEL_TYPES, f"{recipe.name} uses {name}: add its model type to HUB_MODEL_TYPES"
        model = ["--model_name_or_path", str(stand_in_encoders[HUB_MODEL_TYPES[name]])]
    else:
        model = TINY_SCRATCH
    argv = [str(recipe), *model, *DRY_RUN, "--output_dir", str(tmp_path / "out")]
    if "train_datasets" in settings:
        # Files the user makes or fetches (silver labels of `hf-sts label`, KLUE-NLI train): small stand-ins.
        argv += ["--train_datasets", json.dumps(_stand_in_files(settings["train_datasets"], tmp_path))]
    if settings.get("num_folds"):
        argv += ["--num_folds", "2"]  # the dry run of a cross-validation recipe: two folds
    metrics = main(argv)
    out = tmp_path / "out"
    if settings.get("num_folds"):
        assert "oof_pearson" in metrics and (out / "oof_predictions.csv").is_file()
        out = out / "fold-0"
    else:  # `max_train_samples` 8 of every training dataset
        assert (
            metrics["train_samples"] >= 8 * len(settings.get("train_datasets", [None]))
            and metrics["eval_samples"] == 8
        )
    config = json.loads((out / "config.json").read_text())
    architecture = settings.get("architecture", "cross-encoder")
    assert (
        config["model_type"]
        == {"cross-encoder": "hf_sts_cross_encoder", "bi-encoder": "hf_sts_bi_encoder"}[architecture]
    )
    assert config.get("head", "n/a") == (settings.get("head", "cls") if architecture == "cross-encoder" else "n/a")
    if settings.get("num_folds"):
        return  # fold models get no model card of their own
    card = (out / "README.md").read_text(encoding="utf-8")
    if architecture == "bi-encoder":
        assert "**bi-encoder**" in card and "pipeline_tag: sentence-similarity" in card and "model.encode(" in card
    else:
        assert f"+ `{config['head']}` regression head" in card and "pipeline_tag: text-classification" in card


def _stand_in_files(entries: dict, tmp_path) -> dict:
    """`train_datasets` with each file that is not in the repository replaced by a small file of the same name and
    shape: KLUE-NLI train by a few NLI pairs, a file under `outputs/` (silver labels of `hf-sts label`) by KLUE-STS
    train pairs."""
    pairs = pd.read_csv(REPO_ROOT / "recipes" / "data" / "klue-sts" / "klue-sts-v1.1_train.csv").head(16)
    nli = [
        {"guid": f"n{row}-{label}", "premise": sentence1, "hypothesis": sentence2, "gold_label": label}
        for row, (sentence1, sentence2) in enumerate(zip(pairs.sentence1, pairs.sentence2, strict=True))
        for label in ("entailment", "contradiction")
    ]
    entries = json.loads(json.dumps(entries))
    for entry in entries.values():
        files = [entry["train_file"]] if isinstance(entry["train_file"], str) else entry["train_file"]
        for index, path in enumerate(files):
            if (REPO_ROOT / path).is_file():
                continue
            files[index] = str(tmp_path / "stand-in" / Path(path).name)
            Path(files[index]).parent.mkdir(exist_ok=True)
            if "klue-nli" in path:
                Path(files[index]).write_text(json.dumps(nli, ensure_ascii=False), encoding="utf-8")
            else:
                pairs.to_csv(files[index], index=False)
        entry["train_file"] = files
    return entries
