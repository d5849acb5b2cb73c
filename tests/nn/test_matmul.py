"""The oneDNN routing of the networks' CPU products: MKL's results, taken only where it can act."""

import warnings

import numpy as np
import pytest
import torch

from sklearn_overparam.nn import (
    _matmul,
    azll_three_layer,
    azll_two_layer,
    backward,
    forward,
    init_params,
)
from sklearn_overparam.nn._matmul import cpu_matmul, routes

needs_onednn = pytest.mark.skipif(not _matmul.onednn_available(),
                                  reason="this torch build has no working oneDNN matmul")


@pytest.fixture
def counted(monkeypatch):
    """Route every product (no size threshold) and count the oneDNN calls."""
    op = _matmul._op()
    calls = []

    def counting(*args):
        calls.append(args[0].shape)
        return op(*args)

    monkeypatch.setattr(_matmul, "ONEDNN_MIN_MACS", 0)
    monkeypatch.setattr(_matmul, "_op", lambda: counting)
    return calls


SPECS = {
    "three_layer_all": azll_three_layer(5, 12, 1, n_hidden2=9).with_trainable("all"),
    # W only below a scalar output: the rank-one gradient path (mask products)
    "two_layer_W": azll_two_layer(5, 12, 1),
    "two_layer_all": azll_two_layer(5, 12, 1).with_trainable("all"),
}


def _problem(K, shared_input, dtype, name="three_layer_all"):
    spec = SPECS[name]
    params = init_params(spec, list(range(K)), dtype=dtype)
    gen = torch.Generator().manual_seed(0)
    shape = (7, 5) if shared_input else (K, 7, 5)
    X = torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)
    G = torch.randn(K, 7, 1, generator=gen, dtype=torch.float64).to(dtype)
    return spec, params, X, G


def _run(spec, params, X, G, workspace):
    out, hidden = forward(spec, params, X, return_hidden=True, workspace=workspace)
    out = out.clone()
    return out, backward(spec, params, hidden, G, workspace=workspace)


@needs_onednn
@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("shared_input", [True, False])
@pytest.mark.parametrize("workspace", [False, True])
def test_onednn_forward_and_backward_equal_float64(name, K, shared_input, workspace, counted):
    """Every float32 product through oneDNN (forward, backward, weight gradients, biases):
    outputs and gradients equal the float64 reference to float32 rounding."""
    spec, params, X, G = _problem(K, shared_input, torch.float32, name)
    with cpu_matmul("onednn"):
        out, grads = _run(spec, params, X, G, {} if workspace else None)
    assert len(counted) >= spec.depth, "the layers' products went to oneDNN"
    ref_params = {k: v.double() for k, v in params.items()}
    ref_out, ref_grads = _run(spec, ref_params, X.double(), G.double(), None)
    torch.testing.assert_close(out.double(), ref_out, rtol=1e-5, atol=1e-6)
    for name in spec.trainable_names:
        torch.testing.assert_close(grads[name].double(), ref_grads[name], rtol=1e-5, atol=1e-6)


@needs_onednn
def test_blas_mode_keeps_every_product_on_mkl(counted):
    """``cpu_matmul("blas")`` routes nothing, and the routing is restored on exit."""
    spec, params, X, G = _problem(2, False, torch.float32)
    with cpu_matmul("blas"):
        _run(spec, params, X, G, {})
        assert _matmul.mode() == "blas"
    assert not counted
    assert _matmul.mode() == "auto"


@needs_onednn
def test_stacked_copy_gets_the_same_products_as_a_lone_network(counted):
    """Copy k of a stack and the network alone take the same oneDNN kernels: bit for bit."""
    spec, params, X, G = _problem(3, False, torch.float32)
    with cpu_matmul("onednn"):
        out, grads = _run(spec, params, X, G, {})
        for k in range(3):
            lone = {n: p[k:k + 1].clone() for n, p in params.items()}
            out_k, grads_k = _run(spec, lone, X[k:k + 1], G[k:k + 1], {})
            assert torch.equal(out_k[0], out[k])
            for name in spec.trainable_names:
                assert torch.equal(grads_k[name][0], grads[name][k])


@needs_onednn
def test_routing_only_where_onednn_can_act(monkeypatch):
    """Large float32 CPU products outside autograd and torch.func go to oneDNN; float64,
    small products, tensors autograd tracks, functorch-wrapped tensors and a torch with
    oneDNN switched off do not."""
    monkeypatch.setattr(_matmul, "ONEDNN_MIN_MACS", 1000)
    big = torch.zeros(2, 10, 10)
    with cpu_matmul("onednn"):
        assert routes(10, 10, 10, big)
        assert not routes(10, 10, 9, big), "below the size threshold"
        assert not routes(10, 10, 10, big.double())
        tracked = big.clone().requires_grad_(True)
        assert not routes(10, 10, 10, tracked)
        with torch.no_grad():
            assert routes(10, 10, 10, tracked)
        seen = []
        torch.func.vmap(lambda x: seen.append(routes(10, 10, 10, x)) or x)(big)
        assert seen == [False]
    with cpu_matmul("blas"):
        assert not routes(10, 10, 10, big)
    with cpu_matmul("onednn"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's note on oneDNN TF32 for GPUs
        with torch.backends.mkldnn.flags(enabled=False):
            assert not routes(10, 10, 10, big), "oneDNN switched off in torch"
    with pytest.raises(ValueError, match="must be one of"):
        with cpu_matmul("mkl"):
            pass


@needs_onednn
def test_autograd_through_forward_is_unaffected_by_the_routing(counted):
    """float32 parameters that autograd tracks keep the differentiable products: their
    gradients equal the hand-written backward's."""
    spec, params, X, G = _problem(2, True, torch.float32)
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    with cpu_matmul("onednn"):
        auto = torch.autograd.grad((forward(spec, leaves, X) * G).sum(), list(leaves.values()))
        assert not counted
        _, mine = _run(spec, params, X, G, None)
    for name, a in zip(leaves, auto):
        torch.testing.assert_close(mine[name], a, rtol=1e-5, atol=1e-6)


@needs_onednn
def test_momentum_fit_agrees_across_routings():
    """A float32 momentum fit whose big layer's gradient goes to oneDNN (so its momentum is
    not accumulated inside the matmul) matches the MKL fit to float32 rounding."""
    from sklearn_overparam import ThreeLayerReLURegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] ** 2).astype(np.float32)
    est = ThreeLayerReLURegressor(n_hidden=256, max_iter=3, tol=None, random_state=0)
    with cpu_matmul("blas"):
        ref = est.fit(X, y).predict(X)
    with cpu_matmul("onednn"):
        mine = est.fit(X, y).predict(X)
    scale = np.abs(ref).max()
    np.testing.assert_allclose(mine, ref, rtol=0, atol=1e-4 * scale)
    assert not np.array_equal(mine, ref), "the two routings are different kernels"


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh routing cache for the test (the machine's real answer untouched)."""
    monkeypatch.setenv("SKLEARN_OVERPARAM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize("speedup, choice", [(1.5, "onednn"), (1.1, "blas"), (0.8, "blas")])
def test_the_first_routing_decision_measures_once_and_stores_the_answer(
        cache_dir, monkeypatch, speedup, choice):
    """oneDNN only where it measured at least ONEDNN_MIN_SPEEDUP faster; the answer is
    stored, and later decisions read it without measuring (so they cannot disagree)."""
    calls = []
    monkeypatch.setattr(_matmul, "calibrate", lambda: calls.append(1) or speedup)
    assert _matmul.machine_choice() == choice
    assert (cache_dir / _matmul.cache_path().rsplit("/", 1)[1]).read_text().strip() == choice
    monkeypatch.setattr(_matmul, "calibrate", lambda: calls.append(1) or 1 / speedup + 1)
    assert _matmul.machine_choice() == choice, "a stored answer is never re-measured"
    assert len(calls) == 1


def test_auto_routing_follows_the_stored_answer(cache_dir, monkeypatch):
    monkeypatch.setattr(_matmul, "onednn_available", lambda: True)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.setattr(_matmul.platform, "machine", lambda: "x86_64")
    for answer in ("onednn", "blas"):
        monkeypatch.setattr(_matmul, "machine_choice", lambda answer=answer: answer)
        assert _matmul._auto.__wrapped__() is (answer == "onednn")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    monkeypatch.setattr(_matmul, "machine_choice", lambda: "onednn")
    assert _matmul._auto.__wrapped__() is False, "oneDNN is considered only with AVX-512"


def test_no_writable_cache_means_no_measurement_and_mkl(cache_dir, monkeypatch):
    cache_dir.parent.joinpath("cache").write_text("a file where the folder should be")
    monkeypatch.setattr(_matmul, "calibrate", lambda: pytest.fail("measured"))
    assert _matmul.machine_choice() == "blas"


def test_a_concurrent_first_answer_wins(cache_dir, monkeypatch):
    """Two processes measuring at once: the one linked second reads the first's answer."""
    path = _matmul.cache_path()

    def other_process_finishes_first():
        cache_dir.mkdir(exist_ok=True)
        with open(path, "w") as fh:
            fh.write("blas\n")
        return 3.0

    monkeypatch.setattr(_matmul, "calibrate", other_process_finishes_first)
    assert _matmul.machine_choice() == "blas"
    assert sorted(p.name for p in cache_dir.iterdir()) == [path.rsplit("/", 1)[1]]


def test_a_corrupt_answer_keeps_mkl_without_measuring(cache_dir, monkeypatch):
    cache_dir.mkdir()
    path = _matmul.cache_path()
    with open(path, "w") as fh:
        fh.write("maybe\n")
    monkeypatch.setattr(_matmul, "calibrate", lambda: pytest.fail("measured"))
    assert _matmul.machine_choice() == "blas"


@needs_onednn
def test_calibrate_times_both_paths_and_returns_a_positive_ratio():
    ratio = _matmul.calibrate(repeats=3)
    assert 0.05 < ratio < 20
