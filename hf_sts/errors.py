"""The one error type of hf_sts: input it cannot use (a recipe, flag, data file, model folder, prediction file).

Every hf_sts error derives from [`HfStsError`]; the command line (`hf-sts ...`, `hf_sts/run.py`) catches it in one
place and prints its message as one line, `hf-sts: error: ...`, with exit status 2. Subclasses exist where a caller
needs to tell the cases apart (`RecipeError`, `DataFormatError`, `ModelLoadError`, `AugmentError`, `DemoError`,
`EnsembleError`, `ExportError`, `PushError`, `LeaderboardError`, `OutputError`); every one of them is defined here.
No message shows a secret: [`mask_secrets`] hides Hub tokens in every line printed.

This module imports nothing heavy at load time (the command line imports it to print errors): transformers is
imported where a loader is called.
"""

import contextlib
import json
import os
import re
import sys
from pathlib import Path


ERROR_PREFIX = "hf-sts: error: "


# Set by `hf-sts train` for the processes it launches: the file where their error line goes too.
ERROR_FILE_VARIABLE = "HF_STS_ERROR_FILE"

# A Hugging Face access token (`hf_` and 30-odd letters and digits), and the value after a token flag or key.
SECRET_PATTERNS = (
    re.compile(r"\bhf_[A-Za-z0-9]{16,}"),
    re.compile(r"(--(?:hub[_-])?token(?:=|\s+)[\"']?|\b(?:hub_)?token[\"']?\s*[=:]\s*[\"']?)([^\s\"',]+)"),
)
MASK = "<HIDDEN>"


class HfStsError(ValueError):
    """Input hf_sts cannot use; the message names the file, row, key or flag and what was expected."""


class RecipeError(HfStsError):
    """A recipe or command line hf_sts cannot use: the message names the file or flag and the key."""


class DataFormatError(HfStsError):
    """A data file or dataset that hf_sts cannot read: the message names the file (or dataset split), the row or
    column, and what was expected."""


class ModelLoadError(HfStsError):
    """A model folder or Hub id that cannot be scored with: the message names it and says what was expected."""


class AugmentError(HfStsError):
    """Arguments, an input file or a model that back-translation cannot use; the message names it."""


class DemoError(HfStsError):
    """A demo that cannot start (a port in use, gradio missing, a model that does not load): one line saying why."""


class EnsembleError(HfStsError):
    """Prediction files that cannot be ensembled as asked: the message names the file and the problem."""


class ExportError(HfStsError):
    """A run directory that cannot be exported to the asked format: the message says why and what would work."""


class PushError(HfStsError):
    """A run that cannot be pushed, or a push the Hub refused: the message says why and what to do."""


class LeaderboardError(HfStsError):
    """Run folders `hf-sts leaderboard` cannot read: the message names the folder or file."""


class OutputError(HfStsError):
    """An output path no command may write (see `hf_sts.utils.write_guard`): the message names the option, the path
    and the input, model folder or run it would overwrite."""


def mask_secrets(text: str) -> str:
    """`text` with every Hugging Face token (`hf_...`) and every value given to a `token` / `hub_token` flag or key
    replaced by `<HIDDEN>`, for lines that echo a command line or a recipe."""
    text = SECRET_PATTERNS[0].sub(MASK, text)
    return SECRET_PATTERNS[1].sub(lambda match: match.group(1) + MASK, text)


@contextlib.contextmanager
def exit_on_error():
    """Run the body; an [`HfStsError`] becomes one line on stderr (`ERROR_PREFIX` + message, secrets masked by
    [`mask_secrets`]) and exit status 2."""
    try:
        yield
    except HfStsError as error:
        line = mask_secrets(f"{ERROR_PREFIX}{error}")
        print(line, file=sys.stderr)
        if os.environ.get(ERROR_FILE_VARIABLE):  # launched by `hf-sts train`, which repeats it as its last line
            with open(os.environ[ERROR_FILE_VARIABLE], "a", encoding="utf-8") as file:
                file.write(f"{line}\n")
        sys.exit(2)


def first_line(error: BaseException) -> str:
    """The first line of an exception's message, without terminal colour codes (torch.export colours its own), for
    a one-line error; the exception's type name where the message is empty."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()
    return text.splitlines()[0] if text else type(error).__name__


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
        raise error(f"{name_or_path}: cannot load it (a local folder or a Hub id): {first_line(failure)}") from None


def checked_tokenizer(name_or_path: str, error: type[HfStsError] = HfStsError, **kwargs):
    """`AutoTokenizer.from_pretrained(name_or_path, **kwargs)` through [`checked_from_pretrained`], refusing a
    tokenizer without a padding token, which batches of pairs need.

    Raises:
        `error`: naming `name_or_path`, when it cannot be loaded or has no padding token.
    """
    from transformers import AutoTokenizer  # on use: this module is imported by the command line to print errors

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
