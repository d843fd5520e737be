"""The one error type of hf_sts: input it cannot use (a recipe, flag, data file, model folder, prediction file).

Every hf_sts error derives from [`HfStsError`]; the command line (`hf-sts ...`, `hf_sts/run.py`) catches it in one
place and prints its message as one line, `hf-sts: error: ...`, with exit status 2. Subclasses exist where a caller
needs to tell the cases apart (`RecipeError`, `DataFormatError`, `ExportError`, `EnsembleError`, `PushError`,
`ModelLoadError`).
"""

import contextlib
import sys


ERROR_PREFIX = "hf-sts: error: "


class HfStsError(ValueError):
    """Input hf_sts cannot use; the message names the file, row, key or flag and what was expected."""


@contextlib.contextmanager
def exit_on_error():
    """Run the body; an [`HfStsError`] becomes one line on stderr (`ERROR_PREFIX` + message) and exit status 2."""
    try:
        yield
    except HfStsError as error:
        print(f"{ERROR_PREFIX}{error}", file=sys.stderr)
        sys.exit(2)


__all__ = ["ERROR_PREFIX", "HfStsError", "exit_on_error"]
