"""Seed 001's remaining claims: Jensen-Shannon with the mixture and its 1/8 expansion, the NTK against the
function-space metric, "the natural metric is flat" (for linear models only) and orthonormal bases.

Expected values come from independent routes: entropy formulas evaluated with mpmath at high precision,
Fisher metrics written by hand (shared/REFERENCE.md), Jacobians by finite differences, and the Gaussian
curvature of an embedded surface by Gauss's Theorema Egregium (second fundamental form).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import riemgrad as rg
from riemgrad import families, models
from riemgrad.data import Dataset
from riemgrad.errors import ArgumentTypeError, IntegrationError, MethodNotApplicableError, ShapeError
from riemgrad.symbolic.budget import budgets
from riemgrad.symbolic.jensen_shannon import js_divergence
from riemgrad.symbolic.tangent_kernel import neural_tangent_kernel

RNG = np.random.default_rng(1)


# ---------------------------------------------------------------- Jensen-Shannon: values
def _H2(p):
    return -p * mp.log(p) - (1 - p) * mp.log(1 - p)


def test_js_bernoulli_is_the_entropy_of_the_mixture_minus_the_mean_entropy():
    a, b = sp.symbols("a b", positive=True)
    expr = js_divergence(families.bernoulli(), [a], [b])
    mp.mp.dps = 30
    for pa, pb in [(0.1, 0.7), (0.45, 0.5), (0.9, 0.02)]:
        want = _H2((mp.mpf(pa) + pb) / 2) - (_H2(mp.mpf(pa)) + _H2(mp.mpf(pb))) / 2
        got = expr.xreplace({a: sp.Float(pa, 30), b: sp.Float(pb, 30)}).evalf(25)
        assert abs(got - sp.Float(str(want), 25)) < 1e-20


@pytest.mark.parametrize("p,q", [((0.0, 1.0), (1.0, 1.0)), ((0.3, 0.5), (-0.4, 2.0)), ((1.0, 1.0), (1.0, 1.0))])
def test_js_normal_by_quadrature_matches_mixture_entropy(p, q):
    """JS = h(M) - (h(P) + h(Q))/2, h(N(mu, s^2)) = log(2 pi e s^2)/2; h(M) by mpmath quadrature (30 digits)."""
    mp.mp.dps = 30
    P = lambda x: mp.npdf(x, p[0], p[1])  # noqa: E731
    Q = lambda x: mp.npdf(x, q[0], q[1])  # noqa: E731
    M = lambda x: (P(x) + Q(x)) / 2  # noqa: E731
    cuts = sorted({-mp.inf, p[0], q[0], mp.inf})
    hM = -mp.quad(lambda x: M(x) * mp.log(M(x)), cuts)
    h = lambda s: mp.log(2 * mp.pi * mp.e * s**2) / 2  # noqa: E731
    want = float(hM - (h(mp.mpf(p[1])) + h(mp.mpf(q[1]))) / 2)
    got = js_divergence(families.normal(), p, q)
    assert isinstance(got, float)
    assert abs(got - want) < 1e-11
    assert abs(js_divergence(families.normal(), q, p) - got) < 1e-12  # symmetric
    assert 0 <= got <= math.log(2)


def test_js_poisson_sum_and_categorical_exact_against_mpmath():
    mp.mp.dps = 30
    lp, lq = mp.mpf(2), mp.mpf("3.5")
    pk = lambda lam, k: mp.exp(k * mp.log(lam) - lam - mp.loggamma(k + 1))  # noqa: E731
    want = mp.nsum(lambda k: pk(lp, k) * mp.log(2 * pk(lp, k) / (pk(lp, k) + pk(lq, k))) / 2
                   + pk(lq, k) * mp.log(2 * pk(lq, k) / (pk(lp, k) + pk(lq, k))) / 2, [0, mp.inf])
    assert abs(js_divergence(families.poisson(), [2.0], [3.5]) - float(want)) < 1e-13
    P, Q = [0.5, 0.2, 0.3], [0.1, 0.6, 0.3]  # p0 = 1 - p1 - p2
    exact = js_divergence(families.categorical(3), P[1:], Q[1:])
    want = sum(a * mp.log(2 * a / (a + b)) / 2 + b * mp.log(2 * b / (a + b)) / 2
               for a, b in zip(map(mp.mpf, map(str, P)), map(mp.mpf, map(str, Q))))
    assert abs(float(exact) - float(want)) < 1e-14
    # the two extremes: disjoint supports give log 2, equal members 0
    assert float(js_divergence(families.bernoulli(), [sp.Rational(1, 10**12)], [1 - sp.Rational(1, 10**12)])) > \
        math.log(2) - 1e-9


# ---------------------------------------------------------------- Jensen-Shannon: the 1/8 expansion
def _fisher_by_hand(name, t):
    """Fisher metrics of one observation from shared/REFERENCE.md (and Amari & Nagaoka for the simplex)."""
    if name == "normal":
        return np.diag([1 / t[1] ** 2, 2 / t[1] ** 2])
    if name == "bernoulli":
        return np.array([[1 / (t[0] * (1 - t[0]))]])
    if name == "poisson":
        return np.array([[1 / t[0]]])
    if name == "exponential":
        return np.array([[1 / t[0] ** 2]])
    if name == "gamma":
        k, r = t
        return np.array([[float(mp.psi(1, k)), -1 / r], [-1 / r, k / r**2]])
    if name == "beta":
        a, b = t
        pa, pb, pab = (float(mp.psi(1, v)) for v in (a, b, a + b))
        return np.array([[pa - pab, -pab], [-pab, pb - pab]])
    p0 = 1 - sum(t)
    return np.diag(1 / np.asarray(t)) + 1 / p0


CASES = {
    "normal": ([0.3, 1.4], [0.6, -0.8]),
    "bernoulli": ([0.3], [1.0]),
    "poisson": ([2.5], [1.0]),
    "exponential": ([1.7], [1.0]),
    "gamma": ([2.2, 0.9], [0.5, 0.7]),
    "beta": ([2.0, 3.5], [1.0, -0.6]),
    "categorical": ([0.2, 0.5], [0.7, -0.4]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_js_second_order_expansion_is_one_eighth_of_the_fisher_form(name):
    """JS(theta, theta + eps d) / (eps^2 d^T F d) = 1/8 + O(eps): within 3% at eps = 1e-2 and the error falls
    roughly tenfold at eps = 1e-3 (the next term is cubic in eps)."""
    fam = families.categorical(3) if name == "categorical" else getattr(families, name)()
    t, d = (np.array(v, dtype=float) for v in CASES[name])
    quad = d @ _fisher_by_hand(name, t) @ d
    errs = []
    for eps in (1e-2, 1e-3):
        q = t + eps * d
        if name in ("bernoulli", "categorical"):  # exact sums, evaluated with 30 digits
            js = float(sp.N(js_divergence(fam, [sp.Rational(repr(float(v))) for v in t],
                                          [sp.Rational(repr(float(v))) for v in q]), 30))
        else:
            js = js_divergence(fam, list(t), list(q))
        errs.append(abs(js / (eps**2 * quad) - 1 / 8))
    assert errs[0] < 0.03 / 8
    assert errs[1] < 0.2 * errs[0] + 1e-7


def test_js_is_a_scalar_the_same_in_every_chart():
    """N(0, 1) vs N(1, 2^2) in (mu, sigma) and in (mu, log sigma): one number."""
    a = js_divergence(families.normal(), [0.0, 1.0], [1.0, 2.0])
    b = js_divergence(families.normal("log_sigma"), [0.0, 0.0], [1.0, math.log(2.0)])
    assert abs(a - b) < 1e-12 and a > 0.05


def test_symmetrised_kl_is_one_half_not_one_eighth():
    """The seed's formula, (KL(P||Q) + KL(Q||P)) / 2, is a different divergence: d^T F d / 2 to second order."""
    fam = families.normal()
    t, d, eps = np.array([0.3, 1.4]), np.array([0.6, -0.8]), 1e-3
    q = t + eps * d
    skl = float(rg.kl_divergence(fam, list(t), list(q)) + rg.kl_divergence(fam, list(q), list(t))) / 2
    quad = d @ _fisher_by_hand("normal", t) @ d
    assert abs(skl / (eps**2 * quad) - 0.5) < 1e-2
    assert abs(js_divergence(fam, list(t), list(q)) / (eps**2 * quad) - 0.125) < 1e-2


def test_js_errors():
    a, b = sp.symbols("a b", real=True)
    with budgets(integral=0.5), pytest.raises(IntegrationError, match="no closed form"):
        js_divergence(families.normal(), [a, 1], [b, 1])
    with pytest.raises(MethodNotApplicableError, match="one data variable"):
        js_divergence(families.multivariate_normal(2), [0, 0, 1, 0, 1], [1, 0, 1, 0, 1])
    with pytest.raises(MethodNotApplicableError, match="`method`"):
        js_divergence(families.normal(), [0, 1], [1, 1], method="simpson")
    with pytest.raises(ArgumentTypeError, match="`family`"):
        js_divergence("normal", [0, 1], [1, 1])
    with pytest.raises(ArgumentTypeError, match="must be numbers for quadrature"):
        js_divergence(families.normal(), [a, 1], [b, 1], method="quadrature")


# ---------------------------------------------------------------- NTK vs function-space metric
def _net(t, xs):  # mlp((1, 3, 1)): W0_0_0..W0_2_0, b0_0..b0_2, W1_0_0..W1_0_2, b1_0
    h = np.tanh(np.outer(xs, t[0:3]) + t[3:6])
    return h @ t[6:9] + t[9]


@pytest.mark.parametrize("n", [6, 30])
def test_ntk_and_function_space_metric_share_their_nonzero_spectrum(n):
    """K = J J^T (n x n) and G = J^T J / n (10 x 10): the non-zero eigenvalues of K are n times those of G."""
    m = models.mlp((1, 3, 1))
    xs = RNG.uniform(-2, 2, n)
    data = m.dataset(xs)
    t = RNG.standard_normal(10)
    K = neural_tangent_kernel(m, data, t)
    h = 1e-6
    J = np.stack([(_net(t + h * e, xs) - _net(t - h * e, xs)) / (2 * h) for e in np.eye(10)], axis=1)
    np.testing.assert_allclose(K, J @ J.T, rtol=1e-7, atol=1e-8)
    G = rg.function_space_metric(m.output, m.chart, m.inputs, measure=data).evaluate(t)
    eK = np.sort(np.linalg.eigvals(K).real)[::-1]
    eG = np.sort(np.linalg.eigvals(G).real)[::-1]
    r = min(n, 10)  # the rank of J (generic point, distinct inputs)
    np.testing.assert_allclose(eK[:r] / n, eG[:r], rtol=1e-8, atol=1e-12 * eG[0])
    assert np.all(np.abs(eK[r:]) < 1e-10 * eK[0]) and np.all(np.abs(eG[r:]) < 1e-10 * eG[0])


def test_ntk_errors_and_expression_form():
    a, b, x = sp.symbols("a b x", real=True)
    data = Dataset({x: [0.0, 1.0]})
    K = neural_tangent_kernel(sp.exp(a * x) + b, data, [0.0, 1.0], chart=rg.Chart("ab", (a, b)), inputs=x)
    np.testing.assert_allclose(K, [[1.0, 1.0], [1.0, 2.0]])  # grad = (x e^{ax}, 1) = (0, 1), (1, 1) at a = 0
    with pytest.raises(ShapeError, match="`point`"):
        neural_tangent_kernel(a * x + b, data, [0.0], chart=rg.Chart("ab", (a, b)), inputs=x)
    with pytest.raises(ArgumentTypeError, match="`chart`"):
        neural_tangent_kernel(a * x + b, data, [0.0, 0.0])


# ---------------------------------------------------------------- "the natural metric is flat"
def test_function_space_metric_of_a_linear_model_is_flat():
    x = sp.Symbol("x", real=True)
    th = sp.symbols("th0:3", real=True)
    g = rg.function_space_metric(th[0] + th[1] * sp.exp(x) + th[2] * x**2, rg.Chart("c", th), x,
                                 {x: sp.Interval(0, 1)})
    R = g.riemann().components
    assert R.shape == (3, 3, 3, 3) and all(e == 0 for e in sp.flatten(R.tolist()))
    assert g.scalar_curvature() == 0


def _egregium(a, b, xs):
    """Gaussian curvature of the surface (a, b) -> tanh(a x_k + b) / sqrt(n) in R^3: det II / det I."""
    n = len(xs)
    s = a * xs + b
    th, se2 = np.tanh(s), 1 / np.cosh(s) ** 2
    Fa, Fb = xs * se2, se2
    d2 = -2 * th * se2  # second derivative of tanh
    Faa, Fab, Fbb = xs**2 * d2, xs * d2, d2
    c = 1 / math.sqrt(n)
    Fa, Fb, Faa, Fab, Fbb = (c * v for v in (Fa, Fb, Faa, Fab, Fbb))
    N = np.cross(Fa, Fb)
    N /= np.linalg.norm(N)
    I = np.array([[Fa @ Fa, Fa @ Fb], [Fa @ Fb, Fb @ Fb]])
    II = np.array([[N @ Faa, N @ Fab], [N @ Fab, N @ Fbb]])
    return np.linalg.det(II) / np.linalg.det(I)


def test_function_space_metric_of_tanh_is_curved():
    """tanh(a x + b) on three points: the image is a curved surface in R^3, K != 0 (on two points it is a local
    diffeomorphism onto an open set of R^2, hence flat)."""
    a, b, x = sp.symbols("a b x", real=True)
    chart = rg.Chart("ab", (a, b))
    pts = [-1, sp.Rational(1, 2), 2]
    g = rg.function_space_metric(sp.tanh(a * x + b), chart, x, pts)
    K = g.gaussian_curvature()
    for av, bv in [(0.7, -0.3), (-0.4, 0.9)]:
        got = float(K.xreplace({a: sp.Float(av, 30), b: sp.Float(bv, 30)}).evalf(20))
        want = _egregium(av, bv, np.array([-1.0, 0.5, 2.0]))
        assert abs(got - want) < 1e-8 * max(1.0, abs(want))
        assert abs(want) > 0.1
    g2 = rg.function_space_metric(sp.tanh(a * x + b), chart, x, [-1, 2])
    assert g2.gaussian_curvature() == 0


# ---------------------------------------------------------------- orthonormal bases give the identity
def test_orthonormal_bases_give_the_identity_metric():
    x = sp.Symbol("x", real=True)
    th = sp.symbols("th0:4", real=True)
    legendre = [sp.sqrt(2 * k + 1) * sp.legendre(k, x) for k in range(4)]  # orthonormal for dx/2 on [-1, 1]
    g = rg.function_space_metric(sp.Add(*[t * p for t, p in zip(th, legendre)]), rg.Chart("P", th), x,
                                 {x: sp.Interval(-1, 1)})
    assert g.matrix == sp.eye(4)
    fourier = [1, sp.sqrt(2) * sp.cos(x), sp.sqrt(2) * sp.sin(x), sp.sqrt(2) * sp.cos(2 * x)]
    g = rg.function_space_metric(sp.Add(*[t * p for t, p in zip(th, fourier)]), rg.Chart("F", th), x,
                                 {x: sp.Interval(0, 2 * sp.pi)})
    assert g.matrix == sp.eye(4)


def test_orthonormal_features_on_data_give_the_identity_and_natural_gradient_is_gradient():
    """Features sqrt(n) Q from a QR factor of any design: E_data[phi phi^T] = Q^T Q = I, so the natural step
    equals the plain gradient step."""
    n = 50
    Q, _ = np.linalg.qr(np.c_[np.ones(n), RNG.standard_normal((n, 2))])
    Phi = math.sqrt(n) * Q
    z = sp.symbols("z0:3", real=True)
    th = sp.symbols("th0:3", real=True)
    y = sp.Symbol("y", real=True)
    ys = RNG.standard_normal(n)
    data = Dataset({z: Phi, y: ys})
    f = sp.Add(*[t * zk for t, zk in zip(th, z)])
    G = rg.function_space_metric(f, rg.Chart("orth", th), z, measure=data)
    t0 = RNG.standard_normal(3)
    np.testing.assert_allclose(G.evaluate(t0), np.eye(3), atol=1e-13)
    field = rg.compile_data_flow(G, (f - y) ** 2 / 2)
    np.testing.assert_allclose(field.velocity(t0), -field.gradient(t0), rtol=1e-12, atol=1e-14)
