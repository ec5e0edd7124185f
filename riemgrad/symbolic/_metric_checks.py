"""The checks a Metric runs when it is built: symmetry, non-degeneracy, positive definiteness.

Exact checks come first, within the ``metric_checks`` budget of
:mod:`riemgrad.symbolic.budget`. Exact algebra on a dense metric with
transcendental entries (or a logistic-regression Hessian over float data) can
take minutes or never finish; when the budget runs out, or SymPy recurses too
deep, the exact checks are replaced by numeric ones at a few pseudo-random
points of the chart's domain (fixed seed, so reproducible), and the Metric
records and says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from ..errors import IndefiniteMetricError, NonSymmetricMetricError, SingularMetricError
from ._util import simplify_expr

#: Number of sample points of the numeric fallback.
N_POINTS = 6
_SEED = 20240229


def check_symmetric(M: sp.ImmutableMatrix) -> None:
    """Exact symmetry check; raises NonSymmetricMetricError naming the first differing pair."""
    n = M.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            a, b = M[i, j], M[j, i]
            if a == b:
                continue
            if simplify_expr(a - b) != 0:
                raise NonSymmetricMetricError(
                    f"`matrix` must be symmetric; entries ({i}, {j}) and ({j}, {i}) differ: {a} vs {b}. "
                    "Use the symmetric part (M + M.T)/2 if that is what you meant."
                )


def _rational_pivots(M: sp.ImmutableMatrix) -> list[sp.Rational] | None:
    """Pivots of Gaussian elimination without pivoting, in exact rational arithmetic.

    A symmetric matrix is positive definite iff every pivot is > 0 (Sylvester). Exact, so
    Hilbert-like Gram matrices (condition number 1e18 and more) are judged correctly.
    Returns None if an entry is not rational.
    """
    if not all(e.is_Rational for e in M):
        return None
    from sympy.polys.matrices import DomainMatrix

    A = DomainMatrix.from_Matrix(sp.Matrix(M)).convert_to(sp.QQ).to_dense().rep.to_ddm()
    n = len(A)
    pivots = []
    for c in range(n):
        p = A[c][c]
        pivots.append(sp.QQ.to_sympy(p))
        if p <= 0:
            return pivots
        for r in range(c + 1, n):
            f = A[r][c] / p
            if f:
                A[r] = [A[r][k] - f * A[c][k] for k in range(n)]
    return pivots


def check_definite(M: sp.ImmutableMatrix, chart: Any) -> None:
    """Exact (constant matrices) or visible (diagonal entries) positive-definiteness check."""
    if not M.free_symbols:
        pivots = _rational_pivots(M)
        if pivots is not None:
            if min(pivots) > 0:
                return
            bad = next(i for i, p in enumerate(pivots) if p <= 0)
            raise IndefiniteMetricError(
                f"`matrix` must be positive definite for a Riemannian metric on chart {chart.name!r}; "
                f"its leading {bad + 1} x {bad + 1} block is not (exact elimination pivot {pivots[bad]}). "
                "Fix the entries, or pass riemannian=False for a pseudo-Riemannian metric."
            )
        vals = np.linalg.eigvalsh(np.array(M.evalf(), dtype=float))
        if vals.min() <= 0:
            raise IndefiniteMetricError(
                f"`matrix` must be positive definite for a Riemannian metric on chart {chart.name!r}; "
                f"its eigenvalues are {np.round(vals, 6).tolist()}. Fix the entries, or pass riemannian=False "
                "for a pseudo-Riemannian metric."
            )
        return
    for i in range(M.shape[0]):
        e = M[i, i]
        if e.is_positive is False:
            raise IndefiniteMetricError(
                f"`matrix` must be positive definite for a Riemannian metric on chart {chart.name!r}; "
                f"the diagonal entry ({i}, {i}) = {e} is not positive on the chart's domain "
                f"{chart.domain}. Fix the entry or the coordinates' assumptions, or pass riemannian=False."
            )


def sample_points(symbols: set, n: int = N_POINTS) -> list[dict[sp.Symbol, sp.Float]]:
    """Pseudo-random points for ``symbols`` in the domain their assumptions give (positive, negative or real)."""
    rng = np.random.default_rng(_SEED)
    syms = sorted(symbols, key=sp.default_sort_key)
    pts = []
    for _ in range(n):
        pt = {}
        for s in syms:
            # positive values in (0.15, 0.9): inside the implicit upper bounds of probabilities too (p < 1)
            v = float(rng.uniform(0.15, 0.9)) if (s.is_positive or s.is_nonnegative) else float(rng.normal(0.0, 1.0))
            if s.is_negative or s.is_nonpositive:
                v = -abs(v) - 0.2
            if s.is_integer:
                v = float(max(1, round(abs(v) * 6))) if (s.is_positive or s.is_nonnegative) else float(round(v * 3))
            pt[s] = sp.Float(v, 30)
        pts.append(pt)
    return pts


def numeric_checks(M: sp.ImmutableMatrix, chart: Any, riemannian: bool, allow_singular: bool) -> int:
    """Symmetry, non-degeneracy and definiteness at sample points; returns the number of points used.

    A matrix is rejected as singular (or not positive definite) only if it is so at every
    sample point where it is finite: the numeric counterpart of "singular everywhere" and
    "visibly not positive definite" of the exact checks.
    """
    n = M.shape[0]
    pts = sample_points(M.free_symbols)
    syms = sorted(M.free_symbols, key=sp.default_sort_key)
    try:  # one compiled function for the whole matrix: evalf of large entries is 100x slower
        fn = sp.lambdify(syms, sp.Matrix(M), modules="numpy")
    except Exception:  # noqa: BLE001 - printing can fail on exotic functions: evaluate entry by entry
        fn = None
    used, singular, indefinite = 0, [], []
    for pt in pts:
        try:
            if fn is not None:
                with np.errstate(all="ignore"):
                    A = np.asarray(fn(*[complex(pt[s]) for s in syms]), dtype=complex).reshape(n, n)
            else:
                A = np.array([[complex(M[i, j].evalf(20, subs=pt)) for j in range(n)] for i in range(n)])
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            continue
        if not np.all(np.isfinite(A)) or np.any(np.abs(A.imag) > 1e-12 * (1 + np.abs(A.real))):
            continue  # outside where the entries are real and finite (e.g. a pole): not a point of the metric
        A = A.real
        used += 1
        scale = 1.0 + np.abs(A).max()
        asym = np.abs(A - A.T).max()
        if asym > 1e-9 * scale:
            i, j = np.unravel_index(np.argmax(np.abs(A - A.T)), A.shape)
            raise NonSymmetricMetricError(
                f"`matrix` must be symmetric; entries ({i}, {j}) and ({j}, {i}) differ at {pt}: "
                f"{A[i, j]:.6g} vs {A[j, i]:.6g} (checked numerically: the exact check ran past its budget). "
                "Use the symmetric part (M + M.T)/2 if that is what you meant."
            )
        S = (A + A.T) / 2
        vals = np.linalg.eigvalsh(S)
        if np.abs(vals).min() <= 1e-12 * np.abs(vals).max():
            singular.append(pt)
        elif vals.min() < 0:
            indefinite.append((pt, vals))
    if used == 0:
        return 0
    if not allow_singular and len(singular) == used:
        raise SingularMetricError(
            f"`matrix` is singular at every one of {used} sample points of chart {chart.name!r} "
            f"(e.g. {singular[0]}); checked numerically because the exact check ran past its budget. "
            "Drop a redundant coordinate, or pass allow_singular=True."
        )
    if riemannian and not allow_singular and len(indefinite) == used:
        pt, vals = indefinite[0]
        raise IndefiniteMetricError(
            f"`matrix` must be positive definite for a Riemannian metric on chart {chart.name!r}; it is not at any "
            f"of {used} sample points (e.g. eigenvalues {np.round(vals, 6).tolist()} at {pt}); checked numerically "
            "because the exact check ran past its budget. Fix the entries, or pass riemannian=False."
        )
    return used
