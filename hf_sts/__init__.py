"""hf_sts: turn any Hugging Face encoder into a Korean semantic-textual-similarity (STS) model.

Importing the package makes `AutoConfig` and `AutoModel` know the hf_sts model classes, so
`AutoModel.from_pretrained(output_dir)` returns them; `save_pretrained` also copies their code next to the weights,
so `AutoModel.from_pretrained(output_dir, trust_remote_code=True)` works without hf_sts.

The package imports nothing heavy itself, so that `hf-sts --help` answers at once: the registration runs as soon as
`transformers` is imported (a post-import hook, `wrapt.register_post_import_hook`, the mechanism instrumentation
libraries use), or immediately if it already is; the names below are imported on first use.

Layers, top to bottom (each imports only from the layers below it; `lint-imports` checks this, see
`pyproject.toml`): `cli` → the scripts `run` and `pretrain` → `tools` → `pretraining` → `training` → `hub` →
`inference` → `data` → `models` | `metrics` → `errors` | `utils`.
"""

import importlib

import wrapt


__version__ = "0.1.0"

# Public name -> the module that defines it (imported on first access, PEP 562).
_LAZY = {
    "StsBiEncoderConfig": "hf_sts.models.sts.configuration_sts",
    "StsCrossEncoderConfig": "hf_sts.models.sts.configuration_sts",
    "StsBiEncoderModel": "hf_sts.models.sts.modeling_sts",
    "StsCrossEncoderModel": "hf_sts.models.sts.modeling_sts",
    "HEADS": "hf_sts.models.sts.modeling_sts",
    "register_head": "hf_sts.models.sts.modeling_sts",
    "register_cleaning_step": "hf_sts.models.sts.text_cleaning",
    "register_reader": "hf_sts.data.readers",
    "register_loss": "hf_sts.training.losses",
    "StsTrainer": "hf_sts.training.trainer",
    "StsTrainingArguments": "hf_sts.training.arguments",
    "load_model": "hf_sts.inference.loading",
    "predict_scores": "hf_sts.inference.scoring",
    "HfStsError": "hf_sts.errors",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hf_sts' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


def _register_models(_transformers) -> None:
    """Import `hf_sts.models.sts`, which registers the model classes with the Auto classes when it loads. Run when
    `transformers` is imported; if that import happens while `hf_sts.models.sts` itself is loading, Python returns
    the loading package and it registers when it is done."""
    importlib.import_module("hf_sts.models.sts")


wrapt.register_post_import_hook(_register_models, "transformers")

__all__ = ["__version__", *_LAZY]
