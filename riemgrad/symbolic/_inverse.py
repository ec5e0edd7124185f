"""Solving a ChartMap for its inverse when none was given (SymPy ``solve``, then branch choice)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp

from ..errors import InverseMapError
from ._util import sympify_safe

if TYPE_CHECKING:
    from .charts import ChartMap

__all__ = ["solve_inverse"]


def _tidy_root(e: sp.Expr) -> sp.Expr:
    """Rationalize denominators when that shortens a solution (so its sign becomes decidable).

    ``solve`` returns the polar radius as (x**2 - x*s + y**2)/(s - x) with s = sqrt(x**2 + y**2);
    only after ``radsimp`` does it become s, whose sign the assumptions decide.
    """
    if not e.has(sp.Pow):
        return e
    alt = sp.cancel(sp.radsimp(e))
    return alt if sp.count_ops(alt) < sp.count_ops(e) else e


def _branch_plausible(m: ChartMap, exprs: tuple[sp.Expr, ...]) -> bool:
    """False if the branch leaves the source's domain at images of sample source points.

    Inconclusive evaluations (parameters, poles) never reject a branch.
    """
    if set().union(*(f.free_symbols for f in m.forward)) - set(m.source.coords):
        return True
    samples = ((0.7, -0.4), (1.3, 0.9), (0.45, -1.7))
    for k in range(len(samples)):
        pt = {}
        for i, c in enumerate(m.source.coords):
            v = samples[(k + i) % len(samples)][i % 2]
            pt[c] = abs(v) if c.is_positive else -abs(v) if c.is_negative else v
        try:
            tgt = {t: complex(sp.N(f.xreplace(pt), 30)) for t, f in zip(m.target.coords, m.forward)}
            vals = [complex(sp.N(e.xreplace(tgt), 30)) for e in exprs]
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        for c, v in zip(m.source.coords, vals):
            if c.is_real and abs(v.imag) > 1e-9 * (1 + abs(v)):
                return False
            if c.is_positive and v.real <= 0 or c.is_negative and v.real >= 0:
                return False
    return True


def solve_inverse(m: ChartMap) -> tuple[sp.Expr, ...]:
    if m.source.dim != m.target.dim:
        raise InverseMapError(
            f"the map {m.source.name!r} -> {m.target.name!r} changes dimension "
            f"({m.source.dim} -> {m.target.dim}) and has no inverse."
        )
    # target symbols may coincide with source symbols (mu -> mu): solve with dummies.
    dummies = [sp.Dummy(c.name, **c.assumptions0) for c in m.target.coords]
    eqs = [sp.Eq(d, f) for d, f in zip(dummies, m.forward)]
    try:
        sols = sp.solve(eqs, list(m.source.coords), dict=True)
    except NotImplementedError:
        sols = []
    back = dict(zip(dummies, m.target.coords))
    good = []
    for s in sols:
        if len(s) != m.source.dim:
            continue
        exprs = tuple(_tidy_root(sympify_safe(s[c]).xreplace(back)) for c in m.source.coords)
        ok = True
        for c, e in zip(m.source.coords, exprs):
            if c.is_positive and e.is_positive is False or c.is_real and e.is_real is False:
                ok = False
        if ok:
            good.append(exprs)
    if len(good) > 1:
        # assumptions SymPy cannot decide (complex cube-root branches): test numerically
        good = [g for g in good if _branch_plausible(m, g)] or good
    if len(good) == 1:
        return good[0]
    if not good:
        raise InverseMapError(
            f"could not solve {m.target.coords} = {m.forward} for the source coordinates "
            f"{m.source.coords} of chart {m.source.name!r}. Pass `inverse=` to ChartMap explicitly."
        )
    raise InverseMapError(
        f"solving {m.target.coords} = {m.forward} for {m.source.coords} leaves {len(good)} branches "
        f"{good}. Add assumptions to the coordinates (e.g. positive=True) or pass `inverse=` explicitly."
    )
