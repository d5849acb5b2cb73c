"""Empirical NTK: closed form vs float64 ``torch.func.jacrev``, method agreement, errors."""

import numpy as np
import pytest
import torch
from torch.func import functional_call, jacrev

from sklearn_overparam.kernels import _empirical_generic
from sklearn_overparam.kernels._empirical import empirical_ntk
from sklearn_overparam.nn import (
    HalfPadding,
    ReLUNet,
    azll_three_layer,
    azll_two_layer,
    cczg_deep,
    forward,
    init_params,
    ll_two_layer,
    pad_half,
)

F64 = torch.float64
METHODS = ["structured", "jacobian", "ntk_vp"]

# name -> (spec, trainable override or None)
LIBRARY = {
    "azll2_hidden": (azll_two_layer(5, 7, 1), None),
    "azll2_all": (azll_two_layer(5, 7, 1).with_output_multiplier(0.7), "all"),
    "azll3_hidden": (azll_three_layer(5, 6, 1, n_hidden2=4), None),
    "azll3_all": (azll_three_layer(5, 6, 2, n_hidden2=4), "all"),
    "ll_multi": (ll_two_layer(5, 8, 3), None),
    "cczg2": (cczg_deep(5, 6, 2), None),
    "cczg3": (cczg_deep(5, 6, 3), None),
    "cczg5": (cczg_deep(5, 6, 5), None),
}


def _inputs(n, d, seed=0, dtype=F64):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen, dtype=dtype)


def _library_net(name, dtype=F64, seed=3):
    spec, override = LIBRARY[name]
    if override is not None:
        spec = spec.with_trainable(override)
    return ReLUNet(spec, init_params(spec, [seed], dtype=dtype))


def _jacrev_gram(module, names, X, Y=None, full=False):
    """Reference ``J_X J_Y^T`` from batch ``jacrev`` over ``functional_call`` (float64)."""
    named = dict(module.named_parameters())
    params = {n: named[n].detach() for n in names}
    consts = {n: p.detach() for n, p in named.items() if n not in params}

    def jac(Z):
        def f(p):
            return functional_call(module, (p, consts), (Z,)).reshape(Z.shape[0], -1)

        J = jacrev(f)(params)
        return torch.cat([J[n].reshape(Z.shape[0], J[n].shape[1], -1) for n in names], -1)

    JX = jac(X)
    JY = JX if Y is None else jac(Y)
    if full:
        return torch.einsum("irp,jsp->ijrs", JX, JY).numpy()
    return torch.einsum("irp,jrp->ij", JX, JY).numpy()


def _rel_err(A, B):
    return np.abs(np.asarray(A) - np.asarray(B)).max() / np.abs(np.asarray(B)).max()


def _redraw(module, seed, scale=1.0):
    """Re-draw every parameter from a local generator (no global torch seed)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * scale)


def _sequential(bias, freeze=(), dtype=F64, seed=0):
    layers = [
        torch.nn.Linear(5, 7, bias=bias),
        torch.nn.ReLU(),
        torch.nn.Linear(7, 6, bias=bias),
        torch.nn.ReLU(),
        torch.nn.Linear(6, 2, bias=bias),
    ]
    net = torch.nn.Sequential(*layers).to(dtype)
    _redraw(net, seed, scale=0.5)
    for i in freeze:
        for p in net[i].parameters():
            p.requires_grad_(False)
    return net


@pytest.mark.parametrize("name", sorted(LIBRARY))
@pytest.mark.parametrize("output", ["trace", "full"])
def test_empirical_ntk_structured_matches_jacrev_library(name, output):
    """The closed form equals float64 jacrev Grams on every paper architecture."""
    net = _library_net(name)
    X = _inputs(9, 5)
    full = output == "full" and net.spec.n_outputs > 1
    ref = _jacrev_gram(net, net.spec.trainable_names, X, full=full)
    K = empirical_ntk(net, X.numpy(), method="structured", output=output)
    assert K.shape == ref.shape and K.dtype == np.float64
    assert _rel_err(K, ref) < 1e-10


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("freeze", [(), (2,), (0, 4)])
def test_empirical_ntk_structured_matches_jacrev_sequential(bias, freeze):
    """A Linear/ReLU Sequential with frozen layers gets the closed form, equal to jacrev."""
    net = _sequential(bias, freeze)
    names = [n for n, p in net.named_parameters() if p.requires_grad]
    X, Y = _inputs(8, 5, seed=1), _inputs(5, 5, seed=2)
    for full in (False, True):
        ref = _jacrev_gram(net, names, X, Y, full=full)
        K = empirical_ntk(net, X, Y, method="structured", output="full" if full else "trace")
        assert _rel_err(K, ref) < 1e-10


def test_empirical_ntk_structured_handles_nested_flatten_and_linear_chains():
    """Nested Sequentials, Identity, Linear-Linear chains and a final Flatten stay structured."""
    net = torch.nn.Sequential(
        torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.ReLU()),
        torch.nn.Identity(),
        torch.nn.Linear(6, 4, bias=False),
        torch.nn.Linear(4, 3),
        torch.nn.ReLU(),
        torch.nn.Linear(3, 1),
        torch.nn.Flatten(),
    ).to(F64)
    _redraw(net, seed=4)
    X = _inputs(7, 5)
    ref = _jacrev_gram(net, [n for n, _ in net.named_parameters()], X)
    assert _rel_err(empirical_ntk(net, X, method="structured"), ref) < 1e-10


@pytest.mark.parametrize("name", ["azll3_all", "ll_multi", "cczg3"])
@pytest.mark.parametrize("output", ["trace", "full"])
def test_empirical_ntk_methods_agree(name, output):
    """structured, jacobian and ntk_vp give the same Gram, for Y=None and a given Y."""
    net = _library_net(name)
    X, Y = _inputs(7, 5, seed=5), _inputs(4, 5, seed=6)
    for Yarg in (None, Y):
        grams = [empirical_ntk(net, X, Yarg, method=m, output=output) for m in METHODS]
        for K in grams[1:]:
            assert K.shape == grams[0].shape
            assert _rel_err(K, grams[0]) < 1e-10


def test_empirical_ntk_generic_module_uses_jacobian():
    """A non-Sequential module (tanh, skip connection) goes through torch.func and matches."""

    class Skip(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = torch.nn.Linear(4, 6)
            self.out = torch.nn.Linear(6, 2)

        def forward(self, x):
            h = torch.tanh(self.inp(x))
            return self.out(h + x.sum(1, keepdim=True))

    net = Skip().to(F64)
    _redraw(net, seed=0)
    net.inp.bias.requires_grad_(False)
    X, Y = _inputs(6, 4, seed=7), _inputs(3, 4, seed=8)
    names = [n for n, p in net.named_parameters() if p.requires_grad]
    ref = _jacrev_gram(net, names, X, Y, full=True)
    for method in ("auto", "jacobian", "ntk_vp"):
        K = empirical_ntk(net, X, Y, method=method, output="full")
        assert _rel_err(K, ref) < 1e-10


def test_empirical_ntk_cross_gram_is_block_of_symmetric():
    """K(X, Y) equals the off-diagonal block of K([X; Y]) and Y=None is exactly symmetric."""
    net = _library_net("cczg3")
    X, Y = _inputs(10, 5, seed=9), _inputs(6, 5, seed=10)
    for method in METHODS:
        whole = empirical_ntk(net, np.vstack([X, Y]), method=method, block_size=4)
        cross = empirical_ntk(net, X, Y, method=method, block_size=4)
        assert _rel_err(cross, whole[:10, 10:]) < 1e-12
        assert np.array_equal(whole, whole.T)


@pytest.mark.parametrize("method", METHODS)
def test_empirical_ntk_per_layer_parts_sum_to_total(method):
    """Per-tensor Grams are keyed by name in network order and sum to the total."""
    net = _library_net("azll3_all")
    X = _inputs(8, 5, seed=11)
    parts = empirical_ntk(net, X, method=method, per_layer=True)
    assert list(parts) == ["W0", "b0", "W1", "b1", "W2"]
    total = empirical_ntk(net, X, method=method)
    assert _rel_err(sum(parts.values()), total) < 1e-12
    single = empirical_ntk(net, X, method=method, trainable=["W1"])
    assert _rel_err(parts["W1"], single) < 1e-12


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("output", ["trace", "full"])
def test_empirical_ntk_blocked_equals_unblocked(method, output):
    """Tiny blocks that do not divide n give the one-block Gram, with and without Y."""
    net = _library_net("ll_multi")
    X, Y = _inputs(11, 5, seed=12), _inputs(7, 5, seed=13)
    for Yarg in (None, Y):
        one = empirical_ntk(net, X, Yarg, method=method, output=output, block_size=64)
        blocked = empirical_ntk(net, X, Yarg, method=method, output=output, block_size=3)
        assert _rel_err(blocked, one) < 1e-12


def test_jacobian_gram_recomputes_rows_beyond_cache(monkeypatch):
    """With no room to keep Y's Jacobian rows, recomputing them per block gives the same Gram."""
    net = _library_net("azll3_all")
    X, Y = _inputs(10, 5, seed=19), _inputs(7, 5, seed=20)
    kept = [empirical_ntk(net, X, Yarg, method="jacobian", block_size=3) for Yarg in (None, Y)]
    monkeypatch.setattr(_empirical_generic, "JACOBIAN_CACHE_BYTES", 0)
    for K, Yarg in zip(kept, (None, Y), strict=True):
        assert _rel_err(empirical_ntk(net, X, Yarg, method="jacobian", block_size=3), K) < 1e-12


def test_empirical_ntk_float32_close_to_float64_same_pattern():
    """float32 structured is within float32 rounding of float64 when no ReLU flips."""
    spec = cczg_deep(16, 64, 3)
    params32 = init_params(spec, [5], dtype=torch.float32)
    params64 = {k: v.double() for k, v in params32.items()}
    X32 = _inputs(150, 16, seed=14, dtype=torch.float32)
    _, h32 = forward(spec, params32, X32, return_hidden=True)
    _, h64 = forward(spec, params64, X32.double(), return_hidden=True)
    # Precondition: identical activation patterns, so only rounding separates the results.
    assert all(torch.equal(a > 0, b > 0) for a, b in zip(h32[1:], h64[1:], strict=True))
    K32 = empirical_ntk((spec, params32), X32, block_size=40)
    K64 = empirical_ntk((spec, params64), X32.double(), block_size=40)
    assert K32.dtype == np.float32
    # Entries are sums of <= 3 products of length-64 dot products: a few hundred float32
    # roundings of relative size 6e-8 each, far below 2e-5 of the largest entry.
    assert _rel_err(K32, K64) < 2e-5
    assert _rel_err(empirical_ntk((spec, params32), X32, dtype="float64"), K64) < 1e-12


def test_empirical_ntk_two_layer_spec_closed_form():
    """AZLL 2-layer hidden-only NTK is <x,x'> sum_i a_i^2 1[h_i(x)>=0] 1[h_i(x')>=0]."""
    spec = azll_two_layer(5, 40, 1)
    p = init_params(spec, [7], dtype=F64)
    X = _inputs(12, 5, seed=15).numpy()
    W, b, a = p["W0"][0].numpy(), p["b0"][0].numpy(), p["W1"][0, 0].numpy()
    act = (X @ W.T + b >= 0).astype(float)
    expected = (X @ X.T) * ((act * a**2) @ act.T)
    assert _rel_err(empirical_ntk((spec, p), X), expected) < 1e-12


def test_empirical_ntk_three_layer_spec_closed_form():
    """[AZLL] 3-layer NTK of (W, V) is K_W + K_V (hidden-weight NTK, Sec. 7), part by part."""
    spec = azll_three_layer(5, 9, 1, n_hidden2=7)
    p = init_params(spec, [8], dtype=F64)
    X = _inputs(10, 5, seed=16).numpy()
    W, b1, V, b2 = (p[n][0].numpy() for n in ("W0", "b0", "W1", "b1"))
    a = p["W2"][0, 0].numpy()
    h1 = X @ W.T + b1
    z1 = np.maximum(h1, 0)
    D1, D2 = (h1 >= 0).astype(float), (z1 @ V.T + b2 >= 0).astype(float)
    D2a = D2 * a
    g = D1 * (D2a @ V)
    K_W = (X @ X.T) * (g @ g.T)
    K_V = (D2a @ D2a.T) * (z1 @ z1.T)
    parts = empirical_ntk((spec, p), X, per_layer=True)
    assert _rel_err(parts["W0"], K_W) < 1e-12
    assert _rel_err(parts["W1"], K_V) < 1e-12
    assert _rel_err(empirical_ntk((spec, p), X), K_W + K_V) < 1e-12


def test_empirical_ntk_accepts_stacks_estimators_and_duck_types():
    """(spec, params, index), a fitted estimator's network_ + input map, spec/stacked_params."""
    spec = azll_two_layer(5, 10, 1)
    stack = init_params(spec, [1, 2, 3], dtype=F64)
    X = _inputs(6, 3, seed=17).numpy()
    padded = pad_half(X, 0.5)
    net = ReLUNet(spec, stack, index=1)
    expected = empirical_ntk(net, padded)
    assert np.array_equal(empirical_ntk((spec, stack, 1), padded), expected)

    class Padding:
        def transform(self, X):
            return pad_half(X, 0.5)

    class Fitted:
        network_ = net
        input_map_ = Padding()

        def fit(self, X, y):
            return self

    assert np.array_equal(empirical_ntk(Fitted(), X), expected)
    # a raw-input ReLUNet carries the map itself
    raw = ReLUNet(spec, stack, index=1, input_map=HalfPadding(0.5))
    np.testing.assert_allclose(empirical_ntk(raw, X.astype(np.float64)), expected, rtol=1e-12)

    class Holder:
        def __init__(self):
            self.spec = spec

        def stacked_params(self):
            return {k: v[1:2] for k, v in stack.items()}

    assert np.array_equal(empirical_ntk(Holder(), padded), expected)
    assert not np.array_equal(empirical_ntk((spec, stack, 0), padded), expected)


def test_empirical_ntk_dtype_and_default_trainable():
    """dtype defaults to the model's; library nets default to the spec's trainable tensors."""
    net = ReLUNet(azll_two_layer(5, 6, 1))  # float32, trains W0 only
    X = _inputs(4, 5, seed=18, dtype=torch.float32)
    assert empirical_ntk(net, X).dtype == np.float32
    assert empirical_ntk(net, X, dtype="float64").dtype == np.float64
    only_w0 = empirical_ntk(net, X, trainable=["W0"], dtype="float64")
    assert np.array_equal(empirical_ntk(net, X, dtype="float64"), only_w0)
    everything = empirical_ntk(net, X, trainable="all", dtype="float64")
    assert np.all(np.diag(everything) > np.diag(only_w0) * (1 + 1e-6))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"X": [[np.nan, 0, 0, 0, 0]]}, r"`X` must contain only finite values; got 1 NaN"),
        ({"Y": [[np.inf] * 5]}, r"`Y` must contain only finite values"),
        ({"X": np.ones((3, 3))}, r"`X` has 3 features, but the model expects 5"),
        ({"Y": np.ones((2, 4))}, r"`Y` must have the same number of features as `X` \(5\)"),
        ({"X": np.ones(5)}, r"`X` must be 2-D"),
        ({"method": "svd"}, r"`method` must be one of 'auto', .*; got 'svd'"),
        ({"output": "diag"}, r"`output` must be 'trace' or 'full'; got 'diag'"),
        ({"block_size": 0}, r"`block_size` must be a positive integer or None; got 0"),
        ({"trainable": ["W9"]}, r"`trainable` must name parameters.*\['W9'\]"),
        ({"trainable": []}, r"`trainable` must name at least one tensor"),
    ],
)
def test_empirical_ntk_bad_arguments_raise(kwargs, match):
    """Each bad argument raises a ValueError that names it."""
    net = _library_net("azll2_hidden")
    args = {"X": np.ones((3, 5)), "Y": None, **kwargs}
    with pytest.raises(ValueError, match=match):
        empirical_ntk(net, args.pop("X"), args.pop("Y"), **args)


def test_empirical_ntk_bad_models_raise():
    """Non-tabular outputs, stacks without an index, unfitted estimators and forced structured."""

    class Cube(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(5, 4)

        def forward(self, x):
            return self.lin(x).reshape(x.shape[0], 2, 2)

    X = np.ones((3, 5))
    with pytest.raises(ValueError, match=r"`model` must map an \(n, d\) input"):
        empirical_ntk(Cube(), X)
    with pytest.raises(ValueError, match=r"`method` must be 'auto', 'jacobian' or 'ntk_vp'"):
        empirical_ntk(Cube(), X, method="structured")
    with pytest.raises(ValueError, match=r"`X` could not be passed through the model"):
        empirical_ntk(Cube(), np.ones((3, 4)))
    spec = azll_two_layer(5, 4, 1)
    with pytest.raises(ValueError, match=r"stack of K=2"):
        empirical_ntk((spec, init_params(spec, [0, 1])), X)

    class Unfitted:
        def fit(self, X, y):
            return self

    with pytest.raises(ValueError, match=r"got an unfitted estimator"):
        empirical_ntk(Unfitted(), X)
