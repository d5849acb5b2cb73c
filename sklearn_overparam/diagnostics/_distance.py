"""How far training moved the weights: relative and width-scaled Frobenius distances."""

from __future__ import annotations

import math

import torch

from ._checks import check_lists, check_positive_int, common_width, is_sequence, pair


def _frobenius(D: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(D.to(torch.float64)))


def relative_distance_from_init(W, W0):
    """``||W - W0||_F / ||W0||_F``: the distance travelled, relative to the initial size.

    Parameters
    ----------
    W : array-like or tensor, or list of them
        Current weights (any shape; a matrix has rows as neurons); a list holds several
        layers.
    W0 : array-like or tensor, or list of them
        Initial weights, shaped like ``W``.

    Returns
    -------
    distance : float or list of float
        One value per layer when ``W`` is a list.

    Raises
    ------
    ValueError
        If a ``W0`` is all zeros (the ratio is undefined).

    Notes
    -----
    ``||W - W0||_F / ||W0||_F`` with ``||A||_F = (sum_ij A_ij^2)^{1/2}``, computed in
    float64. [LL] report it below 0.1 for their over-parameterized networks: the final
    solution is close to the initialization.

    References
    ----------
    [LL] Sec. 7, Figure 1(c) and Figure 2(c) ("distance").

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.diagnostics import relative_distance_from_init
    >>> W0 = np.array([[3.0, 0.0], [0.0, 4.0]])
    >>> relative_distance_from_init(W0 + np.array([[0.0, 0.5], [0.0, 0.0]]), W0)
    0.1
    >>> relative_distance_from_init([W0, 2 * W0], [W0, W0])
    [0.0, 1.0]
    """
    if is_sequence(W):
        W, W0 = check_lists(W, W0)
        return [_relative(w, w0, f"W[{l}]", f"W0[{l}]") for l, (w, w0) in
                enumerate(zip(W, W0))]
    return _relative(W, W0, "W", "W0")


def _relative(W, W0, name, name0):
    a, b = pair(W, W0, name, name0)
    ref = _frobenius(b)
    if ref == 0:
        raise ValueError(
            f"`{name0}` must not be all zeros (||{name0}||_F = 0 makes the relative distance "
            f"undefined); got a zero tensor. Use ||{name} - {name0}||_F instead, e.g. "
            "max_scaled_distance."
        )
    return _frobenius(a - b) / ref


def max_scaled_distance(Ws, W0s, *, width=None):
    """``sqrt(m) max_l ||W_l - W_l^(0)||_F``: the [CCZG] distance from init, in units of R.

    Parameters
    ----------
    Ws : array-like or tensor of shape (fan_out, fan_in), or list of them
        Current weight matrices of the layers, in network order.
    W0s : array-like or tensor, or list of them
        Initial weights, shaped like ``Ws``.
    width : int, default=None
        The width ``m``. ``None``: the common fan-out of the hidden layers, i.e. of every
        matrix but the last (the output layer); for a single matrix its number of rows.

    Returns
    -------
    distance : float
        ``sqrt(m) max_l ||W_l - W_l^(0)||_F``.

    Notes
    -----
    [CCZG] Theorem 3.3 compares gradient descent with the NTRF functions in the ball
    ``B(W^(0), R m^{-1/2})`` (each layer within Frobenius distance ``R / sqrt(m)`` of its
    initialization), and its proof keeps every iterate in ``B(W^(0), tau)`` with
    ``tau = O(sqrt(L) R / sqrt(m))``. So ``sqrt(m) max_l ||W_l - W_l^(0)||_F`` is the
    radius of the smallest such ball in units of ``R``: compare it to ``R`` and
    ``sqrt(L) R``. ``m`` is the width of the hidden layers (their fan-out).

    References
    ----------
    [CCZG] Theorem 3.3 and its proof sketch (Sec. 5.2); Definition 3.2 (the NTRF ball).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.diagnostics import max_scaled_distance
    >>> W0 = [np.zeros((4, 3)), np.zeros((4, 4)), np.zeros((1, 4))]
    >>> W = [W0[0] + 0.5, W0[1], W0[2] + 0.1]  # ||W_1 - W_1^(0)||_F = sqrt(12) / 2
    >>> round(max_scaled_distance(W, W0), 6)  # sqrt(4) * sqrt(3)
    3.464102
    """
    if not is_sequence(Ws):
        if is_sequence(W0s):
            raise ValueError("`W0s` must be a single array when `Ws` is one; got a list.")
        Ws, W0s = [Ws], [W0s]
    Ws, W0s = check_lists(Ws, W0s, "Ws", "W0s")
    pairs = [pair(w, w0, f"Ws[{l}]", f"W0s[{l}]", ndim=2) for l, (w, w0) in
             enumerate(zip(Ws, W0s))]
    if width is None:
        width = common_width([tuple(a.shape) for a, _ in pairs], "Ws")
    width = check_positive_int(width, "width")
    return math.sqrt(width) * max(_frobenius(a - b) for a, b in pairs)
