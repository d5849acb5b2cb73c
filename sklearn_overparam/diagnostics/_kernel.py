"""Kernel diagnostics: drift of the empirical NTK and its alignment with the targets."""

from __future__ import annotations

import numpy as np

from ..kernels import empirical_ntk, kernel_target_alignment


def relative_frobenius(K, K0) -> float:
    """``||K - K0||_F / ||K0||_F`` in float64 (``K0`` nonzero)."""
    K = np.asarray(K, dtype=np.float64)
    K0 = np.asarray(K0, dtype=np.float64)
    return float(np.linalg.norm(K - K0) / np.linalg.norm(K0))


def ntk_drift(model_t, model_0, X, *, trainable=None):
    """``||K_t - K_0||_F / ||K_0||_F``: how much the empirical NTK moved during training.

    Parameters
    ----------
    model_t : ReLUNet, (spec, params[, index]), fitted estimator or torch.nn.Module
        The trained network, in any form :func:`~sklearn_overparam.kernels.empirical_ntk`
        accepts.
    model_0 : same as ``model_t``, or ndarray of shape (n, n)
        The network at initialization, or its precomputed NTK Gram ``K_0`` on ``X`` (to
        reuse it across calls).
    X : array-like of shape (n, d)
        Probe inputs; the Gram is ``O(n^2)``, so a few hundred rows at most (a subset of
        the training set).
    trainable : list of str or "all", default=None
        Tensors whose gradients define the kernel, as in ``empirical_ntk`` (``None``: the
        spec's trainable tensors, or the module parameters with ``requires_grad``). Use
        the same subset for both networks.

    Returns
    -------
    drift : float
        ``0`` for an untrained network; small (``O(1 / sqrt(m))``) in the lazy regime.

    Raises
    ------
    ValueError
        If ``K_0`` is zero or not of shape ``(n, n)``, or a network or ``trainable`` is
        invalid (from ``empirical_ntk``).

    Notes
    -----
    ``K(x, x') = <grad_theta f(x), grad_theta f(x')>`` over the ``trainable`` tensors
    (summed over outputs), ``drift = ||K_t - K_0||_F / ||K_0||_F``. In the NTK (lazy)
    regime the kernel stays at its initial value as the width grows (Jacot et al., 2018);
    a drift of order 1 means the network learned features.

    References
    ----------
    Jacot, Gabriel, Hongler (2018), Neural tangent kernel. [AZLL] Sec. 7 (finite-width NTK
    of the hidden weights, Figure 1) and [CCZG] Def. 3.2 (NTRF, the linearization at
    ``W^(0)``).

    Examples
    --------
    >>> import torch
    >>> from sklearn_overparam.diagnostics import ntk_drift
    >>> from sklearn_overparam.nn import azll_two_layer, init_params
    >>> spec = azll_two_layer(n_features=4, n_hidden=64)
    >>> params0 = init_params(spec, [0], dtype=torch.float64)
    >>> X = torch.randn(8, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> ntk_drift((spec, params0), (spec, params0), X)
    0.0
    >>> params = {n: 1.1 * t for n, t in params0.items()}
    >>> ntk_drift((spec, params), (spec, params0), X) > 0
    True
    """
    K_t = empirical_ntk(model_t, X, trainable=trainable)
    if isinstance(model_0, np.ndarray):
        K_0 = model_0
        if K_0.shape != K_t.shape:
            raise ValueError(
                f"`model_0` as a Gram matrix must have shape {K_t.shape} (the NTK of X); got "
                f"{K_0.shape}. Compute it with empirical_ntk(model_0, X)."
            )
    else:
        K_0 = empirical_ntk(model_0, X, trainable=trainable)
    if not np.isfinite(K_0).all() or np.linalg.norm(K_0) == 0:
        raise ValueError(
            "`model_0` must have a finite, nonzero NTK on X; got ||K_0||_F = "
            f"{np.linalg.norm(K_0)!r}. Check that the network has trainable parameters."
        )
    return relative_frobenius(K_t, K_0)


def kernel_alignment(K, y, centered=False):
    """Kernel-target alignment ``<K, y y^T>_F / (||K||_F ||y y^T||_F)``, plain or centred.

    Parameters
    ----------
    K : array-like of shape (n, n)
        Symmetric Gram matrix (e.g. an empirical NTK from
        :func:`~sklearn_overparam.kernels.empirical_ntk`).
    y : array-like of shape (n,) or (n, n_outputs)
        Targets (for classes, one-hot or +-1 codes); with several outputs the target kernel
        is ``Y Y^T``.
    centered : bool, default=False
        ``False``: the alignment of Cristianini et al. (2002); ``True``: the centred
        alignment of Cortes, Mohri & Rostamizadeh (2012), both kernels centred in feature
        space first.

    Returns
    -------
    alignment : float
        In ``[-1, 1]`` (``[0, 1]`` for a positive semi-definite ``K``); 1 when ``K`` is
        proportional to ``y y^T``.

    Notes
    -----
    ``A(K, y) = <K, Y Y^T>_F / (||K||_F ||Y Y^T||_F)``; centred: ``K -> H K H`` and
    ``Y -> H Y`` with ``H = I - 1 1^T / n``. This is
    :func:`~sklearn_overparam.kernels.kernel_target_alignment`, re-exported with the plain
    alignment as default: the NTK of a ReLU network has a large constant component that
    the plain alignment keeps and the centred one removes. A rising alignment of the NTK
    during training means the kernel adapts to the labels (feature learning).

    References
    ----------
    Cristianini, Shawe-Taylor, Elisseeff, Kandola (2002), On kernel-target alignment, NIPS.
    Cortes, Mohri, Rostamizadeh (2012), Algorithms for learning kernels based on centered
    alignment, JMLR 13.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam.diagnostics import kernel_alignment
    >>> y = np.array([1.0, 2.0, -1.0, 0.5])
    >>> round(kernel_alignment(np.outer(y, y), y, centered=True), 6)
    1.0
    >>> kernel_alignment(np.ones((4, 4)), y)  # (sum y)^2 / (n ||y||^2)
    0.25
    """
    if not isinstance(centered, (bool, np.bool_)):
        raise ValueError(f"`centered` must be True or False; got {centered!r}.")
    return kernel_target_alignment(K, y, centered=bool(centered))
