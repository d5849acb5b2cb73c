"""Parameter groups as data: each parameter's constraint and docstring paragraph, once.

An estimator's ``_parameter_constraints`` is assembled from the groups it uses, and its
docstring names a group as ``{{group}}`` on a line of its own. :func:`fill_doc` renders
every parameter of the group that the docstring does not document itself, with the
``default=`` taken from the estimator's signature (so the two cannot disagree).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from numbers import Integral, Real

import torch

from .._compat import Interval, StrOptions


@dataclass(frozen=True)
class Param:
    """One constructor parameter: its constraint list, numpydoc type and description."""

    constraint: list
    type: str
    doc: str


def _p(constraint, type_, doc):
    return Param(constraint, type_, doc)


OPTIMIZER = {
    "learning_rate_init": _p(
        [Interval(Real, 0, None, closed="neither")], "float",
        "Step size ``eta`` of (momentum) SGD. The networks' tangent kernels grow like the\n"
        "width ``m``, so stable step sizes scale like ``c / m`` ([AZLL] Thm 1:\n"
        "``eta = Theta(1/(eps k m))``); the Sec. 7 grid is ``{1, 2, 5} x 10^-k``. The\n"
        "loss has no 1/2 (PyTorch's ``MSELoss``): this step size equals ``MLPRegressor``'s\n"
        "``learning_rate_init / 2``."),
    "momentum": _p(
        [Interval(Real, 0, 1, closed="left")], "float",
        "Heavy-ball momentum (PyTorch ``torch.optim.SGD`` semantics, dampening 0)."),
    "batch_size": _p(
        [Interval(Integral, 1, None, closed="left")], "int",
        "Minibatch size (clipped to the number of samples); the papers use 50."),
    "max_iter": _p(
        [Interval(Integral, 1, None, closed="left")], "int",
        "Number of epochs (passes over the training data)."),
    "lr_decay_epoch": _p(
        [StrOptions({"half"}), Interval(Integral, 0, None, closed="left"), None],
        '"half", int or None',
        "Epoch (0-based) from which the step size is multiplied by ``lr_decay_factor``;\n"
        '``"half"`` is ``max_iter // 2`` (Sec. 7: 800 epochs, lr / 10 at epoch 400);\n'
        "``None`` keeps it constant."),
    "lr_decay_factor": _p(
        [Interval(Real, 0, None, closed="neither")], "float",
        "Multiplier applied to the step size at ``lr_decay_epoch``."),
    "alpha": _p(
        [Interval(Real, 0, None, closed="left")], "float",
        "Weight decay, PyTorch's coupled ``weight_decay``: ``alpha * W`` is added to the\n"
        "gradient of every trained tensor (on the full weight, not the increment)."),
    "tol": _p(
        [Interval(Real, 0, None, closed="left"), None], "float or None",
        "Training stops when the loss (or the validation score with ``early_stopping``)\n"
        "has not improved by ``tol`` for ``n_iter_no_change`` consecutive epochs. ``None``\n"
        "always runs ``max_iter`` epochs (the papers' protocol) and never warns."),
    "n_iter_no_change": _p(
        [Interval(Integral, 1, None, closed="left")], "int",
        "Patience, in epochs, of the ``tol`` rule."),
    "early_stopping": _p(
        ["boolean"], "bool",
        "Hold out ``validation_fraction`` of the training data, stop when its score stops\n"
        "improving and restore the weights of the best epoch."),
    "validation_fraction": _p(
        [Interval(Real, 0, 1, closed="neither")], "float",
        "Share of the training data held out when ``early_stopping=True``."),
    "shuffle": _p(
        ["boolean"], "bool",
        "Reshuffle the training data every epoch (each network its own order)."),
}

RUNTIME = {
    "random_state": _p(
        ["random_state"], "int, RandomState instance or None",
        "Seeds the initialization, the shuffling and the validation split through local\n"
        "``torch.Generator`` objects (one stream per purpose); the global numpy and torch\n"
        "generators are never touched when an int is given. An int gives\n"
        "bitwise-identical fits on CPU."),
    "verbose": _p(
        ["verbose"], "int",
        "``>= 1`` prints one line per epoch (loss, validation score, step size, time)."),
    "warm_start": _p(
        ["boolean"], "bool",
        "Continue the previous fit's training instead of starting from a new network\n"
        "(``MLPRegressor``'s ``warm_start``): the same initialization, input map and\n"
        "training state (last iterate, momentum buffers of a ``warm_start=True`` fit,\n"
        "output multiplier of Algorithms 2/3), the step-size schedule counted in epochs\n"
        "since the first fit, and ``loss_curve_`` / ``t_`` accumulated. Each call draws\n"
        "its own shuffling order. Ignored by closed-form solvers and by a first fit."),
    "progress_bar": _p(
        ["boolean"], "bool",
        "Show a tqdm progress bar over epochs (tqdm is imported only then)."),
    "callbacks": _p(
        [list, tuple, None], "list of callable or Callback, or None",
        "Engine observers: :class:`sklearn_overparam.training.Callback` objects\n"
        "(``on_step_end``, ``on_epoch_end``) or plain callables, called after every epoch\n"
        "with an :class:`~sklearn_overparam.training.EpochInfo` (``epoch``, ``loss``,\n"
        "``validation_score``, ``learning_rate``, ``time``, live ``params``); a truthy\n"
        "return value stops training."),
    "device": _p(
        [str, torch.device], "str or torch.device",
        'Torch device for training: ``"cpu"``, ``"cuda"``, ``"cuda:<i>"``, ``"mps"``,\n'
        '``"auto"`` or a ``torch.device``. Fitted parameters are always stored on the CPU,\n'
        "so a model fitted on a GPU unpickles and predicts anywhere."),
    "dtype": _p(
        [StrOptions({"float32", "float64"})], '{"float32", "float64"}',
        "Floating-point type of the network during training."),
}

INPUT_PADDING = {
    "input_padding": _p(
        [StrOptions({"half"}), None], '{"half"} or None',
        "Input map of the [AZLL] theory (``||x|| = 1`` and ``x_d = 1/2``, Sec. 3 and\n"
        'footnote 4). ``"half"`` fits a :class:`~sklearn_overparam.HalfSpherePadding`\n'
        "(``input_map_``): the inputs are scaled so the largest training row has norm\n"
        "``sqrt(3)/2``, then ``sqrt(3/4 - ||x||^2)`` and ``1/2`` are appended, so every row\n"
        "becomes a unit vector with last coordinate 1/2 (test rows beyond the training\n"
        "radius are shrunk onto it). The bias the padded coordinate provides lets the\n"
        "network express odd harmonics that frozen biases alone cannot. The paper's\n"
        "Sec. 7 does not mention this padding; ``None`` feeds ``X`` unchanged."),
}


RIDGE_ALPHA = {
    "alpha": _p(
        [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")], '"auto" or float',
        'Regularization. With ``solver="closed_form"`` it is the ridge of the solve in\n'
        "PyTorch's weight-decay units (``n alpha / 2`` added to the Gram's diagonal, the\n"
        'stationary point of the mean squared loss plus weight decay ``alpha``); ``"auto"``\n'
        "chooses it by exact leave-one-out error over a log grid from one\n"
        "eigendecomposition (as ``RidgeCV`` does). With ``solver=\"sgd\"`` it is PyTorch's\n"
        'coupled weight decay on the trained tensors (``"auto"`` means ``1e-4`` there).\n'
        "The value used is stored as ``alpha_``."),
}


DIAGNOSTICS = {
    "record_every": _p(
        [Interval(Integral, 1, None, closed="left"), None], "int or None",
        "Record the lazy-training diagnostics every ``record_every`` epochs (and at\n"
        "initialization) into the fitted ``diagnostics_``: activation-pattern change and\n"
        "relative distance from init per layer, ``sqrt(m) max_l ||W_l - W_l0||_F``, top\n"
        "singular values and effective rank of ``W_t - W_0`` and ``W_t``, empirical-NTK\n"
        "drift and kernel-target alignment on a probe subset (at initialization and at\n"
        "epochs that are multiples of 20; ``nan`` in the other rows), and the frozen-gate\n"
        "(pseudo-network) gap (:class:`~sklearn_overparam.diagnostics.DiagnosticsRecorder`).\n"
        "None records nothing."),
    "diagnostics_X": _p(
        ["array-like", None], "array-like of shape (n_samples, n_features) or None",
        "Extra inputs (e.g. a test set) on which the diagnostics are recorded too; their\n"
        "columns in ``diagnostics_`` start with ``X_``."),
}
RUNTIME.update(DIAGNOSTICS)


def constraints(*groups, **extra) -> dict:
    """``_parameter_constraints`` from parameter groups plus estimator-specific entries."""
    out = {}
    for group in groups:
        out.update({name: p.constraint for name, p in group.items()})
    out.update(extra)
    return out


def format_default(value) -> str:
    """How numpydoc shows a default: strings double-quoted, everything else ``repr``."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


GROUPS = {"optimizer": OPTIMIZER, "runtime": RUNTIME, "input_padding": INPUT_PADDING}

FIT_ATTRIBUTES = """\
n_features_in_ : int
    Number of features seen during :term:`fit`.
feature_names_in_ : ndarray of shape (n_features_in_,)
    Names of features seen during :term:`fit`, when ``X`` has string column names.
input_map_ : HalfSpherePadding or None
    The fitted input map (``input_padding="half"``), or None: what the network sees is
    ``input_map_.transform(X)``.
coefs_ : list of ndarray
    Weight matrices after training, ``coefs_[l]`` of shape ``(fan_out, fan_in)``
    (rows are neurons, the papers' convention; scikit-learn's MLP stores the transpose).
intercepts_ : list of (ndarray or None)
    Bias vectors per layer (``None`` where the layer has no bias).
initial_coefs_ : list of ndarray
    Weight matrices at initialization, for lazy-training diagnostics.
trainable_ : tuple of str
    Names of the trained tensors (``"W0"`` is the first weight matrix, ``"b0"`` its bias).
output_multiplier_ : float
    Explicit multiplier of the network output.
n_iter_ : int
    Number of epochs run by the last call to ``fit`` or ``partial_fit``.
loss_ : float
    Training loss of the last epoch.
loss_curve_ : list of float
    Training loss per epoch (mean over the epoch's steps, weighted by ``sample_weight``),
    over every warm-started fit and ``partial_fit`` call.
validation_scores_ : list of float or None
    Validation score per epoch with ``early_stopping=True``, else None.
best_validation_score_ : float or None
    Best validation score with ``early_stopping=True``, else None.
history_ : dict of ndarray
    Per-epoch ``loss``, ``learning_rate``, ``time`` (and ``validation_score``), over the
    same epochs as ``loss_curve_``.
best_loss_ : float or None
    Smallest epoch loss of ``loss_curve_`` (the training loss of a closed-form solve);
    None with ``early_stopping=True``, as ``MLPRegressor``.
t_ : int
    Number of training samples seen by the solver (summed over epochs, warm-started
    fits and ``partial_fit`` calls; samples of zero weight are never seen).
n_layers_ : int
    Number of layers, input and output included (``MLPRegressor``'s count: the number
    of weight matrices plus one).
out_activation_ : str
    Output activation of the loss: ``"identity"`` (squared loss), ``"logistic"`` (one
    output, logistic loss) or ``"softmax"`` (softmax cross-entropy).
diagnostics_ : dict of ndarray or None
    With ``record_every``: equal-length arrays, one entry per recorded epoch
    (``pandas.DataFrame(est.diagnostics_)`` is a table); else None."""
TEXT = {"fit_attributes": FIT_ATTRIBUTES}
_PLACEHOLDER = re.compile(r"^([ \t]*)\{\{(\w+)\}\}$", flags=re.M)
_DEFAULT = re.compile(r"default=\{\{default\}\}")


def fill_doc(cls=None, *, overrides=None):
    """Class decorator: render ``{{group}}`` placeholders and ``{{default}}`` markers.

    Parameters the docstring documents itself (a line ``name : ...``) are skipped when a
    group is rendered; ``overrides`` (name to :class:`Param`) replace a group's entry in
    place (e.g. ``alpha`` as a ridge for the closed-form solvers);
    ``default={{default}}`` in a hand-written entry is replaced with the signature's
    default too.
    """
    if cls is None:
        return lambda c: fill_doc(c, overrides=overrides)
    overrides = overrides or {}
    doc = cls.__doc__
    signature = inspect.signature(cls.__init__).parameters
    documented = set(re.findall(r"^[ \t]*(\w+) : ", doc, flags=re.M))

    def render(match):
        indent, key = match.group(1), match.group(2)
        if key in TEXT:
            return "\n".join(indent + line for line in TEXT[key].splitlines())
        lines = []
        for name, param in GROUPS[key].items():
            if name in documented or name not in signature:
                continue
            documented.add(name)
            param = overrides.get(name, param)
            lines.append(f"{indent}{name} : {param.type}, "
                         f"default={format_default(signature[name].default)}")
            lines += [f"{indent}    {line}" for line in param.doc.splitlines()]
        return "\n".join(lines)

    doc = _PLACEHOLDER.sub(render, doc)

    def fill_default(match_line):
        line = match_line.group(0)
        name = re.match(r"^[ \t]*(\w+) : ", line).group(1)
        return _DEFAULT.sub(f"default={format_default(signature[name].default)}", line)

    cls.__doc__ = re.sub(r"^[ \t]*\w+ : .*default=\{\{default\}\}.*$", fill_default, doc,
                         flags=re.M)
    # groups hold more parameters than one estimator takes: keep the constraints of its own
    own = {n for n in signature if n != "self"}
    given = getattr(cls, "_parameter_constraints", None)
    if given is not None:
        missing = own - set(given)
        if missing:
            raise TypeError(f"{cls.__name__} has no constraints for {sorted(missing)}.")
        cls._parameter_constraints = {k: v for k, v in given.items() if k in own}
    return cls
