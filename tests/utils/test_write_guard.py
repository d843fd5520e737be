"""`hf_sts.utils.write_guard`: outputs compared by real path, folders recognised by their files, atomic writes."""

import os
import stat

import pytest

from hf_sts.errors import OutputError, mask_secrets
from hf_sts.utils.write_guard import atomic_output, check_output, folder_kind, write_text


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("sentence1,sentence2,label\n")
    run = tmp_path / "runs" / "a"
    run.mkdir(parents=True)
    for name in ("recipe.json", "all_results.json", "config.json", "model.safetensors"):
        (run / name).write_text("{}")
    (tmp_path / "work").mkdir()
    return tmp_path


def test_folders_are_recognised_by_their_files(tree, tmp_path):
    assert folder_kind(tree / "runs" / "a") == "an hf_sts run (recipe.json and all_results.json)"
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "recipe.json").write_text("{}")  # a user's recipe, not a run
    (tmp_path / "project" / "config.json").write_text("{}")  # some tool's settings, not a model
    assert folder_kind(tmp_path / "project") is None
    (tmp_path / "project" / "tokenizer_config.json").write_text("{}")
    assert folder_kind(tmp_path / "project") == "a model folder (config.json and tokenizer_config.json)"


@pytest.mark.parametrize(
    ("output", "folder", "message"),
    [
        ("data/train.csv", False, r"is the input data/train\.csv"),
        ("work/../data/train.csv", False, r"work/\.\./data/train\.csv is the input data/train\.csv"),
        ("link.csv", False, r"link\.csv \(-> .*/data/train\.csv\) is the input"),
        ("data/sub", True, r"lies inside the input folder data"),
        (".", True, r"contains the input data/train\.csv"),
        ("runs/a/p.csv", False, r"lies inside .*runs/a, an hf_sts run"),
        ("runs/a", True, r"runs/a is an hf_sts run \(recipe\.json and all_results\.json\)"),
        ("runs/a/config.json", False, r"lies inside .*runs/a, an hf_sts run"),
        ("work", False, r"work is a folder; --output names the file to write"),
        ("data/train.csv", True, r"is the input"),
    ],
)
def test_hostile_outputs_are_refused(tree, monkeypatch, output, folder, message):
    monkeypatch.chdir(tree)
    (tree / "link.csv").symlink_to(tree / "data" / "train.csv")
    with pytest.raises(OutputError, match=message):
        check_output(output, "--output", inputs=["data/train.csv", "data", "some/hub-id"], folder=folder)


def test_a_folder_output_may_hold_only_the_commands_earlier_output(tree, caplog):
    output = tree / "work" / "eval"
    output.mkdir()
    assert check_output(output, "--output_dir", folder=True, own_names=("a.csv", "b.json")) == output  # empty
    (output / "a.csv").write_text("old")
    check_output(output, "--output_dir", folder=True, own_names=("a.csv", "b.json"))
    assert "holds an earlier output of this command (a.csv): replacing it" in caplog.text
    (output / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"is not empty \(a\.csv, notes\.txt\), which this command would write"):
        check_output(output, "--output_dir", folder=True, own_names=("a.csv", "b.json"))


def test_an_updated_folder_must_not_lead_elsewhere(tree):
    run = tree / "runs" / "a"
    assert check_output(run / "manifest.json", "--dry-run", updates=run) == run / "manifest.json"
    (run / "space").symlink_to(tree / "data", target_is_directory=True)
    with pytest.raises(OutputError, match=r"reaches outside .*runs/a, the folder this command updates"):
        check_output(run / "space" / "app.py", "--space", updates=run)


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "predictions.csv"
    write_text(path, "id,target\na,1.0\n")
    path.chmod(0o640)
    with pytest.raises(RuntimeError), atomic_output(path) as temporary:
        temporary.write_text("id,target\n")
        raise RuntimeError("interrupted")
    assert path.read_text() == "id,target\na,1.0\n"
    assert sorted(os.listdir(tmp_path)) == ["predictions.csv"]  # no temporary file left
    write_text(path, "id,target\nb,2.0\n")
    assert path.read_text() == "id,target\nb,2.0\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the replaced file's mode is kept


def test_a_new_file_gets_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        write_text(tmp_path / "new" / "results.json", "{}")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "new" / "results.json").stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("--token hf_abcdefghijklmnopqrstuvwxyz", "--token <HIDDEN>"),
        ("--hub_token=secret123 --seed 1", "--hub_token=<HIDDEN> --seed 1"),
        ('{"hub_token": "secret123", "seed": 1}', '{"hub_token": "<HIDDEN>", "seed": 1}'),
        ("cannot load hf_abcdefghijklmnopqrstuvwxyz: no such folder", "cannot load <HIDDEN>: no such folder"),
        ("--tokenizer_name klue/bert-base --token_type_ids", "--tokenizer_name klue/bert-base --token_type_ids"),
        ("the token is used through HF_TOKEN", "the token is used through HF_TOKEN"),
    ],
)
def test_secrets_are_masked_and_nothing_else(text, masked):
    assert mask_secrets(text) == masked
