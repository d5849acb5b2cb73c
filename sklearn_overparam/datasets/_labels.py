"""Shared helpers of the classification and concept generators: argument checks, label draws."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state


def _check_int(value, name, minimum, hint):
    """``value`` is an integer (not a bool) ``>= minimum``; else a ValueError with ``hint``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral) or value < minimum:
        rule = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"`{name}` must be {rule}; got {value!r}. {hint}")
    return int(value)


def _check_n_samples(n_samples):
    return _check_int(n_samples, "n_samples", 1, "Pass e.g. n_samples=1000.")


def _check_real(value, name, *, positive, hint):
    """``value`` is a finite real (not a bool), ``> 0`` if ``positive`` else ``>= 0``."""
    ok = (
        not isinstance(value, (bool, np.bool_))
        and isinstance(value, Real)
        and np.isfinite(value)
        and (value > 0 if positive else value >= 0)
    )
    if not ok:
        rule = "a positive float" if positive else "a non-negative float"
        raise ValueError(f"`{name}` must be {rule}; got {value!r}. {hint}")
    return float(value)


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"`{name}` must be a bool; got {value!r}. Pass True or False.")
    return bool(value)


def _centers_rng(centers_random_state, rng):
    """The generator of the fixed means: its own seed if given, else the draw's ``rng``."""
    return rng if centers_random_state is None else check_random_state(centers_random_state)


def _uniform_labels(classes, n_samples, rng):
    """``n_samples`` i.i.d. labels uniform over ``classes`` (an int64 array)."""
    classes = np.asarray(classes, dtype=np.int64)
    return classes[rng.randint(classes.size, size=n_samples)]
