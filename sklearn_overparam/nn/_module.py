"""A ``torch.nn.Module`` view of one network of a stack, for torch and skorch users."""

from __future__ import annotations

import torch

from ._functional import forward
from ._spec import ReLUNetSpec


class ReLUNet(torch.nn.Module):
    """One network of the library as an ``nn.Module``.

    Parameters are registered as ``W0, b0, W1, ...`` (``(fan_out, fan_in)`` and
    ``(fan_out,)``); ``requires_grad`` is True exactly for the spec's trainable tensors, so
    ``torch.optim.SGD(net.parameters(), ...)`` trains what the paper trains. ``forward``
    maps ``(n, d)`` to ``(n, n_outputs)``.

    Parameters
    ----------
    spec : ReLUNetSpec
        The architecture.
    params : dict of str to Tensor, optional
        A stacked parameter dict (as from :func:`init_params`); ``index`` picks the copy.
        When omitted the module is built from ``init_params(spec, [seed])``.
    index : int, default=0
        Which copy of the stack to view.
    seed : int, default=0
        Seed used when ``params`` is omitted.
    input_map : torch.nn.Module or None, default=None
        Applied to the input before the first layer (a fitted estimator's input map, e.g.
        :class:`~sklearn_overparam.nn.HalfPadding`), so the module takes raw inputs.
    """

    def __init__(self, spec: ReLUNetSpec, params=None, index: int = 0, seed: int = 0,
                 input_map: torch.nn.Module | None = None):
        super().__init__()
        if params is None:
            from ._functional import init_params

            params = init_params(spec, [seed], dtype=torch.float32)
            index = 0
        self.spec = spec
        self.input_map = input_map
        for name in spec.param_names:
            tensor = params[name][index].detach().clone()
            self.register_parameter(
                name, torch.nn.Parameter(tensor, requires_grad=name in spec.trainable)
            )

    def stacked_params(self) -> dict[str, torch.Tensor]:
        """The parameters as a stack of one copy, the layout of :mod:`sklearn_overparam.nn`."""
        return {name: getattr(self, name).unsqueeze(0) for name in self.spec.param_names}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_map is not None:
            x = self.input_map(x)
        return forward(self.spec, self.stacked_params(), x)[0]

    def extra_repr(self) -> str:
        sizes = [self.spec.n_features] + [layer.fan_out for layer in self.spec.layers]
        return (
            f"name={self.spec.name!r}, sizes={sizes}, "
            f"output_multiplier={self.spec.output_multiplier:g}, "
            f"trainable={list(self.spec.trainable_names)}"
        )
