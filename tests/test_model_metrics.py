"""Metrics of preconditioners and models, tied to each other and to the Fisher metric."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from riemgrad import (
    Chart,
    ParametricFamily,
    fisher_metric,
    function_space_metric,
    gauss_newton_metric,
    hessian_metric,
    induced_metric,
)
from riemgrad.errors import ChartMismatchError, CoordinateError, IndefiniteMetricError, ShapeError, SingularMetricError
from riemgrad.symbolic import simplify_expr

x = sp.Symbol("x", real=True)


def equal(A, B) -> bool:
    A, B = sp.Matrix(A), sp.Matrix(B)
    return A.shape == B.shape and all(simplify_expr(a - c) == 0 for a, c in zip(A, B))


def hilbert(n):
    """The Hilbert matrix H_ij = 1/(i + j + 1) (0-based), Gram matrix of monomials on [0, 1]."""
    return sp.Matrix(n, n, lambda i, j: sp.Rational(1, i + j + 1))


# ------------------------------------------------------------ function space
@pytest.mark.parametrize("n", [2, 3, 5])
def test_monomials_give_hilbert_matrix(n):
    th = sp.symbols(f"theta0:{n}", real=True)
    f = sum(t * x**k for k, t in enumerate(th))
    g = function_space_metric(f, Chart("monomials", th), x, {x: sp.Interval(0, 1)})
    assert g.matrix == hilbert(n)


def test_reference_linear_model_bases():
    # flow.natural.linear_model_l2_pullback: G_basis0 and the shifted Legendre basis (orthogonal)
    th = sp.symbols("theta0:3", real=True)
    c = Chart("b", th)
    basis0 = [1, x, x**2]
    basis1 = [1, 2 * x - 1, 6 * x**2 - 6 * x + 1]
    g0 = function_space_metric(sum(t * p for t, p in zip(th, basis0)), c, x, {x: sp.Interval(0, 1)})
    g1 = function_space_metric(sum(t * p for t, p in zip(th, basis1)), c, x, {x: sp.Interval(0, 1)})
    assert g0.matrix == sp.Matrix(
        [
            [1, sp.S(1) / 2, sp.S(1) / 3],
            [sp.S(1) / 2, sp.S(1) / 3, sp.S(1) / 4],
            [sp.S(1) / 3, sp.S(1) / 4, sp.S(1) / 5],
        ]
    )
    assert g1.matrix == sp.diag(1, sp.Rational(1, 3), sp.Rational(1, 5))


def test_uniform_measure_is_a_probability_measure():
    a, b = sp.symbols("a b", real=True)
    g = function_space_metric(a + b * x, Chart("ab", (a, b)), x, {x: sp.Interval(0, 2)})
    assert g.matrix == sp.Matrix([[1, 1], [1, sp.Rational(4, 3)]])


def test_density_measures():
    a, b = sp.symbols("a b", real=True)
    c = Chart("ab", (a, b))
    # density 2x on [0, 1]: E[1] = 1, E[x] = 2/3, E[x^2] = 1/2
    g = function_space_metric(a + b * x, c, x, (2 * x, {x: sp.Interval(0, 1)}))
    assert g.matrix == sp.Matrix([[1, sp.Rational(2, 3)], [sp.Rational(2, 3), sp.Rational(1, 2)]])
    # standard normal inputs: moments 1, 0, 1, 0, 3
    q = sp.Symbol("q", real=True)
    g = function_space_metric(
        a * x + q * x**2 + b, Chart("aqb", (a, q, b)), x, (sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi), {x: sp.Reals})
    )
    assert g.matrix == sp.Matrix([[1, 0, 0], [0, 3, 1], [0, 1, 1]])
    # a discrete measure: Poisson(1) inputs, E[x] = 1, E[x^2] = 2
    g = function_space_metric(a + b * x, c, x, (sp.exp(-1) / sp.factorial(x), {x: sp.Naturals0}))
    assert equal(g.matrix, [[1, 1], [1, 2]])


def test_nonlinear_model_symbolic_parameters():
    w = sp.Symbol("w", real=True)
    s = sp.Symbol("s", positive=True)
    g = function_space_metric(s * sp.sin(w * x), Chart("ws", (w, s)), x, {x: sp.Interval(0, sp.pi)})
    assert g.chart.coords == (w, s)
    assert simplify_expr(g.matrix[1, 1].subs(w, 1) - sp.Rational(1, 2)) == 0


def test_data_points_exact_average():
    th = sp.symbols("theta0:3", real=True)
    f = th[0] + th[1] * x + th[2] * x**2
    g = function_space_metric(f, Chart("m", th), x, np.array([0.0, 0.5, 1.0, 1.5]))
    X = sp.Matrix([[1, xi, xi**2] for xi in (0, sp.Rational(1, 2), 1, sp.Rational(3, 2))])
    assert g.matrix == X.T * X / 4
    # floats read through their decimal representation
    g = function_space_metric(th[1] * x, Chart("m", th[1:2]), x, [0.1, 0.2])
    assert g.matrix == sp.Matrix([[sp.Rational(1, 40)]])


def test_two_inputs_data_and_box():
    u, w = sp.symbols("u w", real=True)
    a, b = sp.symbols("a b", real=True)
    f = a * u + b * w
    g = function_space_metric(f, Chart("ab", (a, b)), (u, w), [[1, 0], [1, 1], [0, 2]])
    assert g.matrix == sp.Matrix([[2, 1], [1, 5]]) / 3
    g = function_space_metric(f, Chart("ab", (a, b)), (u, w), {u: sp.Interval(0, 1), w: sp.Interval(-1, 1)})
    assert g.matrix == sp.Matrix([[sp.Rational(1, 3), 0], [0, sp.Rational(1, 3)]])


def test_function_space_errors():
    a, b = sp.symbols("a b", real=True)
    c = Chart("ab", (a, b))
    with pytest.raises(ShapeError, match="finite Interval"):
        function_space_metric(a + b * x, c, x, {x: sp.Interval(0, sp.oo)})
    with pytest.raises(ShapeError, match=r"shape \(n, 1\)|shape \(n,\)|must be"):
        function_space_metric(a + b * x, c, x, np.zeros((3, 2)))
    with pytest.raises(ShapeError, match="missing"):
        function_space_metric(a + b * x, c, (x, sp.Symbol("z")), {x: sp.Interval(0, 1)})
    with pytest.raises(SingularMetricError, match="singular"):
        function_space_metric(a + b * x, c, x, [1.0])  # one point cannot determine two parameters
    with pytest.raises(CoordinateError, match="Symbol"):
        function_space_metric(a + b * x, c, [1], [1.0])
    with pytest.raises(ChartMismatchError, match="must be a Chart"):
        function_space_metric(a + b * x, (a, b), x, [1.0])


# ------------------------------------------------------- Newton, Gauss-Newton
def test_newton_one_step_reference():
    # flow.newton.one_step_quadratic
    x1, x2 = sp.symbols("x1 x2", real=True)
    L = (3 * x1**2 + 2 * x1 * x2 + x2**2) / 2 - (x1 - 2 * x2)
    g = hessian_metric(L, Chart("c", (x1, x2)))
    assert g.matrix == sp.Matrix([[3, 1], [1, 1]])
    x0 = {x1: 5, x2: -7}
    step = sp.Matrix(g.gradient(L).components).subs(x0)
    assert [x0[x1] - step[0], x0[x2] - step[1]] == [sp.Rational(3, 2), sp.Rational(-7, 2)]


def test_hessian_metric_indefinite_is_refused():
    x1, x2 = sp.symbols("x1 x2", real=True)
    with pytest.raises(IndefiniteMetricError, match="positive definite"):
        hessian_metric(x1**2 - x2**2, Chart("c", (x1, x2)))
    g = hessian_metric(x1**2 - x2**2, Chart("c", (x1, x2)), riemannian=False)
    assert g.matrix == sp.diag(2, -2)


TH1, TH2 = sp.symbols("th1 th2", real=True)
XS = [0, sp.Rational(1, 2), 1, sp.Rational(3, 2)]


def test_gauss_newton_is_sigma2_fisher_of_gaussian_noise():
    # preconditioner.gauss_newton.fisher_gaussian_noise
    sigma_n = sp.Rational(7, 10)
    ys = sp.symbols("y1:5", real=True)
    model = [TH1 * sp.exp(TH2 * xi) for xi in XS]
    chart = Chart("th", (TH1, TH2))
    gn = gauss_newton_metric([yi - m for yi, m in zip(ys, model)], chart)
    e = sp.exp(TH2)
    expected = sp.Matrix(
        [
            [1 + e + e**2 + e**3, TH1 * (e / 2 + e**2 + 3 * e**3 / 2)],
            [TH1 * (e / 2 + e**2 + 3 * e**3 / 2), TH1**2 * (e / 4 + e**2 + 9 * e**3 / 4)],
        ]
    )
    assert equal(gn.matrix, expected)
    logp = sum(-((yi - m) ** 2) / (2 * sigma_n**2) - sp.log(sigma_n * sp.sqrt(2 * sp.pi)) for yi, m in zip(ys, model))
    fam = ParametricFamily(chart, ys, logp, {yi: sp.Reals for yi in ys})
    assert equal(gn.matrix, sigma_n**2 * fisher_metric(fam).matrix)
    assert equal(gn.matrix, sigma_n**2 * fisher_metric(fam, "score").matrix)


def test_hessian_equals_gauss_newton_at_zero_residual():
    ys_star = [sp.Rational(3, 2) * sp.exp(-xi) for xi in XS]  # data generated at th = (3/2, -1)
    res = [TH1 * sp.exp(TH2 * xi) - yi for xi, yi in zip(XS, ys_star)]
    chart = Chart("th", (TH1, TH2))
    H = hessian_metric(sum(r**2 for r in res) / 2, chart, riemannian=False).matrix
    G = gauss_newton_metric(res, chart).matrix
    at = {TH1: sp.Rational(3, 2), TH2: -1}
    assert equal(H.subs(at), G.subs(at))
    assert not equal(H.subs({TH1: 1, TH2: 0}), G.subs({TH1: 1, TH2: 0}))  # and only there


def test_glm_logistic_fisher_is_hessian_of_nll():
    """Logistic regression: the Fisher metric X^T W X equals the Hessian of the negative log-likelihood."""
    w0, w1 = sp.symbols("w0 w1", real=True)
    chart = Chart("w", (w0, w1))
    X = sp.Matrix([[1, 0], [1, 1], [1, -2]])
    ys = sp.symbols("y1:4", real=True)
    etas = [w0 * X[i, 0] + w1 * X[i, 1] for i in range(3)]
    sig = [1 / (1 + sp.exp(-e)) for e in etas]
    loglik = sum(yi * sp.log(s) + (1 - yi) * sp.log(1 - s) for yi, s in zip(ys, sig))
    fam = ParametricFamily(chart, ys, loglik, {yi: sp.FiniteSet(0, 1) for yi in ys})
    F = fisher_metric(fam).matrix
    W = sp.diag(*[s * (1 - s) for s in sig])
    H = hessian_metric(-loglik, chart).matrix
    points = ({w0: 0, w1: 0}, {w0: sp.Rational(1, 3), w1: -2}, {w0: -1, w1: sp.Rational(5, 4)})
    labels = ((0, 1, 0), (1, 1, 1), (sp.Rational(1, 2), 7, -3))  # the NLL Hessian does not depend on them
    for at, yv in zip(points, labels):
        at = {**at, **dict(zip(ys, yv))}
        for A, B in ((F, X.T * W * X), (F, H)):
            diff = (A - B).subs(at).evalf(40)
            assert all(abs(d) < 1e-30 for d in diff)


# ------------------------------------------------------------- induced metric
def test_induced_metric_symbolic_sherman_morrison():
    a, b, c = sp.symbols("a b c", real=True)
    L = a**2 * b + sp.sin(c) + a * c
    chart = Chart("abc", (a, b, c))
    s = sp.Symbol("s", positive=True)
    g = induced_metric(L, chart, scale=s)
    u = sp.Matrix([s * sp.diff(L, q) for q in chart.coords])
    n2 = (u.T * u)[0]
    assert equal(g.matrix, sp.eye(3) + u * u.T)
    assert equal(g.inverse_matrix, sp.eye(3) - u * u.T / (1 + n2))
    assert simplify_expr(g.det - (1 + n2)) == 0


@pytest.mark.parametrize(
    "u", [[0.3, -1.2, 2.0, 0.05], [10.0, 0.0, -3.0, 1.0], [0.001, 0.002, 0.0, -0.001]], ids=["mid", "large", "tiny"]
)
def test_induced_metric_reference_points(u):
    # preconditioner.graph_metric.sherman_morrison, with L = u . theta so grad L = u
    th = sp.symbols("t0:4", real=True)
    uu = sp.Matrix([sp.Rational(repr(v)) for v in u])
    g = induced_metric(sum(ui * ti for ui, ti in zip(uu, th)), Chart("t", th))
    n2 = (uu.T * uu)[0]
    assert g.inverse_matrix == sp.eye(4) - uu * uu.T / (1 + n2)
    assert g.det == 1 + n2
    nat = g.inverse_matrix * uu
    assert nat == uu / (1 + n2)
    assert float(sp.sqrt((nat.T * nat)[0])) <= 0.5


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(-50, 50), min_size=3, max_size=3), st.integers(1, 5))
def test_induced_metric_inverse_property(us, scale):
    th = sp.symbols("t0:3", real=True)
    u = sp.Matrix([sp.Rational(k, 7) for k in us])
    g = induced_metric(sum(ui * ti for ui, ti in zip(u, th)), Chart("t", th), scale=scale)
    v = scale * u
    assert g.inverse_matrix == sp.eye(3) - v * v.T / (1 + (v.T * v)[0])


def test_gauss_newton_single_residual_and_errors():
    a, b = sp.symbols("a b", real=True)
    g = gauss_newton_metric(a * b, Chart("a", (a,)))
    assert g.matrix == sp.Matrix([[b**2]])
    with pytest.raises(SingularMetricError, match="singular"):
        gauss_newton_metric([a + b], Chart("ab", (a, b)))
    with pytest.raises(ShapeError, match="at least one"):
        gauss_newton_metric([], Chart("ab", (a, b)))
