"""Exponential-family structure of a log-density: detection, the ExponentialForm record, exact solves.

Used by :mod:`riemgrad.symbolic.family` (the family's ``exponential_form``) and
the Fisher routes; public within ``riemgrad.symbolic``.
"""

from __future__ import annotations

from typing import NamedTuple

import sympy as sp
from sympy.polys.matrices import DomainMatrix

from .expectation import expand_log, normalize_logs

__all__ = ["ExponentialForm", "detect_exponential", "nonsmooth_atom", "solve_exact"]

#: Functions whose presence (with a parameter inside) makes a log-density not twice differentiable.
_NONSMOOTH = (sp.Abs, sp.sign, sp.Piecewise, sp.Heaviside, sp.Max, sp.Min, sp.floor, sp.ceiling, sp.DiracDelta)


class ExponentialForm(NamedTuple):
    """The exponential-family form log p = sum_k natural_k(theta) statistics_k(x) - log_partition(theta) + base(x).

    Attributes
    ----------
    natural : tuple of sympy.Expr
        The natural parameters eta_k as expressions in the chart's coordinates.
    statistics : tuple of sympy.Expr
        The sufficient statistics T_k as expressions in the data variables.
    log_partition : sympy.Expr
        A(theta), the log-partition function written in the chart's coordinates.
    base : sympy.Expr
        log h(x), the part of the log-density free of the parameters.
    """

    natural: tuple[sp.Expr, ...]
    statistics: tuple[sp.Expr, ...]
    log_partition: sp.Expr
    base: sp.Expr



def nonsmooth_atom(expr: sp.Expr, coords: set) -> sp.Expr | None:
    """The first Abs, sign, Piecewise, Heaviside, Max, Min, floor, ceiling or DiracDelta of a symbol in ``coords``.

    Examples
    --------
    >>> import sympy as sp
    >>> x, mu = sp.symbols("x mu", real=True)
    >>> nonsmooth_atom(-sp.Abs(x - mu), {mu}), nonsmooth_atom(-(x - mu)**2, {mu})
    (Abs(mu - x), None)
    """
    for a in expr.atoms(*_NONSMOOTH):
        if a.free_symbols & coords:
            return a
    return None


def detect_exponential(
    logp: sp.Expr, coords: tuple[sp.Symbol, ...], variables: tuple[sp.Symbol, ...]
) -> ExponentialForm | None:
    """The exponential-family form of ``logp`` in ``coords`` and ``variables``, or None if none was found.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True); r = sp.Symbol("r", positive=True)
    >>> detect_exponential(sp.log(r) - r * x, (r,), (x,))
    ExponentialForm(natural=(-r,), statistics=(x,), log_partition=-log(r), base=0)
    """
    cs, vs = set(coords), set(variables)
    if nonsmooth_atom(logp, cs | vs) is not None:
        return None
    e = normalize_logs(logp)
    if any(a.free_symbols & cs and a.free_symbols & vs for a in e.atoms(sp.sin, sp.cos)):
        e = sp.expand_trig(e)
    e = sp.expand(e)
    stats: dict[sp.Expr, sp.Expr] = {}
    A = sp.S.Zero
    base = sp.S.Zero
    for term in sp.Add.make_args(e):
        th, xx = term.as_independent(*variables, as_Add=False)
        if xx.free_symbols & cs:
            return None
        if not (th.free_symbols & cs):
            base += term
        elif xx == 1:
            A -= th
        else:
            stats[xx] = stats.get(xx, sp.S.Zero) + th
    if not stats:
        return None
    # merge statistics whose natural parameters are constant multiples of one another
    etas: list[sp.Expr] = []
    Ts: list[sp.Expr] = []
    for T, eta in stats.items():
        for k, e0 in enumerate(etas):
            r = sp.cancel(eta / e0)
            if not (r.free_symbols & cs):
                Ts[k] = Ts[k] + r * T
                break
        else:
            etas.append(eta)
            Ts.append(T)
    return ExponentialForm(tuple(etas), tuple(sp.expand(T) for T in Ts), A, base)



def solve_exact(A: sp.Matrix, b: sp.Matrix) -> list[sp.Expr]:
    """Solve A m = b exactly, in the fraction field of the entries (DomainMatrix), not by generic LU.

    Examples
    --------
    >>> import sympy as sp
    >>> s = sp.Symbol("s", positive=True)
    >>> solve_exact(sp.Matrix([[s, 1], [0, 2]]), sp.Matrix([1, 2]))
    [0, 1]
    """
    n = A.shape[0]
    M = DomainMatrix.from_Matrix(A.row_join(b)).to_field()
    R, pivots = M.rref()
    if tuple(pivots) != tuple(range(n)):
        raise ValueError("singular")
    return list(R.to_Matrix()[:, n])


