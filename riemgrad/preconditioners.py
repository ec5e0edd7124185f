"""Preconditioners for :func:`riemgrad.descend`: the old import path of :mod:`riemgrad.flows.preconditioners`.

Examples
--------
>>> import riemgrad as rg
>>> rg.preconditioners.rmsprop is rg.flows.preconditioners.rmsprop
True
"""

from .flows.preconditioners import (
    Preconditioner,
    adam,
    compiled_twin,
    hessian_free,
    hessian_free_settings,
    identity,
    kfac,
    kfac_settings,
    lbfgs,
    levenberg_marquardt,
    natural,
    rmsprop,
)

__all__ = ["Preconditioner", "natural", "identity", "rmsprop", "adam", "lbfgs", "levenberg_marquardt", "compiled_twin"]
__all__ += ["hessian_free", "hessian_free_settings"]
__all__ += ["kfac", "kfac_settings"]
