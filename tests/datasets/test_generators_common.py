"""Every generator of sklearn_overparam.datasets: seeding, n_samples checks, numpy scalars."""

import numpy as np
import pytest

import sklearn_overparam.datasets as datasets
from sklearn_overparam.datasets import (
    make_azll_concept,
    make_cczg_clusters,
    make_composite_sine,
    make_composite_tanh,
    make_structured_mixture,
    make_xor_balls,
)

SMALL = {
    make_composite_sine: {},
    make_composite_tanh: {},
    make_azll_concept: {"n_layers": 3},
    make_structured_mixture: {"n_features": 20},
    make_xor_balls: {},
    make_cczg_clusters: {},
}
MAKERS = list(SMALL)


def test_all_generators_exported():
    """__all__ lists every generator."""
    assert sorted(datasets.__all__) == sorted(m.__name__ for m in MAKERS)


@pytest.mark.parametrize("make", MAKERS, ids=lambda m: m.__name__)
def test_same_seed_same_data_different_seed_different(make):
    """random_state fixes the draw; another seed changes inputs and (for classifiers) labels."""
    X1, y1 = make(300, random_state=0, **SMALL[make])
    X2, y2 = make(300, random_state=np.random.RandomState(0), **SMALL[make])
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    X3, y3 = make(300, random_state=1, **SMALL[make])
    assert not np.array_equal(X1, X3) and not np.array_equal(y1, y3)
    assert X1.shape[0] == y1.shape[0] == 300 and X1.dtype == np.float64


@pytest.mark.parametrize("make", MAKERS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("n_samples", [0, -5, 10.0, "10", True, None])
def test_rejects_bad_n_samples(make, n_samples):
    """n_samples must be a positive integer."""
    with pytest.raises(ValueError, match=r"`n_samples` must be a positive integer; got"):
        make(n_samples)


@pytest.mark.parametrize(
    "make, kwargs",
    [
        (make_azll_concept, {"n_features": np.int32(5), "activation_scale": np.float32(2.0),
                             "noise": np.float64(0.1), "pad": np.bool_(False)}),
        (make_structured_mixture, {"n_features": np.int64(8), "n_classes": np.int16(3),
                                   "sigma0": np.float32(2.0), "normalize": np.bool_(True)}),
        (make_xor_balls, {"diameter": np.float32(0.2), "lift": np.int64(2)}),
        (make_cczg_clusters, {"n_clusters": np.int64(4), "noise": np.float32(0.3)}),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_accepts_numpy_scalars(make, kwargs):
    """numpy integer, float and bool scalars are valid arguments."""
    X, y = make(np.int64(6), random_state=0, **kwargs)
    assert X.shape[0] == y.shape[0] == 6
