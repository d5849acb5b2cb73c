"""How a stacked search cuts its networks into engine runs: cache-sized tiles on the CPU."""

from __future__ import annotations

import math

from .._torch import resolve_dtype
from ..nn._fused import fuses

# On the CPU a stack is cut into tiles whose working set (per copy: the step activations,
# batch x hidden units, plus weights, gradients and momentum) stays within this many bytes,
# each tile one engine run: the tile sweep of benchmarks/bench_search.py finds the fastest
# tile there (27 two-layer networks of width 1000 in the fused kernels, 14-18 in torch
# kernels; 4 to 9 for the width-256 deep and 3 to 7 for the width-200 three-layer networks,
# against 27 from activations alone). Accelerators take the whole stack at once.
TILE_BYTES = 4 * 2**20


def tile_size(final, n_features, n_train, n_copies, n_jobs=1) -> int:
    """How many of ``n_copies`` networks like ``final`` one engine run holds: a cache-sized
    tile on the CPU, and at least one tile per joblib worker (``n_jobs``, effective)."""
    size = n_copies
    try:
        if str(final.device).startswith("cpu"):
            spec = final._build_spec(n_features + 2, 1)
            width = sum(layer.fan_out for layer in spec.layers[:-1])
            weights = sum(layer.fan_out * (layer.fan_in + 1) for layer in spec.layers)
            config = final._settings(n_train).config
            batch = n_train if config.batch_size is None else min(config.batch_size, n_train)
            itemsize = 8 if final.dtype == "float64" else 4
            # a copy's step activations, and its weights, gradients and momentum; the fused
            # two-layer kernels keep one byte a unit (the ReLU pattern) unless the output
            # layer trains
            names = spec.trainable_names
            fused = fuses(spec, names, resolve_dtype(final.dtype))
            act = 1 if fused and "W1" not in names else itemsize
            per_copy = batch * width * act + 3 * weights * itemsize
            size = max(1, TILE_BYTES // max(1, per_copy))
    except Exception:  # noqa: BLE001 - a bad setting fails in its own fit, untiled
        size = n_copies
    size = max(1, min(size, n_copies))
    tiles = math.ceil(n_copies / size)
    if n_jobs > 1:  # a multiple of the workers, so that none waits for the last tile
        tiles = min(n_copies, n_jobs * math.ceil(tiles / n_jobs))
    return math.ceil(n_copies / tiles)  # balanced tiles
