"""ONNX exports (`hf-sts export --format onnx [--quantize int8]`) and scoring with them (`--backend onnx`): the graphs
score as the torch model does, within the export's tolerances (fp32: `TOLERANCE`; int8: `INT8_TOLERANCE`), through
the same tokenization, prompt, cleaning and truncation."""

import json
import re
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from hf_sts import StsBiEncoderModel
from hf_sts.cli.main import main as hf_sts_cli
from hf_sts.inference import onnx as inference_onnx
from hf_sts.inference.loading import load_model
from hf_sts.inference.onnx import cpu_isa, onnx_model_file
from hf_sts.tools import export
from hf_sts.tools.export import INT8_TOLERANCE, TOLERANCE, ExportError, export_model

from ..conftest import KLUE_DEV, refusal_line, tiny_sts_model


pytest.importorskip("onnxruntime", reason='needs the onnx extra: pip install "hf_sts[onnx]"')

# Short enough that many of the KLUE pairs are truncated: the ONNX path must truncate as the torch path does.
MAX_SEQ_LENGTH = 24
CLEANING = ["emoji", "repeated_characters", "whitespace"]
# (backbone, cross-encoder head or "bi-encoder", prompt, text cleaning) of the tiny runs exported once per module.
KINDS = {
    "cls": ("bert", "cls", None, None),
    "mean": ("roberta", "mean", "query: ", CLEANING),
    "bi-encoder": ("roberta", "bi-encoder", "query: ", CLEANING),
}
DIRTY_PAIRS = [
    ("숙소가 (진짜) 깨끗해요ㅋㅋㅋㅋ😀!!", "방이 “조용”해요~ 👍🏽"),
    ("위반행위 조사 등을   거부·방해·기피한 자", "조사를 방해한 자"),
]


def _save_run(model, tokenizer, run_dir):
    """What a run leaves in output_dir, as far as export reads it."""
    model.save_pretrained(run_dir)
    tokenizer.save_pretrained(run_dir)
    (run_dir / "recipe.json").write_text(json.dumps({"max_seq_length": MAX_SEQ_LENGTH}))
    return run_dir


def _spread(model, tokenizer):
    """Trained-looking weights, so that the scores of KLUE pairs spread over the scale and a wrong input would show:
    the encoder's weights moved, then a bi-encoder's embeddings widened, or a cross-encoder's output layer rescaled
    to scores of mean 2.5 and standard deviation 0.5 (a tiny random encoder's features are noise-like, and int8
    rounding of them moves an amplified score further than it moves a trained model's)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in model.backbone.encoder.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.2)
        if isinstance(model, StsBiEncoderModel):
            torch.nn.init.normal_(model.backbone.get_input_embeddings().weight, std=1.0)
            return model
        dev = pd.read_json(KLUE_DEV).iloc[:40]
        batch = model.tokenize(tokenizer, list(dev.sentence1), list(dev.sentence2), padding=True, return_tensors="pt")
        scores, out_proj = model(**batch).logits, model.head.out_proj
        scale = 2 * scores.std()
        out_proj.weight.div_(scale)
        out_proj.bias.copy_(2.5 - (scores.mean() - out_proj.bias) / scale)
    return model


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory):
    """40 KLUE-STS dev pairs and two that the cleaning steps change, unlabeled, with ids."""
    folder = tmp_path_factory.mktemp("onnx_pairs")
    dev = pd.read_json(KLUE_DEV)[["sentence1", "sentence2"]].iloc[:40]
    dirty = pd.DataFrame(DIRTY_PAIRS, columns=["sentence1", "sentence2"])
    frame = pd.concat([dev, dirty], ignore_index=True)
    frame.assign(id=[f"t{i}" for i in range(len(frame))]).to_csv(folder / "test.csv", index=False)
    return folder / "test.csv"


@pytest.fixture(scope="module")
def exports(tmp_path_factory, tokenizer):
    """`{kind: (run, export)}`: a tiny run of each kind of `KINDS` and its `--format onnx --quantize int8` export,
    written by the command."""
    root = tmp_path_factory.mktemp("onnx_exports")
    folders = {}
    for kind, (model_type, head, prompt, cleaning) in KINDS.items():
        torch.manual_seed(0)
        model = _spread(tiny_sts_model(model_type, head, tokenizer).eval(), tokenizer)
        model.config.prompt, model.config.text_cleaning = prompt, cleaning
        run = _save_run(model, tokenizer, root / f"run_{kind}")
        out = root / f"onnx_{kind}"
        hf_sts_cli(["export", str(run), "--format", "onnx", "--quantize", "int8", "--output", str(out)])
        folders[kind] = (run, out)
    return folders


def _predict(tmp_path, model, pairs_file, name, *options) -> np.ndarray:
    output = tmp_path / f"{name}.csv"
    hf_sts_cli(["predict", str(model), "--input", str(pairs_file), "--output", str(output), *options])
    return pd.read_csv(output)["target"].to_numpy()


@pytest.mark.parametrize("kind", list(KINDS))
def test_predict_with_the_onnx_backend_reproduces_the_torch_scores(exports, pairs_file, tmp_path, kind):
    run, out = exports[kind]
    expected = _predict(tmp_path, run, pairs_file, "torch", "--precision", "fp32")
    assert expected.std() > 0.05  # scores that differ: a wrong input would show
    fp32 = _predict(tmp_path, out, pairs_file, "fp32", "--backend", "onnx", "--onnx_file", "model.onnx")
    int8 = _predict(tmp_path, out, pairs_file, "int8", "--backend", "onnx")  # the int8 graph is the default
    np.testing.assert_allclose(fp32, expected, atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(int8, expected, atol=INT8_TOLERANCE, rtol=0)
    # The export's own folder scores with torch too, at the run's max_seq_length (recorded in its config.json).
    np.testing.assert_allclose(
        _predict(tmp_path, out, pairs_file, "export_torch", "--precision", "fp32"), expected, atol=1e-6, rtol=0
    )


def test_the_export_is_the_model_folder_with_its_graphs(exports):
    import onnxruntime

    run, out = exports["bi-encoder"]
    names = {path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file()}
    quantized = onnx_model_file(out).relative_to(out).as_posix()  # the int8 graph for this CPU
    assert quantized in (f"onnx/model_qint8_{cpu_isa()}.onnx", f"onnx/model_quint8_{cpu_isa()}.onnx")
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"} <= names
    assert {name for name in names if name.startswith("onnx/")} == {"onnx/model.onnx", quantized}
    config = json.loads((out / "config.json").read_text())
    assert config["hf_sts_input"] == {"prompt": "query: ", "text_cleaning": CLEANING, "max_seq_length": MAX_SEQ_LENGTH}
    assert json.loads((out / "tokenizer_config.json").read_text())["model_max_length"] == MAX_SEQ_LENGTH
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "sentence_embedding" in card and quantized in card and "Input cleaning" in card
    # Both graphs: batch and sequence axes dynamic; a bi-encoder embeds each sentence, a cross-encoder scores pairs.
    for name in ("model.onnx", quantized.removeprefix("onnx/")):
        session = onnxruntime.InferenceSession(str(out / "onnx" / name), providers=["CPUExecutionProvider"])
        assert [(each.name, len(each.shape)) for each in session.get_outputs()] == [("sentence_embedding", 2)]
        assert all(isinstance(axis, str) for each in session.get_inputs() for axis in each.shape)
    cross_encoder = onnxruntime.InferenceSession(str(exports["cls"][1] / "onnx" / "model.onnx"))
    assert [(each.name, len(each.shape)) for each in cross_encoder.get_outputs()] == [("logits", 1)]
    # The layout, not a run: the folder has no recipe.json.
    assert not (out / "recipe.json").exists()


def test_evaluate_and_the_demo_score_with_the_onnx_backend(exports, tmp_path, capsys):
    from hf_sts.tools.demo import DemoModel

    run, out = exports["bi-encoder"]
    dev = tmp_path / "dev.csv"
    frame = pd.read_json(KLUE_DEV).iloc[:20]
    frame = frame.assign(label=[row["real-label"] for row in frame["labels"]])
    frame[["sentence1", "sentence2", "label"]].to_csv(dev, index=False)
    hf_sts_cli(
        [
            "evaluate",
            str(out),
            "--backend",
            "onnx",
            "--validation_file",
            str(dev),
            "--output_dir",
            str(tmp_path / "eval"),
        ]
    )
    results = json.loads((tmp_path / "eval" / "all_results.json").read_text())
    assert "ONNX graph onnx/model_q" in results["model"] and results["precision"] == "fp32"
    assert -1 <= results["eval_cosine_spearman"] <= 1  # a bi-encoder's graph gives its sentence embeddings
    demo = DemoModel(str(out), device="cpu", backend="onnx", onnx_file="model.onnx")
    assert demo.bi_encoder and demo.score_scale == 5.0
    sentence1, sentence2 = DIRTY_PAIRS[0]
    result = demo.score_pair(sentence1, sentence2)
    expected = load_model(str(run), device="cpu").score([sentence1], [sentence2], bf16=False, show_progress_bar=False)
    assert abs(result.raw - expected[0]) <= TOLERANCE
    assert result.cosine == pytest.approx(result.raw / 5)


def test_onnx_refusals_are_one_line_and_write_nothing(exports, pairs_file, tmp_path, capsys, monkeypatch):
    run, out = exports["cls"]
    before = sorted(path.name for path in tmp_path.iterdir())
    output = str(tmp_path / "out")
    line = refusal_line(
        ["export", str(run), "--format", "sentence-transformers", "--quantize", "int8", "--output", output], capsys
    )
    assert "--quantize int8" in line and "--format sentence-transformers is not quantized" in line
    predict = ["predict", "--input", str(pairs_file), "--output", str(tmp_path / "scores.csv")]
    assert "no ONNX graph in onnx/" in refusal_line([*predict, str(run), "--backend", "onnx"], capsys)
    line = refusal_line([*predict, str(out), "--backend", "onnx", "--onnx_file", "model_int4.onnx"], capsys)
    assert "--onnx_file model_int4.onnx: not a graph" in line and "model.onnx" in line
    assert "--onnx_file" in refusal_line([*predict, str(out), "--onnx_file", "model.onnx"], capsys)
    assert "--precision bf16" in refusal_line([*predict, str(out), "--backend", "onnx", "--precision", "bf16"], capsys)
    assert "--prompt" in refusal_line([*predict, str(out), "--backend", "onnx", "--prompt", "query: "], capsys)
    # Without onnxruntime (an extra, not a dependency): one line naming the extra, before anything loads.
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    line = refusal_line(["export", str(run), "--format", "onnx", "--output", output], capsys)
    assert line.endswith('not installed: pip install "hf_sts[onnx]"')
    assert refusal_line([*predict, str(out), "--backend", "onnx"], capsys).endswith('pip install "hf_sts[onnx]"')
    assert sorted(path.name for path in tmp_path.iterdir()) == before


@pytest.mark.slow
def test_a_graph_beyond_the_tolerance_or_an_rnn_head_is_refused_and_nothing_is_left(
    tmp_path, tiny_model, tokenizer, monkeypatch
):
    run = _save_run(tiny_model("bert", "mean"), tokenizer, tmp_path / "run")
    monkeypatch.setattr(export, "INT8_TOLERANCE", -1.0)
    with pytest.raises(ExportError, match=r"ONNX graph model_q\w*int8_\w+\.onnx scores the probe pairs .* away"):
        export_model(run, tmp_path / "out", "onnx", "int8")
    monkeypatch.setattr(export, "TOLERANCE", -1.0)
    with pytest.raises(ExportError, match=r"ONNX graph model\.onnx scores the probe pairs .* away"):
        export_model(run, tmp_path / "out", "onnx")
    rnn_run = _save_run(tiny_model("bert", "rnn"), tokenizer, tmp_path / "rnn")
    with pytest.raises(ExportError, match="'rnn' head, whose packed sequences have no ONNX export"):
        export_model(rnn_run, tmp_path / "out", "onnx")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["rnn", "run"]  # no staging folder left behind


@pytest.mark.slow  # three exports (about 15 s)
def test_an_int8_graph_is_checked_on_labeled_pairs_and_refused_beyond_the_pearson_tolerance(
    tmp_path, tiny_model, tokenizer, monkeypatch
):
    run = _save_run(_spread(tiny_model("bert", "mean"), tokenizer), tokenizer, tmp_path / "run")
    labeled = tmp_path / "dev.json"
    labeled.write_text(json.dumps(json.loads(KLUE_DEV.read_text(encoding="utf-8"))[:40], ensure_ascii=False))
    monkeypatch.setattr(export, "INT8_PEARSON_TOLERANCE", 1.0)
    out = export_model(run, tmp_path / "checked", "onnx", "int8", validation_file=labeled)
    card = (out / "README.md").read_text(encoding="utf-8")
    assert re.search(
        rf"int8 check: model_q\w*int8_\w+\.onnx: Pearson r -?[\d.]+ on {re.escape(str(labeled))} \(40 pairs; the lowest in batches of 1, 16, 64\)",
        card,
    )
    # A whole-int8 graph that loses too much is tried again with the lower half's feed-forward layers in fp32.
    losses = iter([2.0, 0.0])
    monkeypatch.setattr(export.Int8Check, "pearson_loss", lambda self, graph: next(losses))
    out = export_model(run, tmp_path / "mixed", "onnx", "int8", validation_file=labeled)
    card = (out / "README.md").read_text(encoding="utf-8")
    assert re.search(r"int8 check: model_qint8_\w+\.onnx \(the feed-forward layers of the lower half in fp32\)", card)
    monkeypatch.undo()
    # Beyond the tolerance (here: any graph), every int8 graph tried is refused and nothing is left.
    monkeypatch.setattr(export, "INT8_PEARSON_TOLERANCE", -1.0)
    with pytest.raises(
        ExportError, match=r"no int8 graph passes its checks \(model_q\w*int8_\w+\.onnx loses"
    ) as error:
        export_model(run, tmp_path / "refused", "onnx", "int8", validation_file=labeled)
    tried = len(export.INT8_WEIGHTS[cpu_isa()])
    assert str(error.value).count("(the feed-forward layers of the lower half in fp32) loses") == tried
    assert str(error.value).count(" loses ") == 2 * tried
    # The run's own validation file (its recipe.json's) is the default.
    (run / "recipe.json").write_text(json.dumps({"max_seq_length": MAX_SEQ_LENGTH, "validation_file": str(labeled)}))
    with pytest.raises(ExportError, match=re.escape(str(labeled))):
        export_model(run, tmp_path / "refused", "onnx", "int8")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checked", "dev.json", "mixed", "run"]
    with pytest.raises(ExportError, match="--validation_file checks an int8 graph"):
        export_model(run, tmp_path / "refused", "onnx", validation_file=labeled)


def test_the_lower_feed_forward_layers_are_found_in_the_graph(exports):
    """The MatMuls `--quantize int8` may leave in fp32 are the feed-forward projections of the lower half of the
    layers, as the exporter's own module paths (node metadata) name them: layer 0 of the two."""
    import onnx

    for kind in ("cls", "bi-encoder"):
        graph_file = exports[kind][1] / "onnx" / "model.onnx"
        nodes = export.lower_feed_forward_matmuls(graph_file, load_model(str(exports[kind][1])).model.backbone.config)
        scopes = {
            node.name: {prop.key: prop.value for prop in node.metadata_props}["namespace"]
            for node in onnx.load(str(graph_file), load_external_data=False).graph.node
            if node.name in nodes
        }
        assert len(scopes) == 2
        assert sum(".layer.0.intermediate.dense:" in scope for scope in scopes.values()) == 1
        assert sum(".layer.0.output.dense:" in scope for scope in scopes.values()) == 1
    assert export.lower_feed_forward_matmuls(graph_file, object()) == []


def test_the_default_graph_is_the_int8_one_for_this_cpu(tmp_path, monkeypatch):
    onnx_dir = tmp_path / "onnx"
    onnx_dir.mkdir()
    (onnx_dir / "model.onnx").touch()
    assert onnx_model_file(tmp_path) == onnx_dir / "model.onnx"
    for name in ("model_qint8_avx512_vnni.onnx", "model_quint8_avx2.onnx"):
        (onnx_dir / name).touch()
    monkeypatch.setattr(inference_onnx, "cpu_isa", lambda: "avx2")
    assert onnx_model_file(tmp_path) == onnx_dir / "model_quint8_avx2.onnx"
    assert onnx_model_file(tmp_path, "model.onnx") == onnx_dir / "model.onnx"
    monkeypatch.setattr(inference_onnx, "cpu_isa", lambda: "arm64")
    with pytest.raises(Exception, match="several int8 graphs, none for this CPU"):
        onnx_model_file(tmp_path)


@pytest.mark.slow
@pytest.mark.pretrained
def test_onnx_export_of_multilingual_e5_small(e5_encoder, tmp_path, klue_dev):
    """The real encoder, zero-shot as a bi-encoder with e5's prompt: its fp32 graph and its int8 graph score KLUE-STS
    dev pairs as the torch model does, within the export's tolerances. (sentence-transformers' own ONNX backend
    reads graphs through optimum, which needs transformers 4: not checked here.)"""
    from transformers import AutoModel, AutoTokenizer

    from hf_sts import StsBiEncoderModel

    run = tmp_path / "run"
    StsBiEncoderModel.from_backbone(AutoModel.from_pretrained(e5_encoder), prompt="query: ").save_pretrained(run)
    AutoTokenizer.from_pretrained(e5_encoder).save_pretrained(run)
    (run / "recipe.json").write_text(json.dumps({"max_seq_length": 128}))
    out = export_model(run, tmp_path / "onnx", "onnx", "int8")
    rows = klue_dev.select(range(64))
    first, second = rows["sentence1"][:], rows["sentence2"][:]
    expected = load_model(str(run), device="cpu").score(first, second, bf16=False, show_progress_bar=False)
    fp32 = load_model(str(out), backend="onnx", onnx_file="model.onnx").score(first, second, show_progress_bar=False)
    int8 = load_model(str(out), backend="onnx").score(first, second, show_progress_bar=False)
    np.testing.assert_allclose(fp32, expected, atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(int8, expected, atol=INT8_TOLERANCE, rtol=0)
