"""The demo page's scoring, facts and refusals (no browser, no gradio import: see test_demo_browser.py for the page),
the exported sequence-classification model it scores, and the Space `hf-sts push --space` writes."""

import importlib.util
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from hf_sts.cli.main import build_parser
from hf_sts.cli.main import main as hf_sts_cli
from hf_sts.errors import DataFormatError
from hf_sts.inference.loading import SequenceClassificationScorer, load_model
from hf_sts.models.sts.modeling_sts import apply_prompt
from hf_sts.run import main as run_main
from hf_sts.tools.demo import EXAMPLE_PAIRS, DemoModel
from hf_sts.tools.export import export_model
from hf_sts.training.card import card_facts

from ..conftest import KLUE_DEV, QUICKSTART, TINY, free_port, reference_scores, refusal_line


PAIRS = [(s1, s2) for _, s1, s2, _ in EXAMPLE_PAIRS]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny quickstart bi-encoder run (40 pairs, 1 epoch), as `hf-sts train` leaves it."""
    output_dir = tmp_path_factory.mktemp("demo") / "run"
    run_main(
        [QUICKSTART, *TINY, "--max_train_samples=40", "--max_eval_samples=20", "--disable_tqdm=true"]
        + ["--output_dir", str(output_dir)]
    )
    return output_dir


@pytest.fixture(scope="module")
def demo_model(run_dir):
    return DemoModel(str(run_dir), device="cpu")


def _pairs_csv(path, pairs, labels=None):
    frame = pd.DataFrame(
        {"id": [f"pair-{i}" for i in range(len(pairs))][::-1], "sentence1": [a for a, _ in pairs]}
    ).assign(sentence2=[b for _, b in pairs])
    if labels is not None:
        frame["label"] = labels
    frame.to_csv(path, index=False)
    return path


def test_examples_are_klue_dev_pairs_with_their_gold_scores():
    dev = {row["guid"]: row for row in json.loads(KLUE_DEV.read_text(encoding="utf-8"))}
    for guid, sentence1, sentence2, gold in EXAMPLE_PAIRS:
        assert (dev[guid]["sentence1"], dev[guid]["sentence2"], dev[guid]["labels"]["label"]) == (
            sentence1,
            sentence2,
            gold,
        )
    assert len({round(gold) for *_, gold in EXAMPLE_PAIRS}) >= 5  # spread over the scale


def test_page_scores_equal_an_independent_computation(demo_model, run_dir):
    """A pair on the page scores what the saved model gives it, one pair per forward pass (`reference_scores`, not
    hf_sts' scoring path); a bi-encoder also shows its cosine."""
    expected = reference_scores(run_dir, PAIRS)
    results = [demo_model.score_pair(a, b) for a, b in PAIRS]
    np.testing.assert_allclose([result.score for result in results], expected, atol=1e-5)
    assert demo_model.bi_encoder and demo_model.threshold == 3.0
    assert [result.similar for result in results] == [result.score >= 3.0 for result in results]
    # The cosine shown is that of the two sentence embeddings, computed here from the model's `encode`.
    model, tokenizer = demo_model.loaded.model, demo_model.loaded.tokenizer
    embeddings = []
    for sentences in zip(*PAIRS, strict=True):
        texts = apply_prompt(list(sentences), model.config.prompt, model.config.text_cleaning)
        inputs = tokenizer(
            texts, padding=True, truncation=True, max_length=demo_model.loaded.max_seq_length, return_tensors="pt"
        )
        with torch.no_grad():
            embeddings.append(model.encode(**inputs))
    cosines = torch.nn.functional.cosine_similarity(*embeddings).numpy()
    np.testing.assert_allclose([result.cosine for result in results], cosines, atol=1e-5)


def test_batch_scores_a_file_as_an_independent_computation(demo_model, run_dir, tmp_path):
    """An uploaded file gives `hf-sts predict`'s `id,target` file, its scores those of one forward pass per pair
    (`reference_scores`), in the file's order."""
    pairs_file = _pairs_csv(tmp_path / "pairs.csv", PAIRS, labels=[gold for *_, gold in EXAMPLE_PAIRS])
    batch = demo_model.score_file(pairs_file)
    written = pd.read_csv(batch.path)
    assert written.columns.tolist() == ["id", "target"]
    assert written["id"].tolist() == [f"pair-{i}" for i in range(len(PAIRS))][::-1]  # the file's ids, in its order
    np.testing.assert_allclose(written["target"], reference_scores(run_dir, PAIRS), atol=1e-5)
    assert batch.table.columns.tolist() == ["id", "target", "label", "sentence1", "sentence2"]
    assert batch.table["id"].tolist() == [f"pair-{i}" for i in range(len(PAIRS))][::-1]
    assert batch.summary.startswith(f"{len(PAIRS)} pairs of pairs.csv scored; Pearson r against its labels ")

    klue = demo_model.score_file(KLUE_DEV)  # KLUE JSON, another format
    assert len(klue.table) == 519 and klue.path.name == "klue-sts-v1.1_dev_predictions.csv"


def test_batch_error_names_the_uploaded_file(demo_model, tmp_path):
    broken = tmp_path / "upload-7f3a" / "broken.csv"
    broken.parent.mkdir()
    broken.write_text("question,answer\n가,나\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as error:
        demo_model.score_file(broken, "broken.csv")
    message = str(error.value)
    assert message.startswith("broken.csv: columns ['answer', 'question'] match no known STS format")
    assert "upload-7f3a" not in message and "\n" not in message


def test_card_facts_of_a_run(run_dir):
    facts = card_facts(run_dir)
    rows = dict(facts.rows)
    results = json.loads((run_dir / "all_results.json").read_text())
    assert rows["Dev Pearson"].startswith(f"**{results['eval_pearson']:.4f}** (Spearman rho ")
    assert rows["Loss"] == "`l1+huber`" and rows["Prompt"] == "none" and rows["Text cleaning"] == "none"
    assert (
        rows["Architecture"].startswith("bi-encoder (Sentence-BERT)") and "trained from scratch" in rows["Base model"]
    )
    assert "pooling" in rows["Head"] and facts.bi_encoder and facts.binary_threshold == 3.0
    checkpoint = next(run_dir.glob("checkpoint-*"))
    assert dict(card_facts(checkpoint).rows)["Run"].startswith(f"`{run_dir}`")


def test_exported_sequence_classification_model_scores_with_its_head(tmp_path, tiny_model, tokenizer):
    """An export records the prompt and cleaning it cannot apply; `load_model` (so `hf-sts predict` and the page)
    scores it with its own head, cleaned and prompted as the hf_sts model was, not zero-shot as an encoder."""
    model = tiny_model("bert", "cls")
    model.config.prompt, model.config.text_cleaning = "문장: ", ["emoji", "whitespace"]
    torch.nn.init.normal_(model.head.dense.bias, std=0.5)
    run = tmp_path / "run"
    model.save_pretrained(run)
    tokenizer.save_pretrained(run)
    (run / "recipe.json").write_text(json.dumps({"max_seq_length": 64}))
    exported = export_model(run, tmp_path / "exported", "sequence-classification")
    assert json.loads((exported / "config.json").read_text())["hf_sts_input"] == {
        "prompt": "문장: ",
        "text_cleaning": ["emoji", "whitespace"],
    }
    loaded = load_model(str(exported), device="cpu")
    assert isinstance(loaded.model, SequenceClassificationScorer) and loaded.max_seq_length == 64
    first, second = ["숙소가  좋아요 😀", *[a for a, _ in PAIRS]], ["방이 깨끗해요.", *[b for _, b in PAIRS]]
    with torch.no_grad():
        expected = model(**model.tokenize(tokenizer, first, second, padding=True, return_tensors="pt")).logits
    scores = loaded.score(first, second, show_progress_bar=False, bf16=False)  # fp32 as `expected`, on any CPU
    np.testing.assert_allclose(scores, expected.numpy(), atol=1e-4)
    rows = dict(card_facts(exported).rows)
    assert rows["Prompt"] == '`"문장: "`' and rows["Text cleaning"] == "`emoji`, `whitespace`"
    assert "BertForSequenceClassification" in rows["Architecture"]


def test_demo_refuses_a_folder_that_is_no_model(tmp_path, capsys):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "pairs.csv").write_text("sentence1,sentence2\n가,나\n")
    line = refusal_line(["demo", str(tmp_path / "notes"), "--port", str(free_port())], capsys)
    assert "notes: cannot load it (a local folder or a Hub id)" in line


def test_demo_refuses_a_hub_id_it_cannot_download(capsys):
    line = refusal_line(["demo", "someone/no-such-sts-model", "--port", str(free_port())], capsys)
    assert "someone/no-such-sts-model: no such local folder, and the Hub repository cannot be downloaded" in line


def test_demo_refuses_a_port_in_use(run_dir, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = refusal_line(["demo", str(run_dir), "--port", str(port)], capsys)
    assert f"127.0.0.1:{port} cannot be listened on (Address already in use): the port is in use" in line


def test_demo_does_not_share_unless_asked():
    parser = build_parser("demo")
    assert parser.parse_args(["demo", "outputs/quickstart"]).share is False
    assert parser.parse_args(["demo", "m", "--share", "true", "--port", "8000"]).share is True


def test_space_dry_run_writes_a_gradio_space(run_dir, capsys):
    if importlib.util.find_spec("gradio") is None:  # not imported: seconds the fast tier does not need
        pytest.skip("--space writes the installed gradio version: pip install 'hf_sts[demo]'")
    hf_sts_cli(["push", str(run_dir), "--repo-id", "someone/tiny-sts", "--space", "--dry-run"])
    out = capsys.readouterr().out
    manifest = json.loads((run_dir / "space_upload_manifest.json").read_text())
    space = run_dir / "space"
    names = {entry["path"] for entry in manifest["files"]}
    assert manifest["space_id"] == "someone/tiny-sts-demo" and manifest["model_id"] == "someone/tiny-sts"
    assert {"app.py", "requirements.txt", "README.md", "hf_sts/tools/demo.py", "hf_sts/inference/loading.py"} <= names
    assert "space/app.py" in out and "bytes to the Space someone/tiny-sts-demo (dry run" in out
    assert "model.safetensors" in out  # the model's own listing comes first
    from huggingface_hub import SpaceCard

    card = SpaceCard.load(space / "README.md")
    assert card.data.sdk == "gradio" and card.data.app_file == "app.py" and card.data.models == ["someone/tiny-sts"]
    assert 'MODEL_ID = os.environ.get("HF_STS_MODEL", "someone/tiny-sts")' in (space / "app.py").read_text()
    requirements = (space / "requirements.txt").read_text().splitlines()
    assert any(line.startswith("torch") for line in requirements) and not any("gradio" in r for r in requirements)
    compile((space / "app.py").read_text(), "app.py", "exec")

    hf_sts_cli(["push", str(run_dir), "--repo-id", "someone/tiny-sts", "--space", "someone/page", "--dry-run"])
    assert json.loads((run_dir / "space_upload_manifest.json").read_text())["space_id"] == "someone/page"


@pytest.mark.slow
def test_space_app_builds_the_page_from_its_own_copy_of_hf_sts(run_dir):
    """The Space's `app.py`, run where Spaces run it (its folder; `HF_STS_MODEL` pointing at the local run instead of
    the Hub), imports the bundled hf_sts and builds the page."""
    pytest.importorskip("gradio", reason="the Space's page is a gradio app: pip install 'hf_sts[demo]'")
    if not (run_dir / "space" / "app.py").is_file():
        hf_sts_cli(["push", str(run_dir), "--repo-id", "someone/tiny-sts", "--space", "--dry-run"])
    code = "import app, hf_sts, gradio; print(hf_sts.__file__, type(app.demo).__name__)"
    env = {**os.environ, "HF_STS_MODEL": str(run_dir), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=run_dir / "space", env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    module, page = result.stdout.split()[-2:]
    assert module == str(run_dir / "space" / "hf_sts" / "__init__.py") and page == "Blocks"
