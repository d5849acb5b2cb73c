"""Infinite-width (analytic) NNGP and NTK kernels of fully connected ReLU networks.

The recursion is the one of neural-tangents' ``stax.Dense(W_std, b_std, parameterization="ntk")``
followed by ``stax.Relu()``, written with explicit per-row norms so that inputs of any norm work.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._torch import resolve_device, resolve_dtype
from ._arguments import (
    _check_block_size,
    _check_depth,
    _check_inputs,
    _per_layer,
    _trainable_mask,
)

_TWO_PI = 2.0 * math.pi
# Temporaries per block: up to five (rows x n_Y) buffers and the float64 product. 8 MiB keeps
# them close to the cache on CPU (n=5000, depth 5: 1.1-1.4x faster than 64 MiB) while per-op
# overhead stays small (>= 1.5e5 entries per op for n_Y = 20000).
_WORKSPACE_BYTES = 8 * 2**20


def _diag_variances(sq_norms: np.ndarray, d: int, wv: np.ndarray, bv: np.ndarray) -> list:
    """Per-layer diagonals ``Sigma^l(x, x)``, l = 1..L, in float64 (``E[relu(u)^2] = Sigma/2``)."""
    a = wv[0] * sq_norms / d + bv[0]
    out = [a]
    for l in range(1, len(wv)):
        a = wv[l] * a / 2.0 + bv[l]
        out.append(a)
    return out


def _duplicate_ids(X: np.ndarray, Y: np.ndarray | None):
    """Row ids that equal rows share, or ``None`` when no pair other than ``(i, i)`` matches.

    Equal rows have ``cos = 1`` exactly; the Gram product gives ``1 - O(eps)`` instead, whose
    arccos is ``O(sqrt(eps))``, so these pairs are set exactly.
    """
    both = X if Y is None else np.vstack([X, Y])
    _, ids = np.unique(both, axis=0, return_inverse=True)
    ids = ids.ravel()
    if Y is None:
        return (ids, ids) if np.unique(ids).size < X.shape[0] else None
    id_x, id_y = ids[: X.shape[0]], ids[X.shape[0]:]
    return (id_x, id_y) if np.intersect1d(id_x, id_y).size else None


def _first_layer_factors(X, Y, var_x, var_y, w, b, depth):
    """Float64 factors whose products are ``Sigma^1`` (depth 1) or ``(1 -/+ cos theta_1) / 2``.

    ``(1 - cos theta_1) / 2`` is the dot product of ``[sqrt(w/d) x, s_x, sqrt(b)] / (sqrt(2)
    s_x)`` with ``[-sqrt(w/d) y, s_y, -sqrt(b)] / (sqrt(2) s_y)``, and ``(1 + cos theta_1) /
    2`` that with ``[sqrt(w/d) y, s_y, sqrt(b)] / (sqrt(2) s_y)``: float64 products resolve
    angles that a float32 Gram rounds away. Returns ``(F_X, F_Y)`` for depth 1, else
    ``(F_X, F_Y^-, F_Y^+)``. Zero-variance rows get zero factors.
    """
    c = math.sqrt(w / X.shape[1])

    def factor(Z, var, sign):
        ones = np.ones((Z.shape[0], 1))
        if depth == 1:
            return np.hstack([c * Z, math.sqrt(b) * ones])
        s = np.sqrt(var)
        r = np.divide(1.0 / math.sqrt(2.0), s, out=np.zeros_like(s), where=s > 0)
        return np.hstack([sign * c * Z, s[:, None], sign * math.sqrt(b) * ones]) * r[:, None]

    if depth == 1:
        return factor(X, var_x, 1.0), factor(Y, var_y, 1.0)
    return factor(X, var_x, 1.0), factor(Y, var_y, -1.0), factor(Y, var_y, 1.0)


def _bias_correction(s_x, s_y, s_next_x, s_next_y, alpha, b, eps):
    """Per-row factors that map ``h`` of the bias-free layer map to ``h`` with bias ``b``.

    With ``g = sqrt(alpha) s / s'`` and ``beta = sqrt(b) / s'`` (``s'^2 = alpha s^2 + b``),
    ``h' = g_x g_y h0 + ((g_x - g_y)^2 + (beta_x - beta_y)^2) / 4`` exactly, without the
    cancellation of ``1 - cos'``. Returns ``("scalar", g^2)`` when the rows share their
    variance (to well below the working precision), else ``("rows", g_x, g_y, beta_x,
    beta_y)``.
    """
    g_x, g_y = math.sqrt(alpha) * s_x / s_next_x, math.sqrt(alpha) * s_y / s_next_y
    beta_x, beta_y = math.sqrt(b) / s_next_x, math.sqrt(b) / s_next_y
    g, beta = np.concatenate([g_x, g_y]), np.concatenate([beta_x, beta_y])
    if np.ptp(g) <= 1e-3 * eps and np.ptp(beta) <= 1e-3 * eps:
        return ("scalar", float(np.mean(g)) ** 2)
    return ("rows", g_x, g_y, beta_x, beta_y)


def _relu_kernel(X, Y, *, depth, weight_variance, bias_variance, mask, bias_trainable, dtype,
                 block_size, device) -> np.ndarray:
    """Shared driver of :func:`relu_nngp_kernel` (``mask is None``) and :func:`relu_ntk_kernel`.

    The recursion carries ``h = (1 - cos theta) / 2 = sin^2(theta / 2)`` instead of
    ``Sigma``: ``theta / 2 = asin(sqrt(h))`` is well conditioned where ``arccos(cos)`` is not
    (near-parallel pairs), and the layer map ``J_1`` acts on ``h`` directly,

        h' = h - (sin(theta) - theta cos(theta)) / (2 pi)

    (bias-free; see :func:`_bias_correction`), with a rounding error ``O(eps theta)``, so
    ``theta`` keeps a relative accuracy ``O(eps)`` in every layer. ``Sigma' - b = w/2
    sqrt(Sigma(x,x) Sigma(y,y)) (1 - 2 h')`` (bias-free ``h'``) is formed afresh in each
    layer, so its rounding does not accumulate over layers. The first layer's ``h``, ``1 - h``
    (hence ``theta = 2 atan2(sqrt(h), sqrt(1 - h))``, as well conditioned for anti-parallel
    pairs as for parallel ones) come from float64 GEMMs; the rest runs in the working dtype.
    """
    symmetric = Y is None
    Yv = X if symmetric else Y
    n_x, d = X.shape
    n_y = Yv.shape[0]
    wv, bv = weight_variance, bias_variance
    ntk = mask is not None
    tdtype = resolve_dtype(dtype)
    dev = resolve_device(device)
    f64 = torch.float64
    gdev = torch.device("cpu") if dev.type == "mps" else dev  # MPS has no float64

    def rows(v):
        return torch.as_tensor(v, dtype=tdtype, device=dev)

    sq_x = np.einsum("ij,ij->i", X, X)
    var_x = _diag_variances(sq_x, d, wv, bv)
    var_y = var_x if symmetric else _diag_variances(np.einsum("ij,ij->i", Yv, Yv), d, wv, bv)
    s_x = [np.sqrt(a) for a in var_x]
    s_y = s_x if symmetric else [np.sqrt(a) for a in var_y]
    eps = float(torch.finfo(tdtype).eps)
    layers = []  # per map l -> l + 1: (scale, Sigma_dot at theta = 0, w/2 s_x, s_y, correction)
    for l in range(1, depth):
        scale = wv[l] / _TWO_PI
        corr = None
        if l < depth - 1 and bv[l] > 0:
            corr = _bias_correction(s_x[l - 1], s_y[l - 1], s_x[l], s_y[l], wv[l] / 2.0, bv[l],
                                    eps)
            if corr[0] == "rows":
                corr = ("rows", rows(corr[1])[:, None], rows(corr[2])[None, :],
                        rows(corr[3])[:, None], rows(corr[4])[None, :])
        layers.append((scale, torch.tensor(scale * math.pi, dtype=tdtype, device=dev),
                       rows(wv[l] / 2.0 * s_x[l - 1])[:, None], rows(s_y[l - 1])[None, :], corr))
    s0_x, s0_y = rows(s_x[0])[:, None], rows(s_y[0])[None, :]
    diag_first, diag_last = rows(var_x[0]), rows(var_x[-1])
    s0_x64 = torch.as_tensor(s_x[0], dtype=f64, device=gdev)[:, None]
    s0_y64 = torch.as_tensor(s_y[0], dtype=f64, device=gdev)[None, :]
    lin_x64 = torch.as_tensor(wv[0] * sq_x / d, dtype=f64, device=gdev)
    Xa, *Ya = _first_layer_factors(X, Yv, var_x[0], var_y[0], wv[0], bv[0], depth)
    Xa = torch.as_tensor(Xa, dtype=f64, device=gdev)
    Ya_T, *Yc_T = [torch.as_tensor(F, dtype=f64, device=gdev).T.contiguous() for F in Ya]
    dup = _duplicate_ids(X, Y)
    if dup is not None:
        id_x = torch.as_tensor(dup[0], device=dev)
        id_y = torch.as_tensor(dup[1], device=dev)

    itemsize = torch.empty((), dtype=tdtype).element_size()
    names = (["S"] if depth == 1 else ["H", "A", "B", "C"]) + (["T"] if ntk else [])
    separate_gemm = tdtype != f64
    if block_size is None:
        per_row = n_y * (len(names) * itemsize + 8 * separate_gemm + (dup is not None))
        block_size = max(1, _WORKSPACE_BYTES // per_row)
        if block_size > 4:
            # Whole GEMM micro-kernel tiles: 56 or 60 rows beat 59 by 15% at n_features=784.
            block_size -= block_size % 4
    block_size = min(block_size, n_x)
    flat = {name: torch.empty(block_size * n_y, dtype=tdtype, device=dev) for name in names}
    if separate_gemm:
        flat["G"] = torch.empty(block_size * n_y, dtype=f64, device=gdev)
    one = torch.ones((), dtype=tdtype, device=dev)

    out = np.empty((n_x, n_y), dtype=torch.empty((), dtype=tdtype).numpy().dtype)
    out_t = torch.from_numpy(out)
    for i0 in range(0, n_x, block_size):
        i1 = min(i0 + block_size, n_x)
        # With Y = X only columns j >= i0 are computed; the rest is mirrored below.
        j0 = i0 if symmetric else 0
        shape = (i1 - i0, n_y - j0)
        buf = {k: v[: shape[0] * shape[1]].view(shape) for k, v in flat.items()}
        T = buf.get("T")
        first = buf["S"] if depth == 1 else buf["H"]
        G = buf.get("G", first)
        torch.matmul(Xa[i0:i1], Ya_T[:, j0:], out=G)
        if G is not first:
            first.copy_(G)
        # Pairs of equal rows get cos = 1 and the float64 diagonals.
        same = None if dup is None else id_x[i0:i1, None] == id_y[None, j0:]

        def set_equal_pairs(M, diag, i0=i0, i1=i1, same=same):
            if same is not None:
                torch.where(same, diag[i0:i1, None].expand_as(M), M, out=M)
            elif symmetric:
                M.diagonal().copy_(diag[i0:i1])

        if depth == 1:
            S = result = buf["S"]
            set_equal_pairs(S, diag_first)
        else:
            H, A, B, C = buf["H"], buf["A"], buf["B"], buf["C"]
            H.clamp_(0.0, 1.0)
            if separate_gemm:
                B.copy_(G.neg_().add_(1.0))  # G = 1 - h from here on
            else:
                # In float64 1 - h would round anti-parallel pairs: a second product.
                torch.matmul(Xa[i0:i1], Yc_T[0][:, j0:], out=B)
            B.clamp_min_(0.0).sqrt_()  # cos(theta / 2)
            if same is not None:
                H.masked_fill_(same, 0.0)
            elif symmetric:
                H.diagonal().zero_()
            torch.sqrt(H, out=A)
            torch.mul(A, B, out=C)  # sin(theta) / 2
            torch.atan2(A, B, out=A)  # theta / 2
            B, C = C, B
        if ntk and not mask[0]:
            T.zero_()
        elif ntk and not bias_trainable and bv[0] and separate_gemm:
            # Sigma^1 - b from the float64 product: a rounded Sigma^1 minus b would lose
            # b / (w <x, y> / d) times the working precision.
            if depth > 1:
                G.mul_(2.0).sub_(1.0).mul_(s0_x64[i0:i1]).mul_(s0_y64[:, j0:])  # Sigma^1
            G.sub_(bv[0])
            if same is not None:
                torch.where(same.to(gdev), lin_x64[i0:i1, None].expand_as(G), G, out=G)
            elif symmetric:
                G.diagonal().copy_(lin_x64[i0:i1])
            T.copy_(G)
        elif ntk:
            if depth == 1:
                T.copy_(S)
            else:
                torch.add(one, H, alpha=-2.0, out=T).mul_(s0_x[i0:i1]).mul_(s0_y[:, j0:])
                set_equal_pairs(T, diag_first)
            if not bias_trainable:
                T.sub_(bv[0])
        for l in range(1, depth):
            scale, sdot0, half_sx, sy, corr = layers[l - 1]
            last = l == depth - 1
            if l > 1:
                torch.clamp(H, min=0.0, out=A).sqrt_()
                torch.add(one, H, alpha=-1.0, out=B).sqrt_().mul_(A)  # sin(theta) / 2
                A.asin_()  # theta / 2
            if ntk:
                T.mul_(torch.add(sdot0, A, alpha=-2.0 * scale, out=C))  # Sigma_dot
            sigma = mask[l] if ntk else last
            if sigma or not last:
                # Bias-free h' = h + (theta/2) cos(theta) / pi - sin(theta) / (2 pi).
                H.addcmul_(A, H, value=-2.0 / math.pi).add_(A, alpha=1.0 / math.pi)
                H.add_(B, alpha=-1.0 / math.pi)
            if sigma:
                # Sigma^{l+1} - b = w/2 sqrt(Sigma(x,x) Sigma(y,y)) (1 - 2 h').
                torch.add(one, H, alpha=-2.0, out=B).mul_(half_sx[i0:i1]).mul_(sy[:, j0:])
                if ntk:
                    T.add_(B)
                    if bias_trainable and bv[l]:
                        T.add_(bv[l])
                else:
                    if bv[l]:
                        B.add_(bv[l])
                    set_equal_pairs(B, diag_last)
                    result = B
            if last:
                continue
            if corr is not None and corr[0] == "scalar":
                H.mul_(corr[1])
            elif corr is not None:
                _, g_x, g_y, beta_x, beta_y = corr
                H.mul_(g_x[i0:i1]).mul_(g_y[:, j0:])
                H.addcmul_(torch.sub(g_x[i0:i1], g_y[:, j0:], out=B), B, value=0.25)
                H.addcmul_(torch.sub(beta_x[i0:i1], beta_y[:, j0:], out=B), B, value=0.25)
            if same is not None:
                H.masked_fill_(same, 0.0)
        if ntk:
            result = T
        out_t[i0:i1, j0:].copy_(result)
        if symmetric:
            # Copy the upper triangle over the lower one: the output is exactly symmetric.
            out_t[i1:, i0:i1].copy_(out_t[i0:i1, i1:].T)
            sq = out_t[i0:i1, i0:i1]
            lower = torch.ones(sq.shape, dtype=torch.bool).tril_(-1)
            sq[lower] = sq.T[lower]
    return out


def relu_nngp_kernel(X, Y=None, *, depth=2, weight_variance=2.0, bias_variance=0.0,
                     dtype=np.float64, block_size=None, device=None) -> np.ndarray:
    r"""Infinite-width NNGP kernel of a fully connected ReLU network.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
        Left inputs. Any norm is allowed, including zero rows.
    Y : array-like of shape (n_samples_Y, n_features), default=None
        Right inputs; ``None`` means ``Y = X`` (the diagonal then uses ``cos = 1`` exactly
        and the output is exactly symmetric).
    depth : int, default=2
        Number of weight matrices ``L``: ``L - 1`` hidden ReLU layers. ``depth=1`` is the
        linear kernel ``Sigma^1``.
    weight_variance : float or sequence of float, default=2.0
        ``W_std**2`` of every layer (2.0 = He), or one value per layer (length ``depth``).
    bias_variance : float or sequence of float, default=0.0
        ``b_std**2`` of every layer, or one value per layer.
    dtype : {numpy.float64, numpy.float32, "float64", "float32"}, default=numpy.float64
        Working and output precision. float64 is the reference; float32 is the fast path,
        within ``1e-6 * sqrt(K(x, x) K(y, y))`` of it entry by entry (see Notes).
    block_size : int, default=None
        Rows of ``X`` per block. ``None`` bounds the temporaries to ~8 MiB; the output is
        allocated once. No divisibility requirement.
    device : str or torch.device, default=None
        Where the element-wise recursion runs (``"cuda"`` on a GPU); ``None`` is CPU. The
        result is always a CPU numpy array.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y)
        ``Sigma^L(x, y)``, the covariance of the network output at initialisation in the
        infinite-width limit.

    Notes
    -----
    NTK parameterisation (neural-tangents ``stax.Dense(W_std, b_std, parameterization="ntk")``):
    layer ``l`` computes ``h^l = sqrt(w_l / n_{l-1}) W_l relu(h^{l-1}) + sqrt(b_l) beta_l`` with
    standard normal ``W_l, beta_l``, ``h^0 = x`` without ReLU and ``n_0 = n_features = d``.
    With ``w_l`` = ``weight_variance``, ``b_l`` = ``bias_variance``:

    .. math::

        \Sigma^1(x, y) = w_1 \langle x, y\rangle / d + b_1, \qquad
        \Sigma^{l+1} = w_{l+1}\,\mathbb{E}[\mathrm{relu}(u)\mathrm{relu}(v)] + b_{l+1},

    with ``(u, v) ~ N(0, [[Sigma^l(x,x), Sigma^l(x,y)], [., Sigma^l(y,y)]])``. The
    arc-cosine closed form, with ``cos(theta) = Sigma^l(x,y) / sqrt(Sigma^l(x,x) Sigma^l(y,y))``,
    is ``E[relu(u) relu(v)] = sqrt(Sigma(x,x) Sigma(y,y)) (sin(theta) + (pi - theta) cos(theta))
    / (2 pi)``. A zero-variance row (zero input without bias) gets ``cos = 0``, which yields
    the exact value (the bias part only) without NaN.

    Numerics: the diagonals ``Sigma^l(x, x)`` follow the scalar recursion ``w Sigma/2 + b``
    in float64 for every layer (O(n L)) and are cast to the working dtype. The recursion
    carries ``h_l = (1 - cos theta_l) / 2 = sin^2(theta_l / 2)`` without cancellation:
    ``h_1`` comes from a float64 product of the normalised inputs (a float32 Gram rounds
    ``cos`` to a multiple of 6e-8, whose ``arccos`` near 1 is off by ``6e-8 / theta``),
    ``theta_1 = 2 atan2(sqrt(h_1), sqrt(1 - h_1))``, ``theta_l = 2 asin(sqrt(h_l))`` for
    ``l >= 2`` (where ``cos theta_l >= 0``), and the layer map acts on ``h`` directly,
    ``h_{l+1} = h_l - (sin theta_l - theta_l cos theta_l) / (2 pi)`` (plus an exact bias
    term), with a rounding error ``O(eps theta)``. Angles thus keep a relative accuracy
    ``O(eps)`` for near-parallel and anti-parallel pairs alike, and each layer's
    ``Sigma^{l+1} = w/2 sqrt(Sigma^l(x,x) Sigma^l(y,y)) (1 - 2 h_{l+1}) + b`` (bias-free
    ``h``) is formed afresh, so its rounding does not accumulate with depth. Pairs of equal
    rows get ``theta = 0`` and the float64 diagonals exactly: the diagonal when ``Y`` is None,
    and any row of ``X`` equal to a row of ``Y`` (found once by ``np.unique``; scikit-learn
    passes ``Y = X`` explicitly in ``SVC`` and ``KernelRidge``).

    float32 accuracy, for every entry and ``depth <= 10``:
    ``|K_32(x, y) - K_64(x, y)| <= 1e-6 * sqrt(K_64(x, x) K_64(y, y))``, the diagonal scale
    that bounds ``|K(x, y)|``; on the diagonal this is 1e-6 relative to the entry. It holds
    with biases, per-layer variances, inputs of any norm and pairs down to ``1 - cos = 1e-14``
    (measured at most 3e-7 up to depth 5, 4e-7 at depth 10). An entry much smaller than its
    diagonal scale (orthogonal inputs at ``depth=1``, opposite inputs at ``depth=2`` without
    bias) is accurate to that scale, not to itself. The float64 product costs about twice a
    float32 Gram, which the element-wise passes outweigh for few features (n=5000, depth 5,
    one thread, against float32 ``arccos`` of a float32 Gram: no slower at
    ``n_features=4``, +10% at 64, +60-80% at 784). The recursion runs in torch rather than
    numpy because torch's vectorised ``asin``/``sin`` are several times faster on CPU, run
    multi-threaded, and the same code runs on a GPU.

    Maps of the library's paper networks (all verified by Monte Carlo in the tests):

    * [AZLL] (``W, V, b1, b2 ~ N(0, 1/m)``, ``a ~ N(0, 1)``): the conjugate kernel
      ``<phi(x), phi(y)>`` of the features ``phi(x) = relu(V relu(W x + b1) + b2)`` (no
      ``1/m``: the features are ``O(m^-1/2)`` each) tends to ``relu_nngp_kernel(X, depth=3,
      weight_variance=(d, 1, 1), bias_variance=(1, 1, 0))``; two layers: ``depth=2``,
      ``(d, 1)``, ``(1, 0)``.
    * [CCZG] (``f = sqrt(m) W_L relu(...)``, He init, no bias):
      ``E[f(x) f(y)] = d / 2 * relu_nngp_kernel(X, depth=L, weight_variance=2.0)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.kernels import relu_nngp_kernel
    >>> X = np.eye(3)
    >>> relu_nngp_kernel(X, depth=2).round(3)
    array([[0.667, 0.212, 0.212],
           [0.212, 0.667, 0.212],
           [0.212, 0.212, 0.667]])
    """
    X, Y = _check_inputs(X, Y)
    depth = _check_depth(depth)
    wv = _per_layer(weight_variance, depth, "weight_variance")
    bv = _per_layer(bias_variance, depth, "bias_variance")
    return _relu_kernel(X, Y, depth=depth, weight_variance=wv, bias_variance=bv, mask=None,
                        bias_trainable=True, dtype=dtype, block_size=_check_block_size(block_size),
                        device=device)


def relu_ntk_kernel(X, Y=None, *, depth=2, weight_variance=2.0, bias_variance=0.0,
                    trainable="all", bias_trainable=True, dtype=np.float64, block_size=None,
                    device=None) -> np.ndarray:
    r"""Infinite-width neural tangent kernel of a fully connected ReLU network.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
        Left inputs. Any norm is allowed, including zero rows.
    Y : array-like of shape (n_samples_Y, n_features), default=None
        Right inputs; ``None`` means ``Y = X``.
    depth : int, default=2
        Number of weight matrices ``L`` (``L - 1`` hidden ReLU layers).
    weight_variance : float or sequence of float, default=2.0
        ``W_std**2`` of every layer, or one value per layer.
    bias_variance : float or sequence of float, default=0.0
        ``b_std**2`` of every layer, or one value per layer.
    trainable : {"all", "hidden", "last"} or sequence of bool, default="all"
        Which layers' parameters enter the tangent kernel. ``"hidden"`` = every layer but the
        last (output layer frozen, as in [AZLL] and [LL]); ``"last"`` = only layer ``L``,
        which equals the NNGP; a sequence gives one flag per layer, input layer first.
    bias_trainable : bool, default=True
        If False, trainable layers contribute only their weights (the frozen-bias networks
        of [AZLL]): layer ``l`` adds ``Sigma^l - b_l`` instead of ``Sigma^l``.
    dtype : {numpy.float64, numpy.float32, "float64", "float32"}, default=numpy.float64
        Working and output precision; float32 is within ``1e-6 * sqrt(K(x, x) K(y, y))``
        of float64 entry by entry (see the Notes of :func:`relu_nngp_kernel`).
    block_size : int, default=None
        Rows of ``X`` per block; ``None`` bounds the temporaries to ~8 MiB.
    device : str or torch.device, default=None
        Where the recursion runs; the result is always a CPU numpy array.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y)
        ``Theta^L(x, y)``: the limit of ``<grad_theta f(x), grad_theta f(y)>`` over the
        trainable parameters ``theta`` (standard normal in NTK parameterisation).

    Notes
    -----
    With the NNGP recursion of :func:`relu_nngp_kernel` and
    ``Sigma_dot^{l+1} = w_{l+1} E[relu'(u) relu'(v)] = w_{l+1} (pi - theta_l) / (2 pi)``,

    .. math::

        \Theta^1 = t_1 \Sigma^1_{\mathrm{tr}}, \qquad
        \Theta^{l+1} = t_{l+1} \Sigma^{l+1}_{\mathrm{tr}} + \Theta^l \dot\Sigma^{l+1},

    where ``t_l`` is the ``trainable`` flag and ``Sigma_tr = Sigma`` (``bias_trainable``) or
    ``Sigma - b_l`` (weights only). This is neural-tangents' ``stax.serial(Dense, Relu, ...,
    Dense)`` NTK with ``parameterization="ntk"`` when everything trains.

    Maps of the library's paper networks (standard parameterisation, kernels of the trained
    weights themselves, width ``m`` for every hidden layer; verified by Monte Carlo):

    * [AZLL] three-layer net ``a^T relu(V relu(W x + b1) + b2)``, ``W, V, b1, b2 ~ N(0, 1/m)``,
      ``a ~ N(0, 1)``, training ``W, V`` only: its empirical NTK divided by ``m`` tends to
      ``relu_ntk_kernel(X, depth=3, weight_variance=(d, 1, 1), bias_variance=(1, 1, 0),
      trainable="hidden", bias_trainable=False)``; two layers: ``depth=2``,
      ``weight_variance=(d, 1)``, ``bias_variance=(1, 0)``.
    * [CCZG] ``f = sqrt(m) W_L relu(... relu(W_1 x))`` with He init (``N(0, 2/m)`` hidden,
      ``N(0, 1/m)`` output), no bias, all layers trained: its empirical NTK divided by ``m``
      tends to ``d / 4 * (relu_ntk_kernel(X, depth=L) + relu_nngp_kernel(X, depth=L))`` with
      the default ``weight_variance=2``. The output layer counts twice because its
      standard-parameterisation variance is half that of the hidden layers.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.kernels import relu_ntk_kernel
    >>> X = np.eye(2)
    >>> relu_ntk_kernel(X, depth=2).round(3)
    array([[2.   , 0.318],
           [0.318, 2.   ]])
    """
    X, Y = _check_inputs(X, Y)
    depth = _check_depth(depth)
    wv = _per_layer(weight_variance, depth, "weight_variance")
    bv = _per_layer(bias_variance, depth, "bias_variance")
    mask = _trainable_mask(trainable, depth)
    if not isinstance(bias_trainable, bool | np.bool_):
        raise ValueError(
            f"`bias_trainable` must be a bool; got {bias_trainable!r}. "
            "Pass bias_trainable=False to freeze the biases."
        )
    return _relu_kernel(X, Y, depth=depth, weight_variance=wv, bias_variance=bv, mask=mask,
                        bias_trainable=bool(bias_trainable), dtype=dtype,
                        block_size=_check_block_size(block_size), device=device)


def _relu_kernel_diag(X, *, depth, weight_variance, bias_variance, mask, bias_trainable):
    """Diagonal ``K(x, x)`` in O(n L), using ``Sigma_dot(x, x) = w / 2``, ``E relu^2 = Sigma/2``.

    ``X`` is a validated float64 array; the variances are per-layer arrays; ``mask`` is None
    for the NNGP.
    """
    wv, bv = weight_variance, bias_variance
    diags = _diag_variances(np.einsum("ij,ij->i", X, X), X.shape[1], wv, bv)
    if mask is None:
        return diags[-1]
    drop = 0.0 if bias_trainable else 1.0
    theta = mask[0] * (diags[0] - drop * bv[0])
    for l in range(1, depth):
        theta = theta * (wv[l] / 2.0) + mask[l] * (diags[l] - drop * bv[l])
    return theta


def _relu_kernel_with_gradient(X, *, depth, weight_variance, bias_variance, mask, bias_trainable,
                               wrt):
    """``K(X, X)`` and its derivatives w.r.t. the logs of the shared scalar variances.

    Forward-mode differentiation of the recursion in float64. ``wrt`` lists the
    hyperparameters to differentiate, a subset of ``("weight_variance", "bias_variance")``,
    both shared by all layers (scalars). Returns ``K`` of shape (n, n) and the gradient of
    shape (n, n, len(wrt)).

    The angle derivative ``d theta = -d cos / sin(theta)`` is set to 0 where ``sin(theta) = 0``:
    on the diagonal and for equal rows ``theta = 0`` for every value of the hyperparameters,
    so its derivative is exactly 0 (the division would give 0/0).
    """
    n, d = X.shape
    wv, bv = float(weight_variance), float(bias_variance)
    ntk = mask is not None
    drop = 0.0 if bias_trainable else 1.0
    two_pi = _TWO_PI
    Xt = torch.as_tensor(X, dtype=torch.float64)
    G = Xt @ Xt.T
    sq = torch.as_tensor(np.einsum("ij,ij->i", X, X), dtype=torch.float64)
    G.diagonal().copy_(sq)
    dup = _duplicate_ids(X, None)
    if dup is None:
        same = torch.eye(n, dtype=torch.bool)
    else:
        ids = torch.as_tensor(dup[0])
        same = ids[:, None] == ids[None, :]
        G = torch.where(same, sq[:, None].expand_as(G), G)
    dwv = torch.tensor([wv if p == "weight_variance" else 0.0 for p in wrt], dtype=torch.float64)
    dbv = torch.tensor([bv if p == "bias_variance" else 0.0 for p in wrt], dtype=torch.float64)
    n_t = len(wrt)
    dwv3, dbv3 = dwv.view(n_t, 1, 1), dbv.view(n_t, 1, 1)

    S = G * (wv / d) + bv
    dS = dwv3 * (G / d) + dbv3
    a = sq * (wv / d) + bv
    da = dwv.view(n_t, 1) * (sq / d) + dbv.view(n_t, 1)
    if ntk:
        Th = (S - drop * bv) if mask[0] else torch.zeros_like(S)
        dTh = (dS - drop * dbv3) if mask[0] else torch.zeros_like(dS)
    for l in range(1, depth):
        sa = a.sqrt()
        ra = torch.where(sa > 0, 1.0 / sa.clamp_min(1e-300), torch.zeros_like(sa))
        c = (S * ra[:, None] * ra[None, :]).clamp_(-1.0, 1.0)
        c.masked_fill_(same, 1.0)
        theta = torch.acos(c)
        sin = torch.sin(theta)
        k0 = (math.pi - theta) / two_pi
        k1 = (sa[:, None] * sa[None, :] * sin + (math.pi - theta) * S) / two_pi
        u = da * ra  # d a / sqrt(a), 0 for zero-variance rows
        dc = dS * (ra[:, None] * ra[None, :]) - 0.5 * c * (
            (u * ra)[:, :, None] + (u * ra)[:, None, :]
        )
        safe = (sin > 0) & ~same
        dtheta = torch.where(safe, -dc / torch.where(safe, sin, torch.ones_like(sin)),
                             torch.zeros_like(dc))
        dk0 = -dtheta / two_pi
        dk1 = k0 * dS + (sin / (2.0 * two_pi)) * (
            u[:, :, None] * sa[None, None, :] + sa[None, :, None] * u[:, None, :]
        )
        S_new = wv * k1 + bv
        dS_new = dwv3 * k1 + wv * dk1 + dbv3
        if ntk:
            Sd = wv * k0
            dSd = dwv3 * k0 + wv * dk0
            dTh = dTh * Sd + Th * dSd
            Th = Th * Sd
            if mask[l]:
                Th = Th + (S_new - drop * bv)
                dTh = dTh + (dS_new - drop * dbv3)
        da = dwv.view(n_t, 1) * (a / 2.0) + (wv / 2.0) * da + dbv.view(n_t, 1)
        a = wv * a / 2.0 + bv
        S, dS = S_new, dS_new
    K, dK = (Th, dTh) if ntk else (S, dS)
    return K.numpy(), np.ascontiguousarray(np.moveaxis(dK.numpy(), 0, -1))
