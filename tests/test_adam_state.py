"""Adam and RMSprop as metrics, visible: ``DescentResult.metric_diagonal`` (issue 11).

Ground truth: the Adam/RMSprop recursions replayed in NumPy here (with hand-derived gradients), and
the Fisher information of a logistic regression written in NumPy (E[p (1 - p) x x^T]).
"""

import numpy as np
import pytest
import sympy as sp

import riemgrad.flows.solve as solve_module
from riemgrad import Chart, compile_flow, descend, euclidean_metric
from riemgrad.preconditioners import adam, identity, lbfgs, natural, rmsprop

u, w = sp.symbols("u w", real=True)
UW = Chart("uw", (u, w))
# a smooth non-quadratic loss; its gradient by hand below
LOSS = u**4 / 4 + 2 * u * w + 3 * w**2 / 2 + sp.cos(u)


def grad(x):
    return np.stack([x[:, 0] ** 3 + 2 * x[:, 1] - np.sin(x[:, 0]), 2 * x[:, 0] + 3 * x[:, 1]], axis=1)


@pytest.fixture(scope="module")
def field():
    return compile_flow(euclidean_metric(UW), LOSS)


def replay(kind, x0, lr, steps, hyper):
    """Iterates and diagonal metric sqrt(v_hat) + eps at every step 0..steps, written from the definitions."""
    x = np.array(x0, float)
    m, v = np.zeros_like(x), np.zeros_like(x)
    eps = hyper[-1]
    xs, ds = [x.copy()], [np.full_like(x, eps)]
    for k in range(1, steps + 1):
        g = grad(x)
        if kind == "rmsprop":
            (rho, eps) = hyper
            v = rho * v + (1 - rho) * g * g
            diag = np.sqrt(v) + eps
            x = x - lr * g / diag
        else:
            b1, b2, eps = hyper
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            diag = np.sqrt(v / (1 - b2**k)) + eps
            x = x - lr * (m / (1 - b1**k)) / diag
        xs.append(x.copy())
        ds.append(diag)
    return np.array(xs), np.array(ds)


CASES = [
    ("rmsprop", (0.9, 1e-8), lambda: rmsprop(decay=0.9, eps=1e-8)),
    ("rmsprop", (0.5, 0.1), lambda: rmsprop(decay=0.5, eps=0.1)),
    ("adam", (0.9, 0.999, 1e-8), lambda: adam()),
    ("adam", (0.8, 0.9, 0.05), lambda: adam(b1=0.8, b2=0.9, eps=0.05)),
]


@pytest.mark.parametrize("path", ["compiled", "python"])
@pytest.mark.parametrize("kind,hyper,make", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_metric_diagonal_replays_the_recursion(field, monkeypatch, path, kind, hyper, make):
    if path == "python":  # the built-in pair through the Python loop (as a pair without a compiled twin)
        monkeypatch.setattr(solve_module, "compiled_twin", lambda pre: None)
    x0 = np.array([[1.0, -0.5], [0.3, 0.8], [-1.2, 0.1]])
    steps = 40
    saveat = [0, 1, 2, 5, 17, 40]
    res = descend(field, x0, lr=0.05, steps=steps, saveat=saveat, preconditioner=make())
    xs, ds = replay(kind, x0, 0.05, steps, hyper)
    assert res.metric_diagonal.shape == (len(saveat), 3, 2)
    np.testing.assert_allclose(res.xs, xs[saveat], rtol=1e-8, atol=1e-10)  # roundoff of sin, cos
    np.testing.assert_allclose(res.metric_diagonal, ds[saveat], rtol=1e-8, atol=1e-10)
    assert res.metric_diagonal[0].tolist() == [[hyper[-1]] * 2] * 3  # eps before the first step


def test_metric_diagonal_single_start_shape(field):
    res = descend(field, [1.0, -0.5], lr=0.05, steps=3, preconditioner=adam())
    assert res.metric_diagonal.shape == (2, 2) == res.xs.shape
    want = replay("adam", [[1.0, -0.5]], 0.05, 3, (0.9, 0.999, 1e-8))[1][-1, 0]
    np.testing.assert_allclose(res.metric_diagonal[-1], want)


@pytest.mark.parametrize("pre", [natural(), identity(), lbfgs()], ids=["natural", "identity", "lbfgs"])
def test_metric_diagonal_is_none_for_other_preconditioners(field, pre):
    assert descend(field, [1.0, -0.5], lr=0.01, steps=2, preconditioner=pre).metric_diagonal is None


def test_metric_diagonal_nan_after_failure():
    """A trajectory that leaves the chart's domain records NaN from then on, like xs."""
    s = sp.Symbol("s", positive=True)
    f = compile_flow(euclidean_metric(Chart("s", (s,))), s)  # gradient 1: RMSprop steps -lr / (1 + eps) ~ -lr
    res = descend(f, [[0.25], [5.0]], lr=0.1, steps=5, saveat=range(6), preconditioner=rmsprop(decay=0.0, eps=0.0))
    assert np.isnan(res.metric_diagonal[3:, 0]).all() and np.isnan(res.xs[3:, 0]).all()
    np.testing.assert_allclose(res.metric_diagonal[1:, 1, 0], 1.0)  # sqrt(g^2) with g = 1


def test_v_larger_in_the_steep_direction():
    """Seed 000: on L = (100 u^2 + w^2) / 2 Adam's metric is larger in the steep direction u.

    Asserted: at every recorded step (1..200) from (1, 1), sqrt(v_hat_u) > sqrt(v_hat_w); at step 1 exactly
    |g| = (100, 1) (v_hat = g^2 after one step).
    """
    f = compile_flow(euclidean_metric(UW), (100 * u**2 + w**2) / 2)
    res = descend(f, [1.0, 1.0], lr=0.01, steps=200, saveat=range(201), preconditioner=adam(eps=0.0))
    D = res.metric_diagonal
    np.testing.assert_allclose(D[1], [100.0, 1.0], rtol=1e-12)
    assert (D[1:, 0] > D[1:, 1]).all()


# ---------------------------------------------------------------- Adam against the Fisher (seed 002)
def _logistic_data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    theta = np.array([2.0, -0.5])  # (slope, intercept)
    p = 1 / (1 + np.exp(-(theta[0] * x + theta[1])))
    y = (rng.random(n) < p).astype(float)
    return x, y, theta


def _per_example_grads(theta, x, y):
    p = 1 / (1 + np.exp(-(theta[0] * x + theta[1])))
    return (p - y)[:, None] * np.stack([x, np.ones_like(x)], axis=1)


def test_adam_tracks_sqrt_diag_fisher_with_per_example_gradients():
    """Seed 002: "Adam is a diagonal natural gradient". Asserted: Adam's state, fed per-example gradients at a
    fixed theta (the true parameter of the data), settles at sqrt(v_hat) ~ sqrt(diag F_emp) within 15 %
    (v is an exponential average of g_i^2, whose mean over the rows is diag of the empirical Fisher), and
    F_emp's diagonal is within 25 % of the true Fisher's diag E[p (1 - p) x x^T] (data drawn from the model).
    So the metric is diag(F)^(1/2): the square root, not diag(F) itself as in the natural gradient.
    """
    x, y, theta = _logistic_data()
    G = _per_example_grads(theta, x, y)
    F_emp = np.mean(G**2, axis=0)
    p = 1 / (1 + np.exp(-(theta[0] * x + theta[1])))
    X1 = np.stack([x, np.ones_like(x)], axis=1)
    F_true = np.mean((p * (1 - p))[:, None] * X1**2, axis=0)  # diag of E[p (1 - p) x x^T]
    opt = adam(eps=0.0)
    state = opt.init(theta[None, :])
    rng = np.random.default_rng(1)
    tail = []
    for k in range(8000):
        i = rng.integers(x.size)
        _, state = opt.update(G[i][None, :], state, None)
        if k >= 4000:
            m, v, kk = state
            tail.append(np.sqrt(v[0] / (1 - 0.999**kk)))
    diag = np.mean(tail, axis=0)
    np.testing.assert_allclose(diag, np.sqrt(F_emp), rtol=0.15)
    np.testing.assert_allclose(F_emp, F_true, rtol=0.25)
    assert not np.allclose(diag, F_emp, rtol=0.5)  # the square root, not the Fisher itself


def test_full_batch_adam_metric_vanishes_unlike_the_fisher():
    """With full-batch gradients (what descend computes) v averages (grad L)^2, which goes to 0 at the
    minimiser while the Fisher stays positive definite: the seed's claim needs stochastic gradients.
    Asserted: after 3,000 full-batch steps the recorded sqrt(v_hat) is below 10 % of sqrt(diag F_emp)
    (b2 = 0.999 forgets slowly)."""
    xv, yv, _ = _logistic_data(n=40, seed=3)
    s, c = sp.symbols("s c", real=True)
    loss = sum(sp.log(1 + sp.exp(-(2 * float(yi) - 1) * (s * float(xi) + c))) for xi, yi in zip(xv, yv)) / len(xv)
    f = compile_flow(euclidean_metric(Chart("sc", (s, c))), loss)
    res = descend(f, [0.0, 0.0], lr=0.05, steps=3000, preconditioner=adam(eps=0.0))
    theta = res.xs[-1]
    F_emp = np.mean(_per_example_grads(theta, xv, yv) ** 2, axis=0)
    assert np.linalg.norm(f.gradient(theta)) < 1e-3
    assert (res.metric_diagonal[-1] < 0.1 * np.sqrt(F_emp)).all()
