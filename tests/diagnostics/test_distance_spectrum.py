"""Distances from init and spectra against numpy."""

import math

import numpy as np
import pytest
import torch

from sklearn_overparam.diagnostics import (
    effective_rank,
    max_scaled_distance,
    relative_distance_from_init,
    singular_value_gap,
    top_singular_values,
)


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    W0 = rng.standard_normal((40, 7))
    return W0 + 0.05 * rng.standard_normal((40, 7)), W0


def test_relative_distance_matches_numpy(pair):
    """||W - W0||_F / ||W0||_F, for arrays, float32 tensors and lists of layers."""
    W, W0 = pair
    expected = np.linalg.norm(W - W0) / np.linalg.norm(W0)
    assert relative_distance_from_init(W, W0) == pytest.approx(expected, rel=1e-14)
    got = relative_distance_from_init(torch.as_tensor(W, dtype=torch.float32),
                                      torch.as_tensor(W0, dtype=torch.float32))
    assert got == pytest.approx(expected, rel=1e-4)
    b0 = np.arange(1.0, 5.0)
    got = relative_distance_from_init([W, b0 + 1.0], [W0, b0])
    assert got == pytest.approx([expected, 2.0 / np.linalg.norm(b0)], rel=1e-14)


def test_relative_distance_errors(pair):
    W, W0 = pair
    with pytest.raises(ValueError, match="must not be all zeros"):
        relative_distance_from_init(W, np.zeros_like(W0))
    with pytest.raises(ValueError, match="must have the shape of"):
        relative_distance_from_init(W, W0[:3])
    with pytest.raises(ValueError, match="list of 2 layers"):
        relative_distance_from_init([W, W], W0)


def test_max_scaled_distance_matches_numpy():
    """sqrt(m) max_l ||W_l - W_l0||_F with m the hidden width (not the output fan-out)."""
    rng = np.random.default_rng(1)
    shapes = [(16, 5), (16, 16), (1, 16)]
    W0 = [rng.standard_normal(s) for s in shapes]
    W = [w + s * rng.standard_normal(w.shape) for w, s in zip(W0, (0.01, 0.03, 0.2))]
    expected = math.sqrt(16) * max(np.linalg.norm(a - b) for a, b in zip(W, W0))
    assert max_scaled_distance(W, W0) == pytest.approx(expected, rel=1e-14)
    assert max_scaled_distance(W, W0, width=4) == pytest.approx(expected / 2, rel=1e-14)
    assert max_scaled_distance(W[0], W0[0]) == pytest.approx(
        4 * np.linalg.norm(W[0] - W0[0]), rel=1e-14)
    with pytest.raises(ValueError, match="one width"):
        max_scaled_distance([W[0], rng.standard_normal((8, 16)), W[2]],
                            [W0[0], rng.standard_normal((8, 16)), W0[2]])
    with pytest.raises(ValueError, match="`width` must be a positive integer"):
        max_scaled_distance(W, W0, width=0)


def test_top_singular_values_match_numpy(pair):
    """The k largest singular values of W and of W - W0, as numpy.linalg.svd."""
    W, W0 = pair
    np.testing.assert_allclose(top_singular_values(W, k=5),
                               np.linalg.svd(W, compute_uv=False)[:5], rtol=1e-12)
    np.testing.assert_allclose(top_singular_values(W, k=7, W0=W0),
                               np.linalg.svd(W - W0, compute_uv=False), rtol=1e-12)
    s32 = top_singular_values(torch.as_tensor(W, dtype=torch.float32), k=3)
    np.testing.assert_allclose(s32, np.linalg.svd(W, compute_uv=False)[:3], rtol=1e-5)
    with pytest.raises(ValueError, match="at most min"):
        top_singular_values(W, k=8)
    with pytest.raises(ValueError, match="`k` must be a positive integer"):
        top_singular_values(W, k=0)


def test_effective_rank_definitions():
    """Entropy rank exp(H(s / sum s)) and participation (sum s)^2 / sum s^2 vs numpy."""
    rng = np.random.default_rng(2)
    Q1, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    Q2, _ = np.linalg.qr(rng.standard_normal((10, 10)))
    s = np.array([5.0, 3.0, 1.0, 0.5, 0.1, 0, 0, 0, 0, 0])
    W = Q1[:, :10] @ np.diag(s) @ Q2.T
    p = s[s > 0] / s.sum()
    assert effective_rank(W) == pytest.approx(np.exp(-np.sum(p * np.log(p))), rel=1e-9)
    assert effective_rank(W, kind="participation") == pytest.approx(
        s.sum() ** 2 / np.sum(s ** 2), rel=1e-9)
    # r equal singular values: both kinds give r; scale does not matter
    flat = Q1[:, 10:14] @ Q2[:, :4].T * 7.0
    assert effective_rank(flat) == pytest.approx(4.0, rel=1e-9)
    assert effective_rank(flat, kind="participation") == pytest.approx(4.0, rel=1e-9)
    # of the update
    assert effective_rank(W + flat, W0=flat) == pytest.approx(effective_rank(W), rel=1e-9)
    with pytest.raises(ValueError, match="must be nonzero"):
        effective_rank(flat, W0=flat)
    with pytest.raises(ValueError, match="`kind` must be"):
        effective_rank(W, kind="stable")


def test_singular_value_gap_low_rank_update():
    """A rank-20 update plus small noise: s_20 / s_21 is large; a Gaussian matrix's is ~1."""
    rng = np.random.default_rng(3)
    W0 = rng.standard_normal((500, 200)) / np.sqrt(200)
    update = rng.standard_normal((500, 20)) @ rng.standard_normal((20, 200)) * 0.01
    W = W0 + update + 1e-4 * rng.standard_normal((500, 200))
    s = np.linalg.svd(W - W0, compute_uv=False)
    assert singular_value_gap(W, 20, W0=W0) == pytest.approx(s[19] / s[20], rel=1e-10)
    assert singular_value_gap(W, 20, W0=W0) >= 3
    assert singular_value_gap(W0, 20) <= 1.05
    assert singular_value_gap(np.diag([4.0, 2.0, 0.0]), 2) == float("inf")
    with pytest.raises(ValueError, match=r"`index` must be in \[1, 2\]"):
        singular_value_gap(np.diag([4.0, 2.0, 1.0]), 3)
    with pytest.raises(ValueError, match="1-based"):
        singular_value_gap(np.diag([4.0, 2.0, 1.0]), 1.5)
