"""Exact arithmetic back-ends for curvature computations.

Curvature needs many sums of products of derivatives, each of which must be
brought to lowest terms. Two back-ends share one small interface:

* :class:`FieldAlgebra` -- the fast path. The metric's components are written as
  elements of a rational function field over ZZ or QQ whose generators are the
  coordinates, the parameters and any function atoms (``sin(theta)``,
  ``cos(theta)``, ``exp(tau)``, ``sqrt(sigma)``) closed under differentiation.
  Arithmetic in the field cancels common factors exactly at every step (sparse
  polynomial gcds), and derivatives follow the chain rule through the
  generators. Relations between generators (``sin^2 + cos^2 = 1``) are not used
  during the computation; :func:`_finish` applies ``trigsimp`` only to results
  that contain both ``sin`` and ``cos`` of the same argument.
* :class:`ExprAlgebra` -- the general path, used when the metric is not a
  rational function of such generators, or when the user passes their own
  simplifier (or ``None`` for raw, unsimplified components).
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.polys.fields import sfield

from ._util import Simplifier, sympify_safe

_MAX_GENERATORS = 24


class ExprAlgebra:
    """Elements are SymPy expressions; ``finish`` applies the simplifier."""

    exact_zero_test = False

    def __init__(self, coords: tuple[sp.Symbol, ...], simplifier: Simplifier) -> None:
        self.coords = coords
        self.simplifier = simplifier
        self.zero = sp.S.Zero
        self.one = sp.S.One

    def elem(self, expr: Any) -> sp.Expr:
        return sympify_safe(expr)

    def diff(self, a: sp.Expr, i: int) -> sp.Expr:
        return sp.diff(a, self.coords[i])

    def finish(self, a: sp.Expr) -> sp.Expr:
        return self.simplifier(a)

    def is_zero(self, a: sp.Expr) -> bool:
        return a == 0

    def sum(self, terms: list[sp.Expr]) -> sp.Expr:
        return sp.Add(*terms)

    def to_expr(self, a: sp.Expr) -> sp.Expr:
        return a


class FieldAlgebra:
    """Elements of a rational function field; exact cancellation at every step."""

    exact_zero_test = True

    def __init__(self, coords: tuple[sp.Symbol, ...], field: Any, gens: tuple[sp.Expr, ...], dgens: list) -> None:
        self.coords = coords
        self.field = field
        self.gens = gens
        self._dgens = dgens  # _dgens[i][k]: d gens[k] / d coords[i], a field element or None
        self.zero = field.zero
        self.one = field.one
        self._has_trig_pairs = _trig_pairs(gens)
        self._den_cache: dict[Any, sp.Expr] = {}

    @classmethod
    def build(cls, coords: tuple[sp.Symbol, ...], exprs: list[sp.Expr]) -> FieldAlgebra | None:
        """Return a field algebra for ``exprs``, or None if they do not fit one."""
        exprs = [sympify_safe(e) for e in exprs]
        if any(e.has(sp.Abs, sp.sign, sp.Piecewise, sp.Integral, sp.Derivative) for e in exprs):
            return None
        try:
            gens = list(_auto_gens(exprs))
            for _ in range(6):
                new = []
                for g in gens:
                    if g.is_Symbol:
                        continue
                    for c in coords:
                        d = sp.diff(g, c)
                        if d != 0:
                            new.append(d)
                extra = [g for g in _auto_gens(new) if g not in gens] if new else []
                if not extra:
                    break
                gens.extend(extra)
                if len(gens) > _MAX_GENERATORS:
                    return None
            else:
                return None
            for c in coords:
                if c not in gens:
                    gens.append(c)
            gens_t = tuple(gens)
            derivs: list[sp.Expr] = []
            for c in coords:
                for g in gens_t:
                    derivs.append(sp.diff(g, c))
            field, elems = sfield(list(exprs) + derivs, *gens_t)
        except (sp.PolynomialError, sp.GeneratorsError, sp.CoercionFailed, ValueError, TypeError, NotImplementedError):
            return None
        if field.domain not in (sp.ZZ, sp.QQ):
            return None
        n = len(gens_t)
        dl = elems[len(exprs) :]
        dgens = [[None if not dl[i * n + k] else dl[i * n + k] for k in range(n)] for i in range(len(coords))]
        alg = cls(coords, field, gens_t, dgens)
        alg._cache = dict(zip(exprs, elems[: len(exprs)]))
        return alg

    def elem(self, expr: Any) -> Any:
        e = sympify_safe(expr)
        hit = self._cache.get(e)
        if hit is not None:
            return hit
        return self.field.from_expr(e)

    def diff(self, a: Any, i: int) -> Any:
        if not a:
            return self.zero
        terms = []
        for k, dg in enumerate(self._dgens[i]):
            if dg is None:
                continue
            da = a.diff(self.field.gens[k])
            if da:
                terms.append(da * dg)
        return self.sum(terms)

    def finish(self, a: Any) -> Any:
        return a

    def is_zero(self, a: Any) -> bool:
        return not a

    def sum(self, terms: list[Any]) -> Any:
        """Add fractions, grouping those with equal denominators first.

        Adding two field elements runs a polynomial gcd; curvature sums mostly
        share one denominator, so their numerators are added as polynomials and
        cancelled once per group (measured: 100x faster for the scalar curvature of
        an 8-D dense metric).
        """
        groups: dict[Any, Any] = {}
        for t in terms:
            if not t:
                continue
            d = t.denom
            groups[d] = groups[d] + t.numer if d in groups else t.numer
        out = self.zero
        for d, num in groups.items():
            if num:
                out = out + self.field.new(num, d)
        return out

    def _polynomial_matrix(self, G: list[list[Any]]) -> tuple[Any, list[Any]]:
        """Scale row i of G by the lcm d_i of its denominators: D G = P, a polynomial matrix."""
        from sympy.polys.matrices import DomainMatrix

        n = len(G)
        ds = []
        for row in G:
            d = self.field.ring.one
            for e in row:
                if e:
                    d = d.lcm(e.denom)
            ds.append(d)
        P = [[(G[i][j] * self.field.new(ds[i])).numer for j in range(n)] for i in range(n)]
        dom = self.field.ring.to_domain()
        return DomainMatrix([[dom.convert(p) for p in row] for row in P], (n, n), dom), ds

    def det(self, G: list[list[Any]]) -> Any:
        """det G, by fraction-free (Bareiss) elimination of the polynomial matrix D G."""
        P, ds = self._polynomial_matrix(G)
        den = self.field.ring.one
        for d in ds:
            den = den * d
        return self.field.new(P.det(), den)

    def inverse(self, G: list[list[Any]]) -> list[list[Any]] | None:
        """G^{-1} = P^{-1} D, with P^{-1} fraction-free (adjugate over determinant); None if singular."""
        P, ds = self._polynomial_matrix(G)
        try:
            num, den = P.inv_den()
        except (ZeroDivisionError, ValueError):
            return None
        rows = num.to_list()
        n = len(G)
        return [[self.field.new(rows[i][j] * ds[j], den) for j in range(n)] for i in range(n)]

    def to_expr(self, a: Any) -> sp.Expr:
        if not a:
            return sp.S.Zero
        num, den = a.numer, a.denom
        cnum, pnum = num.primitive()
        key = den
        dexpr = self._den_cache.get(key)
        if dexpr is None:
            cden, factors = den.factor_list()
            dexpr = self.field.domain.to_sympy(cden) * sp.Mul(*[f.as_expr() ** k for f, k in factors])
            self._den_cache[key] = dexpr
        e = self.field.domain.to_sympy(cnum) * pnum.as_expr() / dexpr
        return _finish(e, self._has_trig_pairs)


def _auto_gens(exprs: list[sp.Expr]) -> tuple[sp.Expr, ...]:
    field, _ = sfield(list(exprs))
    return tuple(field.symbols)


def _trig_pairs(gens: tuple[sp.Expr, ...]) -> bool:
    sins = {g.args[0] for g in gens if isinstance(g, sp.sin)}
    coss = {g.args[0] for g in gens if isinstance(g, sp.cos)}
    return bool(sins & coss)


def _finish(e: sp.Expr, trig: bool) -> sp.Expr:
    """Use sin(u)^2 + cos(u)^2 = 1 where it shortens ``e`` (the field does not know it)."""
    if not (trig and e.has(sp.sin) and e.has(sp.cos)):
        return e
    args = {f.args[0] for f in e.atoms(sp.sin)} & {f.args[0] for f in e.atoms(sp.cos)}
    for u in args:
        s, c = sp.sin(u), sp.cos(u)
        best, cost = e, sp.count_ops(e)
        for old, new in ((c**2, 1 - s**2), (s**2, 1 - c**2)):
            cand = sp.factor_terms(sp.cancel(e.subs(old, new)))
            k = sp.count_ops(cand)
            if k < cost:
                best, cost = cand, k
        e = best
    return e


def make_algebra(coords: tuple[sp.Symbol, ...], exprs: list[sp.Expr], simplifier: Simplifier, auto: bool) -> Any:
    """The fastest exact back-end for ``exprs``: a field when possible and ``auto``."""
    if auto:
        alg = FieldAlgebra.build(coords, exprs)
        if alg is not None:
            return alg
    return ExprAlgebra(coords, simplifier)
