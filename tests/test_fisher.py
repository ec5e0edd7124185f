"""ParametricFamily, fisher_metric and kl_divergence against REFERENCE.md and the literature."""

from __future__ import annotations

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from riemgrad import Chart, ChartMap, ParametricFamily, fisher_metric, kl_divergence
from riemgrad.errors import (
    ChartMismatchError,
    CoordinateError,
    IntegrationError,
    MethodNotApplicableError,
    ShapeError,
)
from riemgrad.symbolic import simplify_expr
from riemgrad.symbolic.budget import budgets
from riemgrad.symbolic.fisher import fisher_route

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)
mu = sp.Symbol("mu", real=True)
sigma = sp.Symbol("sigma", positive=True)
v = sp.Symbol("v", positive=True)
tau = sp.Symbol("tau", real=True)
b = sp.Symbol("b", positive=True)

METHODS = ["score", "hessian", "exponential"]


def normal_density(m, s):
    return sp.exp(-((x - m) ** 2) / (2 * s**2)) / (sp.sqrt(2 * sp.pi) * s)


def equal(A, B) -> bool:
    A, B = sp.Matrix(A), sp.Matrix(B)
    return A.shape == B.shape and all(simplify_expr(a - c) == 0 for a, c in zip(A, B))


# --------------------------------------------------------- REFERENCE facts
@pytest.mark.parametrize("method", METHODS)
def test_normal_known_mean_variance(method):
    # fisher.normal_known_mean.variance, mu0 = 3/10
    mu0 = sp.Rational(3, 10)
    fam = ParametricFamily.from_density(
        sp.exp(-((x - mu0) ** 2) / (2 * v)) / sp.sqrt(2 * sp.pi * v), Chart("variance", (v,)), x, {x: sp.Reals}
    )
    assert equal(fisher_metric(fam, method).matrix, [[1 / (2 * v**2)]])


@pytest.mark.parametrize("method", METHODS)
def test_normal_known_mean_sigma_and_log_sigma(method):
    # fisher.normal_known_mean.sigma (mu0 = -1) and .log_sigma (mu0 = 0)
    fam = ParametricFamily.from_density(normal_density(-1, sigma), Chart("sigma", (sigma,)), x, {x: sp.Reals})
    assert equal(fisher_metric(fam, method).matrix, [[2 / sigma**2]])
    dens = sp.exp(-(x**2) / (2 * sp.exp(2 * tau))) / (sp.sqrt(2 * sp.pi) * sp.exp(tau))
    fam = ParametricFamily.from_density(dens, Chart("log_sigma", (tau,)), x, {x: sp.Reals})
    assert equal(fisher_metric(fam, method).matrix, [[2]])


@pytest.mark.parametrize("method", METHODS)
def test_normal_three_charts(method):
    # fisher.normal.mu_sigma, .mu_variance, .mu_log_sigma
    fam = ParametricFamily.from_density(normal_density(mu, sigma), Chart("sigma", (mu, sigma)), x, {x: sp.Reals})
    assert equal(fisher_metric(fam, method).matrix, sp.diag(1 / sigma**2, 2 / sigma**2))
    fam = ParametricFamily.from_density(
        sp.exp(-((x - mu) ** 2) / (2 * v)) / sp.sqrt(2 * sp.pi * v), Chart("variance", (mu, v)), x, {x: sp.Reals}
    )
    assert equal(fisher_metric(fam, method).matrix, sp.diag(1 / v, 1 / (2 * v**2)))
    fam = ParametricFamily.from_density(
        normal_density(mu, sp.exp(tau)), Chart("log_sigma", (mu, tau)), x, {x: sp.Reals}
    )
    assert equal(fisher_metric(fam, method).matrix, sp.diag(sp.exp(-2 * tau), 2))


@pytest.mark.parametrize("method", METHODS)
def test_bernoulli(method):
    p = sp.Symbol("p", positive=True)
    fam = ParametricFamily.from_density(p**x * (1 - p) ** (1 - x), Chart("p", (p,)), x, {x: sp.FiniteSet(0, 1)})
    assert equal(fisher_metric(fam, method).matrix, [[1 / (p * (1 - p))]])


@pytest.mark.parametrize("method", METHODS)
def test_poisson_sum_over_naturals0(method):
    lam = sp.Symbol("lam", positive=True)
    fam = ParametricFamily.from_density(
        sp.exp(x * sp.log(lam) - lam - sp.loggamma(x + 1)), Chart("rate", (lam,)), x, {x: sp.Naturals0}
    )
    assert equal(fisher_metric(fam, method).matrix, [[1 / lam]])


@pytest.mark.parametrize("method", METHODS)
def test_exponential_rate(method):
    r = sp.Symbol("r", positive=True)
    fam = ParametricFamily.from_density(r * sp.exp(-r * x), Chart("rate", (r,)), x, {x: sp.Interval(0, sp.oo)})
    assert equal(fisher_metric(fam, method).matrix, [[1 / r**2]])


@pytest.mark.parametrize("method", ["hessian", "exponential"])
def test_gamma_shape_rate(method):
    k, r = sp.symbols("k r", positive=True)
    fam = ParametricFamily.from_density(
        r**k * x ** (k - 1) * sp.exp(-r * x) / sp.gamma(k), Chart("shape_rate", (k, r)), x, {x: sp.Interval(0, sp.oo)}
    )
    expected = sp.Matrix([[sp.polygamma(1, k), -1 / r], [-1 / r, k / r**2]])
    assert equal(fisher_metric(fam, method).matrix, expected)


@pytest.mark.parametrize("method", ["hessian", "exponential"])
def test_beta(method):
    a, c = sp.symbols("a c", positive=True)
    dens = x ** (a - 1) * (1 - x) ** (c - 1) * sp.gamma(a + c) / (sp.gamma(a) * sp.gamma(c))
    fam = ParametricFamily.from_density(dens, Chart("ab", (a, c)), x, {x: sp.Interval(0, 1)})
    t = sp.polygamma(1, a + c)
    assert equal(fisher_metric(fam, method).matrix, [[sp.polygamma(1, a) - t, -t], [-t, sp.polygamma(1, c) - t]])


def test_transformation_law_reference():
    # classic.transformation_law.normal_sigma_to_log_sigma
    fam = ParametricFamily.from_density(normal_density(mu, sigma), Chart("sigma", (mu, sigma)), x, {x: sp.Reals})
    m = ChartMap(Chart("log_sigma", (mu, tau)), fam.chart, (mu, sp.exp(tau)))
    assert m.jacobian() == sp.Matrix([[1, 0], [0, sp.exp(tau)]])
    new = fam.reparameterize(m)
    assert fisher_route(new) == "pullback(sigma)"
    assert equal(fisher_metric(new).matrix, sp.diag(sp.exp(-2 * tau), 2))
    assert equal(fisher_metric(new, "hessian").matrix, sp.diag(sp.exp(-2 * tau), 2))
    # the same map given the other way round
    assert equal(fisher_metric(fam.reparameterize(m.inverse())).matrix, sp.diag(sp.exp(-2 * tau), 2))


def test_normal_curvature_from_derived_metric():
    # fisher_rao.normal.curvature
    fam = ParametricFamily.from_density(normal_density(mu, sigma), Chart("sigma", (mu, sigma)), x, {x: sp.Reals})
    g = fisher_metric(fam, "score")
    assert g.gaussian_curvature() == sp.Rational(-1, 2)
    assert g.scalar_curvature() == -1


def test_two_dimensional_normal_two_variables():
    """A 2-D normal with correlation rho known: Fisher in the two means is the precision matrix."""
    m1, m2 = sp.symbols("m1 m2", real=True)
    rho = sp.Rational(1, 3)
    q = ((x - m1) ** 2 - 2 * rho * (x - m1) * (y - m2) + (y - m2) ** 2) / (1 - rho**2)
    logp = -q / 2 - sp.log(2 * sp.pi * sp.sqrt(1 - rho**2))
    fam = ParametricFamily(Chart("means", (m1, m2)), (x, y), logp, {x: sp.Reals, y: sp.Reals})
    expected = sp.Matrix([[1, rho], [rho, 1]]).inv()
    for method in METHODS:
        assert equal(fisher_metric(fam, method).matrix, expected), method


# ---------------------------------------------------------- non-smooth
def test_laplace_location_score_not_hessian():
    lap = ParametricFamily.from_density(sp.exp(-sp.Abs(x - mu) / b) / (2 * b), Chart("mu", (mu,)), x, {x: sp.Reals})
    assert not lap.is_twice_differentiable
    assert equal(fisher_metric(lap).matrix, [[1 / b**2]])
    assert fisher_route(lap) == "score"
    with pytest.raises(MethodNotApplicableError, match="not twice differentiable"):
        fisher_metric(lap, method="hessian")
    with pytest.raises(MethodNotApplicableError, match="not of the form"):
        fisher_metric(lap, method="exponential")


@pytest.mark.parametrize(
    "logp",
    [
        sp.Piecewise((-(x - mu) / b, x >= mu), ((x - mu) / b, True)) - sp.log(2 * b),
        -(x - mu) / b * (2 * sp.Heaviside(x - mu) - 1) - sp.log(2 * b),
    ],
    ids=["piecewise", "heaviside"],
)
def test_auto_not_fooled_by_other_nonsmooth_forms(logp):
    lap = ParametricFamily(Chart("mu", (mu,)), x, logp, {x: sp.Reals})
    assert equal(fisher_metric(lap).matrix, [[1 / b**2]])
    assert fisher_route(lap) == "score"
    with pytest.raises(MethodNotApplicableError, match="not twice differentiable"):
        fisher_metric(lap, method="hessian")


def test_laplace_location_scale_score():
    lap = ParametricFamily(Chart("scale", (mu, b)), x, -sp.Abs(x - mu) / b - sp.log(2 * b), {x: sp.Reals})
    assert equal(fisher_metric(lap, "score").matrix, sp.diag(1 / b**2, 1 / b**2))


# ---------------------------------------------------------- failures
def test_unevaluable_integral_names_it():
    # theta exp(-theta e^sin x) on [0, 1] is not normalized (this test used it before densities were checked)
    t = sp.Symbol("theta", positive=True)
    fam = ParametricFamily(Chart("t", (t,)), x, -t * sp.exp(sp.sin(x)) + sp.log(t), {x: sp.Interval(0, 1)})
    with pytest.raises(IntegrationError, match=r"`log_density` must be a normalized density"):
        fisher_metric(fam, method="score")
    # a normalized location family whose score integral SymPy cannot do: named, within the budget
    u = x - mu
    dens = sp.exp(-(u**2) / 2) / sp.sqrt(2 * sp.pi) * sp.cosh(u) * sp.exp(-sp.Rational(1, 2))
    hard = ParametricFamily.from_density(dens, Chart("mu", (mu,)), x, {x: sp.Reals})
    with budgets(integral=1.0, derivation=3.0):
        with pytest.raises(IntegrationError, match=r"score product s_0 s_0 over \{x: Reals\}.*another method"):
            fisher_metric(hard, method="score")


@pytest.mark.parametrize("method", METHODS)
def test_curved_exponential_family(method):
    # N(m, m^2): a curved exponential family (two statistics, one parameter); I(m) = 3/m^2
    m = sp.Symbol("m", positive=True)
    fam = ParametricFamily.from_density(normal_density(m, m), Chart("m", (m,)), x, {x: sp.Reals})
    assert len(fam.exponential_form.natural) == 2
    assert equal(fisher_metric(fam, method).matrix, [[3 / m**2]])


def test_unknown_method():
    fam = ParametricFamily(Chart("mu", (mu,)), x, -((x - mu) ** 2) / 2 - sp.log(2 * sp.pi) / 2, {x: sp.Reals})
    with pytest.raises(MethodNotApplicableError, match="`method` must be one of"):
        fisher_metric(fam, method="monte_carlo")


def test_construction_errors():
    c = Chart("mu", (mu,))
    with pytest.raises(CoordinateError, match="also coordinates"):
        ParametricFamily(c, mu, -mu, {mu: sp.Reals})
    with pytest.raises(ShapeError, match="missing"):
        ParametricFamily(c, (x, y), -x, {x: sp.Reals})
    with pytest.raises(ShapeError, match="depends on the parameters"):
        ParametricFamily(c, x, -x, {x: sp.Interval(0, mu)})
    with pytest.raises(ShapeError, match="must be a SymPy Set"):
        ParametricFamily(c, x, -x, {x: (0, 1)})
    with pytest.raises(CoordinateError, match="Symbols"):
        ParametricFamily(c, [1], -x, {x: sp.Reals})
    with pytest.raises(ChartMismatchError, match="must be a Chart"):
        ParametricFamily("mu", x, -x, {x: sp.Reals})


def test_reparameterize_needs_a_map_touching_the_chart():
    fam = ParametricFamily(Chart("mu", (mu,)), x, -((x - mu) ** 2) / 2 - sp.log(2 * sp.pi) / 2, {x: sp.Reals})
    s, t = sp.symbols("s t", real=True)
    other = ChartMap(Chart("s", (s,)), Chart("t", (t,)), (2 * s,))
    with pytest.raises(ChartMismatchError, match="one end of the map"):
        fam.reparameterize(other)


def test_exponential_form_detection():
    k, r = sp.symbols("k r", positive=True)
    fam = ParametricFamily(
        Chart("g", (k, r)), x, k * sp.log(r) + (k - 1) * sp.log(x) - r * x - sp.loggamma(k), {x: sp.Interval(0, sp.oo)}
    )
    ef = fam.exponential_form
    assert set(zip(ef.natural, ef.statistics)) == {(k, sp.log(x)), (-r, x)}
    assert simplify_expr(ef.log_partition - (sp.loggamma(k) - k * sp.log(r))) == 0


# ---------------------------------------------------------------- KL
def test_kl_normal_closed_form():
    # kl.normal.closed_form
    fam = ParametricFamily.from_density(normal_density(mu, sigma), Chart("sigma", (mu, sigma)), x, {x: sp.Reals})
    ma, mb = sp.symbols("mu_a mu_b", real=True)
    sa, sb = sp.symbols("sigma_a sigma_b", positive=True)
    expected = sp.log(sb / sa) + (sa**2 + (ma - mb) ** 2) / (2 * sb**2) - sp.Rational(1, 2)
    got = kl_divergence(fam, [ma, sa], {mu: mb, "sigma": sb})
    assert simplify_expr(sp.expand_log(got - expected, force=True)) == 0


def test_kl_normal_by_integration_matches():
    """A non-exponential route (the density written with Abs(sigma)) gives the same numbers."""
    fam = ParametricFamily(
        Chart("sigma", (mu, sigma)),
        x,
        -((x - mu) ** 2) / (2 * sigma**2) - sp.log(sigma) - sp.log(2 * sp.pi) / 2,
        {x: sp.Reals},
    )
    p, q = [sp.Rational(1, 2), 2], [-1, sp.Rational(3, 2)]
    expected = sp.log(sp.Rational(3, 4)) + (4 + sp.Rational(9, 4)) / (2 * sp.Rational(9, 4)) - sp.Rational(1, 2)
    assert simplify_expr(kl_divergence(fam, p, q) - expected) == 0


def test_kl_second_order_reference():
    # kl.normal.second_order: KL(N(mu, s^2) || N(mu + e dmu, (s + e ds)^2)) ~ e^2/2 (dmu^2 + 2 ds^2)/s^2
    fam = ParametricFamily.from_density(normal_density(mu, sigma), Chart("sigma", (mu, sigma)), x, {x: sp.Reals})
    e = sp.Symbol("eps", positive=True)
    dm, ds = sp.symbols("dmu dsigma", real=True)
    kl = kl_divergence(fam, [mu, sigma], [mu + e * dm, sigma + e * ds])
    ratio = sp.limit(kl / (e**2 / 2 * (dm**2 / sigma**2 + 2 * ds**2 / sigma**2)), e, 0)
    assert simplify_expr(ratio) == 1


def test_kl_point_errors():
    fam = ParametricFamily(Chart("mu", (mu,)), x, -((x - mu) ** 2) / 2 - sp.log(2 * sp.pi) / 2, {x: sp.Reals})
    with pytest.raises(ShapeError, match="must give 1 values"):
        kl_divergence(fam, [0, 1], [1])
    with pytest.raises(ShapeError, match="missing"):
        kl_divergence(fam, {}, [1])


def test_kl_laplace_symbolic_locations_need_a_closed_form():
    lap = ParametricFamily(Chart("scale", (mu, b)), x, -sp.Abs(x - mu) / b - sp.log(2 * b), {x: sp.Reals})
    m1, m2 = sp.symbols("m1 m2", real=True)
    with pytest.raises(IntegrationError, match="cannot be ordered"):
        kl_divergence(lap, [m1, 1], [m2, 1])
    # numeric locations are fine: log(b2/b1) + |d|/b2 + (b1/b2) exp(-|d|/b1) - 1
    got = kl_divergence(lap, [0, 1], [1, 2])
    expected = sp.log(2) + sp.Rational(1, 2) + sp.exp(-1) / 2 - 1
    assert simplify_expr(got - expected) == 0


@settings(max_examples=20, deadline=None)
@given(
    st.integers(-20, 20),
    st.integers(1, 30),
    st.integers(-20, 20),
    st.integers(1, 30),
    st.sampled_from(["poisson", "gauss"]),
)
def test_kl_nonnegative_and_second_order(m1, s1, m2, s2, kind):
    if kind == "gauss":
        fam = ParametricFamily.from_density(normal_density(mu, sigma), Chart("sigma", (mu, sigma)), x, {x: sp.Reals})
        p, q = [sp.Rational(m1, 10), sp.Rational(s1, 10)], [sp.Rational(m2, 10), sp.Rational(s2, 10)]
    else:
        lam = sp.Symbol("lam", positive=True)
        fam = ParametricFamily(Chart("rate", (lam,)), x, x * sp.log(lam) - lam - sp.loggamma(x + 1), {x: sp.Naturals0})
        p, q = [sp.Rational(s1, 10)], [sp.Rational(s2, 10)]
    assert float(kl_divergence(fam, p, q)) >= 0
    # second order at p along (q - p)
    e = sp.Symbol("eps", positive=True)
    d = [qi - pi for pi, qi in zip(p, q)]
    kl = kl_divergence(fam, p, [pi + e * di for pi, di in zip(p, d)])
    F = fisher_metric(fam).matrix.xreplace(dict(zip(fam.coords, p)))
    quad = sum(d[i] * F[i, j] * d[j] for i in range(fam.dim) for j in range(fam.dim))
    assert simplify_expr(sp.diff(kl, e, 2).subs(e, 0) - quad) == 0
