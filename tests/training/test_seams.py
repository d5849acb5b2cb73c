"""Each seam of the engine against its algorithm written as a literal loop (float64)."""

import numpy as np
import pytest
import torch

from sklearn_overparam._torch import make_generator
from sklearn_overparam.nn import azll_two_layer, backward, forward, init_params
from sklearn_overparam.training import (
    BallProjection,
    BestTrainingLossIterate,
    Callback,
    GaussianSmoothing,
    KernelObjective,
    NetworkObjective,
    PerturbedObjective,
    RegularizedObjective,
    RowNormPenalty,
    SGDConfig,
    stream_seed,
    train,
)


def _data(n=40, d=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.nn.functional.normalize(torch.randn(n, d, generator=gen, dtype=torch.float64), dim=1)
    return X, torch.sin(3 * X[:, :1])


def _ref(params, spec):
    return {k: v[0].clone().requires_grad_(k in spec.trainable) for k, v in params.items()}


def _f(spec, ref, X):
    return forward(spec, {k: v.unsqueeze(0) for k, v in ref.items()}, X)[0]


def _order(seed, n, epochs):
    gen = make_generator(stream_seed(seed, "sampler"))
    return [torch.randperm(n, generator=gen) for _ in range(epochs)]


def test_streams_uniform_random_and_last_follow_one_trajectory():
    """The iterate draw has its own stream: 'uniform_random' and 'last' see the same steps."""
    spec = azll_two_layer(5, 8)
    X, Y = _data()
    runs = {}
    for iterate in ("last", "uniform_random"):
        params = init_params(spec, [4], dtype=torch.float64)
        seen = []
        cfg = SGDConfig(learning_rate=0.05, batch_size=8, max_epochs=4, tol=None,
                        iterate=iterate)
        train(NetworkObjective(spec, "squared"), params, X, Y, cfg, [4],
              callbacks=[lambda info, seen=seen: seen.append(info.params["W0"].clone())])
        runs[iterate] = seen
    for a, b in zip(runs["last"], runs["uniform_random"]):
        assert torch.equal(a, b)


def test_stream_seed_is_independent_per_purpose():
    """Each purpose of one copy seed gets its own seed, none equal to the copy seed."""
    seeds = {p: stream_seed(7, p) for p in ("sampler", "selector", "objective", "post_update")}
    assert len(set(seeds.values())) == 4 and 7 not in seeds.values()
    with pytest.raises(ValueError, match="purpose"):
        stream_seed(7, "shuffle")


def test_shuffle_order_is_the_sampler_stream():
    """Minibatch SGD with shuffling equals a literal loop over the sampler stream's permutations."""
    spec = azll_two_layer(5, 8)
    X, Y = _data()
    params = init_params(spec, [1], dtype=torch.float64)
    ref = _ref(params, spec)
    train(NetworkObjective(spec, "squared"), params, X, Y,
          SGDConfig(learning_rate=0.1, batch_size=16, max_epochs=3, tol=None), [9])
    for perm in _order(9, 40, 3):
        for s in range(0, 40, 16):
            i = perm[s:s + 16]
            loss = torch.nn.functional.mse_loss(_f(spec, ref, X[i]), Y[i])
            (g,) = torch.autograd.grad(loss, ref["W0"])
            ref["W0"] = (ref["W0"] - 0.1 * g).detach().requires_grad_(True)
    torch.testing.assert_close(params["W0"][0], ref["W0"].detach(), rtol=1e-12, atol=1e-14)


def test_kernel_objective_trains_dual_coefficients_without_a_spec():
    """A kernel model over dual coefficients is trainable: equals literal full-batch GD on c."""
    X, Y = _data(n=30)
    K = (X @ X.T + 1) ** 2
    params = {"dual_coef": torch.zeros(2, 30, 1, dtype=torch.float64)}
    train(KernelObjective("squared"), params, K, Y,
          SGDConfig(learning_rate=[1e-3, 2e-3], batch_size=None, max_epochs=20, tol=None), [0, 1])
    for k, lr in enumerate((1e-3, 2e-3)):
        c = torch.zeros(30, 1, dtype=torch.float64)
        for _ in range(20):
            c = c - lr * K.T @ (2 * (K @ c - Y) / 30)
        torch.testing.assert_close(params["dual_coef"][k], c, rtol=1e-12, atol=1e-14)


def test_regularized_objective_adds_row_norm_penalty_on_the_increment():
    """RowNormPenalty(p=4, reference=W0) adds lambda ||W - W0||_{2,4}^4: equals autograd GD."""
    spec = azll_two_layer(5, 8)
    X, Y = _data()
    params = init_params(spec, [2], dtype=torch.float64)
    W0 = params["W0"].clone()
    ref = _ref(params, spec)
    obj = RegularizedObjective(NetworkObjective(spec, "squared"),
                               [RowNormPenalty("W0", 0.5, p=4, reference=W0)])
    train(obj, params, X, Y, SGDConfig(learning_rate=0.1, batch_size=None, max_epochs=10,
                                       tol=None), [0])
    for _ in range(10):
        inc = ref["W0"] - W0[0]
        loss = (torch.nn.functional.mse_loss(_f(spec, ref, X), Y)
                + 0.5 * (inc.square().sum(1) ** 2).sum())
        (g,) = torch.autograd.grad(loss, ref["W0"])
        ref["W0"] = (ref["W0"] - 0.1 * g).detach().requires_grad_(True)
    torch.testing.assert_close(params["W0"][0], ref["W0"].detach(), rtol=1e-12, atol=1e-14)


def test_perturbed_objective_smooths_with_its_own_stream():
    """GaussianSmoothing takes each gradient at W + rho (fresh rho per step, objective stream)
    and leaves the shuffle order of the unperturbed run unchanged."""
    spec = azll_two_layer(5, 8)
    X, Y = _data()
    params = init_params(spec, [3], dtype=torch.float64)
    ref = _ref(params, spec)
    obj = PerturbedObjective(NetworkObjective(spec, "squared"), GaussianSmoothing({"W0": 0.05}))
    train(obj, params, X, Y, SGDConfig(learning_rate=0.1, batch_size=20, max_epochs=2,
                                       tol=None), [5])
    noise = make_generator(stream_seed(5, "objective"))
    for perm in _order(5, 40, 2):
        for s in range(0, 40, 20):
            i = perm[s:s + 20]
            rho = torch.randn(8, 5, generator=noise, dtype=torch.float64) * 0.05
            pert = dict(ref, W0=ref["W0"] + rho)
            loss = torch.nn.functional.mse_loss(_f(spec, pert, X[i]), Y[i])
            (g,) = torch.autograd.grad(loss, ref["W0"])
            ref["W0"] = (ref["W0"] - 0.1 * g).detach().requires_grad_(True)
    torch.testing.assert_close(params["W0"][0], ref["W0"].detach(), rtol=1e-12, atol=1e-14)


def test_ball_projection_is_projected_gradient_descent():
    """BallProjection after every step equals literal projected GD onto ||W - W0||_F <= R."""
    spec = azll_two_layer(5, 8)
    X, Y = _data()
    params = init_params(spec, [0, 1], dtype=torch.float64)
    W0 = params["W0"].clone()
    proj = BallProjection({"W0": W0}, 0.05)
    train(NetworkObjective(spec, "squared"), params, X, Y,
          SGDConfig(learning_rate=0.5, batch_size=None, max_epochs=15, tol=None), [0, 1],
          post_updates=[proj])
    for k in range(2):
        ref = {n: v[k].clone().requires_grad_(n == "W0") for n, v in init_params(
            spec, [0, 1], dtype=torch.float64).items()}
        for _ in range(15):
            loss = torch.nn.functional.mse_loss(_f(spec, ref, X), Y)
            (g,) = torch.autograd.grad(loss, ref["W0"])
            W = (ref["W0"] - 0.5 * g).detach()
            d = W - W0[k]
            W = W0[k] + d * min(1.0, 0.05 / float(d.norm()))
            ref["W0"] = W.requires_grad_(True)
        torch.testing.assert_close(params["W0"][k], ref["W0"].detach(), rtol=1e-12, atol=1e-14)
        assert float((params["W0"][k] - W0[k]).norm()) <= 0.05 * (1 + 1e-12)


def test_best_training_loss_iterate_is_the_argmin_over_gd_iterates():
    """BestTrainingLossIterate returns argmin_t L_S(W_t) over t = 0..T, with its loss."""
    spec = azll_two_layer(5, 8)
    X, Y = _data()
    params = init_params(spec, [0], dtype=torch.float64)
    ref = _ref(params, spec)
    selector = BestTrainingLossIterate()
    lr = 1.5  # large enough that GD oscillates: the last iterate is not the best
    train(NetworkObjective(spec, "squared"), params, X, Y,
          SGDConfig(learning_rate=lr, batch_size=None, max_epochs=12, tol=None), [0],
          selector=selector)
    iterates, losses = [], []
    for _ in range(13):
        loss = torch.nn.functional.mse_loss(_f(spec, ref, X), Y)
        iterates.append(ref["W0"].detach().clone())
        losses.append(float(loss.detach()))
        (g,) = torch.autograd.grad(loss, ref["W0"])
        ref["W0"] = (ref["W0"] - lr * g).detach().requires_grad_(True)
    best = int(np.argmin(losses))
    assert best != 12, losses
    torch.testing.assert_close(params["W0"][0], iterates[best], rtol=1e-12, atol=1e-14)
    assert selector.best_loss_[0] == pytest.approx(losses[best], rel=1e-10)


def test_step_callback_sees_every_step_and_records_history():
    """on_step_end runs after each update with the batch losses; History.record adds a row."""
    spec = azll_two_layer(5, 8)
    X, Y = _data()

    class Recorder(Callback):
        def __init__(self):
            self.steps, self.values = [], []

        def on_step_end(self, params, value, ctx):
            self.steps.append((ctx.epoch, ctx.step))
            self.values.append(value.clone())

        def on_epoch_end(self, info):
            info.history.record("w_norm", info.params["W0"].flatten(1).norm(dim=1).numpy())

    rec = Recorder()
    res = train(NetworkObjective(spec, "squared"), init_params(spec, [0], dtype=torch.float64),
                X, Y, SGDConfig(learning_rate=0.05, batch_size=10, max_epochs=3, tol=None), [0],
                callbacks=[rec])
    assert rec.steps == [(e, 4 * e + s) for e in range(3) for s in range(4)]
    losses = res.history.as_dict()["loss"][:, 0]
    np.testing.assert_allclose(losses, [float(sum(v for v in rec.values[4 * e:4 * e + 4])) / 4
                                        for e in range(3)], rtol=1e-12)
    assert res.history.as_dict()["w_norm"].shape == (3, 1)


def test_per_copy_multiplier_gradient_matches_autograd():
    """forward/backward with a (K,) output multiplier equal float64 autograd."""
    spec = azll_two_layer(5, 8, 2).with_trainable(["W0", "b0", "W1"])
    X, _ = _data(n=12)
    params = init_params(spec, [0, 1], dtype=torch.float64)
    mult = torch.tensor([0.5, 2.0], dtype=torch.float64)
    out, hidden = forward(spec, params, X, return_hidden=True, multiplier=mult)
    g_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(0),
                        dtype=torch.float64)
    grads = backward(spec, params, hidden, g_out, multiplier=mult)
    leaf = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    ref_out = forward(spec, leaf, X) * mult.view(-1, 1, 1)
    torch.testing.assert_close(out, ref_out.detach())
    auto = torch.autograd.grad((ref_out * g_out).sum(), [leaf[n] for n in spec.trainable_names])
    for name, g in zip(spec.trainable_names, auto):
        torch.testing.assert_close(grads[name], g, rtol=1e-12, atol=1e-14)


def test_sgd_update_per_copy_momentum_matches_torch_optim():
    """A per-copy momentum (and weight decay) equals torch.optim.SGD run per copy."""
    spec = azll_two_layer(5, 8)
    X, Y = _data()
    params = init_params(spec, [0, 1], dtype=torch.float64)
    train(NetworkObjective(spec, "squared"), params, X, Y,
          SGDConfig(learning_rate=0.05, momentum=[0.0, 0.9], weight_decay=[1e-2, 0.0],
                    batch_size=None, max_epochs=6, tol=None), [0, 1])
    for k, (mom, wd) in enumerate(((0.0, 1e-2), (0.9, 0.0))):
        ref = {n: v[k].clone().requires_grad_(n == "W0") for n, v in init_params(
            spec, [0, 1], dtype=torch.float64).items()}
        opt = torch.optim.SGD([ref["W0"]], lr=0.05, momentum=mom, weight_decay=wd)
        for _ in range(6):
            opt.zero_grad()
            torch.nn.functional.mse_loss(_f(spec, ref, X), Y).backward()
            opt.step()
        torch.testing.assert_close(params["W0"][k], ref["W0"].detach(), rtol=1e-12, atol=1e-14)


def test_mark_divergence_stops_only_the_diverging_copy():
    """on_divergence='mark' stops a diverging copy and trains the others to the end."""
    spec = azll_two_layer(5, 16)
    X, Y = _data()
    res = train(NetworkObjective(spec, "squared"), init_params(spec, [0, 1]), X.float() * 100,
                Y.float() * 100, SGDConfig(learning_rate=[1e3, 1e-6], max_epochs=6, tol=None),
                [0, 1], on_divergence="mark")
    assert res.diverged.tolist() == [True, False]
    assert res.n_epochs[1] == 6 and res.n_epochs[0] < 6


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_weights_turned_non_finite_after_the_last_step_mark_the_copy_diverged(value):
    """The epoch-end check reads the weights, not only the loss: a non-finite entry put in
    copy 1 after the epoch's last step (its epoch loss is finite) marks that copy alone."""
    spec = azll_two_layer(5, 16)
    X, Y = _data(n=32)

    class Poison:
        def apply_(self, params, ctx):
            if ctx.step == 1:  # the last step of epoch 0 (batch 16 of 32 rows)
                params["W0"][1, 3, 2] = value

    res = train(NetworkObjective(spec, "squared"), init_params(spec, [0, 1, 2]), X.float(),
                Y.float(), SGDConfig(learning_rate=1e-3, batch_size=16, max_epochs=3, tol=None),
                [0, 1, 2], post_updates=[Poison()], on_divergence="mark")
    assert np.isfinite(res.history.loss[0]).all()
    assert res.diverged.tolist() == [False, True, False]
    assert res.n_epochs.tolist() == [3, 1, 3]
