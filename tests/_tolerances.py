"""Dtype-keyed relative tolerances of the reference-equivalence tests.

Both sides of such a test run the same arithmetic in another order, so they differ by
rounding only: about 1e-16 per float64 operation (6e-8 in float32), grown by the steps of a
training run or the conditioning of a kernel solve.
"""

import numpy as np
import torch

RTOL = {
    torch.float64: 1e-10,
    torch.float32: 2e-5,
    np.dtype(np.float64): 1e-10,
    np.dtype(np.float32): 2e-5,
}


def rtol(dtype) -> float:
    """Relative tolerance for ``dtype``: a torch dtype, a numpy dtype or a name ("float64")."""
    if isinstance(dtype, torch.dtype):
        return RTOL[dtype]
    return RTOL[np.dtype(dtype)]
