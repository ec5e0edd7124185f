"""Parametric families of densities, their Fisher metric and the KL divergence.

A :class:`ParametricFamily` is a log-density in some data variables, indexed by
the coordinates of a :class:`~riemgrad.symbolic.charts.Chart`, together with
the support of each data variable. :func:`fisher_metric` derives the Fisher
information metric of one observation exactly,

    g_ij(theta) = E[d_i log p d_j log p] = -E[d_i d_j log p],

by one of three routes, and :func:`kl_divergence` gives KL(p || q) between two
members in closed form.

Conventions: the Fisher metric of ONE observation, no 1/4 factors; KL in nats.
The log-density must be normalized (it integrates, or sums, to one over the
support for every parameter value) and the support must not depend on the
parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import Any, NamedTuple

import sympy as sp
from sympy.integrals.rationaltools import ratint
from sympy.polys.matrices import DomainMatrix

from ..errors import (
    ChartMismatchError,
    CoordinateError,
    IntegrationError,
    MethodNotApplicableError,
    ShapeError,
)
from ._util import Frozen, as_expr, simplify_expr
from .charts import Chart, ChartMap
from .metric import Metric

__all__ = ["ParametricFamily", "ExponentialForm", "fisher_metric", "fisher_route", "kl_divergence"]

#: Functions whose presence (with a parameter inside) makes a log-density not twice differentiable.
_NONSMOOTH = (sp.Abs, sp.sign, sp.Piecewise, sp.Heaviside, sp.Max, sp.Min, sp.floor, sp.ceiling, sp.DiracDelta)
_METHODS = ("auto", "score", "hessian", "exponential")
_DISCRETE = (sp.Range, type(sp.Naturals0), type(sp.Naturals), type(sp.Integers))


class ExponentialForm(NamedTuple):
    """The exponential-family form log p = sum_k natural_k(theta) statistics_k(x) - log_partition(theta) + base(x).

    Attributes
    ----------
    natural : tuple of sympy.Expr
        The natural parameters eta_k as expressions in the chart's coordinates.
    statistics : tuple of sympy.Expr
        The sufficient statistics T_k as expressions in the data variables.
    log_partition : sympy.Expr
        A(theta), the log-partition function written in the chart's coordinates.
    base : sympy.Expr
        log h(x), the part of the log-density free of the parameters.
    """

    natural: tuple[sp.Expr, ...]
    statistics: tuple[sp.Expr, ...]
    log_partition: sp.Expr
    base: sp.Expr


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
    ) -> None:
        if kl is not None and not callable(kl):
            raise TypeError(f"`kl` must be a callable kl(p, q) -> expression, or None; got {kl!r}.")
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
        logp = as_expr(log_density, "log_density")
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
            _source=None,
            _cache={},
            _kl=kl,
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
        d = as_expr(density, "density")
        return cls(chart, variables, _expand_log(sp.log(d)), support, name=name)

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
        return _exp_of(self.log_density)

    @cached_property
    def _logp(self) -> sp.Expr:
        """The log-density with log arguments in lowest terms (cheaper to differentiate)."""
        return _normalize_logs(self.log_density)

    @cached_property
    def is_twice_differentiable(self) -> bool:
        """False when the log-density contains Abs, sign, Piecewise, ... of a parameter.

        Such a density (the Laplace location) has an almost-everywhere Hessian
        whose expectation is not the Fisher information, so the "hessian"
        route is refused.
        """
        return _nonsmooth_atom(self.log_density, set(self.coords)) is None

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
        return _detect_exponential(self.log_density, self.coords, self.variables)

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
        fam = ParametricFamily(
            m.source, self.variables, self.log_density.xreplace(sub), self.support, name=f"{self.name}@{m.source.name}"
        )
        fam._set(_source=(self, m))
        return fam

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
        return self.log_density.xreplace(_point(self.chart, point, "point"))

    def __repr__(self) -> str:
        sup = ", ".join(f"{v}: {s}" for v, s in self.support.items())
        return f"ParametricFamily({self.name!r}, chart={self.chart.coords}, log_density={self.log_density}, {{{sup}}})"


# ====================================================================== Fisher
def fisher_metric(family: ParametricFamily, method: str = "auto", data: Any = None) -> Metric:
    """The Fisher information metric of one observation, exactly, on ``family.chart``.

    Parameters
    ----------
    family : ParametricFamily
    method : {"auto", "score", "hessian", "exponential"}
        ``"score"``: E[d_i log p d_j log p]. ``"hessian"``: -E[d_i d_j log p]
        (refused for densities that are not twice differentiable in the
        parameters). ``"exponential"``: for log p = eta(theta).T(x) - A(theta)
        + log h(x) with as many natural parameters as coordinates, the Hessian
        of the log-partition in the natural parameters pulled back by
        d eta/d theta, computed as (d eta/d theta)^T (d m/d theta) with the
        expectation parameters m solving (d eta/d theta)^T m = grad A; no
        integral is taken. For a curved (or non-minimal) exponential family,
        Hess A - sum_k E[T_k] Hess eta_k, which needs only the means of the
        statistics whose natural parameter is not affine. ``"auto"`` pulls back the source family's metric for
        a reparameterized family, else uses "exponential" when it applies, else
        "hessian" for twice-differentiable densities, else "score".

    Returns
    -------
    Metric
        On ``family.chart``, constructed with ``allow_singular=True``: an
        over-parameterized chart (all softmax logits) gives a metric whose
        ``.inverse`` raises :class:`~riemgrad.errors.SingularMetricError`.

    Raises
    ------
    MethodNotApplicableError
        If ``method`` is unknown, or does not apply (Hessian route on a density
        with Abs/sign/Piecewise; exponential route on a family that is not a
        full-rank exponential family).
    IntegrationError
        If SymPy cannot evaluate an expectation in closed form; the message
        names the integral (or sum), the variable and its support, and what to
        try instead.

    Notes
    -----
    Expectations over discrete supports are sums (finite sets summed term by
    term, ``Range``/``Naturals0`` by ``summation``); over ``Reals`` a
    polynomial times a Gaussian is integrated by its moments, a location-scale
    family is standardized first, and integrands with Abs/sign are split at
    their kinks. Results are cached on the family.

    Examples
    --------
    Laplace location: the almost-everywhere Hessian vanishes, the score route
    gives the right answer 1/b^2.

    >>> import sympy as sp
    >>> from riemgrad import Chart, ParametricFamily, fisher_metric
    >>> x, mu = sp.symbols("x mu", real=True)
    >>> b = sp.Symbol("b", positive=True)
    >>> lap = ParametricFamily(Chart("mu", (mu,)), x, -sp.Abs(x - mu) / b - sp.log(2 * b), {x: sp.Reals})
    >>> fisher_metric(lap).matrix
    Matrix([[b**(-2)]])
    >>> fisher_metric(lap, method="hessian")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    riemgrad.errors.MethodNotApplicableError: ...
    """
    from .data_metrics import ConditionalFamily, conditional_fisher_metric

    if data is not None or isinstance(family, ConditionalFamily):  # p(y | x; theta) over a Dataset
        return conditional_fisher_metric(family, data)
    return _fisher(family, method)[0]


def fisher_route(family: ParametricFamily, method: str = "auto") -> str:
    """The route :func:`fisher_metric` takes (or took): "exponential", "hessian", "score" or "pullback(<chart>)".

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, ParametricFamily
    >>> x = sp.Symbol("x", real=True); r = sp.Symbol("r", positive=True)
    >>> fisher_route(ParametricFamily(Chart("rate", (r,)), x, sp.log(r) - r * x, {x: sp.Interval(0, sp.oo)}))
    'exponential'
    """
    return _fisher(family, method)[1]


def _fisher(family: ParametricFamily, method: str) -> tuple[Metric, str]:
    if not isinstance(family, ParametricFamily):
        raise TypeError(f"`family` must be a ParametricFamily; got {type(family).__name__}.")
    if method not in _METHODS:
        raise MethodNotApplicableError(
            f"`method` must be one of {_METHODS}; got {method!r}. Use 'auto' to let riemgrad pick the cheapest route."
        )
    if method in family._cache:
        return family._cache[method]
    if method == "auto":
        out = _fisher_auto(family)
    else:
        matrix = {"score": _fisher_score, "hessian": _fisher_hessian, "exponential": _fisher_exponential}[method](
            family
        )
        out = (_make_metric(family.chart, matrix), method)
    family._cache[method] = out
    return out


def _fisher_auto(family: ParametricFamily) -> tuple[Metric, str]:
    if family._source is not None:
        src, m = family._source
        g = fisher_metric(src, "auto")
        return g.pullback(m), f"pullback({src.chart.name})"
    ef = family.exponential_form
    if ef is not None:
        try:
            return _make_metric(family.chart, _fisher_exponential(family)), "exponential"
        except (MethodNotApplicableError, IntegrationError):
            pass
    if family.is_twice_differentiable:
        try:
            return _make_metric(family.chart, _fisher_hessian(family)), "hessian"
        except IntegrationError as exc:
            first = exc
        try:
            return _make_metric(family.chart, _fisher_score(family)), "score"
        except IntegrationError:
            raise first from None
    return _make_metric(family.chart, _fisher_score(family)), "score"


def _make_metric(chart: Chart, matrix: sp.Matrix) -> Metric:
    return Metric(chart, matrix, allow_singular=True)


def _symmetric(n: int, entry: Any) -> sp.Matrix:
    M = sp.zeros(n, n)
    for i in range(n):
        for j in range(i, n):
            M[i, j] = M[j, i] = entry(i, j)
    return M


def _fisher_score(family: ParametricFamily) -> sp.Matrix:
    score = [sp.diff(family._logp, c) for c in family.coords]
    return _symmetric(family.dim, lambda i, j: _expectation(family, score[i] * score[j], f"score product s_{i} s_{j}"))


def _fisher_hessian(family: ParametricFamily) -> sp.Matrix:
    bad = _nonsmooth_atom(family.log_density, set(family.coords))
    if bad is not None:
        raise MethodNotApplicableError(
            f"`method='hessian'` does not apply to family {family.name!r}: its log-density contains {bad}, so it is "
            "not twice differentiable in the parameters and -E[Hessian] is not the Fisher information "
            "(e.g. the Laplace location, whose a.e. Hessian is 0). Use method='score' or 'auto'."
        )
    c = family.coords
    return _symmetric(
        family.dim,
        lambda i, j: _expectation(family, -sp.diff(family._logp, c[i], c[j]), f"-d2 log p/d{c[i]} d{c[j]}"),
    )


def _fisher_curved(family: ParametricFamily, ef: ExponentialForm) -> sp.Matrix:
    """Curved or non-minimal exponential family: F = Hess A - sum_k Hess eta_k E[T_k].

    Only the means of the statistics whose natural parameter is not affine in
    the coordinates are needed (none for a GLM with canonical link).
    """
    d, c = family.dim, family.coords
    hess = [[[sp.diff(eta, c[i], c[j]) for j in range(d)] for i in range(d)] for eta in ef.natural]
    means: dict[int, sp.Expr] = {}
    for k, T in enumerate(ef.statistics):
        if any(simplify_expr(h) != 0 for row in hess[k] for h in row):
            means[k] = _expectation(family, T, f"the statistic {T}")

    def entry(i: int, j: int) -> sp.Expr:
        acc = sp.diff(ef.log_partition, c[i], c[j]) - sp.Add(*[hess[k][i][j] * m for k, m in means.items()])
        return _tidy(acc)

    return _symmetric(d, entry)


def _fisher_exponential(family: ParametricFamily) -> sp.Matrix:
    ef = family.exponential_form
    if ef is None:
        raise MethodNotApplicableError(
            f"`method='exponential'` does not apply to family {family.name!r}: its log-density "
            f"{family.log_density} is not of the form eta(theta).T(x) - A(theta) + log h(x). "
            "Use method='hessian' or 'score'."
        )
    d, c = family.dim, family.coords
    if len(ef.natural) != d:
        return _fisher_curved(family, ef)
    try:
        m = _expectation_parameters(family, ef)
    except MethodNotApplicableError:
        raise MethodNotApplicableError(
            f"`method='exponential'`: d eta/d theta is singular for family {family.name!r} (natural parameters "
            f"{ef.natural}); use method='hessian' or 'score'."
        ) from None
    J = sp.Matrix(d, d, lambda k, i: sp.diff(ef.natural[k], c[i]))
    return _symmetric(d, lambda i, j: _tidy(sp.Add(*[J[k, i] * sp.diff(m[k], c[j]) for k in range(d) if J[k, i] != 0])))


# ==================================================================== helpers
def _nonsmooth_atom(expr: sp.Expr, coords: set) -> sp.Expr | None:
    for a in expr.atoms(*_NONSMOOTH):
        if a.free_symbols & coords:
            return a
    return None


def _exp_of(logp: sp.Expr) -> sp.Expr:
    """exp(logp) with c*log(a) -> a**c and loggamma(z) -> gamma(z) term by term."""
    out = []
    rest = []
    for t in sp.Add.make_args(_expand_log(logp)):
        coeff, fac = sp.S.One, None
        for f in sp.Mul.make_args(t):
            if fac is None and isinstance(f, (sp.log, sp.loggamma)):
                fac = f
            else:
                coeff *= f
        if fac is None:
            rest.append(t)
        elif isinstance(fac, sp.log):
            out.append(fac.args[0] ** coeff)
        else:
            out.append(sp.gamma(fac.args[0]) ** coeff)
    if rest:
        out.append(sp.exp(sp.Add(*rest)))
    return sp.Mul(*out)


def _detect_exponential(
    logp: sp.Expr, coords: tuple[sp.Symbol, ...], variables: tuple[sp.Symbol, ...]
) -> ExponentialForm | None:
    cs, vs = set(coords), set(variables)
    if _nonsmooth_atom(logp, cs | vs) is not None:
        return None
    e = _normalize_logs(logp)
    if any(a.free_symbols & cs and a.free_symbols & vs for a in e.atoms(sp.sin, sp.cos)):
        e = sp.expand_trig(e)
    e = sp.expand(e)
    stats: dict[sp.Expr, sp.Expr] = {}
    A = sp.S.Zero
    base = sp.S.Zero
    for term in sp.Add.make_args(e):
        th, xx = term.as_independent(*variables, as_Add=False)
        if xx.free_symbols & cs:
            return None
        if not (th.free_symbols & cs):
            base += term
        elif xx == 1:
            A -= th
        else:
            stats[xx] = stats.get(xx, sp.S.Zero) + th
    if not stats:
        return None
    # merge statistics whose natural parameters are constant multiples of one another
    etas: list[sp.Expr] = []
    Ts: list[sp.Expr] = []
    for T, eta in stats.items():
        for k, e0 in enumerate(etas):
            r = sp.cancel(eta / e0)
            if not (r.free_symbols & cs):
                Ts[k] = Ts[k] + r * T
                break
        else:
            etas.append(eta)
            Ts.append(T)
    return ExponentialForm(tuple(etas), tuple(sp.expand(T) for T in Ts), A, base)


def _expand_log(e: sp.Expr) -> sp.Expr:
    """``sympy.expand_log(e, force=True)`` made safe for negative symbols.

    Forcing splits log(a b) = log a + log b whatever the signs, which is right
    for the positive factors of a density but adds i*pi for negative ones
    (log(-2 eta2) with eta2 < 0). Negative symbols are written as minus a
    positive dummy first, so their products come out positive.
    """
    neg = [s for s in e.free_symbols if isinstance(s, sp.Symbol) and s.is_negative]
    if not neg:
        return sp.expand_log(e, force=True)
    pos = {s: sp.Dummy(s.name, positive=True) for s in neg}
    sub = {s: -d for s, d in pos.items()}
    back = {d: -s for s, d in pos.items()}
    return sp.expand_log(e.xreplace(sub), force=True).xreplace(back)


def _normalize_logs(e: sp.Expr) -> sp.Expr:
    """Bring the argument of every log to lowest terms, then split logs of products and powers."""
    e = e.replace(lambda a: isinstance(a, sp.log) and not a.args[0].is_Atom, lambda a: sp.log(sp.cancel(a.args[0])))
    return _expand_log(e)


def _point(chart: Chart, point: Any, name: str) -> dict[sp.Symbol, sp.Expr]:
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


# ================================================================ expectation
def _expectation(family: ParametricFamily, g: sp.Expr, what: str, logp: sp.Expr | None = None) -> sp.Expr:
    """E[g] under the family's density (or under exp(logp) when given)."""
    logp = family.log_density if logp is None else logp
    return _integrate_against(g, logp, family.variables, family.support, what=what, coords=family.coords)


def _integrate_against(
    g: sp.Expr,
    logp: sp.Expr,
    variables: tuple[sp.Symbol, ...],
    support: Mapping[sp.Symbol, sp.Set],
    *,
    what: str = "the integrand",
    coords: tuple[sp.Symbol, ...] = (),
) -> sp.Expr:
    """The integral (or sum) of g * exp(logp) over the product of the supports, exactly.

    Raises IntegrationError when SymPy leaves an unevaluated Integral or Sum.
    """
    g = sp.sympify(g)
    if g == 0:
        return sp.S.Zero
    variables = tuple(variables)
    # the density is normalized: terms free of the variables come out of the expectation unchanged
    if g.is_polynomial(*variables):
        g = sp.expand(g)
    const, g = g.as_independent(*variables, as_Add=True)
    if g == 0:
        return _tidy(const)
    if const != 0:
        return _tidy(const + _integrate_against(g, logp, variables, support, what=what, coords=coords))
    # standardize a one-variable location-scale family on the real line
    if len(variables) == 1 and support[variables[0]] == sp.Reals and coords:
        g, logp, variables, support = _standardize(g, logp, variables[0], coords)
    for x in variables:
        g, logp = _integrate_one(g, logp, x, support[x], what)
    res = g * _exp_of(logp) if logp != 0 else g
    res = _tidy(res)
    if res in (sp.oo, -sp.oo, sp.zoo):
        raise IntegrationError(
            f"the expectation of {what} over {dict(support)} diverges ({res}): the Fisher information is infinite "
            "here (are the regularity conditions met?). Check the density and its support."
        )
    if res.has(sp.Integral, sp.Sum) or res.has(sp.nan, sp.zoo):
        raise IntegrationError(
            f"SymPy could not evaluate the expectation of {what} over {dict(support)}; it left {res}. "
            "Try another method (method='score' or 'hessian'), a chart in which the density is simpler, "
            "or numeric values for the constants."
        )
    return res


def _standardize(g: sp.Expr, logp: sp.Expr, x: sp.Symbol, coords: tuple[sp.Symbol, ...]) -> Any:
    u = sp.Dummy("u", real=True)
    loc, scale = sp.S.Zero, sp.S.One
    for c in coords:
        if c.is_real and logp.has(c):
            e = logp.xreplace({x: u + c})
            if not e.has(c):
                loc = c
                break
    base = logp.xreplace({x: u + loc})
    for c in coords:
        if c.is_positive and base.has(c):
            e = _expand_log(base.xreplace({u: c * u}) + sp.log(c))
            if not e.has(c):
                scale = c
                break
    if loc == 0 and scale == 1:
        return g, logp, (x,), {x: sp.Reals}
    new_logp = _expand_log(logp.xreplace({x: loc + scale * u}) + sp.log(scale))
    return g.xreplace({x: loc + scale * u}), new_logp, (u,), {u: sp.Reals}


def _integrate_one(g: sp.Expr, logp: sp.Expr, x: sp.Symbol, s: sp.Set, what: str) -> Any:
    """Integrate or sum out one variable from g * exp(logp); returns the new (g, logp) pair."""
    if isinstance(s, sp.FiniteSet):
        tot = sp.Add(*[(g * _exp_of(logp)).xreplace({x: v}) for v in s])
        return _check(tot, what, x, s), sp.S.Zero
    if isinstance(s, _DISCRETE):
        return _sum_out(g, logp, x, s, what), sp.S.Zero
    if isinstance(s, sp.Interval):
        if s == sp.Reals:
            gi = _gaussian_integrate(g, logp, x)
            if gi is not None:
                return gi
        return _integrate_interval(g * _exp_of(logp), x, s.start, s.end, what), sp.S.Zero
    raise IntegrationError(
        f"cannot take the expectation of {what} over {x} in {s}: supports must be Intervals, FiniteSets, "
        "Ranges or Naturals0. Rewrite the support as one of these."
    )


def _tidy(e: sp.Expr) -> sp.Expr:
    """Targeted simplification of a derived expression: gamma ratios, Bessel recurrences, lowest terms."""
    if e.has(sp.hyper):
        e = sp.hyperexpand(e)
    if e.has(sp.gamma):
        e = _reduce_gamma(sp.gammasimp(e))
    e = _reduce_bessel(e)
    return simplify_expr(e)


def _reduce_gamma(e: sp.Expr) -> sp.Expr:
    """Write gamma(a + n), n a positive integer, as a product times gamma(a) so that ratios cancel."""
    args = sorted({g.args[0] for g in e.atoms(sp.gamma)}, key=sp.default_sort_key)
    sub = {}
    for a in args:
        shifts = [(sp.expand(a - b), b) for b in args]
        shifts = [(n, b) for n, b in shifts if n.is_Integer and n > 0]
        if shifts:
            n, b = max(shifts, key=lambda nb: nb[0])
            sub[sp.gamma(a)] = sp.Mul(*[b + i for i in range(int(n))]) * sp.gamma(b)
    return e.xreplace(sub) if sub else e


def _reduce_bessel(e: sp.Expr) -> sp.Expr:
    """Rewrite besseli(n, z), n >= 2, by I_n = I_(n-2) - 2 (n-1)/z I_(n-1) down to orders 0 and 1."""

    def red(b: sp.Expr) -> sp.Expr:
        n, z = b.args
        if n.is_Integer and n >= 2:
            return red(sp.besseli(n - 2, z)) - 2 * (n - 1) / z * red(sp.besseli(n - 1, z))
        return b

    if not e.has(sp.besseli):
        return e
    return e.replace(lambda a: isinstance(a, sp.besseli), red)


def _check(res: sp.Expr, what: str, x: sp.Symbol, s: sp.Set) -> sp.Expr:
    if res.has(sp.Integral, sp.Sum):
        raise IntegrationError(
            f"SymPy could not evaluate the expectation of {what} over {x} in {s}; it left {res}. "
            "Try another method ('score', 'hessian' or 'exponential'), a substitution that simplifies the density, "
            "a different chart, or numeric values for the constants."
        )
    return res


def _sum_out(g: sp.Expr, logp: sp.Expr, x: sp.Symbol, s: sp.Set, what: str) -> sp.Expr:
    if s == sp.Naturals0:
        lo, hi, step = sp.S.Zero, sp.oo, 1
    elif s == sp.Naturals:
        lo, hi, step = sp.S.One, sp.oo, 1
    elif s == sp.Integers:
        lo, hi, step = -sp.oo, sp.oo, 1
    else:
        lo, hi, step = s.inf, s.sup, s.step
    if step != 1:
        raise IntegrationError(
            f"cannot sum {what} over {x} in {s}: only unit steps are supported; rewrite the support."
        )
    if lo.is_number and hi.is_number and lo.is_finite and hi.is_finite and hi - lo <= 200:
        return _check(sp.Add(*[(g * _exp_of(logp)).xreplace({x: v}) for v in range(int(lo), int(hi) + 1)]), what, x, s)
    k = sp.Dummy("k", integer=True, nonnegative=bool(lo.is_nonnegative))
    term = (g * _exp_of(logp)).xreplace({x: k})
    term = term.replace(lambda e: isinstance(e, sp.gamma) and e.has(k), lambda e: sp.factorial(e.args[0] - 1))
    try:  # term by term: SymPy sums x^j * pmf one at a time much faster than their sum
        res = sp.Add(*[_first_branch(sp.summation(t, (k, lo, hi))) for t in sp.Add.make_args(sp.expand(term))])
    except (NotImplementedError, ValueError, TypeError) as exc:
        raise IntegrationError(f"SymPy failed on the sum of {what} over {x} in {s}: {exc}") from None
    return _check(res, what, x, s)


def _first_branch(res: sp.Expr) -> sp.Expr:
    """SymPy's sums of series come as Piecewise((value, convergence), (Sum, True)): keep the value.

    The convergence condition holds wherever the family is a normalized density.
    """

    def pick(pw: sp.Piecewise) -> sp.Expr:
        for e, _cond in pw.args:
            if not e.has(sp.Sum):
                return e
        return pw

    return res.replace(lambda e: isinstance(e, sp.Piecewise), pick)


def _gaussian_integrate(g: sp.Expr, logp: sp.Expr, x: sp.Symbol) -> tuple[sp.Expr, sp.Expr] | None:
    """Moments of a Gaussian: the integral over R of poly(x) * exp(a x^2 + b x + c), a < 0."""
    if not (g.has(x) or logp.has(x)):
        return None
    L = sp.expand(logp)
    if not L.is_polynomial(x):
        return None
    P = sp.Poly(L, x)
    if P.degree() != 2:
        return None
    a, b, c = (P.coeff_monomial(x**2), P.coeff_monomial(x), P.coeff_monomial(1))
    if not (-a).is_positive:
        return None
    ge = sp.expand(g)
    if not ge.is_polynomial(x):
        return None
    m, v = -b / (2 * a), -1 / (2 * a)
    G = sp.Poly(ge, x)
    deg = G.degree()
    M = [sp.S.One, m]
    for k in range(2, deg + 1):
        M.append(sp.expand(m * M[k - 1] + (k - 1) * v * M[k - 2]))
    new_g = sp.Add(*[coef * M[k[0]] for k, coef in zip(G.monoms(), G.coeffs())])
    new_logp = sp.expand(c - b**2 / (4 * a) + sp.log(sp.pi / (-a)) / 2)
    new_logp = sp.expand(_expand_log(new_logp))
    return sp.expand(new_g), new_logp


def _integrate_interval(f: sp.Expr, x: sp.Symbol, lo: sp.Expr, hi: sp.Expr, what: str) -> sp.Expr:
    if not f.has(x):
        return f * (hi - lo)
    if lo == -hi and sp.expand(f.xreplace({x: -x}) + f) == 0:
        return sp.S.Zero  # odd integrand on a symmetric interval
    if lo == -sp.oo and hi == sp.oo:
        r = _beta_integrate(f, x)
        if r is not None:
            return r
    # split at the kinks of Abs/sign/Heaviside whose argument is linear in x
    roots = set()
    for a in f.atoms(sp.Abs, sp.sign, sp.Heaviside):
        if not a.args[0].has(x):
            continue
        arg = a.args[0]
        if not arg.is_polynomial(x) or sp.degree(arg, x) != 1:
            raise IntegrationError(
                f"cannot integrate {what} over {x} in [{lo}, {hi}]: the kink of {a} is not linear in {x}. "
                "Substitute a variable in which it is, or use another method."
            )
        roots.add(sp.solve(arg, x)[0])
    pts = [lo, hi]
    for r in roots:
        pts.append(r)
    try:
        inner = sorted(set(pts[2:]), key=lambda r: r)  # fails if the ordering is undecidable
        for r1, r2 in zip(inner, inner[1:]):
            if not bool(r1 < r2):
                raise TypeError
    except TypeError:
        raise IntegrationError(
            f"cannot integrate {what} over {x}: the kinks at {sorted(map(str, roots))} cannot be ordered "
            "symbolically. Give numeric values for the parameters, or use another method."
        ) from None
    pieces = [lo, *inner, hi]
    try:
        return _integrate_pieces(f, x, pieces, what)
    except IntegrationError as exc:
        split = f", split at the kinks {inner}" if inner else ""
        raise IntegrationError(
            f"SymPy could not evaluate the expectation of {what}: the integral of {f} over {x} in [{lo}, {hi}]"
            f"{split}. {exc}"
        ) from None


def _integrate_pieces(f: sp.Expr, x: sp.Symbol, pieces: list, what: str) -> sp.Expr:
    total = sp.S.Zero
    t = sp.Dummy("t", positive=True)
    for a, b in zip(pieces, pieces[1:]):
        if a == b:
            continue
        if a.is_finite:
            sub, upper = a + t, (b - a if b.is_finite else sp.oo)
        elif b.is_finite:
            sub, upper = b - t, sp.oo
        else:
            sub, upper = None, None
        if sub is None:
            total += _integrate_plain(f, x, -sp.oo, sp.oo, what)
        else:
            total += _integrate_plain(f.xreplace({x: sub}), t, sp.S.Zero, upper, what)
    return total


def _beta_integrate(f: sp.Expr, x: sp.Symbol) -> sp.Expr | None:
    """Integral over R of poly(x) (x^2 + q)^(-s) with a symbolic power (Student t): Beta functions.

    Uses int_R x^(2j) (x^2 + q)^(-s) dx = q^(j + 1/2 - s) B(j + 1/2, s - j - 1/2).
    """
    powers = [
        a
        for a in sp.Mul.make_args(f)
        if isinstance(a, sp.Pow) and not a.exp.is_Integer and a.base.is_polynomial(x) and sp.degree(a.base, x) == 2
    ]
    if len(powers) != 1:
        return None
    B, e = powers[0].base, powers[0].exp
    P = sp.Poly(B, x)
    if P.coeff_monomial(x) != 0:
        return None
    b2, b0 = P.coeff_monomial(x**2), P.coeff_monomial(1)
    q = sp.cancel(b0 / b2)
    if not (q.is_positive and b2.is_positive):
        return None
    rest = sp.cancel(f / powers[0])
    num, den = sp.fraction(rest)
    if not (num.is_polynomial(x) and den.is_polynomial(x)):
        return None
    quad = sp.Poly(x**2 + q, x)
    dp, k = sp.Poly(den, x), 0
    while dp.degree() > 0:
        qq, rr = sp.div(dp, quad)
        if not rr.is_zero:
            return None
        dp, k = qq, k + 1
    C = b2**e / dp.as_expr()
    s = k - e
    total = sp.S.Zero
    for (n,), c in zip(sp.Poly(num, x).monoms(), sp.Poly(num, x).coeffs()):
        if n % 2:
            continue
        j = sp.Rational(n, 2)
        total += c * q ** (j + sp.S.Half - s) * sp.gamma(j + sp.S.Half) * sp.gamma(s - j - sp.S.Half) / sp.gamma(s)
    return sp.gammasimp(sp.powsimp(C * total))


def _integrate_plain(f: sp.Expr, x: sp.Symbol, lo: sp.Expr, hi: sp.Expr, what: str) -> sp.Expr:
    attempts = []
    c, f = f.as_independent(x, as_Add=False)
    if f.is_rational_function(x):
        try:  # antiderivative of a rational function, then the limits: cheaper than integrate()
            F = ratint(sp.cancel(f), x)
            r = sp.limit(F, x, hi, "-") - sp.limit(F, x, lo, "+")
            if r.is_finite and not r.has(sp.Limit):
                return c * r
        except (NotImplementedError, ValueError, TypeError):
            pass
    forms = [sp.cancel(f)] if f.is_rational_function(x) else []
    forms += [f, sp.expand(f)]
    for form in forms:
        try:
            r = c * sp.integrate(form, (x, lo, hi), conds="none")
        except (NotImplementedError, ValueError, TypeError, RecursionError) as exc:
            attempts.append(str(exc))
            continue
        if not r.has(sp.Integral) and not r.has(sp.nan):
            return r
        attempts.append(str(r))
    raise IntegrationError(
        f"(After substitution: the integral of {f} over {x} from {lo} to {hi}; SymPy "
        f"returned {attempts[-1] if attempts else 'nothing'}.) Try another method ('score', 'hessian' or "
        "'exponential'), a substitution that simplifies the density, a different chart, or numeric values "
        "for the constants."
    )


# ========================================================================= KL
def kl_divergence(family: ParametricFamily, p: Any, q: Any) -> sp.Expr:
    """The Kullback-Leibler divergence KL(p || q) = E_p[log p/q] between two members, in nats.

    Parameters
    ----------
    family : ParametricFamily
    p, q : sequence or mapping
        Parameter values in chart order, or mappings {coordinate: value};
        numbers or SymPy expressions.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    IntegrationError
        If the expectation cannot be evaluated in closed form (e.g. two Laplace
        members with symbolic, unordered locations and no ``kl`` given, or a
        Student t, whose KL has no closed form).

    Notes
    -----
    Routes: a reparameterized family evaluates the source family's KL at the
    mapped points; a family with a known closed form (``kl=``) uses it.
    For an exponential family, KL(p || q) = A(q) - A(p) - (eta(q) - eta(p)).m(p)
    with m the expectation parameters, and nothing is integrated. To second
    order, KL(theta || theta + d theta) = 1/2 d theta^T F(theta) d theta.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, ParametricFamily
    >>> x = sp.Symbol("x", real=True); r = sp.Symbol("r", positive=True)
    >>> a, b = sp.symbols("a b", positive=True)
    >>> fam = ParametricFamily(Chart("rate", (r,)), x, sp.log(r) - r * x, {x: sp.Interval(0, sp.oo)})
    >>> kl_divergence(fam, [a], [b])
    log(a) - log(b) - (a - b)/a
    """
    if not isinstance(family, ParametricFamily):
        raise TypeError(f"`family` must be a ParametricFamily; got {type(family).__name__}.")
    P, Q = _point(family.chart, p, "p"), _point(family.chart, q, "q")
    if family._source is not None:  # KL is a scalar: evaluate it in the source chart at the mapped points
        src, m = family._source
        return kl_divergence(src, [f.xreplace(P) for f in m.forward], [f.xreplace(Q) for f in m.forward])
    if family._kl is not None:
        return _simplify_kl(as_expr(family._kl(P, Q), "kl"))
    ef = family.exponential_form
    if ef is not None and len(ef.natural) == family.dim:
        try:
            m = _expectation_parameters(family, ef)
        except MethodNotApplicableError:
            m = None
        if m is not None:
            val = (
                ef.log_partition.xreplace(Q)
                - ef.log_partition.xreplace(P)
                - sp.Add(*[(eta.xreplace(Q) - eta.xreplace(P)) * mk.xreplace(P) for eta, mk in zip(ef.natural, m)])
            )
            return _simplify_kl(val)
    lp, lq = family.log_density.xreplace(P), family.log_density.xreplace(Q)
    diff = sp.expand(_expand_log(lp - lq))
    hard = [a for a in diff.atoms(sp.log) if a.args[0].is_Add and a.args[0].free_symbols & set(family.variables)]
    if hard:
        raise IntegrationError(
            f"no closed form for KL in family {family.name!r}: E_p[{hard[0]}] under a density that is not an "
            f"exponential family is not an integral SymPy can do reliably (over {dict(family.support)}). "
            "Pass the known closed form as ParametricFamily(..., kl=...), or evaluate KL by numerical quadrature."
        )
    val = _integrate_against(diff, lp, family.variables, family.support, what=f"log p/q = {diff}", coords=())
    return _simplify_kl(val)


def _simplify_kl(val: sp.Expr) -> sp.Expr:
    v = _expand_log(val)
    r = simplify_expr(v)
    return r if sp.count_ops(r) <= sp.count_ops(v) else v


def _solve_exact(A: sp.Matrix, b: sp.Matrix) -> list[sp.Expr]:
    """Solve A m = b exactly, in the fraction field of the entries (DomainMatrix), not by generic LU."""
    n = A.shape[0]
    M = DomainMatrix.from_Matrix(A.row_join(b)).to_field()
    R, pivots = M.rref()
    if tuple(pivots) != tuple(range(n)):
        raise ValueError("singular")
    return list(R.to_Matrix()[:, n])


def _expectation_parameters(family: ParametricFamily, ef: ExponentialForm) -> list[sp.Expr]:
    key = "_m"
    if key in family._cache:
        return family._cache[key]
    d, c = family.dim, family.coords
    J = sp.Matrix(d, d, lambda k, i: sp.diff(ef.natural[k], c[i]))
    gradA = sp.Matrix([sp.diff(ef.log_partition, ci) for ci in c])
    try:
        if J.is_diagonal():
            m = [simplify_expr(gradA[i] / J[i, i]) for i in range(d)]
        else:
            m = [simplify_expr(e) for e in _solve_exact(J.T, gradA)]
    except (ValueError, ZeroDivisionError, NotImplementedError):
        raise MethodNotApplicableError("singular d eta/d theta") from None
    if any(e.has(sp.nan, sp.zoo) for e in m):
        raise MethodNotApplicableError("singular d eta/d theta")
    family._cache[key] = m
    return m
