"""The linear-approximation error of a network near its initialization ([CCZG] Sec. 5.1)."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..nn import ReLUNetSpec, forward
from ..training import linearized_forward
from ._checks import (
    check_params,
    check_positive_float,
    check_positive_int,
    check_spec,
    common_width,
    inputs_like,
    random_generator,
    select_copy,
)


def linearization_error(model, params0=None, X=None, *, radius, n_directions=5,
                        random_state=None, index=None, width=None):
    """``max_i |f_{W0+D}(x_i) - F_{W0,W0+D}(x_i)|`` for random ``D`` in the [CCZG] ball.

    Call it on a fitted network estimator, ``linearization_error(est, X, radius=R)``
    (its initial weights ``initial_coefs_`` and, for ``X``, its fitted input map), or on a
    network, ``linearization_error(spec, params0, X, radius=R)``.

    ``F_{W0,W}(x) = f_{W0}(x) + <grad f_{W0}(x), W - W0>`` is the first-order Taylor
    expansion of the network at its initialization (the NTRF model); the error is
    measured at random points ``W0 + D`` with every trained layer moved by exactly
    ``radius / sqrt(m)`` in Frobenius norm, and averaged over directions.

    Parameters
    ----------
    model : ReLUNetSpec or fitted estimator
        The architecture (its trainable tensors are the ones perturbed), or a fitted
        network estimator of this library (then the second argument is ``X``).
    params0 : dict of str to Tensor or array-like, default=None
        The expansion point ``W^(0)``, a stack ``{"W0": (K, fan_out, fan_in), ...}``
        (float64 for small radii: the error is second order, float32 rounding of ``f``
        is about ``1e-7 |f|``); with an estimator: the raw inputs ``X``.
    X : array-like or tensor of shape (n, d), default=None
        Inputs through the estimator's input map, if any (with a spec).
    radius : float
        ``R``: each perturbed tensor has ``||D_l||_F = R / sqrt(m)``, the radius
        ``tau = R m^{-1/2}`` of [CCZG]'s ball ``B(W^(0), tau)``.
    n_directions : int, default=5
        Random directions averaged.
    random_state : int, numpy RandomState or Generator, default=None
        Draws the directions (in float64, so a seed gives the same directions for every
        dtype and device).
    index : int, default=None
        The copy of the stack to measure; ``None`` for a stack of one.
    width : int, default=None
        ``m``; ``None``: the common fan-out of the hidden layers.

    Returns
    -------
    error : float
        ``(1 / n_dir) sum_j max_{i, r} |f_r(x_i; W0 + D_j) - F_r(x_i; W0, W0 + D_j)|``.

    Notes
    -----
    Each direction ``D_j`` is a standard Gaussian tensor per trainable tensor ``l``,
    rescaled to ``||D_{j,l}||_F = radius / sqrt(m)``. ``F`` is evaluated exactly by pushing
    the tangent through the network with the activation pattern frozen at ``W^(0)``
    (:func:`~sklearn_overparam.training.linearized_forward`). For ReLU networks the error
    has two sources. Products of the increments of different layers are exactly second
    order: while no gate flips (tiny radii) the error is ``c radius^2``, and doubling the
    radius multiplies it by 4. Once gates flip, each flipped unit adds an error of the
    order of its pre-activation change ``|Delta z| ~ radius``, and the number of flips
    grows like the radius; with output weights of random signs these contributions add
    like a random walk, so the error then grows like ``radius^{3/2}`` (doubling: about
    2.8), between first and second order, which is the regime of [CCZG]'s bound
    ``O~(tau^{4/3} L^3 m^{1/2})``, i.e. ``O~(R^{4/3} L^{11/3} m^{-1/6})`` at
    ``tau = R / sqrt(m)``. Random directions give a lower estimate of that supremum over
    the ball.

    References
    ----------
    [CCZG] Sec. 5.1 (the linear approximation error ``eps_app(tau)``), Sec. 5.2 and
    Appendix A.1 (its bound and the choice ``tau = O~(L^{1/2} m^{-1/2} R)``).

    Examples
    --------
    >>> import torch
    >>> from sklearn_overparam.diagnostics import linearization_error
    >>> from sklearn_overparam.nn import cczg_deep, init_params
    >>> spec = cczg_deep(n_features=5, width=64, depth=3)
    >>> params0 = init_params(spec, [0], dtype=torch.float64)
    >>> gen = torch.Generator().manual_seed(0)
    >>> X = torch.nn.functional.normalize(torch.randn(20, 5, generator=gen), dim=1)
    >>> small = linearization_error(spec, params0, X, radius=1e-4, random_state=0)
    >>> large = linearization_error(spec, params0, X, radius=2e-4, random_state=0)
    >>> round(large / small, 2)  # no gate flips yet: exactly second order
    4.0
    >>> flips = linearization_error(spec, params0, X, radius=1.0, random_state=0)
    >>> 2 < linearization_error(spec, params0, X, radius=2.0, random_state=0) / flips < 4
    True
    """
    if not isinstance(model, ReLUNetSpec) and hasattr(model, "initial_coefs_"):
        return _estimator_linearization_error(
            model, params0, radius=radius, n_directions=n_directions,
            random_state=random_state, width=width)
    spec = model
    spec = check_spec(spec)
    params0 = check_params(spec, params0, "params0")
    radius = check_positive_float(radius, "radius")
    n_directions = check_positive_int(n_directions, "n_directions")
    names = spec.trainable_names
    if not names:
        raise ValueError(
            "`spec` must have trainable tensors to perturb; got none. Use "
            "spec.with_trainable('all') or name the trained tensors."
        )
    if width is None:
        shapes = [(layer.fan_out, layer.fan_in) for layer in spec.layers]
        width = common_width(shapes, "spec.layers")
    width = check_positive_int(width, "width")
    k = select_copy(spec, params0, index, "params0")
    ref = params0[spec.param_names[0]]
    Xt = inputs_like(X, ref, spec.n_features)
    rng = random_generator(random_state)
    scale = radius / math.sqrt(width)
    J = n_directions
    base = {n: t[k:k + 1].expand(J, *t.shape[1:]).contiguous() for n, t in params0.items()}
    delta = {}
    for n in names:
        d = rng.standard_normal((J, *params0[n].shape[1:]))
        norms = np.sqrt(np.sum(d.reshape(J, -1) ** 2, axis=1))
        d *= (scale / norms).reshape((J,) + (1,) * (d.ndim - 1))
        delta[n] = torch.from_numpy(d).to(device=ref.device, dtype=ref.dtype)
    moved = {n: base[n] + delta[n] if n in delta else base[n] for n in base}
    with torch.no_grad():
        out = forward(spec, moved, Xt)
        lin, _ = linearized_forward(spec, base, delta, Xt)
        err = (out - lin).abs().flatten(1).amax(dim=1)
    return float(err.to(torch.float64).mean())


def _estimator_linearization_error(est, X, **kwargs):
    """The linearization error at a fitted estimator's initialization, on raw ``X``."""
    X = np.asarray(X, dtype=np.float64)
    if getattr(est, "input_map_", None) is not None:
        X = est.input_map_.transform(X)
    spec = est.network_.spec
    params0 = {}
    for l, (w, b) in enumerate(zip(est.initial_coefs_, est.intercepts_)):
        params0[f"W{l}"] = torch.as_tensor(np.asarray(w, dtype=np.float64)).unsqueeze(0)
        if b is not None:
            params0[f"b{l}"] = torch.as_tensor(np.asarray(b, dtype=np.float64)).unsqueeze(0)
    return linearization_error(spec, params0, torch.as_tensor(X), **kwargs)
