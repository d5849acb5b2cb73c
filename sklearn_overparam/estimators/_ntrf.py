"""[CCZG] Neural Tangent Random Feature classifier: the deep network's linearization at init."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch

from .._compat import Interval, StrOptions
from .._torch import to_numpy, to_tensor
from ..kernels._empirical import empirical_ntk
from ..nn import backward, cczg_deep, forward
from ..training import (
    BallProjection,
    DualBallProjection,
    KernelObjective,
    LinearizedObjective,
    SGDConfig,
)
from ..training._losses import WeightedTargets
from ._base import BaseReLUNetwork, FitSettings
from ._classifiers import LR_SCALE, _ClassifierMixin
from ._ntk import linearized_chunks
from ._params import RUNTIME, constraints, fill_doc


@fill_doc
class NTRFClassifier(_ClassifierMixin, BaseReLUNetwork):
    """The Neural Tangent Random Feature model of a [CCZG] deep ReLU network (Def. 3.2).

    ``F(x) = f_{W0}(x) + sum_l <grad_{W_l} f_{W0}(x), Delta_l>``, the first-order expansion
    of the network of :class:`DeepReLUClassifier` at its random initialization ``W0``
    (the same ``W0`` for the same ``random_state``, ``width`` and ``depth``), fitted on the
    logistic loss (softmax cross-entropy for more than two classes) by projected gradient
    descent onto the per-layer balls ``||Delta_l||_F <= radius / sqrt(m)``; the class
    ``F(W0, R)`` whose best training loss is the ``epsilon_NTRF`` of Theorems 3.3 and 3.5.

    Two solvers give the same iterates (up to rounding):

    - ``"primal_pgd"``: gradient steps on ``Delta`` through hand-written Jacobian-vector
      and vector-Jacobian products at ``W0`` (no Jacobian is stored), then the projection;
      memory ``O(sum_l |W_l|)``, the choice for large ``n``.
    - ``"kernel_pgd"``: ``Delta_l = sum_i alpha_{l,i} grad_{W_l} f(x_i)``; per-layer Grams
      ``K_l`` (``n x n``), steps ``alpha_l <- alpha_l - eta g`` and the projection
      ``alpha_l <- alpha_l min(1, (R / sqrt(m)) / sqrt(alpha_l^T K_l alpha_l))``; cheaper
      per step when ``n`` is small against the number of weights.

    Parameters
    ----------
    width : int, default={{default}}
        Width ``m`` of the network's hidden layers.
    depth : int, default={{default}}
        Number of weight matrices ``L >= 2``.
    radius : float or None, default={{default}}
        ``R``: the per-layer constraint ``||Delta_l||_F <= R / sqrt(m)``; None fits the
        unconstrained linearized model.
    solver : {"primal_pgd", "kernel_pgd"}, default={{default}}
        Projected GD on ``Delta`` or on the dual coefficients.
    learning_rate : "auto" or float, default={{default}}
        Step size; ``"auto"`` is ``4 n / lambda_max(K)`` for the logistic loss (``2 n /
        lambda_max(K)`` for softmax), the inverse smoothness of the mean loss with
        ``K = sum_l K_l`` the empirical NTK Gram at ``W0``.
    max_iter : int, default={{default}}
        Number of projected gradient steps (full batch).
    include_f0 : bool, default={{default}}
        Keep ``f_{W0}(x)`` in the model (the definition); False fits the centred model.
    normalize_inputs : bool, default={{default}}
        Scale every row of ``X`` to unit norm (Assumption 3.1), at fit and predict.
    tol : float or None, default={{default}}
        Stop when the training loss has not improved by ``tol`` for ``n_iter_no_change``
        steps; None runs every step.
    n_iter_no_change : int, default={{default}}
        Patience of the ``tol`` rule.
    {{runtime}}

    Attributes
    ----------
    {{fit_attributes}}
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    increments_ : list of ndarray
        ``Delta_l`` per layer (the fitted point is ``W0 + Delta``; ``coefs_`` hold ``W0``).
    epsilon_ntrf_ : float
        Final training loss of the fit: an upper bound on ``epsilon_NTRF`` of the class.
    distance_from_init_ : ndarray of shape (depth,)
        ``sqrt(m) ||Delta_l||_F`` per layer (``<= radius``).
    learning_rate_ : float
        The step size used.

    See Also
    --------
    DeepReLUClassifier : The network itself, trained by GD or SGD.

    References
    ----------
    Z. Chen, Y. Cao, D. Zou, Q. Gu. How Much Over-parameterization Is Sufficient to Learn
    Deep ReLU Networks? ICLR 2021. Definition 3.2, Theorems 3.3 and 3.5. Y. Cao, Q. Gu.
    Generalization Bounds of Stochastic Gradient Descent for Wide and Deep Neural
    Networks. NeurIPS 2019.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from sklearn_overparam import NTRFClassifier
    >>> X, y = make_moons(100, noise=0.1, random_state=0)
    >>> clf = NTRFClassifier(width=64, radius=4.0, max_iter=50, random_state=0).fit(X, y)
    >>> bool(clf.distance_from_init_.max() <= 4.0 + 1e-6)
    True
    """

    _binary_logistic = True

    _parameter_constraints = constraints(
        RUNTIME, LR_SCALE,
        width=[Interval(Integral, 1, None, closed="left")],
        depth=[Interval(Integral, 2, None, closed="left")],
        radius=[Interval(Real, 0, None, closed="neither"), None],
        solver=[StrOptions({"primal_pgd", "kernel_pgd"})],
        learning_rate=[StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        max_iter=[Interval(Integral, 1, None, closed="left")],
        include_f0=["boolean"],
        tol=[Interval(Real, 0, None, closed="left"), None],
        n_iter_no_change=[Interval(Integral, 1, None, closed="left")],
    )

    def __init__(
        self,
        width=256,
        *,
        depth=3,
        radius=None,
        solver="primal_pgd",
        learning_rate="auto",
        max_iter=1000,
        include_f0=True,
        normalize_inputs=True,
        tol=None,
        n_iter_no_change=10,
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
        self.width = width
        self.depth = depth
        self.radius = radius
        self.solver = solver
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.include_f0 = include_f0
        self.normalize_inputs = normalize_inputs
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.progress_bar = progress_bar
        self.callbacks = callbacks
        self.device = device
        self.dtype = dtype
        self.record_every = record_every
        self.diagnostics_X = diagnostics_X

    @property
    def learning_rate_init(self):
        """The step size parameter (``learning_rate``), for the shared error messages."""
        return self.learning_rate if self.learning_rate != "auto" else float("nan")

    def _build_spec(self, n_inputs, n_outputs):
        return cczg_deep(n_inputs, self.width, self.depth, n_outputs)

    def _settings(self, n_samples):
        config = SGDConfig(learning_rate=0.0, batch_size=None, max_epochs=self.max_iter,
                           tol=self.tol, n_iter_no_change=self.n_iter_no_change)
        return FitSettings(solver=self.solver, config=config)

    def _grams(self, net):
        """Per-layer NTK Grams ``K_l`` at ``W0`` on the training inputs (float64)."""
        params0 = {n: torch.as_tensor(p) for n, p in net.initial.items()}
        names = list(net.spec.trainable_names)
        parts = empirical_ntk((net.spec, params0), net.Z, method="structured", trainable=names,
                              per_layer=True, dtype=torch.float64, device=torch.device("cpu"))
        return np.stack([np.asarray(parts[n], dtype=np.float64) for n in names])

    def _fit(self, net, Y, settings, random_state):
        if self.solver == "kernel_pgd" and not self._logistic:
            raise ValueError(
                f"solver='kernel_pgd' supports two classes (one output); got "
                f"{len(self.classes_)} classes. Use solver='primal_pgd' for more."
            )
        previous = self._resumed()
        if (previous is not None and self.solver == "kernel_pgd"
                and not np.array_equal(previous["_state_"]["inputs"], net.Z)):
            raise ValueError(
                "solver='kernel_pgd' keeps one dual coefficient per training row, so a "
                "continued fit (warm_start, partial_fit) needs the rows of the previous fit; "
                "got other inputs. Use solver='primal_pgd' to continue on new data."
            )
        self.include_f0_ = self.include_f0
        self._codes = Y
        w = net.sample_weight
        n = net.Z.shape[0] if w is None else float(np.sum(w))
        grams = self._grams(net)
        if self.learning_rate == "auto":
            K = grams.sum(axis=0)
            if w is not None:  # the weighted mean loss: sqrt(W) K sqrt(W) / sum(w)
                K = np.sqrt(w)[:, None] * K * np.sqrt(w)[None, :]
            top = float(np.linalg.eigvalsh(K)[-1])
            # the mean logistic loss is lambda_max / (4 n)-smooth (softmax: / (2 n))
            self.learning_rate_ = (4.0 if self._logistic else 2.0) * n / max(top, 1e-300)
        else:
            self.learning_rate_ = float(self.learning_rate)
        settings.config.learning_rate = self.learning_rate_
        self._grams_ = grams
        try:
            self._train(net, Y, settings, random_state)
        finally:
            del self._grams_, self._codes

    def _objective(self, net, settings):
        spec = net.spec
        if self.solver == "primal_pgd":
            delta = {n: torch.zeros_like(net.params[n]) for n in spec.trainable_names}
            return LinearizedObjective(spec, net.params, self._loss,
                                       include_f0=self.include_f0), delta
        coef = torch.zeros(1, spec.depth * net.Z.shape[0], self._n_net_outputs(None),
                           dtype=net.dtype,
                           device=net.device)
        return KernelObjective(self._loss, blocks=spec.depth, offset_column=True,
                               functional=True), {"dual_coef": coef}

    def _engine_seams(self, net, settings, objective):
        if self.radius is None:
            return {}
        r = self.radius / math.sqrt(self.width)
        if self.solver == "primal_pgd":
            zeros = {n: torch.zeros_like(net.params[n]) for n in net.spec.trainable_names}
            return {"post_updates": [BallProjection(zeros, r)]}
        grams = torch.as_tensor(self._grams_, dtype=net.dtype, device=net.device)
        return {"post_updates": [DualBallProjection(grams, r)]}

    def _engine_inputs(self, net):
        if self.solver == "kernel_pgd":
            # the engine's inputs are the per-layer Gram rows and f0 (the offset column)
            return np.concatenate([*self._grams_, self._f0(net)], axis=1)
        return net.Z

    def _f0(self, net):
        if not self.include_f0:
            return np.zeros((net.Z.shape[0], 1 if self._logistic else len(self.classes_)))
        Z = to_tensor(net.Z, dtype=torch.float64, device=torch.device("cpu"))
        params0 = {n: torch.as_tensor(p, dtype=torch.float64) for n, p in net.initial.items()}
        return to_numpy(forward(net.spec, params0, Z)[0])

    def _final_network(self, net, objective, trained):
        return None  # a linear model: the network stays at W0, the increments are apart

    def _store_copy(self, net, run, k=0):
        super()._store_copy(net, run, k)
        deltas = self._increments(net, run.result.params, k)
        self.increments_ = deltas
        self.distance_from_init_ = np.array(
            [math.sqrt(self.width) * np.linalg.norm(d) for d in deltas])
        self.epsilon_ntrf_ = float(self._training_loss(net, deltas))

    def _increments(self, net, trained, k=0):
        """``Delta_l`` (numpy) of copy ``k`` of the trained tensors (primal or dual)."""
        if self.solver == "primal_pgd":
            return [to_numpy(trained[n][k]) for n in net.spec.trainable_names]
        return self._dual_to_primal(net, trained["dual_coef"][k])

    def _public_trained(self, attrs):
        if self.solver != "primal_pgd" or "increments_" not in attrs:
            return None  # dual coefficients are not a fitted attribute
        return dict(zip(attrs["trainable_"], attrs["increments_"]))

    def _snapshot_extra(self, net, objective, trained):
        return {"increments_": [np.array(d) for d in self._increments(net, trained)]}

    def _store_state(self, net, run):
        super()._store_state(net, run)
        if self.solver == "kernel_pgd" and hasattr(self, "_state_"):
            self._state_["inputs"] = net.Z  # the rows the dual coefficients belong to

    def _dual_to_primal(self, net, coef):
        """``Delta_l = sum_i alpha_{l,i} grad_{W_l} f(x_i)``: one backward pass per layer."""
        n = net.Z.shape[0]
        params0 = {p: t[:1] for p, t in net.params.items()}
        Z = to_tensor(net.Z, dtype=net.dtype, device=net.device)
        _, hidden = forward(net.spec, params0, Z, return_hidden=True)
        out = []
        for l, name in enumerate(net.spec.trainable_names):
            alpha = coef[l * n:(l + 1) * n].unsqueeze(0)
            out.append(to_numpy(backward(net.spec, params0, hidden, alpha, [name])[name][0]))
        return out

    def _training_loss(self, net, deltas):
        params0 = {p: t[:1] for p, t in net.params.items()}
        Z = to_tensor(net.Z, dtype=net.dtype, device=net.device)
        delta = {n: to_tensor(d, dtype=net.dtype, device=net.device).unsqueeze(0)
                 for n, d in zip(net.spec.trainable_names, deltas)}
        objective = LinearizedObjective(net.spec, params0, self._loss, include_f0=self.include_f0)
        Y = self._targets_tensor(self._codes, net.dtype, net.device)
        if net.sample_weight is not None:
            Y = WeightedTargets(Y.unsqueeze(0), to_tensor(net.sample_weight[None],
                                                          dtype=net.dtype, device=net.device))
        return objective.data_loss(delta, Z, Y)[0]

    def _predict_chunks(self, Z, dtype, device):
        yield from linearized_chunks(self, Z, dtype, device, include_f0=self.include_f0_)

