"""Ridge solves shaped like scikit-learn's ``KernelRidge``: Cholesky, lstsq fallback."""

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


def ridge_features(Phi: np.ndarray, Y: np.ndarray, ridge: float) -> np.ndarray:
    """Coefficients ``C`` (``(n_features, k)``) minimising ``||Phi C - Y||^2 + ridge ||C||^2``.

    Solves the primal ``(Phi^T Phi + ridge I) C = Phi^T Y`` when ``Phi`` has no more
    columns than rows, else the dual ``C = Phi^T (Phi Phi^T + ridge I)^{-1} Y`` (the same
    solution, the smaller system). Computed in float64 by Cholesky; a singular system
    (``ridge = 0`` with rank-deficient features) falls back to least squares with a
    ``LinAlgWarning``, as :class:`sklearn.kernel_ridge.KernelRidge` does.
    """
    Phi = np.asarray(Phi, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    n, p = Phi.shape
    if p <= n:
        A = Phi.T @ Phi
        A.flat[:: p + 1] += ridge
        return _solve_pos(A, Phi.T @ Y)
    G = Phi @ Phi.T
    G.flat[:: n + 1] += ridge
    return Phi.T @ _solve_pos(G, Y)


def ridge_kernel(K: np.ndarray, Y: np.ndarray, ridge: float) -> np.ndarray:
    """Dual coefficients ``(K + ridge I)^{-1} Y`` of kernel ridge regression (float64).

    Cholesky, with the least-squares fallback and ``LinAlgWarning`` of
    :func:`ridge_features` when the system is singular.
    """
    A = np.array(K, dtype=np.float64)
    A.flat[:: A.shape[0] + 1] += ridge
    return _solve_pos(A, np.asarray(Y, dtype=np.float64))
