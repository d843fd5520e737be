"""Export a trained hf_sts model into the formats of the libraries where users score sentence pairs.

    hf-sts export RUN_DIR --format sequence-classification --output DIR   # cross-encoder with the `cls` head
    hf-sts export RUN_DIR --format sentence-transformers --output DIR     # bi-encoder

- `sequence-classification`: a plain `AutoModelForSequenceClassification` checkpoint of the backbone's type
  (`num_labels=1`, `problem_type="regression"`), loadable without hf_sts by `transformers.pipeline(
  "text-classification", function_to_apply="none")` and `sentence_transformers.CrossEncoder`, which score a pair as
  the hf_sts model does (0.0–5.0 scale, unclipped). The hf_sts `cls` head is transformers' classification head, so
  its weights map one to one (BERT: the pooler and `classifier`; RoBERTa, ELECTRA, ...: `classifier.dense` and
  `classifier.out_proj`); other heads have no counterpart there.
- `sentence-transformers`: a SentenceTransformer folder (the backbone, `modules.json`, a pooling module config), whose
  `SentenceTransformer(DIR).similarity(...)` is the cosine of the hf_sts bi-encoder, i.e. its scores divided by
  `score_scale` (5). The model's prompt (e.g. e5's `"query: "`) is the folder's default prompt (`prompts` and
  `default_prompt_name` in `config_sentence_transformers.json`), so `encode` applies it as hf_sts does.
- A sequence-classification model has no place for a prompt: the model card of an hf_sts model with one says to put
  it before each sentence.

The tokenizer is saved with `model_max_length` set to the run's `max_seq_length`, so the consumers truncate pairs as
training did. Every export is checked before it lands in the output folder (it is built in a staging folder beside
it): the exported model must score, or embed, probe pairs like the hf_sts model (within 1e-4), else `ExportError`
and nothing is written.
"""

import copy
import json
import logging
import shutil
import tempfile
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

from .configuration_sts import StsBiEncoderConfig, StsCrossEncoderConfig
from .errors import HfStsError
from .modeling_sts import StsBiEncoderModel, StsCrossEncoderModel, apply_prompt, pool
from .predict import run_max_seq_length


logger = logging.getLogger(__name__)

EXPORT_FORMATS = ("sequence-classification", "sentence-transformers")

# Pairs every export is checked on: the exported model must score them as the hf_sts model does.
PROBE_PAIRS = [
    (
        "숙소 위치는 찾기 쉽고 일반적인 한국의 반지하 숙소입니다.",
        "숙박시설의 위치는 쉽게 찾을 수 있고 한국의 대표적인 반지하 숙박시설입니다.",
    ),
    (
        "위반행위 조사 등을 거부·방해·기피한 자는 500만원 이하 과태료 부과 대상이다.",
        "시민들 스스로 자발적인 예방 노력을 한 것은 아산 뿐만이 아니었다.",
    ),
]
TOLERANCE = 1e-4
# The name of the hf_sts prompt among a sentence-transformers export's `prompts` (its default prompt).
PROMPT_NAME = "query"


class ExportError(HfStsError):
    """A run directory that cannot be exported to the asked format: the message says why and what would work."""


def export_model(run_dir: str | Path, output_dir: str | Path, export_format: str) -> Path:
    """Export the hf_sts model in `run_dir` (a run's `output_dir` or a checkpoint) to `output_dir`.

    Args:
        run_dir: a folder with an hf_sts `config.json`, the weights and the tokenizer; `recipe.json`, when there,
            gives `max_seq_length` (else the tokenizer's `model_max_length` is kept).
        output_dir: where to write the export (created; existing files of the same names are overwritten).
        export_format: `"sequence-classification"` (a cross-encoder with the `cls` head) or
            `"sentence-transformers"` (a bi-encoder).

    Returns:
        `output_dir` as a `Path`.

    Raises:
        ExportError: if `run_dir` holds no hf_sts model, the model does not fit the format, or the exported model
            does not reproduce its scores.
    """
    run_dir, output_dir = Path(run_dir), Path(output_dir)
    if export_format not in EXPORT_FORMATS:
        raise ExportError(f"Unknown export format {export_format!r}; expected one of {list(EXPORT_FORMATS)}.")
    if (run_dir / "adapter_config.json").is_file():
        raise ExportError(
            f"{run_dir} holds a LoRA adapter; export the merged model at the root of a LoRA run, or merge first: "
            "hf_sts.lora.load_adapter_model(path).merge_and_unload().save_pretrained(...)."
        )
    if not (run_dir / "config.json").is_file():
        raise ExportError(f"{run_dir}: no config.json; give the output_dir of an hf_sts run (or a checkpoint).")
    config = AutoConfig.from_pretrained(run_dir)
    if not isinstance(config, (StsCrossEncoderConfig, StsBiEncoderConfig)):
        raise ExportError(f"{run_dir} holds a {config.model_type!r} model, not an hf_sts model.")
    model = AutoModel.from_pretrained(run_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(run_dir)
    max_seq_length = run_max_seq_length(run_dir)
    if max_seq_length is not None:
        tokenizer.model_max_length = max_seq_length
    export = (
        _export_sequence_classification
        if export_format == "sequence-classification"
        else _export_sentence_transformers
    )
    # Written to a staging folder beside `output_dir` and moved in place only once checked: a failed export leaves
    # nothing behind.
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output_dir.parent, prefix=f".{output_dir.name}-") as staging:
        export(model, tokenizer, Path(staging), run_dir)
        tokenizer.save_pretrained(staging)
        shutil.copytree(staging, output_dir, dirs_exist_ok=True)
    logger.info("Exported %s as %s to %s.", run_dir, export_format, output_dir)
    return output_dir


def _check_close(exported: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    difference = (exported - expected).abs().max().item()
    if difference > TOLERANCE:
        raise ExportError(
            f"The {what} scores the probe pairs {difference:.2e} away from the hf_sts model; not written."
        )


def _export_sequence_classification(model, tokenizer, output_dir: Path, run_dir: Path) -> None:
    if not isinstance(model, StsCrossEncoderModel) or model.config.head != "cls":
        kind = (
            "a bi-encoder"
            if isinstance(model, StsBiEncoderModel)
            else f"a cross-encoder with head {model.config.head!r}"
        )
        raise ExportError(
            f"{run_dir} holds {kind}; sequence-classification needs a cross-encoder with the 'cls' head (the head "
            "transformers' classification models have). Export a bi-encoder with --format sentence-transformers."
        )
    config = copy.deepcopy(model.config.backbone_config)
    config.num_labels = 1
    config.problem_type = "regression"  # the pipeline then applies no sigmoid by default
    # sentence-transformers' CrossEncoder applies a sigmoid to one-label models unless told otherwise.
    config.sentence_transformers = {"activation_fn": "torch.nn.modules.linear.Identity"}
    try:
        target = AutoModelForSequenceClassification.from_config(config).eval()
    except ValueError as error:
        raise ExportError(f"transformers has no sequence-classification model for {config.model_type!r}.") from error
    base = getattr(target, target.base_model_prefix)
    missing, unexpected = base.load_state_dict(model.backbone.state_dict(), strict=False)
    classifier = getattr(target, "classifier", None)
    pooler_dense = getattr(getattr(base, "pooler", None), "dense", None)
    if hasattr(classifier, "dense") and hasattr(classifier, "out_proj"):  # RoBERTa, ELECTRA, XLM-R, ...
        dense, out_proj = classifier.dense, classifier.out_proj
    elif isinstance(pooler_dense, torch.nn.Linear) and isinstance(classifier, torch.nn.Linear):  # BERT
        dense, out_proj = pooler_dense, classifier
        missing = [key for key in missing if not key.startswith("pooler.")]
    else:
        raise ExportError(f"No known mapping of the 'cls' head onto {type(target).__name__}.")
    if missing or unexpected:
        raise ExportError(
            f"The backbone does not fit {type(target).__name__}: missing {missing}, unexpected {unexpected}."
        )
    dense.load_state_dict(model.head.dense.state_dict())
    out_proj.load_state_dict(model.head.out_proj.state_dict())
    with torch.no_grad():
        first, second = zip(*PROBE_PAIRS, strict=True)
        probe = model.tokenize(
            tokenizer, list(first), list(second), padding=True, truncation=True, return_tensors="pt"
        )
        _check_close(target(**probe).logits.squeeze(-1), model(**probe).logits, type(target).__name__)
    target.save_pretrained(output_dir)


def _export_sentence_transformers(model, tokenizer, output_dir: Path, run_dir: Path) -> None:
    if not isinstance(model, StsBiEncoderModel):
        raise ExportError(
            f"{run_dir} holds a cross-encoder; sentence-transformers needs a bi-encoder (`architecture: bi-encoder`). "
            "Export a cross-encoder with the 'cls' head with --format sequence-classification."
        )
    model.backbone.save_pretrained(output_dir)
    # The module names and pooling keys of sentence-transformers 2.x-5.x, which 6.x still reads unchanged: the
    # folder loads in the versions users pin, not only the newest.
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    pooling = {
        "word_embedding_dimension": model.config.hidden_size,
        "pooling_mode_cls_token": model.config.pooling == "cls",
        "pooling_mode_mean_tokens": model.config.pooling == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }
    files = {
        "modules.json": modules,
        "1_Pooling/config.json": pooling,
        "sentence_bert_config.json": {"max_seq_length": tokenizer.model_max_length, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "model_type": "SentenceTransformer",
            "similarity_fn_name": "cosine",
            # The hf_sts prompt as the default prompt, so `encode` puts it before every sentence as training did.
            "prompts": {PROMPT_NAME: model.config.prompt} if model.config.prompt else {},
            "default_prompt_name": PROMPT_NAME if model.config.prompt else None,
        },
    }
    for name, content in files.items():
        path = output_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    with torch.no_grad():
        exported = AutoModel.from_pretrained(output_dir).eval()
        for side in zip(*PROBE_PAIRS, strict=True):
            inputs = tokenizer(
                apply_prompt(side, model.config.prompt), padding=True, truncation=True, return_tensors="pt"
            )
            pooled = pool(exported(**inputs).last_hidden_state, inputs["attention_mask"], model.config.pooling)
            _check_close(pooled, model.encode(**inputs), "exported encoder with its pooling")


__all__ = ["EXPORT_FORMATS", "ExportError", "export_model"]
