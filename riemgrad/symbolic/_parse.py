"""Reading expressions from strings without running them.

``sympy.sympify`` of a string evaluates Python: ``"__import__('os').system(...)"``
runs the command. :func:`parse_expression` never evaluates the text. It parses
it with Python's :mod:`ast` module (which only builds a syntax tree) and then
builds the SymPy expression itself from a small set of node kinds: numbers,
names, the arithmetic operators, and calls of whitelisted SymPy functions.
Everything else (attribute access, subscripts, ``lambda``, comprehensions,
keyword arguments, string literals, names starting with an underscore, calls
of names not in the whitelist) is refused with a :class:`ParseError` naming
the argument.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterable, Mapping
from typing import Any

import sympy as sp

from ..errors import ParseError

__all__ = ["parse_expression", "FUNCTIONS", "CONSTANTS", "MAX_LENGTH"]

#: The functions a string may call, by name.
FUNCTIONS: Mapping[str, Any] = {
    **{
        f: getattr(sp, f)
        for f in (
            "sin cos tan cot sec csc asin acos atan acot atan2 sinh cosh tanh coth sech csch asinh acosh atanh "
            "exp log sqrt cbrt root Abs sign gamma loggamma digamma polygamma beta erf erfc erfi factorial "
            "binomial besseli besselj besselk bessely Min Max Heaviside floor ceiling re im conjugate"
        ).split()
    },
    "abs": sp.Abs,
    "ln": sp.log,
    "lgamma": sp.loggamma,
    "Rational": sp.Rational,
}
#: The constants a string may name.
CONSTANTS: Mapping[str, sp.Expr] = {"pi": sp.pi, "E": sp.E, "I": sp.I, "oo": sp.oo, "nan": sp.nan, "zoo": sp.zoo}
#: The longest string accepted (characters).
MAX_LENGTH = 20_000
_MAX_EXPONENT = 10_000  # a literal power n**k with |k| above this is refused (2**10**9 never finishes)

_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}


def parse_expression(
    text: str,
    symbols: Mapping[str, sp.Basic] | Iterable[sp.Symbol] | None = None,
    *,
    name: str = "expression",
) -> sp.Expr:
    """Parse a string into a SymPy expression without evaluating any Python.

    Parameters
    ----------
    text : str
        Arithmetic (``+ - * / ** ^``, parentheses), numbers, names and calls
        of the functions in :data:`FUNCTIONS`; the constants in
        :data:`CONSTANTS`.
    symbols : mapping {name: Symbol} or iterable of Symbols, optional
        The symbols in scope: a name in ``text`` equal to one of them becomes
        that symbol (with its assumptions). Other plain names become new
        Symbols without assumptions, as ``sympify`` would make them.
    name : str
        The argument's name, used in error messages.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ParseError
        If ``text`` is not such an expression: attribute access, subscripts,
        ``lambda``, keyword arguments, string literals, names starting with
        ``_``, calls of names that are not whitelisted functions, too long
        a text or too large a literal power. Nothing in ``text`` is run.

    Examples
    --------
    >>> import sympy as sp
    >>> sigma = sp.Symbol("sigma", positive=True)
    >>> e = parse_expression("log(sigma) + x^2/2", [sigma])
    >>> e, e.has(sigma)
    (x**2/2 + log(sigma), True)
    >>> parse_expression("__import__('os').system('echo hi')", name="loss")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    riemgrad.errors.ParseError: `loss`: ... not allowed ...
    """
    if not isinstance(text, str):
        raise ParseError(f"`{name}` must be a string to parse; got {type(text).__name__}.")
    if len(text) > MAX_LENGTH:
        raise ParseError(
            f"`{name}` is {len(text)} characters long; strings of at most {MAX_LENGTH} are parsed. "
            "Build large expressions with SymPy objects instead of text."
        )
    scope = _scope(symbols, name)
    try:
        tree = ast.parse(_xor_to_pow(text.strip()), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError, tokenize.TokenError) as exc:
        raise ParseError(f"`{name}` is not a valid expression: {text!r} ({type(exc).__name__}: {exc}).") from None
    try:
        out = _Builder(scope, name, text).build(tree.body)
    except RecursionError:
        raise ParseError(f"`{name}` is nested too deeply to parse: {text[:80]!r}...") from None
    if not isinstance(out, sp.Expr):
        raise ParseError(f"`{name}` must be an expression; {text!r} reads as {type(out).__name__}.")
    return out


def _xor_to_pow(text: str) -> str:
    """Read ``^`` as ``**`` at the token level (so it binds like a power, as in ``sympify``)."""
    if "^" not in text:
        return text
    toks = [
        (tokenize.OP, "**") if t.type == tokenize.OP and t.string == "^" else (t.type, t.string)
        for t in tokenize.generate_tokens(io.StringIO(text).readline)
    ]
    return tokenize.untokenize(toks)


def _scope(symbols: Any, name: str) -> dict[str, sp.Basic]:
    if symbols is None:
        return {}
    if isinstance(symbols, Mapping):
        items = dict(symbols)
    else:
        items = {s.name: s for s in symbols if isinstance(s, sp.Symbol)}
    for k, v in items.items():
        if not isinstance(v, sp.Basic):
            raise ParseError(f"`symbols` must map names to SymPy objects; {k!r} maps to {type(v).__name__}.")
    return items


class _Builder:
    """Build a SymPy expression from an ``ast`` node, refusing every node kind not listed."""

    def __init__(self, scope: dict[str, sp.Basic], name: str, text: str) -> None:
        self.scope, self.name, self.text = scope, name, text

    def refuse(self, what: str) -> ParseError:
        return ParseError(
            f"`{self.name}`: {what} is not allowed in an expression string (got {self.text!r}); strings are "
            "read as arithmetic on numbers, symbols and the functions in riemgrad.symbolic.FUNCTIONS, never run "
            "as code. Pass a SymPy expression instead."
        )

    def build(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise self.refuse(f"the literal {v!r}")
            return sp.Integer(v) if isinstance(v, int) else sp.Float(repr(v))
        if isinstance(node, ast.Name):
            return self.symbol(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = self.build(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            a, b = self.build(node.left), self.build(node.right)
            if isinstance(node.op, ast.Pow) and b.is_Integer and abs(int(b)) > _MAX_EXPONENT:
                if a.is_number and a not in (0, 1, -1):
                    raise self.refuse(f"the power {a}**{b} (an exponent above {_MAX_EXPONENT})")
            return _BINOPS[type(node.op)](a, b)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise self.refuse("calling the result of an expression")
            fname = node.func.id
            if fname not in FUNCTIONS:
                raise self.refuse(f"the call {fname}(...) ({fname!r} is not a whitelisted function)")
            if node.keywords:
                raise self.refuse("a keyword argument")
            if any(isinstance(a, ast.Starred) for a in node.args):
                raise self.refuse("a starred argument")
            args = [self.build(a) for a in node.args]
            try:
                return FUNCTIONS[fname](*args)
            except (TypeError, ValueError) as exc:
                raise ParseError(f"`{self.name}`: {fname}{tuple(args)} is not valid: {exc}") from None
        raise self.refuse(_describe(node))

    def symbol(self, ident: str) -> sp.Basic:
        if ident.startswith("_"):
            raise self.refuse(f"the name {ident!r} (names starting with '_')")
        if ident in self.scope:
            return self.scope[ident]
        if ident in CONSTANTS:
            return CONSTANTS[ident]
        if ident in FUNCTIONS:
            raise self.refuse(f"the function {ident!r} used without a call")
        return sp.Symbol(ident)


def _describe(node: ast.AST) -> str:
    kinds = {
        ast.Attribute: "attribute access",
        ast.Subscript: "a subscript",
        ast.Lambda: "a lambda",
        ast.Compare: "a comparison",
        ast.BoolOp: "a boolean operator",
        ast.IfExp: "a conditional expression",
        ast.NamedExpr: "an assignment expression",
    }
    for k, v in kinds.items():
        if isinstance(node, k):
            return v
    return f"the construct {type(node).__name__}"
