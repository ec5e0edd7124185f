"""Solved flows against closed-form solutions, and the convergence order of steppers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from ..errors import ArgumentTypeError, CoordinateError, ShapeError, SolverSettingsError
from ..flows import DescentResult, FixedStep, FlowResult, solve_flow
from ..flows.steppers import as_stepper
from ..kernels import FlowField
from ..symbolic import as_expression as as_expr

__all__ = ["compare_closed_form", "ClosedFormReport", "convergence_order", "ConvergenceReport"]


@dataclass(frozen=True)
class ClosedFormReport:
    """How far a solved flow is from a closed-form solution.

    Attributes
    ----------
    times : numpy.ndarray, shape (n_t,)
    expected : numpy.ndarray, shape like ``result.xs``
        The closed form evaluated at the recorded times.
    errors : numpy.ndarray, shape (n_t,)
        Largest absolute coordinate error over trajectories at each time
        (inf where a trajectory failed).
    relative_errors : numpy.ndarray, shape (n_t,)
        Largest over trajectories of ``max|x - x*| / max|x*|`` at each time.
    max_error, max_relative_error : float
    tol : float
    passed : bool
        ``max_error <= tol``.
    """

    times: np.ndarray
    expected: np.ndarray
    errors: np.ndarray
    relative_errors: np.ndarray
    max_error: float
    max_relative_error: float
    tol: float
    passed: bool

    def _repr_html_(self) -> str:
        """A summary for Jupyter: verdict, absolute and relative errors, the times compared."""
        from ..flows.display import fmt_range, html_table

        verdict = "passed" if self.passed else "FAILED"
        rows = [
            ("verdict", f"{verdict}: max error {self.max_error:.3g} vs tol {self.tol:.3g}"),
            ("max relative error", f"{self.max_relative_error:.3g}"),
            ("times compared", f"{len(self.times)} (t = {fmt_range(self.times)})"),
            ("error per time", fmt_range(self.errors, ".2e")),
        ]
        return html_table("ClosedFormReport", rows, ok=bool(self.passed))


def _solution_exprs(solution: Any, coords: tuple[sp.Symbol, ...], t: Any = None) -> list[sp.Expr]:
    if isinstance(solution, Mapping):
        by_name = {(k.name if isinstance(k, sp.Symbol) else str(k)): v for k, v in solution.items()}
        missing = [c.name for c in coords if c.name not in by_name]
        if missing:
            raise CoordinateError(
                f"`solution` must give an expression for every coordinate {[c.name for c in coords]}; "
                f"missing {missing}."
            )
        return [as_expr(by_name[c.name], "solution", (*coords, *([t] if isinstance(t, sp.Symbol) else []))) for c in coords]
    if isinstance(solution, sp.Expr):
        solution = [solution]
    if isinstance(solution, str):
        solution = [solution]
    exprs = [as_expr(e, "solution", (*coords, *([t] if isinstance(t, sp.Symbol) else []))) for e in list(solution)]
    if len(exprs) != len(coords):
        raise ShapeError(
            f"`solution` must hold {len(coords)} expressions, one per coordinate {tuple(c.name for c in coords)}; "
            f"got {len(exprs)}."
        )
    return exprs


def compare_closed_form(
    result: FlowResult | DescentResult,
    solution: Any,
    t: sp.Symbol,
    *,
    params: Mapping[Any, float] | None = None,
    tol: float = 1e-8,
) -> ClosedFormReport:
    """Compare a solved flow with a closed-form solution ``x(t) = Phi_t(x0)``.

    Parameters
    ----------
    result : FlowResult or DescentResult
        Its first recorded state is taken as the initial point; ``t`` is the
        time elapsed since then (the step count for a DescentResult).
    solution : sequence of sympy expressions, or mapping coordinate -> expression
        ``solution[i]`` is coordinate i at time ``t``, written in ``t`` and the
        chart's coordinate symbols, which stand for the initial point.
    t : sympy.Symbol
        The time symbol used in ``solution``.
    params : mapping, optional
        Values for any other symbols in ``solution``, by symbol or name.
    tol : float
        Largest absolute error accepted.

    Returns
    -------
    ClosedFormReport

    Raises
    ------
    ShapeError
        If ``solution`` has the wrong length.
    CoordinateError
        If ``solution`` uses symbols that are neither ``t``, coordinates, nor in
        ``params``.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, compile_flow, euclidean_metric, solve_flow, compare_closed_form
    >>> a, t = sp.Symbol("a", real=True), sp.Symbol("t")
    >>> field = compile_flow(euclidean_metric(Chart("line", (a,))), (a - 1) ** 2)
    >>> res = solve_flow(field, [[3.0], [-1.0]], (0, 2), dt=1e-3, saveat=[0, 1, 2])
    >>> rep = compare_closed_form(res, [(a - 1) * sp.exp(-2 * t) + 1], t)
    >>> rep.passed, rep.max_error < 1e-12
    (True, True)
    """
    if isinstance(result, FlowResult):
        times = result.ts - result.ts[0]
    elif isinstance(result, DescentResult):
        times = (result.ks - result.ks[0]).astype(float)
    else:
        raise ArgumentTypeError(f"`result` must be a FlowResult or DescentResult; got {type(result).__name__}.")
    coords = result.chart.coords
    exprs = _solution_exprs(solution, coords, t)
    given = {(k.name if isinstance(k, sp.Symbol) else str(k)): float(v) for k, v in (params or {}).items()}
    free = set().union(*(e.free_symbols for e in exprs)) - set(coords) - {t}
    unknown = sorted(s.name for s in free if s.name not in given)
    if unknown:
        raise CoordinateError(
            f"`solution` uses {unknown}, which are neither the time {t}, coordinates "
            f"{[c.name for c in coords]}, nor given in `params`. Pass params={{'{unknown[0]}': value}}."
        )
    extra = sorted(free, key=str)
    fn = sp.lambdify([t, *coords, *extra], exprs, modules="numpy")
    x0 = result.xs[0]
    batch = x0.shape[:-1]
    n_t = times.size
    T = times.reshape((n_t,) + (1,) * len(batch))
    cols = fn(T, *[x0[..., i][None] for i in range(len(coords))], *[given[s.name] for s in extra])
    shape = (n_t,) + batch
    expected = np.stack([np.broadcast_to(np.asarray(c, dtype=float), shape) for c in cols], axis=-1)
    diff = np.abs(result.xs - expected)
    diff = np.where(np.isnan(diff), np.inf, diff)
    flat = diff.reshape(n_t, -1, len(coords))
    scale = np.abs(expected).reshape(n_t, -1, len(coords)).max(axis=2)
    errors = flat.max(axis=(1, 2))
    rel = (flat.max(axis=2) / np.where(scale > 0, scale, 1.0)).max(axis=1)
    return ClosedFormReport(
        times=result.ts if isinstance(result, FlowResult) else result.ks,
        expected=expected,
        errors=errors,
        relative_errors=rel,
        max_error=float(errors.max()),
        max_relative_error=float(rel.max()),
        tol=float(tol),
        passed=bool(errors.max() <= tol),
    )


@dataclass(frozen=True)
class ConvergenceReport:
    """Errors at the final time against the step size, and the fitted order.

    Attributes
    ----------
    dts : numpy.ndarray
    errors : numpy.ndarray
        Largest absolute error at the final time for each ``dt``.
    order : float
        The slope of ``log(error)`` against ``log(dt)`` (least squares).
    expected : int
        The stepper's own order (:attr:`~riemgrad.flows.RK4.order`, ...), which ``order``
        should approach.
    """

    dts: np.ndarray
    errors: np.ndarray
    order: float
    expected: int

    def _repr_html_(self) -> str:
        """A summary for Jupyter: the fitted order and the error at each step size."""
        from ..flows.display import html_table

        rows = [("fitted order", f"{self.order:.3f}")]
        rows += [(f"dt = {dt:.3g}", f"error {err:.3e}") for dt, err in zip(self.dts, self.errors)]
        return html_table("ConvergenceReport", rows)


def convergence_order(
    field: FlowField,
    x0: Any,
    t_span: tuple[float, float],
    solution: Any,
    t: sp.Symbol,
    *,
    stepper: str | FixedStep = "rk4",
    dts: Sequence[float] = (0.2, 0.1, 0.05, 0.025),
    params: Any = None,
) -> ConvergenceReport:
    """Fit the order of a fixed-step stepper from its errors against a closed form.

    Parameters
    ----------
    field, x0, t_span
        As for :func:`riemgrad.solve_flow`.
    solution, t
        As for :func:`compare_closed_form`.
    stepper : str or FixedStep
        A fixed-step stepper (``Euler()``, ``Heun()``, ``RK4()``, ``FixedStep("ssprk3")``
        or their names); its ``order`` is the report's ``expected``.
    dts : sequence of float
        Step sizes; pick them large enough that the error stays well above
        rounding (about 1e-13).
    params : mapping, optional
        Values of the field's parameters (also used for ``solution``).

    Returns
    -------
    ConvergenceReport

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, Metric, compile_flow
    >>> from riemgrad.checks import convergence_order
    >>> v, t = sp.Symbol("variance", positive=True), sp.Symbol("t")
    >>> field = compile_flow(Metric(Chart("variance", (v,)), [[1 / (2 * v**2)]]), sp.log(v) / 2 + 2 / v)
    >>> rep = convergence_order(field, [[9.0]], (0, 2), [4 + (v - 4) * sp.exp(-t)], t, stepper="heun")
    >>> round(rep.order), rep.expected
    (2, 2)
    """
    step = as_stepper(stepper)
    if step.adaptive:
        raise SolverSettingsError(
            f"`stepper` must be a fixed-step stepper (its order is fitted against `dt`); got {step!r}."
        )
    errs = []
    for dt in dts:
        res = solve_flow(field, x0, t_span, stepper=step, dt=float(dt), params=params)
        given = params if isinstance(params, Mapping) else None
        rep = compare_closed_form(res, solution, t, params=given, tol=np.inf)
        errs.append(rep.errors[-1])
    dts_a = np.asarray(dts, dtype=float)
    errors = np.asarray(errs)
    order = float(np.polyfit(np.log(dts_a), np.log(errors), 1)[0])
    return ConvergenceReport(dts=dts_a, errors=errors, order=order, expected=step.order)
