"""Load a model to score pairs with: `load_model` returns a [`LoadedModel`] from

- an hf_sts checkpoint (a run's `output_dir`, one of its checkpoints, or a Hub id), scored with its own head, prompt
  and text cleaning, at its run's `max_seq_length` (from its `recipe.json`);
- the adapter folder of a LoRA run (merged on load);
- a one-output regression `AutoModelForSequenceClassification` (such as `hf-sts export --format
  sequence-classification` writes; scored with its own head, see [`SequenceClassificationScorer`]);
- any other plain pretrained encoder, scored zero-shot as a bi-encoder: `pooling` of its token states, the `prompt`
  before every sentence, score = 5 × cosine (see `StsBiEncoderModel`). That zero-shot score is the baseline a
  fine-tune is compared against.

With `backend="onnx"`, an `hf-sts export --format onnx` folder is scored with its ONNX graph through ONNX Runtime
instead of the torch model (see `hf_sts.inference.onnx`), with the same tokenization, truncation and scoring loop.

A model folder that cannot be loaded is refused in one line (`hf_sts.errors.ModelLoadError`) before any weights load
where possible.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from huggingface_hub import hf_hub_download
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    PretrainedConfig,
    PreTrainedTokenizerBase,
)
from transformers.modeling_outputs import SequenceClassifierOutput

from hf_sts.data.tokenization import DEFAULT_MAX_SEQ_LENGTH, max_positions
from hf_sts.errors import (
    ModelLoadError,
    check_local_weights,
    checked_from_pretrained,
    checked_tokenizer,
    read_json_object,
)
from hf_sts.inference.onnx import (
    BACKENDS,
    OnnxScorer,
    import_onnxruntime,
    onnx_model_file,
    onnx_session,
)
from hf_sts.inference.scoring import predict_scores
from hf_sts.models.sts.configuration_sts import StsBackboneConfig
from hf_sts.models.sts.modeling_sts import (
    StsBiEncoderModel,
    StsCrossEncoderModel,
    StsPreTrainedModel,
)
from hf_sts.utils.hardware import PROBE_HIDDEN_SIZE, bf16_setting, native_bf16, resolve_device


# The key of an export's `config.json` that records the input the hf_sts model read (`prompt`, `text_cleaning`; an
# ONNX export also `max_seq_length`), which transformers' classes do not apply by themselves (see
# `hf_sts.tools.export`).
EXPORT_INPUT_KEY = "hf_sts_input"


class SequenceClassificationScorer(torch.nn.Module):
    """A one-output regression `AutoModelForSequenceClassification` (an `hf-sts export --format
    sequence-classification` model, or any such cross-encoder) with the interface of an hf_sts cross-encoder, so
    [`predict_scores`] scores with it: `tokenize` (each pair as one sequence, the sentences cleaned and prompted as
    recorded in `config.hf_sts_input` by the export) and `forward(...).logits` of shape `(batch,)`, on the 0.0–5.0
    scale, unclipped."""

    def __init__(self, model, prompt: str | None = None, text_cleaning: list[str] | None = None):
        super().__init__()
        self.model = model
        self.config = model.config
        self.prompt, self.text_cleaning = prompt, text_cleaning

    @property
    def device(self) -> torch.device:
        return self.model.device

    def tokenize(self, tokenizer, sentences1: list[str], sentences2: list[str], **kwargs) -> dict:
        """The model inputs of sentence pairs, as an hf_sts cross-encoder builds them (`**kwargs` go to the
        tokenizer)."""
        return StsCrossEncoderModel.pair_inputs(
            tokenizer, sentences1, sentences2, prompt=self.prompt, text_cleaning=self.text_cleaning, **kwargs
        )

    def forward(self, **inputs) -> SequenceClassifierOutput:
        """`logits` of shape `(batch,)`: the model's one output per pair."""
        return SequenceClassifierOutput(logits=self.model(**inputs).logits.squeeze(-1))


def is_regression_classifier(config: PretrainedConfig) -> bool:
    """Whether `config` is that of a one-output `...ForSequenceClassification` model (a cross-encoder scoring pairs
    with its own head), as `hf-sts export --format sequence-classification` writes."""
    architectures = getattr(config, "architectures", None) or []
    return config.num_labels == 1 and any(name.endswith("ForSequenceClassification") for name in architectures)


@dataclass
class LoadedModel:
    """A model ready to score pairs: the hf_sts model (eval mode; a [`SequenceClassificationScorer`] for an exported
    sequence-classification model, an `OnnxScorer` for the ONNX graph of an export), its tokenizer, the
    `max_seq_length` pairs are truncated to (the training run's, from its `recipe.json`), a one-line description for
    logs and reports, the training run's `bf16` setting (`None` without a `recipe.json`: a plain encoder, an export, a
    Hub id), and the backend that runs it (`"torch"` or `"onnx"`)."""

    model: StsPreTrainedModel | SequenceClassificationScorer | OnnxScorer
    tokenizer: PreTrainedTokenizerBase
    max_seq_length: int
    description: str
    run_bf16: bool | None = None
    backend: str = "torch"

    @property
    def hidden_size(self) -> int:
        """The encoder's hidden size, at which the bf16 probe measures (`hf_sts.utils.hardware.native_bf16`)."""
        config = getattr(self.model.config, "backbone_config", None) or self.model.config
        return getattr(config, "hidden_size", PROBE_HIDDEN_SIZE)

    def use_bf16(self, bf16: bool | None = None) -> bool:
        """Whether to score under bf16 autocast: `bf16` when given; else where bf16 is faster on the device
        (`hf_sts.utils.hardware.native_bf16`, measured at the model's hidden size) and the training run did not train
        without it (`bf16: false`), so that a run trained and scored in fp32 (an fp16 or fp32 recipe) is scored in
        fp32 again, as its `submission.csv` was. An ONNX graph runs in the precision it was exported in: never bf16.

        Raises:
            ModelLoadError: for `bf16=True` with the ONNX backend.
        """
        if self.backend == "onnx":
            if bf16:
                raise ModelLoadError("--precision bf16: an ONNX graph runs in the precision it was exported in.")
            return False
        if bf16 is not None:
            return bf16
        return self.run_bf16 is not False and native_bf16(self.model.device, self.hidden_size)

    @property
    def bi_encoder(self) -> bool:
        """Whether the model embeds each sentence alone and scores a pair by the cosine of the two embeddings (an
        hf_sts bi-encoder, a plain encoder scored zero-shot, or the ONNX graph of a bi-encoder): the models whose
        unclipped score is `config.score_scale` × that cosine."""
        return isinstance(self.model, StsBiEncoderModel) or bool(getattr(self.model, "bi_encoder", False))

    def score(
        self,
        sentences1: list[str],
        sentences2: list[str],
        batch_size: int | None = None,
        bf16: bool | None = None,
        show_progress_bar: bool = True,
    ) -> np.ndarray:
        """[`predict_scores`] with this model, its tokenizer and its `max_seq_length`: `(n,)` float64 scores on the
        0.0–5.0 scale, unclipped, in input order, under bf16 as [`use_bf16`] says. What `hf-sts predict`,
        `hf-sts evaluate` and the demo page score with."""
        return predict_scores(
            self.model,
            self.tokenizer,
            sentences1,
            sentences2,
            self.max_seq_length,
            batch_size,
            show_progress_bar=show_progress_bar,
            bf16=self.use_bf16(bf16),
        )


def run_recipe(model_dir: str | Path) -> dict | None:
    """The `recipe.json` of the run that wrote `model_dir` (a `checkpoint-*` folder's is one level up); `None` when
    there is none (a Hub id, a plain encoder, an export).

    Raises:
        ModelLoadError: naming the `recipe.json`, when it is not a JSON object.
    """
    model_dir = Path(model_dir)
    for path in (model_dir / "recipe.json", model_dir.parent / "recipe.json"):
        if path.is_file():
            return read_json_object(path, ModelLoadError)
    return None


def _hub_recipe(repo_id: str, **hub_kwargs) -> dict | None:
    """The `recipe.json` a push uploaded beside the model of the Hub repository `repo_id` (downloaded, or from the
    cache); `None` where there is none (a plain encoder) or it cannot be had (offline and not cached)."""
    try:
        path = hf_hub_download(repo_id, "recipe.json", **hub_kwargs)
    except Exception:  # missing, offline, gated: huggingface_hub raises several types; the model loaded regardless
        return None
    return read_json_object(path, ModelLoadError)


def recorded_max_seq_length(config: PretrainedConfig) -> int | None:
    """The `max_seq_length` an export recorded in its `config.json` (under `EXPORT_INPUT_KEY`); `None` where it
    recorded none."""
    return (getattr(config, EXPORT_INPUT_KEY, None) or {}).get("max_seq_length")


def run_max_seq_length(model_dir: str | Path) -> int | None:
    """The `max_seq_length` of the run that wrote `model_dir` (see [`run_recipe`]); `None` without a recipe."""
    recipe = run_recipe(model_dir)
    return None if recipe is None else recipe.get("max_seq_length", DEFAULT_MAX_SEQ_LENGTH)


def load_model(
    model_name_or_path: str,
    pooling: str | None = None,
    prompt: str | None = None,
    max_seq_length: int | None = None,
    device: str | None = None,
    backend: str = "torch",
    onnx_file: str | None = None,
    **hub_kwargs,
) -> LoadedModel:
    """Load a model to score pairs with.

    Args:
        model_name_or_path: an hf_sts checkpoint, a LoRA run's `adapter/` folder, a one-output regression
            sequence-classification model (an `hf-sts export`), or a plain pretrained encoder (local folder or Hub
            id).
        pooling, prompt: for a plain encoder only, scored zero-shot as a bi-encoder: `"mean"` (default) or `"cls"`
            pooling, and the text put before every sentence (`"query: "` for multilingual-e5). An hf_sts checkpoint
            carries its own; an exported sequence-classification model takes `prompt` (default: the one its export
            recorded) but not `pooling`.
        max_seq_length: tokens per pair (per sentence for a bi-encoder); default: the training run's (from its
            `recipe.json`, beside the model or in its Hub repository), else (an export) the one its `config.json`
            records (`hf_sts_input`, an ONNX export) or its tokenizer's `model_max_length` when below 100,000 (a
            sequence-classification export), else 128.
        device: where the model runs (`"cpu"`, `"cuda"`, `"cuda:1"`, ...); default: CUDA when there is one (the
            torch backend), the CPU (the ONNX backend).
        backend: `"torch"` (default), or `"onnx"`: the ONNX graph of an `hf-sts export --format onnx` folder, run by
            onnxruntime (see `hf_sts.inference.onnx`), with the model's own tokenization, prompt and cleaning.
        onnx_file: with `backend="onnx"`, the graph in the folder's `onnx/` to run (default: the int8 one when
            there is one, else `model.onnx`; see `hf_sts.inference.onnx.onnx_model_file`).
        **hub_kwargs: `cache_dir`, `revision`, `token` for `from_pretrained`.

    Raises:
        ModelLoadError: if nothing loadable is there, `pooling` / `prompt` are given for an hf_sts checkpoint,
            `pooling` for a sequence-classification model, `device` is not one of this machine's, the tokenizer has
            no padding token, or `max_seq_length` is beyond the encoder's position embeddings; for an unknown
            `backend`, `onnx_file` without `backend="onnx"`, and with it: onnxruntime not installed (the message
            names the `onnx` extra), a folder that is not a local ONNX export, or a graph onnxruntime cannot load.
    """
    path = Path(model_name_or_path)
    if backend not in BACKENDS:
        raise ModelLoadError(f"--backend {backend!r}: expected one of {list(BACKENDS)}.")
    if onnx_file is not None and backend != "onnx":
        raise ModelLoadError(f"--onnx_file {onnx_file}: it names a graph of --backend onnx, which is not chosen.")
    if backend == "onnx":
        import_onnxruntime()  # before anything loads: one line naming the extra
        if not path.is_dir():
            raise ModelLoadError(
                f"{path}: --backend onnx reads a local folder written by `hf-sts export --format onnx`."
            )
        _refuse_overrides(
            path, pooling, prompt, "an ONNX export of an hf_sts model, which carries its own pooling and prompt"
        )
        onnx_path = onnx_model_file(path, onnx_file)
    if path.exists() and not path.is_dir():
        raise ModelLoadError(f"{path}: a model is a folder (or a Hub id), not a file.")
    # onnxruntime runs on the CPU unless told otherwise (its CUDA provider is a separate package).
    device = resolve_device("cpu" if backend == "onnx" and device is None else device, ModelLoadError)
    # The tokenizer first: a folder without one is refused in one line before any weights load.
    tokenizer = checked_tokenizer(model_name_or_path, ModelLoadError, **hub_kwargs)
    if backend == "onnx":
        model, description = _load_onnx(path, onnx_path, device)
    elif (path / "adapter_config.json").is_file():
        from hf_sts.models.lora import load_adapter_model  # peft, imported by LoRA runs only

        _refuse_overrides(path, pooling, prompt)
        model = load_adapter_model(str(path)).merge_and_unload()
        description = f"{path} (LoRA adapter, merged)"
    else:
        config = checked_from_pretrained(AutoConfig, model_name_or_path, ModelLoadError, **hub_kwargs)
        check_local_weights(model_name_or_path, ModelLoadError)
        if isinstance(config, StsBackboneConfig):
            _refuse_overrides(path, pooling, prompt)
            model = AutoModel.from_pretrained(model_name_or_path, **hub_kwargs)
            description = f"{model_name_or_path} (hf_sts {config.model_type})"
        elif is_regression_classifier(config):
            _refuse_overrides(path, pooling, None, "a sequence-classification model, which scores with its own head")
            recorded = getattr(config, EXPORT_INPUT_KEY, None) or {}
            prompt = prompt if prompt is not None else recorded.get("prompt")
            classifier = AutoModelForSequenceClassification.from_pretrained(model_name_or_path, **hub_kwargs)
            model = SequenceClassificationScorer(classifier, prompt, recorded.get("text_cleaning"))
            description = f"{model_name_or_path} ({classifier.config.architectures[0]}, one regression output)"
            if max_seq_length is None and tokenizer.model_max_length < 100_000:  # an export sets the run's
                max_seq_length = tokenizer.model_max_length
        else:
            pooling = pooling or "mean"
            backbone = AutoModel.from_pretrained(model_name_or_path, **hub_kwargs)
            model = StsBiEncoderModel.from_backbone(backbone, pooling=pooling, prompt=prompt)
            description = (
                f"{model_name_or_path} (a plain {config.model_type} encoder) zero-shot as a bi-encoder ({pooling} "
                f"pooling, prompt {prompt!r}, score = 5 × cosine)"
            )
    recipe = (run_recipe(path) if path.exists() else _hub_recipe(model_name_or_path, **hub_kwargs)) or {}
    if max_seq_length is None:
        recorded = recorded_max_seq_length(model.config)
        max_seq_length = recipe.get("max_seq_length", DEFAULT_MAX_SEQ_LENGTH) if recipe or not recorded else recorded
    run_bf16 = bf16_setting(recipe.get("bf16")) if recipe else None
    run_bf16 = None if run_bf16 == "auto" else run_bf16  # decided by this machine
    limit = max_positions(getattr(model.config, "backbone_config", None) or model.config)
    if limit is not None and max_seq_length > limit:
        raise ModelLoadError(
            f"--max_seq_length {max_seq_length}: {model_name_or_path} reads at most {limit} tokens per sequence."
        )
    return LoadedModel(model.to(device).eval(), tokenizer, max_seq_length, description, run_bf16, backend)


def _load_onnx(path: Path, onnx_path: Path, device: torch.device) -> tuple[OnnxScorer, str]:
    """The [`OnnxScorer`] of the graph `onnx_path` of the ONNX export in the folder `path`, and its one-line
    description.

    Raises:
        ModelLoadError: for a folder whose `config.json` is not an hf_sts model's, or a graph onnxruntime cannot load
            (see `hf_sts.inference.onnx.onnx_session`).
    """
    config = checked_from_pretrained(AutoConfig, str(path), ModelLoadError)
    if not isinstance(config, StsBackboneConfig):
        raise ModelLoadError(
            f"{path} holds a {config.model_type!r} model; --backend onnx scores the folder that "
            "`hf-sts export --format onnx` writes of an hf_sts model."
        )
    scorer = OnnxScorer(onnx_session(onnx_path, device), config)
    return scorer, f"{path} (hf_sts {config.model_type}, ONNX graph {onnx_path.parent.name}/{onnx_path.name})"


def _refuse_overrides(
    path: Path,
    pooling: str | None,
    prompt: str | None,
    kind: str = "an hf_sts model, which carries its own pooling and prompt",
) -> None:
    given = [name for name, value in (("--pooling", pooling), ("--prompt", prompt)) if value is not None]
    if given:
        raise ModelLoadError(
            f"{path} is {kind}; {' and '.join(given)} {'applies' if len(given) == 1 else 'apply'} only to a plain "
            "encoder scored zero-shot."
        )
