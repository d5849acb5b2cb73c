"""Docstring paragraphs shared by several estimators, written once and substituted.

A docstring names a paragraph as ``{{name}}`` on a line of its own; :func:`fill_doc`
replaces it with the text below, indented like the placeholder.
"""

from __future__ import annotations

import re

SHARED = {
    "input_padding": """\
input_padding : {{"half"}} or None, default="half"
    Input map of the [AZLL] theory (``||x|| = 1`` and ``x_d = 1/2``, SPEC 1.1).
    ``"half"`` scales the inputs so the largest training row has norm ``sqrt(3)/2``
    (``input_scale_``), then appends ``sqrt(3/4 - ||x||^2)`` and ``1/2``: every row
    becomes a unit vector with last coordinate 1/2, for any finite ``X`` (test rows
    beyond the training radius are shrunk onto it). The bias the padded coordinate
    provides lets the network express odd harmonics that frozen biases alone cannot
    (SPEC 1.1 calibration warning). The paper's Sec. 7 does not mention this padding;
    ``None`` feeds ``X`` unchanged.""",
    "sgd_params": """\
learning_rate_init : float, default={lr_default}
    Step size ``eta`` of (momentum) SGD. The networks' tangent kernels grow like the
    width ``m``, so stable step sizes scale like ``c / m`` ([AZLL] Thm 1:
    ``eta = Theta(1/(eps k m))``); the Sec. 7 grid is ``{{1, 2, 5}} x 10^-k``.
momentum : float, default=0.9
    Heavy-ball momentum (PyTorch ``torch.optim.SGD`` semantics, dampening 0).
batch_size : int, default=50
    Minibatch size (clipped to the number of samples); the papers use 50.
max_iter : int, default={max_iter_default}
    Number of epochs (passes over the training data).
lr_decay_epoch : "half", int or None, default="half"
    Epoch (0-based) from which the step size is multiplied by ``lr_decay_factor``;
    ``"half"`` is ``max_iter // 2`` (Sec. 7: 800 epochs, lr / 10 at epoch 400);
    ``None`` keeps it constant.
lr_decay_factor : float, default=0.1
    Multiplier applied to the step size at ``lr_decay_epoch``.
alpha : float, default=0.0
    Weight decay, PyTorch's coupled ``weight_decay``: ``alpha * W`` is added to the
    gradient of every trained tensor (on the full weight, not the increment).
tol : float or None, default=1e-4
    Training stops when the loss (or the validation score with ``early_stopping``)
    has not improved by ``tol`` for ``n_iter_no_change`` consecutive epochs. ``None``
    always runs ``max_iter`` epochs (the papers' protocol) and never warns.
n_iter_no_change : int, default=10
    Patience, in epochs, of the ``tol`` rule.
early_stopping : bool, default=False
    Hold out ``validation_fraction`` of the training data, stop when its score stops
    improving and restore the weights of the best epoch.
validation_fraction : float, default=0.1
    Share of the training data held out when ``early_stopping=True``.
shuffle : bool, default=True
    Reshuffle the training data every epoch (each network its own order).
random_state : int, RandomState instance or None, default=None
    Seeds the initialization, the shuffling and the validation split through a local
    ``torch.Generator``; the global numpy and torch generators are never touched when
    an int is given. An int gives bitwise-identical fits on CPU.
verbose : int, default=0
    ``>= 1`` prints one line per epoch (loss, validation score, step size, time).
progress_bar : bool, default=False
    Show a tqdm progress bar over epochs (tqdm is imported only then).
callbacks : list of callable or None, default=None
    Each is called after every epoch as ``callback(info)`` with a dict holding
    ``epoch``, ``loss``, ``validation_score``, ``learning_rate``, ``time`` and
    ``params`` (the live tensors); a truthy return value stops training.
device : str, default="cpu"
    Torch device for training: ``"cpu"``, ``"cuda"``, ``"cuda:<i>"``, ``"mps"`` or
    ``"auto"``. Fitted parameters are always stored on the CPU, so a model fitted on a
    GPU unpickles and predicts anywhere.
dtype : {{"float32", "float64"}}, default="float32"
    Floating-point type of the network during training and prediction.""",
    "fit_attributes": """\
n_features_in_ : int
    Number of features seen during :term:`fit`.
feature_names_in_ : ndarray of shape (n_features_in_,)
    Names of features seen during :term:`fit`, when ``X`` has string column names.
coefs_ : list of ndarray
    Weight matrices after training, ``coefs_[l]`` of shape ``(fan_out, fan_in)``
    (rows are neurons, the papers' convention; scikit-learn's MLP stores the transpose).
intercepts_ : list of (ndarray or None)
    Bias vectors per layer (``None`` where the layer has no bias).
initial_coefs_ : list of ndarray
    Weight matrices at initialization, for lazy-training diagnostics.
n_iter_ : int
    Number of epochs run.
loss_ : float
    Training loss of the last epoch.
loss_curve_ : list of float
    Training loss per epoch (mean over the epoch's steps).
validation_scores_ : list of float or None
    Validation score per epoch with ``early_stopping=True``, else None.
best_validation_score_ : float or None
    Best validation score with ``early_stopping=True``, else None.
history_ : dict of ndarray
    Per-epoch ``loss``, ``learning_rate``, ``time`` (and ``validation_score``).""",
}


def fill_doc(**formats):
    """Class decorator: substitute shared paragraphs, formatted with ``formats``."""

    def decorate(obj):
        doc = obj.__doc__

        def repl(match):
            indent, key = match.group(1), match.group(2)
            text = SHARED[key].format(**formats)
            return "\n".join(indent + line if line else line for line in text.splitlines())

        obj.__doc__ = re.sub(r"^([ \t]*)\{\{(\w+)\}\}$", repl, doc, flags=re.M)
        return obj

    return decorate
