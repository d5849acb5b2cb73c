"""Empirical NTK of any ``torch.nn.Module`` through ``torch.func`` (``"jacobian"``, ``"ntk_vp"``).

Both paths evaluate the module with :func:`torch.func.functional_call` on detached copies
of its tensors: the trainable ones are the differentiation variables, the rest (frozen
parameters, buffers) are constants.

* ``"jacobian"``: per-row Jacobians ``J`` by ``vmap(jacrev)``, then ``J_X J_Y^T`` per
  parameter. Memory ``O(b k P)`` per row block of ``b`` rows (``P`` parameters).
* ``"ntk_vp"``: NTK-vector products, as neural-tangents' ``NTK_VECTOR_PRODUCTS``: the
  cotangent basis of a ``Y`` block is pulled back by ``vjp`` and pushed through ``jvp`` on an
  ``X`` block, giving ``J_X (J_Y^T e)`` without ever holding ``J_X``.
"""

from __future__ import annotations

import warnings

import torch
from torch.func import functional_call, jacrev, jvp, vjp, vmap

from ._empirical_structured import block_rows, mirror_upper_blocks

# Rows per block when ``block_size`` is None: as many as keep one block of Jacobian rows
# (``rows * k * P`` numbers) under this many bytes, and never more than 512 rows.
JACOBIAN_BLOCK_BYTES = 256 * 2**20
# The Jacobian rows of all of ``Y`` are kept (computed once) when they fit in this many bytes.
JACOBIAN_CACHE_BYTES = 2**30


class ModuleFunction:
    """``f(params, X) -> (n, k)`` for a module, with ``params`` the trainable tensors only."""

    def __init__(self, module, trainable, dtype, device):
        self.module = module
        named = dict(module.named_parameters())
        self.params = {
            name: named[name].detach().to(dtype=dtype, device=device) for name in trainable
        }
        consts = {
            name: p.detach().to(dtype=dtype, device=device)
            for name, p in named.items()
            if name not in self.params
        }
        for name, buf in module.named_buffers():
            kw = {"dtype": dtype} if buf.is_floating_point() else {}
            consts[name] = buf.detach().to(device=device, **kw)
        self.consts = consts

    def __call__(self, params, X):
        out = functional_call(self.module, (params, self.consts), (X,), strict=False)
        return out.reshape(X.shape[0], -1)

    def single(self, params, x):
        return self(params, x.unsqueeze(0))[0]

    def n_params(self) -> int:
        return sum(p.numel() for p in self.params.values())


def _default_rows(fn: ModuleFunction, k: int, itemsize: int) -> int:
    per_row = max(1, k * fn.n_params() * itemsize)
    return int(max(1, min(512, JACOBIAN_BLOCK_BYTES // per_row)))


def _flat_jacobian(fn: ModuleFunction, X: torch.Tensor) -> dict[str, torch.Tensor]:
    jac = vmap(jacrev(fn.single), in_dims=(None, 0))(fn.params, X)
    return {name: J.reshape(X.shape[0], J.shape[1], -1) for name, J in jac.items()}


def _gram_from_rows(Ji: torch.Tensor, Jj: torch.Tensor, full: bool) -> torch.Tensor:
    """``(b_i, k, P)`` and ``(b_j, k, P)`` rows to a trace ``(b_i, b_j)`` or full Gram block."""
    bi, k, _ = Ji.shape
    bj = Jj.shape[0]
    if not full:
        return Ji.reshape(bi, -1) @ Jj.reshape(bj, -1).T
    G = Ji.reshape(bi * k, -1) @ Jj.reshape(bj * k, -1).T
    return G.view(bi, k, bj, k).permute(0, 2, 1, 3)


def _outputs(fn, shape, per_layer, dtype, device):
    keys = list(fn.params) if per_layer else [""]
    return {key: torch.zeros(shape, dtype=dtype, device=device) for key in keys}


def jacobian_gram(fn, X, Y, *, k, full, per_layer, block_size):
    """Gram(s) from explicit per-row Jacobians, blocked over rows of ``X`` and ``Y``.

    The Jacobian of one ``X`` block is reused against every ``Y`` block. The ``Y`` blocks'
    Jacobians are kept when all of them fit in ``JACOBIAN_CACHE_BYTES`` and recomputed per
    ``X`` block otherwise, so memory stays bounded for any ``n``.
    """
    symmetric = Y is None
    Yv = X if symmetric else Y
    per_row = k * fn.n_params() * X.element_size()
    if block_size is None:
        block_size = _default_rows(fn, k, X.element_size())
    rows_x, rows_y = block_rows(X.shape[0], block_size), block_rows(Yv.shape[0], block_size)
    keep = Yv.shape[0] * per_row <= JACOBIAN_CACHE_BYTES
    cache = {}

    def y_jacobian(j):
        if j in cache:
            return cache[j]
        ya, yb = rows_y[j]
        J = _flat_jacobian(fn, Yv[ya:yb])
        if keep:
            cache[j] = J
        return J

    shape = (X.shape[0], Yv.shape[0]) + ((k, k) if full else ())
    outs = _outputs(fn, shape, per_layer, X.dtype, X.device)
    for i, (xa, xb) in enumerate(rows_x):
        Ji = y_jacobian(i) if symmetric else _flat_jacobian(fn, X[xa:xb])
        for j, (ya, yb) in enumerate(rows_y):
            if symmetric and j < i:
                continue
            Jj = Ji if symmetric and j == i else y_jacobian(j)
            for name in fn.params:
                outs[name if per_layer else ""][xa:xb, ya:yb].add_(
                    _gram_from_rows(Ji[name], Jj[name], full)
                )
            del Jj
    if symmetric:
        for out in outs.values():
            mirror_upper_blocks(out, rows_x, full)
    return outs


def ntk_vp_gram(fn, X, Y, *, k, full, per_layer, block_size):
    """Gram(s) from NTK-vector products ``J_X (J_Y^T e)`` over the cotangent basis ``e``.

    For each ``Y`` block the ``b_j k`` basis cotangents are pulled back with one vmapped
    ``vjp`` and pushed forward on each ``X`` block with one vmapped ``jvp``; per-tensor parts
    (``per_layer``) push forward along one tensor at a time.
    """
    symmetric = Y is None
    Yv = X if symmetric else Y
    if block_size is None:
        block_size = max(1, _default_rows(fn, k, X.element_size()) // 2)
    rows_x, rows_y = block_rows(X.shape[0], block_size), block_rows(Yv.shape[0], block_size)
    shape = (X.shape[0], Yv.shape[0]) + ((k, k) if full else ())
    outs = _outputs(fn, shape, per_layer, X.dtype, X.device)
    groups = [[name] for name in fn.params] if per_layer else [list(fn.params)]
    for j, (ya, yb) in enumerate(rows_y):
        bj = yb - ya
        _, pullback = vjp(lambda p, Yb=Yv[ya:yb]: fn(p, Yb), fn.params)
        basis = torch.eye(bj * k, dtype=X.dtype, device=X.device).view(bj * k, bj, k)
        (tangents,) = vmap(pullback)(basis)
        for i, (xa, xb) in enumerate(rows_x):
            if symmetric and i > j:
                continue
            Xb = X[xa:xb]
            for group in groups:
                block = _push_forward(fn, Xb, tangents, group)  # (bj*k, bi, k)
                block = block.view(bj, k, xb - xa, k)
                if full:
                    block = block.permute(2, 0, 3, 1)
                else:
                    block = torch.diagonal(block, dim1=1, dim2=3).sum(-1).T
                outs[group[0] if per_layer else ""][xa:xb, ya:yb].add_(block)
        del tangents
    if symmetric:
        for out in outs.values():
            mirror_upper_blocks(out, rows_x, full)
    return outs


def _push_forward(fn, Xb, tangents, group):
    fixed = {name: p for name, p in fn.params.items() if name not in group}

    def f_group(sub):
        return fn({**fixed, **sub}, Xb)

    primals = {name: fn.params[name] for name in group}

    def one(tangent):
        return jvp(f_group, (primals,), (tangent,))[1]

    with warnings.catch_warnings():
        # torch's first forward-mode call scripts its jvp decompositions and warns that
        # torch.jit.script is deprecated: an internal detail, not actionable by the user.
        warnings.filterwarnings("ignore", r".*torch\.jit\.script.*", DeprecationWarning)
        return vmap(one)({name: tangents[name] for name in group})
