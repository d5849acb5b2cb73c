"""NTK drift, kernel alignment and the linearization error against references."""

import numpy as np
import pytest
import torch

from sklearn_overparam.diagnostics import kernel_alignment, linearization_error, ntk_drift
from sklearn_overparam.kernels import empirical_ntk, kernel_target_alignment
from sklearn_overparam.nn import ReLUNet, azll_two_layer, cczg_deep, forward, init_params
from sklearn_overparam.training import NetworkObjective, SGDConfig, train


def unit_rows(n, d, seed):
    X = np.random.default_rng(seed).standard_normal((n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def trained(spec, params0, X, y, epochs, lr):
    params = {n: t.clone() for n, t in params0.items()}
    Xt = torch.as_tensor(X, dtype=params["W0"].dtype)
    Yt = torch.as_tensor(y, dtype=params["W0"].dtype).reshape(-1, 1)
    train(NetworkObjective(spec, "squared"), params, Xt, Yt,
          SGDConfig(learning_rate=lr, batch_size=10, max_epochs=epochs, tol=None), [0])
    return params


@pytest.fixture(scope="module")
def run():
    spec = azll_two_layer(4, 64)
    params0 = init_params(spec, [0], dtype=torch.float64)
    X = unit_rows(80, 4, 1)
    y = np.sin(3 * X[:, 0]) * 2
    return spec, params0, trained(spec, params0, X, y, 30, 0.05), X, y


def test_ntk_drift_zero_untrained_positive_trained(run):
    """Drift is exactly 0 for the same weights and > 0.01 after 30 epochs of SGD."""
    spec, params0, params, X, _ = run
    assert ntk_drift((spec, params0), (spec, params0), X) == 0.0
    drift = ntk_drift((spec, params), (spec, params0), X)
    K0 = empirical_ntk((spec, params0), X)
    Kt = empirical_ntk((spec, params), X)
    assert drift == pytest.approx(np.linalg.norm(Kt - K0) / np.linalg.norm(K0), rel=1e-12)
    assert drift > 0.01, drift
    # a precomputed K_0 gives the same, and modules work like (spec, params) tuples
    assert ntk_drift((spec, params), K0, X) == drift
    assert ntk_drift(ReLUNet(spec, params), ReLUNet(spec, params0), X) == pytest.approx(
        drift, rel=1e-5)


def test_ntk_drift_trainable_subsets(run):
    """The trainable subset selects the kernel; unknown names are refused."""
    spec, params0, params, X, _ = run
    hidden = ntk_drift((spec, params), (spec, params0), X, trainable=["W0"])
    every = ntk_drift((spec, params), (spec, params0), X, trainable="all")
    K0 = empirical_ntk((spec, params0), X, trainable="all")
    Kt = empirical_ntk((spec, params), X, trainable="all")
    assert every == pytest.approx(np.linalg.norm(Kt - K0) / np.linalg.norm(K0), rel=1e-12)
    assert hidden == ntk_drift((spec, params), (spec, params0), X)  # spec default: W0
    assert hidden != every
    with pytest.raises(ValueError, match="trainable"):
        ntk_drift((spec, params), (spec, params0), X, trainable=["V"])
    with pytest.raises(ValueError, match="must have shape"):
        ntk_drift((spec, params), np.eye(3), X)
    with pytest.raises(ValueError, match="nonzero NTK"):
        ntk_drift((spec, params), np.zeros((80, 80)), X)


def test_ntk_drift_shrinks_with_width():
    """Lazy training: with lr ~ 1/m the kernel moves less for a wider network."""
    X = unit_rows(60, 4, 2)
    y = np.sin(3 * X[:, 0]) * 2
    drifts = []
    for m in (32, 512):
        spec = azll_two_layer(4, m)
        params0 = init_params(spec, [0], dtype=torch.float64)
        params = trained(spec, params0, X, y, 20, 2.0 / m)
        drifts.append(ntk_drift((spec, params), (spec, params0), X))
    assert drifts[1] < 0.5 * drifts[0], drifts


def test_kernel_alignment_reference():
    """Centred alignment of y y^T is 1; plain and centred match the formulas."""
    rng = np.random.default_rng(0)
    y = rng.standard_normal(12) + 3.0
    assert kernel_alignment(np.outer(y, y), y, centered=True) == pytest.approx(1.0, rel=1e-12)
    assert kernel_alignment(np.outer(y, y), y) == pytest.approx(1.0, rel=1e-12)
    A = rng.standard_normal((12, 12))
    K = A @ A.T + np.ones((12, 12))
    plain = (y @ K @ y) / (np.linalg.norm(K) * (y @ y))
    assert kernel_alignment(K, y) == pytest.approx(plain, rel=1e-12)
    H = np.eye(12) - 1 / 12
    Kc, yc = H @ K @ H, H @ y
    centred = (yc @ Kc @ yc) / (np.linalg.norm(Kc) * (yc @ yc))
    assert kernel_alignment(K, y, centered=True) == pytest.approx(centred, rel=1e-12)
    assert kernel_alignment(K, y, centered=True) == kernel_target_alignment(K, y)
    with pytest.raises(ValueError, match="`centered` must be True or False"):
        kernel_alignment(K, y, centered="yes")


def _reference_error(spec, params0, X, radius, n_directions, seed):
    """The same random directions, F from torch.func.jvp (forward-mode autodiff)."""
    rng = np.random.default_rng(seed)
    names = spec.trainable_names
    m = spec.layers[0].fan_out
    deltas = {}
    for n in names:
        d = rng.standard_normal((n_directions, *params0[n].shape[1:]))
        norms = np.sqrt((d.reshape(n_directions, -1) ** 2).sum(axis=1))
        deltas[n] = torch.from_numpy(d * (radius / np.sqrt(m) / norms).reshape(
            (-1,) + (1,) * (d.ndim - 1)))
    Xt = torch.as_tensor(X, dtype=torch.float64)
    errors = []
    for j in range(n_directions):
        def f(*ts):
            return forward(spec, {**params0, **dict(zip(names, ts))}, Xt)
        primals = tuple(params0[n] for n in names)
        tangents = tuple(deltas[n][j:j + 1] for n in names)
        f0, df = torch.func.jvp(f, primals, tangents)
        moved = f(*(p + t for p, t in zip(primals, tangents)))
        errors.append(float((moved - f0 - df).abs().max()))
    return float(np.mean(errors))


def test_linearization_error_matches_jvp_reference():
    """max_i |f(W0 + D) - f(W0) - <grad f, D>| equals a jvp-based reference."""
    spec = cczg_deep(5, 48, 3)
    params0 = init_params(spec, [0], dtype=torch.float64)
    X = unit_rows(30, 5, 3)
    got = linearization_error(spec, params0, X, radius=2.0, n_directions=3, random_state=7)
    assert got == pytest.approx(_reference_error(spec, params0, X, 2.0, 3, 7), rel=1e-10)


@pytest.mark.parametrize("width, depth, seed", [(256, 3, 1), (64, 4, 2)])
def test_linearization_error_is_second_order_before_gate_flips(width, depth, seed):
    """At small radius (no gate flips) doubling it multiplies the error by 3-5 (it is 4.0).

    The error then comes only from products of the increments of different layers,
    exactly quadratic in the radius.
    """
    spec = cczg_deep(5, width, depth)
    params0 = init_params(spec, [seed], dtype=torch.float64)
    X = unit_rows(50, 5, 4)
    small = linearization_error(spec, params0, X, radius=1e-4, n_directions=8, random_state=0)
    large = linearization_error(spec, params0, X, radius=2e-4, n_directions=8, random_state=0)
    assert small > 0
    assert 3.0 <= large / small <= 5.0, large / small


def test_linearization_error_with_gate_flips_is_between_first_and_second_order():
    """Once gates flip (radius ~ 1) the error grows like radius^(3/2): x2 gives ~2.8.

    A two-layer net with only W trained is piecewise linear in W, so all its error comes
    from flipped gates; their random-sign contributions add like a random walk.
    """
    spec = azll_two_layer(5, 1000)
    ratios = []
    for seed in (1, 2, 3):
        params0 = init_params(spec, [seed], dtype=torch.float64)
        X = unit_rows(50, 5, 4)
        r1 = linearization_error(spec, params0, X, radius=0.5, n_directions=8, random_state=0)
        r2 = linearization_error(spec, params0, X, radius=1.0, n_directions=8, random_state=0)
        ratios.append(r2 / r1)
    assert 2.2 <= np.mean(ratios) <= 3.4, ratios
    # and without flips it is exactly 0 (the network is linear in W on each gate pattern)
    tiny = linearization_error(spec, init_params(spec, [1], dtype=torch.float64),
                               unit_rows(50, 5, 4), radius=1e-9, random_state=0)
    assert tiny < 1e-13


def test_linearization_error_validation():
    spec = cczg_deep(3, 8, 2)
    params0 = init_params(spec, [0, 1])
    X = unit_rows(4, 3, 0)
    with pytest.raises(ValueError, match="`radius` must be a positive finite float"):
        linearization_error(spec, params0, X, radius=0.0, index=0)
    with pytest.raises(ValueError, match="`index` must name the copy"):
        linearization_error(spec, params0, X, radius=1.0)
    with pytest.raises(ValueError, match="`random_state` must be"):
        linearization_error(spec, params0, X, radius=1.0, index=1, random_state="x")
    with pytest.raises(ValueError, match="trainable tensors"):
        linearization_error(spec.with_trainable(()), params0, X, radius=1.0, index=1)
    a = linearization_error(spec, params0, X, radius=1.0, index=1, random_state=3)
    b = linearization_error(spec, params0, X, radius=1.0, index=1,
                            random_state=np.random.default_rng(3))
    assert a == b


def test_linearization_error_of_a_fitted_estimator_uses_its_initialization():
    """linearization_error(est, X, radius=R) equals the network form at the estimator's
    initial weights on its mapped inputs, and grows with R."""
    from sklearn_overparam import DeepReLUClassifier
    from sklearn_overparam.datasets import make_cczg_clusters
    from sklearn_overparam.nn import cczg_deep

    X, y = make_cczg_clusters(60, random_state=0)
    est = DeepReLUClassifier(width=32, depth=3, max_iter=3, tol=None, random_state=0).fit(X, y)
    params0 = {f"W{l}": torch.as_tensor(w, dtype=torch.float64).unsqueeze(0)
               for l, w in enumerate(est.initial_coefs_)}
    Z = torch.as_tensor(est.input_map_.transform(X))
    direct = linearization_error(cczg_deep(10, 32, 3), params0, Z, radius=1.0, random_state=0)
    via = linearization_error(est, X, radius=1.0, random_state=0)
    assert via == pytest.approx(direct, rel=1e-12)
    assert linearization_error(est, X, radius=4.0, random_state=0) > 2 * via
