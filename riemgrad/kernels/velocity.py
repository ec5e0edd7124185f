"""How the velocity ``-G^{-1} grad L`` is computed: the strategies and their cost model.

``exact`` (a constant rational metric, solved in rational arithmetic), ``symbolic`` (derived and put
in the cheapest of a few equivalent forms, by a rough count of the operations the kernel performs),
``cholesky`` (an inlined Cholesky solve in the kernel) and ``qr`` (least squares through Householder
QR of the residuals' Jacobian). Pure SymPy: nothing here prints or compiles code.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import sympy as sp

from ..errors import SolverSettingsError
from ..symbolic import Chart, Metric, simplify_expr

__all__ = ["STRATEGIES", "SYMBOLIC_MAX_DIM", "derive_velocity"]

#: How the velocity ``-G^{-1} grad L`` is computed inside the kernel.
STRATEGIES = ("auto", "exact", "symbolic", "cholesky", "qr")

#: Largest dimension for which a dense, non-constant metric is inverted symbolically.
SYMBOLIC_MAX_DIM = 3


def derive_velocity(
    metric: Metric,
    params: tuple[sp.Symbol, ...],
    grad: list[sp.Expr],
    strategy: str,
    residuals: list[sp.Expr] | None,
) -> tuple[str, list[sp.Expr] | None]:
    """The strategy chosen for ``strategy`` and the symbolic velocity (None when the kernel solves).

    Parameters
    ----------
    metric : Metric
    params : tuple of sympy.Symbol
    grad : list of sympy.Expr
        The Euclidean gradient of the loss, one entry per coordinate.
    strategy : str
        One of :data:`STRATEGIES`.
    residuals : list of sympy.Expr or None
        For ``"qr"``: checked against ``metric = J^T J`` and ``grad = J^T r``.

    Returns
    -------
    (str, list of sympy.Expr or None)

    Raises
    ------
    SolverSettingsError
        As :func:`riemgrad.compile_flow`.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, euclidean_metric
    >>> x = sp.Symbol("x", real=True)
    >>> derive_velocity(euclidean_metric(Chart("line", (x,))), (), [2 * x], "auto", None)
    ('exact', [-2*x])
    """
    chosen = _choose_strategy(metric, strategy)
    if chosen == "qr":
        _check_gauss_newton(metric.chart, params, metric.matrix, grad, residuals)
        return chosen, None
    if chosen == "exact":
        return chosen, _exact_velocity(metric.matrix, grad, metric.chart.coords)
    if chosen == "symbolic":
        return chosen, _symbolic_velocity(metric, grad)
    return chosen, None


def _is_constant_rational(M: sp.ImmutableMatrix) -> bool:
    return all(sp.sympify(e).is_Rational for e in M)


def _exact_velocity(G: sp.ImmutableMatrix, grad: list[sp.Expr], coords: tuple[sp.Symbol, ...]) -> list[sp.Expr]:
    """-G^{-1} grad in exact rational arithmetic (G constant and rational)."""
    from sympy.polys.matrices import DomainMatrix

    n = len(coords)
    Ginv = DomainMatrix.from_Matrix(sp.Matrix(G)).convert_to(sp.QQ).inv()
    # linear gradient: grad = A x + c, then v = -(G^-1 A) x - G^-1 c, all exact.
    try:
        polys = [sp.Poly(gi, *coords) for gi in grad]
        linear = all(p.total_degree() <= 1 for p in polys)
    except sp.PolynomialError:
        linear = False
    if linear:
        A = sp.Matrix(n, n, lambda i, k: polys[i].coeff_monomial(coords[k]))
        c = sp.Matrix(n, 1, lambda i, _: polys[i].coeff_monomial(1))
        Gi = Ginv.to_Matrix()
        if all(e.is_Rational for e in A):
            GA = (Ginv * DomainMatrix.from_Matrix(A).convert_to(sp.QQ)).to_Matrix()
        else:
            GA = Gi * A
        Gc = [_round_late(sp.expand(e)) for e in Gi * c]
        return [-sp.Add(*[GA[i, k] * coords[k] for k in range(n)]) - Gc[i] for i in range(n)]
    Gi = Ginv.to_Matrix()
    return [-sp.Add(*[Gi[i, k] * grad[k] for k in range(n) if Gi[i, k] != 0]) for i in range(n)]


def _round_late(e: sp.Expr) -> sp.Expr:
    """A constant like ``p + q*E`` (huge p, q that cancel) evaluated to 30 digits before it is rounded
    to a double, instead of being rounded term by term in the kernel."""
    if e.free_symbols or e.is_Rational:
        return e
    return sp.Float(sp.N(e, 30), 30)


#: Extra cost of a division by a non-constant (over a multiplication) and of a function call.
_DIV_WEIGHT = 5
_CALL_WEIGHT = 20


def _numeric_cost(exprs: Sequence[sp.Expr]) -> int:
    """Rough cost of evaluating ``exprs`` together after cse, as the generated kernel does.

    Distinct transcendental calls dominate, then divisions by non-constants (``x / 2`` is
    printed as ``0.5 * x``); shared subexpressions count once.
    """
    replacements, reduced = sp.cse(list(exprs), order="none")
    cost = 0
    for e in [r for _, r in replacements] + list(reduced):
        calls = {a for a in e.atoms(sp.Function)} | {a for a in e.atoms(sp.Pow) if not a.exp.is_Integer}
        divisions = {a for a in e.atoms(sp.Pow) if a.exp.is_Integer and a.exp < 0}
        cost += _CALL_WEIGHT * len(calls) + _DIV_WEIGHT * len(divisions) + int(sp.count_ops(e))
    return cost


def _forms(raw: sp.Expr) -> list[sp.Expr]:
    """Equivalent forms of one velocity component, to be costed together with the others.

    - the targeted simplification (``cancel``: lowest terms, numerator expanded);
    - its expansion with exponentials combined: ``(S - exp(2 t)) exp(-2 t) / 2`` costs two
      exponentials, ``S exp(-2 t) / 2 - 1/2`` one (measured 2x on the log-sigma chart);
    - its numerator in Horner form (fewer multiplications), and the expansion collected in
      its function calls (``exp(-2 t) (mu**2/2 - mu + 5/2) - 1/2``);
    - the derivation's own structure with products distributed and one denominator
      (``((1 - mu)**2 + 4 - sigma**2) / (2 sigma)``), which keeps subexpressions of the loss
      that other components share (measured ~12% on the Gaussian charts).
    """
    forms = [simplify_expr(raw)]
    if sp.count_ops(forms[0]) < 200:
        expanded = sp.factor_terms(sp.powsimp(sp.expand(forms[0]), combine="exp"))
        forms.append(expanded)
        forms.append(_horner_form(forms[0]))
        calls = sorted(expanded.atoms(sp.Function), key=sp.default_sort_key)
        if calls:  # S*exp(-2t)/2 - 1/2 with S a polynomial: one product by the exponential
            forms.append(sp.collect(sp.expand(expanded), calls))
        kept = sp.together(sp.expand_mul(raw))
        if sp.count_ops(kept) < 200 and sp.cancel(kept - forms[0]) == 0:
            forms.append(kept)
    unique: list[sp.Expr] = []
    for f in forms:
        if f not in unique:
            unique.append(f)
    return unique


def _horner_form(e: sp.Expr) -> sp.Expr:
    """``e`` with a polynomial numerator in Horner form (fewer multiplications):
    ``x**2 - 2*x - y + 5`` becomes ``x*(x - 2) - y + 5``. Unchanged when the
    numerator is not a polynomial in plain symbols."""
    num, den = sp.fraction(e)
    gens = sorted(num.free_symbols, key=sp.default_sort_key)
    if not gens or not num.is_polynomial(*gens):
        return e
    return sp.horner(num, *gens) / den


#: Up to this many combinations of forms are costed jointly; beyond, each component alone.
_JOINT_MAX = 81


def _cheapest_forms(raws: list[sp.Expr]) -> list[sp.Expr]:
    """For each velocity component the form that makes the whole velocity cheapest to evaluate."""
    options = [_forms(r) for r in raws]
    total = 1
    for o in options:
        total *= len(o)
    if total <= _JOINT_MAX:
        return list(min(itertools.product(*options), key=_numeric_cost))
    return [min(o, key=lambda f: _numeric_cost([f])) for o in options]


def _symbolic_velocity(metric: Metric, grad: list[sp.Expr]) -> list[sp.Expr]:
    n = metric.dim
    G = metric.matrix
    if all(G[i, k] == 0 for i in range(n) for k in range(n) if i != k):
        return _cheapest_forms([-grad[i] / G[i, i] for i in range(n)])
    Gi = metric.inverse_matrix
    return _cheapest_forms([-sp.Add(*[Gi[i, k] * grad[k] for k in range(n)]) for i in range(n)])


def _check_gauss_newton(
    chart: Chart, params: tuple[sp.Symbol, ...], G: sp.ImmutableMatrix, grad: list[sp.Expr], res: list[sp.Expr]
) -> None:
    """Spot-check ``G = J^T J`` and ``grad L = J^T r`` at random points of the chart's domain."""
    J = sp.Matrix([[sp.diff(r, c) for c in chart.coords] for r in res])
    syms = list(chart.coords) + list(params)
    fG = sp.lambdify(syms, [G - J.T * J], "numpy")
    fg = sp.lambdify(syms, [sp.Matrix(grad) - J.T * sp.Matrix(res)], "numpy")
    rng = np.random.default_rng(0)
    for _ in range(3):
        point = []
        for c in syms:
            lo = 0.5 if (c.is_positive or c.is_nonnegative) else -1.0
            point.append(rng.uniform(lo, 2.0) if c.is_negative is not True else -rng.uniform(0.5, 2.0))
        with np.errstate(all="ignore"):
            dG = np.abs(np.array(fG(*point)[0], dtype=float)).max()
            dg = np.abs(np.array(fg(*point)[0], dtype=float)).max()
            scale = 1.0 + np.abs(np.array(sp.lambdify(syms, [G], "numpy")(*point)[0], dtype=float)).max()
        if not (dG <= 1e-8 * scale and dg <= 1e-8 * (1.0 + scale)):
            raise SolverSettingsError(
                "`residuals` must satisfy metric = J^T J and grad(loss) = J^T r (J = dr/dx, loss = |r|^2 / 2 "
                f"+ const); at {dict(zip(map(str, syms), np.round(point, 3)))} they differ by {max(dG, dg):.3g}. "
                "Pass the residuals of this loss and its Gauss-Newton metric, or drop `residuals`."
            )


def _choose_strategy(metric: Metric, strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise SolverSettingsError(f"`strategy` must be one of {STRATEGIES}; got {strategy!r}.")
    if strategy == "qr":
        return "qr"
    if strategy != "auto":
        if strategy == "exact" and not _is_constant_rational(metric.matrix):
            raise SolverSettingsError(
                "`strategy='exact'` needs a constant metric with rational entries; this metric has "
                f"{metric.matrix}. Use strategy='auto'."
            )
        return strategy
    if _is_constant_rational(metric.matrix):
        return "exact"
    n = metric.dim
    G = metric.matrix
    diagonal = all(G[i, k] == 0 for i in range(n) for k in range(n) if i != k)
    if diagonal or n <= SYMBOLIC_MAX_DIM:
        return "symbolic"
    return "cholesky"
