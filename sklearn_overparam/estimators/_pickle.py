"""Pickles that remember the library version they were made with, and warn on load
under another one (scikit-learn's ``InconsistentVersionWarning``)."""

from __future__ import annotations

import sys
import warnings

import sklearn
from sklearn.exceptions import InconsistentVersionWarning as _SklearnVersionWarning

from .. import __version__


class InconsistentVersionWarning(_SklearnVersionWarning):
    """A pickled estimator is loaded by another version of sklearn_overparam.

    A subclass of scikit-learn's warning of the same name, so a filter for that one
    matches this one too.
    """

    def __init__(self, *, estimator_name, current_version, original_version):
        super().__init__(estimator_name=estimator_name,
                         current_sklearn_version=sklearn.__version__,
                         original_sklearn_version=sklearn.__version__)
        self.current_version = current_version
        self.original_version = original_version

    def __str__(self):
        return (
            f"Trying to unpickle estimator {self.estimator_name} from sklearn_overparam "
            f"version {self.original_version} when using version {self.current_version}. "
            "This might lead to breaking code or invalid results. Use at your own risk."
        )


def warn_user(message, category=UserWarning):
    """``warnings.warn`` with the stack level of the first frame outside the library
    (and outside scikit-learn's wrappers), so the warning points at the user's line."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith(
        ("sklearn_overparam.", "sklearn.", "contextlib")
    ):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


class VersionedPickleMixin:
    """Record the library version in pickles and warn when another version loads them."""

    def __getstate__(self):
        # a copy: object.__getstate__ may return the live __dict__
        state = dict(super().__getstate__())
        state["_sklearn_overparam_version"] = __version__
        return state

    def __setstate__(self, state):
        version = state.pop("_sklearn_overparam_version", None)
        if version != __version__:
            warn_user(InconsistentVersionWarning(estimator_name=type(self).__name__,
                                                 current_version=__version__,
                                                 original_version=version))
        super().__setstate__(state)
