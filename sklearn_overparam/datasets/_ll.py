"""[LL] classification data: the Sec. 7 structured Gaussian mixture and the Sec. 3 XOR balls."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from ._labels import (
    _centers_rng,
    _check_bool,
    _check_int,
    _check_n_samples,
    _check_real,
    _uniform_labels,
)


def make_structured_mixture(
    n_samples=1000,
    *,
    n_features=1000,
    n_classes=10,
    n_components=2,
    sigma=1.0,
    sigma0=5.0,
    normalize=False,
    random_labels=False,
    centers_random_state=None,
    return_centers=False,
    random_state=None,
):
    """The [LL] Sec. 7 synthetic data: ``k`` classes, each a mixture of ``l`` Gaussians.

    The ``k * l`` component means are drawn once, ``mu_{i,j} ~ N(0, (sigma0^2 / d) I_d)``
    i.i.d. Each point picks a component ``(i, j)`` uniformly (probability ``1 / (k l)``,
    i.i.d.), is drawn from ``N(mu_{i,j}, (sigma^2 / d) I_d)`` and gets the label ``y = i``
    ([LL] Sec. 7: ``d = 1000``, ``k = 10``, ``l = 2``, ``sigma = 1``, ``sigma0 = 5``; vary
    ``sigma`` to vary the components' variance). So ``||mu|| ~ sigma0``, a point lies at
    distance ``~ sigma`` from its mean and ``||x|| ~ sqrt(sigma0^2 + sigma^2)``. [LL] Sec. 7
    does not normalise the points; ``normalize=True`` rescales each to ``||x|| = 1``, [LL]
    Sec. 3 assumption (A2). Train and test sets share the means: pass the same
    ``centers_random_state`` with different ``random_state`` (or split one draw).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.
    n_features : int, default=1000
        Dimension ``d >= 1``.
    n_classes : int, default=10
        Number of classes ``k >= 2``.
    n_components : int, default=2
        Components per class ``l >= 1``.
    sigma : float, default=1.0
        Within-component scale ``sigma >= 0`` (covariance ``(sigma^2 / d) I_d``).
    sigma0 : float, default=5.0
        Scale ``sigma0 > 0`` of the means (``mu ~ N(0, (sigma0^2 / d) I_d)``).
    normalize : bool, default=False
        Whether to rescale every point to unit norm ([LL] (A2)); the means are returned
        unnormalised.
    random_labels : bool, default=False
        Whether to replace the labels by i.i.d. uniform labels in ``{0, ..., k-1}``, drawn
        after the inputs so that ``X`` is the same with and without it (fitting random labels
        on structured inputs, [LL] Sec. 6).
    centers_random_state : int, RandomState instance or None, default=None
        Seed of the means. ``None`` draws them first from ``random_state``.
    return_centers : bool, default=False
        Whether to also return the means.
    random_state : int, RandomState instance or None, default=None
        Seed of the points (and of the means if ``centers_random_state`` is None).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Points.
    y : ndarray of shape (n_samples,)
        Integer labels in ``{0, ..., n_classes - 1}``.
    centers : ndarray of shape (n_classes, n_components, n_features)
        Only if ``return_centers=True``: ``centers[i, j] = mu_{i,j}``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.datasets import make_structured_mixture
    >>> X, y = make_structured_mixture(1000, random_state=0)
    >>> X.shape, np.unique(y).tolist()
    ((1000, 1000), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    >>> X_test, y_test = make_structured_mixture(1000, normalize=True, centers_random_state=0,
    ...                                          random_state=1)
    >>> bool(np.allclose(np.linalg.norm(X_test, axis=1), 1.0))
    True
    """
    n_samples = _check_n_samples(n_samples)
    d = _check_int(n_features, "n_features", 1, "Pass e.g. n_features=1000, the paper's d.")
    k = _check_int(n_classes, "n_classes", 2, "Pass e.g. n_classes=10, the paper's k.")
    n_comp = _check_int(n_components, "n_components", 1,
                        "Pass e.g. n_components=2, the paper's l.")
    sigma = _check_real(sigma, "sigma", positive=False,
                        hint="It is the within-component scale; pass e.g. sigma=1.0.")
    sigma0 = _check_real(sigma0, "sigma0", positive=True,
                         hint="It is the scale of the component means; pass e.g. sigma0=5.0.")
    normalize = _check_bool(normalize, "normalize")
    random_labels = _check_bool(random_labels, "random_labels")
    return_centers = _check_bool(return_centers, "return_centers")
    rng = check_random_state(random_state)

    centers = sigma0 / np.sqrt(d) * _centers_rng(centers_random_state, rng).standard_normal(
        (k, n_comp, d)
    )
    component = rng.randint(k * n_comp, size=n_samples)
    y = (component // n_comp).astype(np.int64)
    X = centers.reshape(k * n_comp, d)[component] + sigma / np.sqrt(d) * rng.standard_normal(
        (n_samples, d)
    )
    if normalize:
        X /= np.linalg.norm(X, axis=1, keepdims=True)
    if random_labels:
        y = _uniform_labels(np.arange(k), n_samples, rng)
    return (X, y, centers) if return_centers else (X, y)


_XOR_CENTERS = np.array([[0.0, 0.0], [2.0, 2.0], [0.0, 2.0], [2.0, 0.0]])
_XOR_LABELS = np.array([0, 0, 1, 1], dtype=np.int64)


def make_xor_balls(n_samples=1000, *, diameter=0.1, lift=1.0, random_labels=False,
                   random_state=None):
    """The [LL] Sec. 3 XOR example: four balls in ``R^2``, two classes, lifted to the sphere.

    Class 0 is the union of the balls of diameter ``diameter`` (1/10 in [LL] Sec. 3) centred
    at ``(0, 0)`` and ``(2, 2)``; class 1 of those centred at ``(0, 2)`` and ``(2, 0)``. Each
    point picks one of the four balls uniformly (i.i.d.) and is uniform in it, so the label
    is a deterministic function of the point, ``y = 1[x_1 > 1] XOR 1[x_2 > 1]``, yet no line
    separates the classes (a half-plane holds at most three of the balls). [LL]'s network has
    no bias and its assumption (A2) wants ``||x|| = 1``, so by default a point ``x`` is
    returned lifted to the unit sphere of ``R^3``: ``(x_1, x_2, c) / ||(x_1, x_2, c)||`` with
    ``c = lift`` (invertible: ``x = c z_{1:2} / z_3``). The lifted classes are still not
    separated by any hyperplane through the origin (``<w, z> > 0`` is a half-plane of
    ``x``), the only boundary a bias-free unit draws; an affine one in ``R^3`` does exist.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.
    diameter : float, default=0.1
        Diameter of each ball, ``0 < diameter < 2`` (balls of different classes are disjoint).
    lift : float or None, default=1.0
        The lifting constant ``c > 0``; ``None`` returns the raw points of ``R^2``.
    random_labels : bool, default=False
        Whether to replace the labels by i.i.d. uniform labels in ``{0, 1}``, drawn after the
        inputs so that ``X`` is the same with and without it.
    random_state : int, RandomState instance or None, default=None
        Seed of the draw.

    Returns
    -------
    X : ndarray of shape (n_samples, 3), or (n_samples, 2) if ``lift=None``
        Points, unit-norm when lifted.
    y : ndarray of shape (n_samples,)
        Integer labels in ``{0, 1}``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.datasets import make_xor_balls
    >>> X, y = make_xor_balls(400, random_state=0)
    >>> X.shape, np.unique(y).tolist(), bool(np.allclose(np.linalg.norm(X, axis=1), 1.0))
    ((400, 3), [0, 1], True)
    >>> X2, y2 = make_xor_balls(400, lift=None, random_state=0)
    >>> bool(np.array_equal(y2, (X2[:, 0] > 1) ^ (X2[:, 1] > 1)))
    True
    """
    n_samples = _check_n_samples(n_samples)
    diameter = _check_real(diameter, "diameter", positive=True,
                           hint="Pass e.g. diameter=0.1, the paper's 1/10.")
    if diameter >= 2:
        raise ValueError(
            f"`diameter` must be < 2 so that the balls of the two classes are disjoint; got "
            f"{diameter!r}. Pass e.g. diameter=0.1, the paper's 1/10."
        )
    if lift is not None:
        lift = _check_real(lift, "lift", positive=True,
                           hint="Pass e.g. lift=1.0, or lift=None for the raw points in R^2.")
    random_labels = _check_bool(random_labels, "random_labels")
    rng = check_random_state(random_state)

    ball = rng.randint(4, size=n_samples)
    radius = diameter / 2 * np.sqrt(rng.uniform(size=n_samples))
    angle = 2 * np.pi * rng.uniform(size=n_samples)
    X = _XOR_CENTERS[ball] + radius[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
    y = _XOR_LABELS[ball]
    if lift is not None:
        X = np.column_stack([X, np.full(n_samples, lift)])
        X /= np.linalg.norm(X, axis=1, keepdims=True)
    if random_labels:
        y = _uniform_labels([0, 1], n_samples, rng)
    return X, y
