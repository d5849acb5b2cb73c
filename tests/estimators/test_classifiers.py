"""[LL] and [CCZG] classifiers against their algorithms written as literal loops."""

import math
import warnings

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from sklearn_overparam import DeepReLUClassifier, NTRFClassifier, TwoLayerReLUClassifier
from sklearn_overparam._torch import draw_seeds, make_generator
from sklearn_overparam.training import Callback, stream_seed


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 5))
    y = rng.integers(0, 3, size=90)
    X = centers[y] + 0.3 * rng.normal(size=(90, 5))
    return X, y


def _unit(X):
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _sampler(random_state):
    _, train_seed = draw_seeds(check_random_state(random_state), 2)
    return make_generator(stream_seed(train_seed, "sampler"))


class _Steps(Callback):
    def __init__(self):
        self.n = 0

    def on_step_end(self, params, value, ctx):
        self.n += 1


def test_ll_classifier_is_minibatch_sgd_on_softmax_cross_entropy(blobs):
    """Plain SGD, eta = c/m, on -log softmax(f)_y of f_i = sum_r a_ir relu(<w_r, x>): equals a
    literal loop with autograd over the sampler stream's permutations (float64)."""
    X, y = blobs
    m, c, B = 16, 10.0, 20
    clf = TwoLayerReLUClassifier(n_hidden=m, lr_scale=c, batch_size=B, max_iter=3, tol=None,
                                 random_state=0, dtype="float64").fit(X, y)
    Z = torch.as_tensor(_unit(X))
    W = torch.as_tensor(clf.initial_coefs_[0]).clone().requires_grad_(True)
    A = torch.as_tensor(clf.coefs_[1])
    gen = _sampler(0)
    for _ in range(3):
        perm = torch.randperm(len(X), generator=gen)
        for s in range(0, len(X), B):
            i = perm[s:s + B]
            loss = torch.nn.functional.cross_entropy(torch.relu(Z[i] @ W.T) @ A.T,
                                                     torch.as_tensor(y)[i])
            (g,) = torch.autograd.grad(loss, W)
            W = (W - (c / m) * g).detach().requires_grad_(True)
    np.testing.assert_allclose(clf.coefs_[0], W.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert clf.intercepts_ == [None, None]


def test_ll_one_pass_and_max_steps(blobs):
    """one_pass makes ceil(n/B) steps; max_steps=T stops after T steps; both together raise."""
    X, y = blobs
    steps = _Steps()
    TwoLayerReLUClassifier(n_hidden=8, batch_size=16, one_pass=True, random_state=0,
                           callbacks=[steps]).fit(X, y)
    assert steps.n == math.ceil(90 / 16)
    steps = _Steps()
    TwoLayerReLUClassifier(n_hidden=8, batch_size=16, max_steps=13, max_iter=100, tol=None,
                           random_state=0, callbacks=[steps]).fit(X, y)
    assert steps.n == 13
    with pytest.raises(ValueError, match="max_steps"):
        TwoLayerReLUClassifier(one_pass=True, max_steps=5).fit(X, y)


@pytest.mark.parametrize("cls", [TwoLayerReLUClassifier, DeepReLUClassifier, NTRFClassifier])
def test_classifiers_take_string_labels_binary_and_multiclass(cls, blobs):
    """String labels come back from predict; probabilities sum to 1; binary and 3 classes."""
    X, y = blobs
    names = np.array(["ant", "bee", "cat"])[y]
    small = {"n_hidden": 16} if cls is TwoLayerReLUClassifier else {"width": 16}
    for labels in (names, np.where(y == 0, "ant", "other")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = cls(**small, max_iter=30, random_state=0).fit(X, labels)
        assert set(clf.predict(X)) <= set(labels)
        assert list(clf.classes_) == sorted(set(labels))
        np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)
        assert clf.score(X, labels) > 0.8


def test_cczg_gd_is_algorithm_1_with_best_train_loss_iterate(blobs):
    """solver='gd' equals literal full-batch GD on the logistic loss of sqrt(m) W_L ... W_1 x,
    eta = c/(L m); return_iterate='best_train_loss' returns argmin_t L_S(W_t), t <= T."""
    X, y = blobs
    yb = (y == 0).astype(int)
    m, L, c, T = 16, 3, 120.0, 25
    kw = dict(width=m, depth=L, solver="gd", lr_scale=c, max_iter=T, tol=None,
              random_state=0, dtype="float64")
    last = DeepReLUClassifier(**kw).fit(X, yb)
    best = DeepReLUClassifier(return_iterate="best_train_loss", **kw).fit(X, yb)
    Z = torch.as_tensor(_unit(X))
    s = torch.as_tensor(2.0 * yb - 1.0)
    Ws = [torch.as_tensor(w).clone().requires_grad_(True) for w in last.initial_coefs_]
    losses, iterates = [], []
    for _ in range(T + 1):
        h = Z
        for W in Ws[:-1]:
            h = torch.relu(h @ W.T)
        f = math.sqrt(m) * (h @ Ws[-1].T)[:, 0]
        loss = torch.nn.functional.softplus(-s * f).mean()
        losses.append(float(loss.detach()))
        iterates.append([w.detach().clone() for w in Ws])
        grads = torch.autograd.grad(loss, Ws)
        Ws = [(w - c / (L * m) * g).detach().requires_grad_(True) for w, g in zip(Ws, grads)]
    # a step this large oscillates (so the best iterate is not the last) and amplifies
    # float64 rounding of the summation order to ~1e-8 over 25 steps
    for ours, ref in zip(last.coefs_, iterates[T]):
        np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-6, atol=1e-9)
    t = int(np.argmin(losses))
    assert t < T, losses
    for ours, ref in zip(best.coefs_, iterates[t]):
        np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-6, atol=1e-9)
    assert best.best_loss_ == pytest.approx(losses[t], rel=1e-6)


def test_cczg_online_sgd_returns_a_uniformly_random_iterate(blobs):
    """Algorithm 2: one pass, batch 1; the returned index is uniform on {0, ..., n-1} over
    seeds (chi-square p > 0.001) and its weights are that iterate's."""
    X, y = blobs
    yb = (y == 0).astype(int)
    n = 30
    idx = []
    for seed in range(300):
        clf = DeepReLUClassifier(width=4, depth=2, solver="online_sgd", random_state=seed)
        idx.append(clf.fit(X[:n], yb[:n]).iterate_index_)
    counts = np.bincount(idx, minlength=n)
    assert len(counts) == n and stats.chisquare(counts).pvalue > 1e-3, counts


def test_cczg_stop_at_zero_error_stops_at_the_first_separating_step(blobs):
    """stop_at_zero_error stops GD at the first step with zero training error."""
    X, y = blobs
    yb = (y == 0).astype(int)
    clf = DeepReLUClassifier(width=32, depth=3, solver="gd", lr_scale=8.0, max_iter=2000,
                             stop_at_zero_error=True, tol=None, random_state=0).fit(X, yb)
    assert clf.score(X, yb) == 1.0 and clf.n_iter_ < 2000
    shorter = DeepReLUClassifier(width=32, depth=3, solver="gd", lr_scale=8.0, tol=None,
                                 max_iter=clf.n_iter_ - 1, random_state=0).fit(X, yb)
    assert shorter.score(X, yb) < 1.0


def test_ntrf_shares_the_deep_networks_initialization(blobs):
    """NTRFClassifier expands the very W0 DeepReLUClassifier draws for the same random_state."""
    X, y = blobs
    deep = DeepReLUClassifier(width=16, depth=3, max_iter=2, random_state=3).fit(X, y == 0)
    ntrf = NTRFClassifier(width=16, depth=3, max_iter=2, random_state=3).fit(X, y == 0)
    for a, b in zip(deep.initial_coefs_, ntrf.coefs_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("radius", [None, 1.0])
def test_ntrf_kernel_and_primal_pgd_agree_step_by_step(blobs, radius):
    """kernel_pgd (dual coefficients, per-layer Grams) and primal_pgd give the same
    iterates after 1, 2, 5 and 20 steps (float64), inside the ball when a radius is set."""
    X, y = blobs
    yb = y == 0
    for T in (1, 2, 5, 20):
        fits = [NTRFClassifier(width=12, depth=3, radius=radius, solver=s, max_iter=T,
                               learning_rate=5.0, random_state=0, dtype="float64").fit(X, yb)
                for s in ("primal_pgd", "kernel_pgd")]
        for a, b in zip(fits[0].increments_, fits[1].increments_):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
        assert fits[0].epsilon_ntrf_ == pytest.approx(fits[1].epsilon_ntrf_, rel=1e-10)
    if radius is not None:
        assert fits[0].distance_from_init_.max() <= radius * (1 + 1e-9)
        assert fits[0].distance_from_init_.max() >= 0.99 * radius  # the ball is active


def test_ntrf_predicts_with_the_linearized_network(blobs):
    """decision_function is f0 + <grad f(W0), Delta> (vs torch.func.jvp), epsilon_ntrf_ is
    the training logistic loss of that model."""
    X, y = blobs
    yb = (y == 0).astype(int)
    clf = NTRFClassifier(width=8, depth=2, radius=2.0, max_iter=30, random_state=0,
                         dtype="float64").fit(X, yb)
    Z = torch.as_tensor(_unit(X))
    W0 = [torch.as_tensor(w) for w in clf.coefs_]
    D = [torch.as_tensor(d) for d in clf.increments_]

    def f(W1, W2):
        return math.sqrt(8) * (torch.relu(Z @ W1.T) @ W2.T)[:, 0]

    f0, lin = torch.func.jvp(f, tuple(W0), tuple(D))
    np.testing.assert_allclose(clf.decision_function(X), (f0 + lin).numpy(), rtol=1e-10)
    s = 2.0 * yb - 1.0
    expected = np.mean(np.logaddexp(0, -s * (f0 + lin).numpy()))
    assert clf.epsilon_ntrf_ == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("cls, params, match", [
    (NTRFClassifier, {"radius": 0.0}, "radius"),
    (NTRFClassifier, {"radius": -1.0}, "radius"),
    (DeepReLUClassifier, {"depth": 1}, "depth"),
    (NTRFClassifier, {"depth": 1}, "depth"),
    (DeepReLUClassifier, {"lr_scale": 0.0}, "lr_scale"),
    (TwoLayerReLUClassifier, {"lr_scale": -1.0}, "lr_scale"),
])
def test_classifier_bad_parameters_raise_in_sklearns_voice(cls, params, match, blobs):
    """Out-of-range parameters raise sklearn's InvalidParameterError (a ValueError)."""
    X, y = blobs
    with pytest.raises(ValueError, match=match):
        cls(**params).fit(X, y)


@pytest.mark.parametrize("cls", [TwoLayerReLUClassifier, DeepReLUClassifier, NTRFClassifier])
def test_one_class_raises(cls, blobs):
    """A single class raises a ValueError that names the class."""
    X, _ = blobs
    with pytest.raises(ValueError, match="at least 2 classes"):
        cls(max_iter=2).fit(X, np.zeros(len(X), dtype=int))
