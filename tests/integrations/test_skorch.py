"""The skorch DiagnosticsCallback on NeuralNetRegressor: values, schedule, generic modules."""

import copy

import numpy as np
import pytest
import torch

skorch = pytest.importorskip("skorch")

from sklearn.base import clone  # noqa: E402
from skorch import NeuralNetRegressor  # noqa: E402

from sklearn_overparam.diagnostics import (  # noqa: E402
    layerwise_activation_change,
    ntk_drift,
    pseudo_network_gap,
    relative_distance_from_init,
    top_singular_values,
)
from sklearn_overparam.integrations.skorch import DiagnosticsCallback  # noqa: E402
from sklearn_overparam.nn import ReLUNet, ReLUNetSpec, cczg_deep  # noqa: E402


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3)).astype(np.float32)
    y = (np.sin(2 * X[:, :1]) + X[:, 1:2] ** 2).astype(np.float32)
    return X, y


def mlp(seed=0):
    torch.manual_seed(seed)  # skorch users seed torch's global generator
    return torch.nn.Sequential(torch.nn.Linear(3, 48), torch.nn.ReLU(),
                               torch.nn.Sequential(torch.nn.Linear(48, 48), torch.nn.ReLU()),
                               torch.nn.Linear(48, 1))


def regressor(module, callback, epochs=5):
    return NeuralNetRegressor(module, max_epochs=epochs, lr=0.05, batch_size=16,
                              train_split=None, verbose=0, callbacks=[callback])


def as_stack(module):
    """The library layout of a Linear/ReLU stack: spec and stacked params (one copy)."""
    lins = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    spec = ReLUNetSpec.from_shapes([tuple(m.weight.shape) for m in lins], [True] * len(lins),
                                   trainable=[f"{k}{l}" for l in range(len(lins))
                                              for k in "Wb"])
    params = {}
    for l, m in enumerate(lins):
        params[f"W{l}"] = m.weight.detach().unsqueeze(0).double()
        params[f"b{l}"] = m.bias.detach().unsqueeze(0).double()
    return spec, params


def test_sequential_history_matches_the_diagnostic_functions(data):
    """Every epoch's row holds the diagnostics; the last equals the pure functions."""
    X, y = data
    module = mlp()
    module0 = copy.deepcopy(module)
    net = regressor(module, DiagnosticsCallback(X, rows="all", probe="all", y=y)).fit(X, y)
    h = net.history
    assert len(h[:, "activation_change_0"]) == 5 and len(h[:, "activation_change_1"]) == 5
    spec, params = as_stack(net.module_)
    _, params0 = as_stack(module0)
    Xd = torch.as_tensor(X, dtype=torch.float64)
    changes = layerwise_activation_change(spec, params, params0, Xd)
    assert h[-1, "activation_change_0"] == pytest.approx(changes[0], abs=1e-6)
    assert h[-1, "activation_change_1"] == pytest.approx(changes[1], abs=1e-6)
    assert changes[0] > 0
    gap = pseudo_network_gap(spec, params, params0, Xd)
    assert h[-1, "pseudo_gap_max"] == pytest.approx(gap["max"], rel=1e-4)
    assert h[-1, "relative_distance_1"] == pytest.approx(
        relative_distance_from_init(params["W1"], params0["W1"]), rel=1e-5)
    np.testing.assert_allclose(
        [h[-1, f"sv_update_W0_{i}"] for i in (1, 2, 3)],
        top_singular_values(params["W0"][0], 3, W0=params0["W0"][0]), rtol=1e-4)
    assert h[-1, "ntk_drift"] == pytest.approx(
        ntk_drift((spec, params), (spec, params0), X), rel=1e-3)
    assert h[-1, "ntk_drift"] > 1e-3
    assert -1 <= h[-1, "kernel_alignment_centered"] <= 1
    # the recorder took W0 at on_train_begin: the weights before training
    rec = dict(net.callbacks_)["DiagnosticsCallback"].recorder_
    torch.testing.assert_close(rec.params0["W0"][0], module0[0].weight.detach())


def test_every_and_ntk_every_schedule(data):
    """every=2 fills even epochs only; ntk_every=4 leaves nan in between."""
    X, y = data
    net = regressor(mlp(1), DiagnosticsCallback(X, every=2, ntk_every=4), epochs=8).fit(X, y)
    epochs = [row["epoch"] for row in net.history if "max_scaled_distance" in row]
    assert epochs == [2, 4, 6, 8]
    drift = net.history[:, "ntk_drift"]
    assert np.isnan(drift[0]) and np.isnan(drift[2])
    assert drift[1] > 0 and drift[3] > 0


def test_library_relunet_module_applies_its_input_map(data):
    """A ReLUNet (e.g. a fitted estimator's network_) is recorded like its spec."""
    X, y = data
    spec = cczg_deep(3, 16, 3)
    module = ReLUNet(spec, seed=0)
    net = regressor(module, DiagnosticsCallback(X), epochs=3)
    net.set_params(lr=0.002)
    net.fit(X, y)
    keys = set(net.history[-1])
    assert {"activation_change_0", "activation_change_1", "relative_distance_2",
            "max_scaled_distance", "pseudo_gap_mean"} <= keys


class Residual(torch.nn.Module):
    """Not a Linear/ReLU stack: a skip connection."""

    def __init__(self):
        super().__init__()
        self.inp = torch.nn.Linear(3, 16)
        self.block = torch.nn.Linear(16, 16)
        self.out = torch.nn.Linear(16, 1)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        return self.out(h + torch.relu(self.block(h)))


def test_generic_module_uses_the_ntk_path_and_says_what_it_skips(data):
    """Other modules: a warning, NTK drift and per-parameter distances, no patterns."""
    X, y = data
    torch.manual_seed(0)
    cb = DiagnosticsCallback(X, y=y)
    net = regressor(Residual(), cb, epochs=3)
    with pytest.warns(UserWarning, match="activation-pattern, pseudo-network and max scaled"):
        net.fit(X, y)
    row = net.history[-1]
    assert "activation_change_0" not in row and "pseudo_gap_mean" not in row
    assert row["ntk_drift"] > 0
    assert {"relative_distance_inp_weight", "relative_distance_block_bias",
            "sv_update_inp_weight_1", "effective_rank_inp_weight",
            "kernel_alignment"} <= set(row)
    skipped = dict(net.callbacks_)["DiagnosticsCallback"].skipped_
    assert skipped.startswith("DiagnosticsCallback: Residual")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="must name trainable 2-D"):
        regressor(Residual(), DiagnosticsCallback(X, layers=["inp.bias"])).fit(X, y)


def test_callback_params_clone_with_the_net(data):
    """skorch/sklearn get_params and clone see the constructor arguments only."""
    X, _ = data
    cb = DiagnosticsCallback(X, every=3, rows=10)
    assert set(cb.get_params()) == {"X", "every", "ntk_every", "probe", "rows", "y", "layers",
                                    "n_singular_values"}
    net = clone(regressor(mlp(), cb))
    assert net.callbacks[0].every == 3


def test_docstring_is_numpydoc_and_its_example_runs():
    import doctest

    import numpydoc.validate as numpydoc_validate

    import sklearn_overparam.integrations.skorch as module

    for target in ("DiagnosticsCallback", "DiagnosticsCallback.on_train_begin",
                   "DiagnosticsCallback.on_epoch_end", "DiagnosticsCallback.initialize"):
        errors = [c for c, _ in numpydoc_validate.validate(
            f"sklearn_overparam.integrations.skorch.{target}")["errors"]
            if c in {"GL08", "PR01", "PR02", "PR03", "PR06", "PR07", "GL03", "GL07"}]
        assert not errors, (target, errors)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(module.DiagnosticsCallback, "cb", globs={}):
        runner.run(test)
    assert runner.failures == 0
