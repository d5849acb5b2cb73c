"""The input map the [AZLL] theory assumes: ``||x|| = 1`` with last coordinate ``1/2``."""

from __future__ import annotations

import math

import numpy as np
import torch

HALF_RADIUS = math.sqrt(3.0) / 2.0


def fit_half_padding_scale(X: np.ndarray) -> float:
    """Scale that maps the largest training row norm to ``sqrt(3)/2`` (1 for all-zero X)."""
    norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
    largest = float(norms.max()) if norms.size else 0.0
    return HALF_RADIUS / largest if largest > 0 else 1.0


def pad_half(X: np.ndarray, scale: float) -> np.ndarray:
    """Map rows to the unit sphere with last coordinate 1/2 ([AZLL] Sec. 3, footnote 4).

    ``x -> (s x, sqrt(3/4 - ||s x||^2), 1/2)``: every output row has norm exactly 1 and
    ``x_d = 1/2``. Rows that ``scale`` sends outside the radius ``sqrt(3)/2`` (test points
    beyond the training data) are shrunk radially onto it, so the map is defined for any
    finite input. For unit-norm inputs and ``scale = sqrt(3)/2`` this is the recipe of the
    calibration runs, ``x -> (sqrt(3)/2 x, 0, 1/2)``.
    """
    Z = np.asarray(X, dtype=np.float64) * scale
    sq = np.einsum("ij,ij->i", Z, Z)
    too_long = sq > 0.75
    if np.any(too_long):
        Z[too_long] *= (HALF_RADIUS / np.sqrt(sq[too_long]))[:, None]
        sq[too_long] = 0.75
    fill = np.sqrt(np.clip(0.75 - sq, 0.0, None))
    half = np.full(Z.shape[0], 0.5)
    return np.column_stack([Z, fill, half])


class HalfPadding(torch.nn.Module):
    """:func:`pad_half` as a torch module, ``(n, d) -> (n, d + 2)``, for raw-input networks.

    Parameters
    ----------
    scale : float
        The fitted scale (see :func:`fit_half_padding_scale`).
    """

    def __init__(self, scale: float):
        super().__init__()
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # float64 inside: the fill sqrt(3/4 - ||z||^2) is ill-conditioned near the radius
        dtype = x.dtype
        z = x.to(torch.float64) * self.scale
        sq = z.square().sum(dim=-1, keepdim=True)
        z = z * torch.where(sq > 0.75, HALF_RADIUS / sq.clamp_min(0.75).sqrt(),
                            torch.ones_like(sq))
        # a shrunk row has ||z||^2 = 3/4 exactly: its fill is 0, not sqrt(round-off)
        fill = (0.75 - sq.clamp(max=0.75)).sqrt()
        return torch.cat([z, fill, torch.full_like(fill, 0.5)], dim=-1).to(dtype)

    def extra_repr(self) -> str:
        return f"scale={self.scale:g}"


class UnitNormalize(torch.nn.Module):
    """Rows scaled to unit norm (all-zero rows stay zero), ``(n, d) -> (n, d)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norms = x.norm(dim=-1, keepdim=True)
        return x / torch.where(norms > 0, norms, torch.ones_like(norms))
