"""Activation patterns: how many ReLU gates moved since init, and the frozen-gate network.

[LL] Sec. 7 measures the fraction of (sample, unit) pairs whose ReLU pattern changed; the
coupling arguments of [LL] Sec. 5 and [AZLL] Sec. 6 / Appendix B compare the network with
its pseudo network, whose gates stay at their initial values.
"""

from __future__ import annotations

import torch

from ..nn._fused import pattern_pass
from ._checks import (
    as_tensor,
    check_lists,
    check_network,
    inputs_like,
    is_sequence,
    pair,
    select_copy,
)


def _buffers(workspace, l, shape, dtype, device):
    """Reusable ``(z, z_pseudo, pattern, h_pseudo)`` outputs of hidden layer ``l``.

    Fresh large allocations are returned to the OS and page-faulted in again on every
    call; reusing them makes a repeated pass (a recorder's) about twice as fast.
    """
    bufs = workspace.get(l)
    if bufs is None or bufs[0].shape != shape or bufs[0].dtype != dtype or (
        bufs[0].device != device
    ):
        empty = torch.empty
        bufs = workspace[l] = (empty(shape, dtype=dtype, device=device),
                               empty(shape, dtype=dtype, device=device),
                               empty(shape, dtype=torch.bool, device=device),
                               empty(shape, dtype=dtype, device=device))
    return bufs


def _affine(h, W, b, out=None):
    """``h W^T + b`` for ``h`` of shape (n, d) or (K, n, d) and ``W`` of shape (K, m, d)."""
    Wt = W.transpose(-1, -2)
    if W.dim() == 2:
        z = torch.matmul(h, Wt)
        return z if b is None else z + b
    if h.dim() == 2:
        h = h.expand(W.shape[0], *h.shape)
    if b is None:
        return torch.bmm(h, Wt, out=out)
    return torch.baddbmm(b.unsqueeze(-2), h, Wt, out=out)


def network_pass(spec, params, X, *, gates0=None, patterns0=None, want_gates=False,
                 workspace=None):
    """One pass of a stacked network: outputs, ReLU patterns and optionally the pseudo net.

    Returns ``(out, patterns, gates, pseudo)``: ``out`` is ``f(X)`` of shape (K, n, k);
    ``patterns[l] = 1[z_l > 0]`` for every hidden layer or, when ``patterns0`` is given,
    the fraction ``(K,)`` of entries that differ from ``patterns0[l]``; with
    ``want_gates`` also ``gates[l] = 1[z_l >= 0]``; ``pseudo`` is the output of the network
    whose ReLU gates are ``gates0`` (bool or 0/1 float, the latter faster), None without.
    The pseudo network shares the first layer's pre-activation with the real one (both see
    the input ``X``). ``patterns0`` and ``gates0`` may hold ``K0`` copies for a stack of
    ``E * K0`` (E snapshots of a K0-stack, snapshot-major): they are broadcast. With
    ``patterns0`` and a ``workspace`` dict the hidden tensors live in buffers kept there
    (only fractions and outputs are returned then, never a buffer).
    """
    if patterns0 is not None and gates0 is not None and not want_gates:
        # a thin-input two-layer net (the [AZLL] learner): one compiled pass, no buffers
        fused = pattern_pass(spec, params, X, patterns0, gates0)
        if fused is not None:
            out, patterns, pseudo = fused
            return out, patterns, [], pseudo
    L = spec.depth
    c = spec.output_multiplier
    h = hp = X
    patterns, gates = [], []
    pseudo = None
    ws = workspace if patterns0 is not None else None
    for l in range(L):
        W, b = params[f"W{l}"], params.get(f"b{l}")
        if l == L - 1:
            out = _affine(h, W, b)
            if gates0 is not None:
                pseudo = out if l == 0 else _affine(hp, W, b)
            break
        shape = (W.shape[0], X.shape[-2], W.shape[1])
        zb = zpb = pb = hpb = None
        if ws is not None:
            zb, zpb, pb, hpb = _buffers(ws, l, shape, W.dtype, W.device)
        z = _affine(h, W, b, out=zb)
        if want_gates:
            gates.append(z >= 0)
        if gates0 is not None:
            zp = z if l == 0 else _affine(hp, W, b, out=zpb)
            g = gates0[l]
            hp = torch.mul(zp.reshape(-1, *g.shape), g,
                           out=None if hpb is None else hpb.view(-1, *g.shape)).view(shape)
        h = z.clamp_min_(0)
        # 1[z > 0] = bool(relu(z)): a float-to-bool copy is ~7x faster than a comparison
        p = h.bool() if pb is None else pb.copy_(h)
        if patterns0 is None:
            patterns.append(p)
        else:
            ref = patterns0[l]
            p.view(-1, *ref.shape).logical_xor_(ref)  # broadcast over the snapshots
            # a byte sum is about twice as fast as count_nonzero on a bool tensor
            acc = torch.int32 if shape[1] * shape[2] < 2**31 else torch.int64
            changed = p.view(torch.uint8).sum(dim=(-2, -1), dtype=acc)
            patterns.append(changed.to(torch.float64).div_(shape[1] * shape[2]))
    if c != 1.0:
        out = out * c
        pseudo = None if pseudo is None else pseudo * c
    return out, patterns, gates, pseudo


def _changed_fraction(p, p0):
    """Fraction of differing entries over the last two axes (samples, units)."""
    return (p != p0).flatten(-2).to(torch.float64).mean(dim=-1)


def _layers_and_biases(W, W0, b, b0):
    """Lists of (W, W0, b, b0) for the single-matrix and the list forms."""
    single = not is_sequence(W)
    if single:
        if is_sequence(W0) or is_sequence(b) or is_sequence(b0):
            raise ValueError(
                "`W0`, `b` and `b0` must be single arrays when `W` is one matrix; got a list. "
                "Pass lists for all of them to measure several layers."
            )
        W, W0, b, b0 = [W], [W0], [b], [b0]
    else:
        W, W0 = check_lists(W, W0)
        n = len(W)
        for name, v in (("b", b), ("b0", b0)):
            if v is not None and (not is_sequence(v) or len(v) != n):
                raise ValueError(
                    f"`{name}` must be None or a list of {n} biases (None for a layer without "
                    f"bias) when `W` is a list; got {type(v).__name__}."
                )
        b = [None] * n if b is None else list(b)
        b0 = [None] * n if b0 is None else list(b0)
    layers = []
    for l, (w, w0, bl, bl0) in enumerate(zip(W, W0, b, b0)):
        sfx = "" if single else f"[{l}]"
        w, w0 = pair(w, w0, f"W{sfx}", f"W0{sfx}", ndim=2)
        if bl is None and bl0 is not None:
            raise ValueError(
                f"`b{sfx}` must be given when `b0{sfx}` is; got b=None. Pass the current bias "
                "(or the same array twice for a bias that does not train)."
            )
        if bl is not None:
            bl = as_tensor(bl, f"b{sfx}", ndim=1).to(device=w.device, dtype=w.dtype)
            bl, bl0 = pair(bl, bl if bl0 is None else bl0, f"b{sfx}", f"b0{sfx}", ndim=1)
            if bl.shape[0] != w.shape[0]:
                raise ValueError(
                    f"`b{sfx}` must have one entry per row of `W{sfx}` ({w.shape[0]}); got "
                    f"{bl.shape[0]}."
                )
        if l > 0 and w.shape[1] != layers[-1][0].shape[0]:
            raise ValueError(
                f"`W[{l}]` must take the {layers[-1][0].shape[0]} outputs of `W[{l - 1}]` as "
                f"inputs; got fan_in {w.shape[1]}. List only the hidden layers, in order."
            )
        layers.append((w, w0, bl, bl0))
    return single, layers


def activation_pattern_change(W, W0, X, b=None, b0=None):
    """Fraction of (sample, unit) pairs whose ReLU pattern differs from the initial one.

    For one layer the pattern of unit ``r`` on input ``x`` is ``1[<w_r, x> + b_r > 0]``;
    the result is the mean over ``x`` in ``X`` and units ``r`` of ``1[P_r(x) != P^0_r(x)]``,
    the "coupling" curve of [LL] Figure 1(b). For a list of layers each network
    (current and initial) propagates its own hidden values ``h_l = relu(W_l h_{l-1} + b_l)``
    and the fraction is reported per layer (the per-layer sign changes ``||D'_x||_0`` of
    [AZLL] Lemma 6.5, divided by ``n m``).

    Parameters
    ----------
    W : array-like or tensor of shape (m, d), or list of them
        Current weights, rows are neurons; a list holds the hidden layers of a ReLU network
        in order (each followed by a ReLU; leave out the output layer).
    W0 : array-like or tensor of shape (m, d), or list of them
        Initial weights, shaped like ``W``.
    X : array-like or tensor of shape (n, d)
        Reference inputs (e.g. the training or test set).
    b : array-like of shape (m,), or list of them or of None, default=None
        Current biases; ``None`` means no bias.
    b0 : array-like of shape (m,), or list of them or of None, default=None
        Initial biases; ``None`` means ``b0 = b`` (a bias that does not train).

    Returns
    -------
    fraction : float or list of float
        In ``[0, 1]``; one value per layer when ``W`` is a list.

    See Also
    --------
    layerwise_activation_change : The same per hidden layer of a library network.

    Notes
    -----
    ``change = (1 / (n m)) sum_{i, r} 1[1[z_r(x_i) > 0] != 1[z^0_r(x_i) > 0]]`` with
    ``z = W x + b`` and ``z^0 = W0 x + b0``. The pattern is 1 when the input of the ReLU is
    positive ([LL] Sec. 7); it differs from the papers' derivative ``1[z >= 0]`` only on
    exact zeros. Cost ``O(n m d)`` per layer, memory ``O(n m)``.

    References
    ----------
    [LL] Sec. 7, Figure 1(b) and Figure 2(b) ("coupling"); [AZLL] Lemma 6.5 (per-layer sign
    changes).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.diagnostics import activation_pattern_change
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> W0 = np.array([[1.0, 1.0], [-1.0, 1.0]])
    >>> W = np.array([[1.0, -1.0], [-1.0, 1.0]])  # unit 0 turns off on the second input
    >>> activation_pattern_change(W, W0, X)
    0.25
    """
    single, layers = _layers_and_biases(W, W0, b, b0)
    Xt = inputs_like(X, layers[0][0], layers[0][0].shape[1])
    h = h0 = Xt
    out = []
    for w, w0, bl, bl0 in layers:
        z, z0 = _affine(h, w, bl), _affine(h0, w0, bl0)
        out.append(float(_changed_fraction(z > 0, z0 > 0)))
        h, h0 = z.clamp_min(0), z0.clamp_min(0)
    return out[0] if single else out


def layerwise_activation_change(spec, params, params0, X, *, index=None):
    """Per hidden layer of a library network: fraction of ReLU patterns changed since init.

    Parameters
    ----------
    spec : ReLUNetSpec
        The architecture.
    params : dict of str to Tensor
        Current parameters, a stack ``{"W0": (K, fan_out, fan_in), "b0": (K, fan_out),
        ...}``.
    params0 : dict of str to Tensor
        Initial parameters, a stack of the same size.
    X : array-like or tensor of shape (n, d)
        Reference inputs (already through the estimator's input map, if any).
    index : int, default=None
        The copy of the stack to measure; ``None`` for a stack of one.

    Returns
    -------
    fractions : list of float
        One value in ``[0, 1]`` per hidden layer (``spec.depth - 1`` values; the output
        layer has no ReLU).

    Notes
    -----
    ``change_l = (1 / (n m_l)) sum_{i, r} 1[1[z_{l,r}(x_i) > 0] != 1[z^0_{l,r}(x_i) > 0]]``
    with ``z_l = W_l h_{l-1} + b_l`` propagated through the current network and ``z^0_l``
    through the initial one, as :func:`activation_pattern_change` on the list of hidden
    layers.

    References
    ----------
    [LL] Sec. 7, Figure 1(b); [AZLL] Lemma 6.5 (``||D'_{w,x}||_0``, ``||D'_{v,x}||_0``).

    Examples
    --------
    >>> import torch
    >>> from sklearn_overparam.diagnostics import layerwise_activation_change
    >>> from sklearn_overparam.nn import cczg_deep, init_params
    >>> spec = cczg_deep(n_features=3, width=16, depth=3)
    >>> params0 = init_params(spec, [0], dtype=torch.float64)
    >>> params = init_params(spec, [1], dtype=torch.float64)  # far from params0
    >>> X = torch.randn(20, 3, generator=torch.Generator().manual_seed(0))
    >>> changes = layerwise_activation_change(spec, params, params0, X)
    >>> len(changes), all(0 <= c <= 1 for c in changes)
    (2, True)
    """
    spec, params, params0 = check_network(spec, params, params0)
    k = select_copy(spec, params, index)
    params = {n: t[k:k + 1] for n, t in params.items()}
    params0 = {n: t[k:k + 1] for n, t in params0.items()}
    Xt = inputs_like(X, params["W0"], spec.n_features)
    with torch.no_grad():
        _, patterns, _, _ = network_pass(spec, params, Xt)
        _, patterns0, _, _ = network_pass(spec, params0, Xt)
    return [float(_changed_fraction(p, p0)[0]) for p, p0 in zip(patterns, patterns0)]


def pseudo_network_gap(spec, params, params0, X, *, index=None):
    """``|f(x; W) - g(x; W)|`` between the network and its pseudo network, mean and max.

    The pseudo network ``g`` has the current weights but every ReLU gate frozen at its
    value at initialization; the gap measures how far training has left the regime where
    the network is its (gate-frozen) pseudo network.

    Parameters
    ----------
    spec : ReLUNetSpec
        The architecture.
    params : dict of str to Tensor
        Current parameters ``W``, a stack ``{"W0": (K, fan_out, fan_in), ...}``.
    params0 : dict of str to Tensor
        Initial parameters ``W^(0)``, which fix the gates; a stack of the same size.
    X : array-like or tensor of shape (n, d)
        Inputs (already through the estimator's input map, if any).
    index : int, default=None
        The copy of the stack to measure; ``None`` for a stack of one.

    Returns
    -------
    gap : dict
        ``{"mean": float, "max": float}``: the mean and the maximum of ``|f_r(x) - g_r(x)|``
        over inputs ``x`` in ``X`` and outputs ``r``. Both are 0 at ``W = W^(0)``.

    Notes
    -----
    For two layers ([AZLL] Appendix B.1, [LL] Sec. 5),
    ``g_r(x; W) = sum_i a_{r,i} (<w_i, x> + b_i) 1[<w^(0)_i, x> + b^(0)_i >= 0]``.
    For a deep network every hidden layer is gated by its initial pattern while values
    propagate with the current weights: ``h^g_0 = x``,
    ``h^g_l = (W_l h^g_{l-1} + b_l) * 1[W^(0)_l h^(0)_{l-1} + b^(0)_l >= 0]`` with
    ``h^(0)`` the hidden values of the initial network, and
    ``g = c (W_L h^g_{L-1} + b_L)`` (``c`` the spec's output multiplier). ``g`` is linear in
    each layer's weights; with one trained layer it is the linearization of ``f`` at
    ``W^(0)`` (its first-order Taylor expansion), with several it also keeps the products
    of the layers' increments (the second-order terms of [AZLL] Remark 6.1).

    References
    ----------
    [AZLL] Sec. 6.2-6.3 (pseudo networks, Lemma 6.5) and Appendix B (Lemma B.3, coupling);
    [LL] Sec. 5 (the pseudo network ``g`` of the coupling Lemma 5.1).

    Examples
    --------
    >>> import torch
    >>> from sklearn_overparam.diagnostics import pseudo_network_gap
    >>> from sklearn_overparam.nn import azll_two_layer, init_params
    >>> spec = azll_two_layer(n_features=4, n_hidden=64)
    >>> params0 = init_params(spec, [0], dtype=torch.float64)
    >>> X = torch.randn(10, 4, generator=torch.Generator().manual_seed(0))
    >>> pseudo_network_gap(spec, params0, params0, X)
    {'mean': 0.0, 'max': 0.0}
    >>> params = dict(params0, W0=init_params(spec, [1], dtype=torch.float64)["W0"])
    >>> pseudo_network_gap(spec, params, params0, X)["max"] > 0
    True
    """
    spec, params, params0 = check_network(spec, params, params0)
    k = select_copy(spec, params, index)
    params = {n: t[k:k + 1] for n, t in params.items()}
    params0 = {n: t[k:k + 1] for n, t in params0.items()}
    Xt = inputs_like(X, params["W0"], spec.n_features)
    with torch.no_grad():
        _, _, gates0, _ = network_pass(spec, params0, Xt, want_gates=True)
        out, _, _, pseudo = network_pass(spec, params, Xt, gates0=gates0)
        gap = (out - pseudo).abs()
    return {"mean": float(gap.to(torch.float64).mean()), "max": float(gap.max())}
