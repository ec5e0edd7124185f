"""Small helpers shared by the symbolic layer: immutability, input coercion, simplification."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import sympy as sp

from .._frozen import Frozen  # noqa: F401  (re-exported for the symbolic modules)
from ..errors import (
    ArgumentTypeError,
    BudgetExceededError,
    NonFiniteInputError,
    ParseError,
    ShapeError,
    SimplificationSkippedWarning,
)
from ._parse import parse_expression
from .budget import get_budget, ran_out, time_budget

Simplifier = Callable[[sp.Expr], sp.Expr]

_TRIG = (sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc, sp.sinh, sp.cosh, sp.tanh)


def as_expr(value: Any, name: str, symbols: Any = None, *, finite_real: bool = True) -> sp.Expr:
    """Read ``value`` as a SymPy expression, or raise an error naming the argument ``name``.

    Strings are parsed by :func:`riemgrad.symbolic.parse_expression` (never
    evaluated as Python), with ``symbols`` in scope. Matrices, equations,
    booleans and other non-expressions are refused; with ``finite_real``
    (default) so are ``nan``, ``oo``, ``-oo``, ``zoo`` and the imaginary unit,
    which have no place in a metric, loss, density or coordinate.

    Raises
    ------
    ParseError
        If a string is not an expression (or would run code).
    ArgumentTypeError
        If the value is not an expression.
    NonFiniteInputError
        If ``finite_real`` and the expression holds nan, oo, zoo or I.
    """
    if isinstance(value, str):
        try:
            e = parse_expression(value, symbols, name=name)
        except ParseError as exc:
            raise ParseError(f"`{name}` must hold SymPy expressions or numbers; {exc}") from None
    else:
        if isinstance(value, (sp.MatrixBase, sp.MatrixExpr, sp.NDimArray)):
            raise ArgumentTypeError(
                f"`{name}` must be a scalar SymPy expression; got a {type(value).__name__} of shape "
                f"{getattr(value, 'shape', '?')}. Pass one expression (an entry), not a matrix."
            )
        try:
            e = sp.sympify(value, strict=True)
        except (sp.SympifyError, TypeError, ValueError):
            raise ArgumentTypeError(
                f"`{name}` must hold SymPy expressions or numbers; got {value!r} of type {type(value).__name__}."
            ) from None
    if not isinstance(e, sp.Expr) or isinstance(e, (sp.MatrixBase, sp.MatrixExpr)):
        what = "an equation or condition" if isinstance(e, sp.logic.boolalg.Boolean) else type(e).__name__
        raise ArgumentTypeError(
            f"`{name}` must hold SymPy expressions; got {e!r} ({what}). "
            "Pass an expression such as x**2 - 1, not an Eq, a relation, a set or a matrix."
        )
    if finite_real:
        check_finite_real(e, name)
    return e


def sympify_safe(value: Any) -> sp.Basic:
    """``sympify`` that never evaluates text: strings are parsed by :func:`parse_expression`, other values strictly.

    Examples
    --------
    >>> sympify_safe("x**2 + 1")
    x**2 + 1
    >>> sympify_safe(3)
    3
    """
    if isinstance(value, str):
        return parse_expression(value)
    try:
        return sp.sympify(value, strict=True)
    except (sp.SympifyError, TypeError, ValueError):
        raise ArgumentTypeError(
            f"expected a SymPy expression or a number; got {value!r} of type {type(value).__name__}."
        ) from None


def check_finite_real(e: sp.Expr, name: str) -> None:
    """Refuse an expression holding nan, oo, -oo, zoo or the imaginary unit, naming the argument.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> check_finite_real(x**2, "loss")
    >>> check_finite_real(sp.I * x, "loss")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    riemgrad.errors.NonFiniteInputError: `loss` must be a real, finite expression; it contains I ...
    """
    bad = [a for a in (sp.nan, sp.zoo, sp.oo, -sp.oo, sp.I) if e.has(a)]
    if not bad:
        for f in e.atoms(sp.Float):
            if not f.is_finite:
                bad.append(f)
        if not bad:
            return
    what = {sp.I: "I (a complex coefficient)"}.get(bad[0], str(bad[0]))
    raise NonFiniteInputError(
        f"`{name}` must be a real, finite expression; it contains {what}: {e}. "
        "Remove the infinite, undefined or complex part (write limits and bounds in the support, not the expression)."
    )


def as_square_matrix(matrix: Any, n: int, name: str, what: str, symbols: Any = None) -> sp.ImmutableMatrix:
    """Coerce to an n x n ImmutableMatrix of finite real expressions or raise ShapeError (strings parsed safely)."""
    if isinstance(matrix, str):
        raise ShapeError(f"`{name}` must be an {n} x {n} matrix ({what}); got the string {matrix!r}.")
    if isinstance(matrix, (list, tuple)):  # read string entries here: ImmutableMatrix would sympify (run) them
        matrix = [
            [as_expr(e, name, symbols) for e in row] if isinstance(row, (list, tuple)) else as_expr(row, name, symbols)
            for row in matrix
        ]
    try:
        M = sp.ImmutableMatrix(matrix)
    except (ValueError, TypeError, sp.SympifyError) as exc:
        raise ShapeError(f"`{name}` must be an {n} x {n} matrix ({what}); could not read {matrix!r}: {exc}") from None
    if M.shape != (n, n):
        raise ShapeError(
            f"`{name}` must be {n} x {n} ({what}); got shape {M.shape}. "
            "Give one row and one column per coordinate, in the chart's order."
        )
    for e in M:
        as_expr(e, name)
    return M


def _has_trig(e: sp.Expr) -> bool:
    return e.has(*_TRIG)


def simplify_expr(e: Any) -> sp.Expr:
    """The default targeted simplifier: fast, bounded, exact.

    ``cancel`` brings rational functions to lowest terms (treating function
    atoms such as ``sin(theta)`` or ``exp(tau)`` as independent generators);
    ``trigsimp`` is applied only when trigonometric functions are present, and
    the shorter of the two forms is kept. ``simplify`` is never called.

    Examples
    --------
    >>> import sympy as sp
    >>> x, t = sp.symbols("x t")
    >>> simplify_expr((x**2 - 1) / (x - 1))
    x + 1
    >>> simplify_expr(sp.sin(t)**2 + sp.cos(t)**2)
    1
    """
    e = sympify_safe(e)
    if e.is_Atom:
        return e
    try:
        with time_budget(get_budget("simplify"), "simplify_expr") as token:
            return _simplify(e)
    except (BudgetExceededError, RecursionError) as exc:
        if isinstance(exc, BudgetExceededError) and not ran_out(token, exc):
            raise
        why = f"ran past its budget of {exc.seconds:g} s" if isinstance(exc, BudgetExceededError) else "recursed too deep"
        warnings.warn(
            f"simplify_expr {why}; the exact, unsimplified expression was kept (raise the budget with "
            "riemgrad.symbolic.budget.budgets(simplify=...)).",
            SimplificationSkippedWarning,
            stacklevel=2,
        )
        return e


def _simplify(e: sp.Expr) -> sp.Expr:
    e = sp.powsimp(e, combine="exp") if e.has(sp.exp) else e
    r = sp.cancel(e)
    if _has_trig(r):
        t = sp.trigsimp(r)
        if sp.count_ops(t) < sp.count_ops(r):
            r = t
    num, den = sp.fraction(r)
    if isinstance(den, sp.Add):  # keep denominators factored: 1/(x + 1)**2, not 1/(x**2 + 2*x + 1)
        den = sp.factor(den)
    return sp.factor_terms(num / den)


def resolve_simplifier(simplifier: Any) -> Simplifier:
    """Turn the public ``simplifier`` argument into a callable."""
    if simplifier == "auto" or simplifier is True:
        return simplify_expr
    if simplifier is None or simplifier is False:
        return _identity
    if callable(simplifier):
        return simplifier
    raise ArgumentTypeError(
        f"`simplifier` must be 'auto', None or a callable expr -> expr; got {simplifier!r}. "
        "Pass e.g. simplifier=sympy.cancel, or None for raw components."
    )


def _identity(e: sp.Expr) -> sp.Expr:
    return e
