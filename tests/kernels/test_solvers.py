"""kernels/_solvers.py: ridge solves and the leave-one-out choice of the ridge."""

import numpy as np
import pytest
from sklearn.linear_model import RidgeCV

from sklearn_overparam.kernels import _solvers
from sklearn_overparam.kernels._solvers import (
    ridge_features,
    ridge_features_loo,
    ridge_kernel,
    ridge_kernel_loo,
)

GRID = np.logspace(-4, 3, 15)


def _problem(n, p, k, seed=0, noise=0.5):
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((n, p))
    Y = Phi @ rng.standard_normal((p, k)) / np.sqrt(p) + noise * rng.standard_normal((n, k))
    return Phi, (Y[:, 0] if k == 1 else Y)


def _brute_force_loo(K, Y, ridges):
    """Refit n times per ridge, leaving each sample out: the definition."""
    n = K.shape[0]
    out = []
    for lam in ridges:
        errors = []
        for i in range(n):
            keep = np.arange(n) != i
            coef = ridge_kernel(K[np.ix_(keep, keep)], Y[keep], lam)
            errors.append(Y[i] - K[i, keep] @ coef)
        out.append(np.mean(np.square(errors)))
    return np.array(out)


@pytest.mark.parametrize("k", [1, 3])
def test_ridge_kernel_loo_matches_brute_force(k):
    """The one-eigendecomposition LOO error equals refitting without each sample."""
    Phi, Y = _problem(25, 6, k)
    K = Phi @ Phi.T + 0.1 * np.exp(-np.square(Phi[:, :1] - Phi[:, :1].T))
    _, _, loo = ridge_kernel_loo(K, Y, GRID)
    np.testing.assert_allclose(loo, _brute_force_loo(K, Y, GRID), rtol=1e-8)


@pytest.mark.parametrize("shape", [(30, 8), (20, 50)], ids=["primal", "dual"])
@pytest.mark.parametrize("k", [1, 2])
def test_ridge_features_loo_matches_brute_force(shape, k):
    """Features LOO (primal p < n, dual p >= n) equals refitting without each sample."""
    Phi, Y = _problem(*shape, k)
    _, _, loo = ridge_features_loo(Phi, Y, GRID)
    np.testing.assert_allclose(loo, _brute_force_loo(Phi @ Phi.T, Y, GRID), rtol=1e-8)


@pytest.mark.parametrize("shape", [(40, 10), (25, 60)], ids=["primal", "dual"])
@pytest.mark.parametrize("k", [1, 3])
def test_ridge_loo_choice_matches_sklearn_ridgecv(shape, k):
    """The chosen ridge and LOO errors are RidgeCV's (alpha = ridge, no intercept)."""
    Phi, Y = _problem(*shape, k, seed=1, noise=1.0)
    ref = RidgeCV(alphas=GRID, fit_intercept=False, gcv_mode="eigen",
                  store_cv_results=True).fit(Phi, Y)
    ref_loo = ref.cv_results_.reshape(shape[0], -1, GRID.size).mean(axis=(0, 1))
    for _, ridge, loo in (ridge_features_loo(Phi, Y, GRID),
                          ridge_kernel_loo(Phi @ Phi.T, Y, GRID)):
        assert ridge == ref.alpha_
        assert GRID[0] < ridge < GRID[-1]
        np.testing.assert_allclose(loo, ref_loo, rtol=1e-8)
    np.testing.assert_allclose(ridge_features_loo(Phi, Y, GRID)[0].T, ref.coef_, rtol=1e-8)


@pytest.mark.parametrize("shape", [(40, 10), (25, 60)], ids=["primal", "dual"])
def test_ridge_loo_coef_equals_solver_at_chosen_ridge(shape):
    """The returned coefficients are ridge_features / ridge_kernel at the chosen ridge."""
    Phi, Y = _problem(*shape, 2, seed=2)
    coef, ridge, _ = ridge_features_loo(Phi, Y, GRID)
    assert coef.shape == (shape[1], 2)
    np.testing.assert_allclose(coef, ridge_features(Phi, Y, ridge), rtol=1e-8, atol=1e-12)
    K = Phi @ Phi.T
    dual, ridge, _ = ridge_kernel_loo(K, Y[:, 0], GRID)
    assert dual.shape == (shape[0],)
    np.testing.assert_allclose(dual, ridge_kernel(K, Y[:, 0], ridge), rtol=1e-8, atol=1e-12)


def test_ridge_loo_default_grid_scales_with_trace():
    """ridges=None is trace * logspace(-10, 0, 41): rescaling K rescales the choice."""
    Phi, y = _problem(40, 60, 1, seed=3, noise=2.0)
    K = Phi @ Phi.T
    coef, ridge, loo = ridge_kernel_loo(K, y)
    grid = np.trace(K) * np.logspace(-10, 0, 41)
    assert loo.size == 41 and np.isclose(grid, ridge, rtol=1e-12).any()
    np.testing.assert_allclose(loo, ridge_kernel_loo(K, y, grid)[2], rtol=1e-12)
    coef_big, ridge_big, loo_big = ridge_kernel_loo(1000.0 * K, y)
    np.testing.assert_allclose(ridge_big, 1000.0 * ridge, rtol=1e-12)
    np.testing.assert_allclose(loo_big, loo, rtol=1e-8)
    np.testing.assert_allclose(1000.0 * coef_big, coef, rtol=1e-8)
    Phi, y = _problem(60, 10, 1, seed=3, noise=2.0)
    _, ridge, loo = ridge_features_loo(Phi, y)
    grid = np.sum(Phi**2) * np.logspace(-10, 0, 41)
    assert grid[0] < ridge < grid[-1]
    np.testing.assert_allclose(loo, ridge_features_loo(Phi, y, grid)[2], rtol=1e-12)


def test_ridge_kernel_loo_clips_negative_eigenvalues():
    """Round-off negative eigenvalues count as 0: K behaves as its PSD part, stays finite."""
    rng = np.random.default_rng(4)
    Q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    eig = np.r_[np.logspace(1, -1, 5), np.zeros(20), -1e-6 * np.ones(5)]
    K = (Q * eig) @ Q.T
    K_psd = (Q * np.maximum(eig, 0)) @ Q.T
    y = K_psd @ rng.standard_normal(30) + 0.1 * rng.standard_normal(30)
    ridges = [1e-8, 1e-4, 1e-2, 1.0]
    coef, _, loo = ridge_kernel_loo(K, y, ridges)
    assert np.isfinite(coef).all()
    np.testing.assert_allclose(loo, ridge_kernel_loo(K_psd, y, ridges)[2], rtol=1e-6)
    np.testing.assert_allclose(loo[1:], _brute_force_loo(K_psd, y, ridges[1:]), rtol=1e-6)


def test_ridge_features_loo_guards_leverage_one():
    """A sample alone on its own feature (H_ii -> 1) gives no NaN, and exact LOO above it."""
    Phi, y = _problem(30, 5, 1, seed=5)
    Phi[0] = 0.0
    Phi = np.column_stack([Phi, np.eye(30)[:, 0]])
    ridges = [1e-300, 1e-6, 1e-3, 1.0]
    _, _, loo = ridge_features_loo(Phi, y, ridges)
    assert not np.isnan(loo).any()
    np.testing.assert_allclose(loo[1:], _brute_force_loo(Phi @ Phi.T, y, ridges[1:]),
                               rtol=1e-8)


@pytest.mark.parametrize("shape", [(30, 8), (20, 50)], ids=["primal", "dual"])
def test_ridge_loo_chunked_grid_gives_same_result(monkeypatch, shape):
    """Splitting the ridge grid into chunks (to bound memory) changes nothing."""
    Phi, Y = _problem(*shape, 2, seed=6)
    whole = ridge_features_loo(Phi, Y, GRID)
    monkeypatch.setattr(_solvers, "_CHUNK_FLOATS", 3 * shape[0] * 2)
    chunked = ridge_features_loo(Phi, Y, GRID)
    np.testing.assert_allclose(chunked[2], whole[2], rtol=1e-12)
    assert chunked[1] == whole[1]


@pytest.mark.parametrize("ridges", [[], [0.0, 1.0], [-1.0], [np.inf], [[1.0]], "abc"])
def test_ridge_loo_rejects_bad_ridges(ridges):
    """Ridges must be a non-empty 1-D array of positive finite floats."""
    Phi, y = _problem(10, 3, 1)
    with pytest.raises(ValueError, match="`ridges` must be a non-empty 1-D array"):
        ridge_kernel_loo(Phi @ Phi.T, y, ridges)
    with pytest.raises(ValueError, match="`ridges` must be a non-empty 1-D array"):
        ridge_features_loo(Phi, y, ridges)


def test_ridge_loo_rejects_mismatched_shapes():
    """A non-square Gram or targets with the wrong number of rows are refused."""
    Phi, y = _problem(10, 3, 1)
    with pytest.raises(ValueError, match="`K` must be a non-empty square 2-D array"):
        ridge_kernel_loo(Phi, y)
    with pytest.raises(ValueError, match=r"`Y` must have shape \(10,\)"):
        ridge_features_loo(Phi, y[:5])
