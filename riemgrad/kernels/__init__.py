"""Compiled kernels: the only place where SymPy meets Numba.

:func:`compile_flow` turns a :class:`~riemgrad.Metric` and a loss into a
:class:`FlowField`: generated scalar source in a per-user cache directory
(:func:`cache_dir`), compiled lazily by Numba and reloaded from disk by later
processes. Importing this package compiles nothing. The contract between the
generated kernels and the solvers that run them is written in :mod:`.abi`.

Layout: :mod:`.abi` (names, argument records, size limits, status codes),
:mod:`.compile` (``compile_flow``, the one cache-and-build path),
:mod:`.compiled` (``CompiledField``: point and parameter checks, guarded calls, the launch of
typed runs on worker threads), :mod:`.flowfield` (``FlowField``: loss, gradient, metric, descent),
:mod:`.runner` (threads and the control array), :mod:`.velocity`
(strategies, cost model), :mod:`.codegen` (printer, steppers, template, module
assembly), :mod:`.cache` (files and fingerprint), :mod:`.geodesic`, :mod:`.data_kernels`
(``compile_data_flow``, ``DataField``: kernels that loop over data rows given at call time).
"""

from . import abi
from .abi import AdaptiveRun, DescentRun, FixedStepRun
from .cache import CacheRepairWarning, cache_dir
from .codegen.steppers import TABLE as STEPPER_TABLE
from .compile import compile_flow, require_metric
from .compiled import CompiledField
from .data_kernels import DataField, compile_data_flow
from .flowfield import FlowField
from .geodesic import GeodesicField, geodesic_field

__all__ = [
    "compile_flow",
    "FlowField",
    "cache_dir",
    "CacheRepairWarning",
    "geodesic_field",
    "GeodesicField",
    "CompiledField",
    "require_metric",
    "abi",
    "FixedStepRun",
    "DescentRun",
    "AdaptiveRun",
    "STEPPER_TABLE",
    "compile_data_flow",
    "DataField",
]
