"""Export a trained hf_sts model into the formats of the libraries where users score sentence pairs.

    hf-sts export RUN_DIR --format sequence-classification --output DIR   # cross-encoder with the `cls` head
    hf-sts export RUN_DIR --format sentence-transformers --output DIR     # bi-encoder

- `sequence-classification`: a plain `AutoModelForSequenceClassification` checkpoint of the backbone's type
  (`num_labels=1`, `problem_type="regression"`), loadable without hf_sts by `transformers.pipeline(
  "text-classification", function_to_apply="none")` and `sentence_transformers.CrossEncoder`, which score a pair as
  the hf_sts model does (0.0–5.0 scale, unclipped). The hf_sts `cls` head is transformers' classification head, so
  its weights map one to one (BERT: the pooler and `classifier`; RoBERTa, ELECTRA, ...: `classifier.dense` and
  `classifier.out_proj`); other heads have no counterpart there.
- `sentence-transformers`: a SentenceTransformer folder (the backbone, `modules.json`, a pooling module config),
  built and saved by the sentence-transformers library itself (`Transformer` + `Pooling` modules, in the folder
  format of the installed version), whose `SentenceTransformer(DIR).similarity(...)` is the cosine of the hf_sts
  bi-encoder, i.e. its scores divided by `score_scale` (5). The model's prompt (e.g. e5's `"query: "`) is the
  folder's default prompt (`prompts` and `default_prompt_name` in `config_sentence_transformers.json`), so `encode`
  applies it as hf_sts does. sentence-transformers is needed for this format only (`pip install
  sentence-transformers`).
- A sequence-classification model has no place for a prompt, and neither format cleans text: the export's
  `README.md` (and the model card of the hf_sts model) says which prompt and cleaning steps to apply to each sentence.
  A sequence-classification export also records them in its `config.json` (`hf_sts_input`: `prompt`,
  `text_cleaning`), which transformers keeps and ignores, and from which `hf-sts predict` and `hf-sts demo` apply
  them (`hf_sts.inference.loading.SequenceClassificationScorer`).

The tokenizer is saved with `model_max_length` set to the run's `max_seq_length`, so the consumers truncate pairs as
training did. Every export is checked before it lands in the output folder (it is built in a staging folder beside
it): the exported model must score, or embed, probe pairs like the hf_sts model (within 1e-4), else `ExportError`
and nothing is written.
"""

import copy
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import torch
from huggingface_hub import ModelCard, ModelCardData
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

from hf_sts.errors import ExportError, check_local_weights, checked_from_pretrained
from hf_sts.inference.loading import EXPORT_INPUT_KEY, run_max_seq_length
from hf_sts.models.sts.configuration_sts import StsBackboneConfig, StsBiEncoderConfig, StsCrossEncoderConfig
from hf_sts.models.sts.modeling_sts import StsBiEncoderModel, StsCrossEncoderModel, apply_prompt
from hf_sts.models.sts.text_cleaning import clean_texts
from hf_sts.training.card import cleaning_text
from hf_sts.utils.write_guard import check_output, usual_mode


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


def export_model(run_dir: str | Path, output_dir: str | Path, export_format: str) -> Path:
    """Export the hf_sts model in `run_dir` (a run's `output_dir` or a checkpoint) to `output_dir`.

    Args:
        run_dir: a folder with an hf_sts `config.json`, the weights and the tokenizer; `recipe.json`, when there,
            gives `max_seq_length` (else the tokenizer's `model_max_length` is kept).
        output_dir: where to write the export: a new or empty folder, filled once the export is checked.
        export_format: `"sequence-classification"` (a cross-encoder with the `cls` head) or
            `"sentence-transformers"` (a bi-encoder).

    Returns:
        `output_dir` as a `Path`.

    Raises:
        hf_sts.errors.OutputError: for an `output_dir` that is not new or empty, or lies inside `run_dir`, a model
            folder or a run (`hf_sts.utils.write_guard.check_output`).
        ExportError: if `run_dir` holds no hf_sts model, the model does not fit the format, or the exported model
            does not reproduce its scores.
    """
    run_dir, output_dir = Path(run_dir), Path(output_dir)
    if export_format not in EXPORT_FORMATS:
        raise ExportError(f"Unknown export format {export_format!r}; expected one of {list(EXPORT_FORMATS)}.")
    if (run_dir / "adapter_config.json").is_file():
        raise ExportError(
            f"{run_dir} holds a LoRA adapter; export the merged model at the root of a LoRA run, or merge first: "
            "hf_sts.models.lora.load_adapter_model(path).merge_and_unload().save_pretrained(...)."
        )
    check_output(output_dir, "--output", inputs=[run_dir], folder=True)
    if not (run_dir / "config.json").is_file():
        raise ExportError(f"{run_dir}: no config.json; give the output_dir of an hf_sts run (or a checkpoint).")
    config = checked_from_pretrained(AutoConfig, str(run_dir), ExportError)
    check_local_weights(str(run_dir), ExportError)
    if not isinstance(config, (StsCrossEncoderConfig, StsBiEncoderConfig)):
        raise ExportError(f"{run_dir} holds a {config.model_type!r} model, not an hf_sts model.")
    model = AutoModel.from_pretrained(run_dir).eval()
    tokenizer = checked_from_pretrained(AutoTokenizer, str(run_dir), ExportError)
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
        export_card(model.config, export_format, run_dir).save(Path(staging) / "README.md")
        if output_dir.is_dir():  # empty (`check_output`): filled in place
            shutil.copytree(staging, output_dir, dirs_exist_ok=True)
        else:
            os.chmod(staging, usual_mode(folder=True))
            os.replace(staging, output_dir)
            os.mkdir(staging)  # for TemporaryDirectory's cleanup
    logger.info("Exported %s as %s to %s.", run_dir, export_format, output_dir)
    return output_dir


def export_card(config: StsBackboneConfig, export_format: str, run_dir: Path) -> ModelCard:
    """The model card of an export (`README.md`): where it comes from, how it scores, and the input it expects, the
    hf_sts model's cleaning steps and prompt, which neither export format applies by itself (a SentenceTransformer
    applies the prompt, its default prompt). A cleaning model says so in one log line too."""
    sentence_transformers = export_format == "sentence-transformers"
    data = ModelCardData(
        language="ko",
        library_name="sentence-transformers" if sentence_transformers else "transformers",
        pipeline_tag="sentence-similarity" if sentence_transformers else "text-classification",
        tags=["hf_sts", "sts", "korean", "bi-encoder" if sentence_transformers else "cross-encoder"],
    )
    scores = (
        "the cosine of two sentence embeddings; × 5 is the hf_sts model's score on the 0.0–5.0 STS scale"
        if sentence_transformers
        else "one regression output per sentence pair, the hf_sts model's score on the 0.0–5.0 STS scale (clip to [0, 5])"
    )
    lines = [f"- Scores: {scores}."]
    if config.text_cleaning:
        lines.append(f"- Input cleaning this format does not apply: {cleaning_text(config.text_cleaning)}.")
        logger.warning(
            "%s cleans its input (%s); the %s export does not: its README.md says to clean sentences first.",
            run_dir,
            ", ".join(config.text_cleaning),
            export_format,
        )
    if config.prompt:
        applied = "its default prompt, applied by `encode`" if sentence_transformers else "put it before each sentence"
        lines.append(f"- Prompt: `{json.dumps(config.prompt, ensure_ascii=False)}` before every sentence ({applied}).")
    text = (
        f"---\n{data.to_yaml()}\n---\n\n# hf_sts export ({export_format})\n\nExported with `hf-sts export {run_dir.name} "
        f"--format {export_format}` from an hf_sts {config.model_type} model; its own model card has the training "
        "details and evaluation results.\n\n## Input and output\n\n" + "\n".join(lines) + "\n"
    )
    return ModelCard(text)


def _check_close(exported: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    """Raise `ExportError` if `exported` differs from `expected` by more than `TOLERANCE` anywhere."""
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
    # The input the model read, which this format does not apply by itself: for `hf-sts predict` and `hf-sts demo`.
    setattr(config, EXPORT_INPUT_KEY, {"prompt": model.config.prompt, "text_cleaning": model.config.text_cleaning})
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


def _import_sentence_transformers():
    """`(SentenceTransformer, Transformer, Pooling)` of the installed sentence-transformers: 6.x keeps the modules in
    `sentence_transformers.sentence_transformer.modules`, 5.x in `sentence_transformers.models` (still there in 6.x,
    deprecated).

    Raises:
        ExportError: if sentence-transformers is not installed (a test extra of hf_sts, not a dependency).
    """
    try:
        from sentence_transformers import SentenceTransformer

        try:
            from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
        except ImportError:  # sentence-transformers 5.x
            from sentence_transformers.models import Pooling, Transformer
    except ImportError:
        raise ExportError(
            "--format sentence-transformers builds the folder with the sentence-transformers library, which is not "
            "installed: pip install sentence-transformers"
        ) from None
    return SentenceTransformer, Transformer, Pooling


def _export_sentence_transformers(model, tokenizer, output_dir: Path, run_dir: Path) -> None:
    """Build a SentenceTransformer (`Transformer` + `Pooling`, the hf_sts prompt as its default prompt) of the
    bi-encoder `model`, save it to `output_dir` and check it, loaded back, on the probe pairs.

    Raises:
        ExportError: for a cross-encoder, without sentence-transformers installed, or if the check fails.
    """
    if not isinstance(model, StsBiEncoderModel):
        raise ExportError(
            f"{run_dir} holds a cross-encoder; sentence-transformers needs a bi-encoder (`architecture: bi-encoder`). "
            "Export a cross-encoder with the 'cls' head with --format sequence-classification."
        )
    SentenceTransformer, Transformer, Pooling = _import_sentence_transformers()
    # `Transformer` loads its encoder and tokenizer from a folder, while the hf_sts model holds the backbone inside
    # itself: the backbone and the tokenizer (with `model_max_length` = the run's `max_seq_length`) go to a folder
    # of their own first, beside the staging folder (same disk), and the module is loaded from there.
    with tempfile.TemporaryDirectory(dir=output_dir.parent, prefix=".backbone-") as backbone_dir:
        model.backbone.save_pretrained(backbone_dir)
        tokenizer.save_pretrained(backbone_dir)
        transformer = Transformer(backbone_dir, max_seq_length=tokenizer.model_max_length)
        if getattr(transformer.auto_model, "pooler", None) is not None:
            # The backbone was saved without its pooler (hf_sts drops it; embeddings read the token states): the
            # one `AutoModel` adds back is freshly initialised, unused weight, not worth exporting.
            transformer.auto_model.pooler = None
        prompt = model.config.prompt
        sentence_model = SentenceTransformer(
            modules=[transformer, Pooling(model.config.hidden_size, pooling_mode=model.config.pooling)],
            # The hf_sts prompt as the default prompt, so `encode` puts it before every sentence as training did.
            prompts={PROMPT_NAME: prompt} if prompt else None,
            default_prompt_name=PROMPT_NAME if prompt else None,
            similarity_fn_name="cosine",
            device="cpu",
        )
        sentence_model.save(str(output_dir), create_model_card=False)
    _check_sentence_transformers(SentenceTransformer(str(output_dir), device="cpu"), model, tokenizer)


def _check_sentence_transformers(sentence_model, model: StsBiEncoderModel, tokenizer) -> None:
    """The saved SentenceTransformer, loaded back, must embed each probe sentence as the hf_sts model does, and
    score each probe pair (`score_scale` × cosine) as it does.

    Raises:
        ExportError: naming how far the embeddings or scores are.
    """
    first, second = (list(side) for side in zip(*PROBE_PAIRS, strict=True))
    with torch.no_grad():
        embeddings = []
        for side in (first, second):
            # The export does not clean text: it reads sentences cleaned as its card says.
            cleaned = clean_texts(side, model.config.text_cleaning)
            exported = sentence_model.encode(cleaned, convert_to_tensor=True, show_progress_bar=False)
            inputs = tokenizer(
                apply_prompt(cleaned, model.config.prompt), padding=True, truncation=True, return_tensors="pt"
            )
            _check_close(
                exported.float().cpu(), model.encode(**inputs), "exported SentenceTransformer (its embeddings)"
            )
            embeddings.append(exported.float().cpu())
        scores = model.config.score_scale * sentence_model.similarity_pairwise(*embeddings).float().cpu()
        probe = model.tokenize(tokenizer, first, second, padding=True, truncation=True, return_tensors="pt")
        _check_close(scores, model(**probe).logits, "exported SentenceTransformer (score_scale × its cosine)")


__all__ = ["EXPORT_FORMATS", "ExportError", "export_model"]
