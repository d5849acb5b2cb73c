"""The stacked engine: equivalence with torch.optim, stacking, schedule, stopping, errors."""

import sys

import numpy as np
import pytest
import torch

from sklearn_overparam.nn import azll_three_layer, azll_two_layer, forward, init_params
from sklearn_overparam.training import (
    LogisticLoss,
    NetworkObjective,
    SGDConfig,
    SoftmaxCrossEntropyLoss,
    SquaredLoss,
    train,
)


def _data(n=64, d=5, k=1, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.nn.functional.normalize(torch.randn(n, d, generator=gen, dtype=dtype), dim=1)
    Y = torch.sin(3 * X[:, :k]) + 0.1 * torch.randn(n, k, generator=gen, dtype=dtype)
    return X, Y


@pytest.mark.parametrize("fuse", [False, True], ids=["separate", "fused_momentum"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("batch_size", [16, 20, None])
def test_train_matches_torch_optim_sgd(momentum, batch_size, fuse, monkeypatch):
    """Engine steps equal autograd + torch.optim.SGD (momentum, weight decay) in float64,
    with the momentum accumulated inside the gradient matmuls (every weight eligible) or
    not (none eligible)."""
    import sklearn_overparam.training._engine as engine

    monkeypatch.setattr(engine, "FUSE_MIN_ENTRIES", 0 if fuse else 2**62)
    spec = azll_three_layer(5, 12, 2).with_trainable(["W0", "b1", "W1"])
    X, Y = _data(n=50, k=2)
    params = init_params(spec, [3], dtype=torch.float64)
    ref = {k: v[0].clone().requires_grad_(k in spec.trainable) for k, v in params.items()}
    opt = torch.optim.SGD([ref[k] for k in spec.trainable_names], lr=0.05, momentum=momentum,
                          weight_decay=1e-2)
    config = SGDConfig(learning_rate=0.05, momentum=momentum, weight_decay=1e-2,
                       batch_size=batch_size, max_epochs=4, sampling="sequential", tol=None,
                       lr_decay_epoch=2, lr_decay_factor=0.1)
    train(NetworkObjective(spec, "squared"), params, X, Y, config, [0])
    bs = 50 if batch_size is None else batch_size
    for epoch in range(4):
        if epoch == 2:
            for group in opt.param_groups:
                group["lr"] *= 0.1
        for s in range(0, 50, bs):
            opt.zero_grad()
            out = forward(spec, {k: v.unsqueeze(0) for k, v in ref.items()}, X[s:s + bs])[0]
            torch.nn.functional.mse_loss(out, Y[s:s + bs]).backward()
            opt.step()
    for k in spec.param_names:
        torch.testing.assert_close(params[k][0], ref[k].detach(), rtol=1e-10, atol=1e-12)


def test_train_stack_equals_independent_runs():
    """Copy k of a K=3 stack (own seed, lr, weight decay) equals a K=1 run with its settings."""
    spec = azll_two_layer(5, 16)
    X, Y = _data()
    seeds, lrs, wds = [1, 2, 3], [0.01, 0.02, 0.05], [0.0, 1e-3, 1e-2]
    params = init_params(spec, seeds, dtype=torch.float64)
    config = SGDConfig(learning_rate=lrs, weight_decay=wds, momentum=0.9, batch_size=10,
                       max_epochs=5, tol=None)
    stacked = train(NetworkObjective(spec, "squared"), params, X, Y, config, seeds)
    for k in range(3):
        single = init_params(spec, [seeds[k]], dtype=torch.float64)
        cfg = SGDConfig(learning_rate=lrs[k], weight_decay=wds[k], momentum=0.9, batch_size=10,
                        max_epochs=5, tol=None)
        res = train(NetworkObjective(spec, "squared"), single, X, Y, cfg, [seeds[k]])
        torch.testing.assert_close(params["W0"][k], single["W0"][0], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(stacked.history.as_dict()["loss"][:, k],
                                   res.history.as_dict()["loss"][:, 0], rtol=1e-9)


def test_train_history_records_schedule_and_time():
    """The history holds one row per epoch; the step size drops by 10x at the decay epoch."""
    spec = azll_two_layer(5, 8)
    X, Y = _data()
    config = SGDConfig(learning_rate=0.1, max_epochs=6, lr_decay_epoch=3, tol=None)
    res = train(NetworkObjective(spec, "squared"), init_params(spec, [0]), X.float(), Y.float(),
                config, [0])
    h = res.history.as_dict()
    np.testing.assert_allclose(h["learning_rate"][:, 0], [0.1] * 3 + [0.01] * 3, rtol=1e-6)
    assert h["loss"].shape == (6, 1)
    assert np.all(np.diff(h["time"]) >= 0)


def test_train_tol_stops_converged_copies_only():
    """A copy whose loss stops improving stops; the others keep training."""
    spec = azll_two_layer(5, 8)
    X, Y = _data()
    config = SGDConfig(learning_rate=[0.0, 0.05], max_epochs=30, tol=1e-4, n_iter_no_change=3)
    res = train(NetworkObjective(spec, "squared"), init_params(spec, [0, 1]), X.float(),
                Y.float(), config, [0, 1])
    assert res.converged[0] and res.n_epochs[0] == 4
    assert res.n_epochs[1] > res.n_epochs[0]


def test_train_early_stopping_restores_best_weights():
    """With validation data the returned weights are those of the best validation epoch."""
    spec = azll_two_layer(5, 32)
    X, Y = _data(n=80)
    Xv, Yv = _data(n=40, seed=1)
    Yv = -Yv  # a validation target that training moves away from after a while
    params = init_params(spec, [0], dtype=torch.float64)
    config = SGDConfig(learning_rate=0.05, momentum=0.9, max_epochs=25, batch_size=16,
                       tol=1e-4, n_iter_no_change=5)
    obj = NetworkObjective(spec, "squared")
    res = train(obj, params, X, Y, config, [0], validation=(Xv, Yv))
    scores = res.history.as_dict()["validation_score"][:, 0]
    final = -obj.data_loss(params, Xv, Yv).numpy()[0]
    assert final == pytest.approx(scores.max(), rel=1e-12)
    assert scores.argmax() < len(scores) - 1


@pytest.mark.parametrize("with_validation", [False, True])
def test_train_divergence_raises_with_advice(with_validation):
    """A huge step size raises a ValueError naming the non-finite loss and the fix."""
    spec = azll_two_layer(5, 16)
    X, Y = _data(dtype=torch.float32)
    config = SGDConfig(learning_rate=1e3, momentum=0.9, max_epochs=20, tol=None)
    validation = (X[:10], Y[:10]) if with_validation else None
    with pytest.raises(ValueError, match=r"diverged.*(non-finite|exploded).*smaller learning rate"):
        train(NetworkObjective(spec, "squared"), init_params(spec, [0]), X * 100, Y * 100,
              config, [0], validation=validation)


def test_train_callback_stop_flag_and_info():
    """A callback's truthy return stops training; it sees epoch, loss and params."""
    spec = azll_two_layer(5, 8)
    X, Y = _data(dtype=torch.float32)
    seen = []

    def cb(info):
        seen.append((info.epoch, info.loss.shape, set(info.params)))
        return info.epoch == 2

    res = train(NetworkObjective(spec, "squared"), init_params(spec, [0]), X, Y,
                SGDConfig(max_epochs=10, tol=None), [0], callbacks=[cb])
    assert res.stopped_by_callback and len(res.history.loss) == 3
    assert seen[0] == (0, (1,), {"W0", "b0", "W1"})


def test_train_verbose_prints_one_line_per_epoch(capsys):
    """verbose=1 prints exactly one line per epoch; verbose=0 prints nothing."""
    spec = azll_two_layer(5, 8)
    X, Y = _data(dtype=torch.float32)
    train(NetworkObjective(spec, "squared"), init_params(spec, [0]), X, Y,
          SGDConfig(max_epochs=4, tol=None), [0], verbose=0)
    assert capsys.readouterr() == ("", "")
    train(NetworkObjective(spec, "squared"), init_params(spec, [0]), X, Y,
          SGDConfig(max_epochs=4, tol=None), [0], verbose=1)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and lines[0].startswith("Epoch 1/4, loss = ")


def test_train_uniform_random_iterate_is_a_visited_iterate():
    """iterate='uniform_random' returns one of W_0..W_{T-1}, and not always the same one."""
    spec = azll_two_layer(5, 8)
    X, Y = _data()
    chosen = set()
    for seed in range(6):
        params = init_params(spec, [seed], dtype=torch.float64)
        visited = [params["W0"][0].clone()]

        def record(info, visited=visited):
            visited.append(info.params["W0"][0].clone())

        train(NetworkObjective(spec, "squared"), params, X, Y,
              SGDConfig(learning_rate=0.05, batch_size=None, max_epochs=8, tol=None,
                        iterate="uniform_random"), [seed], callbacks=[record])
        matches = [t for t, w in enumerate(visited[:-1]) if torch.equal(w, params["W0"][0])]
        assert len(matches) == 1
        chosen.add(matches[0])
    assert len(chosen) > 1


def test_train_replacement_sampling_runs_batch_one():
    """Algorithm-1 sampling (batch 1, with replacement) makes n steps per epoch and learns."""
    spec = azll_two_layer(5, 64)
    X, Y = _data(n=40)
    params = init_params(spec, [0], dtype=torch.float64)
    obj = NetworkObjective(spec, "squared")
    before = obj.data_loss(params, X, Y).item()
    train(obj, params, X, Y, SGDConfig(learning_rate=0.02, batch_size=1, sampling="replacement",
                                       max_epochs=20, tol=None), [0])
    assert obj.data_loss(params, X, Y).item() < 0.5 * before


@pytest.mark.parametrize("loss", [SquaredLoss(), SoftmaxCrossEntropyLoss(), LogisticLoss()])
def test_loss_gradients_match_autograd(loss):
    """Each loss's hand-written output gradient equals autograd in float64."""
    gen = torch.Generator().manual_seed(0)
    k = 1 if loss.name == "logistic" else 3
    out = torch.randn(2, 7, k, generator=gen, dtype=torch.float64, requires_grad=True)
    if loss.name == "squared":
        y = torch.randn(7, k, generator=gen, dtype=torch.float64)
    elif loss.name == "logistic":
        y = torch.where(torch.rand(7, generator=gen) > 0.5, 1.0, -1.0).double()
    else:
        y = torch.randint(k, (7,), generator=gen)
    value, grad = loss.value_and_grad(out.detach().clone(), y)
    auto = torch.autograd.grad(loss.value(out, y).sum(), out)[0]
    torch.testing.assert_close(grad, auto, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(value, loss.value(out, y).detach())


def test_loss_values_match_torch_functional():
    """Loss values equal torch's mse_loss, cross_entropy and soft-margin (logistic) losses."""
    gen = torch.Generator().manual_seed(1)
    out = torch.randn(1, 9, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(4, (9,), generator=gen)
    ce = torch.nn.functional.cross_entropy(out[0], y)
    assert SoftmaxCrossEntropyLoss().value(out, y)[0].item() == pytest.approx(ce.item())
    yr = torch.randn(9, 4, generator=gen, dtype=torch.float64)
    mse = torch.nn.functional.mse_loss(out[0], yr)
    assert SquaredLoss().value(out, yr)[0].item() == pytest.approx(mse.item())
    ys = torch.where(y > 1, 1.0, -1.0).double()
    sm = torch.nn.functional.soft_margin_loss(out[0, :, 0], ys)
    assert LogisticLoss().value(out[:, :, :1], ys)[0].item() == pytest.approx(sm.item())


def test_tqdm_imported_only_for_progress_bar(monkeypatch):
    """Training without progress_bar never imports tqdm; with it, tqdm is required."""
    spec = azll_two_layer(3, 4)
    X, Y = torch.randn(10, 3), torch.randn(10, 1)
    for mod in ("tqdm", "tqdm.auto"):
        monkeypatch.setitem(sys.modules, mod, None)  # any import of tqdm now fails
    train(NetworkObjective(spec, "squared"), init_params(spec, [0]), X, Y,
          SGDConfig(max_epochs=2, tol=None), [0])
    with pytest.raises(ImportError):
        train(NetworkObjective(spec, "squared"), init_params(spec, [0]), X, Y,
              SGDConfig(max_epochs=2, tol=None), [0], progress_bar=True)


@pytest.mark.parametrize("trainable", [["W0"], ["W0", "W1"], "all"])
def test_linearized_forward_matches_torch_func_jvp(trainable):
    """f_lin equals f(theta0) + jvp of the network in direction D (float64, torch.func)."""
    from sklearn_overparam.training import LinearizedObjective, linearized_forward

    spec = azll_three_layer(5, 7, 2, n_hidden2=6).with_trainable(trainable)
    spec = spec.with_output_multiplier(1.7)
    params0 = init_params(spec, [0, 1], dtype=torch.float64)
    gen = torch.Generator().manual_seed(2)
    delta = {n: 0.1 * torch.randn(params0[n].shape, generator=gen, dtype=torch.float64)
             for n in spec.trainable_names}
    X, Y = _data(n=9, k=2)
    out, _ = linearized_forward(spec, params0, delta, X)

    def f(sub):
        return forward(spec, {**params0, **sub}, X)

    sub0 = {n: params0[n] for n in spec.trainable_names}
    f0, jvp = torch.func.jvp(f, (sub0,), (delta,))
    torch.testing.assert_close(out, f0 + jvp, rtol=1e-12, atol=1e-12)
    # gradient w.r.t. D is the autograd gradient of the linear model's loss
    obj = LinearizedObjective(spec, params0, "squared")
    leaves = {n: d.clone().requires_grad_(True) for n, d in delta.items()}
    auto = torch.autograd.grad(obj.data_loss(leaves, X, Y).sum(), list(leaves.values()))
    _, mine = obj.loss_and_grads(delta, X, Y)
    for n, a in zip(leaves, auto):
        torch.testing.assert_close(mine[n], a, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sampling", ["shuffle", "sequential"])
def test_epoch_loss_is_the_mean_over_samples_with_partial_batch(sampling):
    """With a partial last batch the epoch loss still weights every sample once."""
    spec = azll_two_layer(5, 8)
    X, Y = _data(n=53)
    params = init_params(spec, [0], dtype=torch.float64)
    obj = NetworkObjective(spec, "squared")
    full = obj.data_loss(params, X, Y).item()
    res = train(obj, params, X, Y, SGDConfig(learning_rate=0.0, batch_size=10, max_epochs=1,
                                             sampling=sampling, tol=None), [0])
    assert res.history.loss[0][0] == pytest.approx(full, rel=1e-12)


def test_wrapped_objectives_never_get_the_momentum_request(monkeypatch):
    """A wrapper (here a penalty) sees the base objective's attributes, but the engine asks
    only objectives whose class declares accumulates_momentum: a penalized run is the same
    with every weight eligible for the fused momentum as with none (no double momentum)."""
    import sklearn_overparam.training._engine as engine
    from sklearn_overparam.training import RegularizedObjective, RowNormPenalty

    spec = azll_three_layer(5, 12, 2).with_trainable(["W0", "W1"])
    X, Y = _data(n=50, k=2)
    config = SGDConfig(learning_rate=0.05, momentum=0.9, batch_size=10, max_epochs=3,
                       tol=None)
    runs = []
    for threshold in (0, 2**62):
        monkeypatch.setattr(engine, "FUSE_MIN_ENTRIES", threshold)
        params = init_params(spec, [3], dtype=torch.float64)
        objective = RegularizedObjective(NetworkObjective(spec, "squared"),
                                         [RowNormPenalty("W1", 1e-3)])
        assert objective.accumulates_momentum  # delegated to the base ...
        train(objective, params, X, Y, config, [0])  # ... but never used
        runs.append(params["W1"].clone())
    torch.testing.assert_close(runs[0], runs[1], rtol=1e-12, atol=1e-14)
