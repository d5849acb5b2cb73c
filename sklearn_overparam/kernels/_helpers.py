"""Kernel helpers: a safe positive-definite solve and the papers' kernel diagnostics.

Pure numpy/scipy functions over Gram matrices, usable with the analytic kernels of this
package, empirical NTKs, or any precomputed kernel.
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve, eigh
from scipy.sparse.linalg import eigsh

# Relative asymmetry tolerated in a Gram matrix, keyed by its dtype (float32 Grams made by
# two different matmul orders differ by a few ulps).
_SYMMETRY_RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}
# Above this size the largest eigenvalue comes from Lanczos (O(n^2) per iteration) instead of
# a dense O(n^3) eigensolver.
_DENSE_EIG_MAX_N = 1000


def _check_gram(K, name: str = "K") -> np.ndarray:
    """Return ``K`` as a finite, symmetric, square float64 array."""
    arr = np.asarray(K)
    if arr.dtype.kind not in "biuf" or arr.ndim != 2 or arr.shape[0] != arr.shape[1] or (
        arr.shape[0] == 0
    ):
        raise ValueError(
            f"`{name}` must be a non-empty square 2-D numeric array (a Gram matrix); got shape "
            f"{arr.shape!r} and dtype {arr.dtype!s}. Compute it with e.g. relu_ntk_kernel(X)."
        )
    rtol = _SYMMETRY_RTOL.get(arr.dtype, 1e-10)
    arr = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(
            f"`{name}` must contain only finite values; got NaN or infinity. Check the inputs "
            "the Gram matrix was computed from."
        )
    scale = np.abs(arr).max()
    asym = np.abs(arr - arr.T).max()
    if asym > rtol * scale:
        raise ValueError(
            f"`{name}` must be symmetric; got max |K - K.T| = {asym:.3g} with max |K| = "
            f"{scale:.3g}. Pass the Gram matrix k(X, X), or symmetrise it with (K + K.T) / 2."
        )
    return arr


def _check_targets(y, n: int, name: str = "y") -> np.ndarray:
    """Return ``y`` as a finite float64 array of shape (n,) or (n, n_outputs)."""
    arr = np.asarray(y)
    if arr.dtype.kind not in "biuf" or arr.ndim not in (1, 2) or arr.shape[0] != n:
        raise ValueError(
            f"`{name}` must be a numeric array of shape ({n},) or ({n}, n_outputs) matching the "
            f"Gram matrix; got shape {arr.shape!r} and dtype {arr.dtype!s}."
        )
    arr = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"`{name}` must contain only finite values; got NaN or infinity.")
    return arr


def _check_alpha(alpha) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not (
        np.isfinite(alpha) and alpha >= 0
    ):
        raise ValueError(
            f"`alpha` must be a non-negative finite float (a ridge added to the diagonal); got "
            f"{alpha!r}."
        )
    return float(alpha)


def solve_psd(K, Y, *, alpha=0.0) -> np.ndarray:
    r"""Solve ``(K + alpha I) X = Y`` for a symmetric positive-definite Gram matrix ``K``.

    Parameters
    ----------
    K : array-like of shape (n, n)
        Symmetric positive (semi-)definite Gram matrix. Computed in float64 whatever its dtype.
    Y : array-like of shape (n,) or (n, n_outputs)
        Right-hand side(s).
    alpha : float, default=0.0
        Ridge (jitter) added to the diagonal before factorising.

    Returns
    -------
    X : ndarray of the shape of ``Y``
        ``(K + alpha I)^{-1} Y`` in float64.

    Raises
    ------
    ValueError
        If ``K`` is not square, symmetric or finite, or if ``K + alpha I`` is not
        numerically positive definite (the Cholesky factorisation fails, or its pivots
        span more than ``1 / (n eps)``, i.e. the solve would lose every digit). The message
        suggests a value of ``alpha``.

    Notes
    -----
    Cholesky (``scipy.linalg.cho_factor``/``cho_solve``): ``n^3 / 3`` flops, half of LU,
    and a factorisation failure is a certificate that the matrix is not positive definite.
    The float64 copy ``K + alpha I`` costs ``8 n^2`` bytes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.kernels import solve_psd
    >>> K = np.array([[2.0, 1.0], [1.0, 2.0]])
    >>> solve_psd(K, np.array([3.0, 3.0]))
    array([1., 1.])
    >>> solve_psd(K, np.array([[3.0, 1.0], [3.0, -1.0]]))  # several right-hand sides
    array([[ 1.,  1.],
           [ 1., -1.]])
    """
    A = _check_gram(K, "K")
    if np.shares_memory(A, np.asarray(K)):
        A = A.copy()  # the factorisation overwrites its input
    n = A.shape[0]
    rhs = _check_targets(Y, n, "Y")
    alpha = _check_alpha(alpha)
    suggestion = max(1e-10 * np.trace(A) / n, np.finfo(np.float64).tiny)
    hint = (
        f"Pass alpha > 0 (a ridge; e.g. alpha={suggestion:.2g}, 1e-10 times the mean diagonal), "
        "or remove duplicated samples."
    )
    A[np.diag_indices_from(A)] += alpha
    try:
        factor = cho_factor(A, lower=True, overwrite_a=True, check_finite=False)
    except LinAlgError as exc:
        raise ValueError(
            f"`K` must be positive definite (K + alpha*I with alpha={alpha!r}); its Cholesky "
            f"factorisation failed, so it has a zero or negative eigenvalue. {hint}"
        ) from exc
    pivots = np.abs(np.diag(factor[0]))
    ratio = (pivots.min() / pivots.max()) ** 2
    if ratio < n * np.finfo(np.float64).eps:
        raise ValueError(
            f"`K` must be numerically positive definite (K + alpha*I with alpha={alpha!r}); "
            f"the squared ratio of its Cholesky pivots is {ratio:.2g}, below n*eps = "
            f"{n * np.finfo(np.float64).eps:.2g}, so the solve would be meaningless. {hint}"
        )
    return cho_solve(factor, rhs, check_finite=False)


def kernel_target_alignment(K, y, *, centered=True) -> float:
    r"""Alignment between a Gram matrix and the targets' outer product.

    Parameters
    ----------
    K : array-like of shape (n, n)
        Symmetric Gram matrix.
    y : array-like of shape (n,) or (n, n_outputs)
        Targets; with several outputs the target kernel is ``Y Y^T``.
    centered : bool, default=True
        Centre both kernels in feature space first (Cortes, Mohri & Rostamizadeh, 2012):
        ``K -> H K H`` and ``Y -> H Y`` with ``H = I - 1 1^T / n``. Without centring a
        large constant component of ``K`` dominates the alignment.

    Returns
    -------
    alignment : float
        ``<K, Y Y^T>_F / (||K||_F ||Y Y^T||_F)`` (of the centred matrices if ``centered``),
        in ``[-1, 1]``; ``1`` means ``K`` is proportional to ``Y Y^T``. For a positive
        semi-definite ``K`` it lies in ``[0, 1]``.

    Notes
    -----
    ``<K, Y Y^T>_F = tr(Y^T K Y)`` and ``||Y Y^T||_F = ||Y^T Y||_F`` avoid forming ``Y Y^T``.
    Centring ``Y`` alone gives the centred numerator since ``tr(Y^T H K H Y) = tr(Yc^T K Yc)``;
    only the norm of ``K`` needs the centred matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.kernels import kernel_target_alignment
    >>> y = np.array([1.0, -1.0, 1.0, -1.0])
    >>> round(kernel_target_alignment(np.outer(y, y), y), 6)
    1.0
    >>> round(kernel_target_alignment(np.eye(4), y), 3)
    0.577
    """
    K = _check_gram(K, "K")
    n = K.shape[0]
    Y = _check_targets(y, n, "y")
    Y = Y.reshape(n, -1)
    if centered:
        Y = Y - Y.mean(axis=0)
        row = K.mean(axis=1)
        K = K - row[:, None] - row[None, :] + row.mean()
    y_norm = np.linalg.norm(Y.T @ Y)
    k_norm = np.linalg.norm(K)
    if y_norm == 0 or k_norm == 0:
        what = "`y`" if y_norm == 0 else "`K`"
        raise ValueError(
            f"{what} must not be {'constant' if centered else 'zero'} (its "
            f"{'centred ' if centered else ''}norm is 0), so the alignment is undefined. "
            + ("Pass centered=False to keep the constant component." if centered else "")
        )
    return float(np.sum(Y * (K @ Y)) / (k_norm * y_norm))


def max_learning_rate(K, *, loss="mse") -> float:
    r"""Largest stable learning rate of full-batch gradient descent on a linearised model.

    Parameters
    ----------
    K : array-like of shape (n, n)
        The (tangent) kernel Gram matrix of the ``n`` training points,
        ``K = J J^T`` with ``J`` the Jacobian of the outputs with respect to the parameters.
    loss : {"mse", "half_mse"}, default="mse"
        ``"mse"``: ``L = (1/n) sum_i (f(x_i) - y_i)^2`` (PyTorch ``MSELoss``, mean, no 1/2);
        ``"half_mse"``: ``L = (1/(2n)) sum_i (f(x_i) - y_i)^2`` (scikit-learn's convention).

    Returns
    -------
    lr : float
        The supremum of stable learning rates: ``n / lambda_max(K)`` for ``"mse"`` and
        ``2 n / lambda_max(K)`` for ``"half_mse"``.

    Notes
    -----
    Gradient descent ``theta <- theta - lr grad L`` on the linearised model
    ``f_lin = f_0 + J (theta - theta_0)`` moves the training outputs by
    ``f <- f - lr (2/n) K (f - y)`` for ``"mse"``, so the residual is multiplied by
    ``I - (2 lr / n) K`` each step. It converges iff every eigenvalue of that matrix lies in
    ``(-1, 1)``, i.e. ``lr < n / lambda_max(K)``; at ``lr = n / lambda_max`` the top mode
    oscillates, beyond it diverges. With ``"half_mse"`` the factor 2 disappears. Half the
    bound makes the top mode converge in one step.
    ``lambda_max`` comes from a dense eigensolver up to n = 1000 and from Lanczos
    (``scipy.sparse.linalg.eigsh``, start vector of ones, so deterministic) above.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.kernels import max_learning_rate
    >>> K = np.diag([4.0, 1.0])  # n = 2, lambda_max = 4
    >>> max_learning_rate(K)
    0.5
    >>> max_learning_rate(K, loss="half_mse")
    1.0
    """
    if loss not in ("mse", "half_mse"):
        raise ValueError(f"`loss` must be 'mse' or 'half_mse'; got {loss!r}.")
    K = _check_gram(K, "K")
    n = K.shape[0]
    if n <= _DENSE_EIG_MAX_N:
        lam = eigh(K, eigvals_only=True, subset_by_index=[n - 1, n - 1], check_finite=False)[0]
    else:
        lam = eigsh(K, k=1, which="LA", v0=np.ones(n), return_eigenvectors=False)[0]
    if not lam > 0:
        raise ValueError(
            f"`K` must have a positive largest eigenvalue; got {lam!r}. A tangent kernel "
            "J J^T is positive semi-definite; check how K was computed."
        )
    return float((1.0 if loss == "mse" else 2.0) * n / lam)


def kernel_complexity(K, y, *, alpha=0.0) -> float:
    r"""Data-dependent complexity ``sqrt(y^T K^{-1} y * tr(K)) / n`` of kernel regression.

    Parameters
    ----------
    K : array-like of shape (n, n)
        Symmetric positive-definite Gram matrix (e.g. the NTK of the training inputs).
    y : array-like of shape (n,) or (n, n_outputs)
        Training targets; several outputs add up: ``tr(Y^T K^{-1} Y)``.
    alpha : float, default=0.0
        Ridge added to the diagonal of ``K`` inside the inverse only (``tr(K)`` is unchanged).

    Returns
    -------
    complexity : float
        ``sqrt(y^T (K + alpha I)^{-1} y * tr(K)) / n``. This is the RKHS norm of the
        minimum-norm interpolant times the empirical Rademacher bound ``sqrt(tr K) / n``
        (Bartlett & Mendelson, 2002); for the NTK it is the quantity of Arora et al. (2019)
        up to their constant ``sqrt(2)`` and normalisation of ``K``. Smaller means labels
        that the kernel finds easier to fit.

    Raises
    ------
    ValueError
        If ``K + alpha I`` is not numerically positive definite (see :func:`solve_psd`).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.kernels import kernel_complexity, relu_ntk_kernel
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 3))
    >>> K = relu_ntk_kernel(X, depth=2)
    >>> smooth, noise = X[:, 0], rng.standard_normal(50)
    >>> bool(kernel_complexity(K, smooth) < kernel_complexity(K, noise))
    True
    """
    K = _check_gram(K, "K")
    n = K.shape[0]
    Y = _check_targets(y, n, "y")
    sol = solve_psd(K, Y, alpha=alpha)
    quad = float(np.sum(Y * sol))
    trace = float(np.trace(K))
    return float(np.sqrt(max(quad, 0.0) * max(trace, 0.0)) / n)
