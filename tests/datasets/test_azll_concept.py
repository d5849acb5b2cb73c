"""datasets/_azll.py make_azll_concept: the [AZLL] concept classes (3.1) and (4.1)."""

import numpy as np
import pytest

from sklearn_overparam.datasets import make_azll_concept


def _eq_3_1(X, p):
    """Eq. (3.1) term by term: f_r = sum_i a_{r,i} phi(<w1_i, x>) <w2_i, x>."""
    a, w1, w2, phi = p["a"], p["w1"], p["w2"], p["activation"]
    out = np.zeros((X.shape[0], a.shape[0]))
    for r in range(a.shape[0]):
        for i in range(a.shape[1]):
            out[:, r] += a[r, i] * phi(X @ w1[i]) * (X @ w2[i])
    return out


def _eq_4_1(X, p):
    """Eq. (4.1) term by term, with Phi = outer_activation."""
    a, w1, w2, v1, v2 = p["a"], p["w1"], p["w2"], p["v1"], p["v2"]
    phi, Phi = p["activation"], p["outer_activation"]
    out = np.zeros((X.shape[0], a.shape[0]))
    for r in range(a.shape[0]):
        for i in range(a.shape[1]):
            s1 = sum(v1[i, j] * phi(X @ w1[j]) for j in range(v1.shape[1]))
            s2 = sum(v2[i, j] * phi(X @ w2[j]) for j in range(v2.shape[1]))
            out[:, r] += a[r, i] * Phi(s1) * s2
    return out


@pytest.mark.parametrize("n_layers, reference", [(2, _eq_3_1), (3, _eq_4_1)])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_concept_targets_follow_the_equation(n_layers, reference, n_outputs):
    """y is eq. (3.1) / (4.1) evaluated on X with the returned parameters (to 1e-12)."""
    X, y, p = make_azll_concept(300, n_features=6, n_outputs=n_outputs, n_layers=n_layers,
                                n_terms=3, n_inner=5, return_params=True, random_state=0)
    assert X.shape == (300, 6) and X.dtype == np.float64
    assert y.shape == ((300,) if n_outputs == 1 else (300, n_outputs))
    assert p["n_layers"] == n_layers and p["a"].shape == (n_outputs, 3)
    assert p["w1"].shape == p["w2"].shape == ((3, 6) if n_layers == 2 else (5, 6))
    if n_layers == 3:
        assert p["v1"].shape == p["v2"].shape == (3, 5)
    expected = reference(X, p)
    np.testing.assert_allclose(y.reshape(300, -1), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(p["function"](X).reshape(300, -1), expected, atol=1e-12)
    assert np.std(y) > 0.05  # a non-degenerate target


@pytest.mark.parametrize("n_layers", [2, 3])
def test_concept_parameters_have_the_documented_distributions(n_layers):
    """Unit-norm w*, v*; a* ~ Uniform[-1, 1]: |a| <= 1, mean 0 and variance 1/3 (sd 0.004)."""
    _, _, p = make_azll_concept(5, n_features=7, n_outputs=50, n_layers=n_layers, n_terms=200,
                                n_inner=6, return_params=True, random_state=1)
    a = p["a"]
    assert np.all(np.abs(a) <= 1)
    assert abs(a.mean()) < 0.02 and abs(a.var() - 1 / 3) < 0.02
    keys = ["w1", "w2"] + (["v1", "v2"] if n_layers == 3 else [])
    for key in keys:
        np.testing.assert_allclose(np.linalg.norm(p[key], axis=1), 1.0, rtol=1e-12)
    # w* uniform on the sphere: coordinates of 200 unit rows in R^7 have second moment 1/7
    if n_layers == 2:
        assert abs(np.mean(p["w1"] ** 2) - 1 / 7) < 0.02


def test_concept_inputs_padded_and_unpadded():
    """pad=True: x_d = 1/2 and ||x_{1:d-1}|| = sqrt(3)/2; pad=False: uniform on S^{d-1}."""
    X, _ = make_azll_concept(20000, n_features=5, random_state=0)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-12)
    assert np.all(X[:, -1] == 0.5)
    np.testing.assert_allclose(np.linalg.norm(X[:, :-1], axis=1), np.sqrt(3) / 2, rtol=1e-12)
    # u uniform on S^3: E u_i^2 = 1/4 (sd of the mean ~0.0015), E u_i = 0
    u = X[:, :-1] / (np.sqrt(3) / 2)
    assert np.all(np.abs(np.mean(u**2, axis=0) - 0.25) < 0.01)
    assert np.all(np.abs(u.mean(axis=0)) < 0.02)
    X, _ = make_azll_concept(20000, n_features=5, pad=False, random_state=0)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-12)
    assert np.all(np.abs(np.mean(X**2, axis=0) - 0.2) < 0.01)


@pytest.mark.parametrize(
    "name, formula",
    [
        ("sin", lambda z: np.sin(2.5 * z)),
        ("exp", lambda z: np.exp(2.5 * z) - 1),
        ("tanh", lambda z: np.tanh(2.5 * z)),
        ("poly", lambda z: (2.5 * z) ** 2 + (2.5 * z) ** 3),
    ],
)
def test_concept_named_activations(name, formula):
    """The named phi is the documented function of c * z (c = activation_scale)."""
    _, _, p = make_azll_concept(5, activation=name, activation_scale=2.5, n_layers=3,
                                outer_activation=name, return_params=True, random_state=0)
    z = np.linspace(-1, 1, 41)
    np.testing.assert_allclose(p["activation"](z), formula(z), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(p["outer_activation"](z), formula(z / 2.5), rtol=1e-12,
                               atol=1e-12)


def test_concept_callable_activation_is_used_as_given():
    """A callable phi is applied unscaled."""
    X, y, p = make_azll_concept(50, activation=np.cos, activation_scale=9.0, return_params=True,
                                random_state=0)
    assert p["activation"] is np.cos
    np.testing.assert_allclose(y, _eq_3_1(X, p)[:, 0], atol=1e-12)


def test_concept_seeding_and_concept_random_state():
    """Same seed same draw; concept_random_state fixes the concept across input seeds."""
    X1, y1, p1 = make_azll_concept(100, return_params=True, random_state=0)
    X2, y2, p2 = make_azll_concept(100, return_params=True, random_state=0)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert np.array_equal(p1["w1"], p2["w1"])
    X3, _, p3 = make_azll_concept(100, return_params=True, random_state=1)
    assert not np.array_equal(X1, X3) and not np.array_equal(p1["a"], p3["a"])
    # the concept is drawn before the inputs: it does not depend on n_samples
    _, _, p4 = make_azll_concept(7, return_params=True, random_state=0)
    assert np.array_equal(p1["a"], p4["a"]) and np.array_equal(p1["w2"], p4["w2"])
    # same concept, fresh inputs
    Xa, ya, pa = make_azll_concept(100, concept_random_state=5, return_params=True,
                                   random_state=0)
    Xb, yb, pb = make_azll_concept(200, concept_random_state=5, return_params=True,
                                   random_state=1)
    for key in ("a", "w1", "w2"):
        assert np.array_equal(pa[key], pb[key])
    assert not np.array_equal(Xa, Xb[:100])
    np.testing.assert_allclose(pa["function"](Xb), yb, atol=1e-12)


def test_concept_noise_is_gaussian_of_that_std():
    """noise is the standard deviation of the Gaussian added to F*(x)."""
    X, y, p = make_azll_concept(20000, noise=0.3, return_params=True, random_state=0)
    assert abs(np.std(y - p["function"](X)) - 0.3) < 0.01


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_layers": 1}, r"`n_layers` must be 2 or 3; got 1"),
        ({"n_layers": True}, r"`n_layers` must be 2 or 3; got True"),
        ({"n_layers": "2"}, r"`n_layers` must be 2 or 3"),
        ({"n_layers": 2.0}, r"`n_layers` must be 2 or 3; got 2.0"),
        ({"n_features": 1}, r"`n_features` must be an integer >= 2; got 1"),
        ({"n_outputs": 0}, r"`n_outputs` must be a positive integer; got 0"),
        ({"n_terms": 0}, r"`n_terms` must be a positive integer"),
        ({"n_inner": 2.0}, r"`n_inner` must be a positive integer; got 2.0"),
        ({"activation": "relu"}, r"`activation` must be one of \['exp', 'poly', 'sin', 'tanh'\]"),
        ({"outer_activation": 3}, r"`outer_activation` must be one of"),
        ({"activation_scale": 0}, r"`activation_scale` must be a positive float; got 0"),
        ({"activation_scale": np.inf}, r"`activation_scale` must be a positive float"),
        ({"noise": -0.1}, r"`noise` must be a non-negative float; got -0.1"),
        ({"pad": 1}, r"`pad` must be a bool; got 1"),
        ({"return_params": "yes"}, r"`return_params` must be a bool"),
        ({"n_samples": 0}, r"`n_samples` must be a positive integer; got 0"),
    ],
)
def test_concept_rejects_bad_arguments(kwargs, match):
    """Each bad argument is a ValueError naming the argument and its rule."""
    kwargs = {"n_samples": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        make_azll_concept(**kwargs)
