"""The compiled geodesic field: the geodesic equations of a metric, handed over by
:mod:`riemgrad.symbolic.geodesic`, compiled as a first-order flow on the phase chart."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import sympy as sp

from ..symbolic import Metric
from ..symbolic.geodesic import geodesic_system
from .abi import EVALUATORS
from .codegen.module import generate_rhs_source
from .compile import build, require_metric, vectorized_math_enabled
from .compiled import CompiledField

__all__ = ["geodesic_field", "GeodesicField"]


def geodesic_field(metric: Metric, variational: bool = False, vectorized_math: bool | None = None) -> GeodesicField:
    """Compiled kernels of the geodesic equations of ``metric``, as a first-order flow.

    The state is ``(x, v)`` on a phase chart with the coordinates of
    ``metric.chart`` followed by one velocity per coordinate (named ``v_<coordinate>``,
    real); the field is ``dx/dt = v``, ``dv^k/dt = -Gamma^k_ij v^i v^j``, derived by
    :func:`riemgrad.symbolic.geodesic.geodesic_system` (the derivation
    :meth:`~riemgrad.Metric.geodesic_equations` shares); this function only compiles it,
    with the energy ``g(v, v)`` (:meth:`GeodesicField.energy`), which is constant along a
    geodesic and so checks the integration. The phase chart keeps the domain of ``metric.chart``
    (``sigma > 0``), so a geodesic that leaves it gets :attr:`Status.LEFT_DOMAIN`.
    Used by :func:`riemgrad.geodesic`; cached per process and on disk like any field.

    With ``variational``, the state also carries the derivative of ``(x, v)``
    with respect to the initial velocity, ``dx_i_j = dx^i/dv0^j`` then
    ``dv_i_j = dv^i/dv0^j`` (row-major), which obeys the linearized equations
    ``d(delta)/dt = DF(x, v) delta`` (Jacobi fields); started from ``0`` and the
    identity, its ``dx`` block at time 1 is the Jacobian of the exponential map,
    which :func:`riemgrad.log_map` uses.

    Parameters
    ----------
    metric : Metric
        A metric whose entries involve only the chart's coordinates.
    variational : bool
        Also integrate the Jacobian with respect to the initial velocity.
    vectorized_math : bool, optional
        Vectorizable ``exp``, ``log``, ``tanh`` in the right-hand side, as for
        :func:`~riemgrad.kernels.compile_flow` (None: ``$RIEMGRAD_VECTORIZED_MATH``, on by default).

    Returns
    -------
    GeodesicField
        On a chart of dimension ``2 * metric.dim`` (``2 * dim + 2 * dim**2`` with
        ``variational``).

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
    >>> field = geodesic_field(Metric(Chart("half_plane", (x, y)), sp.diag(1 / y**2, 1 / y**2)))
    >>> field.chart.coords, field.velocity_expr[2:]
    ((x, y, v_x, v_y), (2*v_x*v_y/y, (-v_x**2 + v_y**2)/y))
    >>> field.energy([0.0, 2.0, 1.0, 0.0]).item()   # g(v, v) = |v|^2 / y^2
    0.25
    """
    require_metric(metric)
    vectorized = vectorized_math_enabled(vectorized_math)
    cached = _GEODESIC_FIELDS.get(metric, {}).get((variational, vectorized))
    if cached is not None:
        return cached
    chart = metric.chart
    system = geodesic_system(metric, variational)  # raises CoordinateError for foreign symbols
    inputs = (chart.name, sp.srepr(chart.coords), sp.srepr(metric.matrix), "geodesic", str(variational))
    inputs += (f"vectorized_math={vectorized}",)

    def derive() -> tuple[str, list[sp.Expr], str]:
        rhs, energy = list(system.rhs), system.energy
        return "geodesic", rhs, generate_rhs_source(system.chart, rhs, energy, vectorized)

    _, rhs, source, module, path = build(inputs, derive)
    field = GeodesicField(
        chart=system.chart,
        params=(),
        base_metric=metric,
        velocity_expr=tuple(rhs),
        energy_expr=system.energy,
        source=source,
        path=path,
        _module=module,
    )
    _GEODESIC_FIELDS.setdefault(metric, {})[(variational, vectorized)] = field
    return field


class GeodesicField(CompiledField):
    """The compiled geodesic equations of a metric, a first-order ODE on the phase chart.

    Made by :func:`geodesic_field`. Runs on the same steppers as a gradient flow
    (:func:`riemgrad.solve_flow`); it has no loss and no metric of its own, only the
    right-hand side it was handed and the energy it conserves.

    Attributes
    ----------
    chart : Chart
        The phase chart ``(x, v)`` (and the variational block).
    base_metric : Metric
        The metric whose geodesics these are.
    velocity_expr : tuple of sympy.Expr
        The right-hand side, from :func:`riemgrad.symbolic.geodesic.geodesic_system`.
    energy_expr : sympy.Expr
        ``g(v, v)``.
    source, path
        As for :class:`~riemgrad.kernels.FlowField`.
    """

    def energy(self, state: Any) -> np.ndarray:
        """``g_x(v, v)`` at phase points ``state = (x, v, ...)``.

        Parameters
        ----------
        state : array_like, shape (dim,) or (batch, dim)
            Phase points (``dim`` is the phase chart's).

        Returns
        -------
        numpy.ndarray, shape () or (batch,)

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> x = sp.Symbol("x", real=True)
        >>> y = sp.Symbol("y", positive=True)
        >>> field = geodesic_field(Metric(Chart("half_plane", (x, y)), sp.diag(1 / y**2, 1 / y**2)))
        >>> field.energy([0.0, 2.0, 1.0, 0.0]).item()   # |v|^2 / y^2
        0.25
        """
        X, batch = self.layout(state, "state")
        out = np.empty(X.shape[1])
        self._call(EVALUATORS["energy"], X, np.zeros(1), out)
        return out.reshape(batch)


#: Geodesic fields built in this process, by metric and ``(variational, vectorized_math)``; an entry goes with
#: its metric.
_GEODESIC_FIELDS: weakref.WeakKeyDictionary[Metric, dict[tuple[bool, bool], GeodesicField]] = (
    weakref.WeakKeyDictionary()
)
