"""The one error type of hf_sts: input it cannot use (a recipe, flag, data file, model folder, prediction file).

Every hf_sts error derives from [`HfStsError`]; the command line (`hf-sts ...`, `hf_sts/run.py`) catches it in one
place and prints its message as one line, `hf-sts: error: ...`, with exit status 2. Subclasses exist where a caller
needs to tell the cases apart (`RecipeError`, `DataFormatError`, `ExportError`, `EnsembleError`, `PushError`,
`ModelLoadError`).
"""

import contextlib
import os
import sys
from pathlib import Path


ERROR_PREFIX = "hf-sts: error: "
# Set by `hf-sts train` for the processes it launches: the file where their error line goes too.
ERROR_FILE_VARIABLE = "HF_STS_ERROR_FILE"


class HfStsError(ValueError):
    """Input hf_sts cannot use; the message names the file, row, key or flag and what was expected."""


@contextlib.contextmanager
def exit_on_error():
    """Run the body; an [`HfStsError`] becomes one line on stderr (`ERROR_PREFIX` + message) and exit status 2."""
    try:
        yield
    except HfStsError as error:
        print(f"{ERROR_PREFIX}{error}", file=sys.stderr)
        if os.environ.get(ERROR_FILE_VARIABLE):  # launched by `hf-sts train`, which repeats it as its last line
            with open(os.environ[ERROR_FILE_VARIABLE], "a", encoding="utf-8") as file:
                file.write(f"{ERROR_PREFIX}{error}\n")
        sys.exit(2)


def checked_from_pretrained(loader, name_or_path: str, error: type[HfStsError] = HfStsError, **kwargs):
    """`loader.from_pretrained(name_or_path, **kwargs)` (`loader`: `AutoConfig`, `AutoTokenizer`, ...), with a model
    that is missing, not cached while offline or unreachable (an `OSError` from transformers or huggingface_hub), or
    whose `config.json` names no known model type (a `ValueError`), turned into `error`, one line naming it.

    Raises:
        `error`: naming `name_or_path` and the first line of the library's message.
    """
    try:
        return loader.from_pretrained(name_or_path, **kwargs)
    except (OSError, ValueError) as failure:  # missing or unreachable; or a config.json of no known type
        reason = str(failure).strip().splitlines()[0] if str(failure).strip() else type(failure).__name__
        raise error(f"{name_or_path}: cannot load it (a local folder or a Hub id): {reason}") from None


def checked_tokenizer(name_or_path: str, error: type[HfStsError] = HfStsError, **kwargs):
    """`AutoTokenizer.from_pretrained(name_or_path, **kwargs)` through [`checked_from_pretrained`], refusing a
    tokenizer without a padding token, which batches of pairs need.

    Raises:
        `error`: naming `name_or_path`, when it cannot be loaded or has no padding token.
    """
    from transformers import AutoTokenizer

    tokenizer = checked_from_pretrained(AutoTokenizer, name_or_path, error, **kwargs)
    if tokenizer.pad_token is None:
        raise error(
            f"{name_or_path}: its tokenizer has no padding token, which batches of pairs need; give an encoder's."
        )
    return tokenizer


def read_json_object(path: str | Path, error: type[HfStsError], expected: str = "expected a JSON object") -> dict:
    """The JSON object in the file `path` (a recipe, `all_results.json`, ...).

    Raises:
        `error`: naming `path`, for text that is not JSON, or JSON that is not an object (`expected` says what was).
    """
    import json

    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as failure:
        raise error(f"{path}: not valid JSON ({failure}).") from None
    if not isinstance(value, dict):
        raise error(f"{path}: {expected}, got {type(value).__name__}.")
    return value


def local_weights_problem(folder: str | Path) -> str | None:
    """Why the local model folder `folder` (one with `config.json`) cannot give its weights, or `None`: it holds no
    weights file, or a `*.safetensors` file whose header does not read (a download or save cut short). Hub ids and
    folders without `config.json` (the config loader's case) have none."""
    from safetensors import SafetensorError, safe_open

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        return None
    safetensors = sorted(folder.glob("*.safetensors"))
    if not safetensors and not [path for path in folder.glob("*.bin") if path.name != "training_args.bin"]:
        return f"{folder}: no weights (model.safetensors); a model folder holds config.json and its weights"
    for path in safetensors:
        try:
            with safe_open(path, framework="pt"):
                pass
        except (SafetensorError, OSError) as failure:
            return f"{path}: truncated or corrupt safetensors file ({failure}); save or download it again"
    return None


def check_local_weights(name_or_path: str, error: type[HfStsError] = HfStsError) -> None:
    """Refuse a local model folder whose weights are missing or cut short (see [`local_weights_problem`]), so it
    fails here rather than mid-run.

    Raises:
        `error`: naming the folder or file.
    """
    problem = local_weights_problem(name_or_path)
    if problem is not None:
        raise error(f"{problem}.")


__all__ = [
    "ERROR_PREFIX",
    "HfStsError",
    "check_local_weights",
    "checked_from_pretrained",
    "exit_on_error",
    "local_weights_problem",
]
