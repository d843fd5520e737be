import json

import pytest
import torch
from transformers import AutoConfig, AutoModel, BertConfig

from hf_sts import (
    HEADS,
    StsBiEncoderConfig,
    StsBiEncoderModel,
    StsCrossEncoderConfig,
    StsCrossEncoderModel,
    register_head,
)
from hf_sts.data.tokenization import BiEncoderCollator, tokenize_pairs

from ..conftest import TINY_BACKBONES, run_python


def _batch(tokenizer, klue_dev, n=5):
    rows = klue_dev.select(range(n))
    return tokenizer(rows["sentence1"][:], rows["sentence2"][:], padding=True, return_tensors="pt")


@pytest.mark.parametrize("head", sorted(HEADS))
@pytest.mark.parametrize("model_type", sorted(TINY_BACKBONES))
def test_head_output_shape_and_padding_invariance(tiny_model, tokenizer, klue_dev, model_type, head):
    model = tiny_model(model_type, head)
    batch = _batch(tokenizer, klue_dev)
    assert (batch["attention_mask"] == 0).any(), "the batch must contain padding"
    with torch.no_grad():
        scores = model(**batch).logits
        assert scores.shape == (5,)
        for i in range(5):
            alone = tokenizer(klue_dev[i]["sentence1"], klue_dev[i]["sentence2"], return_tensors="pt")
            assert model(**alone).logits.item() == pytest.approx(scores[i].item(), abs=1e-5)


def _bi_batch(tokenizer, klue_dev, n=5, swap=False):
    rows = klue_dev.select(range(n))
    if swap:
        rows = rows.map(lambda row: {"sentence1": row["sentence2"], "sentence2": row["sentence1"]})
    features = tokenize_pairs(rows, tokenizer, 128, architecture="bi-encoder")
    return BiEncoderCollator(tokenizer)(list(features.remove_columns(["labels", "binary_labels"])))


@pytest.mark.parametrize("model_type", sorted(TINY_BACKBONES))
def test_bi_encoder_shape_padding_and_symmetry(tiny_model, tokenizer, klue_dev, model_type):
    model = tiny_model(model_type, "bi-encoder")
    batch = _bi_batch(tokenizer, klue_dev)
    assert (batch["attention_mask"] == 0).any() and (batch["attention_mask_b"] == 0).any()
    with torch.no_grad():
        scores = model(**batch).logits
        assert scores.shape == (5,)
        swapped = model(**_bi_batch(tokenizer, klue_dev, swap=True)).logits
        torch.testing.assert_close(swapped, scores, atol=1e-6, rtol=0)  # score(a, b) == score(b, a)
        for i in range(5):
            a = tokenizer(klue_dev[i]["sentence1"], return_tensors="pt")
            b = tokenizer(klue_dev[i]["sentence2"], return_tensors="pt")
            alone = model(**a, **{f"{key}_b": value for key, value in b.items()}).logits
            assert alone.item() == pytest.approx(scores[i].item(), abs=1e-5)
            cosine = torch.nn.functional.cosine_similarity(model.encode(**a), model.encode(**b)).item()
            assert alone.item() == pytest.approx(5.0 * cosine, abs=1e-5)


def test_mlp_head_layers(tiny_model):
    head = tiny_model("bert", "mlp").head
    linears = [module for module in head.modules() if isinstance(module, torch.nn.Linear)]
    assert [(layer.in_features, layer.out_features) for layer in linears] == [(32, 16), (16, 8), (8, 1)]
    assert all(
        isinstance(module, torch.nn.Tanh)
        for module in head.layers
        if not isinstance(module, (torch.nn.Linear, torch.nn.Dropout))
    )


@pytest.mark.parametrize(
    "model_type, head, classes",
    [
        # One case in the fast tier; each case starts a process without hf_sts (about 8 s), so the others are slow.
        pytest.param("roberta", "mlp", (StsCrossEncoderConfig, StsCrossEncoderModel), marks=pytest.mark.slow),
        pytest.param("electra", "rnn", (StsCrossEncoderConfig, StsCrossEncoderModel), marks=pytest.mark.slow),
        ("bert", "bi-encoder", (StsBiEncoderConfig, StsBiEncoderModel)),
    ],
)
def test_save_load_predictions_equal_both_paths(tmp_path, tiny_model, tokenizer, klue_dev, model_type, head, classes):
    model = tiny_model(model_type, head)
    batch = _bi_batch(tokenizer, klue_dev) if head == "bi-encoder" else _batch(tokenizer, klue_dev)
    with torch.no_grad():
        expected = model(**batch).logits
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    config_class, model_class = classes
    assert json.loads((tmp_path / "config.json").read_text())["auto_map"] == {
        "AutoConfig": f"configuration_sts.{config_class.__name__}",
        "AutoModel": f"modeling_sts.{model_class.__name__}",
    }
    assert type(AutoConfig.from_pretrained(tmp_path)) is config_class
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert type(loaded) is model_class
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch).logits, expected, atol=1e-5, rtol=0)

    torch.save(dict(batch), tmp_path / "batch.pt")
    code = (
        "import sys, torch\n"
        "from transformers import AutoModel\n"
        "folder = sys.argv[1]\n"
        "try:\n    import hf_sts\nexcept ImportError:\n    pass\nelse:\n    raise SystemExit('hf_sts importable')\n"
        "model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()\n"
        "assert type(model).__module__.startswith('transformers_modules'), type(model).__module__\n"
        "with torch.no_grad():\n"
        "    scores = model(**torch.load(folder + '/batch.pt', weights_only=True)).logits\n"
        "print(' '.join(repr(s) for s in scores.tolist()))\n"
    )
    result = run_python(code, str(tmp_path), block_hf_sts=True)
    assert result.returncode == 0, result.stderr
    remote = torch.tensor([float(s) for s in result.stdout.split()])
    torch.testing.assert_close(remote, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "settings, expected",
    [
        ({"head_dropout": 0.2, "classifier_dropout": 0.3}, 0.2),  # the recipe's own
        ({"classifier_dropout": 0.3, "hidden_dropout_prob": 0.05}, 0.3),  # else the backbone's classifier dropout
        ({"hidden_dropout_prob": 0.05}, 0.05),  # else its hidden dropout
    ],
)
def test_head_dropout_falls_back_to_the_backbones(settings, expected):
    head_dropout = settings.pop("head_dropout", None)
    backbone = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37, **settings)
    model = StsCrossEncoderModel(
        StsCrossEncoderConfig(backbone_config=backbone.to_dict(), head="mlp", head_dropout=head_dropout)
    )
    assert model.config.resolved_head_dropout == expected
    assert {module.p for module in model.head.modules() if isinstance(module, torch.nn.Dropout)} == {expected}


def test_config_errors():
    backbone = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37).to_dict()
    with pytest.raises(ValueError, match=r"Unknown head 'pooler'; registered heads: \['cls', 'mean', 'mlp', 'rnn'"):
        StsCrossEncoderModel(StsCrossEncoderConfig(backbone_config=backbone, head="pooler"))
    with pytest.raises(ValueError, match=r"`head_activation` must be one of .* got 'tanhh'"):
        StsCrossEncoderConfig(backbone_config=backbone, head_activation="tanhh")
    with pytest.raises(ValueError, match=r"`head_dropout` must be in \[0, 1\), got 1.5"):
        StsCrossEncoderConfig(backbone_config=backbone, head_dropout=1.5)
    with pytest.raises(ValueError, match="already registered"):
        register_head("cls")(torch.nn.Identity)
    with pytest.raises(ValueError, match=r"`head_pooling` must be one of \['cls', 'mean'\], got 'max'"):
        StsCrossEncoderConfig(backbone_config=backbone, head_pooling="max")
    with pytest.raises(ValueError, match=r"`head_rnn_type` must be one of \['gru', 'lstm'\], got 'rnn'"):
        StsCrossEncoderConfig(backbone_config=backbone, head_rnn_type="rnn")
    with pytest.raises(ValueError, match=r"`pooling` must be one of \['cls', 'mean'\], got 'max'"):
        StsBiEncoderConfig(backbone_config=backbone, pooling="max")
    assert {"cls", "mean", "mlp", "rnn"} <= set(HEADS)


def test_pretrained_backbone_weights_are_kept(tmp_path, tokenizer):
    from transformers import BertModel

    from ..conftest import tiny_backbone_config

    BertModel(tiny_backbone_config("bert", tokenizer)).save_pretrained(tmp_path)
    backbone = BertModel.from_pretrained(tmp_path)
    reference = {name: tensor.clone() for name, tensor in backbone.state_dict().items()}
    model = StsCrossEncoderModel.from_backbone(backbone, head="mlp", head_hidden_sizes=[32])
    for name, tensor in model.backbone.state_dict().items():
        assert torch.equal(tensor, reference[name]), name
    # The head is freshly initialised with the backbone's std 0.02: 32 x 32 weights in its first layer.
    assert 0.015 < model.head.layers[1].weight.std().item() < 0.025


@pytest.mark.parametrize("model_type", ["bert", "roberta"])
def test_cls_head_starts_from_a_bert_pooler(tmp_path, tokenizer, model_type):
    from ..conftest import tiny_backbone_config

    backbone = AutoModel.from_config(tiny_backbone_config(model_type, tokenizer))
    with torch.no_grad():
        backbone.pooler.dense.bias.fill_(0.5)  # as pretrained, unlike a fresh layer's zeros
    pooler = {name: tensor.clone() for name, tensor in backbone.pooler.dense.state_dict().items()}
    dense = StsCrossEncoderModel.from_backbone(backbone, head="cls").head.dense.state_dict()
    # BertForSequenceClassification classifies the pooler's output; RobertaForSequenceClassification a fresh layer.
    for name, tensor in pooler.items():
        assert torch.equal(dense[name], tensor) is (model_type == "bert"), name


def test_forward_refuses_inputs_it_does_not_take(tiny_model, tokenizer, klue_dev):
    batch = _batch(tokenizer, klue_dev)
    with pytest.raises(TypeError, match="input_ids_b"):
        tiny_model("bert", "mean")(**batch, input_ids_b=batch["input_ids"])
    with pytest.raises(TypeError, match="binary_labels"):
        tiny_model("bert", "mean")(**batch, binary_labels=torch.zeros(5))


def test_labels_give_the_loss_of_transformers_regression_heads(tiny_model, tokenizer, klue_dev):
    """transformers' contract: with `labels`, `loss` is the MSE of the scores (`problem_type="regression"`); for the
    bi-encoder, sentence-transformers' CosineSimilarityLoss (MSE of the cosine against label / 5)."""
    labels = torch.tensor(klue_dev["label"][:5], dtype=torch.float32)
    for kind, batch in (("mean", _batch(tokenizer, klue_dev)), ("bi-encoder", _bi_batch(tokenizer, klue_dev))):
        model = tiny_model("bert", kind)
        plain = model(**batch)
        assert plain.loss is None
        output = model(**batch, labels=labels)
        torch.testing.assert_close(output.logits, plain.logits)
        scores, targets = output.logits.detach().double(), labels.double()
        expected = ((scores - targets) ** 2).mean() if kind == "mean" else ((scores / 5 - targets / 5) ** 2).mean()
        assert output.loss.shape == () and abs(output.loss.item() - expected.item()) < 1e-5


def _layer_shapes(module):
    return [
        (layer.in_features, layer.out_features) for layer in module.modules() if isinstance(layer, torch.nn.Linear)
    ]


def test_head_layers_and_pooling(tiny_model, tokenizer, klue_dev):
    cls_bert, cls_electra = tiny_model("bert", "cls").head, tiny_model("electra", "cls").head
    assert _layer_shapes(cls_bert) == [(32, 32), (32, 1)]  # transformers' classification head, one output
    assert isinstance(cls_bert.activation, torch.nn.Tanh) and "GELU" in type(cls_electra.activation).__name__
    assert _layer_shapes(tiny_model("bert", "mean").head) == [(32, 1)]
    lstm = tiny_model("bert", "rnn").head
    assert isinstance(lstm.rnn, torch.nn.LSTM) and lstm.rnn.bidirectional and lstm.rnn.hidden_size == 16
    assert _layer_shapes(lstm) == [(32, 1)]

    # The mlp head reads the first token or the mean of the tokens, as `head_pooling` says.
    from ..conftest import tiny_backbone_config

    batch = _batch(tokenizer, klue_dev)
    mask = batch["attention_mask"].unsqueeze(-1).float()
    for pooling in ("cls", "mean"):
        config = StsCrossEncoderConfig(
            backbone_config=tiny_backbone_config("bert", tokenizer).to_dict(), head="mlp", head_pooling=pooling
        )
        model = StsCrossEncoderModel(config).eval()
        with torch.no_grad():
            states = model.backbone(**batch).last_hidden_state
            pooled = states[:, 0] if pooling == "cls" else (states * mask).sum(1) / mask.sum(1)
            expected = model.head.out_proj(model.head.layers(pooled)).squeeze(-1)
            torch.testing.assert_close(model(**batch).logits, expected)


def test_gru_head_and_left_padding_error(tokenizer, klue_dev):
    from ..conftest import tiny_backbone_config

    config = StsCrossEncoderConfig(
        backbone_config=tiny_backbone_config("bert", tokenizer).to_dict(), head="rnn", head_rnn_type="gru"
    )
    model = StsCrossEncoderModel(config).eval()
    assert isinstance(model.head.rnn, torch.nn.GRU)
    batch = _batch(tokenizer, klue_dev)
    batch["attention_mask"] = batch["attention_mask"].flip(-1)
    with pytest.raises(ValueError, match="needs right padding"):
        model(**batch)


@pytest.mark.parametrize("model_type", sorted(TINY_BACKBONES))
def test_freeze_ratio_freezes_embeddings_and_bottom_layers(tokenizer, model_type):
    from hf_sts.training.builder import freeze_bottom_layers

    from ..conftest import tiny_sts_model

    model = tiny_sts_model(model_type, "mlp", tokenizer, num_hidden_layers=6)
    assert freeze_bottom_layers(model, 1 / 3) == 2
    backbone = model.backbone
    frozen_modules = [backbone.embeddings, *backbone.encoder.layer[:2]]
    if model_type == "electra":
        frozen_modules.append(backbone.embeddings_project)  # embedding_size 16 -> hidden 32
    frozen = {id(p) for module in frozen_modules for p in module.parameters()}
    for name, parameter in model.named_parameters():
        assert parameter.requires_grad == (id(parameter) not in frozen), name
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    layer_size = sum(p.numel() for p in backbone.encoder.layer[0].parameters())
    assert trainable == 4 * layer_size + sum(p.numel() for p in model.head.parameters())
    assert freeze_bottom_layers(tiny_sts_model(model_type, "cls", tokenizer, num_hidden_layers=6), 2 / 3) == 4


@pytest.mark.parametrize("model_type", sorted(TINY_BACKBONES))
def test_freeze_embeddings_freezes_the_word_embeddings_alone(tokenizer, model_type):
    from hf_sts.training.builder import freeze_word_embeddings

    from ..conftest import tiny_sts_model

    model = tiny_sts_model(model_type, "cls", tokenizer)
    word_embeddings = model.backbone.get_input_embeddings().weight
    assert freeze_word_embeddings(model) == word_embeddings.numel()
    for name, parameter in model.named_parameters():
        assert parameter.requires_grad == (parameter is not word_embeddings), name
    # One training step moves everything but the word embeddings.
    before = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    batch = model.tokenize(tokenizer, ["첫 문장"] * 2, ["둘째 문장", "다른 문장"], padding=True, return_tensors="pt")
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)  # all of them: a frozen one must get no gradient
    ((model(**batch).logits - torch.tensor([1.0, 4.0])) ** 2).mean().backward()
    optimizer.step()
    moved = {name for name, parameter in model.named_parameters() if not torch.equal(parameter, before[name])}
    assert word_embeddings.grad is None
    assert not any(parameter is word_embeddings for name, parameter in model.named_parameters() if name in moved)
    assert any("encoder" in name or "layer" in name for name in moved)


def test_freeze_ratio_out_of_range(tiny_model):
    from hf_sts.errors import RecipeError
    from hf_sts.training.builder import freeze_bottom_layers

    with pytest.raises(RecipeError, match=r"`freeze_ratio` must be in \[0, 1\), got 1.0"):
        freeze_bottom_layers(tiny_model(), 1.0)
