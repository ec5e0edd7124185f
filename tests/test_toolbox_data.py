"""L-BFGS and Levenberg-Marquardt on fields over data (issue 11), compiled over the rows.

Expected values come from NumPy written here: the logistic NLL's gradient A^T (q - y) / n, the
exponential-decay residuals and Jacobian by hand, the L-BFGS two-loop recursion with Armijo
backtracking and Nielsen's damping schedule written plainly from Nocedal & Wright (Alg. 7.4) and
Madsen, Nielsen & Tingleff (2004, sec. 3.2); and scipy's minimisers (L-BFGS-B, least_squares "lm").
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import least_squares, minimize

import riemgrad as rg
from riemgrad import models
from riemgrad.data import Dataset
from riemgrad.errors import SolverSettingsError
from riemgrad.preconditioners import adam, lbfgs, levenberg_marquardt


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# ---------------------------------------------------------------- logistic regression and L-BFGS
@pytest.fixture(scope="module")
def logistic():
    rng = np.random.default_rng(11)
    n = 300
    m = models.logistic_regression(3)
    X = rng.standard_normal((n, 3)) * np.array([1.0, 0.5, 2.0]) + 0.2
    A = np.c_[np.ones(n), X]
    y = (rng.random(n) < _sigmoid(A @ np.array([0.3, -1.0, 0.8, 0.4]))).astype(float)
    field = rg.compile_data_flow(rg.fisher_metric(m.family, data=m.dataset(X, y)), m.family)
    return A, y, field


def _nll(A, y, th):
    z = A @ th
    return np.mean(np.logaddexp(0.0, z) - y * z)


def _nll_grad(A, y, th):
    return A.T @ (_sigmoid(A @ th) - y) / len(y)


def _numpy_lbfgs(f, grad, x, lr, steps, hist, backtracking, eps=1e-10):
    """L-BFGS as documented in riemgrad.preconditioners.lbfgs: pairs of the last step kept when
    s.y > eps |s| |y| (else the memory restarts), H0 = gamma I with gamma of the newest kept pair,
    Armijo backtracking (c = 1e-4, halving from lr, 60 tries, stay if none) or a fixed step."""
    xs = [x.copy()]
    pairs: list = []
    gamma = 1.0
    xp = gp = None
    for _ in range(steps):
        g = grad(x)
        if xp is not None:
            s, yv = x - xp, g - gp
            if s @ yv > eps * np.linalg.norm(s) * np.linalg.norm(yv):
                pairs = (pairs + [(s, yv)])[-hist:]
                gamma = (s @ yv) / (yv @ yv)
            else:
                pairs = []
        xp, gp = x.copy(), g.copy()
        q = g.copy()
        alphas = []
        for s, yv in reversed(pairs):
            a = (s @ q) / (s @ yv)
            alphas.append(a)
            q = q - a * yv
        q = gamma * q
        for (s, yv), a in zip(pairs, reversed(alphas)):
            q = q + (a - (yv @ q) / (s @ yv)) * s
        d = -q
        if backtracking:
            slope, l0, eta = g @ d, f(x), lr
            if slope < 0:
                for _ in range(60):
                    if f(x + eta * d) <= l0 + 1e-4 * eta * slope:
                        x = x + eta * d
                        break
                    eta *= 0.5
        else:
            x = x + lr * d
        xs.append(x.copy())
    return np.array(xs)


@pytest.mark.parametrize("backtracking,lr,hist", [(True, 1.0, 5), (False, 0.5, 3), (True, 1.0, 1)])
def test_lbfgs_over_data_matches_numpy_iterate_by_iterate(logistic, backtracking, lr, hist):
    A, y, field = logistic
    steps = 25
    x0 = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, -0.5, 0.3, 2.0]])
    res = field.descend(x0, lr=lr, steps=steps, saveat=range(steps + 1), preconditioner=lbfgs(history=hist),
                        backtracking=backtracking)
    assert res.preconditioner == "lbfgs" and (res.status == 0).all()
    for b in range(2):
        want = _numpy_lbfgs(lambda t: _nll(A, y, t), lambda t: _nll_grad(A, y, t), x0[b], lr, steps, hist,
                            backtracking)
        # exact agreement while far from the minimiser; near it y = g - g_prev is roundoff-sized and the
        # two orders of summation (rows in the kernel, BLAS here) part at the 1e-9 level
        np.testing.assert_allclose(res.xs[:12, b], want[:12], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(res.xs[:, b], want, rtol=0, atol=1e-8)


def test_lbfgs_over_data_reaches_scipy_minimiser(logistic):
    A, y, field = logistic
    ref = minimize(lambda t: _nll(A, y, t), np.zeros(4), jac=lambda t: _nll_grad(A, y, t), method="L-BFGS-B",
                   options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 1000})
    res = rg.descend(field, np.zeros(4), lr=1.0, steps=60, preconditioner=lbfgs(), backtracking=True)
    np.testing.assert_allclose(res.xs[-1], ref.x, atol=1e-6)
    assert res.losses[-1] <= ref.fun + 1e-12


def test_lbfgs_over_data_threads_and_new_data(logistic):
    A, y, field = logistic
    x0 = np.random.default_rng(0).standard_normal((5, 4))
    one = field.descend(x0, lr=1.0, steps=10, preconditioner=lbfgs(), backtracking=True)
    two = field.descend(x0, lr=1.0, steps=10, preconditioner=lbfgs(), backtracking=True, threads=2)
    np.testing.assert_array_equal(one.xs, two.xs)
    # another data set of the same columns: the same kernel, the new rows
    m = models.logistic_regression(3)
    d2 = m.dataset(A[:50, 1:], 1.0 - y[:50])
    res = field.descend(np.zeros(4), lr=1.0, steps=8, saveat=range(9), preconditioner=lbfgs(), backtracking=True,
                        data=d2)
    want = _numpy_lbfgs(lambda t: _nll(A[:50], 1 - y[:50], t), lambda t: _nll_grad(A[:50], 1 - y[:50], t),
                        np.zeros(4), 1.0, 8, 10, True)
    np.testing.assert_allclose(res.xs, want, rtol=1e-9, atol=1e-11)


# ---------------------------------------------------------------- exponential decay and Levenberg-Marquardt
AMP, RATE, XX, YY = sp.symbols("A k x y", real=True)
DECAY = rg.Chart("Ak", (AMP, RATE))
RESIDUAL = AMP * sp.exp(-RATE * XX) - YY


@pytest.fixture(scope="module")
def decay():
    rng = np.random.default_rng(5)
    x = np.linspace(0.0, 4.0, 60)
    y = 2.5 * np.exp(-1.3 * x) + 0.05 * rng.standard_normal(x.size)
    data = Dataset({XX: x, YY: y})
    fields = {
        solver: rg.compile_data_flow(rg.gauss_newton_metric(RESIDUAL, DECAY, data=data), RESIDUAL**2 / 2,
                                     solver=solver)
        for solver in ("cholesky", "qr")
    }
    return x, y, fields


def _decay_rJ(x, y, th):
    e = np.exp(-th[1] * x)
    return th[0] * e - y, np.c_[e, -th[0] * x * e]


def _numpy_lm(x, y, th, steps, lam0, diagonal, schedule, lr=1.0):
    """Levenberg-Marquardt on L = mean(r^2) / 2, G = J^T J / n, D = I or diag(G); Nielsen's schedule."""
    n = len(x)
    mu, nu = lam0, 2.0
    out = [th.copy()]
    for _ in range(steps):
        r, J = _decay_rJ(x, y, th)
        g, G = J.T @ r / n, J.T @ J / n
        D = np.diag(np.diag(G)) if diagonal else np.eye(2)
        d = -np.linalg.solve(G + mu * D, g)
        if not schedule:
            th = th + lr * d
        else:
            h = lr * d
            pred = -(g @ h + h @ G @ h / 2)
            if pred > 0:
                rt, _ = _decay_rJ(x, y, th + h)
                rho = (np.mean(r**2) / 2 - np.mean(rt**2) / 2) / pred
                if rho > 0:
                    th = th + h
                    mu *= max(1 / 3, 1 - (2 * rho - 1) ** 3)
                    nu = 2.0
                else:
                    mu *= nu
                    nu *= 2
        out.append(th.copy())
    return np.array(out)


@pytest.mark.parametrize("solver", ["cholesky", "qr"])
@pytest.mark.parametrize("lam0,scaling,schedule", [(1e-3, "identity", "nielsen"), (10.0, "diagonal", "nielsen"),
                                                    (0.5, "identity", None)])
def test_lm_over_data_matches_numpy_iterate_by_iterate(decay, solver, lam0, scaling, schedule):
    x, y, fields = decay
    steps = 20
    x0 = np.array([[1.0, 0.3], [4.0, 3.0]])
    res = fields[solver].descend(x0, lr=1.0, steps=steps, saveat=range(steps + 1),
                                 preconditioner=levenberg_marquardt(lam0, scaling=scaling, schedule=schedule))
    assert res.preconditioner == "levenberg_marquardt" and (res.status == 0).all()
    for b in range(2):
        want = _numpy_lm(x, y, x0[b], steps, lam0, scaling == "diagonal", schedule is not None)
        np.testing.assert_allclose(res.xs[:, b], want, rtol=1e-8, atol=1e-10)


def test_lm_over_data_reaches_scipy_least_squares(decay):
    x, y, fields = decay
    ref = least_squares(lambda t: _decay_rJ(x, y, t)[0], [1.0, 0.3], jac=lambda t: _decay_rJ(x, y, t)[1],
                        method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15)
    res = rg.descend(fields["cholesky"], [1.0, 0.3], lr=1.0, steps=40, preconditioner=levenberg_marquardt())
    np.testing.assert_allclose(res.xs[-1], ref.x, rtol=1e-9)
    assert res.k_final == 40


def test_second_order_over_data_bad_settings(decay, logistic):
    _, _, fields = decay
    with pytest.raises(SolverSettingsError, match="backtracking"):
        fields["cholesky"].descend([1.0, 0.3], lr=1.0, steps=2, preconditioner=levenberg_marquardt(),
                                   backtracking=True)
    with pytest.raises(SolverSettingsError, match="damping"):
        fields["cholesky"].descend([1.0, 0.3], lr=1.0, steps=2, preconditioner=levenberg_marquardt(), damping=0.1)
    with pytest.raises(SolverSettingsError, match="preconditioner"):
        logistic[2].descend(np.zeros(4), lr=1.0, steps=1, preconditioner=adam())
