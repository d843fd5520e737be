"""`import hf_sts` imports nothing heavy, and the model classes are registered with the Auto classes whichever of
hf_sts and transformers is imported first (the post-import hook of `hf_sts/__init__.py`)."""

import pytest

from .conftest import run_python


REGISTERED = (
    "from transformers import CONFIG_MAPPING\n"
    "print('registered', 'hf_sts_cross_encoder' in CONFIG_MAPPING and 'hf_sts_bi_encoder' in CONFIG_MAPPING)\n"
)


def test_import_hf_sts_loads_neither_torch_nor_transformers():
    result = run_python("import sys, hf_sts\nprint(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "imports",
    [
        "import hf_sts\nfrom transformers import AutoModel\n",  # hf_sts first
        "from transformers import AutoModel\nimport hf_sts\n",  # transformers first
        "from hf_sts import StsCrossEncoderModel\n",  # a model class, lazily
        "import hf_sts.data.tokenization\n",  # a submodule that imports transformers itself
    ],
)
def test_model_classes_are_registered_in_any_import_order(imports):
    result = run_python(imports + REGISTERED)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "registered True"
