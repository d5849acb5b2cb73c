"""scikit-learn GP kernels ReLUNNGP / ReLUNTK: values, exact gradients, composition, estimators."""

import functools
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.gaussian_process import GaussianProcessClassifier, GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, WhiteKernel
from sklearn.kernel_ridge import KernelRidge
from sklearn.svm import SVC, SVR

from sklearn_overparam.kernels._analytic import relu_nngp_kernel, relu_ntk_kernel
from sklearn_overparam.kernels._gp import ReLUNNGP, ReLUNTK


def _data(n=25, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) * 1.3, rng.standard_normal((n // 2, d))


def _fd_gradient(kernel, X, h=1e-6):
    """Central differences of k(X, X) in log-hyperparameter space."""
    theta = kernel.theta
    grads = []
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = h
        plus = kernel.clone_with_theta(theta + step)(X)
        minus = kernel.clone_with_theta(theta - step)(X)
        grads.append((plus - minus) / (2 * h))
    return np.stack(grads, axis=-1)


KERNELS = [
    ReLUNNGP(depth=1, weight_variance=1.3, bias_variance=0.2),
    ReLUNNGP(depth=3, weight_variance=1.7, bias_variance=0.3),
    ReLUNTK(depth=2, weight_variance=2.0, bias_variance=0.1),
    ReLUNTK(depth=4, weight_variance=1.1, bias_variance=0.5, trainable="hidden",
            bias_trainable=False),
    ReLUNTK(depth=3, weight_variance=2.5, bias_variance=0.05, trainable=[True, False, True]),
    ReLUNTK(depth=3, weight_variance=2.0, bias_variance=0.1, bias_variance_bounds="fixed"),
]


@pytest.mark.parametrize("kernel", KERNELS, ids=repr)
def test_relu_gp_kernel_gradient_matches_finite_differences(kernel):
    """The analytic log-hyperparameter gradient equals central differences (rel 1e-6)."""
    X, _ = _data()
    K, grad = kernel(X, eval_gradient=True)
    np.testing.assert_allclose(K, kernel(X), rtol=1e-12, atol=1e-14)
    assert grad.shape == X.shape[:1] * 2 + (kernel.n_dims,)
    fd = _fd_gradient(kernel, X)
    assert np.abs(grad - fd).max() <= 1e-6 * np.abs(fd).max()


def test_relu_gp_kernel_gradient_with_duplicate_and_zero_rows():
    """Duplicated and zero rows keep a finite gradient equal to finite differences."""
    X, _ = _data(n=12)
    X[3] = X[2]
    X[5] = 0.0
    kernel = ReLUNTK(depth=4, weight_variance=1.7, bias_variance=0.3)
    _, grad = kernel(X, eval_gradient=True)
    assert np.isfinite(grad).all()
    fd = _fd_gradient(kernel, X)
    assert np.abs(grad - fd).max() <= 1e-6 * np.abs(fd).max()


def test_relu_gp_kernel_composite_gradient_matches_finite_differences():
    """ConstantKernel * ReLUNTK + WhiteKernel has the right gradient through sklearn's algebra."""
    X, _ = _data(seed=1)
    kernel = ConstantKernel(0.7) * ReLUNTK(depth=3, bias_variance=0.2) + WhiteKernel(0.1)
    K, grad = kernel(X, eval_gradient=True)
    assert grad.shape == (X.shape[0], X.shape[0], 4)
    fd = _fd_gradient(kernel, X)
    assert np.abs(grad - fd).max() <= 1e-6 * np.abs(fd).max()


def test_relu_gp_kernel_fully_fixed_gradient_is_empty():
    """With every hyperparameter fixed the gradient has zero columns, as in scikit-learn."""
    X, _ = _data()
    kernel = ReLUNNGP(weight_variance_bounds="fixed", bias_variance_bounds="fixed")
    K, grad = kernel(X, eval_gradient=True)
    assert grad.shape == (X.shape[0], X.shape[0], 0)
    np.testing.assert_allclose(K, kernel(X), rtol=1e-14)


def test_relu_gp_kernels_match_functions_and_diag():
    """k(X, Y) equals the pure functions and diag(X) equals the diagonal of k(X, X)."""
    X, Y = _data()
    gp = ReLUNNGP(depth=3, weight_variance=1.5, bias_variance=0.2)
    nt = ReLUNTK(depth=3, weight_variance=1.5, bias_variance=0.2, trainable="hidden",
                 bias_trainable=False)
    np.testing.assert_array_equal(
        gp(X, Y), relu_nngp_kernel(X, Y, depth=3, weight_variance=1.5, bias_variance=0.2))
    np.testing.assert_array_equal(
        nt(X, Y), relu_ntk_kernel(X, Y, depth=3, weight_variance=1.5, bias_variance=0.2,
                                  trainable="hidden", bias_trainable=False))
    for kernel in (gp, nt):
        np.testing.assert_allclose(kernel.diag(X), np.diag(kernel(X)), rtol=1e-13)


def test_relu_gp_kernel_hyperparameters_and_flags():
    """Hyperparameters are the two variances (sorted, log scale); non-stationary vector kernel."""
    kernel = ReLUNTK(weight_variance=2.0, bias_variance=0.5, weight_variance_bounds="fixed")
    assert [hp.name for hp in kernel.hyperparameters] == ["bias_variance", "weight_variance"]
    np.testing.assert_allclose(kernel.theta, [np.log(0.5)])
    np.testing.assert_allclose(kernel.bounds, np.log([[1e-5, 1e5]]))
    assert kernel.is_stationary() is False
    assert kernel.requires_vector_input is True
    assert kernel.clone_with_theta(np.log([0.25])).bias_variance == pytest.approx(0.25)


def test_relu_gp_kernel_clone_params_and_pickle_round_trip():
    """clone, get_params/set_params and pickle preserve the kernel and its values."""
    X, _ = _data()
    kernel = ReLUNTK(depth=3, weight_variance=1.2, bias_variance=0.3, trainable=[True, True, False],
                     bias_trainable=False)
    params = kernel.get_params()
    assert params["trainable"] == [True, True, False] and params["depth"] == 3
    cloned = clone(kernel)
    assert cloned == kernel and cloned is not kernel
    restored = pickle.loads(pickle.dumps(kernel))
    assert restored == kernel
    np.testing.assert_array_equal(restored(X), kernel(X))
    cloned.set_params(depth=2, trainable="all")
    assert cloned != kernel and cloned.depth == 2
    np.testing.assert_array_equal(cloned(X), relu_ntk_kernel(X, depth=2, weight_variance=1.2,
                                                             bias_variance=0.3,
                                                             bias_trainable=False))


def test_relu_gp_kernel_repr():
    """repr shows the constructor parameters."""
    assert repr(ReLUNNGP(depth=3)) == "ReLUNNGP(depth=3, weight_variance=2, bias_variance=0.1)"
    assert repr(ReLUNTK(trainable="hidden", bias_trainable=False)) == (
        "ReLUNTK(depth=2, weight_variance=2, bias_variance=0.1, trainable='hidden', "
        "bias_trainable=False)"
    )


def test_relu_gp_kernel_gpr_recovers_variances():
    """A GP regressor fitted to a ReLUNNGP sample recovers weight_variance within 1.5x."""
    rng = np.random.default_rng(1)
    n, w0, b0, noise = 300, 1.5, 0.5, 1e-2
    X = rng.standard_normal((n, 3))
    truth = ReLUNNGP(depth=2, weight_variance=w0, bias_variance=b0) + WhiteKernel(noise, "fixed")
    y = np.linalg.cholesky(truth(X)) @ rng.standard_normal(n)
    start = ReLUNNGP(depth=2, weight_variance=1.0, bias_variance=1.0) + WhiteKernel(noise, "fixed")
    gpr = GaussianProcessRegressor(start).fit(X, y)
    fitted = gpr.kernel_.k1
    assert w0 / 1.5 <= fitted.weight_variance <= w0 * 1.5
    assert b0 / 3 <= fitted.bias_variance <= b0 * 3  # the bias is weakly identified at n=300
    # The optimiser (driven by our gradient) beats the true hyperparameters' likelihood.
    assert gpr.log_marginal_likelihood_value_ >= gpr.log_marginal_likelihood(truth.theta) - 1e-6


def test_relu_gp_kernel_gpc_fits():
    """GaussianProcessClassifier tunes a ReLUNTK on a circular boundary (>= 85% held out)."""
    rng = np.random.default_rng(2)
    X, Xt = rng.standard_normal((100, 2)), rng.standard_normal((400, 2))
    radius = 1.2
    y = (np.sum(X**2, axis=1) - radius + 0.3 * rng.standard_normal(100) > 0).astype(int)
    yt = (np.sum(Xt**2, axis=1) > radius).astype(int)
    start = ReLUNTK(depth=3)
    gpc = GaussianProcessClassifier(start).fit(X, y)
    assert gpc.predict_proba(Xt).shape == (400, 2)
    assert gpc.score(Xt, yt) >= 0.85
    assert isinstance(gpc.kernel_, ReLUNTK)
    # The gradient-driven optimiser improves the approximate evidence substantially.
    assert gpc.log_marginal_likelihood_value_ >= gpc.log_marginal_likelihood(start.theta) + 5


def test_relu_gp_kernel_rejects_gradient_with_y_and_bad_hyperparameters():
    """eval_gradient with Y, negative or per-layer variances and bad flags raise ValueError."""
    X, Y = _data()
    with pytest.raises(ValueError, match="Gradient can only be evaluated when Y is None"):
        ReLUNNGP()(X, Y, eval_gradient=True)
    with pytest.raises(ValueError, match="`weight_variance` must be a non-negative finite"):
        ReLUNNGP(weight_variance=-1.0)(X)
    with pytest.raises(ValueError, match="`bias_variance` must be a non-negative finite"):
        ReLUNTK(bias_variance=[0.1, 0.2])(X)
    with pytest.raises(ValueError, match="`trainable` must have one boolean per layer"):
        ReLUNTK(depth=3, trainable=[True])(X)
    with pytest.raises(ValueError, match="`bias_trainable` must be a bool"):
        ReLUNTK(bias_trainable=None)(X)
    with pytest.raises(ValueError, match="`depth` must be an integer >= 1"):
        ReLUNTK(depth=0).diag(X)
    with pytest.raises(ValueError, match="`X` must contain only finite"):
        ReLUNTK()(np.full((2, 2), np.nan), eval_gradient=True)


def _classification(seed=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((60, 4))
    y = (np.sin(2 * X[:, 0]) + X[:, 1] ** 2 > 0.8).astype(int)
    return X[:40], y[:40], X[40:]


def test_relu_gp_kernel_as_svc_kernel_matches_precomputed():
    """SVC(kernel=ReLUNTK), SVC(kernel=partial(relu_ntk_kernel)) and a precomputed Gram agree."""
    X, y, Xt = _classification()
    kernel = ReLUNTK(depth=3)
    by_object = SVC(kernel=kernel).fit(X, y)
    by_function = SVC(kernel=functools.partial(relu_ntk_kernel, depth=3, bias_variance=0.1))
    by_function.fit(X, y)
    pre = SVC(kernel="precomputed").fit(kernel(X), y)
    expected = pre.decision_function(kernel(Xt, X))
    np.testing.assert_allclose(by_object.decision_function(Xt), expected, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(by_function.decision_function(Xt), expected, rtol=1e-7, atol=1e-9)
    assert np.ptp(expected) > 0.1  # a non-degenerate decision function
    assert clone(by_object).get_params()["kernel"] == kernel


def test_relu_gp_kernel_in_svr_and_kernel_ridge_matches_precomputed():
    """SVR and KernelRidge with the kernel object predict as with the precomputed Gram."""
    X, _, Xt = _classification(seed=4)
    y = np.sin(X[:, 0]) + 0.3 * X[:, 2]
    kernel = ReLUNNGP(depth=3, bias_variance=0.2)
    K, Kt = kernel(X), kernel(Xt, X)
    for obj, pre in ((SVR(kernel=kernel, C=3.0), SVR(kernel="precomputed", C=3.0)),
                     (KernelRidge(kernel=kernel, alpha=0.1),
                      KernelRidge(kernel="precomputed", alpha=0.1))):
        got = obj.fit(X, y).predict(Xt)
        expected = pre.fit(K, y).predict(Kt)
        np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9)
        assert np.std(expected) > 0.05 * np.std(y)
