"""Read SymPy expressions back from :func:`sympy.srepr` text without evaluating code.

The derivation cache stores expressions as ``srepr`` strings. :func:`read_srepr` parses one with
:mod:`ast` and builds it from a whitelist of SymPy node classes, literal numbers and strings and
the keyword arguments of a Symbol's assumptions: a name, attribute, subscript, lambda or call to
anything else is refused with :class:`CacheEntryError`, so a tampered entry cannot run code.

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x", positive=True)
>>> e = sp.exp(-2 * x) / 3 + sp.Float("1.5") * x
>>> read_srepr(sp.srepr(e)) == e
True
>>> read_srepr("__import__('os').system('true')")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
riemgrad.kernels._srepr.CacheEntryError: ...
"""

from __future__ import annotations

import ast

import sympy as sp

__all__ = ["read_srepr", "CacheEntryError"]


class CacheEntryError(ValueError):
    """A stored derivation that is not what the cache writes (damaged or tampered); it is discarded."""


_NODES = {
    name: getattr(sp, name)
    for name in (
        "Symbol", "Dummy", "Integer", "Rational", "Float", "Add", "Mul", "Pow", "exp", "log", "sin", "cos", "tan",
        "sinh", "cosh", "tanh", "asin", "acos", "atan", "atan2", "asinh", "acosh", "atanh", "Abs", "sign", "erf",
        "erfc", "gamma", "loggamma", "polygamma", "digamma", "sqrt", "Max", "Min", "Tuple", "Half", "One", "Zero",
        "NegativeOne", "Pi", "Exp1", "Infinity", "NegativeInfinity", "ComplexInfinity", "NaN", "ImaginaryUnit",
        "Heaviside", "LambertW",
    )
    if hasattr(sp, name)
}
_SINGLETONS = {"pi": sp.pi, "E": sp.E, "oo": sp.oo, "I": sp.I, "zoo": sp.zoo, "nan": sp.nan}


def _build(node: ast.AST) -> object:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        value = _build(node.operand)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_build(e) for e in node.elts)
    if isinstance(node, ast.Name) and node.id in _SINGLETONS:
        return _SINGLETONS[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _NODES:
        args = [_build(a) for a in node.args]
        kwargs = {}
        for kw in node.keywords:
            value = _build(kw.value)
            if kw.arg is None or not isinstance(value, (bool, int, str)):
                raise CacheEntryError(f"unexpected keyword argument in a stored expression: {ast.dump(kw)[:80]}")
            kwargs[kw.arg] = value
        cls = _NODES[node.func.id]
        if node.func.id in ("Half", "One", "Zero", "NegativeOne", "Pi", "Exp1", "Infinity", "NegativeInfinity",
                            "ComplexInfinity", "NaN", "ImaginaryUnit"):
            return cls()
        if node.func.id in ("Symbol", "Dummy", "Integer", "Rational", "Float"):
            return cls(*args, **kwargs)
        return cls(*args)
    raise CacheEntryError(f"a stored expression holds something other than SymPy nodes: {ast.dump(node)[:80]}")


def read_srepr(text: str) -> sp.Expr:
    """The SymPy expression whose :func:`sympy.srepr` is ``text``, built without evaluating code.

    Parameters
    ----------
    text : str

    Returns
    -------
    sympy.Expr

    Raises
    ------
    CacheEntryError
        If ``text`` is not the ``srepr`` of an expression over the whitelisted node classes.
    """
    if not isinstance(text, str) or len(text) > 1_000_000:
        raise CacheEntryError("a stored expression must be a string of reasonable size")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        raise CacheEntryError("a stored expression is not valid srepr text") from None
    try:
        return _build(tree.body)
    except (TypeError, ValueError, RecursionError) as exc:
        if isinstance(exc, CacheEntryError):
            raise
        raise CacheEntryError(f"a stored expression could not be rebuilt: {exc}") from None
