"""Metrics on a chart and everything derived from them: inverse, curvature, geodesics."""

from __future__ import annotations

import itertools
import warnings
from functools import cached_property
from typing import Any

import sympy as sp

from ..errors import (
    ChartMismatchError,
    CoordinateError,
    DimensionError,
    IndefiniteMetricError,
    BudgetExceededError,
    ExactCheckSkippedWarning,
    ShapeError,
    SingularMetricError,
)
from ._algebra import FieldAlgebra, make_algebra
from ._metric_checks import check_definite, check_symmetric, numeric_checks
from .budget import get_budget, ran_out, time_budget
from ._util import as_expr, as_square_matrix, resolve_simplifier, simplify_expr
from .charts import Chart, ChartMap, _check_same_chart
from .tensor import Tensor

__all__ = ["Metric", "euclidean_metric"]


class Metric(Tensor):
    """A (pseudo-)Riemannian metric on a chart: a symmetric rank-2 ``"ll"`` tensor.

    Parameters
    ----------
    chart : Chart
        The chart the components are written in.
    matrix : array_like, shape (dim, dim)
        The components ``g_ij``, symmetric.
    simplifier : {"auto"}, callable or None, optional
        How derived quantities are simplified. ``"auto"`` (default) computes
        in exact rational-function arithmetic when the components are rational
        in the coordinates and in closed-under-differentiation function atoms
        (``sin``, ``cos``, ``exp``, ``sqrt``...), and otherwise applies the
        targeted simplifier :func:`riemgrad.symbolic.simplify_expr` to each
        component. A callable ``expr -> expr`` is applied to each derived
        component instead; ``None`` returns raw, unsimplified components.
    riemannian : bool, optional
        If True (default) the metric must be positive definite; constant and
        diagonal metrics are checked at construction. Pass False for a
        pseudo-Riemannian metric (e.g. Schwarzschild).
    allow_singular : bool, optional
        If False (default), a matrix whose determinant vanishes identically is
        rejected. If True it is accepted and :attr:`inverse` raises instead.

    Raises
    ------
    ShapeError
        If ``matrix`` is not ``dim x dim``.
    NonSymmetricMetricError
        If ``matrix`` is not symmetric.
    SingularMetricError
        If the determinant vanishes identically (unless ``allow_singular``).
    IndefiniteMetricError
        If ``riemannian`` and the matrix is visibly not positive definite.
    NonFiniteInputError
        If an entry holds nan, oo, zoo or a complex number.

    Warns
    -----
    ExactCheckSkippedWarning
        When the exact checks run past the ``metric_checks`` budget
        (:mod:`riemgrad.symbolic.budget`, 2 s by default) and numeric checks
        at sample points of the chart's domain replace them.

    Attributes
    ----------
    checks : str
        ``"exact"``, or how the numeric fallback checked the matrix.

    Notes
    -----
    Conventions: Gamma^k_ij = 1/2 g^kl (d_i g_lj + d_j g_li - d_l g_ij);
    R^a_bcd = d_c Gamma^a_db - d_d Gamma^a_cb + Gamma^a_ce Gamma^e_db -
    Gamma^a_de Gamma^e_cb; Ric_bd = R^a_bad; the unit sphere has scalar
    curvature +2 and Gaussian curvature 1.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, Metric
    >>> mu = sp.Symbol("mu", real=True)
    >>> sigma = sp.Symbol("sigma", positive=True)
    >>> g = Metric(Chart("sigma", (mu, sigma)), sp.diag(1 / sigma**2, 2 / sigma**2))
    >>> g.inverse.components
    [[sigma**2, 0], [0, sigma**2/2]]
    >>> g.gaussian_curvature()
    -1/2
    >>> g.line_element()
    dmu**2/sigma**2 + 2*dsigma**2/sigma**2
    """

    def __init__(
        self,
        chart: Chart,
        matrix: Any,
        *,
        simplifier: Any = "auto",
        riemannian: bool = True,
        allow_singular: bool = False,
    ) -> None:
        if not isinstance(chart, Chart):
            raise ChartMismatchError(f"`chart` must be a Chart; got {type(chart).__name__}.")
        M = as_square_matrix(
            matrix, chart.dim, "matrix", f"one row and column per coordinate of chart {chart.name!r}", chart.coords
        )
        super().__init__(chart, sp.ImmutableDenseNDimArray(M.tolist()), "ll", symbol="g", name="metric")
        auto = simplifier == "auto" or simplifier is True
        self._set(
            matrix=M,
            simplifier=resolve_simplifier(simplifier),
            _auto=auto,
            _simplifier_arg=simplifier,
            riemannian=bool(riemannian),
            allow_singular=bool(allow_singular),
        )
        self._set(checks=self._construction_checks())

    def _construction_checks(self) -> str:
        """Exact checks within the ``metric_checks`` budget, else numeric ones at sample points; says which ran."""
        M, chart = self.matrix, self.chart
        seconds = get_budget("metric_checks")
        try:
            with time_budget(seconds, f"the exact checks of a metric on chart {chart.name!r}") as token:
                self._exact_checks()
            return "exact"
        except (BudgetExceededError, RecursionError) as exc:
            if isinstance(exc, BudgetExceededError) and not ran_out(token, exc):
                raise
            why = f"ran past their budget of {seconds:g} s" if isinstance(exc, BudgetExceededError) else "recursed"
        used = numeric_checks(M, chart, self.riemannian, self.allow_singular)
        note = f"numeric at {used} sample points (the exact checks {why})"
        warnings.warn(
            f"Metric on chart {chart.name!r}: the exact symmetry/determinant/definiteness checks {why}; "
            f"checked numerically at {used} points of the chart's domain instead (see Metric.checks). "
            "Raise the budget with riemgrad.symbolic.budget.budgets(metric_checks=...) for exact checks.",
            ExactCheckSkippedWarning,
            stacklevel=3,
        )
        return note

    def _exact_checks(self) -> None:
        M, chart = self.matrix, self.chart
        check_symmetric(M)
        # singular first: a degenerate constant matrix is also "not positive definite", but
        # the singular diagnosis (naming the zero-length direction) is the precise one
        if not self.allow_singular and self._det_elem_is_zero:
            raise SingularMetricError(self._singular_message())
        if self.riemannian:
            check_definite(M, chart)
            if M.free_symbols and not self.allow_singular and self.det.is_positive is False:
                raise IndefiniteMetricError(
                    f"`matrix` must be positive definite for a Riemannian metric on chart {chart.name!r}; "
                    f"its determinant {self.det} is not positive on the chart's domain {chart.domain}. "
                    "Fix the entries or the coordinates' assumptions, or pass riemannian=False."
                )

    def _new_metric(self, chart: Chart, matrix: Any) -> Metric:
        return Metric(
            chart,
            matrix,
            simplifier=self._simplifier_arg,
            riemannian=self.riemannian,
            allow_singular=self.allow_singular,
        )

    # ----------------------------------------------------------- algebra
    @cached_property
    def _alg(self) -> Any:
        return make_algebra(self.chart.coords, list(self.matrix), self.simplifier, self._auto)

    @cached_property
    def _G(self) -> list[list[Any]]:
        n, alg = self.dim, self._alg
        return [[alg.elem(self.matrix[i, j]) for j in range(n)] for i in range(n)]

    @cached_property
    def _is_diagonal(self) -> bool:
        return all(self.matrix[i, j] == 0 for i in range(self.dim) for j in range(self.dim) if i != j)

    @cached_property
    def _det_elem(self) -> Any:
        alg, n = self._alg, self.dim
        if self._is_diagonal:
            d = alg.one
            for i in range(n):
                d = alg.finish(d * self._G[i][i])
            return d
        if isinstance(alg, FieldAlgebra):
            return alg.det(self._G)
        return alg.finish(self.matrix.det(method="berkowitz"))

    @cached_property
    def _det_elem_is_zero(self) -> bool:
        d = self._det_elem
        if self._alg.is_zero(d):
            return True
        if not isinstance(self._alg, FieldAlgebra):
            return simplify_expr(d) == 0
        return False

    def _singular_message(self, inverting: bool = False) -> str:
        null = sp.Matrix(self.matrix).nullspace(simplify=True)
        hint = f"; the direction {tuple(null[0])} has zero length" if null else ""
        what = "cannot invert the metric: it" if inverting else "`matrix`"
        fix = (
            "it was built with allow_singular=True, so only quantities that need no inverse are available"
            if inverting
            else "pass allow_singular=True to keep the degenerate form"
        )
        return (
            f"{what} is singular everywhere on chart {self.chart.name!r} {self.chart.coords}: "
            f"det g = 0 identically{hint}. The coordinates are redundant (over-parameterized); "
            f"drop one (e.g. fix a reference class), or {fix}."
        )

    @cached_property
    def _Ginv(self) -> list[list[Any]]:
        alg, n = self._alg, self.dim
        if self._det_elem_is_zero:
            raise SingularMetricError(self._singular_message(inverting=True))
        if self._is_diagonal:
            return [[(alg.finish(alg.one / self._G[i][i]) if i == j else alg.zero) for j in range(n)] for i in range(n)]
        if isinstance(alg, FieldAlgebra):
            inv = alg.inverse(self._G)
            if inv is None:
                raise SingularMetricError(self._singular_message(inverting=True))
            return inv
        inv = sp.Matrix(self.matrix).inv(method="LU")
        return [[alg.finish(inv[i, j]) for j in range(n)] for i in range(n)]

    def _to_expr_array(self, get: Any, rank: int) -> sp.ImmutableDenseNDimArray:
        n, alg = self.dim, self._alg
        vals = [alg.to_expr(get(*idx)) for idx in itertools.product(range(n), repeat=rank)]
        return sp.ImmutableDenseNDimArray(vals, (n,) * rank)

    # ------------------------------------------------------- basic algebra
    @cached_property
    def inverse(self) -> Tensor:
        """The inverse metric g^ij as a ``"uu"`` tensor.

        Raises
        ------
        SingularMetricError
            If the metric is singular everywhere (constructed with
            ``allow_singular=True``).

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> x, y = sp.symbols("x y", real=True)
        >>> Metric(Chart("c", (x, y)), [[2, 1], [1, 1]]).inverse.components
        [[1, -1], [-1, 2]]
        """
        arr = self._to_expr_array(lambda i, j: self._Ginv[i][j], 2)
        return Tensor._trusted(self.chart, arr, "uu", "g", "inverse metric")

    @cached_property
    def inverse_matrix(self) -> sp.ImmutableMatrix:
        """The inverse metric as an ImmutableMatrix.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> r = sp.Symbol("r", positive=True)
        >>> Metric(Chart("polar", (r, sp.Symbol("phi"))), sp.diag(1, r**2)).inverse_matrix
        Matrix([
        [1,       0],
        [0, r**(-2)]])
        """
        return sp.ImmutableMatrix(self.inverse.components.tolist())

    @cached_property
    def det(self) -> sp.Expr:
        """The determinant of the metric matrix.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> sigma = sp.Symbol("sigma", positive=True)
        >>> Metric(Chart("s", (sp.Symbol("mu"), sigma)), sp.diag(1/sigma**2, 2/sigma**2)).det
        2/sigma**4
        """
        return self._alg.to_expr(self._det_elem)

    def volume_element(self) -> sp.Expr:
        """The Riemannian volume density ``sqrt|det g|``.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> th = sp.Symbol("theta", positive=True)
        >>> Metric(Chart("s", (th, sp.Symbol("phi"))), sp.diag(1, sp.sin(th)**2)).volume_element()
        Abs(sin(theta))
        """
        d = sp.factor(self.det)  # factored, so sqrt can pull out squares: r*(R + r*cos(theta))
        if not self.riemannian and d.is_negative:
            d = -d
        return sp.sqrt(d) if self.riemannian else sp.sqrt(sp.Abs(d))

    def _differentials(self) -> list[sp.Symbol]:
        return [sp.Symbol("d" + c.name, real=True) for c in self.chart.coords]

    def line_element(self) -> sp.Expr:
        """The line element ds^2 = g_ij dx^i dx^j.

        The differentials are real symbols named ``"d" + coordinate name``.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> r, phi = sp.symbols("r phi", positive=True)
        >>> Metric(Chart("polar", (r, phi)), sp.diag(1, r**2)).line_element()
        dphi**2*r**2 + dr**2
        """
        d = self._differentials()
        n = self.dim
        return sp.Add(*[self.matrix[i, j] * d[i] * d[j] for i in range(n) for j in range(n)])

    def _vector(self, v: Any, name: str, want: str) -> list[sp.Expr]:
        if isinstance(v, Tensor):
            _check_same_chart(self.chart, v.chart, name)
            if v.indices != want:
                kind = "vector (indices 'u')" if want == "u" else "covector (indices 'l')"
                raise ShapeError(f"`{name}` must be a {kind}; got a tensor with indices {v.indices!r}.")
            return list(v.components)
        if isinstance(v, sp.MatrixBase):
            v = list(v)
        try:
            comps = [as_expr(x, name) for x in v]
        except TypeError:
            raise ShapeError(f"`{name}` must be a sequence of {self.dim} components; got {v!r}.") from None
        if len(comps) != self.dim:
            raise ShapeError(f"`{name}` must have {self.dim} components (one per coordinate); got {len(comps)}.")
        return comps

    def inner(self, u: Any, v: Any) -> sp.Expr:
        """The inner product g_ij u^i v^j of two vectors.

        Parameters
        ----------
        u, v : Tensor with indices ``"u"``, or sequences of ``dim`` components

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> r, phi = sp.symbols("r phi", positive=True)
        >>> Metric(Chart("polar", (r, phi)), sp.diag(1, r**2)).inner([0, 1], [0, 1])
        r**2
        """
        a, b = self._vector(u, "u", "u"), self._vector(v, "v", "u")
        n = self.dim
        return self.simplifier(sp.Add(*[self.matrix[i, j] * a[i] * b[j] for i in range(n) for j in range(n)]))

    def norm(self, v: Any) -> sp.Expr:
        """The length sqrt(g_ij v^i v^j) of a vector.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> r, phi = sp.symbols("r phi", positive=True)
        >>> Metric(Chart("polar", (r, phi)), sp.diag(1, r**2)).norm([0, 1])
        r
        """
        comps = self._vector(v, "v", "u")  # validate under the caller's name, `v`
        return sp.sqrt(self.inner(comps, comps))

    def flat(self, v: Any) -> Tensor:
        """Lower a vector to a covector: (v^flat)_i = g_ij v^j.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> r, phi = sp.symbols("r phi", positive=True)
        >>> Metric(Chart("polar", (r, phi)), sp.diag(1, r**2)).flat([1, 1]).components
        [1, r**2]
        """
        comps = self._vector(v, "v", "u")
        return Tensor(self.chart, comps, "u").lower_index(0, self)

    def sharp(self, w: Any) -> Tensor:
        """Raise a covector to a vector: (w^sharp)^i = g^ij w_j.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> r, phi = sp.symbols("r phi", positive=True)
        >>> Metric(Chart("polar", (r, phi)), sp.diag(1, r**2)).sharp([1, 1]).components
        [1, r**(-2)]
        """
        comps = self._vector(w, "w", "l")
        return Tensor(self.chart, comps, "l").raise_index(0, self)

    def gradient(self, f: Any) -> Tensor:
        """The Riemannian gradient of a scalar function: (grad f)^i = g^ij d_j f.

        Parameters
        ----------
        f : sympy expression in the chart's coordinates

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> mu = sp.Symbol("mu", real=True)
        >>> sigma = sp.Symbol("sigma", positive=True)
        >>> g = Metric(Chart("sigma", (mu, sigma)), sp.diag(1 / sigma**2, 2 / sigma**2))
        >>> g.gradient(mu**2 + sigma).components
        [2*mu*sigma**2, sigma**2/2]
        """
        f = as_expr(f, "f", self.chart.coords)
        dw = [sp.diff(f, c) for c in self.chart.coords]
        return Tensor(self.chart, dw, "l").raise_index(0, self)

    # ------------------------------------------------------------ curvature
    @cached_property
    def _dG(self) -> list[list[list[Any]]]:
        alg, n = self._alg, self.dim
        return [[[alg.diff(self._G[i][j], k) for j in range(n)] for i in range(n)] for k in range(n)]

    @cached_property
    def _gamma(self) -> list[list[list[Any]]]:
        """_gamma[k][i][j] = Gamma^k_ij as algebra elements."""
        alg, n, dG, Ginv = self._alg, self.dim, self._dG, self._Ginv
        half = alg.one / 2 if isinstance(alg, FieldAlgebra) else sp.Rational(1, 2)
        first = {}  # Gamma_lij, i <= j
        for l, i in itertools.product(range(n), repeat=2):
            for j in range(i, n):
                v = dG[i][l][j] + dG[j][l][i] - dG[l][i][j]
                first[l, i, j] = v * half if not alg.is_zero(v) else alg.zero
        out = [[[alg.zero] * n for _ in range(n)] for _ in range(n)]
        for k in range(n):
            for i in range(n):
                for j in range(i, n):
                    terms = [
                        Ginv[k][l] * first[l, i, j]
                        for l in range(n)
                        if not (alg.is_zero(Ginv[k][l]) or alg.is_zero(first[l, i, j]))
                    ]
                    acc = alg.finish(alg.sum(terms))
                    out[k][i][j] = out[k][j][i] = acc
        return out

    def christoffel(self) -> Tensor:
        """The Christoffel symbols of the second kind, Gamma^k_ij, as a ``"ull"`` tensor.

        Returns
        -------
        Tensor
            ``components[k, i, j] = Gamma^k_ij``, symmetric in ``i, j``.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> x = sp.Symbol("x", real=True)
        >>> y = sp.Symbol("y", positive=True)
        >>> G = Metric(Chart("half_plane", (x, y)), sp.diag(1 / y**2, 1 / y**2)).christoffel()
        >>> G[0, 0, 1], G[1, 0, 0], G[1, 1, 1]
        (-1/y, 1/y, -1/y)
        """
        return self._christoffel_tensor

    @cached_property
    def _christoffel_tensor(self) -> Tensor:
        g = self._gamma
        arr = self._to_expr_array(lambda k, i, j: g[k][i][j], 3)
        return Tensor._trusted(self.chart, arr, "ull", r"\Gamma", "Christoffel symbols")

    @cached_property
    def _dgamma(self) -> dict[tuple[int, int, int, int], Any]:
        """(c, a, d, b) -> d_c Gamma^a_db, computed lazily and only for d <= b."""
        return {}

    def _d_gamma(self, c: int, a: int, d: int, b: int) -> Any:
        if d > b:
            d, b = b, d
        key = (c, a, d, b)
        cache = self._dgamma
        if key not in cache:
            cache[key] = self._alg.diff(self._gamma[a][d][b], c)
        return cache[key]

    @cached_property
    def _riemann(self) -> dict[tuple[int, int, int, int], Any]:
        """R^a_bcd for c < d (the rest follows from antisymmetry in c, d)."""
        alg, n, G = self._alg, self.dim, self._gamma
        out = {}
        for a, b in itertools.product(range(n), repeat=2):
            for c in range(n):
                for d in range(c + 1, n):
                    terms = [self._d_gamma(c, a, d, b), -self._d_gamma(d, a, c, b)]
                    for e in range(n):
                        if not alg.is_zero(G[a][c][e]) and not alg.is_zero(G[e][d][b]):
                            terms.append(G[a][c][e] * G[e][d][b])
                        if not alg.is_zero(G[a][d][e]) and not alg.is_zero(G[e][c][b]):
                            terms.append(-(G[a][d][e] * G[e][c][b]))
                    out[a, b, c, d] = alg.finish(alg.sum(terms))
        return out

    def _riemann_at(self, a: int, b: int, c: int, d: int) -> Any:
        if c == d:
            return self._alg.zero
        if c < d:
            return self._riemann[a, b, c, d]
        return -self._riemann[a, b, d, c]

    def riemann(self) -> Tensor:
        """The Riemann curvature tensor R^a_bcd as a ``"ulll"`` tensor.

        Notes
        -----
        R^a_bcd = d_c Gamma^a_db - d_d Gamma^a_cb + Gamma^a_ce Gamma^e_db -
        Gamma^a_de Gamma^e_cb. Only the components with c < d are computed;
        the others follow from antisymmetry.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> th = sp.Symbol("theta", positive=True)
        >>> R = Metric(Chart("sphere", (th, sp.Symbol("phi"))), sp.diag(1, sp.sin(th)**2)).riemann()
        >>> R[0, 1, 0, 1]
        sin(theta)**2
        """
        return self._riemann_tensor

    @cached_property
    def _riemann_tensor(self) -> Tensor:
        return Tensor._trusted(self.chart, self._to_expr_array(self._riemann_at, 4), "ulll", "R", "Riemann tensor")

    @cached_property
    def _ricci(self) -> list[list[Any]]:
        """Ric_bd = R^a_bad, computed directly from the Christoffel symbols."""
        alg, n, G = self._alg, self.dim, self._gamma
        out = [[alg.zero] * n for _ in range(n)]
        for b in range(n):
            for d in range(b, n):
                terms = []
                for a in range(n):
                    terms += [self._d_gamma(a, a, d, b), -self._d_gamma(d, a, a, b)]
                    for e in range(n):
                        if not alg.is_zero(G[a][a][e]) and not alg.is_zero(G[e][d][b]):
                            terms.append(G[a][a][e] * G[e][d][b])
                        if not alg.is_zero(G[a][d][e]) and not alg.is_zero(G[e][a][b]):
                            terms.append(-(G[a][d][e] * G[e][a][b]))
                out[b][d] = out[d][b] = alg.finish(alg.sum(terms))
        return out

    def ricci(self) -> Tensor:
        """The Ricci tensor Ric_bd = R^a_bad as an ``"ll"`` tensor.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> th = sp.Symbol("theta", positive=True)
        >>> Metric(Chart("sphere", (th, sp.Symbol("phi"))), sp.diag(1, sp.sin(th)**2)).ricci().components
        [[1, 0], [0, sin(theta)**2]]
        """
        return self._ricci_tensor

    @cached_property
    def _ricci_tensor(self) -> Tensor:
        arr = self._to_expr_array(lambda b, d: self._ricci[b][d], 2)
        return Tensor._trusted(self.chart, arr, "ll", r"\mathrm{Ric}", "Ricci tensor")

    @cached_property
    def _scalar(self) -> sp.Expr:
        alg, n = self._alg, self.dim
        terms = [
            self._Ginv[b][d] * self._ricci[b][d]
            for b in range(n)
            for d in range(n)
            if not alg.is_zero(self._Ginv[b][d]) and not alg.is_zero(self._ricci[b][d])
        ]
        return alg.to_expr(alg.finish(alg.sum(terms)))

    def scalar_curvature(self) -> sp.Expr:
        """The Ricci scalar R = g^bd Ric_bd (the unit 2-sphere has R = 2).

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> x = sp.Symbol("x", real=True)
        >>> y = sp.Symbol("y", positive=True)
        >>> Metric(Chart("half_plane", (x, y)), sp.diag(1 / y**2, 1 / y**2)).scalar_curvature()
        -2
        """
        return self._scalar

    def gaussian_curvature(self) -> sp.Expr:
        """The Gaussian curvature K = R / 2 of a 2-dimensional metric.

        Raises
        ------
        DimensionError
            If the metric is not 2-dimensional.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> th = sp.Symbol("theta", positive=True)
        >>> Metric(Chart("sphere", (th, sp.Symbol("phi"))), sp.diag(1, sp.sin(th)**2)).gaussian_curvature()
        1
        """
        if self.dim != 2:
            raise DimensionError(
                f"Gaussian curvature is defined for 2-dimensional metrics; this metric on chart "
                f"{self.chart.name!r} has dimension {self.dim}. Use scalar_curvature() or riemann() instead."
            )
        K = self._scalar / 2
        return K if self._auto else self.simplifier(K)

    def geodesic_equations(self, t: sp.Symbol | str = "t") -> list[sp.Eq]:
        """The geodesic equations x''^k = -Gamma^k_ij x'^i x'^j.

        Parameters
        ----------
        t : Symbol or str, optional
            The curve parameter (default ``t``).

        Returns
        -------
        list of sympy.Eq
            One equation per coordinate, with each coordinate replaced by an
            undefined function of ``t`` of the same name.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> r, phi = sp.symbols("r phi", positive=True)
        >>> eqs = Metric(Chart("polar", (r, phi)), sp.diag(1, r**2)).geodesic_equations()
        >>> eqs[0]
        Eq(Derivative(r(t), (t, 2)), r(t)*Derivative(phi(t), t)**2)
        """
        t = sp.Symbol(t) if isinstance(t, str) else t
        if t in self.chart.coords or any(t.name == c.name for c in self.chart.coords):
            raise CoordinateError(
                f"`t` = {t} is also a coordinate of chart {self.chart.name!r} {self.chart.coords}; "
                "pass another name for the curve parameter, e.g. geodesic_equations('s')."
            )
        from .geodesic import geodesic_acceleration  # the one derivation, shared with the compiled field

        xs = [sp.Function(c.name)(t) for c in self.chart.coords]
        sub = dict(zip(self.chart.coords, xs))
        acc = geodesic_acceleration(self, [x.diff(t) for x in xs])
        return [sp.Eq(x.diff(t, 2), sp.expand(a.xreplace(sub))) for x, a in zip(xs, acc)]

    # -------------------------------------------------------- change of chart
    def pullback(self, chart_map: ChartMap, simplifier: Any = "auto") -> Metric:
        """The pullback metric J^T g(phi(x)) J on ``chart_map.source``.

        The metric must live on ``chart_map.target``; the target may have a
        higher dimension (an embedding). The result is a :class:`Metric` with
        the same settings as this one.

        Raises
        ------
        ChartMismatchError
            If this metric does not live on ``chart_map.target``.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, ChartMap, euclidean_metric
        >>> r, phi = sp.symbols("r phi", positive=True)
        >>> x, y = sp.symbols("x y", real=True)
        >>> cart = Chart("cartesian", (x, y))
        >>> m = ChartMap(Chart("polar", (r, phi)), cart, (r * sp.cos(phi), r * sp.sin(phi)))
        >>> euclidean_metric(cart).pullback(m).matrix
        Matrix([
        [1,    0],
        [0, r**2]])
        """
        if not isinstance(chart_map, ChartMap):
            raise ChartMismatchError(f"`chart_map` must be a ChartMap; got {type(chart_map).__name__}.")
        if chart_map.target != self.chart:
            raise ChartMismatchError(
                f"`chart_map` goes to chart {chart_map.target.name!r} {chart_map.target.coords}, but this metric "
                f"lives on chart {self.chart.name!r} {self.chart.coords}; the map's target must be the metric's chart."
            )
        simp = resolve_simplifier(simplifier)
        J = chart_map.jacobian()
        sub = dict(zip(self.chart.coords, chart_map.forward))
        g = self.matrix.xreplace(sub)
        m = chart_map.source.dim
        out = sp.Matrix(m, m, lambda i, j: 0)
        for i in range(m):
            for j in range(i, m):
                acc = sp.Add(
                    *[J[a, i] * g[a, b] * J[b, j] for a in range(self.dim) for b in range(self.dim) if g[a, b] != 0]
                )
                out[i, j] = out[j, i] = simp(acc)
        return self._new_metric(chart_map.source, out)

    def in_chart(self, chart_map: ChartMap, simplifier: Any = "auto") -> Metric:
        """This metric written in ``chart_map.target`` (it lives on the map's source).

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, ChartMap, Metric
        >>> s, v = sp.symbols("sigma variance", positive=True)
        >>> m = ChartMap(Chart("sigma", (s,)), Chart("variance", (v,)), (s**2,))
        >>> Metric(m.source, [[2 / s**2]]).in_chart(m).matrix
        Matrix([[1/(2*variance**2)]])
        """
        if not isinstance(chart_map, ChartMap):
            raise ChartMismatchError(f"`chart_map` must be a ChartMap; got {type(chart_map).__name__}.")
        _check_same_chart(chart_map.source, self.chart, "metric (its chart must be chart_map.source)")
        return self.pullback(chart_map.inverse(), simplifier=simplifier)

    def subs(self, *args: Any, **kwargs: Any) -> Metric:
        """Substitute in every component; returns a Metric with the same settings.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric
        >>> th = sp.Symbol("theta", positive=True)
        >>> a = sp.Symbol("a", positive=True)
        >>> Metric(Chart("s", (th, sp.Symbol("phi"))), sp.diag(a**2, a**2 * sp.sin(th)**2)).subs(a, 2).matrix
        Matrix([
        [4,                0],
        [0, 4*sin(theta)**2]])
        """
        return self._new_metric(self.chart, self.matrix.subs(*args, **kwargs))

    def simplify(self, simplifier: Any = "auto") -> Metric:
        """Apply a simplifier to every component; returns a Metric with the same settings."""
        fn = resolve_simplifier(simplifier)
        return self._new_metric(self.chart, self.matrix.applyfunc(fn))

    # ---------------------------------------------------------------- display
    def __repr__(self) -> str:
        return f"Metric(chart={self.chart.name!r}, matrix={self.matrix.tolist()})"

    def _repr_latex_(self) -> str:
        """``ds^2`` with each coefficient before its differentials (``\\frac{1}{\\sigma^2} d\\mu^2``)."""
        from ._latex import line_element_latex

        return "$\\displaystyle " + line_element_latex(self.matrix, self.chart.coords, self.chart.latex_names) + "$"


def euclidean_metric(chart: Chart) -> Metric:
    """The Euclidean metric (the identity matrix) on a chart.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, euclidean_metric
    >>> g = euclidean_metric(Chart("plane", sp.symbols("x y", real=True)))
    >>> g.matrix, g.scalar_curvature()
    (Matrix([
    [1, 0],
    [0, 1]]), 0)
    """
    if not isinstance(chart, Chart):
        raise ChartMismatchError(f"`chart` must be a Chart; got {type(chart).__name__}.")
    return Metric(chart, sp.eye(chart.dim))
