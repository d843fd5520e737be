import copy

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import DataCollatorWithPadding
from transformers.modeling_outputs import SequenceClassifierOutput

from hf_sts.data.tokenization import tokenize_pairs
from hf_sts.run import main as run_main
from hf_sts.training.arguments import StsTrainingArguments
from hf_sts.training.trainer import StsTrainer

from ..conftest import FP32, QUICKSTART, REPO_ROOT, TINY


def _trainer(model, tokenizer, dataset, tmp_path, **overrides):
    settings = {
        "output_dir": str(tmp_path),
        "report_to": "none",
        "eval_strategy": "no",
        "save_strategy": "no",
        "logging_strategy": "steps",
        "logging_steps": 1,
        "learning_rate": 1e-2,
        "max_steps": 1,
        "train_sampling_strategy": "sequential",
        "use_cpu": True,
    }
    args = StsTrainingArguments(**{**settings, **overrides})
    return StsTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
    )


@pytest.fixture
def train_pairs(klue_dev, tokenizer):
    return tokenize_pairs(klue_dev.select(range(8)), tokenizer, max_seq_length=64)


def test_gradient_accumulation_matches_one_large_batch(tiny_model, tokenizer, train_pairs, tmp_path):
    model = tiny_model("bert", "mlp")
    one_batch = copy.deepcopy(model)
    accumulated = copy.deepcopy(model)
    _trainer(one_batch, tokenizer, train_pairs, tmp_path / "a", loss="l1+huber", per_device_train_batch_size=8).train()
    _trainer(
        accumulated,
        tokenizer,
        train_pairs,
        tmp_path / "b",
        loss="l1+huber",
        per_device_train_batch_size=4,
        gradient_accumulation_steps=2,
    ).train()
    changed = 0
    for (name, before), after_one, after_acc in zip(
        model.named_parameters(), one_batch.parameters(), accumulated.parameters(), strict=True
    ):
        torch.testing.assert_close(after_acc, after_one, atol=1e-6, rtol=1e-5, msg=name)
        changed += not torch.equal(before, after_one)
    assert changed == sum(1 for _ in model.parameters())  # every parameter was trained


def test_loss_value_and_components_are_logged(tiny_model, tokenizer, train_pairs, tmp_path):
    model = tiny_model("bert", "cls")
    batch = DataCollatorWithPadding(tokenizer)([train_pairs[i] for i in range(8)])
    with torch.no_grad():
        scores = model(**{k: v for k, v in batch.items() if k not in ("labels", "binary_labels")}).logits
    l1 = (scores - batch["labels"]).abs().mean().item()
    huber = torch.nn.functional.huber_loss(scores, batch["labels"].float()).item()
    trainer = _trainer(
        model,
        tokenizer,
        train_pairs,
        tmp_path,
        loss="l1+huber",
        loss_weights=[1.0, 2.0],
        per_device_train_batch_size=8,
        learning_rate=1e-12,
    )
    trainer.train()
    logged = next(entry for entry in trainer.state.log_history if "loss" in entry)
    assert logged["loss_l1"] == pytest.approx(l1, abs=1e-4)
    assert logged["loss_huber"] == pytest.approx(2 * huber, abs=1e-4)  # the weighted parts add up to the loss
    assert logged["loss"] == pytest.approx(l1 + 2 * huber, abs=1e-3)


class OneColumnScorer(torch.nn.Module):
    """A regression model returning `(batch, num_labels)` logits, as `AutoModelForSequenceClassification` does."""

    def __init__(self, num_labels: int):
        super().__init__()
        self.num_labels = num_labels
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        lengths = attention_mask.sum(-1, keepdim=True).float()
        return SequenceClassifierOutput(logits=self.scale * lengths.expand(-1, self.num_labels))


def test_logits_must_hold_one_score_per_label(tokenizer, train_pairs, tmp_path):
    batch = DataCollatorWithPadding(tokenizer)([train_pairs[i] for i in range(8)])
    trainer = _trainer(OneColumnScorer(1), tokenizer, train_pairs, tmp_path, loss="mse")
    lengths = batch["attention_mask"].sum(-1).float()
    expected = torch.nn.functional.mse_loss(lengths, batch["labels"].float())
    # (batch, 1) regression logits are read as (batch,), not broadcast into a (batch, batch) loss.
    assert trainer.compute_loss(OneColumnScorer(1).eval(), dict(batch)).item() == pytest.approx(expected.item())
    with pytest.raises(ValueError, match=r"logits have shape \(8, 3\), expected one score per pair, \(8,\)"):
        trainer.compute_loss(OneColumnScorer(3).eval(), dict(batch))


class LengthScorer(torch.nn.Module):
    """Scores a pair by its number of tokens: any reordering of predictions shows."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.widths = []  # the padded width of each batch scored

    def forward(self, input_ids, attention_mask, **kwargs):
        self.widths.append(input_ids.shape[1])
        return SequenceClassifierOutput(logits=self.scale * attention_mask.sum(-1).float())


def test_predictions_follow_row_order_with_length_grouped_training(tokenizer, klue_dev, tmp_path):
    encoded = tokenize_pairs(klue_dev.select(range(64)), tokenizer, max_seq_length=128)
    trainer = _trainer(
        LengthScorer(),
        tokenizer,
        encoded,
        tmp_path,
        train_sampling_strategy="group_by_length",
        per_device_eval_batch_size=8,
    )
    output = trainer.predict(encoded)
    lengths = [len(ids) for ids in encoded["input_ids"]]
    np.testing.assert_array_equal(output.predictions, lengths)
    np.testing.assert_allclose(output.label_ids[0], encoded["labels"], rtol=1e-6)  # labels in row order alike
    # Scored longest first, in batches of 8: each batch pads to its longest row, the first of its 8.
    assert trainer.model.widths == sorted(lengths, reverse=True)[::8]


def test_evaluation_during_training_leaves_the_trained_model_unchanged(tmp_path, monkeypatch):
    """Evaluation goes through hf_sts' scoring path, which draws nothing from the training's random state: a run
    that evaluates every epoch trains exactly the weights of one that never does."""
    monkeypatch.chdir(REPO_ROOT)
    base = [QUICKSTART, *TINY, "--num_train_epochs=2", "--max_train_samples=96", "--max_eval_samples=32", FP32]
    run_main([*base, "--eval_strategy=epoch", f"--output_dir={tmp_path / 'evaluated'}"])
    run_main([*base, "--eval_strategy=no", f"--output_dir={tmp_path / 'plain'}"])
    evaluated, plain = (load_file(tmp_path / name / "model.safetensors") for name in ("evaluated", "plain"))
    assert evaluated.keys() == plain.keys()
    for name, tensor in evaluated.items():
        assert torch.equal(tensor, plain[name]), name
