"""Losses over a stack of K networks: value per copy and gradient w.r.t. the outputs.

Every loss is a *mean over samples*; the value is ``(K,)`` and the gradient has the shape of
the outputs ``(K, n, k)``. Targets are shared ``(n, ...)`` or per copy ``(K, n, ...)``.

Targets wrapped in :class:`WeightedTargets` make the mean a weighted one,
``sum_i w_i l_i / sum_i w_i`` per copy (the engine's ``sample_weight`` and the weight-0 padding
of copies with fewer rows); plain targets keep the unweighted code path, bit for bit.
"""

from __future__ import annotations

import torch

from ..nn._fused import squared_loss


class WeightedTargets:
    """Per-copy targets ``(K, n, ...)`` of a batch with per-sample loss weights ``(K, n)``.

    The loss of copy ``k`` is ``sum_i w_ki l_ki / sum_i w_ki``; a copy whose weights are
    all zero on the batch gets value 0 and gradient 0 (it has nothing to learn there).
    The objectives pass targets through to the loss untouched, so this wrapper reaches
    the loss through any objective.

    Parameters
    ----------
    y : Tensor
        Targets, per copy: ``(K, n, k)`` floats or ``(K, n)`` labels / signs.
    weight : Tensor of shape (K, n)
        Non-negative weights in the outputs' dtype (0 for padding).
    """

    __slots__ = ("y", "weight", "total", "_scale")

    def __init__(self, y: torch.Tensor, weight: torch.Tensor):
        self.y, self.weight = y, weight
        self.total = weight.sum(dim=1)
        denom = torch.where(self.total > 0, self.total, torch.ones_like(self.total))
        self._scale = weight / denom.unsqueeze(1)  # w_i / sum_j w_j, (K, n)

    @classmethod
    def from_parts(cls, y, weight, total, scale):
        """Targets whose ``total`` (K,) and ``scale`` (K, n) are already computed (e.g. for
        every batch of an epoch at once)."""
        out = cls.__new__(cls)
        out.y, out.weight, out.total, out._scale = y, weight, total, scale
        return out

    @property
    def scale(self) -> torch.Tensor:
        """``w_i / sum_j w_j`` per copy, ``(K, n)`` (rows of zeros where all weights are 0)."""
        return self._scale


def _unpack(y):
    if isinstance(y, WeightedTargets):
        return y.y, y.scale
    return y, None


class SquaredLoss:
    """``L = mean_{i, r} (f_r(x_i) - y_{i,r})**2``: PyTorch's ``nn.MSELoss()``, no 1/2.

    This is the loss the [AZLL] experiments ran, so learning rates match the paper's.
    scikit-learn's ``MLPRegressor`` minimises half of it (same minimiser, half the gradient).
    """

    name = "squared"

    weighted = True

    def value_and_grad(self, out: torch.Tensor, y):
        y, scale = _unpack(y)
        if scale is None:  # one compiled call where it applies (the same gradient)
            fast = squared_loss(out, y)
            if fast is not None:
                return fast
        diff = out - y
        if scale is not None:
            s = scale.unsqueeze(2).div(diff.shape[2])  # w_i / (k sum_j w_j)
            value = diff.square().mul_(s).sum(dim=(1, 2))
            return value, diff.mul_(s.mul_(2.0))
        n_el = diff.shape[1] * diff.shape[2]
        if diff.shape[2] == 1:  # one output: the sum of squares is one (K, 1, 1) product
            value = torch.bmm(diff.transpose(1, 2), diff).view(-1).div_(n_el)
        else:
            value = diff.square().sum(dim=(1, 2)).div_(n_el)
        return value, diff.mul_(2.0 / n_el)

    def value(self, out, y):
        y, scale = _unpack(y)
        if scale is not None:
            return (out - y).square().mean(dim=2).mul_(scale).sum(dim=1)
        return (out - y).square().mean(dim=(1, 2))


class SoftmaxCrossEntropyLoss:
    """``L = -(1/n) sum_i log softmax(f(x_i))_{y_i}`` with integer class targets ([LL] Sec. 3)."""

    name = "softmax_cross_entropy"

    weighted = True

    def value_and_grad(self, out: torch.Tensor, y):
        y, scale = _unpack(y)
        n = out.shape[1]
        logp = torch.log_softmax(out, dim=2)
        idx = y.expand(out.shape[0], n).unsqueeze(2) if y.dim() == 1 else y.unsqueeze(2)
        picked = logp.gather(2, idx).squeeze(2)
        grad = logp.exp_()
        grad.scatter_add_(2, idx, torch.full_like(idx, -1, dtype=grad.dtype))
        if scale is not None:
            return -picked.mul_(scale).sum(dim=1), grad.mul_(scale.unsqueeze(2))
        value = -picked.sum(dim=1).div_(n)
        return value, grad.div_(n)

    def value(self, out, y):
        y, scale = _unpack(y)
        idx = y.expand(out.shape[0], out.shape[1]) if y.dim() == 1 else y
        logp = torch.log_softmax(out, dim=2)
        picked = logp.gather(2, idx.unsqueeze(2)).squeeze(2)
        if scale is not None:
            return -picked.mul_(scale).sum(dim=1)
        return -picked.mean(dim=1)


class LogisticLoss:
    """``L = (1/n) sum_i log(1 + exp(-y_i f(x_i)))`` with ``y in {-1, +1}`` ([CCZG] Sec. 2)."""

    name = "logistic"

    weighted = True

    def value_and_grad(self, out: torch.Tensor, y):
        y, scale = _unpack(y)
        n = out.shape[1]
        margin = out.squeeze(2) * y
        if scale is not None:
            value = torch.nn.functional.softplus(-margin).mul_(scale).sum(dim=1)
            grad = torch.sigmoid(-margin).mul_(y).mul_(scale).neg_()
            return value, grad.unsqueeze(2)
        value = torch.nn.functional.softplus(-margin).sum(dim=1).div_(n)
        grad = torch.sigmoid(-margin).mul_(y).div_(-n)
        return value, grad.unsqueeze(2)

    def value(self, out, y):
        y, scale = _unpack(y)
        losses = torch.nn.functional.softplus(-out.squeeze(2) * y)
        if scale is not None:
            return losses.mul_(scale).sum(dim=1)
        return losses.mean(dim=1)


LOSSES = {
    "squared": SquaredLoss,
    "softmax_cross_entropy": SoftmaxCrossEntropyLoss,
    "logistic": LogisticLoss,
}


def get_loss(loss):
    """A loss object from its name (or the object itself)."""
    if isinstance(loss, str):
        try:
            return LOSSES[loss]()
        except KeyError as exc:
            raise ValueError(
                f"`loss` must be one of {sorted(LOSSES)}; got {loss!r}."
            ) from exc
    return loss
