"""Several training datasets in one run (`train_datasets`): NLI and triplet files read as (anchor, positive,
negative), each batch from one dataset with its own loss, the losses logged per dataset, and the refusals of what a
multi-dataset run cannot do; and the next stage of a staged recipe starting from an earlier run."""

import json
import logging
import sys

import pytest
import torch

from hf_sts.data.tokenization import BiEncoderCollator, MultiDatasetCollator, tokenize_pairs, tokenize_triplets
from hf_sts.data.triplets import read_training_dataset, training_datasets
from hf_sts.errors import DataFormatError, RecipeError
from hf_sts.run import main as run_main
from hf_sts.training.arguments import DataArguments, ModelArguments, StsTrainingArguments
from hf_sts.training.builder import build_model
from hf_sts.training.setup import prepare
from hf_sts.training.trainer import StsTrainer

from ..conftest import FP32, KLUE_DEV, KLUE_TRAIN, SHARED_DATA, TINY


# KLUE-NLI train (not shipped: the slow training test reads it from ../shared/data).
KLUE_NLI = SHARED_DATA / "klue-nli" / "klue-nli-v1.1_train.json"
NLI_ROWS = [
    {"guid": "n0", "premise": "비가 온다.", "hypothesis": "날씨가 궂다.", "gold_label": "entailment"},
    {"guid": "n1", "premise": "비가 온다.", "hypothesis": "하늘이 맑다.", "gold_label": "contradiction"},
    {"guid": "n2", "premise": "비가 온다.", "hypothesis": "우산이 팔린다.", "gold_label": "neutral"},
    {"guid": "n3", "premise": "비가 온다.", "hypothesis": "땅이 젖는다.", "gold_label": "entailment"},
    {"guid": "n4", "premise": "고양이가 잔다.", "hypothesis": "고양이가 쉰다.", "gold_label": "entailment"},
]


@pytest.fixture
def nli_file(tmp_path):
    """A small KLUE-NLI-format file: `NLI_ROWS`, two triplets."""
    path = tmp_path / "nli.json"
    path.write_text(json.dumps(NLI_ROWS, ensure_ascii=False), encoding="utf-8")
    return path


def _recipe(tmp_path, nli_file, **overrides) -> str:
    """A multi-dataset recipe of a from-scratch bi-encoder on `nli_file` (with `overrides`), written to a file."""
    settings = {
        "model_type": "bert",
        "architecture": "bi-encoder",
        "train_datasets": {"nli": {"train_file": str(nli_file)}},
        "validation_file": str(KLUE_DEV),
        "output_dir": str(tmp_path / "out"),
        "report_to": "none",
        **overrides,
    }
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(settings))
    return str(path)


def _read(tmp_path, name: str, text: str, **entry):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return read_training_dataset(training_datasets({"part": {"train_file": str(path), **entry}})[0])


def test_nli_pairs_become_triplets_grouped_by_premise(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="hf_sts.data.triplets"):
        triplets = _read(tmp_path, "nli.json", json.dumps(NLI_ROWS, ensure_ascii=False))
    # Each entailment of the first premise with its one contradiction; the second premise has no contradiction.
    assert triplets[:] == {
        "id": ["n0-0", "n0-1"],
        "anchor": ["비가 온다."] * 2,
        "positive": ["날씨가 궂다.", "땅이 젖는다."],
        "negative": ["하늘이 맑다."] * 2,
    }
    assert "2 triplets" in caplog.text and "1 premise(s) without both" in caplog.text
    # KorNLI's TSV (sentence1, sentence2, gold_label) reads the same way.
    rows = "\n".join(f"{row['premise']}\t{row['hypothesis']}\t{row['gold_label']}" for row in NLI_ROWS)
    kornli = _read(tmp_path, "kornli.tsv", "sentence1\tsentence2\tgold_label\n" + rows)
    assert kornli["positive"] == triplets["positive"] and kornli["negative"] == triplets["negative"]


def test_triplet_files_and_broken_files(tmp_path):
    pairs = _read(tmp_path, "pos.csv", "anchor,positive\n가,나\n다,라\n")
    assert pairs.column_names == ["id", "anchor", "positive"]  # in-batch negatives only
    with pytest.raises(DataFormatError, match=r"bad\.json: row 2 \(1-based\): gold label 'maybe'"):
        _read(tmp_path, "bad.json", json.dumps([NLI_ROWS[0], {**NLI_ROWS[1], "gold_label": "maybe"}]))
    with pytest.raises(DataFormatError, match=r"holey\.csv: row 2 \(1-based\): `negative` is empty"):
        _read(tmp_path, "holey.csv", "anchor,positive,negative\n가,나,다\n라,마,\n")
    (tmp_path / "triplets.csv").write_text("anchor,positive\n가,나\n", encoding="utf-8")
    mixed = {"part": {"train_file": [str(tmp_path / "triplets.csv"), str(KLUE_TRAIN)]}}
    with pytest.raises(DataFormatError, match="mix scored pairs and triplets"):
        read_training_dataset(training_datasets(mixed)[0])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({}, "must be an object of named datasets"),
        ({"a b": {"train_file": "x.csv"}}, "name 'a b': use letters"),
        ({"nli": {"file": "x.csv"}}, "`train_datasets.nli`: unknown key 'file'"),
        ({"nli": {"loss": "mnrl"}}, "give `train_file`"),
        ({"nli": {"train_file": "x.csv", "loss_weight": 0}}, "`loss_weight` must be a number above 0"),
    ],
)
def test_bad_entries_are_named(value, message):
    with pytest.raises(RecipeError, match=message):
        training_datasets(value)


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ({"train_file": str(KLUE_TRAIN)}, "`train_file` and `train_datasets` cannot be combined"),
        ({"num_folds": 5}, "`num_folds` and `train_datasets` cannot be combined"),
        (
            {"architecture": "cross-encoder"},
            "`train_datasets.nli` holds triplets .* the architecture is 'cross-encoder'",
        ),
        ({"loss": "mnrl"}, "`loss` 'mnrl' reads sentence embeddings"),
        ({"train_datasets": {"sts": {"train_file": str(KLUE_TRAIN), "loss": "mnrl"}}}, "holds scored pairs"),
        ({"train_datasets": {"nli": {"train_file": "NLI_FILE", "loss": "cosine"}}}, "holds triplets, which train"),
    ],
)
def test_what_a_multi_dataset_run_refuses(tmp_path, nli_file, recipe, message):
    recipe = json.loads(json.dumps(recipe).replace("NLI_FILE", str(nli_file)))
    with pytest.raises(RecipeError, match=message):
        prepare([_recipe(tmp_path, nli_file, **recipe)], check_only=True)
    assert not (tmp_path / "out").exists()


def test_without_sentence_transformers_one_line_names_the_extra(tmp_path, nli_file, monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers.base.sampler", None)  # an import of it fails
    with pytest.raises(RecipeError, match=r'pip install "hf_sts\[multitask\]"'):
        prepare([_recipe(tmp_path, nli_file)], check_only=True)
    assert not (tmp_path / "out").exists()


def test_collator_batches_one_dataset_with_in_batch_targets(tokenizer, nli_file):
    rows = read_training_dataset(training_datasets({"nli": {"train_file": str(nli_file)}})[0])
    triplets = tokenize_triplets(rows, tokenizer, max_seq_length=32).add_column("dataset_name", ["nli"] * 2)
    collate = MultiDatasetCollator(BiEncoderCollator(tokenizer))
    batch = collate([triplets[0], triplets[1]])
    assert batch["dataset_name"] == "nli" and batch["labels"].tolist() == [0, 1]
    assert {key for key in batch if key.startswith("input_ids")} == {"input_ids", "input_ids_b", "input_ids_c"}
    with pytest.raises(ValueError, match=r"mixes the training datasets \['nli', 'sts'\]"):
        collate([triplets[0], {**triplets[1], "dataset_name": "sts"}])


def _epoch_of_batches(model, tokenizer, parts: dict, tmp_path, strategy: str) -> tuple[dict, int]:
    """One epoch of a multi-dataset run's training batches: the rows each dataset's batches held, in order, and the
    pad tokens of the first sentences over the epoch."""
    args = StsTrainingArguments(
        output_dir=str(tmp_path),
        report_to="none",
        eval_strategy="no",
        save_strategy="no",
        per_device_train_batch_size=8,
        train_sampling_strategy=strategy,
    )
    trainer = StsTrainer(
        model=model,
        args=args,
        train_dataset=parts,
        processing_class=tokenizer,
        data_collator=MultiDatasetCollator(BiEncoderCollator(tokenizer)),
        dataset_losses=dict.fromkeys(parts, (None, 1.0)),
    )
    seen = {name: [] for name in parts}
    padding = 0
    for batch in trainer.get_train_dataloader():
        seen[batch["dataset_name"]] += batch["row"].tolist()
        padding += batch["attention_mask"].numel() - int(batch["attention_mask"].sum())
    return seen, padding


def test_group_by_length_groups_rows_within_each_dataset(tiny_model, tokenizer, klue_dev, tmp_path):
    """Every row of each dataset once an epoch, each batch from one dataset, shuffled or, with `group_by_length`,
    in batches of similar length (transformers' `LengthGroupedSampler` within each dataset): far fewer pad tokens."""
    parts = {
        name: tokenize_pairs(klue_dev.select(rows), tokenizer, max_seq_length=128, architecture="bi-encoder")
        .add_column("row", list(rows))
        .add_column("dataset_name", [name] * len(rows))
        for name, rows in (("a", range(0, 320)), ("b", range(320, 519)))
    }
    model = tiny_model("bert", "bi-encoder")  # not trained: only the dataloader is read
    padding = {}
    for strategy in ("random", "group_by_length"):
        seen, padding[strategy] = _epoch_of_batches(model, tokenizer, parts, tmp_path, strategy)
        assert sorted(seen["a"]) == list(range(0, 320)) and sorted(seen["b"]) == list(range(320, 519)), strategy
    assert padding["group_by_length"] < padding["random"] / 2, padding


def test_cached_mnrl_runs_in_one_process_only(tmp_path, nli_file, monkeypatch):
    monkeypatch.setattr(StsTrainingArguments, "world_size", property(lambda self: 2))
    recipe = _recipe(tmp_path, nli_file, train_datasets={"nli": {"train_file": str(nli_file), "loss": "cached_mnrl"}})
    with pytest.raises(RecipeError, match=r"`train_datasets.nli`: 'cached_mnrl' runs in one process only .* has 2"):
        prepare([recipe], check_only=True)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # a training run of its own (about 10 s each)
@pytest.mark.skipif(not KLUE_NLI.is_file(), reason=f"needs KLUE-NLI train at {KLUE_NLI}")
@pytest.mark.parametrize("nli_loss", ["mnrl", "cached_mnrl"])
def test_two_datasets_train_with_two_losses_both_logged_and_falling(tmp_path, nli_loss):
    output_dir = tmp_path / "out"
    recipe = {
        "model_type": "bert",
        "architecture": "bi-encoder",
        "mnrl_mini_batch_size": 4,  # cached_mnrl: each batch of 16 triplets in four passes per side
        "train_datasets": {
            "klue_nli": {"train_file": str(KLUE_NLI), "loss": nli_loss},
            "klue_sts": {"train_file": str(KLUE_TRAIN), "loss": "cosine", "loss_weight": 0.5},
        },
        "validation_file": str(KLUE_DEV),
        "max_train_samples": 128,
        "max_eval_samples": 64,
        "learning_rate": 1e-3,
        "per_device_train_batch_size": 16,
        "eval_strategy": "no",
        "save_strategy": "no",
        "seed": 0,
        "output_dir": str(output_dir),
        "report_to": "none",
    }
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(recipe))
    metrics = run_main([str(path), *TINY, "--num_train_epochs=3", FP32])
    assert metrics["train_samples"] == 256
    history = json.loads((output_dir / "trainer_state.json").read_text())["log_history"]
    epochs = [entry for entry in history if "loss" in entry]
    assert len(epochs) == 3
    for name in ("loss_klue_nli", "loss_klue_sts"):
        assert all(name in entry for entry in epochs), name
        assert epochs[-1][name] < epochs[0][name], (name, [entry[name] for entry in epochs])
    card = (output_dir / "README.md").read_text(encoding="utf-8")
    assert "Trained on 2 datasets, each batch from one (proportional sampling): `klue_nli`" in card


def test_a_stage_continues_an_earlier_run_of_the_other_architecture(tiny_model, tokenizer, tmp_path, caplog):
    bi_encoder = tiny_model("bert", "bi-encoder")
    bi_encoder.config.prompt = "query: "
    bi_encoder.save_pretrained(tmp_path / "stage-1")
    tokenizer.save_pretrained(tmp_path / "stage-1")
    model_args = ModelArguments(
        model_name_or_path=str(tmp_path / "stage-1"), architecture="cross-encoder", head="mean"
    )
    data_args = DataArguments(train_file=[str(KLUE_TRAIN)])
    with caplog.at_level(logging.WARNING, logger="hf_sts.training.builder"):
        cross_encoder = build_model(model_args, data_args, tokenizer)
    assert "its backbone continues under newly initialised cross-encoder layers" in caplog.text
    assert cross_encoder.config.head == "mean" and cross_encoder.config.prompt == "query: "
    for (name, before), after in zip(
        bi_encoder.backbone.state_dict().items(), cross_encoder.backbone.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(after, before, msg=name)
