"""NTKRegressor: kernel ridge on the hidden-weight NTK (SPEC 4) against references."""

import numpy as np
import pytest
import torch
from sklearn.kernel_ridge import KernelRidge

from sklearn_overparam import NTKRegressor, TwoLayerReLURegressor
from sklearn_overparam.datasets import make_composite_sine
from sklearn_overparam.nn import forward


@pytest.fixture(scope="module")
def sine():
    X, y = make_composite_sine(150, random_state=0)
    Xt, yt = make_composite_sine(100, random_state=1)
    return X, y, Xt, yt


def _jacobian_features(est, X):
    """Explicit Jacobian of the initial network w.r.t. its hidden weights (torch.func)."""
    spec = est._fitted_spec()
    params = est._fitted_params(torch.float64, torch.device("cpu"))
    Z = torch.as_tensor(est.input_map_.transform(X), dtype=torch.float64)
    names = list(spec.trainable_names)

    def f(sub, z):
        return forward(spec, {**params, **sub}, z.unsqueeze(0))[0, 0, 0]

    jac = torch.func.vmap(torch.func.jacrev(f), in_dims=(None, 0))(
        {n: params[n] for n in names}, Z)
    f0 = forward(spec, params, Z)[0, :, 0].numpy()
    return torch.cat([jac[n].reshape(len(Z), -1) for n in names], 1).numpy(), f0


@pytest.mark.parametrize("depth", [2, 3])
def test_ntk_closed_form_equals_kernel_ridge_on_jacobians(sine, depth):
    """Predictions equal f0 + KernelRidge on J J^T (jacrev) fitted to the residual y - f0."""
    X, y, Xt, _ = sine
    est = NTKRegressor(n_hidden=12, depth=depth, alpha=1e-3, random_state=0,
                       dtype="float64").fit(X, y)
    J, f0 = _jacobian_features(est, X)
    Jt, f0t = _jacobian_features(est, Xt)
    kr = KernelRidge(alpha=len(X) * 1e-3 / 2, kernel="precomputed").fit(J @ J.T, y - f0)
    np.testing.assert_allclose(est.predict(Xt), f0t + kr.predict(Jt @ J.T), rtol=1e-7,
                               atol=1e-8)


def test_ntk_uses_the_learners_initialization(sine):
    """Same random_state: the NTK is taken at the network TwoLayerReLURegressor starts from."""
    X, y, _, _ = sine
    est = NTKRegressor(n_hidden=20, random_state=3).fit(X, y)
    reg = TwoLayerReLURegressor(n_hidden=20, max_iter=1, tol=None, random_state=3).fit(X, y)
    for a, b in zip(est.coefs_, reg.initial_coefs_):
        np.testing.assert_array_equal(a, b)


def test_ntk_sgd_converges_to_closed_form(sine):
    """Full-batch GD on the linearized model with weight decay reaches the kernel solution."""
    X, y, Xt, _ = sine
    kw = dict(n_hidden=10, alpha=0.05, random_state=0, dtype="float64")
    closed = NTKRegressor(**kw).fit(X, y)
    gd = NTKRegressor(solver="sgd", batch_size=len(X), learning_rate_init=0.05, max_iter=3000,
                      tol=None, lr_decay_epoch=None, **kw).fit(X, y)
    np.testing.assert_allclose(gd.predict(Xt), closed.predict(Xt), rtol=1e-4, atol=1e-4)


def _kernel_gap(m, depth, X, y):
    emp = NTKRegressor(n_hidden=m, depth=depth, random_state=0, dtype="float64").fit(X, y)
    ana = NTKRegressor(n_hidden=m, depth=depth, kernel="analytic", random_state=0).fit(X, y)
    spec = emp._fitted_spec()
    params = {n: p[0].numpy() for n, p in
              emp._fitted_params(torch.float64, torch.device("cpu")).items()}
    Z = emp.input_map_.transform(X)
    Ke, Ka = emp._gram(spec, params, Z, None), ana._gram(spec, params, Z, None)
    return np.linalg.norm(Ke - Ka) / np.linalg.norm(Ka)


def test_ntk_analytic_is_the_infinite_width_limit():
    """The empirical hidden-weight NTK approaches the analytic kernel as m grows."""
    X, y = make_composite_sine(60, random_state=0)
    # finite-width fluctuations are O(1/sqrt(m)): 4x smaller at 16x the width, up to noise
    small, large = _kernel_gap(1000, 2, X, y), _kernel_gap(16000, 2, X, y)
    assert large < 0.05 and large < 0.6 * small
    assert _kernel_gap(3000, 3, X, y) < 0.12


def test_ntk_without_f0_fits_centred_model(sine):
    """include_f0=False drops the network's initial output from the model."""
    X, y, Xt, _ = sine
    with_f0 = NTKRegressor(n_hidden=30, random_state=0, dtype="float64").fit(X, y)
    centred = NTKRegressor(n_hidden=30, include_f0=False, random_state=0,
                           dtype="float64").fit(X, y)
    _, f0t = _jacobian_features(with_f0, Xt)
    assert not np.allclose(with_f0.predict(Xt), centred.predict(Xt))
    assert np.abs(f0t).max() > 0.1


def test_ntk_sgd_with_analytic_kernel_is_rejected(sine):
    """solver='sgd' needs the finite network: a clear ValueError for kernel='analytic'."""
    X, y, _, _ = sine
    with pytest.raises(ValueError, match="kernel='empirical'"):
        NTKRegressor(kernel="analytic", solver="sgd").fit(X, y)


def test_ntk_refit_with_other_solver_leaves_no_stale_state(sine):
    """A refit with another solver predicts like a fresh fit (no stale fitted attributes)."""
    X, y, Xt, _ = sine
    est = NTKRegressor(n_hidden=10, solver="sgd", max_iter=2, tol=None, random_state=0)
    est.fit(X, y)
    assert hasattr(est, "increments_")
    est.set_params(solver="closed_form").fit(X, y)
    fresh = NTKRegressor(n_hidden=10, random_state=0).fit(X, y)
    assert not hasattr(est, "increments_")
    np.testing.assert_array_equal(est.predict(Xt), fresh.predict(Xt))
