"""The engine and the estimators against independent references: scikit-learn, torch, KRR."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_ridge import KernelRidge
from sklearn.neural_network import MLPRegressor

from sklearn_overparam import NTKRegressor, TwoLayerReLURegressor
from sklearn_overparam.datasets import make_composite_sine
from sklearn_overparam.kernels import relu_ntk_kernel
from sklearn_overparam.nn import (
    LayerSpec,
    ReLUNetSpec,
    fit_half_padding_scale,
    init_params,
    pad_half,
)
from sklearn_overparam.training import NetworkObjective, SGDConfig, train
from tests._tolerances import rtol

# The engine and MLPRegressor run the same float64 operations in another order: 20 steps
# agree to a few 1e-15 (measured); 1e-12 leaves room without hiding a wrong step.
MLP_RTOL = 1e-12


def _rel_err(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize(("momentum", "batch_size"), [(0.0, None), (0.9, 25)])
def test_engine_equals_mlp_regressor_at_twice_the_learning_rate(momentum, batch_size):
    """The engine's SGD with lr is MLPRegressor's with 2 lr, and its loss is twice sklearn's.

    The README's loss convention: ours is PyTorch's MSE, sklearn's half of it, so its
    gradient is half ours. Two-layer ReLU net with every weight and bias trained (what
    sklearn trains), the same float64 init, alpha = 0, no shuffling: full-batch GD, and
    momentum SGD on sequential batches (sklearn's velocity ``v = mu v - lr g`` is PyTorch's
    buffer times ``-lr`` at a constant lr).
    """
    n, d, m, T, lr = 100, 4, 16, 20, 0.05
    X, y = make_composite_sine(n, n_features=d, random_state=0)
    y = y / y.std()
    spec = ReLUNetSpec(
        (LayerSpec(d, m, 1.0 / np.sqrt(d), bias=True, bias_std=0.5),
         LayerSpec(m, 1, 1.0 / np.sqrt(m), bias=True, bias_std=0.5)),
    ).with_trainable("all")
    params = init_params(spec, [3], dtype=torch.float64)
    init = {k: v[0].numpy().copy() for k, v in params.items()}

    # sklearn: a 1-epoch warm-start fit creates its state; then our init and T epochs
    mlp = MLPRegressor(
        hidden_layer_sizes=(m,), activation="relu", solver="sgd", alpha=0.0,
        batch_size=n if batch_size is None else batch_size, learning_rate="constant",
        learning_rate_init=2 * lr, momentum=momentum, nesterovs_momentum=False,
        shuffle=False, tol=0.0, n_iter_no_change=10 * T, max_iter=1, warm_start=True,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)
        mlp.coefs_ = [init["W0"].T.copy(), init["W1"].T.copy()]  # sklearn: (fan_in, fan_out)
        mlp.intercepts_ = [init["b0"].copy(), init["b1"].copy()]
        mlp.set_params(max_iter=T)
        mlp.fit(X, y)
    sk_loss = np.asarray(mlp.loss_curve_[-T:])

    config = SGDConfig(learning_rate=lr, momentum=momentum, batch_size=batch_size,
                       max_epochs=T, sampling="sequential", tol=None)
    result = train(NetworkObjective(spec, "squared"), params, torch.from_numpy(X),
                   torch.from_numpy(y).reshape(-1, 1), config, [0])
    ours = {k: v[0].numpy() for k, v in result.params.items()}

    assert _rel_err(ours["W0"], init["W0"]) >= 0.01  # the steps do move the weights
    for name, theirs in [("W0", mlp.coefs_[0].T), ("W1", mlp.coefs_[1].T),
                         ("b0", mlp.intercepts_[0]), ("b1", mlp.intercepts_[1])]:
        assert _rel_err(ours[name], theirs) <= MLP_RTOL, name
    # both record, per epoch, the mean of the batch losses at the pre-step weights
    ours_loss = result.history.as_dict()["loss"][:, 0]
    np.testing.assert_allclose(ours_loss, 2 * sk_loss, rtol=MLP_RTOL)
    assert ours_loss[-1] <= 0.9 * ours_loss[0]  # and the loss goes down


def _padded(X_train, X):
    """The [AZLL] x_d = 1/2 padding of ``X`` fitted on ``X_train`` (input_padding="half").

    Computed here from ``nn`` (the largest training row norm goes to sqrt(3)/2), not read
    from the estimator.
    """
    return pad_half(X, fit_half_padding_scale(X_train))


def test_two_layer_sgd_equals_torch_optim_loop():
    """The default solver is torch.optim.SGD (momentum 0.9, weight decay, lr/10 at half).

    Float64, sequential batches (``shuffle=False``, 40 dividing 200): the same steps as a
    plain autograd loop on ``nn.MSELoss`` training only W from the estimator's initial
    weights, with the biases and output layer frozen.
    """
    X, y = make_composite_sine(200, random_state=0)
    Xt, _ = make_composite_sine(50, random_state=1)
    m, lr, alpha, T, batch = 32, 10 / 32, 1e-3, 10, 40
    est = TwoLayerReLURegressor(n_hidden=m, learning_rate_init=lr, alpha=alpha, max_iter=T,
                                batch_size=batch, shuffle=False, tol=None, random_state=0,
                                dtype="float64").fit(X, y)
    assert est.momentum == 0.9 and est.lr_decay_epoch == "half" and est.input_padding == "half"

    W = torch.tensor(est.initial_coefs_[0], requires_grad=True)
    b = torch.tensor(est.intercepts_[0])
    A = torch.tensor(est.initial_coefs_[1])

    def net(Z):
        return torch.relu(torch.as_tensor(Z) @ W.T + b) @ A.T

    Z = _padded(X, X)
    Y = torch.tensor(y).reshape(-1, 1)
    opt = torch.optim.SGD([W], lr=lr, momentum=0.9, weight_decay=alpha)
    mse = torch.nn.MSELoss()
    losses = []
    for epoch in range(T):
        if epoch == T // 2:
            opt.param_groups[0]["lr"] = lr / 10
        batch_losses = []
        for s in range(0, len(X), batch):
            opt.zero_grad()
            loss = mse(net(Z[s : s + batch]), Y[s : s + batch])
            loss.backward()
            opt.step()
            batch_losses.append(loss.item())
        losses.append(np.mean(batch_losses))

    tol = rtol(torch.float64)
    assert _rel_err(est.coefs_[0], est.initial_coefs_[0]) >= 0.01
    assert _rel_err(est.coefs_[0], W.detach().numpy()) <= tol
    np.testing.assert_array_equal(est.coefs_[1], est.initial_coefs_[1])
    with torch.no_grad():
        expected = net(_padded(X, Xt))[:, 0].numpy()
    np.testing.assert_allclose(est.predict(Xt), expected, rtol=tol,
                               atol=tol * np.abs(expected).max())
    np.testing.assert_allclose(est.loss_curve_, losses, rtol=tol)


def _azll_f0(est, Z):
    """The [AZLL] network's output at init, ``A relu(... relu(W Z + b1) ...)``, float64."""
    h = Z
    for W, b in zip(est.initial_coefs_[:-1], est.intercepts_[:-1]):
        h = np.maximum(h @ W.T + b, 0.0)
    return h @ est.initial_coefs_[-1].T


def _documented_analytic_ntk(est, Z, Z2=None):
    """NTKRegressor's analytic kernel as its docstring states it.

    ``m1 Theta_W (+ m2 Theta_V)``, ``Theta`` from ``relu_ntk_kernel`` with weight variances
    ``(d, 1, ..., output_scale**2)``, bias variances ``(1, ..., 1, 0)``, one hidden weight
    matrix trainable per term and no bias.
    """
    depth = len(est.coefs_)
    d = Z.shape[1]
    widths = [W.shape[0] for W in est.coefs_[:-1]]
    wv = [float(d)] + [1.0] * (depth - 2) + [est.output_scale**2]
    bv = [1.0] * (depth - 1) + [0.0]
    return sum(
        m * relu_ntk_kernel(Z, Z2, depth=depth, weight_variance=wv, bias_variance=bv,
                            trainable=[i == l for i in range(depth)], bias_trainable=False)
        for l, m in enumerate(widths)
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("include_f0", [True, False])
@pytest.mark.parametrize(("depth", "output_scale"), [(2, 1.0), (2, 0.5), (3, 1.0)])
def test_ntk_analytic_equals_kernel_ridge_on_the_residual(include_f0, depth, output_scale,
                                                          dtype):
    """kernel="analytic" is KernelRidge(alpha = n alpha / 2) on y - f0 with its documented K.

    ``f0`` is the output of the estimator's initial network (0 with ``include_f0=False``),
    here in float64; a float32 estimator (float32 weights and f0 at fit) agrees to float32's
    tolerance.
    """
    X, y = make_composite_sine(150, random_state=0)
    Xt, _ = make_composite_sine(60, random_state=1)
    alpha = 1e-3
    est = NTKRegressor(n_hidden=64, depth=depth, output_scale=output_scale, kernel="analytic",
                       include_f0=include_f0, alpha=alpha, random_state=0,
                       dtype=dtype).fit(X, y)
    Z, Zt = _padded(X, X), _padded(X, Xt)
    f0, f0_test = (_azll_f0(est, Z)[:, 0], _azll_f0(est, Zt)[:, 0]) if include_f0 else (0, 0)
    krr = KernelRidge(alpha=len(X) * alpha / 2, kernel="precomputed")
    krr.fit(_documented_analytic_ntk(est, Z), y - f0)
    expected = f0_test + krr.predict(_documented_analytic_ntk(est, Zt, Z))

    tol = rtol(dtype)
    np.testing.assert_allclose(est.predict(Xt), expected, rtol=tol,
                               atol=tol * np.abs(expected).max())
    if include_f0:
        # f0 matters: the residual fit is not the centred one
        assert np.abs(f0_test).max() >= 0.1 * np.abs(expected).max()
