"""The compiled geodesic field: the geodesic equations of a metric, handed over by
:mod:`riemgrad.symbolic.geodesic`, compiled as a first-order flow on the phase chart."""

from __future__ import annotations

import weakref

import sympy as sp

from ..symbolic import Metric
from ..symbolic.geodesic import geodesic_system
from .codegen import generate_source
from .compile import build, require_metric
from .flowfield import FlowField

__all__ = ["geodesic_field"]


def geodesic_field(metric: Metric, variational: bool = False) -> FlowField:
    """Compiled kernels of the geodesic equations of ``metric``, as a first-order flow.

    The state is ``(x, v)`` on a phase chart with the coordinates of
    ``metric.chart`` followed by one velocity per coordinate (named ``v_<coordinate>``,
    real); the field is ``dx/dt = v``, ``dv^k/dt = -Gamma^k_ij v^i v^j``, derived by
    :func:`riemgrad.symbolic.geodesic.geodesic_system` (the derivation
    :meth:`~riemgrad.Metric.geodesic_equations` shares); this function only compiles it. Its "loss" is the
    energy ``g(v, v)``, which is constant along a geodesic, so a result's ``losses``
    check the integration. The phase chart keeps the domain of ``metric.chart``
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

    Returns
    -------
    FlowField
        With ``strategy == "geodesic"``, on a chart of dimension ``2 * metric.dim``
        (``2 * dim + 2 * dim**2`` with ``variational``).

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
    >>> field.loss([0.0, 2.0, 1.0, 0.0]).item()   # g(v, v) = |v|^2 / y^2
    0.25
    """
    require_metric(metric)
    cached = _GEODESIC_FIELDS.get(metric, {}).get(variational)
    if cached is not None:
        return cached
    chart = metric.chart
    G = metric.matrix
    system = geodesic_system(metric, variational)  # raises CoordinateError for foreign symbols
    phase, energy = system.chart, system.energy
    eye = sp.ImmutableMatrix(sp.eye(phase.dim))
    inputs = (chart.name, sp.srepr(chart.coords), sp.srepr(G), "geodesic", str(variational))

    def derive() -> tuple[str, list[sp.Expr], str]:
        velocity = list(system.rhs)
        grad = [sp.diff(energy, s) for s in phase.coords]
        return "geodesic", velocity, generate_source(phase, (), energy, grad, eye, velocity, None)

    _, velocity, source, module, path = build(inputs, derive)
    field = FlowField(
        chart=phase,
        params=(),
        loss_expr=energy,
        riemannian_metric=Metric(phase, eye),
        velocity_expr=tuple(velocity),
        strategy="geodesic",
        source=source,
        path=path,
        _module=module,
    )
    _GEODESIC_FIELDS.setdefault(metric, {})[variational] = field
    return field


#: Geodesic fields built in this process, by metric and ``variational``; an entry goes with its metric.
_GEODESIC_FIELDS: weakref.WeakKeyDictionary[Metric, dict[bool, FlowField]] = weakref.WeakKeyDictionary()
