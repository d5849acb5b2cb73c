"""Losses over a stack of K networks: value per copy and gradient w.r.t. the outputs.

Every loss is a *mean over samples*; the value is ``(K,)`` and the gradient has the shape of
the outputs ``(K, n, k)``. Targets are shared ``(n, ...)`` or per copy ``(K, n, ...)``.
"""

from __future__ import annotations

import torch


class SquaredLoss:
    """``L = mean_{i, r} (f_r(x_i) - y_{i,r})**2``: PyTorch's ``nn.MSELoss()``, no 1/2.

    This is the loss the [AZLL] experiments ran, so learning rates match the paper's.
    scikit-learn's ``MLPRegressor`` minimises half of it (same minimiser, half the gradient).
    """

    name = "squared"

    def value_and_grad(self, out: torch.Tensor, y: torch.Tensor):
        diff = out - y
        n_el = diff.shape[1] * diff.shape[2]
        value = diff.square().sum(dim=(1, 2)).div_(n_el)
        return value, diff.mul_(2.0 / n_el)

    def value(self, out, y):
        return (out - y).square().mean(dim=(1, 2))


class SoftmaxCrossEntropyLoss:
    """``L = -(1/n) sum_i log softmax(f(x_i))_{y_i}`` with integer class targets ([LL] Sec. 3)."""

    name = "softmax_cross_entropy"

    def value_and_grad(self, out: torch.Tensor, y: torch.Tensor):
        n = out.shape[1]
        logp = torch.log_softmax(out, dim=2)
        idx = y.expand(out.shape[0], n).unsqueeze(2) if y.dim() == 1 else y.unsqueeze(2)
        value = -logp.gather(2, idx).squeeze(2).sum(dim=1).div_(n)
        grad = logp.exp_()
        grad.scatter_add_(2, idx, torch.full_like(idx, -1, dtype=grad.dtype))
        return value, grad.div_(n)

    def value(self, out, y):
        idx = y.expand(out.shape[0], out.shape[1]) if y.dim() == 1 else y
        logp = torch.log_softmax(out, dim=2)
        return -logp.gather(2, idx.unsqueeze(2)).squeeze(2).mean(dim=1)


class LogisticLoss:
    """``L = (1/n) sum_i log(1 + exp(-y_i f(x_i)))`` with ``y in {-1, +1}`` ([CCZG] Sec. 2)."""

    name = "logistic"

    def value_and_grad(self, out: torch.Tensor, y: torch.Tensor):
        n = out.shape[1]
        margin = out.squeeze(2) * y
        value = torch.nn.functional.softplus(-margin).sum(dim=1).div_(n)
        grad = torch.sigmoid(-margin).mul_(y).div_(-n)
        return value, grad.unsqueeze(2)

    def value(self, out, y):
        return torch.nn.functional.softplus(-out.squeeze(2) * y).mean(dim=1)


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
