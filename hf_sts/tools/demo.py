"""A demo page for a trained model: `hf-sts demo MODEL`, a Gradio app (`pip install "hf_sts[demo]"`).

    hf-sts demo outputs/quickstart [--host 127.0.0.1] [--port 7860] [--share false] [--device cpu] [--backend onnx]

`MODEL` is anything `hf-sts predict` scores with (see `hf_sts.inference.loading.load_model`): an hf_sts run's
`output_dir`, one of its checkpoints, a LoRA run's `adapter/` folder, an exported sequence-classification model, a
plain encoder (zero-shot), or a Hub id, whose files are downloaded first (`huggingface_hub.snapshot_download`; what a
Space written by `hf-sts push --space` does); with `--backend onnx`, the local folder of an `hf-sts export --format
onnx`, scored with its ONNX graph (`--onnx_file` picks one). The page has

- a **pair** tab: two sentences in; out, the score on the 0.0–5.0 scale (clipped, as `hf-sts predict` writes it) on a
  visual scale, the binary verdict at the model's threshold (`all_results.json`'s `binary_threshold`, else KLUE's
  3.0), and for a bi-encoder the cosine (the unclipped score / `score_scale`); example pairs of the KLUE-STS dev set
  with their gold scores (`EXAMPLE_PAIRS`);
- a **batch** tab: a file in any format hf_sts reads, scored into a table and a downloadable `id,target` CSV, with
  the error of a bad file as one line;
- a side panel with the model's card facts (`hf_sts.training.card.card_facts`).

Every score comes from `LoadedModel.score` (`hf_sts.inference.scoring.predict_scores`), the code of `hf-sts predict`,
so the model's prompt and text cleaning apply and the page's scores equal the command's. Gradio is imported only to
build the page ([`build_page`]); [`DemoModel`] scores without it.
"""

import html
import importlib.util
import socket
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from huggingface_hub import snapshot_download

from hf_sts.data.readers import read_sts_file
from hf_sts.data.writers import write_submission
from hf_sts.errors import DemoError, HfStsError, first_line
from hf_sts.hub import UPLOAD_PATTERNS
from hf_sts.inference.loading import load_model
from hf_sts.metrics import BINARY_THRESHOLD, SCORE_MAX, SCORE_MIN, clip_scores
from hf_sts.models.sts.configuration_sts import StsBiEncoderConfig
from hf_sts.training.card import CardFacts, card_facts


# A handful of KLUE-STS v1.1 dev pairs (Park et al., 2021; CC BY-SA 4.0), one per stretch of the scale, as
# `(guid, sentence1, sentence2, gold label)`: the published label, rounded to 0.1. Copied from
# `recipes/data/klue-sts/klue-sts-v1.1_dev.json` (checked by tests/test_demo.py), so the page needs no data file.
EXAMPLE_PAIRS = [
    (
        "klue-sts-v1_dev_00000",
        "무엇보다도 호스트분들이 너무 친절하셨습니다.",
        "무엇보다도, 호스트들은 매우 친절했습니다.",
        4.9,
    ),
    (
        "klue-sts-v1_dev_00049",
        "여행을 간다면 겨울에 가시겠습니까, 여름에 가시겠습니까?",
        "겨울과 여름 중에서는 언제 여행 가는게 더 좋으신가요?",
        4.2,
    ),
    (
        "klue-sts-v1_dev_00003",
        "다만, 도로와 인접해서 거리의 소음이 들려요.",
        "하지만, 길과 가깝기 때문에 거리의 소음을 들을 수 있습니다.",
        3.7,
    ),
    (
        "klue-sts-v1_dev_00009",
        "다음에 도쿄를 또 간다면 무조건 이 곳을 다시 찾을 겁니다.",
        "독일을 다음에 또간다면 이숙소에 머물겁니다.",
        2.2,
    ),
    (
        "klue-sts-v1_dev_00001",
        "주요 관광지 모두 걸어서 이동가능합니다.",
        "위치는 피렌체 중심가까지 걸어서 이동 가능합니다.",
        1.4,
    ),
    (
        "klue-sts-v1_dev_00024",
        "열대야에는 고온이나 저온 말고 미온에 샤워할 것을 권합니다.",
        "겨울 시기에는 식중독 말고 감기 조심해요.",
        0.0,
    ),
]
# The file types the batch tab takes (what `hf_sts.data.readers.read_table` reads).
BATCH_FILE_TYPES = [".csv", ".tsv", ".json", ".jsonl"]
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7860
# Rows of an uploaded file shown in the batch table (the downloadable file has them all).
TABLE_ROWS = 1000
# Fonts from the machine, none fetched from the web (the page works offline); Korean ones first.
FONTS = ["Noto Sans CJK KR", "Noto Sans KR", "NanumGothic", "Apple SD Gothic Neo", "Malgun Gothic", "sans-serif"]
CSS = """
.hf-sts-result { font-size: 1rem; line-height: 1.5; }
.hf-sts-score { font-size: 2.4rem; font-weight: 700; }
.hf-sts-scale { position: relative; height: 14px; border-radius: 7px; margin: 10px 0 4px 0;
  background: linear-gradient(90deg, #d73027, #fc8d59, #fee08b, #d9ef8b, #91cf60, #1a9850); }
.hf-sts-marker { position: absolute; top: -6px; width: 4px; height: 26px; margin-left: -2px; background: #111;
  border-radius: 2px; }
.hf-sts-threshold { position: absolute; top: -3px; height: 20px; border-left: 2px dashed #555; }
.hf-sts-ticks { display: flex; justify-content: space-between; font-size: 0.8rem; color: #666; }
.hf-sts-verdict { font-weight: 600; }
#hf-sts-facts code { white-space: normal; word-break: break-all; }
"""


@dataclass
class PairResult:
    """One scored pair: `score` on the 0.0–5.0 scale, clipped as `hf-sts predict` writes it; `raw` unclipped;
    `cosine` (`raw / score_scale`, in [-1, 1]) for a bi-encoder, else `None`; `similar`: `score >= threshold`."""

    score: float
    raw: float
    cosine: float | None
    similar: bool
    threshold: float


@dataclass
class BatchResult:
    """A scored file: `table` (`id, target`, `label` when the file has labels, `sentence1, sentence2`), the
    `id,target` CSV written at `path` (as `hf-sts predict` writes it), and a one-line `summary`."""

    table: pd.DataFrame
    path: Path
    summary: str


class DemoModel:
    """A loaded model, its card facts and the scoring behind the page.

    Args:
        model: a local folder or Hub id, as `hf-sts predict` takes it (see module docstring).
        device: where the model runs (`"cpu"`, `"cuda"`, ...); default: CUDA when there is one (the CPU for the
            ONNX backend).
        backend, onnx_file: `"torch"` (default) or `"onnx"`, and the ONNX graph to run (see
            `hf_sts.inference.loading.load_model`).

    Raises:
        DemoError: for a Hub id that cannot be downloaded.
        hf_sts.errors.ModelLoadError: for a folder (or download) that holds no model.
    """

    def __init__(self, model: str, device: str | None = None, backend: str = "torch", onnx_file: str | None = None):

        self.name = model
        self.folder = resolve_model(model)
        self.loaded = load_model(str(self.folder), device=device, backend=backend, onnx_file=onnx_file)
        # The config tells: the loaded model is a torch module, or the ONNX graph of one.
        self.bi_encoder = isinstance(self.loaded.model.config, StsBiEncoderConfig)
        try:
            self.facts = card_facts(self.folder)
        except (OSError, ValueError):  # no config.json that loads (an adapter-only LoRA run): what loading says
            self.facts = CardFacts([("Model", self.loaded.description)], BINARY_THRESHOLD, self.bi_encoder)
        self.score_scale = float(getattr(self.loaded.model.config, "score_scale", SCORE_MAX))
        self._outputs = tempfile.TemporaryDirectory(prefix="hf_sts_demo_")  # removed with this object

    @property
    def threshold(self) -> float:
        """The binary verdict's threshold on the 0.0–5.0 scale (see `hf_sts.training.card.card_facts`)."""
        return self.facts.binary_threshold

    def score_pair(self, sentence1: str, sentence2: str) -> PairResult:
        """Score one pair with the code of `hf-sts predict` (`LoadedModel.score`, the model's prompt and cleaning)."""
        raw = float(self.loaded.score([sentence1], [sentence2], show_progress_bar=False)[0])
        score = float(clip_scores(np.array([raw]))[0])
        cosine = raw / self.score_scale if self.bi_encoder else None
        return PairResult(score, raw, cosine, score >= self.threshold, self.threshold)

    def score_file(self, path: str | Path, name: str | None = None) -> BatchResult:
        """Score every pair of the file `path` (any format of `hf_sts.data.readers.READERS`; labels optional) as
        `hf-sts predict --input path` does, and write its `id,target` CSV (named after `name`, the uploaded file's
        name).

        Raises:
            hf_sts.errors.DataFormatError: for a file hf_sts cannot read, naming the file (as `name`), row or column.
        """
        path = Path(path)
        name = name or path.name
        try:
            dataset = read_sts_file(path, require_labels=False)
        except HfStsError as error:  # an upload's temporary path means nothing to the user: its name does
            raise type(error)(str(error).replace(str(path), name)) from None
        predictions = self.loaded.score(dataset["sentence1"][:], dataset["sentence2"][:], show_progress_bar=False)
        output = Path(self._outputs.name) / uuid.uuid4().hex / f"{Path(name).stem}_predictions.csv"
        output.parent.mkdir()
        frame = write_submission(dataset, predictions, output)
        table = pd.DataFrame({"id": frame["id"], "target": frame["target"].round(4)})
        summary = f"{len(frame)} pairs of {name} scored"
        labels = pd.Series(dataset["label"], dtype="float64")
        if labels.notna().all() and len(labels) >= 2 and labels.nunique() > 1:
            table["label"] = labels.round(4).values
            pearson = np.corrcoef(frame["target"], labels)[0, 1]
            summary += f"; Pearson r against its labels {pearson:.4f}"
        table = table.assign(sentence1=dataset["sentence1"], sentence2=dataset["sentence2"])
        return BatchResult(table, output, summary + f"; download {output.name} (id,target).")


def resolve_model(model: str) -> Path:
    """The local folder of `model`: the path itself when it exists, else the files of the Hub repository `model`
    that a model push uploads (`hf_sts.hub.UPLOAD_PATTERNS`), downloaded (or from the cache).

    Raises:
        DemoError: for a Hub id that cannot be downloaded (offline and not cached, no such repository, private).
    """
    path = Path(model)
    if path.exists() or model.startswith((".", "/", "~")) or model.count("/") > 1:
        return path  # a local path, missing ones included: `load_model` says what is wrong with it
    try:
        return Path(snapshot_download(model, allow_patterns=list(UPLOAD_PATTERNS)))
    except Exception as error:  # offline, missing, gated: huggingface_hub raises several types
        raise DemoError(
            f"{model}: no such local folder, and the Hub repository cannot be downloaded: {first_line(error)}"
        ) from None


def result_html(result: PairResult | None, gold: float | None = None, message: str | None = None) -> str:
    """The pair tab's result as HTML: the score (2 decimals large, 4 in the details), a 0–5 scale with the score's
    marker and the threshold's dashed line, the verdict, the cosine (bi-encoder) and the gold score (examples).
    Element ids `hf-sts-score`, `hf-sts-verdict`, `hf-sts-cosine`, `hf-sts-gold`, `hf-sts-message` name the parts."""
    if result is None:
        return f'<div class="hf-sts-result"><p id="hf-sts-message">{html.escape(message or "")}</p></div>'
    position = 100 * (result.score - SCORE_MIN) / (SCORE_MAX - SCORE_MIN)
    threshold = 100 * (result.threshold - SCORE_MIN) / (SCORE_MAX - SCORE_MIN)
    verdict = "similar" if result.similar else "not similar"
    sign = ">=" if result.similar else "<"
    details = [f'score <span id="hf-sts-score">{result.score:.4f}</span> on the 0.0–5.0 scale']
    if result.raw != result.score:
        details.append(f"unclipped {result.raw:.4f}")
    if result.cosine is not None:
        details.append(f'cosine <span id="hf-sts-cosine">{result.cosine:.4f}</span>')
    if gold is not None:
        details.append(f'gold <span id="hf-sts-gold">{gold:.1f}</span> (KLUE-STS dev)')
    ticks = "".join(f"<span>{tick}</span>" for tick in range(int(SCORE_MIN), int(SCORE_MAX) + 1))
    return (
        '<div class="hf-sts-result">'
        f'<div class="hf-sts-score">{result.score:.2f} <span style="font-size:1rem;font-weight:400">/ 5</span></div>'
        f'<div class="hf-sts-scale"><div class="hf-sts-threshold" style="left:{threshold:.2f}%"></div>'
        f'<div class="hf-sts-marker" style="left:{position:.2f}%"></div></div>'
        f'<div class="hf-sts-ticks">{ticks}</div>'
        f'<p><span class="hf-sts-verdict" id="hf-sts-verdict">{verdict}</span> '
        f"(score {sign} the threshold {result.threshold:g})</p>"
        f"<p>{' · '.join(details)}</p></div>"
    )


def facts_markdown(model: DemoModel) -> str:
    """The side panel: the model's name, how it is scored and its card facts."""
    return f"### Model\n\n`{model.name}`\n\n{model.loaded.description}\n\n{model.facts.markdown()}\n"


def build_page(model: DemoModel):
    """The page of `model` as a `gradio.Blocks` (see the module docstring); launch it with [`launch_options`].

    Raises:
        DemoError: if gradio is not installed.
    """
    gr = import_gradio()

    def score(sentence1: str, sentence2: str, gold: float | None = None) -> str:
        if not (sentence1 or "").strip() or not (sentence2 or "").strip():
            return result_html(None, message="Type a sentence in each box.")
        return result_html(model.score_pair(sentence1, sentence2), gold)

    def score_upload(path: str | None):
        if path is None:
            return "Upload a CSV, TSV or JSON file of sentence pairs.", None, gr.DownloadButton(visible=False)
        try:
            batch = model.score_file(path, Path(path).name)
        except HfStsError as error:
            message = " ".join(str(error).split())  # one line, whatever the reader wrote
            return f"Error: {message}", None, gr.DownloadButton(visible=False)
        return batch.summary, batch.table.head(TABLE_ROWS), gr.DownloadButton(value=str(batch.path), visible=True)

    with gr.Blocks(title=f"hf_sts: {model.name}", analytics_enabled=False) as page:
        gr.Markdown(
            f"# Korean sentence similarity: `{model.name}`\n"
            "Two sentences in, a similarity score from 0.0 (unrelated) to 5.0 (same meaning) out, as "
            "`hf-sts predict` scores them."
        )
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Tabs():
                    with gr.Tab("Pair", id="pair"):
                        first = gr.Textbox(label="Sentence 1", lines=2, elem_id="hf-sts-sentence1")
                        second = gr.Textbox(label="Sentence 2", lines=2, elem_id="hf-sts-sentence2")
                        gold = gr.Number(label="Gold score (KLUE-STS dev examples)", interactive=False, visible=False)
                        button = gr.Button("Score", variant="primary", elem_id="hf-sts-score-button")
                        result = gr.HTML(result_html(None, message="Type two sentences, or pick an example below."))
                        gr.Examples(
                            examples=[[s1, s2, label] for _, s1, s2, label in EXAMPLE_PAIRS],
                            inputs=[first, second, gold],
                            outputs=result,
                            fn=score,
                            run_on_click=True,
                            cache_examples=False,
                            label="KLUE-STS dev pairs (third column: the gold score)",
                        )
                        button.click(score, [first, second, gold], result)
                        for box in (first, second):  # an edited pair has no gold score
                            box.input(lambda: None, None, gold)
                    with gr.Tab("Batch", id="batch"):
                        gr.Markdown(
                            "A file of sentence pairs (`.csv`, `.tsv`, `.json`, `.jsonl`) in any format hf_sts "
                            "reads: competition CSV, plain `sentence1,sentence2[,label]` CSV, KLUE JSON, KorSTS TSV; "
                            "labels are optional."
                        )
                        upload = gr.File(
                            label="Pairs file", file_types=BATCH_FILE_TYPES, type="filepath", elem_id="hf-sts-upload"
                        )
                        status = gr.Markdown(
                            "Upload a CSV, TSV or JSON file of sentence pairs.", elem_id="hf-sts-status"
                        )
                        download = gr.DownloadButton(
                            "Download id,target CSV", visible=False, elem_id="hf-sts-download"
                        )
                        table = gr.Dataframe(
                            label=f"Scores (the first {TABLE_ROWS:,} pairs; the download has them all)",
                            interactive=False,
                            wrap=True,
                            elem_id="hf-sts-table",
                        )
                        upload.change(score_upload, upload, [status, table, download])
            with gr.Column(scale=2):
                gr.Markdown(facts_markdown(model), elem_id="hf-sts-facts")
    return page


def launch_options() -> dict:
    """The `Blocks.launch` keyword arguments of the page's look (theme with the machine's fonts, CSS): pass them with
    the server settings, as `serve` and a Space's `app.py` do."""
    gr = import_gradio()
    return {"theme": gr.themes.Default(font=FONTS, font_mono=["ui-monospace", "monospace"]), "css": CSS}


def require_gradio() -> None:
    """Check that gradio is installed, without importing it (seconds).

    Raises:
        DemoError: if it is not.
    """
    if importlib.util.find_spec("gradio") is None:
        raise DemoError('The demo page needs gradio, which is not installed: pip install "hf_sts[demo]"')


def import_gradio():
    """The `gradio` module.

    Raises:
        DemoError: if it is not installed.
    """
    require_gradio()
    import gradio

    return gradio


def check_port(host: str, port: int) -> None:
    """Check that a server can listen on `host:port` (bind a socket there, with `SO_REUSEADDR` as uvicorn does).

    Raises:
        DemoError: for a port out of range, a host that does not resolve, or a port in use.
    """
    if not 0 < port < 65536:
        raise DemoError(f"--port {port}: not a port number (1-65535).")
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise DemoError(f"--host {host}: cannot be resolved ({error.strerror}).") from None
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise DemoError(
                f"{host}:{port} cannot be listened on ({error.strerror}): the port is in use, or not allowed; pick "
                "another with --port N."
            ) from None


def serve(
    model: str,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    share: bool = False,
    device=None,
    backend: str = "torch",
    onnx_file: str | None = None,
) -> None:
    """`hf-sts demo`: check the port, load `model` (see [`DemoModel`]; with `backend="onnx"`, its ONNX graph
    `onnx_file`), build the page and serve it on `host:port` until interrupted; with `share`, also through a public
    Gradio share link (needs the network).

    Raises:
        DemoError: for a port in use, gradio missing, or a server that does not start.
        hf_sts.errors.ModelLoadError: for a folder that holds no model.
    """
    check_port(host, port)
    require_gradio()  # before the model loads
    page = build_page(DemoModel(model, device=device, backend=backend, onnx_file=onnx_file))
    print(f"hf_sts demo of {model}: http://{host}:{port} (Ctrl+C stops it)", flush=True)
    try:
        page.launch(server_name=host, server_port=port, share=share, **launch_options())
    except OSError as error:  # taken between the check and the launch
        raise DemoError(f"{host}:{port}: the server did not start: {str(error).splitlines()[0]}") from None


__all__ = [
    "EXAMPLE_PAIRS",
    "BatchResult",
    "DemoError",
    "DemoModel",
    "PairResult",
    "build_page",
    "check_port",
    "launch_options",
    "resolve_model",
    "serve",
]
