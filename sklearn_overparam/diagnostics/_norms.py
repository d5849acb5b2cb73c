"""Row-norm measures of a weight matrix ([AZLL] Sec. 4 regularizer, Figure 3)."""

from __future__ import annotations

import numpy as np


def _increment(W, W0):
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"`W` must be a 2-D weight matrix (rows are neurons); got shape "
                         f"{W.shape}.")
    if W0 is None:
        return W
    W0 = np.asarray(W0, dtype=np.float64)
    if W0.shape != W.shape:
        raise ValueError(f"`W0` must have the shape of `W` {W.shape}; got {W0.shape}.")
    return W - W0


def group_norm(W, p=4.0, W0=None):
    """``||W - W0||_{2,p} = (sum_i ||w_i - w0_i||_2^p)^{1/p}``: row-wise l2, then lp.

    ``||.||_{2,2}`` is the Frobenius norm and ``||.||_{2,inf}`` the largest row norm; the
    [AZLL] regularizer is ``lambda_w ||W'||_{2,4}^4`` (Sec. 4).

    Parameters
    ----------
    W : array-like of shape (n_neurons, fan_in)
        Weight matrix, rows are neurons.
    p : float, default=4.0
        The outer exponent (``np.inf`` for the largest row norm).
    W0 : array-like of shape (n_neurons, fan_in), default=None
        Reference (e.g. the initialization): the norm of the increment ``W - W0``.

    Returns
    -------
    norm : float
        The ``(2, p)`` group norm.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.diagnostics import group_norm
    >>> float(group_norm(np.array([[3.0, 4.0], [0.0, 0.0]]), p=4))
    5.0
    """
    rows = np.linalg.norm(_increment(W, W0), axis=1)
    if np.isinf(p):
        return float(rows.max(initial=0.0))
    return float(np.sum(rows ** p) ** (1.0 / p))


def norm_ratio(W, W0=None):
    """``m ||W - W0||_{2,4}^4 / ||W - W0||_F^4``: how evenly the weight is spread over rows.

    The quantity of [AZLL] Figure 3(b). It is 1 when every row has the same norm, about
    ``1 + 2/d`` for an i.i.d. Gaussian matrix with ``d`` columns (``E||w||^4 /
    (E||w||^2)^2``), and ``m`` when one row carries all the weight.

    Parameters
    ----------
    W : array-like of shape (m, fan_in)
        Weight matrix, rows are neurons.
    W0 : array-like of shape (m, fan_in), default=None
        Reference: the ratio of the increment ``W - W0`` (the theory's ``W'``).

    Returns
    -------
    ratio : float
        In ``[1, m]``; ``nan`` for an all-zero matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.diagnostics import norm_ratio
    >>> norm_ratio(np.ones((4, 3))), norm_ratio(np.diag([1.0, 0.0, 0.0]))
    (1.0, 3.0)
    """
    D = _increment(W, W0)
    sq = np.einsum("ij,ij->i", D, D)
    total = float(sq.sum())
    if total == 0:
        return float("nan")
    return float(D.shape[0] * np.sum(sq ** 2) / total ** 2)
