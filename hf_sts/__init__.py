"""hf_sts: turn any Hugging Face encoder into a Korean semantic-textual-similarity (STS) model.

Importing the package registers the hf_sts configuration and model classes with `AutoConfig` and `AutoModel`, so
`AutoModel.from_pretrained(output_dir)` returns them; `save_pretrained` also copies their code next to the weights,
so `AutoModel.from_pretrained(output_dir, trust_remote_code=True)` works without hf_sts.
"""

from transformers import AutoConfig, AutoModel

from hf_sts.models.sts.configuration_sts import StsBiEncoderConfig, StsCrossEncoderConfig
from hf_sts.models.sts.modeling_sts import HEADS, StsBiEncoderModel, StsCrossEncoderModel, register_head


__version__ = "0.1.0"

for _config_class, _model_class in (
    (StsCrossEncoderConfig, StsCrossEncoderModel),
    (StsBiEncoderConfig, StsBiEncoderModel),
):
    AutoConfig.register(_config_class.model_type, _config_class)
    AutoModel.register(_config_class, _model_class)
    _config_class.register_for_auto_class()
    _model_class.register_for_auto_class("AutoModel")

__all__ = [
    "HEADS",
    "StsBiEncoderConfig",
    "StsBiEncoderModel",
    "StsCrossEncoderConfig",
    "StsCrossEncoderModel",
    "register_head",
    "__version__",
]
