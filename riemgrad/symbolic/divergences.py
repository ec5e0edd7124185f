"""Divergences between members of a parametric family: the Kullback-Leibler divergence, exactly.

KL(p || q) = E_p[log p/q] in nats, by the closed form of an exponential family
(nothing integrated), a closed form the family carries, the source family of a
reparameterization, or an exact expectation through
:mod:`riemgrad.symbolic.expectation`.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from ..errors import ArgumentTypeError, BudgetExceededError, IntegrationError, MethodNotApplicableError
from ._util import as_expr, simplify_expr
from .budget import get_budget, ran_out, time_budget
from .expectation import expand_log, integrate_against
from ._density_checks import check_point_in_domain
from .family import ParametricFamily, point_values

__all__ = ["kl_divergence"]


def kl_divergence(family: ParametricFamily, p: Any, q: Any) -> sp.Expr:
    """The Kullback-Leibler divergence KL(p || q) = E_p[log p/q] between two members, in nats.

    Parameters
    ----------
    family : ParametricFamily
    p, q : sequence or mapping
        Parameter values in chart order, or mappings {coordinate: value};
        numbers or SymPy expressions.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    IntegrationError
        If the expectation cannot be evaluated in closed form (e.g. two Laplace
        members with symbolic, unordered locations and no ``kl`` given, or a
        Student t, whose KL has no closed form).

    Notes
    -----
    Routes: a reparameterized family evaluates the source family's KL at the
    mapped points; a family with a known closed form (``kl=``) uses it.
    For an exponential family, KL(p || q) = A(q) - A(p) - (eta(q) - eta(p)).m(p)
    with m the expectation parameters, and nothing is integrated. To second
    order, KL(theta || theta + d theta) = 1/2 d theta^T F(theta) d theta.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, ParametricFamily
    >>> x = sp.Symbol("x", real=True); r = sp.Symbol("r", positive=True)
    >>> a, b = sp.symbols("a b", positive=True)
    >>> fam = ParametricFamily(Chart("rate", (r,)), x, sp.log(r) - r * x, {x: sp.Interval(0, sp.oo)})
    >>> kl_divergence(fam, [a], [b])
    log(a) - log(b) - (a - b)/a
    """
    if not isinstance(family, ParametricFamily):
        raise ArgumentTypeError(f"`family` must be a ParametricFamily; got {type(family).__name__}.")
    P, Q = point_values(family.chart, p, "p"), point_values(family.chart, q, "q")
    check_point_in_domain(P, "p", family.chart.name)
    check_point_in_domain(Q, "q", family.chart.name)
    try:
        with time_budget(get_budget("derivation"), f"KL in family {family.name!r}") as token:
            family.density_check  # noqa: B018 - a cached check: refuses unnormalized or negative densities
            return _kl(family, P, Q)
    except BudgetExceededError as exc:
        if not ran_out(token, exc):
            raise
        raise IntegrationError(
            f"KL(p || q) in family {family.name!r} at p = {P}, q = {Q} was not found within the budget of "
            f"{exc.seconds:g} s for {exc.what}. Pass the known closed form as ParametricFamily(..., kl=...), "
            "evaluate it by numerical quadrature, or raise the budget: "
            "`with riemgrad.symbolic.budget.budgets(integral=60, derivation=300): ...`."
        ) from None


def _kl(family: ParametricFamily, P: dict, Q: dict) -> sp.Expr:
    if family.source is not None:  # KL is a scalar: evaluate it in the source chart at the mapped points
        src, m = family.source
        return _kl(src, point_values(src.chart, [f.xreplace(P) for f in m.forward], "p"),
                   point_values(src.chart, [f.xreplace(Q) for f in m.forward], "q"))
    if family.kl is not None:
        return _simplify_kl(as_expr(family.kl(P, Q), "kl"))
    ef = family.exponential_form
    if ef is not None and len(ef.natural) == family.dim:
        try:
            m = family.expectation_parameters
        except MethodNotApplicableError:
            m = None
        if m is not None:
            val = (
                ef.log_partition.xreplace(Q)
                - ef.log_partition.xreplace(P)
                - sp.Add(*[(eta.xreplace(Q) - eta.xreplace(P)) * mk.xreplace(P) for eta, mk in zip(ef.natural, m)])
            )
            return _simplify_kl(val)
    lp, lq = family.log_density.xreplace(P), family.log_density.xreplace(Q)
    diff = sp.expand(expand_log(lp - lq))
    hard = [a for a in diff.atoms(sp.log) if a.args[0].is_Add and a.args[0].free_symbols & set(family.variables)]
    if hard:
        raise IntegrationError(
            f"no closed form for KL in family {family.name!r}: E_p[{hard[0]}] under a density that is not an "
            f"exponential family is not an integral SymPy can do reliably (over {dict(family.support)}). "
            "Pass the known closed form as ParametricFamily(..., kl=...), or evaluate KL by numerical quadrature."
        )
    val = integrate_against(diff, lp, family.variables, family.support, what=f"log p/q = {diff}", coords=())
    return _simplify_kl(val)


def _simplify_kl(val: sp.Expr) -> sp.Expr:
    v = expand_log(val)
    r = simplify_expr(v)
    return r if sp.count_ops(r) <= sp.count_ops(v) else v


