"""The model card of a pretraining run (`model_cards/mlm_model.md`): the corpus, the steps and the held-out
perplexity, rendered with `huggingface_hub.ModelCard` from the run's output folder.
"""

import json
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData
from transformers import AutoConfig

from hf_sts.training.card import CITATIONS, markdown_table, template_path
from hf_sts.utils.write_guard import atomic_output


MLM_TEMPLATE_NAME = "mlm_model.md"


def render_pretraining_card(output_dir: str | Path) -> ModelCard:
    """Render the card of an `hf-sts pretrain` run in `output_dir` from its `recipe.json`, `corpus.json`,
    `all_results.json` and `config.json`, with `model_cards/mlm_model.md`: the start (encoder or from scratch), the
    text's sources and counts, the masking and steps, and the loss and perplexity.

    Raises:
        FileNotFoundError: if one of those files is missing from `output_dir`.
    """
    output_dir = Path(output_dir)
    recipe = json.loads((output_dir / "recipe.json").read_text(encoding="utf-8"))
    corpus = json.loads((output_dir / "corpus.json").read_text(encoding="utf-8"))
    results = json.loads((output_dir / "all_results.json").read_text(encoding="utf-8"))
    config = AutoConfig.from_pretrained(output_dir)
    base = recipe.get("model_name_or_path")
    start = f"starting from `{base}`" if base else f"from scratch (a {config.model_type} of `config_overrides`)"
    sources = [
        {"source": f"`{source['source']}`", "kind": source["kind"], "sentences": f"{source['sentences']:,}"}
        for source in corpus["sources"]
    ]
    held_out = results.get("eval_sentences", 0)
    note = (
        f"{corpus['total']:,} sentences in all; after cleaning and removing repeats, {results['train_sentences']:,} "
        f"were trained on and {held_out:,} held out for the evaluation loss"
        f"{' (`text_cleaning`: ' + ', '.join(recipe['text_cleaning']) + ')' if recipe.get('text_cleaning') else ''}."
    )
    if any(source["kind"].startswith("unlabeled") for source in corpus["sources"]):
        note += (
            " The text includes the sentences (not the labels) of validation or test files, by the recipe's choice."
        )
    masking = "whole words" if recipe.get("whole_word_mask") else "tokens"
    blocks = "one sentence per example" if recipe.get("line_by_line") else "sentences concatenated into blocks"
    procedure = (
        f"Masked-language modeling (`DataCollatorForLanguageModeling`): {recipe.get('mlm_probability', 0.15):.0%} of "
        f"the {masking} masked, {blocks} of {recipe.get('max_seq_length', 128)} tokens; "
        f"{results.get('train_steps', '?')} optimizer steps ({results.get('epoch', 0):.2f} epochs over "
        f"{results['train_blocks']:,} examples), learning rate {recipe.get('learning_rate', 5e-5)}, batch size "
        f"{recipe.get('per_device_train_batch_size', 8)} per device, seed {recipe.get('seed', 42)}; "
        f"{results.get('train_runtime', 0) / 60:.1f} minutes."
    )
    rows = [
        {"metric": key, "value": f"{results[key]:.4f}"}
        for key in ("train_loss", "eval_loss", "perplexity")
        if isinstance(results.get(key), float)
    ]
    data = ModelCardData(
        language=["ko"],
        library_name="transformers",
        pipeline_tag="fill-mask",
        tags=["hf_sts", "fill-mask", "tapt", "korean"],
        base_model=base if base and not Path(base).exists() else None,
    )
    return ModelCard.from_template(
        data,
        template_path=str(template_path(MLM_TEMPLATE_NAME)),
        model_name=output_dir.resolve().name,
        model_id=recipe.get("hub_model_id") or str(output_dir),
        start=start,
        corpus_table=markdown_table(sources),
        corpus_note=note,
        procedure=procedure,
        recipe_json=json.dumps(recipe, indent=2, ensure_ascii=False),
        results_table=markdown_table(rows),
        citations="\n\n".join(CITATIONS[key] for key in ("tapt", config.model_type) if key in CITATIONS),
    )


def write_pretraining_card(output_dir: str | Path) -> Path:
    """Render the card of the pretraining run in `output_dir` (see [`render_pretraining_card`]) and save it as
    `output_dir/README.md`; returns the path."""
    path = Path(output_dir) / "README.md"
    with atomic_output(path) as temporary:
        render_pretraining_card(output_dir).save(temporary)
    return path
