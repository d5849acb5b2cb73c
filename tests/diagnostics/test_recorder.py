"""DiagnosticsRecorder: equal-length records equal to the pure functions, and its cost."""

import statistics
import time

import numpy as np
import pandas as pd
import pytest
import torch

from sklearn_overparam.datasets import make_composite_sine
from sklearn_overparam.diagnostics import (
    DiagnosticsRecorder,
    effective_rank,
    kernel_alignment,
    layerwise_activation_change,
    max_scaled_distance,
    ntk_drift,
    pseudo_network_gap,
    relative_distance_from_init,
    top_singular_values,
)
from sklearn_overparam.nn import azll_three_layer, azll_two_layer, cczg_deep, init_params
from sklearn_overparam.training import NetworkObjective, SGDConfig, train


def unit_rows(n, d, seed):
    X = np.random.default_rng(seed).standard_normal((n, d))
    return torch.as_tensor(X / np.linalg.norm(X, axis=1, keepdims=True))


def fit(spec, params, X, Y, recorder, epochs=4, lr=0.05, seeds=(0,), extra=()):
    config = SGDConfig(learning_rate=lr, batch_size=10, max_epochs=epochs, tol=None)
    train(NetworkObjective(spec, "squared"), params, X, Y, config, list(seeds),
          callbacks=[recorder, *extra])
    return params


def expected_row(spec, params, params0, X, y, k, n_sv, layer="W0"):
    """The recorder's row for copy k, from the public pure functions."""
    row = {}
    for l, v in enumerate(layerwise_activation_change(spec, params, params0, X, index=k)):
        row[f"activation_change_{l}"] = v
    gap = pseudo_network_gap(spec, params, params0, X, index=k)
    row["pseudo_gap_mean"], row["pseudo_gap_max"] = gap["mean"], gap["max"]
    weights = [n for n in spec.trainable_names if n.startswith("W")]
    for n in weights:
        row[f"relative_distance_{n[1:]}"] = relative_distance_from_init(params[n][k],
                                                                        params0[n][k])
    row["max_scaled_distance"] = max_scaled_distance(
        [params[n][k] for n in weights], [params0[n][k] for n in weights],
        width=spec.layers[0].fan_out)
    W, W0 = params[layer][k], params0[layer][k]
    for i, s in enumerate(top_singular_values(W, n_sv, W0=W0), 1):
        row[f"sv_update_{layer}_{i}"] = s
    for i, s in enumerate(top_singular_values(W, n_sv), 1):
        row[f"sv_{layer}_{i}"] = s
    zero = not torch.any(W != W0)
    row[f"effective_rank_update_{layer}"] = np.nan if zero else effective_rank(W, W0=W0)
    row[f"effective_rank_{layer}"] = effective_rank(W)
    Kt = ntk_drift((spec, params, k), (spec, params0, k), X)
    row["ntk_drift"] = Kt
    if y is not None:
        from sklearn_overparam.kernels import empirical_ntk

        K = empirical_ntk((spec, params, k), X)
        row["kernel_alignment"] = kernel_alignment(K, y)
        row["kernel_alignment_centered"] = kernel_alignment(K, y, centered=True)
    return row


@pytest.mark.parametrize("make_spec", [
    lambda: azll_three_layer(4, 24, n_hidden2=24), lambda: cczg_deep(4, 20, 3),
], ids=["azll_three_layer", "cczg_deep"])
def test_records_equal_the_pure_functions(make_spec):
    """Every recorded value of the last epoch equals the public function on the weights."""
    spec = make_spec()
    params = init_params(spec, [0], dtype=torch.float64)
    params0 = {n: t.clone() for n, t in params.items()}
    X = unit_rows(40, 4, 1)
    Y = torch.sin(3 * X[:, :1])
    rec = DiagnosticsRecorder(spec, params, X, y=Y, rows="all", probe="all", ntk_every=1,
                              n_singular_values=3)
    fit(spec, params, X, Y, rec, lr=0.02)
    records = rec.records
    assert records["epoch"] == [0, 1, 2, 3, 4]
    expected = expected_row(spec, params, params0, X, Y.numpy(), 0, 3)
    assert set(expected) | {"epoch", "copy"} == set(records)
    for key, value in expected.items():
        assert records[key][-1] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    # at init every change measure is 0 and the effective rank of the update undefined
    for key in ("activation_change_0", "pseudo_gap_max", "relative_distance_0",
                "max_scaled_distance", "ntk_drift", "sv_update_W0_1"):
        assert records[key][0] == 0.0, key
    assert np.isnan(records["effective_rank_update_W0"][0])
    assert records["ntk_drift"][-1] > 0 and records["activation_change_0"][-1] > 0


def test_records_are_equal_length_lists_and_a_dataframe():
    """One row per recorded (epoch, copy); pandas builds the table directly."""
    spec = azll_two_layer(4, 32)
    params = init_params(spec, [0, 1, 2])
    X = unit_rows(50, 4, 2).float()
    Y = X[:, :1] ** 2
    rec = DiagnosticsRecorder(spec, params, X, y=Y, every=2, ntk_every=4)
    fit(spec, params, X, Y, rec, epochs=6, seeds=(0, 1, 2))
    lengths = {len(v) for v in rec.records.values()}
    assert lengths == {12}  # epochs 0, 2, 4, 6 times 3 copies
    frame = pd.DataFrame(rec.records)
    assert list(frame["epoch"]) == [0, 0, 0, 2, 2, 2, 4, 4, 4, 6, 6, 6]
    assert list(frame["copy"]) == [0, 1, 2] * 4
    assert all(isinstance(v, float) for v in rec.records["ntk_drift"])
    # the NTK measures only at multiples of ntk_every (and at 0)
    has_ntk = frame.groupby("epoch")["ntk_drift"].apply(lambda s: s.notna().all())
    assert has_ntk.to_dict() == {0: True, 2: False, 4: True, 6: False}
    assert frame["kernel_alignment_centered"].notna().sum() == 6
    assert frame.filter(like="activation_change").notna().all().all()


def test_stacked_copies_match_the_pure_functions():
    """Each (epoch, copy) row of a stack, measured in batches of snapshots, is what the
    functions with index=k say for that epoch's weights."""
    spec = azll_two_layer(4, 40)
    params = init_params(spec, [3, 4], dtype=torch.float64)
    params0 = {n: t.clone() for n, t in params.items()}
    X = unit_rows(30, 4, 5)
    Y = X[:, :1] * 2
    rec = DiagnosticsRecorder(spec, params, X, rows="all", probe="all", ntk_every=1,
                              n_singular_values=2)
    seen = {0: {n: t.clone() for n, t in params.items()}}

    def keep(info):
        seen[info.epoch + 1] = {n: t.clone() for n, t in info.params.items()}

    fit(spec, params, X, Y, rec, epochs=3, lr=0.1, seeds=(0, 1), extra=[keep])
    frame = pd.DataFrame(rec.records)
    assert len(frame) == 8
    for (epoch, k), row in frame.set_index(["epoch", "copy"]).iterrows():
        for key, value in expected_row(spec, seen[epoch], params0, X, None, k, 2).items():
            if np.isnan(value):
                assert np.isnan(row[key]), (epoch, k, key)
            else:
                assert row[key] == pytest.approx(value, rel=1e-9, abs=1e-12), (epoch, k, key)


def test_row_subsets_and_probe():
    """``rows`` and ``probe`` pick evenly spaced rows; the measures are those of the subset."""
    spec = azll_two_layer(4, 30)
    params = init_params(spec, [0], dtype=torch.float64)
    params0 = {n: t.clone() for n, t in params.items()}
    X = unit_rows(200, 4, 6)
    rec = DiagnosticsRecorder(spec, params, X)
    assert len(rec.rows) == 64 and len(rec.probe) == 100
    assert rec.rows[0] == 0 and rec.rows[-1] == 199
    fit(spec, params, X, X[:, :1], rec, epochs=2, lr=0.1)
    sub = X[torch.as_tensor(rec.rows)]
    assert rec.records["activation_change_0"][-1] == pytest.approx(
        layerwise_activation_change(spec, params, params0, sub)[0], rel=1e-12)
    assert rec.records["ntk_drift"][0] == 0.0
    rec2 = DiagnosticsRecorder(spec, params0, X, rows=[5, 7], probe=10)
    assert list(rec2.rows) == [5, 7] and len(rec2.probe) == 10


def test_snapshots_are_copies_measured_in_batches():
    """A snapshot is not changed by later training; small pending budgets flush early;
    measure() gives the same values as the batched records."""
    spec = cczg_deep(4, 16, 3)
    params = init_params(spec, [0], dtype=torch.float64)
    X = unit_rows(20, 4, 7)
    rec = DiagnosticsRecorder(spec, params, X, max_pending_bytes=1, ntk_every=1)
    fit(spec, params, X, X[:, :1], rec, epochs=3, lr=0.01)
    assert rec._pending == []  # flushed at every snapshot
    now = rec.measure(params)
    for key, value in now.items():
        assert rec.records[key][-1] == pytest.approx(value[0], rel=1e-12, abs=1e-15), key
    lazy = DiagnosticsRecorder(spec, params, X)
    moved = {n: t.clone() for n, t in params.items()}
    lazy.snapshot(moved, 1)
    moved["W0"] += 1.0  # in-place training after the snapshot
    assert lazy.records["relative_distance_0"] == [0.0]
    assert lazy.cpu_time_ > 0 and lazy.elapsed_ > 0


def test_recorder_validation():
    spec = azll_two_layer(4, 8)
    params = init_params(spec, [0])
    X = np.ones((10, 4))
    with pytest.raises(ValueError, match="`y` must have one row per row of X"):
        DiagnosticsRecorder(spec, params, X, y=np.ones(9))
    with pytest.raises(ValueError, match="`rows` must be"):
        DiagnosticsRecorder(spec, params, X, rows=11)
    with pytest.raises(ValueError, match="`probe` must be"):
        DiagnosticsRecorder(spec, params, X, probe=[0, 10])
    with pytest.raises(ValueError, match="`layers` must name weight matrices"):
        DiagnosticsRecorder(spec, params, X, layers=["b0"])
    with pytest.raises(ValueError, match="`every` must be a positive integer"):
        DiagnosticsRecorder(spec, params, X, every=0)
    with pytest.raises(ValueError, match="one width"):
        DiagnosticsRecorder(azll_three_layer(4, 8, n_hidden2=6), init_params(
            azll_three_layer(4, 8, n_hidden2=6), [0]), X)
    with pytest.raises(ValueError, match="must have 4 features"):
        DiagnosticsRecorder(spec, params, np.ones((10, 3)))
    rec = DiagnosticsRecorder(spec, params, X, layers=[], n_singular_values=50)
    assert not any(k.startswith("sv_") for k in rec.records)
    rec = DiagnosticsRecorder(spec, params, X, layers="trainable", n_singular_values=50)
    assert "sv_W0_4" in rec.records and "sv_W0_5" not in rec.records  # min(8, 4) values


def test_recording_every_epoch_costs_at_most_a_fifth_of_the_fit():
    """Two-layer m = 1000, N = 1000, batches of 50: recording every epoch (defaults) costs
    <= 20% of the fit in CPU time (measured 12-18%; the median of 5 interleaved pairs)."""
    X, y = make_composite_sine(1000, random_state=0)
    Xt = torch.as_tensor(X, dtype=torch.float32)
    Yt = torch.as_tensor(y, dtype=torch.float32).reshape(-1, 1)
    spec = azll_two_layer(4, 1000)
    config = SGDConfig(learning_rate=0.5 / 1000, momentum=0.9, batch_size=50,
                       max_epochs=60, tol=None)

    def run(record):
        params = init_params(spec, [0])
        start = time.process_time()
        rec = DiagnosticsRecorder(spec, params, Xt, y=Yt) if record else None
        train(NetworkObjective(spec, "squared"), params, Xt, Yt, config, [0],
              callbacks=[rec] if rec else [])
        if rec:
            assert len(rec.records["epoch"]) == 61
        return time.process_time() - start, rec

    run(True)  # warm up
    # the machine's speed drifts between fits by up to 1.5x: each recorded fit is compared
    # with the plain fit run just before it, and the median of 5 such ratios is checked
    own, total = [], []
    for _ in range(5):
        plain = run(False)[0]
        seconds, rec = run(True)
        own.append(rec.cpu_time_ / plain)
        total.append(seconds / plain - 1)
    own, total = statistics.median(own), statistics.median(total)
    assert own <= 0.2, (own, total)
    # the whole run costs no more than the recorder's own time, up to the pairs' noise
    # (the same fit twice differs by up to 20% here)
    assert total <= own + 0.2, (own, total)
