"""The write guard every hf_sts command that writes goes through, so that nothing is lost whatever the user types.

[`check_output`] runs before a command reads or loads anything heavy: with real paths (symlinks and `..` resolved)
it refuses an output that is, contains or lies inside one of the command's inputs, a model folder or another hf_sts
run, unless the command documents that it updates that folder. [`atomic_output`] then writes each file to a
temporary file beside it and renames it into place, so an interrupted command leaves the old file whole. Standard
library only.
"""

import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hf_sts.errors import OutputError


logger = logging.getLogger(__name__)

# Files that make a folder something no command may write into or over: (file names that all must be there, what the
# folder then is). The first match names the folder. A `recipe.json` alone is a user's recipe, not a run.
FOLDER_MARKERS = (
    (("recipe.json", "all_results.json"), "an hf_sts run"),
    (("recipe.json", "model.safetensors"), "an hf_sts run"),
    (("recipe.json", "adapter_config.json"), "an hf_sts run"),
    (("trainer_state.json",), "a Trainer checkpoint"),
    (("adapter_config.json",), "a LoRA adapter folder"),
    (("config.json", "model.safetensors"), "a model folder"),
    (("config.json", "pytorch_model.bin"), "a model folder"),
    (("config.json", "model.safetensors.index.json"), "a model folder"),
    (("config.json", "tokenizer_config.json"), "a model folder"),
    (("modules.json",), "a sentence-transformers model folder"),
    (("model.safetensors",), "a model folder"),
    (("all_results.json",), "the results of a run"),
)


def real_path(path: str | os.PathLike) -> Path:
    """`path` made absolute with `..` and every symlink resolved (also for a path that does not exist yet: its
    existing part is resolved)."""
    return Path(os.path.realpath(path))


def folder_kind(folder: Path) -> str | None:
    """What `folder` is when it holds the files of a run or a model (see `FOLDER_MARKERS`), e.g. `"an hf_sts run
    (recipe.json and all_results.json)"`; `None` for any other folder or a path that is not a folder."""
    if not folder.is_dir():
        return None
    for names, kind in FOLDER_MARKERS:
        if all((folder / name).is_file() for name in names):
            return f"{kind} ({' and '.join(names)})"
    return None


def _listed(entries: list[str]) -> str:
    return ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")


def _where(output: str | os.PathLike, option: str) -> str:
    target = real_path(output)
    return f"{option} {output}" + (f" (-> {target})" if target != Path(os.path.abspath(output)) else "")


def check_placement(
    output: str | os.PathLike,
    option: str,
    inputs: Iterable[str | os.PathLike | None] = (),
    folder: bool = False,
    updates: str | os.PathLike | None = None,
) -> None:
    """Refuse an output by where it is, whatever it holds: compared by real path (see [`real_path`]) with each of
    `inputs` that exists locally (Hub ids are skipped) and with the folders it would lie in, it must not

    - be one of `inputs`, lie inside an input folder, or (a folder output) contain an input;
    - lie inside a model folder or another run (see [`folder_kind`]); or, when the command updates a folder
      (`updates`), reach outside it (through a symlink or `..`);
    - be an existing folder where a file is written, or an existing file where a folder is written.

    What an existing folder output may hold is the caller's rule ([`check_output`]'s, or a training run's).

    Args:
        output: the file (`folder=False`) or folder (`folder=True`) the command writes.
        option: the option or recipe key the user gave `output` as, used in the messages.
        inputs: paths the command reads (model, data files, recipe, run folders); `None` entries are skipped.
        updates: the folder the command documents that it updates (e.g. a run folder `hf-sts push` writes its
            manifest into); the output must lie inside it.

    Raises:
        hf_sts.errors.OutputError: one line naming `option`, the path and what it would overwrite.
    """
    target = real_path(output)
    where = _where(output, option)
    for path in filter(None, inputs):
        if not os.path.exists(path):
            continue  # a Hub id, or an input that a later check names
        source = real_path(path)
        if target == source:
            raise OutputError(f"{where} is the input {path}, which it would overwrite: write elsewhere.")
        if target.is_relative_to(source):
            raise OutputError(f"{where} lies inside the input folder {path}: write elsewhere.")
        if folder and source.is_relative_to(target):
            raise OutputError(f"{where} contains the input {path}, which it could overwrite: write elsewhere.")
    if updates is not None:
        if not target.is_relative_to(real_path(updates)):
            raise OutputError(f"{where} reaches outside {updates}, the folder this command updates: remove the link.")
    if folder and target.is_file():
        raise OutputError(f"{where} is a file; {option} names a folder to write.")
    if not folder and target.is_dir():
        raise OutputError(f"{where} is a folder; {option} names the file to write.")
    for parent in (target.parent, *target.parent.parents) if updates is None else ():
        kind = folder_kind(parent)
        if kind is not None:
            raise OutputError(f"{where} lies inside {parent}, {kind}: write outside it.")


def check_output(
    output: str | os.PathLike,
    option: str,
    inputs: Iterable[str | os.PathLike | None] = (),
    folder: bool = False,
    own_names: Iterable[str] | None = None,
    updates: str | os.PathLike | None = None,
) -> Path:
    """Refuse an output path before anything is written, unless it is safe to write: [`check_placement`], and a
    folder output must be new or empty, or hold only `own_names` (the command's own earlier output, replaced with
    one notice). An existing file output that passes is replaced, with one notice.

    Args:
        output, option, inputs, folder, updates: see [`check_placement`].
        own_names: the names a folder output holds after the command ran (an earlier run of it may be replaced);
            `None`: the folder must be new or empty.

    Returns:
        `output` as given, as a `Path`.

    Raises:
        hf_sts.errors.OutputError: one line naming `option`, the path and what it would overwrite.
    """
    inputs = list(inputs)
    check_placement(output, option, inputs, folder, updates)
    target = real_path(output)
    if folder and target.is_dir():
        entries = sorted(entry.name for entry in target.iterdir())
        if entries and own_names is not None and set(entries) <= set(own_names):
            logger.warning("%s holds an earlier output of this command (%s): replacing it.", output, _listed(entries))
        elif entries:
            kind = folder_kind(target)
            what = f"is {kind}" if kind else f"is not empty ({_listed(entries)})"
            raise OutputError(
                f"{_where(output, option)} {what}, which this command would write over: choose a new or empty folder."
            )
    if not folder and target.is_file():
        logger.warning("%s exists: replacing it.", output)
    return Path(output)


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Write a file atomically: yield a temporary path in the same folder as `path` (same suffix, so writers that go
    by it, like matplotlib's `savefig` or pandas' compression, behave), then rename it to `path` when the body
    finishes, or delete it when the body raises. An interrupted write leaves the old `path` whole. The folder is
    created if missing; the file gets the mode of the file it replaces, else the usual `0o666` less the umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, path.stat().st_mode & 0o777 if path.is_file() else usual_mode(folder=False))
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def usual_mode(folder: bool) -> int:
    """The permissions a new file (`0o666`) or folder (`0o777`) gets, less this process's umask: what a file or
    folder written under a temporary name (created private) is given before it is renamed into place."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if folder else 0o666) & ~umask


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `path` through [`atomic_output`]; returns `path` as a `Path`."""
    with atomic_output(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


__all__ = [
    "FOLDER_MARKERS",
    "atomic_output",
    "check_output",
    "check_placement",
    "folder_kind",
    "real_path",
    "usual_mode",
    "write_text",
]
