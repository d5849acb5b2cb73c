"""The update rule beside the loop, and what may change the parameters after each step.

``SGDUpdate`` is ``torch.optim.SGD``'s rule over K copies (the role of scikit-learn's
``SGDOptimizer.update_params`` beside ``_fit_stochastic``). A ``PostUpdate`` acts on the
parameters after every update: a projection onto a ball (NTRF), a decaying multiplier, noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import torch

from ._context import StepContext


def per_copy_view(vec: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A ``(K,)`` vector viewed to broadcast over a ``(K, ...)`` tensor."""
    return vec.view((-1,) + (1,) * (like.dim() - 1))


class SGDUpdate:
    """PyTorch's SGD (dampening 0) on a list of stacked tensors, one setting per copy.

    ``g = grad + weight_decay * p`` (coupled decay on the full tensor),
    ``buf = momentum * buf + g``, ``p -= lr * buf``; the first step starts from
    ``buf = g`` as PyTorch does. ``momentum`` and ``weight_decay`` are floats or ``(K,)``
    tensors. The update is fused over tensors (``torch._foreach_*``): 3 kernel launches
    per step instead of 3 per tensor, which is most of the step of a small network.

    Parameters
    ----------
    params : list of Tensor
        The trained tensors, updated in place.
    momentum : float or Tensor of shape (K,)
        Heavy-ball momentum per copy.
    weight_decay : float or Tensor of shape (K,)
        Coupled weight decay per copy.
    """

    def __init__(self, params: Sequence[torch.Tensor], *, momentum=0.0, weight_decay=0.0):
        self.params = list(params)
        self.momentum = self._per_tensor(momentum)
        self.weight_decay = self._per_tensor(weight_decay)
        self.buffers = [torch.zeros_like(p) for p in self.params] if self.momentum else None

    def _per_tensor(self, value):
        """None for an all-zero setting, a float, or a per-copy view for every tensor."""
        if torch.is_tensor(value):
            if not bool((value != 0).any()):
                return None
            if bool((value == value[0]).all()):
                return float(value[0])
            return [per_copy_view(value, p) for p in self.params]
        return float(value) or None

    def step(self, grads: Sequence[torch.Tensor], lr) -> None:
        """One update from gradients (aligned with ``params``) and the step sizes.

        ``lr`` is one float for every copy, or per-tensor ``(K, 1, ...)`` views of a
        ``(K,)`` vector. The gradient tensors are consumed: the update is computed in them
        and, with momentum, they become the new momentum buffers (so pass fresh tensors,
        as every objective's ``loss_and_grads`` returns). A gradient that is its own
        momentum buffer (``StepContext.momentum_into``) already holds
        ``momentum * buffer + gradient``.
        """
        update = list(grads)
        if self.weight_decay is not None:
            if isinstance(self.weight_decay, float):
                torch._foreach_add_(update, self.params, alpha=self.weight_decay)
            else:
                torch._foreach_addcmul_(update, self.params, self.weight_decay)
        if self.buffers is not None:
            # buf <- g + momentum * buf, written into g, which becomes the buffer: one
            # kernel per tensor instead of a scale and an add. A gradient that *is* its
            # buffer already holds it (accumulated in the objective's matmul).
            todo = [i for i, (u, b) in enumerate(zip(update, self.buffers)) if u is not b]
            if len(todo) == len(update):
                mine, bufs = update, self.buffers
            else:
                mine = [update[i] for i in todo]
                bufs = [self.buffers[i] for i in todo]
            if todo:
                if isinstance(self.momentum, float):
                    torch._foreach_add_(mine, bufs, alpha=self.momentum)
                else:
                    torch._foreach_addcmul_(mine, bufs, [self.momentum[i] for i in todo])
            self.buffers = update
        if isinstance(lr, float):
            torch._foreach_add_(self.params, update, alpha=-lr)
        else:
            torch._foreach_addcmul_(self.params, update, lr, value=-1.0)


@runtime_checkable
class PostUpdate(Protocol):
    """Changes the parameters in place after every update step."""

    def apply_(self, params: dict[str, torch.Tensor], ctx: StepContext) -> None: ...


class BallProjection:
    """Project each named tensor onto ``||theta_l - center_l||_F <= radius_l`` per copy.

    The projected gradient descent of the NTRF class ([CCZG] Def. 3.2: every layer within
    ``R / sqrt(m)`` of its initialization, in Frobenius norm).

    Parameters
    ----------
    centers : mapping of str to Tensor
        The ``(K, ...)`` centers (initial weights, or zero for increments).
    radius : float or mapping of str to float
        Radius per tensor.
    """

    def __init__(self, centers: Mapping[str, torch.Tensor], radius):
        self.centers = dict(centers)
        self.radius = (dict(radius) if isinstance(radius, Mapping)
                       else dict.fromkeys(self.centers, float(radius)))
        bad = {n: r for n, r in self.radius.items() if not r > 0}
        if bad:
            raise ValueError(f"`radius` must be > 0; got {bad!r}.")

    def apply_(self, params, ctx=None):
        for name, center in self.centers.items():
            p = params[name]
            diff = p - center
            norm = diff.flatten(1).norm(dim=1)
            shrink = (self.radius[name] / norm.clamp_min(torch.finfo(p.dtype).tiny)).clamp_(max=1)
            p.copy_(center.addcmul(diff, per_copy_view(shrink, p)))


class DualBallProjection:
    """Project per-block dual coefficients onto ``c_b^T K_b c_b <= radius^2``.

    The kernel form of :class:`BallProjection`: with ``Delta_b = sum_i c_{b,i} G_b(x_i)``,
    ``||Delta_b||_F^2 = c_b^T K_b c_b``, so rescaling ``c_b`` by
    ``min(1, radius / sqrt(c_b^T K_b c_b))`` is exactly the primal projection.

    Parameters
    ----------
    grams : Tensor of shape (blocks, n_train, n_train)
        The per-block Gram matrices ``K_b``.
    radius : float
        The ball's radius (the same for every block).
    name : str, default="dual_coef"
        The parameter holding ``(K, blocks * n_train, k)`` coefficients.
    """

    def __init__(self, grams: torch.Tensor, radius: float, name: str = "dual_coef"):
        if not radius > 0:
            raise ValueError(f"`radius` must be > 0; got {radius!r}.")
        self.grams, self.radius, self.name = grams, float(radius), name

    def apply_(self, params, ctx=None):
        c = params[self.name]
        B, n = self.grams.shape[0], self.grams.shape[1]
        blocks = c.view(c.shape[0], B, n, -1)
        sq = torch.einsum("kbic,bij,kbjc->kb", blocks, self.grams, blocks).clamp_min(0)
        shrink = (self.radius / sq.sqrt().clamp_min(torch.finfo(c.dtype).tiny)).clamp_(max=1)
        blocks.mul_(shrink[:, :, None, None])


class MultiplierDecay:
    """``lambda <- (1 - rate) lambda`` every ``every`` steps: weight decay by output scaling.

    [AZLL] Algorithm 2, line 4 (``lambda_{t+1} = (1 - eta) lambda_t`` after each round of
    ``T_w`` steps). ``multiplier`` is the ``(K,)`` tensor given to the objective, changed in
    place; ``on_change(multiplier)`` (optional) updates what depends on it, e.g. the
    weights of penalties evaluated at the scaled point.
    """

    def __init__(self, multiplier: torch.Tensor, rate, every: int, on_change=None):
        if int(every) < 1:
            raise ValueError(f"`every` must be a positive number of steps; got {every!r}.")
        self.multiplier, self.every, self.on_change = multiplier, int(every), on_change
        self.factor = 1.0 - torch.as_tensor(rate, dtype=multiplier.dtype,
                                            device=multiplier.device)

    def apply_(self, params, ctx):
        if (ctx.step + 1) % self.every == 0:
            self.multiplier.mul_(self.factor)
            if self.on_change is not None:
                self.on_change(self.multiplier)


class GaussianNoise:
    """Noisy SGD: ``theta <- theta + N(0, std^2)`` on named tensors after every step.

    The perturbation of the iterate that [AZLL] Algorithm 2 runs ("noisy SGD", to escape
    saddle points); draws come from the ``"post_update"`` stream of each copy.
    """

    def __init__(self, names, std: float):
        if not std >= 0:
            raise ValueError(f"`std` must be >= 0; got {std!r}.")
        self.names, self.std = tuple(names), float(std)

    def apply_(self, params, ctx):
        if self.std == 0:
            return
        for name in self.names:
            p = params[name]
            p.add_(ctx.rng.randn("post_update", p.shape[1:], dtype=p.dtype,
                                 device=p.device), alpha=self.std)
