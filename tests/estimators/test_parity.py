"""Parity with MLPRegressor / MLPClassifier for users switching over (issue items 3 and 4):
``sample_weight``, ``warm_start``, ``partial_fit``, MLP's fitted attributes (``best_loss_``,
``t_``, ``n_layers_``, ``out_activation_``) and scikit-learn's callback API."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.neural_network import MLPClassifier, MLPRegressor

from sklearn_overparam import (
    ConjugateKernelRegressor,
    DeepReLUClassifier,
    NTKRegressor,
    NTRFClassifier,
    ThreeLayerReLURegressor,
    TwoLayerReLUClassifier,
    TwoLayerReLURegressor,
)
from sklearn_overparam._compat import (
    HAS_SKLEARN_CALLBACKS,
    _no_callbacks,
    _NoCallbackSupportMixin,
)
from sklearn_overparam.datasets import make_composite_sine
from sklearn_overparam.estimators._base import BaseReLUNetwork
from sklearn_overparam.estimators._regressors import _RegressorMixin
from sklearn_overparam.kernels._solvers import (
    ridge_features,
    ridge_features_loo,
    ridge_kernel,
    ridge_kernel_loo,
)
from tests.estimators.conftest import NETWORK_ESTIMATORS

F64 = {"dtype": "float64", "tol": None, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    X, y = make_composite_sine(60, random_state=0)
    y = (y - y.mean()) / y.std()
    labels = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))  # 3 balanced classes
    return X, y, labels


def _target(est, data):
    X, y, labels = data
    if not is_classifier(est):
        return y
    # the [CCZG] learners are binary (logistic loss) by default; [LL] is softmax
    return labels if isinstance(est, TwoLayerReLUClassifier) else (labels > 0).astype(int)


def _output(est, X):
    return est.decision_function(X) if is_classifier(est) else est.predict(X)


def _quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def _set(est, **params):
    """``clone(est)`` with those of ``params`` the estimator has."""
    own = est.get_params()
    return clone(est).set_params(**{k: v for k, v in params.items() if k in own})


# Every iterative solver with momentum and weight decay where the estimator has them.
ITERATIVE = [
    TwoLayerReLURegressor(n_hidden=16, alpha=1e-3, lr_decay_epoch=2, **F64),
    ThreeLayerReLURegressor(n_hidden=8, alpha=1e-3, lr_decay_epoch=2, **F64),
    ConjugateKernelRegressor(n_hidden=16, solver="sgd", alpha=1e-3, learning_rate_init=0.05,
                             lr_decay_epoch=2, **F64),
    NTKRegressor(n_hidden=16, solver="sgd", alpha=1e-3, lr_decay_epoch=2, **F64),
    TwoLayerReLUClassifier(n_hidden=16, **F64),
    DeepReLUClassifier(width=16, momentum=0.5, alpha=1e-3, **F64),
    DeepReLUClassifier(width=16, solver="gd", momentum=0.5, **F64),
    NTRFClassifier(width=16, radius=2.0, **F64),
    NTRFClassifier(width=16, solver="kernel_pgd", radius=2.0, **F64),
]


def _id(est):
    return f"{type(est).__name__}-{est.get_params().get('solver', 'sgd')}"


# ------------------------------------------------------------------ sample_weight
@pytest.mark.parametrize("est", ITERATIVE, ids=_id)
def test_integer_weights_equal_repeated_rows_full_batch_sgd(est, data):
    """Full-batch SGD (momentum, weight decay) on weighted rows is SGD on repeated rows."""
    X = data[0]
    y = _target(est, data)
    w = np.random.default_rng(1).integers(0, 4, size=len(y))
    w[:3] = [0, 1, 3]
    rep = np.repeat(np.arange(len(y)), w)
    est = _set(est, batch_size=1000, max_iter=6)
    weighted = clone(est).fit(X, y, sample_weight=w)
    repeated = clone(est).fit(X[rep], y[rep])
    ref = _output(repeated, X)
    np.testing.assert_allclose(_output(weighted, X), ref, rtol=1e-9,
                               atol=1e-11 * np.abs(ref).max())
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-9)


# float64: float32 features of a batch of other rows round differently
CLOSED_FORMS = [
    ConjugateKernelRegressor(n_hidden=16, alpha=0.05, **F64),
    ConjugateKernelRegressor(n_hidden=8, depth=3, alpha=0.05, **F64),
    NTKRegressor(n_hidden=16, alpha=0.05, **F64),
    NTKRegressor(n_hidden=16, kernel="analytic", alpha=0.05, **F64),
]


@pytest.mark.parametrize("est", CLOSED_FORMS, ids=lambda e: f"{type(e).__name__}")
def test_integer_weights_equal_repeated_rows_closed_forms(est, data):
    """The weighted ridge ``(Phi^T W Phi + (sum(w) alpha / 2) I)`` is the ridge on repeated
    rows, for one and two outputs; the weighted training loss is the repeated one."""
    X, y, _ = data
    w = np.random.default_rng(2).integers(0, 4, size=len(y))
    rep = np.repeat(np.arange(len(y)), w)
    for Y in (y, np.column_stack([y, np.sin(3 * y)])):
        weighted = clone(est).fit(X, Y, sample_weight=w)
        repeated = clone(est).fit(X[rep], Y[rep])
        np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-7,
                                   atol=1e-9)
        assert weighted.loss_ == pytest.approx(repeated.loss_, rel=1e-7)
        assert weighted.t_ == np.count_nonzero(w) and repeated.t_ == w.sum()


@pytest.mark.parametrize("est", NETWORK_ESTIMATORS, ids=lambda e: type(e).__name__)
def test_zero_weights_equal_dropping_samples(est, data):
    """Zero-weight rows are dropped: the fit equals the fit without them, bit for bit, for
    every solver (minibatches, shuffling, alpha="auto" and the input map included)."""
    X = data[0]
    y = _target(est, data)
    w = np.random.default_rng(3).integers(0, 3, size=len(y)).astype(float)
    w[:2] = [1.0, 2.0]
    keep = w > 0
    ones = keep.astype(float)
    a = _quiet_fit(clone(est), X, y, sample_weight=w)
    b = _quiet_fit(clone(est), X[keep], y[keep], sample_weight=w[keep])
    np.testing.assert_array_equal(_output(a, X), _output(b, X))
    c = _quiet_fit(clone(est), X, y, sample_weight=ones)
    d = _quiet_fit(clone(est), X[keep], y[keep])
    np.testing.assert_array_equal(_output(c, X), _output(d, X))
    # equal weights are the unweighted fit
    e = _quiet_fit(clone(est), X, y, sample_weight=np.full(len(y), 2.5))
    f = _quiet_fit(clone(est), X, y)
    np.testing.assert_array_equal(_output(e, X), _output(f, X))


@pytest.mark.parametrize("est", NETWORK_ESTIMATORS, ids=lambda e: type(e).__name__)
def test_bad_sample_weight_raises_clear_errors(est, data):
    """Negative, all-zero, NaN, wrong-length and 2-D weights raise scikit-learn's errors;
    a failed fit leaves nothing fitted."""
    X = data[0]
    y = _target(est, data)
    n = len(y)
    bad = [
        (-np.ones(n), "Negative values in data passed to `sample_weight`"),
        (np.zeros(n), "at least one non-zero number"),
        (np.r_[np.nan, np.ones(n - 1)], "NaN"),
        (np.ones(n + 1), r"sample_weight.shape == \(61,\), expected \(60,\)"),
        (np.ones((n, 2)), "1D array or scalar"),
    ]
    for w, match in bad:
        with pytest.raises(ValueError, match=match):
            clone(est).fit(X, y, sample_weight=w)
    if is_classifier(est):  # positive weights on one class only
        one = (y == y[0]).astype(float)
        with pytest.raises(ValueError, match=r"at least 2 classes with positive sample_weight"):
            clone(est).fit(X, y, sample_weight=one)


def test_weighted_leave_one_out_leaves_a_sample_out_with_its_weight():
    """The weighted LOO of both solvers equals refitting without each sample (brute force),
    is invariant to rescaling the weights, and the fixed-ridge solves equal repeated rows."""
    rng = np.random.default_rng(0)
    grid = np.array([0.05, 0.5, 5.0])
    for n, p in [(15, 4), (10, 25)]:  # primal and dual paths
        Phi, Y = rng.normal(size=(n, p)), rng.normal(size=(n, 2))
        w = rng.integers(0, 4, size=n).astype(float)
        w[0] = 2.0
        rep = np.repeat(np.arange(n), w.astype(int))
        np.testing.assert_allclose(ridge_features(Phi, Y, 0.7, sample_weight=w),
                                   ridge_features(Phi[rep], Y[rep], 0.7), rtol=1e-10)
        K = Phi @ Phi.T
        np.testing.assert_allclose(K @ ridge_kernel(K, Y, 0.7, sample_weight=w),
                                   K[:, rep] @ ridge_kernel(K[np.ix_(rep, rep)], Y[rep], 0.7),
                                   rtol=1e-9, atol=1e-12)
        for solve, A in [(ridge_features_loo, Phi), (ridge_kernel_loo, K)]:
            _, ridge, mse = solve(A, Y, grid, sample_weight=w)
            brute = []
            for lam in grid:
                err = 0.0
                for i in range(n):
                    out = np.arange(n) != i
                    if solve is ridge_features_loo:
                        pred = Phi[i] @ ridge_features(Phi[out], Y[out], lam, sample_weight=w[out])
                    else:
                        pred = K[i, out] @ ridge_kernel(K[np.ix_(out, out)], Y[out], lam,
                                                        sample_weight=w[out])
                    err += w[i] * np.mean((pred - Y[i]) ** 2)
                brute.append(err / w.sum())
            np.testing.assert_allclose(mse, brute, rtol=1e-10)
            assert ridge == grid[int(np.argmin(brute))]
            _, ridge3, mse3 = solve(A, Y, 3.0 * grid, sample_weight=3.0 * w)
            assert ridge3 == pytest.approx(3.0 * ridge)
            np.testing.assert_allclose(mse3, mse, rtol=1e-10)


@pytest.mark.parametrize("cls", [ConjugateKernelRegressor, NTKRegressor])
def test_alpha_auto_is_weighted_and_scale_free(cls, data):
    """alpha="auto" with weights: rescaling the weights changes neither alpha_ nor the model,
    and the weighted choice differs from the unweighted one."""
    X, y, _ = data
    w = np.random.default_rng(4).integers(1, 6, size=len(y)).astype(float)
    a = cls(n_hidden=16, random_state=0).fit(X, y, sample_weight=w)
    b = cls(n_hidden=16, random_state=0).fit(X, y, sample_weight=7.0 * w)
    assert a.alpha_ == pytest.approx(b.alpha_, rel=1e-9)
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-6, atol=1e-9)
    c = cls(n_hidden=16, random_state=0).fit(X, y)
    assert not np.allclose(a.predict(X), c.predict(X))


def test_weighted_validation_scores_are_sklearns_weighted_metrics():
    """The early-stopping scores with weights are r2_score / accuracy_score with weights."""
    import torch

    rng = np.random.default_rng(0)
    Y, out, w = rng.normal(size=(30, 2)), rng.normal(size=(30, 2)), rng.uniform(0.1, 3, 30)
    got = _RegressorMixin._validation_score(torch.as_tensor(out[None]), torch.as_tensor(Y),
                                            torch.as_tensor(w))
    assert float(got[0]) == pytest.approx(r2_score(Y, out, sample_weight=w), rel=1e-12)
    clf = DeepReLUClassifier()
    clf.classes_ = np.array([0, 1, 2])
    labels, scores = rng.integers(0, 3, 30), rng.normal(size=(30, 3))
    got = clf._validation_score(torch.as_tensor(scores[None]), torch.as_tensor(labels),
                                torch.as_tensor(w))
    expected = accuracy_score(labels, scores.argmax(axis=1), sample_weight=w)
    assert float(got[0]) == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------- warm_start / partial_fit
@pytest.mark.parametrize("est", ITERATIVE, ids=_id)
def test_warm_start_continues_the_fit(est, data):
    """Two warm-started fits of k epochs are one fit of 2k: weights, momentum buffers and
    the step schedule (lr / 10 at epoch 2, counted from the first fit) continue; the curves
    and t_ accumulate, n_iter_ counts the last call (as MLP)."""
    X = data[0]
    y = _target(est, data)
    k = 3
    est = _set(est, shuffle=False)
    one = clone(est).set_params(max_iter=2 * k).fit(X, y)
    two = clone(est).set_params(max_iter=k, warm_start=True).fit(X, y)
    two.fit(X, y)
    ref = _output(one, X)
    np.testing.assert_allclose(_output(two, X), ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())
    np.testing.assert_allclose(two.loss_curve_, one.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(two.history_["learning_rate"], one.history_["learning_rate"])
    assert (two.n_iter_, len(two.loss_curve_), two.t_) == (k, 2 * k, one.t_)
    assert two.best_loss_ == pytest.approx(min(one.loss_curve_), rel=1e-10)
    # the initialization is the first fit's: lazy-training diagnostics stay valid
    for a, b in zip(two.initial_coefs_, one.initial_coefs_):
        np.testing.assert_array_equal(a, b)


def test_warm_start_restarts_momentum_unless_the_first_fit_kept_it(data):
    """Momentum buffers carry over only from a warm_start=True fit (or partial_fit); a
    warm start after a plain fit continues the weights with fresh buffers (MLP's rule)."""
    X, y, _ = data
    est = TwoLayerReLURegressor(n_hidden=16, shuffle=False, lr_decay_epoch=None, **F64)
    for momentum in (0.9, 0.0):
        full = clone(est).set_params(max_iter=4, momentum=momentum).fit(X, y)
        plain = clone(est).set_params(max_iter=2, momentum=momentum).fit(X, y)
        plain.set_params(warm_start=True).fit(X, y)
        fresh = clone(est).set_params(max_iter=2, momentum=momentum).fit(X, y)
        assert not np.allclose(plain.predict(X), fresh.predict(X))  # it continued
        # the buffers restarted: a difference only where there are buffers
        same = np.allclose(plain.predict(X), full.predict(X), rtol=1e-10, atol=1e-12)
        assert same == (momentum == 0.0)


def test_warm_start_continues_the_last_iterate_not_the_returned_one(data):
    """Algorithm 1 returns a uniformly random iterate; a warm start goes on from the last
    one (the trajectory), with the frozen layers and the initialization of the first fit."""
    from sklearn_overparam.training import Callback

    class Record(Callback):
        def __init__(self):
            self.start, self.end = None, None

        def on_train_begin(self, params, ctx):
            self.start = params["W0"][0].numpy().copy()

        def on_epoch_end(self, info):
            self.end = info.params["W0"][0].numpy().copy()

    X, y, _ = data
    first, second = Record(), Record()
    est = TwoLayerReLURegressor(n_hidden=8, solver="alg1", learning_rate_init=1e-3,
                                max_iter=2, warm_start=True, callbacks=[first], **F64)
    est.fit(X, y)
    returned = est.coefs_[0].copy()
    assert not np.array_equal(returned, first.end)
    est.set_params(callbacks=[second]).fit(X, y)
    np.testing.assert_array_equal(second.start, first.end)
    np.testing.assert_array_equal(est.initial_coefs_[0], first.start)


def test_sgd_continues_from_a_closed_form_solution(data):
    """Fitted weights without a kept training state (a closed-form solve, a fit_grid
    candidate) are continued from the fitted attributes: SGD from the ridge solution."""
    X, y, _ = data
    ck = ConjugateKernelRegressor(n_hidden=16, alpha=1e-3, **F64).fit(X, y)
    fresh = clone(ck).set_params(solver="sgd", learning_rate_init=1e-3, momentum=0.0)
    fresh.partial_fit(X, y)
    ck.set_params(solver="sgd", learning_rate_init=1e-3, momentum=0.0).partial_fit(X, y)
    assert len(ck.loss_curve_) == 2 and ck.t_ == 2 * len(y)
    assert ck.loss_curve_[1] == pytest.approx(ck.loss_curve_[0], rel=1e-3)
    assert ck.loss_curve_[1] < 0.75 * fresh.loss_curve_[0]


def test_warm_start_of_the_three_layer_algorithms_continues_lambda(data):
    """Algorithms 2/3 continue their increments and the output multiplier lambda_t."""
    X, y, _ = data
    for solver in ("alg2", "alg3"):
        est = ThreeLayerReLURegressor(n_hidden=8, solver=solver, learning_rate_init=0.05,
                                      lr_decay_epoch=None, **F64)
        one = clone(est).set_params(max_iter=6).fit(X, y)
        two = clone(est).set_params(max_iter=3, warm_start=True).fit(X, y)
        two.fit(X, y)
        assert two.lambda_ == pytest.approx(one.lambda_, rel=1e-12) == (1 - 0.05) ** 6
        assert (len(two.loss_curve_), two.t_) == (6, one.t_)


@pytest.mark.parametrize("est", ITERATIVE, ids=_id)
def test_partial_fit_is_one_epoch(est, data):
    """The first partial_fit is fit(max_iter=1) to float64 rounding (a plain fit
    accumulates momentum inside its gradient matmuls, partial_fit's momentum capture does
    not); three calls on the same data are fit(max_iter=3) (momentum and schedule
    continue); n_iter_ is 1 per call."""
    X = data[0]
    y = _target(est, data)
    est = _set(est, shuffle=False)
    kw = {"classes": np.unique(y)} if is_classifier(est) else {}
    first = clone(est).partial_fit(X, y, **kw)
    one = _output(clone(est).set_params(max_iter=1).fit(X, y), X)
    np.testing.assert_allclose(_output(first, X), one, rtol=1e-12,
                               atol=1e-14 * np.abs(one).max())
    for _ in range(2):
        first.partial_fit(X, y)
    ref = _output(clone(est).set_params(max_iter=3).fit(X, y), X)
    np.testing.assert_allclose(_output(first, X), ref, rtol=1e-10,
                               atol=1e-12 * np.abs(ref).max())
    assert (first.n_iter_, len(first.loss_curve_), first.t_) == (1, 3, 3 * len(y))


def test_partial_fit_minibatches_of_a_stream(data):
    """partial_fit over chunks (MLP's streaming use): classes on the first call, a chunk may
    lack a class, unknown labels and a wrong number of features raise and keep the model."""
    X, _, labels = data
    clf = TwoLayerReLUClassifier(n_hidden=16, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clone(clf).partial_fit(X, labels)
    first = labels != 2
    clf.partial_fit(X[first], labels[first], classes=[0, 1, 2])
    assert clf.classes_.tolist() == [0, 1, 2] and clf.predict_proba(X).shape == (60, 3)
    for chunk in np.array_split(np.arange(60), 3):
        clf.partial_fit(X[chunk], labels[chunk])
    assert clf.t_ == first.sum() + 60 and len(clf.loss_curve_) == 4
    before = clf.decision_function(X)
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X[:5], np.full(5, 7))
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :-1], labels)
    with pytest.raises(ValueError, match="is not the same as on the first call"):
        clf.partial_fit(X, labels, classes=[0, 1])
    np.testing.assert_array_equal(clf.decision_function(X), before)  # the model is kept
    assert len(clf.loss_curve_) == 4


def test_partial_fit_availability_and_invalid_continuations(data):
    """partial_fit exists for iterative solvers only; early stopping, another solver or
    another architecture cannot continue a fit; closed forms ignore warm_start."""
    X, y, _ = data
    assert not hasattr(ConjugateKernelRegressor(), "partial_fit")
    assert not hasattr(NTKRegressor(), "partial_fit")
    assert hasattr(NTKRegressor(solver="sgd"), "partial_fit")
    with pytest.raises(AttributeError, match="partial_fit") as info:
        ConjugateKernelRegressor().partial_fit(X, y)
    assert "iterative solvers" in str(info.value.__cause__)
    with pytest.raises(ValueError, match="early_stopping"):
        TwoLayerReLURegressor(n_hidden=8, early_stopping=True).partial_fit(X, y)
    est = TwoLayerReLURegressor(n_hidden=8, max_iter=2, warm_start=True, **F64).fit(X, y)
    with pytest.raises(ValueError, match="solver='sgd'; got solver='alg1'"):
        est.set_params(solver="alg1").fit(X, y)
    with pytest.raises(ValueError, match="weight shapes"):
        est.set_params(solver="sgd", n_hidden=9).fit(X, y)
    assert len(est.loss_curve_) == 2  # the failed continuations kept the model
    ck = ConjugateKernelRegressor(n_hidden=8, warm_start=True, random_state=0)
    np.testing.assert_array_equal(ck.fit(X, y).predict(X), ck.fit(X, y).predict(X))
    with pytest.raises(ValueError, match="kernel_pgd"):
        labels = (y > 0).astype(int)
        ntrf = NTRFClassifier(width=8, solver="kernel_pgd", max_iter=2, random_state=0)
        ntrf.partial_fit(X, labels, classes=[0, 1]).partial_fit(X[:30], labels[:30])


# ------------------------------------------------------------------ MLP's attributes
@pytest.mark.parametrize("est", NETWORK_ESTIMATORS, ids=lambda e: type(e).__name__)
def test_mlp_fitted_attributes(est, data):
    """best_loss_, t_, n_layers_ and out_activation_ as MLP defines them."""
    X = data[0]
    y = _target(est, data)
    fitted = _quiet_fit(clone(est), X, y)
    iterative = fitted._iterative()
    assert fitted.best_loss_ == pytest.approx(min(fitted.loss_curve_))
    assert fitted.t_ == fitted.n_iter_ * 60  # every row once per epoch (once per solve)
    assert fitted.n_layers_ == len(fitted.coefs_) + 1
    expected = ("identity" if not is_classifier(est) else
                "softmax" if isinstance(est, TwoLayerReLUClassifier) else "logistic")
    assert fitted.out_activation_ == expected
    if "early_stopping" in est.get_params() and iterative:
        stopped = _quiet_fit(clone(est).set_params(early_stopping=True), X, y)
        assert stopped.best_loss_ is None  # as MLP: the validation score decides
        assert stopped.t_ == stopped.n_iter_ * 54  # validation rows are not seen


def test_attributes_match_mlps(data):
    """The same architectures in MLP report the same n_layers_ / out_activation_."""
    X, y, labels = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pairs = [
            (MLPRegressor(hidden_layer_sizes=(16,), max_iter=2).fit(X, y),
             TwoLayerReLURegressor(n_hidden=16, max_iter=2).fit(X, y)),
            (MLPRegressor(hidden_layer_sizes=(8, 8), max_iter=2).fit(X, y),
             ThreeLayerReLURegressor(n_hidden=8, max_iter=2).fit(X, y)),
            (MLPClassifier(hidden_layer_sizes=(16,), max_iter=2).fit(X, labels),
             TwoLayerReLUClassifier(n_hidden=16, max_iter=2).fit(X, labels)),
            (MLPClassifier(hidden_layer_sizes=(16, 16), max_iter=2).fit(X, labels > 0),
             DeepReLUClassifier(width=16, depth=3, max_iter=2).fit(X, labels > 0)),
        ]
        for mlp, ours in pairs:
            assert (ours.n_layers_, ours.out_activation_) == (mlp.n_layers_,
                                                              mlp.out_activation_)
            assert ours.t_ == mlp.t_ == 2 * 60
        # a mid-epoch stop counts the samples of the steps taken: 60 + 2 batches of 16
        clf = TwoLayerReLUClassifier(n_hidden=8, batch_size=16, max_steps=6, max_iter=5)
        assert clf.fit(X, labels).t_ == 60 + 2 * 16


# ---------------------------------------------------------- scikit-learn's callbacks
needs_callbacks = pytest.mark.skipif(not HAS_SKLEARN_CALLBACKS,
                                     reason="sklearn.callback needs scikit-learn >= 1.9")

MONITORED = [
    TwoLayerReLURegressor(n_hidden=16, lr_decay_epoch=None, **F64),
    NTKRegressor(n_hidden=16, solver="sgd", lr_decay_epoch=None, **F64),
    DeepReLUClassifier(width=16, **F64),
    NTRFClassifier(width=16, solver="kernel_pgd", radius=2.0, **F64),
]


@needs_callbacks
@pytest.mark.parametrize("est", MONITORED, ids=_id)
def test_scoring_monitor_records_every_epoch(est, data):
    """ScoringMonitor scores the model of every epoch: epoch e's score is the score of a
    fit of e + 1 epochs (the reconstruction attributes are the live model), and the fit
    task's is the fitted estimator's."""
    from sklearn.callback import ScoringMonitor

    X = data[0]
    y = _target(est, data)
    scoring = "accuracy" if is_classifier(est) else "r2"
    monitor = ScoringMonitor(scoring=scoring)
    fitted = clone(est).set_params(max_iter=4).set_callbacks(monitor).fit(X, y)
    rows = monitor.get_logs().data
    epochs = [r for r in rows if r["task_name"] == "epoch"]
    assert [r["task_id_path"] for r in epochs] == [(0, e) for e in range(4)]
    for e, row in enumerate(epochs):
        shorter = clone(est).set_params(max_iter=e + 1).fit(X, y)
        assert row[scoring] == pytest.approx(shorter.score(X, y), rel=1e-9, abs=1e-12)
    (root,) = [r for r in rows if r["task_name"] == "fit"]
    assert root[scoring] == pytest.approx(fitted.score(X, y))
    assert not hasattr(fitted, "_callback_fit_ctx")  # torn down after fit


@needs_callbacks
def test_progress_bar_runs_and_library_callbacks_stay_independent(data):
    """ProgressBar runs over the epochs; the library's own callbacks= still see every epoch."""
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar

    X, y, _ = data
    seen = []
    est = TwoLayerReLURegressor(n_hidden=16, max_iter=5, callbacks=[seen.append], **F64)
    est.set_callbacks(ProgressBar()).fit(X, y)
    assert est.n_iter_ == 5 and len(seen) == 5
    est.partial_fit(X, y)  # one more epoch, one more bar
    assert len(est.loss_curve_) == 6 and len(seen) == 6
    ck = ConjugateKernelRegressor(n_hidden=16, random_state=0).set_callbacks(ProgressBar())
    ck.fit(X, y)  # a closed form is one task without epochs
    assert ck.n_iter_ == 1


@needs_callbacks
def test_a_sklearn_callback_can_stop_training(data):
    """A truthy on_fit_task_end of an epoch stops the fit there (no ConvergenceWarning)."""
    X, y, _ = data

    class StopAfterTwo:
        def setup(self, estimator, context):
            pass

        def teardown(self, estimator, context):
            pass

        def on_fit_task_begin(self, estimator, context):
            pass

        def on_fit_task_end(self, estimator, context):
            return context.task_name == "epoch" and context.task_id == 1

    est = TwoLayerReLURegressor(n_hidden=8, max_iter=10, tol=1e-12, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.set_callbacks(StopAfterTwo()).fit(X, y)
    assert est.n_iter_ == 2


def test_fallback_without_sklearn_callbacks(data, monkeypatch):
    """On scikit-learn without sklearn.callback the estimators fit through no-op contexts."""
    X, y, _ = data
    assert _no_callbacks(len) is len
    monkeypatch.setattr(BaseReLUNetwork, "_init_callback_context",
                        _NoCallbackSupportMixin._init_callback_context)
    est = TwoLayerReLURegressor(n_hidden=8, max_iter=2, **F64).fit(X, y)
    ref = TwoLayerReLURegressor(n_hidden=8, max_iter=2, **F64)
    monkeypatch.undo()
    np.testing.assert_array_equal(est.predict(X), ref.fit(X, y).predict(X))


# ------------------------------------------------- the README's MLP correspondence
@pytest.mark.parametrize("task", ["regression-1", "regression-2", "binary", "multiclass"])
def test_readme_learning_rate_and_alpha_correspondence(task):
    """One full-batch step of MLP with learning_rate_init = 2 lr / k and alpha = alpha b k / 2
    (regression; lr and alpha b for the log-losses) moves the weight matrices exactly as the
    engine's step with lr and weight decay alpha (the README's table), from the same weights."""
    import torch

    from sklearn_overparam.nn import LayerSpec, ReLUNetSpec, init_params
    from sklearn_overparam.training import NetworkObjective, SGDConfig, train

    n, d, m, lr, alpha = 40, 3, 8, 0.05, 0.3
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d))
    if task.startswith("regression"):
        k = int(task[-1])
        y = rng.normal(size=(n, k))
        loss, Y = "squared", torch.from_numpy(y)
        mlp_lr, mlp_alpha = 2 * lr / k, alpha * n * k / 2
        mlp = MLPRegressor(hidden_layer_sizes=(m,), solver="sgd", batch_size=n,
                           learning_rate_init=mlp_lr, alpha=mlp_alpha, momentum=0.9,
                           nesterovs_momentum=False, shuffle=False, max_iter=1,
                           warm_start=True, random_state=0)
        y_fit = y if k > 1 else y[:, 0]
    else:
        k = 1 if task == "binary" else 3
        labels = rng.integers(0, 2 if k == 1 else 3, size=n)
        loss = "logistic" if k == 1 else "softmax_cross_entropy"
        Y = torch.from_numpy(2.0 * labels - 1.0) if k == 1 else torch.from_numpy(labels)
        mlp_lr, mlp_alpha = lr, alpha * n
        mlp = MLPClassifier(hidden_layer_sizes=(m,), solver="sgd", batch_size=n,
                            learning_rate_init=mlp_lr, alpha=mlp_alpha, momentum=0.9,
                            nesterovs_momentum=False, shuffle=False, max_iter=1,
                            warm_start=True, random_state=0)
        y_fit = labels
    spec = ReLUNetSpec((LayerSpec(d, m, 1.0 / np.sqrt(d), bias=True, bias_std=0.5),
                        LayerSpec(m, k, 1.0 / np.sqrt(m), bias=True, bias_std=0.5)),
                       ).with_trainable("all")
    params = init_params(spec, [3], dtype=torch.float64)
    init = {name: p[0].numpy().copy() for name, p in params.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y_fit)  # creates its state; then one step from our weights
        mlp.coefs_ = [init["W0"].T.copy(), init["W1"].T.copy()]
        mlp.intercepts_ = [init["b0"].copy(), init["b1"].copy()]
        mlp.fit(X, y_fit)
    config = SGDConfig(learning_rate=lr, momentum=0.9, weight_decay=alpha, batch_size=None,
                       max_epochs=1, tol=None)
    result = train(NetworkObjective(spec, loss), params, torch.from_numpy(X), Y, config, [0])
    for layer, theirs in enumerate(mlp.coefs_):
        ours = result.params[f"W{layer}"][0].numpy()
        moved = np.abs(ours - init[f"W{layer}"]).max()
        assert moved > 1e-3
        np.testing.assert_allclose(ours, theirs.T, rtol=0, atol=1e-12 * moved)
