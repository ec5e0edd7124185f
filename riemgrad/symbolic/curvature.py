"""Connection and curvature of a metric: Christoffel symbols, Riemann, Ricci, scalar and
Gaussian curvature, and the geodesic equations.

:class:`CurvatureMixin` is one of the bases of :class:`~riemgrad.symbolic.Metric`; it holds
the derivations that depend only on the metric's components (``self._G``, ``self._Ginv``,
``self._alg``) and caches each one on first use.
"""

from __future__ import annotations

import itertools
from functools import cached_property
from typing import Any

import sympy as sp

from ..errors import CoordinateError, DimensionError
from ._algebra import FieldAlgebra
from .tensor import Tensor

__all__ = ["CurvatureMixin"]


class CurvatureMixin:
    """Christoffel symbols, curvature tensors and geodesic equations of a :class:`Metric`.

    Conventions (``docs/conventions.md``): ``Gamma^k_ij = 1/2 g^kl (d_i g_lj + d_j g_li - d_l g_ij)``,
    ``R^a_bcd = d_c Gamma^a_db - d_d Gamma^a_cb + Gamma^a_ce Gamma^e_db - Gamma^a_de Gamma^e_cb``,
    ``Ric_bd = R^a_bad``; the unit sphere has ``R = 2`` and ``K = 1``.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, Metric
    >>> th, ph = sp.symbols("theta phi", positive=True)
    >>> Metric(Chart("sphere", (th, ph)), sp.diag(1, sp.sin(th)**2)).scalar_curvature()
    2
    """

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
