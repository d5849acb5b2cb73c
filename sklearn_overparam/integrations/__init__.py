"""Bridges to other training libraries; each submodule imports its library only when used.

:mod:`sklearn_overparam.integrations.skorch` records the lazy-training diagnostics of
:mod:`sklearn_overparam.diagnostics` in a skorch network's history.
"""
