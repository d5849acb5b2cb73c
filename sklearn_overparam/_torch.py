"""Device, dtype, random-number and thread policy: the only module that decides them.

Every random draw in the library goes through a local :class:`torch.Generator` made
here from a scikit-learn ``random_state``; nothing seeds or reads torch's global RNG.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re

import numpy as np
import torch

_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    np.float32: torch.float32,
    np.float64: torch.float64,
    torch.float32: torch.float32,
    torch.float64: torch.float64,
}

_MAX_SEED = 2**63 - 1

_DEVICE_TYPES = ("cpu", "cuda", "mps")

_HAS_MKL = torch.backends.mkl.is_available()
_MKL_THREADS = re.compile(r"mkl_get_max_threads\(\) : (\d+)")


def resolve_dtype(dtype) -> torch.dtype:
    """Map ``"float32"``/``"float64"`` (or numpy/torch float types) to a torch dtype."""
    try:
        return _DTYPES[dtype]
    except (KeyError, TypeError):
        pass
    try:
        return _DTYPES[np.dtype(dtype).type]
    except (KeyError, TypeError) as exc:
        raise ValueError(
            f"`dtype` must be 'float32' or 'float64'; got {dtype!r}. "
            "Pass dtype='float32' (fast) or dtype='float64' (reference)."
        ) from exc


def resolve_device(device) -> torch.device:
    """Map ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"auto"`` to a torch device.

    A :class:`torch.device` is checked like its string. ``"auto"`` picks CUDA when
    available, else CPU. Another device type (``"meta"``, ``"xla"``, ...) or an accelerator
    this machine lacks raises a ValueError that says so.
    """
    if device is None or device == "cpu":
        return torch.device("cpu")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    unsupported = (
        f"`device` must be 'cpu', 'cuda', 'cuda:<index>', 'mps' or 'auto'; got {device!r}. "
        "Other torch device types are not supported; device='auto' picks CUDA when available."
    )
    if isinstance(device, torch.device):
        dev = device
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(unsupported) from exc
    if dev.type not in _DEVICE_TYPES:
        raise ValueError(unsupported)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"`device` is {device!r} but CUDA is not available on this machine. "
                "Use device='cpu' or device='auto'."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"`device` is {device!r} but this machine has {torch.cuda.device_count()} CUDA "
                "device(s). Use an index below that, or device='cuda'."
            )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            f"`device` is {device!r} but MPS is not available on this machine. "
            "Use device='cpu' or device='auto'."
        )
    return dev


def draw_seeds(random_state: np.random.RandomState, n: int) -> list[int]:
    """Draw ``n`` independent 63-bit seeds from a numpy ``RandomState``."""
    return [int(s) for s in random_state.randint(0, _MAX_SEED, size=n, dtype=np.int64)]


def make_generator(seed: int) -> torch.Generator:
    """A fresh CPU generator seeded with ``seed`` (draws are made on CPU, then moved)."""
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(seed))
    return gen


def to_tensor(X, *, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Copy an array-like into a contiguous tensor (never aliasing read-only memory)."""
    arr = np.ascontiguousarray(X, dtype=torch.empty((), dtype=dtype).numpy().dtype)
    if not arr.flags.writeable:
        arr = arr.copy()
    return torch.from_numpy(arr).to(device)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """Detach a tensor to a CPU numpy array."""
    return t.detach().to("cpu").numpy()


@functools.cache
def _threads_are_openmp() -> bool:
    """Whether torch's intra-op threads are the OpenMP pool that threadpoolctl limits.

    Then ``torch.get_num_threads()`` is ``omp_get_max_threads()``, which already reflects
    ``threadpoolctl.threadpool_limits`` and needs no threadpoolctl query (0.5-3 ms each).
    """
    return "ATen parallel backend: OpenMP" in torch.__config__.parallel_info()


@functools.cache
def _openmp_controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return None
    return ThreadpoolController().select(user_api="openmp")


def _openmp_limit() -> int | None:
    """The OpenMP thread limit, for torch builds whose count does not follow it."""
    if _threads_are_openmp():
        return None
    controller = _openmp_controller()
    if controller is None:
        return None
    limits = [info["num_threads"] for info in controller.info() if info.get("num_threads")]
    return min(limits) if limits else None


def _mkl_threads() -> int | None:
    """MKL's thread count, where torch's MKL can be re-capped with the OpenMP pool restored.

    torch links MKL statically, out of threadpoolctl's sight: under ``threadpool_limits(1)``
    torch reports one thread, but its matmuls still run on as many as
    ``torch.set_num_threads`` last set.
    """
    if not (_HAS_MKL and _threads_are_openmp()):
        return None
    controller = _openmp_controller()
    if controller is None or not controller.lib_controllers:
        return None
    match = _MKL_THREADS.search(torch.__config__.parallel_info())
    return int(match.group(1)) if match else None


def _env_threads() -> int | None:
    env = os.environ.get("OMP_NUM_THREADS")
    return int(env) if env and env.isdigit() and int(env) > 0 else None


@contextlib.contextmanager
def thread_limit(n_threads: int | None = None):
    """Run torch with at most ``n_threads`` intra-op threads, restoring the count after.

    With ``n_threads=None`` the budget is the smallest of torch's current setting (which
    follows ``threadpoolctl.threadpool_limits`` on OpenMP builds) and ``OMP_NUM_THREADS``
    (set in joblib workers), so training never oversubscribes the cores. MKL, which
    threadpoolctl cannot see inside torch, is held to the same budget.
    """
    before = torch.get_num_threads()
    budget = [before]
    if n_threads is not None:
        budget.append(int(n_threads))
    elif before > 1:
        budget += [b for b in (_env_threads(), _openmp_limit()) if b]
    target = max(1, min(budget))
    mkl_before = _mkl_threads()
    changed = target != before or (mkl_before is not None and mkl_before > target)
    if changed:
        torch.set_num_threads(target)
    try:
        yield target
    finally:
        if changed and mkl_before is not None:
            # torch.set_num_threads sets MKL and OpenMP together; put each back.
            torch.set_num_threads(mkl_before)
            if torch.get_num_threads() != before:
                for lib in _openmp_controller().lib_controllers:
                    lib.set_num_threads(before)
        elif torch.get_num_threads() != before:
            torch.set_num_threads(before)
