import math

import pytest
import torch

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
    assert sorted(LOSSES) == ["cosent", "cosine", "huber", "l1", "mnrl", "mse"]


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
