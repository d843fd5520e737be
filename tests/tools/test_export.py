"""Exports load in their consumers (transformers' pipeline, sentence-transformers) and score like the hf_sts model."""

import json
import sys

import pytest
import torch

from hf_sts.cli.main import main as hf_sts_cli
from hf_sts.tools.export import ExportError, export_model

from ..conftest import TINY_BACKBONES


MAX_SEQ_LENGTH = 64


def _save_run(model, tokenizer, run_dir):
    """What a run leaves in output_dir, as far as export reads it."""
    model.save_pretrained(run_dir)
    tokenizer.save_pretrained(run_dir)
    (run_dir / "recipe.json").write_text(json.dumps({"max_seq_length": MAX_SEQ_LENGTH}))
    return run_dir


def _pairs(klue_dev, n=8):
    rows = klue_dev.select(range(n))
    return rows["sentence1"][:], rows["sentence2"][:]


@pytest.mark.parametrize("model_type", sorted(TINY_BACKBONES))
def test_sequence_classification_export_scores_identically(tmp_path, tiny_model, tokenizer, klue_dev, model_type):
    from sentence_transformers import CrossEncoder
    from transformers import AutoModelForSequenceClassification, pipeline

    model = tiny_model(model_type, "cls")
    torch.nn.init.normal_(model.head.dense.bias, std=0.5)  # trained-looking head weights, not the zero init
    first, second = _pairs(klue_dev)
    with torch.no_grad():
        inputs = tokenizer(
            first, second, padding=True, truncation=True, max_length=MAX_SEQ_LENGTH, return_tensors="pt"
        )
        expected = model(**inputs).logits
    out = tmp_path / "exported"
    export_model(_save_run(model, tokenizer, tmp_path / "run"), out, "sequence-classification")

    exported = AutoModelForSequenceClassification.from_pretrained(out)
    assert exported.config.num_labels == 1 and exported.config.problem_type == "regression"
    assert not any(name.endswith(".py") for name in map(str, out.iterdir()))  # plain transformers, no hf_sts code
    classify = pipeline("text-classification", model=str(out), device="cpu")
    results = classify([{"text": a, "text_pair": b} for a, b in zip(first, second, strict=True)], truncation=True)
    torch.testing.assert_close(torch.tensor([r["score"] for r in results]), expected, atol=1e-4, rtol=0)
    cross_encoder = CrossEncoder(str(out), device="cpu")
    scores = cross_encoder.predict(list(zip(first, second, strict=True)), convert_to_tensor=True)
    torch.testing.assert_close(scores.float(), expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("prompt", [None, "query: "])
def test_sentence_transformers_export_reproduces_cosine(tmp_path, tiny_model, tokenizer, klue_dev, prompt):
    from sentence_transformers import SentenceTransformer

    model = tiny_model("roberta", "bi-encoder")
    model.config.prompt = prompt
    first, second = _pairs(klue_dev)
    with torch.no_grad():
        encode = [
            model.encode(
                **tokenizer(
                    [(prompt or "") + sentence for sentence in side],
                    padding=True,
                    truncation=True,
                    max_length=MAX_SEQ_LENGTH,
                    return_tensors="pt",
                )
            )
            for side in (first, second)
        ]
        cosine = torch.nn.functional.cosine_similarity(*encode)
    out = tmp_path / "exported"
    hf_sts_cli(
        [
            "export",
            str(_save_run(model, tokenizer, tmp_path / "run")),
            "--format",
            "sentence-transformers",
            "--output",
            str(out),
        ]
    )

    sentence_model = SentenceTransformer(str(out), device="cpu")
    assert sentence_model.max_seq_length == MAX_SEQ_LENGTH
    # The hf_sts prompt is the export's default prompt: plain `encode` applies it, as training did.
    assert sentence_model.default_prompt_name == ("query" if prompt else None)
    assert (sentence_model.prompts.get("query") or None) == prompt
    embeddings = [sentence_model.encode(side, convert_to_tensor=True) for side in (first, second)]
    torch.testing.assert_close(embeddings[0], encode[0], atol=1e-4, rtol=0)
    similarity = sentence_model.similarity(*embeddings)  # (n, n): every first sentence against every second
    torch.testing.assert_close(similarity.diagonal(), cosine, atol=1e-5, rtol=0)


def test_export_errors(tmp_path, tiny_model, tokenizer, capsys):
    mlp_run = _save_run(tiny_model("bert", "mlp"), tokenizer, tmp_path / "mlp")
    with pytest.raises(
        ExportError, match=r"cross-encoder with head 'mlp'; sequence-classification needs .*'cls' head"
    ):
        export_model(mlp_run, tmp_path / "out", "sequence-classification")
    with pytest.raises(ExportError, match="holds a cross-encoder; sentence-transformers needs a bi-encoder"):
        export_model(mlp_run, tmp_path / "out", "sentence-transformers")
    bi_run = _save_run(tiny_model("bert", "bi-encoder"), tokenizer, tmp_path / "bi")
    with pytest.raises(SystemExit) as exit_info:
        hf_sts_cli(["export", str(bi_run), "--format", "sequence-classification", "--output", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error
    assert error.splitlines()[-1].startswith("hf-sts: error: ") and "holds a bi-encoder" in error.splitlines()[-1]
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_failed_check_writes_nothing(tmp_path, tiny_model, tokenizer, monkeypatch):
    from hf_sts.models.sts import modeling_sts

    # A cls head whose activation differs from the target's classification head cannot be exported faithfully.
    monkeypatch.setitem(modeling_sts.CLS_HEAD_ACTIVATIONS, "bert", "relu")
    model = tiny_model("bert", "cls")
    model.head.activation = torch.nn.ReLU()
    torch.nn.init.normal_(model.head.dense.weight, std=1.0)  # make the activations differ visibly
    run = _save_run(model, tokenizer, tmp_path / "run")
    with pytest.raises(ExportError, match=r"BertForSequenceClassification scores the probe pairs .* away"):
        export_model(run, tmp_path / "out", "sequence-classification")
    assert not (tmp_path / "out").exists()
    assert [path.name for path in tmp_path.iterdir()] == ["run"]  # no staging folder left behind


def test_adapter_folder_is_refused(tmp_path, stand_in_encoders, tokenizer):
    from transformers import AutoModel

    from hf_sts import StsCrossEncoderModel
    from hf_sts.models.lora import apply_lora, save_adapter
    from hf_sts.training.arguments import ModelArguments

    folder = stand_in_encoders["bert"]
    model = apply_lora(
        StsCrossEncoderModel.from_backbone(AutoModel.from_pretrained(folder)),
        ModelArguments(model_name_or_path=str(folder), use_lora=True),
    )
    save_adapter(model, tokenizer, tmp_path / "adapter")
    with pytest.raises(ExportError, match="holds a LoRA adapter; export the merged model"):
        export_model(tmp_path / "adapter", tmp_path / "out", "sequence-classification")


def test_sentence_transformers_export_is_built_by_the_library(tmp_path, tiny_model, tokenizer):
    """The folder is what `SentenceTransformer.save` writes for a `Transformer` + `Pooling` model: its modules, the
    backbone's weights without a pooler, and the run's `max_seq_length`."""
    from safetensors import safe_open
    from sentence_transformers import SentenceTransformer

    model = tiny_model("bert", "bi-encoder")
    out = export_model(_save_run(model, tokenizer, tmp_path / "run"), tmp_path / "out", "sentence-transformers")
    modules = json.loads((out / "modules.json").read_text())
    assert [module["type"].rsplit(".", 1)[-1] for module in modules] == ["Transformer", "Pooling"]
    loaded = SentenceTransformer(str(out), device="cpu")
    assert loaded.max_seq_length == MAX_SEQ_LENGTH and loaded.similarity_fn_name == "cosine"
    assert loaded.get_embedding_dimension() == model.config.hidden_size
    with safe_open(out / "model.safetensors", "pt") as weights:
        names = set(weights.keys())
    assert not any("pooler" in name for name in names)
    assert len(names) == len(model.backbone.state_dict())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out", "run"]  # no staging or backbone folder left


def test_sentence_transformers_export_errors(tmp_path, tiny_model, tokenizer, monkeypatch):
    from hf_sts.tools import export

    run = _save_run(tiny_model("roberta", "bi-encoder"), tokenizer, tmp_path / "run")
    # A probe-pair check that fails writes nothing.
    monkeypatch.setattr(export, "TOLERANCE", -1.0)
    with pytest.raises(ExportError, match=r"exported SentenceTransformer \(its embeddings\) scores the probe pairs"):
        export_model(run, tmp_path / "out", "sentence-transformers")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]
    # Without sentence-transformers (a test extra, not a dependency): one line saying how to install it.
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(ExportError, match=r"not installed: pip install sentence-transformers$"):
        export_model(run, tmp_path / "out", "sentence-transformers")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]


DIRTY_PAIRS = (
    ["숙소가 (진짜) 깨끗해요ㅋㅋㅋㅋ😀!!", "위반행위 조사 등을 거부·방해·기피한 자"],
    ["방이 “조용”해요~ 👍🏽", "조사를 방해한 자"],
)


@pytest.mark.parametrize("kind", ["cls", "bi-encoder"])
def test_exports_of_a_cleaning_model_say_how_to_clean_and_score_cleaned_text_alike(
    tmp_path, tiny_model, tokenizer, kind
):
    from sentence_transformers import CrossEncoder, SentenceTransformer

    from hf_sts.models.sts.text_cleaning import clean_texts

    steps = ["emoji", "special_characters", "repeated_characters", "whitespace"]
    model = tiny_model("bert", kind)
    model.config.text_cleaning = steps
    out = tmp_path / "exported"
    export_format = "sentence-transformers" if kind == "bi-encoder" else "sequence-classification"
    export_model(_save_run(model, tokenizer, tmp_path / "run"), out, export_format)

    card = (out / "README.md").read_text(encoding="utf-8")
    assert "Input cleaning this format does not apply" in card and json.dumps(steps) in card
    first, second = DIRTY_PAIRS
    with torch.no_grad():
        batch = model.tokenize(tokenizer, first, second, padding=True, return_tensors="pt")
        expected = model(**batch).logits
    cleaned = [clean_texts(side, steps) for side in DIRTY_PAIRS]
    if kind == "bi-encoder":
        sentence_model = SentenceTransformer(str(out), device="cpu")
        embeddings = [sentence_model.encode(side, convert_to_tensor=True) for side in cleaned]
        scores = 5 * sentence_model.similarity_pairwise(*embeddings)
    else:
        scores = torch.tensor(CrossEncoder(str(out), device="cpu").predict(list(zip(*cleaned, strict=True))))
    torch.testing.assert_close(scores.float(), expected, atol=1e-4, rtol=0)
