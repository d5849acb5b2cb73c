"""The stacked networks' matrix products, on the faster of PyTorch's two CPU GEMMs.

PyTorch computes a float32 ``torch.bmm`` on CPU with MKL's ``sgemm``. MKL chooses its
kernels by processor vendor and runs no AVX-512 code on AMD processors, while the oneDNN
matmul that PyTorch also ships chooses by instruction set. On an AMD EPYC with AVX-512,
one thread, the products of a training step run 1.5-2.2x faster through oneDNN:

=========================================  ===========  =============
product (float32, one thread)              MKL ``bmm``  oneDNN
=========================================  ===========  =============
``(50 x 1000) @ (1000 x 1000)``            1.36 ms      0.62-0.71 ms
``(1000 x 50) @ (50 x 1000)`` (gradient)   1.44 ms      0.64 ms
``(64 x 256) @ (256 x 256)``               103-108 us   64-70 us
``(50 x 6) @ (6 x 1000)`` (thin input)     15 us        28 us
=========================================  ===========  =============

oneDNN's matmul is reached through ``torch.ops.mkldnn._linear_pointwise`` (the op that
``torch.compile`` emits for CPU linear layers), in full float32 precision. It takes no
``out=`` and costs about 15 us a call, so :func:`bmm` routes to it only the products of
at least :data:`ONEDNN_MIN_MACS` multiply-adds per network, one call per network of the
stack, and only when it can act: float32 on CPU, outside autograd and ``torch.func``
transforms, on an x86 processor with AVX-512 (where it was measured). Everything else
is ``torch.bmm`` / ``torch.baddbmm``. :func:`cpu_matmul` switches the routing off (or
forces it) for a block of code, e.g. to compare the two.

The choice depends only on the shapes, the dtype and the machine, never on timings:
the same fit on the same machine always takes the same kernels, so results repeat
bit for bit, and a network trained alone or as copy ``k`` of a stack gets the same
products.
"""

from __future__ import annotations

import contextlib
import functools
import platform
import sys

import torch

# Per-network multiply-adds from which one oneDNN call beats the MKL kernel: below it the
# call's fixed cost dominates (measured crossover near 1-2 M: (64 x 256) @ (256 x 64)).
ONEDNN_MIN_MACS = 2**21

_MODES = ("auto", "onednn", "blas")
_mode = "auto"


@functools.cache
def _op():
    """The oneDNN linear op (its default overload: no overload resolution per call)."""
    ops = getattr(torch.ops, "mkldnn", None)
    packet = None if ops is None else getattr(ops, "_linear_pointwise", None)
    return None if packet is None else packet.default


@functools.cache
def onednn_available() -> bool:
    """Whether PyTorch's oneDNN matmul runs here and agrees with ``torch.mm`` (checked once)."""
    op = _op()
    if op is None or not torch.backends.mkldnn.is_available():
        return False
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(7, 5, generator=gen)
    b = torch.randn(3, 5, generator=gen)
    bias = torch.randn(3, generator=gen)
    try:
        with torch.no_grad():
            out = op(a, b, bias, "none", [], "")
    except (RuntimeError, NotImplementedError):
        return False
    ref = (a.double() @ b.double().T + bias.double()).float()
    return out.shape == ref.shape and bool(torch.allclose(out, ref, rtol=1e-5, atol=1e-5))


@functools.cache
def _auto() -> bool:
    machine = platform.machine().lower()
    x86 = machine in ("x86_64", "amd64", "x64", "i686", "x86")
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # pragma: no cover - torch < 2.1
        capability = ""
    return x86 and capability.startswith("AVX512") and onednn_available()


def mode() -> str:
    """The routing in force: ``"auto"``, ``"onednn"`` or ``"blas"`` (see :func:`cpu_matmul`)."""
    return _mode


def _enabled() -> bool:
    # torch.backends.mkldnn.flags(enabled=False) turns oneDNN off for us too
    if _mode == "blas" or not torch._C._get_mkldnn_enabled():
        return False
    return onednn_available() if _mode == "onednn" else _auto()


def cpu_matmul(mode: str):
    """Route the networks' CPU float32 matrix products within a ``with`` block.

    PyTorch's CPU ``bmm`` is MKL's ``sgemm``, which runs no AVX-512 code on AMD
    processors; PyTorch's oneDNN matmul was measured 1.5-2.2x faster there on the products
    of a training step. By default (``"auto"``) a layer's products go to oneDNN when they
    have at least 2^21 multiply-adds per network, are float32 on the CPU, are not tracked
    by autograd or ``torch.func``, and the processor is x86 with AVX-512 (never while
    ``torch.backends.mkldnn.flags(enabled=False)`` is in force). The switch is
    process-wide (not per thread); the previous routing is restored on exit.

    Parameters
    ----------
    mode : {"auto", "onednn", "blas"}
        ``"blas"`` keeps every product on ``torch.bmm`` (MKL); ``"onednn"`` uses oneDNN
        for the products large enough to gain on any processor where it runs; ``"auto"``
        is the default rule above.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam import DeepReLUClassifier
    >>> from sklearn_overparam.nn import cpu_matmul
    >>> X = np.random.RandomState(0).normal(size=(40, 5))
    >>> y = X[:, 0] > 0
    >>> with cpu_matmul("blas"):  # e.g. to compare against MKL's results
    ...     clf = DeepReLUClassifier(width=32, max_iter=2, tol=None).fit(X, y)
    """
    return process_mode(sys.modules[__name__], mode, _MODES)


@contextlib.contextmanager
def process_mode(module, mode: str, modes: tuple[str, ...]):
    """Set ``module._mode`` to ``mode`` (one of ``modes``) for a ``with`` block.

    The kernel switches of this package (:func:`cpu_matmul`, :func:`.fused_kernels`) are
    process-wide module state; the previous mode is restored on exit.
    """
    if mode not in modes:
        raise ValueError(f"`mode` must be one of {modes}; got {mode!r}.")
    before, module._mode = module._mode, mode
    try:
        yield
    finally:
        module._mode = before


_wrapped = getattr(getattr(torch._C, "_functorch", None), "is_functorch_wrapped_tensor", None)


def _plain(t: torch.Tensor) -> bool:
    return _wrapped is None or not _wrapped(t)


def routes(p: int, q: int, r: int, ref: torch.Tensor) -> bool:
    """Whether a ``(p, q) @ (q, r)`` product per network of ``ref``'s dtype, device and
    autograd state goes to oneDNN."""
    if ref.dtype is not torch.float32 or not ref.is_cpu or p * q * r < ONEDNN_MIN_MACS:
        return False
    if torch.is_grad_enabled() and ref.requires_grad:
        return False
    return _enabled() and _plain(ref)


def _stack(parts, out=None):
    """The per-network 2-d results as one ``(K, ...)`` tensor (into ``out`` when given)."""
    if len(parts) == 1:
        return parts[0].unsqueeze(0)
    return torch.stack(parts) if out is None else torch.stack(parts, out=out)


class Weights:
    """One layer's weight stack ``W`` ``(K, out, in)`` (and bias ``(K, out)``) prepared for
    oneDNN: the per-network views are made once (a view costs 1-3 us) and stay valid
    while the tensors are updated in place.

    ``forward(h) = h W^T + b`` and ``backward(g) = g W``, for ``h`` ``(K, n, in)`` or
    shared ``(n, in)`` and ``g`` ``(K, n, out)``.
    """

    __slots__ = ("K", "W", "Wt", "b")

    def __init__(self, W: torch.Tensor, b: torch.Tensor | None = None):
        self.K = W.shape[0]
        self.W = [W[k] for k in range(self.K)]
        self.Wt = [w.t() for w in self.W]
        self.b = [None] * self.K if b is None else [b[k] for k in range(self.K)]

    def forward(self, h: torch.Tensor, out: torch.Tensor | None = None,
                relu: bool = False) -> torch.Tensor:
        """``h W^T + b``, or ``relu(h W^T + b)`` computed in the product (oneDNN post-op)."""
        op, attr = _op(), "relu" if relu else "none"
        if h.dim() == 3 and self.K == 1:  # a 3-d input is one call: no per-network views
            return op(h, self.W[0], self.b[0], attr, [], "")
        hs = [h] * self.K if h.dim() == 2 else h.unbind(0)
        return _stack([op(x, w, b, attr, [], "") for x, w, b in zip(hs, self.W, self.b)],
                      out)

    def backward(self, g: torch.Tensor) -> torch.Tensor:
        op = _op()
        if self.K == 1:
            return op(g, self.Wt[0], None, "none", [], "")
        return _stack([op(x, wt, None, "none", [], "") for x, wt in zip(g.unbind(0), self.Wt)])


def weight_gradient(g: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``g^T h``, ``(K, out, in)``, through oneDNN, for ``g`` ``(K, n, out)`` and ``h``
    ``(K, n, in)`` or shared ``(n, in)`` (the caller checked :func:`routes`).

    ``g^T`` is copied to rows first: oneDNN's kernel for a transposed left operand is
    1.3-2.7x slower than the small copy (``(50 x 1000)``: 1.45-1.55 ms against 0.58 ms).
    """
    op = _op()
    gt = g.transpose(1, 2).contiguous()
    if g.shape[0] == 1:
        return op(gt, (h if h.dim() == 2 else h[0]).t(), None, "none", [], "")
    hs = [h] * g.shape[0] if h.dim() == 2 else h.unbind(0)
    return _stack([op(x, y.t(), None, "none", [], "") for x, y in zip(gt.unbind(0), hs)])


def bmm(a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None = None,
        out: torch.Tensor | None = None) -> torch.Tensor:
    """``a @ b (+ bias)`` for a stack: ``a`` ``(K, p, q)`` or shared ``(p, q)``, ``b``
    ``(K, q, r)`` or shared ``(q, r)``, ``bias`` ``(K, 1, r)`` or None; returns
    ``(K, p, r)``.

    ``out`` is a buffer the result may be written to; a oneDNN product of one network is
    a fresh tensor.
    """
    p, q, r = a.shape[-2], a.shape[-1], b.shape[-1]
    if b.dim() == 3 and routes(p, q, r, a) and routes(p, q, r, b):
        return Weights(b.transpose(1, 2), None if bias is None else bias.squeeze(1)).forward(
            a, out)
    if a.dim() == 2 or b.dim() == 2:
        z = torch.matmul(a, b) if out is None else torch.matmul(a, b, out=out)
        return z if bias is None else z.add_(bias)
    if bias is None:
        return torch.bmm(a, b, out=out)
    return torch.baddbmm(bias, a, b, out=out)
