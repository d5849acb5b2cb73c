"""Fused CPU kernels for the two-layer ReLU network on thin inputs (compiled with numba).

For ``F(x) = c (A s(W x + b) + b_out)`` with one output and at most ``FUSED_MAX_INPUTS``
inputs (the [AZLL] two-layer learner on its low-dimensional data), a training step in
torch kernels writes and re-reads ``(n, m)`` activations five times (the product, the
ReLU, the output product, the ReLU mask and the gradient product): at ``m = 1000`` and a
batch of 50 they are 200 KB per network, and a stack of networks streams them through
memory. The two kernels here never store them:

- the forward kernel runs over the hidden units in blocks of ``CHUNK`` (a block's
  weights stay in L1): ``z = [x, 1] [W, b]^T`` and ``sum_r a_r max(z_r, 0)`` in
  registers, two samples a pass, keeping only the ReLU pattern ``1[z > 0]`` (one byte a
  unit; the hidden layer itself when the output layer trains);
- the backward kernel accumulates ``dW = c (a * 1[z > 0])^T (g x)`` (with the bias as
  the ones column) four samples at a time, and writes it in the weight's layout.

Both are compiled for the input width ``d`` of the network (:func:`_kernels`), so the
sums over the ``d`` inputs and the bias unroll into registers.

A third kernel computes the lazy-training diagnostics of such a network on shared rows
(its outputs, the frozen-gate network's outputs and the number of ReLU patterns changed
since a reference) in the same blocked pass: :func:`pattern_pass`, the recorder's pass
over every snapshot.

On one thread (a Zen 4 AMD EPYC, AVX-512) a network step of ``m = 1000``, ``d = 6``,
batch 50 takes about 11 us forward and 10 us backward (as copies of a 27-network stacked
step, one kernel call after another). The ReLU derivative is ``1[z > 0]``, as in
:func:`.backward`.

The kernels run one network after another, so copy ``k`` of a stack gets exactly the
arithmetic of the same network trained alone (equal bit for bit). They are used only
where they compute what the torch path computes: float32 or float64 tensors on the CPU,
outside autograd and ``torch.func``, with numba installed (``pip install
sklearn-overparam[fast]``); :func:`fused_kernels` turns them off for a block of code.
numba is imported at the first training step that could use it, and the compiled
kernels are cached on disk.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch

from ._matmul import _plain, process_mode

# The kernels handle networks of at most this many input features: each input and the
# bias is one row of weights held in registers (or L1) across a block of hidden units.
FUSED_MAX_INPUTS = 7
# Hidden units per block: the d + 1 weight rows, the output weights and (backward) the
# gradient rows of a block take at most 34 KB in float32, within a 48 KB L1 data cache.
CHUNK = 512

# the tensors the backward kernel can differentiate, and their shapes from (K, m, d)
_NAMES = ("W0", "b0", "W1", "b1")
_SHAPES = {"W0": lambda K, m, d: (K, m, d), "b0": lambda K, m, d: (K, m),
           "W1": lambda K, m, d: (K, 1, m), "b1": lambda K, m, d: (K, 1)}

_MODES = ("auto", "off")
_mode = "auto"


def fused_kernels(mode: str):
    """Use (``"auto"``) or bypass (``"off"``) the fused two-layer kernels in a ``with`` block.

    By default (``"auto"``) the training steps of a two-layer ReLU network with one output
    and at most 7 input features (the [AZLL] two-layer learner) run in two compiled
    kernels that never store the hidden activations, when numba is installed (float32 or
    float64 on the CPU, outside autograd and ``torch.func``), and the unweighted squared
    loss of any one-output network in one compiled call (its gradient equal to torch's).
    ``"off"`` keeps every step in torch kernels, e.g. to compare the two. The switch is
    process-wide (not per thread); the previous mode is restored on exit.

    Parameters
    ----------
    mode : {"auto", "off"}
        ``"auto"``: the fused kernels wherever they apply; ``"off"``: never.

    Examples
    --------
    >>> from sklearn_overparam import TwoLayerReLURegressor
    >>> from sklearn_overparam.datasets import make_composite_sine
    >>> from sklearn_overparam.nn import fused_kernels
    >>> X, y = make_composite_sine(100, random_state=0)
    >>> with fused_kernels("off"):  # the torch kernels, e.g. to compare
    ...     reg = TwoLayerReLURegressor(n_hidden=64, max_iter=2, tol=None).fit(X, y)
    """
    return process_mode(sys.modules[__name__], mode, _MODES)


@functools.cache
def _numba():
    """The numba module, or None where it is not installed."""
    try:
        import numba
    except ImportError:
        return None
    return numba


class Kernels(NamedTuple):
    """The compiled kernels for networks of one input width ``d``."""

    forward: Callable
    backward: Callable  # the gradient rows of W only
    backward_bias: Callable  # those of W and of the hidden bias b
    pattern: Callable


@functools.cache
def _kernels(d: int) -> Kernels | None:
    """The kernels for ``d`` input features (compiled at their first call), or None
    without numba.

    Each is built for its width, so the sums over the ``d`` inputs (and the bias) unroll
    into registers: padding every input to 8 columns made a ``d = 4`` step 1.6 times the
    multiply-adds. numba's on-disk cache keys compiled code by the width too.
    """
    if _numba() is None:
        return None
    from . import _fused_kernels as k

    # reassociation vectorizes the sums over hidden units; no "fast" (it assumes no NaN,
    # and a diverging fit must keep its NaN for the engine to see)
    return Kernels(*_jit((k._forward_kernel(d + 1), k._backward_kernel(d, False),
                          k._backward_kernel(d, True), k._pattern_kernel(d + 1)),
                         fastmath={"reassoc", "contract", "nsz"}))


def _jit(functions, **options):
    """``functions`` compiled by numba (lazily, at their first call), cached on disk."""
    numba = _numba()
    try:
        return [numba.njit(cache=True, nogil=True, boundscheck=False, **options)(f)
                for f in functions]
    except RuntimeError:  # no writable cache directory: compile in every process
        return [numba.njit(cache=False, nogil=True, boundscheck=False, **options)(f)
                for f in functions]


def available() -> bool:
    """Whether the fused kernels can run here (numba importable) and are not switched off."""
    return _mode == "auto" and _numba() is not None


def _blocks(m: int) -> int:
    return -(-m // CHUNK)


@functools.cache
def _loss_kernel():
    if _numba() is None:
        return None
    from ._fused_kernels import _squared_kernel

    return _jit((_squared_kernel,))[0]


def squared_loss(out, y):
    """``(value (K,), grad (K, n, 1))`` of the mean squared loss of one output in one
    compiled call, or None where torch's ops must compute it.

    ``out`` is ``(K, n, 1)`` and ``y`` ``(n, 1)`` or ``(K, n, 1)``: at K=1 the loss's five
    torch ops cost 10-15 us a step, about a tenth of a [AZLL] two-layer step, against 5 us
    here. Used as the fused kernels are: float32/float64 CPU tensors outside autograd and
    ``torch.func``, numba installed, the kernels not switched off.
    """
    if (out.dim() != 3 or out.shape[2] != 1 or y.shape[-1] != 1 or y.dim() not in (2, 3)
            or y.shape[-2] != out.shape[1] or (y.dim() == 3 and y.shape[0] != out.shape[0])
            or not available() or not _usable([out, y], out.dtype)
            or out.dtype not in (torch.float32, torch.float64)):
        return None
    kernel = _loss_kernel()
    K, n = out.shape[0], out.shape[1]
    dtype = out.numpy().dtype
    value, grad = np.empty(K, dtype=dtype), np.empty((K, n, 1), dtype=dtype)
    yv = y.numpy()[..., 0]
    kernel(out.numpy()[..., 0], yv[None] if y.dim() == 2 else yv, y.dim() == 2, value,
           grad[..., 0])
    return torch.from_numpy(value), torch.from_numpy(grad)


def fuses(spec, names=None, dtype=torch.float32) -> bool:
    """Whether the fused kernels compute networks of ``spec`` (given CPU tensors of
    ``dtype`` outside autograd and ``torch.func``): their training steps with ``names``
    trained, or, with ``names=None``, their diagnostics pass."""
    return (spec.depth == 2 and spec.n_outputs == 1 and spec.n_features <= FUSED_MAX_INPUTS
            and (names is None or (bool(names) and set(names) <= set(_NAMES)))
            and dtype in (torch.float32, torch.float64) and available())


def _usable(tensors, dtype) -> bool:
    """Whether the kernels may read ``tensors`` as numpy arrays: all of ``dtype`` on the
    CPU, none tracked by autograd or wrapped by ``torch.func``."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return False
    return all(t.dtype is dtype and t.is_cpu and _plain(t) for t in tensors)


def _applies(spec, params, X, names) -> bool:
    W = params["W0"]
    # the kernels read X with any strides (a batch gathered per copy is a strided view)
    return (fuses(spec, names, W.dtype) and _usable([X, *params.values()], W.dtype)
            and all(p.is_contiguous() for p in params.values()))


class TwoLayerStep:
    """The fused forward and backward of one step, for one batch layout (see module doc).

    Holds numpy views of the parameters and the scratch the backward pass reads; valid
    while the parameter tensors are the same objects (the engine updates them in place).
    Kept in the objective's workspace like the torch path's layer plans.
    """

    def __init__(self, spec, params, X, names):
        W = params["W0"]
        K, m, d = W.shape
        self.spec, self.names = spec, tuple(names)
        self.tensors = tuple(params.values())
        self.dtype, self.shared = W.dtype, X.dim() == 2
        n, S = X.shape[-2], 1 if X.dim() == 2 else K
        self.K, self.n = K, n
        new = functools.partial(np.zeros, dtype=W.numpy().dtype)
        self.W = W.numpy()
        self.b = params["b0"].numpy() if "b0" in params else new((K, m))
        self.A = params["W1"].numpy()[:, 0, :]
        self.c = params["b1"].numpy()[:, 0] if "b1" in params else new(K)
        self.scale = np.full(K, spec.output_multiplier, dtype=self.W.dtype)
        self.kernels = _kernels(d)
        self.Xp, self.Wt = new((S, n, d + 1)), new((_blocks(m), d + 1, CHUNK))
        # the hidden layer when the output layer trains, else only its ReLU pattern
        self.stores_h = "W1" in self.names
        self.H = new((K, n, m)) if self.stores_h else np.zeros((K, n, m), dtype=np.bool_)
        self.out = torch.empty((K, n, 1), dtype=W.dtype)
        self._out = self.out.numpy()[..., 0]
        self.wants = tuple(name in self.names for name in _NAMES)
        # stand-ins, of the right dimensions, for the gradients not asked for
        self._unused = (new((1, 1, 1)), new((1, 1)), new((1, 1)), new(1))

    def valid(self, params, X, names) -> bool:
        """Whether this step still computes the network ``params`` on inputs like ``X``."""
        tensors = tuple(params.values())
        return (len(tensors) == len(self.tensors)
                and all(a is b for a, b in zip(tensors, self.tensors))
                and tuple(names) == self.names and X.dtype is self.dtype and X.is_cpu
                and (X.dim() == 2) == self.shared and X.shape[-2] == self.n
                and not (torch.is_grad_enabled()
                         and (X.requires_grad or any(t.requires_grad for t in tensors)))
                and _plain(X))

    def forward(self, X, multiplier=None):
        """The outputs ``(K, n, 1)`` (a buffer overwritten by the next call)."""
        if multiplier is not None:
            self.scale[:] = multiplier.numpy() * self.spec.output_multiplier
        x = X.numpy()
        self.kernels.forward(x[None] if self.shared else x, self.shared, self.W, self.b,
                             self.A, self.scale, self.c, self.Xp, self.Wt, self.H,
                             self.stores_h, self._out)
        return self.out

    def backward(self, grad_out):
        """Fresh gradients of ``names`` from ``dLoss/dOutput`` ``(K, n, 1)``."""
        # numpy allocations in the gradients' own shapes (np.empty costs 0.2 us, torch.empty
        # 2 us, a torch view 1 us), written through (K, m) / (K,) views of W1's and b1's
        K, m, d = self.W.shape
        arrays = [np.empty(_SHAPES[name](K, m, d), dtype=self.W.dtype) if want else unused
                  for name, want, unused in zip(_NAMES, self.wants, self._unused)]
        gW, gb, gA, gc = arrays
        backward = self.kernels.backward_bias if self.wants[1] else self.kernels.backward
        backward(self.Xp, self.shared, self.H, self.A, self.scale,
                 grad_out.numpy()[:, :, 0], gW, gb, gA[:, 0, :] if self.wants[2] else gA,
                 gc[:, 0] if self.wants[3] else gc, self.wants)
        grads = dict(zip(_NAMES, arrays))
        return {name: torch.from_numpy(grads[name]) for name in self.names}


def two_layer_step(spec, params, X, names, workspace) -> TwoLayerStep | None:
    """The fused step for this network and batch, or None where the torch path must run."""
    if workspace is None or _mode != "auto":
        return None
    key = ("fused", X.dim(), X.shape[-2])
    step = workspace.get(key)
    if step is not None and step.valid(params, X, names):
        return step
    if not _applies(spec, params, X, names):
        return None
    step = workspace[key] = TwoLayerStep(spec, params, X, names)
    return step


def pattern_pass(spec, params, X, patterns0, gates0):
    """The diagnostics pass of :func:`sklearn_overparam.diagnostics.network_pass` for a
    thin-input two-layer network in one kernel: ``(out, [changed fraction], pseudo)``, or
    None where the torch pass must run.

    ``params`` is a stack of ``K`` networks, ``X`` the shared rows ``(n, d)``, and
    ``patterns0`` / ``gates0`` the one-element lists of the ``(K0, n, m)`` initial ReLU
    patterns and gates (``K`` a multiple of ``K0``: snapshots of a ``K0``-stack). Nothing
    of size ``(K, n, m)`` is stored: this is the recorder's pass over every snapshot.
    """
    W = params["W0"]
    if (X.dim() != 2 or len(patterns0) != 1 or len(gates0) != 1
            or not fuses(spec, None, W.dtype)):
        return None
    P0, G0 = patterns0[0], gates0[0]
    if (not _usable([X, G0, *params.values()], W.dtype) or P0.dtype is not torch.bool
            or P0.dim() != 3 or W.shape[0] % P0.shape[0]):
        return None
    K, m, d = W.shape
    n = X.shape[0]
    dtype = W.numpy().dtype
    # the inputs with a ones column [x, 1] and the weights [W, b]^T block by block, by
    # numpy (one call for the whole stack: this pass is not in a training step)
    Xp = np.ones((n, d + 1), dtype=dtype)
    Xp[:, :d] = X.numpy()
    Wb = np.zeros((K, _blocks(m) * CHUNK, d + 1), dtype=dtype)
    Wb[:, :m, :d] = W.numpy()
    if "b0" in params:
        Wb[:, :m, d] = params["b0"].numpy()
    Wt = np.ascontiguousarray(Wb.reshape(K, -1, CHUNK, d + 1).transpose(0, 1, 3, 2))
    c = params["b1"].numpy()[:, 0] if "b1" in params else np.zeros(K, dtype=dtype)
    out, pseudo = torch.empty((K, n, 1), dtype=W.dtype), torch.empty((K, n, 1), dtype=W.dtype)
    changed = np.empty(K, dtype=np.int64)
    _kernels(d).pattern(Xp, Wt, params["W1"].numpy()[:, 0, :],
                  np.full(K, spec.output_multiplier, dtype=dtype), c, P0.numpy(),
                  G0.contiguous().numpy(), out.numpy()[..., 0], pseudo.numpy()[..., 0],
                  changed)
    fraction = torch.from_numpy(changed.astype(np.float64) / (n * m))
    return out, [fraction], pseudo
