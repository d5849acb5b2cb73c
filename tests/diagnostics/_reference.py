"""Plain-numpy references for the diagnostics tests (float64, loops where clearer)."""

import numpy as np


def relu(z):
    return np.maximum(z, 0.0)


def numpy_params(params, k=0):
    """Copy ``k`` of a stacked parameter dict as float64 numpy arrays."""
    return {n: t[k].detach().cpu().numpy().astype(np.float64) for n, t in params.items()}


def preactivations(spec, p, X):
    """``[z_1, ..., z_L]`` of one network, ``z_l = W_l h_{l-1} + b_l``, ``h = relu(z)``."""
    h, zs = np.asarray(X, dtype=np.float64), []
    for l in range(spec.depth):
        z = h @ p[f"W{l}"].T + p.get(f"b{l}", 0.0)
        zs.append(z)
        h = relu(z)
    return zs


def output(spec, p, X):
    return preactivations(spec, p, X)[-1] * spec.output_multiplier


def changed_fraction_per_layer(spec, p, p0, X):
    """Direct count of (sample, unit) pairs whose pattern 1[z > 0] changed, per hidden layer."""
    zs, z0s = preactivations(spec, p, X), preactivations(spec, p0, X)
    out = []
    for z, z0 in zip(zs[:-1], z0s[:-1]):
        n, m = z.shape
        count = 0
        for i in range(n):
            for r in range(m):
                count += int((z[i, r] > 0) != (z0[i, r] > 0))
        out.append(count / (n * m))
    return out


def pseudo_output(spec, p, p0, X):
    """The gate-frozen network: hidden values ``(W_l h + b_l) * 1[z^(0)_l >= 0]``."""
    z0s = preactivations(spec, p0, X)
    h = np.asarray(X, dtype=np.float64)
    for l in range(spec.depth):
        z = h @ p[f"W{l}"].T + p.get(f"b{l}", 0.0)
        if l < spec.depth - 1:
            h = z * (z0s[l] >= 0)
    return z * spec.output_multiplier
