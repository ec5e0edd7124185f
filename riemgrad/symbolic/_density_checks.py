"""Checks that a density is one: non-negative and normalized, and that parameter points lie in the chart's domain.

Normalization is decided exactly when SymPy integrates the density within a
short budget; otherwise (or in addition, for non-negativity) numerically, by
quadrature at a few parameter points in the domain their assumptions give.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy as sp

from ..errors import DomainError, IntegrationError
from ._metric_checks import sample_points
from ._util import simplify_expr
from .budget import budgets, get_budget
from .expectation import integrate_against

_MAX_TERMS = 400  # terms of an infinite discrete support summed numerically
_N_PARAM_POINTS = 3
_N_X_POINTS = 64


def check_point_in_domain(point: Mapping[sp.Symbol, sp.Expr], name: str, chart_name: str) -> None:
    """Refuse a parameter value that is complex, infinite, or outside its coordinate's assumptions."""
    for c, v in point.items():
        if v.has(sp.I) or v.is_real is False or v.is_finite is False:
            raise DomainError(
                f"`{name}` gives {c} = {v}, which is not a finite real number; chart {chart_name!r} needs real "
                "coordinates. Pass a real value."
            )
        for assumption, word in (("positive", "> 0"), ("negative", "< 0"), ("nonnegative", ">= 0"), ("integer", "an integer")):
            if getattr(c, f"is_{assumption}") and getattr(v, f"is_{assumption}") is False:
                raise DomainError(
                    f"`{name}` gives {c} = {v}, outside chart {chart_name!r}'s domain: {c} must be {word}. "
                    "Pass a point inside the domain."
                )


def _discrete_values(s: sp.Set) -> list[int] | None:
    if isinstance(s, sp.FiniteSet):
        return [v for v in s]
    if s == sp.Naturals0:
        return list(range(_MAX_TERMS))
    if s == sp.Naturals:
        return list(range(1, _MAX_TERMS + 1))
    if isinstance(s, sp.Range) and s.inf.is_number and s.step == 1 and (s.sup.is_number or s.sup == sp.oo):
        hi = s.sup if s.sup.is_finite else s.inf + _MAX_TERMS
        return list(range(int(s.inf), int(min(hi, s.inf + _MAX_TERMS)) + 1))
    return None


def check_density(
    density: sp.Expr,
    logp: sp.Expr,
    variables: tuple[sp.Symbol, ...],
    support: Mapping[sp.Symbol, sp.Set],
    params: tuple[sp.Symbol, ...],
    name: str,
) -> str:
    """Check that ``density`` is non-negative and integrates to one; returns how it was checked.

    Raises
    ------
    DomainError
        If the density is negative (or complex) somewhere on the support.
    IntegrationError
        If it does not integrate (or sum) to one.
    """
    how = []
    exact_ok = False
    with budgets(integral=min(1.0, get_budget("integral") or 1.0)):
        try:
            mass = integrate_against(sp.S.One, logp, variables, support, what="1 (the total mass)", normalized=False)
        except (IntegrationError, NotImplementedError, ValueError, TypeError):
            mass = None
    if mass is not None:
        diff = simplify_expr(mass - 1)
        if diff == 0:
            exact_ok = True
            how.append("normalized (exactly)")
        elif not diff.free_symbols and diff.is_number and abs(complex(diff.evalf())) > 1e-12:
            raise IntegrationError(
                f"`{name}` must be a normalized density: it integrates to {mass} over {dict(support)}, not 1. "
                + (f"Divide it by {mass}." if mass != 0 else "Check its sign and support.")
            )
        # otherwise (a mass in the parameters that does not simplify to 1): decided numerically below
    numeric = _numeric_density_check(density, variables, support, params, name, check_mass=not exact_ok)
    how.append(numeric)
    return "; ".join(how)


def _numeric_density_check(
    density: sp.Expr, variables: tuple, support: Mapping, params: tuple, name: str, check_mass: bool
) -> str:
    free = (density.free_symbols - set(variables)) | set(params)
    free -= set(variables)
    cont = [v for v in variables if isinstance(support[v], sp.Interval)]
    disc = {v: _discrete_values(support[v]) for v in variables if v not in cont}
    if any(vals is None for vals in disc.values()) or len(cont) > 2:
        return "not checked numerically (support too complex)"
    ncombo = math.prod(len(v) for v in disc.values()) if disc else 1
    if ncombo > 5000:
        return "not checked numerically (support too large)"
    order = (*cont, *disc, *sorted(free, key=sp.default_sort_key))
    try:
        f = sp.lambdify(order, density, modules=["scipy", "numpy"])
    except Exception:  # noqa: BLE001 - printing can fail on exotic functions: then no numeric check
        return "not checked numerically (density could not be evaluated)"
    from scipy import integrate

    rng = np.random.default_rng(7)
    pts = sample_points(free, _N_PARAM_POINTS)
    combos = list(np.array(np.meshgrid(*disc.values(), indexing="ij")).reshape(len(disc), -1).T) if disc else [()]
    used = 0
    for pt in pts:
        pv = [float(pt[s]) for s in sorted(free, key=sp.default_sort_key)]

        def val(*xs: float, _pv: list = pv) -> float:
            with np.errstate(all="ignore"):
                r = complex(f(*xs, *_pv))
            if abs(r.imag) > 1e-12 * (1 + abs(r.real)):
                raise DomainError(
                    f"`{name}` must be a density (real and >= 0); it is complex ({r:.6g}) at "
                    f"{dict(zip(order, (*xs, *_pv)))}. Check the expression."
                )
            return r.real

        # parameters outside the implicit domain (a covariance that is not positive definite, p > 1) make the
        # density complex or its mass infinite: such points are skipped, not judged
        negative = None
        admissible = True
        for combo in combos[:50]:
            xs_c = []
            for v in cont:
                s = support[v]
                lo, hi = float(s.start), float(s.end)
                a = lo if math.isfinite(lo) else (hi - 20 if math.isfinite(hi) else -10.0)
                b = hi if math.isfinite(hi) else a + 20
                xs_c.append(rng.uniform(a, b, _N_X_POINTS if len(combos) == 1 else 8))
            grid = np.array(np.meshgrid(*xs_c, indexing="ij")).reshape(len(cont), -1).T if cont else [()]
            for xc in grid:
                try:
                    y = val(*xc, *[float(c) for c in combo])
                except (ZeroDivisionError, OverflowError, ValueError):
                    continue
                except DomainError:
                    admissible = False
                    break
                if math.isnan(y):  # e.g. sqrt of a negative determinant: outside the implicit domain
                    admissible = False
                    break
                if y < -1e-12 and negative is None:
                    negative = (y, dict(zip(order, (*xc, *combo, *pv))))
            if not admissible:
                break
        if not admissible:
            continue
        used += 1
        if negative is not None:
            raise DomainError(
                f"`{name}` must be non-negative on the support; it is {negative[0]:.6g} at {negative[1]}. "
                "A density cannot be negative."
            )
        if not check_mass:
            continue

        def fin(*xs: float) -> float:  # inf * 0 from overflow far in a tail (cosh(x) exp(-x**2/2)) counts as 0
            y = val(*xs)
            return y if math.isfinite(y) else 0.0

        total = 0.0
        for combo in combos:
            cv = [float(c) for c in combo]
            if not cont:
                total += fin(*cv)
            elif len(cont) == 1:
                s = support[cont[0]]
                total += integrate.quad(lambda t: fin(t, *cv), float(s.start), float(s.end), limit=200)[0]
            else:
                s0, s1 = support[cont[0]], support[cont[1]]
                total += integrate.nquad(
                    lambda t, u: fin(t, u, *cv), [[float(s0.start), float(s0.end)], [float(s1.start), float(s1.end)]]
                )[0]
        if not math.isfinite(total) or total > 1e6:
            continue
        if not abs(total - 1) <= 1e-5:
            where = {str(k): round(float(v), 6) for k, v in pt.items()}
            raise IntegrationError(
                f"`{name}` must be a normalized density: numerically it integrates to {total:.8g}, not 1, at the "
                f"parameters {where}. Divide it by its total mass (or fix the support)."
            )
    if used == 0:
        return "not checked numerically (no sample point of the parameters gave a real density)"
    return f"non-negative{' and normalized' if check_mass else ''} numerically at {used} parameter points"
