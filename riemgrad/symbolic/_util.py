"""Small helpers shared by the symbolic layer: immutability, input coercion, simplification."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy as sp

from ..errors import ShapeError

Simplifier = Callable[[sp.Expr], sp.Expr]

_TRIG = (sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc, sp.sinh, sp.cosh, sp.tanh)


class Frozen:
    """Base for immutable objects: attributes are set once, in ``__init__``, via ``_set``."""

    def _set(self, **attrs: Any) -> None:
        for k, v in attrs.items():
            object.__setattr__(self, k, v)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"{type(self).__name__} objects are immutable; cannot set {name!r}. Build a new object instead."
        )

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} objects are immutable; cannot delete {name!r}.")


def as_expr(value: Any, name: str) -> sp.Expr:
    """SymPify ``value`` or raise a TypeError naming the argument."""
    try:
        e = sp.sympify(value, strict=not isinstance(value, str))
    except (sp.SympifyError, TypeError):
        raise TypeError(
            f"`{name}` must hold SymPy expressions or numbers; got {value!r} of type {type(value).__name__}."
        ) from None
    if not isinstance(e, sp.Expr):
        raise TypeError(f"`{name}` must hold SymPy expressions; got {e!r} of type {type(e).__name__}.")
    return e


def as_square_matrix(matrix: Any, n: int, name: str, what: str) -> sp.ImmutableMatrix:
    """Coerce to an n x n ImmutableMatrix of expressions or raise ShapeError."""
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
    e = sp.sympify(e)
    if e.is_Atom:
        return e
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
    raise TypeError(
        f"`simplifier` must be 'auto', None or a callable expr -> expr; got {simplifier!r}. "
        "Pass e.g. simplifier=sympy.cancel, or None for raw components."
    )


def _identity(e: sp.Expr) -> sp.Expr:
    return e
