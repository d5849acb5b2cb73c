"""[AZLL] Sec. 7 regression data: inputs uniform on the unit sphere, composite targets."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state


def _check_params(n_samples, n_features, noise):
    if isinstance(n_samples, bool) or not isinstance(n_samples, Integral) or n_samples < 1:
        raise ValueError(
            f"`n_samples` must be a positive integer; got {n_samples!r}. Pass e.g. "
            "n_samples=1000."
        )
    if isinstance(n_features, bool) or not isinstance(n_features, Integral) or n_features < 4:
        raise ValueError(
            f"`n_features` must be an integer >= 4 (the target reads x_1..x_4); "
            f"got {n_features!r}. Pass n_features=4, the paper's dimension."
        )
    if isinstance(noise, bool) or not isinstance(noise, Real) or not (
        np.isfinite(noise) and noise >= 0
    ):
        raise ValueError(
            f"`noise` must be a non-negative float; got {noise!r}. It is the standard "
            "deviation of the Gaussian noise added to y; pass noise=0.0 for the paper's "
            "noiseless targets."
        )


def _sphere(n_samples, n_features, rng):
    g = rng.standard_normal((n_samples, n_features))
    return g / np.linalg.norm(g, axis=1, keepdims=True)


def make_composite_sine(n_samples=1000, *, n_features=4, noise=0.0, random_state=None):
    """The [AZLL] Figure 1 data: ``y = (sin 3x1 + sin 3x2 + sin 3x3 - 2)^2 cos 7x4``.

    ``x = g / ||g||`` with ``g ~ N(0, I_d)`` is uniform on the unit sphere ([AZLL] Sec. 7).
    For ``n_features=4``, ``E y ~ -0.08`` and ``Var(y) ~ 31.1`` (Monte Carlo, 10^7 draws:
    -0.078 +- 0.001 and 31.06 +- 0.02).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.
    n_features : int, default=4
        Input dimension ``d >= 4`` (the paper uses 4; extra coordinates are nuisance).
    noise : float, default=0.0
        Standard deviation (``>= 0``) of Gaussian noise added to ``y`` (the paper's data are
        noiseless).
    random_state : int, RandomState instance or None, default=None
        Seed of the draw.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Unit-norm inputs.
    y : ndarray of shape (n_samples,)
        Targets.
    """
    _check_params(n_samples, n_features, noise)
    rng = check_random_state(random_state)
    X = _sphere(n_samples, n_features, rng)
    y = (np.sin(3 * X[:, 0]) + np.sin(3 * X[:, 1]) + np.sin(3 * X[:, 2]) - 2) ** 2 * np.cos(
        7 * X[:, 3]
    )
    if noise:
        y = y + noise * rng.standard_normal(n_samples)
    return X, y


def make_composite_tanh(n_samples=1000, *, n_features=4, noise=0.0, random_state=None):
    """The [AZLL] Figure 2 data: ``y = (tanh 8x1 + tanh 8x2 + tanh 8x3 - 2)^2 tanh 8x4``.

    Same inputs as :func:`make_composite_sine` ([AZLL] Sec. 7). ``E y = 0`` (``y`` is odd
    in ``x4``) and, for ``n_features=4``, ``Var(y) ~ 76.7`` (Monte Carlo, 10^7 draws).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.
    n_features : int, default=4
        Input dimension ``d >= 4``.
    noise : float, default=0.0
        Standard deviation (``>= 0``) of Gaussian noise added to ``y``.
    random_state : int, RandomState instance or None, default=None
        Seed of the draw.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Unit-norm inputs.
    y : ndarray of shape (n_samples,)
        Targets.
    """
    _check_params(n_samples, n_features, noise)
    rng = check_random_state(random_state)
    X = _sphere(n_samples, n_features, rng)
    t = np.tanh(8 * X[:, :4])
    y = (t[:, 0] + t[:, 1] + t[:, 2] - 2) ** 2 * t[:, 3]
    if noise:
        y = y + noise * rng.standard_normal(n_samples)
    return X, y
