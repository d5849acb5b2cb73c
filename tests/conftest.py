"""Suite-wide settings: torch single-threaded (2 threads on 2 cores: checks 7-25x slower)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)
