"""datasets/_ll.py: the [LL] Sec. 7 structured mixture and the Sec. 3 XOR balls."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from sklearn_overparam.datasets import make_structured_mixture, make_xor_balls

# ----------------------------------------------------------------------------- mixture


def test_mixture_defaults_are_the_papers_setup():
    """Defaults d = 1000, k = 10, l = 2: shapes, dtypes, labels 0..9, ||x|| ~ sqrt(26)."""
    X, y, centers = make_structured_mixture(return_centers=True, random_state=0)
    assert X.shape == (1000, 1000) and X.dtype == np.float64
    assert y.shape == (1000,) and y.dtype == np.int64
    assert centers.shape == (10, 2, 1000)
    assert set(np.unique(y)) == set(range(10))
    assert abs(np.linalg.norm(X, axis=1).mean() - np.sqrt(26)) < 0.15


def test_mixture_points_sit_around_their_class_means():
    """Nearest mean's class is y for every point; E||x - mu||^2 = sigma^2; E||mu||^2 = sigma0^2.

    Margins: the residual mean has sd ~0.001 (0.02 allowed); the mean of 20 center norms^2
    has sd ~0.25 (1.0 allowed); a component's empirical mean is within 0.15 of mu (sd 0.07).
    """
    X, y, centers = make_structured_mixture(5000, return_centers=True, random_state=0)
    flat = centers.reshape(20, 1000)
    d2 = (X**2).sum(1)[:, None] - 2 * X @ flat.T + (flat**2).sum(1)[None]
    nearest = d2.argmin(1)
    assert np.array_equal(nearest // 2, y)
    assert abs(d2.min(1).mean() - 1.0) < 0.02
    assert abs((flat**2).sum(1).mean() - 25.0) < 1.0
    for c in range(20):
        assert np.linalg.norm(X[nearest == c].mean(0) - flat[c]) < 0.15
    # each of the k*l components has probability 1/(kl) = 0.05 (sd 0.003 at n = 5000)
    assert np.all(np.abs(np.bincount(nearest, minlength=20) / 5000 - 0.05) < 0.015)
    assert np.all(np.abs(np.bincount(y, minlength=10) / 5000 - 0.1) < 0.02)


def test_mixture_sigma_scales_the_spread():
    """sigma = 0 puts every point on its mean; sigma = 2 gives E||x - mu||^2 = 4."""
    X, y, centers = make_structured_mixture(300, n_features=50, sigma=0.0, return_centers=True,
                                            random_state=0)
    flat = centers.reshape(-1, 50)
    dist = np.linalg.norm(X[:, None] - flat[None], axis=2)
    assert np.allclose(dist.min(1), 0.0) and np.array_equal(dist.argmin(1) // 2, y)
    X, _, centers = make_structured_mixture(3000, sigma=2.0, sigma0=20.0, return_centers=True,
                                            random_state=0)
    flat = centers.reshape(-1, 1000)
    d2 = (X**2).sum(1)[:, None] - 2 * X @ flat.T + (flat**2).sum(1)[None]
    assert abs(d2.min(1).mean() - 4.0) < 0.1


def test_mixture_normalize_rescales_the_same_points():
    """normalize=True is the same draw divided by its row norms ([LL] (A2))."""
    X, y = make_structured_mixture(200, n_features=30, random_state=3)
    Xn, yn = make_structured_mixture(200, n_features=30, normalize=True, random_state=3)
    np.testing.assert_allclose(np.linalg.norm(Xn, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(Xn, X / np.linalg.norm(X, axis=1, keepdims=True), rtol=1e-12)
    assert np.array_equal(y, yn)


def test_mixture_centers_random_state_shares_the_means():
    """Train and test draws with the same centers_random_state share the means, not points."""
    X1, _, c1 = make_structured_mixture(100, n_features=20, centers_random_state=7,
                                        return_centers=True, random_state=0)
    X2, _, c2 = make_structured_mixture(50, n_features=20, centers_random_state=7,
                                        return_centers=True, random_state=1)
    assert np.array_equal(c1, c2) and not np.array_equal(X1[:50], X2)
    _, _, c3 = make_structured_mixture(100, n_features=20, return_centers=True, random_state=0)
    _, _, c4 = make_structured_mixture(10, n_features=20, return_centers=True, random_state=0)
    _, _, c5 = make_structured_mixture(10, n_features=20, return_centers=True, random_state=1)
    assert np.array_equal(c3, c4) and not np.array_equal(c3, c5)


def test_mixture_random_labels_keep_the_inputs():
    """random_labels: same X; labels uniform on 0..k-1, independent of the true ones."""
    X, y = make_structured_mixture(5000, n_features=20, random_state=0)
    Xr, yr = make_structured_mixture(5000, n_features=20, random_labels=True, random_state=0)
    assert np.array_equal(X, Xr) and yr.dtype == np.int64
    assert np.all(np.abs(np.bincount(yr, minlength=10) / 5000 - 0.1) < 0.02)
    assert abs(np.mean(yr == y) - 0.1) < 0.03  # sd 0.004


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_features": 0}, r"`n_features` must be a positive integer; got 0"),
        ({"n_classes": 1}, r"`n_classes` must be an integer >= 2; got 1"),
        ({"n_components": 0}, r"`n_components` must be a positive integer; got 0"),
        ({"sigma": -1.0}, r"`sigma` must be a non-negative float; got -1.0"),
        ({"sigma0": 0.0}, r"`sigma0` must be a positive float; got 0.0"),
        ({"sigma0": np.nan}, r"`sigma0` must be a positive float"),
        ({"normalize": "True"}, r"`normalize` must be a bool; got 'True'"),
        ({"return_centers": None}, r"`return_centers` must be a bool"),
    ],
)
def test_mixture_rejects_bad_arguments(kwargs, match):
    """Each bad argument is a ValueError naming the argument and its rule."""
    with pytest.raises(ValueError, match=match):
        make_structured_mixture(10, **kwargs)


# ----------------------------------------------------------------------------- XOR balls

CENTERS = np.array([[0.0, 0.0], [2.0, 2.0], [0.0, 2.0], [2.0, 0.0]])


def test_xor_raw_points_fill_the_four_balls():
    """Raw points lie in balls of diameter 1/10 at the four centers, 1/4 each (sd 0.003)."""
    X, y = make_xor_balls(20000, lift=None, random_state=0)
    assert X.shape == (20000, 2) and X.dtype == np.float64 and y.dtype == np.int64
    dist = np.linalg.norm(X[:, None] - CENTERS[None], axis=2)
    ball = dist.argmin(1)
    assert np.all(dist.min(1) <= 0.05)
    assert np.all(np.abs(np.bincount(ball, minlength=4) / 20000 - 0.25) < 0.015)
    # uniform in a disc of radius R: P(r <= R/2) = 1/4 and E r = 2R/3
    r = dist.min(1)
    assert abs(np.mean(r <= 0.025) - 0.25) < 0.015 and abs(r.mean() - 0.1 / 3) < 0.001
    # labels: (0,0), (2,2) -> 0; (0,2), (2,0) -> 1, a deterministic function of x
    assert np.array_equal(y, (ball >= 2).astype(int))
    assert np.array_equal(y, (X[:, 0] > 1) ^ (X[:, 1] > 1))


def test_xor_lift_is_the_unit_vector_of_x_c():
    """The lifted draw is (x, c) / ||(x, c)|| of the raw draw; x = c z_{1:2} / z_3."""
    X, y = make_xor_balls(500, lift=None, random_state=4)
    for c in (1.0, 0.3):
        Z, yz = make_xor_balls(500, lift=c, random_state=4)
        assert Z.shape == (500, 3) and np.array_equal(y, yz)
        np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, rtol=1e-12)
        lifted = np.column_stack([X, np.full(500, c)])
        np.testing.assert_allclose(Z, lifted / np.linalg.norm(lifted, axis=1, keepdims=True),
                                   rtol=1e-12)
        np.testing.assert_allclose(c * Z[:, :2] / Z[:, 2:], X, rtol=1e-10, atol=1e-12)


def test_xor_is_not_linearly_separable():
    """A linear classifier gets <= 3/4 of the points: at most three balls are on one side.

    Raw R^2 with an intercept, and lifted R^3 without one (the boundary a bias-free unit
    draws). The bound 0.75 is exceeded only by the sampling error of the ball fractions
    (sd 0.003 at n = 20000), hence 0.76.
    """
    X, y = make_xor_balls(20000, lift=None, random_state=0)
    assert LogisticRegression().fit(X, y).score(X, y) <= 0.76
    Z, y = make_xor_balls(20000, random_state=0)
    assert LogisticRegression(fit_intercept=False, C=1e4).fit(Z, y).score(Z, y) <= 0.76


def test_xor_random_labels_keep_the_inputs():
    """random_labels: same X; labels uniform on {0, 1}, agreeing with XOR half the time."""
    X, y = make_xor_balls(5000, random_state=0)
    Xr, yr = make_xor_balls(5000, random_labels=True, random_state=0)
    assert np.array_equal(X, Xr) and set(np.unique(yr)) == {0, 1}
    assert abs(yr.mean() - 0.5) < 0.03 and abs(np.mean(yr == y) - 0.5) < 0.03  # sd 0.007


def test_xor_diameter():
    """diameter sets the balls' size."""
    X, _ = make_xor_balls(2000, diameter=1.0, lift=None, random_state=0)
    r = np.linalg.norm(X[:, None] - CENTERS[None], axis=2).min(1)
    assert r.max() <= 0.5 and r.max() > 0.45


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"diameter": 0}, r"`diameter` must be a positive float; got 0"),
        ({"diameter": 2.0}, r"`diameter` must be < 2 so that the balls"),
        ({"diameter": "0.1"}, r"`diameter` must be a positive float"),
        ({"lift": 0.0}, r"`lift` must be a positive float; got 0.0"),
        ({"lift": -1}, r"`lift` must be a positive float"),
        ({"lift": True}, r"`lift` must be a positive float"),
        ({"random_labels": 0}, r"`random_labels` must be a bool; got 0"),
    ],
)
def test_xor_rejects_bad_arguments(kwargs, match):
    """Each bad argument is a ValueError naming the argument and its rule."""
    with pytest.raises(ValueError, match=match):
        make_xor_balls(10, **kwargs)
