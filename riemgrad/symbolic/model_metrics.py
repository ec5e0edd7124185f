"""Metrics of preconditioners and models: Newton, Gauss-Newton, the loss graph, function space.

Each function returns a :class:`~riemgrad.symbolic.metric.Metric` on the given
chart, built exactly with SymPy:

- :func:`hessian_metric`: the Hessian of a loss (Newton's method);
- :func:`gauss_newton_metric`: J^T J for residuals r(theta);
- :func:`induced_metric`: I + scale^2 grad L grad L^T, the metric the graph of
  the loss inherits from the ambient Euclidean space;
- :func:`function_space_metric`: E_x[d_i f d_j f], the L2 metric of a model
  pulled back to its parameters (the Gram matrix of the basis for a linear
  model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import warnings

import numpy as np
import sympy as sp

from ..errors import (
    BudgetExceededError,
    ChartMismatchError,
    CoordinateError,
    IntegrationError,
    ShapeError,
    SimplificationSkippedWarning,
)
from ._util import as_expr, simplify_expr, sympify_safe
from .budget import get_budget, ran_out, time_budget
from ._density_checks import check_density
from .charts import Chart
from .expectation import expand_log, integrate_against
from .metric import Metric

__all__ = ["hessian_metric", "gauss_newton_metric", "induced_metric", "function_space_metric"]


def _check_chart(chart: Any) -> Chart:
    if not isinstance(chart, Chart):
        raise ChartMismatchError(f"`chart` must be a Chart; got {type(chart).__name__}.")
    return chart


def _simplify(e: sp.Expr) -> sp.Expr:
    """Lowest terms for rational expressions; term by term when transcendental functions appear.

    Bringing a sum of logistic terms such as exp(a)/(1 + exp(a))**2 to one
    denominator multiplies out every denominator (slow, and far longer), so
    sums with function atoms are simplified one term at a time.
    """
    e = sympify_safe(e)
    if e.is_Add and e.atoms(sp.Function):
        return sp.Add(*[simplify_expr(t) for t in e.args])
    return simplify_expr(e)


def _symmetric(n: int, entry: Any) -> sp.Matrix:
    """The symmetric matrix of entry(i, j), simplified within one ``simplify`` budget for all entries.

    Entries left when the budget runs out (or SymPy recurses too deep on one) are kept exact and
    unsimplified, and a SimplificationSkippedWarning says so.
    """
    M = sp.zeros(n, n)
    pairs = [(i, j) for i in range(n) for j in range(i, n)]
    for i, j in pairs:
        M[i, j] = M[j, i] = entry(i, j)
    seconds = get_budget("simplify")
    done = 0
    why = ""
    try:
        with time_budget(seconds, "simplifying the metric's entries") as token:
            for i, j in pairs:
                try:
                    M[i, j] = M[j, i] = _simplify(M[i, j])
                except RecursionError:
                    why = "recursed too deep on some entries"
                done += 1
    except BudgetExceededError as exc:
        if not ran_out(token, exc):
            raise
        why = f"ran past its budget of {seconds:g} s after {done} of {len(pairs)} entries"
    if why:
        warnings.warn(
            f"simplifying the metric's entries {why}; the others are kept exact and unsimplified (raise the budget "
            "with riemgrad.symbolic.budget.budgets(simplify=...)).",
            SimplificationSkippedWarning,
            stacklevel=3,
        )
    return M


def hessian_metric(loss: Any, chart: Chart, *, riemannian: bool = True) -> Metric:
    """The Hessian of a loss as a metric (Newton's method): g_ij = d_i d_j L.

    Parameters
    ----------
    loss : sympy expression in ``chart.coords``
    chart : Chart
    riemannian : bool, optional
        Passed to :class:`Metric`; a constant Hessian that is not positive
        definite raises unless this is False.

    Returns
    -------
    Metric

    Raises
    ------
    IndefiniteMetricError
        If the Hessian is visibly not positive definite (and ``riemannian``).
    SingularMetricError
        If the Hessian is singular everywhere.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, hessian_metric
    >>> x1, x2 = sp.symbols("x1 x2", real=True)
    >>> hessian_metric((3*x1**2 + 2*x1*x2 + x2**2)/2 - (x1 - 2*x2), Chart("c", (x1, x2))).matrix
    Matrix([
    [3, 1],
    [1, 1]])
    """
    chart = _check_chart(chart)
    L = as_expr(loss, "loss", chart.coords)
    c = chart.coords
    grad = [sp.diff(L, ci) for ci in c]  # once per coordinate, not once per entry
    return Metric(chart, _symmetric(chart.dim, lambda i, j: sp.diff(grad[i], c[j])), riemannian=riemannian)


def gauss_newton_metric(residuals: Any, chart: Chart) -> Metric:
    """The Gauss-Newton metric J^T J, J[a, i] = d r_a / d theta_i.

    Parameters
    ----------
    residuals : sympy expression or sequence of them, length n
        The residuals r_a(theta) of a least-squares loss 1/2 sum_a r_a^2.
    chart : Chart

    Returns
    -------
    Metric
        g_ij = sum_a d_i r_a d_j r_a.

    Raises
    ------
    SingularMetricError
        If J^T J is singular everywhere (fewer independent residuals than
        parameters).

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, gauss_newton_metric
    >>> a, b = sp.symbols("a b", real=True)
    >>> gauss_newton_metric([a + b, a - b, 2*b], Chart("c", (a, b))).matrix
    Matrix([
    [2, 0],
    [0, 6]])
    """
    chart = _check_chart(chart)
    if isinstance(residuals, (sp.MatrixBase, sp.NDimArray)):
        residuals = list(residuals)
    if isinstance(residuals, (str, sp.Basic)) or not isinstance(residuals, Sequence):
        residuals = [residuals]
    rs = [as_expr(r, "residuals", chart.coords) for r in residuals]
    if not rs:
        raise ShapeError("`residuals` must hold at least one expression; got an empty sequence.")
    c = chart.coords
    J = [[sp.diff(r, ci) for ci in c] for r in rs]
    return Metric(chart, _symmetric(chart.dim, lambda i, j: sp.Add(*[row[i] * row[j] for row in J])))


def induced_metric(loss: Any, chart: Chart, scale: Any = 1) -> Metric:
    """The metric of the graph of the loss: g = I + scale^2 grad L grad L^T.

    Parameters
    ----------
    loss : sympy expression in ``chart.coords``
    chart : Chart
    scale : number or sympy expression, optional
        How much the loss axis is stretched against the parameters.

    Returns
    -------
    Metric

    Notes
    -----
    With u = scale grad L, ``g^-1 = I - u u^T / (1 + |u|^2)`` (Sherman-Morrison),
    ``det g = 1 + |u|^2``, and the natural gradient is ``u / (1 + |u|^2)``.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, induced_metric
    >>> x = sp.Symbol("x", real=True)
    >>> induced_metric(x**2, Chart("line", (x,))).matrix
    Matrix([[4*x**2 + 1]])
    """
    chart = _check_chart(chart)
    L = as_expr(loss, "loss", chart.coords)
    s = as_expr(scale, "scale")
    grad = [sp.diff(L, ci) for ci in chart.coords]
    return Metric(chart, _symmetric(chart.dim, lambda i, j: (1 if i == j else 0) + s**2 * grad[i] * grad[j]))


def function_space_metric(model: Any, chart: Chart, inputs: Any, measure: Any) -> Metric:
    """The L2 (function-space) metric of a model pulled back to its parameters: E_x[d_i f d_j f].

    Parameters
    ----------
    model : sympy expression
        f(x; theta), in the inputs and ``chart.coords``.
    chart : Chart
    inputs : sympy.Symbol or sequence of Symbols
        The model's input variables x.
    measure : mapping, tuple or array
        The distribution of the inputs, one of

        - ``{x: Interval(a, b)}``: the uniform probability measure on the
          interval (on the box, for several inputs);
        - ``(density, {x: Set})``: a probability density (or mass function)
          on the inputs, with the support of each input;
        - an array of data points, shape ``(n,)`` or ``(n, len(inputs))``:
          the empirical measure, averaged exactly (floats are read through
          their decimal representation, so 0.1 is 1/10).

    Returns
    -------
    Metric

    Raises
    ------
    ShapeError
        If ``measure`` is none of the above or has the wrong shape.
    IntegrationError
        If the expectation cannot be evaluated in closed form.
    SingularMetricError
        If the metric is singular everywhere (e.g. fewer data points than
        parameters, or a basis that is not linearly independent).

    Examples
    --------
    Monomials on [0, 1] give the Hilbert matrix:

    >>> import sympy as sp
    >>> from riemgrad import Chart, function_space_metric
    >>> x = sp.Symbol("x", real=True)
    >>> th = sp.symbols("theta0:3", real=True)
    >>> f = th[0] + th[1] * x + th[2] * x**2
    >>> function_space_metric(f, Chart("monomials", th), x, {x: sp.Interval(0, 1)}).matrix
    Matrix([
    [  1, 1/2, 1/3],
    [1/2, 1/3, 1/4],
    [1/3, 1/4, 1/5]])
    >>> function_space_metric(f, Chart("monomials", th), x, [0, 1, 2]).matrix
    Matrix([
    [  1,   1, 5/3],
    [  1, 5/3,   3],
    [5/3,   3, 17/3]])
    """
    chart = _check_chart(chart)
    if isinstance(inputs, sp.Symbol):
        inputs = (inputs,)
    if isinstance(inputs, (str, bytes)) or not hasattr(inputs, "__iter__"):
        raise CoordinateError(f"`inputs` must be a Symbol or a sequence of Symbols; got {inputs!r}.")
    inputs = tuple(inputs)
    if not inputs or not all(isinstance(v, sp.Symbol) for v in inputs):
        raise CoordinateError(f"`inputs` must be a Symbol or a sequence of Symbols; got {inputs!r}.")
    f = as_expr(model, "model", (*chart.coords, *inputs))
    grads = [sp.diff(f, ci) for ci in chart.coords]
    n = chart.dim
    if isinstance(measure, Mapping):
        sup = _support(measure, inputs)
        for v, s in sup.items():
            if not (isinstance(s, sp.Interval) and s.start.is_finite and s.end.is_finite):
                raise ShapeError(
                    f"`measure[{v}]` must be a finite Interval(a, b) for the uniform measure; got {s}. "
                    "For other sets pass (density, {x: Set})."
                )
        logp = -sp.Add(*[sp.log(s.end - s.start) for s in sup.values()])
        return _expected_metric(chart, grads, logp, inputs, sup)
    if isinstance(measure, tuple) and len(measure) == 2 and isinstance(measure[1], Mapping):
        density = as_expr(measure[0], "measure density", inputs)
        sup = _support(measure[1], inputs)
        logp = expand_log(sp.log(density))
        # every moment below treats the density as a probability measure (terms free of the inputs get weight
        # one): refuse a density that is not one, instead of mixing it with the normalized measure
        check_density(density, logp, inputs, sup, (), "measure density")
        return _expected_metric(chart, grads, logp, inputs, sup)
    pts = _points(measure, len(inputs))
    fns = [sp.Lambda(inputs, g) for g in grads]
    vals = [[fn(*row) for fn in fns] for row in pts]
    m = len(pts)
    return Metric(chart, _symmetric(n, lambda i, j: sp.Add(*[v[i] * v[j] for v in vals]) / m))


def _expected_metric(chart: Chart, grads: list, logp: sp.Expr, inputs: tuple, sup: dict) -> Metric:
    try:
        with time_budget(get_budget("derivation"), "the function-space metric") as token:
            M = _symmetric(chart.dim, lambda i, j: _expect(grads[i] * grads[j], logp, inputs, sup, i, j))
    except BudgetExceededError as exc:
        if not ran_out(token, exc):
            raise
        raise IntegrationError(
            f"the function-space metric on chart {chart.name!r} was not derived within the budget of {exc.seconds:g} s "
            "for its expectations. Use a data set (an array of points) instead of a density, or raise the budget: "
            "`with riemgrad.symbolic.budget.budgets(derivation=600): ...`."
        ) from None
    return Metric(chart, M)


def _expect(g: sp.Expr, logp: sp.Expr, inputs: tuple, sup: dict, i: int, j: int) -> sp.Expr:
    return integrate_against(g, logp, inputs, sup, what=f"d_{i} f d_{j} f")


def _support(measure: Mapping, inputs: tuple) -> dict:
    sup = {}
    for key, s in measure.items():
        var = next((v for v in inputs if key == v or key == v.name), None)
        if var is None:
            raise ShapeError(f"`measure` names {key!r}, which is not one of the inputs {inputs}.")
        if not isinstance(s, sp.Set):
            raise ShapeError(f"`measure[{var}]` must be a SymPy Set such as Interval(0, 1); got {s!r}.")
        sup[var] = s
    missing = [v for v in inputs if v not in sup]
    if missing:
        raise ShapeError(f"`measure` must give a Set for every input; missing {missing}.")
    return sup


def _exact(v: Any) -> sp.Expr:
    if isinstance(v, sp.Basic):
        return v
    if isinstance(v, (int, np.integer)):
        return sp.Integer(int(v))
    if isinstance(v, (float, np.floating)):
        return sp.Rational(repr(float(v)))
    return as_expr(v, "measure")


def _points(measure: Any, k: int) -> list[list[sp.Expr]]:
    try:
        arr = np.asarray(measure, dtype=object)
    except (ValueError, TypeError):
        arr = None
    if arr is None or arr.ndim not in (1, 2) or arr.shape[0] == 0:
        raise ShapeError(
            "`measure` must be {x: Interval(a, b)}, (density, {x: Set}) or an array of data points of shape "
            f"(n,) or (n, {k}); got {measure!r}."
        )
    if arr.ndim == 1:
        if k != 1:
            raise ShapeError(
                f"`measure` of shape {arr.shape} gives one value per point, but there are {k} inputs; "
                f"pass shape (n, {k})."
            )
        arr = arr.reshape(-1, 1)
    if arr.shape[1] != k:
        raise ShapeError(f"`measure` must have shape (n, {k}), one column per input; got {arr.shape}.")
    return [[_exact(v) for v in row] for row in arr]
