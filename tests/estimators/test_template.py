"""The estimator template: fitted state only at predict, documented defaults, warnings,
and the defects a new user hit (each test fails on the code before the template)."""

import inspect
import pickle
import time
import warnings

import numpy as np
import pytest
import torch
from numpydoc.docscrape import ClassDoc
from sklearn.base import clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.exceptions import InconsistentVersionWarning as SklearnVersionWarning
from sklearn.neural_network import MLPRegressor

from sklearn_overparam import (
    ConjugateKernelRegressor,
    HalfSpherePadding,
    InconsistentVersionWarning,
    NTKRegressor,
    TwoLayerReLURegressor,
)
from sklearn_overparam.datasets import make_composite_sine
from sklearn_overparam.estimators._params import format_default
from tests.estimators.conftest import NETWORK_ESTIMATORS
from tests.test_common import discover_estimators

# A valid value different from every default, per parameter that could change a model.
CHANGED = {
    "n_hidden": 7, "n_hidden2": 5, "depth": 3, "output_scale": 0.3, "input_padding": None,
    "solver": "sgd", "iterate": "last", "learning_rate_init": 0.123, "momentum": 0.5,
    "batch_size": 3, "max_iter": 2, "lr_decay_epoch": None, "lr_decay_factor": 0.5,
    "alpha": 0.5, "tol": None, "n_iter_no_change": 2, "early_stopping": True,
    "validation_fraction": 0.3, "shuffle": False, "random_state": 123, "kernel": "analytic",
    "include_f0": False, "dtype": "float64", "normalize_inputs": False, "width": 7,
    "lr_scale": 0.5, "init_std": 0.3, "one_pass": True, "max_steps": 3, "return_iterate":
    "best_train_loss", "stop_at_zero_error": True, "lambda_w": 0.1, "sigma_w": 0.5,
}


@pytest.fixture(scope="module")
def sine():
    X, y = make_composite_sine(120, random_state=0)
    return X, y


@pytest.mark.parametrize("estimator", NETWORK_ESTIMATORS, ids=lambda e: type(e).__name__)
def test_predict_never_changes_with_set_params_after_fit(estimator, sine):
    """After fit, changing any parameter leaves predict (and the scores) exactly unchanged."""
    X, y = sine
    if is_classifier(estimator):
        y = (y > np.median(y)).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = clone(estimator).fit(X, y)
    predict = est.decision_function if is_classifier(est) else est.predict
    before = predict(X)
    for name, value in CHANGED.items():
        if name not in est.get_params():
            continue
        old = est.get_params()[name]
        est.set_params(**{name: value})
        np.testing.assert_array_equal(predict(X), before, err_msg=name)
        est.set_params(**{name: old})


@pytest.mark.parametrize("cls", discover_estimators(), ids=lambda c: c.__name__)
def test_docstring_defaults_are_the_signature_defaults(cls):
    """Every documented ``default=`` equals the constructor's default."""
    doc = ClassDoc(cls)
    signature = {n: p for n, p in inspect.signature(cls.__init__).parameters.items()
                 if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    documented = {p.name: p.type for p in doc["Parameters"]}
    assert set(documented) == set(signature)
    for name, type_ in documented.items():
        expected = f"default={format_default(signature[name].default)}"
        assert type_.endswith(expected), (name, type_, expected)


def test_closed_form_alpha_doc_describes_the_ridge():
    """The closed-form estimators document alpha as the ridge with its 'auto' default."""
    for cls in (ConjugateKernelRegressor, NTKRegressor):
        (alpha,) = [p for p in ClassDoc(cls)["Parameters"] if p.name == "alpha"]
        assert alpha.type.endswith('default="auto"')
        assert "ridge" in " ".join(alpha.desc)


def test_version_warning_is_sklearns_and_points_at_the_caller(sine):
    """A filter for sklearn's InconsistentVersionWarning catches ours; it names this file."""
    X, y = sine
    est = TwoLayerReLURegressor(n_hidden=8, max_iter=2, tol=None, random_state=0).fit(X, y)
    state = est.__getstate__()
    state["_sklearn_overparam_version"] = "0.0.1"
    data = pickle.dumps(est)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=SklearnVersionWarning)
        pickle.loads(data)
        fresh = TwoLayerReLURegressor.__new__(TwoLayerReLURegressor)
        fresh.__setstate__(dict(state))
    assert not [w for w in rec if issubclass(w.category, InconsistentVersionWarning)]
    with pytest.warns(InconsistentVersionWarning, match="0.0.1") as rec:
        TwoLayerReLURegressor.__new__(TwoLayerReLURegressor).__setstate__(dict(state))
    assert issubclass(InconsistentVersionWarning, SklearnVersionWarning)
    assert rec[0].filename == __file__


def test_convergence_warning_points_at_the_users_line(sine):
    """The ConvergenceWarning of fit is attributed to the caller's file, not to sklearn."""
    X, y = sine
    with pytest.warns(ConvergenceWarning) as rec:
        TwoLayerReLURegressor(n_hidden=8, max_iter=2, tol=0.0, random_state=0).fit(X, y)
    assert rec[0].filename == __file__


def test_dead_network_raises_instead_of_returning_a_constant():
    """A huge step that kills every ReLU (finite loss) raises the divergence ValueError."""
    X = np.random.default_rng(0).normal(size=(120, 5))
    y = X[:, 0] - 2 * X[:, 1]
    est = TwoLayerReLURegressor(n_hidden=64, learning_rate_init=1e3, max_iter=30,
                                random_state=0)
    with pytest.raises(ValueError, match="Training diverged"):
        est.fit(100 * X, 1e3 * y)


def test_too_large_step_on_sine_is_never_silent(sine):
    """learning_rate_init=10 on the sine data raises, instead of R^2 ~ 0 silently."""
    X, y = make_composite_sine(500, random_state=0)
    est = TwoLayerReLURegressor(n_hidden=200, learning_rate_init=10, max_iter=30, tol=None,
                                random_state=0)
    with pytest.raises(ValueError, match="Training diverged"):
        est.fit(X, y)


def test_alg1_runs_every_step_under_the_default_tol(sine):
    """solver='alg1' ignores tol: all T = max_iter * n steps run, without a warning."""
    X, y = sine
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = TwoLayerReLURegressor(n_hidden=16, solver="alg1", learning_rate_init=1e-6,
                                    max_iter=25, random_state=0).fit(X, y)
    assert est.n_iter_ == 25


@pytest.mark.parametrize("cls", [TwoLayerReLURegressor, NTKRegressor], ids=lambda c: c.__name__)
def test_one_row_predict_costs_a_few_mlp_predicts(cls, sine):
    """A one-row predict costs at most 15x MLPRegressor's, with torch at 2 threads."""
    X, y = sine
    est = cls(n_hidden=100, max_iter=5, tol=None, random_state=0).fit(X, y)
    mlp = MLPRegressor(hidden_layer_sizes=(100,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        def cost(f):
            f(X[:1])
            times = []
            for _ in range(30):
                start = time.perf_counter()
                f(X[:1])
                times.append(time.perf_counter() - start)
            return float(np.median(times))

        ours, theirs = cost(est.predict), cost(mlp.predict)
    finally:
        torch.set_num_threads(before)
    assert ours < 15 * theirs, (ours, theirs)


def test_string_targets_to_ntk_raise_sklearns_message(sine):
    """String targets raise a ValueError that says what is wrong, for every regressor."""
    X, _ = sine
    y = np.array(["a", "b"] * 60)
    for cls in (NTKRegressor, ConjugateKernelRegressor, TwoLayerReLURegressor):
        with pytest.raises(ValueError, match="numeric"):
            cls(n_hidden=8, max_iter=2).fit(X, y)


def test_device_accepts_torch_device_and_rejects_unknown_types(sine):
    """device=torch.device('cpu') fits; 'meta' is a ValueError in sklearn's voice."""
    X, y = sine
    est = TwoLayerReLURegressor(n_hidden=8, max_iter=2, tol=None, random_state=0)
    ref = clone(est).fit(X, y).predict(X)
    np.testing.assert_array_equal(est.set_params(device=torch.device("cpu")).fit(X, y)
                                  .predict(X), ref)
    with pytest.raises(ValueError, match="device"):
        clone(est).set_params(device="meta").fit(X, y)


def test_ntk_predict_checks_finiteness_like_the_networks(sine):
    """NTKRegressor.predict goes through the base's finiteness check."""
    X, y = sine
    est = NTKRegressor(n_hidden=8, random_state=0).fit(X, y)
    est.dual_coef_ = est.dual_coef_ * np.inf
    with pytest.raises(ValueError, match="not finite"):
        est.predict(X)


def test_input_map_is_a_public_fitted_transformer(sine):
    """input_map_ is a fitted HalfSpherePadding; network_ maps raw inputs like predict."""
    X, y = sine
    est = TwoLayerReLURegressor(n_hidden=16, max_iter=3, tol=None, random_state=0).fit(X, y)
    assert isinstance(est.input_map_, HalfSpherePadding)
    Z = est.input_map_.transform(X)
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(Z, HalfSpherePadding().fit(X).transform(X))
    with torch.no_grad():
        out = est.network_(torch.as_tensor(X, dtype=torch.float32))[:, 0].numpy()
    np.testing.assert_allclose(out, est.predict(X.astype(np.float32)), rtol=1e-4, atol=1e-5)
    assert TwoLayerReLURegressor(n_hidden=8, max_iter=2, input_padding=None).fit(
        X, y).input_map_ is None


def test_auto_alpha_is_near_the_best_of_a_grid_on_the_demo_data():
    """alpha='auto' (leave-one-out) is within 1.3x of the best test MSE over an alpha grid."""
    X, y = make_composite_sine(1000, random_state=0)
    Xt, yt = make_composite_sine(2000, random_state=1)
    for cls in (ConjugateKernelRegressor, NTKRegressor):
        def mse(alpha, cls=cls):
            est = cls(n_hidden=1000, alpha=alpha, random_state=0).fit(X, y)
            return float(np.mean((est.predict(Xt) - yt) ** 2)), est
        auto, est = mse("auto")
        best = min(mse(a)[0] for a in 10.0 ** np.arange(-10, 2))
        assert auto <= 1.3 * best, (cls.__name__, auto, best, est.alpha_)
