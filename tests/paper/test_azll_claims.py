"""[AZLL] claims of SPEC section 11 that the two-layer estimators can check (paper tier)."""

import numpy as np
import pytest
import torch
from sklearn.utils import check_random_state

from sklearn_overparam import ConjugateKernelRegressor, NTKRegressor, TwoLayerReLURegressor
from sklearn_overparam._torch import draw_seeds
from sklearn_overparam.datasets import make_composite_sine
from sklearn_overparam.nn import (
    azll_two_layer,
    fit_half_padding_scale,
    forward,
    init_params,
    pad_half,
)
from sklearn_overparam.training import NetworkObjective, SGDConfig, train

pytestmark = pytest.mark.paper


@pytest.fixture(scope="module")
def sine():
    X, y = make_composite_sine(1000, random_state=0)
    Xt, yt = make_composite_sine(2000, random_state=1)
    return X, y, Xt, yt


def _mse(model, Xt, yt):
    return float(np.mean((model.predict(Xt) - yt) ** 2))


# [AZLL] Sec. 7 protocol of claim 5: 800 epochs, batch 50, momentum 0.9, lr/10 at half
CLAIM5_SEEDS = (0, 1, 2, 3, 4, 5)
CLAIM5_LR_CONSTANTS = (5, 10, 20)  # learning rate c / m
CLAIM5_WEIGHT_DECAYS = (0.0, 1e-4)
CLAIM5_RIDGES = 10.0 ** np.arange(-10, 2)


def _stacked_learner_mse(X, y, Xt, yt, m):
    """Test MSE of every (seed, lr, wd) learner of claim 5, trained as ONE engine call.

    Copy ``(s, c, wd)`` is the network ``TwoLayerReLURegressor(n_hidden=m,
    learning_rate_init=c / m, alpha=wd, max_iter=800, tol=None, random_state=s)`` trains:
    the init and shuffle seeds it draws from ``random_state=s``, its ``x_d = 1/2`` padding,
    hidden weights only, float32. Returns ``{(s, c, wd): mse}`` and the initial ``W0`` per
    seed.
    """
    scale = fit_half_padding_scale(X)
    Z, Zt = pad_half(X, scale), pad_half(Xt, scale)
    spec = azll_two_layer(Z.shape[1], m)
    grid = [(s, c, wd) for s in CLAIM5_SEEDS for c in CLAIM5_LR_CONSTANTS
            for wd in CLAIM5_WEIGHT_DECAYS]
    seeds = {s: draw_seeds(check_random_state(s), 2) for s in CLAIM5_SEEDS}  # [init, train]
    params = init_params(spec, [seeds[s][0] for s, _, _ in grid], dtype=torch.float32)
    initial_W0 = {s: params["W0"][i].clone() for i, (s, _, _) in enumerate(grid)}
    config = SGDConfig(learning_rate=[c / m for _, c, _ in grid],
                       weight_decay=[wd for _, _, wd in grid], momentum=0.9, batch_size=50,
                       max_epochs=800, lr_decay_epoch=400, lr_decay_factor=0.1, tol=None)
    result = train(NetworkObjective(spec, "squared"), params,
                   torch.as_tensor(Z, dtype=torch.float32),
                   torch.as_tensor(y.reshape(-1, 1), dtype=torch.float32), config,
                   [seeds[s][1] for s, _, _ in grid])
    with torch.no_grad():
        final = {k: v.double() for k, v in result.params.items()}
        out = forward(spec, final, torch.as_tensor(Zt, dtype=torch.float64))[:, :, 0].numpy()
    mse = np.mean((out - yt) ** 2, axis=1)
    return dict(zip(grid, mse.tolist())), initial_W0


@pytest.mark.parametrize(("m", "max_ratio"), [(400, 0.4), (1000, 0.65)])
def test_claim5_hidden_training_beats_conjugate_kernel_with_padding(sine, m, max_ratio):
    """Claim 5: with x_d = 1/2 padding, training W beats its conjugate kernel, over seeds.

    Per init seed s in {0, ..., 5}: the learner's best test MSE over lr in {5, 10, 20}/m x
    wd in {0, 1e-4} (800 epochs) over its conjugate kernel's (same network:
    random_state=s) best over ridges 10^{-10..1}; the mean ratio is at most 0.4 at m = 400
    and 0.65 at m = 1000. Measured means: 0.23-0.28 at m=400, 0.46-0.55 at m=1000 (per seed
    0.16-0.34 and 0.26-0.76) under two versions of the engine's shuffle streams. A float32
    copy's trajectory depends on the stack it trains in (rounding), so these are statistics
    over seeds, not any one fit.
    """
    X, y, Xt, yt = sine
    learner, initial_W0 = _stacked_learner_mse(X, y, Xt, yt, m)
    ratios = {}
    for s in CLAIM5_SEEDS:
        best_learner = min(v for (seed, _, _), v in learner.items() if seed == s)
        cks = [ConjugateKernelRegressor(n_hidden=m, alpha=a, random_state=s).fit(X, y)
               for a in CLAIM5_RIDGES]
        # the conjugate kernel's random features are the stacked learner's initial network
        np.testing.assert_array_equal(cks[0].coefs_[0], initial_W0[s].numpy())
        best_last = min(_mse(ck, Xt, yt) for ck in cks)
        ratios[s] = (best_learner / best_last, best_learner, best_last)
    mean_ratio = float(np.mean([r for r, _, _ in ratios.values()]))
    assert mean_ratio <= max_ratio, (
        f"m={m}: mean mse(2layer)/mse(2layer(last)) = {mean_ratio:.3f} > {max_ratio}; "
        "per seed (ratio, learner, last): "
        + ", ".join(f"{s}: ({r:.3f}, {a:.3f}, {b:.3f})" for s, (r, a, b) in ratios.items())
    )


def test_finite_ntk_is_weaker_than_hidden_training(sine):
    """The hidden-weight NTK of the same network (best ridge) loses to training it (SPEC 10.1).

    m = 400, the learner's best of lr in {5, 10, 20}/m at 800 epochs against the finite
    NTK's best ridge over m 10^{-6..2}.
    """
    X, y, Xt, yt = sine
    m = 400
    learner = min(
        _mse(TwoLayerReLURegressor(n_hidden=m, learning_rate_init=c / m, max_iter=800,
                                   tol=None, random_state=0).fit(X, y), Xt, yt)
        for c in (5, 10, 20)
    )
    ntk = min(
        _mse(NTKRegressor(n_hidden=m, alpha=2 * m * r / len(X), random_state=0).fit(X, y),
             Xt, yt)
        for r in 10.0 ** np.arange(-6, 3)
    )
    assert learner < 0.5 * ntk, (learner, ntk)
