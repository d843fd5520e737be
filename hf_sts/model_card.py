"""Model cards for trained hf_sts models, rendered with `huggingface_hub.ModelCard` from a template in
`model_cards/`.

The card is a function of the run's output directory: `config.json`, `recipe.json` (the effective recipe),
`all_results.json` (the metrics) and `cv_results.json` (cross-validation, when the folder is a fold of such a run), so
it can be re-rendered at any time after training.
"""

import dataclasses
import json
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from transformers import AutoConfig

from .configuration_sts import StsBiEncoderConfig


TEMPLATE_NAME = "sts_model.md"
METRICS = (("pearson", "pearsonr", "Pearson r"), ("spearmanr", "spearmanr", "Spearman rho"), ("f1", "f1", "F1"))
KNOWN_DATASETS = {"klue-sts": ("klue/klue", "KLUE-STS", "sts"), "korsts": ("kor_nlu", "KorSTS", "sts")}


CITATIONS = {
    "klue": """@inproceedings{park2021klue,
  title={KLUE: Korean Language Understanding Evaluation},
  author={Park, Sungjoon and Moon, Jihyung and Kim, Sungdong and others},
  booktitle={Thirty-fifth Conference on Neural Information Processing Systems Datasets and Benchmarks Track},
  year={2021}
}""",
    "bert": """@inproceedings{devlin2019bert,
  title={BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding},
  author={Devlin, Jacob and Chang, Ming-Wei and Lee, Kenton and Toutanova, Kristina},
  booktitle={Proceedings of NAACL-HLT},
  year={2019}
}""",
    "roberta": """@article{liu2019roberta,
  title={RoBERTa: A Robustly Optimized BERT Pretraining Approach},
  author={Liu, Yinhan and Ott, Myle and Goyal, Naman and others},
  journal={arXiv preprint arXiv:1907.11692},
  year={2019}
}""",
    "electra": """@inproceedings{clark2020electra,
  title={ELECTRA: Pre-training Text Encoders as Discriminators Rather Than Generators},
  author={Clark, Kevin and Luong, Minh-Thang and Le, Quoc V. and Manning, Christopher D.},
  booktitle={International Conference on Learning Representations},
  year={2020}
}""",
    "sbert": """@inproceedings{reimers2019sentence,
  title={Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks},
  author={Reimers, Nils and Gurevych, Iryna},
  booktitle={Proceedings of EMNLP-IJCNLP},
  year={2019}
}""",
    "lora": """@inproceedings{hu2022lora,
  title={LoRA: Low-Rank Adaptation of Large Language Models},
  author={Hu, Edward J. and Shen, Yelong and Wallis, Phillip and others},
  booktitle={International Conference on Learning Representations},
  year={2022}
}""",
}


def _citations(backbone_type: str, bi_encoder: bool, lora: bool) -> str:
    """KLUE, the backbone's paper, and the papers of the methods the run used."""
    keys = ["klue", backbone_type if backbone_type in CITATIONS else None, "sbert" if bi_encoder else None]
    keys.append("lora" if lora else None)
    return "\n\n".join(CITATIONS[key] for key in keys if key)


def _cv_table(output_dir: Path) -> tuple[str, int | None]:
    """The rows of the cross-validation table from `cv_results.json` (of the run, or of the run this fold is in)."""
    for path in (output_dir / "cv_results.json", output_dir.parent / "cv_results.json"):
        if path.is_file():
            cv = json.loads(path.read_text(encoding="utf-8"))
            rows = [
                f"| {display} | {cv[f'cv_{key}_mean']:.4f} ± {cv[f'cv_{key}_std']:.4f} | {cv[f'oof_{key}']:.4f} |"
                for key, _, display in METRICS
                if f"cv_{key}_mean" in cv
            ]
            return "\n".join(rows), cv.get("num_folds")
    return "", None


def template_path() -> Path:
    """The card template: inside the installed package (wheel), else in the repository's `model_cards/`."""
    package = Path(__file__).resolve().parent
    for folder in (package / "model_cards", package.parent / "model_cards"):
        if (folder / TEMPLATE_NAME).is_file():
            return folder / TEMPLATE_NAME
    raise FileNotFoundError(f"Model card template {TEMPLATE_NAME} not found next to {package}.")


def _argument_defaults() -> dict[str, Any]:
    """The default of every recipe key, from the argument dataclasses."""
    from .arguments import ARGUMENT_CLASSES

    defaults = {}
    for cls in ARGUMENT_CLASSES:
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                defaults[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                defaults[f.name] = f.default_factory()
    return defaults


def _known_dataset(recipe: dict[str, Any]) -> tuple[str, str, str] | None:
    """`(hub id, display name, config)` of a well-known dataset the run used, from its dataset name or file paths."""
    if recipe.get("dataset_name"):
        return recipe["dataset_name"], recipe["dataset_name"], recipe.get("dataset_config_name") or "default"
    paths = " ".join(str(recipe.get(key) or "") for key in ("train_file", "validation_file")).lower()
    return next((value for key, value in KNOWN_DATASETS.items() if key in paths), None)


def render_model_card(output_dir: str | Path, repo_id: str | None = None) -> ModelCard:
    """Render the model card of the run in `output_dir`.

    Args:
        output_dir: a finished run's directory with `config.json` and `recipe.json` (`all_results.json` optional).
        repo_id: the Hub repository named in usage snippets; defaults to the recipe's `hub_model_id`, else the
            directory name.

    Raises:
        FileNotFoundError: if `config.json` or `recipe.json` is missing from `output_dir`.
    """
    output_dir = Path(output_dir)
    for name in ("config.json", "recipe.json"):
        if not (output_dir / name).is_file():
            raise FileNotFoundError(f"{output_dir}: no {name}; render the card of a finished hf_sts run.")
    recipe = json.loads((output_dir / "recipe.json").read_text(encoding="utf-8"))
    results_file = output_dir / "all_results.json"
    results = json.loads(results_file.read_text(encoding="utf-8")) if results_file.is_file() else {}
    config = AutoConfig.from_pretrained(output_dir)
    backbone = config.backbone_config
    bi_encoder = isinstance(config, StsBiEncoderConfig)
    shape = f"{backbone.model_type} backbone ({getattr(backbone, 'num_hidden_layers', '?')} layers, hidden size {backbone.hidden_size})"
    if bi_encoder:
        architecture_text = f"bi-encoder (Sentence-BERT): {shape}, `{config.pooling}` pooling, score = 5 × cosine"
    else:
        architecture_text = f"cross-encoder: {shape} + `{config.head}` regression head"
    repo_id = repo_id or recipe.get("hub_model_id") or output_dir.resolve().name
    dataset = _known_dataset(recipe)
    validation = recipe.get("validation_file") or (
        f"{dataset[1]} validation split" if dataset else "a held-out part of the training data"
    )

    eval_results = [
        EvalResult(
            task_type="text-classification",
            task_name="Semantic Textual Similarity",
            dataset_type=dataset[0] if dataset else "custom",
            dataset_name=dataset[1] if dataset else str(validation),
            dataset_config=dataset[2] if dataset else None,
            dataset_split="validation",
            metric_type=metric_type,
            metric_name=display,
            metric_value=results[f"eval_{key}"],
        )
        for key, metric_type, display in METRICS
        if f"eval_{key}" in results
    ]
    card_data = ModelCardData(
        language="ko",
        license="cc-by-sa-4.0" if dataset else None,
        library_name="transformers",
        pipeline_tag="sentence-similarity" if bi_encoder else "text-classification",
        tags=["hf_sts", "sentence-similarity", "bi-encoder" if bi_encoder else "cross-encoder", "sts", "korean"],
        datasets=[dataset[0]] if dataset else None,
        base_model=recipe.get("model_name_or_path"),
        metrics=[metric_type for key, metric_type, _ in METRICS if f"eval_{key}" in results] or None,
        model_name=repo_id,
        eval_results=eval_results or None,
    )
    metrics_rows = [
        f"| {key} | {value:.4f} |"
        for key, value in sorted(results.items())
        if key.startswith("eval_") and isinstance(value, float)
    ]
    if recipe.get("model_name_or_path"):
        base_model_text = f"[{recipe['model_name_or_path']}](https://huggingface.co/{recipe['model_name_or_path']})"
    else:
        base_model_text = (
            f"none: trained from scratch (`{recipe.get('model_type')}`, `{recipe.get('config_overrides')}`)"
        )
    training_files = [recipe[key] for key in ("train_file", "dataset_name") if recipe.get(key)]
    training_data = f"Trained on {', '.join(f'`{item}`' for item in training_files) or 'unspecified data'}"
    if dataset:
        training_data += f" ({dataset[1]}, CC BY-SA 4.0)"
    if recipe.get("add_swapped_pairs"):
        training_data += ", with every pair also in swapped order"
    training_data += "."
    settings = {**_argument_defaults(), **recipe}
    lora_text = ""
    if settings.get("use_lora"):
        lora_text = (
            f"rank {settings['lora_r']}, alpha {settings['lora_alpha']}, dropout {settings['lora_dropout']} on "
            f"`{settings.get('lora_target_modules') or 'query, value'}`; the head trained in full; "
            + (
                "this repository holds the adapter"
                if (output_dir / "adapter_config.json").is_file()
                else "merged into the weights"
            )
        )
    cv_table, cv_folds = _cv_table(output_dir)
    if bi_encoder:
        export_format = "sentence-transformers"
    else:
        export_format = "sequence-classification" if config.head == "cls" else ""
    return ModelCard.from_template(
        card_data,
        template_path=str(template_path()),
        model_name=repo_id,
        repo_id=repo_id,
        bi_encoder=bi_encoder,
        prompt=config.prompt,
        prompt_json=json.dumps(config.prompt or "", ensure_ascii=False),
        prompt_prefix=f"{json.dumps(config.prompt, ensure_ascii=False)} + " if config.prompt else "",
        architecture_text=architecture_text,
        base_model_text=base_model_text,
        loss=settings["loss"],
        loss_weights_text=f" with weights {recipe['loss_weights']}" if recipe.get("loss_weights") else "",
        training_data=training_data,
        validation_data=f"`{validation}`" if recipe.get("validation_file") else validation,
        domain_text=f"{dataset[1]}" if dataset else "the data named above",
        learning_rate=settings["learning_rate"],
        num_train_epochs=settings["num_train_epochs"],
        batch_size=settings["per_device_train_batch_size"],
        warmup=settings["warmup_steps"],
        weight_decay=settings["weight_decay"],
        max_seq_length=settings["max_seq_length"],
        seed=settings["seed"],
        recipe_json=json.dumps(recipe, indent=2, ensure_ascii=False),
        metrics_table="\n".join(metrics_rows) or "| (no evaluation was run) | |",
        lora_text=lora_text,
        adapter_only=(output_dir / "adapter_config.json").is_file(),
        base_model=recipe.get("model_name_or_path"),
        cv_table=cv_table,
        cv_folds=cv_folds,
        export_format=export_format,
        citations=_citations(backbone.model_type, bi_encoder, bool(settings.get("use_lora"))),
    )


def write_model_card(output_dir: str | Path, repo_id: str | None = None) -> Path:
    """Render the model card of the run in `output_dir` and save it as `output_dir/README.md`; returns the path."""
    path = Path(output_dir) / "README.md"
    render_model_card(output_dir, repo_id).save(path)
    return path
