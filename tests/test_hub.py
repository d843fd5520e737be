"""Publishing: the upload manifest, what users get back from it, and a clear error without network."""

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from huggingface_hub import ModelCard

from hf_sts.cli.main import main as hf_sts_cli
from hf_sts.errors import PushError
from hf_sts.hub import MANIFEST_NAME, upload_files

from .conftest import QUICKSTART, REPO_ROOT, TINY, run_python


EXPECTED_UPLOAD = {
    "config.json",
    "configuration_sts.py",
    "modeling_sts.py",
    "text_cleaning.py",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "README.md",
    "all_results.json",
    "recipe.json",
}


def _hf_sts(*args, env=None):
    return subprocess.run(["hf-sts", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def uploaded(quickstart, tmp_path_factory):
    """The quickstart run's dry-run manifest, and a folder holding exactly the files it lists."""
    output_dir, _ = quickstart
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):  # in this process: the `hf-sts` script itself is run below
        hf_sts_cli(["push", str(output_dir), "--repo-id", "someone/hf-sts-quickstart", "--dry-run"])
    manifest = json.loads((output_dir / MANIFEST_NAME).read_text())
    folder = tmp_path_factory.mktemp("as-uploaded")
    for entry in manifest["files"]:
        shutil.copy(output_dir / entry["path"], folder)
    return manifest, folder, stdout.getvalue()


@pytest.mark.slow
def test_dry_run_manifest_lists_exactly_the_model_files(uploaded, quickstart):
    manifest, _, stdout = uploaded
    output_dir, _ = quickstart
    names = {entry["path"] for entry in manifest["files"]}
    assert names == EXPECTED_UPLOAD
    assert manifest["repo_id"] == "someone/hf-sts-quickstart"
    assert all(entry["size"] == (output_dir / entry["path"]).stat().st_size for entry in manifest["files"])
    # What the run folder holds that must never leave it.
    assert any(output_dir.glob("checkpoint-*")) and (output_dir / "training_args.bin").is_file()
    assert not any(name.startswith("checkpoint-") or name.endswith((".bin", ".pt")) for name in names)
    assert "model.safetensors" in stdout and "dry run" in stdout


@pytest.mark.slow
def test_upload_refuses_a_file_holding_a_token(quickstart, tmp_path):
    output_dir, _ = quickstart
    copy = tmp_path / "run"
    shutil.copytree(output_dir, copy, ignore=shutil.ignore_patterns("checkpoint-*"))
    recipe = json.loads((copy / "recipe.json").read_text())
    (copy / "recipe.json").write_text(json.dumps({**recipe, "hub_token": "hf_" + "a1B2c3" * 6}))
    with pytest.raises(PushError, match=r"recipe\.json: holds a Hub token"):
        upload_files(copy)


@pytest.mark.slow
def test_uploaded_files_load_alone_with_and_without_hf_sts(uploaded, quickstart):
    _, folder, _ = uploaded
    output_dir, _ = quickstart
    shutil.copy(output_dir / "eval_predictions.csv", folder.parent / "expected.csv")
    code = (
        "import sys, torch, pandas as pd\n"
        "from transformers import AutoModel, AutoTokenizer\n"
        "folder, expected, mode = sys.argv[1:4]\n"
        "if mode == 'hf_sts':\n    import hf_sts\n"
        "model = AutoModel.from_pretrained(folder, trust_remote_code=mode == 'remote').eval()\n"
        "tokenizer = AutoTokenizer.from_pretrained(folder)\n"
        "rows = pd.read_csv(expected).head(64)\n"
        "batch = model.tokenize(tokenizer, list(rows.sentence1), list(rows.sentence2), padding=True,"
        " truncation=True, max_length=128, return_tensors='pt')\n"
        "with torch.no_grad():\n"
        "    scores = model(**batch).logits.clamp(0, 5)\n"
        "print(float((scores - torch.tensor(rows.prediction.values)).abs().max()), type(model).__module__)\n"
    )
    expected = str(folder.parent / "expected.csv")
    for mode, blocked in (("remote", True), ("hf_sts", False)):
        result = run_python(code, str(folder), expected, mode, block_hf_sts=blocked)
        assert result.returncode == 0, result.stderr[-3000:]
        difference, module = result.stdout.split()[-2:]
        assert float(difference) < 1e-5
        assert module.startswith("transformers_modules") == blocked


@pytest.mark.slow
def test_uploaded_card_metadata_holds_the_metrics(uploaded):
    _, folder, _ = uploaded
    card = ModelCard.load(folder / "README.md")
    assert "{{" not in card.text and "{%" not in card.text
    results = json.loads((folder / "all_results.json").read_text())
    data = card.data.to_dict()
    assert data["language"] == "ko" and data["library_name"] == "transformers" and "hf_sts" in data["tags"]
    entry = data["model-index"][0]["results"][0]
    assert entry["dataset"]["split"] == "validation" and entry["dataset"]["name"] == "KLUE-STS"
    metrics = {metric["type"]: metric["value"] for metric in entry["metrics"]}
    assert metrics == pytest.approx(
        {"pearsonr": results["eval_pearson"], "spearmanr": results["eval_spearmanr"], "f1": results["eval_f1"]}
    )
    recipe = json.loads((folder / "recipe.json").read_text())
    assert json.dumps(recipe, indent=2, ensure_ascii=False) in card.text  # the full recipe is in the card


@pytest.mark.slow
def test_push_without_network_is_one_clear_line(uploaded, tmp_path):
    _, folder, _ = uploaded
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_TOKEN": "hf_" + "x" * 34}
    result = _hf_sts("push", str(folder), "--repo-id", "someone/hf-sts-quickstart", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("hf-sts: error: Could not push")


def test_push_of_a_folder_without_a_model(tmp_path):
    (tmp_path / "cv_results.json").write_text("{}")
    pd.DataFrame({"id": ["a"]}).to_csv(tmp_path / "oof_predictions.csv", index=False)
    with pytest.raises(PushError, match=r"no model to push .*push one of its fold-K folders"):
        upload_files(tmp_path)


def test_push_errors_before_any_upload(tmp_path):
    from hf_sts.hub import push

    with pytest.raises(PushError, match=r"no such folder"):
        upload_files(tmp_path / "missing")
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(PushError, match=r"Invalid repository id 'not a/valid/repo'"):
        push(tmp_path, "not a/valid/repo", token="hf_" + "z" * 34)
    (tmp_path / "all_results.json").write_text(json.dumps({"note": "hf_" + "z" * 34}))
    with pytest.raises(PushError, match=r"all_results\.json: holds a Hub token"):
        push(tmp_path, "someone/model", token="hf_" + "z" * 34)


@pytest.mark.slow
def test_push_to_hub_at_the_end_of_training_without_network(tmp_path):
    output_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "hf_sts/run.py", QUICKSTART, "--output_dir", str(output_dir), *TINY]
        + ["--max_train_samples=64", "--max_eval_samples=32", "--push_to_hub=true", "--hub_model_id=someone/tiny"]
        + ["--hub_token=hf_" + "q" * 34],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("hf-sts: error: Could not push")
    # Training, metrics and card were all done before the push was tried.
    assert {"model.safetensors", "all_results.json", "README.md"} <= {path.name for path in output_dir.iterdir()}
    assert "hf_" + "q" * 34 not in (output_dir / "recipe.json").read_text()


@pytest.mark.slow
def test_card_usage_snippets_run(uploaded):
    _, folder, _ = uploaded
    card = ModelCard.load(folder / "README.md")
    repo_id = card.data.model_name
    snippets = re.findall(r"```python\n(.+?)```", card.text.split("## Usage", 1)[1], flags=re.S)
    hf_sts_snippet, remote_snippet = snippets[0], snippets[1]
    code = hf_sts_snippet.replace(f'"{repo_id}"', repr(str(folder))) + "\nprint(scores.shape, float(scores[0]))\n"
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[0] == "torch.Size([1])" and 0.0 <= float(result.stdout.split()[-1]) <= 5.0
    remote = "from transformers import AutoModel\n" + remote_snippet.replace(f'"{repo_id}"', repr(str(folder)))
    result = run_python(remote, block_hf_sts=True)
    assert result.returncode == 0, result.stderr[-3000:]
