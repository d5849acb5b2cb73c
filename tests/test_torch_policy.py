"""_torch.py: device/dtype resolution, seeds and thread limits."""

import numpy as np
import pytest
import torch

from sklearn_overparam import TwoLayerReLURegressor
from sklearn_overparam._torch import (
    draw_seeds,
    make_generator,
    resolve_device,
    resolve_dtype,
    thread_limit,
)


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
