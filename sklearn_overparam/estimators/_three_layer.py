"""[AZLL] three-layer learner: Sec. 7's practical mode and Algorithms 2 and 3."""

from __future__ import annotations

import math
from dataclasses import replace
from numbers import Integral, Real

import torch

from .._compat import Interval, StrOptions
from ..nn import azll_three_layer
from ..training import (
    Callback,
    GaussianNoise,
    GaussianSmoothing,
    IncrementObjective,
    MultiplierDecay,
    NetworkObjective,
    PerturbedCandidateIterate,
    PerturbedObjective,
    RandomSignFlips,
    RegularizedObjective,
    RowNormPenalty,
)
from ._base import BaseReLUNetwork
from ._params import INPUT_PADDING, OPTIMIZER, RUNTIME, constraints, fill_doc
from ._regressors import _RegressorMixin

ALGORITHMS = ("alg2", "alg3")


class _RecordMultiplier(Callback):
    """Adds the output multiplier ``lambda_t`` of each round to the history."""

    def __init__(self, multiplier):
        self.multiplier = multiplier

    def on_epoch_end(self, info):
        info.history.record("multiplier", self.multiplier.cpu().numpy().copy())


@fill_doc
class ThreeLayerReLURegressor(_RegressorMixin, BaseReLUNetwork):
    """Three-layer ReLU network trained on its two hidden layers ([AZLL] Sec. 4 and 7).

    The model is ``F(x) = A relu(V relu(W x + b1) + b2)`` with ``W, b1 ~ N(0, 1/m1)``,
    ``V, b2 ~ N(0, 1/m2)`` and ``A ~ N(0, output_scale**2)``. ``W`` and ``V`` train;
    ``b1``, ``b2`` and ``A`` stay at their random initial values. The loss is PyTorch's
    ``nn.MSELoss`` (no 1/2).

    Three solvers:

    - ``"sgd"`` (Sec. 7): momentum SGD on ``W`` and ``V``, batch 50, step size divided by 10
      at half the epochs, PyTorch weight decay ``alpha`` and/or the explicit regularizer
      ``lambda_w ||W||_{2,p}^p + lambda_v ||V||_F^2`` (Fig. 3 uses ``p = 4`` on the full
      first-layer ``W`` with ``alpha = 0``; ``penalty_target="increment"`` puts it on
      ``W - W^(0)`` instead, as the theory does).
    - ``"alg2"`` (Algorithm 2, the objective of eq. (4.2)): SGD on the increments
      ``W', V'`` (from 0) of ``lambda_t F(x; W^(0) + W^rho + Sigma W', V^(0) + V^rho + V' Sigma)
      + lambda_v lambda_t ||V'||_F^2 + lambda_w lambda_t^2 ||W'||_{2,p}^p``, with fresh
      Gaussian smoothing ``W^rho ~ N(0, sigma_w^2)``, ``V^rho ~ N(0, sigma_v^2)`` and random
      signs ``Sigma = diag(+-1)`` at every step, optional noisy SGD (``sgd_noise_std``),
      and weight decay by output scaling: ``n_rounds`` rounds of ``inner_steps`` steps,
      after each ``lambda <- (1 - eta_decay) lambda``. At the end one ``Sigma-hat`` and
      ``n_noise_candidates`` smoothing draws are sampled and the draw of smallest training
      loss is kept: the predictor is ``lambda_T F(x; W^(out), V^(out))`` with
      ``W^(out) = W^(0) + W^{rho,j*} + Sigma-hat W_T``, ``V^(out) = V^(0) + V^{rho,j*} +
      V_T Sigma-hat``.
    - ``"alg3"`` (Algorithm 3, eq. (6.1)): the same without the sign flips.

    Under ``"alg2"``/``"alg3"`` each step samples its batch uniformly with replacement and
    every step runs (no ``tol``, no early stopping); ``momentum``, ``batch_size`` and the step
    schedule (per round) apply as for ``"sgd"``.

    Parameters
    ----------
    n_hidden : int, default={{default}}
        Width ``m1`` of the first hidden layer.
    n_hidden2 : int or None, default={{default}}
        Width ``m2`` of the second hidden layer (default ``n_hidden``, as the theorems).
    output_scale : float, default={{default}}
        Standard deviation of the frozen output weights (``epsilon_a``; 1 in Sec. 7).
    {{input_padding}}
    solver : {"sgd", "alg2", "alg3"}, default={{default}}
        Sec. 7's practical mode, Algorithm 2 (sign flips) or Algorithm 3 (smoothing only).
    lambda_w : float, default={{default}}
        Weight ``lambda_w`` of the first-layer regularizer ``||W||_{2,p}^p``.
    lambda_v : float, default={{default}}
        Weight ``lambda_v`` of the second-layer regularizer ``||V||_F^2``.
    penalty_p : float, default={{default}}
        The exponent ``p >= 2`` of ``||W||_{2,p}^p = sum_j ||w_j||^p`` (4 in the paper;
        footnote 11 allows ``2 + alpha``).
    penalty_target : {"auto", "full", "increment"}, default={{default}}
        What the regularizer acts on under ``solver="sgd"``: the full weights (Fig. 3's
        practical reading) or the increments from initialization; ``"auto"`` is
        ``"full"``. Algorithms 2 and 3 always regularize the increments.
    sigma_w : "auto" or float, default={{default}}
        Standard deviation of the Gaussian smoothing ``W^rho``; ``"auto"`` is ``0.1 / m1``.
    sigma_v : "auto" or float, default={{default}}
        Standard deviation of ``V^rho``; ``"auto"`` is ``0.1 / m2``.
    n_rounds : int or None, default={{default}}
        Rounds ``T`` of Algorithms 2/3 (the output multiplier decays after each); ``None``
        is ``max_iter``.
    inner_steps : int or None, default={{default}}
        SGD steps per round (``T_w``); ``None`` is one epoch's worth,
        ``ceil(n_samples / batch_size)``.
    eta_decay : float or None, default={{default}}
        The decay rate of ``lambda_{t+1} = (1 - eta_decay) lambda_t``; ``None`` uses
        ``learning_rate_init`` (the paper uses the same ``eta`` for both); 0 keeps
        ``lambda = 1``.
    sgd_noise_std : float, default={{default}}
        Standard deviation of the Gaussian noise added to the increments after every step
        (noisy SGD, Algorithm 2 line 3).
    n_noise_candidates : int, default={{default}}
        Smoothing draws compared by training loss at the end (Algorithm 2 lines 7-8).
    {{optimizer}}
    {{runtime}}

    Attributes
    ----------
    {{fit_attributes}}
    n_outputs_ : int
        Number of targets ``k``.
    lambda_ : float
        The final output multiplier ``lambda_T`` (1 for ``solver="sgd"``); also
        ``output_multiplier_``.
    candidate_ : int or None
        Index ``j*`` of the chosen smoothing draw (Algorithms 2/3), else None.
    candidate_losses_ : ndarray of shape (n_noise_candidates,) or None
        Training loss of each draw (Algorithms 2/3), else None.

    See Also
    --------
    TwoLayerReLURegressor : The two-layer learner.
    ConjugateKernelRegressor : ``depth=3``: the same network with only ``A`` trained.
    NTKRegressor : ``depth=3``: its linearization in ``W`` and ``V``.

    Notes
    -----
    ``history_`` holds one row per epoch (``"sgd"``) or per round (Algorithms 2/3), with the
    multiplier of each round in ``history_["multiplier"]``. The paper's equivalence of the
    output multiplier with scaling ``W, V`` by ``sqrt(lambda)`` holds only without biases,
    so ``lambda`` is an explicit multiplier here.

    References
    ----------
    Z. Allen-Zhu, Y. Li, Y. Liang. Learning and Generalization in Overparameterized Neural
    Networks, Going Beyond Two Layers. NeurIPS 2019. Section 4 (eq. (4.2), Algorithm 2,
    Theorem 2), Section 6.1 (eq. (6.1), Algorithm 3), Section 7 and Figure 3.

    Examples
    --------
    >>> from sklearn_overparam import ThreeLayerReLURegressor
    >>> from sklearn_overparam.datasets import make_composite_sine
    >>> X, y = make_composite_sine(200, random_state=0)
    >>> reg = ThreeLayerReLURegressor(n_hidden=50, max_iter=5, tol=None, random_state=0)
    >>> reg.fit(X, y).predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints = constraints(
        INPUT_PADDING, OPTIMIZER, RUNTIME,
        n_hidden=[Interval(Integral, 1, None, closed="left")],
        n_hidden2=[Interval(Integral, 1, None, closed="left"), None],
        output_scale=[Interval(Real, 0, None, closed="neither")],
        solver=[StrOptions({"sgd", *ALGORITHMS})],
        lambda_w=[Interval(Real, 0, None, closed="left")],
        lambda_v=[Interval(Real, 0, None, closed="left")],
        penalty_p=[Interval(Real, 2, None, closed="left")],
        penalty_target=[StrOptions({"auto", "full", "increment"})],
        sigma_w=[StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        sigma_v=[StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        n_rounds=[Interval(Integral, 1, None, closed="left"), None],
        inner_steps=[Interval(Integral, 1, None, closed="left"), None],
        eta_decay=[Interval(Real, 0, 1, closed="left"), None],
        sgd_noise_std=[Interval(Real, 0, None, closed="left")],
        n_noise_candidates=[Interval(Integral, 1, None, closed="left")],
    )

    def __init__(
        self,
        n_hidden=1000,
        *,
        n_hidden2=None,
        output_scale=1.0,
        input_padding="half",
        solver="sgd",
        lambda_w=0.0,
        lambda_v=0.0,
        penalty_p=4.0,
        penalty_target="auto",
        sigma_w="auto",
        sigma_v="auto",
        n_rounds=None,
        inner_steps=None,
        eta_decay=None,
        sgd_noise_std=0.0,
        n_noise_candidates=10,
        learning_rate_init=0.002,
        momentum=0.9,
        batch_size=50,
        max_iter=200,
        lr_decay_epoch="half",
        lr_decay_factor=0.1,
        alpha=0.0,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        verbose=0,
        warm_start=False,
        progress_bar=False,
        callbacks=None,
        device="cpu",
        dtype="float32",
        record_every=None,
        diagnostics_X=None,
    ):
        self.n_hidden = n_hidden
        self.n_hidden2 = n_hidden2
        self.output_scale = output_scale
        self.input_padding = input_padding
        self.solver = solver
        self.lambda_w = lambda_w
        self.lambda_v = lambda_v
        self.penalty_p = penalty_p
        self.penalty_target = penalty_target
        self.sigma_w = sigma_w
        self.sigma_v = sigma_v
        self.n_rounds = n_rounds
        self.inner_steps = inner_steps
        self.eta_decay = eta_decay
        self.sgd_noise_std = sgd_noise_std
        self.n_noise_candidates = n_noise_candidates
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.lr_decay_epoch = lr_decay_epoch
        self.lr_decay_factor = lr_decay_factor
        self.alpha = alpha
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.progress_bar = progress_bar
        self.callbacks = callbacks
        self.device = device
        self.dtype = dtype
        self.record_every = record_every
        self.diagnostics_X = diagnostics_X

    def _build_spec(self, n_inputs, n_outputs):
        return azll_three_layer(n_inputs, self.n_hidden, n_outputs, n_hidden2=self.n_hidden2,
                                output_scale=self.output_scale)

    # ------------------------------------------------------------- settings
    def _settings(self, n_samples):
        settings = super()._settings(n_samples)
        if self.solver in ALGORITHMS:
            rounds = self.max_iter if self.n_rounds is None else self.n_rounds
            batch = min(self.batch_size, n_samples)
            inner = math.ceil(n_samples / batch) if self.inner_steps is None else self.inner_steps
            decay = self.lr_decay_epoch
            decay = rounds // 2 if decay == "half" else decay
            # Algorithms 2/3 run a fixed T = n_rounds * inner_steps steps, batches drawn with
            # replacement ("sample z uniformly from Z")
            settings.config = replace(settings.config, sampling="replacement", batch_size=batch,
                                      steps_per_epoch=inner, max_epochs=rounds,
                                      lr_decay_epoch=decay, tol=None)
            settings.early_stopping = False
        return settings

    def _smoothing(self, spec):
        m1, m2 = spec.layers[0].fan_out, spec.layers[1].fan_out
        sw = 0.1 / m1 if self.sigma_w == "auto" else float(self.sigma_w)
        sv = 0.1 / m2 if self.sigma_v == "auto" else float(self.sigma_v)
        return {"W0": sw, "W1": sv}

    # ------------------------------------------------------------ objective
    def _objective(self, net, settings):
        if self.solver == "sgd":
            objective = NetworkObjective(net.spec, self._loss)
            increment = self.penalty_target == "increment"
            ref = {n: net.params[n].clone() for n in ("W0", "W1")} if increment else {}
            terms = self._penalties(1.0, 1.0, ref)
            return (RegularizedObjective(objective, terms) if terms else objective), net.params
        # lambda_0 = 1; a continued fit goes on from the previous fit's lambda_T
        previous = self._resumed()
        start = 1.0 if previous is None else float(previous["lambda_"])
        lam = torch.full((net.params["W0"].shape[0],), start, dtype=net.dtype,
                         device=net.device)
        base = IncrementObjective(NetworkObjective(net.spec, self._loss, multiplier=lam),
                                  net.params)
        objective = PerturbedObjective(base, GaussianSmoothing(self._smoothing(net.spec)))
        if self.solver == "alg2":
            objective = PerturbedObjective(objective, RandomSignFlips("W0", "W1"))
        # the regularizer at the scaled point: R(sqrt(lam) W', sqrt(lam) V')
        terms = self._penalties(lam.square().clone(), lam.clone(), {})
        if terms:
            objective = RegularizedObjective(objective, terms)
        delta = {n: torch.zeros_like(net.params[n]) for n in ("W0", "W1")}
        return objective, delta

    def _penalties(self, scale_w, scale_v, reference):
        terms = []
        if self.lambda_w > 0:
            w = scale_w * self.lambda_w if torch.is_tensor(scale_w) else self.lambda_w
            terms.append(RowNormPenalty("W0", w, p=self.penalty_p,
                                        reference=reference.get("W0")))
        if self.lambda_v > 0:
            v = scale_v * self.lambda_v if torch.is_tensor(scale_v) else self.lambda_v
            terms.append(RowNormPenalty("W1", v, p=2.0, reference=reference.get("W1")))
        return terms

    def _engine_seams(self, net, settings, objective):
        if self.solver == "sgd":
            return {}
        lam = _innermost(objective).base.multiplier
        terms = getattr(objective, "terms", ())
        lambdas = {"W0": self.lambda_w, "W1": self.lambda_v}
        powers = {"W0": 2, "W1": 1}

        def rescale_penalties(m):
            for term in terms:
                term.weight.copy_(m.pow(powers[term.name]) * lambdas[term.name])

        rate = settings.config.learning_rate if self.eta_decay is None else self.eta_decay
        post = [MultiplierDecay(lam, rate, every=settings.config.steps_per_epoch,
                                on_change=rescale_penalties)]
        if self.sgd_noise_std > 0:
            post.append(GaussianNoise(("W0", "W1"), self.sgd_noise_std))
        smoothing = GaussianSmoothing(self._smoothing(net.spec))
        flips = RandomSignFlips("W0", "W1") if self.solver == "alg2" else None
        signs = {}

        def candidate(delta, rng, j):
            if flips is not None:
                if "hat" not in signs:  # one Sigma-hat shared by every candidate
                    p = delta["W0"]
                    signs["hat"] = rng.signs("selector", p.shape[1], dtype=p.dtype,
                                             device=p.device)
                delta = flips.flip(delta, signs["hat"])
            out = dict(delta)
            for name, std in smoothing.stds.items():
                p = delta[name]
                noise = rng.randn("selector", p.shape[1:], dtype=p.dtype, device=p.device)
                out[name] = p + noise.mul_(std)
            return out

        return {
            "post_updates": post,
            "selector": PerturbedCandidateIterate(self.n_noise_candidates, candidate),
            "callbacks": [_RecordMultiplier(lam)],
        }

    def _public_trained(self, attrs):
        if self.solver in ALGORITHMS:
            return None  # coefs_ hold the perturbed candidate, not the increments trained
        return super()._public_trained(attrs)

    def _snapshot_extra(self, net, objective, trained):
        if self.solver == "sgd":
            return {}
        lam = float(_innermost(objective).base.multiplier[0])
        return {"lambda_": lam, "output_multiplier_": lam * float(net.spec.output_multiplier)}

    def _final_network(self, net, objective, trained):
        if self.solver == "sgd":
            return net.params
        return _innermost(objective).point(trained)

    def _fit(self, net, Y, settings, random_state):
        self._train(net, Y, settings, random_state)

    def _store_copy(self, net, run, k=0):
        super()._store_copy(net, run, k)
        if self.solver == "sgd":
            self.lambda_, self.candidate_, self.candidate_losses_ = 1.0, None, None
            return
        lam = _innermost(run.objective).base.multiplier
        self.lambda_ = float(lam[k])
        self.output_multiplier_ = self.lambda_ * float(net.spec.output_multiplier)
        self.candidate_ = int(run.result.selector.index_[k])
        self.candidate_losses_ = run.result.selector.losses_[:, k]


def _innermost(objective):
    """The increment objective at the bottom of a wrapper chain."""
    while not isinstance(objective, IncrementObjective):
        objective = objective.base
    return objective
