"""LoRA fine-tuning (Hu et al. 2021) of hf_sts models with `peft`, keeping the regression head.

The backbone gets low-rank adapters on `lora_target_modules` (by default the attention query and value projections,
from peft's table for the backbone's `model_type`); the head is in `modules_to_save`, so it trains in full and is
saved with the adapter. Heads that peft does not know about are where other libraries lose them (peft issues 310,
577, 1070; sentence-transformers issue 3980): here the adapter always carries the trained head.

A LoRA run's `output_dir` holds:

- the root: the merged model (`merge_and_unload`), a normal hf_sts checkpoint that `AutoModel.from_pretrained` loads
  without peft, and what `push_to_hub` uploads; with `save_adapter_only`, the adapter instead (nothing merged);
- `adapter/` (always, written by [`save_adapter`]): `adapter_config.json`, `adapter_model.safetensors` (LoRA weights
  and the full head weights), the hf_sts `config.json` of the base and the tokenizer. Load it with
  [`load_adapter_model`], or with `PeftModel.from_pretrained(base, "adapter")` on top of the base built as
  [`build_lora_base`] does.

Checkpoints (`checkpoint-*/`) hold the adapter with the head, so `resume_from_checkpoint` continues with both.
"""

import logging
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING
from transformers import AutoConfig, AutoModel

from hf_sts.errors import ModelLoadError, RecipeError, checked_from_pretrained, read_json_object
from hf_sts.models.sts.configuration_sts import StsBackboneConfig
from hf_sts.models.sts.modeling_sts import MODEL_CLASSES, StsCrossEncoderModel, StsPreTrainedModel


logger = logging.getLogger(__name__)

ADAPTER_DIR = "adapter"


def default_target_modules(model_type: str) -> list[str]:
    """The attention query/value projections of a backbone type, from peft's table (`["query", "value"]` for BERT,
    RoBERTa and ELECTRA).

    Raises:
        RecipeError: if peft has no default for `model_type`; the recipe must then give `lora_target_modules`.
    """
    if model_type not in TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING:
        raise RecipeError(
            f"peft knows no default LoRA target modules for {model_type!r} backbones; set `lora_target_modules` "
            "to the names of their attention projections."
        )
    return list(TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING[model_type])


def check_target_modules(config, target_modules: list[str]) -> None:
    """Check that every name of `target_modules` names modules of the backbone of `config` (a module whose name is
    it or ends with `.` + it, as peft matches a list of names), on a weightless (meta-device) copy of the backbone.

    Raises:
        RecipeError: naming the names that match no module, and the backbone's module names.
    """
    with torch.device("meta"):
        backbone = AutoModel.from_config(config)
    names = {name.rsplit(".", 1)[-1] for name, _ in backbone.named_modules() if name}
    missing = [target for target in target_modules if target.rsplit(".", 1)[-1] not in names]
    if missing:
        candidates = sorted(name for name in names if not name.isdigit())
        raise RecipeError(
            f"`lora_target_modules` {missing}: no such module in the {config.model_type} backbone; its module names "
            f"are {candidates}."
        )


def apply_lora(model: StsPreTrainedModel, model_args) -> PeftModel:
    """Wrap `model` with LoRA adapters (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models", through
    peft) as `model_args` says: any object with the LoRA fields of `hf_sts.training.arguments.ModelArguments`
    (`lora_r`, `lora_alpha`, `lora_dropout`, `lora_target_modules`, `lora_modules_to_save`, and
    `model_name_or_path`, recorded as the adapter's base).

    Returns:
        A `peft.PeftModel` whose trainable parameters are the adapters and the modules to save (the whole head of
        a cross-encoder by default).

    Raises:
        RecipeError: if peft has no default target modules for the backbone type and none are given, or if
            `lora_modules_to_save` leaves out a cross-encoder's head.
    """
    target_modules = model_args.lora_target_modules or default_target_modules(model.config.backbone_config.model_type)
    modules_to_save = model_args.lora_modules_to_save
    if modules_to_save is None:
        modules_to_save = ["head"] if isinstance(model, StsCrossEncoderModel) else []
    elif isinstance(model, StsCrossEncoderModel) and "head" not in modules_to_save:
        raise RecipeError(
            f"`lora_modules_to_save={modules_to_save}` leaves out the cross-encoder's `head`, which would stay "
            "at its random initialisation and be lost on save; add 'head'."
        )
    # peft records the wrapped model's `name_or_path` as the adapter's base: that of the pretrained encoder.
    model.name_or_path = model_args.model_name_or_path
    config = LoraConfig(
        r=model_args.lora_r,
        lora_alpha=model_args.lora_alpha,
        lora_dropout=model_args.lora_dropout,
        target_modules=target_modules,
        modules_to_save=modules_to_save or None,
    )
    return get_peft_model(model, config)


def save_adapter(model: PeftModel, tokenizer, folder: str | Path) -> None:
    """Save a LoRA model's adapter (with the full weights of its modules to save, the head) to `folder`, with the
    hf_sts config of the base (head settings included) and the tokenizer, so that [`load_adapter_model`] rebuilds
    the base from it and the encoder named in `adapter_config.json`."""
    model.save_pretrained(folder)
    model.get_base_model().config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def build_lora_base(adapter_dir: str | Path, **hub_kwargs) -> StsPreTrainedModel:
    """The model a LoRA adapter was trained on: the pretrained encoder named in `adapter_config.json`
    (`base_model_name_or_path`, Hub id or local path) under a freshly initialised head of the saved hf_sts config.
    Pass it to `PeftModel.from_pretrained(base, adapter_dir)`, which puts the trained head back.

    Raises:
        ModelLoadError: if `adapter_dir` lacks `adapter_config.json` (or it names no `base_model_name_or_path`) or the
            hf_sts `config.json`, if that `config.json` is not an hf_sts one (`hf_sts_cross_encoder` or
            `hf_sts_bi_encoder`), or if the base encoder cannot be loaded.
    """
    adapter_dir = Path(adapter_dir)
    for name in ("adapter_config.json", "config.json"):
        if not (adapter_dir / name).is_file():
            raise ModelLoadError(f"{adapter_dir}: no {name}; give the adapter folder of an hf_sts LoRA run.")
    base_name = read_json_object(adapter_dir / "adapter_config.json", ModelLoadError).get("base_model_name_or_path")
    if not base_name:
        raise ModelLoadError(
            f"{adapter_dir / 'adapter_config.json'}: no `base_model_name_or_path` (the base encoder)."
        )
    config = checked_from_pretrained(AutoConfig, str(adapter_dir), ModelLoadError)
    model_class = next((cls for cls in MODEL_CLASSES.values() if isinstance(config, cls.config_class)), None)
    if model_class is None:
        expected = " or ".join(repr(cls.config_class.model_type) for cls in MODEL_CLASSES.values())
        raise ModelLoadError(
            f"{adapter_dir / 'config.json'}: model_type {config.model_type!r}, expected an hf_sts config ({expected}); "
            "give the adapter folder of an hf_sts LoRA run, which save_adapter writes with the hf_sts config."
        )
    if isinstance(checked_from_pretrained(AutoConfig, base_name, ModelLoadError, **hub_kwargs), StsBackboneConfig):
        return model_class.from_pretrained(base_name, **hub_kwargs)  # LoRA on top of an hf_sts checkpoint
    return model_class(config, backbone=AutoModel.from_pretrained(base_name, **hub_kwargs))


def load_adapter_model(adapter_dir: str | Path, **hub_kwargs) -> PeftModel:
    """Load an hf_sts LoRA adapter (with its trained head) on top of its base encoder, in eval mode.

    Args:
        adapter_dir: the `adapter/` folder of a LoRA run (or a folder with the same files).
        **hub_kwargs: passed to the base encoder's `from_pretrained` (`cache_dir`, `revision`, `token`).

    Returns:
        A `peft.PeftModel`; `model(**batch).logits` are the scores `(batch,)`, and `merge_and_unload()` gives a plain
        hf_sts model.

    Raises:
        ModelLoadError: as [`build_lora_base`].
    """
    return PeftModel.from_pretrained(build_lora_base(adapter_dir, **hub_kwargs), adapter_dir).eval()


__all__ = [
    "ADAPTER_DIR",
    "apply_lora",
    "build_lora_base",
    "check_target_modules",
    "default_target_modules",
    "load_adapter_model",
    "save_adapter",
]
