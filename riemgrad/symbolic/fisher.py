"""The Fisher information metric of a parametric family, by three exact routes.

:func:`fisher_metric` derives the Fisher information metric of one
observation exactly,

    g_ij(theta) = E[d_i log p d_j log p] = -E[d_i d_j log p],

by the score route, the Hessian route, or (for exponential families) the
Hessian of the log-partition, where nothing is integrated. Expectations go
through :mod:`riemgrad.symbolic.expectation`.

Conventions: the Fisher metric of ONE observation, no 1/4 factors; KL in nats.
:class:`ParametricFamily` (:mod:`riemgrad.symbolic.family`) and
:func:`kl_divergence` (:mod:`riemgrad.symbolic.divergences`) are re-exported
here, so ``from riemgrad.symbolic.fisher import ...`` keeps working.
"""

from __future__ import annotations

import weakref
from typing import Any

import sympy as sp

from ..errors import ArgumentTypeError, BudgetExceededError, IntegrationError, MethodNotApplicableError
from ._util import simplify_expr
from .charts import Chart
from .budget import get_budget, ran_out, time_budget
from .divergences import kl_divergence
from .expectation import integrate_against, tidy
from .family import ExponentialForm, ParametricFamily, nonsmooth_atom
from .metric import Metric

__all__ = ["ParametricFamily", "ExponentialForm", "fisher_metric", "fisher_route", "kl_divergence"]

_METHODS = ("auto", "score", "hessian", "exponential")

#: Fisher results per family and method; an entry goes away with its family, and the family is never changed.
_RESULTS: weakref.WeakKeyDictionary[ParametricFamily, dict[str, tuple[Metric, str]]] = weakref.WeakKeyDictionary()


def fisher_metric(family: ParametricFamily, method: str = "auto") -> Metric:
    """The Fisher information metric of one observation, exactly, on ``family.chart``.

    Parameters
    ----------
    family : ParametricFamily
    method : {"auto", "score", "hessian", "exponential"}
        ``"score"``: E[d_i log p d_j log p]. ``"hessian"``: -E[d_i d_j log p]
        (refused for densities that are not twice differentiable in the
        parameters). ``"exponential"``: for log p = eta(theta).T(x) - A(theta)
        + log h(x) with as many natural parameters as coordinates, the Hessian
        of the log-partition in the natural parameters pulled back by
        d eta/d theta, computed as (d eta/d theta)^T (d m/d theta) with the
        expectation parameters m solving (d eta/d theta)^T m = grad A; no
        integral is taken. For a curved (or non-minimal) exponential family,
        Hess A - sum_k E[T_k] Hess eta_k, which needs only the means of the
        statistics whose natural parameter is not affine. ``"auto"`` pulls back the source family's metric for
        a reparameterized family, else uses "exponential" when it applies, else
        "hessian" for twice-differentiable densities, else "score".

    Returns
    -------
    Metric
        On ``family.chart``, constructed with ``allow_singular=True``: an
        over-parameterized chart (all softmax logits) gives a metric whose
        ``.inverse`` raises :class:`~riemgrad.errors.SingularMetricError`.

    Raises
    ------
    MethodNotApplicableError
        If ``method`` is unknown, or does not apply (Hessian route on a density
        with Abs/sign/Piecewise; exponential route on a family that is not a
        full-rank exponential family).
    IntegrationError
        If SymPy cannot evaluate an expectation in closed form; the message
        names the integral (or sum), the variable and its support, and what to
        try instead.

    Notes
    -----
    Expectations over discrete supports are sums (finite sets summed term by
    term, ``Range``/``Naturals0`` by ``summation``); over ``Reals`` a
    polynomial times a Gaussian is integrated by its moments, a location-scale
    family is standardized first, and integrands with Abs/sign are split at
    their kinks. Results are cached on the family.

    Examples
    --------
    Laplace location: the almost-everywhere Hessian vanishes, the score route
    gives the right answer 1/b^2.

    >>> import sympy as sp
    >>> from riemgrad import Chart, ParametricFamily, fisher_metric
    >>> x, mu = sp.symbols("x mu", real=True)
    >>> b = sp.Symbol("b", positive=True)
    >>> lap = ParametricFamily(Chart("mu", (mu,)), x, -sp.Abs(x - mu) / b - sp.log(2 * b), {x: sp.Reals})
    >>> fisher_metric(lap).matrix
    Matrix([[b**(-2)]])
    >>> fisher_metric(lap, method="hessian")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    riemgrad.errors.MethodNotApplicableError: ...
    """
    return _fisher(family, method)[0]


def fisher_route(family: ParametricFamily, method: str = "auto") -> str:
    """The route :func:`fisher_metric` takes (or took): "exponential", "hessian", "score" or "pullback(<chart>)".

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, ParametricFamily
    >>> x = sp.Symbol("x", real=True); r = sp.Symbol("r", positive=True)
    >>> fisher_route(ParametricFamily(Chart("rate", (r,)), x, sp.log(r) - r * x, {x: sp.Interval(0, sp.oo)}))
    'exponential'
    """
    return _fisher(family, method)[1]


def _fisher(family: ParametricFamily, method: str) -> tuple[Metric, str]:
    if not isinstance(family, ParametricFamily):
        raise ArgumentTypeError(f"`family` must be a ParametricFamily; got {type(family).__name__}.")
    if method not in _METHODS:
        raise MethodNotApplicableError(
            f"`method` must be one of {_METHODS}; got {method!r}. Use 'auto' to let riemgrad pick the cheapest route."
        )
    cached = _RESULTS.get(family, {})
    if method in cached:
        return cached[method]
    try:
        with time_budget(get_budget("derivation"), f"the Fisher metric of family {family.name!r}") as token:
            family.density_check  # noqa: B018 - a cached check: refuses unnormalized or negative densities
            if method == "auto":
                out = _fisher_auto(family)
            else:
                routes = {"score": _fisher_score, "hessian": _fisher_hessian, "exponential": _fisher_exponential}
                out = (_make_metric(family.chart, routes[method](family)), method)
    except BudgetExceededError as exc:
        if not ran_out(token, exc):
            raise
        raise IntegrationError(
            f"the Fisher metric of family {family.name!r} (method={method!r}) was not derived within the budget of "
            f"{exc.seconds:g} s for {exc.what}. Try method='score', 'hessian' or 'exponential', another chart, or a "
            "larger budget: `with riemgrad.symbolic.budget.budgets(derivation=600): ...`."
        ) from None
    _RESULTS.setdefault(family, {})[method] = out
    return out


def _fisher_auto(family: ParametricFamily) -> tuple[Metric, str]:
    if family.source is not None:
        src, m = family.source
        g = fisher_metric(src, "auto")
        return g.pullback(m), f"pullback({src.chart.name})"
    ef = family.exponential_form
    if ef is not None:
        try:
            return _make_metric(family.chart, _fisher_exponential(family)), "exponential"
        except (MethodNotApplicableError, IntegrationError):
            pass
    if family.is_twice_differentiable:
        try:
            return _make_metric(family.chart, _fisher_hessian(family)), "hessian"
        except IntegrationError as exc:
            first = exc
        try:
            return _make_metric(family.chart, _fisher_score(family)), "score"
        except IntegrationError:
            raise first from None
    return _make_metric(family.chart, _fisher_score(family)), "score"


def _make_metric(chart: Chart, matrix: sp.Matrix) -> Metric:
    return Metric(chart, matrix, allow_singular=True)


def _symmetric(n: int, entry: Any) -> sp.Matrix:
    M = sp.zeros(n, n)
    for i in range(n):
        for j in range(i, n):
            M[i, j] = M[j, i] = entry(i, j)
    return M


def _fisher_score(family: ParametricFamily) -> sp.Matrix:
    score = [sp.diff(family._logp, c) for c in family.coords]
    return _symmetric(family.dim, lambda i, j: _expectation(family, score[i] * score[j], f"score product s_{i} s_{j}"))


def _fisher_hessian(family: ParametricFamily) -> sp.Matrix:
    bad = nonsmooth_atom(family.log_density, set(family.coords))
    if bad is not None:
        raise MethodNotApplicableError(
            f"`method='hessian'` does not apply to family {family.name!r}: its log-density contains {bad}, so it is "
            "not twice differentiable in the parameters and -E[Hessian] is not the Fisher information "
            "(e.g. the Laplace location, whose a.e. Hessian is 0). Use method='score' or 'auto'."
        )
    c = family.coords
    return _symmetric(
        family.dim,
        lambda i, j: _expectation(family, -sp.diff(family._logp, c[i], c[j]), f"-d2 log p/d{c[i]} d{c[j]}"),
    )


def _fisher_curved(family: ParametricFamily, ef: ExponentialForm) -> sp.Matrix:
    """Curved or non-minimal exponential family: F = Hess A - sum_k Hess eta_k E[T_k].

    Only the means of the statistics whose natural parameter is not affine in
    the coordinates are needed (none for a GLM with canonical link).
    """
    d, c = family.dim, family.coords
    hess = [[[sp.diff(eta, c[i], c[j]) for j in range(d)] for i in range(d)] for eta in ef.natural]
    means: dict[int, sp.Expr] = {}
    for k, T in enumerate(ef.statistics):
        if any(simplify_expr(h) != 0 for row in hess[k] for h in row):
            means[k] = _expectation(family, T, f"the statistic {T}")

    def entry(i: int, j: int) -> sp.Expr:
        acc = sp.diff(ef.log_partition, c[i], c[j]) - sp.Add(*[hess[k][i][j] * m for k, m in means.items()])
        return tidy(acc)

    return _symmetric(d, entry)


def _fisher_exponential(family: ParametricFamily) -> sp.Matrix:
    ef = family.exponential_form
    if ef is None:
        raise MethodNotApplicableError(
            f"`method='exponential'` does not apply to family {family.name!r}: its log-density "
            f"{family.log_density} is not of the form eta(theta).T(x) - A(theta) + log h(x). "
            "Use method='hessian' or 'score'."
        )
    d, c = family.dim, family.coords
    if len(ef.natural) != d:
        return _fisher_curved(family, ef)
    try:
        m = family.expectation_parameters
    except MethodNotApplicableError:
        raise MethodNotApplicableError(
            f"`method='exponential'`: d eta/d theta is singular for family {family.name!r} (natural parameters "
            f"{ef.natural}); use method='hessian' or 'score'."
        ) from None
    J = sp.Matrix(d, d, lambda k, i: sp.diff(ef.natural[k], c[i]))
    return _symmetric(d, lambda i, j: tidy(sp.Add(*[J[k, i] * sp.diff(m[k], c[j]) for k in range(d) if J[k, i] != 0])))


# ==================================================================== helpers
def _expectation(family: ParametricFamily, g: sp.Expr, what: str, logp: sp.Expr | None = None) -> sp.Expr:
    """E[g] under the family's density (or under exp(logp) when given)."""
    logp = family.log_density if logp is None else logp
    return integrate_against(g, logp, family.variables, family.support, what=what, coords=family.coords)


