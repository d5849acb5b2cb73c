"""Analytic ReLU NNGP/NTK: Monte Carlo over wide networks, references, numerics, validation."""

import functools

import numpy as np
import pytest
import torch

from sklearn_overparam.datasets import make_composite_sine
from sklearn_overparam.kernels._analytic import relu_nngp_kernel, relu_ntk_kernel

WIDTH = 512
N_NETS = 200
# Finite-width bias of the mean empirical kernel: exact at depth 2 (Gaussian first layer),
# O(1/width) per further hidden layer (delta method on the empirical covariance). A 20000-net
# run at widths 16-64 measured |bias| <= 0.45 * max|K| / width per extra layer; we allow 1.0.
BIAS_PER_LAYER = 1.0


def _inputs(n=6, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X * np.linspace(0.5, 2.0, n)[:, None] / np.linalg.norm(X, axis=1, keepdims=True)


def _empirical(X, *, weight_stds, bias_stds, weight_scales, bias_scales, out_mult, seed):
    """Per-net empirical NNGP and per-layer tangent-kernel contributions (closed form).

    Layer l computes ``h_l = weight_stds[l] * W_l z_{l-1} + bias_stds[l] * b_l`` with standard
    normal ``W_l, b_l``; the output is ``out_mult * h_L``. The trained parameter of layer l is
    ``W_l * weight_scales[l]`` (so ``grad = delta_l z_{l-1}^T * weight_scales[l]``).
    Returns the NNGP samples ``E[f f' | hidden]`` (n_nets, n, n) and the weight and bias
    contributions (n_nets, L, n, n).
    """
    rng = np.random.default_rng(seed)
    n, d = X.shape
    L = len(weight_stds)
    fans = [d] + [WIDTH] * (L - 1) + [1]
    nngp = np.empty((N_NETS, n, n))
    wc = np.empty((N_NETS, L, n, n))
    bc = np.empty((N_NETS, L, n, n))
    for k in range(N_NETS):
        zs, pres, Ws = [X], [], []
        for l in range(L):
            W = weight_stds[l] * rng.standard_normal((fans[l + 1], fans[l]))
            pre = zs[-1] @ W.T
            if bias_stds[l] > 0:
                pre = pre + bias_stds[l] * rng.standard_normal(fans[l + 1])
            Ws.append(W)
            pres.append(pre)
            if l < L - 1:
                zs.append(np.maximum(pre, 0.0))
        nngp[k] = out_mult**2 * (weight_stds[-1] ** 2 * zs[-1] @ zs[-1].T + bias_stds[-1] ** 2)
        delta = np.full((n, 1), float(out_mult))
        for l in range(L - 1, -1, -1):
            dd = delta @ delta.T
            wc[k, l] = weight_scales[l] ** 2 * (zs[l] @ zs[l].T) * dd
            bc[k, l] = bias_scales[l] ** 2 * dd
            if l > 0:
                delta = (delta @ Ws[l]) * (pres[l - 1] > 0)
    return nngp, wc, bc


@functools.cache
def _ntk_param_samples(depth, wv, bv, seed):
    """Monte Carlo samples of networks in NTK parameterisation (cached across tests)."""
    X = _inputs()
    wv_l = np.broadcast_to(np.asarray(wv, float), (depth,))
    bv_l = np.broadcast_to(np.asarray(bv, float), (depth,))
    fans = [X.shape[1]] + [WIDTH] * (depth - 1)
    ws = [np.sqrt(w / f) for w, f in zip(wv_l, fans, strict=True)]
    bs = list(np.sqrt(bv_l))
    return X, _empirical(X, weight_stds=ws, bias_stds=bs, weight_scales=ws, bias_scales=bs,
                         out_mult=1.0, seed=seed)


def _assert_mc_close(samples, analytic, depth):
    """|analytic - mean| <= 4 stderr + finite-width bias allowance, entry-wise."""
    mean = samples.mean(axis=0)
    stderr = samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
    allowance = BIAS_PER_LAYER * max(depth - 2, 0) / WIDTH * np.abs(analytic).max()
    excess = np.abs(mean - analytic) - (4 * stderr + allowance)
    assert excess.max() <= 0, (np.abs(mean - analytic).max(), stderr.max(), allowance)
    # The check has teeth: the tolerance is a few percent of the kernel at most.
    assert (4 * stderr + allowance).max() <= 0.06 * np.abs(analytic).max()


NTK_PARAM_CASES = [
    (2, 2.0, 0.0),
    (2, 1.5, 0.2),
    (3, 2.0, 0.0),
    (3, (1.2, 2.0, 1.6), (0.3, 0.1, 0.2)),
]


@pytest.mark.parametrize("depth, wv, bv", NTK_PARAM_CASES)
def test_relu_nngp_matches_monte_carlo(depth, wv, bv):
    """The NNGP equals the mean output covariance of wide random networks (NTK param)."""
    X, (nngp, _, _) = _ntk_param_samples(depth, wv, bv, seed=depth)
    K = relu_nngp_kernel(X, depth=depth, weight_variance=wv, bias_variance=bv)
    _assert_mc_close(nngp, K, depth)


@pytest.mark.parametrize("depth, wv, bv", NTK_PARAM_CASES)
@pytest.mark.parametrize("trainable", ["all", "hidden", "last", "mask"])
@pytest.mark.parametrize("bias_trainable", [True, False])
def test_relu_ntk_matches_monte_carlo(depth, wv, bv, trainable, bias_trainable):
    """The NTK equals the mean empirical tangent kernel over the chosen trainable layers."""
    X, (_, wc, bc) = _ntk_param_samples(depth, wv, bv, seed=depth)
    masks = {
        "all": [True] * depth,
        "hidden": [True] * (depth - 1) + [False],
        "last": [False] * (depth - 1) + [True],
        "mask": [True, False, True] if depth == 3 else [True, True],
    }
    mask = masks[trainable]
    if trainable == "mask":
        trainable = mask
    m = np.asarray(mask, float)[None, :, None, None]
    samples = (m * (wc + (bc if bias_trainable else 0.0))).sum(axis=1)
    K = relu_ntk_kernel(X, depth=depth, weight_variance=wv, bias_variance=bv,
                        trainable=trainable, bias_trainable=bias_trainable)
    _assert_mc_close(samples, K, depth)


@pytest.mark.parametrize("depth", [2, 3])
def test_relu_ntk_maps_azll_network(depth):
    """[AZLL] hidden-weight NTK / m and the conjugate kernel match the per-layer-variance maps."""
    X = _inputs(seed=3)
    d = X.shape[1]
    m = WIDTH
    weight_stds = [1 / np.sqrt(m)] * (depth - 1) + [1.0]  # W, V ~ N(0, 1/m); a ~ N(0, 1)
    bias_stds = [1 / np.sqrt(m)] * (depth - 1) + [0.0]
    nngp, wc, _ = _empirical(X, weight_stds=weight_stds, bias_stds=bias_stds,
                             weight_scales=[1.0] * depth, bias_scales=[1.0] * depth,
                             out_mult=1.0, seed=10 + depth)
    wv, bv = (d,) + (1.0,) * (depth - 1), (1.0,) * (depth - 1) + (0.0,)
    ntk = relu_ntk_kernel(X, depth=depth, weight_variance=wv, bias_variance=bv,
                          trainable="hidden", bias_trainable=False)
    ck = relu_nngp_kernel(X, depth=depth, weight_variance=wv, bias_variance=bv)
    _assert_mc_close(wc[:, :-1].sum(axis=1) / m, ntk, depth)
    _assert_mc_close(wc[:, -1], ck, depth)  # the gradient w.r.t. a is phi(x): no 1/m


def test_relu_ntk_maps_cczg_network():
    """[CCZG] sqrt(m) W_L relu(...) with He init: NTK/m -> d/4 (NTK + NNGP), E f f' -> d/2 NNGP."""
    depth, X = 3, _inputs(seed=4)
    d, m = X.shape[1], WIDTH
    stds = [np.sqrt(2 / m)] * (depth - 1) + [np.sqrt(1 / m)]
    nngp, wc, _ = _empirical(X, weight_stds=stds, bias_stds=[0.0] * depth,
                             weight_scales=[1.0] * depth, bias_scales=[0.0] * depth,
                             out_mult=np.sqrt(m), seed=20)
    ntk = relu_ntk_kernel(X, depth=depth)
    gp = relu_nngp_kernel(X, depth=depth)
    _assert_mc_close(wc.sum(axis=1) / m, d / 4 * (ntk + gp), depth)
    _assert_mc_close(nngp, d / 2 * gp, depth)


def _reference(X, Y, depth, wv, bv, mask, bias_trainable):
    """Straightforward float64 recursion on full matrices (no blocking, no in-place)."""
    d = X.shape[1]
    sxy = wv * X @ Y.T / d + bv
    sx = wv * np.sum(X * X, 1) / d + bv
    sy = wv * np.sum(Y * Y, 1) / d + bv
    drop = 0.0 if bias_trainable else bv
    theta_k = mask[0] * (sxy - drop)
    for l in range(1, depth):
        norm = np.sqrt(np.outer(sx, sy))
        t = np.arccos(np.clip(sxy / norm, -1, 1))
        sdot = wv * (np.pi - t) / (2 * np.pi)
        sxy = wv * norm * (np.sin(t) + (np.pi - t) * np.cos(t)) / (2 * np.pi) + bv
        sx, sy = wv * sx / 2 + bv, wv * sy / 2 + bv
        theta_k = theta_k * sdot + mask[l] * (sxy - drop)
    return sxy, theta_k


@pytest.mark.parametrize("depth", [1, 2, 4])
@pytest.mark.parametrize("bv", [0.0, 0.3])
def test_relu_kernels_match_reference_recursion(depth, bv):
    """Blocked in-place kernels equal a plain float64 implementation of the recursion."""
    rng = np.random.default_rng(depth)
    X, Y = rng.standard_normal((13, 4)) * 1.7, rng.standard_normal((9, 4))
    mask = [True] * depth
    for bias_trainable in (True, False):
        nngp, ntk = _reference(X, Y, depth, 1.3, bv, mask, bias_trainable)
        np.testing.assert_allclose(
            relu_nngp_kernel(X, Y, depth=depth, weight_variance=1.3, bias_variance=bv),
            nngp, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(
            relu_ntk_kernel(X, Y, depth=depth, weight_variance=1.3, bias_variance=bv,
                            bias_trainable=bias_trainable, block_size=4),
            ntk, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("depth", [2, 3, 5])
@pytest.mark.parametrize("bv", [0.0, 0.1])
@pytest.mark.parametrize("func", [relu_nngp_kernel, relu_ntk_kernel])
def test_relu_kernels_float32_matches_float64(depth, bv, func):
    """float32 is within 1e-6 of float64 (max and Frobenius relative) on unit-norm d=64 data."""
    X = np.random.default_rng(0).standard_normal((1000, 64))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    K64 = func(X, depth=depth, bias_variance=bv)
    K32 = func(X, depth=depth, bias_variance=bv, dtype=np.float32)
    assert K32.dtype == np.float32 and K64.dtype == np.float64
    diff = K32 - K64
    assert np.abs(diff).max() <= 1e-6 * np.abs(K64).max()
    assert np.linalg.norm(diff) <= 1e-6 * np.linalg.norm(K64)


def _diag_scaled_error(func, X, Y=None, **kwargs):
    """``max |K32 - K64| / sqrt(K64(x, x) K64(y, y))`` over all entries (0/0 counts as 0)."""
    K64 = func(X, Y, **kwargs)
    K32 = func(X, Y, dtype=np.float32, **kwargs)
    assert K32.dtype == np.float32
    d_x = np.diag(func(X, **kwargs))
    d_y = d_x if Y is None else np.diag(func(Y, **kwargs))
    scale = np.sqrt(np.outer(d_x, d_y))
    err = np.abs(K32.astype(np.float64) - K64)
    return np.max(err / np.where(scale > 0, scale, 1.0))


FLOAT32_VARIANCES = {
    "he": lambda depth: {},
    "bias": lambda depth: {"bias_variance": 0.1},
    "per_layer": lambda depth: {"weight_variance": (4.0, 1.0, 1.5, 2.0, 0.5)[:depth],
                                "bias_variance": (1.0, 1.0, 0.3, 0.0, 0.2)[:depth]},
    "azll": lambda depth: {"weight_variance": (4.0,) + (1.0,) * (depth - 1),
                           "bias_variance": (1.0,) * (depth - 1) + (0.0,)},
}


@pytest.mark.parametrize("depth", [2, 3, 5])
@pytest.mark.parametrize("variances", sorted(FLOAT32_VARIANCES))
@pytest.mark.parametrize("func", [relu_nngp_kernel, relu_ntk_kernel])
def test_relu_kernels_float32_entrywise_bound_near_parallel(func, variances, depth):
    """float32 is within 1e-6 sqrt(K(x,x) K(y,y)) of float64 at every entry, diagonal included."""
    X, _ = make_composite_sine(400, random_state=0)
    cos = np.clip(X @ X.T, -1.0, 1.0)[~np.eye(len(X), dtype=bool)]
    assert (1.0 - cos).min() < 3e-4 and (1.0 + cos).min() < 1e-3  # ill-conditioned arccos
    kwargs = FLOAT32_VARIANCES[variances](depth)
    if variances == "azll" and func is relu_ntk_kernel:
        kwargs.update(trainable="hidden", bias_trainable=False)  # the [AZLL] NTK map
    assert _diag_scaled_error(func, X, depth=depth, **kwargs) <= 1e-6


def _near_parallel_inputs(angles=(1e-1, 1e-3, 1e-5, 1e-7), exact=True):
    """Rows of mixed norms with pairs at about ``angles`` and ``pi - angles`` of each other.

    ``exact`` adds scaled copies, at angle 0 and pi up to rounding.
    """
    rng = np.random.default_rng(5)
    base = rng.standard_normal((10, 8))
    rows = [rng.standard_normal((40, 8)) * rng.uniform(0.3, 3.0, (40, 1))]
    for eps in angles:
        for sign in (1.0, -1.0):
            near = base + eps * rng.standard_normal(base.shape)
            rows.append(sign * near * rng.uniform(0.5, 2.0, (10, 1)))
    if exact:
        rows += [2.5 * base[:5], -0.5 * base[:5]]
    return np.vstack(rows)


@pytest.mark.parametrize("depth", [1, 2, 3, 5, 10])
def test_relu_kernels_float32_entrywise_bound_any_norm_and_angle(depth):
    """The entry-wise float32 bound holds for any norms, tiny and near-pi angles, and explicit Y."""
    X = _near_parallel_inputs()
    cases = [(relu_nngp_kernel, {}), (relu_ntk_kernel, {}),
             (relu_ntk_kernel, {"bias_variance": 0.1}),
             (relu_ntk_kernel, {"weight_variance": 1.0, "bias_variance": 2.0,
                                "trainable": "hidden" if depth > 1 else "all",
                                "bias_trainable": False})]
    for func, kwargs in cases:
        assert _diag_scaled_error(func, X, depth=depth, **kwargs) <= 1e-6, (func, kwargs)
        assert _diag_scaled_error(func, X[:60], X[40:], depth=depth, **kwargs) <= 1e-6


@pytest.mark.skipif(np.finfo(np.longdouble).eps > 1e-18, reason="needs 80-bit long double")
@pytest.mark.parametrize("bv", [0.0, 0.3])
def test_relu_kernels_float64_match_extended_precision_near_parallel(bv):
    """float64 keeps 1e-11 of the diagonal scale at angles down to 1e-5 (long double reference)."""
    # A float64 Gram resolves an angle theta to eps / theta: 1e-11 needs theta >= 1e-5.
    X = _near_parallel_inputs(angles=(1e-1, 1e-2, 1e-3, 1e-4, 1e-5), exact=False)
    nngp_ref, ntk_ref = _reference(X.astype(np.longdouble), X.astype(np.longdouble), 4, 1.3,
                                   bv, [True] * 4, True)
    for func, ref in ((relu_nngp_kernel, nngp_ref), (relu_ntk_kernel, ntk_ref)):
        K = func(X, depth=4, weight_variance=1.3, bias_variance=bv)
        scale = np.sqrt(np.outer(np.diag(K), np.diag(K)))
        off = ~np.eye(len(X), dtype=bool)  # the reference's own diagonal has theta ~ 1e-9
        assert np.max((np.abs(K - ref.astype(np.float64)) / scale)[off]) <= 1e-11


def test_relu_ntk_float32_equal_rows_explicit_y():
    """Equal rows of X and Y get cos = 1 exactly, so float32 K(X, X) keeps 1e-6 accuracy."""
    X = np.random.default_rng(1).standard_normal((300, 64))
    X[100:200] = X[:100]  # duplicated samples
    K64 = relu_ntk_kernel(X, depth=4)
    K32 = relu_ntk_kernel(X, X, depth=4, dtype="float32")
    assert np.abs(K32 - K64).max() <= 1e-6 * np.abs(K64).max()
    np.testing.assert_allclose(relu_ntk_kernel(X, X, depth=4), K64, rtol=1e-13)


def test_relu_kernels_depth_one_is_linear():
    """depth=1 is weight_variance <x, y> / d + bias_variance (minus the bias if frozen)."""
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    lin = 1.7 * X @ Y.T / 3
    np.testing.assert_allclose(relu_nngp_kernel(X, Y, depth=1, weight_variance=1.7,
                                                bias_variance=0.4), lin + 0.4, rtol=1e-13)
    np.testing.assert_allclose(relu_ntk_kernel(X, Y, depth=1, weight_variance=1.7,
                                               bias_variance=0.4), lin + 0.4, rtol=1e-13)
    np.testing.assert_allclose(relu_ntk_kernel(X, Y, depth=1, weight_variance=1.7,
                                               bias_variance=0.4, bias_trainable=False),
                               lin, rtol=1e-13)


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_relu_ntk_last_layer_equals_nngp(depth):
    """trainable='last' gives exactly the NNGP."""
    X = _inputs(n=20, seed=5)
    np.testing.assert_allclose(
        relu_ntk_kernel(X, depth=depth, bias_variance=0.2, trainable="last"),
        relu_nngp_kernel(X, depth=depth, bias_variance=0.2), rtol=1e-13)


def test_relu_ntk_known_values_on_orthonormal_inputs():
    """Orthogonal unit inputs at depth 2: NTK off-diagonal = wv^2 / (2 pi d), diagonal = wv^2/d."""
    wv, d = 2.0, 4
    K = relu_ntk_kernel(np.eye(d), depth=2, weight_variance=wv)
    # Off the diagonal Sigma^1 = 0 and theta = pi/2: Theta = Sigma^2 = wv (wv/d) / (2 pi).
    expected = np.full((d, d), wv * wv / d / (2 * np.pi))
    # On it Sigma^2 = wv (wv/d) / 2 and Theta^1 Sigma_dot^2 = (wv/d) (wv/2): sum wv^2 / d.
    np.fill_diagonal(expected, wv**2 / d)
    np.testing.assert_allclose(K, expected, rtol=1e-14)


@pytest.mark.parametrize("func", [relu_nngp_kernel, relu_ntk_kernel])
def test_relu_kernels_symmetric_and_psd(func):
    """K(X) is exactly symmetric, K(X, Y) = K(Y, X)^T, and K(X) is positive semi-definite."""
    rng = np.random.default_rng(6)
    X, Y = rng.standard_normal((60, 7)), rng.standard_normal((30, 7))
    K = func(X, depth=3, bias_variance=0.1, block_size=11)
    assert np.array_equal(K, K.T)
    eig = np.linalg.eigvalsh(K)
    assert eig.min() >= -1e-10 * eig.max()
    np.testing.assert_allclose(func(X, Y, depth=3), func(Y, X, depth=3).T, rtol=1e-13)


@pytest.mark.parametrize("func", [relu_nngp_kernel, relu_ntk_kernel])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_kernels_blocked_equals_unblocked(func, dtype):
    """Any block size (no divisibility) gives the single-block result; the dtype is honoured."""
    rng = np.random.default_rng(7)
    X, Y = rng.standard_normal((53, 6)), rng.standard_normal((17, 6))
    for args in ((X,), (X, Y)):
        full = func(*args, depth=3, bias_variance=0.1, dtype=dtype, block_size=10**6)
        for bs in (1, 7, 52):
            K = func(*args, depth=3, bias_variance=0.1, dtype=dtype, block_size=bs)
            assert K.dtype == dtype and K.shape == full.shape
            np.testing.assert_allclose(K, full, rtol=1e-5 if dtype == np.float32 else 1e-13)


def test_relu_kernels_default_block_bounds_workspace(monkeypatch):
    """The default block keeps the temporaries under the workspace budget (few rows at large n)."""
    from sklearn_overparam.kernels import _analytic

    seen = []
    real_empty = torch.empty

    def spy(*shape, **kwargs):
        t = real_empty(*shape, **kwargs)
        seen.append(t.numel() * t.element_size())
        return t

    monkeypatch.setattr(_analytic, "_WORKSPACE_BYTES", 64 * 1024)
    monkeypatch.setattr(_analytic.torch, "empty", spy)
    X = np.random.default_rng(8).standard_normal((300, 4))
    K = relu_ntk_kernel(X, depth=3, dtype=np.float32)
    assert 0 < sum(seen) <= 64 * 1024  # all block buffers together, float64 product included
    monkeypatch.undo()
    ref = relu_ntk_kernel(X, depth=3, dtype=np.float32)
    scale = np.sqrt(np.outer(np.diag(ref), np.diag(ref)))
    assert np.max(np.abs(K - ref) / scale) <= 1e-6  # other blocks: other SIMD tails


@pytest.mark.parametrize("bv", [0.0, 0.2, (0.0, 0.3, 0.1)])
def test_relu_kernels_zero_row_finite_and_continuous(bv):
    """A zero input gives finite values equal to the limit of a vanishing input."""
    X = _inputs(n=5, seed=9)
    X0, Xeps = X.copy(), X.copy()
    X0[2] = 0.0
    Xeps[2] = 1e-9 * X[1]
    for func in (relu_nngp_kernel, relu_ntk_kernel):
        K0 = func(X0, depth=3, bias_variance=bv)
        assert np.isfinite(K0).all()
        np.testing.assert_allclose(K0, func(Xeps, depth=3, bias_variance=bv), atol=1e-7)
        if bv == 0.0:
            assert not K0[2].any() and not K0[:, 2].any()


def test_relu_kernels_accept_cpu_device_spellings():
    """device=None, 'cpu' and torch.device('cpu') give the same CPU array."""
    X = _inputs(n=30, seed=11)
    ref = relu_ntk_kernel(X, depth=3)
    for device in ("cpu", torch.device("cpu")):
        np.testing.assert_array_equal(relu_ntk_kernel(X, depth=3, device=device), ref)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_relu_kernels_cuda_matches_cpu():
    """device='cuda' returns a CPU numpy array equal to the CPU result."""
    X = _inputs(n=200, d=16, seed=10)
    for dtype, rtol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        K = relu_ntk_kernel(X, depth=4, bias_variance=0.1, dtype=dtype, device="cuda")
        assert isinstance(K, np.ndarray) and K.dtype == dtype
        np.testing.assert_allclose(K, relu_ntk_kernel(X, depth=4, bias_variance=0.1,
                                                      dtype=dtype), rtol=rtol, atol=1e-7)


BAD_INPUTS = [
    (dict(X=[[0.0, np.nan]]), "`X` must contain only finite"),
    (dict(X=[[0.0, 1.0]], Y=[[np.inf, 1.0]]), "`Y` must contain only finite"),
    (dict(X=np.ones((2, 5)), Y=np.ones((2, 3))), "Y has 3 features, but X has 5"),
    (dict(X=np.ones((0, 3))), "`X` must have at least one sample"),
    (dict(X=np.ones(3)), "`X` must be a 2-D array"),
    (dict(X=np.array([["a"]])), "`X` must be a real numeric"),
    (dict(X=np.ones((2, 2)), depth=0), "`depth` must be an integer >= 1"),
    (dict(X=np.ones((2, 2)), depth=2.5), "`depth` must be an integer >= 1"),
    (dict(X=np.ones((2, 2)), weight_variance=-1.0), "`weight_variance` must be non-negative"),
    (dict(X=np.ones((2, 2)), bias_variance=np.nan), "`bias_variance` must be non-negative"),
    (dict(X=np.ones((2, 2)), bias_variance=(0.1, 0.2, 0.3)), "`bias_variance` must be .*depth=2"),
    (dict(X=np.ones((2, 2)), block_size=0), "`block_size` must be None or an integer"),
    (dict(X=np.ones((2, 2)), dtype="float16"), "`dtype` must be"),
    (dict(X=np.ones((2, 2)), device="gpu0"), "`device` must be"),
]


@pytest.mark.parametrize("kwargs, match", BAD_INPUTS)
@pytest.mark.parametrize("func", [relu_nngp_kernel, relu_ntk_kernel])
def test_relu_kernels_reject_bad_input(func, kwargs, match):
    """Invalid inputs raise a ValueError that names the argument."""
    kwargs = dict(kwargs)
    with pytest.raises(ValueError, match=match):
        func(kwargs.pop("X"), kwargs.pop("Y", None), **kwargs)


@pytest.mark.parametrize("trainable, match", [
    ([True, False], "`trainable` must have one boolean per layer, i.e. length depth=3"),
    ("middle", "`trainable` must be 'all', 'hidden', 'last'"),
    ([1, 0, 1], "`trainable` must be 'all', 'hidden', 'last' or a sequence of 3 booleans"),
    ([False, False, False], "`trainable` must select at least one layer"),
])
def test_relu_ntk_rejects_bad_trainable(trainable, match):
    """A wrong trainable mask raises a ValueError naming `trainable` and the expected length."""
    with pytest.raises(ValueError, match=match):
        relu_ntk_kernel(np.ones((2, 2)), depth=3, trainable=trainable)


def test_relu_ntk_rejects_non_bool_bias_trainable():
    """bias_trainable must be a bool."""
    with pytest.raises(ValueError, match="`bias_trainable` must be a bool"):
        relu_ntk_kernel(np.ones((2, 2)), bias_trainable="no")
