"""Compiled kernels: the only place where SymPy meets Numba.

:func:`compile_flow` turns a :class:`~riemgrad.Metric` and a loss into a
:class:`FlowField`: generated scalar source in a per-user cache directory
(:func:`cache_dir`), compiled lazily by Numba and reloaded from disk by later
processes. Importing this package compiles nothing.
"""

from ._cache import cache_dir
from .data_kernels import DataField, compile_data_flow
from .field import FlowField, compile_flow, geodesic_field

__all__ = ["compile_flow", "FlowField", "cache_dir", "geodesic_field", "compile_data_flow", "DataField"]
