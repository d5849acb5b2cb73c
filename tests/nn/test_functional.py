"""Stacked ReLU networks: init distributions and hand-written backward vs float64 autograd."""

import math

import pytest
import torch

from sklearn_overparam.nn import (
    ReLUNet,
    azll_three_layer,
    azll_two_layer,
    backward,
    cczg_deep,
    forward,
    init_params,
    ll_two_layer,
)

SPECS = {
    "azll2": azll_two_layer(5, 7, 2, output_scale=0.5),
    "azll3": azll_three_layer(5, 6, 3, n_hidden2=4),
    "ll": ll_two_layer(5, 8, 3),
    "cczg4": cczg_deep(5, 6, 4),
    "azll2_all": azll_two_layer(5, 7, 1).with_trainable("all").with_output_multiplier(0.7),
}


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("shared_input", [True, False])
@pytest.mark.parametrize("fold_bias", [False, True])
def test_backward_matches_float64_autograd(name, shared_input, fold_bias, monkeypatch):
    """The hand-written backward equals autograd for every architecture and trainable set.

    ``fold_bias`` forces the folded-bias fast path of thin layers on these small shapes.
    """
    import sklearn_overparam.nn._functional as functional

    if fold_bias:
        monkeypatch.setattr(functional, "FOLD_MIN_OUTPUT", 0)
    spec = SPECS[name].with_trainable("all")
    K, n = 3, 9
    params = init_params(spec, [1, 2, 3], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    shape = (n, spec.n_features) if shared_input else (K, n, spec.n_features)
    X = torch.randn(*shape, generator=gen, dtype=torch.float64)
    G = torch.randn(K, n, spec.n_outputs, generator=gen, dtype=torch.float64)
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    out = forward(spec, leaves, X)
    auto = torch.autograd.grad((out * G).sum(), [leaves[k] for k in spec.param_names])
    out2, hidden = forward(spec, params, X, return_hidden=True)
    torch.testing.assert_close(out2, out.detach(), rtol=1e-12, atol=1e-12)
    mine = backward(spec, params, hidden, G)
    for k, a in zip(spec.param_names, auto):
        torch.testing.assert_close(mine[k], a, rtol=1e-10, atol=1e-12)


def test_backward_only_requested_tensors():
    """Only the spec's trainable tensors get gradients, equal to the full backward's."""
    spec = SPECS["azll3"]
    params = init_params(spec, [4], dtype=torch.float64)
    X = torch.randn(6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    out, hidden = forward(spec, params, X, return_hidden=True)
    G = torch.ones_like(out)
    part = backward(spec, params, hidden, G)
    full = backward(spec, params, hidden, G, names=spec.param_names)
    assert set(part) == {"W0", "W1"}
    for k in part:
        torch.testing.assert_close(part[k], full[k])


@pytest.mark.parametrize(
    ("spec", "expected_var"),
    [
        (azll_two_layer(4, 400, 1, output_scale=0.5), {"W0": 1 / 400, "b0": 1 / 400, "W1": 0.25}),
        (azll_three_layer(4, 300, 1), {"W0": 1 / 300, "W1": 1 / 300, "b1": 1 / 300, "W2": 1.0}),
        (ll_two_layer(50, 400, 10), {"W0": 1 / 400, "W1": 1.0}),
        (cczg_deep(20, 300, 3), {"W0": 2 / 300, "W1": 2 / 300, "W2": 1 / 300}),
    ],
)
def test_init_params_variances_match_paper(spec, expected_var):
    """Empirical init variances match the papers (SPEC 1.2, 2.2, 5.1, 6.1) within 5 sigma."""
    params = init_params(spec, [0, 1], dtype=torch.float64)
    for name, var in expected_var.items():
        x = params[name].flatten()
        # the sample variance of N Gaussians has relative standard error sqrt(2/N)
        assert abs(x.var().item() / var - 1) < 5 * math.sqrt(2 / x.numel()), name
        assert abs(x.mean().item()) < 5 * math.sqrt(var / x.numel()), name


def test_init_params_seeded_and_dtype_consistent():
    """A seed fixes the draw; float32 params are the float64 draw rounded; copies differ."""
    spec = azll_two_layer(3, 20)
    a = init_params(spec, [5, 6], dtype=torch.float64)
    b = init_params(spec, [5, 6], dtype=torch.float32)
    c = init_params(spec, [5], dtype=torch.float64)
    for k in spec.param_names:
        assert torch.equal(a[k].float(), b[k])
        assert torch.equal(a[k][:1], c[k])
        assert not torch.equal(a[k][0], a[k][1])


def test_cczg_output_is_order_one():
    """[CCZG] He init with the sqrt(m) output scaling gives outputs of order 1 at any width."""
    for m in (64, 1024):
        spec = cczg_deep(10, m, 4)
        params = init_params(spec, list(range(20)), dtype=torch.float64)
        X = torch.nn.functional.normalize(
            torch.randn(50, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0)),
            dim=1,
        )
        out = forward(spec, params, X)
        # f ~ N(0, ~2 * ... ) at init; its std over nets and inputs lies in [0.3, 3]
        assert 0.3 < out.std().item() < 3.0


def test_relunet_module_matches_functional_and_trains_only_trainable():
    """The nn.Module view computes the same outputs; requires_grad marks trainable tensors."""
    spec = azll_three_layer(4, 5)
    params = init_params(spec, [1, 2], dtype=torch.float32)
    net = ReLUNet(spec, params, index=1)
    X = torch.randn(7, 4, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(net(X), forward(spec, params, X)[1])
    assert {n for n, p in net.named_parameters() if p.requires_grad} == {"W0", "W1"}


def test_spec_rejects_unknown_trainable_name():
    """Asking to train a tensor the network does not have is a ValueError naming it."""
    with pytest.raises(ValueError, match="b1"):
        azll_two_layer(3, 4).with_trainable(["W0", "b1"])


def test_forward_backward_with_workspace_reuse_buffers():
    """A workspace hands the same activation buffers to same-shaped calls, a new one per shape.

    Its results equal the no-workspace path's (and autograd's) at every call.
    """
    spec = azll_two_layer(4, 9, 1).with_trainable("all")
    params = init_params(spec, [0, 1], dtype=torch.float64)
    ws = {}
    gen = torch.Generator().manual_seed(5)

    def step(n):
        X = torch.randn(2, n, 4, generator=gen, dtype=torch.float64)
        G = torch.randn(2, n, 1, generator=gen, dtype=torch.float64)
        out, hidden = forward(spec, params, X, return_hidden=True, workspace=ws)
        mine = backward(spec, params, hidden, G, workspace=ws)
        # the workspace path equals the allocating path and autograd (checked before the
        # next call overwrites the buffers)
        ref_out, ref_hidden = forward(spec, params, X, return_hidden=True)
        ref = backward(spec, params, ref_hidden, G)
        torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(hidden[1], ref_hidden[1], rtol=1e-12, atol=1e-15)
        leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        auto = torch.autograd.grad((forward(spec, leaves, X) * G).sum(), list(leaves.values()))
        for k, a in zip(leaves, auto):
            torch.testing.assert_close(mine[k], ref[k], rtol=1e-12, atol=1e-15)
            torch.testing.assert_close(mine[k], a, rtol=1e-10, atol=1e-12)
        # the activation buffers: hidden pre/post-ReLU layer and the network output
        return out, hidden[1]

    def workspace_ptrs():
        # plain buffers, and the output buffers of the per-layer plans
        tensors = [getattr(t, "out", t) for t in ws.values()]
        return sorted(t.data_ptr() for t in tensors if isinstance(t, torch.Tensor))

    first = step(6)
    ptrs = [t.data_ptr() for t in first]
    kept = workspace_ptrs()
    second = step(6)
    assert [t.data_ptr() for t in second] == ptrs, "same shapes: the buffers are reused"
    assert workspace_ptrs() == kept and len(kept) >= 2, "no buffer is replaced or added"
    third = step(7)
    assert all(t.data_ptr() not in ptrs for t in third), "a new shape gets new buffers"
    assert all(t.shape[1] == 7 for t in third)
    fourth = step(6)
    assert [t.data_ptr() for t in fourth] == ptrs, "the first shape's buffers are kept"


@pytest.mark.parametrize("shared_input", [True, False])
def test_workspace_plan_follows_in_place_updates_and_new_tensors(shared_input, monkeypatch):
    """The workspace's per-layer plan (folded ``[W, b]`` kept between steps) sees every
    in-place change of W or b, and a parameter replaced by a new tensor: its outputs stay
    equal to the no-workspace path."""
    import sklearn_overparam.nn._functional as functional

    monkeypatch.setattr(functional, "FOLD_MIN_OUTPUT", 0)  # fold at these small shapes
    spec = azll_two_layer(4, 9, 1).with_trainable("all")
    params = init_params(spec, [0, 1], dtype=torch.float64)
    gen = torch.Generator().manual_seed(2)
    X = torch.randn(*((6, 4) if shared_input else (2, 6, 4)), generator=gen,
                    dtype=torch.float64)
    ws = {}

    def check():
        out = forward(spec, params, X, workspace=ws)
        torch.testing.assert_close(out, forward(spec, params, X), rtol=1e-12, atol=1e-15)
        return out.clone()

    first = check()
    assert any(getattr(p, "Wb", None) is not None for p in ws.values()), "folded path taken"
    params["W0"].add_(0.5)  # an in-place update of the weight ...
    second = check()
    params["b0"].mul_(-1.0)  # ... of the bias alone ...
    third = check()
    params["W0"] = params["W0"] * 2.0  # ... and a new tensor object
    fourth = check()
    assert not torch.equal(first, second) and not torch.equal(second, third)
    assert not torch.equal(third, fourth)


def test_relunet_trains_under_skorch():
    """ReLUNet is a plain module for skorch: only the paper's trainable tensors move."""
    skorch = pytest.importorskip("skorch")
    spec = azll_two_layer(4, 32)
    gen = torch.Generator().manual_seed(0)
    X = torch.nn.functional.normalize(torch.randn(200, 4, generator=gen), dim=1)
    y = torch.sin(3 * X[:, :1])
    net = skorch.NeuralNetRegressor(
        ReLUNet, module__spec=spec, module__seed=3, optimizer=torch.optim.SGD, lr=0.02,
        optimizer__momentum=0.9, batch_size=50, max_epochs=30, train_split=None, verbose=0,
    ).fit(X.numpy(), y.numpy())
    before = ReLUNet(spec, seed=3)
    after = net.module_
    assert not torch.equal(after.W0, before.W0)
    assert torch.equal(after.b0, before.b0) and torch.equal(after.W1, before.W1)
    losses = net.history[:, "train_loss"]
    assert losses[-1] < 0.5 * losses[0]
