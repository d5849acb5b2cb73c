"""datasets/_azll.py: the [AZLL] Sec. 7 generators, their moments and argument checks."""

import numpy as np
import pytest

from sklearn_overparam.datasets import make_composite_sine, make_composite_tanh

GENERATORS = [make_composite_sine, make_composite_tanh]


@pytest.mark.parametrize("make", GENERATORS)
def test_make_composite_inputs_on_unit_sphere_and_seeded(make):
    """Inputs have unit norm; the same random_state gives the same draw."""
    X, y = make(200, n_features=6, random_state=0)
    assert X.shape == (200, 6) and y.shape == (200,)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-12)
    X2, y2 = make(200, n_features=6, random_state=0)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)


def test_make_composite_sine_moments_match_docstring():
    """E y ~ -0.08 and Var(y) ~ 31.1 on 10^6 draws (standard errors 0.006 and 0.07)."""
    _, y = make_composite_sine(10**6, random_state=0)
    assert abs(y.mean() - (-0.08)) < 0.03
    assert abs(y.var() - 31.1) < 0.4


def test_make_composite_tanh_moments_match_docstring():
    """E y = 0 and Var(y) ~ 76.7 on 10^6 draws (standard errors 0.009 and 0.1)."""
    _, y = make_composite_tanh(10**6, random_state=0)
    assert abs(y.mean()) < 0.04
    assert abs(y.var() - 76.7) < 0.6


@pytest.mark.parametrize("make", GENERATORS)
def test_make_composite_noise_adds_gaussian_of_that_std(make):
    """noise is the standard deviation of the Gaussian added to the noiseless target."""
    _, clean = make(20000, random_state=0)
    _, noisy = make(20000, noise=0.5, random_state=0)
    assert abs(np.std(noisy - clean) - 0.5) < 0.01


@pytest.mark.parametrize("make", GENERATORS)
@pytest.mark.parametrize("noise", [-1, -1e-3, np.nan, np.inf, "0.1", True, None])
def test_make_composite_rejects_bad_noise(make, noise):
    """Negative, non-finite or non-numeric noise is a ValueError naming the rule."""
    with pytest.raises(ValueError, match=r"`noise` must be a non-negative float; got"):
        make(10, noise=noise)


@pytest.mark.parametrize("make", GENERATORS)
@pytest.mark.parametrize("n_samples", [0, -5, 10.0, "10", True, None])
def test_make_composite_rejects_bad_n_samples(make, n_samples):
    """n_samples must be a positive integer."""
    with pytest.raises(ValueError, match=r"`n_samples` must be a positive integer; got"):
        make(n_samples)


@pytest.mark.parametrize("make", GENERATORS)
@pytest.mark.parametrize("n_features", [3, 4.0, True, None])
def test_make_composite_rejects_bad_n_features(make, n_features):
    """n_features must be an integer >= 4, the coordinates the target reads."""
    with pytest.raises(ValueError, match=r"`n_features` must be an integer >= 4"):
        make(10, n_features=n_features)


@pytest.mark.parametrize("make", GENERATORS)
def test_make_composite_accepts_numpy_scalars(make):
    """numpy integer and float scalars are valid arguments."""
    X, y = make(np.int64(5), n_features=np.int32(4), noise=np.float32(0.1), random_state=0)
    assert X.shape == (5, 4) and y.shape == (5,)
