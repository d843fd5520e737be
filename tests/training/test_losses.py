import math

import pytest
import torch

from hf_sts.models.sts.modeling_sts import StsBiEncoderModel, sentence_sides
from hf_sts.training.losses import LOSSES, CombinedLoss, build_loss, register_loss


SCORES = torch.tensor([0.5, 2.0, 4.5, 3.0])
LABELS = torch.tensor([0.0, 3.5, 4.0, 3.0])
# Differences: 0.5, -1.5, 0.5, 0.0


def test_l1_mse_by_hand():
    assert build_loss("l1")(SCORES, LABELS).item() == pytest.approx((0.5 + 1.5 + 0.5 + 0.0) / 4)
    assert build_loss("mse")(SCORES, LABELS).item() == pytest.approx((0.25 + 2.25 + 0.25 + 0.0) / 4)


def test_huber_by_hand():
    # delta 1: |d| <= 1 -> 0.5 d^2; else delta (|d| - 0.5 delta)
    expected = (0.125 + 1.0 * (1.5 - 0.5) + 0.125 + 0.0) / 4
    assert build_loss("huber", huber_delta=1.0)(SCORES, LABELS).item() == pytest.approx(expected)
    expected = (0.125 + 0.5 * 1.5**2 + 0.125) / 4  # delta 2: all quadratic
    assert build_loss("huber", huber_delta=2.0)(SCORES, LABELS).item() == pytest.approx(expected)


def test_weighted_l1_plus_huber_by_hand():
    loss = build_loss("l1+huber", [1.0, 0.5], huber_delta=1.0)
    assert isinstance(loss, CombinedLoss)
    l1, huber = 2.5 / 4, 1.25 / 4
    parts = loss(SCORES, LABELS)
    assert {name: value.item() for name, value in parts.items()} == pytest.approx({"l1": l1, "huber": 0.5 * huber})


def test_loss_errors():
    with pytest.raises(ValueError, match=r"Unknown loss 'cos'.*registered losses"):
        build_loss("l1+cos")
    with pytest.raises(ValueError, match="names a loss twice"):
        build_loss("l1+l1")
    with pytest.raises(ValueError, match=r"`loss_weights` has 3 weights but `loss='l1'` has 1 parts"):
        build_loss("l1", [1, 2, 3])
    with pytest.raises(ValueError, match="already registered"):
        register_loss("l1")(type("Other", (torch.nn.Module,), {}))
    with pytest.raises(ValueError, match=r"Loss names cannot contain '\+', got 'l1\+l2'"):
        register_loss("l1+l2")(type("Other", (torch.nn.Module,), {}))
    with pytest.raises(ValueError, match=r"`huber_delta` must be > 0 \(score units\), got 0"):
        build_loss("l1+huber", huber_delta=0)
    with pytest.raises(ValueError, match="a loss of sentence embeddings \\(mnrl\\) cannot be added"):
        build_loss("mnrl+cosine")
    assert sorted(LOSSES) == ["cached_mnrl", "cosent", "cosine", "huber", "l1", "mnrl", "mse"]


def test_mnrl_by_hand():
    # Two anchors, their positives and one hard negative each; the candidates of every anchor are the 2 positives
    # then the 2 negatives, scored 20 * cosine, and the loss is the mean of -log softmax at the anchor's positive.
    anchors = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    positives = torch.tensor([[3.0, 1.0], [0.0, 1.0]])
    negatives = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    loss = build_loss("mnrl")((anchors, positives, negatives))
    candidates = [*positives, *negatives]
    expected = 0.0
    for i, anchor in enumerate(anchors):
        logits = [20 * torch.nn.functional.cosine_similarity(anchor, c, dim=0).item() for c in candidates]
        expected += -(logits[i] - math.log(sum(math.exp(value) for value in logits)))
    assert loss.item() == pytest.approx(expected / 2, rel=1e-5)
    # Without hard negatives, the other anchors' positives are the only negatives: cosines 3/sqrt(10) and 0 for the
    # first anchor, 1/sqrt(10) and 1 for the second, at scale 1.
    without = build_loss("mnrl", mnrl_scale=1.0)((anchors, positives))
    first = -math.log(math.exp(3 / math.sqrt(10)) / (math.exp(3 / math.sqrt(10)) + math.exp(0.0)))
    second = -math.log(math.exp(1.0) / (math.exp(1 / math.sqrt(10)) + math.exp(1.0)))
    assert without.item() == pytest.approx((first + second) / 2, rel=1e-5)


def test_cosine_by_hand():
    # On the unit scale: differences 0.1, -0.3, 0.1, 0.0
    expected = (0.01 + 0.09 + 0.01 + 0.0) / 4
    assert build_loss("cosine")(SCORES, LABELS).item() == pytest.approx(expected)


def test_cosent_by_hand():
    # Ordered gold pairs (i above j): 2>0, 2>1, 2>3, 1>0, 1>3, 3>0; each adds exp(20 * (s_j - s_i) / 5).
    s = [0.5, 2.0, 4.5, 3.0]
    ordered = [(2, 0), (2, 1), (2, 3), (1, 0), (1, 3), (3, 0)]
    expected = math.log(1 + sum(math.exp(4 * (s[j] - s[i])) for i, j in ordered))
    assert build_loss("cosent")(SCORES, LABELS).item() == pytest.approx(expected, rel=1e-6)
    expected = math.log(1 + sum(math.exp(2 * (s[j] - s[i])) for i, j in ordered))
    assert build_loss("cosent", cosent_scale=10.0)(SCORES, LABELS).item() == pytest.approx(expected, rel=1e-6)


def test_cosent_ignores_shift_and_equal_labels():
    loss = build_loss("cosent")
    assert loss(SCORES + 1.7, LABELS).item() == pytest.approx(loss(SCORES, LABELS).item(), rel=1e-5)
    assert loss(SCORES, torch.full((4,), 2.0)).item() == 0.0


def test_cosent_matches_sentence_transformers():
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss as Reference

    torch.manual_seed(0)
    scores, labels = torch.rand(16) * 5, torch.randint(0, 6, (16,)).float()
    # The reference ranks the output of its similarity function: hand it our scores on the cosine scale.
    reference = Reference(model=None, scale=20.0, similarity_fct=lambda first, second: first)
    expected = reference.compute_loss_from_embeddings([scores / 5, None], labels)
    assert build_loss("cosent")(scores, labels).item() == pytest.approx(expected.item(), rel=1e-5)


def _triplet_inputs(tokenizer, klue_dev, rows: int = 10) -> dict:
    """A bi-encoder batch of `rows` (anchor, positive, hard negative) rows of KLUE-STS dev sentences."""
    data = klue_dev.select(range(rows))
    columns = [data["sentence1"][:], data["sentence2"][:], data["sentence2"][::-1]]
    return StsBiEncoderModel.sentence_inputs(tokenizer, columns, padding=True, return_tensors="pt")


def _gradients(model) -> list[torch.Tensor]:
    """Every parameter's gradient (zeros where none), then the gradients cleared."""
    gradients = [
        torch.zeros_like(parameter) if parameter.grad is None else parameter.grad.clone()
        for parameter in model.parameters()
    ]
    model.zero_grad(set_to_none=True)
    return gradients


def test_cached_mnrl_gives_the_loss_and_gradients_of_mnrl(tiny_model, tokenizer, klue_dev):
    """GradCache embeds in mini-batches of 3 (of 10 rows, three sides) without keeping activations, yet gives the
    loss and the encoder gradients of `mnrl` on the whole batch, scaled by what reaches the loss (here 2)."""
    model = tiny_model("bert", "bi-encoder").eval()  # no dropout: one forward pass gives the reference
    inputs = _triplet_inputs(tokenizer, klue_dev)
    expected = build_loss("mnrl")(model(**inputs).sentence_embeddings)
    expected.backward()
    reference = _gradients(model)
    cached = build_loss("cached_mnrl", mnrl_mini_batch_size=3)
    loss = cached.cached_loss(model.encode, sentence_sides(inputs))
    assert all(gradient is None for gradient in (parameter.grad for parameter in model.parameters()))
    (2.0 * loss).backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    for got, want in zip(_gradients(model), reference, strict=True):
        torch.testing.assert_close(got, 2.0 * want, rtol=1e-4, atol=1e-6)
    assert any(want.abs().sum() > 0 for want in reference)


def test_cached_mnrl_replays_the_dropout_of_its_first_pass(tiny_model, tokenizer, klue_dev):
    """With dropout on, the second pass re-draws each mini-batch's masks from the first pass's random state: the
    gradients are those of embedding the same mini-batches, in the same order, with gradients kept."""
    model = tiny_model("bert", "bi-encoder").train()
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.3
    inputs, size = _triplet_inputs(tokenizer, klue_dev), 4
    sides = sentence_sides(inputs)
    torch.manual_seed(7)
    embeddings = [
        torch.cat([model.encode(**{k: v[i : i + size] for k, v in side.items()}) for i in range(0, 10, size)])
        for side in sides
    ]
    expected = build_loss("mnrl")(tuple(embeddings))
    expected.backward()
    reference = _gradients(model)
    torch.manual_seed(7)
    loss = build_loss("cached_mnrl", mnrl_mini_batch_size=size).cached_loss(model.encode, sides)
    loss.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    for got, want in zip(_gradients(model), reference, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    # Other masks give other gradients: the replay is what makes them equal.
    torch.manual_seed(8)
    build_loss("cached_mnrl", mnrl_mini_batch_size=size).cached_loss(model.encode, sides).backward()
    assert not all(torch.allclose(got, want) for got, want in zip(_gradients(model), reference, strict=True))
    with pytest.raises(ValueError, match="`mnrl_mini_batch_size` must be at least 1, got 0"):
        build_loss("cached_mnrl", mnrl_mini_batch_size=0)
