"""datasets/_cczg.py: unit-norm noisy clusters with alternating +-1 labels."""

import numpy as np
import pytest

from sklearn_overparam.datasets import make_cczg_clusters


def test_clusters_shapes_labels_and_unit_norms():
    """Defaults: d = 10, 20 unit-norm means, unit-norm points, labels in {-1, +1}."""
    X, y, centers = make_cczg_clusters(2000, return_centers=True, random_state=0)
    assert X.shape == (2000, 10) and X.dtype == np.float64
    assert y.shape == (2000,) and y.dtype == np.int64 and set(np.unique(y)) == {-1, 1}
    assert centers.shape == (20, 10)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), 1.0, rtol=1e-12)


def test_clusters_alternate_labels_and_noise_level():
    """In d = 1000 (near-orthogonal means) each point's nearest mean is its own:

    label +1 iff the cluster index is even; clusters have probability 1/20 (sd 0.0015 at
    n = 20000, 0.01 allowed); cos(x, mu) = 1/sqrt(1 + noise^2) (0.894 for 0.5, 0.707 for 1)
    up to O(1/sqrt(d)) per point (0.01 allowed on the mean).
    """
    for noise in (0.5, 1.0):
        X, y, centers = make_cczg_clusters(20000, n_features=1000, noise=noise,
                                           return_centers=True, random_state=0)
        cos = X @ centers.T
        own = cos.argmax(1)
        assert np.all(cos.max(1) > 0.5)
        assert np.array_equal(y, np.where(own % 2 == 0, 1, -1))
        assert np.all(np.abs(np.bincount(own, minlength=20) / 20000 - 0.05) < 0.01)
        assert abs(cos.max(1).mean() - 1 / np.sqrt(1 + noise**2)) < 0.01


def test_clusters_noise_zero_puts_points_on_the_means():
    """noise = 0: every point is one of the means."""
    X, y, centers = make_cczg_clusters(100, noise=0.0, return_centers=True, random_state=0)
    cos = X @ centers.T
    np.testing.assert_allclose(cos.max(1), 1.0, rtol=1e-12)
    assert np.array_equal(y, np.where(cos.argmax(1) % 2 == 0, 1, -1))


def test_clusters_label_balance_odd_number_of_clusters():
    """With 3 clusters, two of them (indices 0, 2) are +1: P(y = +1) = 2/3 (sd 0.003)."""
    _, y = make_cczg_clusters(20000, n_clusters=3, random_state=0)
    assert abs(np.mean(y == 1) - 2 / 3) < 0.015
    _, y = make_cczg_clusters(20000, random_state=0)
    assert abs(np.mean(y == 1) - 0.5) < 0.015


def test_clusters_same_means_for_different_n():
    """centers_random_state fixes the means across n in {100, 400, 1600} and input seeds."""
    draws = [make_cczg_clusters(n, centers_random_state=3, return_centers=True, random_state=s)
             for s, n in enumerate([100, 400, 1600])]
    for *_, centers in draws[1:]:
        assert np.array_equal(centers, draws[0][2])
    assert not np.array_equal(draws[0][0], draws[1][0][:100])
    _, _, c_other = make_cczg_clusters(100, centers_random_state=4, return_centers=True,
                                       random_state=0)
    assert not np.array_equal(c_other, draws[0][2])
    # centers_random_state=None: the means come first from random_state, whatever n
    _, _, ca = make_cczg_clusters(100, return_centers=True, random_state=0)
    _, _, cb = make_cczg_clusters(1600, return_centers=True, random_state=0)
    assert np.array_equal(ca, cb)


def test_clusters_random_labels_keep_the_inputs():
    """random_labels: same X; labels uniform on {-1, +1}, agreeing with the clusters' half."""
    X, y = make_cczg_clusters(5000, centers_random_state=0, random_state=1)
    Xr, yr = make_cczg_clusters(5000, random_labels=True, centers_random_state=0,
                                random_state=1)
    assert np.array_equal(X, Xr) and yr.dtype == np.int64 and set(np.unique(yr)) == {-1, 1}
    assert abs(np.mean(yr == 1) - 0.5) < 0.03 and abs(np.mean(yr == y) - 0.5) < 0.03


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_features": 1}, r"`n_features` must be an integer >= 2; got 1"),
        ({"n_clusters": 1}, r"`n_clusters` must be an integer >= 2; got 1"),
        ({"n_clusters": 20.0}, r"`n_clusters` must be an integer >= 2; got 20.0"),
        ({"noise": -0.5}, r"`noise` must be a non-negative float; got -0.5"),
        ({"noise": np.inf}, r"`noise` must be a non-negative float"),
        ({"random_labels": "no"}, r"`random_labels` must be a bool; got 'no'"),
        ({"return_centers": 1}, r"`return_centers` must be a bool"),
    ],
)
def test_clusters_rejects_bad_arguments(kwargs, match):
    """Each bad argument is a ValueError naming the argument and its rule."""
    with pytest.raises(ValueError, match=match):
        make_cczg_clusters(10, **kwargs)
