import json

import pytest
import torch
from transformers import AutoConfig, AutoModel, BertConfig

from hf_sts import HEADS, StsCrossEncoderConfig, StsCrossEncoderModel, register_head

from .conftest import TINY_BACKBONES, run_python


def _batch(tokenizer, klue_dev, n=5):
    rows = klue_dev.select(range(n))
    return tokenizer(rows["sentence1"][:], rows["sentence2"][:], padding=True, return_tensors="pt")


@pytest.mark.parametrize("head", ["cls", "mlp"])
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


def test_mlp_head_layers(tiny_model):
    head = tiny_model("bert", "mlp").head
    linears = [module for module in head.modules() if isinstance(module, torch.nn.Linear)]
    assert [(layer.in_features, layer.out_features) for layer in linears] == [(32, 16), (16, 8), (8, 1)]
    assert all(
        isinstance(module, torch.nn.Tanh)
        for module in head.layers
        if not isinstance(module, (torch.nn.Linear, torch.nn.Dropout))
    )


def test_save_load_predictions_equal_both_paths(tmp_path, tiny_model, tokenizer, klue_dev):
    model = tiny_model("roberta", "mlp")
    batch = _batch(tokenizer, klue_dev)
    with torch.no_grad():
        expected = model(**batch).logits
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["auto_map"] == {
        "AutoConfig": "configuration_sts.StsCrossEncoderConfig",
        "AutoModel": "modeling_sts.StsCrossEncoderModel",
    }
    assert isinstance(AutoConfig.from_pretrained(tmp_path), StsCrossEncoderConfig)
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert type(loaded) is StsCrossEncoderModel
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
        "    scores = model(**torch.load(folder + '/batch.pt')).logits\n"
        "print(' '.join(repr(s) for s in scores.tolist()))\n"
    )
    result = run_python(code, str(tmp_path), block_hf_sts=True)
    assert result.returncode == 0, result.stderr
    remote = torch.tensor([float(s) for s in result.stdout.split()])
    torch.testing.assert_close(remote, expected, atol=1e-5, rtol=0)


def test_config_errors():
    backbone = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37).to_dict()
    with pytest.raises(ValueError, match=r"Unknown head 'pooler'; registered heads: \['cls', 'mlp'"):
        StsCrossEncoderModel(StsCrossEncoderConfig(backbone_config=backbone, head="pooler"))
    with pytest.raises(ValueError, match=r"`head_activation` must be one of .* got 'tanhh'"):
        StsCrossEncoderConfig(backbone_config=backbone, head_activation="tanhh")
    with pytest.raises(ValueError, match=r"`head_dropout` must be in \[0, 1\), got 1.5"):
        StsCrossEncoderConfig(backbone_config=backbone, head_dropout=1.5)
    with pytest.raises(ValueError, match="already registered"):
        register_head("cls")(torch.nn.Identity)
    assert {"cls", "mlp"} <= set(HEADS)


def test_pretrained_backbone_weights_are_kept(tmp_path, tokenizer):
    from transformers import BertModel

    from .conftest import tiny_backbone_config

    BertModel(tiny_backbone_config("bert", tokenizer)).save_pretrained(tmp_path)
    backbone = BertModel.from_pretrained(tmp_path)
    reference = {name: tensor.clone() for name, tensor in backbone.state_dict().items()}
    model = StsCrossEncoderModel.from_backbone(backbone, head="mlp", head_hidden_sizes=[8])
    for name, tensor in model.backbone.state_dict().items():
        assert torch.equal(tensor, reference[name]), name
    assert 0.005 < model.head.out_proj.weight.std().item() < 0.05  # freshly initialised with std 0.02
