"""`hf-sts pretrain`: masked-language-model pretraining (TAPT) from scratch and from a pretrained encoder without an
MLM head, its text sources, sparse prediction, whole-word masking, and its output as a fine-tuning start."""

import json
import re

import pandas as pd
import pytest
import torch
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoTokenizer,
    DataCollatorForLanguageModeling,
    TrainingArguments,
)

from hf_sts.data.readers import read_text_file
from hf_sts.pretrain import main
from hf_sts.pretraining.arguments import MlmArguments
from hf_sts.pretraining.corpus import read_corpus, tokenize_text
from hf_sts.pretraining.trainer import MlmTrainer
from hf_sts.run import main as run_main

from ..conftest import KLUE_DEV, KLUE_TRAIN, KORSTS, REPO_ROOT, SHARED_DATA, refusal_line


SCRATCH = [
    "--model_type=bert",
    "--config_overrides=hidden_size=32,num_hidden_layers=2,num_attention_heads=2,intermediate_size=64",
    "--tokenizer_vocab_size=800",
]
QUICK = ["--max_seq_length=32", "--per_device_train_batch_size=16", "--disable_tqdm=true", "--report_to=none"]


def logged_losses(output_dir) -> list[float]:
    state = json.loads((output_dir / "trainer_state.json").read_text())
    return [entry["loss"] for entry in state["log_history"] if "loss" in entry]


@pytest.fixture(scope="module")
def scratch_run(tmp_path_factory):
    """A tiny BERT pretrained from scratch on 1,000 KLUE-STS train sentences, with whole-word masking."""
    output_dir = tmp_path_factory.mktemp("pretrain") / "scratch"
    metrics = main(
        [*SCRATCH, *QUICK, "--train_file", str(KLUE_TRAIN), "--max_train_samples=1000", "--num_train_epochs=3"]
        + ["--learning_rate=1e-3", "--logging_steps=10", "--whole_word_mask=true", "--output_dir", str(output_dir)]
    )
    return output_dir, metrics


@pytest.mark.slow
def test_from_scratch_loss_falls_and_the_output_fine_tunes(scratch_run, tmp_path, monkeypatch):
    output_dir, metrics = scratch_run
    losses = logged_losses(output_dir)
    assert len(losses) >= 4 and losses[-1] < losses[0] - 1.0, losses
    assert metrics["perplexity"] == pytest.approx(2.718281828 ** metrics["eval_loss"], rel=1e-6)
    results = json.loads((output_dir / "all_results.json").read_text())
    assert results["train_sentences"] == 1000 and results["eval_sentences"] > 0
    # A masked-LM checkpoint with its tokenizer; the held-out loss is what the card reports.
    model = AutoModelForMaskedLM.from_pretrained(output_dir)
    assert type(model).__name__ == "BertForMaskedLM"
    assert AutoTokenizer.from_pretrained(output_dir).mask_token == "[MASK]"
    card = (output_dir / "README.md").read_text()
    assert "from scratch" in card and "pipeline_tag: fill-mask" in card
    assert f"| eval_loss  | {metrics['eval_loss']:.4f}" in card
    assert re.search(r"`.*klue-sts-v1.1_train.csv` \| STS training pairs \| 23,336", card)
    # It is a backbone `hf_sts/run.py` fine-tunes: the STS model starts from the pretrained encoder weights.
    monkeypatch.chdir(REPO_ROOT)
    run = tmp_path / "sts"
    run_main(
        ["recipes/quickstart_cross_encoder.json", "--model_name_or_path", str(output_dir), "--output_dir", str(run)]
        + ["--max_train_samples=32", "--max_eval_samples=16", "--num_train_epochs=0.01", "--disable_tqdm=true"]
        + ["--learning_rate=1e-9", "--save_strategy=no", "--eval_strategy=no", "--load_best_model_at_end=false"]
    )
    sts = AutoModel.from_pretrained(run)
    layer = "encoder.layer.1.output.dense.weight"
    assert torch.allclose(sts.backbone.state_dict()[layer], model.bert.state_dict()[layer], atol=1e-6)


@pytest.mark.slow
def test_encoder_without_an_mlm_head_gets_one(stand_in_encoders, tmp_path, caplog):
    """A pretrained encoder saved as a bare `BertModel` (as multilingual-e5-small is): pretraining adds a new MLM
    head, says so, trains the encoder, and the output loads whole as `AutoModelForMaskedLM` and as a backbone."""
    encoder = stand_in_encoders["bert"]
    caplog.set_level("WARNING", logger="hf_sts")
    output_dir = tmp_path / "tapt"
    main(
        ["--model_name_or_path", str(encoder), *QUICK, "--train_file", str(KLUE_DEV), "--num_train_epochs=2"]
        + ["--learning_rate=1e-3", "--logging_steps=5", "--output_dir", str(output_dir)]
    )
    assert re.search(r"has no MLM head: added a newly initialised one \([\d,]+ parameters", caplog.text)
    losses = logged_losses(output_dir)
    assert losses[-1] < losses[0], losses
    model, info = AutoModelForMaskedLM.from_pretrained(output_dir, output_loading_info=True)
    assert not info["missing_keys"]  # the head was saved
    before, after = AutoModel.from_pretrained(encoder), AutoModel.from_pretrained(output_dir)
    layer = "encoder.layer.0.attention.self.query.weight"
    assert not torch.allclose(before.state_dict()[layer], after.state_dict()[layer])
    assert f"starting from `{encoder}`" in (output_dir / "README.md").read_text()


def test_sparse_prediction_gives_the_full_loss(stand_in_encoders, tmp_path):
    """The head on the masked rows only gives the same loss and gradients as the model's own full forward."""
    torch.manual_seed(0)
    model = AutoModelForMaskedLM.from_pretrained(stand_in_encoders["bert"])
    tokenizer = AutoTokenizer.from_pretrained(stand_in_encoders["bert"])
    batch = tokenizer(["숙소 위치는 찾기 쉽습니다.", "오늘 날씨가 맑다"], padding=True, return_tensors="pt")
    labels = batch["input_ids"].clone()
    labels[:, ::2] = -100
    full = model(**batch, labels=labels).loss
    full.backward()
    full_grad = model.bert.encoder.layer[0].attention.self.query.weight.grad.clone()
    model.zero_grad()
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none")  # not the Trainer's ./tmp_trainer
    trainer = MlmTrainer(model=model, args=args, sparse_prediction=True)
    sparse, outputs = trainer.compute_loss(model.eval(), {**batch, "labels": labels}, return_outputs=True)
    assert outputs.logits.shape == ((labels != -100).sum().item(), model.config.vocab_size)
    assert sparse.item() == pytest.approx(full.item(), rel=1e-5)
    sparse.backward()
    assert torch.allclose(model.bert.encoder.layer[0].attention.self.query.weight.grad, full_grad, atol=1e-6)
    # Outside compute_loss the head sees every position again.
    assert model(**batch).logits.shape[:2] == batch["input_ids"].shape


class _MainProcessFirst:  # what tokenize_text reads of the training arguments
    @staticmethod
    def main_process_first(desc):
        import contextlib

        return contextlib.nullcontext()


@pytest.mark.parametrize("line_by_line", [False, True], ids=["blocks", "line by line"])
def test_text_is_cut_into_blocks_or_kept_line_by_line(stand_in_encoders, line_by_line):
    """run_mlm.py's two layouts: every sentence's tokens concatenated and cut into blocks of max_seq_length (the
    last, shorter block dropped), or one example per sentence, truncated to max_seq_length."""
    tokenizer = AutoTokenizer.from_pretrained(stand_in_encoders["bert"])
    args = MlmArguments(
        model_name_or_path="x", train_file=["x"], max_seq_length=16, whole_word_mask=False, line_by_line=line_by_line
    )
    sentences = read_text_file(KLUE_DEV)[:50]
    rows = tokenize_text(sentences, tokenizer, args, _MainProcessFirst)["input_ids"]
    encoded = [tokenizer(sentence)["input_ids"] for sentence in sentences]
    if line_by_line:
        assert rows == [ids[:15] + [tokenizer.sep_token_id] if len(ids) > 16 else ids for ids in encoded]
    else:
        joined = sum(encoded, [])
        assert len(rows) == len(joined) // 16 and all(len(ids) == 16 for ids in rows)
        assert sum(rows, []) == joined[: len(rows) * 16]


def test_whole_word_masking_masks_every_piece_of_a_word(stand_in_encoders):
    tokenizer = AutoTokenizer.from_pretrained(stand_in_encoders["bert"])
    args = MlmArguments(model_name_or_path="x", train_file=["x"], max_seq_length=32, whole_word_mask=True)
    sentences = read_text_file(KLUE_DEV)[:200]
    blocks = tokenize_text(sentences, tokenizer, args, _MainProcessFirst)
    assert all(len(ids) == 32 for ids in blocks["input_ids"])
    collator = DataCollatorForLanguageModeling(
        tokenizer, mlm_probability=0.3, whole_word_mask=True, mask_replace_prob=1.0, random_replace_prob=0.0, seed=0
    )
    batch = collator([blocks[i] for i in range(32)])
    masked = batch["labels"] != -100
    pieces = 0
    for row in range(32):
        tokens = tokenizer.convert_ids_to_tokens(blocks[row]["input_ids"])
        for position in range(1, 32):
            if tokens[position].startswith("##"):  # a word's later piece: masked exactly when the piece before is
                pieces += 1
                assert masked[row, position] == masked[row, position - 1], (row, tokens)
    assert pieces > 50 and 0.1 < masked.float().mean() < 0.5


@pytest.mark.skipif(not (KORSTS / "sts-dev.tsv").is_file(), reason=f"needs KLUE-NLI and KorSTS in {SHARED_DATA}")
def test_text_sources_are_read_deduplicated_and_recorded(tmp_path):
    (tmp_path / "extra.txt").write_text("첫 문장입니다.\n\n  둘째 문장  \n첫 문장입니다.\n", encoding="utf-8")
    assert read_text_file(tmp_path / "extra.txt") == ["첫 문장입니다.", "둘째 문장", "첫 문장입니다."]
    nli = SHARED_DATA / "klue-nli" / "klue-nli-v1.1_dev.json"
    first = json.loads(nli.read_text(encoding="utf-8"))[0]
    assert read_text_file(nli)[:2] == [first["premise"], first["hypothesis"]]
    korsts = pd.read_csv(KORSTS / "sts-dev.tsv", sep="\t", quoting=3, dtype=str, keep_default_na=False)
    assert read_text_file(KORSTS / "sts-dev.tsv")[:2] == [korsts["sentence1"][0], korsts["sentence2"][0]]
    args = MlmArguments(
        model_type="bert",
        train_file=[str(KLUE_DEV)],
        unlabeled_file=[str(KLUE_DEV)],
        text_file=[str(tmp_path / "extra.txt")],
        validation_split_percentage=10,
    )
    corpus = read_corpus(args, seed=0)
    dev = read_text_file(KLUE_DEV)
    distinct = set(dev) | {"첫 문장입니다.", "둘째 문장"}
    assert corpus.total == 2 * len(dev) + 3
    assert sorted(corpus.train + corpus.validation) == sorted(distinct)  # each distinct sentence once
    assert len(corpus.validation) == len(distinct) * 10 // 100 and not set(corpus.train) & set(corpus.validation)
    assert [source["kind"] for source in corpus.sources] == [
        "STS training pairs",
        "unlabeled STS pairs (opt-in: validation or test text)",
        "extra text",
    ]
    assert read_corpus(args, seed=0).validation == corpus.validation != read_corpus(args, seed=1).validation


@pytest.mark.parametrize(
    "case",
    [
        "no text",
        "missing text file",
        "no text columns",
        "mlm_probability",
        "max_eval_samples",
        "unknown key",
        "not an encoder",
        "no masked-LM class",
        "no mask",
        "dataset not cached",
        "dataset without the text column",
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(case, tmp_path, monkeypatch, capsys, stand_in_encoders):
    monkeypatch.chdir(REPO_ROOT)
    (tmp_path / "labels.csv").write_text("id,label\na,1.0\n", encoding="utf-8")
    no_mask = tmp_path / "no_mask"
    if case == "no mask":
        tokenizer = AutoTokenizer.from_pretrained(stand_in_encoders["bert"])
        AutoModel.from_pretrained(stand_in_encoders["bert"]).save_pretrained(no_mask)
        tokenizer.mask_token = None
        tokenizer.save_pretrained(no_mask)
    base = [*SCRATCH, "--train_file", str(KLUE_DEV)]
    (tmp_path / "local_dataset").mkdir()  # a dataset folder `load_dataset` reads offline
    (tmp_path / "local_dataset" / "train.csv").write_text("sentence\n첫 문장\n둘째 문장\n", encoding="utf-8")
    argv, message = {
        "no text": ([*SCRATCH], r"Give text: `train_file`, `unlabeled_file`, `text_file` or `dataset_name`"),
        "missing text file": ([*base, "--text_file", "nope.txt"], r"nope\.txt: no such file"),
        "no text columns": (
            [*base, "--text_file", str(tmp_path / "labels.csv")],
            r"labels\.csv: no text columns; expected one of .*found \['id', 'label'\]",
        ),
        "mlm_probability": ([*base, "--mlm_probability=1.5"], r"`mlm_probability` must be in \(0, 1\), got 1\.5"),
        "max_eval_samples": ([*base, "--max_eval_samples=0"], r"`max_eval_samples` must be >= 1 sentence .*got 0"),
        "unknown key": ([*base, "--head=mlp"], r"unknown key 'head'\. .*see `hf_sts/pretrain\.py --help`"),
        "not an encoder": (
            ["--model_name_or_path", "recipes", "--train_file", str(KLUE_DEV)],
            r"recipes: cannot load it",
        ),
        "dataset not cached": (
            [*SCRATCH, "--dataset_name", "no-such-user/no-such-dataset", "--cache_dir", str(tmp_path / "cache")],
            r"no-such-user/no-such-dataset: cannot load the dataset",
        ),
        "dataset without the text column": (
            [*SCRATCH, "--dataset_name", str(tmp_path / "local_dataset")],
            r"`text_column` 'text' is not a column of .*local_dataset: \['sentence'\]",
        ),
        "no masked-LM class": (
            ["--model_type=gpt2", "--config_overrides=n_embd=32,n_layer=2,n_head=2", "--train_file", str(KLUE_DEV)],
            r"`model_type` 'gpt2' has no masked-LM class in transformers",
        ),
        "no mask": (
            ["--model_name_or_path", str(no_mask), "--train_file", str(KLUE_DEV), "--max_train_samples=20"],
            r"has no mask token",
        ),
    }[case]
    out = tmp_path / "out"
    line = refusal_line(["pretrain", *argv, "--output_dir", str(out), *QUICK], capsys)
    assert re.search(message, line), line
    assert not out.exists()


TAPT_RECIPES = sorted((REPO_ROOT / "recipes" / "tapt").glob("*.json"))


@pytest.mark.parametrize("recipe", TAPT_RECIPES, ids=lambda path: path.stem)
def test_tapt_recipe_dry_run(recipe, stand_in_encoders, tmp_path, monkeypatch):
    """Each shipped pretraining recipe runs a step (a tiny stand-in of its encoder), on the text its fine-tuning
    recipe trains on."""
    monkeypatch.chdir(REPO_ROOT)
    settings = json.loads(recipe.read_text(encoding="utf-8"))
    fine_tune = json.loads((REPO_ROOT / "recipes" / f"{recipe.stem}.json").read_text(encoding="utf-8"))
    assert settings["train_file"] == [fine_tune["train_file"]]
    assert settings.get("model_name_or_path") == fine_tune.get("model_name_or_path")
    assert settings.get("config_overrides") == fine_tune.get("config_overrides")
    model = ["--model_name_or_path", str(stand_in_encoders["bert"])] if "model_name_or_path" in settings else []
    if not model:
        model = ["--config_overrides", "hidden_size=32,num_hidden_layers=1,num_attention_heads=2,intermediate_size=37"]
    out = tmp_path / "out"
    metrics = main([str(recipe), *model, "--max_steps=1", "--max_train_samples=64", "--output_dir", str(out)])
    assert metrics["train_steps"] == 1 and (out / "README.md").is_file()


def test_every_help_is_written():
    from dataclasses import fields

    from hf_sts.pretraining.arguments import ARGUMENT_CLASSES

    for cls in ARGUMENT_CLASSES:
        for f in fields(cls):
            if f.init:
                assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help"


@pytest.mark.slow
@pytest.mark.pretrained
def test_tapt_recipe_on_multilingual_e5_small(e5_encoder, tmp_path, monkeypatch, caplog):
    """The shipped TAPT recipe on the real encoder, for a few steps: the MLM head e5 lacks is added, the masked-token
    loss falls from the fresh head's ~ln(250k), and the output is whole (`AutoModelForMaskedLM`, no missing keys),
    with whole-word masking through the XLM-R tokenizer's offsets."""
    monkeypatch.chdir(REPO_ROOT)
    caplog.set_level("WARNING", logger="hf_sts")
    out = tmp_path / "tapt"
    main(
        ["recipes/tapt/multilingual_e5_small.json", "--model_name_or_path", str(e5_encoder), "--output_dir", str(out)]
        + ["--max_train_samples=300", "--max_eval_samples=32", "--max_steps=4", "--logging_steps=1"]
        + ["--per_device_train_batch_size=4"]
        + ["--max_seq_length=64", "--eval_strategy=no", "--save_strategy=no", "--disable_tqdm=true"]
    )
    assert "has no MLM head: added a newly initialised one" in caplog.text
    losses = logged_losses(out)
    assert losses[0] > 11 and losses[-1] < losses[0], losses
    model, info = AutoModelForMaskedLM.from_pretrained(out, output_loading_info=True)
    assert not info["missing_keys"] and model.get_input_embeddings().weight.shape[0] == 250037
    assert json.loads((out / "all_results.json").read_text())["eval_sentences"] == 32


def test_push_to_hub_uploads_the_model_card_and_corpus_once_at_the_end(stand_in_encoders, tmp_path, monkeypatch):
    import hf_sts.training.trainer

    pushes = []
    monkeypatch.setattr(
        hf_sts.training.trainer, "push", lambda folder, repo_id, **kwargs: pushes.append((folder, repo_id))
    )
    out = tmp_path / "tapt"
    main(
        ["--model_name_or_path", str(stand_in_encoders["bert"]), "--train_file", str(KLUE_DEV), *QUICK]
        + ["--max_steps=2", "--push_to_hub=true", "--hub_model_id=someone/tapt", "--output_dir", str(out)]
    )
    assert pushes == [(str(out), "someone/tapt")]  # once, after training, metrics and card
    uploaded = {path.name for path in hf_sts.hub.upload_files(out)}
    assert {"model.safetensors", "config.json", "README.md", "corpus.json", "all_results.json"} <= uploaded
    assert not {"training_args.bin", "trainer_state.json"} & uploaded
