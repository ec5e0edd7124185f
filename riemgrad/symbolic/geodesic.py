"""The geodesic equations, derived once: for :meth:`Metric.geodesic_equations` and the compiled geodesic field.

The second-order equations ``x''^k = -Gamma^k_ij x'^i x'^j`` become a first-order system on the
phase chart ``(x, v)``: ``x' = v``, ``v'^k = -Gamma^k_ij v^i v^j``. With ``variational``, the
state also carries the derivative of ``(x, v)`` with respect to the initial velocity, which obeys
the linearized (Jacobi) equations; its ``dx`` block at time 1 is the Jacobian of the exponential map.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import sympy as sp

from ..errors import CoordinateError
from ._util import simplify_expr
from .charts import Chart

if TYPE_CHECKING:  # pragma: no cover
    from .metric import Metric

__all__ = ["geodesic_acceleration", "geodesic_system", "GeodesicSystem"]


def geodesic_acceleration(metric: Metric, velocities: Sequence[sp.Expr]) -> list[sp.Expr]:
    """``-Gamma^k_ij v^i v^j`` for each ``k``, as written (no simplification).

    Parameters
    ----------
    metric : Metric
    velocities : sequence of sympy.Expr, length ``metric.dim``
        The velocity components ``v^i`` (symbols, or derivatives ``x'(t)``).

    Returns
    -------
    list of sympy.Expr
        One acceleration per coordinate, in the metric's coordinates and ``velocities``.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, Metric
    >>> r, phi, vr, vphi = sp.symbols("r phi v_r v_phi", positive=True)
    >>> geodesic_acceleration(Metric(Chart("polar", (r, phi)), sp.diag(1, r**2)), (vr, vphi))
    [r*v_phi**2, -2*v_phi*v_r/r]
    """
    n = metric.dim
    gamma = metric.christoffel().components
    return [
        -sp.Add(
            *[gamma[k, i, j] * velocities[i] * velocities[j] for i in range(n) for j in range(n) if gamma[k, i, j] != 0]
        )
        for k in range(n)
    ]


class GeodesicSystem(NamedTuple):
    """The geodesic equations as a first-order system, ready to be compiled.

    Attributes
    ----------
    chart : Chart
        The phase chart: the metric's coordinates, then one velocity per coordinate
        (``v_<coordinate>``, real), then with ``variational`` the ``dx_i_j`` and ``dv_i_j``.
        It keeps the domain of the metric's chart (``sigma > 0``).
    rhs : tuple of sympy.Expr
        The right-hand side, one entry per phase coordinate.
    energy : sympy.Expr
        ``g(v, v)``, constant along a geodesic.
    """

    chart: Chart
    rhs: tuple[sp.Expr, ...]
    energy: sp.Expr


def geodesic_system(metric: Metric, variational: bool = False) -> GeodesicSystem:
    """The first-order geodesic equations of ``metric`` on its phase chart.

    The accelerations are simplified (:func:`~riemgrad.symbolic._util.simplify_expr`,
    never ``simplify``).

    Parameters
    ----------
    metric : Metric
        A metric whose entries involve only the chart's coordinates.
    variational : bool
        Also the linearized equations of ``dx^i/dv0^j`` and ``dv^i/dv0^j`` (row-major).

    Returns
    -------
    GeodesicSystem

    Raises
    ------
    CoordinateError
        If the metric's entries involve other symbols.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, Metric
    >>> x = sp.Symbol("x", real=True)
    >>> y = sp.Symbol("y", positive=True)
    >>> system = geodesic_system(Metric(Chart("half_plane", (x, y)), sp.diag(1 / y**2, 1 / y**2)))
    >>> system.chart.coords, system.rhs[2:], system.energy
    ((x, y, v_x, v_y), (2*v_x*v_y/y, (-v_x**2 + v_y**2)/y), v_x**2/y**2 + v_y**2/y**2)
    """
    chart = metric.chart
    G = metric.matrix
    extra = set().union(*[sp.sympify(e).free_symbols for e in G]) - set(chart.coords)
    if extra:
        raise CoordinateError(
            f"The metric on chart {chart.name!r} uses the symbols {sorted(map(str, extra))}, which are not "
            f"coordinates {tuple(map(str, chart.coords))}; substitute values for them (metric.subs(...)) "
            "before computing geodesics."
        )
    n = chart.dim
    taken = {s.name for s in chart.coords}
    vel = []
    for c in chart.coords:
        name = f"v_{c.name}"
        while name in taken:
            name = "_" + name
        taken.add(name)
        vel.append(sp.Symbol(name, real=True))
    dx = [[sp.Symbol(f"dx_{i}_{j}", real=True) for j in range(n)] for i in range(n)] if variational else []
    dv = [[sp.Symbol(f"dv_{i}_{j}", real=True) for j in range(n)] for i in range(n)] if variational else []
    jac = [s_ for row in dx for s_ in row] + [s_ for row in dv for s_ in row]
    phase = Chart(f"{chart.name}_tangent", tuple(chart.coords) + tuple(vel) + tuple(jac))
    energy = sp.Add(*[G[i, j] * vel[i] * vel[j] for i in range(n) for j in range(n) if G[i, j] != 0])
    acc = [simplify_expr(a) for a in geodesic_acceleration(metric, vel)]
    rhs = list(vel) + acc
    if variational:
        # d(dx)/dt = dv; d(dv_k)/dt = sum_i (d acc_k / d x_i) dx_i + (d acc_k / d v_i) dv_i
        rhs += [dv[i][j] for i in range(n) for j in range(n)]
        da_dx = [[simplify_expr(sp.diff(acc[k], chart.coords[i])) for i in range(n)] for k in range(n)]
        da_dv = [[sp.diff(acc[k], vel[i]) for i in range(n)] for k in range(n)]
        rhs += [
            sp.Add(*[da_dx[k][i] * dx[i][j] + da_dv[k][i] * dv[i][j] for i in range(n)])
            for k in range(n)
            for j in range(n)
        ]
    return GeodesicSystem(phase, tuple(rhs), energy)
