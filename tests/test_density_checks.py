"""kl_divergence and fisher_metric refuse points outside the chart's domain and densities that are not densities;
a measure with a density is used consistently in every moment (checked against quadrature)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy import integrate

from riemgrad import Chart, ParametricFamily, families, fisher_metric, function_space_metric, kl_divergence
from riemgrad.errors import DomainError, IntegrationError, NonFiniteInputError

x = sp.Symbol("x", real=True)
mu = sp.Symbol("mu", real=True)
sigma = sp.Symbol("sigma", positive=True)
CHART = Chart("sigma", (mu, sigma))
GAUSS = -((x - mu) ** 2) / (2 * sigma**2) - sp.log(sp.sqrt(2 * sp.pi) * sigma)


@pytest.mark.parametrize(
    "p, error, match",
    [
        ([0, -1], DomainError, r"`p` gives sigma = -1.*must be > 0"),
        ([0, 0], DomainError, r"`p` gives sigma = 0"),
        ([sp.I, 1], NonFiniteInputError, r"`p`.*complex"),
        ([1 + 2j, 1], NonFiniteInputError, r"`p`.*complex"),
        ([sp.oo, 1], NonFiniteInputError, r"`p`.*oo"),
        ({mu: 0, sigma: -2}, DomainError, r"`p` gives sigma = -2"),
    ],
)
def test_kl_points_outside_the_domain_are_refused(p, error, match):
    fam = families.normal()
    with pytest.raises(error, match=match):
        kl_divergence(fam, p, [0, 1])
    with pytest.raises(error, match=match.replace("`p`", "`q`")):
        kl_divergence(fam, [0, 1], p)


def test_kl_inside_the_domain_is_unchanged():
    fam = ParametricFamily(CHART, x, GAUSS, {x: sp.Reals})
    # KL(N(0,1) || N(1,2)) = log 2 + (1 + 1)/(2*4) - 1/2, by hand
    assert sp.simplify(kl_divergence(fam, [0, 1], [1, 2]) - (sp.log(2) + sp.Rational(1, 4) - sp.Rational(1, 2))) == 0


def test_at_refuses_points_outside_the_domain():
    fam = ParametricFamily(CHART, x, GAUSS, {x: sp.Reals})
    with pytest.raises(DomainError, match="`point` gives sigma = -1"):
        fam.at([0, -1])


@pytest.mark.parametrize("factor", [2, sp.Rational(1, 3)])
def test_unnormalized_gaussian_is_refused_not_kl_zero(factor):
    fam = ParametricFamily(CHART, x, GAUSS + sp.log(factor), {x: sp.Reals})
    with pytest.raises(IntegrationError, match="normalized density"):
        kl_divergence(fam, [0, 1], [0, 1])
    with pytest.raises(IntegrationError, match="normalized density"):
        fisher_metric(fam)


def test_gaussian_without_its_normalizer_is_refused():
    fam = ParametricFamily(CHART, x, -((x - mu) ** 2) / (2 * sigma**2), {x: sp.Reals})
    with pytest.raises(IntegrationError, match="normalized density"):
        kl_divergence(fam, [0, 1], [1, 1])


def test_density_negative_somewhere_is_refused():
    u = x - mu
    dens = sp.exp(-(u**2) / 2) / sp.sqrt(2 * sp.pi) * (1 + 2 * sp.sin(u))  # integrates to 1, negative where sin < -1/2
    fam = ParametricFamily.from_density(dens, Chart("mu", (mu,)), x, {x: sp.Reals})
    with pytest.raises(DomainError, match="negative|complex"):
        fisher_metric(fam)
    with pytest.raises(DomainError, match="negative|complex"):
        kl_divergence(fam, [0], [1])


def test_unnormalized_pmf_is_refused():
    p = sp.Symbol("p", positive=True)
    fam = ParametricFamily(Chart("p", (p,)), x, x * sp.log(p) + (1 - x) * sp.log(1 - p) + sp.log(2), {x: sp.FiniteSet(0, 1)})
    with pytest.raises(IntegrationError, match="normalized density.*2"):
        fisher_metric(fam)


def test_catalogue_families_pass_the_density_check():
    for name in ("normal", "bernoulli", "poisson", "exponential", "gamma", "beta", "laplace"):
        fam = getattr(families, name)()
        assert "normalized" in fam.density_check, name


# ------------------------------------------------------------ measures with a density: every moment alike
a, b = sp.symbols("a b", real=True)
AB = Chart("ab", (a, b))


def quad_gram(basis, density, lo, hi):
    """E[phi_i phi_j] under the density on [lo, hi], by scipy quadrature (independent of the code under test)."""
    n = len(basis)
    G = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            G[i, j] = integrate.quad(lambda t: basis[i](t) * basis[j](t) * density(t), lo, hi)[0]
    return G


def test_density_measure_matches_quadrature_in_every_moment():
    # intercept + exp(x) under the density 2x on [0, 1]: the intercept's moment E[1] must use the density too
    g = function_space_metric(a + b * sp.exp(x), AB, x, (2 * x, {x: sp.Interval(0, 1)}))
    G = quad_gram([lambda t: 1.0, np.exp], lambda t: 2 * t, 0, 1)
    assert np.allclose(np.array(g.matrix.evalf(), dtype=float), G, rtol=1e-12)


def test_unnormalized_density_measure_is_refused():
    # "density 1 on [0, 2]" would have given E[1] = 1 (as for a probability) but E[x^2] = 8/3 (Lebesgue): mixed
    with pytest.raises(IntegrationError, match="`measure density` must be a normalized density"):
        function_space_metric(a + b * x, AB, x, (sp.S.One, {x: sp.Interval(0, 2)}))
    g = function_space_metric(a + b * x, AB, x, (sp.Rational(1, 2), {x: sp.Interval(0, 2)}))
    uniform = function_space_metric(a + b * x, AB, x, {x: sp.Interval(0, 2)})
    assert g.matrix == uniform.matrix == sp.Matrix([[1, 1], [1, sp.Rational(4, 3)]])
    G = quad_gram([lambda t: 1.0, lambda t: t], lambda t: 0.5, 0, 2)
    assert np.allclose(np.array(g.matrix.evalf(), dtype=float), G, rtol=1e-12)


def test_negative_density_measure_is_refused():
    with pytest.raises(DomainError, match="`measure density` must be non-negative"):
        # 4 - 6x integrates to 1 on [0, 1] and is negative for x > 2/3
        function_space_metric(a + b * x, AB, x, (4 - 6 * x, {x: sp.Interval(0, 1)}))
