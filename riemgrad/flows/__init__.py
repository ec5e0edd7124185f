"""Gradient flows and descent on compiled fields, batched over starting points.

:func:`solve_flow` integrates ``dx/dt = -G^{-1} grad L`` (Euler, Heun, RK4 or
the adaptive Dormand-Prince 5(4) pair; steppers are objects of
:mod:`.steppers` or their names); :func:`descend` runs preconditioned
descent. Both return time-first arrays and one :class:`Status` per start.
:func:`geodesic`, :func:`exp_map`, :func:`log_map` and :func:`distance` run
the geodesic equations on the same compiled steppers. Given a ``dask.array`` of
starting points, all of them run lazily on Dask (:mod:`.sweeps`), and :func:`sweep` runs
a field over a grid of parameter values x starting points.
"""

from . import preconditioners
from .geodesics import GeodesicResult, distance, exp_map, geodesic, log_map
from .logmap import DistanceResult
from .results import DescentResult, FlowResult, Status
from .solve import descend, solve_flow
from .steppers import RK4, STEPPERS, Dopri5, Euler, FixedStep, Heun
from .sweeps import SweepResult, sweep

__all__ = [
    "solve_flow",
    "descend",
    "FlowResult",
    "DescentResult",
    "Status",
    "STEPPERS",
    "Euler",
    "Heun",
    "RK4",
    "Dopri5",
    "FixedStep",
    "geodesic",
    "exp_map",
    "log_map",
    "distance",
    "GeodesicResult",
    "DistanceResult",
    "sweep",
    "SweepResult",
]
