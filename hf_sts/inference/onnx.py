"""Score with the ONNX graph of an `hf-sts export --format onnx` folder (`--backend onnx` of `hf-sts predict`,
`hf-sts evaluate` and `hf-sts demo`), through ONNX Runtime.

The folder is an hf_sts model folder (its `config.json` gives the prompt, the text cleaning and, under
`hf_sts_input`, the `max_seq_length`; its tokenizer) with the graphs in `onnx/`, in the layout of
sentence-transformers' ONNX backend:

- `onnx/model.onnx`: the model in fp32;
- `onnx/model_<weights>_<isa>.onnx` (`--quantize int8`): the same graph with its MatMul weights dynamically
  quantized to 8-bit integers for the instruction set `<isa>` of the machine that exported it, named as
  sentence-transformers' `export_dynamic_quantized_onnx_model` names them: `model_qint8_avx512_vnni.onnx`,
  `model_qint8_avx512.onnx`, `model_quint8_avx2.onnx`, `model_qint8_arm64.onnx`.

A cross-encoder's graph maps `input_ids`, `attention_mask` (and `token_type_ids` where the tokenizer makes them), each
`(batch, seq_len)` int64, to `logits`, `(batch,)` float32: the score per pair on the 0.0–5.0 scale, unclipped, as
the torch model's `forward`. A bi-encoder's graph maps the same inputs of single sentences to `sentence_embedding`,
`(batch, hidden_size)` float32, the pooled token states, not normalised (`StsBiEncoderModel.encode`); a pair scores
`score_scale` × the cosine of its two embeddings.

[`OnnxScorer`] gives a graph the interface of an hf_sts model (`tokenize`, `forward(...).logits`), so the pairs are
tokenized, batched, sorted and put back in order by the one scoring loop, `hf_sts.inference.scoring`.

onnxruntime is an optional dependency (`pip install "hf_sts[onnx]"`), imported by [`import_onnxruntime`] only where
a graph is run or written.
"""

import platform
from pathlib import Path

import torch
from transformers.modeling_outputs import SequenceClassifierOutput

from hf_sts.errors import HfStsError, ModelLoadError, first_line
from hf_sts.models.sts.configuration_sts import StsBackboneConfig, StsBiEncoderConfig
from hf_sts.models.sts.modeling_sts import StsBiEncoderModel, StsCrossEncoderModel, pair_cosine


# What `--backend` takes: the torch model, or its ONNX graph.
BACKENDS = ("torch", "onnx")
ONNX_FOLDER = "onnx"
ONNX_FILE = "model.onnx"
# The quantized graphs, named as sentence-transformers (optimum) names them: `model_{weights dtype}_{isa}.onnx`.
QUANTIZED_GLOB = "model_q*int8_*.onnx"
# The names of the graphs' outputs.
SCORE_OUTPUT = "logits"
EMBEDDING_OUTPUT = "sentence_embedding"
ONNX_EXTRA = 'pip install "hf_sts[onnx]"'


def import_onnxruntime(error: type[HfStsError] = ModelLoadError):
    """The `onnxruntime` module.

    Raises:
        `error`: one line naming the extra to install, if onnxruntime is not installed.
    """
    try:
        import onnxruntime  # an optional dependency: the `onnx` extra
    except ImportError:
        raise error(f"ONNX needs onnxruntime, which is not installed: {ONNX_EXTRA}") from None
    return onnxruntime


def cpu_isa() -> str | None:
    """The instruction set of this CPU that int8 graphs are quantized for, as sentence-transformers names it:
    `"arm64"`, `"avx512_vnni"`, `"avx512"` or `"avx2"` (read by PyTorch's cpuinfo); `None` for an x86 CPU without
    AVX2."""
    capabilities = getattr(torch.cpu, "get_capabilities", dict)()
    machine = str(capabilities.get("architecture") or platform.machine()).lower()
    if machine in ("arm64", "aarch64"):
        return "arm64"
    if capabilities.get("avx512_f"):
        return "avx512_vnni" if capabilities.get("avx512_vnni") else "avx512"
    return "avx2" if capabilities.get("avx2") else None


def onnx_model_file(folder: str | Path, name: str | None = None) -> Path:
    """The graph of the export `folder` to score with: `onnx/{name}` when given; else the int8 graph
    (`QUANTIZED_GLOB`; of several, the one for this CPU's [`cpu_isa`]), else `onnx/model.onnx`.

    Raises:
        ModelLoadError: for a folder without `onnx/`, a `name` not there, or several int8 graphs none of which is
            for this CPU; the message lists the graphs there.
    """
    folder = Path(folder)
    onnx_dir = folder / ONNX_FOLDER
    graphs = sorted(path.name for path in onnx_dir.glob("*.onnx"))
    if not graphs:
        raise ModelLoadError(
            f"{folder}: no ONNX graph in {ONNX_FOLDER}/; --backend onnx reads a folder written by "
            "`hf-sts export --format onnx`."
        )
    if name is not None:
        if Path(name).name != name or name not in graphs:
            raise ModelLoadError(f"--onnx_file {name}: not a graph in {onnx_dir}; there: {', '.join(graphs)}.")
        return onnx_dir / name
    quantized = sorted(onnx_dir.glob(QUANTIZED_GLOB))
    if len(quantized) > 1:
        isa = cpu_isa()
        quantized = [path for path in quantized if path.stem.split("int8_", 1)[1] == isa]
        if len(quantized) != 1:
            raise ModelLoadError(
                f"{onnx_dir} holds several int8 graphs, none for this CPU ({isa}); choose one with --onnx_file "
                f"NAME: {', '.join(graphs)}."
            )
    if quantized:
        return quantized[0]
    if ONNX_FILE not in graphs:
        raise ModelLoadError(f"{onnx_dir}: no {ONNX_FILE}; choose a graph with --onnx_file NAME: {', '.join(graphs)}.")
    return onnx_dir / ONNX_FILE


def onnx_session(path: str | Path, device: torch.device | None = None, error: type[HfStsError] = ModelLoadError):
    """An ONNX Runtime `InferenceSession` of the graph at `path`: on the CPU (`CPUExecutionProvider`) unless `device`
    is a CUDA device (`CUDAExecutionProvider` on that device, which `onnxruntime-gpu` has).

    Raises:
        `error`: if onnxruntime is not installed, has no provider for `device`, or cannot read the graph.
    """
    onnxruntime = import_onnxruntime(error)
    device = torch.device("cpu") if device is None else torch.device(device)
    if device.type == "cpu":
        providers = ["CPUExecutionProvider"]
    elif device.type == "cuda" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        providers = [("CUDAExecutionProvider", {"device_id": device.index or 0}), "CPUExecutionProvider"]
    else:
        raise error(
            f"--device {device}: the installed onnxruntime runs on {', '.join(onnxruntime.get_available_providers())}"
            " (CUDA needs onnxruntime-gpu); score ONNX graphs on the CPU (--device cpu)."
        )
    try:
        return onnxruntime.InferenceSession(str(path), providers=providers)
    except Exception as failure:  # onnxruntime raises its own types (InvalidGraph, Fail, ...)
        raise error(f"{path}: onnxruntime cannot load it: {first_line(failure)}") from None


class OnnxScorer(torch.nn.Module):
    """The ONNX graph of an hf_sts model with the interface of the model, so that
    `hf_sts.inference.scoring.predict_scores` scores with it: `tokenize` (the model's own, with its prompt and text
    cleaning from `config`) and `forward(**batch).logits`, `(batch,)` float32 scores on the 0.0–5.0 scale,
    unclipped. It has no parameters: batches come to it on the CPU, and onnxruntime runs them on its session's
    provider.

    Args:
        session: an `onnxruntime.InferenceSession` of the graph (see [`onnx_session`]).
        config: the hf_sts config of the exported model (a [`StsBackboneConfig`]): its architecture, prompt, text
            cleaning and, for a bi-encoder, `score_scale`.
    """

    def __init__(self, session, config: StsBackboneConfig):
        super().__init__()
        self.session = session
        self.config = config
        self.bi_encoder = isinstance(config, StsBiEncoderConfig)
        self.input_names = [graph_input.name for graph_input in session.get_inputs()]

    @property
    def device(self) -> torch.device:
        """Where the batches go: the CPU (onnxruntime copies them to its provider)."""
        return torch.device("cpu")

    def tokenize(self, tokenizer, sentences1: list[str], sentences2: list[str], **kwargs) -> dict:
        """The model inputs of sentence pairs, as the exported hf_sts model builds them (`**kwargs` go to the
        tokenizer)."""
        model_class = StsBiEncoderModel if self.bi_encoder else StsCrossEncoderModel
        return model_class.pair_inputs(
            tokenizer,
            sentences1,
            sentences2,
            prompt=self.config.prompt,
            text_cleaning=self.config.text_cleaning,
            **kwargs,
        )

    def run(self, output: str, inputs: dict, suffix: str = "") -> torch.Tensor:
        """The graph's `output` on the inputs of `inputs` named as the graph's inputs plus `suffix` (`"_b"`: a
        bi-encoder's second sentences), each `(batch, seq_len)`."""
        feed = {name: inputs[name + suffix].detach().cpu().numpy() for name in self.input_names}
        return torch.from_numpy(self.session.run([output], feed)[0])

    def forward(self, **inputs) -> SequenceClassifierOutput:
        """`logits` of shape `(batch,)`: the graph's score per pair (a cross-encoder), or `score_scale` × the cosine
        of the graph's embeddings of the two sentences (a bi-encoder), as the torch model's `forward` gives them."""
        if not self.bi_encoder:
            return SequenceClassifierOutput(logits=self.run(SCORE_OUTPUT, inputs))
        embeddings = (self.run(EMBEDDING_OUTPUT, inputs), self.run(EMBEDDING_OUTPUT, inputs, "_b"))
        return SequenceClassifierOutput(logits=self.config.score_scale * pair_cosine(*embeddings))


__all__ = [
    "BACKENDS",
    "OnnxScorer",
    "cpu_isa",
    "import_onnxruntime",
    "onnx_model_file",
    "onnx_session",
]
