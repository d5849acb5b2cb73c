"""Closed-form empirical NTK of fully connected ReLU networks (the ``"structured"`` path).

For ``z_l = W_l h_{l-1} + b_l``, ``h_l = s(z_l)`` (``s`` = ReLU, absent after the last
layer) and ``f = c z_{L-1}``, the gradient of output ``r`` w.r.t. ``W_l`` is the outer
product ``B_l^r(x) h_{l-1}(x)^T`` with ``B_l^r = df_r/dz_l``, so

``<grad_{W_l} f_r(x), grad_{W_l} f_r(x')> = <B_l^r(x), B_l^r(x')> <h_{l-1}(x), h_{l-1}(x')>``

and a Gram block is two matmuls and one fused multiply-add per layer. ``B`` is
back-propagated by hand: ``B_{L-1}^r = c e_r`` and
``B_l = (B_{l+1} W_{l+1}) * 1[z_l > 0]`` (PyTorch's ReLU derivative convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# Rows per block when ``block_size`` is None. Measured on a 2-core AVX-512 CPU (see
# benchmarks/bench_kernels.py): blocks of ~500 rows keep gemm near its peak rate while the
# skipped lower block triangle stays close to half of the work.
DEFAULT_BLOCK_ROWS = 512
# On a GPU the per-block launch overhead dominates small blocks; bigger ones fill the device.
DEFAULT_BLOCK_ROWS_ACCELERATOR = 4096


@dataclass
class StructuredNet:
    """A fully connected net as plain tensors: what the closed form needs.

    ``relu[l]`` says whether a ReLU follows layer ``l``; ``names[l]`` holds the names of the
    weight and bias of layer ``l`` (bias name None when the layer has no bias);
    ``trainable`` is the set of names whose gradients count.
    """

    weights: list[torch.Tensor]
    biases: list[torch.Tensor | None]
    relu: list[bool]
    names: list[tuple[str, str | None]]
    multiplier: float
    trainable: tuple[str, ...]

    @property
    def depth(self) -> int:
        return len(self.weights)

    @property
    def n_features(self) -> int:
        return self.weights[0].shape[1]

    @property
    def n_outputs(self) -> int:
        return self.weights[-1].shape[0]

    def lowest_trainable(self) -> int:
        for l, (w_name, b_name) in enumerate(self.names):
            if w_name in self.trainable or (b_name is not None and b_name in self.trainable):
                return l
        return self.depth

    def terms(self):
        """``(layer, name, kind)`` for every trainable tensor, kind ``"W"`` or ``"b"``."""
        out = []
        for l, (w_name, b_name) in enumerate(self.names):
            if w_name in self.trainable:
                out.append((l, w_name, "W"))
            if b_name is not None and b_name in self.trainable:
                out.append((l, b_name, "b"))
        return out


def factors(net: StructuredNet, X: torch.Tensor) -> dict[int, tuple]:
    """Per-layer ``(H_{l-1}, B_l)`` for the rows of ``X``: one forward, one backward pass.

    ``H`` is ``(n, fan_in)`` (None when ``W_l`` is frozen); ``B`` is ``(n, k, fan_out)``
    (None for the output layer, whose sensitivity ``c I_k`` is the same for every row).
    Only the layers holding a trainable tensor are returned.
    """
    L = net.depth
    hidden = [X]
    h = X
    for l in range(L - 1):
        W, b = net.weights[l], net.biases[l]
        z = torch.addmm(b, h, W.T) if b is not None else torch.mm(h, W.T)
        if net.relu[l]:
            z.clamp_min_(0)
        hidden.append(z)
        h = z
    wanted = {l for l, _, _ in net.terms()}
    weight_wanted = {l for l, _, kind in net.terms() if kind == "W"}
    out = {}
    if L - 1 in wanted:
        out[L - 1] = (hidden[L - 1] if L - 1 in weight_wanted else None, None)
    lowest = net.lowest_trainable()
    n, k = X.shape[0], net.n_outputs
    g = None
    for l in range(L - 2, lowest - 1, -1):
        W_up = net.weights[l + 1]
        if g is None:
            # B_{L-2}^r = c W_{L-1}[r] * 1[z_{L-2} > 0]: a broadcast, no matmul.
            g = (W_up * net.multiplier).unsqueeze(0).expand(n, k, W_up.shape[1]).clone()
        else:
            g = torch.mm(g.reshape(n * k, -1), W_up).reshape(n, k, -1)
        if net.relu[l]:
            g.mul_((hidden[l + 1] > 0).unsqueeze(1))
        if l in wanted:
            out[l] = (hidden[l] if l in weight_wanted else None, g)
    return out


def block_rows(n: int, block_size: int | None, device=None) -> list[tuple[int, int]]:
    if block_size is None:
        on_cpu = device is None or torch.device(device).type == "cpu"
        block_size = DEFAULT_BLOCK_ROWS if on_cpu else DEFAULT_BLOCK_ROWS_ACCELERATOR
    size = block_size
    n_blocks = max(1, math.ceil(n / size))
    # Equal-sized blocks (n need not be divisible): the last block is never a sliver.
    edges = [round(i * n / n_blocks) for i in range(n_blocks + 1)]
    return [(edges[i], edges[i + 1]) for i in range(n_blocks)]


def _accumulate_pair(net, Fi, Fj, targets, full, work_h, work_b):
    """Add the Gram block of row blocks i and j to ``targets[name]`` for every term.

    ``targets`` maps each trainable name to a view ``(b_i, b_j)`` (trace) or
    ``(b_i, b_j, k, k)`` (full) of its output. ``work_h``/``work_b`` are flat buffers
    reused for the two Gram products, so a block allocates nothing.
    """
    L, k, c2 = net.depth, net.n_outputs, net.multiplier**2
    for l, name, kind in net.terms():
        Hi, Bi = Fi[l]
        Hj, Bj = Fj[l]
        acc = targets[name]
        bi, bj = (Hi if Hi is not None else Bi).shape[0], (Hj if Hj is not None else Bj).shape[0]
        if l == L - 1:
            # Output layer: <B^r(x), B^s(x')> = c^2 delta_rs, identical for all rows.
            diag = acc if not full else torch.diagonal(acc, dim1=2, dim2=3)
            if kind == "b":
                diag.add_(c2 if full else c2 * k)
            elif not full:
                acc.addmm_(Hi, Hj.T, alpha=c2 * k)
            else:
                tH = torch.mm(Hi, Hj.T, out=work_h[: bi * bj].view(bi, bj))
                diag.add_(tH.unsqueeze(-1), alpha=c2)
            continue
        if not full:
            tB = torch.mm(
                Bi.reshape(bi, -1), Bj.reshape(bj, -1).T, out=work_b[: bi * bj].view(bi, bj)
            )
        else:
            tB = torch.mm(
                Bi.reshape(bi * k, -1),
                Bj.reshape(bj * k, -1).T,
                out=work_b[: bi * bj * k * k].view(bi * k, bj * k),
            )
            tB = tB.view(bi, k, bj, k).permute(0, 2, 1, 3)
        if kind == "b":
            acc.add_(tB)
            continue
        tH = torch.mm(Hi, Hj.T, out=work_h[: bi * bj].view(bi, bj))
        if full:
            tH = tH.view(bi, bj, 1, 1)
        acc.addcmul_(tH, tB)


def structured_gram(
    net: StructuredNet,
    X: torch.Tensor,
    Y: torch.Tensor | None,
    *,
    full: bool,
    per_layer: bool,
    block_size: int | None,
) -> dict[str, torch.Tensor]:
    """Empirical NTK Gram(s) of ``net`` between the rows of ``X`` and ``Y``.

    Returns ``{name: Gram}`` per trainable tensor when ``per_layer``, else ``{"": Gram}``.
    With ``Y is None`` only the upper block triangle is computed and then mirrored.
    Factors of every row block are computed once and kept (``n (sum_l fan_in_l + k
    fan_out_l)`` numbers); Gram products go through two reusable ``(b, b)`` buffers.
    """
    symmetric = Y is None
    k = net.n_outputs
    rows_x = block_rows(X.shape[0], block_size, X.device)
    fx = [factors(net, X[a:b]) for a, b in rows_x]
    if symmetric:
        rows_y, fy = rows_x, fx
        n_y = X.shape[0]
    else:
        rows_y = block_rows(Y.shape[0], block_size, X.device)
        fy = [factors(net, Y[a:b]) for a, b in rows_y]
        n_y = Y.shape[0]
    shape = (X.shape[0], n_y) + ((k, k) if full else ())
    keys = [name for _, name, _ in net.terms()] if per_layer else [""]
    outs = {key: torch.zeros(shape, dtype=X.dtype, device=X.device) for key in keys}
    bmax = max(max(b - a for a, b in rows_x), max(b - a for a, b in rows_y))
    kk = k * k if full else 1
    work_h = torch.empty(bmax * bmax, dtype=X.dtype, device=X.device)
    work_b = torch.empty(bmax * bmax * kk, dtype=X.dtype, device=X.device)
    for i, (xa, xb) in enumerate(rows_x):
        for j, (ya, yb) in enumerate(rows_y):
            if symmetric and j < i:
                continue
            views = {key: out[xa:xb, ya:yb] for key, out in outs.items()}
            targets = {
                name: views[name if per_layer else ""] for _, name, _ in net.terms()
            }
            _accumulate_pair(net, fx[i], fy[j], targets, full, work_h, work_b)
    if symmetric:
        for out in outs.values():
            mirror_upper_blocks(out, rows_x, full)
    return outs


def mirror_upper_blocks(out: torch.Tensor, rows: list[tuple[int, int]], full: bool) -> None:
    """Fill the lower block triangle from the upper one and symmetrize diagonal blocks.

    A diagonal block ``A A^T`` from gemm is symmetric only up to rounding; averaging it with
    its transpose makes the returned Gram exactly symmetric.
    """
    perm = (1, 0, 3, 2) if full else (1, 0)
    for i, (a, b) in enumerate(rows):
        block = out[a:b, a:b]
        block.add_(block.permute(perm).clone()).mul_(0.5)
        for c, d in rows[i + 1 :]:
            out[c:d, a:b].copy_(out[a:b, c:d].permute(perm))
