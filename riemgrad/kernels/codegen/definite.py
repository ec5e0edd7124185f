"""Checks that the metric is positive definite where the flow goes, for every velocity strategy.

Two cheap exact checks, derived once in SymPy and printed into the kernels:

- **pointwise**: at every evaluation of the velocity, the pivots of the metric's LDL^T factorization
  (the squared diagonal of its Cholesky factor) must be positive, with the threshold of the inlined
  Cholesky solve (``d_c > 1e-14 |g_cc|``). The Cholesky and QR strategies test this in their solve;
  :func:`pivot_check` prints it for the ``symbolic`` strategy (a few flops on the metric entries,
  which share subexpressions with the velocity) and evaluates it once, exactly, for a constant metric
  (``exact``). Diagonal entries that SymPy proves positive on the chart's domain (``1/sigma**2`` with
  ``sigma`` positive) are not tested.
- **crossing**: the metric can be singular between two evaluation points without being so at either
  (``diag(x**2, 1)`` on both sides of ``x = 0``). :func:`singular_factors` lists the irreducible factors
  of the determinant (of each entry, for a diagonal metric) whose sign SymPy cannot prove constant on
  the domain; a step whose end point gives one of them another strict sign than its start point
  crossed the factor's zero set, where the metric is singular, and the step is refused with
  ``SINGULAR_METRIC``. Sound for any path between the two points (the factors are continuous where
  the metric is defined).

The crossing check needs the determinant's factors, derived only for a diagonal metric or dimension at
most :data:`~riemgrad.kernels.velocity.SYMBOLIC_MAX_DIM`; larger dense metrics get the pointwise check
only (documented in ``docs/guarantees.md``).

Examples
--------
>>> import sympy as sp
>>> x, y = sp.symbols("x y", real=True)
>>> singular_factors(sp.ImmutableMatrix([[x**2, 0], [0, 1]]), (x, y))
[x]
>>> s = sp.Symbol("s", positive=True)
>>> singular_factors(sp.ImmutableMatrix([[1 / s**2, 0], [0, 2 / s**2]]), (x, s))
[]
"""

from __future__ import annotations

import sympy as sp

from ..abi import CODE

__all__ = ["singular_factors", "pivot_check", "FACTOR_MAX_OPS"]

#: Expressions larger than this (SymPy's count_ops) are not factored (the crossing check is skipped).
FACTOR_MAX_OPS = 400

_SINGULAR = CODE["SINGULAR_METRIC"]


def _diagonal(G: sp.ImmutableMatrix) -> bool:
    n = G.shape[0]
    return all(G[i, k] == 0 for i in range(n) for k in range(n) if i != k)


def _sign_fixed(f: sp.Expr) -> bool:
    return bool(f.is_positive or f.is_negative)


def singular_factors(G: sp.ImmutableMatrix, coords: tuple[sp.Symbol, ...], max_dim: int = 3) -> list[sp.Expr]:
    """The factors of ``det G`` whose sign can change on the chart's domain (see the module's notes).

    Parameters
    ----------
    G : sympy.ImmutableMatrix, shape (n, n)
        The metric matrix.
    coords : tuple of sympy.Symbol
        The chart's coordinates (their assumptions give the domain).
    max_dim : int
        Dense metrics of larger dimension are not factored (an empty list).

    Returns
    -------
    list of sympy.Expr
        Distinct, non-constant factors, in a fixed order.
    """
    n = G.shape[0]
    if _diagonal(G):
        parts = [G[i, i] for i in range(n)]
    elif n <= max_dim:
        parts = [G.det(method="berkowitz")]
    else:
        return []
    found: list[sp.Expr] = []
    for part in parts:
        part = sp.sympify(part)
        if not part.free_symbols & set(coords) or sp.count_ops(part) > FACTOR_MAX_OPS:
            continue
        num, den = sp.fraction(sp.together(part))
        for piece in (num, den):
            try:
                _, factors = sp.factor_list(piece)
            except (sp.PolynomialError, sp.GeneratorsNeeded, NotImplementedError):
                factors = [(piece, 1)]
            for f, _ in factors:
                if f.free_symbols & set(coords) and not _sign_fixed(f) and f not in found:
                    found.append(f)
    return sorted(found, key=sp.default_sort_key)


def pivot_check(G: sp.ImmutableMatrix) -> tuple[list[sp.Expr], list[str], str]:
    """Kernel lines flagging a metric that is not numerically positive definite at the evaluated point.

    Parameters
    ----------
    G : sympy.ImmutableMatrix, shape (n, n)
        The metric matrix (coordinates and parameters as free symbols).

    Returns
    -------
    (exprs, names, code)
        Metric entries to compute (into the local variables ``names``, alongside the velocity) and the
        source of one statement setting ``s`` to 0 or the ``SINGULAR_METRIC`` code: an LDL^T
        factorization with the Cholesky solve's threshold. A NaN entry is not flagged (the velocity
        is then non-finite and reported as such). A constant metric is decided here, exactly.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> pivot_check(sp.ImmutableMatrix([[1, 0], [0, -1]]))
    ([], [], '    s = 3')
    >>> exprs, names, code = pivot_check(sp.ImmutableMatrix([[1 - x, 0], [0, 1]]))
    >>> exprs, code
    ([1 - x], '    s = 3 if (_g0_0 <= 0.0) else 0')
    """
    n = G.shape[0]
    if not any(sp.sympify(e).free_symbols for e in G):
        return [], [], f"    s = {0 if sp.Matrix(G).is_positive_definite else _SINGULAR}"
    if _diagonal(G):
        keep = [i for i in range(n) if not sp.sympify(G[i, i]).is_positive]
        exprs = [G[i, i] for i in keep]
        names = [f"_g{i}_{i}" for i in keep]
        if not keep:
            return [], [], "    s = 0"
        bad = " | ".join(f"({nm} <= 0.0)" for nm in names)
        return exprs, names, f"    s = {_SINGULAR} if {bad} else 0"
    lower = [(a, b) for a in range(n) for b in range(a + 1)]
    exprs = [G[a, b] for a, b in lower]
    names = [f"_g{a}_{b}" for a, b in lower]
    lines = []
    bad = []
    for c in range(n):
        # d_c = g_cc - sum_k l_ck^2 d_k ; l_rc = (g_rc - sum_k l_rk l_ck d_k) / d_c
        d = f"_g{c}_{c}" + "".join(f" - _l{c}_{k} * _l{c}_{k} * _d{k}" for k in range(c))
        lines.append(f"    _d{c} = {d}")
        bad.append(f"(_d{c} <= 1e-14 * abs(_g{c}_{c}))")
        for r in range(c + 1, n):
            t = f"_g{r}_{c}" + "".join(f" - _l{r}_{k} * _l{c}_{k} * _d{k}" for k in range(c))
            lines.append(f"    _l{r}_{c} = ({t}) / _d{c}")
    lines.append(f"    s = {_SINGULAR} if {' | '.join(bad)} else 0")
    return exprs, names, "\n".join(lines)
