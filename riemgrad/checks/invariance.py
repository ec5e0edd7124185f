"""Does a flow depend on the chart it was computed in?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ArgumentTypeError, ChartMismatchError, SolverSettingsError
from ..flows import DescentResult, FlowResult
from ..symbolic import ChartMap

__all__ = ["check_invariance", "InvarianceReport"]


@dataclass(frozen=True)
class InvarianceReport:
    """How far two results disagree after mapping one into the other's chart.

    Attributes
    ----------
    times : numpy.ndarray, shape (n_t,)
        The recorded times (or step indices).
    errors : numpy.ndarray, shape (n_t,)
        At each time, the largest absolute coordinate difference over all
        trajectories, in ``result_a``'s chart (inf where a trajectory failed).
    max_error : float
        The largest of ``errors``.
    tol : float
        The tolerance.
    passed : bool
        ``max_error <= tol``.
    """

    times: np.ndarray
    errors: np.ndarray
    max_error: float
    tol: float
    passed: bool

    def _repr_html_(self) -> str:
        """A summary for Jupyter: verdict, largest error against the tolerance, the times checked."""
        from ..flows.display import fmt_range, html_table

        verdict = "passed" if self.passed else "FAILED"
        rows = [
            ("verdict", f"{verdict}: max error {self.max_error:.3g} vs tol {self.tol:.3g}"),
            ("times checked", f"{len(self.times)} (t = {fmt_range(self.times)})"),
            ("error per time", fmt_range(self.errors, ".2e")),
        ]
        if not np.all(np.isfinite(self.errors)):
            rows.append(("note", "inf where a trajectory failed in either result (see their .status)"))
        return html_table("InvarianceReport", rows, ok=bool(self.passed))


def _times(result: Any, name: str) -> np.ndarray:
    if isinstance(result, FlowResult):
        return result.ts
    if isinstance(result, DescentResult):
        return result.ks.astype(float)
    raise ArgumentTypeError(f"`{name}` must be a FlowResult or DescentResult; got {type(result).__name__}.")


def check_invariance(
    result_a: FlowResult | DescentResult,
    result_b: FlowResult | DescentResult,
    chart_map: ChartMap,
    *,
    tol: float = 1e-8,
    params: Any = None,
) -> InvarianceReport:
    """Compare two solutions of the same flow computed in two charts.

    Parameters
    ----------
    result_a, result_b : FlowResult or DescentResult
        Solutions recorded at the same times from corresponding starting
        points (``result_b``'s starts are ``result_a``'s in the other chart).
    chart_map : ChartMap
        From ``result_b.chart`` to ``result_a.chart``.
    tol : float
        Largest absolute coordinate difference accepted.
    params : mapping, optional
        Values of ``chart_map``'s parameters, if any.

    Returns
    -------
    InvarianceReport

    Raises
    ------
    ChartMismatchError
        If ``chart_map`` does not go from ``result_b``'s chart to ``result_a``'s.
    SolverSettingsError
        If the results were recorded at different times or have different shapes.

    Examples
    --------
    The natural-gradient flow of a Gaussian's variance under its Fisher metric
    is the same curve whether computed in sigma or in the variance.

    >>> import numpy as np, sympy as sp
    >>> from riemgrad import Chart, ChartMap, Metric, compile_flow, solve_flow, check_invariance
    >>> s, v = sp.Symbol("sigma", positive=True), sp.Symbol("variance", positive=True)
    >>> cs, cv = Chart("sigma", (s,)), Chart("variance", (v,))
    >>> fs = compile_flow(Metric(cs, [[2 / s**2]]), sp.log(s) + 2 / s**2)
    >>> fv = compile_flow(Metric(cv, [[1 / (2 * v**2)]]), sp.log(v) / 2 + 2 / v)
    >>> ra = solve_flow(fs, [[1.0], [3.0]], (0, 1), dt=1e-3)
    >>> rb = solve_flow(fv, [[1.0], [9.0]], (0, 1), dt=1e-3)
    >>> report = check_invariance(ra, rb, ChartMap(cv, cs, (sp.sqrt(v),)))
    >>> report.passed, report.max_error < 1e-12
    (True, True)
    """
    ta, tb = _times(result_a, "result_a"), _times(result_b, "result_b")
    if not isinstance(chart_map, ChartMap):
        raise ChartMismatchError(f"`chart_map` must be a ChartMap; got {type(chart_map).__name__}.")
    if chart_map.source != result_b.chart or chart_map.target != result_a.chart:
        raise ChartMismatchError(
            f"`chart_map` must go from result_b's chart {result_b.chart.name!r} to result_a's chart "
            f"{result_a.chart.name!r}; it goes {chart_map.source.name!r} -> {chart_map.target.name!r}. "
            "Pass the map (or its .inverse()) in that direction."
        )
    if ta.shape != tb.shape or not np.allclose(ta, tb, rtol=1e-12, atol=1e-12):
        raise SolverSettingsError(
            f"`result_a` and `result_b` must be recorded at the same times; got {ta[:4]}... and {tb[:4]}.... "
            "Solve both with the same t_span, dt and saveat."
        )
    if result_a.xs.shape[:-1] != result_b.xs.shape[:-1]:
        raise SolverSettingsError(
            f"`result_a` and `result_b` must hold the same number of trajectories; got xs of shapes "
            f"{result_a.xs.shape} and {result_b.xs.shape}."
        )
    mapped = chart_map(result_b.xs, params)
    diff = np.abs(mapped - result_a.xs)
    diff = np.where(np.isnan(diff), np.inf, diff)
    errors = diff.reshape(diff.shape[0], -1).max(axis=1)
    max_error = float(errors.max())
    return InvarianceReport(times=ta, errors=errors, max_error=max_error, tol=float(tol), passed=max_error <= tol)
