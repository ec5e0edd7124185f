"""Gradient flows and descent on compiled fields, batched over starting points.

:func:`solve_flow` integrates ``dx/dt = -G^{-1} grad L`` (Euler, Heun, RK4 or
the adaptive Dormand-Prince 5(4) pair); :func:`descend` runs preconditioned
descent. Both return time-first arrays and one :class:`Status` per start.
"""

from .results import DescentResult, FlowResult, Status
from .solve import STEPPERS, descend, solve_flow

__all__ = ["solve_flow", "descend", "FlowResult", "DescentResult", "Status", "STEPPERS"]
