"""True Fisher, empirical Fisher, generalized Gauss-Newton and Hessian on data; Kunstner et al.'s point.

Every expected value is computed here independently: dense NumPy formulas for the
per-example Jacobians and output Hessians, central finite differences of an NLL
written in NumPy, exact sums over the labels, Monte Carlo with its standard error,
and the scalar recursion of the empirical-Fisher step written out by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

import riemgrad as rg
from riemgrad import models
from riemgrad.data import Dataset
from riemgrad.errors import ArgumentTypeError, DataError, ShapeError
from riemgrad.kernels.data_kernels import compile_data_flow
from riemgrad.symbolic.data_metrics import conditional_fisher_metric, data_hessian_metric
from riemgrad.symbolic.fisher_variants import FisherComparison, fisher_comparison, generalized_gauss_newton_metric

RNG = np.random.default_rng(11)
N = 40


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _softmax_free(A, t):
    """Class probabilities of softmax_regression(k, 3): logits (A t[:k+1], A t[k+1:], 0)."""
    m = A.shape[1]
    Z = np.c_[A @ t[:m], A @ t[m:], np.zeros(len(A))]
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    return P / P.sum(axis=1, keepdims=True)


# Dense NumPy closed forms: per example J (here the design row a, or kron for softmax) and the output Hessian H.
def _dense_ggn(kind, A, t):
    n = len(A)
    if kind == "logistic":
        q = _sigmoid(A @ t)
        return (A.T * (q * (1 - q))) @ A / n
    if kind == "poisson":
        return (A.T * np.exp(A @ t)) @ A / n
    if kind == "linear":
        return A.T @ A / n
    P = _softmax_free(A, t)
    out = np.zeros((len(t), len(t)))
    for a, p in zip(A, P[:, :2]):
        J = np.kron(np.eye(2), a[None, :])  # d z_k / d theta for the two free logits, shape (2, d)
        out += J.T @ (np.diag(p) - np.outer(p, p)) @ J
    return out / n


# The mean NLL written in NumPy (the Poisson without log y!, as the library's).
def _nll(kind, A, y, t):
    if kind == "logistic":
        e = A @ t
        return np.mean(np.logaddexp(0.0, e) - y * e)
    if kind == "poisson":
        e = A @ t
        return np.mean(np.exp(e) - y * e)
    if kind == "linear":
        return np.mean((y - A @ t) ** 2) / 2
    m = A.shape[1]
    Z = np.c_[A @ t[:m], A @ t[m:], np.zeros(len(A))]
    return np.mean(np.log(np.exp(Z).sum(axis=1)) - Z[np.arange(len(A)), y.astype(int)])


def _fd_hessian(f, t, h=1e-4):
    d = len(t)
    H = np.zeros((d, d))
    E = np.eye(d) * h
    for i in range(d):
        for j in range(i, d):
            H[i, j] = H[j, i] = (f(t + E[i] + E[j]) - f(t + E[i] - E[j]) - f(t - E[i] + E[j]) + f(t - E[i] - E[j])) / (
                4 * h * h
            )
    return H


def _case(kind):
    X = RNG.standard_normal((N, 2)) * np.array([1.0, 0.6]) + np.array([0.3, -0.2])
    A = np.c_[np.ones(N), X]
    if kind == "logistic":
        m, y = models.logistic_regression(2), RNG.integers(0, 2, N).astype(float)
    elif kind == "poisson":
        m, y = models.poisson_regression(2), RNG.poisson(1.5, N).astype(float)
    elif kind == "linear":
        m, y = models.linear_regression(2), RNG.standard_normal(N) * 2.0
    else:
        m, y = models.softmax_regression(2, 3), RNG.integers(0, 3, N).astype(float)
    return m, m.dataset(X, y), A, y


KINDS = ["logistic", "poisson", "softmax", "linear"]


@pytest.fixture(scope="module", params=KINDS)
def glm(request):
    kind = request.param
    m, data, A, y = _case(kind)
    return kind, m, data, A, y


# ---------------------------------------------------------------- canonical links: F = GGN = Hessian
def test_true_fisher_equals_ggn_for_canonical_links(glm):
    kind, m, data, A, _ = glm
    F = conditional_fisher_metric(m.family, data)
    G = generalized_gauss_newton_metric(m, data)
    assert G.name == "generalized Gauss-Newton"
    for t in RNG.standard_normal((3, m.chart.dim)) * 0.7:
        dense = _dense_ggn(kind, A, t)
        np.testing.assert_allclose(G.evaluate(t), dense, rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(F.evaluate(t), dense, rtol=1e-11, atol=1e-14)


def test_true_fisher_equals_hessian_of_nll_for_glms_at_any_labels(glm):
    """Finite differences of the NumPy NLL at random points, with labels not drawn from the model."""
    kind, m, data, A, y = glm
    F = conditional_fisher_metric(m.family, data)
    for t in RNG.standard_normal((3, m.chart.dim)) * 0.7:
        fd = _fd_hessian(lambda s: _nll(kind, A, y, s), t)
        np.testing.assert_allclose(F.evaluate(t), fd, rtol=2e-6, atol=2e-7)


def test_mlp_ggn_is_the_fisher_but_not_the_hessian():
    """A 1-2-1 tanh network with a normal output: GGN = E[J^T J] (J by finite differences of the NumPy net)."""
    m = models.mlp((1, 2, 1))
    x = RNG.uniform(-2, 2, 25)
    y = np.sin(2 * x)
    data = m.dataset(x, y)

    def net(t, xs):  # parameters W0_0_0, W0_1_0, b0_0, b0_1, W1_0_0, W1_0_1, b1_0
        h = np.tanh(np.outer(xs, t[0:2]) + t[2:4])
        return h @ t[4:6] + t[6]

    t = np.array([0.8, -1.1, 0.2, 0.4, 1.3, -0.7, 0.1])
    h = 1e-6
    J = np.stack([(net(t + h * e, x) - net(t - h * e, x)) / (2 * h) for e in np.eye(7)], axis=1)
    dense = J.T @ J / len(x)
    G = generalized_gauss_newton_metric(m, data).evaluate(t)
    np.testing.assert_allclose(G, dense, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(conditional_fisher_metric(m.family, data).evaluate(t), dense, rtol=1e-7, atol=1e-9)
    H = _fd_hessian(lambda s: np.mean((y - net(s, x)) ** 2) / 2, t)
    np.testing.assert_allclose(data_hessian_metric(m.loss, m.chart, data).evaluate(t), H, rtol=1e-5, atol=1e-6)
    assert np.linalg.norm(H - dense) > 0.05 * np.linalg.norm(dense)  # the residual term E[r d^2 f] is not small here


def test_non_canonical_split_ggn_differs_from_fisher_and_matches_it_in_expectation():
    """Poisson with rate lam = softplus(b + w x), loss split at the rate: l = z - y log z.

    H = y / lam^2 depends on the labels: GGN = E[y lam'^2 / lam^2 a a^T], while the Fisher is
    E[lam'^2 / lam a a^T]. The GGN is linear in y, so its expectation over y ~ Poisson(lam) is the
    GGN at y = lam, which is the Fisher exactly.
    """
    b, w, x, y, z = sp.symbols("b w x y z", real=True)
    chart = rg.Chart("bw", (b, w))
    rate = sp.log(1 + sp.exp(b + w * x))
    xs = RNG.uniform(-1.5, 1.5, 30)
    A = np.c_[np.ones(30), xs]
    t = np.array([0.3, 0.9])
    s = A @ t
    lam, dlam = np.log1p(np.exp(s)), _sigmoid(s)
    ys = RNG.poisson(lam).astype(float)
    G = generalized_gauss_newton_metric(z - y * sp.log(z), Dataset({x: xs, y: ys}), outputs={z: rate}, chart=chart)
    assert G.kind == "outer"
    dense_ggn = (A.T * (ys * dlam**2 / lam**2)) @ A / 30
    fisher = (A.T * (dlam**2 / lam)) @ A / 30
    np.testing.assert_allclose(G.evaluate(t), dense_ggn, rtol=1e-12)
    assert np.linalg.norm(dense_ggn - fisher) > 0.05 * np.linalg.norm(fisher)
    np.testing.assert_allclose(G.evaluate(t, data=Dataset({x: xs, y: lam})), fisher, rtol=1e-12)


# ---------------------------------------------------------------- the empirical Fisher
@pytest.mark.parametrize("kind", ["logistic", "softmax", "poisson"])
def test_empirical_fisher_differs_but_equals_true_fisher_in_expectation_exact_sum(kind):
    """E_{y ~ model}[EF] by exact summation over each row's labels (Poisson: to k = 80, tail < 1e-40)."""
    m, data, A, y = _case(kind)
    EF = rg.empirical_fisher_metric(m.family, data=data)
    t = RNG.standard_normal(m.chart.dim) * 0.5
    F = conditional_fisher_metric(m.family, data).evaluate(t)
    assert np.linalg.norm(EF.evaluate(t) - F) > 0.05 * np.linalg.norm(F)  # not equal at the observed labels
    field = compile_data_flow(EF)  # one kernel, evaluated row by row on one-row data sets
    total = np.zeros_like(F)
    for a in A:
        if kind == "logistic":
            q = _sigmoid(a @ t)
            labels = [(0, 1 - q), (1, q)]
        elif kind == "softmax":
            labels = list(enumerate(_softmax_free(a[None, :], t)[0]))
        else:
            lam = math.exp(a @ t)
            assert lam < 10
            labels = [(k, math.exp(k * math.log(lam) - lam - math.lgamma(k + 1))) for k in range(80)]
        for lab, p in labels:
            total += p * field.metric(t, data=m.dataset(a[None, 1:], [lab]))
    np.testing.assert_allclose(total / len(A), F, rtol=1e-10, atol=1e-13)


def test_empirical_fisher_equals_true_fisher_in_expectation_monte_carlo():
    """Linear regression, y ~ N(a.t, 1): E[(y - a.t)^2 a a^T] = a a^T. S label draws; 5 standard errors."""
    m, data, A, _ = _case("linear")
    t = np.array([0.2, -0.5, 0.8])
    EF = rg.empirical_fisher_metric(m.family, data=data)
    field = compile_data_flow(EF)
    S = 400
    draws = np.stack([field.metric(t, data=m.dataset(A[:, 1:], A @ t + RNG.standard_normal(len(A))))
                      for _ in range(S)])
    mean, se = draws.mean(axis=0), draws.std(axis=0, ddof=1) / math.sqrt(S)
    F = A.T @ A / len(A)
    assert np.all(np.abs(mean - F) <= 5 * se + 1e-12)
    assert se.max() < 0.1 * np.abs(F).max()  # the test has power: the tolerance is small against F


# ---------------------------------------------------------------- fisher_comparison
def test_fisher_comparison_reports_the_identities():
    m, data, A, y = _case("logistic")
    t = np.array([0.4, -0.6, 0.9])
    c = fisher_comparison(m, data, t)
    assert isinstance(c, FisherComparison)
    q = _sigmoid(A @ t)
    np.testing.assert_allclose(c.true_fisher, _dense_ggn("logistic", A, t), rtol=1e-11)
    np.testing.assert_allclose(c.empirical_fisher, (A.T * (q - y) ** 2) @ A / N, rtol=1e-11)
    np.testing.assert_allclose(c.gradient, A.T @ (q - y) / N, rtol=1e-11, atol=1e-15)
    assert c.relative_differences["generalized Gauss-Newton"] < 1e-12
    assert c.relative_differences["Hessian"] < 1e-12
    assert c.relative_differences["empirical Fisher"] > 0.05
    assert c.step_angles["Hessian"] < 1e-6 and c.step_angles["empirical Fisher"] > 1.0
    text = c.summary()
    assert "empirical Fisher" in text and "generalized Gauss-Newton" in text
    assert "<table>" in c._repr_html_() and "FisherComparison" in repr(c)


def test_fisher_comparison_and_ggn_errors():
    m, data, A, y = _case("logistic")
    with pytest.raises(ArgumentTypeError, match="`model`"):
        fisher_comparison("logistic", data, [0, 0, 0])
    with pytest.raises(ShapeError, match="`point` must have shape \\(3,\\)"):
        fisher_comparison(m, data, [0.0, 0.0])
    with pytest.raises(ShapeError, match="`data` has no column for y"):
        fisher_comparison(m, m.dataset(A[:, 1:]), [0.0, 0.0, 0.0])
    bad = Dataset({m.inputs: A[:, 1:], m.label: np.full(N, 2.0)})
    with pytest.raises(DataError, match="0 or 1"):
        fisher_comparison(m, bad, [0.0, 0.0, 0.0])
    z = sp.Symbol("z", real=True)
    with pytest.raises(ArgumentTypeError, match="`outputs` and `chart` are required"):
        generalized_gauss_newton_metric(z**2, data)
    with pytest.raises(rg.errors.CoordinateError, match="coordinate"):
        generalized_gauss_newton_metric(z**2, data, outputs={m.chart.coords[0]: z}, chart=m.chart)


# ---------------------------------------------------------------- Kunstner, Balles & Hennig (2019)
def _regression_1d(noise, n=200, seed=3):
    """y = 2 x + noise, x ~ N(0, 1); the model y ~ N(w x, 1) (no intercept) assumes unit noise."""
    r = np.random.default_rng(seed)
    x = r.standard_normal(n)
    y = 2.0 * x + noise * r.standard_normal(n)
    m = models.linear_regression(1, intercept=False)
    w_star = (x @ y) / (x @ x)
    r_star = y - w_star * x
    S2, S4 = np.mean(x**2), np.mean(x**4)
    A, B = np.mean(r_star**2 * x**2), np.mean(r_star * x**3)
    return m, m.dataset(x, y), w_star, (S2, S4, A, B)


def _ef_recursion(delta0, steps, S2, S4, A, B):
    """delta <- delta - S2 delta / EF(delta), EF(delta) = E[(r* - delta x)^2 x^2] = A - 2 B delta + S4 delta^2."""
    out = [delta0]
    for _ in range(steps):
        d = out[-1]
        out.append(d - S2 * d / (A - 2 * B * d + S4 * d * d))
    return np.array(out)


def test_kunstner_true_fisher_step_lands_on_the_minimum_empirical_fisher_step_stalls():
    """Far from the minimum the EF step shrinks like 1/|delta|: 20 steps from delta = 10 cover < 10%.

    With the L2(data) norm, sqrt(EF(delta)) = ||(r* - delta x) x|| >= sqrt(S4) |delta| - sqrt(A) (Minkowski), so
    |step| = S2 |delta| / EF(delta) <= S2 |delta| / (sqrt(S4) |delta| - sqrt(A))^2, decreasing in |delta|;
    over 20 steps ending at delta_20 the distance covered is at most 20 times that bound at delta_20.
    For x ~ N(0, 1), S2/S4 ~ 1/3 and the bound is ~ 0.04 per step at delta ~ 10.
    """
    m, data, w_star, (S2, S4, A, B) = _regression_1d(noise=1.0)
    F = compile_data_flow(conditional_fisher_metric(m.family, data), m.family)
    EF = compile_data_flow(rg.empirical_fisher_metric(m.family, data=data), m.family)
    w0 = w_star + 10.0
    ng = F.descend([w0], lr=1.0, steps=1)
    assert abs(ng.xs[-1][0] - w_star) < 1e-10  # the true Fisher is the (constant) Hessian: Newton, one step
    ef = EF.descend([w0], lr=1.0, steps=20, saveat=range(21))
    delta = ef.xs[:, 0] - w_star
    np.testing.assert_allclose(delta, _ef_recursion(10.0, 20, S2, S4, A, B), rtol=1e-9)
    d20 = abs(delta[-1])
    bound = S2 * d20 / (math.sqrt(S4) * d20 - math.sqrt(A)) ** 2
    assert 10.0 - d20 <= 20 * bound + 1e-12
    assert d20 > 0.9 * 10.0
    # the far-field law: |delta| |step| -> S2 / S4 as |delta| -> infinity (relative error O(1/|delta|))
    far = 1e4
    step = abs(float(EF.velocity([w_star + far])[0]))
    assert abs(far * step / (S2 / S4) - 1) < 1e-3


@pytest.mark.parametrize("noise", [3.0, 0.3])
def test_kunstner_near_the_minimum_the_ef_step_is_scaled_by_the_inverse_residual_variance(noise):
    """Near w*, EF -> A = E[r*^2 x^2] ~ noise^2 S2, so delta <- (1 - S2/A) delta: a model whose assumed noise
    variance (1) differs from the data's converges slowly (noise 3: factor ~ 0.89) or overshoots and
    diverges (noise 0.3: factor ~ -10); the true Fisher's factor is 0 (one step)."""
    m, data, w_star, (S2, S4, A, B) = _regression_1d(noise=noise)
    EF = compile_data_flow(rg.empirical_fisher_metric(m.family, data=data), m.family)
    d0 = 1e-7
    ef = EF.descend([w_star + d0], lr=1.0, steps=1, saveat=[0, 1])
    ratio = (ef.xs[-1][0] - w_star) / d0
    factor = 1 - S2 / A
    assert abs(ratio - factor) < 1e-5 * max(1.0, abs(factor))
    if noise > 1:
        assert 0.8 < factor < 0.95  # ~ 1 - 1/noise^2: dozens of steps per decade instead of one
    else:
        assert factor < -5  # each step overshoots w* by a factor |factor| > 1: descent with lr 1 diverges


def test_kunstner_2d_ef_steps_do_not_point_at_the_minimum():
    """Intercept and slope: the true Fisher's step from every point on a circle around theta* points at
    theta* (angle 0); the empirical Fisher's does not. Angles are checked against the NumPy EF."""
    r = np.random.default_rng(5)
    n = 100
    x = r.uniform(0.0, 3.0, n)
    y = 1.0 + 0.5 * x + 0.5 * r.standard_normal(n)
    m = models.linear_regression(1)
    data = m.dataset(x, y)
    A = np.c_[np.ones(n), x]
    theta_star = np.linalg.lstsq(A, y, rcond=None)[0]
    F = compile_data_flow(conditional_fisher_metric(m.family, data), m.family)
    EF = compile_data_flow(rg.empirical_fisher_metric(m.family, data=data), m.family)
    phis = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    pts = theta_star + 2.0 * np.c_[np.cos(phis), np.sin(phis)]
    to_min = theta_star - pts

    def angles(V):
        c = np.sum(V * to_min, axis=1) / (np.linalg.norm(V, axis=1) * np.linalg.norm(to_min, axis=1))
        return np.degrees(np.arccos(np.clip(c, -1, 1)))

    assert angles(F.velocity(pts)).max() < 1e-6
    got = angles(EF.velocity(pts))
    dense = []
    for p in pts:
        res = y - A @ p
        E = (A.T * res**2) @ A / n
        dense.append(-np.linalg.solve(E, A.T @ (-res) / n))
    np.testing.assert_allclose(got, angles(np.array(dense)), atol=1e-6)
    assert got.max() > 20.0
