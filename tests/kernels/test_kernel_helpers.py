"""Kernel helpers: PSD solve, kernel-target alignment, stable learning rate, complexity."""

import numpy as np
import pytest
import torch

from sklearn_overparam.kernels import _helpers
from sklearn_overparam.kernels._analytic import relu_ntk_kernel
from sklearn_overparam.kernels._helpers import (
    kernel_complexity,
    kernel_target_alignment,
    max_learning_rate,
    solve_psd,
)


def _spd(n=30, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n + 5))
    return A @ A.T / n


def test_solve_psd_matches_dense_solve():
    """solve_psd equals numpy's solve of K + alpha I for 1-D and 2-D right-hand sides."""
    K = _spd()
    rng = np.random.default_rng(1)
    y, Y = rng.standard_normal(30), rng.standard_normal((30, 3))
    for alpha in (0.0, 0.5):
        A = K + alpha * np.eye(30)
        np.testing.assert_allclose(solve_psd(K, y, alpha=alpha), np.linalg.solve(A, y),
                                   rtol=1e-9)
        sol = solve_psd(K, Y, alpha=alpha)
        assert sol.shape == (30, 3)
        np.testing.assert_allclose(A @ sol, Y, atol=1e-9)


def test_solve_psd_leaves_input_untouched_and_accepts_float32():
    """The caller's K is not modified and a float32 Gram is solved in float64."""
    K = _spd()
    before = K.copy()
    y = np.ones(30)
    solve_psd(K, y, alpha=1.0)
    np.testing.assert_array_equal(K, before)
    sol32 = solve_psd(K.astype(np.float32), y)
    assert sol32.dtype == np.float64
    np.testing.assert_allclose(sol32, np.linalg.solve(K.astype(np.float32).astype(float), y),
                               rtol=1e-8)


def test_solve_psd_rejects_indefinite_matrix_with_alpha_hint():
    """An indefinite K raises a ValueError naming `K` and suggesting alpha > 0."""
    K = _spd()
    K[0, 0] = -1.0
    with pytest.raises(ValueError, match=r"`K` must be positive definite.*alpha > 0"):
        solve_psd(K, np.ones(30))


def test_solve_psd_singular_needs_alpha():
    """Duplicated samples make K singular: alpha=0 raises, a small alpha solves."""
    X = np.random.default_rng(2).standard_normal((20, 3))
    X[10:] = X[:10]
    K = relu_ntk_kernel(X, depth=3)
    y = np.sin(X[:, 0])
    with pytest.raises(ValueError, match=r"`K` must be (numerically )?positive definite"):
        solve_psd(K, y)
    sol = solve_psd(K, y, alpha=1e-6)
    np.testing.assert_allclose((K + 1e-6 * np.eye(20)) @ sol, y, atol=1e-8)


@pytest.mark.parametrize("K, Y, alpha, match", [
    (np.full((3, 3), np.nan), np.ones(3), 0.0, "`K` must contain only finite"),
    (np.ones((3, 2)), np.ones(3), 0.0, "`K` must be a non-empty square"),
    (np.triu(np.ones((3, 3))) + 3 * np.eye(3), np.ones(3), 0.0, "`K` must be symmetric"),
    (np.eye(3), np.ones(4), 0.0, r"`Y` must be a numeric array of shape \(3,\)"),
    (np.eye(3), np.ones(3), -1.0, "`alpha` must be a non-negative"),
])
def test_solve_psd_rejects_bad_input(K, Y, alpha, match):
    """Malformed K, Y or alpha raise a ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        solve_psd(K, Y, alpha=alpha)


def test_kernel_target_alignment_known_values():
    """K = y y^T aligns perfectly; K = I gives 1/sqrt(n) uncentred."""
    y = np.random.default_rng(3).standard_normal(40)
    assert kernel_target_alignment(np.outer(y, y), y, centered=False) == pytest.approx(1.0)
    yc = y - y.mean()
    assert kernel_target_alignment(np.outer(yc, yc), y) == pytest.approx(1.0)
    assert kernel_target_alignment(np.eye(40), y, centered=False) == pytest.approx(
        1 / np.sqrt(40))


def test_kernel_target_alignment_centering_removes_constant():
    """The centred alignment ignores a constant added to K; the uncentred one does not."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((50, 3))
    y = np.column_stack([X[:, 0], X[:, 1] ** 2])
    K = relu_ntk_kernel(X, depth=2)
    shifted = K + 10.0
    assert kernel_target_alignment(shifted, y) == pytest.approx(kernel_target_alignment(K, y),
                                                                rel=1e-10)
    assert abs(kernel_target_alignment(shifted, y, centered=False)
               - kernel_target_alignment(K, y, centered=False)) > 0.01


def test_kernel_target_alignment_matches_explicit_formula():
    """Equals <HKH, H Y Y^T H>_F / (||HKH|| ||H Y Y^T H||) for 2-D targets."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((30, 4))
    Y = rng.standard_normal((30, 2))
    K = relu_ntk_kernel(X, depth=3)
    H = np.eye(30) - 1 / 30
    Kc, T = H @ K @ H, H @ Y @ Y.T @ H
    expected = np.sum(Kc * T) / (np.linalg.norm(Kc) * np.linalg.norm(T))
    assert kernel_target_alignment(K, Y) == pytest.approx(expected, rel=1e-12)


def test_kernel_target_alignment_rejects_constant_targets():
    """Constant targets have no centred component: ValueError naming `y`."""
    with pytest.raises(ValueError, match="`y` must not be constant"):
        kernel_target_alignment(_spd(), np.ones(30))
    with pytest.raises(ValueError, match=r"`y` must be a numeric array of shape \(30,\)"):
        kernel_target_alignment(_spd(), np.ones(29))


def test_max_learning_rate_is_the_gd_stability_edge():
    """Full-batch GD on a linear model with torch MSELoss converges just below, diverges above."""
    rng = np.random.default_rng(6)
    n, p = 40, 60
    Phi = torch.as_tensor(rng.standard_normal((n, p)), dtype=torch.float64)
    y = torch.as_tensor(rng.standard_normal(n), dtype=torch.float64)
    lr_max = max_learning_rate((Phi @ Phi.T).numpy())

    def final_loss(lr):
        w = torch.zeros(p, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.SGD([w], lr=lr)
        for _ in range(400):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(Phi @ w, y)
            loss.backward()
            opt.step()
        return loss.item()

    start = torch.nn.functional.mse_loss(torch.zeros(n, dtype=torch.float64), y).item()
    assert final_loss(0.98 * lr_max) < 0.1 * start
    assert final_loss(1.02 * lr_max) > 1e3 * start


def test_max_learning_rate_normalisations_and_lanczos(monkeypatch):
    """half_mse doubles the bound; the Lanczos path equals the dense eigensolver."""
    K = _spd(n=50)
    lam = np.linalg.eigvalsh(K)[-1]
    assert max_learning_rate(K) == pytest.approx(50 / lam, rel=1e-12)
    assert max_learning_rate(K, loss="half_mse") == pytest.approx(100 / lam, rel=1e-12)
    monkeypatch.setattr(_helpers, "_DENSE_EIG_MAX_N", 10)
    assert max_learning_rate(K) == pytest.approx(50 / lam, rel=1e-9)


def test_max_learning_rate_rejects_bad_input():
    """An unknown loss or a negative semi-definite K raise ValueError naming the argument."""
    with pytest.raises(ValueError, match="`loss` must be 'mse' or 'half_mse'"):
        max_learning_rate(np.eye(3), loss="l1")
    with pytest.raises(ValueError, match="`K` must have a positive largest eigenvalue"):
        max_learning_rate(-np.eye(3))


def test_kernel_complexity_formula_and_scale_invariance():
    """Equals sqrt(y^T K^-1 y tr K) / n, and is invariant to rescaling K."""
    K = _spd(seed=7)
    y = np.random.default_rng(8).standard_normal(30)
    expected = np.sqrt(y @ np.linalg.solve(K, y) * np.trace(K)) / 30
    assert kernel_complexity(K, y) == pytest.approx(expected, rel=1e-9)
    assert kernel_complexity(5.0 * K, y) == pytest.approx(expected, rel=1e-9)
    assert kernel_complexity(K, y, alpha=1.0) < expected


def test_kernel_complexity_ranks_learnable_labels_lower():
    """Labels from a smooth function have lower NTK complexity than random labels."""
    rng = np.random.default_rng(9)
    X = rng.standard_normal((100, 5))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    K = relu_ntk_kernel(X, depth=2)
    smooth = np.sign(X[:, 0])
    noise = rng.permutation(smooth)
    assert kernel_complexity(K, smooth) < 0.8 * kernel_complexity(K, noise)


def test_kernel_complexity_rejects_non_pd_kernel():
    """A singular K raises a ValueError that suggests alpha > 0."""
    with pytest.raises(ValueError, match=r"`K` must be .*positive definite.*alpha > 0"):
        kernel_complexity(np.ones((4, 4)), np.arange(4.0))
