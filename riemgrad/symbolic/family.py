"""Parametric families of densities: the family object, its exponential form and its parameter points.

A :class:`ParametricFamily` is a log-density in some data variables, indexed by
the coordinates of a :class:`~riemgrad.symbolic.charts.Chart`, together with
the support of each data variable. It is built whole and never changes:
derived values (the density, the exponential form, the expectation
parameters) are computed on first use and cached, which changes no visible
attribute. :mod:`riemgrad.symbolic.fisher` derives its Fisher metric and
:mod:`riemgrad.symbolic.divergences` its KL divergence.

The log-density must be normalized (it integrates, or sums, to one over the
support for every parameter value) and the support must not depend on the
parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import Any

import sympy as sp

from ..errors import ArgumentTypeError, ChartMismatchError, CoordinateError, MethodNotApplicableError, ShapeError
from ._density_checks import check_density, check_point_in_domain
from ._util import Frozen, as_expr, simplify_expr
from .charts import Chart, ChartMap
from .expectation import exp_of, expand_log, normalize_logs
from .exponential import ExponentialForm, detect_exponential, nonsmooth_atom, solve_exact

__all__ = ["ParametricFamily", "ExponentialForm", "point_values", "nonsmooth_atom"]

class ParametricFamily(Frozen):
    """A parametric family of probability densities (or mass functions) on a chart.

    Parameters
    ----------
    chart : Chart
        The parameters; the family's members are indexed by ``chart.coords``.
    variables : sympy.Symbol or sequence of sympy.Symbol
        The data variables. Plain real symbols are fine: integer-ness comes from
        the support.
    log_density : sympy expression
        log p(x | theta), normalized for every parameter value. Other free
        symbols (neither coordinates nor variables) are fixed constants.
    support : mapping {variable: sympy.Set}
        The support of each variable: an ``Interval`` (finite, half-infinite or
        ``Reals``), or a discrete set (``FiniteSet``, ``Range``,
        ``Naturals0``). The joint support is the product; it must not depend
        on the parameters.
    name : str, optional
        A label used in printing and error messages.
    kl : callable, optional
        A known closed form of the KL divergence, ``kl(p, q) -> expr`` with
        ``p`` and ``q`` mappings {coordinate: value}; :func:`kl_divergence`
        uses it instead of integrating (the catalogue supplies it, with its
        reference, for the Laplace and Cauchy families). It is carried over
        by :meth:`reparameterize`.

    Attributes
    ----------
    chart, variables, log_density, support, name, kl
        As given (``support`` a dict {variable: Set}).
    source : tuple (ParametricFamily, ChartMap) or None
        For a family made by :meth:`reparameterize`: the family it came from
        and the map from this family's chart to that family's chart.

    Raises
    ------
    ChartMismatchError
        If ``chart`` is not a Chart.
    CoordinateError
        If ``variables`` are not distinct Symbols, or a variable is also a
        coordinate.
    ShapeError
        If ``support`` does not give exactly one Set per variable, or a set
        depends on the parameters.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, ParametricFamily, fisher_metric
    >>> x = sp.Symbol("x", real=True)
    >>> mu = sp.Symbol("mu", real=True)
    >>> sigma = sp.Symbol("sigma", positive=True)
    >>> fam = ParametricFamily(
    ...     Chart("sigma", (mu, sigma)), x,
    ...     -(x - mu)**2 / (2 * sigma**2) - sp.log(sp.sqrt(2 * sp.pi) * sigma),
    ...     {x: sp.Reals})
    >>> fisher_metric(fam).matrix
    Matrix([
    [sigma**(-2),          0],
    [          0, 2/sigma**2]])
    >>> tau = sp.Symbol("tau", real=True)
    >>> to_sigma = ChartMap(Chart("log_sigma", (mu, tau)), fam.chart, (mu, sp.exp(tau)))
    >>> fisher_metric(fam.reparameterize(to_sigma)).matrix
    Matrix([
    [exp(-2*tau), 0],
    [          0, 2]])
    """

    def __init__(
        self,
        chart: Chart,
        variables: sp.Symbol | Sequence[sp.Symbol],
        log_density: Any,
        support: Mapping[sp.Symbol, sp.Set],
        *,
        name: str | None = None,
        kl: Callable[[dict, dict], sp.Expr] | None = None,
        _source: tuple[ParametricFamily, ChartMap] | None = None,
    ) -> None:
        if _source is not None and not (
            isinstance(_source, tuple)
            and len(_source) == 2
            and isinstance(_source[0], ParametricFamily)
            and isinstance(_source[1], ChartMap)
        ):
            raise ShapeError(f"`_source` must be (ParametricFamily, ChartMap) or None; got {_source!r}.")
        if kl is not None and not callable(kl):
            raise ArgumentTypeError(f"`kl` must be a callable kl(p, q) -> expression, or None; got {kl!r}.")
        if not isinstance(chart, Chart):
            raise ChartMismatchError(f"`chart` must be a Chart; got {type(chart).__name__}.")
        if isinstance(variables, sp.Symbol):
            variables = (variables,)
        try:
            variables = tuple(variables)
        except TypeError:
            raise CoordinateError(
                f"`variables` must be a Symbol or a sequence of Symbols; got {variables!r}."
            ) from None
        if not variables or not all(isinstance(v, sp.Symbol) for v in variables):
            raise CoordinateError(
                f"`variables` must be one or more SymPy Symbols (the data); got {variables!r}. "
                "Write e.g. variables=sp.Symbol('x', real=True)."
            )
        if len(set(variables)) != len(variables):
            raise CoordinateError(f"`variables` must be distinct; got {variables}.")
        clash = set(variables) & set(chart.coords)
        if clash:
            raise CoordinateError(
                f"`variables` {sorted(map(str, clash))} are also coordinates of chart {chart.name!r}; "
                "data variables and parameters must be different symbols."
            )
        logp = as_expr(log_density, "log_density", (*chart.coords, *variables))
        if not isinstance(support, Mapping):
            raise ShapeError(f"`support` must map each variable to a SymPy Set; got {support!r}.")
        sup: dict[sp.Symbol, sp.Set] = {}
        for key, s in support.items():
            var = next((v for v in variables if key == v or key == v.name), None)
            if var is None:
                raise ShapeError(
                    f"`support` names {key!r}, which is not one of the variables {variables}; "
                    "give one Set per data variable."
                )
            if not isinstance(s, sp.Set):
                raise ShapeError(
                    f"`support[{var}]` must be a SymPy Set (Interval, FiniteSet, Range, Naturals0); got {s!r}."
                )
            if s.free_symbols & set(chart.coords):
                raise ShapeError(
                    f"`support[{var}]` = {s} depends on the parameters {sorted(map(str, s.free_symbols))}; "
                    "the Fisher metric needs a parameter-free support (the regularity conditions fail)."
                )
            sup[var] = s
        missing = [v for v in variables if v not in sup]
        if missing:
            raise ShapeError(
                f"`support` must give a Set for every variable; missing {missing}. "
                "E.g. support={x: sp.Reals} or {k: sp.Naturals0}."
            )
        self._set(
            chart=chart,
            variables=variables,
            log_density=logp,
            support=sup,
            name=str(name) if name is not None else chart.name,
            source=_source,
            kl=kl,
        )

    @classmethod
    def from_density(
        cls,
        density: Any,
        chart: Chart,
        variables: sp.Symbol | Sequence[sp.Symbol],
        support: Mapping[sp.Symbol, sp.Set],
        *,
        name: str | None = None,
    ) -> ParametricFamily:
        """Build a family from a density (or mass function) instead of its logarithm.

        The logarithm is expanded (``expand_log``, splitting products whose sign is unknown), which is
        valid because a density is positive on its support.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, ParametricFamily, fisher_metric
        >>> x = sp.Symbol("x", real=True)
        >>> p = sp.Symbol("p", positive=True)
        >>> fam = ParametricFamily.from_density(p**x * (1 - p)**(1 - x), Chart("p", (p,)), x, {x: sp.FiniteSet(0, 1)})
        >>> fisher_metric(fam).matrix
        Matrix([[-1/(p*(p - 1))]])
        """
        if isinstance(variables, sp.Symbol):
            variables = (variables,)
        scope = (*chart.coords, *variables) if isinstance(chart, Chart) and isinstance(variables, (tuple, list)) else None
        d = as_expr(density, "density", scope)
        return cls(chart, variables, expand_log(sp.log(d)), support, name=name)

    # ------------------------------------------------------------------ views
    @property
    def dim(self) -> int:
        """The number of parameters."""
        return self.chart.dim

    @property
    def coords(self) -> tuple[sp.Symbol, ...]:
        """The chart's coordinates (the parameters)."""
        return self.chart.coords

    @cached_property
    def density(self) -> sp.Expr:
        """The density exp(log_density), with log terms turned back into powers.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, ParametricFamily
        >>> x = sp.Symbol("x", real=True); r = sp.Symbol("r", positive=True)
        >>> ParametricFamily(Chart("rate", (r,)), x, sp.log(r) - r * x, {x: sp.Interval(0, sp.oo)}).density
        r*exp(-r*x)
        """
        return exp_of(self.log_density)

    @cached_property
    def _logp(self) -> sp.Expr:
        """The log-density with log arguments in lowest terms (cheaper to differentiate)."""
        return normalize_logs(self.log_density)

    @cached_property
    def is_twice_differentiable(self) -> bool:
        """False when the log-density contains Abs, sign, Piecewise, ... of a parameter.

        Such a density (the Laplace location) has an almost-everywhere Hessian
        whose expectation is not the Fisher information, so the "hessian"
        route is refused.
        """
        return nonsmooth_atom(self.log_density, set(self.coords)) is None

    @cached_property
    def exponential_form(self) -> ExponentialForm | None:
        """The exponential-family form of the log-density, or None if none was found.

        Found by expanding the log-density into terms that each factor into a
        parameter part and a data part; terms with the same data part are
        collected, and statistics whose natural parameters are constant
        multiples of each other are merged.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, ParametricFamily
        >>> x = sp.Symbol("x", real=True); lam = sp.Symbol("lam", positive=True)
        >>> fam = ParametricFamily(Chart("rate", (lam,)), x, x * sp.log(lam) - lam - sp.loggamma(x + 1),
        ...                        {x: sp.Naturals0})
        >>> fam.exponential_form.natural, fam.exponential_form.statistics, fam.exponential_form.log_partition
        ((log(lam),), (x,), lam)
        """
        return detect_exponential(self.log_density, self.coords, self.variables)

    @cached_property
    def density_check(self) -> str:
        """Check, once, that the density is non-negative and normalized; says how it was checked.

        Exactly when SymPy integrates (or sums) the density within a short
        budget; numerically (quadrature, sums) at a few parameter points of
        the domain otherwise, and for non-negativity at points of the support.
        :func:`~riemgrad.symbolic.fisher.fisher_metric` and
        :func:`~riemgrad.symbolic.divergences.kl_divergence` run it first.

        Raises
        ------
        IntegrationError
            If the density does not integrate (or sum) to one.
        DomainError
            If it is negative or complex somewhere on the support.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, ParametricFamily
        >>> x = sp.Symbol("x", real=True); r = sp.Symbol("r", positive=True)
        >>> check = ParametricFamily(Chart("rate", (r,)), x, sp.log(r) - r * x, {x: sp.Interval(0, sp.oo)}).density_check
        >>> "normalized" in check and "non-negative" in check
        True
        >>> ParametricFamily(Chart("rate", (r,)), x, -r * x, {x: sp.Interval(0, sp.oo)}).density_check  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        riemgrad.errors.IntegrationError: `log_density` must be a normalized density: ... not 1, ...
        """
        if self.source is not None:
            return self.source[0].density_check + f" (as family {self.source[0].name!r})"
        return check_density(self.density, self.log_density, self.variables, self.support, self.coords, "log_density")

    @cached_property
    def expectation_parameters(self) -> tuple[sp.Expr, ...]:
        """The expectation parameters m_k = E[T_k] of a full-rank exponential family, in the chart's coordinates.

        They solve (d eta/d theta)^T m = grad A exactly; nothing is integrated.

        Raises
        ------
        MethodNotApplicableError
            If the family has no exponential form with as many natural
            parameters as coordinates, or d eta/d theta is singular.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, ParametricFamily
        >>> x = sp.Symbol("x", real=True); lam = sp.Symbol("lam", positive=True)
        >>> ParametricFamily(Chart("rate", (lam,)), x, x * sp.log(lam) - lam - sp.loggamma(x + 1),
        ...                  {x: sp.Naturals0}).expectation_parameters
        (lam,)
        """
        ef = self.exponential_form
        d, c = self.dim, self.coords
        if ef is None or len(ef.natural) != d:
            raise MethodNotApplicableError(
                f"family {self.name!r} is not a full-rank exponential family, so it has no expectation parameters."
            )
        J = sp.Matrix(d, d, lambda k, i: sp.diff(ef.natural[k], c[i]))
        gradA = sp.Matrix([sp.diff(ef.log_partition, ci) for ci in c])
        try:
            if J.is_diagonal():
                m = [simplify_expr(gradA[i] / J[i, i]) for i in range(d)]
            else:
                m = [simplify_expr(e) for e in solve_exact(J.T, gradA)]
        except (ValueError, ZeroDivisionError, NotImplementedError):
            raise MethodNotApplicableError(f"d eta/d theta is singular for family {self.name!r}.") from None
        if any(e.has(sp.nan, sp.zoo) for e in m):
            raise MethodNotApplicableError(f"d eta/d theta is singular for family {self.name!r}.")
        return tuple(m)

    def reparameterize(self, chart_map: ChartMap) -> ParametricFamily:
        """The same family written in another chart.

        Parameters
        ----------
        chart_map : ChartMap
            Either a map from the new chart to this family's chart (its
            ``forward`` gives this family's coordinates in the new ones), or a
            map from this family's chart to the new chart (it is inverted).

        Returns
        -------
        ParametricFamily
            On the new chart. Its Fisher metric ("auto") is the pullback of
            this family's metric, so nothing is integrated twice.

        Raises
        ------
        ChartMismatchError
            If neither end of ``chart_map`` is this family's chart.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, ChartMap, ParametricFamily
        >>> x = sp.Symbol("x", real=True)
        >>> r, s = sp.symbols("r s", positive=True)
        >>> fam = ParametricFamily(Chart("rate", (r,)), x, sp.log(r) - r * x, {x: sp.Interval(0, sp.oo)})
        >>> fam.reparameterize(ChartMap(Chart("scale", (s,)), fam.chart, (1 / s,))).log_density
        log(1/s) - x/s
        """
        if not isinstance(chart_map, ChartMap):
            raise ChartMismatchError(f"`chart_map` must be a ChartMap; got {type(chart_map).__name__}.")
        if chart_map.target == self.chart:
            m = chart_map
        elif chart_map.source == self.chart:
            m = chart_map.inverse()
        else:
            raise ChartMismatchError(
                f"`chart_map` goes {chart_map.source.name!r} -> {chart_map.target.name!r}, but this family lives on "
                f"chart {self.chart.name!r} {self.chart.coords}; one end of the map must be the family's chart."
            )
        sub = dict(zip(self.chart.coords, m.forward))
        return ParametricFamily(
            m.source,
            self.variables,
            self.log_density.xreplace(sub),
            self.support,
            name=f"{self.name}@{m.source.name}",
            _source=(self, m),
        )

    def at(self, point: Any) -> sp.Expr:
        """The log-density at a parameter value (a sequence in chart order or a mapping).

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, ParametricFamily
        >>> x = sp.Symbol("x", real=True); r = sp.Symbol("r", positive=True)
        >>> ParametricFamily(Chart("rate", (r,)), x, sp.log(r) - r * x, {x: sp.Interval(0, sp.oo)}).at([2])
        -2*x + log(2)
        """
        pt = point_values(self.chart, point, "point")
        check_point_in_domain(pt, "point", self.chart.name)
        return self.log_density.xreplace(pt)

    def _repr_latex_(self) -> str:
        r"""``log p(x | theta) = ...`` with the support of each variable and the chart, for Jupyter."""
        from ._latex import chart_latex

        chart = self.chart
        theta = r",\, ".join(chart.latex_names[c] for c in chart.coords)
        xs = r",\, ".join(sp.latex(v) for v in self.support)
        sup = r",\ ".join(f"{sp.latex(v)} \\in {sp.latex(S)}" for v, S in self.support.items())
        return (
            f"$\\displaystyle \\log p({xs} \\mid {theta}) = {chart.latex(self.log_density)},"
            f"\\quad {sup};\\quad {chart_latex(chart)}$"
        )

    def __repr__(self) -> str:
        sup = ", ".join(f"{v}: {s}" for v, s in self.support.items())
        return f"ParametricFamily({self.name!r}, chart={self.chart.coords}, log_density={self.log_density}, {{{sup}}})"


def point_values(chart: Chart, point: Any, name: str) -> dict[sp.Symbol, sp.Expr]:
    """Read a parameter point (a sequence in chart order, or a mapping {coordinate: value}) as {coordinate: value}.

    Raises
    ------
    ShapeError
        If the number of values does not match the chart, or a coordinate is missing.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart
    >>> mu, s = sp.Symbol("mu", real=True), sp.Symbol("sigma", positive=True)
    >>> point_values(Chart("c", (mu, s)), [0, 2], "p")
    {mu: 0, sigma: 2}
    """
    if isinstance(point, Mapping):
        out = {}
        for k, v in point.items():
            out[chart.coords[chart.index(k)]] = as_expr(v, name)
        missing = [c for c in chart.coords if c not in out]
        if missing:
            raise ShapeError(
                f"`{name}` must give a value for every coordinate of chart {chart.name!r}; missing {missing}."
            )
        return out
    if isinstance(point, (sp.MatrixBase, sp.NDimArray)):
        point = list(point)
    if isinstance(point, (str, bytes)) or not isinstance(point, Sequence) and not hasattr(point, "__len__"):
        point = [point]
    vals = [as_expr(v, name) for v in point]
    if len(vals) != chart.dim:
        raise ShapeError(
            f"`{name}` must give {chart.dim} values in the order {chart.coords} of chart {chart.name!r}; "
            f"got {len(vals)}."
        )
    return dict(zip(chart.coords, vals))
