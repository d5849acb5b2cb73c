"""record_every fills diagnostics_ on every network estimator that trains its weights."""

import statistics
import time

import numpy as np
import pandas as pd
import pytest

from sklearn_overparam import (
    ConjugateKernelRegressor,
    DeepReLUClassifier,
    NTRFClassifier,
    ThreeLayerReLURegressor,
    TwoLayerReLUClassifier,
    TwoLayerReLURegressor,
)
from sklearn_overparam.datasets import make_composite_sine
from sklearn_overparam.diagnostics import activation_pattern_change, relative_distance_from_init


@pytest.fixture(scope="module")
def data():
    X, y = make_composite_sine(120, random_state=0)
    Xt, _ = make_composite_sine(50, random_state=1)
    return X, y, Xt


@pytest.mark.parametrize("est", [
    TwoLayerReLURegressor(n_hidden=16), ThreeLayerReLURegressor(n_hidden=12),
    ConjugateKernelRegressor(n_hidden=16, solver="sgd"), TwoLayerReLUClassifier(n_hidden=16),
    DeepReLUClassifier(width=16),
], ids=lambda e: type(e).__name__)
def test_record_every_fills_equal_length_diagnostics(est, data):
    """diagnostics_ has one row per recorded epoch (init included), on the training set and
    diagnostics_X, and is a pandas table."""
    X, y, Xt = data
    if "Classifier" in type(est).__name__:
        y = (y > 0).astype(int)
    est.set_params(record_every=2, diagnostics_X=Xt, max_iter=6, tol=None, random_state=0)
    diag = est.fit(X, y).diagnostics_
    frame = pd.DataFrame(diag)
    assert list(frame["epoch"]) == [0, 2, 4, 6]
    assert {"activation_change_0", "X_activation_change_0", "max_scaled_distance",
            "ntk_drift"} <= set(frame)
    assert frame["epoch"].is_monotonic_increasing and len(frame) == 4


def test_record_every_computes_the_ntk_measures_every_20_epochs(data):
    """The NTK drift is measured at init and at epochs that are multiples
    of 20 (the documented schedule), nan in the other rows."""
    X, y, _ = data
    diag = TwoLayerReLURegressor(n_hidden=16, record_every=5, max_iter=40, tol=None,
                                 random_state=0).fit(X, y).diagnostics_
    assert list(diag["epoch"]) == [0, 5, 10, 15, 20, 25, 30, 35, 40]
    measured = [e for e, v in zip(diag["epoch"], diag["ntk_drift"]) if not np.isnan(v)]
    assert measured == [0, 20, 40]


def test_record_every_values_are_the_diagnostics_of_the_fitted_weights(data):
    """The last row equals the diagnostic functions on the returned weights."""
    X, y, Xt = data
    est = TwoLayerReLURegressor(n_hidden=16, max_iter=3, tol=None, record_every=1,
                                diagnostics_X=Xt, random_state=0, dtype="float64").fit(X, y)
    W, W0 = est.coefs_[0], est.initial_coefs_[0]
    assert est.diagnostics_["relative_distance_0"][-1] == pytest.approx(
        relative_distance_from_init(W, W0), rel=1e-9)
    Z = est.input_map_.transform(Xt)
    b = est.intercepts_[0]
    assert est.diagnostics_["X_activation_change_0"][-1] == pytest.approx(
        activation_pattern_change(W, W0, Z, b, b), rel=1e-9)
    assert est.diagnostics_["relative_distance_0"][0] == 0.0


def test_record_every_bad_inputs(data):
    """diagnostics_X of the wrong width, a closed-form solve and a linearized model raise."""
    X, y, Xt = data
    with pytest.raises(ValueError, match="features"):
        TwoLayerReLURegressor(n_hidden=8, record_every=1, diagnostics_X=Xt[:, :2]).fit(X, y)
    with pytest.raises(ValueError, match="closed-form"):
        ConjugateKernelRegressor(n_hidden=8, record_every=1).fit(X, y)
    with pytest.raises(ValueError, match="record_every"):
        NTRFClassifier(width=8, record_every=1, max_iter=2).fit(X, y > 0)
    assert TwoLayerReLURegressor(n_hidden=8, max_iter=2).fit(X, y).diagnostics_ is None


def test_recording_every_epoch_costs_at_most_a_fifth_of_the_fit(monkeypatch):
    """Recording every epoch at m = 1000, N = 1000, 200 epochs costs <= 20% of the fit:
    the recorder's own CPU time (snapshots, measures and set-up, which it clocks itself)
    against the CPU time of the same fit without recording."""
    import sklearn_overparam.diagnostics as diagnostics

    made = []

    class Clocked(diagnostics.DiagnosticsRecorder):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(diagnostics, "DiagnosticsRecorder", Clocked)
    X, y = make_composite_sine(1000, random_state=0)
    kw = dict(n_hidden=1000, max_iter=200, tol=None, random_state=0)

    def seconds(every):
        start = time.process_time()
        est = TwoLayerReLURegressor(record_every=every, **kw).fit(X, y)
        return time.process_time() - start, est

    seconds(1)  # warm up
    # the machine's speed drifts between fits by up to 1.5x: each recorder's own time is
    # compared with the plain fit just before it, and the median of 3 ratios is checked
    ratios = []
    for _ in range(3):
        plain = seconds(None)[0]
        made.clear()
        est = seconds(1)[1]
        assert len(made) == 1 and len(est.diagnostics_["epoch"]) == 201
        ratios.append(made[0].cpu_time_ / plain)
    assert statistics.median(ratios) <= 0.2, ratios
