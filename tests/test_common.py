"""scikit-learn's common checks for every public estimator, discovered from the package."""

import importlib
import inspect
import pkgutil

import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

import sklearn_overparam

# Check-sized instances only shrink widths and epochs; every estimator still learns the
# checks' data (no poor_score tag).
CHECK_PARAMS = {
    "n_hidden": 32,
    "max_iter": 40,
    "width": 32,
}

# Per-check parameters, as scikit-learn's PER_ESTIMATOR_CHECK_PARAMS (which it applies to
# its own estimators only; MLPRegressor runs this check in a configuration of its own too).
# The sample-weight check compares predictions of weighted and repeated fits at
# rtol=1e-7: that needs float64 training, full batches (the repeated data has more rows than
# a minibatch) and, for the closed forms, a fixed ridge, since alpha="auto" picks the ridge
# by weighted leave-one-out, which leaves a sample out with its whole weight and so does
# not equal leave-one-out on repeated rows (tests/estimators/test_parity.py tests it).
PER_CHECK_PARAMS = {
    "check_sample_weight_equivalence_on_dense_data": {
        "dtype": "float64", "batch_size": 1000, "alpha": 0.01,
    },
}


def with_check_params(estimator, check_name):
    """``estimator`` in the configuration of ``PER_CHECK_PARAMS`` for that check."""
    params = estimator.get_params()
    extra = {k: v for k, v in PER_CHECK_PARAMS.get(check_name, {}).items() if k in params
             and not (k == "alpha" and params["alpha"] != "auto")}
    return clone(estimator).set_params(**extra) if extra else estimator


def discover_estimators():
    """Every public estimator class exported by ``sklearn_overparam``."""
    return sorted(
        (
            obj
            for name in sklearn_overparam.__all__
            if inspect.isclass(obj := getattr(sklearn_overparam, name))
            and issubclass(obj, BaseEstimator)
        ),
        key=lambda cls: cls.__name__,
    )


def walk_estimators():
    """Every concrete estimator class defined anywhere in the package, exported or not.

    Imports every module of ``sklearn_overparam`` (private ones included) and keeps the
    ``BaseEstimator`` subclasses defined there that have a ``fit``, except private names,
    abstract classes and ``Base*`` templates (scikit-learn's naming of base classes): what
    ``__all__`` must export, found independently of ``__all__``.
    """
    found = set()
    for info in pkgutil.walk_packages(sklearn_overparam.__path__, prefix="sklearn_overparam."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and obj.__module__ == module.__name__
                and not name.startswith(("_", "Base"))
                and issubclass(obj, BaseEstimator)
                and not inspect.isabstract(obj)
                and callable(getattr(obj, "fit", None))
            ):
                found.add(obj)
    return sorted(found, key=lambda cls: cls.__name__)


def check_sized(cls):
    """An instance of ``cls`` small enough for the common checks."""
    params = cls().get_params()
    small = {k: v for k, v in CHECK_PARAMS.items() if k in params}
    return cls(**small, **({"random_state": 0} if "random_state" in params else {}))


def _searches():
    """The stacked searches (meta-estimators), over a check-sized network estimator."""
    from sklearn_overparam.model_selection import StackedGridSearchCV, StackedRandomizedSearchCV

    base = check_sized(sklearn_overparam.TwoLayerReLURegressor)
    grid = {"learning_rate_init": [0.005, 0.01]}
    return [StackedGridSearchCV(base, grid, cv=2),
            StackedRandomizedSearchCV(base, grid, n_iter=2, cv=2, random_state=0)]


# the estimators of the top-level __all__, then the meta-estimators of model_selection
ESTIMATORS = [check_sized(cls) for cls in discover_estimators()] + _searches()


def test_discovery_finds_every_public_estimator():
    """Every estimator defined in the package is exported and checked: none skips the checks."""
    walked = {f"{cls.__module__}.{cls.__qualname__}" for cls in walk_estimators()}
    checked = {f"{type(e).__module__}.{type(e).__qualname__}" for e in ESTIMATORS}
    assert walked == checked, (
        f"defined but not in sklearn_overparam.__all__: {sorted(walked - checked)}; "
        f"exported but not found by the walk: {sorted(checked - walked)}"
    )
    # the three estimators of the README's table are among them
    names = {type(e).__name__ for e in ESTIMATORS}
    assert {"TwoLayerReLURegressor", "ConjugateKernelRegressor", "NTKRegressor"} <= names


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: {}, xfail_strict=True)
def test_sklearn_compatible_estimator(estimator, check):
    """Every scikit-learn common check passes; nothing is marked as an expected failure."""
    check(with_check_params(estimator, getattr(check, "func", check).__name__))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_dataframe_column_names_consistency(estimator):
    """Feature names are recorded at fit and checked at predict."""
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_param_validation(estimator):
    """Every constructor parameter is validated from ``_parameter_constraints`` in fit."""
    check_param_validation(type(estimator).__name__, estimator)
