"""RELIABILITY.md items for every public estimator (beyond sklearn's common checks)."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

import sklearn_overparam
from sklearn_overparam import InconsistentVersionWarning
from sklearn_overparam.datasets import make_composite_sine


@pytest.fixture
def data(small_estimator):
    """The sine data; for classifiers its targets cut into three balanced classes."""
    X, y = make_composite_sine(120, random_state=0)
    if is_classifier(small_estimator):
        y = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    return X, y


def _huge_step(est):
    """Parameters that make one estimator's SGD steps absurdly large."""
    params = est.get_params()
    if "learning_rate_init" in params:
        return {"learning_rate_init": 1e3}
    if "learning_rate" in params:  # NTRFClassifier
        return {"learning_rate": 1e9}
    return {"lr_scale": 1e7}


def _fit(est, X, y, **params):
    est = clone(est).set_params(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def test_int_random_state_bitwise_reproducible_and_global_rng_untouched(small_estimator, data):
    """Two fits with one int seed give identical weights; global torch/numpy RNGs unchanged."""
    X, y = data
    np_state, torch_state = np.random.get_state(), torch.get_rng_state()
    a = _fit(small_estimator, X, y, random_state=7)
    b = _fit(small_estimator, X, y, random_state=7)
    assert np.array_equal(a.predict(X), b.predict(X))
    for wa, wb in zip(a.coefs_, b.coefs_):
        assert np.array_equal(wa, wb)
    new_np = np.random.get_state()
    assert np.array_equal(np_state[1], new_np[1]) and np_state[2] == new_np[2]
    assert torch.equal(torch_state, torch.get_rng_state())


def test_random_state_instances_follow_glossary(small_estimator, data):
    """Equal RandomState instances give equal fits; reusing one instance gives new draws."""
    X, y = data
    a = _fit(small_estimator, X, y, random_state=np.random.RandomState(3))
    b = _fit(small_estimator, X, y, random_state=np.random.RandomState(3))
    assert np.array_equal(a.initial_coefs_[0], b.initial_coefs_[0])
    shared = np.random.RandomState(3)
    c = _fit(small_estimator, X, y, random_state=shared)
    d = _fit(small_estimator, X, y, random_state=shared)
    assert not np.array_equal(c.initial_coefs_[0], d.initial_coefs_[0])


def test_input_dtypes_and_layouts_all_work(small_estimator, data, tmp_path):
    """float32/64, int, object, Fortran and read-only memmap X fit and predict silently."""
    X, y = data
    Xi = np.round(X * 10).astype(np.int64)
    mm_path = tmp_path / "X.npy"
    np.save(mm_path, X)
    variants = [X.astype(np.float32), X, Xi.astype(np.int32), Xi, Xi.astype(object),
                np.asfortranarray(X), np.load(mm_path, mmap_mode="r")]
    for Xv in variants:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = clone(small_estimator).fit(Xv, y)
            pred = est.predict(Xv)
        kind = "f" if is_regressor(est) else np.asarray(y).dtype.kind
        assert pred.dtype.kind == kind and pred.shape == (len(y),)
        assert np.all(np.isfinite(pred))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_raises_sklearn_message(small_estimator, data, bad):
    """NaN or inf in X or y, at fit or predict, raises sklearn's ValueError."""
    X, y = data
    Xb = X.copy()
    Xb[3, 1] = bad
    yb = y.astype(np.float64)
    yb[5] = bad
    match = "NaN" if np.isnan(bad) else "infinity"
    with pytest.raises(ValueError, match=match):
        clone(small_estimator).fit(Xb, y)
    with pytest.raises(ValueError, match=match):
        clone(small_estimator).fit(X, yb)
    est = _fit(small_estimator, X, y)
    with pytest.raises(ValueError, match=match):
        est.predict(Xb)


def test_wrong_feature_count_message(small_estimator, data):
    """Predicting with the wrong number of features names both counts."""
    X, y = data
    est = _fit(small_estimator, X, y)
    name = type(est).__name__
    with pytest.raises(ValueError, match=f"X has 3 features, but {name} is expecting 4 features"):
        est.predict(X[:, :3])


def test_divergence_raises_and_leaves_estimator_unfitted(small_estimator, data):
    """learning_rate_init=1e3 on unscaled data raises a ValueError naming the non-finite loss."""
    X, y = data
    params = small_estimator.get_params()
    if "solver" in params and params["solver"] == "closed_form":
        small_estimator.set_params(solver="sgd")
    for early_stopping in (False, True):
        extra = ({"early_stopping": early_stopping}
                 if "early_stopping" in small_estimator.get_params() else {})
        est = clone(small_estimator).set_params(**_huge_step(small_estimator), **extra)
        with pytest.raises(ValueError, match=r"diverged.*learning rate"):
            est.fit(X * 1e3, y * 1e3)
        with pytest.raises(NotFittedError):
            check_is_fitted(est)


def test_fitted_model_is_finite(small_estimator, data):
    """After a successful fit every weight and every prediction on finite input is finite."""
    X, y = data
    est = _fit(small_estimator, X, y)
    assert all(np.all(np.isfinite(w)) for w in est.coefs_)
    assert np.all(np.isfinite(est.predict(X * 100)))


def test_convergence_warning_exactly_once_or_never(small_estimator, data):
    """Hitting max_iter warns once; tol=None or an early convergence never warns."""
    X, y = data
    if small_estimator.get_params().get("solver") == "closed_form":
        small_estimator.set_params(solver="sgd")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        clone(small_estimator).set_params(max_iter=3, tol=0.0).fit(X, y)
    assert sum(issubclass(w.category, ConvergenceWarning) for w in rec) == 1
    for params in ({"max_iter": 3, "tol": None}, {"tol": 1e6, "n_iter_no_change": 1}):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            est = clone(small_estimator).set_params(**params).fit(X, y)
    assert est.n_iter_ == 2  # the second epoch is the first without improvement


def test_pickle_and_joblib_round_trip(small_estimator, data, tmp_path):
    """pickle and joblib round-trips predict identically; fitted state holds no tensors."""
    X, y = data
    est = _fit(small_estimator, X, y, random_state=0)
    assert not any(isinstance(v, torch.Tensor) for v in vars(est).values())
    again = pickle.loads(pickle.dumps(est))
    assert np.array_equal(again.predict(X), est.predict(X))
    joblib.dump(est, tmp_path / "m.joblib")
    assert np.array_equal(joblib.load(tmp_path / "m.joblib").predict(X), est.predict(X))


def test_pickle_from_other_version_warns(small_estimator, data):
    """Loading a pickle written by another library version warns."""
    X, y = data
    est = _fit(small_estimator, X, y)
    state = est.__getstate__()
    assert state["_sklearn_overparam_version"] == sklearn_overparam.__version__
    state["_sklearn_overparam_version"] = "0.0.1"
    fresh = type(est).__new__(type(est))
    with pytest.warns(InconsistentVersionWarning, match="0.0.1"):
        fresh.__setstate__(state)


def test_skops_round_trip_trusts_only_library_types(small_estimator, data, tmp_path):
    """skops.io round-trips with nothing but this library's classes untrusted."""
    sio = pytest.importorskip("skops.io")
    X, y = data
    est = _fit(small_estimator, X, y)
    path = tmp_path / "m.skops"
    sio.dump(est, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert all(t.startswith("sklearn_overparam.") for t in untrusted), untrusted
    loaded = sio.load(path, trusted=untrusted)
    assert np.array_equal(loaded.predict(X), est.predict(X))


def test_gpu_fitted_model_predicts_on_cpu_only_machine(small_estimator, data, monkeypatch):
    """A model whose device is 'cuda' unpickles and predicts where CUDA is unavailable."""
    X, y = data
    est = _fit(small_estimator, X, y)
    expected = est.predict(X)
    est.set_params(device="cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-6, atol=1e-7)


def test_pipeline_gridsearch_and_cross_val_score(small_estimator, data):
    """Works in a Pipeline, GridSearchCV (n_jobs=2 equals n_jobs=1) and cross_val_score."""
    X, y = data
    pipe = make_pipeline(StandardScaler(), small_estimator)
    step = type(small_estimator).__name__.lower()
    params = small_estimator.get_params()
    name = next(n for n in ("alpha", "lr_scale", "radius") if n in params)
    grid = {f"{step}__{name}": {"alpha": [1e-4, 1e-2], "lr_scale": [5.0, 10.0],
                                "radius": [1.0, 4.0]}[name]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = GridSearchCV(pipe, grid, cv=2, n_jobs=1).fit(X, y)
        two = GridSearchCV(pipe, grid, cv=2, n_jobs=2).fit(X, y)
        scores = cross_val_score(pipe, X, y, cv=3)
    np.testing.assert_array_equal(one.cv_results_["mean_test_score"],
                                  two.cv_results_["mean_test_score"])
    assert scores.shape == (3,) and np.all(np.isfinite(scores))


@pytest.mark.slow
def test_dask_backend_on_loopback_cluster(small_estimator, data):
    """cross_val_score under joblib's dask backend on a loopback LocalCluster."""
    distributed = pytest.importorskip("distributed")
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=None) as cluster, \
                distributed.Client(cluster):
            with joblib.parallel_backend("dask"):
                dask_scores = cross_val_score(small_estimator, X, y, cv=2, n_jobs=2)
        local = cross_val_score(small_estimator, X, y, cv=2)
    np.testing.assert_allclose(dask_scores, local, rtol=1e-12)


def test_threads_limited_in_workers_and_restored(small_estimator, data):
    """Under threadpool_limits(1) training uses one torch thread; the count is restored."""
    from threadpoolctl import threadpool_limits

    X, y = data
    if small_estimator.get_params().get("solver") == "closed_form":
        small_estimator.set_params(solver="sgd")
    seen = []
    est = clone(small_estimator).set_params(
        callbacks=[lambda info: seen.append(torch.get_num_threads())], max_iter=2, tol=None)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with threadpool_limits(1):
            est.fit(X, y)
        assert set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_verbose_zero_is_silent_and_verbose_one_line_per_epoch(small_estimator, data, capfd):
    """verbose=0 writes nothing; verbose=1 one line per epoch."""
    X, y = data
    if small_estimator.get_params().get("solver") == "closed_form":
        small_estimator.set_params(solver="sgd")
    clone(small_estimator).set_params(max_iter=3, tol=None).fit(X, y)
    assert capfd.readouterr() == ("", "")
    est = clone(small_estimator).set_params(max_iter=3, tol=None, verbose=1).fit(X, y)
    out = capfd.readouterr().out.strip().splitlines()
    assert len(out) == est.n_iter_ == 3


def test_keyboard_interrupt_propagates_and_leaves_unfitted(small_estimator, data):
    """A KeyboardInterrupt during fit propagates; the estimator does not look fitted."""
    X, y = data
    if small_estimator.get_params().get("solver") == "closed_form":
        small_estimator.set_params(solver="sgd")

    def interrupt(info):
        raise KeyboardInterrupt

    est = clone(small_estimator).set_params(callbacks=[interrupt])
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


def test_probability_api_only_on_classifiers(small_estimator, data):
    """Regressors expose neither predict_proba nor decision_function; classifiers give
    probabilities that sum to one and agree with predict."""
    if is_regressor(small_estimator):
        assert not hasattr(small_estimator, "predict_proba")
        assert not hasattr(small_estimator, "decision_function")
        return
    X, y = data
    est = _fit(small_estimator, X, y)
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(est.classes_[proba.argmax(axis=1)], est.predict(X))
    assert est.decision_function(X).shape == (len(X), len(est.classes_))


def test_two_dimensional_targets_keep_their_shape(small_estimator, data):
    """Regressors: y of shape (n, k) predicts (n, k), including k = 1; classifiers reject
    multi-output y with sklearn's message."""
    X, y = data
    if is_classifier(small_estimator):
        with pytest.raises(ValueError, match="1d array"):
            clone(small_estimator).fit(X, np.column_stack([y, y]))
        return
    for Y in (np.column_stack([y, -y, 2 * y]), y[:, None]):
        est = _fit(small_estimator, X, Y)
        assert est.predict(X).shape == Y.shape
