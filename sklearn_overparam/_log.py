"""The one place library code writes progress to the user (only under ``verbose``)."""

from __future__ import annotations

import sys


def log(message: str) -> None:
    """Write one line to stdout and flush it (visible at once, also from workers)."""
    sys.stdout.write(message + "\n")
    sys.stdout.flush()
