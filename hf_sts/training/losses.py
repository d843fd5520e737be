"""The training losses of hf_sts, in one registry: regression and ranking losses of scores, and an
in-batch-negatives loss of sentence embeddings.

A recipe names its loss with `loss` (one name, or several joined by `+`, e.g. `"l1+huber"`) and weighs the parts
with `loss_weights`; a multi-dataset run names one per dataset (`train_datasets`). A loss of scores maps predicted
scores and gold scores, both of shape `(batch,)` on the 0.0–5.0 scale, to a scalar, or, as sentence-transformers' losses may, to a dict of named scalar parts that `StsTrainer`
sums and logs one by one ([`CombinedLoss`]). Pointwise losses (`mse`, `l1`, `huber`, `cosine`) return the mean over
the batch, so `StsTrainer` can rescale it for gradient accumulation exactly; the ranking loss `cosent` compares the
pairs of one micro-batch (on one device) with each other, as in sentence-transformers. `mnrl` trains a bi-encoder
on (anchor, positive[, hard negative]) triplets from the embeddings of the batch ([`MultipleNegativesRankingLoss`]);
`cached_mnrl` is the same loss for batches larger than memory allows ([`CachedMultipleNegativesRankingLoss`]).
"""

import contextlib
import functools
from collections.abc import Callable

import torch
from torch import nn

from hf_sts.metrics import SCORE_MAX


LOSSES: dict[str, type[nn.Module]] = {}


def register_loss(name: str):
    """Class decorator that adds a loss to `LOSSES` under `name`.

    A loss is an `nn.Module` built as `Loss(**options)` from the keyword arguments `build_loss` passes (`huber_delta`,
    `cosent_scale`, `mnrl_scale`); it must accept and ignore options it does not use. A loss of scores maps
    `(scores, labels)`, both `(batch,)`, to a scalar; a loss with the class attribute `uses_embeddings = True` maps
    the tuple of a bi-encoder's sentence embeddings to a scalar (see [`MultipleNegativesRankingLoss`]).

    Raises:
        ValueError: if `name` is already registered or contains `+` (the separator of combined losses).
    """

    def decorator(cls: type[nn.Module]) -> type[nn.Module]:
        if "+" in name:
            raise ValueError(f"Loss names cannot contain '+', got {name!r}.")
        if name in LOSSES:
            raise ValueError(f"A loss named {name!r} is already registered ({LOSSES[name].__name__}).")
        LOSSES[name] = cls
        return cls

    return decorator


@register_loss("mse")
class MSELoss(nn.Module):
    """Mean squared error: `mean((s - y)^2)` over the batch."""

    def __init__(self, **options):
        super().__init__()

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(scores, labels)


@register_loss("l1")
class L1Loss(nn.Module):
    """Mean absolute error: `mean(|s - y|)` over the batch."""

    def __init__(self, **options):
        super().__init__()

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return nn.functional.l1_loss(scores, labels)


@register_loss("huber")
class HuberLoss(nn.Module):
    """Huber loss (Huber 1964): per pair `0.5 * d^2` where `|d| <= delta`, else `delta * (|d| - 0.5 * delta)`,
    with `d = s - y`, averaged over the batch.

    Args:
        huber_delta (`float`, defaults to `1.0`): the point, in score units (> 0), where the loss turns from
            quadratic to linear.

    Raises:
        ValueError: if `huber_delta` is not above 0.
    """

    def __init__(self, huber_delta: float = 1.0, **options):
        super().__init__()
        if not huber_delta > 0:
            raise ValueError(f"`huber_delta` must be > 0 (score units), got {huber_delta}.")
        self.delta = huber_delta

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return nn.functional.huber_loss(scores, labels, delta=self.delta)


@register_loss("cosine")
class CosineSimilarityLoss(nn.Module):
    """Mean squared error on the unit scale: `mean((s / 5 - y / 5)^2)`.

    For a bi-encoder, whose scores are `5 * cos(u, v)`, this is sentence-transformers' `CosineSimilarityLoss`
    (Reimers & Gurevych 2019): the cosine of the two embeddings regressed onto `label / 5`.
    """

    def __init__(self, **options):
        super().__init__()

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(scores / SCORE_MAX, labels / SCORE_MAX)


@register_loss("cosent")
class CoSENTLoss(nn.Module):
    """CoSENT (Su 2022, "CoSENT: a more efficient sentence vector scheme than Sentence-BERT"; sentence-transformers'
    `CoSENTLoss`): a ranking loss over every two pairs `i`, `j` of the batch whose gold scores differ,

        `log(1 + sum_{y_i > y_j} exp(scale * (s_j - s_i) / 5))`,

    which asks each pair with a higher gold score to score higher. Scores divided by 5 are the cosines of a
    bi-encoder, so `scale` means what it means in sentence-transformers. Only the ranking is learned: the scores of a
    model trained with `cosent` alone are not calibrated to 0–5 (Pearson and Spearman hold; MSE and F1 need a
    pointwise part, e.g. `cosent+mse`). A batch whose gold scores are all equal gives 0.

    Args:
        cosent_scale (`float`, defaults to `20.0`): the inverse temperature `scale` (sentence-transformers' default).
    """

    def __init__(self, cosent_scale: float = 20.0, **options):
        super().__init__()
        self.scale = cosent_scale

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        scaled = scores * (self.scale / SCORE_MAX)
        differences = scaled[None, :] - scaled[:, None]  # [i, j] = s_j - s_i
        ranked = labels[:, None] > labels[None, :]  # [i, j]: pair i should score above pair j
        differences = differences.masked_fill(~ranked, float("-inf"))
        return torch.logsumexp(torch.cat([differences.new_zeros(1), differences.flatten()]), dim=0)


@register_loss("mnrl")
class MultipleNegativesRankingLoss(nn.Module):
    """Multiple negatives ranking loss (Henderson et al. 2017, "Efficient Natural Language Response Suggestion for
    Smart Reply"; sentence-transformers' `MultipleNegativesRankingLoss`, the InfoNCE loss of SimCSE, Gao et al. 2021)
    for a bi-encoder trained on (anchor, positive[, hard negative]) triplets: each anchor must be closer to its own
    positive than to every other positive and every hard negative of the batch (in-batch negatives),

        `cross_entropy(scale * cos(anchor_i, candidate_j), target = i)`,

    the candidates being the batch's positives, then its hard negatives. It reads sentence embeddings, not scores
    (`uses_embeddings`): `StsTrainer` hands it the `sentence_embeddings` of `StsBiEncoderModel`'s output. Larger
    batches give more negatives.

    Args:
        mnrl_scale (`float`, defaults to `20.0`): the inverse temperature `scale` of the cosines
            (sentence-transformers' default).
    """

    uses_embeddings = True

    def __init__(self, mnrl_scale: float = 20.0, **options):
        super().__init__()
        self.scale = mnrl_scale

    def forward(self, embeddings: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Args: `embeddings`, the anchors' `(batch, hidden)` embeddings, then the positives' and, optionally, the
        hard negatives' (each `(batch, hidden)`). Returns: the scalar mean loss over the anchors."""
        anchors, *candidates = embeddings
        candidates = nn.functional.normalize(torch.cat(candidates), dim=-1)
        similarities = self.scale * nn.functional.normalize(anchors, dim=-1) @ candidates.T  # (batch, k * batch)
        targets = torch.arange(len(anchors), device=anchors.device)
        return nn.functional.cross_entropy(similarities.float(), targets)


@register_loss("cached_mnrl")
class CachedMultipleNegativesRankingLoss(MultipleNegativesRankingLoss):
    """[`MultipleNegativesRankingLoss`] on large batches in the memory of small ones: GradCache (Gao et al. 2021,
    "Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup", arXiv 2101.06983), as
    sentence-transformers' `CachedMultipleNegativesRankingLoss` does it.

    [`cached_loss`] embeds the batch `mnrl_mini_batch_size` sentences at a time without keeping activations, computes
    the loss and its gradient with respect to the embeddings, and returns the loss; its backward embeds each mini-batch
    again, with gradients and the random state (dropout) of the first pass, and back-propagates the cached gradient
    into the encoder. The loss and the gradient equal those of embedding the whole batch at once with the same dropout
    masks, for about a third more compute; memory grows with `mnrl_mini_batch_size`, not with the batch. `StsTrainer`
    calls [`cached_loss`] in training; evaluation-time use (a plain call on embeddings) is `mnrl`'s.

    Args:
        mnrl_scale (`float`, defaults to `20.0`): the inverse temperature of the cosines.
        mnrl_mini_batch_size (`int`, defaults to `32`): sentences embedded at once (sentence-transformers'
            `mini_batch_size`).

    Raises:
        ValueError: for `mnrl_mini_batch_size` below 1.
    """

    def __init__(self, mnrl_scale: float = 20.0, mnrl_mini_batch_size: int = 32, **options):
        super().__init__(mnrl_scale)
        if mnrl_mini_batch_size < 1:
            raise ValueError(f"`mnrl_mini_batch_size` must be at least 1, got {mnrl_mini_batch_size}.")
        self.mini_batch_size = mnrl_mini_batch_size

    def cached_loss(
        self,
        encode: Callable[..., torch.Tensor],
        sides: list[dict[str, torch.Tensor]],
        autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    ) -> torch.Tensor:
        """The loss of one batch, computed by GradCache.

        Args:
            encode: the bi-encoder's embedding of single sentences (`StsBiEncoderModel.encode`): keyword inputs
                (`input_ids`, `attention_mask`, ...) of shape `(rows, seq_len)` to `(rows, hidden)` embeddings.
            sides: the anchors', positives' (and hard negatives') inputs, each a dict of `(batch, seq_len)` tensors.
            autocast: the precision context of the training step, entered again around the second pass, which runs
                during `backward`.

        Returns:
            The scalar loss, a leaf of its own: its `backward` runs the second pass, which accumulates the encoder's
            gradients (scaled by the gradient that reaches the loss: loss weights, gradient accumulation).
        """
        chunks = [
            [
                {name: value[start : start + self.mini_batch_size] for name, value in side.items()}
                for start in range(0, len(side["input_ids"]), self.mini_batch_size)
            ]
            for side in sides
        ]
        states, embeddings = [], []
        with torch.no_grad(), autocast():
            for side in chunks:
                parts = []
                for chunk in side:
                    states.append(_rng_state())
                    parts.append(encode(**chunk))
                embeddings.append(torch.cat(parts))
        leaves = [embedding.detach().float().requires_grad_() for embedding in embeddings]
        with torch.enable_grad():
            loss = self(tuple(leaves))
            loss.backward()
        loss = loss.detach().requires_grad_()
        cached = [leaf.grad for leaf in leaves]
        loss.register_hook(functools.partial(_second_pass, encode, chunks, states, cached, autocast))
        return loss


def _rng_state() -> tuple:
    """The random state dropout draws from: the CPU generator's, and every CUDA device's once CUDA is in use."""
    return torch.get_rng_state(), torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None


@contextlib.contextmanager
def _replayed_rng(state: tuple):
    """Run the block from the random state `state` ([`_rng_state`]), and restore the current one afterwards."""
    cpu, cuda = state
    with torch.random.fork_rng(devices=range(len(cuda)) if cuda is not None else []):
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        yield


def _second_pass(encode, chunks, states, cached, autocast, gradient: torch.Tensor) -> None:
    """GradCache's second pass, the backward hook of [`CachedMultipleNegativesRankingLoss.cached_loss`]'s loss: embed
    each mini-batch again from its first-pass random state, with gradients, and back-propagate `gradient` (what
    reaches the loss) times the cached gradient of its embeddings."""
    state = iter(states)
    for side, side_gradient in zip(chunks, cached, strict=True):
        start = 0
        for chunk in side:
            with torch.enable_grad():  # a backward hook runs without gradients
                with _replayed_rng(next(state)), autocast():
                    embedding = encode(**chunk).float()
                rows = len(embedding)
                (embedding * (side_gradient[start : start + rows] * gradient)).sum().backward()
            start += rows


class CombinedLoss(nn.Module):
    """Weighted registered losses, returned as their parts: `{name_i: w_i * loss_i(s, y)}`, whose sum is the loss.

    `StsTrainer` sums the parts to train and logs each one's mean as `loss_<name>` (the weighted values, so the parts
    add up to the logged `loss`), the way sentence-transformers' trainer treats a loss that returns a dict.
    """

    def __init__(self, losses: dict[str, nn.Module], weights: list[float]):
        super().__init__()
        self.losses = nn.ModuleDict(losses)
        self.weights = list(weights)

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Args: `scores`, `labels` of shape `(batch,)`, 0.0–5.0. Returns: `{name: scalar}`, one weighted part per
        loss."""
        return {
            name: weight * loss(scores, labels)
            for (name, loss), weight in zip(self.losses.items(), self.weights, strict=True)
        }


def parse_loss_names(loss: str) -> list[str]:
    """Split a loss spec such as `"l1+huber"` into registered names.

    Raises:
        ValueError: naming the unknown part and listing the registered losses, or on a repeated part.
    """
    names = [part.strip() for part in loss.split("+")]
    for name in names:
        if name not in LOSSES:
            raise ValueError(f"Unknown loss {name!r} in `loss={loss!r}`; registered losses: {sorted(LOSSES)}.")
    if len(set(names)) != len(names):
        raise ValueError(f"`loss={loss!r}` names a loss twice; give each once and weigh it with `loss_weights`.")
    return names


def build_loss(loss: str, loss_weights: list[float] | None = None, **options) -> nn.Module:
    """Build the loss a recipe names.

    Args:
        loss (`str`): one registered name (`"l1"`, `"mse"`, `"huber"`, `"cosine"`, `"cosent"`, `"mnrl"`,
            `"cached_mnrl"`) or several
            score losses joined by `+`
            (`"l1+huber"`, the best of the competition code hf_sts started from).
        loss_weights (`list[float]`, *optional*): one weight per part of `loss`; all 1.0 when omitted.
        **options: passed to every part (`huber_delta`, `cosent_scale`, `mnrl_scale`, `mnrl_mini_batch_size`).

    Returns:
        A module mapping `(scores, labels)`, both `(batch,)`, to a scalar mean loss; a [`CombinedLoss`] (a dict of
        weighted parts) when `loss` has several parts or weights.

    Raises:
        ValueError: on an unknown name, when `loss_weights` does not have one weight per part, on `mnrl` joined with
            other parts, or on an option out of its range (a part's own check, e.g. `huber_delta` <= 0).
    """
    names = parse_loss_names(loss)
    if len(names) > 1 and any(getattr(LOSSES[name], "uses_embeddings", False) for name in names):
        raise ValueError(
            f"`loss={loss!r}`: a loss of sentence embeddings (mnrl) cannot be added to others; train a dataset of "
            "triplets with it alone, and scored pairs with their own loss (see `train_datasets`)."
        )
    if loss_weights is None:
        loss_weights = [1.0] * len(names)
    if len(loss_weights) != len(names):
        raise ValueError(f"`loss_weights` has {len(loss_weights)} weights but `loss={loss!r}` has {len(names)} parts.")
    if len(names) == 1 and loss_weights[0] == 1.0:
        return LOSSES[names[0]](**options)
    return CombinedLoss({name: LOSSES[name](**options) for name in names}, loss_weights)
