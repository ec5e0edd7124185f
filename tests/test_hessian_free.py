"""Hessian-free descent over data: compiled curvature-vector products and truncated CG (Martens 2010).

Expected values never come from the code under test: the logistic-regression
Hessian A^T diag(q(1 - q)) A / n and the MLP's Jacobian are written here in
NumPy (the MLP's by hand from its layers), dense steps are np.linalg.solve,
products are also checked against central finite differences of the compiled
gradient, and the short CG runs are worked by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import riemgrad as rg
from riemgrad import models
from riemgrad.data import Dataset
from riemgrad.errors import RiemgradError, ShapeError, SolverSettingsError
from riemgrad.flows.hessian_free import HessianFreeResult
from riemgrad.kernels.hvp import (
    curvature_product,
    directional_derivative,
    gauss_newton_vector_product,
    hessian_vector_product,
)
from riemgrad.preconditioners import hessian_free

H8 = 8  # hidden units of the small MLP


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# ---------------------------------------------------------------- problems and their NumPy twins
@pytest.fixture(scope="module")
def logistic():
    rng = np.random.default_rng(1)
    n = 300
    m = models.logistic_regression(3)
    X = rng.standard_normal((n, 3)) * np.array([1.0, 0.5, 2.0]) + 0.2
    A = np.c_[np.ones(n), X]
    y = (rng.random(n) < _sigmoid(A @ np.array([0.3, -1.0, 0.8, 0.4]))).astype(float)
    data = m.dataset(X, y)
    field = rg.compile_data_flow(rg.fisher_metric(m.family, data=data), m.family)
    return m, data, A, y, field


def _logistic_numpy(A, y, th):
    """Loss, gradient and Hessian of the average logistic NLL, by hand."""
    z = A @ th
    q = _sigmoid(z)
    loss = np.mean(np.logaddexp(0.0, z) - y * z)
    return loss, A.T @ (q - y) / len(y), (A * (q * (1 - q))[:, None]).T @ A / len(y)


@pytest.fixture(scope="module")
def mlp():
    rng = np.random.default_rng(2)
    n = 200
    m = models.mlp((1, H8, 1), "tanh")
    x = rng.uniform(-1.5, 1.5, n)
    y = np.sin(2 * x) + 0.1 * rng.standard_normal(n)
    data = m.dataset(x, y)
    gn = rg.compile_data_flow(rg.gauss_newton_metric(m.residual, m.chart, data=data), m.loss)
    th = rng.standard_normal(m.chart.dim) * 0.7
    return m, data, x, y, gn, th


def _mlp_numpy(x, y, th):
    """Residuals and Jacobian of f(x) = W1 tanh(W0 x + b0) + b1 in the model's parameter order
    (W0_o_0 for o < 8, b0_o, W1_0_o, b1_0), by hand."""
    W0, b0, W1, b1 = th[:H8], th[H8 : 2 * H8], th[2 * H8 : 3 * H8], th[3 * H8]
    a = np.tanh(np.outer(x, W0) + b0)
    r = a @ W1 + b1 - y
    dh = W1 * (1 - a * a)
    J = np.c_[dh * x[:, None], dh, a, np.ones(len(x))]
    return r, J


def _fd_hessian_product(field, th, v, h=1e-5):
    """Central differences of the compiled gradient along v (a different method from the R-operator)."""
    return (field.gradient(th + h * v) - field.gradient(th - h * v)) / (2 * h)


# ---------------------------------------------------------------- the R-operator
X_, Y_, V1, V2 = sp.symbols("x y v1 v2", real=True)
R_CASES = {
    "product": X_**2 * sp.exp(X_ * Y_),
    "log-sqrt": sp.log(1 + X_**2) * sp.sqrt(2 + Y_**2),
    "symbolic power": (2 + X_**2) ** Y_,
    "tanh-chain": sp.tanh(sp.tanh(X_ - 2 * Y_) * Y_),
    "abs": sp.Abs(X_ - Y_) * X_,
    "atan2": sp.atan2(Y_, 2 + X_**2),
}


@pytest.mark.parametrize("expr", list(R_CASES.values()), ids=list(R_CASES))
def test_directional_derivative_is_the_gradient_along_v(expr):
    got = directional_derivative(expr, (X_, Y_), (V1, V2))
    want = sp.diff(expr, X_) * V1 + sp.diff(expr, Y_) * V2
    for pt in ({X_: 0.3, Y_: -0.7, V1: 1.1, V2: 0.4}, {X_: -1.2, Y_: 0.5, V1: -0.3, V2: 2.0}):
        assert float(got.subs(pt)) == pytest.approx(float(want.subs(pt)), rel=1e-12, abs=1e-12)


def test_directional_derivative_shares_subexpressions():
    # f = g(h(theta)) with h used in every output: its derivative is computed once (memo) and reused
    memo: dict = {}
    h = sp.tanh(X_ * Y_)
    first = directional_derivative(h**2, (X_, Y_), (V1, V2), memo)
    assert h in memo and first == 2 * h * memo[h]


# ---------------------------------------------------------------- products
def test_hessian_product_logistic_matches_numpy_hessian(logistic):
    rng = np.random.default_rng(3)
    _, data, A, y, field = logistic
    th = np.array([0.1, -0.4, 0.3, 0.2])
    v = rng.standard_normal(4)
    _, _, H = _logistic_numpy(A, y, th)
    np.testing.assert_allclose(hessian_vector_product(field, th, v), H @ v, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hessian_vector_product(field, th, v), _fd_hessian_product(field, th, v),
                               rtol=1e-6, atol=1e-9)
    # the Fisher metric of logistic regression is its Hessian (canonical link): the GN product agrees
    np.testing.assert_allclose(gauss_newton_vector_product(field, th, v), H @ v, rtol=1e-12, atol=1e-14)


def test_hessian_product_mlp_matches_dense_hessian_and_differences(mlp):
    rng = np.random.default_rng(4)
    m, data, x, y, _, th = mlp
    hess = rg.compile_data_flow(rg.hessian_metric(m.loss, m.chart, data=data), m.loss)
    v = rng.standard_normal(m.chart.dim)
    got = hessian_vector_product(hess, th, v)
    np.testing.assert_allclose(got, hess.metric(th) @ v, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got, _fd_hessian_product(hess, th, v), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("activation", ["sigmoid", "softplus"])
def test_hessian_product_through_exp_placeholders(activation):
    # exp(a) is computed once per row as a symbol E and differentiated as E * D_v a: check the result
    rng = np.random.default_rng(8)
    m = models.mlp((1, 2, 1), activation, output="bernoulli")
    x = rng.uniform(-2, 2, 40)
    data = m.dataset(x, (rng.random(40) < 0.5).astype(float))
    field = rg.compile_data_flow(rg.hessian_metric(m.loss, m.chart, data=data), m.loss)
    th, v = rng.standard_normal(m.chart.dim), rng.standard_normal(m.chart.dim)
    got = hessian_vector_product(field, th, v)
    np.testing.assert_allclose(got, field.metric(th) @ v, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got, _fd_hessian_product(field, th, v), rtol=1e-5, atol=1e-7)


def test_logistic_hessian_product_calls_exp_once_per_row(logistic):
    from riemgrad.kernels.hvp import generate_hf_source

    src = generate_hf_source(logistic[4], "hessian")
    body = src[src.index("def _rows_prod") : src.index("# ----")]
    assert body.count("math.exp(") == 1


def test_gauss_newton_product_mlp_matches_numpy_jacobian(mlp):
    rng = np.random.default_rng(5)
    m, data, x, y, gn, th = mlp
    _, J = _mlp_numpy(x, y, th)
    V = rng.standard_normal((3, m.chart.dim))
    P = th + 0.1 * rng.standard_normal((3, m.chart.dim))
    got = gauss_newton_vector_product(gn, P, V)
    for b in range(3):
        _, Jb = _mlp_numpy(x, y, P[b])
        np.testing.assert_allclose(got[b], Jb.T @ (Jb @ V[b]) / len(x), rtol=1e-11, atol=1e-13)
    # one direction for all points, and damping adds lam v
    one = curvature_product(gn, P, V[0], product="gauss_newton", damping=0.5)
    _, J0 = _mlp_numpy(x, y, P[0])
    np.testing.assert_allclose(one[0], J0.T @ (J0 @ V[0]) / len(x) + 0.5 * V[0], rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("product", ["hessian", "gauss_newton"])
def test_products_without_the_row_cache_agree(mlp, monkeypatch, product):
    # data too large for the per-row cache: every product recomputes from the rows, same numbers
    import riemgrad.kernels.hvp as hvp

    m, data, x, y, gn, th = mlp
    v = np.random.default_rng(9).standard_normal(m.chart.dim)
    pre = hessian_free(damping=1e-3, max_cg=10, product=product)
    cached = curvature_product(gn, th, v, product=product), gn.descend(th, lr=1.0, steps=2, preconditioner=pre)
    monkeypatch.setattr(hvp, "CACHE_BYTES", 0)
    direct = curvature_product(gn, th, v, product=product), gn.descend(th, lr=1.0, steps=2, preconditioner=pre)
    np.testing.assert_allclose(direct[0], cached[0], rtol=1e-12, atol=1e-14)
    # the fused gradient pass orders its sums differently; CG (cond ~1e4 here) amplifies the round-off
    np.testing.assert_allclose(direct[1].xs, cached[1].xs, rtol=1e-6, atol=1e-9)


def test_products_take_other_data_of_the_same_columns(logistic):
    rng = np.random.default_rng(6)
    m, _, _, _, field = logistic
    X2 = rng.standard_normal((50, 3))
    y2 = (rng.random(50) < 0.5).astype(float)
    A2 = np.c_[np.ones(50), X2]
    th, v = np.array([0.2, 0.1, -0.1, 0.3]), np.array([1.0, -2.0, 0.5, 0.0])
    _, _, H2 = _logistic_numpy(A2, y2, th)
    np.testing.assert_allclose(hessian_vector_product(field, th, v, data=m.dataset(X2, y2)), H2 @ v, rtol=1e-12)


# ---------------------------------------------------------------- HF steps against dense solves
@pytest.mark.nojit
def test_exact_cg_with_hessian_products_is_the_newton_step(logistic):
    _, data, A, y, field = logistic
    P = np.array([[0.0, 0.0, 0.0, 0.0], [0.5, -1.0, 0.2, 0.1], [-0.3, 0.4, 0.9, -0.2]])
    res = rg.descend(field, P, lr=1.0, steps=1,
                     preconditioner=hessian_free(damping=0.0, max_cg=8, tol=1e-14, product="hessian"))
    assert isinstance(res, HessianFreeResult) and (res.status == 0).all()
    for b in range(3):
        _, g, H = _logistic_numpy(A, y, P[b])
        np.testing.assert_allclose(res.xs[-1, b], P[b] - np.linalg.solve(H, g), rtol=1e-10, atol=1e-12)
    # CG is exact in dim = 4 iterations; round-off may ask for one more to reach tol = 1e-14
    assert (res.cg_iterations[0] <= 5).all() and (res.cg_stops[0] == 1).all()


def test_exact_cg_with_gauss_newton_products_is_the_gauss_newton_step(mlp):
    m, data, x, y, gn, th = mlp
    lam = 1e-3
    res = gn.descend(th, lr=1.0, steps=1, preconditioner=hessian_free(damping=lam, max_cg=300, tol=1e-13))
    r, J = _mlp_numpy(x, y, th)
    n, p = J.shape
    step = np.linalg.solve(J.T @ J / n + lam * np.eye(p), J.T @ r / n)
    np.testing.assert_allclose(res.xs[-1], th - step, rtol=1e-7, atol=1e-8 * np.abs(step).max())


def test_exact_cg_from_a_warm_start_still_lands_on_newton(logistic):
    # CG started from 0.5 * the previous direction converges to the same solution: three Newton steps
    _, data, A, y, field = logistic
    th = np.array([0.5, -1.0, 0.2, 0.1])
    res = field.descend(th, lr=1.0, steps=3, saveat=range(4),
                        preconditioner=hessian_free(damping=0.0, max_cg=10, tol=1e-13, product="hessian",
                                                    warm_start=0.5))
    for k in range(3):
        _, g, H = _logistic_numpy(A, y, th)
        th = th - np.linalg.solve(H, g)
        np.testing.assert_allclose(res.xs[k + 1], th, rtol=1e-10, atol=1e-12)


@pytest.mark.nojit
def test_exact_gauss_newton_step_undamped_on_a_small_least_squares_problem():
    a, b, x, y = sp.symbols("a b x y", real=True)
    xs = np.linspace(0.0, 1.0, 7)
    ys = 2.0 * np.exp(-1.3 * xs) + 0.05 * np.cos(5 * xs)
    r = a * sp.exp(b * x) - y
    field = rg.compile_data_flow(rg.gauss_newton_metric(r, rg.Chart("ab", (a, b)), data=Dataset({x: xs, y: ys})),
                                 r**2 / 2)
    th = np.array([1.0, -0.5])
    res = field.descend(th, lr=1.0, steps=1, preconditioner=hessian_free(damping=0.0, max_cg=2, tol=0.0))
    res_r = th[0] * np.exp(th[1] * xs) - ys
    J = np.c_[np.exp(th[1] * xs), th[0] * xs * np.exp(th[1] * xs)]
    np.testing.assert_allclose(res.xs[-1], th - np.linalg.solve(J.T @ J, J.T @ res_r), rtol=1e-11)


@pytest.mark.nojit
def test_one_cg_iteration_is_the_cauchy_step(logistic):
    # max_cg = 1: d = -(g.g / g.(H + lam I) g) g, the exact minimiser of the model along -g
    _, _, A, y, field = logistic
    th, lam = np.array([0.4, 0.1, -0.6, 0.2]), 0.3
    res = field.descend(th, lr=0.5, steps=1,
                        preconditioner=hessian_free(damping=lam, max_cg=1, tol=0.0, product="hessian"))
    _, g, H = _logistic_numpy(A, y, th)
    d = -(g @ g) / (g @ (H + lam * np.eye(4)) @ g) * g
    np.testing.assert_allclose(res.xs[-1], th + 0.5 * d, rtol=1e-12)
    assert res.cg_iterations.tolist() == [1] and res.cg_stops.tolist() == [3]


# ---------------------------------------------------------------- negative curvature
@pytest.fixture(scope="module")
def saddle():
    """l = a^2/2 - b^2/2 + 2 a x + b x over x = 1: H = diag(1, -1), g(0, 0) = (2, 1)."""
    a, b, x = sp.symbols("a b x", real=True)
    loss = a**2 / 2 - b**2 / 2 + 2 * a * x + b * x
    chart = rg.Chart("ab", (a, b))
    return rg.compile_data_flow(rg.hessian_metric(loss, chart, data=Dataset({x: [1.0, 1.0]})), loss)


@pytest.mark.nojit
def test_negative_curvature_keeps_the_last_iterate(saddle):
    # by hand: p0 = (-2, -1), kappa = 3, alpha = 5/3, d1 = (-10/3, -5/3), r1 = (4/3, -8/3), beta = 16/9,
    # p1 = (-20/9, -40/9), p1.H p1 = (400 - 1600)/81 < 0: stop with d1
    res = saddle.descend([0.0, 0.0], lr=1.0, steps=1, preconditioner=hessian_free(damping=0.0, product="hessian"))
    np.testing.assert_allclose(res.xs[-1], [-10 / 3, -5 / 3], rtol=1e-14)
    assert res.cg_iterations.tolist() == [1] and res.cg_stops.tolist() == [4]


@pytest.mark.nojit
def test_negative_curvature_on_the_first_iteration_takes_the_gradient(saddle):
    # at (0, -3): g = (2, 4), g.H g = 4 - 16 < 0: the direction is -g
    res = saddle.descend([0.0, -3.0], lr=0.25, steps=1, preconditioner=hessian_free(damping=0.0, product="hessian"))
    np.testing.assert_allclose(res.xs[-1], [0.0 - 0.25 * 2.0, -3.0 - 0.25 * 4.0], rtol=1e-14)
    assert res.cg_iterations.tolist() == [0] and res.cg_stops.tolist() == [4]


# ---------------------------------------------------------------- Martens' progress rule
def _numpy_cg_progress(Amat, g, max_cg, eps):
    """CG on Amat d = -g from 0 with only Martens' relative-progress stop, written from the paper (sec. 4.4)."""
    d = np.zeros_like(g)
    r = -g.copy()
    p = r.copy()
    phis = [0.0]
    for i in range(1, max_cg + 1):
        Ap = Amat @ p
        alpha = (r @ r) / (p @ Ap)
        d = d + alpha * p
        r_new = r - alpha * Ap
        phis.append(0.5 * d @ Amat @ d + g @ d)
        k = max(10, int(0.1 * i))
        if i > k and phis[i] < 0 and (phis[i] - phis[i - k]) / phis[i] < k * eps:
            return d, i
        p = r_new + (r_new @ r_new) / (r @ r) * p
        r = r_new
    return d, max_cg


def test_progress_rule_stops_where_the_paper_says(mlp):
    m, data, x, y, gn, th = mlp
    lam, eps = 1e-4, 5e-3
    res = gn.descend(th, lr=1.0, steps=1,
                     preconditioner=hessian_free(damping=lam, max_cg=200, tol=0.0, progress_tol=eps))
    r, J = _mlp_numpy(x, y, th)
    Amat = J.T @ J / len(x) + lam * np.eye(J.shape[1])
    d, its = _numpy_cg_progress(Amat, J.T @ r / len(x), 200, eps)
    assert res.cg_stops.tolist() == [2] and 10 < res.cg_iterations[0] < 200
    assert abs(int(res.cg_iterations[0]) - its) <= 1  # round-off may move the stop by one iteration
    if res.cg_iterations[0] == its:  # CG on an ill-conditioned system: iterates agree to ~1e-5 (seeds 0-7)
        np.testing.assert_allclose(res.xs[-1], th + d, rtol=0, atol=1e-4 * np.abs(d).max())


# ---------------------------------------------------------------- descent
def test_hf_decreases_the_mlp_loss(mlp):
    m, data, x, y, gn, th = mlp
    for pre in (hessian_free(damping=1e-2, max_cg=30), hessian_free(damping=1e-2, max_cg=30, warm_start=0.95)):
        res = gn.descend(th, lr=1.0, steps=15, saveat=range(16), preconditioner=pre)
        L = res.losses
        assert res.status == 0 and L[-1] < 0.2 * L[0]
        r, _ = _mlp_numpy(x, y, res.xs[-1])
        assert L[-1] == pytest.approx(np.mean(r**2) / 2, rel=1e-12)


def test_hf_with_hessian_products_and_adaptive_damping_decreases_monotonically(mlp):
    m, data, x, y, _, th = mlp
    hess = rg.compile_data_flow(rg.hessian_metric(m.loss, m.chart, data=data), m.loss)
    res = hess.descend(th, lr=1.0, steps=20, saveat=range(21),
                       preconditioner=hessian_free(damping=1.0, max_cg=30, product="hessian", adapt_damping=True))
    L = res.losses
    assert res.status == 0 and np.all(np.diff(L) <= 0) and L[-1] < 0.3 * L[0]


def test_adaptive_damping_follows_the_reduction_ratio(logistic):
    # replay every step in NumPy: the exact damped Newton direction, rho, Martens' rule and the rejection
    _, data, A, y, field = logistic
    th0 = np.array([3.0, -4.0, 5.0, 3.0])  # far out: the first steps overshoot
    steps = 12
    res = field.descend(th0, lr=1.0, steps=steps, saveat=range(steps + 1),
                        preconditioner=hessian_free(damping=1e-3, max_cg=10, tol=1e-13, product="hessian",
                                                    adapt_damping=True))
    lams = res.dampings
    assert lams[0] == 1e-3
    grew = False
    for k in range(steps):
        L0, g, H = _logistic_numpy(A, y, res.xs[k])
        d = -np.linalg.solve(H + lams[k] * np.eye(4), g)
        L1 = _logistic_numpy(A, y, res.xs[k] + d)[0]
        rho = (L1 - L0) / (g @ d + 0.5 * d @ H @ d)
        want = lams[k] * (1.5 if rho < 0.25 else 2 / 3 if rho > 0.75 else 1.0)
        grew |= rho < 0.25
        if k + 1 < steps:
            assert lams[k + 1] == pytest.approx(want, rel=1e-12)
        np.testing.assert_allclose(res.xs[k + 1], res.xs[k] + d if L1 < L0 else res.xs[k], rtol=1e-8, atol=1e-10)
    assert grew


def test_batch_threads_and_the_public_descend_agree(logistic):
    rng = np.random.default_rng(7)
    _, data, _, _, field = logistic
    P = rng.standard_normal((5, 4)) * 0.5
    pre = hessian_free(damping=1e-3, max_cg=4)
    one = rg.descend(field, P, lr=1.0, steps=3, preconditioner=pre)
    two = field.descend(P, lr=1.0, steps=3, preconditioner=pre, threads=2)
    np.testing.assert_array_equal(one.xs, two.xs)
    np.testing.assert_array_equal(one.cg_iterations, two.cg_iterations)
    assert one.cg_iterations.shape == (3, 5) and one.preconditioner == "hessian_free(gauss_newton)"


def test_damping_none_takes_the_runs_damping(logistic):
    m, data, _, _, _ = logistic
    field = rg.compile_data_flow(rg.fisher_metric(m.family, data=data), m.family, damping=0.5)
    pre = hessian_free(max_cg=2)
    assert field.descend(np.zeros(4), lr=1.0, steps=1, preconditioner=pre).dampings.tolist() == [0.5]
    assert field.descend(np.zeros(4), lr=1.0, steps=1, preconditioner=pre, damping=0.1).settings.damping == 0.1


def test_a_point_outside_the_domain_stops_the_run():
    s, x = sp.symbols("s x", positive=True)
    loss = (s - x) ** 2 / 2 + sp.log(s)
    field = rg.compile_data_flow(rg.hessian_metric(loss, rg.Chart("s", (s,)), data=Dataset({x: [0.1]})), loss)
    res = field.descend([1.0], lr=10.0, steps=3, preconditioner=hessian_free(damping=0.0, product="hessian"))
    assert res.status == rg.Status.LEFT_DOMAIN and res.k_final == 0


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"damping": -1.0}, "`damping` must be a finite number >= 0"),
        ({"damping": float("nan")}, "`damping`"),
        ({"damping": float("inf")}, "`damping`"),
        ({"damping": "big"}, "`damping`"),
        ({"max_cg": 0}, "`max_cg` must be an integer >= 1"),
        ({"max_cg": 2.5}, "`max_cg`"),
        ({"max_cg": True}, "`max_cg`"),
        ({"tol": -1e-3}, "`tol`"),
        ({"progress_tol": float("nan")}, "`progress_tol`"),
        ({"warm_start": 1.5}, "`warm_start` must lie in"),
        ({"product": "newton"}, "`product` must be one of"),
        ({"damping": 0.0, "adapt_damping": True}, "`damping` must be > 0"),
    ],
    ids=lambda v: str(v) if isinstance(v, dict) else None,
)
def test_bad_settings_name_the_argument(kwargs, match):
    with pytest.raises(SolverSettingsError, match=match):
        hessian_free(**kwargs)
    assert issubclass(SolverSettingsError, (RiemgradError, ValueError))


def test_gauss_newton_product_needs_an_outer_metric(saddle):
    with pytest.raises(SolverSettingsError, match="`product` 'gauss_newton' needs"):
        saddle.descend([0.0, 0.0], lr=1.0, steps=1, preconditioner=hessian_free())


def test_adaptive_damping_needs_a_positive_run_damping(saddle):
    with pytest.raises(SolverSettingsError, match="adapt_damping"):
        saddle.descend([0.0, 0.0], lr=1.0, steps=1, preconditioner=hessian_free(product="hessian", adapt_damping=True))


def test_flow_field_refuses_hessian_free():
    x = sp.Symbol("x", real=True)
    field = rg.compile_flow(rg.euclidean_metric(rg.Chart("line", (x,))), x**2 / 2)
    with pytest.raises(SolverSettingsError, match="`preconditioner` hessian_free.*compile_data_flow"):
        rg.descend(field, [1.0], lr=0.1, steps=1, preconditioner=hessian_free())


def test_bad_shapes_and_threads(logistic):
    _, _, _, _, field = logistic
    with pytest.raises(ShapeError, match="`v`"):
        hessian_vector_product(field, np.zeros(4), np.zeros(3))
    with pytest.raises(ShapeError, match="`v` must hold one direction or one per point"):
        hessian_vector_product(field, np.zeros((3, 4)), np.zeros((2, 4)))
    with pytest.raises(SolverSettingsError, match="`threads`"):
        field.descend(np.zeros(4), lr=1.0, steps=1, preconditioner=hessian_free(), threads=0)
    with pytest.raises(SolverSettingsError, match="`product`"):
        curvature_product(field, np.zeros(4), np.ones(4), product="fisher")
