"""The expectation engine: exact integrals and sums of g * p over a product of supports.

Used by the Fisher routes, the divergences and the model metrics (public within
``riemgrad.symbolic``; not part of the top-level API). Every integral goes
through :func:`integrate_against`, which tries cheap exact routes first
(Gaussian moments, odd integrands, Student-t Beta integrals, rational
antiderivatives), then SymPy's ``integrate``, and raises
:class:`~riemgrad.errors.IntegrationError` naming the integral when none
gives a closed form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sympy as sp
from sympy.integrals.rationaltools import ratint

from ..errors import BudgetExceededError, IntegrationError
from .budget import get_budget, ran_out, time_budget
from ._util import simplify_expr, sympify_safe

__all__ = ["integrate_against", "exp_of", "expand_log", "normalize_logs", "tidy"]

_DISCRETE = (sp.Range, type(sp.Naturals0), type(sp.Naturals), type(sp.Integers))


def exp_of(logp: sp.Expr) -> sp.Expr:
    """exp(logp) with c*log(a) -> a**c and loggamma(z) -> gamma(z) term by term.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True); r = sp.Symbol("r", positive=True)
    >>> exp_of(sp.log(r) - r * x)
    r*exp(-r*x)
    """
    out = []
    rest = []
    for t in sp.Add.make_args(expand_log(logp)):
        coeff, fac = sp.S.One, None
        for f in sp.Mul.make_args(t):
            if fac is None and isinstance(f, (sp.log, sp.loggamma)):
                fac = f
            else:
                coeff *= f
        if fac is None:
            rest.append(t)
        elif isinstance(fac, sp.log):
            out.append(fac.args[0] ** coeff)
        else:
            out.append(sp.gamma(fac.args[0]) ** coeff)
    if rest:
        out.append(sp.exp(sp.Add(*rest)))
    return sp.Mul(*out)


def expand_log(e: sp.Expr) -> sp.Expr:
    """``sympy.expand_log(e, force=True)`` made safe for negative symbols.

    Forcing splits log(a b) = log a + log b whatever the signs, which is right
    for the positive factors of a density but adds i*pi for negative ones
    (log(-2 eta2) with eta2 < 0). Negative symbols are written as minus a
    positive dummy first, so their products come out positive.

    Examples
    --------
    >>> import sympy as sp
    >>> eta = sp.Symbol("eta", negative=True)
    >>> expand_log(sp.log(-2 * eta))
    log(-eta) + log(2)
    """
    neg = [s for s in e.free_symbols if isinstance(s, sp.Symbol) and s.is_negative]
    if not neg:
        return sp.expand_log(e, force=True)
    pos = {s: sp.Dummy(s.name, positive=True) for s in neg}
    sub = {s: -d for s, d in pos.items()}
    back = {d: -s for s, d in pos.items()}
    return sp.expand_log(e.xreplace(sub), force=True).xreplace(back)


def normalize_logs(e: sp.Expr) -> sp.Expr:
    """Bring the argument of every log to lowest terms, then split logs of products and powers.

    Examples
    --------
    >>> import sympy as sp
    >>> s = sp.Symbol("s", positive=True)
    >>> normalize_logs(sp.log((s**2 + s) / s))
    log(s + 1)
    """
    e = e.replace(lambda a: isinstance(a, sp.log) and not a.args[0].is_Atom, lambda a: sp.log(sp.cancel(a.args[0])))
    return expand_log(e)


def integrate_against(
    g: sp.Expr,
    logp: sp.Expr,
    variables: tuple[sp.Symbol, ...],
    support: Mapping[sp.Symbol, sp.Set],
    *,
    what: str = "the integrand",
    coords: tuple[sp.Symbol, ...] = (),
    normalized: bool = True,
) -> sp.Expr:
    """The integral (or sum) of g * exp(logp) over the product of the supports, exactly.

    Parameters
    ----------
    g : sympy expression
        The integrand's factor besides the density.
    logp : sympy expression
        The log of a density in ``variables``; with ``normalized`` (default)
        it must integrate to one, and terms of ``g`` free of the variables
        come out of the integral with weight one.
    variables : tuple of Symbols
    support : mapping {variable: Set}
        An Interval, FiniteSet, Range, Naturals0, Naturals or Integers each.
    what : str
        How error messages name the integrand.
    coords : tuple of Symbols
        Parameters; on the real line a location-scale family in them is
        standardized first.
    normalized : bool
        False to integrate every term against exp(logp), e.g. the total mass.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    IntegrationError
        When no route gives a closed form, SymPy's ``integrate`` runs past
        its time budget (:data:`INTEGRATION_BUDGET`), or the integral diverges;
        the message names the integral.

    Notes
    -----
    The whole expectation (every route tried) runs within the ``integral``
    budget of :mod:`riemgrad.symbolic.budget` (10 s by default).

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> integrate_against(x**2, -x**2 / 2 - sp.log(2 * sp.pi) / 2, (x,), {x: sp.Reals})
    1
    """
    seconds = get_budget("integral")
    try:
        with time_budget(seconds, f"the expectation of {what}") as token:
            return _integrate_against(g, logp, variables, support, what=what, coords=coords, normalized=normalized)
    except BudgetExceededError as exc:
        if not ran_out(token, exc):
            raise  # an enclosing budget: its owner reports it
        raise IntegrationError(
            f"the expectation of {what} over {dict(support)} (the integral of ({g}) * exp({logp})) was not found "
            f"within the budget of {exc.seconds:g} s for {exc.what}; SymPy's integrate/summation was stopped. Try another method ('score', 'hessian' or 'exponential'), a chart in which the density is "
            "simpler, numeric values for the constants, or a larger budget: "
            "`with riemgrad.symbolic.budget.budgets(integral=60, derivation=300): ...`."
        ) from None


def _integrate_against(
    g: sp.Expr,
    logp: sp.Expr,
    variables: tuple[sp.Symbol, ...],
    support: Mapping[sp.Symbol, sp.Set],
    *,
    what: str = "the integrand",
    coords: tuple[sp.Symbol, ...] = (),
    normalized: bool = True,
) -> sp.Expr:
    g = sympify_safe(g)
    if g == 0:
        return sp.S.Zero
    variables = tuple(variables)
    # the density is normalized: terms free of the variables come out of the expectation unchanged
    if g.is_polynomial(*variables):
        g = sp.expand(g)
    const, g = g.as_independent(*variables, as_Add=True) if normalized else (sp.S.Zero, g)
    if g == 0:
        return tidy(const)
    if const != 0:
        return tidy(const + _integrate_against(g, logp, variables, support, what=what, coords=coords))
    # standardize a one-variable location-scale family on the real line
    if len(variables) == 1 and support[variables[0]] == sp.Reals and coords:
        g, logp, variables, support = _standardize(g, logp, variables[0], coords)
    for x in variables:
        g, logp = _integrate_one(g, logp, x, support[x], what)
    res = g * exp_of(logp) if logp != 0 else g
    res = tidy(res)
    if res in (sp.oo, -sp.oo, sp.zoo):
        raise IntegrationError(
            f"the expectation of {what} over {dict(support)} diverges ({res}): the Fisher information is infinite "
            "here (are the regularity conditions met?). Check the density and its support."
        )
    if res.has(sp.Integral, sp.Sum) or res.has(sp.nan, sp.zoo):
        raise IntegrationError(
            f"SymPy could not evaluate the expectation of {what} over {dict(support)}; it left {res}. "
            "Try another method (method='score' or 'hessian'), a chart in which the density is simpler, "
            "or numeric values for the constants."
        )
    return res


def _standardize(g: sp.Expr, logp: sp.Expr, x: sp.Symbol, coords: tuple[sp.Symbol, ...]) -> Any:
    u = sp.Dummy("u", real=True)
    loc, scale = sp.S.Zero, sp.S.One
    for c in coords:
        if c.is_real and logp.has(c):
            e = logp.xreplace({x: u + c})
            if not e.has(c):
                loc = c
                break
    base = logp.xreplace({x: u + loc})
    for c in coords:
        if c.is_positive and base.has(c):
            e = expand_log(base.xreplace({u: c * u}) + sp.log(c))
            if not e.has(c):
                scale = c
                break
    if loc == 0 and scale == 1:
        return g, logp, (x,), {x: sp.Reals}
    new_logp = expand_log(logp.xreplace({x: loc + scale * u}) + sp.log(scale))
    return g.xreplace({x: loc + scale * u}), new_logp, (u,), {u: sp.Reals}


def _integrate_one(g: sp.Expr, logp: sp.Expr, x: sp.Symbol, s: sp.Set, what: str) -> Any:
    """Integrate or sum out one variable from g * exp(logp); returns the new (g, logp) pair."""
    if isinstance(s, sp.FiniteSet):
        tot = sp.Add(*[(g * exp_of(logp)).xreplace({x: v}) for v in s])
        return _check(tot, what, x, s), sp.S.Zero
    if isinstance(s, _DISCRETE):
        return _sum_out(g, logp, x, s, what), sp.S.Zero
    if isinstance(s, sp.Interval):
        if s == sp.Reals:
            gi = _gaussian_integrate(g, logp, x)
            if gi is not None:
                return gi
        return _integrate_interval(g * exp_of(logp), x, s.start, s.end, what), sp.S.Zero
    raise IntegrationError(
        f"cannot take the expectation of {what} over {x} in {s}: supports must be Intervals, FiniteSets, "
        "Ranges or Naturals0. Rewrite the support as one of these."
    )


def tidy(e: sp.Expr) -> sp.Expr:
    """Targeted simplification of a derived expression: gamma ratios, Bessel recurrences, lowest terms.

    Examples
    --------
    >>> import sympy as sp
    >>> a = sp.Symbol("a", positive=True)
    >>> tidy(sp.gamma(a + 2) / sp.gamma(a))
    a*(a + 1)
    """
    if e.has(sp.hyper):
        e = sp.hyperexpand(e)
    if e.has(sp.gamma):
        e = _reduce_gamma(sp.gammasimp(e))
    e = _reduce_bessel(e)
    return simplify_expr(e)


def _reduce_gamma(e: sp.Expr) -> sp.Expr:
    """Write gamma(a + n), n a positive integer, as a product times gamma(a) so that ratios cancel."""
    args = sorted({g.args[0] for g in e.atoms(sp.gamma)}, key=sp.default_sort_key)
    sub = {}
    for a in args:
        shifts = [(sp.expand(a - b), b) for b in args]
        shifts = [(n, b) for n, b in shifts if n.is_Integer and n > 0]
        if shifts:
            n, b = max(shifts, key=lambda nb: nb[0])
            sub[sp.gamma(a)] = sp.Mul(*[b + i for i in range(int(n))]) * sp.gamma(b)
    return e.xreplace(sub) if sub else e


def _reduce_bessel(e: sp.Expr) -> sp.Expr:
    """Rewrite besseli(n, z), n >= 2, by I_n = I_(n-2) - 2 (n-1)/z I_(n-1) down to orders 0 and 1."""

    def red(b: sp.Expr) -> sp.Expr:
        n, z = b.args
        if n.is_Integer and n >= 2:
            return red(sp.besseli(n - 2, z)) - 2 * (n - 1) / z * red(sp.besseli(n - 1, z))
        return b

    if not e.has(sp.besseli):
        return e
    return e.replace(lambda a: isinstance(a, sp.besseli), red)


def _check(res: sp.Expr, what: str, x: sp.Symbol, s: sp.Set) -> sp.Expr:
    if res.has(sp.Integral, sp.Sum):
        raise IntegrationError(
            f"SymPy could not evaluate the expectation of {what} over {x} in {s}; it left {res}. "
            "Try another method ('score', 'hessian' or 'exponential'), a substitution that simplifies the density, "
            "a different chart, or numeric values for the constants."
        )
    return res


def _sum_out(g: sp.Expr, logp: sp.Expr, x: sp.Symbol, s: sp.Set, what: str) -> sp.Expr:
    if s == sp.Naturals0:
        lo, hi, step = sp.S.Zero, sp.oo, 1
    elif s == sp.Naturals:
        lo, hi, step = sp.S.One, sp.oo, 1
    elif s == sp.Integers:
        lo, hi, step = -sp.oo, sp.oo, 1
    else:
        lo, hi, step = s.inf, s.sup, s.step
    if step != 1:
        raise IntegrationError(
            f"cannot sum {what} over {x} in {s}: only unit steps are supported; rewrite the support."
        )
    if lo.is_number and hi.is_number and lo.is_finite and hi.is_finite and hi - lo <= 200:
        return _check(sp.Add(*[(g * exp_of(logp)).xreplace({x: v}) for v in range(int(lo), int(hi) + 1)]), what, x, s)
    k = sp.Dummy("k", integer=True, nonnegative=bool(lo.is_nonnegative))
    term = (g * exp_of(logp)).xreplace({x: k})
    term = term.replace(lambda e: isinstance(e, sp.gamma) and e.has(k), lambda e: sp.factorial(e.args[0] - 1))
    try:  # term by term: SymPy sums x^j * pmf one at a time much faster than their sum
        res = sp.Add(*[_first_branch(sp.summation(t, (k, lo, hi))) for t in sp.Add.make_args(sp.expand(term))])
    except (NotImplementedError, ValueError, TypeError) as exc:
        raise IntegrationError(f"SymPy failed on the sum of {what} over {x} in {s}: {exc}") from None
    return _check(res, what, x, s)


def _first_branch(res: sp.Expr) -> sp.Expr:
    """SymPy's sums of series come as Piecewise((value, convergence), (Sum, True)): keep the value.

    The convergence condition holds wherever the family is a normalized density.
    """

    def pick(pw: sp.Piecewise) -> sp.Expr:
        for e, _cond in pw.args:
            if not e.has(sp.Sum):
                return e
        return pw

    return res.replace(lambda e: isinstance(e, sp.Piecewise), pick)


def _gaussian_integrate(g: sp.Expr, logp: sp.Expr, x: sp.Symbol) -> tuple[sp.Expr, sp.Expr] | None:
    """Moments of a Gaussian: the integral over R of poly(x) * exp(a x^2 + b x + c), a < 0."""
    if not (g.has(x) or logp.has(x)):
        return None
    L = sp.expand(logp)
    if not L.is_polynomial(x):
        return None
    P = sp.Poly(L, x)
    if P.degree() != 2:
        return None
    a, b, c = (P.coeff_monomial(x**2), P.coeff_monomial(x), P.coeff_monomial(1))
    if not (-a).is_positive:
        return None
    ge = sp.expand(g)
    if not ge.is_polynomial(x):
        return None
    m, v = -b / (2 * a), -1 / (2 * a)
    G = sp.Poly(ge, x)
    deg = G.degree()
    M = [sp.S.One, m]
    for k in range(2, deg + 1):
        M.append(sp.expand(m * M[k - 1] + (k - 1) * v * M[k - 2]))
    new_g = sp.Add(*[coef * M[k[0]] for k, coef in zip(G.monoms(), G.coeffs())])
    new_logp = sp.expand(c - b**2 / (4 * a) + sp.log(sp.pi / (-a)) / 2)
    new_logp = sp.expand(expand_log(new_logp))
    return sp.expand(new_g), new_logp


def _integrate_interval(f: sp.Expr, x: sp.Symbol, lo: sp.Expr, hi: sp.Expr, what: str) -> sp.Expr:
    if not f.has(x):
        return f * (hi - lo)
    if lo == -hi and sp.expand(f.xreplace({x: -x}) + f) == 0:
        return sp.S.Zero  # odd integrand on a symmetric interval
    if lo == -sp.oo and hi == sp.oo:
        r = _beta_integrate(f, x)
        if r is not None:
            return r
    # split at the kinks of Abs/sign/Heaviside whose argument is linear in x
    roots = set()
    for a in f.atoms(sp.Abs, sp.sign, sp.Heaviside):
        if not a.args[0].has(x):
            continue
        arg = a.args[0]
        if not arg.is_polynomial(x) or sp.degree(arg, x) != 1:
            raise IntegrationError(
                f"cannot integrate {what} over {x} in [{lo}, {hi}]: the kink of {a} is not linear in {x}. "
                "Substitute a variable in which it is, or use another method."
            )
        roots.add(sp.solve(arg, x)[0])
    pts = [lo, hi]
    for r in roots:
        pts.append(r)
    try:
        inner = sorted(set(pts[2:]), key=lambda r: r)  # fails if the ordering is undecidable
        for r1, r2 in zip(inner, inner[1:]):
            if not bool(r1 < r2):
                raise TypeError
    except TypeError:
        raise IntegrationError(
            f"cannot integrate {what} over {x}: the kinks at {sorted(map(str, roots))} cannot be ordered "
            "symbolically. Give numeric values for the parameters, or use another method."
        ) from None
    pieces = [lo, *inner, hi]
    try:
        return _integrate_pieces(f, x, pieces, what)
    except IntegrationError as exc:
        split = f", split at the kinks {inner}" if inner else ""
        raise IntegrationError(
            f"SymPy could not evaluate the expectation of {what}: the integral of {f} over {x} in [{lo}, {hi}]"
            f"{split}. {exc}"
        ) from None


def _integrate_pieces(f: sp.Expr, x: sp.Symbol, pieces: list, what: str) -> sp.Expr:
    total = sp.S.Zero
    t = sp.Dummy("t", positive=True)
    for a, b in zip(pieces, pieces[1:]):
        if a == b:
            continue
        if a.is_finite:
            sub, upper = a + t, (b - a if b.is_finite else sp.oo)
        elif b.is_finite:
            sub, upper = b - t, sp.oo
        else:
            sub, upper = None, None
        if sub is None:
            total += _integrate_plain(f, x, -sp.oo, sp.oo, what)
        else:
            total += _integrate_plain(f.xreplace({x: sub}), t, sp.S.Zero, upper, what)
    return total


def _beta_integrate(f: sp.Expr, x: sp.Symbol) -> sp.Expr | None:
    """Integral over R of poly(x) (x^2 + q)^(-s) with a symbolic power (Student t): Beta functions.

    Uses int_R x^(2j) (x^2 + q)^(-s) dx = q^(j + 1/2 - s) B(j + 1/2, s - j - 1/2).
    """
    powers = [
        a
        for a in sp.Mul.make_args(f)
        if isinstance(a, sp.Pow) and not a.exp.is_Integer and a.base.is_polynomial(x) and sp.degree(a.base, x) == 2
    ]
    if len(powers) != 1:
        return None
    B, e = powers[0].base, powers[0].exp
    P = sp.Poly(B, x)
    if P.coeff_monomial(x) != 0:
        return None
    b2, b0 = P.coeff_monomial(x**2), P.coeff_monomial(1)
    q = sp.cancel(b0 / b2)
    if not (q.is_positive and b2.is_positive):
        return None
    rest = sp.cancel(f / powers[0])
    num, den = sp.fraction(rest)
    if not (num.is_polynomial(x) and den.is_polynomial(x)):
        return None
    quad = sp.Poly(x**2 + q, x)
    dp, k = sp.Poly(den, x), 0
    while dp.degree() > 0:
        qq, rr = sp.div(dp, quad)
        if not rr.is_zero:
            return None
        dp, k = qq, k + 1
    C = b2**e / dp.as_expr()
    s = k - e
    total = sp.S.Zero
    for (n,), c in zip(sp.Poly(num, x).monoms(), sp.Poly(num, x).coeffs()):
        if n % 2:
            continue
        j = sp.Rational(n, 2)
        total += c * q ** (j + sp.S.Half - s) * sp.gamma(j + sp.S.Half) * sp.gamma(s - j - sp.S.Half) / sp.gamma(s)
    return sp.gammasimp(sp.powsimp(C * total))


def _integrate_plain(f: sp.Expr, x: sp.Symbol, lo: sp.Expr, hi: sp.Expr, what: str) -> sp.Expr:
    attempts = []
    c, f = f.as_independent(x, as_Add=False)
    if f.is_rational_function(x):
        try:  # antiderivative of a rational function, then the limits: cheaper than integrate()
            F = ratint(sp.cancel(f), x)
            r = sp.limit(F, x, hi, "-") - sp.limit(F, x, lo, "+")
            if r.is_finite and not r.has(sp.Limit):
                return c * r
        except (NotImplementedError, ValueError, TypeError):
            pass
    forms = [sp.cancel(f)] if f.is_rational_function(x) else []
    forms += [f, sp.expand(f)]
    for form in forms:
        try:
            r = c * sp.integrate(form, (x, lo, hi), conds="none")
        except (NotImplementedError, ValueError, TypeError, RecursionError) as exc:
            attempts.append(str(exc))
            continue
        if not r.has(sp.Integral) and not r.has(sp.nan):
            return r
        attempts.append(str(r))
    raise IntegrationError(
        f"(After substitution: the integral of {f} over {x} from {lo} to {hi}; SymPy "
        f"returned {attempts[-1] if attempts else 'nothing'}.) Try another method ('score', 'hessian' or "
        "'exponential'), a substitution that simplifies the density, a different chart, or numeric values "
        "for the constants."
    )


