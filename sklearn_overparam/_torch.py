"""Device, dtype, random-number and thread policy: the only module that decides them.

Every random draw in the library goes through a local :class:`torch.Generator` made
here from a scikit-learn ``random_state``; nothing seeds or reads torch's global RNG.
"""

from __future__ import annotations

import contextlib
import os

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

    ``"auto"`` picks CUDA when available, else CPU. Asking for CUDA on a machine
    without it raises a ValueError that says so.
    """
    if isinstance(device, torch.device):
        return device
    if device is None or device == "cpu":
        return torch.device("cpu")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"`device` must be 'cpu', 'cuda', 'cuda:<index>', 'mps' or 'auto'; got {device!r}."
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"`device` is {device!r} but CUDA is not available on this machine. "
            "Use device='cpu' or device='auto'."
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"`device` is {device!r} but MPS is not available on this machine.")
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


def _joblib_worker_threads() -> int | None:
    """Thread budget imposed by the environment (threadpoolctl / joblib workers), if any."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return None
    limits = [
        info.get("num_threads")
        for info in threadpool_info()
        if info.get("user_api") == "openmp" and info.get("num_threads")
    ]
    return min(limits) if limits else None


@contextlib.contextmanager
def thread_limit(n_threads: int | None = None):
    """Run torch with at most ``n_threads`` intra-op threads, restoring the count after.

    With ``n_threads=None`` the budget is the smallest of torch's current setting, the
    OpenMP limit set by ``threadpoolctl.threadpool_limits`` or a joblib worker
    (``OMP_NUM_THREADS``), so training never oversubscribes the cores.
    """
    before = torch.get_num_threads()
    budget = [before]
    if n_threads is not None:
        budget.append(int(n_threads))
    elif before > 1:  # already single-threaded: nothing to ask threadpoolctl (~3 ms)
        env = os.environ.get("OMP_NUM_THREADS")
        if env and env.isdigit() and int(env) > 0:
            budget.append(int(env))
        limit = _joblib_worker_threads()
        if limit:
            budget.append(limit)
    target = max(1, min(budget))
    if target != before:
        torch.set_num_threads(target)
    try:
        yield target
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)

