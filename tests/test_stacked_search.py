"""StackedGridSearchCV / StackedRandomizedSearchCV against GridSearchCV / RandomizedSearchCV.

The reference for every search is scikit-learn's own on the same grid and folds: the same
``cv_results_`` (keys, parameters, ranks; per-split scores to rounding: float64, rtol 1e-10),
``best_params_`` and ``best_estimator_``. Small networks and few epochs keep the file fast.
"""

import warnings

import joblib
import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_overparam import (
    ConjugateKernelRegressor,
    DeepReLUClassifier,
    NTKRegressor,
    ThreeLayerReLURegressor,
    TwoLayerReLURegressor,
)
from sklearn_overparam.datasets import make_composite_sine
from sklearn_overparam.model_selection import StackedGridSearchCV, StackedRandomizedSearchCV

RTOL = 1e-10  # float64 training: the stacked and the separate fits differ by rounding only


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def sine():
    """Composite-sine data with row norms in [0.5, 2]: the [AZLL] input map (scaled by the
    largest training norm) differs between folds, so each fold's networks read their own
    network inputs."""
    X, y = make_composite_sine(90, random_state=0)
    return X * np.random.default_rng(0).uniform(0.5, 2.0, size=(90, 1)), y


def _net(**kw):
    base = dict(n_hidden=16, max_iter=4, tol=None, random_state=0, dtype="float64")
    base.update(kw)
    return TwoLayerReLURegressor(**base)


CV = KFold(3, shuffle=True, random_state=0)


def assert_same_results(stacked, reference, rtol=RTOL):
    """cv_results_ keys, parameters and ranks equal; scores equal to ``rtol``."""
    a, b = stacked.cv_results_, reference.cv_results_
    assert sorted(a) == sorted(b)
    assert a["params"] == b["params"]
    for key in b:
        if key.startswith("param_"):
            assert list(a[key]) == list(b[key]), key
        elif key.startswith("rank_"):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        elif key.startswith(("split", "mean_t", "std_t")) and "time" not in key:
            np.testing.assert_allclose(a[key], b[key], rtol=rtol, atol=1e-12, err_msg=key)
    assert stacked.n_splits_ == reference.n_splits_
    assert stacked.multimetric_ == reference.multimetric_
    for attr in ("best_index_", "best_params_", "best_score_"):
        if hasattr(reference, attr):
            va, vb = getattr(stacked, attr), getattr(reference, attr)
            if isinstance(vb, float):
                np.testing.assert_allclose(va, vb, rtol=rtol)
            else:
                assert va == vb, attr
        else:
            assert not hasattr(stacked, attr), attr


def test_cv_results_equal_grid_search_cv(sine, capsys):
    """lr x alpha x seed, 3 folds: one engine run of 24 networks equals 24 fits."""
    X, y = sine
    grid = {"learning_rate_init": [0.005, 0.01], "alpha": [0.0, 1e-3], "random_state": [0, 1]}
    ref = GridSearchCV(_net(), grid, cv=CV, return_train_score=True).fit(X, y)
    got = StackedGridSearchCV(_net(), grid, cv=CV, return_train_score=True, verbose=1).fit(X, y)
    assert "24 fits stacked in 1 engine run(s)" in capsys.readouterr().out
    assert_same_results(got, ref)
    np.testing.assert_allclose(got.best_estimator_.predict(X), ref.best_estimator_.predict(X),
                               rtol=1e-12)
    assert got.refit_time_ >= 0 and np.all(got.cv_results_["mean_fit_time"] > 0)


def test_float32_scores_within_1e5(sine):
    """The default float32 training: per-split scores within 1e-5 relative."""
    X, y = sine
    grid = {"learning_rate_init": [0.005, 0.01], "random_state": [0, 1]}
    net = _net(dtype="float32")
    ref = GridSearchCV(net, grid, cv=CV).fit(X, y)
    got = StackedGridSearchCV(net, grid, cv=CV).fit(X, y)
    assert_same_results(got, ref, rtol=1e-5)


def test_pipeline_with_scaler_fits_preprocessing_per_fold(sine):
    """A Pipeline's scaler is fitted per fold (per-copy inputs); its own parameters split
    the grid into groups; the refit pipeline equals GridSearchCV's."""
    X, y = sine
    X = 3.0 * X + 1.0
    pipe = make_pipeline(StandardScaler(), _net(input_padding=None))
    grid = {"standardscaler__with_mean": [True, False],
            "twolayerreluregressor__learning_rate_init": [0.005, 0.01],
            "twolayerreluregressor__random_state": [0, 1]}
    ref = GridSearchCV(pipe, grid, cv=CV, return_train_score=True).fit(X, y)
    got = StackedGridSearchCV(pipe, grid, cv=CV, return_train_score=True).fit(X, y)
    assert_same_results(got, ref)
    np.testing.assert_allclose(got.predict(X), ref.predict(X), rtol=1e-12)


def test_refit_options(sine):
    """refit=False leaves no best estimator; a callable refit picks the index."""
    X, y = sine
    grid = {"learning_rate_init": [0.005, 0.01]}
    got = StackedGridSearchCV(_net(), grid, cv=CV, refit=False).fit(X, y)
    assert not hasattr(got, "best_estimator_") and hasattr(got, "best_params_")

    def pick_last(results):
        return len(results["params"]) - 1

    got = StackedGridSearchCV(_net(), grid, cv=CV, refit=pick_last).fit(X, y)
    ref = GridSearchCV(_net(), grid, cv=CV, refit=pick_last).fit(X, y)
    assert got.best_index_ == 1 and not hasattr(got, "best_score_")
    np.testing.assert_allclose(got.predict(X), ref.predict(X), rtol=1e-12)


def test_multi_metric_scoring(sine):
    X, y = sine
    grid = {"learning_rate_init": [0.005, 0.01], "random_state": [0, 1]}
    scoring = {"r2": "r2", "mse": "neg_mean_squared_error"}
    ref = GridSearchCV(_net(), grid, cv=CV, scoring=scoring, refit="mse",
                       return_train_score=True).fit(X, y)
    got = StackedGridSearchCV(_net(), grid, cv=CV, scoring=scoring, refit="mse",
                              return_train_score=True).fit(X, y)
    assert_same_results(got, ref)
    assert got.multimetric_ and set(got.scorer_) == {"r2", "mse"}
    got = StackedGridSearchCV(_net(), grid, cv=CV, scoring=scoring, refit=False).fit(X, y)
    assert not hasattr(got, "best_index_")


def test_diverged_candidates_follow_error_score(sine):
    """A diverging step size is a failed fit: error_score, FitFailedWarning, or raise."""
    X, y = sine
    X, y = 50 * X, 50 * y
    grid = {"learning_rate_init": [1e-4, 1e3]}
    with pytest.warns(FitFailedWarning, match="3 fits failed out of a total of 6"):
        got = StackedGridSearchCV(_net(), grid, cv=CV).fit(X, y)
    with pytest.warns(FitFailedWarning):
        ref = GridSearchCV(_net(), grid, cv=CV).fit(X, y)
    assert_same_results(got, ref)
    assert np.isnan(got.cv_results_["mean_test_score"][1]) and got.best_index_ == 0
    with pytest.warns(FitFailedWarning):
        got = StackedGridSearchCV(_net(), grid, cv=CV, error_score=-7.0).fit(X, y)
    assert np.all(got.cv_results_["mean_test_score"][1] == -7.0)
    with pytest.raises(ValueError, match="diverged"):
        StackedGridSearchCV(_net(), grid, cv=CV, error_score="raise").fit(X, y)


def test_closed_form_falls_back_to_grid_search_cv(sine, capsys):
    """ConjugateKernelRegressor(solver="closed_form"): GridSearchCV's own fits, said so."""
    X, y = sine
    est = ConjugateKernelRegressor(n_hidden=32, solver="closed_form", random_state=0)
    grid = {"alpha": [1e-4, 1e-2], "random_state": [0, 1]}
    got = StackedGridSearchCV(est, grid, cv=CV, verbose=1).fit(X, y)
    assert "stacking does not apply (ConjugateKernelRegressor: solver='closed_form'" in (
        capsys.readouterr().out)
    ref = GridSearchCV(est, grid, cv=CV).fit(X, y)
    assert_same_results(got, ref, rtol=0)
    # a foreign estimator is GridSearchCV too
    got = StackedGridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=CV).fit(X, y)
    assert_same_results(got, GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=CV).fit(X, y),
                        rtol=0)


def test_mixed_grid_stacks_what_it_can(sine, capsys):
    """solver in {sgd, closed_form}: the SGD group is stacked, the closed form falls back."""
    X, y = sine
    est = ConjugateKernelRegressor(n_hidden=16, max_iter=4, tol=None, alpha=1e-3,
                                   random_state=0, dtype="float64")
    grid = [{"solver": ["closed_form"]},
            {"solver": ["sgd"], "learning_rate_init": [0.01, 0.02]}]
    got = StackedGridSearchCV(est, grid, cv=CV, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "1 candidate(s) fitted one by one" in out and "6 fits stacked" in out
    assert_same_results(got, GridSearchCV(est, grid, cv=CV).fit(X, y))


def test_n_jobs_2_and_dask_backend_equal_the_reference(sine):
    X, y = sine
    grid = {"learning_rate_init": [0.005, 0.01], "random_state": [0, 1]}
    ref = GridSearchCV(_net(), grid, cv=CV).fit(X, y)
    got = StackedGridSearchCV(_net(), grid, cv=CV, n_jobs=2).fit(X, y)
    assert_same_results(got, ref)
    with joblib.parallel_backend("threading", n_jobs=2):
        got = StackedGridSearchCV(_net(), grid, cv=CV).fit(X, y)
    assert_same_results(got, ref)


@pytest.mark.slow
def test_dask_backend(sine):
    distributed = pytest.importorskip("distributed")
    X, y = sine
    grid = {"learning_rate_init": [0.005, 0.01], "random_state": [0, 1]}
    ref = GridSearchCV(_net(), grid, cv=CV).fit(X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_backend("dask"):
        got = StackedGridSearchCV(_net(), grid, cv=CV, n_jobs=2).fit(X, y)
    assert_same_results(got, ref)


@pytest.mark.parametrize("estimator", [
    DeepReLUClassifier(width=12, depth=3, max_iter=3, tol=None, dtype="float64",
                       random_state=0),
    DeepReLUClassifier(width=12, depth=3, solver="gd", max_iter=4, tol=None, dtype="float64",
                       random_state=0, return_iterate="best_train_loss"),
])
def test_classifiers_stack_lr_scale(estimator, capsys):
    """The classifiers' step-size constant lr_scale stacks; log-loss scores match."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4))
    y = (X[:, 0] + 0.3 * rng.normal(size=90) > 0).astype(int)
    grid = {"lr_scale": [2.0, 8.0], "random_state": [0, 1]}
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    ref = GridSearchCV(estimator, grid, cv=cv, scoring="neg_log_loss").fit(X, y)
    got = StackedGridSearchCV(estimator, grid, cv=cv, scoring="neg_log_loss",
                              verbose=1).fit(X, y)
    assert "4 candidate(s) x 3 folds: 12 fits stacked in 1 engine run(s)" in (
        capsys.readouterr().out)
    assert_same_results(got, ref)


@pytest.mark.parametrize("estimator", [
    ThreeLayerReLURegressor(n_hidden=10, max_iter=3, tol=None, dtype="float64",
                            random_state=0),
    ThreeLayerReLURegressor(n_hidden=10, max_iter=3, solver="alg2", dtype="float64",
                            random_state=0),
    NTKRegressor(n_hidden=16, solver="sgd", max_iter=3, tol=None, dtype="float64",
                 random_state=0),
    _net(solver="alg1", max_iter=1),
])
def test_other_network_estimators(sine, estimator):
    """Three-layer SGD and Algorithm 2, the NTK's SGD, Algorithm 1 (batch 1 with
    replacement: folds of different sizes train in separate runs)."""
    X, y = sine
    X, y = X[:80], y[:80]  # folds of 27, 27, 26 rows: unequal steps per epoch for alg1
    lr = [1e-3, 2e-3] if isinstance(estimator, NTKRegressor) else [0.005, 0.01]
    grid = {"learning_rate_init": lr, "random_state": [0, 1]}
    ref = GridSearchCV(estimator, grid, cv=CV).fit(X, y)
    got = StackedGridSearchCV(estimator, grid, cv=CV).fit(X, y)
    assert_same_results(got, ref)


def test_randomized_search_equals_randomized_search_cv(sine):
    X, y = sine
    dist = {"learning_rate_init": loguniform(1e-3, 2e-2), "alpha": [0.0, 1e-3],
            "random_state": [0, 1, 2]}
    ref = RandomizedSearchCV(_net(), dist, n_iter=5, cv=CV, random_state=0).fit(X, y)
    got = StackedRandomizedSearchCV(_net(), dist, n_iter=5, cv=CV, random_state=0).fit(X, y)
    assert_same_results(got, ref)
    state = np.random.RandomState(3)
    ref = RandomizedSearchCV(_net(), dist, n_iter=3, cv=CV,
                             random_state=np.random.RandomState(3)).fit(X, y)
    got = StackedRandomizedSearchCV(_net(), dist, n_iter=3, cv=CV, random_state=state).fit(X, y)
    assert_same_results(got, ref)


def test_sample_weight_equals_grid_search_cv(sine):
    """fit(X, y, sample_weight=w): each fold's networks use their rows' weights, as fit
    does (zero weights drop the rows); the scorer gets the test rows' weights."""
    X, y = sine
    w = np.random.default_rng(0).uniform(0.0, 3.0, size=len(y))
    w[:10] = 0.0
    grid = {"learning_rate_init": [0.005, 0.01], "random_state": [0, 1]}
    ref = GridSearchCV(_net(), grid, cv=CV).fit(X, y, sample_weight=w)
    got = StackedGridSearchCV(_net(), grid, cv=CV).fit(X, y, sample_weight=w)
    assert_same_results(got, ref)


def test_bad_input_raises_clear_value_errors(sine):
    X, y = sine
    with pytest.raises(ValueError, match="does not have: Invalid parameter 'n_units'"):
        StackedGridSearchCV(_net(), {"n_units": [1, 2]}, cv=CV).fit(X, y)
    with pytest.raises(ValueError, match="no candidates to fit"):
        StackedGridSearchCV(_net(), [], cv=CV).fit(X, y)
    with pytest.raises(ValueError, match="'learning_rate_init' parameter of "
                                         "TwoLayerReLURegressor must be a float.*non-numeric"):
        StackedGridSearchCV(_net(), {"learning_rate_init": [0.01, "fast"]}, cv=CV).fit(X, y)
    with pytest.raises(ValueError, match="non-numeric value 'zero'"):
        StackedGridSearchCV(make_pipeline(StandardScaler(), _net()),
                            {"twolayerreluregressor__alpha": ["zero"]}, cv=CV).fit(X, y)
    with pytest.raises(ValueError, match=r"The 'cv' parameter of StackedGridSearchCV must be "
                                         r"an int in the range \[2, inf\)"):
        StackedGridSearchCV(_net(), {"alpha": [0.0]}, cv=1).fit(X, y)
    search = StackedGridSearchCV(_net(), {"alpha": [0.0]}, cv=CV)
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        search.fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="at least one non-zero number"):
        search.fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(89,\), expected \(90,\)"):
        search.fit(X, y, sample_weight=np.ones(len(y) - 1))
    # a valid string of a stacked parameter is a group of its own, not an error
    est = ConjugateKernelRegressor(n_hidden=8, solver="sgd", max_iter=2, tol=None,
                                   random_state=0, dtype="float64")
    grid = {"alpha": ["auto", 1e-3]}
    assert_same_results(StackedGridSearchCV(est, grid, cv=CV).fit(X, y),
                        GridSearchCV(est, grid, cv=CV).fit(X, y))


def test_list_inputs_and_1d_inputs_behave_like_grid_search_cv(sine):
    """Python lists are data, not per-copy inputs; a 1-D X fails as the estimator's fit."""
    X, y = sine
    grid = {"learning_rate_init": [0.005, 0.01]}
    ref = GridSearchCV(_net(), grid, cv=CV).fit(X, y)
    assert_same_results(StackedGridSearchCV(_net(), grid, cv=CV).fit(X.tolist(), y.tolist()),
                        ref)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        StackedGridSearchCV(_net(), grid, cv=CV, error_score="raise").fit(X[:, 0], y)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        GridSearchCV(_net(), grid, cv=CV, error_score="raise").fit(X[:, 0], y)


def test_tiles_hold_more_networks_when_the_fused_kernels_keep_only_relu_patterns():
    pytest.importorskip("numba")
    from sklearn_overparam.nn import fused_kernels

    est = TwoLayerReLURegressor(n_hidden=1000)
    search = StackedGridSearchCV(est, {"alpha": [0.0]})
    fused = search._tile_size(est, 4, 667, 54)  # the [AZLL] two-layer grid of bench_search
    with fused_kernels("off"):
        plain = search._tile_size(est, 4, 667, 54)
    # one byte a hidden unit instead of four: 2 tiles of 27 instead of 4 of 13-14
    assert (fused, plain) == (27, 14)
