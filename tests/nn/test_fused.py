"""The fused two-layer kernels: the torch path's outputs and gradients, only where they apply."""

import numpy as np
import pytest
import torch

from sklearn_overparam import TwoLayerReLURegressor
from sklearn_overparam.nn import (
    LayerSpec,
    ReLUNetSpec,
    _fused,
    azll_three_layer,
    azll_two_layer,
    backward,
    forward,
    fused_kernels,
    init_params,
)
from sklearn_overparam.training import NetworkObjective, SGDConfig, SquaredLoss, train
from sklearn_overparam.training import _losses as losses
from sklearn_overparam.training._losses import WeightedTargets

pytest.importorskip("numba")


def _no_output_bias(d, m):
    return azll_two_layer(d, m)


def _output_bias_no_b0(d, m):
    # no first-layer bias, an output bias, an output multiplier: every other term of F
    return ReLUNetSpec(
        layers=(LayerSpec(d, m, 1.0 / np.sqrt(m)), LayerSpec(m, 1, 1.0, bias=True, bias_std=0.3)),
        output_multiplier=0.7,
        trainable=frozenset({"W0"}),
    )


def _problem(spec, K, shared, n, dtype=torch.float64, seed=0):
    params = init_params(spec, list(range(K)), dtype=dtype)
    gen = torch.Generator().manual_seed(seed)
    d = spec.n_features
    shape = (n, d) if shared else (K, n, d)
    X = torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)
    G = torch.randn(K, n, 1, generator=gen, dtype=torch.float64).to(dtype)
    return params, X, G


def _torch_path(spec, params, X, G, names, multiplier=None):
    out, hidden = forward(spec, params, X, return_hidden=True, multiplier=multiplier)
    return out, backward(spec, params, hidden, G, names, multiplier=multiplier)


def _fused_path(spec, params, X, G, names, multiplier=None):
    step = _fused.two_layer_step(spec, params, X, names, {})
    assert step is not None, "the fused kernels should apply here"
    out = step.forward(X, multiplier).clone()
    return out, step.backward(G)


@pytest.mark.parametrize("make_spec", [_no_output_bias, _output_bias_no_b0])
@pytest.mark.parametrize("K,shared", [(1, True), (3, True), (3, False)])
@pytest.mark.parametrize("d,m,n", [(1, 5, 1), (4, 700, 7), (7, 1030, 8)])
def test_forward_and_gradients_match_the_torch_path_float64(make_spec, K, shared, d, m, n):
    # m = 700 and 1030 cross the CHUNK-unit blocks; n = 1 and 7 leave an unpaired sample
    spec = make_spec(d, m)
    params, X, G = _problem(spec, K, shared, n)
    names = spec.trainable_names
    out, grads = _fused_path(spec, params, X, G, names)
    ref_out, ref = _torch_path(spec, params, X, G, names)
    torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
    assert grads.keys() == ref.keys()
    for name in names:
        torch.testing.assert_close(grads[name], ref[name], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("names", [("W0", "b0"), ("W0", "b0", "W1", "b1"), ("W1",), ("b1",),
                                   ("b0", "W1")])
def test_every_trained_subset_and_a_per_copy_multiplier_match_the_torch_path(names):
    # biases in both layers and an output multiplier: every term of F has a gradient
    spec = ReLUNetSpec(layers=(LayerSpec(5, 600, 0.05, bias=True, bias_std=0.05),
                               LayerSpec(600, 1, 1.0, bias=True, bias_std=0.3)),
                       output_multiplier=0.7, trainable=frozenset(names))
    params, X, G = _problem(spec, 3, False, 9)
    mult = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    out, grads = _fused_path(spec, params, X, G, names, mult)
    ref_out, ref = _torch_path(spec, params, X, G, names, mult)
    torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
    assert tuple(grads) == names
    for name in names:
        assert grads[name].shape == params[name].shape
        torch.testing.assert_close(grads[name], ref[name], rtol=1e-12, atol=1e-12)
        assert grads[name].abs().max() > 0


def test_float32_agrees_with_the_torch_path_within_rounding():
    spec = azll_two_layer(6, 1000)
    params, X, G = _problem(spec, 2, True, 50, dtype=torch.float32)
    out, grads = _fused_path(spec, params, X, G, ("W0",))
    ref_out, ref = _torch_path(spec, params, X, G, ("W0",))
    assert out.dtype is torch.float32 and grads["W0"].dtype is torch.float32
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grads["W0"], ref["W0"], rtol=1e-4, atol=1e-5)


def test_strided_inputs_are_read_with_their_strides():
    spec = azll_two_layer(4, 300)
    params, _, G = _problem(spec, 3, False, 6)
    base = torch.randn(6, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    X = base.transpose(0, 1)  # (K, n, d), not contiguous: a batch gathered per copy
    assert not X.is_contiguous()
    out, grads = _fused_path(spec, params, X, G, ("W0",))
    ref_out, ref = _torch_path(spec, params, X.contiguous(), G, ("W0",))
    torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grads["W0"], ref["W0"], rtol=1e-12, atol=1e-12)


def test_gradients_are_fresh_tensors():
    # the engine's update consumes the gradients (they become the momentum buffers)
    spec = azll_two_layer(4, 50)
    params, X, G = _problem(spec, 1, True, 4)
    step = _fused.two_layer_step(spec, params, X, ("W0",), {})
    step.forward(X)
    first = step.backward(G)["W0"]
    step.forward(X)
    second = step.backward(G)["W0"]
    assert first.data_ptr() != second.data_ptr()
    torch.testing.assert_close(first, second, rtol=0, atol=0)


def test_a_nan_weight_gives_nan_outputs_as_in_torch():
    spec = azll_two_layer(4, 600)
    params, X, G = _problem(spec, 1, True, 5)
    params["W0"][0, 3, 1] = float("nan")
    out, _ = _fused_path(spec, params, X, G, ("W0",))
    assert torch.isnan(out).all() and torch.isnan(forward(spec, params, X)).all()


def _fused_applies(spec, params, X, names=None, workspace=None):
    names = spec.trainable_names if names is None else names
    return _fused.two_layer_step(spec, params, X, names, {} if workspace is None
                                 else workspace) is not None


@pytest.mark.parametrize("case", [
    "three_layer", "two_outputs", "eight_inputs", "unknown_tensor", "float16",
    "params_require_grad", "input_requires_grad", "no_workspace", "switched_off",
    "no_numba",
])
def test_the_torch_path_runs_where_the_kernels_do_not_apply(case, monkeypatch):
    spec = azll_two_layer(4, 20)
    params, X, _ = _problem(spec, 2, True, 3)
    assert _fused_applies(spec, params, X)  # the control: each case changes one thing
    names, workspace = None, {}
    if case == "three_layer":
        spec = azll_three_layer(4, 20)
        params = init_params(spec, [0, 1], dtype=torch.float64)
    elif case == "two_outputs":
        spec = azll_two_layer(4, 20, 2)
        params = init_params(spec, [0, 1], dtype=torch.float64)
    elif case == "eight_inputs":
        spec = azll_two_layer(8, 20)
        params, X, _ = _problem(spec, 2, True, 3)
    elif case == "unknown_tensor":
        names = ("W0", "W2")
    elif case == "float16":
        params = {k: v.half() for k, v in params.items()}
        X = X.half()
    elif case == "params_require_grad":
        params["W0"].requires_grad_(True)
    elif case == "input_requires_grad":
        X = X.clone().requires_grad_(True)
    elif case == "no_workspace":
        workspace = None
    elif case == "no_numba":
        monkeypatch.setattr(_fused, "_numba", lambda: None)
    if case == "switched_off":
        with fused_kernels("off"):
            assert not _fused_applies(spec, params, X)
        assert _fused_applies(spec, params, X)
        return
    if workspace is None:
        assert _fused.two_layer_step(spec, params, X, spec.trainable_names, None) is None
        return
    assert not _fused_applies(spec, params, X, names, workspace)


def test_a_cached_step_is_rebuilt_when_the_tensors_change():
    spec = azll_two_layer(4, 30)
    params, X, G = _problem(spec, 1, True, 4)
    ws = {}
    step = _fused.two_layer_step(spec, params, X, ("W0",), ws)
    assert _fused.two_layer_step(spec, params, X, ("W0",), ws) is step
    other = {k: v.clone() for k, v in params.items()}
    other["W0"].mul_(2.0)
    rebuilt = _fused.two_layer_step(spec, other, X, ("W0",), ws)
    assert rebuilt is not step
    ref_out, _ = _torch_path(spec, other, X, G, ("W0",))
    torch.testing.assert_close(rebuilt.forward(X), ref_out, rtol=1e-12, atol=1e-12)
    # another batch size is another step
    assert _fused.two_layer_step(spec, other, X[:3], ("W0",), ws) is not rebuilt


def test_fused_kernels_rejects_a_bad_mode_and_restores_the_previous_one():
    with pytest.raises(ValueError, match="`mode` must be one of"):
        with fused_kernels("on"):
            pass
    with fused_kernels("off"):
        with fused_kernels("auto"):
            assert _fused.available()
        assert not _fused.available()
    assert _fused.available()


def test_the_objective_gives_the_torch_path_loss_and_gradients():
    spec = azll_two_layer(5, 800)
    params, X, _ = _problem(spec, 3, True, 20)
    Y = torch.randn(20, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    value, grads = NetworkObjective(spec, "squared").loss_and_grads(params, X, Y)
    with fused_kernels("off"):
        ref_value, ref = NetworkObjective(spec, "squared").loss_and_grads(params, X, Y)
    torch.testing.assert_close(value, ref_value, rtol=1e-12, atol=0)
    torch.testing.assert_close(grads["W0"], ref["W0"], rtol=1e-12, atol=1e-14)


def _count_forward_calls(monkeypatch):
    calls = []
    original = _fused.TwoLayerStep.forward

    def counting(self, X, multiplier=None):
        calls.append(self.K)
        return original(self, X, multiplier)

    monkeypatch.setattr(_fused.TwoLayerStep, "forward", counting)
    return calls


def test_a_fit_uses_the_kernels_and_matches_the_torch_fit(monkeypatch):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4))
    y = np.sin(X.sum(axis=1))
    params = dict(n_hidden=300, max_iter=5, tol=None, random_state=0, dtype="float64")
    calls = _count_forward_calls(monkeypatch)
    fused = TwoLayerReLURegressor(**params).fit(X, y)
    steps = len(calls)
    assert steps == 5 * 3  # every training step: 5 epochs of 3 batches of 50 (120 rows)
    with fused_kernels("off"):
        plain = TwoLayerReLURegressor(**params).fit(X, y)
    assert len(calls) == steps
    np.testing.assert_allclose(fused.predict(X), plain.predict(X), rtol=1e-10, atol=1e-12)


def test_a_stacked_copy_equals_the_lone_network_bit_for_bit(monkeypatch):
    spec = azll_two_layer(4, 600)
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(90, 4, generator=gen)
    Y = torch.randn(90, 1, generator=gen)
    config = SGDConfig(learning_rate=0.005, momentum=0.9, batch_size=30, max_epochs=3, tol=None)
    calls = _count_forward_calls(monkeypatch)
    stacked = init_params(spec, [0, 1, 2])
    train(NetworkObjective(spec, "squared"), stacked, X, Y, config, [0, 1, 2])
    lone = init_params(spec, [1])
    train(NetworkObjective(spec, "squared"), lone, X, Y, config, [1])
    assert set(calls) == {3, 1}
    assert torch.equal(stacked["W0"][1], lone["W0"][0])


def test_inputs_inside_torch_func_transforms_take_the_torch_path():
    spec = azll_two_layer(4, 20)
    params, _, _ = _problem(spec, 1, True, 3)
    seen = []

    def step_of(x):
        seen.append(_fused.two_layer_step(spec, params, x, ("W0",), {}))
        return x.sum()

    torch.func.vmap(step_of)(torch.randn(2, 3, 4, dtype=torch.float64))
    assert seen == [None]


def test_kernels_compile_without_a_writable_cache(monkeypatch):
    import numba

    njit = numba.njit

    def no_cache_dir(*args, cache=False, **kwargs):
        if cache:  # numba raises when the decorator is applied to a function
            def decorate(function):
                raise RuntimeError("cannot cache function: no locator available")
            return decorate
        return njit(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", no_cache_dir)
    forward_kernel = _fused._kernels.__wrapped__(3).forward
    spec = azll_two_layer(3, 10)
    params, X, _ = _problem(spec, 1, True, 4)
    step = _fused.TwoLayerStep(spec, params, X, ("W0",))
    x = X.numpy()[None]
    out = np.empty((1, 4))
    forward_kernel(x, True, step.W, step.b, step.A, step.scale, step.c, step.Xp, step.Wt,
                   step.H, False, out)
    np.testing.assert_allclose(out, forward(spec, params, X).numpy()[..., 0], rtol=1e-12)


def _snapshots_and_initial_patterns(spec, K0=2, E=3, n=9):
    from sklearn_overparam.diagnostics._activation import network_pass

    params0 = init_params(spec, list(range(K0)), dtype=torch.float64)
    gen = torch.Generator().manual_seed(5)
    X = torch.randn(n, spec.n_features, generator=gen, dtype=torch.float64)
    _, patterns0, gates0, _ = network_pass(spec, params0, X, want_gates=True)
    gates0 = [g.to(torch.float64) for g in gates0]
    # E snapshots of the K0-stack, snapshot-major, each moved away from the initialization
    stack = {name: torch.cat([p + 0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype)
                              for _ in range(E)]) for name, p in params0.items()}
    return stack, X, patterns0, gates0


@pytest.mark.parametrize("make_spec", [_no_output_bias, _output_bias_no_b0])
def test_the_diagnostics_pass_matches_the_torch_network_pass(make_spec, monkeypatch):
    from sklearn_overparam.diagnostics._activation import network_pass

    spec = make_spec(5, 700)
    stack, X, patterns0, gates0 = _snapshots_and_initial_patterns(spec)
    calls = []
    original = _fused.pattern_pass
    monkeypatch.setattr("sklearn_overparam.diagnostics._activation.pattern_pass",
                        lambda *a: calls.append(1) or original(*a))
    out, changed, _, pseudo = network_pass(spec, stack, X, patterns0=patterns0, gates0=gates0)
    assert calls and calls.count(1) == 1
    with fused_kernels("off"):
        ref_out, ref_changed, _, ref_pseudo = network_pass(spec, stack, X, patterns0=patterns0,
                                                           gates0=gates0)
    torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(pseudo, ref_pseudo, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(changed[0], ref_changed[0], rtol=0, atol=0)
    assert 0 < changed[0].min() and changed[0].max() < 1
    assert not torch.allclose(out, pseudo)  # the gates moved: the two networks differ


@pytest.mark.parametrize("case", ["three_layer", "float_patterns", "not_a_multiple", "float16"])
def test_the_diagnostics_pass_declines_what_it_does_not_compute(case):
    spec = azll_two_layer(5, 40)
    stack, X, patterns0, gates0 = _snapshots_and_initial_patterns(spec)
    assert _fused.pattern_pass(spec, stack, X, patterns0, gates0) is not None  # the control
    if case == "three_layer":
        spec = azll_three_layer(5, 40)
        stack, X, patterns0, gates0 = _snapshots_and_initial_patterns(spec)
    elif case == "float_patterns":
        patterns0 = [p.to(torch.float64) for p in patterns0]
    elif case == "not_a_multiple":
        stack = {name: p[:5] for name, p in stack.items()}  # 5 networks, 2 initial copies
    elif case == "float16":
        stack = {name: p.half() for name, p in stack.items()}
    assert _fused.pattern_pass(spec, stack, X, patterns0, gates0) is None


def _torch_squared(out, y):
    with fused_kernels("off"):
        return SquaredLoss().value_and_grad(out.clone(), y)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("y_shape", ["shared", "per_copy", "per_copy_strided"])
def test_the_compiled_squared_loss_gives_torch_s_gradient_exactly(dtype, y_shape):
    gen = torch.Generator().manual_seed(0)
    K, n = 3, 13
    out = torch.randn(K, n, 1, generator=gen, dtype=torch.float64).to(dtype)
    if y_shape == "shared":
        y = torch.randn(n, 1, generator=gen, dtype=torch.float64).to(dtype)
    elif y_shape == "per_copy":
        y = torch.randn(K, n, 1, generator=gen, dtype=torch.float64).to(dtype)
    else:  # a batch view of an epoch's gathered targets, as the sampler makes
        y = torch.randn(K, 4 * n, 1, generator=gen, dtype=torch.float64).to(dtype)[:, n:2 * n]
    fast = _fused.squared_loss(out, y)
    assert fast is not None
    value, grad = fast
    ref_value, ref_grad = _torch_squared(out, y)
    assert torch.equal(grad, ref_grad), "the gradient is rounded as torch's ops round it"
    tol = 1e-6 if dtype is torch.float32 else 1e-14
    torch.testing.assert_close(value, ref_value, rtol=tol, atol=0)
    assert value.dtype is dtype and grad.shape == (K, n, 1)
    # SquaredLoss takes this path where it applies, and its result equals torch's
    v2, g2 = SquaredLoss().value_and_grad(out, y)
    assert torch.equal(g2, ref_grad) and torch.equal(v2, value)


@pytest.mark.parametrize("case", ["two_outputs", "requires_grad", "float16", "switched_off",
                                  "no_numba", "wrong_rows", "wrong_copies",
                                  "weighted"])
def test_the_compiled_squared_loss_declines_what_it_does_not_compute(case, monkeypatch):
    gen = torch.Generator().manual_seed(1)
    out = torch.randn(2, 5, 1, generator=gen)
    y = torch.randn(5, 1, generator=gen)
    if case == "two_outputs":
        out, y = torch.randn(2, 5, 2, generator=gen), torch.randn(5, 2, generator=gen)
    elif case == "requires_grad":
        out.requires_grad_(True)
    elif case == "float16":
        out, y = out.half(), y.half()
    elif case == "no_numba":
        monkeypatch.setattr(_fused, "_numba", lambda: None)
    elif case == "wrong_rows":
        y = torch.randn(4, 1, generator=gen)
    elif case == "wrong_copies":
        y = torch.randn(3, 5, 1, generator=gen)
    if case == "switched_off":
        with fused_kernels("off"):
            assert _fused.squared_loss(out, y) is None
        assert _fused.squared_loss(out, y) is not None
    elif case == "weighted":  # the weighted mean stays in torch's ops
        calls = []
        monkeypatch.setattr(losses, "squared_loss", lambda *a: calls.append(a))
        targets = WeightedTargets(torch.randn(2, 5, 1, generator=gen), torch.rand(2, 5))
        SquaredLoss().value_and_grad(out, targets)
        assert calls == []
    else:
        assert _fused.squared_loss(out, y) is None


def test_a_new_process_loads_the_compiled_kernels_from_the_disk_cache(tmp_path):
    # numba keys a closure's cache by its closure variables: the kernels must close over
    # nothing but their widths, or every process compiles them again (about 2 s)
    import os
    import subprocess
    import sys

    script = (
        "import numpy as np, torch\n"
        "from sklearn_overparam import TwoLayerReLURegressor\n"
        "from sklearn_overparam.nn import _fused\n"
        "X = np.random.RandomState(0).normal(size=(30, 3))\n"
        "est = TwoLayerReLURegressor(n_hidden=8, max_iter=1, tol=None).fit(X, X[:, 0])\n"
        "k = _fused._kernels(est.coefs_[0].shape[1])\n"  # the width after the input map
        "print(sum(k.forward.stats.cache_hits.values()),"
        " sum(k.backward.stats.cache_hits.values()))\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, check=True).stdout.split() for _ in range(2)]
    assert runs[0] == ["0", "0"]  # compiled and stored
    assert runs[1] == ["1", "1"]  # loaded
