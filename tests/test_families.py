"""The catalogue: every family in every chart, against the literature and the transformation law."""

from __future__ import annotations

import random

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from riemgrad import families, fisher_metric, kl_divergence
from riemgrad.errors import CoordinateError, InverseMapError, SingularMetricError
from riemgrad.symbolic import simplify_expr
from riemgrad.symbolic.fisher import fisher_route

CASES = [(a.name, c) for a in families.catalogue() for c in a.chart_names]
IDS = [f"{n}-{c}" for n, c in CASES]
_ATLASES = {a.name: a for a in families.catalogue()}


def _atlas(name):
    return _ATLASES[name]


def _sample(symbols, rng):
    """Values in every symbol's domain (small, so that the simplex and m2 > m1^2 constraints hold)."""
    out = {}
    for s in symbols:
        if s.is_positive:
            out[s] = sp.Rational(rng.randint(10, 30), 100)
        elif s.is_negative:
            out[s] = -sp.Rational(rng.randint(10, 30), 100)
        else:
            out[s] = sp.Rational(rng.randint(-25, 25), 100)
    return out


def same(a, b, symbols=None) -> bool:
    """Exact equality after the targeted simplifier; numeric (30 digits) at random points for special functions."""
    d = simplify_expr(sp.sympify(a) - sp.sympify(b))
    if d == 0:
        return True
    rng = random.Random(0)
    syms = sorted(d.free_symbols if symbols is None else symbols, key=str)
    for _ in range(3):
        v = d.xreplace(_sample(syms, rng)).evalf(30)
        if not (abs(v) < 1e-20):
            return False
    return True


def same_matrix(A, B) -> bool:
    return A.shape == B.shape and all(same(a, b) for a, b in zip(A, B))


def _direct_method(fam):
    ef = fam.exponential_form
    if ef is not None and len(ef.natural) == fam.dim:
        return "exponential"
    return "hessian" if fam.is_twice_differentiable else "score"


@pytest.mark.parametrize(("name", "chart"), CASES, ids=IDS)
def test_auto_equals_literature(name, chart):
    a = _atlas(name)
    g = fisher_metric(a[chart])
    assert g.chart == a.chart(chart)
    assert same_matrix(g.matrix, a.closed_form(chart).matrix)


@pytest.mark.parametrize(("name", "chart"), CASES, ids=IDS)
def test_derived_from_density_equals_literature(name, chart):
    """Re-derive from the chart's own density (no pullback) by the direct route."""
    a = _atlas(name)
    fam = a[chart]
    g = fisher_metric(fam, method=_direct_method(fam))
    assert same_matrix(g.matrix, a.closed_form(chart).matrix)


@pytest.mark.parametrize(("name", "chart"), CASES, ids=IDS)
def test_closed_forms_obey_transformation_law(name, chart):
    """The literature metric of the base chart pulled back through the ChartMap is the chart's literature metric."""
    a = _atlas(name)
    base = a.base.chart.name
    g = a.closed_form(base).pullback(a.map(chart, base))
    assert same_matrix(g.matrix, a.closed_form(chart).matrix)


@pytest.mark.parametrize("name", sorted({n for n, _ in CASES if len(_atlas(n).chart_names) > 2}))
def test_maps_between_non_base_charts(name):
    a = _atlas(name)
    charts = [c for c in a.chart_names if c != a.base.chart.name and c != "all_logits"]
    for s in charts:
        for t in charts:
            g = a.closed_form(t).pullback(a.map(s, t))
            assert same_matrix(g.matrix, a.closed_form(s).matrix), (s, t)


def test_routes_are_the_cheap_ones():
    assert fisher_route(families.normal("sigma")) == "exponential"
    assert fisher_route(families.normal("natural")) == "pullback(sigma)"
    assert fisher_route(families.laplace()) == "score"
    assert fisher_route(families.cauchy()) == "hessian"


def test_all_logits_is_singular_and_reported():
    g = fisher_metric(families.categorical(3, "all_logits"))
    assert g.chart.dim == 3
    assert simplify_expr(g.det) == 0
    with pytest.raises(SingularMetricError, match="singular.*over-parameterized"):
        _ = g.inverse
    with pytest.raises(InverseMapError, match="changes dimension"):
        families.atlas("categorical", k=3).map("simplex", "all_logits")


def test_categorical_simplex_k4_literature():
    a = families.atlas("categorical", k=4)
    p = a.chart("simplex").coords
    p0 = 1 - sum(p)
    expected = sp.Matrix(3, 3, lambda i, j: (1 / p[i] if i == j else 0) + 1 / p0)
    assert same_matrix(fisher_metric(a["simplex"]).matrix, expected)
    assert same_matrix(fisher_metric(a["logits"]).matrix, a.closed_form("logits").matrix)


def test_binomial_numeric_n_by_summation():
    fam = families.binomial(4)
    p = fam.coords[0]
    assert same(fisher_metric(fam, method="score")[0, 0], 4 / (p * (1 - p)))
    assert same(fisher_metric(fam, method="hessian")[0, 0], 4 / (p * (1 - p)))


def test_poisson_and_geometric_sums_closed_form():
    lam = families.poisson().coords[0]
    assert same(fisher_metric(families.poisson(), method="score")[0, 0], 1 / lam)
    p = families.geometric().coords[0]
    assert same(fisher_metric(families.geometric(), method="hessian")[0, 0], 1 / (p**2 * (1 - p)))


def test_normal_known_mean_value():
    fam = families.normal("sigma", known_mean=sp.Rational(3, 10))
    s = fam.coords[0]
    assert fisher_metric(fam, method="score").matrix == sp.Matrix([[2 / s**2]])


def test_student_t_numeric_nu_and_cauchy_limit():
    fam = families.student_t(1)
    s = fam.coords[1]
    assert same_matrix(fisher_metric(fam).matrix, sp.diag(1 / (2 * s**2), 1 / (2 * s**2)))


def test_normal_fisher_rao_curvature():
    # REFERENCE fisher_rao.normal.curvature
    assert fisher_metric(families.normal("sigma")).gaussian_curvature() == sp.Rational(-1, 2)
    assert simplify_expr(fisher_metric(families.normal("natural")).gaussian_curvature()) == sp.Rational(-1, 2)


def test_atlas_lookup_errors():
    with pytest.raises(CoordinateError, match="not in the catalogue"):
        families.atlas("weibull")
    with pytest.raises(CoordinateError, match="not a chart of family"):
        families.normal("precision")
    with pytest.raises(CoordinateError, match="integer >= 2"):
        families.categorical(1)


# ------------------------------------------------------------------ KL
KL_CASES = [(n, c) for n, c in CASES if not n.startswith("student_t")]


@pytest.mark.parametrize(("name", "chart"), KL_CASES, ids=[f"{n}-{c}" for n, c in KL_CASES])
def test_kl_second_order_is_half_fisher(name, chart):
    """d^2/d eps^2 KL(theta || theta + eps d) at eps = 0 equals d^T F d."""
    a = _atlas(name)
    fam = a[chart]
    th = fam.coords
    eps = sp.Symbol("eps", positive=True)
    d = [sp.Rational(k + 2, 3) * (-1) ** k for k in range(fam.dim)]
    kl = kl_divergence(fam, th, [t + eps * di for t, di in zip(th, d)])
    second = sp.diff(kl, eps, 2).subs(eps, 0)
    F = a.closed_form(chart).matrix
    quad = sum(d[i] * F[i, j] * d[j] for i in range(fam.dim) for j in range(fam.dim))
    assert same(second, quad)
    assert same(kl.subs(eps, 0), 0)


def test_kl_laplace_closed_form_matches_integration():
    """The catalogue's Laplace KL (a literature closed form) against direct integration at numeric points."""
    from riemgrad import ParametricFamily

    fam = families.laplace()
    plain = ParametricFamily(fam.chart, fam.variables, fam.log_density, fam.support)
    p, q = [sp.Rational(1, 3), 2], [sp.Rational(-1, 2), sp.Rational(1, 2)]
    assert same(kl_divergence(fam, p, q), kl_divergence(plain, p, q))


@pytest.mark.parametrize("name", ["cauchy", "laplace"])
def test_catalogue_kl_closed_forms_against_quadrature(name):
    """The literature KL closed forms (Laplace, Cauchy) against numerical quadrature of E_p[log p/q]."""
    import mpmath

    fam = families.atlas(name).base
    p, q = [sp.Rational(1, 3), sp.Rational(3, 2)], [-1, sp.Rational(1, 2)]
    lp = sp.lambdify(fam.variables, fam.at(p), "mpmath")
    lq = sp.lambdify(fam.variables, fam.at(q), "mpmath")
    mpmath.mp.dps = 30
    val = mpmath.quad(lambda t: mpmath.exp(lp(t)) * (lp(t) - lq(t)), [-mpmath.inf, -1, sp.Rational(1, 3), mpmath.inf])
    assert abs(kl_divergence(fam, p, q).evalf(30) - val) < 1e-15


@settings(max_examples=15, deadline=None)
@given(
    st.sampled_from(["normal", "gamma", "poisson", "laplace", "cauchy", "beta"]),
    st.lists(st.integers(1, 40), min_size=4, max_size=4),
)
def test_kl_nonnegative_and_zero_on_diagonal(name, vals):
    fam = families.atlas(name).base
    pts = []
    for k in range(2):
        pt = {}
        for i, c in enumerate(fam.coords):
            v = sp.Rational(vals[(2 * k + i) % 4], 10)
            pt[c] = v if c.is_positive else v - 2
        pts.append(pt)
    kl = kl_divergence(fam, pts[0], pts[1])
    assert float(kl.evalf()) >= -1e-12
    assert abs(float(kl_divergence(fam, pts[0], pts[0]).evalf())) < 1e-12
