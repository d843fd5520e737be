"""Publish a trained hf_sts model to the Hugging Face Hub with `huggingface_hub` (`create_repo` + `upload_folder`).

    hf-sts push OUTPUT_DIR --repo-id ORG/NAME [--private] [--revision BRANCH] [--dry-run]

or `push_to_hub: true` + `hub_model_id` in a recipe (at the end of training). Exactly the files a user needs to load
the model are uploaded (`UPLOAD_PATTERNS`): the config (with `auto_map`), the configuration/modeling code files, the
safetensors weights, the tokenizer, the model card `README.md`, `all_results.json` and `recipe.json` (adapter files
for an adapter-only LoRA run). Never checkpoints, optimizer or scheduler states, `training_args.bin` (which holds the
Hub token of the run), nor any file holding a token string. `--dry-run` lists them, with sizes, in
`OUTPUT_DIR/hub_upload_manifest.json` without touching the network. The demo Space is `hf_sts.tools.space`.
"""

import fnmatch
import json
import os
import re
from pathlib import Path

import httpx
from huggingface_hub import create_branch, create_repo, get_token, upload_folder
from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalTokenNotFoundError
from huggingface_hub.utils import validate_repo_id

from hf_sts.errors import PushError, first_line
from hf_sts.utils.write_guard import check_output, write_text


MANIFEST_NAME = "hub_upload_manifest.json"


UPLOAD_PATTERNS = (
    "config.json",
    "configuration_*.py",
    "modeling_*.py",
    "text_cleaning.py",  # imported by configuration_sts.py: the remote code needs it
    "model.safetensors",
    "model-*-of-*.safetensors",
    "model.safetensors.index.json",
    "adapter_config.json",
    "adapter_model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "*.model",
    "README.md",
    "all_results.json",
    "cv_results.json",
    "recipe.json",
    "corpus.json",  # an `hf-sts pretrain` run's text sources, which its card describes
)


TOKEN_PATTERN = re.compile(r"hf_[A-Za-z0-9]{30,}")


def upload_files(output_dir: str | Path, token: str | None = None) -> list[Path]:
    """The files of `output_dir` that a push uploads: those matching `UPLOAD_PATTERNS` at its top level, sorted.

    Args:
        token: the token the push will use, also searched for in the files (besides the stored one, `HF_TOKEN`,
            and anything shaped like a Hub token).

    Raises:
        PushError: if `output_dir` is missing or holds no model (`config.json` and weights), or a file to upload
            holds a Hub token string.
    """
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        raise PushError(f"{output_dir}: no such folder; give the output_dir of a finished hf_sts run.")
    files = sorted(
        path
        for path in output_dir.iterdir()
        if path.is_file() and any(fnmatch.fnmatch(path.name, pattern) for pattern in UPLOAD_PATTERNS)
    )
    names = {path.name for path in files}
    has_weights = any(name.endswith(".safetensors") for name in names)
    if "config.json" not in names or not has_weights:
        hint = (
            " (a cross-validation run: push one of its fold-K folders)"
            if (output_dir / "cv_results.json").is_file()
            else ""
        )
        raise PushError(f"{output_dir}: no model to push (config.json and safetensors weights){hint}.")
    secrets = [secret for secret in (token, get_token(), os.environ.get("HF_TOKEN")) if secret]
    for path in files:
        if path.suffix in (".json", ".md", ".py", ".txt"):
            text = path.read_text(encoding="utf-8", errors="ignore")
            if TOKEN_PATTERN.search(text) or any(secret in text for secret in secrets):
                raise PushError(f"{path}: holds a Hub token; remove it before pushing.")
    return files


def check_repo_id(repo_id: str) -> None:
    """Check `repo_id` as the Hub does (`huggingface_hub.utils.validate_repo_id`), without the network.

    Raises:
        PushError: naming the id and the rule it breaks.
    """
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise PushError(
            f"Invalid repository id {repo_id!r}: {str(error).splitlines()[0]} Use ORG/NAME or NAME."
        ) from None


def write_manifest(output_dir: str | Path, repo_id: str) -> dict:
    """Write `OUTPUT_DIR/hub_upload_manifest.json`: the repository and the files a push would upload, with sizes in
    bytes. No network.

    Returns:
        The manifest: `{"repo_id": ..., "files": [{"path": ..., "size": ...}, ...], "total_size": ...}`.

    Raises:
        PushError: as `upload_files`.
        hf_sts.errors.OutputError: for a manifest path that leads outside `output_dir` (a link).
    """
    check_repo_id(repo_id)
    files = upload_files(output_dir)
    path = check_output(Path(output_dir) / MANIFEST_NAME, "--dry-run", updates=output_dir)
    manifest = {
        "repo_id": repo_id,
        "files": [{"path": path.name, "size": path.stat().st_size} for path in files],
        "total_size": sum(path.stat().st_size for path in files),
    }
    write_text(path, json.dumps(manifest, indent=2) + "\n")
    return manifest


def push(
    output_dir: str | Path,
    repo_id: str,
    private: bool | None = None,
    revision: str | None = None,
    token: str | None = None,
    commit_message: str = "Upload hf_sts model",
) -> str:
    """Create the Hub repository `repo_id` (if needed) and upload the files of `upload_files(output_dir)`.

    Args:
        output_dir: a finished run's `output_dir` (the model at its root).
        repo_id: `ORG/NAME` or `NAME`.
        private: create the repository private (`hub_private_repo`).
        revision: the branch to push to (`hub_revision`), created if missing.
        token: a Hub token; defaults to the one stored by `hf auth login` or `HF_TOKEN`.

    Returns:
        The URL of the commit.

    Raises:
        PushError: for a run with nothing to push, or when the Hub cannot be reached or refuses (no network, no
            token, no permission), in one line.
    """
    check_repo_id(repo_id)
    files = upload_files(output_dir, token)
    try:
        create_repo(repo_id, token=token, private=private, exist_ok=True)
        if revision is not None:
            create_branch(repo_id, branch=revision, token=token, exist_ok=True)
        commit = upload_folder(
            repo_id=repo_id,
            folder_path=str(output_dir),
            allow_patterns=[path.name for path in files],
            revision=revision,
            token=token,
            commit_message=commit_message,
        )
    except LocalTokenNotFoundError as error:
        raise PushError(f"No Hub token: run `hf auth login` or set HF_TOKEN to push {repo_id}.") from error
    except (HfHubHTTPError, httpx.HTTPError, OSError) as error:
        raise PushError(f"Could not push {output_dir} to {repo_id}: {first_line(error)}") from error
    return commit.commit_url
