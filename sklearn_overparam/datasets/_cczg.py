"""[CCZG] binary classification data: unit-norm noisy clusters with alternating labels."""

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


def make_cczg_clusters(
    n_samples=1000,
    *,
    n_features=10,
    n_clusters=20,
    noise=0.5,
    random_labels=False,
    centers_random_state=None,
    return_centers=False,
    random_state=None,
):
    """Binary cluster data on the unit sphere, for [CCZG]'s learners (labels in ``{-1, +1}``).

    A synthetic, offline stand-in for the binary data of [CCZG] App. D (minimal width for zero
    training error against the sample size ``n``; the paper's data are two CIFAR-10 classes).
    ``n_clusters`` means ``mu_c`` are drawn once, uniform on the unit sphere of ``R^d``
    (``g / ||g||``, ``g ~ N(0, I_d)``); cluster ``c`` has label ``+1`` if ``c`` is even and
    ``-1`` if odd (alternating). Each point picks a cluster uniformly (i.i.d.) and is
    ``x = (mu_c + e) / ||mu_c + e||`` with ``e ~ N(0, (noise^2 / d) I_d)`` (``noise=0.5``:
    ``N(0, 0.25/d I)``), so every point satisfies [CCZG] Assumption 3.1, ``||x||_2 = 1``.
    The labels are the paper's ``y in {-1, +1}`` (logistic loss, [CCZG] Sec. 2); the
    library's classifiers accept any two labels. Data sets of different sizes on the same
    clusters: pass the same ``centers_random_state``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.
    n_features : int, default=10
        Dimension ``d >= 2``.
    n_clusters : int, default=20
        Number of clusters (``>= 2``; half of them, rounded up, have label ``+1``).
    noise : float, default=0.5
        Root-mean-square norm (``>= 0``) of the perturbation ``e`` before re-normalisation:
        ``e ~ N(0, (noise^2 / d) I_d)``.
    random_labels : bool, default=False
        Whether to replace the labels by i.i.d. uniform labels in ``{-1, +1}``, drawn after the
        inputs so that ``X`` is the same with and without it.
    centers_random_state : int, RandomState instance or None, default=None
        Seed of the cluster means. ``None`` draws them first from ``random_state``.
    return_centers : bool, default=False
        Whether to also return the means (row ``c`` has label ``+1`` if ``c`` is even).
    random_state : int, RandomState instance or None, default=None
        Seed of the points (and of the means if ``centers_random_state`` is None).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Unit-norm points.
    y : ndarray of shape (n_samples,)
        Integer labels in ``{-1, +1}``.
    centers : ndarray of shape (n_clusters, n_features)
        Only if ``return_centers=True``: the unit-norm means.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.datasets import make_cczg_clusters
    >>> X, y = make_cczg_clusters(100, centers_random_state=0, random_state=0)
    >>> X.shape, np.unique(y).tolist(), bool(np.allclose(np.linalg.norm(X, axis=1), 1.0))
    ((100, 10), [-1, 1], True)
    >>> X_big, _ = make_cczg_clusters(1600, centers_random_state=0, random_state=1)
    >>> X_rand, y_rand = make_cczg_clusters(100, random_labels=True, centers_random_state=0,
    ...                                     random_state=0)
    >>> bool(np.array_equal(X, X_rand))
    True
    """
    n_samples = _check_n_samples(n_samples)
    d = _check_int(n_features, "n_features", 2, "Pass e.g. n_features=10.")
    n_clusters = _check_int(n_clusters, "n_clusters", 2,
                            "Pass e.g. n_clusters=20 (both labels need a cluster).")
    noise = _check_real(noise, "noise", positive=False,
                        hint="It is the root-mean-square norm of each point's Gaussian "
                        "perturbation; pass e.g. noise=0.5.")
    random_labels = _check_bool(random_labels, "random_labels")
    return_centers = _check_bool(return_centers, "return_centers")
    rng = check_random_state(random_state)

    g = _centers_rng(centers_random_state, rng).standard_normal((n_clusters, d))
    centers = g / np.linalg.norm(g, axis=1, keepdims=True)
    cluster = rng.randint(n_clusters, size=n_samples)
    y = np.where(cluster % 2 == 0, 1, -1).astype(np.int64)
    X = centers[cluster] + noise / np.sqrt(d) * rng.standard_normal((n_samples, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    if random_labels:
        y = _uniform_labels([-1, 1], n_samples, rng)
    return (X, y, centers) if return_centers else (X, y)
