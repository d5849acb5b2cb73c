"""Ridge solves shaped like scikit-learn's ``KernelRidge``: Cholesky, lstsq fallback.

Every solve takes optional per-sample weights ``w`` (the weighted squared loss
``sum_i w_i ||f(x_i) - y_i||^2``): it is the unweighted solve of the rescaled problem
``(sqrt(w) Phi, sqrt(w) Y)`` (for a Gram, ``sqrt(w) K sqrt(w)``, with dual coefficients
mapped back by ``sqrt(w)``), so integer weights equal repeated rows and zero weights equal
dropped rows. The leave-one-out paths leave out one *sample with its weight* (the
weighted generalized cross-validation of :class:`sklearn.linear_model.RidgeCV`) and
average the squared leave-one-out residuals with the weights.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg


def _solve_pos(A, B):
    try:
        return linalg.cho_solve(linalg.cho_factor(A, lower=True, check_finite=False), B,
                                check_finite=False)
    except linalg.LinAlgError:
        warnings.warn(
            "Singular matrix in solving the ridge problem. Using the least-squares solution "
            "instead; set alpha > 0 for a unique, stable solution.",
            linalg.LinAlgWarning,
            stacklevel=3,
        )
        return linalg.lstsq(A, B, check_finite=False)[0]


def _root_weights(sample_weight, n):
    """``sqrt(w)`` as a column, or None for unit weights."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,) or not (np.isfinite(w).all() and (w >= 0).all()) or not w.any():
        raise ValueError(
            f"`sample_weight` must be {n} finite non-negative floats, not all zero; got "
            f"shape {w.shape!r}."
        )
    return np.sqrt(w)[:, None]


def _scale_rows(A, root):
    return A if root is None else root.reshape((-1,) + (1,) * (A.ndim - 1)) * A


def ridge_features(Phi: np.ndarray, Y: np.ndarray, ridge: float,
                   sample_weight=None) -> np.ndarray:
    """Coefficients ``C`` (``(n_features, k)``) minimising ``||Phi C - Y||^2 + ridge ||C||^2``.

    With ``sample_weight`` ``w``, the loss is ``sum_i w_i ||phi_i C - y_i||^2``: the solve of
    ``(Phi^T W Phi + ridge I) C = Phi^T W Y``.

    Solves the primal ``(Phi^T Phi + ridge I) C = Phi^T Y`` when ``Phi`` has no more
    columns than rows, else the dual ``C = Phi^T (Phi Phi^T + ridge I)^{-1} Y`` (the same
    solution, the smaller system). Computed in float64 by Cholesky; a singular system
    (``ridge = 0`` with rank-deficient features) falls back to least squares with a
    ``LinAlgWarning``, as :class:`sklearn.kernel_ridge.KernelRidge` does.
    """
    Phi = np.asarray(Phi, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    root = _root_weights(sample_weight, Phi.shape[0])
    Phi, Y = _scale_rows(Phi, root), _scale_rows(Y, root)
    n, p = Phi.shape
    if p <= n:
        A = Phi.T @ Phi
        A.flat[:: p + 1] += ridge
        return _solve_pos(A, Phi.T @ Y)
    G = Phi @ Phi.T
    G.flat[:: n + 1] += ridge
    return Phi.T @ _solve_pos(G, Y)


def ridge_kernel(K: np.ndarray, Y: np.ndarray, ridge: float, sample_weight=None) -> np.ndarray:
    """Dual coefficients ``(K + ridge I)^{-1} Y`` of kernel ridge regression (float64).

    Cholesky, with the least-squares fallback and ``LinAlgWarning`` of
    :func:`ridge_features` when the system is singular. With ``sample_weight`` ``w`` the
    coefficients are ``(W K + ridge I)^{-1} W Y``, computed as
    ``sqrt(W) (sqrt(W) K sqrt(W) + ridge I)^{-1} sqrt(W) Y`` (symmetric positive definite).
    """
    A = np.array(K, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    root = _root_weights(sample_weight, A.shape[0])
    if root is not None:
        A = root * A * root.T
    A.flat[:: A.shape[0] + 1] += ridge
    return _scale_rows(_solve_pos(A, _scale_rows(Y, root)), root)


# Default ridges, relative to trace(K) (the sum of the Gram's eigenvalues): 1 is heavy
# shrinkage (at most one effective degree of freedom), 1e-10 near-interpolation, still
# far above float64 round-off of the largest eigenvalue (<= trace).
_DEFAULT_RELATIVE_RIDGES = np.logspace(-10, 0, 41)
# Floats held at once by the multi-ridge products (chunks of the ridge grid).
_CHUNK_FLOATS = 1 << 22


def _check_loo_inputs(A, Y, name):
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] == 0 or A.shape[1] == 0 or (
        name == "K" and A.shape[0] != A.shape[1]
    ):
        shape, hint = (("square 2-D", "the training Gram matrix") if name == "K" else
                       ("2-D", "the training features, one row per sample"))
        raise ValueError(
            f"`{name}` must be a non-empty {shape} array; got shape {A.shape!r}. Pass {hint}."
        )
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim not in (1, 2) or Y.shape[0] != A.shape[0]:
        raise ValueError(
            f"`Y` must have shape ({A.shape[0]},) or ({A.shape[0]}, n_outputs), one row per "
            f"row of `{name}`; got shape {Y.shape!r}."
        )
    if not (np.isfinite(A).all() and np.isfinite(Y).all()):
        raise ValueError(
            f"`{name}` and `Y` must contain only finite values; got NaN or infinity."
        )
    return A, Y


def _check_ridges(ridges, trace):
    if ridges is None:
        return (trace if trace > 0 else 1.0) * _DEFAULT_RELATIVE_RIDGES
    try:
        grid = np.asarray(ridges, dtype=np.float64)
    except (TypeError, ValueError):
        grid = np.array([np.nan])
    if grid.ndim != 1 or grid.size == 0 or not (np.isfinite(grid).all() and (grid > 0).all()):
        raise ValueError(
            f"`ridges` must be a non-empty 1-D array of positive finite floats; got "
            f"{ridges!r}. Pass e.g. np.logspace(-6, 2, 33), or None for a grid scaled to "
            "trace(K)."
        )
    return grid


def _chunks(n_ridges, floats_per_ridge):
    step = max(1, _CHUNK_FLOATS // max(1, floats_per_ridge))
    return [slice(i, min(i + step, n_ridges)) for i in range(0, n_ridges, step)]


def _kernel_loo_path(s, U, Y2, grid):
    """LOO mean squared errors, and the dual coefficients at the best ridge."""
    n, k = Y2.shape
    UtY = U.T @ Y2
    U2 = U * U
    mse = np.empty(grid.size)
    for part in _chunks(grid.size, n * k):
        W = 1.0 / (s[:, None] + grid[None, part])  # eigenvalues of (K + lam I)^{-1}
        # (K + lam I)^{-1} Y for every ridge of the chunk, as one (n, k * n_chunk) product
        C = (U @ (UtY[:, :, None] * W[:, None, :]).reshape(n, -1)).reshape(n, k, -1)
        # r_i / (1 - H_ii) = c_i / [(K + lam I)^{-1}]_ii: no 1 - H cancellation, and the
        # diagonal, a sum of positive terms, is >= 1 / (s_max + lam).
        G = U2 @ W
        mse[part] = np.mean((C / G[:, None, :]) ** 2, axis=(0, 1))
    best = int(np.argmin(mse))
    coef = U @ (UtY / (s + grid[best])[:, None])
    return mse, best, coef


def ridge_kernel_loo(K, Y, ridges=None, sample_weight=None):
    """Kernel ridge regression with the ridge chosen by exact leave-one-out error.

    For each ``lam`` of the grid, the leave-one-out residuals of ``(K + lam I) c = Y``
    are ``c_i / [(K + lam I)^{-1}]_ii`` (as in :class:`sklearn.linear_model.RidgeCV`'s
    ``gcv_mode='eigen'``), all from one eigendecomposition of ``K``; negative round-off
    eigenvalues are clipped to 0. No intercept, like :func:`ridge_kernel`.

    Parameters
    ----------
    K : ndarray of shape (n_samples, n_samples)
        Symmetric positive semi-definite training Gram matrix (only its lower triangle is
        read).
    Y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Targets.
    ridges : array-like of shape (n_ridges,), default=None
        Positive ridges ``lam`` to try (the ``ridge`` of :func:`ridge_kernel`). ``None``
        means ``trace(K) * np.logspace(-10, 0, 41)``: from near-interpolation to at most
        one effective degree of freedom (``trace(W K)`` with weights).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the squared loss. The leave-one-out residual of sample
        ``i`` is that of the weighted fit without sample ``i``,
        ``r_i / (1 - w_i [K (W K + lam I)^{-1}]_ii)``, and ``loo_mse`` their weighted
        mean ``sum_i w_i e_i^2 / sum_i w_i`` (``RidgeCV``'s weighted leave-one-out, invariant
        to rescaling the weights; a row repeated ``w_i`` times is *not* left out whole,
        so integer weights do not reproduce the leave-one-out error of repeated rows).

    Returns
    -------
    coef : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Dual coefficients ``(K + ridge I)^{-1} Y`` at the chosen ridge.
    ridge : float
        The ridge of smallest leave-one-out error (the first, on ties).
    loo_mse : ndarray of shape (n_ridges,)
        Leave-one-out mean squared error of each ridge, averaged over samples and outputs.
    """
    K, Y = _check_loo_inputs(K, Y, "K")
    root = _root_weights(sample_weight, K.shape[0])
    Y2 = Y.reshape(Y.shape[0], -1)
    if root is not None:
        K, Y2 = root * K * root.T, root * Y2
    grid = _check_ridges(ridges, float(np.trace(K)))
    s, U = linalg.eigh(K, check_finite=False)
    mse, best, coef = _kernel_loo_path(np.maximum(s, 0.0), U, Y2, grid)
    if root is not None:  # back from the rescaled problem's coefficients and mean
        coef, mse = root * coef, mse * (K.shape[0] / float(np.sum(root**2)))
    return coef.reshape(Y.shape), float(grid[best]), mse


def ridge_features_loo(Phi, Y, ridges=None, sample_weight=None):
    """Ridge regression on features with the ridge chosen by exact leave-one-out error.

    One eigendecomposition of the smaller Gram matrix: ``Phi^T Phi`` when there are fewer
    features than samples (leave-one-out residuals ``r_i / (1 - H_ii)`` with the hat
    matrix ``H = Phi (Phi^T Phi + lam I)^{-1} Phi^T``), else ``Phi Phi^T`` as in
    :func:`ridge_kernel_loo`. No intercept, like :func:`ridge_features`; ``ridge`` is
    scikit-learn's ``alpha`` of :class:`~sklearn.linear_model.RidgeCV`.

    Parameters
    ----------
    Phi : ndarray of shape (n_samples, n_features)
        Training features.
    Y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Targets.
    ridges : array-like of shape (n_ridges,), default=None
        Positive ridges to try. ``None`` means ``||Phi||_F^2 * np.logspace(-10, 0, 41)``
        (``||Phi||_F^2`` is the trace of both Gram matrices; ``||sqrt(W) Phi||_F^2`` with
        weights).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the squared loss; the leave-one-out residuals are those of
        the weighted fit without each sample, averaged with the weights, as in
        :func:`ridge_kernel_loo`.

    Returns
    -------
    coef : ndarray of shape (n_features,) or (n_features, n_outputs)
        Coefficients ``(Phi^T Phi + ridge I)^{-1} Phi^T Y`` at the chosen ridge.
    ridge : float
        The ridge of smallest leave-one-out error (the first, on ties).
    loo_mse : ndarray of shape (n_ridges,)
        Leave-one-out mean squared error of each ridge, averaged over samples and outputs.
    """
    Phi, Y = _check_loo_inputs(Phi, Y, "Phi")
    root = _root_weights(sample_weight, Phi.shape[0])
    Phi = _scale_rows(Phi, root)
    grid = _check_ridges(ridges, float(np.einsum("ij,ij->", Phi, Phi)))
    n, p = Phi.shape
    Y2 = _scale_rows(Y.reshape(n, -1), root)
    if p >= n:
        s, U = linalg.eigh(Phi @ Phi.T, check_finite=False)
        mse, best, dual = _kernel_loo_path(np.maximum(s, 0.0), U, Y2, grid)
        coef = Phi.T @ dual
    else:
        s, V = linalg.eigh(Phi.T @ Phi, check_finite=False)
        s = np.maximum(s, 0.0)
        Z = Phi @ V
        b = Z.T @ Y2  # V^T Phi^T Y
        Z2 = Z * Z
        k = Y2.shape[1]
        mse = np.empty(grid.size)
        for part in _chunks(grid.size, n * k):
            W = 1.0 / (s[:, None] + grid[None, part])
            fitted = (Z @ (b[:, :, None] * W[:, None, :]).reshape(p, -1)).reshape(n, k, -1)
            # 1 - H_ii >= lam / (s_max + lam); the bound guards its cancellation near 0.
            keep = np.maximum(1.0 - Z2 @ W, grid[part] * W[-1])
            mse[part] = np.mean(((Y2[:, :, None] - fitted) / keep[:, None, :]) ** 2,
                                axis=(0, 1))
        best = int(np.argmin(mse))
        coef = V @ (b / (s + grid[best])[:, None])
    if root is not None:  # the rescaled residuals are sqrt(w_i) e_i: a weighted mean
        mse = mse * (n / float(np.sum(root**2)))
    return coef.reshape((p,) + Y.shape[1:]), float(grid[best]), mse
