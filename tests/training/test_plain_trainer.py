"""transformers' model contract: a plain `transformers.Trainer`, not `StsTrainer`, trains an hf_sts model as it
trains `BertForSequenceClassification` with `problem_type="regression"`; and the private Trainer API hf_sts still
relies on is there."""

import inspect

import pytest
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

from hf_sts.data.tokenization import tokenize_pairs
from hf_sts.training.trainer import StsTrainer


@pytest.mark.parametrize("kind", ["mean", "bi-encoder"])
def test_plain_trainer_trains_an_hf_sts_model(kind, tiny_model, tokenizer, klue_dev, tmp_path):
    from hf_sts.data.tokenization import BiEncoderCollator

    architecture = "bi-encoder" if kind == "bi-encoder" else "cross-encoder"
    train = tokenize_pairs(klue_dev.select(range(32)), tokenizer, 64, architecture=architecture)
    train = train.remove_columns("binary_labels")  # a plain regression dataset: model inputs and `labels`
    model = tiny_model("bert", kind).train()
    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=32,
        num_train_epochs=12,
        learning_rate=3e-3,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
    )
    collator = BiEncoderCollator(tokenizer) if kind == "bi-encoder" else DataCollatorWithPadding(tokenizer)
    trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=collator)
    assert not isinstance(trainer, StsTrainer)
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 12 and losses[-1] < 0.7 * losses[0], losses


def test_private_trainer_api_hf_sts_relies_on():
    """`StsTrainer` and `MlmTrainer` still use two private pieces of `transformers.Trainer`, for want of a public
    hook: `save_model(_internal_call=True)` (save without the automatic push) and `_hp_search_setup` (where a
    search applies a trial). This fails the day transformers renames or drops them."""
    assert "_internal_call" in inspect.signature(Trainer.save_model).parameters
    assert "push_to_hub" in inspect.getsource(Trainer.save_model)
    assert list(inspect.signature(Trainer._hp_search_setup).parameters) == ["self", "trial"]
    assert "_hp_search_setup" in inspect.getsource(Trainer.train)
