"""The `hf-sts` command answers `--help` without importing torch or transformers, and the choices it lists (kept in
`hf_sts.cli.options` for that reason) are those of the modules that run the commands."""

import subprocess
import sys

import pytest

from hf_sts.cli.main import COMMANDS
from hf_sts.cli.options import (
    BACKENDS,
    ENSEMBLE_METHODS,
    EXPORT_FORMATS,
    POOLING_MODES,
    QUANTIZATIONS,
    SCORE_MAX,
    SCORE_MIN,
    STACKERS,
)

from ..conftest import REPO_ROOT


CHECK = (
    "import sys\n"
    "from hf_sts.cli.main import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit:\n"
    "    pass\n"
    "print('heavy:', sorted(name for name in ('torch', 'transformers', 'datasets') if name in sys.modules))\n"
)


@pytest.mark.parametrize("argv", [["--help"], *[[command, "--help"] for command in COMMANDS]])
def test_help_imports_neither_torch_nor_transformers(argv):
    result = subprocess.run(
        [sys.executable, "-c", CHECK, *argv], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage: hf-sts" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "heavy: []"


def test_cli_choices_equal_their_sources():
    from hf_sts.inference.onnx import BACKENDS as INFERENCE_BACKENDS
    from hf_sts.metrics import SCORE_MAX as METRICS_MAX
    from hf_sts.metrics import SCORE_MIN as METRICS_MIN
    from hf_sts.models.sts.configuration_sts import POOLING_MODES as MODEL_POOLING
    from hf_sts.tools.ensemble import METHODS
    from hf_sts.tools.ensemble import STACKERS as ENSEMBLE_STACKERS
    from hf_sts.tools.export import EXPORT_FORMATS as TOOL_FORMATS
    from hf_sts.tools.export import QUANTIZATIONS as TOOL_QUANTIZATIONS

    assert POOLING_MODES == MODEL_POOLING
    assert (SCORE_MIN, SCORE_MAX) == (METRICS_MIN, METRICS_MAX)
    assert EXPORT_FORMATS == TOOL_FORMATS
    assert QUANTIZATIONS == TOOL_QUANTIZATIONS
    assert BACKENDS == INFERENCE_BACKENDS
    assert ENSEMBLE_METHODS == METHODS
    assert STACKERS == tuple(sorted(ENSEMBLE_STACKERS))
