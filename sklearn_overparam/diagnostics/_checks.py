"""Input checks shared by the diagnostics: arrays or tensors in, torch tensors out."""

from __future__ import annotations

import numbers

import numpy as np
import torch

from ..nn import ReLUNetSpec


def as_tensor(a, name: str, *, ndim=None) -> torch.Tensor:
    """``a`` as a detached floating tensor (numpy input becomes float64 on the CPU)."""
    if isinstance(a, torch.Tensor):
        t = a.detach()
        if not t.is_floating_point():
            t = t.to(torch.float64)
    else:
        arr = np.asarray(a)
        if arr.dtype.kind not in "biuf":
            raise ValueError(
                f"`{name}` must be a numeric array or tensor; got dtype {arr.dtype}. "
                "Convert it to float."
            )
        t = torch.from_numpy(np.array(arr, dtype=np.float64))
    if ndim is not None and t.dim() != ndim:
        raise ValueError(
            f"`{name}` must be {ndim}-D; got shape {tuple(t.shape)}. "
            + ("Pass a weight matrix (fan_out, fan_in), rows are neurons."
               if ndim == 2 else "")
        )
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"`{name}` must contain only finite values; got NaN or infinity.")
    return t


def pair(W, W0, name="W", name0="W0", *, ndim=None):
    """Two tensors of one shape, on ``W``'s device, in their promoted dtype."""
    a = as_tensor(W, name, ndim=ndim)
    b = as_tensor(W0, name0, ndim=ndim)
    if a.shape != b.shape:
        raise ValueError(
            f"`{name0}` must have the shape of `{name}` {tuple(a.shape)}; got "
            f"{tuple(b.shape)}. Pass the initial value of the same tensor."
        )
    dtype = torch.promote_types(a.dtype, b.dtype)
    return a.to(dtype), b.to(device=a.device, dtype=dtype)


def is_sequence(obj) -> bool:
    """A list or tuple of layers (not an array or tensor)."""
    return isinstance(obj, (list, tuple))


def check_lists(W, W0, name="W", name0="W0"):
    """``(W, W0)`` as equal-length lists of layers."""
    if not is_sequence(W0) or len(W0) != len(W):
        got = f"a list of {len(W0)}" if is_sequence(W0) else type(W0).__name__
        raise ValueError(
            f"`{name0}` must be a list of {len(W)} layers like `{name}`; got {got}. "
            "Pass the initial value of every layer, in the same order."
        )
    if len(W) == 0:
        raise ValueError(f"`{name}` must hold at least one layer; got an empty list.")
    return list(W), list(W0)


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; got {value!r}.")
    return int(value)


def check_positive_float(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
        np.isfinite(value) and value > 0
    ):
        raise ValueError(f"`{name}` must be a positive finite float; got {value!r}.")
    return float(value)


def check_spec(spec, name="spec") -> ReLUNetSpec:
    if not isinstance(spec, ReLUNetSpec):
        raise ValueError(
            f"`{name}` must be a ReLUNetSpec; got {type(spec).__name__}. Build one with "
            "sklearn_overparam.nn (e.g. azll_two_layer) or ReLUNetSpec.from_shapes."
        )
    return spec


def check_params(spec: ReLUNetSpec, params, name="params") -> dict:
    """A stacked parameter dict holding every tensor of ``spec`` with matching shapes."""
    if not isinstance(params, dict):
        raise ValueError(
            f"`{name}` must be a dict of stacked tensors {{'W0': (K, fan_out, fan_in), ...}};"
            f" got {type(params).__name__}."
        )
    missing = [n for n in spec.param_names if n not in params]
    if missing:
        raise ValueError(
            f"`{name}` must hold every tensor of the spec {list(spec.param_names)}; got no "
            f"{missing}."
        )
    K = None
    for l, layer in enumerate(spec.layers):
        shapes = {f"W{l}": (layer.fan_out, layer.fan_in)}
        if layer.bias:
            shapes[f"b{l}"] = (layer.fan_out,)
        for n, shape in shapes.items():
            t = params[n]
            if not isinstance(t, torch.Tensor) or tuple(t.shape[1:]) != shape:
                got = tuple(t.shape) if hasattr(t, "shape") else type(t).__name__
                raise ValueError(
                    f"`{name}['{n}']` must be a tensor of shape (K, {', '.join(map(str, shape))})"
                    f"; got {got}. Parameters are stacks over K networks (use "
                    "tensor.unsqueeze(0) for one network)."
                )
            if K is None:
                K = t.shape[0]
            elif t.shape[0] != K:
                raise ValueError(
                    f"`{name}` tensors must share the stack size K={K}; got "
                    f"{t.shape[0]} for '{n}'."
                )
    return {n: params[n].detach() for n in spec.param_names}


def stack_size(spec, params) -> int:
    return params[spec.param_names[0]].shape[0]


def check_network(spec, params, params0):
    """``(spec, params, params0)`` checked: same stacks, params0 cast to params' dtype."""
    spec = check_spec(spec)
    params = check_params(spec, params, "params")
    params0 = check_params(spec, params0, "params0")
    K, K0 = stack_size(spec, params), stack_size(spec, params0)
    if K != K0:
        raise ValueError(
            f"`params0` must be a stack of the same size as `params` (K={K}); got K={K0}."
        )
    ref = params[spec.param_names[0]]
    params0 = {n: t.to(device=ref.device, dtype=ref.dtype) for n, t in params0.items()}
    return spec, params, params0


def select_copy(spec, params, index, name="params"):
    """Index ``k`` of the copy to measure: ``index``, or 0 for a stack of one."""
    K = stack_size(spec, params)
    if index is None:
        if K != 1:
            raise ValueError(
                f"`index` must name the copy to measure for a stack of K={K} networks; got "
                "None. Pass index=k (0 <= k < K)."
            )
        return 0
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not (
        -K <= index < K
    ):
        raise ValueError(f"`index` must be an integer in [0, {K}); got {index!r}.")
    return int(index) % K


def inputs_like(X, ref: torch.Tensor, n_features: int, name="X") -> torch.Tensor:
    """``X`` as an ``(n, d)`` tensor on ``ref``'s device and dtype."""
    t = as_tensor(X, name)
    if t.dim() != 2 or t.shape[0] < 1:
        raise ValueError(
            f"`{name}` must be 2-D (n_samples, n_features) with at least one row; got shape "
            f"{tuple(t.shape)}. Reshape with X.reshape(1, -1) for one sample."
        )
    if t.shape[1] != n_features:
        raise ValueError(
            f"`{name}` must have {n_features} features (the network's input width); got "
            f"{t.shape[1]}. Apply the estimator's input map (e.g. padding) first."
        )
    return t.to(device=ref.device, dtype=ref.dtype)


def common_width(shapes, name="W") -> int:
    """The width ``m``: the common fan-out of the hidden layers (all but the last layer).

    ``shapes`` are ``(fan_out, fan_in)`` pairs in network order; a single layer's width is
    its fan-out.
    """
    hidden = shapes[:-1] if len(shapes) > 1 else shapes
    widths = sorted({int(s[0]) for s in hidden})
    if len(widths) != 1:
        raise ValueError(
            f"`{name}` must have hidden layers of one width to define m; got fan-outs "
            f"{widths}. Pass width=m explicitly."
        )
    return widths[0]


def random_generator(random_state) -> np.random.Generator:
    """A numpy Generator from None, an int, a RandomState or a Generator."""
    if random_state is None or (
        isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool)
    ):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    raise ValueError(
        f"`random_state` must be None, an int, a numpy RandomState or Generator; got "
        f"{random_state!r}."
    )
