"""Architecture descriptions of the papers' ReLU networks (the papers' Sec. 2-3 definitions).

A network is ``f(x) = c * W_L s(... s(W_2 s(W_1 x + b_1) + b_2) ...) + b_L`` with ``s`` the
ReLU after every layer but the last and ``c`` an explicit output multiplier (the ``sqrt(m)``
of [CCZG], the weight-decay-by-scaling ``lambda`` of [AZLL]). A :class:`ReLUNetSpec` holds the
shapes, the initial standard deviations and which tensors train; parameters are plain tensors
in a dict, stacked over K independent copies.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class LayerSpec:
    """One affine layer ``z = W h + b`` with ``W`` of shape ``(fan_out, fan_in)``.

    ``weight_std`` and ``bias_std`` are the standard deviations of the i.i.d. Gaussian
    initialization; ``bias=False`` means the layer has no bias tensor at all.
    """

    fan_in: int
    fan_out: int
    weight_std: float
    bias: bool = False
    bias_std: float = 0.0


@dataclass(frozen=True)
class ReLUNetSpec:
    """A fully connected ReLU network: layers, output multiplier and trainable tensors.

    Parameter names are ``"W0", "b0", "W1", ...`` (0-based, ``W{l}`` is the l-th weight
    matrix). ``trainable`` lists the names that training updates; the rest stay at their
    initial values.
    """

    layers: tuple[LayerSpec, ...]
    output_multiplier: float = 1.0
    trainable: frozenset[str] = field(default_factory=frozenset)
    name: str = "relu_net"

    def __post_init__(self):
        for a, b in zip(self.layers[:-1], self.layers[1:]):
            if a.fan_out != b.fan_in:
                raise ValueError(
                    f"`layers` must chain: a layer with fan_out={a.fan_out} is followed by "
                    f"fan_in={b.fan_in}."
                )
        unknown = set(self.trainable) - set(self.param_names)
        if unknown:
            raise ValueError(
                f"`trainable` names {sorted(unknown)} are not parameters of this network; "
                f"choose from {list(self.param_names)}."
            )

    @property
    def depth(self) -> int:
        """Number of weight matrices (the [CCZG] ``L``)."""
        return len(self.layers)

    @property
    def n_features(self) -> int:
        return self.layers[0].fan_in

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].fan_out

    @property
    def param_names(self) -> tuple[str, ...]:
        names = []
        for l, layer in enumerate(self.layers):
            names.append(f"W{l}")
            if layer.bias:
                names.append(f"b{l}")
        return tuple(names)

    @property
    def trainable_names(self) -> tuple[str, ...]:
        """Trainable parameter names in network order."""
        return tuple(n for n in self.param_names if n in self.trainable)

    def with_trainable(self, names: Iterable[str] | str) -> ReLUNetSpec:
        """The same network with another set of trainable tensors (``"all"`` for every one)."""
        names = self.param_names if names == "all" else tuple(names)
        return replace(self, trainable=frozenset(names))

    def with_output_multiplier(self, multiplier: float) -> ReLUNetSpec:
        return replace(self, output_multiplier=float(multiplier))

    @classmethod
    def from_shapes(cls, weight_shapes, has_bias, *, output_multiplier=1.0, trainable=(),
                    name="relu_net") -> ReLUNetSpec:
        """Rebuild an architecture from weight shapes ``(fan_out, fan_in)`` (init stds 0)."""
        layers = tuple(
            LayerSpec(int(fi), int(fo), 0.0, bias=bool(b))
            for (fo, fi), b in zip(weight_shapes, has_bias)
        )
        return cls(layers, float(output_multiplier), frozenset(trainable), name)



def _check_positive_int(name, value):
    if int(value) != value or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; got {value!r}.")
    return int(value)


def azll_two_layer(n_features, n_hidden, n_outputs=1, *, output_scale=1.0) -> ReLUNetSpec:
    """[AZLL] two-layer network ``F(x) = A s(W x + b)`` ([AZLL] Sec. 3, Sec. 7).

    ``W, b ~ N(0, 1/m)``, ``A ~ N(0, output_scale**2)`` (the paper's ``epsilon_a``); only
    ``W`` trains.
    """
    d = _check_positive_int("n_features", n_features)
    m = _check_positive_int("n_hidden", n_hidden)
    k = _check_positive_int("n_outputs", n_outputs)
    std = 1.0 / math.sqrt(m)
    return ReLUNetSpec(
        layers=(
            LayerSpec(d, m, std, bias=True, bias_std=std),
            LayerSpec(m, k, float(output_scale)),
        ),
        trainable=frozenset({"W0"}),
        name="azll_two_layer",
    )


def azll_three_layer(
    n_features, n_hidden, n_outputs=1, *, n_hidden2=None, output_scale=1.0
) -> ReLUNetSpec:
    """[AZLL] three-layer network ``F(x) = A s(V s(W x + b1) + b2)`` ([AZLL] Sec. 4, Sec. 7).

    ``W, b1 ~ N(0, 1/m1)``, ``V, b2 ~ N(0, 1/m2)``, ``A ~ N(0, output_scale**2)``;
    ``W`` (``"W0"``) and ``V`` (``"W1"``) train. ``m2`` defaults to ``m1``.
    """
    d = _check_positive_int("n_features", n_features)
    m1 = _check_positive_int("n_hidden", n_hidden)
    m2 = _check_positive_int("n_hidden2", m1 if n_hidden2 is None else n_hidden2)
    k = _check_positive_int("n_outputs", n_outputs)
    s1, s2 = 1.0 / math.sqrt(m1), 1.0 / math.sqrt(m2)
    return ReLUNetSpec(
        layers=(
            LayerSpec(d, m1, s1, bias=True, bias_std=s1),
            LayerSpec(m1, m2, s2, bias=True, bias_std=s2),
            LayerSpec(m2, k, float(output_scale)),
        ),
        trainable=frozenset({"W0", "W1"}),
        name="azll_three_layer",
    )


def ll_two_layer(n_features, n_hidden, n_classes, *, init_std=None, output_init_std=1.0):
    """[LL] two-layer softmax network ``f_i(x) = sum_r a_{i,r} s(<w_r, x>)`` ([LL] Sec. 3, eq. (1)).

    No biases; ``w_r ~ N(0, init_std**2 I)`` with ``init_std = 1/sqrt(m)`` (assumption A3),
    ``a ~ N(0, output_init_std**2)``; only ``w`` trains.
    """
    d = _check_positive_int("n_features", n_features)
    m = _check_positive_int("n_hidden", n_hidden)
    k = _check_positive_int("n_classes", n_classes)
    std = 1.0 / math.sqrt(m) if init_std is None else float(init_std)
    return ReLUNetSpec(
        layers=(LayerSpec(d, m, std), LayerSpec(m, k, float(output_init_std))),
        trainable=frozenset({"W0"}),
        name="ll_two_layer",
    )


def cczg_deep(n_features, width, depth, n_outputs=1) -> ReLUNetSpec:
    """[CCZG] deep network ``f(x) = sqrt(m) W_L s(W_{L-1} ... s(W_1 x))`` ([CCZG] Sec. 2).

    No biases, He initialization ``W_l ~ N(0, 2/m)`` for ``l < L`` and ``W_L ~ N(0, 1/m)``;
    all ``L = depth`` layers train; scalar output (``n_outputs > 1`` is the multi-class
    extension: ``W_L`` has one row per class).
    """
    d = _check_positive_int("n_features", n_features)
    m = _check_positive_int("width", width)
    L = _check_positive_int("depth", depth)
    k = _check_positive_int("n_outputs", n_outputs)
    if L < 2:
        raise ValueError(f"`depth` must be >= 2 (weight matrices); got {depth!r}.")
    hidden_std = math.sqrt(2.0 / m)
    layers = [LayerSpec(d, m, hidden_std)]
    layers += [LayerSpec(m, m, hidden_std) for _ in range(L - 2)]
    layers.append(LayerSpec(m, k, math.sqrt(1.0 / m)))
    spec = ReLUNetSpec(layers=tuple(layers), output_multiplier=math.sqrt(m), name="cczg_deep")
    return spec.with_trainable("all")
