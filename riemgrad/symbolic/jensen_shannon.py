"""The Jensen-Shannon divergence between two members of a parametric family, with the mixture.

JS(P, Q) = 1/2 KL(P || M) + 1/2 KL(Q || M), M = (P + Q) / 2, in nats (Lin 1991).
It is symmetric, bounded by log 2 and, to second order in the step d,

    JS(p_theta, p_{theta + d}) = 1/8 d^T F(theta) d + O(|d|^3),

with F the Fisher metric of one observation: writing p = m (1 + u), q = m (1 - u)
with u = (p - q) / (p + q) ~ -(d . s) / 2 (s the score), the integrand
m [(1 + u) log(1 + u) + (1 - u) log(1 - u)] / 2 = m u^2 / 2 + O(u^4), and
E_p[(d . s)^2] / 8 = d^T F d / 8. (The symmetrised KL, (KL(P||Q) + KL(Q||P)) / 2,
is a different divergence, d^T F d / 2 to second order.)

On a finite support the sum is taken exactly (SymPy); elsewhere numeric points
are integrated by adaptive quadrature (or summed until the tail is negligible),
and symbolic points are tried with SymPy within the ``integral`` budget of
:mod:`riemgrad.symbolic.budget`.

References
----------
.. [1] J. Lin, "Divergence measures based on the Shannon entropy", IEEE Trans.
   Inf. Theory 37(1), 1991.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import sympy as sp

from ..errors import ArgumentTypeError, BudgetExceededError, IntegrationError, MethodNotApplicableError
from ._density_checks import check_point_in_domain
from .budget import get_budget, ran_out, time_budget
from .family import ParametricFamily, point_values

__all__ = ["js_divergence"]

METHODS = ("auto", "exact", "quadrature")


def _finite_points(family: ParametricFamily) -> list[tuple] | None:
    """Every point of a finite joint support, or None if some variable's support is not finite and numeric."""
    axes = []
    for v in family.variables:
        s = family.support[v]
        if isinstance(s, sp.FiniteSet):
            axes.append(list(s))
        elif isinstance(s, sp.Range) and s.size.is_Integer:
            axes.append(list(s))
        else:
            return None
    return list(itertools.product(*axes))


def _js_terms(lp: sp.Expr, lq: sp.Expr) -> sp.Expr:
    P, Q = sp.exp(lp), sp.exp(lq)
    return (P * sp.log(2 * P / (P + Q)) + Q * sp.log(2 * Q / (P + Q))) / 2


def _g(u: np.ndarray) -> np.ndarray:
    """(1 + u) log(1 + u) + (1 - u) log(1 - u), accurate for small |u| (series u^2 + u^4/6 + u^6/15 + u^8/28)."""
    u = np.asarray(u, dtype=float)
    small = np.abs(u) < 1e-3
    us = np.where(small, u, 0.0)
    series = us**2 * (1 + us**2 / 6 + us**4 / 15 + us**6 / 28)
    ul = np.where(small, 0.0, np.clip(u, -1.0, 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(ul > -1, (1 + ul) * np.log1p(ul), 0.0)
        b = np.where(ul < 1, (1 - ul) * np.log1p(-ul), 0.0)
    return np.where(small, series, a + b)


def _integrand(lp_fn: Any, lq_fn: Any) -> Any:
    def f(x: Any) -> Any:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            lp = np.asarray(lp_fn(x), dtype=float) + 0.0 * np.asarray(x, dtype=float)
            lq = np.asarray(lq_fn(x), dtype=float) + 0.0 * np.asarray(x, dtype=float)
            lm = np.logaddexp(lp, lq) - math.log(2.0)  # log of the mixture m = (p + q) / 2
            u = np.tanh((lp - lq) / 2)  # (p - q) / (p + q)
            out = np.exp(lm) * _g(u) / 2
        return np.where(np.isfinite(out), out, 0.0)

    return f


def _quadrature(family: ParametricFamily, P: dict, Q: dict) -> float:
    from scipy import integrate  # numeric work, loaded on demand

    if len(family.variables) != 1:
        raise MethodNotApplicableError(
            f"numerical quadrature of the Jensen-Shannon divergence is implemented for one data variable; family "
            f"{family.name!r} has {len(family.variables)} ({family.variables}). Use a family of one variable."
        )
    (v,) = family.variables
    lp_e, lq_e = family.log_density.xreplace(P), family.log_density.xreplace(Q)
    extra = (lp_e.free_symbols | lq_e.free_symbols) - {v}
    if extra:
        raise ArgumentTypeError(
            f"`p` and `q` must be numbers for quadrature; the log-densities still hold {sorted(map(str, extra))}. "
            "Pass numeric points, or method='exact' for a symbolic result."
        )
    mods = ["scipy", "numpy"]
    f = _integrand(sp.lambdify(v, lp_e, modules=mods), sp.lambdify(v, lq_e, modules=mods))
    s = family.support[v]
    if isinstance(s, sp.Interval) or s == sp.Reals:
        a = -np.inf if s.inf == -sp.oo else float(s.inf)
        b = np.inf if s.sup == sp.oo else float(s.sup)
        val, _err = integrate.quad(lambda t: float(f(t)), a, b, epsabs=1e-15, epsrel=1e-11, limit=400)
        return float(val)
    if isinstance(s, (sp.Range, type(sp.Naturals0))) or s == sp.Naturals0:
        start = int(s.inf)
        step = 1 if s == sp.Naturals0 else int(s.step)
        total, k, chunk = 0.0, start, 4096
        for _ in range(250):
            ks = np.arange(k, k + chunk * step, step, dtype=float)
            if s != sp.Naturals0 and s.sup != sp.oo:
                ks = ks[ks <= float(s.sup)]
            part = float(np.sum(f(ks))) if ks.size else 0.0
            total += part
            k += chunk * step
            if ks.size == 0 or (part <= 1e-17 * max(total, 1e-300) and k > start + 2 * chunk):
                return total
        raise IntegrationError(
            f"the Jensen-Shannon sum over {s} in family {family.name!r} did not converge within 10^6 terms. "
            "Check that the points are inside the chart's domain."
        )
    raise MethodNotApplicableError(
        f"no quadrature for the support {s} of {v} in family {family.name!r}; supports are intervals, "
        "FiniteSet, Range and Naturals0."
    )


def _symbolic(family: ParametricFamily, P: dict, Q: dict) -> sp.Expr:
    (v, *rest) = family.variables
    lp, lq = family.log_density.xreplace(P), family.log_density.xreplace(Q)
    term = _js_terms(lp, lq)
    s = family.support[v]
    what = f"the Jensen-Shannon divergence in family {family.name!r}"
    if rest:
        raise IntegrationError(f"no symbolic route for {what}: it has {len(family.variables)} data variables. "
                               "Use a one-variable family or numeric points.")
    try:
        with time_budget(get_budget("integral"), what) as token:
            if isinstance(s, sp.Interval) or s == sp.Reals:
                val = sp.integrate(term, (v, s.inf, s.sup))
                bad = val.has(sp.Integral)
            else:
                val = sp.summation(term, (v, s.inf, s.sup))
                bad = val.has(sp.Sum)
    except BudgetExceededError as exc:
        if not ran_out(token, exc):
            raise
        bad, val = True, None
    if bad:
        raise IntegrationError(
            f"{what} has no closed form SymPy can find (the log of the mixture (p + q)/2 does not integrate "
            f"over {s}) within the `integral` budget of {get_budget('integral')} s. Pass numeric points "
            "(method='quadrature'), or raise the budget: riemgrad.symbolic.budget.budgets(integral=60)."
        )
    return val


def js_divergence(family: ParametricFamily, p: Any, q: Any, *, method: str = "auto") -> sp.Expr | float:
    """The Jensen-Shannon divergence JS(P, Q) = 1/2 KL(P || M) + 1/2 KL(Q || M), M = (P + Q)/2, in nats.

    Parameters
    ----------
    family : ParametricFamily
    p, q : sequence or mapping
        Parameter values in chart order, or mappings {coordinate: value};
        numbers or SymPy expressions.
    method : {"auto", "exact", "quadrature"}
        "exact": a SymPy expression (a finite sum over a finite support;
        otherwise SymPy's integral or sum, within the ``integral`` budget).
        "quadrature": a float by adaptive quadrature (scipy ``quad``) over an
        interval, or a sum over a countable support until the tail is
        negligible (numeric points, one data variable). "auto": exact on a
        finite support, quadrature when both points are numeric, exact otherwise.

    Returns
    -------
    sympy.Expr or float
        In [0, log 2].

    Raises
    ------
    IntegrationError
        If no closed form is found (e.g. two normals with symbolic parameters).
    MethodNotApplicableError
        For quadrature over several data variables, or an unknown ``method``.
    ArgumentTypeError
        If ``family`` is not a ParametricFamily, or quadrature is asked with symbolic points.

    Notes
    -----
    JS(p_theta, p_{theta + d}) = d^T F d / 8 plus terms cubic in d (see the module
    docstring). Quadrature evaluates m [(1 + u) log(1 + u) + (1 - u) log(1 - u)] / 2
    with u = tanh((log p - log q) / 2) and a series for small u, so nearby
    members keep their relative accuracy (no cancellation of terms of first order in d).

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import families
    >>> js_divergence(families.bernoulli(), [sp.Rational(1, 4)], [sp.Rational(3, 4)])
    -log(2)/4 + 3*log(3/2)/4
    >>> round(js_divergence(families.normal(), [0.0, 1.0], [1.0, 1.0]), 6)
    0.111421
    """
    if not isinstance(family, ParametricFamily):
        raise ArgumentTypeError(f"`family` must be a ParametricFamily; got {type(family).__name__}.")
    if method not in METHODS:
        raise MethodNotApplicableError(f"`method` must be one of {METHODS}; got {method!r}.")
    P, Q = point_values(family.chart, p, "p"), point_values(family.chart, q, "q")
    check_point_in_domain(P, "p", family.chart.name)
    check_point_in_domain(Q, "q", family.chart.name)
    numeric = all(v.is_number for v in (*P.values(), *Q.values()))
    pts = _finite_points(family)
    if method == "quadrature" or (method == "auto" and pts is None and numeric):
        return _quadrature(family, P, Q)
    if pts is not None:
        lp, lq = family.log_density.xreplace(P), family.log_density.xreplace(Q)
        vs = family.variables
        total = sp.Add(*[_js_terms(lp.xreplace(dict(zip(vs, pt))), lq.xreplace(dict(zip(vs, pt)))) for pt in pts])
        return total
    return _symbolic(family, P, Q)
