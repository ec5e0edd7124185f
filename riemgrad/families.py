"""A catalogue of parametric families, each in several named charts.

Every family comes as a :class:`FamilyAtlas`: the family written in each of its
charts (a :class:`~riemgrad.symbolic.fisher.ParametricFamily` per chart), the
:class:`~riemgrad.symbolic.charts.ChartMap` from each chart to the atlas's base
chart, and the closed-form Fisher metric of each chart as given in the
literature (documented data with its reference, used by the tests as ground
truth). The base chart holds the density as usually written; the other charts
are made with :meth:`ParametricFamily.reparameterize`, so their Fisher metric
("auto") is the pullback of the base chart's metric and nothing is integrated
twice.

The short functions (:func:`normal`, :func:`poisson`, ...) return the
ParametricFamily in one chart; :func:`atlas` returns the whole atlas, and
:func:`catalogue` every atlas with its default options.

Conventions: Fisher metric of ONE observation; data variable ``x`` (``x1, x2,
...`` for the multivariate normal); integer-valued variables are plain real
symbols whose support is a ``FiniteSet``, ``Range`` or ``Naturals0``.

Examples
--------
>>> from riemgrad import families, fisher_metric
>>> fisher_metric(families.normal(scale="log_sigma")).matrix
Matrix([
[exp(-2*log_sigma), 0],
[                0, 2]])
>>> a = families.atlas("poisson")
>>> a.chart_names
('rate', 'log_rate')
>>> a.closed_form("log_rate").matrix
Matrix([[exp(log_rate)]])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import sympy as sp

from .errors import ChartMismatchError, CoordinateError
from .symbolic._util import Frozen, as_expr
from .symbolic.charts import Chart, ChartMap
from .symbolic.fisher import ParametricFamily
from .symbolic.metric import Metric

__all__ = [
    "FamilyAtlas",
    "atlas",
    "catalogue",
    "normal",
    "bernoulli",
    "binomial",
    "poisson",
    "geometric",
    "exponential",
    "gamma",
    "beta",
    "categorical",
    "multivariate_normal",
    "laplace",
    "cauchy",
    "student_t",
    "von_mises",
]

_x = sp.Symbol("x", real=True)


class FamilyAtlas(Frozen):
    """A parametric family in several named charts, with the maps between them and closed forms.

    Parameters
    ----------
    name : str
        The family's name, e.g. ``"normal"``.
    base : ParametricFamily
        The family in its base chart (the density as usually written).
    to_base : mapping {chart name: ChartMap}
        For every other chart, the map from it to the base chart (its
        ``forward`` gives the base coordinates in the chart's coordinates).
    closed_forms : mapping {chart name: (matrix, reference)}
        The literature Fisher metric of each chart and where it comes from.

    Attributes
    ----------
    chart_names : tuple of str
        The base chart first, then the others in the order given.

    Examples
    --------
    >>> from riemgrad import families
    >>> a = families.atlas("exponential")
    >>> a.chart_names
    ('rate', 'scale', 'log_rate')
    >>> a.map("scale", "log_rate").forward
    (-log(scale),)
    >>> a["scale"].log_density
    log(1/scale) - x/scale
    """

    def __init__(
        self,
        name: str,
        base: ParametricFamily,
        to_base: Mapping[str, ChartMap],
        closed_forms: Mapping[str, tuple[Any, str]],
    ) -> None:
        fams = {base.chart.name: base}
        for cname, m in to_base.items():
            if m.target != base.chart or m.source.name != cname:
                raise ChartMismatchError(
                    f"`to_base[{cname!r}]` must map chart {cname!r} to the base chart {base.chart.name!r}; got {m!r}."
                )
            fams[cname] = base.reparameterize(m)
        missing = set(fams) - set(closed_forms)
        if missing:
            raise ChartMismatchError(f"`closed_forms` misses the charts {sorted(missing)} of family {name!r}.")
        self._set(
            name=str(name),
            base=base,
            families=fams,
            to_base=dict(to_base),
            closed_forms={k: (sp.ImmutableMatrix(v[0]), str(v[1])) for k, v in closed_forms.items()},
        )

    @property
    def chart_names(self) -> tuple[str, ...]:
        """The names of the charts, base first."""
        return tuple(self.families)

    def __getitem__(self, chart_name: str) -> ParametricFamily:
        return self.family(chart_name)

    def family(self, chart_name: str) -> ParametricFamily:
        """The family written in the chart ``chart_name``.

        Raises
        ------
        CoordinateError
            If the atlas has no chart of that name.
        """
        if chart_name not in self.families:
            raise CoordinateError(
                f"`chart_name` {chart_name!r} is not a chart of family {self.name!r}; "
                f"expected one of {list(self.families)}."
            )
        return self.families[chart_name]

    def chart(self, chart_name: str) -> Chart:
        """The chart named ``chart_name``."""
        return self.family(chart_name).chart

    def map(self, source: str, target: str) -> ChartMap:
        """The ChartMap from chart ``source`` to chart ``target`` (composed through the base chart).

        Raises
        ------
        InverseMapError
            If the map has no inverse where one is needed (from the simplex
            to the over-parameterized all-logits chart of the categorical).

        Examples
        --------
        >>> from riemgrad import families
        >>> families.atlas("normal").map("log_sigma", "variance").forward
        (mu, exp(2*log_sigma))
        """
        self.family(source), self.family(target)
        b = self.base.chart.name
        if source == target:
            c = self.chart(source)
            return ChartMap(c, c, c.coords, inverse=c.coords)
        if target == b:
            return self.to_base[source]
        from_base = self.to_base[target].inverse()
        if source == b:
            return from_base
        return from_base.compose(self.to_base[source])

    def closed_form(self, chart_name: str) -> Metric:
        """The literature Fisher metric in the chart ``chart_name`` (see :meth:`reference`)."""
        return Metric(self.chart(chart_name), self.closed_forms[chart_name][0], allow_singular=True)

    def reference(self, chart_name: str) -> str:
        """Where the closed form of ``chart_name`` comes from."""
        self.family(chart_name)
        return self.closed_forms[chart_name][1]

    def _repr_latex_(self) -> str:
        r"""A table for Jupyter: each chart, the map to the base chart, and its closed-form line element."""
        from .symbolic._latex import chart_latex, line_element_latex, tex_text

        rows = []
        for name in self.chart_names:
            chart = self.chart(name)
            if name == self.chart_names[0]:
                to_base = r"\text{base chart}"
            else:
                m = self.map(name, self.chart_names[0])
                to_base = r",\ ".join(
                    f"{m.target.latex_names[t]} = {chart.latex(f)}" for t, f in zip(m.target.coords, m.forward)
                )
            matrix = self.closed_forms[name][0]
            ds2 = line_element_latex(sp.Matrix(matrix), chart.coords, chart.latex_names)
            rows.append(f"{chart_latex(chart)} & {to_base} & {ds2}")
        head = rf"\text{{{tex_text(self.name)}}} & \text{{to the base chart}} & \text{{Fisher metric}}"
        return "$\\begin{array}{lll}" + head + r" \\ \hline " + r" \\ ".join(rows) + r"\end{array}$"

    def __repr__(self) -> str:
        return f"FamilyAtlas({self.name!r}, charts={list(self.families)})"


def _map(src: Chart, dst: Chart, forward: Any, inverse: Any = None) -> ChartMap:
    return ChartMap(src, dst, forward, inverse=inverse)


# ----------------------------------------------------------------- builders
_STANDARD = "Standard; e.g. Lehmann & Casella (1998), Theory of Point Estimation, Table 2.5.1"
_TRANSFORM = "From the base chart by the tensor transformation law g' = J^T g J"


def _normal(known_mean: Any = False) -> FamilyAtlas:
    x = _x
    mu = sp.Symbol("mu", real=True)
    sigma = sp.Symbol("sigma", positive=True)
    v = sp.Symbol("variance", positive=True)
    ls = sp.Symbol("log_sigma", real=True)
    if known_mean is not False:
        mu0 = sp.Symbol("mu0", real=True) if known_mean is True else as_expr(known_mean, "known_mean")
        logp = -((x - mu0) ** 2) / (2 * sigma**2) - sp.log(sigma) - sp.log(2 * sp.pi) / 2
        base = ParametricFamily(Chart("sigma", (sigma,)), x, logp, {x: sp.Reals}, name="normal_known_mean")
        cs = {
            "sigma": (sp.Matrix([[2 / sigma**2]]), _STANDARD),
            "variance": (sp.Matrix([[1 / (2 * v**2)]]), _STANDARD),
            "log_sigma": (sp.Matrix([[2]]), _TRANSFORM),
        }
        maps = {
            "variance": _map(Chart("variance", (v,)), base.chart, (sp.sqrt(v),), (sigma**2,)),
            "log_sigma": _map(Chart("log_sigma", (ls,)), base.chart, (sp.exp(ls),), (sp.log(sigma),)),
        }
        return FamilyAtlas("normal_known_mean", base, maps, cs)
    logp = -((x - mu) ** 2) / (2 * sigma**2) - sp.log(sigma) - sp.log(2 * sp.pi) / 2
    base = ParametricFamily(Chart("sigma", (mu, sigma)), x, logp, {x: sp.Reals}, name="normal")
    e1, e2 = sp.Symbol("eta1", real=True), sp.Symbol("eta2", negative=True)
    m1, m2 = sp.Symbol("m1", real=True), sp.Symbol("m2", positive=True)
    s = m2 - m1**2
    maps = {
        "variance": _map(Chart("variance", (mu, v)), base.chart, (mu, sp.sqrt(v)), (mu, sigma**2)),
        "log_sigma": _map(Chart("log_sigma", (mu, ls)), base.chart, (mu, sp.exp(ls)), (mu, sp.log(sigma))),
        "natural": _map(
            Chart("natural", (e1, e2)),
            base.chart,
            (-e1 / (2 * e2), 1 / sp.sqrt(-2 * e2)),
            (mu / sigma**2, -1 / (2 * sigma**2)),
        ),
        "expectation": _map(
            Chart("expectation", (m1, m2)), base.chart, (m1, sp.sqrt(m2 - m1**2)), (mu, mu**2 + sigma**2)
        ),
    }
    cs = {
        "sigma": (sp.diag(1 / sigma**2, 2 / sigma**2), _STANDARD + "; Amari & Nagaoka (2000)"),
        "variance": (sp.diag(1 / v, 1 / (2 * v**2)), _STANDARD),
        "log_sigma": (sp.diag(sp.exp(-2 * ls), 2), _TRANSFORM),
        "natural": (
            sp.Matrix([[-1 / (2 * e2), e1 / (2 * e2**2)], [e1 / (2 * e2**2), 1 / (2 * e2**2) - e1**2 / (2 * e2**3)]]),
            "Hessian of A(eta) = -eta1^2/(4 eta2) - log(-2 eta2)/2; Nielsen & Garcia (2009), "
            "Statistical exponential families: a digest with flash cards",
        ),
        "expectation": (
            sp.Matrix([[(2 * m1**2 + s) / s**2, -m1 / s**2], [-m1 / s**2, 1 / (2 * s**2)]]),
            "Inverse covariance of T = (x, x^2) (dual coordinates); Amari & Nagaoka (2000), sec. 3.5",
        ),
    }
    return FamilyAtlas("normal", base, maps, cs)


def _logit_maps(p: sp.Symbol, base: Chart) -> dict[str, ChartMap]:
    t = sp.Symbol("logit", real=True)
    return {"logit": _map(Chart("logit", (t,)), base, (sp.exp(t) / (1 + sp.exp(t)),), (sp.log(p / (1 - p)),))}


def _bernoulli() -> FamilyAtlas:
    x, p = _x, sp.Symbol("p", positive=True)
    base = ParametricFamily(
        Chart("p", (p,)), x, x * sp.log(p) + (1 - x) * sp.log(1 - p), {x: sp.FiniteSet(0, 1)}, name="bernoulli"
    )
    t = sp.Symbol("logit", real=True)
    cs = {
        "p": (sp.Matrix([[1 / (p * (1 - p))]]), _STANDARD),
        "logit": (sp.Matrix([[sp.exp(t) / (1 + sp.exp(t)) ** 2]]), "Variance of x at the natural parameter"),
    }
    return FamilyAtlas("bernoulli", base, _logit_maps(p, base.chart), cs)


def _binomial(n: Any = None) -> FamilyAtlas:
    x, p = _x, sp.Symbol("p", positive=True)
    n = sp.Symbol("n", positive=True, integer=True) if n is None else as_expr(n, "n")
    logp = sp.log(sp.binomial(n, x)) + x * sp.log(p) + (n - x) * sp.log(1 - p)
    base = ParametricFamily(Chart("p", (p,)), x, logp, {x: sp.Range(0, n + 1)}, name="binomial")
    t = sp.Symbol("logit", real=True)
    cs = {
        "p": (sp.Matrix([[n / (p * (1 - p))]]), _STANDARD),
        "logit": (sp.Matrix([[n * sp.exp(t) / (1 + sp.exp(t)) ** 2]]), "Variance of x at the natural parameter"),
    }
    return FamilyAtlas("binomial", base, _logit_maps(p, base.chart), cs)


def _poisson() -> FamilyAtlas:
    x, lam, t = _x, sp.Symbol("lam", positive=True), sp.Symbol("log_rate", real=True)
    base = ParametricFamily(
        Chart("rate", (lam,)), x, x * sp.log(lam) - lam - sp.loggamma(x + 1), {x: sp.Naturals0}, name="poisson"
    )
    maps = {"log_rate": _map(Chart("log_rate", (t,)), base.chart, (sp.exp(t),), (sp.log(lam),))}
    cs = {"rate": (sp.Matrix([[1 / lam]]), _STANDARD), "log_rate": (sp.Matrix([[sp.exp(t)]]), _TRANSFORM)}
    return FamilyAtlas("poisson", base, maps, cs)


def _geometric() -> FamilyAtlas:
    x, p, m = _x, sp.Symbol("p", positive=True), sp.Symbol("mean", positive=True)
    base = ParametricFamily(
        Chart("p", (p,)), x, x * sp.log(1 - p) + sp.log(p), {x: sp.Naturals0}, name="geometric"
    )  # failures before the first success
    maps = {"mean": _map(Chart("mean", (m,)), base.chart, (1 / (1 + m),), ((1 - p) / p,))}
    cs = {
        "p": (sp.Matrix([[1 / (p**2 * (1 - p))]]), _STANDARD),
        "mean": (sp.Matrix([[1 / (m * (1 + m))]]), _TRANSFORM),
    }
    return FamilyAtlas("geometric", base, maps, cs)


def _exponential() -> FamilyAtlas:
    x, r, s, t = (
        _x,
        sp.Symbol("rate", positive=True),
        sp.Symbol("scale", positive=True),
        sp.Symbol("log_rate", real=True),
    )
    base = ParametricFamily(Chart("rate", (r,)), x, sp.log(r) - r * x, {x: sp.Interval(0, sp.oo)}, name="exponential")
    maps = {
        "scale": _map(Chart("scale", (s,)), base.chart, (1 / s,), (1 / r,)),
        "log_rate": _map(Chart("log_rate", (t,)), base.chart, (sp.exp(t),), (sp.log(r),)),
    }
    cs = {
        "rate": (sp.Matrix([[1 / r**2]]), _STANDARD),
        "scale": (sp.Matrix([[1 / s**2]]), _STANDARD),
        "log_rate": (sp.Matrix([[1]]), _TRANSFORM),
    }
    return FamilyAtlas("exponential", base, maps, cs)


def _gamma() -> FamilyAtlas:
    x, k, r, s = (
        _x,
        sp.Symbol("shape", positive=True),
        sp.Symbol("rate", positive=True),
        sp.Symbol("scale", positive=True),
    )
    logp = k * sp.log(r) + (k - 1) * sp.log(x) - r * x - sp.loggamma(k)
    base = ParametricFamily(Chart("shape_rate", (k, r)), x, logp, {x: sp.Interval(0, sp.oo)}, name="gamma")
    maps = {"shape_scale": _map(Chart("shape_scale", (k, s)), base.chart, (k, 1 / s), (k, 1 / r))}
    cs = {
        "shape_rate": (
            sp.Matrix([[sp.polygamma(1, k), -1 / r], [-1 / r, k / r**2]]),
            "Arwini & Dodson (2008), Information Geometry: Near Randomness and Near Independence, ch. 5",
        ),
        "shape_scale": (sp.Matrix([[sp.polygamma(1, k), 1 / s], [1 / s, k / s**2]]), "Arwini & Dodson (2008), ch. 5"),
    }
    return FamilyAtlas("gamma", base, maps, cs)


def _beta() -> FamilyAtlas:
    x, a, b = _x, sp.Symbol("a", positive=True), sp.Symbol("b", positive=True)
    logp = (a - 1) * sp.log(x) + (b - 1) * sp.log(1 - x) + sp.loggamma(a + b) - sp.loggamma(a) - sp.loggamma(b)
    base = ParametricFamily(Chart("ab", (a, b)), x, logp, {x: sp.Interval(0, 1)}, name="beta")
    t = sp.polygamma(1, a + b)
    cs = {
        "ab": (
            sp.Matrix([[sp.polygamma(1, a) - t, -t], [-t, sp.polygamma(1, b) - t]]),
            "Exponential family in (a - 1, b - 1); Arwini & Dodson (2008), ch. 5",
        )
    }
    return FamilyAtlas("beta", base, {}, cs)


def _categorical(k: int = 3) -> FamilyAtlas:
    if not isinstance(k, int) or k < 2:
        raise CoordinateError(f"`k` must be an integer >= 2 (the number of classes); got {k!r}.")
    x = _x
    ps = [sp.Symbol(f"p{i}", positive=True) for i in range(1, k)]
    p0 = 1 - sp.Add(*ps)
    logp = sp.Add(*[sp.KroneckerDelta(x, i) * sp.log(ps[i - 1] / p0) for i in range(1, k)]) + sp.log(p0)
    base = ParametricFamily(Chart("simplex", ps), x, logp, {x: sp.FiniteSet(*range(k))}, name=f"categorical({k})")
    th = [sp.Symbol(f"theta{i}", real=True) for i in range(k)]
    Z = 1 + sp.Add(*[sp.exp(t) for t in th[1:]])
    Zall = sp.Add(*[sp.exp(t) for t in th])
    maps = {
        "logits": _map(
            Chart("logits", th[1:]), base.chart, [sp.exp(t) / Z for t in th[1:]], [sp.log(p / p0) for p in ps]
        ),
        "all_logits": _map(Chart("all_logits", th), base.chart, [sp.exp(t) / Zall for t in th[1:]]),
    }
    pi = [sp.exp(t) / Z for t in th[1:]]
    pia = [sp.exp(t) / Zall for t in th]
    cs = {
        "simplex": (
            sp.Matrix(k - 1, k - 1, lambda i, j: (1 / ps[i] if i == j else 0) + 1 / p0),
            "Amari & Nagaoka (2000), sec. 2.2 (the multinomial simplex)",
        ),
        "logits": (
            sp.Matrix(k - 1, k - 1, lambda i, j: (pi[i] if i == j else 0) - pi[i] * pi[j]),
            "Covariance of the one-hot statistic: diag(pi) - pi pi^T (natural parameters, reference class 0)",
        ),
        "all_logits": (
            sp.Matrix(k, k, lambda i, j: (pia[i] if i == j else 0) - pia[i] * pia[j]),
            "diag(pi) - pi pi^T with pi = softmax(theta); singular (rank k - 1): the chart is over-parameterized",
        ),
    }
    return FamilyAtlas(f"categorical({k})", base, maps, cs)


def _mvn(d: int = 2) -> FamilyAtlas:
    if not isinstance(d, int) or d < 1:
        raise CoordinateError(f"`d` must be a positive integer (the dimension); got {d!r}.")
    xs = [sp.Symbol(f"x{i}", real=True) for i in range(1, d + 1)]
    ms = [sp.Symbol(f"m{i}", real=True) for i in range(1, d + 1)]
    S = sp.zeros(d, d)
    cov = []
    for i in range(d):
        for j in range(i, d):
            s = sp.Symbol(f"s{i + 1}{j + 1}", positive=True) if i == j else sp.Symbol(f"s{i + 1}{j + 1}", real=True)
            S[i, j] = S[j, i] = s
            cov.append((s, i, j))
    det = sp.factor(S.det(method="berkowitz"))
    P = S.adjugate() / det
    r = sp.Matrix([xi - mi for xi, mi in zip(xs, ms)])
    logp = -sp.expand((r.T * S.adjugate() * r)[0, 0]) / (2 * det) - sp.log(det) / 2 - d * sp.log(2 * sp.pi) / 2
    coords = ms + [c[0] for c in cov]
    base = ParametricFamily(
        Chart("mean_covariance", coords), xs, logp, {xi: sp.Reals for xi in xs}, name=f"multivariate_normal({d})"
    )
    n = len(coords)
    F = sp.zeros(n, n)
    for i in range(d):
        for j in range(d):
            F[i, j] = sp.cancel(P[i, j])
    E = []
    for _s, i, j in cov:
        Ea = sp.zeros(d, d)
        Ea[i, j] = Ea[j, i] = 1
        E.append(Ea)
    for a in range(len(cov)):
        for b in range(a, len(cov)):
            F[d + a, d + b] = F[d + b, d + a] = sp.cancel((P * E[a] * P * E[b]).trace() / 2)
    cs = {
        "mean_covariance": (
            F,
            "F_mean = Sigma^-1, F_ab = tr(Sigma^-1 dSigma_a Sigma^-1 dSigma_b)/2, no cross terms; "
            "Mardia & Marshall (1984), Biometrika 71:135; Porat & Friedlander (1986)",
        )
    }
    return FamilyAtlas(f"multivariate_normal({d})", base, {}, cs)


def _location_scale(
    name: str, logp_std: Callable[[sp.Expr], sp.Expr], g_mu: Any, g_s: Any, ref: str, kl: Any = None
) -> FamilyAtlas:
    x, mu, b, t = _x, sp.Symbol("mu", real=True), sp.Symbol("scale", positive=True), sp.Symbol("log_scale", real=True)
    logp = logp_std((x - mu) / b) - sp.log(b)
    klf = None
    if kl is not None:

        def klf(P: dict, Q: dict) -> sp.Expr:
            return kl(P[mu], P[b], Q[mu], Q[b])

    base = ParametricFamily(Chart("scale", (mu, b)), x, logp, {x: sp.Reals}, name=name, kl=klf)
    maps = {"log_scale": _map(Chart("log_scale", (mu, t)), base.chart, (mu, sp.exp(t)), (mu, sp.log(b)))}
    cs = {
        "scale": (sp.diag(g_mu / b**2, g_s / b**2), ref),
        "log_scale": (sp.diag(g_mu * sp.exp(-2 * t), g_s), _TRANSFORM),
    }
    return FamilyAtlas(name, base, maps, cs)


def _laplace() -> FamilyAtlas:
    # KL: Gil, Alajaji & Hoseinzadeh (2013), Information Sciences 249:124, Table 3
    return _location_scale(
        "laplace",
        lambda z: -sp.Abs(z) - sp.log(2),
        1,
        1,
        "Standard; the score route (not twice differentiable)",
        kl=lambda m1, b1, m2, b2: sp.log(b2 / b1) + sp.Abs(m1 - m2) / b2 + b1 / b2 * sp.exp(-sp.Abs(m1 - m2) / b1) - 1,
    )


def _cauchy() -> FamilyAtlas:
    return _location_scale(
        "cauchy",
        lambda z: -sp.log(sp.pi * (1 + z**2)),
        sp.Rational(1, 2),
        sp.Rational(1, 2),
        "Standard; Lange, Little & Taylor (1989) with nu = 1",
        # KL: Chyzak & Nielsen (2019), arXiv:1905.10965
        kl=lambda m1, g1, m2, g2: sp.log(((g1 + g2) ** 2 + (m1 - m2) ** 2) / (4 * g1 * g2)),
    )


def _student_t(nu: Any = None) -> FamilyAtlas:
    nu = sp.Symbol("nu", positive=True) if nu is None else as_expr(nu, "nu")
    c = sp.loggamma((nu + 1) / 2) - sp.loggamma(nu / 2) - sp.log(nu * sp.pi) / 2
    return _location_scale(
        f"student_t({nu})",
        lambda z: c - (nu + 1) / 2 * sp.log(1 + z**2 / nu),
        (nu + 1) / (nu + 3),
        2 * nu / (nu + 3),
        "Lange, Little & Taylor (1989), JASA 84:881, sec. 3",
    )


def _von_mises() -> FamilyAtlas:
    x, mu, kappa = _x, sp.Symbol("mu", real=True), sp.Symbol("kappa", positive=True)
    logp = kappa * sp.cos(x - mu) - sp.log(2 * sp.pi * sp.besseli(0, kappa))
    base = ParametricFamily(Chart("mu_kappa", (mu, kappa)), x, logp, {x: sp.Interval(-sp.pi, sp.pi)}, name="von_mises")
    A = sp.besseli(1, kappa) / sp.besseli(0, kappa)
    cs = {
        "mu_kappa": (
            sp.diag(kappa * A, 1 - A / kappa - A**2),
            "Mardia & Jupp (2000), Directional Statistics, sec. 5.3 (A = I1/I0, A' = 1 - A/kappa - A^2)",
        )
    }
    return FamilyAtlas("von_mises", base, {}, cs)


_BUILDERS: dict[str, Callable[..., FamilyAtlas]] = {
    "normal": _normal,
    "bernoulli": _bernoulli,
    "binomial": _binomial,
    "poisson": _poisson,
    "geometric": _geometric,
    "exponential": _exponential,
    "gamma": _gamma,
    "beta": _beta,
    "categorical": _categorical,
    "multivariate_normal": _mvn,
    "laplace": _laplace,
    "cauchy": _cauchy,
    "student_t": _student_t,
    "von_mises": _von_mises,
}

#: Every catalogue entry with the options the tests and benchmark use.
_DEFAULTS: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = (
    ("normal", ()),
    ("normal", (("known_mean", True),)),
    ("bernoulli", ()),
    ("binomial", ()),
    ("poisson", ()),
    ("geometric", ()),
    ("exponential", ()),
    ("gamma", ()),
    ("beta", ()),
    ("categorical", (("k", 3),)),
    ("multivariate_normal", (("d", 2),)),
    ("laplace", ()),
    ("cauchy", ()),
    ("student_t", ()),
    ("von_mises", ()),
)


@cache
def _atlas_cached(name: str, options: tuple[tuple[str, Any], ...]) -> FamilyAtlas:
    return _BUILDERS[name](**dict(options))


def atlas(name: str, **options: Any) -> FamilyAtlas:
    """The catalogue family ``name`` in all its charts.

    Parameters
    ----------
    name : str
        One of ``"normal", "bernoulli", "binomial", "poisson", "geometric",
        "exponential", "gamma", "beta", "categorical", "multivariate_normal",
        "laplace", "cauchy", "student_t", "von_mises"``.
    **options
        The family's options: ``known_mean`` (normal), ``n`` (binomial),
        ``k`` (categorical), ``d`` (multivariate_normal), ``nu`` (student_t).

    Returns
    -------
    FamilyAtlas
        Cached: the same options give the same (immutable) object.

    Raises
    ------
    CoordinateError
        If ``name`` is not in the catalogue.

    Examples
    --------
    >>> from riemgrad import families
    >>> families.atlas("gamma").chart_names
    ('shape_rate', 'shape_scale')
    """
    if name not in _BUILDERS:
        raise CoordinateError(f"`name` {name!r} is not in the catalogue; expected one of {sorted(_BUILDERS)}.")
    return _atlas_cached(name, tuple(sorted(options.items())))


def catalogue() -> list[FamilyAtlas]:
    """Every catalogue family, with its default options (``categorical(3)``, ``multivariate_normal(2)``, ...).

    Examples
    --------
    >>> from riemgrad import families
    >>> [a.name for a in families.catalogue()][:3]
    ['normal', 'normal_known_mean', 'bernoulli']
    """
    return [atlas(n, **dict(o)) for n, o in _DEFAULTS]


def _pick(name: str, chart: str, **options: Any) -> ParametricFamily:
    return atlas(name, **options).family(chart)


def normal(scale: str = "sigma", known_mean: Any = False) -> ParametricFamily:
    """The normal family N(mu, sigma^2).

    Parameters
    ----------
    scale : {"sigma", "variance", "log_sigma", "natural", "expectation"}
        The chart: (mu, sigma), (mu, variance), (mu, log_sigma), the natural
        parameters (eta1, eta2) = (mu/sigma^2, -1/(2 sigma^2)), or the
        expectation parameters (m1, m2) = (mu, mu^2 + sigma^2). With a known
        mean only the first three exist (one coordinate each).
    known_mean : bool or sympy expression
        False: the mean is a coordinate. True: the mean is the fixed symbol
        ``mu0``. An expression: the mean is that value.

    Examples
    --------
    >>> from riemgrad import families, fisher_metric
    >>> fisher_metric(families.normal("variance", known_mean=True)).matrix
    Matrix([[1/(2*variance**2)]])
    """
    return _pick("normal", scale, known_mean=known_mean)


def bernoulli(param: str = "p") -> ParametricFamily:
    """The Bernoulli family on {0, 1}; charts ``"p"`` and ``"logit"`` (log p/(1-p)).

    Examples
    --------
    >>> from riemgrad import families, fisher_metric
    >>> fisher_metric(families.bernoulli("logit")).matrix
    Matrix([[exp(logit)/(exp(logit) + 1)**2]])
    """
    return _pick("bernoulli", param)


def binomial(n: Any = None, param: str = "p") -> ParametricFamily:
    """The binomial family with ``n`` trials (a positive integer symbol ``n`` if None); charts ``"p"``, ``"logit"``.

    Examples
    --------
    >>> from riemgrad import families, fisher_metric
    >>> fisher_metric(families.binomial(5)).matrix
    Matrix([[-5/(p*(p - 1))]])
    """
    return _pick("binomial", param, n=n)


def poisson(param: str = "rate") -> ParametricFamily:
    """The Poisson family on Naturals0; charts ``"rate"`` (lam) and ``"log_rate"``.

    Examples
    --------
    >>> from riemgrad import families, fisher_metric
    >>> fisher_metric(families.poisson()).matrix
    Matrix([[1/lam]])
    """
    return _pick("poisson", param)


def geometric(param: str = "p") -> ParametricFamily:
    """The geometric family (failures before the first success) on Naturals0; charts ``"p"`` and ``"mean"``.

    Examples
    --------
    >>> from riemgrad import families, fisher_metric
    >>> fisher_metric(families.geometric("mean")).matrix
    Matrix([[1/(mean*(mean + 1))]])
    """
    return _pick("geometric", param)


def exponential(param: str = "rate") -> ParametricFamily:
    """The exponential family on (0, oo); charts ``"rate"``, ``"scale"`` and ``"log_rate"``.

    Examples
    --------
    >>> from riemgrad import families, fisher_metric
    >>> fisher_metric(families.exponential("scale")).matrix
    Matrix([[scale**(-2)]])
    """
    return _pick("exponential", param)


def gamma(param: str = "shape_rate") -> ParametricFamily:
    """The gamma family on (0, oo); charts ``"shape_rate"`` and ``"shape_scale"``.

    Examples
    --------
    >>> from riemgrad import families, fisher_metric
    >>> fisher_metric(families.gamma()).matrix
    Matrix([
    [polygamma(1, shape),    -1/rate],
    [            -1/rate, shape/rate**2]])
    """
    return _pick("gamma", param)


def beta(param: str = "ab") -> ParametricFamily:
    """The beta family on (0, 1); chart ``"ab"``.

    Examples
    --------
    >>> from riemgrad import families, fisher_metric
    >>> fisher_metric(families.beta()).matrix[0, 1]
    -polygamma(1, a + b)
    """
    return _pick("beta", param)


def categorical(k: int = 3, param: str = "simplex") -> ParametricFamily:
    """The categorical family on {0, ..., k-1}.

    Charts: ``"simplex"`` (p1, ..., p_{k-1}; p0 = 1 - sum), ``"logits"``
    (theta_i = log p_i/p0, reference class 0) and ``"all_logits"`` (theta_0,
    ..., theta_{k-1}, p = softmax(theta)), which is over-parameterized: its
    Fisher metric is singular and its ``.inverse`` raises SingularMetricError.

    Examples
    --------
    >>> from riemgrad import families, fisher_metric
    >>> fisher_metric(families.categorical(2)).matrix
    Matrix([[-1/(p1*(p1 - 1))]])
    """
    return _pick("categorical", param, k=k)


def multivariate_normal(d: int = 2, param: str = "mean_covariance") -> ParametricFamily:
    """The d-variate normal in (m1..md, s11, s12, ..., sdd): the mean, then the covariance entries i <= j.

    Examples
    --------
    >>> from riemgrad import families
    >>> families.multivariate_normal(2).chart.coords
    (m1, m2, s11, s12, s22)
    """
    return _pick("multivariate_normal", param, d=d)


def laplace(param: str = "scale") -> ParametricFamily:
    """The Laplace location-scale family; charts ``"scale"`` (mu, scale) and ``"log_scale"``.

    Examples
    --------
    >>> from riemgrad import families, fisher_metric
    >>> fisher_metric(families.laplace()).matrix
    Matrix([
    [scale**(-2),           0],
    [          0, scale**(-2)]])
    """
    return _pick("laplace", param)


def cauchy(param: str = "scale") -> ParametricFamily:
    """The Cauchy location-scale family; charts ``"scale"`` (mu, scale) and ``"log_scale"``.

    Examples
    --------
    >>> from riemgrad import families, fisher_metric
    >>> fisher_metric(families.cauchy()).matrix
    Matrix([
    [1/(2*scale**2),              0],
    [             0, 1/(2*scale**2)]])
    """
    return _pick("cauchy", param)


def student_t(nu: Any = None, param: str = "scale") -> ParametricFamily:
    """Student's t location-scale family with ``nu`` degrees of freedom (a positive symbol if None).

    Examples
    --------
    >>> from riemgrad import families
    >>> families.student_t(3).chart.coords
    (mu, scale)
    """
    return _pick("student_t", param, nu=nu)


def von_mises(param: str = "mu_kappa") -> ParametricFamily:
    """The von Mises family on [-pi, pi]; chart ``"mu_kappa"`` (mean direction, concentration).

    Examples
    --------
    >>> from riemgrad import families
    >>> families.von_mises().exponential_form.natural
    (kappa*cos(mu), kappa*sin(mu))
    """
    return _pick("von_mises", param)
