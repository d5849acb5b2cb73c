"""_torch.py: device/dtype resolution, seeds and thread limits."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from sklearn_overparam import TwoLayerReLURegressor, _torch
from sklearn_overparam._torch import (
    draw_seeds,
    make_generator,
    resolve_device,
    resolve_dtype,
    thread_limit,
)


@pytest.fixture
def two_threads(monkeypatch):
    """torch at 2 intra-op threads, without the suite's OMP_NUM_THREADS=1."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_resolve_dtype_accepts_names_and_types():
    """Strings, numpy and torch float types map to torch dtypes; anything else is refused."""
    assert resolve_dtype("float32") is torch.float32
    assert resolve_dtype(np.float64) is torch.float64
    assert resolve_dtype(torch.float32) is torch.float32
    with pytest.raises(ValueError, match="`dtype` must be 'float32' or 'float64'"):
        resolve_dtype("int8")


def test_resolve_device_explains_missing_cuda(monkeypatch):
    """Asking for CUDA without it is a ValueError that says so; 'auto' falls back to CPU."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="`device` must be"):
        resolve_device("tpu:0")


def test_resolve_device_accepts_torch_device():
    """A torch.device is accepted like its string."""
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device(torch.device("cpu", 0)).type == "cpu"


@pytest.mark.parametrize("device", ["meta", "xla", "bogus", torch.device("meta"), 3.5])
def test_resolve_device_rejects_unsupported_types(device):
    """Device types other than cpu/cuda/mps fail at once with the list of choices."""
    with pytest.raises(ValueError, match=r"`device` must be 'cpu', 'cuda'.*; got "):
        resolve_device(device)


@pytest.mark.parametrize("device", [torch.device("cuda"), torch.device("cuda", 0), "cuda:0"])
def test_resolve_device_torch_cuda_without_cuda(monkeypatch, device):
    """torch.device('cuda') on a CPU-only machine gets the same advice as the string."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available.*device='cpu'"):
        resolve_device(device)


def test_resolve_device_checks_cuda_index(monkeypatch):
    """A CUDA index beyond the machine's devices is a ValueError, not a later torch error."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    assert resolve_device(torch.device("cuda")) == torch.device("cuda")
    with pytest.raises(ValueError, match="has 1 CUDA device"):
        resolve_device("cuda:3")


def test_fit_with_unavailable_device_raises_clear_error(monkeypatch):
    """fit(device='cuda') on a CPU-only machine fails before training with advice."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X = np.random.default_rng(0).standard_normal((20, 3))
    with pytest.raises(ValueError, match="device='cpu'"):
        TwoLayerReLURegressor(n_hidden=4, device="cuda").fit(X, X[:, 0])


def test_seeds_are_reproducible_and_generators_local():
    """Seeds come from the RandomState; generators never touch torch's global RNG."""
    state = torch.get_rng_state()
    a = draw_seeds(np.random.RandomState(0), 3)
    b = draw_seeds(np.random.RandomState(0), 3)
    assert a == b and len(set(a)) == 3
    x = torch.randn(4, generator=make_generator(a[0]))
    y = torch.randn(4, generator=make_generator(a[0]))
    assert torch.equal(x, y)
    assert torch.equal(state, torch.get_rng_state())


def test_thread_limit_respects_explicit_budget_and_restores():
    """thread_limit caps torch's intra-op threads and restores the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with thread_limit(1) as n:
            assert n == 1 and torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_thread_limit_follows_threadpool_limits(two_threads):
    """Under threadpool_limits(1) torch runs on one thread inside and after thread_limit."""
    with threadpool_limits(1):
        with thread_limit() as n:
            assert n == 1 and torch.get_num_threads() == 1
        if _torch._threads_are_openmp():
            assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


def test_thread_limit_caps_mkl_under_threadpool_limits(two_threads):
    """torch's static MKL, which threadpoolctl misses, is held to 1 thread and restored."""
    if _torch._mkl_threads() is None:
        pytest.skip("torch has no MKL, or its OpenMP pool is not threadpoolctl's")
    with threadpool_limits(1):
        assert _torch._mkl_threads() == 2
        with thread_limit():
            assert _torch._mkl_threads() == 1
        assert _torch._mkl_threads() == 2 and torch.get_num_threads() == 1
    assert _torch._mkl_threads() == 2 and torch.get_num_threads() == 2


def test_openmp_limit_queried_when_torch_does_not_follow_it(two_threads, monkeypatch):
    """On torch builds without an OpenMP pool, threadpoolctl's OpenMP limit is the budget."""
    monkeypatch.setattr(_torch, "_threads_are_openmp", lambda: False)
    with threadpool_limits(1):
        assert _torch._openmp_limit() == 1
    with threadpool_limits(2):
        assert _torch._openmp_limit() == 2


def test_thread_limit_respects_omp_num_threads_in_fresh_process():
    """OMP_NUM_THREADS=1 (as joblib workers set it) caps torch even after set_num_threads(2)."""
    code = (
        "import torch\n"
        "from sklearn_overparam._torch import thread_limit\n"
        "torch.set_num_threads(2)\n"
        "with thread_limit() as n:\n"
        "    print(n, torch.get_num_threads())\n"
        "print(torch.get_num_threads())\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()
    assert out == ["1", "1", "2"]


def test_thread_limit_is_cheap(two_threads):
    """Entering and leaving thread_limit costs microseconds, not a threadpoolctl query."""
    with thread_limit():
        pass
    times = []
    for _ in range(200):
        t0 = time.perf_counter()
        with thread_limit():
            pass
        times.append(time.perf_counter() - t0)
    assert np.median(times) < 200e-6, f"median {np.median(times) * 1e6:.0f} us"
