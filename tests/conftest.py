"""Suite-wide settings: torch single-threaded (2 threads on 2 cores: checks 7-25x slower)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

# One place for dtype-keyed tolerances (relative), used by reference-equivalence tests.
RTOL = {torch.float64: 1e-10, torch.float32: 2e-5, np.float64: 1e-10, np.float32: 2e-5}


@pytest.fixture
def rtol():
    """Relative tolerance keyed by dtype."""
    return RTOL
