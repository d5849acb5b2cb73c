"""Empirical (finite-width) neural tangent kernel of a network at its current parameters."""

from __future__ import annotations

import functools
import numbers

import numpy as np
import torch

from .._torch import resolve_device, resolve_dtype, thread_limit, to_numpy, to_tensor
from ..nn import ReLUNet, ReLUNetSpec
from ._empirical_generic import ModuleFunction, jacobian_gram, ntk_vp_gram
from ._empirical_structured import StructuredNet, structured_gram

METHODS = ("auto", "structured", "jacobian", "ntk_vp")
OUTPUTS = ("trace", "full")


def empirical_ntk(
    model,
    X,
    Y=None,
    *,
    method="auto",
    per_layer=False,
    output="trace",
    trainable=None,
    block_size=None,
    dtype=None,
    device=None,
):
    """Empirical NTK Gram ``K(x, y) = <grad_theta f(x), grad_theta f(y)>`` of a network.

    The kernel is the inner product of parameter gradients at the network's current
    parameters ``theta`` (no width normalization: any output multiplier, such as the
    ``sqrt(m)`` of [CCZG], is part of ``f`` and enters ``K`` squared). Only the tensors in
    ``trainable`` count, so ``trainable=["W0"]`` on an [AZLL] two-layer net is the
    NTK "with respect to only hidden weights" of [AZLL] Sec. 7 (Fig. 1), ``K(x, x') = <x, x'>
    sum_i a_i^2 1[h_i(x) > 0] 1[h_i(x') > 0]``.

    Parameters
    ----------
    model : ReLUNet, (spec, params[, index]), fitted estimator or torch.nn.Module
        The network. A library network is a :class:`~sklearn_overparam.nn.ReLUNet`, a
        tuple ``(spec, params)`` with a stack of one copy (or ``(spec, params, index)``
        to pick a copy of a larger stack), or any object exposing ``spec`` and
        ``stacked_params()``. A fitted estimator is recognised by its ``network_``
        attribute; its fitted input map ``input_map_`` (e.g. the [AZLL] padding of inputs
        to the sphere), like a raw-input ``ReLUNet``'s ``input_map``, is applied to ``X``
        and ``Y`` first. Any other
        ``torch.nn.Module`` mapping ``(n, d)`` to ``(n,)`` or ``(n, k)`` is evaluated as-is
        (call ``.eval()`` first if it has dropout or batch norm).
    X : array-like of shape (n_X, d)
        Inputs, finite.
    Y : array-like of shape (n_Y, d), default=None
        Second inputs; ``None`` means ``Y = X`` and computes only the upper block triangle
        of the symmetric Gram, then mirrors it (about half the work).
    method : {"auto", "structured", "jacobian", "ntk_vp"}, default="auto"
        ``"structured"``: the closed form below, for library networks and
        ``torch.nn.Sequential`` stacks of ``Linear`` and ``ReLU`` (optionally ending in
        ``Flatten``/``Identity``). It never forms a Jacobian: cost ``O(n^2 sum_l (fan_in_l
        + k fan_out_l))`` in matmuls, memory the output plus ``n sum_l (fan_in_l + k
        fan_out_l)`` factors; it wins whenever it applies, by 50-100x over Jacobians.
        ``"jacobian"``: per-row Jacobians from ``torch.func.vmap(jacrev)``, then ``J_X
        J_Y^T`` by blocks of rows; any module; memory ``O(block * k * P)`` for ``P``
        parameters, plus all Jacobian rows of ``Y`` when they fit in 1 GiB (else they are
        recomputed per block); the fastest generic path.
        ``"ntk_vp"``: NTK-vector products (``vjp`` of a ``Y`` block's cotangent basis, then
        ``jvp`` on ``X`` blocks), never holding ``J_X``; slower than ``"jacobian"``, for
        modules whose forward activations are small compared with ``P``. ``"auto"``:
        ``"structured"`` when it applies, else ``"jacobian"``.
    per_layer : bool, default=False
        Return ``{name: Gram}`` with one Gram per trainable tensor (names ``"W0"``,
        ``"b0"``, ... for library networks, ``named_parameters`` names for modules), in
        network order; the parts sum to the total (the per-layer kernels ``K_l``: the inner
        products of the per-layer blocks of the neural tangent random features of [CCZG]
        Def. 3.2, as split in their Assumption 4.1).
    output : {"trace", "full"}, default="trace"
        For ``k > 1`` outputs: ``"trace"`` gives ``sum_r <grad f_r(x), grad f_r(y)>`` of
        shape ``(n_X, n_Y)``; ``"full"`` gives ``K[i, j, r, s] = <grad f_r(x_i), grad
        f_s(y_j)>`` of shape ``(n_X, n_Y, k, k)``. Ignored for scalar models.
    trainable : list of str or "all", default=None
        Tensors whose gradients count. ``None``: the spec's trainable tensors for library
        networks, the parameters with ``requires_grad=True`` for modules.
    block_size : int, default=None
        Rows of ``X`` and ``Y`` per block (any ``n``, no divisibility needed). ``None``:
        512 for ``"structured"`` on CPU (4096 on GPU); for the Jacobian paths as many rows
        as keep one block of Jacobian rows under 256 MiB (at most 512).
    dtype : {"float32", "float64"}, default=None
        Compute and output dtype; ``None`` uses the model's (float32 is fast; float64 is
        the reference).
    device : str or torch.device, default=None
        Where to compute (e.g. ``"cuda"``); ``None`` uses the model's device. The result
        is always a CPU numpy array.

    Returns
    -------
    K : ndarray of shape (n_X, n_Y) or (n_X, n_Y, k, k), or dict of str to ndarray
        The Gram in ``dtype``; a dict of per-tensor Grams when ``per_layer``.

    See Also
    --------
    sklearn_overparam.kernels.relu_ntk_kernel : The infinite-width limit of this kernel
        (divided by the width, under the maps given in its Notes).

    Notes
    -----
    For ``z_l = W_l h_{l-1} + b_l``, ``h_l = relu(z_l)`` (``h_0 = x``, no ReLU after the
    last layer) and ``f = c z_{L-1}``, let ``B_l^r = df_r/dz_l``: ``B_{L-1}^r = c e_r`` and
    ``B_l = (B_{l+1} W_{l+1}) * 1[z_l > 0]``. Then ``grad_{W_l} f_r = B_l^r h_{l-1}^T`` and

    ``K = sum_l (B_l B_l^T) * (H_{l-1} H_{l-1}^T) + sum_{l: b_l trainable} B_l B_l^T``

    with ``*`` the entry-wise product over pairs of rows. The structured path computes the
    factors ``B_l`` and ``H_{l-1}`` once per row block by one hand-written forward and
    backward pass, then accumulates each Gram block with two matmuls and one fused
    multiply-add per layer. ReLU derivative: ``1[z > 0]`` (PyTorch's), equal to the
    papers' ``1[z >= 0]`` except on a set of measure zero. In float32 a unit whose
    pre-activation is within rounding of 0 can switch, so float32 and float64 Grams of a
    wide net differ by up to ~1e-3 relative on the affected entries.

    References
    ----------
    Jacot, Gabriel, Hongler (2018), Neural tangent kernel: convergence and generalization in
    neural networks. [AZLL] Sec. 7 (the finite-width NTK of the hidden weights) and [CCZG]
    Def. 3.2 (neural tangent random features, per layer in their Assumption 4.1). Novak et
    al. (2022), Fast finite width neural tangent kernel (the implementation strategies of
    neural-tangents).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.kernels import empirical_ntk
    >>> from sklearn_overparam.nn import ReLUNet, cczg_deep
    >>> net = ReLUNet(cczg_deep(n_features=3, width=32, depth=3))
    >>> X = np.random.default_rng(0).normal(size=(4, 3))
    >>> K = empirical_ntk(net, X)
    >>> K.shape
    (4, 4)
    >>> parts = empirical_ntk(net, X, per_layer=True)
    >>> list(parts)
    ['W0', 'W1', 'W2']
    >>> bool(np.allclose(sum(parts.values()), K, rtol=1e-5))
    True
    """
    if method not in METHODS:
        raise ValueError(
            f"`method` must be one of {', '.join(map(repr, METHODS))}; got {method!r}. "
            "Use method='auto' unless you are comparing implementations."
        )
    if output not in OUTPUTS:
        raise ValueError(
            f"`output` must be 'trace' or 'full'; got {output!r}. 'trace' sums the "
            "per-output kernels; 'full' keeps the (k, k) output block."
        )
    if block_size is not None and (
        not isinstance(block_size, numbers.Integral) or isinstance(block_size, bool)
        or block_size < 1
    ):
        raise ValueError(
            f"`block_size` must be a positive integer or None; got {block_size!r}."
        )
    target, hook = _resolve_model(model)
    X = _check_array(X, "X")
    if Y is not None:
        Y = _check_array(Y, "Y")
        if Y.shape[1] != X.shape[1]:
            raise ValueError(
                f"`Y` must have the same number of features as `X` ({X.shape[1]}); got "
                f"{Y.shape[1]}. Pass Y=None for the Gram of X with itself."
            )
    if hook is not None:
        X = _check_array(hook(X), "X")
        Y = None if Y is None else _check_array(hook(Y), "Y")

    if isinstance(target, tuple):
        spec, params, index = target
        ref = params[spec.param_names[0]]
        names = list(spec.param_names)
        default_trainable = list(spec.trainable_names)
    else:
        named = dict(target.named_parameters())
        if not named:
            raise ValueError(
                f"`model` must have parameters; got a {type(target).__name__} with none."
            )
        ref = next(iter(named.values()))
        names = list(named)
        default_trainable = [n for n, p in named.items() if p.requires_grad]
    trainable = _check_trainable(trainable, names, default_trainable)
    dtype = resolve_dtype(ref.dtype if dtype is None else dtype)
    device = ref.device if device is None else resolve_device(device)

    net = _structured_net(target, trainable, dtype, device)
    if method == "structured" and net is None:
        raise ValueError(
            "`method` must be 'auto', 'jacobian' or 'ntk_vp' for this model; got "
            f"'structured', which needs a library ReLU network or a torch.nn.Sequential "
            f"of Linear and ReLU layers, not a {type(target).__name__}."
        )
    n_features = None if net is None else net.n_features
    for name, arr in (("X", X), ("Y", Y)):
        if arr is not None and n_features is not None and arr.shape[1] != n_features:
            raise ValueError(
                f"`{name}` has {arr.shape[1]} features"
                + (" after the estimator's input map" if hook is not None else "")
                + f", but the model expects {n_features}; pass an array with the width the "
                "model was built for."
            )
    Xt = to_tensor(X, dtype=dtype, device=device)
    Yt = None if Y is None else to_tensor(Y, dtype=dtype, device=device)

    with thread_limit(), torch.no_grad():
        if net is not None and method in ("auto", "structured"):
            full = output == "full" and net.n_outputs > 1
            outs = structured_gram(
                net, Xt, Yt, full=full, per_layer=per_layer, block_size=block_size
            )
        else:
            module = ReLUNet(spec, params, index) if isinstance(target, tuple) else target
            fn = ModuleFunction(module, trainable, dtype, device)
            k = _probe_outputs(fn, Xt)
            full = output == "full" and k > 1
            gram = jacobian_gram if method in ("auto", "jacobian") else ntk_vp_gram
            with torch.enable_grad():
                outs = gram(
                    fn, Xt, Yt, k=k, full=full, per_layer=per_layer, block_size=block_size
                )
    if per_layer:
        return {name: to_numpy(outs[name]) for name in trainable}
    return to_numpy(outs[""])


def _resolve_model(model):
    """``((spec, params, index) or nn.Module, input hook or None)``."""
    hook = None
    if not isinstance(model, (tuple, torch.nn.Module)) and not _is_library(model):
        if not hasattr(model, "network_"):
            kind = "an unfitted estimator" if hasattr(model, "fit") else type(model).__name__
            raise ValueError(
                "`model` must be a ReLUNet, a (spec, params) tuple, a fitted estimator "
                f"with `network_`, or a torch.nn.Module; got {kind}. Fit the estimator "
                "first, or pass its network."
            )
        input_map = getattr(model, "input_map_", None)
        hook = None if input_map is None else input_map.transform
        model = model.network_
    if isinstance(model, tuple):
        if len(model) not in (2, 3) or not isinstance(model[0], ReLUNetSpec):
            raise ValueError(
                "`model` as a tuple must be (spec, params) or (spec, params, index) with a "
                f"ReLUNetSpec first; got a tuple of {len(model)} items."
            )
        spec, params = model[0], model[1]
        index = model[2] if len(model) == 3 else None
        return (spec, params, _check_index(spec, params, index)), hook
    if _is_library(model):
        params = model.stacked_params()
        module_map = getattr(model, "input_map", None)
        if hook is None and module_map is not None:
            hook = functools.partial(_apply_module, module_map)
        return (model.spec, params, _check_index(model.spec, params, None)), hook
    return model, hook


def _apply_module(module, X):
    """A torch input map (a raw-input ``ReLUNet``'s ``input_map``) on numpy rows."""
    with torch.no_grad():
        return module(torch.as_tensor(np.asarray(X, dtype=np.float64))).numpy()


def _is_library(obj) -> bool:
    return isinstance(obj, ReLUNet) or (
        isinstance(getattr(obj, "spec", None), ReLUNetSpec) and hasattr(obj, "stacked_params")
    )


def _check_index(spec, params, index):
    missing = [n for n in spec.param_names if n not in params]
    if missing:
        raise ValueError(
            f"`model` parameters must hold every tensor of the spec; got no {missing}."
        )
    K = params[spec.param_names[0]].shape[0]
    if index is None:
        if K != 1:
            raise ValueError(
                f"`model` must hold a stack of one network, or name one; got a stack of "
                f"K={K}. Pass (spec, params, index) to pick a copy."
            )
        return 0
    if not isinstance(index, numbers.Integral) or not -K <= index < K:
        raise ValueError(f"`index` must be an integer in [0, {K}); got {index!r}.")
    return int(index) % K


def _check_array(X, name):
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    arr = np.asarray(X)
    if arr.dtype.kind not in "biuf":
        raise ValueError(
            f"`{name}` must be a numeric array; got dtype {arr.dtype}. Convert it to float."
        )
    if arr.ndim != 2:
        raise ValueError(
            f"`{name}` must be 2-D (n_samples, n_features); got shape {arr.shape}. "
            "Reshape with X.reshape(-1, 1) for one feature or X.reshape(1, -1) for one sample."
        )
    if arr.shape[0] < 1:
        raise ValueError(f"`{name}` must have at least one row; got shape {arr.shape}.")
    bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
    if bad:
        raise ValueError(
            f"`{name}` must contain only finite values; got {bad} NaN or infinite "
            "entries. Remove or impute them."
        )
    return arr


def _check_trainable(trainable, names, default):
    if trainable is None:
        chosen = default
    elif isinstance(trainable, str):
        if trainable != "all":
            raise ValueError(
                f"`trainable` must be None, 'all' or a list of names; got {trainable!r}. "
                f"Choose from {names}."
            )
        chosen = names
    else:
        chosen = list(trainable)
        unknown = [n for n in chosen if n not in names]
        if unknown:
            raise ValueError(
                f"`trainable` must name parameters of the model; got unknown names "
                f"{unknown}. Choose from {names}."
            )
    if not chosen:
        raise ValueError(
            "`trainable` must name at least one tensor; got an empty selection (a "
            "module's default is its parameters with requires_grad=True). Pass "
            "trainable='all' or a list of names."
        )
    return [n for n in names if n in set(chosen)]


def _structured_net(target, trainable, dtype, device) -> StructuredNet | None:
    """The closed-form view of a library net or a Linear/ReLU Sequential, else None."""
    kw = {"dtype": dtype, "device": device}
    if isinstance(target, tuple):
        spec, params, index = target
        L = spec.depth
        return StructuredNet(
            weights=[params[f"W{l}"][index].detach().to(**kw) for l in range(L)],
            biases=[
                params[f"b{l}"][index].detach().to(**kw) if layer.bias else None
                for l, layer in enumerate(spec.layers)
            ],
            relu=[True] * (L - 1) + [False],
            names=[(f"W{l}", f"b{l}" if layer.bias else None) for l, layer in
                   enumerate(spec.layers)],
            multiplier=float(spec.output_multiplier),
            trainable=tuple(trainable),
        )
    if not isinstance(target, torch.nn.Sequential):
        return None
    layers = _linear_relu_layers(target)
    if layers is None:
        return None
    pname = {id(p): n for n, p in target.named_parameters(remove_duplicate=False)}
    used = [id(t) for lin, _ in layers for t in (lin.weight, lin.bias) if t is not None]
    if len(set(used)) != len(used):
        return None  # tied weights: the per-layer outer-product form does not hold
    return StructuredNet(
        weights=[lin.weight.detach().to(**kw) for lin, _ in layers],
        biases=[None if lin.bias is None else lin.bias.detach().to(**kw) for lin, _ in layers],
        relu=[relu for _, relu in layers],
        names=[
            (pname[id(lin.weight)], None if lin.bias is None else pname[id(lin.bias)])
            for lin, _ in layers
        ],
        multiplier=1.0,
        trainable=tuple(trainable),
    )


def _linear_relu_layers(seq):
    """``[(Linear, relu_after), ...]`` for a Sequential of Linear/ReLU, else None."""
    mods = []

    def flatten(module):
        for child in module:
            if isinstance(child, torch.nn.Sequential):
                flatten(child)
            else:
                mods.append(child)

    flatten(seq)
    layers = []
    for i, mod in enumerate(mods):
        if isinstance(mod, torch.nn.Linear):
            layers.append([mod, False])
        elif isinstance(mod, torch.nn.ReLU) and layers and not layers[-1][1]:
            layers[-1][1] = True
        elif isinstance(mod, torch.nn.Identity):
            continue
        elif (
            isinstance(mod, torch.nn.Flatten)
            and mod.start_dim in (1, -1)
            and mod.end_dim == -1
            and all(isinstance(m, (torch.nn.Flatten, torch.nn.Identity)) for m in mods[i:])
        ):
            continue
        else:
            return None
    if not layers or layers[-1][1]:
        return None
    return [tuple(layer) for layer in layers]


def _probe_outputs(fn: ModuleFunction, X: torch.Tensor) -> int:
    """Number of outputs ``k``; checks that the module maps (n, d) to (n,) or (n, k)."""
    rows = X[: min(2, X.shape[0])]
    try:
        out = _raw_output(fn, rows)
    except RuntimeError as exc:
        raise ValueError(
            f"`X` could not be passed through the model (X has {X.shape[1]} features): "
            f"{exc}. Check that X has the width the model expects."
        ) from exc
    if not isinstance(out, torch.Tensor) or out.dim() not in (1, 2) or out.shape[0] != len(rows):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"`model` must map an (n, d) input to an (n,) or (n, k) tensor; got output "
            f"{shape} for n={len(rows)}. Wrap the module so it returns one row per sample."
        )
    return 1 if out.dim() == 1 else out.shape[1]


def _raw_output(fn: ModuleFunction, X: torch.Tensor):
    """The module's raw output on ``X`` at the cast parameters (no reshaping)."""
    return torch.func.functional_call(fn.module, (fn.params, fn.consts), (X,), strict=False)
