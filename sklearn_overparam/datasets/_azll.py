"""[AZLL] Sec. 7 regression data: inputs uniform on the unit sphere, composite targets."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from ._labels import _centers_rng, _check_bool, _check_int, _check_n_samples, _check_real


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


_ACTIVATIONS = {
    "sin": lambda z: np.sin(z),
    "exp": lambda z: np.expm1(z),
    "tanh": lambda z: np.tanh(z),
    "poly": lambda z: z**2 + z**3,
}


def _resolve_activation(activation, scale, name):
    """``z -> g(scale * z)`` for a named ``g`` in ``_ACTIVATIONS``, or ``activation`` itself."""
    if callable(activation):
        return activation
    if isinstance(activation, str) and activation in _ACTIVATIONS:
        g = _ACTIVATIONS[activation]
        return lambda z: g(scale * z)
    raise ValueError(
        f"`{name}` must be one of {sorted(_ACTIVATIONS)} or a callable; got {activation!r}. "
        "Pass e.g. 'sin', or a numpy function of one array such as np.cos."
    )


def _unit_rows(shape, rng):
    g = rng.standard_normal(shape)
    return g / np.linalg.norm(g, axis=-1, keepdims=True)


def _concept_inputs(n_samples, n_features, pad, rng):
    if not pad:
        return _sphere(n_samples, n_features, rng)
    u = _sphere(n_samples, n_features - 1, rng)
    return np.hstack([np.sqrt(3) / 2 * u, np.full((n_samples, 1), 0.5)])


def make_azll_concept(
    n_samples=1000,
    *,
    n_features=10,
    n_outputs=1,
    n_layers=2,
    n_terms=4,
    n_inner=4,
    activation="sin",
    activation_scale=3.0,
    outer_activation="poly",
    pad=True,
    noise=0.0,
    concept_random_state=None,
    return_params=False,
    random_state=None,
):
    """A random target of the [AZLL] concept classes, eq. (3.1) (two-layer) or (4.1) (three-layer).

    Two-layer class ([AZLL] Sec. 3, eq. (3.1)), ``p = n_terms``::

        f*_r(x) = sum_{i<p} a*_{r,i} phi(<w*_{1,i}, x>) <w*_{2,i}, x>

    Three-layer class ([AZLL] Sec. 4, eq. (4.1)), ``p1 = n_terms``, ``p2 = n_inner``::

        f*_r(x) = sum_{i<p1} a*_{r,i} Phi( sum_{j<p2} v*_{1,i,j} phi(<w*_{1,j}, x>) )
                                     * ( sum_{j<p2} v*_{2,i,j} phi(<w*_{2,j}, x>) )

    Distributions (each draw independent): ``a*_{r,i} ~ Uniform[-1, 1]`` (so ``|a*| <= 1``);
    every ``w*`` row is uniform on the unit sphere of ``R^d`` (``g / ||g||``,
    ``g ~ N(0, I_d)``, so ``||w*|| = 1``); every ``v*_{s,i}`` is uniform on the unit sphere of
    ``R^{p2}``. The same ``phi`` is used for all ``phi_i`` (and ``phi_{1,j}``, ``phi_{2,j}``)
    and the same ``Phi`` for all ``Phi_i``. Inputs satisfy [AZLL] Sec. 3's ``||x|| = 1`` and,
    with ``pad=True``, ``x_d = 1/2``: ``x = (sqrt(3)/2 u, 1/2)`` with ``u`` uniform on the unit
    sphere of ``R^{d-1}``; with ``pad=False``, ``x`` is uniform on the unit sphere of ``R^d``.
    ``y = F*(x) + noise * N(0, I_k)``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.
    n_features : int, default=10
        Input dimension ``d >= 2`` (with ``pad=True`` it includes the constant coordinate).
    n_outputs : int, default=1
        Number of outputs ``k >= 1``.
    n_layers : {2, 3}, default=2
        Which class: 2 for eq. (3.1), 3 for eq. (4.1).
    n_terms : int, default=4
        ``p`` of eq. (3.1), or ``p1`` of eq. (4.1) (number of summands; ``>= 1``).
    n_inner : int, default=4
        ``p2`` of eq. (4.1) (inner width, ``>= 1``); unused when ``n_layers=2``.
    activation : {"sin", "exp", "tanh", "poly"} or callable, default="sin"
        The smooth ``phi`` ([AZLL] Example 2.1): with ``c = activation_scale``, ``"sin"`` is
        ``sin(c z)``, ``"exp"`` is ``exp(c z) - 1``, ``"tanh"`` is ``tanh(c z)`` and ``"poly"``
        is ``(c z)^2 + (c z)^3``. A callable is applied element-wise as given (no scale).
    activation_scale : float, default=3.0
        The constant ``c > 0`` of the named ``activation`` (3 as in [AZLL] Sec. 7's
        ``sin(3 x_1)``).
    outer_activation : {"sin", "exp", "tanh", "poly"} or callable, default="poly"
        The outer ``Phi`` of eq. (4.1), with scale 1 (``"poly"`` is ``z^2 + z^3``); unused
        when ``n_layers=2``.
    pad : bool, default=True
        Whether inputs carry the constant last coordinate ``x_d = 1/2`` of [AZLL] Sec. 3.
    noise : float, default=0.0
        Standard deviation (``>= 0``) of Gaussian noise added to ``y``.
    concept_random_state : int, RandomState instance or None, default=None
        Seed of the concept's parameters. ``None`` draws them first from ``random_state``;
        pass the same value with different ``random_state`` for fresh inputs (e.g. a test set)
        of the same concept.
    return_params : bool, default=False
        Whether to also return the concept's parameters.
    random_state : int, RandomState instance or None, default=None
        Seed of the inputs and noise (and of the parameters if ``concept_random_state`` is
        None).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Unit-norm inputs.
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Targets; one-dimensional when ``n_outputs=1``.
    params : dict
        Only if ``return_params=True``. ``"a"`` (``(k, p)`` or ``(k, p1)``), ``"w1"``, ``"w2"``
        (``(p, d)`` rows ``w*_{1,i}``, ``w*_{2,i}``; ``(p2, d)`` for three layers), for three
        layers ``"v1"``, ``"v2"`` (``(p1, p2)``, unit rows), ``"activation"`` (``phi``, scale
        applied), ``"outer_activation"`` (``Phi``, three layers), ``"n_layers"`` and
        ``"function"``: a callable mapping an array of shape ``(n, d)`` to the noiseless
        ``F*`` (shaped like ``y``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.datasets import make_azll_concept
    >>> X, y, params = make_azll_concept(200, n_features=5, return_params=True, random_state=0)
    >>> X.shape, y.shape, params["w1"].shape
    ((200, 5), (200,), (4, 5))
    >>> bool(np.allclose(np.linalg.norm(X, axis=1), 1.0)), bool(np.all(X[:, -1] == 0.5))
    (True, True)
    >>> bool(np.allclose(params["function"](X), y))
    True
    """
    n_samples = _check_n_samples(n_samples)
    d = _check_int(n_features, "n_features", 2, "Pass e.g. n_features=10.")
    k = _check_int(n_outputs, "n_outputs", 1, "Pass n_outputs=1 for scalar regression.")
    if (isinstance(n_layers, (bool, np.bool_)) or not isinstance(n_layers, Integral)
            or n_layers not in (2, 3)):
        raise ValueError(
            f"`n_layers` must be 2 or 3; got {n_layers!r}. Pass 2 for the two-layer class "
            "(3.1) or 3 for the three-layer class (4.1)."
        )
    p = _check_int(n_terms, "n_terms", 1, "Pass e.g. n_terms=4.")
    p2 = _check_int(n_inner, "n_inner", 1, "Pass e.g. n_inner=4.")
    c = _check_real(activation_scale, "activation_scale", positive=True,
                    hint="Pass e.g. activation_scale=3.0.")
    phi = _resolve_activation(activation, c, "activation")
    Phi = _resolve_activation(outer_activation, 1.0, "outer_activation")
    pad = _check_bool(pad, "pad")
    noise = _check_real(noise, "noise", positive=False,
                        hint="It is the standard deviation of the Gaussian noise added to y; "
                        "pass noise=0.0 for noiseless targets.")
    return_params = _check_bool(return_params, "return_params")
    rng = check_random_state(random_state)
    crng = _centers_rng(concept_random_state, rng)

    a = crng.uniform(-1.0, 1.0, size=(k, p))
    if n_layers == 2:
        w1, w2 = _unit_rows((p, d), crng), _unit_rows((p, d), crng)

        def function(X):
            X = np.asarray(X, dtype=float)
            f = (phi(X @ w1.T) * (X @ w2.T)) @ a.T
            return f[:, 0] if k == 1 else f

        params = {"n_layers": 2, "a": a, "w1": w1, "w2": w2, "activation": phi}
    else:
        w1, w2 = _unit_rows((p2, d), crng), _unit_rows((p2, d), crng)
        v1, v2 = _unit_rows((p, p2), crng), _unit_rows((p, p2), crng)

        def function(X):
            X = np.asarray(X, dtype=float)
            inner = Phi(phi(X @ w1.T) @ v1.T) * (phi(X @ w2.T) @ v2.T)
            f = inner @ a.T
            return f[:, 0] if k == 1 else f

        params = {"n_layers": 3, "a": a, "w1": w1, "w2": w2, "v1": v1, "v2": v2,
                  "activation": phi, "outer_activation": Phi}
    params["function"] = function

    X = _concept_inputs(n_samples, d, pad, rng)
    y = function(X)
    if noise:
        y = y + noise * rng.standard_normal(y.shape)
    return (X, y, params) if return_params else (X, y)
