"""The stacked networks' matrix products, on the faster of PyTorch's two CPU GEMMs.

PyTorch computes a float32 ``torch.bmm`` on CPU with MKL's ``sgemm``. MKL chooses its
kernels by processor vendor and runs no AVX-512 code on AMD processors, while the oneDNN
matmul that PyTorch also ships chooses by instruction set. Which is faster depends on the
processor, not only on its instruction set; on two AMD EPYC machines with AVX-512 (one
thread, the products of a training step):

=========================================  ============  ==============  ===============
product (float32, one thread)              A: MKL        A: oneDNN       B: oneDNN / MKL
=========================================  ============  ==============  ===============
``(50 x 1000) @ (1000 x 1000)``            1.36 ms       0.62-0.71 ms    0.97x the time
``(1000 x 50) @ (50 x 1000)`` (gradient)   1.44 ms       0.64 ms         1.2x
``(64 x 256) @ (256 x 256)``               103-108 us    64-70 us        1.15x (of 91 us)
``(50 x 6) @ (6 x 1000)`` (thin input)     15 us         28 us           3x
=========================================  ============  ==============  ===============

(A: oneDNN 1.5-2.2x faster; B, a Zen 4 machine: MKL 1.0-1.2x faster.) So the first
routing decision of a machine times the two on a step's products (:func:`calibrate`,
about 20 ms) and stores the answer in the user's cache directory; every later process on
that machine reads it. oneDNN's matmul is reached through
``torch.ops.mkldnn._linear_pointwise`` (the op that ``torch.compile`` emits for CPU linear
layers), in full float32 precision. It takes no ``out=`` and costs about 15 us a call, so
:func:`bmm` routes to it only the products of at least :data:`ONEDNN_MIN_MACS`
multiply-adds per network, one call per network of the stack, and only when it can act:
float32 on CPU, outside autograd and ``torch.func`` transforms, on an x86 processor with
AVX-512, where the stored measurement found it at least :data:`ONEDNN_MIN_SPEEDUP` times
faster. Everything else is ``torch.bmm`` / ``torch.baddbmm``. :func:`cpu_matmul` switches
the routing off (or forces it) for a block of code, e.g. to compare the two.

The choice depends only on the shapes, the dtype and the machine's stored answer, never
on timings taken during a fit: the same fit on the same machine always takes the same
kernels, so results repeat bit for bit, and a network trained alone or as copy ``k`` of
a stack gets the same products. Where the answer cannot be stored (no writable cache
directory), no measurement is made and every product stays on MKL.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import sys
import time

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


# oneDNN takes the products of a machine where it was measured at least this much faster
# than MKL (a margin, so that timing noise cannot decide between two near-equal kernels)
ONEDNN_MIN_SPEEDUP = 1.15
_CHOICES = ("onednn", "blas")


@functools.cache
def _auto() -> bool:
    machine = platform.machine().lower()
    x86 = machine in ("x86_64", "amd64", "x64", "i686", "x86")
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # pragma: no cover - torch < 2.1
        capability = ""
    if not (x86 and capability.startswith("AVX512") and onednn_available()):
        return False
    return machine_choice() == "onednn"


def _cpu_identity() -> str:
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            fields = {}
            for line in fh:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
                if not line.strip():
                    break
        model = "|".join(fields.get(k, "") for k in ("vendor_id", "cpu family", "model",
                                                     "model name", "stepping", "flags"))
    except OSError:
        pass
    return f"{model}|{torch.__version__}|{torch.backends.cpu.get_cpu_capability()}"


def cache_path() -> str:
    """Where this machine's routing answer is stored: ``$SKLEARN_OVERPARAM_CACHE`` or
    ``$XDG_CACHE_HOME/sklearn_overparam`` (``~/.cache/sklearn_overparam``), one file per
    processor and torch version."""
    root = os.environ.get("SKLEARN_OVERPARAM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "sklearn_overparam")
    key = hashlib.sha256(_cpu_identity().encode()).hexdigest()[:16]
    return os.path.join(root, f"cpu-matmul-{key}.txt")


def _read(path):
    try:
        with open(path) as fh:
            choice = fh.read().strip()
    except OSError:
        return None
    return choice if choice in _CHOICES else None


def calibrate(repeats: int = 15) -> float:
    """oneDNN's speed-up over MKL on a training step's products at width 256.

    The forward product, the backward one and the weight gradient of a ``(64 x 256)``
    batch through a ``256 x 256`` layer, through each path, interleaved ``repeats``
    times; the ratio of the medians (> 1: oneDNN is faster).
    """
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(1, 64, 256, generator=gen)
    g = torch.randn(1, 64, 256, generator=gen)
    W = torch.randn(1, 256, 256, generator=gen)
    dnn = Weights(W)
    Wt = W.transpose(1, 2)

    def blas():
        torch.bmm(h, Wt), torch.bmm(g, W), torch.bmm(g.transpose(1, 2), h)

    def onednn():
        dnn.forward(h), dnn.backward(g), weight_gradient(g, h)

    times = {blas: [], onednn: []}
    with torch.no_grad():
        for f in times:
            f()
        for _ in range(repeats):
            for f, seen in times.items():
                start = time.perf_counter()
                f()
                seen.append(time.perf_counter() - start)
    median = {f: sorted(seen)[len(seen) // 2] for f, seen in times.items()}
    return median[blas] / median[onednn]


def machine_choice() -> str:
    """This machine's stored routing answer (``"onednn"`` or ``"blas"``), measured and
    stored by the first call on the machine; ``"blas"`` where nothing can be stored.

    The answer is written once (a complete file linked into place, never overwritten), so
    processes that measure at the same time all read the first one's.
    """
    path = cache_path()
    if os.path.exists(path):  # an unreadable or foreign file: MKL, and no measurement
        return _read(path) or "blas"
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        measured = "onednn" if calibrate() >= ONEDNN_MIN_SPEEDUP else "blas"
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            fh.write(measured + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    except OSError:
        return "blas"
    return _read(path) or "blas"


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
    processors; PyTorch's oneDNN matmul was measured 1.5-2.2x faster on the products of a
    training step on one such machine, and 1.0-1.2x slower on another. By default
    (``"auto"``) a layer's products go to oneDNN when they have at least 2^21
    multiply-adds per network, are float32 on the CPU, are not tracked by autograd or
    ``torch.func``, the processor is x86 with AVX-512, and this machine's stored
    measurement (:func:`machine_choice`, made once per machine) found oneDNN at least
    1.15x faster (never while ``torch.backends.mkldnn.flags(enabled=False)`` is in
    force). The switch is process-wide (not per thread); the previous routing is
    restored on exit.

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
