"""Data sets, metrics over data and the compiled kernels that loop over the rows.

Expected values come from closed forms computed here with NumPy (X^T W X / n,
Gram matrices, least squares by np.linalg.lstsq), never from riemgrad itself.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import riemgrad as rg
from riemgrad import models
from riemgrad.data import Dataset
from riemgrad.errors import ArgumentTypeError, CoordinateError, DataError, RiemgradError, ShapeError
from riemgrad.symbolic.data_metrics import DataMetric

RNG = np.random.default_rng(20261129)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.fixture(scope="module")
def logistic():
    n, k = 300, 3
    m = models.logistic_regression(k)
    X = RNG.standard_normal((n, k)) * np.array([1.0, 0.3, 2.5]) + 0.7  # float features, unequal scales
    A = np.c_[np.ones(n), X]
    y = (RNG.random(n) < _sigmoid(A @ np.array([0.3, -1.0, 2.0, 0.5]))).astype(float)
    return m, m.dataset(X, y), A, y


# ---------------------------------------------------------------- logistic regression: Hessian, Fisher, empirical
def test_logistic_hessian_is_xt_w_x_over_n(logistic):
    m, data, A, _ = logistic
    H = rg.hessian_metric(m.loss, m.chart, data=data)
    assert isinstance(H, DataMetric) and H.kind == "matrix"
    th = RNG.standard_normal((5, 4))
    got = H.evaluate(th)
    for t, G in zip(th, got):
        q = _sigmoid(A @ t)
        np.testing.assert_allclose(G, (A.T * (q * (1 - q))) @ A / len(A), rtol=1e-12, atol=1e-14)


def test_logistic_true_fisher_equals_hessian_empirical_fisher_does_not(logistic):
    m, data, A, y = logistic
    F = rg.fisher_metric(m.family, data=data)
    E = rg.empirical_fisher_metric(m.family, data=data)
    for t in RNG.standard_normal((4, 4)):
        q = _sigmoid(A @ t)
        closed_h = (A.T * (q * (1 - q))) @ A / len(A)
        closed_e = (A.T * (q - y) ** 2) @ A / len(A)  # E_data[(q - y)^2 x x^T]
        np.testing.assert_allclose(F.evaluate(t), closed_h, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(E.evaluate(t), closed_e, rtol=1e-12, atol=1e-14)
        assert np.abs(E.evaluate(t) - closed_h).max() > 1e-3 * np.abs(closed_h).max()


def test_poisson_and_softmax_fisher_closed_forms():
    n = 120
    X = RNG.standard_normal((n, 2))
    A = np.c_[np.ones(n), X]
    pm = models.poisson_regression(2)
    pdata = pm.dataset(X, RNG.poisson(2.0, n))
    t = np.array([0.2, -0.4, 0.3])
    lam = np.exp(A @ t)
    closed = (A.T * lam) @ A / n
    np.testing.assert_allclose(rg.fisher_metric(pm.family, data=pdata).evaluate(t), closed, rtol=1e-12)
    np.testing.assert_allclose(rg.hessian_metric(pm.loss, pm.chart, data=pdata).evaluate(t), closed, rtol=1e-12)

    sm = models.softmax_regression(2, 3)  # coords (b0, w0_0, w0_1, b1, w1_0, w1_1); class 2 is the reference
    sdata = sm.dataset(X, RNG.integers(0, 3, n))
    t = RNG.standard_normal(6)
    Z = np.c_[A @ t[:3], A @ t[3:], np.zeros(n)]
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    closed = np.zeros((6, 6))
    for i in range(n):  # (diag p - p p^T) over the free classes, Kronecker the features
        p = P[i, :2]
        closed += np.kron(np.diag(p) - np.outer(p, p), np.outer(A[i], A[i]))
    closed /= n
    np.testing.assert_allclose(rg.fisher_metric(sm.family, data=sdata).evaluate(t), closed, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(rg.hessian_metric(sm.loss, sm.chart, data=sdata).evaluate(t), closed, rtol=1e-11,
                               atol=1e-14)


# ---------------------------------------------------------------- function space: the Gram matrix of the basis
def test_function_space_metric_is_gram_matrix_of_non_orthonormal_basis():
    x = sp.Symbol("x", real=True)
    th = sp.symbols("th0:4", real=True)
    basis = [1 + x, x - x**2, sp.exp(-x), 2 * x**3 - 1]
    model = sp.Add(*[t * b for t, b in zip(th, basis)])
    xs = RNG.uniform(-1.5, 2.0, 257)
    G = rg.function_space_metric(model, rg.Chart("basis", th), x, measure=Dataset({x: xs}))
    Phi = np.c_[1 + xs, xs - xs**2, np.exp(-xs), 2 * xs**3 - 1]
    for t in RNG.standard_normal((3, 4)):  # a linear model: the same metric everywhere
        np.testing.assert_allclose(G.evaluate(t), Phi.T @ Phi / len(xs), rtol=1e-12)
    assert "\\mathbb{E}_{\\mathrm{data}}" in G._repr_latex_() and "n = 257" in G._repr_latex_()


def test_arrays_as_measure_still_give_the_exact_metric():
    x = sp.Symbol("x", real=True)
    th = sp.symbols("th0:2", real=True)
    g = rg.function_space_metric(th[0] + th[1] * x, rg.Chart("c", th), x, [0, 1, 2])
    assert isinstance(g, rg.Metric)
    assert g.matrix == sp.Matrix([[1, 1], [1, sp.Rational(5, 3)]])
    dm = rg.function_space_metric(th[0] + th[1] * x, rg.Chart("c", th), x, Dataset({x: [0.0, 1.0, 2.0]}))
    assert dm.to_metric().matrix == g.matrix


# ---------------------------------------------------------------- the natural-gradient flow of least squares
@pytest.mark.parametrize("solver", ["cholesky", "qr"])
def test_natural_gradient_flow_of_least_squares_follows_closed_form(solver):
    """L(theta) = E_data[(f - y)^2], f = theta . phi(x), G = E[phi phi^T] (function space).

    grad L = 2 G (theta - beta) with beta the least-squares solution (G beta = E[phi y]), so the natural
    gradient flow d theta/dt = -G^{-1} grad L = -2 (theta - beta) gives
    theta(t) = (theta0 - beta) e^{-2t} + beta, and L - L* = (theta - beta)^T G (theta - beta) decays as e^{-4t}.
    """
    n, d = 10_000, 16
    xs = sp.symbols("x0:15", real=True)
    y = sp.Symbol("y", real=True)
    th = sp.symbols("th0:16", real=True)
    f = th[0] + sp.Add(*[t * x for t, x in zip(th[1:], xs)])
    X = RNG.standard_normal((n, 15)) @ (np.eye(15) + 0.3 * RNG.standard_normal((15, 15)))  # correlated
    Y = X @ RNG.standard_normal(15) + 1.0 + 0.5 * RNG.standard_normal(n)
    data = Dataset({xs: X, y: Y})
    chart = rg.Chart("theta", th)
    G = rg.function_space_metric(f, chart, xs, measure=data)
    field = rg.compile_data_flow(G, (f - y) ** 2, solver=solver)
    A = np.c_[np.ones(n), X]
    beta = np.linalg.lstsq(A, Y, rcond=None)[0]
    x0 = RNG.standard_normal((3, d)) * 2.0
    ts = np.array([0.0, 0.25, 0.5, 1.0])
    res = field.solve_flow(x0, (0.0, 1.0), dt=0.005, saveat=ts)
    assert (res.status == rg.Status.SUCCESS).all()
    closed = (x0 - beta)[None] * np.exp(-2 * ts)[:, None, None] + beta
    np.testing.assert_allclose(res.xs, closed, rtol=0, atol=1e-8)
    Lstar = np.mean((A @ beta - Y) ** 2)
    excess = res.losses - Lstar
    np.testing.assert_allclose(excess, excess[0] * np.exp(-4 * ts)[:, None], rtol=1e-6)


def test_newton_descent_reaches_the_logistic_mle(logistic):
    m, data, A, y = logistic
    field = rg.compile_data_flow(rg.hessian_metric(m.loss, m.chart, data=data), m.loss)
    res = field.descend(np.zeros((2, 4)), lr=1.0, steps=25)
    assert (res.status == rg.Status.SUCCESS).all()
    th = res.xs[-1][0]
    score = A.T @ (_sigmoid(A @ th) - y) / len(y)  # the gradient of the mean NLL, by hand
    assert np.abs(score).max() < 1e-12
    gd = field.descend(np.zeros(4), lr=1.0, steps=25, preconditioner="identity")
    assert gd.preconditioner == "identity" and gd.losses[-1] > res.losses[-1][0]


def test_damped_gauss_newton_step_matches_a_dense_solve():
    x, y = sp.symbols("x y", real=True)
    a, b = sp.symbols("a b", real=True)
    r = sp.tanh(a * x + b) - y
    xs, ys = RNG.standard_normal(40), RNG.standard_normal(40) * 0.3
    data = Dataset({x: xs, y: ys})
    field = rg.compile_data_flow(rg.gauss_newton_metric(r, rg.Chart("ab", (a, b)), data=data), r**2 / 2)
    t = np.array([0.4, -0.2])
    u = np.tanh(t[0] * xs + t[1])
    J = np.c_[(1 - u**2) * xs, 1 - u**2]
    g = J.T @ (u - ys) / 40
    G = J.T @ J / 40 + 0.1 * np.eye(2)
    step = field.descend(t, lr=0.5, steps=1, damping=0.1).xs[-1]
    np.testing.assert_allclose(step, t - 0.5 * np.linalg.solve(G, g), rtol=1e-12)


# ---------------------------------------------------------------- data as a call-time argument
def test_symbolic_size_and_source_do_not_grow_with_n_and_kernel_is_reused():
    m = models.logistic_regression(2)
    small = m.dataset(RNG.standard_normal((10, 2)), RNG.integers(0, 2, 10))
    big_X = RNG.standard_normal((20_000, 2)) + 0.123456789
    big = m.dataset(big_X, RNG.integers(0, 2, 20_000))
    g1 = rg.hessian_metric(m.loss, m.chart, data=small)
    g2 = rg.hessian_metric(m.loss, m.chart, data=big)
    assert g1.per_example == g2.per_example
    assert sum(sp.count_ops(e) for e in g1.per_example) == sum(sp.count_ops(e) for e in g2.per_example)
    f1 = rg.compile_data_flow(g1, m.loss)
    f2 = rg.compile_data_flow(g2, m.loss)
    assert f1.source == f2.source and f1.path == f2.path and f1._module is f2._module
    assert "0.123456789" not in f1.source
    t = np.array([0.1, -0.3, 0.2])
    A = np.c_[np.ones(20_000), big_X]
    q = _sigmoid(A @ t)
    np.testing.assert_allclose(f1.metric(t, data=big), (A.T * (q * (1 - q))) @ A / 20_000, rtol=1e-11)


def test_repeated_rows_and_a_single_row():
    x = sp.Symbol("x", real=True)
    a, b = sp.symbols("a b", real=True)
    xs = np.array([0.3, -1.2, 2.0])
    once = rg.function_space_metric(sp.exp(a * x) + b, rg.Chart("ab", (a, b)), x, Dataset({x: xs}))
    twice = once.with_data(Dataset({x: np.r_[xs, xs]}))
    t = np.array([0.5, 1.0])
    np.testing.assert_allclose(twice.evaluate(t), once.evaluate(t), rtol=1e-14)
    one = once.with_data(Dataset({x: [0.3]}))
    u = np.array([0.3 * np.exp(0.15), 1.0])
    np.testing.assert_allclose(one.evaluate(t), np.outer(u, u), rtol=1e-14)
    assert np.isnan(rg.compile_data_flow(one, (sp.exp(a * x) + b) ** 2).velocity(t)).all()  # rank 1: singular


def test_dataset_description_fingerprint_and_immutability():
    x, y = sp.symbols("x y", real=True)
    d1 = Dataset({x: [1.0, 2.0], y: [0.0, 1.0]})
    d2 = Dataset({x: np.array([1, 2]), y: [0, 1]})
    assert d1.fingerprint == d2.fingerprint and d1 == d2
    assert Dataset({x: [1.0, 2.5], y: [0.0, 1.0]}).fingerprint != d1.fingerprint
    assert repr(d1) == "Dataset(n=2, columns: x (2,), y (2,))"
    with pytest.raises(AttributeError):
        d1.n = 3
    with pytest.raises(ValueError):
        d1.column(x)[0] = 5.0


# ---------------------------------------------------------------- bad input
X_, Y_, A_ = sp.symbols("x y a", real=True)


@pytest.mark.parametrize(
    "columns, err, match",
    [
        ({}, ShapeError, "at least one data symbol"),
        ({X_: []}, ShapeError, "no rows"),
        ({X_: [1.0, 2.0], Y_: [1.0]}, ShapeError, r"`columns\[y\]` has 1 rows but `columns\[x\]` has 2"),
        ({X_: [[1.0, 2.0], [3.0, 4.0]]}, ShapeError, r"`columns\[x\]` must have shape \(n,\)"),
        ({(X_, Y_): [1.0, 2.0]}, ShapeError, r"must have shape \(n, 2\)"),
        ({X_: [1.0, np.nan]}, DataError, r"`columns\[x\]` must be finite.*row 1: NaN"),
        ({X_: [np.inf, 1.0]}, DataError, r"row 0: inf"),
        ({"x": [1.0]}, CoordinateError, "must be SymPy Symbols"),
        ({X_: ["a", "b"]}, ArgumentTypeError, "real numbers"),
        ([1.0, 2.0], ArgumentTypeError, "mapping"),
    ],
    ids=["empty-mapping", "empty-rows", "wrong-length", "wrong-shape", "vector-shape", "nan", "inf", "string-key",
         "strings", "not-mapping"],
)
def test_bad_datasets(columns, err, match):
    with pytest.raises(err, match=match) as info:
        Dataset(columns)
    assert isinstance(info.value, RiemgradError)


def test_missing_column_and_coordinate_clash():
    chart = rg.Chart("a", (A_,))
    with pytest.raises(ShapeError, match="`data` has no column for y"):
        rg.hessian_metric((A_ * X_ - Y_) ** 2, chart, data=Dataset({X_: [1.0, 2.0]}))
    with pytest.raises(ShapeError, match="`measure` has no column for x"):
        rg.function_space_metric(A_ * X_, chart, X_, measure=Dataset({Y_: [1.0]}))
    with pytest.raises(CoordinateError, match="`data` binds a, which is also a coordinate"):
        rg.gauss_newton_metric(A_ * X_, chart, data=Dataset({X_: [1.0], A_: [2.0]}))
    with pytest.raises(ArgumentTypeError, match="`data` must be a riemgrad.data.Dataset"):
        rg.hessian_metric(A_**2, chart, data=[1.0, 2.0])


def test_labels_outside_the_support():
    m = models.logistic_regression(1)
    with pytest.raises(DataError, match=r"`labels` holds labels outside the support of the bernoulli.*row 1 has 2"):
        m.dataset([0.0, 1.0, 2.0], [0, 2, 1])
    bad = Dataset({m.inputs[0]: [0.0, 1.0], m.label: [1.0, 2.0]})
    with pytest.raises(DataError, match="`data` holds labels outside"):
        rg.fisher_metric(m.family, data=bad)
    with pytest.raises(DataError, match="`data` holds labels outside"):
        rg.empirical_fisher_metric(m.family, data=bad)
    ok = m.dataset([0.0, 1.0], [1, 0])
    field = rg.compile_data_flow(rg.fisher_metric(m.family, data=ok), m.family)
    with pytest.raises(DataError, match="bernoulli"):
        field.descend([0.0, 0.0], lr=1.0, steps=1, data=bad)
    with pytest.raises(DataError, match="non-negative integer"):
        models.poisson_regression(1).dataset([0.0, 1.0], [1.5, 2])
    with pytest.raises(DataError, match=r"integers in 0..2"):
        models.softmax_regression(1, 3).dataset([0.0, 1.0], [0, 3])


def test_bad_settings():
    m = models.logistic_regression(1)
    data = m.dataset([0.0, 1.0, 2.0], [0, 1, 1])
    H = rg.hessian_metric(m.loss, m.chart, data=data)
    with pytest.raises(rg.errors.SolverSettingsError, match="`solver` 'qr'"):
        rg.compile_data_flow(H, m.loss, solver="qr")
    field = rg.compile_data_flow(H, m.loss)
    with pytest.raises(rg.errors.SolverSettingsError, match="`damping`"):
        field.descend([0.0, 0.0], lr=1.0, steps=1, damping=-1.0)
    with pytest.raises(rg.errors.SolverSettingsError, match="`preconditioner`"):
        field.descend([0.0, 0.0], lr=1.0, steps=1, preconditioner="adam")
    with pytest.raises(ShapeError, match=r"`x0` must have shape \(2,\)"):
        field.descend([0.0, 0.0, 0.0], lr=1.0, steps=1)
    with pytest.raises(ArgumentTypeError, match="`metric` must be a DataMetric"):
        rg.compile_data_flow(rg.euclidean_metric(m.chart), m.loss)


def test_one_field_swept_over_several_data_sets():
    m = models.linear_regression(1)
    fields, runs = [], []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(50)
        data = m.dataset(x, 2 * x - 1 + 0.1 * rng.standard_normal(50))
        if not fields:
            fields.append(rg.compile_data_flow(rg.gauss_newton_metric(m.residual, m.chart, data=data), m.loss))
        runs.append(fields[0].descend([0.0, 0.0], lr=1.0, steps=1, data=data).xs[-1])
        A = np.c_[np.ones(50), x]
        np.testing.assert_allclose(runs[-1], np.linalg.lstsq(A, data.column(m.label), rcond=None)[0], rtol=1e-12)
    assert not np.allclose(runs[0], runs[1])


def test_threads_over_starting_points_give_the_same_runs(logistic):
    m, data, _, _ = logistic
    field = rg.compile_data_flow(rg.fisher_metric(m.family, data=data), m.family)
    x0 = RNG.standard_normal((7, 4))
    one = field.descend(x0, lr=0.5, steps=4, saveat=[0, 2, 4])
    two = field.descend(x0, lr=0.5, steps=4, saveat=[0, 2, 4], threads=2)
    np.testing.assert_array_equal(one.xs, two.xs)
    np.testing.assert_array_equal(one.status, two.status)
    f1 = field.solve_flow(x0, (0.0, 0.1), dt=0.05)
    f3 = field.solve_flow(x0, (0.0, 0.1), dt=0.05, threads=3)
    np.testing.assert_array_equal(f1.xs, f3.xs)
    with pytest.raises(rg.errors.SolverSettingsError, match="`threads`"):
        field.descend(x0, lr=0.5, steps=1, threads=0)


def _five_metrics():
    m = models.logistic_regression(1)
    data = m.dataset([0.5, -1.25, 2.0, 0.1, 0.1], [1, 0, 1, 1, 0])  # a repeated input with both labels
    return {
        "function-space": rg.function_space_metric(m.output, m.chart, m.inputs, measure=data),
        "gauss-newton": rg.gauss_newton_metric(sp.tanh(m.output) - m.label, m.chart, data=data),
        "hessian": rg.hessian_metric(m.loss, m.chart, data=data),
        "fisher": rg.fisher_metric(m.family, data=data),
        "empirical-fisher": rg.empirical_fisher_metric(m.family, data=data),
    }


@pytest.mark.parametrize("name", list(_five_metrics()))
def test_every_data_metric_compiled_equals_sympy_evaluating_the_per_example_matrix(name):
    g = _five_metrics()[name]
    M = g.per_example
    assert M == M.T
    rows = [dict(zip(g.data_symbols, r)) for r in g.data.matrix(g.data_symbols)]
    pts = np.array([[0.3, -0.7], [-1.1, 0.4]])
    got = g.evaluate(pts)
    assert got.shape == (2, 2, 2)
    for p, G in zip(pts, got):
        at = dict(zip(g.chart.coords, p))
        want = sum(np.array(M.subs(at).subs(r).evalf(30), dtype=float) for r in rows) / len(rows)
        np.testing.assert_allclose(G, want, rtol=1e-12)
        assert np.all(np.linalg.eigvalsh(G) > 0)
    latex = g._repr_latex_()
    assert latex.startswith("$\\displaystyle g_{ij} = \\mathbb{E}_{\\mathrm{data}}") and "n = 5" in latex
