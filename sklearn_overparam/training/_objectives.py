"""What the engine differentiates: the ``Objective`` protocol, its models and its wrappers.

An objective maps a stack of K parameter sets and a batch to per-copy losses ``(K,)`` and
their gradients w.r.t. ``trainable_names``. Nothing here requires a network spec: a kernel
model over dual coefficients is an objective too. Wrappers change the gradient by
composition (a penalty added, the gradient taken at a perturbed point), never by flags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import torch

from ..nn import ReLUNetSpec, backward, forward
from ..nn._fused import two_layer_step
from ._context import StepContext
from ._losses import get_loss

Params = dict[str, torch.Tensor]


@runtime_checkable
class Objective(Protocol):
    """The engine's view of a model and its loss.

    ``loss_and_grads`` returns the mean loss of each copy on the batch ``(K,)`` and a dict
    of gradients keyed by ``trainable_names``; ``outputs`` the model outputs ``(K, n, k)``;
    ``data_loss`` the loss ``(K,)`` on given data (no penalty, no perturbation).
    """

    trainable_names: tuple[str, ...]

    def loss_and_grads(self, params: Params, X, Y, ctx: StepContext | None): ...

    def outputs(self, params: Params, X): ...

    def data_loss(self, params: Params, X, Y): ...


class NetworkObjective:
    """Loss of a stacked ReLU network and its gradient w.r.t. the trainable tensors.

    Parameters
    ----------
    spec : ReLUNetSpec
        The architecture; its ``trainable_names`` are what trains.
    loss : str or loss object
        ``"squared"``, ``"softmax_cross_entropy"`` or ``"logistic"``.
    multiplier : Tensor of shape (K,), optional
        Per-copy output multiplier on top of ``spec.output_multiplier`` (the decaying
        ``lambda_t`` of [AZLL] Algorithm 2); a post-update may change it in place.

    Notes
    -----
    A two-layer network with one output and at most 7 inputs (the [AZLL] two-layer
    learner) computes its steps in fused kernels when numba is installed
    (:func:`~sklearn_overparam.nn.fused_kernels`): the outputs and gradients of
    :func:`~sklearn_overparam.nn.forward` and :func:`~sklearn_overparam.nn.backward`, up
    to float rounding, without storing the hidden activations.
    """

    # the engine may ask for weight gradients accumulated into their momentum buffers
    # (StepContext.momentum_into); wrappers do not declare it, so they never get the request
    accumulates_momentum = True

    def __init__(self, spec: ReLUNetSpec, loss, *, multiplier: torch.Tensor | None = None):
        self.spec = spec
        self.loss = get_loss(loss)
        self.multiplier = multiplier
        self.trainable_names = spec.trainable_names
        self._workspace = {}  # activation buffers reused from step to step

    def loss_and_grads(self, params, X, Y, ctx=None):
        ws, mult = self._workspace, self.multiplier
        fused = two_layer_step(self.spec, params, X, self.trainable_names, ws)
        if fused is not None:  # thin-input two-layer net: activations never stored
            value, grad_out = self.loss.value_and_grad(fused.forward(X, mult), Y)
            return value, fused.backward(grad_out)
        out, hidden = forward(self.spec, params, X, return_hidden=True, workspace=ws,
                              multiplier=mult)
        value, grad_out = self.loss.value_and_grad(out, Y)
        grads = backward(self.spec, params, hidden, grad_out, self.trainable_names,
                         workspace=ws, multiplier=mult,
                         accumulate=None if ctx is None else ctx.momentum_into)
        return value, grads

    def outputs(self, params, X):
        return forward(self.spec, params, X, multiplier=self.multiplier)

    def data_loss(self, params, X, Y):
        return self.loss.value(self.outputs(params, X), Y)


class KernelObjective:
    """A kernel model over dual coefficients, ``f(x) = sum_b sum_j c_{b,j} K_b(x, x_j)``.

    The engine's "inputs" are rows of the Gram matrices against the ``n_train`` expansion
    points, ``blocks`` of them side by side, shape ``(n, blocks * n_train)`` (plus one last
    column added to the output unchanged when ``offset_column``: e.g. ``f0(x)``); the
    parameters are ``{"dual_coef": (K, blocks * n_train, k)}``.

    ``functional=False``: the gradient ``d loss / d c = K(X_batch, X_train)^T g``.
    ``functional=True``: the function-space step ``g`` itself for every block (``g_i`` the
    loss derivative at training point ``i``): the update ``c_b <- c_b - eta g`` is exactly
    gradient descent on the primal weights ``Delta_b = sum_i c_{b,i} G_b(x_i)`` when
    ``K_b(x, x') = <G_b(x), G_b(x')>`` (the NTRF kernel form of [CCZG] Def. 3.2); it needs
    full-batch steps over the training points in order.

    Parameters
    ----------
    loss : str or loss object
        As for :class:`NetworkObjective`.
    blocks : int, default=1
        Number of Gram blocks (one per layer for the per-layer NTRF form).
    offset_column : bool, default=False
        Whether the inputs end with an offset column.
    functional : bool, default=False
        Return function-space steps instead of gradients.
    """

    trainable_names = ("dual_coef",)

    def __init__(self, loss, *, blocks=1, offset_column=False, functional=False):
        self.loss = get_loss(loss)
        self.blocks, self.offset_column, self.functional = int(blocks), offset_column, functional

    def _split(self, X):
        return (X[..., :-1], X[..., -1:]) if self.offset_column else (X, None)

    def outputs(self, params, X):
        G, offset = self._split(X)
        c = params["dual_coef"]
        out = torch.matmul(G, c) if G.dim() == 2 else torch.bmm(G, c)
        return out if offset is None else out + offset

    def loss_and_grads(self, params, X, Y, ctx=None):
        value, g = self.loss.value_and_grad(self.outputs(params, X), Y)
        if self.functional:
            n_train = params["dual_coef"].shape[1] // self.blocks
            if g.shape[1] != n_train:
                raise ValueError("functional=True needs full-batch steps over the "
                                 f"{n_train} training points; got a batch of {g.shape[1]}.")
            return value, {"dual_coef": g.repeat(1, self.blocks, 1)}
        Gt = self._split(X)[0].transpose(-1, -2)
        return value, {"dual_coef": torch.matmul(Gt, g) if Gt.dim() == 2 else torch.bmm(Gt, g)}

    def data_loss(self, params, X, Y):
        return self.loss.value(self.outputs(params, X), Y)


class _Wrapper:
    """Delegates the protocol to ``base``; subclasses change ``loss_and_grads``."""

    def __init__(self, base):
        self.base = base
        self.trainable_names = base.trainable_names

    def outputs(self, params, X):
        return self.base.outputs(params, X)

    def data_loss(self, params, X, Y):
        return self.base.data_loss(params, X, Y)

    def __getattr__(self, name):  # spec, loss, multiplier of the wrapped model
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)


class RowNormPenalty:
    """``weight * sum_j ||w_j - r_j||_2^p`` over the rows of one tensor (``||.||_{2,p}^p``).

    With ``p = 4`` this is the [AZLL] regularizer ``lambda_w ||W||_{2,4}^4`` (Sec. 4,
    Fig. 3); ``p = 2`` is the squared Frobenius norm ``lambda_v ||V||_F^2``. ``reference``
    (a ``(K, ...)`` tensor, e.g. the initialization) makes it a penalty on the increment
    ``W - W0``; ``weight`` is a float or a ``(K,)`` tensor (changed in place by a
    post-update when it depends on a decaying multiplier).
    """

    def __init__(self, name: str, weight, *, p: float = 4.0, reference=None):
        if p < 2:
            raise ValueError(f"`p` must be >= 2 (a smooth penalty); got {p!r}.")
        self.name, self.weight, self.p, self.reference = name, weight, float(p), reference

    def _weight(self, like):
        w = self.weight
        return w.view(-1, *([1] * (like.dim() - 1))) if torch.is_tensor(w) else w

    def value_and_grad(self, params):
        r = params[self.name]
        if self.reference is not None:
            r = r - self.reference
        sq = r.square().sum(dim=-1, keepdim=True)
        value = sq.pow(self.p / 2).flatten(1).sum(dim=1)
        grad = r * sq.pow(self.p / 2 - 1).mul_(self.p)
        w = self.weight
        return value * w, grad.mul_(self._weight(grad)) if torch.is_tensor(w) else grad * w


class RegularizedObjective(_Wrapper):
    """``base`` plus explicit penalties: ``L(theta) + sum_t R_t(theta)``.

    Parameters
    ----------
    base : Objective
        The model and data loss.
    terms : sequence of penalty objects
        Each has ``name`` (the tensor it acts on) and ``value_and_grad(params)``
        returning ``(K,)`` values and the gradient w.r.t. ``params[name]``
        (e.g. :class:`RowNormPenalty`). ``data_loss`` and ``outputs`` exclude them.
    """

    def __init__(self, base, terms: Sequence):
        super().__init__(base)
        unknown = [t.name for t in terms if t.name not in base.trainable_names]
        if unknown:
            raise ValueError(
                f"Penalty tensors {unknown} are not trained by the objective; choose from "
                f"{list(base.trainable_names)}."
            )
        self.terms = tuple(terms)

    def loss_and_grads(self, params, X, Y, ctx=None):
        value, grads = self.base.loss_and_grads(params, X, Y, ctx)
        grads = dict(grads)
        for term in self.terms:
            v, g = term.value_and_grad(params)
            value = value + v
            grads[term.name] = grads[term.name] + g
        return value, grads


class GaussianSmoothing:
    """Fresh ``N(0, std^2)`` noise added to named tensors at every step ([AZLL] Sec. 4.1).

    ``sample`` returns the perturbed parameters and the identity pull-back (the gradient
    at ``theta + rho`` is the gradient w.r.t. ``theta``). Draws come from the
    ``"objective"`` stream of each copy, so the shuffle order is unaffected.
    """

    def __init__(self, stds: Mapping[str, float]):
        bad = {n: s for n, s in stds.items() if not s >= 0}
        if bad:
            raise ValueError(f"Smoothing standard deviations must be >= 0; got {bad!r}.")
        self.stds = dict(stds)

    def sample(self, params, ctx: StepContext):
        out = dict(params)
        for name, std in self.stds.items():
            if std > 0:
                p = params[name]
                noise = ctx.rng.randn("objective", p.shape[1:], dtype=p.dtype, device=p.device)
                out[name] = p + noise.mul_(std)
        return out, _identity


def _identity(grads):
    return grads


class IncrementObjective(_Wrapper):
    """``base`` evaluated at ``theta0 + D``: the parameters handed to it are increments.

    The [AZLL] three-layer theory trains increments ``W', V'`` from zero (Sec. 4:
    ``W = W^(0) + W'``); penalties and perturbations then act on ``D`` directly.
    ``params0`` holds every tensor of the point (trained or not).
    """

    def __init__(self, base, params0):
        super().__init__(base)
        self.params0 = params0

    def point(self, delta):
        """The full parameters ``theta0 + D``."""
        out = dict(self.params0)
        for name, d in delta.items():
            out[name] = self.params0[name] + d
        return out

    def loss_and_grads(self, params, X, Y, ctx=None):
        return self.base.loss_and_grads(self.point(params), X, Y, ctx)

    def outputs(self, params, X):
        return self.base.outputs(self.point(params), X)

    def data_loss(self, params, X, Y):
        return self.base.data_loss(self.point(params), X, Y)


class RandomSignFlips:
    """Random diagonal signs ``Sigma`` on the rows of one tensor and the columns of the next.

    [AZLL] eq. (4.2): the gradient is taken at ``Sigma W'`` and ``V' Sigma`` (fresh
    ``Sigma = diag(+-1)`` every step, from the ``"objective"`` stream), and mapped back by
    the same signs; ``V' Sigma Sigma W' = V' W'`` keeps the product of the two layers.

    Parameters
    ----------
    rows : str
        The tensor whose rows flip (``"W0"``: the first layer's neurons).
    cols : str
        The tensor whose columns flip with them (``"W1"``).
    """

    def __init__(self, rows="W0", cols="W1"):
        self.rows, self.cols = rows, cols

    def flip(self, params, signs):
        """``params`` with ``rows`` scaled by ``signs`` per row and ``cols`` per column."""
        out = dict(params)
        out[self.rows] = params[self.rows] * signs.unsqueeze(2)
        out[self.cols] = params[self.cols] * signs.unsqueeze(1)
        return out

    def sample(self, params, ctx):
        p = params[self.rows]
        signs = ctx.rng.signs("objective", p.shape[1], dtype=p.dtype, device=p.device)
        return self.flip(params, signs), lambda grads: self.flip(grads, signs)


class PerturbedObjective(_Wrapper):
    """The gradient taken at a randomly perturbed point and mapped back.

    Parameters
    ----------
    base : Objective
        The model and loss.
    perturbation : object
        ``sample(params, ctx) -> (perturbed_params, pullback)`` where
        ``pullback(grads)`` maps gradients at the perturbed point to gradients w.r.t.
        ``params`` (e.g. :class:`GaussianSmoothing`; random sign flips multiply by the
        same signs). ``outputs`` and ``data_loss`` use the unperturbed parameters.
    """

    def __init__(self, base, perturbation):
        super().__init__(base)
        self.perturbation = perturbation

    def loss_and_grads(self, params, X, Y, ctx=None):
        if ctx is None:
            raise ValueError("PerturbedObjective needs a StepContext (its random streams).")
        perturbed, pullback = self.perturbation.sample(params, ctx)
        value, grads = self.base.loss_and_grads(perturbed, X, Y, ctx)
        return value, pullback(grads)


