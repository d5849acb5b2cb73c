"""ThreeLayerReLURegressor: Algorithm 2 as a literal loop, the Sec. 7 mode, shared inits."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils import check_random_state

from sklearn_overparam import ConjugateKernelRegressor, NTKRegressor, ThreeLayerReLURegressor
from sklearn_overparam._torch import draw_seeds, make_generator
from sklearn_overparam.datasets import make_composite_sine
from sklearn_overparam.model_selection import fit_grid
from sklearn_overparam.training import stream_seed


@pytest.fixture(scope="module")
def sine():
    return make_composite_sine(40, random_state=0)


def _streams(random_state):
    _, seed = draw_seeds(check_random_state(random_state), 2)
    return {p: make_generator(stream_seed(seed, p))
            for p in ("sampler", "objective", "post_update", "selector")}


def _F(Z, W, b1, V, b2, A):
    return torch.relu(torch.relu(Z @ W.T + b1) @ V.T + b2) @ A.T


@pytest.mark.parametrize("solver", ["alg2", "alg3"])
def test_algorithm_2_and_3_are_the_papers_loops(sine, solver):
    """solver='alg2'/'alg3' equal Algorithm 2/3 written out: per step a batch with
    replacement, fresh Sigma (alg2) and smoothing W^rho, V^rho, the gradient of
    lambda F(W0 + W^rho + Sigma W', V0 + V^rho + V' Sigma) + lambda_v lambda ||V'||^2 +
    lambda_w lambda^2 ||W'||_{2,4}^4, noisy SGD, lambda <- (1 - eta) lambda per round,
    then Sigma-hat and the train-loss argmin over smoothing draws (float64)."""
    X, y = sine
    kw = dict(n_hidden=8, solver=solver, learning_rate_init=0.01, momentum=0.0,
              batch_size=5, n_rounds=2, inner_steps=3, eta_decay=0.1, lambda_w=0.5,
              lambda_v=0.3, sigma_w=0.05, sigma_v=0.07, sgd_noise_std=0.01,
              n_noise_candidates=3, lr_decay_epoch=None, random_state=0, dtype="float64")
    est = ThreeLayerReLURegressor(**kw).fit(X, y)
    g = _streams(0)
    Z = torch.as_tensor(est.input_map_.transform(X))
    Y = torch.as_tensor(y)[:, None]
    W0, V0, A = (torch.as_tensor(w) for w in est.initial_coefs_)
    b1, b2 = (torch.as_tensor(b) for b in est.intercepts_[:2])
    Wp, Vp, lam = torch.zeros_like(W0), torch.zeros_like(V0), 1.0
    flips = solver == "alg2"
    for _ in range(2):
        idx = torch.randint(40, (15,), generator=g["sampler"])
        for s in range(3):
            i = idx[5 * s:5 * s + 5]
            Wp.requires_grad_(True)
            Vp.requires_grad_(True)
            S = (torch.randint(2, (8,), generator=g["objective"]) * 2 - 1).double() if flips \
                else torch.ones(8, dtype=torch.float64)
            rw = torch.randn(8, 6, generator=g["objective"], dtype=torch.float64) * 0.05
            rv = torch.randn(8, 8, generator=g["objective"], dtype=torch.float64) * 0.07
            out = lam * _F(Z[i], W0 + rw + S[:, None] * Wp, b1, V0 + rv + Vp * S[None, :], b2, A)
            loss = ((out - Y[i]) ** 2).mean() + 0.3 * lam * (Vp ** 2).sum() \
                + 0.5 * lam ** 2 * ((Wp ** 2).sum(1) ** 2).sum()
            gw, gv = torch.autograd.grad(loss, (Wp, Vp))
            Wp, Vp = (Wp - 0.01 * gw).detach(), (Vp - 0.01 * gv).detach()
            Wp += 0.01 * torch.randn(8, 6, generator=g["post_update"], dtype=torch.float64)
            Vp += 0.01 * torch.randn(8, 8, generator=g["post_update"], dtype=torch.float64)
        lam *= 0.9
    S_hat = (torch.randint(2, (8,), generator=g["selector"]) * 2 - 1).double() if flips \
        else torch.ones(8, dtype=torch.float64)
    candidates, losses = [], []
    for _ in range(3):
        W = W0 + S_hat[:, None] * Wp + 0.05 * torch.randn(8, 6, generator=g["selector"],
                                                          dtype=torch.float64)
        V = V0 + Vp * S_hat[None, :] + 0.07 * torch.randn(8, 8, generator=g["selector"],
                                                          dtype=torch.float64)
        candidates.append((W, V))
        losses.append(float(((lam * _F(Z, W, b1, V, b2, A) - Y) ** 2).mean()))
    j = int(np.argmin(losses))
    assert est.candidate_ == j
    np.testing.assert_allclose(est.candidate_losses_, losses, rtol=1e-10)
    np.testing.assert_allclose(est.coefs_[0], candidates[j][0].numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(est.coefs_[1], candidates[j][1].numpy(), rtol=1e-10, atol=1e-12)
    assert est.lambda_ == pytest.approx(0.81, rel=1e-12) == est.output_multiplier_
    np.testing.assert_allclose(est.predict(X), (lam * _F(Z, *candidates[j][:1], b1,
                                                         candidates[j][1], b2, A))[:, 0],
                               rtol=1e-10)
    np.testing.assert_allclose(est.history_["multiplier"], [0.9, 0.81], rtol=1e-12)


def test_three_layer_sgd_is_torch_optim_on_w_and_v(sine):
    """solver='sgd' with lambda_w on the full W equals torch.optim.SGD on W, V (momentum,
    weight decay, lr/10 at half) with the penalty added to the MSE (float64)."""
    X, y = sine
    est = ThreeLayerReLURegressor(n_hidden=8, learning_rate_init=0.02, batch_size=10,
                                  max_iter=4, shuffle=False, alpha=1e-3, lambda_w=0.2,
                                  tol=None, random_state=0, dtype="float64").fit(X, y)
    Z = torch.as_tensor(est.input_map_.transform(X))
    Y = torch.as_tensor(y)[:, None]
    W, V, A = (torch.as_tensor(w).clone() for w in est.initial_coefs_)
    b1, b2 = (torch.as_tensor(b) for b in est.intercepts_[:2])
    W.requires_grad_(True)
    V.requires_grad_(True)
    opt = torch.optim.SGD([W, V], lr=0.02, momentum=0.9, weight_decay=1e-3)
    for epoch in range(4):
        if epoch == 2:
            opt.param_groups[0]["lr"] *= 0.1
        for s in range(0, 40, 10):
            opt.zero_grad()
            loss = ((_F(Z[s:s + 10], W, b1, V, b2, A) - Y[s:s + 10]) ** 2).mean() \
                + 0.2 * ((W ** 2).sum(1) ** 2).sum()
            loss.backward()
            opt.step()
    np.testing.assert_allclose(est.coefs_[0], W.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(est.coefs_[1], V.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("baseline", [ConjugateKernelRegressor, NTKRegressor])
def test_depth3_baselines_share_the_three_layer_initialization(sine, baseline):
    """ConjugateKernelRegressor(depth=3) and NTKRegressor(depth=3) see the learner's init."""
    X, y = sine
    net = ThreeLayerReLURegressor(n_hidden=12, n_hidden2=9, max_iter=2, tol=None,
                                  random_state=5).fit(X, y)
    base = baseline(n_hidden=12, n_hidden2=9, depth=3, random_state=5).fit(X, y)
    for a, b in zip(net.initial_coefs_, base.initial_coefs_):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(net.intercepts_, base.intercepts_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("params, match", [
    ({"sigma_w": -1.0}, "sigma_w"),
    ({"n_rounds": 0}, "n_rounds"),
    ({"penalty_target": "rows"}, "penalty_target"),
    ({"penalty_p": 1.0}, "penalty_p"),
    ({"eta_decay": 1.5}, "eta_decay"),
])
def test_three_layer_bad_parameters_raise(sine, params, match):
    """Out-of-range Algorithm 2/3 parameters raise sklearn's InvalidParameterError."""
    X, y = sine
    with pytest.raises(ValueError, match=match):
        ThreeLayerReLURegressor(solver="alg2", **params).fit(X, y)


@pytest.mark.parametrize("cls", [ConjugateKernelRegressor, NTKRegressor])
def test_n_hidden2_needs_the_three_layer_network(sine, cls):
    """n_hidden2 with depth=2 raises a ValueError that says to set depth=3."""
    X, y = sine
    with pytest.raises(ValueError, match="depth=3"):
        cls(n_hidden=8, n_hidden2=4).fit(X, y)


def test_diverging_algorithm_2_raises(sine):
    """A too-large step under Algorithm 2 raises the divergence ValueError, no NaN model."""
    X, y = sine
    with pytest.raises(ValueError, match="diverged"):
        ThreeLayerReLURegressor(n_hidden=16, solver="alg2", learning_rate_init=50.0,
                                max_iter=20, random_state=0).fit(100 * X, 100 * y)


def test_fit_grid_candidates_equal_their_own_fits(sine):
    """Every fit_grid candidate equals clone(est).set_params(**p).fit (float64, 1e-12), the
    grid is one engine run, and best_estimator is a normal fitted estimator."""
    X, y = sine
    Xv, yv = make_composite_sine(30, random_state=1)
    est = ThreeLayerReLURegressor(n_hidden=8, max_iter=5, tol=None, dtype="float64")
    grid = {"learning_rate_init": [0.01, 0.03], "alpha": [0.0, 1e-3], "random_state": [0, 1]}
    res = fit_grid(est, grid, X, y, Xv, yv)
    assert res.n_engine_runs == 1 and len(res.params) == 8
    for p, fitted, mse in zip(res.params, res.estimators, res.val_mse):
        ref = clone(est).set_params(**p).fit(X, y)
        np.testing.assert_allclose(fitted.predict(Xv), ref.predict(Xv), rtol=1e-12, atol=1e-12)
        assert mse == pytest.approx(np.mean((ref.predict(Xv) - yv) ** 2), rel=1e-10)
    assert res.best_index == int(np.argmin(res.val_mse))
    assert res.best_estimator.get_params()["learning_rate_init"] == res.best_params[
        "learning_rate_init"]


def test_fit_grid_groups_non_stackable_parameters_and_rejects_bad_grids(sine):
    """Non-stackable values split the grid into runs; unknown names and empty grids raise."""
    X, y = sine
    est = ThreeLayerReLURegressor(n_hidden=8, max_iter=2, tol=None)
    res = fit_grid(est, {"n_hidden": [4, 8], "random_state": [0, 1]}, X, y, X, y)
    assert res.n_engine_runs == 2
    with pytest.raises(ValueError, match="not parameters"):
        fit_grid(est, {"learning_rate": [0.1]}, X, y, X, y)
    with pytest.raises(ValueError, match="empty"):
        fit_grid(est, [], X, y, X, y)


def test_fit_grid_marks_diverged_candidates(sine):
    """A diverging candidate gets an inf validation MSE and its exception; others train."""
    X, y = sine
    est = ThreeLayerReLURegressor(n_hidden=8, max_iter=10, tol=None, random_state=0)
    res = fit_grid(est, {"learning_rate_init": [1e-3, 1e4]}, 100 * X, 100 * y, X, y)
    assert np.isfinite(res.val_mse[0]) and res.val_mse[1] == np.inf
    assert isinstance(res.estimators[1], ValueError) and res.best_index == 0
