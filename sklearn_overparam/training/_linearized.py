"""The linearized network ``f_lin(x; D) = f(x; theta0) + <grad f(x; theta0), D>`` as an objective.

The engine trains the increments ``D`` (one tensor per trainable tensor of the spec) like
any parameters, so the NTK baselines ([AZLL] "(NTK)", [CCZG] NTRF) get the same SGD,
schedules, stacking and stopping rules as the networks themselves.
"""

from __future__ import annotations

import torch

from ..nn import ReLUNetSpec, backward, forward
from ._losses import get_loss


def linearized_forward(spec: ReLUNetSpec, params0, delta, X, *, include_f0=True):
    """``f_lin`` of K stacked networks, and the hidden layers at ``theta0`` for backward.

    The tangent is pushed forward by hand: ``dz_l = dW_l h_{l-1} + W_l dh_{l-1} + db_l``,
    ``dh_l = 1[h_l > 0] dz_l`` with the activation pattern frozen at ``theta0``.
    """
    out0, hidden = forward(spec, params0, X, return_hidden=True)
    tangent = None
    for l in range(spec.depth):
        dz = None
        if f"W{l}" in delta:
            h = hidden[l]
            Wt = delta[f"W{l}"].transpose(1, 2)
            dz = torch.matmul(h, Wt) if h.dim() == 2 else torch.bmm(h, Wt)
        if tangent is not None:
            step = torch.bmm(tangent, params0[f"W{l}"].transpose(1, 2))
            dz = step if dz is None else dz.add_(step)
        if f"b{l}" in delta:
            db = delta[f"b{l}"].unsqueeze(1)
            dz = db.expand(out0.shape[0], X.shape[-2], -1).clone() if dz is None else dz.add_(db)
        if dz is not None and l < spec.depth - 1:
            dz = dz.mul_(hidden[l + 1] > 0)
        tangent = dz
    dout = tangent * spec.output_multiplier if tangent is not None else torch.zeros_like(out0)
    return (out0.add_(dout) if include_f0 else dout), hidden


class LinearizedObjective:
    """Loss of the linearized networks; ``params`` handed to it are the increments ``D``.

    Parameters
    ----------
    spec : ReLUNetSpec
        Architecture; its trainable tensors are the ones linearized.
    params0 : dict of str to Tensor
        The expansion point ``theta0`` (a stack of K copies), fixed.
    loss : str or loss object
        As for :class:`NetworkObjective`.
    include_f0 : bool, default=True
        Keep the network's output at ``theta0`` in the model; ``False`` fits the centred
        model ``<grad f(x; theta0), D>``.
    """

    def __init__(self, spec: ReLUNetSpec, params0, loss, *, include_f0=True):
        self.spec, self.params0 = spec, params0
        self.loss = get_loss(loss)
        self.include_f0 = include_f0
        self.trainable_names = spec.trainable_names

    def loss_and_grads(self, delta, xb, yb, ctx=None):
        out, hidden = linearized_forward(self.spec, self.params0, delta, xb,
                                         include_f0=self.include_f0)
        value, grad_out = self.loss.value_and_grad(out, yb)
        # the gradient of a linear model in D is the network's gradient at theta0
        return value, backward(self.spec, self.params0, hidden, grad_out)

    def outputs(self, delta, X):
        return linearized_forward(self.spec, self.params0, delta, X,
                                  include_f0=self.include_f0)[0]

    def data_loss(self, delta, X, Y):
        return self.loss.value(self.outputs(delta, X), Y)
