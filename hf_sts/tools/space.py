"""A Gradio Space showing a pushed model (`hf-sts push OUTPUT_DIR --repo-id ORG/NAME --space [ORG/SPACE]`).

`write_space` writes `OUTPUT_DIR/space/`: `app.py`, which loads the pushed model by its id and serves
`hf-sts demo`'s page, `requirements.txt` (hf_sts' dependencies), `README.md` with the Space's front matter (`sdk:
gradio`, the installed gradio as `sdk_version`, `models: [ORG/NAME]`) and a copy of the `hf_sts` package (it is not
on PyPI); `push_space` pushes it to the Space repository (default `ORG/NAME-demo`) after the model. `--dry-run`
writes and lists it (`OUTPUT_DIR/space_upload_manifest.json`) without network.
"""

import importlib.metadata
import importlib.util
import json
import shutil
from importlib.metadata import version
from pathlib import Path

import httpx
from huggingface_hub import create_repo, upload_folder
from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError

from hf_sts import __version__
from hf_sts.errors import PushError, first_line
from hf_sts.hub import check_repo_id, upload_files
from hf_sts.utils.write_guard import check_output, write_text


SPACE_MANIFEST_NAME = "space_upload_manifest.json"


SPACE_FOLDER = "space"


SPACE_APP = '''"""The hf_sts demo page of {model_id}: a Gradio Space, written by `hf-sts push --space`.

Spaces run `python app.py`. `HF_STS_MODEL` overrides the model (a Hub id or a local folder); a private model needs
the Space secret `HF_TOKEN`. The `hf_sts` folder beside this file is the package that wrote the Space (hf_sts {version}).
"""

import os

from hf_sts.tools.demo import DemoModel, build_page, launch_options


MODEL_ID = os.environ.get("HF_STS_MODEL", {model_json})
demo = build_page(DemoModel(MODEL_ID))

if __name__ == "__main__":
    demo.launch(**launch_options())
'''


def space_repo_id(model_repo_id: str, space: str = "") -> str:
    """The Space repository of `--space [ORG/SPACE]`: `space`, or (empty) the model's id + `-demo`.

    Raises:
        PushError: for an invalid id.
    """
    space_id = space or f"{model_repo_id}-demo"
    check_repo_id(space_id)
    return space_id


def space_requirements() -> list[str]:
    """The requirement lines of a Space's `requirements.txt`: hf_sts' own dependencies (without extras; Spaces
    install gradio themselves, at the README's `sdk_version`).

    Raises:
        PushError: if hf_sts' metadata is not installed (`pip install` it first).
    """
    try:
        requirements = importlib.metadata.requires("hf_sts") or []
    except importlib.metadata.PackageNotFoundError:
        raise PushError(
            "--space lists hf_sts' dependencies from its installed metadata: pip install hf_sts first."
        ) from None
    return sorted(line for line in requirements if "extra ==" not in line)


def check_space(output_dir: str | Path) -> tuple[Path, Path]:
    """Check, before `hf-sts push --space` writes anything, where [`write_space`] writes: `OUTPUT_DIR/space/`
    must be missing or a Space hf_sts wrote, and neither it nor the Space manifest may be a link (out of the run).

    Returns:
        `(Space folder, manifest path)`.

    Raises:
        PushError: for an `OUTPUT_DIR/space` that is a link, a file or a folder other than a Space hf_sts wrote.
        hf_sts.errors.OutputError: for a manifest path that leads outside `OUTPUT_DIR` (a link).
    """
    folder = Path(output_dir) / SPACE_FOLDER
    if folder.is_symlink():
        raise PushError(f"{folder}: is a link; the Space is written into the run folder itself: remove the link.")
    if folder.is_file() or (folder.is_dir() and any(folder.iterdir()) and not (folder / "app.py").is_file()):
        raise PushError(f"{folder}: exists and is not a Space written by hf-sts; move it away first.")
    return folder, check_output(Path(output_dir) / SPACE_MANIFEST_NAME, "--space", updates=output_dir)


def write_space(output_dir: str | Path, model_repo_id: str, space_id: str) -> dict:
    """Write the Space of the model pushed to `model_repo_id` into `OUTPUT_DIR/space/` (replacing an earlier one)
    and list it in `OUTPUT_DIR/space_upload_manifest.json`. No network.

    Returns:
        The manifest: `{"space_id", "model_id", "folder", "files": [{"path", "size"}, ...], "total_size"}`, paths
        relative to the Space folder, sizes in bytes.

    Raises:
        PushError, hf_sts.errors.OutputError: as `upload_files` (the model must be pushable) and [`check_space`], or
            for invalid ids.
    """
    from huggingface_hub import SpaceCard, SpaceCardData

    check_repo_id(model_repo_id)
    check_repo_id(space_id)
    upload_files(output_dir)
    folder, manifest_path = check_space(output_dir)
    if importlib.util.find_spec("gradio") is None:
        raise PushError('--space writes the installed gradio version into the Space: pip install "hf_sts[demo]"')
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # The hf_sts package, subpackages included, without bytecode caches.
    shutil.copytree(
        Path(__file__).resolve().parents[1],
        folder / "hf_sts",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    (folder / "app.py").write_text(
        SPACE_APP.format(model_id=model_repo_id, model_json=json.dumps(model_repo_id), version=__version__),
        encoding="utf-8",
    )
    (folder / "requirements.txt").write_text("\n".join(space_requirements()) + "\n", encoding="utf-8")
    data = SpaceCardData(
        title=f"hf_sts: {model_repo_id.split('/')[-1]}"[:60],
        sdk="gradio",
        sdk_version=version("gradio"),
        app_file="app.py",
        models=[model_repo_id],
        tags=["hf_sts", "sentence-similarity", "korean", "sts"],
        emoji="🔎",
        colorFrom="blue",
        colorTo="green",
        pinned=False,
        short_description="Korean sentence similarity (STS), 0.0-5.0",
    )
    card = (
        f"---\n{data.to_yaml()}\n---\n\n# hf_sts demo: {model_repo_id}\n\nTwo Korean sentences in, their similarity "
        f"score (0.0-5.0) out, scored by [{model_repo_id}](https://huggingface.co/{model_repo_id}) as `hf-sts predict` "
        "scores them; a batch tab scores a whole file. Written by `hf-sts push --space` (hf_sts "
        f"{__version__}).\n"
    )
    SpaceCard(card).save(folder / "README.md")
    files = sorted(path for path in folder.rglob("*") if path.is_file() and "__pycache__" not in path.parts)
    manifest = {
        "space_id": space_id,
        "model_id": model_repo_id,
        "folder": str(folder),
        "files": [{"path": path.relative_to(folder).as_posix(), "size": path.stat().st_size} for path in files],
        "total_size": sum(path.stat().st_size for path in files),
    }
    write_text(manifest_path, json.dumps(manifest, indent=2) + "\n")
    return manifest


def push_space(output_dir: str | Path, space_id: str, private: bool | None = None, token: str | None = None) -> str:
    """Create the Gradio Space `space_id` (if needed) and upload `OUTPUT_DIR/space/` (see [`write_space`]).

    Returns:
        The URL of the commit.

    Raises:
        PushError: if the Space folder was not written, or the Hub cannot be reached or refuses, in one line.
    """
    folder = Path(output_dir) / SPACE_FOLDER
    if not (folder / "app.py").is_file():
        raise PushError(f"{folder}: no Space written; run hf-sts push --space (or --dry-run) first.")
    try:
        create_repo(space_id, token=token, private=private, repo_type="space", space_sdk="gradio", exist_ok=True)
        commit = upload_folder(
            repo_id=space_id,
            repo_type="space",
            folder_path=str(folder),
            ignore_patterns=["**/__pycache__/**"],
            token=token,
            commit_message="Upload hf_sts demo Space",
        )
    except LocalTokenNotFoundError as error:
        raise PushError(f"No Hub token: run `hf auth login` or set HF_TOKEN to push the Space {space_id}.") from error
    except (HfHubHTTPError, httpx.HTTPError, OSError) as error:
        raise PushError(f"Could not push the Space {space_id}: {first_line(error)}") from error
    return commit.commit_url
