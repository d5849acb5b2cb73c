"""Activation-pattern change and pseudo-network gap against direct numpy counts."""

import numpy as np
import pytest
import torch

from sklearn_overparam.diagnostics import (
    activation_pattern_change,
    layerwise_activation_change,
    pseudo_network_gap,
)
from sklearn_overparam.nn import (
    ReLUNetSpec,
    azll_three_layer,
    azll_two_layer,
    cczg_deep,
    init_params,
)

from ._reference import changed_fraction_per_layer, numpy_params, output, pseudo_output


def perturbed(params, scale, seed):
    gen = torch.Generator().manual_seed(seed)
    return {n: t + scale * torch.randn(t.shape, generator=gen, dtype=t.dtype)
            for n, t in params.items()}


def unit_rows(n, d, seed):
    X = np.random.default_rng(seed).standard_normal((n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_single_layer_matches_direct_count():
    """One matrix with biases: the fraction equals a loop over (sample, unit) pairs."""
    rng = np.random.default_rng(0)
    W0, b0 = rng.standard_normal((30, 5)), rng.standard_normal(30)
    W, b = W0 + 0.3 * rng.standard_normal((30, 5)), b0 + 0.3 * rng.standard_normal(30)
    X = rng.standard_normal((40, 5))
    count = sum(int((W[r] @ X[i] + b[r] > 0) != (W0[r] @ X[i] + b0[r] > 0))
                for i in range(40) for r in range(30))
    got = activation_pattern_change(W, W0, X, b=b, b0=b0)
    assert got == pytest.approx(count / (40 * 30), abs=1e-15)
    assert 0 < got < 0.5
    # b0 defaults to b (a bias that does not train); no bias at all
    fixed = sum(int((W[r] @ X[i] + b[r] > 0) != (W0[r] @ X[i] + b[r] > 0))
                for i in range(40) for r in range(30))
    assert activation_pattern_change(W, W0, X, b=b) == pytest.approx(fixed / 1200, abs=1e-15)
    plain = np.mean((X @ W.T > 0) != (X @ W0.T > 0))
    assert activation_pattern_change(W, W0, X) == pytest.approx(plain, abs=1e-15)


def test_unchanged_weights_give_zero_and_torch_input_works():
    """W = W0 changes nothing; float32 tensors are accepted as well as arrays."""
    gen = torch.Generator().manual_seed(0)
    W0, X = torch.randn(20, 3, generator=gen), torch.randn(50, 3, generator=gen)
    assert activation_pattern_change(W0, W0.clone(), X) == 0.0
    W = -W0  # every unit with a nonzero pre-activation flips
    assert activation_pattern_change(W, W0, X) == pytest.approx(1.0)


def test_list_of_layers_propagates_each_network():
    """The list form compares layer l of the current net with layer l of the initial net."""
    spec = azll_three_layer(4, 25, n_hidden2=15)
    params0 = init_params(spec, [0], dtype=torch.float64)
    params = perturbed(params0, 0.1, 1)
    X = unit_rows(60, 4, 2)
    p, p0 = numpy_params(params), numpy_params(params0)
    expected = changed_fraction_per_layer(spec, p, p0, X)
    got = activation_pattern_change([p["W0"], p["W1"]], [p0["W0"], p0["W1"]], X,
                                    b=[p["b0"], p["b1"]], b0=[p0["b0"], p0["b1"]])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
    assert all(e > 0 for e in expected)
    # the library-network form agrees
    np.testing.assert_allclose(layerwise_activation_change(spec, params, params0, X),
                               expected, rtol=0, atol=1e-15)


def test_layerwise_on_deep_net_and_stack_index():
    """[CCZG] depth 4: one fraction per hidden layer; index picks a copy of a stack."""
    spec = cczg_deep(6, 32, 4)
    params0 = init_params(spec, [3, 4], dtype=torch.float64)
    params = perturbed(params0, 0.05, 5)
    X = unit_rows(30, 6, 6)
    for k in (0, 1):
        expected = changed_fraction_per_layer(spec, numpy_params(params, k),
                                              numpy_params(params0, k), X)
        got = layerwise_activation_change(spec, params, params0, X, index=k)
        assert len(got) == 3
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="`index` must name the copy"):
        layerwise_activation_change(spec, params, params0, X)


@pytest.mark.parametrize("kwargs, match", [
    ({"W": np.ones((3, 2)), "W0": np.ones((3, 3))}, "`W0` must have the shape of `W`"),
    ({"W": np.ones((3, 2)), "W0": np.ones((3, 2)), "b0": np.ones(3)}, "`b` must be given"),
    ({"W": np.ones((3, 2)), "W0": np.ones((3, 2)), "b": np.ones(4)}, "one entry per row"),
    ({"W": [np.ones((3, 2))], "W0": [np.ones((3, 2))] * 2}, "must be a list of 1 layers"),
    ({"W": [np.ones((3, 2)), np.ones((3, 4))], "W0": [np.ones((3, 2)), np.ones((3, 4))]},
     "must take the 3 outputs"),
    ({"W": np.ones(3), "W0": np.ones(3)}, "must be 2-D"),
    ({"W": np.ones((3, 2)), "W0": np.ones((3, 2)), "X": np.ones((4, 5))}, "must have 2 features"),
    ({"W": np.ones((3, 2)), "W0": np.ones((3, 2)), "X": np.array([[np.nan, 1.0]])},
     "finite"),
])
def test_activation_change_rejects_bad_input(kwargs, match):
    """Shape, bias and finiteness mistakes are ValueErrors naming the argument."""
    kwargs = {"X": np.ones((4, 2)), **kwargs}
    with pytest.raises(ValueError, match=match):
        activation_pattern_change(**kwargs)


def test_pseudo_gap_zero_at_init():
    """g(x; W0) = f(x; W0) exactly, for two and three layers."""
    for spec in (azll_two_layer(4, 50), azll_three_layer(4, 20), cczg_deep(4, 16, 4)):
        params0 = init_params(spec, [0])
        assert pseudo_network_gap(spec, params0, params0, unit_rows(30, 4, 0)) == {
            "mean": 0.0, "max": 0.0}


def test_pseudo_gap_hand_computed_two_layer():
    """A 2-unit network with one gate flip: the gap is a_1 times the flipped unit's value."""
    spec = ReLUNetSpec.from_shapes([(2, 2), (1, 2)], [True, False], trainable=["W0"])
    params0 = {"W0": torch.tensor([[[1.0, 0.0], [0.0, 1.0]]], dtype=torch.float64),
               "b0": torch.tensor([[0.0, -0.5]], dtype=torch.float64),
               "W1": torch.tensor([[[2.0, 3.0]]], dtype=torch.float64)}
    params = dict(params0, W0=torch.tensor([[[1.0, 0.0], [0.0, 2.0]]], dtype=torch.float64))
    X = np.array([[1.0, 0.4], [1.0, 0.1]])
    # x1: unit 2 was off (0.4 - 0.5 < 0), now on (0.8 - 0.5 = 0.3): f = 2 + 3*0.3 = 2.9,
    #     g keeps it off: g = 2 (+ 0 * 3 * 0.3) = 2, gap 0.9.
    # x2: unit 2 off before and after (0.2 - 0.5 < 0): gap 0.
    gap = pseudo_network_gap(spec, params, params0, X)
    assert gap["max"] == pytest.approx(0.9, abs=1e-12)
    assert gap["mean"] == pytest.approx(0.45, abs=1e-12)
    # and a gate that stays open with a changed weight is linear: no gap
    params_open = dict(params0, W0=torch.tensor([[[1.5, 0.0], [0.0, 1.0]]],
                                                dtype=torch.float64))
    assert pseudo_network_gap(spec, params_open, params0, X)["max"] == pytest.approx(0, abs=1e-15)


def test_pseudo_gap_matches_numpy_deep_and_multiplier():
    """Deep [CCZG] net with its sqrt(m) multiplier and [AZLL] 3-layer: numpy reference."""
    for spec, seed in ((cczg_deep(5, 24, 4), 0), (azll_three_layer(5, 30, n_outputs=2), 1)):
        params0 = init_params(spec, [seed], dtype=torch.float64)
        params = perturbed(params0, 0.08, seed + 10)
        X = unit_rows(40, 5, seed + 20)
        p, p0 = numpy_params(params), numpy_params(params0)
        diff = np.abs(output(spec, p, X) - pseudo_output(spec, p, p0, X))
        gap = pseudo_network_gap(spec, params, params0, X)
        assert gap["mean"] == pytest.approx(diff.mean(), rel=1e-12)
        assert gap["max"] == pytest.approx(diff.max(), rel=1e-12)
        assert gap["max"] > 1e-4


def test_pseudo_gap_grows_with_the_step():
    """Larger moves from init flip more gates: the gap increases with the perturbation."""
    spec = azll_two_layer(4, 200)
    params0 = init_params(spec, [0], dtype=torch.float64)
    X = unit_rows(100, 4, 1)
    gaps = [pseudo_network_gap(spec, perturbed(params0, s, 2), params0, X)["mean"]
            for s in (0.01, 0.05, 0.2)]
    assert gaps[0] < gaps[1] < gaps[2]


def test_network_functions_check_params():
    """Missing tensors, wrong stacks and wrong widths are ValueErrors with the fix."""
    spec = azll_two_layer(3, 8)
    params0 = init_params(spec, [0])
    X = np.ones((2, 3))
    with pytest.raises(ValueError, match="must hold every tensor"):
        pseudo_network_gap(spec, {"W0": params0["W0"]}, params0, X)
    with pytest.raises(ValueError, match="same size as `params`"):
        pseudo_network_gap(spec, init_params(spec, [0, 1]), params0, X)
    with pytest.raises(ValueError, match="must have 3 features"):
        layerwise_activation_change(spec, params0, params0, np.ones((2, 4)))
    with pytest.raises(ValueError, match="must be a ReLUNetSpec"):
        layerwise_activation_change("net", params0, params0, X)
    with pytest.raises(ValueError, match=r"shape \(K, 8, 3\)"):
        pseudo_network_gap(spec, dict(params0, W0=params0["W0"][0]), params0, X)
