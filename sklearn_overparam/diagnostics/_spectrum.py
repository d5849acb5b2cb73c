"""Spectra of weight matrices and of accumulated updates ([LL] Figure 1(d))."""

from __future__ import annotations

import numbers

import numpy as np
import torch

from ._checks import as_tensor, check_positive_int, pair

KINDS = ("entropy", "participation")


def _matrix(W, W0):
    if W0 is None:
        return as_tensor(W, "W", ndim=2)
    a, b = pair(W, W0, "W", "W0", ndim=2)
    return a - b


def singular_values(W, W0=None) -> np.ndarray:
    """All singular values of ``W`` (or of ``W - W0``), descending, as float64."""
    return torch.linalg.svdvals(_matrix(W, W0)).to(torch.float64).cpu().numpy()


def top_singular_values(W, k=5, *, W0=None):
    """The ``k`` largest singular values of ``W``, or of the update ``W - W0``.

    Parameters
    ----------
    W : array-like or tensor of shape (m, d)
        Weight matrix (rows are neurons).
    k : int, default=5
        How many values, at most ``min(m, d)``.
    W0 : array-like or tensor of shape (m, d), default=None
        Reference: with it the spectrum of the accumulated update ``W - W0``.

    Returns
    -------
    s : ndarray of shape (k,)
        ``s_1 >= s_2 >= ... >= s_k >= 0`` in float64.

    Notes
    -----
    The singular values are those of ``torch.linalg.svdvals`` (no singular vectors), in
    the input's precision (float64 for numpy input); cost ``O(m d min(m, d))``. [LL]
    contrast the spectrum of ``W^(T) - W^(0)`` (a few large values: about ``k l``
    directions, one per class component) with the flat spectrum of ``W^(T)``.

    References
    ----------
    [LL] Sec. 7, Figure 1(d) and Figure 2(d) ("rank of accumulated updates").

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.diagnostics import top_singular_values
    >>> top_singular_values(np.diag([3.0, 1.0, 2.0]), k=2)
    array([3., 2.])
    >>> W0 = np.eye(3)
    >>> top_singular_values(W0 + np.outer([1.0, 0, 0], [0, 2.0, 0]), k=2, W0=W0)
    array([2., 0.])
    """
    D = _matrix(W, W0)
    k = check_positive_int(k, "k")
    if k > min(D.shape):
        raise ValueError(
            f"`k` must be at most min(m, d) = {min(D.shape)} for a matrix of shape "
            f"{tuple(D.shape)}; got {k!r}. A matrix has no more singular values."
        )
    return torch.linalg.svdvals(D).to(torch.float64).cpu().numpy()[:k]


def entropy_rank(s: np.ndarray) -> float:
    """``exp(-sum p log p)`` of ``p = s / sum(s)`` (0 log 0 = 0); nan for a zero spectrum."""
    total = s.sum()
    if not total > 0:
        return float("nan")
    p = s[s > 0] / total
    return float(np.exp(-np.sum(p * np.log(p))))


def participation_rank(s: np.ndarray) -> float:
    """``(sum s)^2 / sum s^2``; nan for a zero spectrum."""
    sq = np.sum(s * s)
    if not sq > 0:
        return float("nan")
    return float(s.sum() ** 2 / sq)


def effective_rank(W, *, W0=None, kind="entropy"):
    """Effective rank of ``W`` (or of ``W - W0``): how many directions carry its spectrum.

    Parameters
    ----------
    W : array-like or tensor of shape (m, d)
        Weight matrix (rows are neurons).
    W0 : array-like or tensor of shape (m, d), default=None
        Reference: with it the effective rank of the update ``W - W0``.
    kind : {"entropy", "participation"}, default="entropy"
        ``"entropy"``: ``exp(H(p))`` (Roy & Vetterli, 2007); ``"participation"``:
        ``(sum_i s_i)^2 / sum_i s_i^2``.

    Returns
    -------
    rank : float
        In ``[1, min(m, d)]``.

    Raises
    ------
    ValueError
        If the matrix is zero (e.g. the update before any step): its rank is 0 and the
        normalized spectrum undefined.

    Notes
    -----
    With singular values ``s_i`` and ``p_i = s_i / sum_j s_j``, the entropy effective rank
    is ``exp(-sum_i p_i log p_i)`` (Roy & Vetterli, 2007). Both kinds equal ``r`` when
    ``r`` singular values are equal and the rest zero, lie in ``[1, rank]`` and ignore the
    scale of ``W``; the entropy form is the default because it is the one called
    "effective rank" in the literature and is less dominated by the top value than the
    participation ratio. Singular values at rounding level contribute ``p log p ~ 0``, so no
    threshold is applied. [LL] predict an update ``W^(T) - W^(0)`` of low effective rank
    (about ``k l``, the number of class components) and a full-rank ``W^(T)``.

    References
    ----------
    Roy, Vetterli (2007), The effective rank: a measure of effective dimensionality, EUSIPCO.
    [LL] Sec. 7, Figure 1(d) (low rank of the accumulated updates).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.diagnostics import effective_rank
    >>> round(effective_rank(np.diag([1.0, 1.0, 0.0])), 6)
    2.0
    >>> round(effective_rank(np.diag([3.0, 1.0]), kind="participation"), 6)
    1.6
    """
    if kind not in KINDS:
        raise ValueError(f"`kind` must be 'entropy' or 'participation'; got {kind!r}.")
    s = singular_values(W, W0)
    if not s.sum() > 0:
        what = "`W - W0`" if W0 is not None else "`W`"
        raise ValueError(
            f"{what} must be nonzero to have an effective rank; got a zero matrix (rank 0). "
            "Measure it after at least one update."
        )
    return entropy_rank(s) if kind == "entropy" else participation_rank(s)


def singular_value_gap(W, index, *, W0=None):
    """``s_index / s_{index+1}`` (1-based): the gap after the top ``index`` singular values.

    Parameters
    ----------
    W : array-like or tensor of shape (m, d)
        Weight matrix (rows are neurons).
    index : int
        ``i`` in ``s_i / s_{i+1}``, 1-based, in ``[1, min(m, d) - 1]``; ``index=20`` is
        the ``s_20 / s_21`` of the [LL] low-rank check (``k l = 20`` components).
    W0 : array-like or tensor of shape (m, d), default=None
        Reference: with it the gap of the update ``W - W0``.

    Returns
    -------
    gap : float
        ``s_index / s_{index+1} >= 1``; ``inf`` when ``s_{index+1} = 0`` and
        ``s_index > 0``, ``nan`` when both are 0.

    Notes
    -----
    A large gap says the matrix is close to rank ``index``; a random (Gaussian) matrix has
    ratios near 1 in the bulk of its spectrum.

    References
    ----------
    [LL] Sec. 7, Figure 1(d): "the top 20 singular values of the accumulated updates are much
    larger than the rest while the spectrum of the weight matrix do not have such structure".

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.diagnostics import singular_value_gap
    >>> singular_value_gap(np.diag([4.0, 2.0, 1.0]), 1)
    2.0
    """
    if isinstance(index, bool) or not isinstance(index, numbers.Integral):
        raise ValueError(f"`index` must be a positive integer (1-based); got {index!r}.")
    s = singular_values(W, W0)
    if not 1 <= index <= len(s) - 1:
        raise ValueError(
            f"`index` must be in [1, {len(s) - 1}] (1-based, s_index / s_(index+1) of "
            f"{len(s)} singular values); got {index!r}."
        )
    a, b = s[index - 1], s[index]
    if b == 0:
        return float("inf") if a > 0 else float("nan")
    return float(a / b)
