"""[AZLL] three-layer claims 1-4 and 6-8 (Sec. 4, 6, 7 and Figures 1 and 3), paper tier.

Protocol (the paper's Sec. 7 at laptop scale): composite-sine target, x uniform on S^3,
N = 1000 training points (unless varied), 2000 test points; Sec.-7 init; hidden weights
only; momentum 0.9, batch 50, MSE, lr / 10 at half the epochs; each learner is the best
of its (lr, wd) grid on the test set (the paper's protocol), the whole grid trained as one
stacked engine run (``fit_grid``). Kernel baselines take their best ridge on a log grid.
Inputs use the estimators' default ``x_d = 1/2`` padding.
"""

import functools

import numpy as np
import pytest
import torch

from sklearn_overparam import (
    ConjugateKernelRegressor,
    NTKRegressor,
    ThreeLayerReLURegressor,
    TwoLayerReLURegressor,
)
from sklearn_overparam.datasets import make_composite_sine
from sklearn_overparam.diagnostics import norm_ratio
from sklearn_overparam.model_selection import fit_grid
from sklearn_overparam.nn import azll_three_layer, forward, init_params

pytestmark = pytest.mark.paper


@functools.cache
def _data(n):
    X, y = make_composite_sine(n, random_state=0)
    Xt, yt = make_composite_sine(2000, random_state=1)
    return X, y, Xt, yt


def _mse(est, Xt, yt):
    return float(np.mean((est.predict(Xt) - yt) ** 2))


@functools.cache
def three_layer(m, n=1000):
    """Best test MSE of the 3-layer learner over lr in {0.5, 1, 2}/m x wd in {0, 1e-4}."""
    X, y, Xt, yt = _data(n)
    grid = {"learning_rate_init": [0.5 / m, 1 / m, 2 / m], "alpha": [0.0, 1e-4]}
    res = fit_grid(ThreeLayerReLURegressor(n_hidden=m, max_iter=200, tol=None, random_state=0),
                   grid, X, y, Xt, yt)
    assert res.n_engine_runs == 1
    return float(res.val_mse.min())


@functools.cache
def last(m, n=1000):
    """3layer(last): ridge on relu(V relu(W x + b1) + b2), best ridge over 10^{-6..2}."""
    X, y, Xt, yt = _data(n)
    return min(_mse(ConjugateKernelRegressor(n_hidden=m, depth=3, alpha=2 * r / n,
                                             random_state=0).fit(X, y), Xt, yt)
               for r in 10.0 ** np.arange(-6, 3))


@functools.cache
def ntk(m, n=1000):
    """3layer(NTK): kernel ridge on y - f0, best ridge over m 10^{-6..2}."""
    X, y, Xt, yt = _data(n)
    return min(_mse(NTKRegressor(n_hidden=m, depth=3, alpha=2 * m * r / n,
                                 random_state=0).fit(X, y), Xt, yt)
               for r in 10.0 ** np.arange(-6, 3))


def test_claim1_three_layer_beats_its_conjugate_kernel_and_ntk():
    """Claim 1: mse(3layer) <= 0.1 mse(3layer(last)) and <= 0.5 mse(3layer(NTK)), m = 100.

    Calibration (reference runs): 0.45 vs 23.1 vs 8.1.
    """
    m = 100
    ours, ck, nt = three_layer(m), last(m), ntk(m)
    assert ours <= 0.1 * ck and ours <= 0.5 * nt, (ours, ck, nt)


def test_claim2_three_layer_beats_two_layer():
    """Claim 2: mse(3layer) <= 0.5 mse(2layer), the 2-layer learner at lr in {1, 2, 5}/m."""
    m = 100
    X, y, Xt, yt = _data(1000)
    grid = {"learning_rate_init": [1 / m, 2 / m, 5 / m], "alpha": [0.0, 1e-4]}
    two = fit_grid(TwoLayerReLURegressor(n_hidden=m, max_iter=200, tol=None, random_state=0),
                   grid, X, y, Xt, yt).val_mse.min()
    assert three_layer(m) <= 0.5 * two, (three_layer(m), two)


def test_claim3_overparameterization_helps():
    """Claim 3 (Fig. 1a shape): test MSE non-increasing in m (15% noise), mse(400) <=
    0.6 mse(50), and 3layer beats 3layer(last) and 3layer(NTK) at every m."""
    widths = (50, 100, 200, 400)
    ours = [three_layer(m) for m in widths]
    for a, b in zip(ours, ours[1:]):
        assert b <= 1.15 * a, ours
    assert ours[-1] <= 0.6 * ours[0], ours
    for m, value in zip(widths, ours):
        assert value < last(m) and value < ntk(m), (m, value, last(m), ntk(m))


def test_claim4_more_data_helps():
    """Claim 4 (Fig. 1b shape, m = 100): strictly decreasing in N; 3layer best at every N."""
    sizes = (250, 500, 1000, 2000)
    ours = [three_layer(100, n) for n in sizes]
    assert all(b < a for a, b in zip(ours, ours[1:])), ours
    for n, value in zip(sizes, ours):
        assert value < last(100, n) and value < ntk(100, n), (n, value)


@pytest.mark.parametrize("m", [100, 200])
def test_claim6_row_norm_regularizer_matches_weight_decay(m):
    """Claim 6 (Fig. 3): lambda_w ||W||_{2,4}^4 (no weight decay) and weight decay reach
    test MSEs within 1.5x, and both spread W: m ||W||_{2,4}^4 / ||W||_F^4 <= 0.05 m.

    Unpadded inputs, as in the paper's Sec. 7 (measured: 0.43 vs 0.51 at m = 100, 0.27 vs
    0.30 at m = 200; norm ratios 2.7 vs 1.4 and 2.8 vs 1.8). With the default x_d = 1/2
    padding weight decay pulls ahead at m = 100 (0.26 vs 0.41: outside the 1.5x).
    """
    X, y, Xt, yt = _data(1000)
    lrs = [0.5 / m, 1 / m]
    base = ThreeLayerReLURegressor(n_hidden=m, input_padding=None, max_iter=200, tol=None,
                                   random_state=0)
    wd = fit_grid(base, {"learning_rate_init": lrs, "alpha": [1e-4, 1e-3]}, X, y, Xt, yt)
    reg = fit_grid(base, {"learning_rate_init": lrs, "lambda_w": [1e-3, 1e-2, 1e-1]},
                   X, y, Xt, yt)
    best_wd, best_reg = wd.val_mse.min(), reg.val_mse.min()
    assert max(best_wd, best_reg) <= 1.5 * min(best_wd, best_reg), (best_wd, best_reg)
    for res in (wd, reg):
        ratio = norm_ratio(res.best_estimator.coefs_[0])
        assert ratio <= 0.05 * m, ratio


def _sign_flip_average(m, seed, draws=20000):
    """(E_Sigma change, Sigma = I change, quadratic term) for one random x, W', V'."""
    gen = torch.Generator().manual_seed(seed)
    spec = azll_three_layer(4, m, 1)
    p0 = init_params(spec, [seed], dtype=torch.float64)
    W0, b1, V0, b2, a = (p0[k][0] for k in ("W0", "b0", "W1", "b1", "W2"))
    x = torch.nn.functional.normalize(torch.randn(4, generator=gen, dtype=torch.float64), dim=0)
    _, hidden = forward(spec, p0, x[None], return_hidden=True)
    d_w = (hidden[1][0, 0] > 0).to(torch.float64)  # D_{w,x}
    a_dv = a[0] * (hidden[2][0, 0] > 0)  # a (.) diag(D_{v,x})
    Wp = torch.randn(m, 4, generator=gen, dtype=torch.float64)
    Wp *= 0.3 / Wp.norm()
    u = d_w * (Wp @ x)
    Vp = 0.3 * torch.outer(a_dv, u) / (a_dv.norm() * u.norm())
    f0 = float(forward(spec, p0, x[None])[0, 0, 0])
    # f(x; W0 + Sigma W', V0 + V' Sigma) for `draws` sign vectors at once
    S = torch.randint(2, (draws, m), generator=gen).to(torch.float64) * 2 - 1
    h1 = torch.relu(W0 @ x + b1 + S * (Wp @ x))
    averaged = float((torch.relu(h1 @ V0.T + (S * h1) @ Vp.T + b2) @ a[0]).mean()) - f0
    moved = dict(p0, W0=p0["W0"] + Wp, W1=p0["W1"] + Vp)
    plain = float(forward(spec, moved, x[None])[0, 0, 0]) - f0
    return averaged, plain, float(a_dv @ Vp @ u)


@pytest.mark.parametrize("m", [200, 800])
def test_claim7_sign_flips_keep_only_the_quadratic_term(m):
    """Claim 7 (Lemma 6.11): averaged over Sigma, f(W0 + Sigma W', V0 + V' Sigma) - f(W0, V0)
    is the quadratic term a D_v V' D_w W' x: mean relative error <= 10% over 8 random
    (x, W') instances (20000 draws each); the un-averaged change (Sigma = I) carries the
    first-order terms: mean relative error > 20%.

    One instance is not enough: at m = 800 the Sigma = I change lands within 10% of the
    quadratic term for 2 of 8 instances (reference runs: 0.935 vs 0.663 for one).
    """
    res = np.array([_sign_flip_average(m, seed) for seed in range(8)])
    quad = np.abs(res[:, 2])
    averaged_err = np.abs(res[:, 0] - res[:, 2]) / quad
    plain_err = np.abs(res[:, 1] - res[:, 2]) / quad
    assert averaged_err.mean() <= 0.1, averaged_err
    assert plain_err.mean() > 0.2, plain_err


def test_claim8_algorithm3_learns_and_algorithm2_runs():
    """Claim 8: Algorithm 3 (smoothing only, lambda = 1, lr 0.5/m, momentum 0.9, 100
    epochs) reaches train and test MSE <= 1.0; Algorithm 2 under that budget runs, with
    lambda_T = (1 - eta_decay)^T and the train-loss argmin draw j*."""
    m = 100
    X, y, Xt, yt = _data(1000)
    alg3 = ThreeLayerReLURegressor(n_hidden=m, solver="alg3", learning_rate_init=0.5 / m,
                                   eta_decay=0.0, max_iter=100, random_state=0).fit(X, y)
    train_mse, test_mse = _mse(alg3, X, y), _mse(alg3, Xt, yt)
    assert train_mse <= 1.0 and test_mse <= 1.0, (train_mse, test_mse)
    assert alg3.lambda_ == 1.0
    # Algorithm 2 diverges with momentum 0.9 at this step size (as the reference runs
    # report), so it runs plain SGD here
    alg2 = ThreeLayerReLURegressor(n_hidden=m, solver="alg2", learning_rate_init=0.5 / m,
                                   momentum=0.0, eta_decay=1e-3, max_iter=100,
                                   random_state=0).fit(X, y)
    assert alg2.lambda_ == pytest.approx((1 - 1e-3) ** 100, rel=1e-5)
    assert alg2.candidate_ == int(np.argmin(alg2.candidate_losses_))
    assert np.isfinite(_mse(alg2, Xt, yt))
