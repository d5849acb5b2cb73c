"""The numba kernels of :mod:`._fused`, in a module of their own that imports numba.

The module is imported at the first compile (:func:`._fused._kernels`), so numba is
loaded only where a training step could use it. The kernels are closures over integers
only (the widths they are built for): numba keys a closure's on-disk cache by its closure
variables, so a module-level ``to_fixed_tuple`` here instead of one imported inside each
factory (a function object, pickled differently in every process) is what lets a new
process load the compiled kernels instead of compiling them again (about 2 s).
"""

from __future__ import annotations

import numpy as np
from numba.np.unsafe.ndarray import to_fixed_tuple

from ._fused import CHUNK


def _forward_kernel(P):
    """The forward kernel for ``P = d + 1`` rows of weights (the inputs and the bias)."""

    def forward(x, shared, W, b, A, scale, c, Xp, Wt, H, store_h, out):
        # x (S, n, d); W (K, m, d); b, A (K, m); scale, c (K,); out (K, n). Scratch: Wt
        # (blocks, P, CHUNK), one network's weights [W, b]^T block by block. Written for
        # the backward pass: Xp (S, n, P) the inputs with a ones column [x, 1] and H
        # (K, n, m), the hidden layer s(z) with store_h (an output layer that trains
        # needs it; H floating point), else the ReLU pattern 1[z > 0] (bool): a stack's
        # tile keeps only these in cache between its forward and backward passes.
        K, m, d = W.shape
        n = x.shape[1]
        zero = out.dtype.type(0)
        one = out.dtype.type(1)
        for k in range(K):
            kx = 0 if shared else k
            if k == 0 or not shared:
                for i in range(n):
                    for j in range(d):
                        Xp[kx, i, j] = x[kx, i, j]
                    Xp[kx, i, d] = one
            for i in range(n):
                out[k, i] = zero
            for r0 in range(0, m, CHUNK):
                L = min(CHUNK, m - r0)
                wt, Wk, bk, a = Wt[r0 // CHUNK], W[k, r0:r0 + L], b[k, r0:r0 + L], A[k, r0:r0 + L]
                for j in range(d):
                    wj = wt[j]
                    for r in range(L):
                        wj[r] = Wk[r, j]
                wj = wt[d]
                for r in range(L):
                    wj[r] = bk[r]
                # two samples share each load of the block's weights (1.4x faster than
                # four, whose 4 (d + 1) broadcast inputs spill out of the registers); past
                # the batch's end a sample is the last one again (its sum not added)
                for i in range(0, n, 2):
                    i1 = min(i + 1, n - 1)
                    xa, xb = to_fixed_tuple(Xp[kx, i], P), to_fixed_tuple(Xp[kx, i1], P)
                    ha, hb = H[k, i, r0:r0 + L], H[k, i1, r0:r0 + L]
                    sa = zero
                    sb = zero
                    for r in range(L):
                        # the bias row starts the sum (its input is 1: one multiply-add
                        # fewer of P a unit, 0.8 us a network)
                        za = wt[P - 1, r]
                        zb = wt[P - 1, r]
                        for j in range(P - 1):
                            za += xa[j] * wt[j, r]
                            zb += xb[j] * wt[j, r]
                        pa, pb = max(za, zero), max(zb, zero)  # keep a NaN, as torch's clamp
                        if store_h:
                            ha[r], hb[r] = pa, pb
                        else:
                            ha[r], hb[r] = za > zero, zb > zero
                        sa += a[r] * pa
                        sb += a[r] * pb
                    out[k, i] += sa
                    if i + 1 < n:
                        out[k, i1] += sb
            for i in range(n):
                out[k, i] = scale[k] * (out[k, i] + c[k])

    return forward


def _backward_kernel(d, bias):
    """The backward kernel for ``d`` inputs: ``R = d`` gradient rows, and the bias's (the
    ones column) with ``bias``."""
    R = d + 1 if bias else d

    def backward(Xp, shared, H, A, scale, g, gW, gb, gA, gc, wants):
        # g (K, n) output gradients. Written, as wants = (W, b, A, c) asks: gW (K, m, d),
        # gb (K, m), gA (K, m) and gc (K,), the gradients of W, b, A and the output bias
        # (the others are stand-ins).
        K, n, m = H.shape
        want_W, want_b, want_A, want_c = wants
        zero = g.dtype.type(0)
        G = np.empty((R, CHUNK), dtype=g.dtype)
        GA = np.empty(CHUNK, dtype=g.dtype)
        for k in range(K):
            kx = 0 if shared else k
            s = scale[k]
            if want_c:
                total = zero
                for i in range(n):
                    total += g[k, i]
                gc[k] = s * total
            if not (want_W or want_b or want_A):
                continue
            for r0 in range(0, m, CHUNK):
                L = min(CHUNK, m - r0)
                G[:, :L] = zero
                GA[:L] = zero
                for i in range(0, n, 4):
                    # four samples share the loads and stores of the block's gradient rows
                    # (1.35x faster than two); past the batch's end a sample is the last
                    # one again with a zero gradient
                    i1, i2, i3 = min(i + 1, n - 1), min(i + 2, n - 1), min(i + 3, n - 1)
                    ga = g[k, i]
                    gb_ = g[k, i1] if i + 1 < n else zero
                    gc_ = g[k, i2] if i + 2 < n else zero
                    gd = g[k, i3] if i + 3 < n else zero
                    xa, xb = to_fixed_tuple(Xp[kx, i], R), to_fixed_tuple(Xp[kx, i1], R)
                    xc, xd = to_fixed_tuple(Xp[kx, i2], R), to_fixed_tuple(Xp[kx, i3], R)
                    ha, hb = H[k, i, r0:r0 + L], H[k, i1, r0:r0 + L]
                    hc, hd = H[k, i2, r0:r0 + L], H[k, i3, r0:r0 + L]
                    if want_A:  # a loop of its own: the one below stays within the registers
                        for r in range(L):
                            GA[r] += ga * ha[r] + gb_ * hb[r] + gc_ * hc[r] + gd * hd[r]
                    for r in range(L):
                        # a bool pattern selects as it is (comparing it with 0.0 costs a
                        # conversion to float per unit); a stored s(z) is > 0 where it is
                        # not 0 (a NaN passes its gradient, as in torch's threshold_backward)
                        sa = ga if ha[r] else zero
                        sb = gb_ if hb[r] else zero
                        sc = gc_ if hc[r] else zero
                        sd = gd if hd[r] else zero
                        for j in range(R):
                            G[j, r] += sa * xa[j] + sb * xb[j] + sc * xc[j] + sd * xd[j]
                # the rows scaled by c a_r as they are written in the weight's layout, unit
                # by unit: a unit's d entries are adjacent there, and d is a constant of the
                # compiled kernel (3 us a network faster than row by row, whose stores
                # stride by d)
                a = A[k, r0:r0 + L]
                if want_W:
                    for r in range(L):
                        sr = s * a[r]
                        for j in range(d):
                            gW[k, r0 + r, j] = G[j, r] * sr
                if want_b:
                    for r in range(L):
                        gb[k, r0 + r] = G[d, r] * (s * a[r])
                if want_A:
                    for r in range(L):
                        gA[k, r0 + r] = s * GA[r]

    return backward


def _pattern_kernel(P):
    """The diagnostics kernel for ``P = d + 1`` rows of weights."""

    def pattern(Xp, Wt, A, scale, c, P0, G0, out, pseudo, changed):
        # Diagnostics of K networks on shared rows Xp (n, P) (inputs and a ones column)
        # with weights Wt (K, blocks, P, CHUNK) ([W, b]^T block by block): outputs out
        # (K, n), the frozen-gate network's outputs pseudo (K, n) with gates G0, and the
        # number of (row, unit) pairs whose ReLU pattern differs from P0 (changed, (K,));
        # network k compares with copy k % K0 of the (K0, n, m) patterns and gates.
        K, m = A.shape
        n = Xp.shape[0]
        K0 = P0.shape[0]
        zero = out.dtype.type(0)
        for k in range(K):
            k0 = k % K0
            count = 0
            for i in range(n):
                out[k, i] = zero
                pseudo[k, i] = zero
            for r0 in range(0, m, CHUNK):
                L = min(CHUNK, m - r0)
                wt, a = Wt[k, r0 // CHUNK], A[k, r0:r0 + L]
                for i in range(n):
                    xi = to_fixed_tuple(Xp[i], P)
                    p0, g0 = P0[k0, i, r0:r0 + L], G0[k0, i, r0:r0 + L]
                    acc = zero
                    accp = zero
                    for r in range(L):
                        z = zero
                        for j in range(P):
                            z += xi[j] * wt[j, r]
                        acc += a[r] * max(z, zero)
                        accp += a[r] * (z * g0[r])
                        count += (z > zero) != p0[r]
                    out[k, i] += acc
                    pseudo[k, i] += accp
            for i in range(n):
                out[k, i] = scale[k] * (out[k, i] + c[k])
                pseudo[k, i] = scale[k] * (pseudo[k, i] + c[k])
            changed[k] = count

    return pattern


def _squared_kernel(out, y, shared, value, grad):
    # The squared loss of one output, mean over the n samples: value (K,) and grad (K, n)
    # = (out - y) * (2 / n), as torch's ops compute it (no fastmath: the gradient is
    # rounded exactly as theirs, only the value's sum may differ in its last bits).
    K, n = out.shape
    c = out.dtype.type(2.0 / n)
    for k in range(K):
        total = out.dtype.type(0)
        for i in range(n):
            diff = out[k, i] - (y[0, i] if shared else y[k, i])
            total += diff * diff
            grad[k, i] = diff * c
        value[k] = total / out.dtype.type(n)
