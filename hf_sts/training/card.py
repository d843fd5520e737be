"""Model cards for trained hf_sts models, rendered with `huggingface_hub.ModelCard` from the template
`model_cards/sts_model.md`.

The card is a function of the run's output directory: `config.json`, `recipe.json` (the effective recipe),
`all_results.json` (the metrics) and `cv_results.json` (cross-validation, when the folder is a fold of such a run), so
it can be re-rendered at any time after training. [`card_facts`] gives the same facts to the demo page.
"""

import dataclasses
import json
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from transformers import AutoConfig
from transformers.modelcard import make_markdown_table

from hf_sts.data.readers import file_list
from hf_sts.data.triplets import training_datasets
from hf_sts.inference.loading import EXPORT_INPUT_KEY, is_regression_classifier
from hf_sts.metrics import BINARY_THRESHOLD, f1_threshold
from hf_sts.models.sts.configuration_sts import StsBackboneConfig, StsBiEncoderConfig
from hf_sts.training.parser import recipe_defaults
from hf_sts.utils.write_guard import atomic_output


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
    "tapt": """@inproceedings{gururangan2020dont,
  title={Don't Stop Pretraining: Adapt Language Models to Domains and Tasks},
  author={Gururangan, Suchin and Marasovi{\'c}, Ana and Swayamdipta, Swabha and others},
  booktitle={Proceedings of ACL},
  year={2020}
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


def template_path(name: str = TEMPLATE_NAME) -> Path:
    """The card template `name`: inside the installed package (wheel), else in the repository's `model_cards/`."""
    package = Path(__file__).resolve().parents[1]  # hf_sts/
    for folder in (package / "model_cards", package.parent / "model_cards"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"Model card template {name} not found next to {package}.")


def _known_dataset(recipe: dict[str, Any]) -> tuple[str, str, str] | None:
    """`(hub id, display name, config)` of a well-known dataset the run used, from its dataset name or file paths."""
    if recipe.get("dataset_name"):
        return recipe["dataset_name"], recipe["dataset_name"], recipe.get("dataset_config_name") or "default"
    files = file_list(recipe.get("train_file")) + file_list(recipe.get("validation_file"))
    files += [path for spec in training_datasets(recipe.get("train_datasets")) for path in spec.train_file]
    paths = " ".join(files).lower()
    return next((value for key, value in KNOWN_DATASETS.items() if key in paths), None)


def markdown_table(rows: list[dict[str, str]]) -> str:
    """A Markdown table of `rows` (one dict of strings per row, the keys of the first one the header), built by
    transformers' `make_markdown_table`; empty for no rows. The tables of model cards, `hf-sts describe` and
    `hf-sts leaderboard`."""
    return make_markdown_table(rows).rstrip("\n") if rows else ""


def _metrics_table(results: dict[str, Any]) -> str:
    """The table of every `eval_*` metric in `all_results.json` (4 decimals); empty when no evaluation was run."""
    return markdown_table(
        [
            {"metric": key, "value": f"{value:.4f}"}
            for key, value in sorted(results.items())
            if key.startswith("eval_") and isinstance(value, float)
        ]
    )


def _cv_table(output_dir: Path) -> tuple[str, int | None]:
    """The cross-validation table from `cv_results.json` (of the run, or of the run this fold is in), and its number
    of folds; `("", None)` when there is none."""
    for path in (output_dir / "cv_results.json", output_dir.parent / "cv_results.json"):
        if path.is_file():
            cv = json.loads(path.read_text(encoding="utf-8"))
            rows = [
                {
                    "metric": display,
                    "folds": f"{cv[f'cv_{key}_mean']:.4f} ± {cv[f'cv_{key}_std']:.4f}",
                    "out-of-fold": f"{cv[f'oof_{key}']:.4f}",
                }
                for key, _, display in METRICS
                if f"cv_{key}_mean" in cv
            ]
            return markdown_table(rows), cv.get("num_folds")
    return "", None


@dataclasses.dataclass
class _RunFacts:
    """What the card says about a run, read from its output directory (see [`_gather_facts`])."""

    output_dir: Path
    recipe: dict[str, Any]  # recipe.json as written
    settings: dict[str, Any]  # every recipe key: the argument defaults, overridden by recipe.json
    results: dict[str, Any]  # all_results.json, or {} without one
    config: StsBackboneConfig
    bi_encoder: bool
    repo_id: str
    dataset: tuple[str, str, str] | None  # a well-known dataset: (hub id, display name, config)
    validation: str  # the validation data, in words or as the file name

    @property
    def adapter_only(self) -> bool:
        """Whether the folder holds a LoRA adapter rather than full weights."""
        return (self.output_dir / "adapter_config.json").is_file()


def _gather_facts(output_dir: Path, repo_id: str | None) -> _RunFacts:
    """Read `config.json`, `recipe.json` and `all_results.json` (optional) of the run in `output_dir`.

    Raises:
        FileNotFoundError: if `config.json` or `recipe.json` is missing from `output_dir`.
    """
    for name in ("config.json", "recipe.json"):
        if not (output_dir / name).is_file():
            raise FileNotFoundError(f"{output_dir}: no {name}; render the card of a finished hf_sts run.")

    recipe = json.loads((output_dir / "recipe.json").read_text(encoding="utf-8"))
    results_file = output_dir / "all_results.json"
    results = json.loads(results_file.read_text(encoding="utf-8")) if results_file.is_file() else {}
    config = AutoConfig.from_pretrained(output_dir)
    dataset = _known_dataset(recipe)
    return _RunFacts(
        output_dir=output_dir,
        recipe=recipe,
        settings={**recipe_defaults(), **recipe},
        results=results,
        config=config,
        bi_encoder=isinstance(config, StsBiEncoderConfig),
        repo_id=repo_id or recipe.get("hub_model_id") or output_dir.resolve().name,
        dataset=dataset,
        validation=recipe.get("validation_file")
        or (f"{dataset[1]} validation split" if dataset else "a held-out part of the training data"),
    )


def _card_data(facts: _RunFacts) -> ModelCardData:
    """The card's metadata (YAML front matter): language, license, pipeline tag, tags, datasets, base model and the
    `model-index` evaluation results. A bi-encoder is a `sentence-similarity` model (pipeline tag and the task of its
    evaluation results); a cross-encoder, which scores a pair in one pass, is `text-classification` (one regression
    output)."""
    task = "sentence-similarity" if facts.bi_encoder else "text-classification"
    dataset, results = facts.dataset, facts.results
    eval_results = [
        EvalResult(
            task_type=task,
            task_name="Semantic Textual Similarity",
            dataset_type=dataset[0] if dataset else "custom",
            dataset_name=dataset[1] if dataset else str(facts.validation),
            dataset_config=dataset[2] if dataset else None,
            dataset_split="validation",
            metric_type=metric_type,
            metric_name=display,
            metric_value=results[f"eval_{key}"],
        )
        for key, metric_type, display in METRICS
        if f"eval_{key}" in results
    ]
    return ModelCardData(
        language="ko",
        license="cc-by-sa-4.0" if dataset else None,
        library_name="transformers",
        pipeline_tag=task,
        tags=["hf_sts", "sentence-similarity", "bi-encoder" if facts.bi_encoder else "cross-encoder", "sts", "korean"],
        datasets=[dataset[0]] if dataset else None,
        base_model=facts.recipe.get("model_name_or_path"),
        metrics=[metric_type for key, metric_type, _ in METRICS if f"eval_{key}" in results] or None,
        model_name=facts.repo_id,
        eval_results=eval_results or None,
    )


def _architecture_text(config: StsBackboneConfig, bi_encoder: bool) -> str:
    """One line on the model: bi-encoder or cross-encoder, backbone type and size, pooling or head."""
    backbone = config.backbone_config
    shape = (
        f"{backbone.model_type} backbone ({getattr(backbone, 'num_hidden_layers', '?')} layers, hidden size "
        f"{backbone.hidden_size})"
    )
    if bi_encoder:
        return f"bi-encoder (Sentence-BERT): {shape}, `{config.pooling}` pooling, score = 5 × cosine"
    return f"cross-encoder: {shape} + `{config.head}` regression head"


def _base_model_text(recipe: dict[str, Any]) -> str:
    """The pretrained model the run started from, as a Hub link, or how it was built from scratch."""
    if recipe.get("model_name_or_path"):
        return f"[{recipe['model_name_or_path']}](https://huggingface.co/{recipe['model_name_or_path']})"
    return f"none: trained from scratch (`{recipe.get('model_type')}`, `{recipe.get('config_overrides')}`)"


def _training_data_text(settings: dict[str, Any], dataset: tuple[str, str, str] | None) -> str:
    """One sentence on the training data (from the run's `settings`: recipe over defaults): the files or dataset,
    its license when known, undersampling, swapped pairs."""
    training_files = [*file_list(settings["train_file"]), *file_list(settings["dataset_name"])]
    text = f"Trained on {', '.join(f'`{item}`' for item in training_files) or 'unspecified data'}"
    specs = training_datasets(settings.get("train_datasets"))
    if specs:
        parts = [
            f"`{spec.name}` ({', '.join(f'`{item}`' for item in spec.train_file or [spec.dataset_name])}; loss "
            f"{spec.loss or 'mnrl for triplets, else ' + settings['loss']}"
            f"{f', weight {spec.loss_weight:g}' if spec.loss_weight != 1 else ''})"
            for spec in specs
        ]
        text = (
            f"Trained on {len(specs)} datasets, each batch from one ({settings['multi_dataset_batch_sampler']} "
            f"sampling): {'; '.join(parts)}"
        )
    if dataset:
        text += f" ({dataset[1]}, CC BY-SA 4.0)"
    if settings["undersample_bucket"] is not None:
        text += (
            f", label bucket {settings['undersample_bucket']} undersampled to {settings['undersample_ratio']:.0%} of "
            f"its pairs (seed {settings['seed']})"
        )
    if settings["add_swapped_pairs"]:
        text += ", with every pair also in swapped order"
    return text + "."


def _lora_text(facts: _RunFacts) -> str:
    """The LoRA settings of the run and what the folder holds (adapter or merged weights); empty without LoRA."""
    settings = facts.settings
    if not settings.get("use_lora"):
        return ""
    holds = "this repository holds the adapter" if facts.adapter_only else "merged into the weights"
    return (
        f"rank {settings['lora_r']}, alpha {settings['lora_alpha']}, dropout {settings['lora_dropout']} on "
        f"`{settings.get('lora_target_modules') or 'query, value'}`; the head trained in full; {holds}"
    )


def cleaning_text(steps: list[str]) -> str:
    """One sentence on a model's input cleaning (`config.text_cleaning`), for its card and its exports' cards."""
    return (
        f"the `hf_sts.models.sts.text_cleaning` steps {', '.join(f'`{step}`' for step in steps)}, in this order, on every "
        f"sentence before the prompt: `hf_sts.models.sts.text_cleaning.clean_text(sentence, {json.dumps(steps)})`"
    )


def _f1_text(results: dict[str, Any], recipe: dict[str, Any]) -> str:
    """How F1 was computed: the binary threshold (`all_results.json`'s `binary_threshold`) and where it came from."""
    threshold = results.get("binary_threshold", BINARY_THRESHOLD)
    if recipe.get("binary_threshold") is not None:
        origin = "the recipe's `binary_threshold`"
    elif threshold == BINARY_THRESHOLD:
        origin = "KLUE's F1"
    else:
        origin = "the threshold the data's binary labels follow"
    return f"`prediction >= {float(threshold)}` ({origin})"


def _description_table(facts: _RunFacts) -> str:
    """The "Model description" table: architecture, base model, loss, prompt and LoRA (when used), output."""
    config, recipe = facts.config, facts.recipe
    loss_weights = f" with weights {recipe['loss_weights']}" if recipe.get("loss_weights") else ""
    rows = [
        ("Architecture", _architecture_text(config, facts.bi_encoder)),
        ("Base model", _base_model_text(recipe)),
        ("Loss", f"`{facts.settings['loss']}`{loss_weights}"),
    ]
    if config.text_cleaning:
        cleaning = cleaning_text(config.text_cleaning)
        rows.append(("Input cleaning", f"{cleaning} (`config.text_cleaning`; `model.tokenize` applies it)"))
    if config.prompt:
        prompt = json.dumps(config.prompt, ensure_ascii=False)
        rows.append(("Prompt", f"`{prompt}` before every sentence (`config.prompt`; `model.tokenize` applies it)"))
    if lora := _lora_text(facts):
        rows.append(("LoRA", lora))
    rows.append(("Output", "one score per pair, trained on 0.0–5.0; clip to [0, 5] for use"))
    return markdown_table([{"property": name, "value": value} for name, value in rows])


def _template_values(facts: _RunFacts) -> dict[str, Any]:
    """The variables of the card template: texts, tables and switches."""
    config, recipe, settings, dataset = facts.config, facts.recipe, facts.settings, facts.dataset
    cv_table, cv_folds = _cv_table(facts.output_dir)
    if facts.bi_encoder:
        export_format = "sentence-transformers"
    else:
        export_format = "sequence-classification" if config.head == "cls" else ""
    return {
        "model_name": facts.repo_id,
        "repo_id": facts.repo_id,
        "bi_encoder": facts.bi_encoder,
        "prompt": config.prompt,
        "text_cleaning": cleaning_text(config.text_cleaning) if config.text_cleaning else "",
        "f1_text": _f1_text(facts.results, recipe),
        "prompt_json": json.dumps(config.prompt or "", ensure_ascii=False),
        "prompt_prefix": f"{json.dumps(config.prompt, ensure_ascii=False)} + " if config.prompt else "",
        "description_table": _description_table(facts),
        "training_data": _training_data_text(settings, dataset),
        "validation_data": f"`{facts.validation}`" if recipe.get("validation_file") else facts.validation,
        "domain_text": f"{dataset[1]}" if dataset else "the data named above",
        "learning_rate": settings["learning_rate"],
        "num_train_epochs": settings["num_train_epochs"],
        "batch_size": settings["per_device_train_batch_size"],
        "warmup": settings["warmup_steps"],
        "weight_decay": settings["weight_decay"],
        "max_seq_length": settings["max_seq_length"],
        "seed": settings["seed"],
        "recipe_json": json.dumps(recipe, indent=2, ensure_ascii=False),
        "metrics_table": _metrics_table(facts.results) or "No evaluation was run.",
        "adapter_only": facts.adapter_only,
        "base_model": recipe.get("model_name_or_path"),
        "cv_table": cv_table,
        "cv_folds": cv_folds,
        "export_format": export_format,
        "citations": _citations(config.backbone_config.model_type, facts.bi_encoder, bool(settings.get("use_lora"))),
    }


@dataclasses.dataclass
class CardFacts:
    """What a page shows beside a model (`hf-sts demo`): its card's facts as `(name, Markdown text)` rows, the
    threshold of its binary verdict (a score `>= binary_threshold` is "similar"; 0.0–5.0), and whether it is a
    bi-encoder."""

    rows: list[tuple[str, str]]
    binary_threshold: float
    bi_encoder: bool

    def markdown(self) -> str:
        """The rows as a Markdown list, one `**name**: text` item each."""
        return "\n".join(f"- **{name}**: {text}" for name, text in self.rows)


def _run_folder(model_dir: Path) -> Path | None:
    """The run folder whose card describes the model in `model_dir`: `model_dir` itself when it holds `config.json`
    and `recipe.json`, else its parent (a run's `checkpoint-*` or LoRA `adapter/` folder), else `None`."""
    for folder in (model_dir, model_dir.parent):
        if (folder / "config.json").is_file() and (folder / "recipe.json").is_file():
            return folder
    return None


def card_facts(model_dir: str | Path) -> CardFacts:
    """The card facts of the model in the local folder `model_dir`, from the same files and texts as its model card
    (see [`render_model_card`]): architecture, base model, head, loss, dev Pearson (`all_results.json`), the binary
    verdict's threshold (`binary_threshold`, else the recipe's, else KLUE's 3.0), prompt, text cleaning, LoRA and
    `max_seq_length`. A run's `checkpoint-*` or `adapter/` folder gets its run's facts (the metrics are the run's).
    A folder without `recipe.json` gets what its `config.json` says: an exported sequence-classification model its
    recorded prompt and cleaning (`config.hf_sts_input`), a plain encoder that it is scored zero-shot.

    Raises:
        OSError, ValueError: for a folder whose `config.json` does not load (`AutoConfig`).
    """
    model_dir = Path(model_dir)
    run_dir = _run_folder(model_dir)
    config = AutoConfig.from_pretrained(run_dir or model_dir)
    if run_dir is not None and isinstance(config, StsBackboneConfig):
        facts = _gather_facts(run_dir, None)
        settings, results = facts.settings, facts.results
        config = facts.config
        if facts.bi_encoder:
            head = f"none: `{config.pooling}` pooling of each sentence, score = {config.score_scale:g} × cosine"
        else:
            sizes = f" {config.head_hidden_sizes}" if config.head == "mlp" else ""
            head = f"`{config.head}`{sizes}"
        loss_weights = f" with weights {facts.recipe['loss_weights']}" if facts.recipe.get("loss_weights") else ""
        if isinstance(results.get("eval_pearson"), float):
            evaluation = f"**{results['eval_pearson']:.4f}**"
            others = [
                f"{display} {results[f'eval_{key}']:.4f}"
                for key, _, display in METRICS[1:]
                if isinstance(results.get(f"eval_{key}"), float)
            ]
            pairs = f"{results['eval_samples']} pairs of " if results.get("eval_samples") else ""
            evaluation += f" ({', '.join(others)}; {pairs}{facts.validation})" if others else ""
        else:
            evaluation = "not evaluated"
        rows = [
            ("Architecture", _architecture_text(config, facts.bi_encoder)),
            ("Base model", _base_model_text(facts.recipe)),
            ("Head", head),
            ("Loss", f"`{settings['loss']}`{loss_weights}"),
            ("Dev Pearson", evaluation),
            ("Binary verdict", _f1_text(results, facts.recipe)),
            ("Prompt", f"`{json.dumps(config.prompt, ensure_ascii=False)}`" if config.prompt else "none"),
            ("Text cleaning", ", ".join(f"`{step}`" for step in config.text_cleaning or []) or "none"),
        ]
        if lora := _lora_text(facts):
            rows.append(("LoRA", lora))
        rows.append(("Max sequence length", f"{settings['max_seq_length']} tokens"))
        if run_dir != model_dir:
            rows.append(("Run", f"`{run_dir}` (this model is one of its folders; the metrics are the run's)"))
        threshold = f1_threshold(results.get("binary_threshold", facts.recipe.get("binary_threshold")))
        return CardFacts(rows, float(threshold), facts.bi_encoder)
    if isinstance(config, StsBackboneConfig):  # an hf_sts model without its run's files
        bi_encoder = isinstance(config, StsBiEncoderConfig)
        prompt, cleaning = config.prompt, config.text_cleaning
        rows = [("Architecture", _architecture_text(config, bi_encoder))]
        unknown = "not recorded (no recipe.json or all_results.json beside the model)"
    elif is_regression_classifier(config):
        bi_encoder = False
        recorded = getattr(config, EXPORT_INPUT_KEY, None)
        prompt, cleaning = (recorded or {}).get("prompt"), (recorded or {}).get("text_cleaning")
        architecture = config.architectures[0]
        rows = [("Architecture", f"cross-encoder: `{architecture}`, one regression output (an `hf-sts export`)")]
        unknown = "not recorded in an export (see the hf_sts model's card)"
        if recorded is None:
            rows.append(("Input", "no `hf_sts_input` in config.json: no prompt or cleaning applied"))
    else:
        bi_encoder = True
        prompt, cleaning = None, None
        rows = [("Architecture", f"a plain `{config.model_type}` encoder, scored zero-shot: 5 × cosine")]
        unknown = "none: not an STS model"
    rows += [
        ("Base model", unknown),
        ("Loss", unknown),
        ("Dev Pearson", unknown),
        ("Binary verdict", f"`prediction >= {BINARY_THRESHOLD}` (KLUE's F1)"),
        ("Prompt", f"`{json.dumps(prompt, ensure_ascii=False)}`" if prompt else "none"),
        ("Text cleaning", ", ".join(f"`{step}`" for step in cleaning or []) or "none"),
    ]
    return CardFacts(rows, BINARY_THRESHOLD, bi_encoder)


def render_model_card(output_dir: str | Path, repo_id: str | None = None) -> ModelCard:
    """Render the model card of the run in `output_dir`: gather the run's facts, build the metadata
    (`ModelCardData`: pipeline tag `sentence-similarity` for a bi-encoder, `text-classification` for a
    cross-encoder) and the template's texts and tables, and fill in `model_cards/sts_model.md`.

    Args:
        output_dir: a finished run's directory with `config.json` and `recipe.json` (`all_results.json` and
            `cv_results.json` optional; a fold's run directory holds the latter one level up).
        repo_id: the Hub repository named in usage snippets; defaults to the recipe's `hub_model_id`, else the
            directory name.

    Raises:
        FileNotFoundError: if `config.json` or `recipe.json` is missing from `output_dir`, or the template is not
            installed.
    """
    facts = _gather_facts(Path(output_dir), repo_id)
    return ModelCard.from_template(_card_data(facts), template_path=str(template_path()), **_template_values(facts))


def write_model_card(output_dir: str | Path, repo_id: str | None = None) -> Path:
    """Render the model card of the run in `output_dir` and save it as `output_dir/README.md` (atomically, through a
    temporary file as `ModelCard.save` writes it); returns the path."""
    path = Path(output_dir) / "README.md"
    with atomic_output(path) as temporary:
        render_model_card(output_dir, repo_id).save(temporary)
    return path
