"""LoRA keeps its head: train, save, reload, merge, resume (peft on a tiny local encoder)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from peft import PeftModel
from transformers import AutoModel

from hf_sts import StsCrossEncoderModel
from hf_sts.cli.main import main as hf_sts_cli
from hf_sts.errors import RecipeError
from hf_sts.inference.loading import load_model
from hf_sts.models.lora import apply_lora, default_target_modules, load_adapter_model, save_adapter
from hf_sts.run import main
from hf_sts.training.arguments import ModelArguments
from hf_sts.training.parser import parse_args

from ..conftest import KLUE_DEV, KLUE_TRAIN, REPO_ROOT


ADAPTER_ONLY = ["--save_adapter_only", "true"]


def _lora_args(folder, **overrides):
    return ModelArguments(model_name_or_path=str(folder), use_lora=True, lora_r=4, lora_alpha=8, **overrides)


def _pairs(tokenizer, klue_dev, start=0, n=8):
    rows = klue_dev.select(range(start, start + n))
    batch = tokenizer(rows["sentence1"][:], rows["sentence2"][:], padding=True, return_tensors="pt")
    return batch, torch.tensor(rows["label"][:])


@pytest.mark.parametrize("head", ["cls", "mlp", "rnn", "bi-encoder"])
def test_adapter_reload_and_merge_keep_the_trained_head(head, stand_in_encoders, tokenizer, klue_dev, tmp_path):
    folder = stand_in_encoders["roberta"]
    architecture = "bi-encoder" if head == "bi-encoder" else "cross-encoder"
    torch.manual_seed(0)
    backbone = AutoModel.from_pretrained(folder)
    if architecture == "bi-encoder":
        from hf_sts import StsBiEncoderModel

        base = StsBiEncoderModel.from_backbone(backbone)
    else:
        base = StsCrossEncoderModel.from_backbone(backbone, head=head, head_hidden_sizes=[16])
    initial_head = {name: value.clone() for name, value in base.state_dict().items() if name.startswith("head.")}
    model = apply_lora(base, _lora_args(folder, architecture=architecture))

    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    assert 0 < trainable / total < 0.10  # adapters + head only (the tiny backbone is mostly embeddings)

    # A few real optimisation steps on KLUE-STS pairs, with dropout on.
    def inputs(start):
        if architecture == "cross-encoder":
            return _pairs(tokenizer, klue_dev, start)
        rows = klue_dev.select(range(start, start + 8))
        first = tokenizer(rows["sentence1"][:], padding=True, return_tensors="pt")
        second = tokenizer(rows["sentence2"][:], padding=True, return_tensors="pt")
        return {**first, **{f"{key}_b": value for key, value in second.items()}}, torch.tensor(rows["label"][:])

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for step in range(5):
        batch, labels = inputs(8 * step)
        loss = torch.nn.functional.mse_loss(model(**batch).logits, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    probe, _ = inputs(100)
    with torch.no_grad():
        in_memory = model(**probe).logits

    save_adapter(model, tokenizer, tmp_path / "adapter")
    reloaded = load_adapter_model(tmp_path / "adapter")
    assert isinstance(reloaded, PeftModel)
    merged = model.merge_and_unload()
    merged.save_pretrained(tmp_path / "merged")
    merged_loaded = AutoModel.from_pretrained(tmp_path / "merged").eval()
    assert type(merged_loaded).__name__ == type(base).__name__  # a plain hf_sts model, no peft wrapper
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**probe).logits, in_memory, atol=1e-4, rtol=0)
        torch.testing.assert_close(merged_loaded(**probe).logits, in_memory, atol=1e-4, rtol=0)

    # The head came back trained, not freshly initialised.
    if architecture == "bi-encoder":
        return  # no head: the adapters alone carry the training, checked by the predictions above
    assert initial_head
    reloaded_head = {
        name.removeprefix("head."): value
        for name, value in reloaded.merge_and_unload().state_dict().items()
        if name.startswith("head.")
    }
    for name, value in initial_head.items():
        trained = merged_loaded.state_dict()[name]
        torch.testing.assert_close(reloaded_head[name.removeprefix("head.")], trained)
        assert not torch.equal(trained, value), f"{name} was not trained"


def test_lora_run_writes_merged_model_and_adapter_then_resumes(stand_in_encoders, tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(REPO_ROOT)
    out = tmp_path / "run"
    argv = [
        "recipes/roberta_large_lora.json",
        "--model_name_or_path", str(stand_in_encoders["roberta"]),
        "--train_file", str(KLUE_TRAIN),
        "--max_train_samples", "64",
        "--max_eval_samples", "16",
        "--per_device_train_batch_size", "8",
        "--max_steps", "4",
        "--save_strategy", "steps",
        "--save_steps", "2",
        "--eval_strategy", "steps",
        "--eval_steps", "2",
        "--save_total_limit", "3",
        "--output_dir", str(out),
    ]  # fmt: skip
    with caplog.at_level("INFO", logger="hf_sts"):
        main(argv)
    # The count peft users expect at the start of a LoRA run, in the run's log.
    counts = [record.getMessage() for record in caplog.records if record.getMessage().startswith("Parameters: ")]
    assert len(counts) == 1 and "trainable of" in counts[0], counts
    root = {path.name for path in out.iterdir()}
    assert {"config.json", "model.safetensors", "adapter", "checkpoint-2", "checkpoint-4"} <= root
    assert "adapter_config.json" not in root  # the root is the merged model
    assert {"adapter_config.json", "adapter_model.safetensors", "config.json"} <= {
        path.name for path in (out / "adapter").iterdir()
    }
    assert (out / "checkpoint-2" / "adapter_model.safetensors").is_file()
    merged = AutoModel.from_pretrained(out)
    assert type(merged) is StsCrossEncoderModel
    # `hf-sts predict` on the adapter folder (loaded on its base encoder, merged) writes the merged model's scores.
    for model in (out, out / "adapter"):
        hf_sts_cli(["predict", str(model), "--input", str(KLUE_DEV), "--output", str(tmp_path / f"{model.name}.csv")])
    scores = [pd.read_csv(tmp_path / f"{name}.csv").target for name in ("run", "adapter")]
    np.testing.assert_allclose(scores[1], scores[0], atol=1e-5, rtol=0)

    # Resume from the step-2 checkpoint: training continues at step 3 with the same adapter and head; with
    # `save_adapter_only`, the root then holds the adapter (what a push uploads), not the merged model.
    resumed_out = tmp_path / "resumed"
    main([*argv[:-1], str(resumed_out), "--resume_from_checkpoint", str(out / "checkpoint-2")] + ADAPTER_ONLY)
    state = json.loads((resumed_out / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    assert min(entry["step"] for entry in state["log_history"] if "loss" in entry) > 2
    assert (resumed_out / "adapter_config.json").is_file() and not (resumed_out / "model.safetensors").exists()
    resumed = load_model(str(resumed_out), device="cpu").model
    for name, value in merged.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value, atol=1e-5, rtol=0, msg=name)


def test_lora_recipe_errors(stand_in_encoders):
    folder = str(stand_in_encoders["bert"])
    with pytest.raises(RecipeError, match="`use_lora` and `freeze_ratio` both limit what trains; pick one"):
        _lora_args(folder, freeze_ratio=0.3)
    with pytest.raises(RecipeError, match="`use_lora` adapts a pretrained encoder"):
        ModelArguments(model_type="bert", use_lora=True)
    with pytest.raises(RecipeError, match=r"leaves out the cross-encoder's `head`.*add 'head'"):
        apply_lora(
            StsCrossEncoderModel.from_backbone(AutoModel.from_pretrained(folder)),
            _lora_args(folder, lora_modules_to_save=["backbone.embeddings"]),
        )
    with pytest.raises(RecipeError, match=r"peft knows no default LoRA target modules for 'nonesuch' backbones"):
        default_target_modules("nonesuch")
    with pytest.raises(RecipeError, match="`save_adapter_only` applies to LoRA runs"):
        parse_args([str(REPO_ROOT / "recipes/roberta_large.json"), "--save_adapter_only", "true"])


def test_adapter_folder_without_an_hf_sts_config_is_one_clear_error(stand_in_encoders, tmp_path):
    """An adapter folder whose `config.json` is a plain encoder's (not the hf_sts config `save_adapter` writes)."""
    import shutil

    from hf_sts.errors import HfStsError, ModelLoadError
    from hf_sts.models.lora import build_lora_base

    folder = tmp_path / "adapter"
    shutil.copytree(stand_in_encoders["bert"], folder)
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(folder)}))
    with pytest.raises(
        ModelLoadError, match=r"adapter/config\.json: model_type 'bert', expected an hf_sts config"
    ) as info:
        build_lora_base(folder)
    assert isinstance(info.value, HfStsError) and "\n" not in str(info.value)
    with pytest.raises(ModelLoadError, match="expected an hf_sts config"):
        load_adapter_model(folder)
