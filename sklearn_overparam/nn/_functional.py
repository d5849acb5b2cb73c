"""Pure torch functions over a stack of K networks: init, forward and hand-written backward.

Parameters are a dict ``{"W0": (K, fan_out, fan_in), "b0": (K, fan_out), ...}``. Inputs are
either shared by all copies, shape ``(n, d)``, or per copy, shape ``(K, n, d)``; outputs are
``(K, n, n_outputs)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch

from .._torch import make_generator
from . import _matmul
from ._spec import ReLUNetSpec


def init_params(
    spec: ReLUNetSpec,
    seeds: Sequence[int],
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> dict[str, torch.Tensor]:
    """Draw K independent parameter sets, copy ``k`` from ``torch.Generator(seeds[k])``.

    Each copy draws, layer by layer, its weight then its bias, in float64 on the CPU, so the
    same seed gives the same network for every dtype and device (float32 is the float64
    draw rounded).
    """
    per_copy = []
    for seed in seeds:
        gen = make_generator(seed)
        tensors = {}
        for l, layer in enumerate(spec.layers):
            w = torch.randn(layer.fan_out, layer.fan_in, generator=gen, dtype=torch.float64)
            tensors[f"W{l}"] = w * layer.weight_std
            if layer.bias:
                b = torch.randn(layer.fan_out, generator=gen, dtype=torch.float64)
                tensors[f"b{l}"] = b * layer.bias_std
        per_copy.append(tensors)
    return {
        name: torch.stack([p[name] for p in per_copy]).to(device=device, dtype=dtype)
        for name in spec.param_names
    }


def _buffer(workspace, key, shape, ref):
    """A reusable output tensor from ``workspace`` (None when there is no workspace).

    Large fresh allocations are returned to the OS and page-faulted in again on every
    step; reusing them makes the big elementwise passes about 2x faster on CPU.
    ``shape`` is a tuple.
    """
    if workspace is None:
        return None
    key = (key, shape)
    buf = workspace.get(key)
    if buf is None or buf.dtype is not ref.dtype or buf.device != ref.device:
        buf = workspace[key] = torch.empty(shape, dtype=ref.dtype, device=ref.device)
    return buf


@lru_cache(maxsize=64)
def _names(depth: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``("W0", ..., "W{depth-1}")`` and ``("b0", ...)``: built once, not per step."""
    return tuple(f"W{l}" for l in range(depth)), tuple(f"b{l}" for l in range(depth))


@lru_cache(maxsize=256)
def _backward_plan(depth: int, names: tuple[str, ...]) -> int:
    """The lowest layer whose weight or bias is in ``names`` (``depth`` when none)."""
    W, b = _names(depth)
    return min((l for l in range(depth) if W[l] in names or b[l] in names), default=depth)


# A bias is folded into the weight matrix for thin inputs (fan-in <= THIN_INPUT) when the
# layer output is large enough (>= FOLD_MIN_OUTPUT entries) for the saved pass to beat the
# two extra small concatenations.
THIN_INPUT = 32
FOLD_MIN_OUTPUT = 2**17


def _fold_bias(h, n_out, K):
    return h.shape[-1] <= THIN_INPUT and K * h.shape[-2] * n_out >= FOLD_MIN_OUTPUT


def _with_ones(h):
    return torch.cat([h, h.new_ones(h.shape[:-1] + (1,))], dim=-1)


def _affine(h, W, b, out=None):
    # h: (n, in) shared or (K, n, in); W: (K, out, in); b: (K, out) or None.
    if b is not None and _fold_bias(h, W.shape[1], W.shape[0]) and not _routes_forward(h, W):
        # [h, 1] [W, b]^T: for a thin input the small concatenations are far cheaper than
        # broadcasting the bias over the (K, n, out) output (baddbmm's hidden copy)
        h, W, b = _with_ones(h), torch.cat([W, b.unsqueeze(2)], dim=2), None
    return _matmul.bmm(h, W.transpose(1, 2), None if b is None else b.unsqueeze(1), out)


def _routes_forward(h, W):
    return _matmul.routes(h.shape[-2], h.shape[-1], W.shape[1], W)


class _LayerPlan:
    """One layer's affine map for a fixed input layout, prepared once for the engine's steps.

    A product that goes to oneDNN (:mod:`._matmul`) keeps its per-network weight views;
    otherwise the weight's transposed view, the bias view and the output buffer are made
    once, and a folded ``[W, b]`` (thin inputs, see ``_fold_bias``) lives in a buffer
    refreshed only when ``W`` or ``b`` changed since the last step (their in-place version
    counters), and ``[h, 1]`` in a buffer whose ones column is written once. Valid while
    the layer's tensors are the same objects (the engine updates them in place) and the
    routing (:func:`._matmul.cpu_matmul`) is unchanged.
    """

    __slots__ = ("W", "b", "versions", "out", "Wt", "bias", "h1", "Wb", "d", "dnn", "mode")

    def __init__(self, h, W, b, out):
        self.W, self.b, self.out = W, b, out
        self.d = h.shape[-1]
        self.versions = None
        self.mode = _matmul.mode()
        self.dnn = _matmul.Weights(W, b) if _routes_forward(h, W) else None
        if self.dnn is None and b is not None and _fold_bias(h, W.shape[1], W.shape[0]):
            self.h1 = h.new_ones(h.shape[:-1] + (self.d + 1,))
            self.Wb = W.new_empty(W.shape[:2] + (self.d + 1,))
            self.Wt, self.bias = self.Wb.transpose(1, 2), None
        else:
            self.h1 = self.Wb = None
            self.Wt = W.transpose(1, 2)
            self.bias = None if b is None else b.unsqueeze(1)

    def __call__(self, h, relu=False):
        """The layer's output for input ``h``, through the ReLU when ``relu``."""
        if self.dnn is not None:
            return self.dnn.forward(h, self.out, relu)
        z = self._affine(h)
        return z.clamp_min_(0) if relu else z

    def _affine(self, h):
        if self.Wb is not None:
            versions = (self.W._version, self.b._version)
            if versions != self.versions:
                self.Wb[..., :self.d].copy_(self.W)
                self.Wb[..., self.d].copy_(self.b)
                self.versions = (self.W._version, self.b._version)
            self.h1[..., :self.d].copy_(h)
            h = self.h1
        return _matmul.bmm(h, self.Wt, self.bias, self.out)

    def backward(self, g):
        """``g W``: the gradient pushed through this layer's weight."""
        return self.dnn.backward(g) if self.dnn is not None else torch.bmm(g, self.W)


def _layer_plan(workspace, l, h, W, b, K):
    key = (l, h.shape, K)
    plan = workspace.get(key)
    if (plan is None or plan.W is not W or plan.b is not b or plan.out.dtype is not W.dtype
            or plan.out.device != W.device or plan.mode != _matmul.mode()):
        out = torch.empty((K, h.shape[-2], W.shape[1]), dtype=W.dtype, device=W.device)
        plan = workspace[key] = _LayerPlan(h, W, b, out)
    return plan


def forward(
    spec: ReLUNetSpec,
    params: dict[str, torch.Tensor],
    X: torch.Tensor,
    *,
    return_hidden: bool = False,
    workspace: dict | None = None,
    multiplier: torch.Tensor | None = None,
):
    """Network outputs ``(K, n, k)``; with ``return_hidden`` also the layer inputs.

    The output is multiplied by ``spec.output_multiplier`` and, when given, by the
    per-copy ``multiplier`` of shape ``(K,)`` (e.g. a decaying ``lambda_t``).

    The hidden list holds ``h_0 = X, h_1 = s(z_1), ..., h_{L-1}``: the input of every
    weight matrix, which is all a backward pass through ReLUs needs (``s'(z) = 1[h > 0]``).
    With a ``workspace`` dict the activations are written into buffers kept there and
    reused by the next call (the training engine's steps): the returned tensors are then
    only valid until the next call with the same workspace.
    """
    L = spec.depth
    W_names, b_names = _names(L)
    K = params["W0"].shape[0]
    h = X
    hidden = [X]
    for l in range(L):
        W, b = params[W_names[l]], params.get(b_names[l])
        if workspace is None:
            z = _affine(h, W, b)
            h = z.clamp_min_(0) if l < L - 1 else z
        else:
            h = _layer_plan(workspace, l, h, W, b, K)(h, relu=l < L - 1)
        if l < L - 1:
            hidden.append(h)
    if spec.output_multiplier != 1.0:
        h = h.mul_(spec.output_multiplier)
    if multiplier is not None:
        h = h.mul_(multiplier.view(-1, 1, 1))
    return (h, hidden) if return_hidden else h


def backward(
    spec: ReLUNetSpec,
    params: dict[str, torch.Tensor],
    hidden: list[torch.Tensor],
    grad_out: torch.Tensor,
    names: Sequence[str] | None = None,
    workspace: dict | None = None,
    multiplier: torch.Tensor | None = None,
    accumulate: dict | None = None,
) -> dict[str, torch.Tensor]:
    """Gradients of a loss w.r.t. the tensors ``names`` (default: the trainable ones).

    ``grad_out`` is ``dLoss/dOutput`` of shape ``(K, n, k)``, ``hidden`` comes from
    :func:`forward` and ``multiplier`` is the per-copy one given to it. The backward pass
    stops at the lowest layer that needs a gradient. ReLU derivative convention:
    ``1[z > 0]`` (PyTorch's). ``accumulate`` maps weight names to ``(buffer, beta)``:
    where the gradient is one batched product in the weight's layout (a layer at least as
    wide in as out), it is accumulated into the buffer, ``buffer <- beta * buffer +
    gradient``, and the buffer is returned as that gradient (the momentum of an SGD
    update, without a pass over a separate gradient tensor).
    """
    names = spec.trainable_names if names is None else tuple(names)
    L = spec.depth
    W_names, _ = _names(L)
    lowest = _backward_plan(L, names)
    grads = {}
    g = grad_out * spec.output_multiplier if spec.output_multiplier != 1.0 else grad_out
    if multiplier is not None:
        g = g * multiplier.view(-1, 1, 1)
    for l in range(L - 1, lowest - 1, -1):
        h = hidden[l]
        if l == lowest + 1 and g.shape[2] == 1:
            # g is rank one per sample (scalar output above the last hidden layer): the
            # gradient of the layer below needs no (K, n, m) backpropagated tensor.
            _layer_gradients(grads, names, l, h, g, accumulate)
            mask = _buffer(workspace, "mask", h.shape, h)
            _below_scalar_output(grads, names, lowest, hidden[lowest], h, g,
                                 params[W_names[l]], mask)
            break
        _layer_gradients(grads, names, l, h, g, accumulate)
        if l > lowest:
            # fused ReLU backward: g * 1[h > 0] in one pass, no mask tensor
            g = torch.ops.aten.threshold_backward(
                _through(workspace, l, h, params[W_names[l]], g), h, 0)
    return {n: grads[n] for n in names}


def _through(workspace, l, h, W, g):
    """``g W``: the output gradient of layer ``l`` (input ``h``) pushed to its input."""
    plan = None if workspace is None else workspace.get((l, h.shape, W.shape[0]))
    if plan is not None and plan.W is W and plan.mode == _matmul.mode():
        return plan.backward(g)
    return _matmul.bmm(g, W)


def _layer_gradients(grads, wanted, l, h, g, accumulate=None):
    """Weight and bias gradients of layer ``l`` from its input ``h`` and output grad ``g``
    (a weight's into its ``accumulate`` buffer, see :func:`backward`)."""
    W_names, b_names = _names(l + 1)
    name = W_names[l]
    if name in wanted:
        into = None if accumulate is None else accumulate.get(name)
        if _matmul.routes(g.shape[-1], h.shape[-2], h.shape[-1], g):
            # oneDNN's product beats MKL's even with the momentum pass it leaves undone
            grads[name] = _matmul.weight_gradient(g, h)
        elif h.shape[-1] >= g.shape[-1] and into is not None and h.dim() == 3:
            buf, beta = into
            grads[name] = buf.baddbmm_(g.transpose(1, 2), h, beta=beta)
        elif h.shape[-1] >= g.shape[-1]:
            grads[W_names[l]] = _matmul.bmm(g.transpose(1, 2), h)
        else:
            # (h^T g)^T: a thin input keeps the long dimension last in the product, 3-5x
            # faster than g^T h on CPU; the gradient is a transposed view.
            grads[W_names[l]] = _matmul.bmm(h.transpose(-1, -2), g).transpose(1, 2)
    if b_names[l] in wanted:
        grads[b_names[l]] = g.sum(dim=1)


def _below_scalar_output(grads, wanted, l, h_in, h_out, g, W_above, mask=None):
    """Gradients of layer ``l`` when the layer above has one output: ``g`` is ``(K, n, 1)``.

    With ``M = 1[h_out > 0]`` and ``a`` the weights above, ``dW_l = a^T * (M^T (g h_in))``
    and ``db_l = a^T * (M^T g)`` (computed transposed): one mask pass and one thin matmul
    instead of forming and masking the ``(K, n, m)`` backpropagated gradient (about 25% of
    a 2-layer step).
    """
    mask = torch.gt(h_out, 0, out=mask) if mask is not None else (h_out > 0).to(h_out.dtype)
    W_names, b_names = _names(l + 1)
    want_w, want_b = W_names[l] in wanted, b_names[l] in wanted
    if want_w and want_b and h_in.shape[-1] <= THIN_INPUT:
        # both from one matmul on [g h_in, g]: the mask is read once
        gh = torch.cat([g * h_in, g], dim=-1).transpose(-1, -2)
        both = _matmul.bmm(gh, mask).mul_(W_above).transpose(1, 2)
        grads[W_names[l]], grads[b_names[l]] = both[..., :-1], both[..., -1]
        return
    if want_w:
        gh = (g * h_in).transpose(-1, -2)  # (K, fan_in, n): long dimension last (see above)
        grads[W_names[l]] = _matmul.bmm(gh, mask).mul_(W_above).transpose(1, 2)
    if want_b:
        grads[b_names[l]] = torch.bmm(g.transpose(1, 2), mask).mul_(W_above).squeeze(1)


def copy_params(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Deep copy of a parameter dict."""
    return {n: p.clone() for n, p in params.items()}


def dead_layers(spec: ReLUNetSpec, params: dict[str, torch.Tensor], X: torch.Tensor,
                chunk: int = 8192) -> torch.Tensor:
    """``(K,)`` flags: copies with a hidden layer whose every unit is 0 on every row of X.

    Such a network is constant on ``X`` (all its ReLUs are dead); training that kills every
    unit of a layer has diverged even when the loss stays finite.
    """
    K = params["W0"].shape[0]
    alive = [torch.zeros(K, layer.fan_out, dtype=torch.bool, device=X.device)
             for layer in spec.layers[:-1]]
    for s in range(0, X.shape[-2], chunk):
        _, hidden = forward(spec, params, X[..., s:s + chunk, :], return_hidden=True)
        for l, h in enumerate(hidden[1:]):
            alive[l] |= (h > 0).any(dim=1)
    dead = torch.zeros(K, dtype=torch.bool, device=X.device)
    for a in alive:
        dead |= ~a.any(dim=1)
    return dead
