"""The main API over data: compile_flow(DataMetric, loss), descend and solve_flow on a DataField.

Expected values come from NumPy written here (Newton and gradient descent for
logistic regression, least squares by np.linalg.lstsq and the closed-form
flow), never from riemgrad itself.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import riemgrad as rg
from riemgrad import models
from riemgrad.data import Dataset
from riemgrad.errors import RiemgradError, SolverSettingsError
from riemgrad.kernels import DataField

RNG = np.random.default_rng(7)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.fixture(scope="module")
def logistic():
    n = 200
    m = models.logistic_regression(2)
    X = RNG.standard_normal((n, 2)) * np.array([1.5, 0.4]) + 0.3
    A = np.c_[np.ones(n), X]
    y = (RNG.random(n) < _sigmoid(A @ np.array([0.2, -1.0, 1.5]))).astype(float)
    data = m.dataset(X, y)
    field = rg.compile_flow(rg.fisher_metric(m.family, data=data), m.family)
    return m, data, A, y, field


def _numpy_newton(A, y, th, steps, lr, identity=False):
    n = A.shape[0]
    for _ in range(steps):
        q = _sigmoid(A @ th)
        g = A.T @ (q - y) / n
        H = (A * (q * (1 - q))[:, None]).T @ A / n
        th = th - lr * (g if identity else np.linalg.solve(H, g))
    return th


def test_compile_flow_dispatches_a_data_metric(logistic):
    _, data, _, _, field = logistic
    assert isinstance(field, DataField)
    assert field.data is data and field.solver == "cholesky"


def test_descend_on_a_data_field_is_newton(logistic):
    _, _, A, y, field = logistic
    th0 = np.array([0.1, -0.2, 0.3])
    res = rg.descend(field, th0, lr=1.0, steps=6)
    assert res.status == rg.Status.SUCCESS
    np.testing.assert_allclose(res.xs[-1], _numpy_newton(A, y, th0, 6, 1.0), rtol=1e-10, atol=1e-12)
    # the same run through the field's own method
    np.testing.assert_array_equal(res.xs[-1], field.descend(th0, lr=1.0, steps=6).xs[-1])


def test_descend_identity_preconditioner_is_gradient_descent(logistic):
    _, _, A, y, field = logistic
    th0 = np.zeros(3)
    res = rg.descend(field, th0, lr=0.7, steps=9, preconditioner=rg.preconditioners.identity())
    np.testing.assert_allclose(res.xs[-1], _numpy_newton(A, y, th0, 9, 0.7, identity=True), rtol=1e-12, atol=1e-14)
    assert res.preconditioner == "identity"


def test_params_binds_another_dataset(logistic):
    m, _, _, _, field = logistic
    X2 = RNG.standard_normal((50, 2))
    y2 = (RNG.random(50) < 0.5).astype(float)
    A2 = np.c_[np.ones(50), X2]
    res = rg.descend(field, np.zeros((2, 3)), lr=1.0, steps=3, params=m.dataset(X2, y2))
    np.testing.assert_allclose(res.xs[-1, 1], _numpy_newton(A2, y2, np.zeros(3), 3, 1.0), rtol=1e-10, atol=1e-12)


def test_solve_flow_on_a_data_field_follows_the_least_squares_closed_form():
    # Residual r = a + b x + c x^2 - y, loss E[r^2 / 2], Gauss-Newton metric E[J^T J] with J = (1, x, x^2):
    # grad = E[J^T J] (theta - beta_hat), so the flow is d theta/dt = -(theta - beta_hat): theta(t) =
    # beta_hat + (theta0 - beta_hat) e^{-t}, beta_hat the least-squares solution.
    a, b, c, x, y = sp.symbols("a b c x y", real=True)
    xs = RNG.uniform(-1, 2, 400)
    ys = np.cos(xs) + 0.1 * RNG.standard_normal(400)
    r = a + b * x + c * x**2 - y
    chart = rg.Chart("abc", (a, b, c))
    G = rg.gauss_newton_metric(r, chart, data=Dataset({x: xs, y: ys}))
    field = rg.compile_flow(G, r**2 / 2, strategy="qr")
    assert field.solver == "qr"
    beta = np.linalg.lstsq(np.c_[np.ones(400), xs, xs**2], ys, rcond=None)[0]
    th0 = np.array([1.0, -2.0, 0.5])
    ts = np.array([0.0, 0.5, 1.0, 2.0])
    res = rg.solve_flow(field, th0, (0.0, 2.0), dt=0.01, saveat=ts)
    expected = beta + (th0 - beta) * np.exp(-ts)[:, None]
    np.testing.assert_allclose(res.xs, expected, rtol=0, atol=1e-9)


def test_compile_flow_data_argument_replaces_the_metrics_rows(logistic):
    m, _, _, _, _ = logistic
    X2 = RNG.standard_normal((40, 2))
    y2 = (RNG.random(40) < 0.5).astype(float)
    d2 = m.dataset(X2, y2)
    X3 = RNG.standard_normal((30, 2))
    metric = rg.fisher_metric(m.family, data=m.dataset(X3, (RNG.random(30) < 0.5).astype(float)))
    field = rg.compile_flow(metric, m.family, data=d2)
    assert field.data is d2
    A2 = np.c_[np.ones(40), X2]
    np.testing.assert_allclose(field.descend(np.zeros(3), lr=1.0, steps=2).xs[-1],
                               _numpy_newton(A2, y2, np.zeros(3), 2, 1.0), rtol=1e-10, atol=1e-12)


def test_bad_settings_over_data(logistic):
    m, data, _, _, field = logistic
    with pytest.raises(SolverSettingsError, match="backtracking"):
        rg.descend(field, np.zeros(3), lr=1.0, steps=1, backtracking=True)
    with pytest.raises(SolverSettingsError, match="stepper"):
        rg.solve_flow(field, np.zeros(3), (0.0, 1.0), dt=0.1, stepper="dopri5")
    with pytest.raises(SolverSettingsError, match="preconditioner"):
        rg.descend(field, np.zeros(3), lr=1.0, steps=1, preconditioner=rg.preconditioners.adam())
    with pytest.raises(SolverSettingsError, match="strategy"):
        rg.compile_flow(rg.fisher_metric(m.family, data=data), m.family, strategy="symbolic")
    with pytest.raises(RiemgradError):
        rg.descend(field, np.zeros(3), lr=1.0, steps=1, params={"x": 1.0})


def test_new_names_are_exported():
    for name in ("Dataset", "DataField", "compile_data_flow", "DataMetric", "ConditionalFamily",
                 "empirical_fisher_metric", "models"):
        assert name in rg.__all__ and getattr(rg, name) is not None


def test_a_data_field_is_found_again_in_the_derivation_cache(tmp_path, monkeypatch):
    """The data compiler stores its entry in the cache's verified format: a second compile reads it back
    (no CacheRepairWarning, the same kernel file)."""
    import warnings

    from riemgrad import models
    from riemgrad.kernels.cache import CacheRepairWarning

    monkeypatch.setenv("RIEMGRAD_CACHE_DIR", str(tmp_path))
    m = models.logistic_regression(2)
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(20, 2)), (rng.random(20) < 0.5).astype(float)
    fields = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheRepairWarning)
        for _ in range(2):
            g = rg.hessian_metric(m.loss, m.chart, data=m.dataset(X, y))
            fields.append(rg.compile_flow(g, m.loss))
    assert fields[0].path == fields[1].path
    assert len(list((tmp_path / "derived").glob("*.json"))) == 1


def test_descent_of_zero_steps_returns_the_start():
    # steps=0 raised: the default record [0, steps] was not increasing
    m = models.logistic_regression(2)
    data = m.dataset(np.array([[0.0, 1.0], [1.0, 0.5], [2.0, -1.0]]), [0, 1, 1])
    field = rg.compile_flow(rg.fisher_metric(m.family, data=data), m.family)
    res = field.descend([0.1, 0.2, 0.3], lr=1.0, steps=0)
    assert res.ks.tolist() == [0]
    np.testing.assert_array_equal(res.xs, [[0.1, 0.2, 0.3]])
    assert int(res.status) == 0
