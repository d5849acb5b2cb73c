"""The only module that imports private scikit-learn API (parameter validation machinery,
sample-weight validation, the experimental callback API).

The validation helpers have been stable since scikit-learn 1.3; the callback API
(``sklearn.callback``) is experimental and new in 1.9, so older versions get a no-op
fallback (no ``set_callbacks``). Keeping it in one place means a scikit-learn refactor is a
one-file fix.
"""

import inspect

from sklearn.base import _fit_context  # noqa: F401
from sklearn.metrics._scorer import _MultimetricScorer  # noqa: F401
from sklearn.model_selection._validation import (  # noqa: F401  (stacked search)
    _fit_and_score,
    _insert_error_scores,
    _score,
    _warn_or_raise_about_fit_failures,
)
from sklearn.utils import _safe_indexing  # noqa: F401
from sklearn.utils._param_validation import (  # noqa: F401
    HasMethods,
    Hidden,
    Interval,
    InvalidParameterError,
    Options,
    RealNotInt,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.metaestimators import _safe_split  # noqa: F401
from sklearn.utils.validation import _check_method_params, _num_samples  # noqa: F401
from sklearn.utils.validation import _check_sample_weight as _sk_check_sample_weight


class _NoCallbackContext:
    """What ``_init_callback_context`` returns without ``sklearn.callback``: no-ops."""

    def subcontext(self, *args, **kwargs):
        return self

    def call_on_fit_task_begin(self, **kwargs):
        return self

    def call_on_fit_task_end(self, **kwargs):
        return False


class _NoCallbackSupportMixin:
    """Fallback of ``sklearn.callback.CallbackSupportMixin``: no callbacks to set."""

    def _init_callback_context(self, task_name="fit", task_id=0, max_subtasks=0,
                               sequential_subtasks=True):
        return _NoCallbackContext()


def _no_callbacks(method):
    """Fallback of ``sklearn.callback.with_callbacks``: the method itself."""
    return method


try:  # the experimental callback API (scikit-learn >= 1.9)
    from sklearn.callback import CallbackSupportMixin, with_callbacks
except ImportError:  # pragma: no cover - older scikit-learn only
    CallbackSupportMixin, with_callbacks = _NoCallbackSupportMixin, _no_callbacks
    HAS_SKLEARN_CALLBACKS = False
else:
    HAS_SKLEARN_CALLBACKS = True

_ALL_ZERO_KW = "allow_all_zero_weights" in inspect.signature(_sk_check_sample_weight).parameters


def check_sample_weight(sample_weight, X, *, dtype=None):
    """scikit-learn's ``_check_sample_weight`` with its strictest checks, on any version.

    ``(n_samples,)`` finite, non-negative weights, not all zero (ValueErrors with
    scikit-learn's messages); ``None`` gives ones.
    """
    kwargs = {"allow_all_zero_weights": False} if _ALL_ZERO_KW else {}
    sw = _sk_check_sample_weight(sample_weight, X, dtype=dtype, ensure_non_negative=True,
                                 copy=True, **kwargs)
    if not sw.any():  # older scikit-learn accepts all-zero weights
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sw


__all__ = [
    "HAS_SKLEARN_CALLBACKS",
    "CallbackSupportMixin",
    "HasMethods",
    "Hidden",
    "Interval",
    "InvalidParameterError",
    "Options",
    "RealNotInt",
    "StrOptions",
    "_MultimetricScorer",
    "_check_method_params",
    "_fit_and_score",
    "_fit_context",
    "_insert_error_scores",
    "_num_samples",
    "_safe_indexing",
    "_safe_split",
    "_score",
    "_warn_or_raise_about_fit_failures",
    "check_sample_weight",
    "validate_parameter_constraints",
    "with_callbacks",
]
