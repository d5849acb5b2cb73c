"""Infinite-width (analytic) NNGP and NTK kernels of fully connected ReLU networks.

The recursion is the one of neural-tangents' ``stax.Dense(W_std, b_std, parameterization="ntk")``
followed by ``stax.Relu()``, written with explicit per-row norms so that inputs of any norm work.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import torch

from .._torch import resolve_device, resolve_dtype

_TWO_PI = 2.0 * math.pi
# Temporaries per block: three (rows x n_Y) buffers. 8 MiB keeps them close to the cache on
# CPU (n=5000, depth 5: 1.5-2x faster than 64 MiB) while per-op overhead stays negligible
# (>= 3e5 entries per op for n_Y = 20000).
_WORKSPACE_BYTES = 8 * 2**20


def _check_matrix(A, name: str) -> np.ndarray:
    """Return ``A`` as a finite 2-D float64 array with at least one row and one column."""
    try:
        arr = np.asarray(A)
    except Exception as exc:
        raise ValueError(
            f"`{name}` must be a dense 2-D numeric array; got {type(A).__name__}. "
            "Pass a numpy array of shape (n_samples, n_features)."
        ) from exc
    if arr.dtype.kind not in "biuf":
        raise ValueError(
            f"`{name}` must be a real numeric array; got dtype {arr.dtype!s}. "
            "Convert it with np.asarray(..., dtype=float)."
        )
    if arr.ndim != 2:
        raise ValueError(
            f"`{name}` must be a 2-D array of shape (n_samples, n_features); got shape "
            f"{arr.shape!r}. Reshape a single sample with X.reshape(1, -1)."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(
            f"`{name}` must have at least one sample and one feature; got shape {arr.shape!r}."
        )
    arr = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(
            f"`{name}` must contain only finite values; got NaN or infinity. "
            "Impute or drop the offending rows first."
        )
    return arr


def _check_inputs(X, Y):
    """Validate ``X`` and ``Y`` (``None`` means ``Y = X``)."""
    X = _check_matrix(X, "X")
    if Y is None:
        return X, None
    Y = _check_matrix(Y, "Y")
    if Y.shape[1] != X.shape[1]:
        raise ValueError(
            f"Y has {Y.shape[1]} features, but X has {X.shape[1]} features. "
            "Both arguments must have the same number of columns."
        )
    return X, Y


def _check_depth(depth) -> int:
    if isinstance(depth, bool) or not isinstance(depth, numbers.Integral) or depth < 1:
        raise ValueError(
            f"`depth` must be an integer >= 1 (the number of weight matrices); got {depth!r}. "
            "Use depth=2 for one hidden ReLU layer."
        )
    return int(depth)


def _per_layer(value, depth: int, name: str) -> np.ndarray:
    """A non-negative finite scalar, or one value per layer, as a float64 array of length depth."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"`{name}` must be a non-negative float or a sequence of {depth} of them; "
            f"got {value!r}."
        ) from exc
    if arr.ndim == 0:
        arr = np.full(depth, float(arr))
    elif arr.shape != (depth,):
        raise ValueError(
            f"`{name}` must be a non-negative float or a sequence of depth={depth} floats "
            f"(one per layer); got {value!r}. Pass a scalar to share it across layers."
        )
    if not (np.isfinite(arr).all() and (arr >= 0).all()):
        raise ValueError(
            f"`{name}` must be non-negative and finite; got {value!r}. "
            "Variances are squared standard deviations, e.g. 2.0 for He initialisation."
        )
    return arr


def _trainable_mask(trainable, depth: int) -> np.ndarray:
    """Resolve ``trainable`` to a boolean array of length ``depth``."""
    if isinstance(trainable, str):
        if trainable == "all":
            mask = np.ones(depth, dtype=bool)
        elif trainable == "hidden":
            mask = np.arange(depth) < depth - 1
        elif trainable == "last":
            mask = np.arange(depth) == depth - 1
        else:
            raise ValueError(
                f"`trainable` must be 'all', 'hidden', 'last' or a sequence of {depth} booleans; "
                f"got {trainable!r}."
            )
    else:
        if not isinstance(trainable, Sequence | np.ndarray) or not all(
            isinstance(t, bool | np.bool_) for t in trainable
        ):
            raise ValueError(
                f"`trainable` must be 'all', 'hidden', 'last' or a sequence of {depth} booleans; "
                f"got {trainable!r}."
            )
        if len(trainable) != depth:
            raise ValueError(
                f"`trainable` must have one boolean per layer, i.e. length depth={depth}; got "
                f"{trainable!r} of length {len(trainable)}. Index 0 is the input layer."
            )
        mask = np.array([bool(t) for t in trainable], dtype=bool)
    if not mask.any():
        raise ValueError(
            f"`trainable` must select at least one layer; got {trainable!r} with depth={depth}. "
            "With nothing trainable the tangent kernel is identically zero."
        )
    return mask


def _check_block_size(block_size):
    if block_size is None:
        return None
    if isinstance(block_size, bool) or not isinstance(block_size, numbers.Integral) or (
        block_size < 1
    ):
        raise ValueError(
            f"`block_size` must be None or an integer >= 1 (rows per block); got {block_size!r}."
        )
    return int(block_size)


def _diag_variances(sq_norms: np.ndarray, d: int, wv: np.ndarray, bv: np.ndarray) -> list:
    """Per-layer diagonals ``Sigma^l(x, x)``, l = 1..L, in float64 (``E[relu(u)^2] = Sigma/2``)."""
    a = wv[0] * sq_norms / d + bv[0]
    out = [a]
    for l in range(1, len(wv)):
        a = wv[l] * a / 2.0 + bv[l]
        out.append(a)
    return out


def _sqrt_and_rsqrt(a: np.ndarray, dtype: torch.dtype, device: torch.device):
    """``sqrt(a)`` and ``1/sqrt(a)`` (0 where a == 0), computed in float64 and then cast."""
    s = np.sqrt(a)
    r = np.divide(1.0, s, out=np.zeros_like(s), where=s > 0)
    return (
        torch.as_tensor(s, dtype=dtype, device=device),
        torch.as_tensor(r, dtype=dtype, device=device),
    )


def _duplicate_ids(X: np.ndarray, Y: np.ndarray | None):
    """Row ids that equal rows share, or ``None`` when no pair other than ``(i, i)`` matches.

    Equal rows have ``cos = 1`` exactly; the rounded Gram gives ``1 - O(eps)`` instead, whose
    arccos is ``O(sqrt(eps))`` (3.5e-4 in float32), so these pairs are set exactly.
    """
    both = X if Y is None else np.vstack([X, Y])
    _, ids = np.unique(both, axis=0, return_inverse=True)
    ids = ids.ravel()
    if Y is None:
        return (ids, ids) if np.unique(ids).size < X.shape[0] else None
    id_x, id_y = ids[: X.shape[0]], ids[X.shape[0]:]
    return (id_x, id_y) if np.intersect1d(id_x, id_y).size else None


def _relu_kernel(X, Y, *, depth, weight_variance, bias_variance, mask, bias_trainable, dtype,
                 block_size, device) -> np.ndarray:
    """Shared driver of :func:`relu_nngp_kernel` (``mask is None``) and :func:`relu_ntk_kernel`."""
    symmetric = Y is None
    Yv = X if symmetric else Y
    n_x, d = X.shape
    n_y = Yv.shape[0]
    wv, bv = weight_variance, bias_variance
    tdtype = resolve_dtype(dtype)
    dev = resolve_device(device)
    itemsize = torch.empty((), dtype=tdtype).element_size()
    n_buffers = 2 if mask is None else 3
    dup = _duplicate_ids(X, Y)
    if block_size is None:
        per_row = n_y * (n_buffers * itemsize + (dup is not None))
        block_size = max(1, _WORKSPACE_BYTES // per_row)
    block_size = min(block_size, n_x)

    norms_x = _diag_variances(np.einsum("ij,ij->i", X, X), d, wv, bv)
    norms_y = norms_x if symmetric else _diag_variances(np.einsum("ij,ij->i", Yv, Yv), d, wv, bv)
    sx = [_sqrt_and_rsqrt(a, tdtype, dev) for a in norms_x[:-1]]
    sy = sx if symmetric else [_sqrt_and_rsqrt(a, tdtype, dev) for a in norms_y[:-1]]
    diag_x = torch.as_tensor(norms_x[0], dtype=tdtype, device=dev)
    if dup is not None:
        id_x = torch.as_tensor(dup[0], device=dev)
        id_y = torch.as_tensor(dup[1], device=dev)
    Xt = torch.as_tensor(X, dtype=tdtype, device=dev)
    Yt = Xt if symmetric else torch.as_tensor(Yv, dtype=tdtype, device=dev)
    Yt_T = Yt.T.contiguous()

    out = np.empty((n_x, n_y), dtype=torch.empty((), dtype=tdtype).numpy().dtype)
    out_t = torch.from_numpy(out)
    buffers = [torch.empty(block_size * n_y, dtype=tdtype, device=dev) for _ in range(n_buffers)]
    for i0 in range(0, n_x, block_size):
        i1 = min(i0 + block_size, n_x)
        # With Y = X only columns j >= i0 are computed; the rest is mirrored below.
        j0 = i0 if symmetric else 0
        shape = (i1 - i0, n_y - j0)
        S, phi, *T = (b[: shape[0] * shape[1]].view(shape) for b in buffers)
        torch.matmul(Xt[i0:i1], Yt_T[:, j0:], out=S)
        S.mul_(wv[0] / d).add_(bv[0])
        # Pairs of equal rows get the float64 diagonal, not the rounded Gram's, and cos = 1.
        same = None if dup is None else id_x[i0:i1, None] == id_y[None, j0:]
        if same is not None:
            torch.where(same, diag_x[i0:i1, None].expand_as(S), S, out=S)
        elif symmetric:
            S.diagonal().copy_(diag_x[i0:i1])
        if mask is not None:
            T = T[0]
            if mask[0]:
                T.copy_(S)
                if not bias_trainable:
                    T.sub_(bv[0])
            else:
                T.zero_()
        for l in range(1, depth):
            rsx, rsy = sx[l - 1][1][i0:i1, None], sy[l - 1][1][None, j0:]
            # phi = pi - theta = arccos(-c): saves a pass, and sin(phi) = sin(theta).
            torch.mul(S, rsx, out=phi).mul_(rsy).neg_().clamp_(-1.0, 1.0)
            if same is not None:
                phi.masked_fill_(same, -1.0)
            elif symmetric:
                phi.diagonal().fill_(-1.0)  # cos = 1 exactly on the diagonal
            phi.acos_()
            scale = wv[l] / _TWO_PI
            if mask is not None:
                T.mul_(phi).mul_(scale)
            S.mul_(phi)
            phi.sin_().mul_(sx[l - 1][0][i0:i1, None])
            S.addcmul_(phi, sy[l - 1][0][None, j0:]).mul_(scale).add_(bv[l])
            if mask is not None and mask[l]:
                T.add_(S)
                if not bias_trainable:
                    T.sub_(bv[l])
        result = S if mask is None else T
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
        Working and output precision. float64 is the reference; float32 is the fast path
        (relative error <= 1e-6, see Notes).
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
    in float64 for every layer (O(n L)) and are cast to the working dtype, so only the
    Gram product and the element-wise passes are rounded in float32. Cosines are clipped to
    ``[-1, 1]`` and set to exactly 1, with ``Sigma^1`` taken from the float64 diagonal, for
    every pair of equal rows: the diagonal when ``Y`` is None, and any row of ``X`` equal to
    a row of ``Y`` (found once by ``np.unique``; scikit-learn passes ``Y = X`` explicitly in
    ``SVC`` and ``KernelRidge``). A cosine that rounds to ``1 - 6e-8`` has
    ``arccos = 3.5e-4``, the source of neural-tangents' 1e-4 float32 NTK errors. Distinct
    rows closer than float32 resolution keep that error (``Sigma_dot`` has unbounded slope
    at ``cos = 1``); use float64 for such data. The recursion runs in torch rather than
    numpy because torch's vectorised ``acos``/``sin`` are several times faster on CPU, run
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
        Working and output precision (float32 relative error <= 1e-6, see
        :func:`relu_nngp_kernel`).
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
