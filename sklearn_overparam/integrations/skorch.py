"""A skorch callback recording the lazy-training diagnostics in ``net.history``.

Requires skorch (``pip install skorch``). Plain ``torch.nn.Sequential`` stacks of
``Linear`` and ``ReLU`` layers (and the library's :class:`~sklearn_overparam.nn.ReLUNet`)
get every diagnostic of :class:`~sklearn_overparam.diagnostics.DiagnosticsRecorder`; any
other module gets the ones that need no layer structure (empirical NTK drift and
alignment, distances and spectra of its parameters).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

try:
    from skorch.callbacks import Callback
except ImportError as exc:  # pragma: no cover - exercised only without skorch
    raise ImportError(
        "sklearn_overparam.integrations.skorch needs skorch; install it with "
        "`pip install skorch` (or `pip install sklearn-overparam[skorch]`)."
    ) from exc

from ..diagnostics import DiagnosticsRecorder
from ..diagnostics._kernel import relative_frobenius
from ..diagnostics._recorder import DEFAULT_PROBE, _alignment, _entropy_ranks, _row_indices
from ..kernels import empirical_ntk
from ..nn import ReLUNet, ReLUNetSpec

__all__ = ["DiagnosticsCallback"]


def _linear_relu_layers(module):
    """The ``Linear`` layers of a ``Sequential`` ``Linear, ReLU, ..., Linear``, else None."""
    if not isinstance(module, torch.nn.Sequential):
        return None
    mods = []

    def flatten(seq):
        for child in seq:
            if isinstance(child, torch.nn.Sequential):
                flatten(child)
            elif not isinstance(child, torch.nn.Identity):
                mods.append(child)

    flatten(module)
    if not mods or len(mods) % 2 == 0:
        return None
    for i, mod in enumerate(mods):
        want = torch.nn.Linear if i % 2 == 0 else torch.nn.ReLU
        if type(mod) is not want:
            return None
    return mods[::2]


def _structured(module):
    """``(spec, live_params, input_map)`` for a library-shaped module, else None."""
    if isinstance(module, ReLUNet):
        def live_library():
            return {n: t.detach() for n, t in module.stacked_params().items()}

        return module.spec, live_library, module.input_map
    layers = _linear_relu_layers(module)
    if layers is None:
        return None
    names, trainable = [], []
    for l, lin in enumerate(layers):
        names.append((f"W{l}", lin.weight))
        if lin.bias is not None:
            names.append((f"b{l}", lin.bias))
    trainable = [n for n, p in names if p.requires_grad]
    spec = ReLUNetSpec.from_shapes(
        [tuple(lin.weight.shape) for lin in layers], [lin.bias is not None for lin in layers],
        trainable=trainable, name="sequential")

    def live():
        return {n: p.detach().unsqueeze(0) for n, p in names}

    return spec, live, None


class DiagnosticsCallback(Callback):
    """Record the lazy-training diagnostics of a skorch network in ``net.history``.

    The initial weights ``W^(0)`` are taken at the start of every ``fit`` (skorch's
    ``on_train_begin``); after every ``every``-th epoch the diagnostics of the current
    weights are appended to that epoch's history row, so ``net.history[:,
    "activation_change_0"]`` is the curve of [LL] Figure 1(b).

    Parameters
    ----------
    X : array-like of shape (n, d)
        Reference inputs, as the module takes them (e.g. the training or the test set).
    every : int, default=1
        Record after every ``every``-th epoch.
    ntk_every : int, default=1
        Compute the empirical-NTK measures at the recorded epochs that are multiples of
        ``ntk_every`` (``nan`` otherwise).
    probe : int, array-like of int or "all", default=None
        Rows of ``X`` of the empirical NTK: a count (evenly spaced) or indices; ``None``:
        ``min(100, n)`` rows.
    rows : int, array-like of int or "all", default=None
        Rows of ``X`` of the activation-pattern and pseudo-network measures, as ``probe``;
        ``None``: ``min(64, n)`` rows.
    y : array-like of shape (n,) or (n, k), default=None
        Numeric targets of ``X`` (one-hot or +-1 codes for classes); when given, the
        kernel-target alignment of the NTK is recorded.
    layers : None, "trainable", or list, default=None
        Weight matrices whose spectra are recorded: for a ``Linear``/``ReLU`` stack the
        names ``"W0"``, ``"W1"``, ... (the ``l``-th ``Linear``) or indices; for another
        module parameter names from ``named_parameters()``. ``None``: the first trainable
        weight matrix; ``[]``: none.
    n_singular_values : int, default=5
        How many top singular values of ``W`` and ``W - W^(0)`` to record per layer.

    Attributes
    ----------
    recorder_ : DiagnosticsRecorder or None
        The recorder of a ``Linear``/``ReLU`` stack or ``ReLUNet`` (None for other modules).
    skipped_ : str or None
        Why the layer-wise measures are skipped (other modules), else None.

    See Also
    --------
    sklearn_overparam.diagnostics.DiagnosticsRecorder : The same diagnostics as an engine
        callback.

    Notes
    -----
    The history keys are those of ``DiagnosticsRecorder.records`` (without ``"epoch"``
    and ``"copy"``): ``activation_change_{l}``, ``pseudo_gap_mean``, ``pseudo_gap_max``,
    ``relative_distance_{l}``, ``max_scaled_distance``, ``sv_update_W{l}_{i}``,
    ``sv_W{l}_{i}``, ``effective_rank_update_W{l}``, ``effective_rank_W{l}``,
    ``ntk_drift`` and, with ``y``, ``kernel_alignment`` and ``kernel_alignment_centered``.
    For any other module (convolutions, normalization, residual blocks, ...) ReLU
    patterns have no layer-wise meaning here: a ``UserWarning`` says so, and the callback
    records ``ntk_drift`` (and the alignments) from the generic Jacobian path of
    :func:`~sklearn_overparam.kernels.empirical_ntk`, ``relative_distance_{name}`` per
    trainable parameter (dots in names become underscores), and the spectra of the chosen
    2-D parameters. Measurements run in ``eval()`` mode and restore the module's mode.
    ``partial_fit`` and ``warm_start`` fits take a new ``W^(0)`` at their start. skorch's
    ``PrintLog`` runs after this callback and prints every recorded key with
    ``verbose=1``; hide them with ``callbacks__print_log__keys_ignored=[...]``.

    References
    ----------
    [LL] Sec. 7, Figures 1-2 (coupling, distance, spectra); [AZLL] Sec. 6 and Appendix B
    (pseudo networks); [CCZG] Theorem 3.3 (distance from init).

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skorch import NeuralNetRegressor
    >>> from sklearn_overparam.integrations.skorch import DiagnosticsCallback
    >>> X = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    >>> y = (X[:, :1] ** 2).astype(np.float32)
    >>> module = torch.nn.Sequential(torch.nn.Linear(3, 32), torch.nn.ReLU(),
    ...                              torch.nn.Linear(32, 1))
    >>> net = NeuralNetRegressor(module, max_epochs=3, lr=0.05, train_split=None,
    ...                          verbose=0, callbacks=[DiagnosticsCallback(X)])
    >>> _ = net.fit(X, y)
    >>> len(net.history[:, "activation_change_0"])
    3
    """

    def __init__(self, X, *, every=1, ntk_every=1, probe=None, rows=None, y=None, layers=None,
                 n_singular_values=5):
        self.X = X
        self.every = every
        self.ntk_every = ntk_every
        self.probe = probe
        self.rows = rows
        self.y = y
        self.layers = layers
        self.n_singular_values = n_singular_values

    def initialize(self):
        """Reset the state of a previous fit.

        Returns
        -------
        self : DiagnosticsCallback
            The callback, reset.
        """
        self.recorder_ = None
        self.skipped_ = None
        self.live_ = None
        self.generic_ = None
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Take ``W^(0)`` of ``net.module_`` and precompute the initial measures.

        Parameters
        ----------
        net : skorch.NeuralNet
            The network being fitted.
        X : array-like, default=None
            The training inputs (unused: the callback's own ``X`` is measured).
        y : array-like, default=None
            The training targets (unused).
        **kwargs : dict
            Other skorch hook arguments (unused).
        """
        module = net.module_
        ref = next(iter(module.parameters()))
        Xt = torch.as_tensor(np.asarray(self.X), dtype=ref.dtype, device=ref.device)
        structured = _structured(module)
        with torch.no_grad():
            if structured is not None:
                spec, live, input_map = structured
                if input_map is not None:
                    Xt = input_map(Xt)
                self.live_ = live
                self.recorder_ = DiagnosticsRecorder(
                    spec, live(), Xt, every=1, ntk_every=self.ntk_every, probe=self.probe,
                    rows=self.rows, y=self.y, layers=self.layers,
                    n_singular_values=self.n_singular_values, record_init=False)
                self.skipped_ = None
                return
        self.skipped_ = (
            f"DiagnosticsCallback: {type(module).__name__} is not a torch.nn.Sequential of "
            "Linear and ReLU layers, so the activation-pattern, pseudo-network and max "
            "scaled distance measures are skipped; recording the empirical-NTK drift (generic "
            "Jacobian path) and the distances and spectra of its parameters."
        )
        warnings.warn(self.skipped_, UserWarning, stacklevel=2)
        self.generic_ = _GenericTracker(module, Xt, self)

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Append the diagnostics of the current weights to this epoch's history row.

        Parameters
        ----------
        net : skorch.NeuralNet
            The network being fitted.
        dataset_train : Dataset, default=None
            The training data (unused).
        dataset_valid : Dataset, default=None
            The validation data (unused).
        **kwargs : dict
            Other skorch hook arguments (unused).
        """
        epoch = len(net.history)
        if epoch % self.every:
            return
        ntk = epoch % self.ntk_every == 0
        module = net.module_
        training = module.training
        module.eval()
        try:
            if self.recorder_ is not None:
                values = {k: float(v[0]) for k, v in
                          self.recorder_.measure(self.live_(), ntk=ntk).items()}
            else:
                values = self.generic_.measure(ntk)
        finally:
            module.train(training)
        for key, value in values.items():
            net.history.record(key, value)


class _GenericTracker:
    """Diagnostics of an arbitrary module: NTK drift/alignment, distances, spectra."""

    def __init__(self, module, Xt, cb):
        self.module = module
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self.names = [n for n, _ in named]
        self.params0 = {n: p.detach().clone() for n, p in named}
        n = Xt.shape[0]
        self.probe = _row_indices(cb.probe, n, "probe", DEFAULT_PROBE)
        self.X_probe = Xt[torch.as_tensor(self.probe, device=Xt.device)].cpu().numpy()
        self.y = None if cb.y is None else np.asarray(cb.y, dtype=np.float64)[self.probe]
        if cb.layers is None:
            self.layers = [n for n, p in named if p.dim() == 2][:1]
        elif cb.layers == "trainable":
            self.layers = [n for n, p in named if p.dim() == 2]
        else:
            self.layers = list(cb.layers)
            bad = [name for name in self.layers
                   if name not in self.params0 or self.params0[name].dim() != 2]
            if bad:
                raise ValueError(
                    f"`layers` must name trainable 2-D parameters of the module "
                    f"({[n for n, p in named if p.dim() == 2]}); got {bad!r}."
                )
        self.n_sv = cb.n_singular_values
        training = module.training
        module.eval()
        try:
            self.K0 = empirical_ntk(module, self.X_probe)
        finally:
            module.train(training)

    def measure(self, ntk):
        current = dict(self.module.named_parameters())
        values = {}
        with torch.no_grad():
            for n in self.names:
                p0 = self.params0[n]
                d = float(torch.linalg.vector_norm((current[n].detach() - p0).double()))
                ref = float(torch.linalg.vector_norm(p0.double()))
                values[f"relative_distance_{n.replace('.', '_')}"] = (
                    d / ref if ref > 0 else math.nan)
            for n in self.layers:
                W = current[n].detach()
                sv = torch.linalg.svdvals(torch.stack([W - self.params0[n], W])).double()
                sv = sv.cpu().numpy()
                ranks = _entropy_ranks(sv)
                key = n.replace(".", "_")
                for i in range(min(self.n_sv, sv.shape[1])):
                    values[f"sv_update_{key}_{i + 1}"] = float(sv[0, i])
                    values[f"sv_{key}_{i + 1}"] = float(sv[1, i])
                values[f"effective_rank_update_{key}"] = float(ranks[0])
                values[f"effective_rank_{key}"] = float(ranks[1])
        drift = align = align_c = math.nan
        if ntk:
            Kt = empirical_ntk(self.module, self.X_probe)
            drift = relative_frobenius(Kt, self.K0)
            if self.y is not None:
                align = _alignment(Kt, self.y, centered=False)
                align_c = _alignment(Kt, self.y, centered=True)
        values["ntk_drift"] = drift
        if self.y is not None:
            values["kernel_alignment"], values["kernel_alignment_centered"] = align, align_c
        return values
