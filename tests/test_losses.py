import pytest
import torch

from hf_sts.losses import LOSSES, CombinedLoss, build_loss, register_loss


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
    assert loss(SCORES, LABELS).item() == pytest.approx(l1 + 0.5 * huber)
    assert loss.components == pytest.approx({"l1": l1, "huber": huber})


def test_loss_errors():
    with pytest.raises(ValueError, match=r"Unknown loss 'cos'.*registered losses"):
        build_loss("l1+cos")
    with pytest.raises(ValueError, match="names a loss twice"):
        build_loss("l1+l1")
    with pytest.raises(ValueError, match=r"`loss_weights` has 3 weights but `loss='l1'` has 1 parts"):
        build_loss("l1", [1, 2, 3])
    with pytest.raises(ValueError, match="already registered"):
        register_loss("l1")(type("Other", (torch.nn.Module,), {}))
    assert sorted(LOSSES) == ["huber", "l1", "mse"]
