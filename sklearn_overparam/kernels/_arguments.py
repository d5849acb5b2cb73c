"""Argument checks of the analytic kernels: inputs, depth, per-layer variances, the
trainable-layer mask and the block size, each with a ValueError in scikit-learn's voice."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np


def _check_matrix(A, name: str) -> np.ndarray:
    """Return ``A`` as a finite 2-D float64 array with at least one row and one column."""
    try:
        arr = np.asarray(A)
    except Exception as exc:
        raise ValueError(
            f"`{name}` must be a dense 2-D numeric array; got {type(A).__name__}. "
            "Pass a numpy array of shape (n_samples, n_features)."
        ) from exc
    if arr.dtype.kind not in "biuf":
        raise ValueError(
            f"`{name}` must be a real numeric array; got dtype {arr.dtype!s}. "
            "Convert it with np.asarray(..., dtype=float)."
        )
    if arr.ndim != 2:
        raise ValueError(
            f"`{name}` must be a 2-D array of shape (n_samples, n_features); got shape "
            f"{arr.shape!r}. Reshape a single sample with X.reshape(1, -1)."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(
            f"`{name}` must have at least one sample and one feature; got shape {arr.shape!r}."
        )
    arr = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(
            f"`{name}` must contain only finite values; got NaN or infinity. "
            "Impute or drop the offending rows first."
        )
    return arr


def _check_inputs(X, Y):
    """Validate ``X`` and ``Y`` (``None`` means ``Y = X``)."""
    X = _check_matrix(X, "X")
    if Y is None:
        return X, None
    Y = _check_matrix(Y, "Y")
    if Y.shape[1] != X.shape[1]:
        raise ValueError(
            f"Y has {Y.shape[1]} features, but X has {X.shape[1]} features. "
            "Both arguments must have the same number of columns."
        )
    return X, Y


def _check_depth(depth) -> int:
    if isinstance(depth, bool) or not isinstance(depth, numbers.Integral) or depth < 1:
        raise ValueError(
            f"`depth` must be an integer >= 1 (the number of weight matrices); got {depth!r}. "
            "Use depth=2 for one hidden ReLU layer."
        )
    return int(depth)


def _per_layer(value, depth: int, name: str) -> np.ndarray:
    """A non-negative finite scalar, or one value per layer, as a float64 array of length depth."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"`{name}` must be a non-negative float or a sequence of {depth} of them; "
            f"got {value!r}."
        ) from exc
    if arr.ndim == 0:
        arr = np.full(depth, float(arr))
    elif arr.shape != (depth,):
        raise ValueError(
            f"`{name}` must be a non-negative float or a sequence of depth={depth} floats "
            f"(one per layer); got {value!r}. Pass a scalar to share it across layers."
        )
    if not (np.isfinite(arr).all() and (arr >= 0).all()):
        raise ValueError(
            f"`{name}` must be non-negative and finite; got {value!r}. "
            "Variances are squared standard deviations, e.g. 2.0 for He initialisation."
        )
    return arr


def _trainable_mask(trainable, depth: int) -> np.ndarray:
    """Resolve ``trainable`` to a boolean array of length ``depth``."""
    if isinstance(trainable, str):
        if trainable == "all":
            mask = np.ones(depth, dtype=bool)
        elif trainable == "hidden":
            mask = np.arange(depth) < depth - 1
        elif trainable == "last":
            mask = np.arange(depth) == depth - 1
        else:
            raise ValueError(
                f"`trainable` must be 'all', 'hidden', 'last' or a sequence of {depth} booleans; "
                f"got {trainable!r}."
            )
    else:
        if not isinstance(trainable, Sequence | np.ndarray) or not all(
            isinstance(t, bool | np.bool_) for t in trainable
        ):
            raise ValueError(
                f"`trainable` must be 'all', 'hidden', 'last' or a sequence of {depth} booleans; "
                f"got {trainable!r}."
            )
        if len(trainable) != depth:
            raise ValueError(
                f"`trainable` must have one boolean per layer, i.e. length depth={depth}; got "
                f"{trainable!r} of length {len(trainable)}. Index 0 is the input layer."
            )
        mask = np.array([bool(t) for t in trainable], dtype=bool)
    if not mask.any():
        raise ValueError(
            f"`trainable` must select at least one layer; got {trainable!r} with depth={depth}. "
            "With nothing trainable the tangent kernel is identically zero."
        )
    return mask


def _check_block_size(block_size):
    if block_size is None:
        return None
    if isinstance(block_size, bool) or not isinstance(block_size, numbers.Integral) or (
        block_size < 1
    ):
        raise ValueError(
            f"`block_size` must be None or an integer >= 1 (rows per block); got {block_size!r}."
        )
    return int(block_size)
