"""Export a trained hf_sts model into the formats of the libraries where users score sentence pairs.

    hf-sts export RUN_DIR --format sequence-classification --output DIR   # cross-encoder with the `cls` head
    hf-sts export RUN_DIR --format sentence-transformers --output DIR     # bi-encoder
    hf-sts export RUN_DIR --format onnx [--quantize int8] --output DIR     # either, for ONNX Runtime

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
- `onnx`: the hf_sts model folder (config, weights, code, tokenizer; `config.json` records the prompt, text cleaning
  and `max_seq_length` under `hf_sts_input`) with its ONNX graph in `onnx/model.onnx`, written by
  `torch.onnx.export` with the batch and sequence axes dynamic: a cross-encoder's graph gives the score per pair
  (`logits`, as the model's `forward`, unclipped), a bi-encoder's the pooled embedding per sentence
  (`sentence_embedding`, not normalised; a pair scores `score_scale` × the cosine). With `--quantize int8`, also
  `onnx/model_qint8_<isa>.onnx` (or `model_quint8_avx2.onnx`, uint8 weights, on AVX2 where int8 weights fail the
  checks): the graph dynamically quantized by onnxruntime (`quantize_dynamic`, the settings and file names of
  sentence-transformers' `export_dynamic_quantized_onnx_model` for this CPU's instruction set), kept only if it loses
  at most `INT8_PEARSON_TOLERANCE` (0.005) Pearson r against the fp32 graph on labeled pairs (`--validation_file`,
  else the run's own validation file), in the worst of the batch sizes `INT8_CHECK_BATCH_SIZES`; else the same with
  the feed-forward layers of the encoder's lower half in fp32 is tried. `hf-sts predict --backend onnx` (and `evaluate`, `demo`) score with it, applying
  the prompt, cleaning and truncation as for the torch model (`hf_sts.inference.onnx`). Needs `pip install
  "hf_sts[onnx]"` (onnxruntime, onnx, onnxscript).
- A sequence-classification model has no place for a prompt, and neither of those two formats cleans text: the export's
  `README.md` (and the model card of the hf_sts model) says which prompt and cleaning steps to apply to each sentence.
  A sequence-classification export also records them in its `config.json` (`hf_sts_input`: `prompt`,
  `text_cleaning`), which transformers keeps and ignores, and from which `hf-sts predict` and `hf-sts demo` apply
  them (`hf_sts.inference.loading.SequenceClassificationScorer`).

The tokenizer is saved with `model_max_length` set to the run's `max_seq_length`, so the consumers truncate pairs as
training did. Every export is checked before it lands in the output folder (it is built in a staging folder beside
it): the exported model must score, or embed, probe pairs like the hf_sts model (within `TOLERANCE`, 1e-4; an int8
graph within `INT8_TOLERANCE`, 0.25 on the 0.0–5.0 scale, on `ONNX_PROBE_PAIRS`), else `ExportError` and nothing
is written.
"""

import contextlib
import copy
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import scipy.stats
import torch
from huggingface_hub import ModelCard, ModelCardData
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

from hf_sts.data.readers import read_sts_file
from hf_sts.data.tokenization import DEFAULT_MAX_SEQ_LENGTH
from hf_sts.errors import ExportError, check_local_weights, checked_from_pretrained, first_line, read_json_object
from hf_sts.inference.loading import EXPORT_INPUT_KEY, run_max_seq_length
from hf_sts.inference.onnx import (
    EMBEDDING_OUTPUT,
    ONNX_EXTRA,
    ONNX_FILE,
    ONNX_FOLDER,
    SCORE_OUTPUT,
    OnnxScorer,
    cpu_isa,
    import_onnxruntime,
    onnx_session,
)
from hf_sts.inference.scoring import predict_scores
from hf_sts.metrics import clip_scores
from hf_sts.models.sts.configuration_sts import StsBackboneConfig, StsBiEncoderConfig, StsCrossEncoderConfig
from hf_sts.models.sts.modeling_sts import StsBiEncoderModel, StsCrossEncoderModel, apply_prompt
from hf_sts.models.sts.text_cleaning import clean_texts
from hf_sts.tools.demo import EXAMPLE_PAIRS
from hf_sts.training.card import cleaning_text
from hf_sts.utils.write_guard import check_output, usual_mode


logger = logging.getLogger(__name__)

EXPORT_FORMATS = ("sequence-classification", "sentence-transformers", "onnx")
# What `--quantize` takes (`--format onnx` only): int8 dynamic quantization of the graph's MatMul weights.
QUANTIZATIONS = ("int8",)

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
# The pairs ONNX graphs are checked on: the probe pairs and the demo page's KLUE-STS dev pairs, which span the scale.
ONNX_PROBE_PAIRS = PROBE_PAIRS + [(sentence1, sentence2) for _, sentence1, sentence2, _ in EXAMPLE_PAIRS]
# How far an int8 graph may score an ONNX probe pair from the torch model (max |Δ|, on the 0.0–5.0 scale): a quarter
# point, room for the rounding of int8 weights and activations in a sound graph, not for a broken one (wrong inputs,
# a mis-quantized layer), which moves scores by points. The check covers the probe pairs only: a model whose score
# reads a few large hidden dimensions (a cross-encoder can) moves further on other pairs under int8, which
# `hf-sts evaluate --backend onnx` on a dev set shows.
INT8_TOLERANCE = 0.25
# The name of the hf_sts prompt among a sentence-transformers export's `prompts` (its default prompt).
PROMPT_NAME = "query"


def export_model(
    run_dir: str | Path,
    output_dir: str | Path,
    export_format: str,
    quantize: str | None = None,
    validation_file: str | Path | None = None,
) -> Path:
    """Export the hf_sts model in `run_dir` (a run's `output_dir` or a checkpoint) to `output_dir`.

    Args:
        run_dir: a folder with an hf_sts `config.json`, the weights and the tokenizer; `recipe.json`, when there,
            gives `max_seq_length` (else the tokenizer's `model_max_length` is kept; `onnx` records 128, what
            `hf-sts predict` truncates the run's pairs to).
        output_dir: where to write the export: a new or empty folder, filled once the export is checked.
        export_format: `"sequence-classification"` (a cross-encoder with the `cls` head), `"sentence-transformers"`
            (a bi-encoder) or `"onnx"` (either; see the module docstring).
        quantize: `"int8"` (`onnx` only): also write the graph quantized to int8 for this CPU, checked on labeled
            pairs: `validation_file`, else the run's own validation file (`recipe.json`, where it is found from the
            current folder); an int8 graph that loses more than `INT8_PEARSON_TOLERANCE` Pearson r there against
            the fp32 graph is refused. Without either file, the int8 graph is checked on the probe pairs only, with
            one warning.
        validation_file: labeled pairs (any STS format) to check an int8 graph on.

    Returns:
        `output_dir` as a `Path`.

    Raises:
        hf_sts.errors.OutputError: for an `output_dir` that is not new or empty, or lies inside `run_dir`, a model
            folder or a run (`hf_sts.utils.write_guard.check_output`).
        ExportError: if `run_dir` holds no hf_sts model, the model does not fit the format, `quantize` (or
            `validation_file`) is given for another format than `onnx` (or without `quantize`), the packages of
            `onnx` are not installed (naming the `onnx` extra), or the exported model does not reproduce its scores.
        hf_sts.errors.DataFormatError: for a malformed `validation_file`.
    """
    run_dir, output_dir = Path(run_dir), Path(output_dir)
    if export_format not in EXPORT_FORMATS:
        raise ExportError(f"Unknown export format {export_format!r}; expected one of {list(EXPORT_FORMATS)}.")
    if quantize is not None and (quantize not in QUANTIZATIONS or export_format != "onnx"):
        raise ExportError(
            f"--quantize {quantize}: --format onnx takes --quantize {' or '.join(QUANTIZATIONS)}; "
            f"--format {export_format} is not quantized."
        )
    if validation_file is not None and quantize is None:
        raise ExportError("--validation_file checks an int8 graph: give it with --format onnx --quantize int8.")
    if export_format == "onnx":
        _import_onnx_exporter()  # before anything loads: one line naming the extra
    if (run_dir / "adapter_config.json").is_file():
        raise ExportError(
            f"{run_dir} holds a LoRA adapter; export the merged model at the root of a LoRA run, or merge first: "
            "hf_sts.models.lora.load_adapter_model(path).merge_and_unload().save_pretrained(...)."
        )
    check_file = int8_check_file(run_dir, validation_file) if quantize else None
    check_output(output_dir, "--output", inputs=[run_dir, check_file], folder=True)
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
    if export_format == "onnx":

        def export(model, tokenizer, output_dir, run_dir):
            length = max_seq_length or DEFAULT_MAX_SEQ_LENGTH
            return _export_onnx(model, tokenizer, output_dir, run_dir, length, quantize, check_file)

    elif export_format == "sequence-classification":
        export = _export_sequence_classification
    else:
        export = _export_sentence_transformers
    # Written to a staging folder beside `output_dir` and moved in place only once checked: a failed export leaves
    # nothing behind.
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output_dir.parent, prefix=f".{output_dir.name}-") as staging:
        check = export(model, tokenizer, Path(staging), run_dir)
        tokenizer.save_pretrained(staging)
        graphs = sorted(path.name for path in (Path(staging) / ONNX_FOLDER).glob("*.onnx"))
        export_card(model.config, export_format, run_dir, graphs, check).save(Path(staging) / "README.md")
        if output_dir.is_dir():  # empty (`check_output`): filled in place
            shutil.copytree(staging, output_dir, dirs_exist_ok=True)
        else:
            os.chmod(staging, usual_mode(folder=True))
            os.replace(staging, output_dir)
            os.mkdir(staging)  # for TemporaryDirectory's cleanup
    logger.info("Exported %s as %s%s to %s.", run_dir, export_format, f" ({quantize})" if quantize else "", output_dir)
    return output_dir


def int8_check_file(run_dir: Path, validation_file: str | Path | None) -> Path | None:
    """The labeled file an int8 graph is checked on: `validation_file`, else the `validation_file` of the run's
    `recipe.json` where it is found from the current folder (one line says which), else `None`.

    Raises:
        ExportError: for a `validation_file` that is not a file.
    """
    if validation_file is not None:
        if not Path(validation_file).is_file():
            raise ExportError(f"--validation_file {validation_file}: no such file.")
        return Path(validation_file)
    recipe = run_dir / "recipe.json"
    own = read_json_object(recipe, ExportError, "a run's recipe").get("validation_file") if recipe.is_file() else None
    if own and Path(own).is_file():
        logger.info("The int8 graph is checked on the run's validation file, %s.", own)
        return Path(own)
    return None


def export_card(
    config: StsBackboneConfig, export_format: str, run_dir: Path, graphs: list[str] = (), int8_check: str | None = None
) -> ModelCard:
    """The model card of an export (`README.md`): where it comes from, how it scores, and the input it expects, the
    hf_sts model's cleaning steps and prompt, which the sequence-classification and sentence-transformers formats do
    not apply by themselves (a SentenceTransformer applies the prompt, its default prompt; `hf-sts predict --backend
    onnx` applies both to an ONNX export, but onnxruntime alone does not). A cleaning model says so in one log line
    too, for the formats that cannot clean. `graphs`: the ONNX files of an `onnx` export, listed on the card;
    `int8_check`: how its int8 graph was checked."""
    sentence_transformers = export_format == "sentence-transformers"
    onnx = export_format == "onnx"
    bi_encoder = sentence_transformers or isinstance(config, StsBiEncoderConfig)
    data = ModelCardData(
        language="ko",
        library_name="onnx" if onnx else "sentence-transformers" if sentence_transformers else "transformers",
        pipeline_tag="sentence-similarity" if bi_encoder else "text-classification",
        tags=["hf_sts", "sts", "korean", "bi-encoder" if bi_encoder else "cross-encoder", *(["onnx"] if onnx else [])],
    )
    if onnx and bi_encoder:
        scores = (
            f"`{ONNX_FOLDER}/*.onnx` embed each sentence (`{EMBEDDING_OUTPUT}`, (batch, hidden_size), not "
            f"normalised); {config.score_scale:g} × the cosine of two embeddings is the hf_sts model's score on the "
            "0.0–5.0 STS scale (clip to [0, 5])"
        )
    elif onnx:
        scores = (
            f"`{ONNX_FOLDER}/*.onnx` score each sentence pair, tokenized as one sequence (`{SCORE_OUTPUT}`, "
            "(batch,)): the hf_sts model's score on the 0.0–5.0 STS scale (clip to [0, 5])"
        )
    elif sentence_transformers:
        scores = "the cosine of two sentence embeddings; × 5 is the hf_sts model's score on the 0.0–5.0 STS scale"
    else:
        scores = (
            "one regression output per sentence pair, the hf_sts model's score on the 0.0–5.0 STS scale (clip to "
            "[0, 5])"
        )
    lines = [f"- Scores: {scores}."]
    if onnx:
        lines.append(
            f"- Graphs: {', '.join(f'`{ONNX_FOLDER}/{name}`' for name in graphs)}; "
            "`hf-sts predict DIR --backend onnx` scores with them (the int8 one when there is one), applying the "
            "prompt, cleaning and truncation below."
        )
        if int8_check:
            lines.append(f"- int8 check: {int8_check}.")
        lines.append(
            f"- Truncation: {getattr(config, EXPORT_INPUT_KEY, {}).get('max_seq_length')} tokens per "
            f"{'sentence' if bi_encoder else 'pair'}."
        )
    if config.text_cleaning:
        if onnx:
            lines.append(
                f"- Input cleaning (applied by `hf-sts predict`; apply it yourself before onnxruntime): "
                f"{cleaning_text(config.text_cleaning)}."
            )
        else:
            lines.append(f"- Input cleaning this format does not apply: {cleaning_text(config.text_cleaning)}.")
            logger.warning(
                "%s cleans its input (%s); the %s export does not: its README.md says to clean sentences first.",
                run_dir,
                ", ".join(config.text_cleaning),
                export_format,
            )
    if config.prompt:
        applied = (
            "its default prompt, applied by `encode`"
            if sentence_transformers
            else "applied by `hf-sts predict`; put it before each sentence yourself before onnxruntime"
            if onnx
            else "put it before each sentence"
        )
        lines.append(f"- Prompt: `{json.dumps(config.prompt, ensure_ascii=False)}` before every sentence ({applied}).")
    quantized = " --quantize int8" if any("int8" in name for name in graphs) else ""
    text = (
        f"---\n{data.to_yaml()}\n---\n\n# hf_sts export ({export_format})\n\nExported with `hf-sts export {run_dir.name} "
        f"--format {export_format}{quantized}` from an hf_sts {config.model_type} model; its own model card has the "
        "training details and evaluation results.\n\n## Input and output\n\n" + "\n".join(lines) + "\n"
    )
    return ModelCard(text)


def _check_close(exported: torch.Tensor, expected: torch.Tensor, what: str, tolerance: float | None = None) -> None:
    """Raise `ExportError` if `exported` differs from `expected` by more than `tolerance` (default `TOLERANCE`)
    anywhere."""
    tolerance = TOLERANCE if tolerance is None else tolerance
    difference = (exported - expected).abs().max().item()
    if difference > tolerance:
        raise ExportError(
            f"The {what} scores the probe pairs {difference:.2e} away from the hf_sts model (more than "
            f"{tolerance:g}); not written."
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


def _import_onnx_exporter() -> None:
    """Check that what `--format onnx` needs is installed: onnxruntime (to check and quantize the graph), and onnx
    and onnxscript (`torch.onnx.export` writes graphs with them).

    Raises:
        ExportError: naming the `onnx` extra, if one is missing.
    """
    import_onnxruntime(ExportError)
    try:
        import onnx  # noqa: F401  (optional dependencies of the `onnx` extra, needed by torch.onnx.export)
        import onnxscript  # noqa: F401
    except ImportError:
        raise ExportError(f"--format onnx needs onnx and onnxscript, which are not installed: {ONNX_EXTRA}") from None


class _OnnxGraph(torch.nn.Module):
    """What the ONNX graph of an hf_sts model computes, from `input_ids`, `attention_mask` (and `token_type_ids`),
    each `(batch, seq_len)`: a cross-encoder's scores `(batch,)` (its `forward(...).logits`, unclipped), or a
    bi-encoder's sentence embeddings `(batch, hidden_size)` (its `encode`: pooled, not normalised)."""

    def __init__(self, model: StsCrossEncoderModel | StsBiEncoderModel):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        if isinstance(self.model, StsBiEncoderModel):
            return self.model.encode(input_ids, attention_mask, token_type_ids)
        return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits


@contextlib.contextmanager
def _quiet_onnx_tools():
    """Keep `torch.onnx.export`'s progress lines and the warnings of the exporter and the quantizer (about packages
    and pre-processing this export does not use) out of the command's output; errors still raise."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnxscript", "root")]
    levels = [each.level for each in loggers]
    try:
        for each in loggers:
            each.setLevel(logging.ERROR)
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for each, level in zip(loggers, levels, strict=True):
            each.setLevel(level)


def _export_onnx(
    model,
    tokenizer,
    output_dir: Path,
    run_dir: Path,
    max_seq_length: int,
    quantize: str | None = None,
    check_file: Path | None = None,
) -> str | None:
    """Write the hf_sts model folder (config, weights, code) to `output_dir`, `config.json` recording the input
    settings (`hf_sts_input`: `prompt`, `text_cleaning`, `max_seq_length`), its ONNX graph to `onnx/model.onnx`
    (see [`_OnnxGraph`]; batch and sequence axes dynamic) and with `quantize="int8"` the int8 graph for this CPU, each
    checked on the probe pairs against the torch model through the scoring path of `hf-sts predict --backend onnx`,
    and an int8 graph also on the labeled `check_file`: it may lose at most `INT8_PEARSON_TOLERANCE` Pearson r against
    the fp32 graph (the weights of `INT8_WEIGHTS` are tried in order; the first graph that passes is kept).

    Returns:
        With `quantize`, the line on how the int8 graph was checked (for the card); else `None`.

    Raises:
        ExportError: for a model torch.onnx.export cannot trace (the `rnn` head), a CPU int8 graphs are not made for,
            a graph that scores the probe pairs more than `TOLERANCE` (int8: `INT8_TOLERANCE`) away, or int8 graphs
            that all lose more Pearson r on `check_file`.
    """
    if isinstance(model, StsCrossEncoderModel) and model.config.head == "rnn":
        raise ExportError(
            f"{run_dir} holds a cross-encoder with the 'rnn' head, whose packed sequences have no ONNX export; "
            "--format onnx takes the other heads and bi-encoders."
        )
    tokenizer.model_max_length = max_seq_length
    setattr(
        model.config,
        EXPORT_INPUT_KEY,
        {"prompt": model.config.prompt, "text_cleaning": model.config.text_cleaning, "max_seq_length": max_seq_length},
    )
    model.save_pretrained(output_dir)
    onnx_dir = output_dir / ONNX_FOLDER
    onnx_dir.mkdir()
    first, second = (list(side) for side in zip(*PROBE_PAIRS, strict=True))
    # Example inputs of the trace: two probe pairs (a bi-encoder's graph reads single sentences: the first ones).
    probe = model.tokenize(tokenizer, first, second, padding=True, truncation=True, return_tensors="pt")
    inputs = {name: value for name, value in probe.items() if not name.endswith("_b")}
    bi_encoder = isinstance(model, StsBiEncoderModel)
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    try:
        with _quiet_onnx_tools(), torch.no_grad():
            program = torch.onnx.export(
                _OnnxGraph(model).eval(),
                (),
                kwargs=inputs,
                dynamic_shapes={name: {0: batch, 1: sequence} for name in inputs},
                output_names=[EMBEDDING_OUTPUT if bi_encoder else SCORE_OUTPUT],
                dynamo=True,
                verbose=False,
            )
            program.save(str(onnx_dir / ONNX_FILE))
    except Exception as error:  # torch.export and the ONNX translation raise many types
        raise ExportError(f"torch.onnx.export cannot export {run_dir}: {first_line(error)}") from None
    _check_onnx(onnx_dir / ONNX_FILE, model, tokenizer, max_seq_length, TOLERANCE)
    if quantize != "int8":
        return None
    checked = Int8Check(model, tokenizer, max_seq_length, onnx_dir / ONNX_FILE, check_file)
    # Per weight type, the whole graph in int8 first, then (where labeled pairs can tell them apart) with the
    # feed-forward layers of the encoder's lower half left in fp32.
    feed_forward = lower_feed_forward_matmuls(onnx_dir / ONNX_FILE, model.backbone.config)
    fp32_choices = [[], feed_forward] if check_file is not None and feed_forward else [[]]
    failures = []
    for weights in INT8_WEIGHTS[_int8_isa()]:
        for fp32_nodes in fp32_choices:
            quantized = _quantize_int8(onnx_dir / ONNX_FILE, weights, fp32_nodes)
            what = quantized.name + (" (the feed-forward layers of the lower half in fp32)" if fp32_nodes else "")
            try:
                _check_onnx(quantized, model, tokenizer, max_seq_length, INT8_TOLERANCE)
                loss = checked.pearson_loss(quantized)
            except ExportError as error:
                failures.append(str(error).rstrip("."))
                quantized.unlink()
                continue
            if loss is None or loss <= INT8_PEARSON_TOLERANCE:
                return checked.note(what, loss)
            failures.append(
                f"{what} loses {loss:.4f} Pearson r on {check_file} (fp32 graph {checked.reference:.4f}), more than "
                f"{INT8_PEARSON_TOLERANCE}"
            )
            quantized.unlink()
    raise ExportError(
        f"--quantize int8: no int8 graph passes its checks ({'; '.join(failures)}); export without --quantize and "
        "score in fp32."
    )


def lower_feed_forward_matmuls(path: Path, backbone_config) -> list[str]:
    """The MatMul nodes of the feed-forward layers in the lower half of the encoder in the ONNX graph at `path`:
    those whose weight (an initializer) has the backbone's `intermediate_size` as a dimension, the first half of them
    in graph order (a transformer layer's two feed-forward projections, layer after layer). Dynamic int8 quantization
    moves scores most there (`benchmarks/speed.md#int8-variants`).

    Returns:
        The node names; empty for a backbone config without `intermediate_size`, or a graph without such weights.
    """
    import onnx  # the `onnx` extra: imported where used

    intermediate_size = getattr(backbone_config, "intermediate_size", None)
    if not intermediate_size:
        return []
    graph = onnx.load(str(path), load_external_data=False).graph
    dims = {initializer.name: tuple(initializer.dims) for initializer in graph.initializer}
    nodes = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and intermediate_size in dims.get(node.input[1], ())
    ]
    return nodes[: len(nodes) // 2]


class Int8Check:
    """The Pearson r of ONNX graphs on a labeled file (`check_file`, clipped scores against its labels), scored as
    `hf-sts predict --backend onnx` scores, beside the fp32 graph's: how much an int8 graph loses. Dynamic
    quantization takes one activation scale per batch, so an int8 graph's scores depend on which pairs share a batch:
    each graph is scored in batches of each of `INT8_CHECK_BATCH_SIZES`, and its lowest Pearson r counts. Without a
    file, nothing is measured.

    Raises:
        hf_sts.errors.DataFormatError: for a malformed `check_file` (on creation).
    """

    def __init__(self, model, tokenizer, max_seq_length: int, reference: Path, check_file: Path | None):
        self.model, self.tokenizer, self.max_seq_length, self.check_file = model, tokenizer, max_seq_length, check_file
        self.data = None if check_file is None else read_sts_file(check_file)
        self.reference = None if check_file is None else self.pearson(reference, INT8_CHECK_BATCH_SIZES[-1:])

    def pearson(self, graph: Path, batch_sizes: tuple[int, ...] = ()) -> float:
        """The lowest Pearson r of `graph`'s clipped scores with the labels of `check_file`, over batches of each of
        `batch_sizes` (default `INT8_CHECK_BATCH_SIZES`)."""
        scorer = OnnxScorer(onnx_session(graph, error=ExportError), self.model.config)
        first, second, labels = self.data["sentence1"][:], self.data["sentence2"][:], self.data["label"][:]
        pearsons = []
        for batch_size in batch_sizes or INT8_CHECK_BATCH_SIZES:
            scores = predict_scores(
                scorer,
                self.tokenizer,
                first,
                second,
                self.max_seq_length,
                batch_size,
                show_progress_bar=False,
                bf16=False,
            )
            pearsons.append(float(scipy.stats.pearsonr(clip_scores(scores), labels).statistic))
        return min(pearsons)

    def pearson_loss(self, graph: Path) -> float | None:
        """How much lower `graph`'s Pearson r is than the fp32 graph's; `None` without a file."""
        return None if self.data is None else self.reference - self.pearson(graph)

    def note(self, graph: str, loss: float | None) -> str:
        """The line of the export's card, and of the log, on how `graph` (its file name and how it was quantized)
        was checked."""
        if loss is None:
            text = (
                f"{graph} was checked on {len(ONNX_PROBE_PAIRS)} probe pairs only (within {INT8_TOLERANCE} of the "
                "torch model); give --validation_file (labeled pairs) to check its Pearson r"
            )
            logger.warning("%s.", text)
            return text
        batches = ", ".join(str(size) for size in INT8_CHECK_BATCH_SIZES)
        text = (
            f"{graph}: Pearson r {self.reference - loss:.4f} on {self.check_file} ({len(self.data)} pairs; the lowest "
            f"in batches of {batches}), the fp32 graph {self.reference:.4f} (at most {INT8_PEARSON_TOLERANCE} lower is "
            "accepted)"
        )
        logger.info("%s.", text)
        return text


def _check_onnx(path: Path, model, tokenizer, max_seq_length: int, tolerance: float) -> None:
    """Score the ONNX probe pairs with the graph at `path` as `hf-sts predict --backend onnx` does (`OnnxScorer`
    through `predict_scores`) and with the torch model, in fp32.

    Raises:
        ExportError: if onnxruntime cannot load the graph, or a score is more than `tolerance` away.
    """
    scorer = OnnxScorer(onnx_session(path, error=ExportError), model.config)
    first, second = (list(side) for side in zip(*ONNX_PROBE_PAIRS, strict=True))
    scores = [
        torch.from_numpy(
            predict_scores(each, tokenizer, first, second, max_seq_length, show_progress_bar=False, bf16=False)
        )
        for each in (scorer, model)
    ]
    _check_close(*scores, f"ONNX graph {path.name}", tolerance)


# The int8 weights tried per instruction set, in order: the first graph within `INT8_TOLERANCE` on the probe pairs
# and within `INT8_PEARSON_TOLERANCE` on the check file is kept. sentence-transformers'
# `export_dynamic_quantized_onnx_model` (optimum's `AutoQuantizationConfig.<isa>(is_static=False)`) uses uint8
# weights on AVX2, against the saturation of AVX2's u8 x s8 multiply-add that onnxruntime's documentation warns of;
# hf_sts tries int8 weights first there, which scored faster and closer to fp32 on the e5-small cross-encoders of
# benchmarks/speed.md, and falls back to uint8. Weights symmetric and per channel, activations asymmetric uint8, full
# range, MatMul nodes quantized.
INT8_WEIGHTS = {"arm64": ("QInt8",), "avx2": ("QInt8", "QUInt8"), "avx512": ("QInt8",), "avx512_vnni": ("QInt8",)}
# How much Pearson r (on the check file, against the fp32 graph) an int8 graph may lose.
INT8_PEARSON_TOLERANCE = 0.005
# The batch sizes the check file is scored in: single pairs (the demo) and `hf-sts predict`'s defaults, 16 on a CPU
# and 64 on a GPU (`hf_sts.inference.scoring.default_batch_size`).
INT8_CHECK_BATCH_SIZES = (1, 16, 64)


def _int8_isa() -> str:
    """This CPU's instruction set for int8 graphs (`hf_sts.inference.onnx.cpu_isa`).

    Raises:
        ExportError: on an x86 CPU without AVX2.
    """
    isa = cpu_isa()
    if isa is None:
        raise ExportError(
            "--quantize int8: this CPU has none of the instruction sets int8 graphs are made for "
            f"({', '.join(INT8_WEIGHTS)})."
        )
    return isa


def _quantize_int8(path: Path, weights: str, fp32_nodes: list[str]) -> Path:
    """Quantize the graph at `path` to int8 with `weights` (`"QInt8"` or `"QUInt8"`) for this CPU's instruction set
    with `onnxruntime.quantization.quantize_dynamic`, into `model_<qint8|quint8>_<isa>.onnx` beside it, the MatMul
    nodes named in `fp32_nodes` left in fp32.

    Returns:
        The path of the quantized graph.

    Raises:
        ExportError: on an x86 CPU without AVX2, or if onnxruntime cannot quantize the graph.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic  # the `onnx` extra: imported where used

    target = path.with_name(f"model_{weights.lower()}_{_int8_isa()}.onnx")
    try:
        with _quiet_onnx_tools():
            quantize_dynamic(
                path,
                target,
                op_types_to_quantize=["MatMul"],
                nodes_to_exclude=fp32_nodes,
                per_channel=True,
                reduce_range=False,
                weight_type=getattr(QuantType, weights),
                extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
            )
    except Exception as error:  # onnxruntime raises several types
        raise ExportError(f"onnxruntime cannot quantize {path.name}: {first_line(error)}") from None
    return target


__all__ = [
    "EXPORT_FORMATS",
    "INT8_PEARSON_TOLERANCE",
    "INT8_TOLERANCE",
    "QUANTIZATIONS",
    "ExportError",
    "export_model",
]
