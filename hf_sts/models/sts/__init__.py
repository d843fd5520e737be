"""The hf_sts model family: configurations (`configuration_sts.py`), models and heads (`modeling_sts.py`) and text
cleaning (`text_cleaning.py`). These three files import only transformers, torch and each other (relatively), since
`save_pretrained` copies them beside the weights for `trust_remote_code=True` loading without hf_sts.

Importing this package registers the configuration and model classes with `AutoConfig` and `AutoModel` (and for
`save_pretrained`'s `auto_map`), once per process.
"""

from transformers import AutoConfig, AutoModel

from .configuration_sts import StsBiEncoderConfig, StsCrossEncoderConfig
from .modeling_sts import StsBiEncoderModel, StsCrossEncoderModel


for _config_class, _model_class in (
    (StsCrossEncoderConfig, StsCrossEncoderModel),
    (StsBiEncoderConfig, StsBiEncoderModel),
):
    AutoConfig.register(_config_class.model_type, _config_class)
    AutoModel.register(_config_class, _model_class)
    _config_class.register_for_auto_class()
    _model_class.register_for_auto_class("AutoModel")
