"""SymPy expressions -> scalar Python source that Numba compiles well.

Numbers are printed as float literals (exact rationals are rounded once, here,
never re-derived in floating point), integer powers as products, and common
subexpressions are shared through :func:`sympy.cse`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from ...errors import CompilationError

__all__ = ["ScalarPrinter", "assignments"]


class ScalarPrinter(PythonCodePrinter):
    """Print scalar SymPy expressions as Numba-friendly Python.

    ``x**2`` becomes ``x*x``, ``x**-3`` becomes ``(1.0/(x*x*x))``, ``x**(1/2)``
    becomes ``math.sqrt(x)``, and every number is a float literal, so no
    arbitrary-precision integer reaches Numba.

    Given a set ``elementary``, ``exp``, ``log`` and ``tanh`` (and ``E**x``) print as the
    vectorizable functions of :mod:`riemgrad.kernels.elementary` (``vexp(x)``, ...) and
    their names are added to the set, so the caller emits their definitions; without it
    they print as ``math.exp(x)``, .... ``sin`` and ``cos`` stay ``math.sin``/``math.cos``:
    ``vsin``/``vcos`` call the C library beyond ``|x| >= 2**20`` and LLVM then calls it on
    every lane, which made a kernel slower than with ``math.sin`` (measured 0.75x).

    Examples
    --------
    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> ScalarPrinter().doprint(x**3 / y**2 + sp.Rational(1, 3))
    '(x*x*x)/(y*y) + 0.3333333333333333'
    >>> used = set()
    >>> ScalarPrinter(elementary=used).doprint(sp.exp(-2 * x) + sp.sin(y)), sorted(used)
    ('math.sin(y) + vexp(-2.0*x)', ['vexp'])
    """

    def __init__(self, names: dict[sp.Symbol, str] | None = None, elementary: set[str] | None = None) -> None:
        super().__init__({"strict": True, "fully_qualified_modules": True})
        self._names = names or {}
        self._elementary = elementary

    def _vectorized(self, name: str, arg: sp.Expr) -> str | None:
        """``vexp(...)`` etc. when vectorizable functions are on (recording the name), else None."""
        if self._elementary is None:
            return None
        self._elementary.add(name)
        return f"{name}({self._print(arg)})"

    def _print_exp(self, expr: sp.Expr) -> str:
        return self._vectorized("vexp", expr.args[0]) or super()._print_exp(expr)

    def _print_log(self, expr: sp.Expr) -> str:
        return self._vectorized("vlog", expr.args[0]) or super()._print_log(expr)

    def _print_tanh(self, expr: sp.Expr) -> str:
        return self._vectorized("vtanh", expr.args[0]) or super()._print_tanh(expr)

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        if expr in self._names:
            return self._names[expr]
        return super()._print_Symbol(expr)

    _print_Dummy = _print_Symbol

    def _print_Integer(self, expr: sp.Integer) -> str:
        return repr(float(expr))

    def _print_Rational(self, expr: sp.Rational) -> str:
        return repr(float(expr))

    def _print_Float(self, expr: sp.Float) -> str:
        return repr(float(expr))

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exp = expr.base, expr.exp
        if exp.is_Integer and base is not sp.E:
            n = int(exp)
            b = self.parenthesize(base, 100)  # always parenthesize compound bases
            if n == 0:
                return "1.0"
            prod = "*".join([b] * abs(n))
            if n == 1:
                return b
            if n == -1:
                return f"(1.0/{b})"
            return f"({prod})" if n > 0 else f"(1.0/({prod}))"
        if exp == sp.S.Half:
            return f"math.sqrt({self._print(base)})"
        if exp == -sp.S.Half:
            return f"1.0/math.sqrt({self._print(base)})"
        if base is sp.E:
            return self._vectorized("vexp", exp) or f"math.exp({self._print(exp)})"
        return f"math.pow({self._print(base)}, {self._print(exp)})"


def assignments(
    exprs: Sequence[sp.Expr],
    targets: Sequence[str],
    names: dict[sp.Symbol, str],
    indent: str = "    ",
    elementary: set[str] | None = None,
) -> list[str]:
    """Source lines computing ``targets[i] = exprs[i]`` with shared subexpressions.

    Parameters
    ----------
    exprs : sequence of sympy.Expr
        The expressions, written in symbols that ``names`` maps to variable names.
    targets : sequence of str
        The left-hand side for each expression (e.g. ``"out[0, j]"``).
    names : dict
        Symbol -> variable name for every free symbol.
    indent : str
        Prefix of each line.
    elementary : set of str, optional
        Print ``exp``, ``log``, ``tanh`` as the vectorizable functions
        (see :class:`ScalarPrinter`) and add the names used to this set.

    Raises
    ------
    CompilationError
        If an expression uses a function with no Numba-compatible scalar form.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> for line in assignments([sp.exp(x) + 1, 2 * sp.exp(x)], ["a", "b"], {x: "x0"}, ""):
    ...     print(line)
    _c0 = math.exp(x0)
    a = _c0 + 1.0
    b = 2.0*_c0
    """
    exprs = [sp.sympify(e) for e in exprs]
    gen = sp.numbered_symbols("_c")
    subs, reduced = sp.cse(exprs, symbols=gen, order="none")
    allnames = dict(names)
    for s, _ in subs:
        allnames[s] = str(s)
    printer = ScalarPrinter(allnames, elementary)
    lines = []
    try:
        for s, e in subs:
            lines.append(f"{indent}{allnames[s]} = {printer.doprint(e)}")
        for t, e in zip(targets, reduced):
            lines.append(f"{indent}{t} = {printer.doprint(e)}")
    except Exception as exc:  # PrintMethodNotImplementedError and friends
        raise CompilationError(
            f"cannot generate numeric code for {exprs}: {exc}. riemgrad compiles elementary functions "
            "(exp, log, sqrt, powers, trigonometric and hyperbolic functions); rewrite the loss or metric "
            "with those, or evaluate special functions beforehand."
        ) from None
    return lines
