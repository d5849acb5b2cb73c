"""Per-copy training rows, per-copy inputs and per-sample loss weights of the stacked engine.

The reference for every stacked run is K separate K=1 runs of the unweighted engine on each
copy's own subset ``X[rows[k]]`` (float64: they differ by rounding only, batched ``bmm``
against a K=1 ``matmul``).
"""

import numpy as np
import pytest
import torch

import sklearn_overparam.training._engine as engine
import sklearn_overparam.training._sampling as sampling
from sklearn_overparam.nn import azll_two_layer, cczg_deep, init_params
from sklearn_overparam.training import (
    BallProjection,
    LogisticLoss,
    NetworkObjective,
    SGDConfig,
    SoftmaxCrossEntropyLoss,
    SquaredLoss,
    train,
)
from sklearn_overparam.training._losses import WeightedTargets

ATOL = 1e-12


def _data(n=60, d=5, k=1, seed=0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.nn.functional.normalize(torch.randn(n, d, generator=gen, dtype=torch.float64),
                                      dim=1)
    Y = torch.sin(3 * X[:, :k]) + 0.1 * torch.randn(n, k, generator=gen, dtype=torch.float64)
    return X, Y


def _rows(n, sizes, seed=1):
    rng = np.random.default_rng(seed)
    return [np.sort(rng.choice(n, size=s, replace=False)) for s in sizes]


def _config(k_lrs, **kw):
    base = dict(learning_rate=k_lrs, momentum=0.9, weight_decay=1e-3, batch_size=10,
                max_epochs=5, tol=None)
    base.update(kw)
    return SGDConfig(**base)


def _single(spec, seed, X, Y, config, k, loss="squared", **kw):
    cfg = SGDConfig(**{**config.__dict__, "learning_rate": config.learning_rate[k]})
    p = init_params(spec, [seed], dtype=torch.float64)
    res = train(NetworkObjective(spec, loss), p, X, Y, cfg, [seed], **kw)
    return p, res


def _assert_copy_equals(stacked, res, params, p, k):
    for name in params:
        torch.testing.assert_close(params[name][k], p[name][0], rtol=0, atol=ATOL)
    np.testing.assert_allclose(stacked.history.as_dict()["loss"][:, k],
                               res.history.as_dict()["loss"][:, 0], rtol=1e-12, atol=ATOL)
    assert stacked.n_steps[k] == res.n_steps[0]
    assert stacked.n_epochs[k] == res.n_epochs[0]


@pytest.mark.parametrize(
    ("sizes", "batch_size", "sampling"),
    [
        ((40, 37, 33), 10, "shuffle"),       # same steps per epoch, ragged last batches
        ((40, 25, 31), 10, "shuffle"),       # 4, 3, 4 steps: copy 1 idles on step 4
        ((40, 25, 31), 10, "sequential"),
        ((40, 37, 33), 10, "replacement"),
        ((40, 25, 31), None, "shuffle"),     # full batch, different sizes
        ((12, 8, 30), 10, "shuffle"),        # copy 1 is one full batch, the others are not
    ],
)
def test_rows_stack_equals_separate_runs_on_subsets(sizes, batch_size, sampling):
    """Copy k with rows[k] equals a K=1 run on X[rows[k]]: weights, epoch losses, steps."""
    spec = azll_two_layer(5, 16)
    X, Y = _data()
    rows = _rows(60, sizes)
    seeds, lrs = [3, 4, 5], [0.05, 0.1, 0.02]
    config = _config(lrs, batch_size=batch_size, sampling=sampling)
    params = init_params(spec, seeds, dtype=torch.float64)
    stacked = train(NetworkObjective(spec, "squared"), params, X, Y, config, seeds, rows=rows)
    for k in range(3):
        p, res = _single(spec, seeds[k], X[rows[k]], Y[rows[k]], config, k)
        _assert_copy_equals(stacked, res, params, p, k)


def test_per_copy_inputs_and_x_index_equal_separate_runs():
    """X of shape (K, n, d), and (S, n, d) with x_index, each copy reading its own inputs."""
    spec = azll_two_layer(5, 16)
    X, Y = _data()
    Xs = torch.stack([X, X.flip(1), 2 * X])
    rows = _rows(60, (40, 37, 33))
    seeds, lrs = [0, 1, 2], [0.05, 0.1, 0.02]
    config = _config(lrs)
    params = init_params(spec, seeds, dtype=torch.float64)
    stacked = train(NetworkObjective(spec, "squared"), params, Xs, Y, config, seeds, rows=rows)
    slots = [2, 0, 2]
    params2 = init_params(spec, seeds, dtype=torch.float64)
    stacked2 = train(NetworkObjective(spec, "squared"), params2, Xs, Y, config, seeds,
                     rows=rows, x_index=slots)
    for k in range(3):
        p, res = _single(spec, seeds[k], Xs[k][rows[k]], Y[rows[k]], config, k)
        _assert_copy_equals(stacked, res, params, p, k)
        p, res = _single(spec, seeds[k], Xs[slots[k]][rows[k]], Y[rows[k]], config, k)
        _assert_copy_equals(stacked2, res, params2, p, k)
    # per-copy inputs without rows: every copy trains on all of its own X
    params3 = init_params(spec, seeds, dtype=torch.float64)
    stacked3 = train(NetworkObjective(spec, "squared"), params3, Xs, Y, config, seeds)
    for k in range(3):
        p, res = _single(spec, seeds[k], Xs[k], Y, config, k)
        _assert_copy_equals(stacked3, res, params3, p, k)


@pytest.mark.parametrize("loss", ["softmax_cross_entropy", "logistic"])
def test_rows_for_classification_losses_and_best_train_loss_iterate(loss):
    """Label targets with rows; the best-training-loss iterate is scored on the copy's rows."""
    n_out = 3 if loss == "softmax_cross_entropy" else 1
    spec = cczg_deep(5, 12, 3, n_out)
    X, _ = _data()
    labels = torch.as_tensor(np.arange(60) % 3)
    Y = labels if n_out == 3 else (2.0 * (labels > 0) - 1).to(torch.float64)
    rows = _rows(60, (40, 25, 31))
    seeds, lrs = [0, 1, 2], [0.5, 0.2, 0.3]
    for batch_size in (None, 10):
        config = _config(lrs, batch_size=batch_size, iterate="best_train_loss", momentum=0.0)
        params = init_params(spec, seeds, dtype=torch.float64)
        stacked = train(NetworkObjective(spec, loss), params, X, Y, config, seeds, rows=rows)
        for k in range(3):
            p, res = _single(spec, seeds[k], X[rows[k]], Y[rows[k]], config, k, loss=loss)
            _assert_copy_equals(stacked, res, params, p, k)
            np.testing.assert_allclose(stacked.selector.best_loss_[k],
                                       res.selector.best_loss_[0], rtol=1e-12)


def test_per_copy_sample_weights_equal_separate_weighted_runs():
    """sample_weight of shape (K, n): copy k equals a K=1 run with its own weights."""
    spec = azll_two_layer(5, 16)
    X, Y = _data()
    rng = np.random.default_rng(0)
    w = rng.uniform(0, 2, size=(3, 60))
    w[:, :7] = 0
    seeds, lrs = [0, 1, 2], [0.05, 0.1, 0.02]
    config = _config(lrs)
    params = init_params(spec, seeds, dtype=torch.float64)
    stacked = train(NetworkObjective(spec, "squared"), params, X, Y, config, seeds,
                    sample_weight=w)
    for k in range(3):
        p, res = _single(spec, seeds[k], X, Y, config, k, sample_weight=w[k])
        _assert_copy_equals(stacked, res, params, p, k)


def test_weight_zero_samples_have_no_effect():
    """Weight-0 rows: their values never enter (bitwise); full-batch GD equals dropping them."""
    spec = azll_two_layer(5, 16)
    X, Y = _data()
    w = np.ones(60)
    w[::4] = 0
    config = _config([0.05], momentum=0.9)
    a = init_params(spec, [0], dtype=torch.float64)
    res_a = train(NetworkObjective(spec, "squared"), a, X, Y, config, [0], sample_weight=w)
    X2, Y2 = X.clone(), Y.clone()
    X2[::4] *= -3.0
    Y2[::4] = 1e3
    b = init_params(spec, [0], dtype=torch.float64)
    res_b = train(NetworkObjective(spec, "squared"), b, X2, Y2, config, [0], sample_weight=w)
    assert torch.equal(a["W0"], b["W0"])
    assert np.array_equal(res_a.history.as_dict()["loss"], res_b.history.as_dict()["loss"])
    # full batch: the weighted mean over all rows is the mean over the kept rows
    gd = _config([0.2], batch_size=None)
    c = init_params(spec, [0], dtype=torch.float64)
    res_c = train(NetworkObjective(spec, "squared"), c, X, Y, gd, [0], sample_weight=w)
    keep = w > 0
    d = init_params(spec, [0], dtype=torch.float64)
    res_d = train(NetworkObjective(spec, "squared"), d, X[keep], Y[keep], gd, [0])
    torch.testing.assert_close(c["W0"], d["W0"], rtol=0, atol=ATOL)
    np.testing.assert_allclose(res_c.history.as_dict()["loss"], res_d.history.as_dict()["loss"],
                               rtol=1e-12)


def test_integer_weights_equal_repeated_samples():
    """Full-batch GD with weight 2 on a row equals the data with that row twice."""
    spec = azll_two_layer(5, 16)
    X, Y = _data()
    w = np.ones(60, dtype=int)
    w[::3] = 2
    w[1::7] = 0
    rep = torch.as_tensor(np.repeat(np.arange(60), w))
    gd = _config([0.2], batch_size=None)
    a = init_params(spec, [0], dtype=torch.float64)
    res_a = train(NetworkObjective(spec, "squared"), a, X, Y, gd, [0], sample_weight=w)
    b = init_params(spec, [0], dtype=torch.float64)
    res_b = train(NetworkObjective(spec, "squared"), b, X[rep], Y[rep], gd, [0])
    torch.testing.assert_close(a["W0"], b["W0"], rtol=0, atol=ATOL)
    np.testing.assert_allclose(res_a.history.as_dict()["loss"], res_b.history.as_dict()["loss"],
                               rtol=1e-12)


@pytest.mark.parametrize("loss", [SquaredLoss(), SoftmaxCrossEntropyLoss(), LogisticLoss()])
def test_weighted_losses_match_autograd_of_the_weighted_mean(loss):
    """value and gradient of WeightedTargets: sum_i w_i l_i / sum_i w_i (0 where all w = 0)."""
    gen = torch.Generator().manual_seed(0)
    K, n = 3, 7
    k = 3 if isinstance(loss, SoftmaxCrossEntropyLoss) else (
        2 if isinstance(loss, SquaredLoss) else 1)
    out = torch.randn(K, n, k, generator=gen, dtype=torch.float64, requires_grad=True)
    if isinstance(loss, SquaredLoss):
        y = torch.randn(K, n, k, generator=gen, dtype=torch.float64)
    elif isinstance(loss, SoftmaxCrossEntropyLoss):
        y = torch.randint(3, (K, n), generator=gen)
    else:
        y = torch.randint(2, (K, n), generator=gen).to(torch.float64) * 2 - 1
    w = torch.rand(K, n, generator=gen, dtype=torch.float64)
    w[1, 2:] = 0
    w[2] = 0  # a copy with nothing to learn on this batch
    if isinstance(loss, SquaredLoss):
        per = (out - y).square().mean(dim=2)
    elif isinstance(loss, SoftmaxCrossEntropyLoss):
        per = -torch.log_softmax(out, dim=2).gather(2, y.unsqueeze(2)).squeeze(2)
    else:
        per = torch.nn.functional.softplus(-out.squeeze(2) * y)
    denom = torch.where(w.sum(1) > 0, w.sum(1), torch.ones(K, dtype=torch.float64))
    ref = (per * w).sum(1) / denom
    ref.sum().backward()
    value, grad = loss.value_and_grad(out.detach().clone(), WeightedTargets(y, w))
    torch.testing.assert_close(value, ref.detach(), rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(grad, out.grad, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(loss.value(out.detach(), WeightedTargets(y, w)), ref.detach(),
                               rtol=1e-13, atol=1e-15)
    assert float(value[2]) == 0.0 and not grad[2].any()


def test_unweighted_path_never_builds_weighted_targets(monkeypatch):
    """sample_weight=None and rows=None keep the unweighted code path (no multiplications by
    ones), so those runs are bit for bit what they were."""
    class Boom:
        def __init__(self, *args, **kwargs):
            raise AssertionError("WeightedTargets built on the unweighted path")

        @classmethod
        def from_parts(cls, *args, **kwargs):
            cls()

    monkeypatch.setattr(engine, "WeightedTargets", Boom)
    monkeypatch.setattr(sampling, "WeightedTargets", Boom)
    spec = azll_two_layer(5, 8)
    X, Y = _data()
    train(NetworkObjective(spec, "squared"), init_params(spec, [0, 1], dtype=torch.float64), X,
          Y, _config([0.05, 0.1]), [0, 1])
    with pytest.raises(AssertionError, match="unweighted path"):
        train(NetworkObjective(spec, "squared"), init_params(spec, [0], dtype=torch.float64), X,
              Y, _config([0.05]), [0], sample_weight=np.ones(60))


def test_out_of_phase_copies_need_step_free_seams():
    """Rows giving different steps per epoch: step-indexed seams raise a ValueError."""
    spec = azll_two_layer(5, 8)
    X, Y = _data()
    rows = _rows(60, (40, 25))
    params = init_params(spec, [0, 1], dtype=torch.float64)
    objective = NetworkObjective(spec, "squared")
    with pytest.raises(ValueError, match=r"different numbers of steps per epoch \(\[3, 4\]\)"):
        train(objective, params, X, Y, _config([0.1, 0.1], iterate="uniform_random"), [0, 1],
              rows=rows)
    with pytest.raises(ValueError, match="post-updates"):
        train(objective, params, X, Y, _config([0.1, 0.1]), [0, 1], rows=rows,
              post_updates=[BallProjection({"W0": params["W0"].clone()}, 1.0)])
    with pytest.raises(ValueError, match="max_steps"):
        train(objective, params, X, Y, _config([0.1, 0.1], max_steps=5), [0, 1], rows=rows)


def test_bad_rows_weights_and_inputs_raise_clear_errors():
    spec = azll_two_layer(5, 8)
    X, Y = _data()
    objective = NetworkObjective(spec, "squared")
    cfg = _config([0.1, 0.1])

    def run(**kw):
        train(objective, init_params(spec, [0, 1], dtype=torch.float64), kw.pop("X", X), Y,
              cfg, [0, 1], **kw)

    with pytest.raises(ValueError, match=r"expected \(60,\) or \(2, 60\)"):
        run(sample_weight=np.ones(59))
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        run(sample_weight=-np.ones(60))
    with pytest.raises(ValueError, match="at least one non-zero number"):
        run(sample_weight=np.zeros(60))
    w = np.ones((2, 60))
    w[1] = 0
    with pytest.raises(ValueError, match=r"non-zero number \(network 1\)"):
        run(sample_weight=w)
    w = np.ones(60)
    w[:30] = 0
    with pytest.raises(ValueError, match=r"non-zero number \(network 0 on its rows\)"):
        run(sample_weight=w, rows=[np.arange(30), np.arange(60)])
    with pytest.raises(ValueError, match="NaN or infinity"):
        run(sample_weight=np.full(60, np.nan))
    with pytest.raises(ValueError, match="one index array per network"):
        run(rows=[np.arange(10)])
    with pytest.raises(ValueError, match="a single array"):
        run(rows=np.arange(10))
    with pytest.raises(ValueError, match=r"outside \[0, 60\)"):
        run(rows=[np.arange(10), np.arange(55, 61)])
    with pytest.raises(ValueError, match="is empty"):
        run(rows=[np.arange(10), []])
    with pytest.raises(ValueError, match="integer row indices"):
        run(rows=[np.arange(10), np.linspace(0, 1, 3)])
    with pytest.raises(ValueError, match="one slice per network"):
        run(X=torch.stack([X, X, X]))
    with pytest.raises(ValueError, match="must index the 3 input slices"):
        run(X=torch.stack([X, X, X]), x_index=[0, 3])
    with pytest.raises(ValueError, match="needs per-copy inputs"):
        run(x_index=[0, 1])


def test_batch_by_batch_gather_equals_the_epoch_gather(monkeypatch):
    """Epochs too large to gather at once are gathered per step: the same run, bit for bit."""
    spec = azll_two_layer(5, 16)
    X, Y = _data()
    Xs = torch.stack([X, 2 * X])
    rows = _rows(60, (40, 25, 31))
    seeds, config = [0, 1, 2], _config([0.05, 0.1, 0.02])
    w = np.random.default_rng(0).uniform(0, 2, size=60)
    runs = []
    for budget in (sampling.EPOCH_GATHER_BYTES, 0):
        monkeypatch.setattr(sampling, "EPOCH_GATHER_BYTES", budget)
        params = init_params(spec, seeds, dtype=torch.float64)
        res = train(NetworkObjective(spec, "squared"), params, Xs, Y, config, seeds, rows=rows,
                    x_index=[1, 0, 1], sample_weight=w)
        runs.append((params["W0"], res.history.as_dict()["loss"]))
    assert torch.equal(runs[0][0], runs[1][0])
    assert np.array_equal(runs[0][1], runs[1][1])


@pytest.mark.parametrize("sampling_mode", ["shuffle", "replacement"])
def test_shared_input_epoch_gather_equals_per_step_gather(monkeypatch, sampling_mode):
    """Shared inputs: an epoch gathered once and read by slices trains as the per-step
    gather (the fallback for epochs over the byte budget). Not bit for bit at K > 1: a
    slice's copies are strided, and the batched product rounds differently."""
    spec = azll_two_layer(5, 16)
    X, Y = _data()
    seeds = [0, 1]
    config = SGDConfig(learning_rate=[0.05, 0.1], momentum=0.9, batch_size=7, max_epochs=3,
                       tol=None, sampling=sampling_mode)
    runs = []
    for budget in (sampling.EPOCH_GATHER_BYTES, 0):
        monkeypatch.setattr(sampling, "EPOCH_GATHER_BYTES", budget)
        params = init_params(spec, seeds, dtype=torch.float64)
        res = train(NetworkObjective(spec, "squared"), params, X, Y, config, seeds)
        runs.append((params["W0"], res.history.as_dict()["loss"]))
    torch.testing.assert_close(runs[0][0], runs[1][0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-12)
