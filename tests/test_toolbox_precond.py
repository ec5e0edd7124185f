"""L-BFGS, Levenberg-Marquardt and Status.DIVERGED in descend (issue 11).

Ground truth: a dense BFGS update written plainly in NumPy, hand-derived gradients and
Jacobians, scipy.optimize (L-BFGS-B, least_squares(method="lm")) and closed-form iterates.
"""

import functools

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import least_squares, minimize

from riemgrad import Chart, Metric, Status, compile_flow, descend, euclidean_metric, gauss_newton_metric
from riemgrad.errors import SolverSettingsError
from riemgrad.kernels.abi import CODE, DIVERGENCE_LOSS_FACTOR, DIVERGENCE_NORM_FACTOR
from riemgrad.preconditioners import Preconditioner, compiled_twin, identity, lbfgs, levenberg_marquardt

a, b, c = sp.symbols("a b c", real=True)
AB = Chart("ab", (a, b))


def python_twin(pre):
    """The NumPy twin of ``pre`` in a pair descend cannot recognise (new function objects): the Python loop."""

    @functools.wraps(pre.update)  # keeps the signature: the keywords x, lr, loss, metric are still offered
    def update(*args, **kwargs):
        return pre.update(*args, **kwargs)

    twin = Preconditioner(lambda x: pre.init(x), update, pre.name + "-python")
    assert compiled_twin(twin) is None
    return twin


# ------------------------------------------------------------------ L-BFGS
# a smooth, strictly convex, non-quadratic loss in 3-D, its gradient by hand
A3 = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])
X3 = (a, b, c)


def _convex_loss():
    x = sp.Matrix(X3)
    return (x.T * sp.Matrix(A3) * x)[0] / 2 + sum(sp.exp(sp.Rational(3, 10) * v) for v in X3) - a


def _convex_grad(x):
    return A3 @ x + 0.3 * np.exp(0.3 * x) - np.array([1.0, 0.0, 0.0])


def _dense_bfgs_direction(pairs, g):
    """-H g, H the dense BFGS update of gamma I (gamma of the newest pair) by all pairs, oldest first."""
    n = g.size
    if not pairs:
        return -g
    s_new, y_new = pairs[-1]
    H = (s_new @ y_new) / (y_new @ y_new) * np.eye(n)
    for s, y in pairs:
        rho = 1.0 / (s @ y)
        V = np.eye(n) - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    return -H @ g


@pytest.fixture(scope="module")
def convex3():
    return compile_flow(euclidean_metric(Chart("abc", X3)), _convex_loss())


@pytest.fixture(scope="module")
def rosenbrock():
    return compile_flow(euclidean_metric(AB), (1 - a) ** 2 + 100 * (b - a**2) ** 2)


@pytest.fixture(scope="module")
def rosenbrock_plain():
    """Compiled without fast-math: the NumPy twins do no fused multiply-adds, and 60 L-BFGS steps on
    Rosenbrock amplify the last-bit differences of FMA to about 1e-8, so the twins compare here."""
    mp = pytest.MonkeyPatch()
    mp.setenv("RIEMGRAD_FASTMATH", "0")
    try:
        field = compile_flow(euclidean_metric(AB), (1 - a) ** 2 + 100 * (b - a**2) ** 2)
    finally:
        mp.undo()
    assert "FASTMATH = False" in field.source
    return field


@pytest.mark.parametrize("backtracking", [False, True], ids=["fixed-lr", "backtracking"])
def test_lbfgs_is_dense_bfgs_iterate_by_iterate(convex3, backtracking):
    steps = 8
    x0 = np.array([[2.0, -1.5, 1.0], [-1.0, 2.0, 0.5]])
    lr = 1.0 if backtracking else 0.4
    res = descend(convex3, x0, lr=lr, steps=steps, saveat=range(steps + 1), preconditioner=lbfgs(history=steps),
                  backtracking=backtracking)  # fmt: skip
    assert (res.status == Status.SUCCESS).all()
    for t in range(x0.shape[0]):
        xs = res.xs[:, t]
        pairs = []
        for k in range(steps):
            g = _convex_grad(xs[k])
            if k > 0:
                s, y = xs[k] - xs[k - 1], g - _convex_grad(xs[k - 1])
                assert s @ y > 0  # convex: no pair is skipped
                pairs.append((s, y))
            d = _dense_bfgs_direction(pairs, g)
            step = xs[k + 1] - xs[k]
            if backtracking:  # a step eta d with eta = 2^-i
                eta = (step @ d) / (d @ d)
                assert np.isclose(np.log2(eta), np.rint(np.log2(eta)), atol=1e-9), eta
            else:
                eta = lr
            np.testing.assert_allclose(step, eta * d, rtol=1e-9, atol=1e-13 * np.abs(d).max())


def test_lbfgs_reaches_scipy_lbfgsb_minimiser_of_rosenbrock(rosenbrock):
    def f(x):
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2

    def jac(x):
        return np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2), 200 * (x[1] - x[0] ** 2)])

    starts = np.array([[-1.2, 1.0], [2.0, -1.0], [0.0, 3.0]])
    res = descend(rosenbrock, starts, lr=1.0, steps=150, preconditioner=lbfgs(history=5), backtracking=True)
    assert (res.status == Status.SUCCESS).all()
    for x0, got in zip(starts, res.xs[-1]):
        ref = minimize(f, x0, jac=jac, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15})
        np.testing.assert_allclose(got, ref.x, atol=1e-5)
        np.testing.assert_allclose(got, [1.0, 1.0], atol=1e-8)


def test_lbfgs_converges_superlinearly_on_a_quadratic():
    n = 6
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    A = Q @ np.diag(np.geomspace(1.0, 50.0, n)) @ Q.T
    A = (A + A.T) / 2
    bvec = rng.normal(size=n)
    xs_sym = sp.symbols(f"q0:{n}", real=True)
    x = sp.Matrix(xs_sym)
    Ar = sp.Matrix(n, n, [sp.Rational(v).limit_denominator(10**12) for v in A.ravel()])
    br = sp.Matrix([sp.Rational(v).limit_denominator(10**12) for v in bvec])
    field = compile_flow(euclidean_metric(Chart("q", xs_sym)), (x.T * Ar * x)[0] / 2 - (br.T * x)[0])
    xstar = np.linalg.solve(np.array(Ar, dtype=float), np.array(br, dtype=float).ravel())  # a dense solve
    steps = 20
    # the unit step (backtracking's Armijo test compares losses, which stop resolving at |x - x*| ~ 1e-8)
    res = descend(field, np.zeros(n), lr=1.0, steps=steps, saveat=range(steps + 1),
                  preconditioner=lbfgs(history=steps))  # fmt: skip
    err = np.linalg.norm(res.xs - xstar, axis=-1)
    assert err[-1] < 1e-12 * err[0]
    live = np.flatnonzero(err > 1e-12 * err[0])
    ratios = err[live[1:]] / err[live[:-1]]
    # superlinear: the ratios of successive errors fall towards 0 (gradient descent with the best fixed step:
    # (kappa - 1) / (kappa + 1) = 0.96 for kappa = 50)
    half = len(ratios) // 2
    early, late = np.exp(np.log(ratios[:half]).mean()), np.exp(np.log(ratios[half:]).mean())
    assert late < 0.15 and late < early / 4, ratios


@pytest.mark.parametrize("backtracking", [False, True], ids=["fixed-lr", "backtracking"])
def test_lbfgs_compiled_and_numpy_twins_agree(rosenbrock_plain, backtracking):
    rosenbrock = rosenbrock_plain
    starts = np.array([[-1.2, 1.0], [2.0, -1.0], [0.5, 0.5]])
    lr = 1.0 if backtracking else 1e-3
    kw = dict(lr=lr, steps=60, saveat=range(61), backtracking=backtracking)
    pre = lbfgs(history=4)
    assert compiled_twin(pre) == ("lbfgs", (4.0, 1e-10, 0.0))
    fast = descend(rosenbrock, starts, preconditioner=pre, **kw)
    slow = descend(rosenbrock, starts, preconditioner=python_twin(pre), **kw)
    np.testing.assert_allclose(fast.xs, slow.xs, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(fast.status, slow.status)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"history": 0}, "`history` must be an integer >= 1"),
        ({"history": 2.5}, "`history` must be an integer >= 1"),
        ({"history": True}, "`history` must be an integer >= 1"),
        ({"curvature_eps": -1.0}, "`curvature_eps` must be a finite number >= 0"),
        ({"curvature_eps": float("nan")}, "`curvature_eps` must be a finite number >= 0"),
    ],
)
def test_lbfgs_bad_input(kwargs, match):
    with pytest.raises(SolverSettingsError, match=match):
        lbfgs(**kwargs)


# ------------------------------------------------------------------ Levenberg-Marquardt
TS = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0])
YS = np.array([2.05, 1.42, 0.98, 0.72, 0.51, 0.27])  # ~ 2 exp(-0.7 t) with noise


@pytest.fixture(scope="module")
def expfit():
    """r_i = b exp(-a t_i) - y_i, L = 1/2 sum r_i^2, compiled with the Gauss-Newton metric."""
    res = [b * sp.exp(-a * sp.Float(t)) - sp.Float(y) for t, y in zip(TS, YS)]
    # the metric solved in the kernel (Cholesky): LM reads the metric, never the symbolic velocity
    return compile_flow(gauss_newton_metric(res, AB), sum(r**2 for r in res) / 2, strategy="cholesky")


def _exp_residuals(x):
    return x[1] * np.exp(-x[0] * TS) - YS


def _exp_jacobian(x):  # by hand: d r / d a = -t b exp(-a t), d r / d b = exp(-a t)
    e = np.exp(-x[0] * TS)
    return np.stack([-TS * x[1] * e, e], axis=1)


@pytest.mark.parametrize("scaling", ["identity", "diagonal"])
def test_lm_with_small_damping_takes_gauss_newton_steps(expfit, scaling):
    x = np.array([0.3, 1.5])
    res = descend(expfit, x, lr=1.0, steps=4, saveat=range(5),
                  preconditioner=levenberg_marquardt(damping=1e-13, scaling=scaling, schedule=None))  # fmt: skip
    for k in range(4):
        J, r = _exp_jacobian(x), _exp_residuals(x)
        x = x - np.linalg.solve(J.T @ J, J.T @ r)  # the Gauss-Newton step, from the normal equations
        np.testing.assert_allclose(res.xs[k + 1], x, rtol=1e-9)


def test_lm_with_large_damping_is_scaled_gradient_descent(expfit):
    x0 = np.array([0.3, 1.5])
    lam = 1e8
    res = descend(expfit, x0, lr=1.0, steps=1, preconditioner=levenberg_marquardt(damping=lam, schedule=None))
    J, r = _exp_jacobian(x0), _exp_residuals(x0)
    gd = -(J.T @ r) / lam  # gradient descent with lr = 1/lam
    # (G + lam I)^-1 g - g / lam = -(G + lam I)^-1 G g / lam: its norm is at most |G| / lam |g / lam|
    bound = np.linalg.norm(J.T @ J, 2) / lam
    assert np.linalg.norm(res.xs[-1] - x0 - gd) <= 1.01 * bound * np.linalg.norm(gd)
    assert not np.allclose(res.xs[-1] - x0, gd, rtol=1e-14, atol=0)  # G is still there, just small


def test_lm_diagonal_scaling_direction(expfit):
    x0 = np.array([0.3, 1.5])
    res = descend(expfit, x0, lr=0.5, steps=1,
                  preconditioner=levenberg_marquardt(damping=0.7, scaling="diagonal", schedule=None))  # fmt: skip
    J, r = _exp_jacobian(x0), _exp_residuals(x0)
    G = J.T @ J
    np.testing.assert_allclose(res.xs[-1] - x0, -0.5 * np.linalg.solve(G + 0.7 * np.diag(np.diag(G)), J.T @ r),
                               rtol=1e-12)  # fmt: skip


@pytest.mark.parametrize("scaling", ["identity", "diagonal"])
def test_lm_reaches_scipy_least_squares_lm(expfit, scaling):
    starts = np.array([[0.3, 1.5], [2.0, 0.5], [0.05, 4.0]])
    res = descend(expfit, starts, lr=1.0, steps=100, preconditioner=levenberg_marquardt(scaling=scaling))
    assert (res.status == Status.SUCCESS).all()
    for x0, got in zip(starts, res.xs[-1]):
        ref = least_squares(_exp_residuals, x0, jac=_exp_jacobian, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15)
        np.testing.assert_allclose(got, ref.x, rtol=1e-8)


def test_lm_schedule_follows_nielsen_and_the_twins_agree(expfit):
    starts = np.array([[3.0, 0.2], [0.3, 1.5], [-0.5, 0.1]])
    pre = levenberg_marquardt(damping=1e-3)
    kw = dict(lr=1.0, steps=40, saveat=range(41))
    fast = descend(expfit, starts, preconditioner=pre, **kw)
    slow = descend(expfit, starts, preconditioner=python_twin(pre), **kw)
    np.testing.assert_allclose(fast.xs, slow.xs, rtol=0, atol=1e-12)
    # rejected steps stay put, and the loss never rises (a step is taken only when rho > 0)
    moves = np.any(np.diff(fast.xs, axis=0) != 0, axis=-1)
    assert (~moves).any() and moves.any()
    assert (np.diff(fast.losses, axis=0) <= 1e-15).all()
    # the first step by hand: gain ratio and the new damping (Madsen, Nielsen & Tingleff 2004, eq. 3.15-3.16)
    x = starts[1]
    J, r = _exp_jacobian(x), _exp_residuals(x)
    g, G = J.T @ r, J.T @ J
    h = -np.linalg.solve(G + 1e-3 * np.eye(2), g)
    pred = 0.5 * h @ (1e-3 * h - g)
    rho = (0.5 * r @ r - 0.5 * _exp_residuals(x + h) @ _exp_residuals(x + h)) / pred
    assert rho > 0
    np.testing.assert_allclose(fast.xs[1, 1], x + h, rtol=1e-12)
    state = pre.init(starts[1:2])
    _, state = pre.update(g[None], state, None, x=x[None], lr=1.0, loss=lambda p: expfit.loss(p),
                          metric=lambda p: expfit.metric(p))  # fmt: skip
    np.testing.assert_allclose(state["mu"][0], 1e-3 * max(1 / 3, 1 - (2 * rho - 1) ** 3), rtol=1e-10)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"damping": 0.0}, "`damping` must be a positive finite real number"),
        ({"damping": -1.0}, "`damping` must be a positive finite real number"),
        ({"damping": float("nan")}, "`damping` must be a positive finite real number"),
        ({"damping": float("inf")}, "`damping` must be a positive finite real number"),
        ({"damping": "1e-3"}, "`damping` must be a positive finite real number"),
        ({"scaling": "marquardt"}, "`scaling` must be 'identity'"),
        ({"schedule": "more"}, "`schedule` must be 'nielsen'"),
    ],
)
def test_lm_bad_input(kwargs, match):
    with pytest.raises(SolverSettingsError, match=match):
        levenberg_marquardt(**kwargs)


def test_lm_schedule_refuses_backtracking(expfit):
    with pytest.raises(SolverSettingsError, match="`backtracking` must be False"):
        descend(expfit, [0.3, 1.5], lr=1.0, steps=2, preconditioner=levenberg_marquardt(), backtracking=True)
    # a fixed damping with backtracking is fine
    res = descend(expfit, [0.3, 1.5], lr=1.0, steps=30, backtracking=True,
                  preconditioner=levenberg_marquardt(schedule=None))  # fmt: skip
    assert res.status == Status.SUCCESS


# ------------------------------------------------------------------ Status.DIVERGED
X1 = sp.Symbol("x", real=True)


@pytest.fixture(scope="module")
def parabola():
    return compile_flow(euclidean_metric(Chart("line", (X1,))), X1**2 / 2)


def test_diverged_is_in_the_status_table():
    assert CODE["DIVERGED"] == int(Status.DIVERGED) == 6
    assert "lr" in Status.DIVERGED.message
    assert DIVERGENCE_LOSS_FACTOR == 1e4 and DIVERGENCE_NORM_FACTOR == 1e10


@pytest.mark.parametrize("how", ["identity", "python", "natural-euler"])
def test_too_large_a_step_diverges(parabola, how):
    # x_k = (1 - 2.1)^k x0: |x_60| = 1.1^60 = 304.5, loss 4.6e4 > 0.5 + 1e4 * 1.5
    pre = {"identity": identity(), "python": python_twin(identity())}.get(how)
    res = descend(parabola, [1.0], lr=2.1, steps=60, preconditioner=pre)
    assert res.status == Status.DIVERGED
    np.testing.assert_allclose(res.xs[-1], [(-1.1) ** 60], rtol=1e-12)  # the state where it was judged is kept
    assert res.k_final == 60


@pytest.mark.parametrize("python", [False, True], ids=["compiled", "python"])
def test_divergence_is_caught_at_the_first_block_before_overflow(parabola, python):
    pre = python_twin(identity()) if python else identity()
    res = descend(parabola, [[1.0], [0.5]], lr=2.1, steps=10_000, saveat=[0, 128, 256], preconditioner=pre)
    assert (res.status == Status.DIVERGED).all()  # not NONFINITE (1.1^10000 overflows)
    assert (res.k_final == 128).all()
    np.testing.assert_allclose(res.xs[1, :, 0], (-1.1) ** 128 * np.array([1.0, 0.5]), rtol=1e-12)
    assert np.isnan(res.xs[2]).all()


def test_run_away_iterates_diverge_by_size():
    field = compile_flow(euclidean_metric(Chart("line", (X1,))), -X1)  # unbounded below: L falls, x grows
    res = descend(field, [0.0], lr=1e9, steps=20, preconditioner=identity())
    assert res.status == Status.DIVERGED  # |x| = 2e10 > 1e10 (1 + 0)
    res = descend(field, [0.0], lr=1e8, steps=20, preconditioner=identity())
    assert res.status == Status.SUCCESS  # |x| = 2e9: not yet


def test_converging_and_slowly_rising_runs_are_untouched(parabola):
    ok = descend(parabola, [[1.0], [-3.0]], lr=0.5, steps=40, preconditioner=identity())
    assert (ok.status == Status.SUCCESS).all()
    np.testing.assert_array_equal(ok.xs[-1, :, 0], 0.5**40 * np.array([1.0, -3.0]))
    # growth below the factor: 1.1^48 = 97.0, loss 4.7e3 < 0.5 + 1.5e4
    slow = descend(parabola, [1.0], lr=2.1, steps=48, preconditioner=identity())
    assert slow.status == Status.SUCCESS


def test_lbfgs_and_lm_with_hessian_metric_newton_limit():
    """LM on a quadratic with its Hessian as metric and tiny damping is Newton: one step lands on the minimiser."""
    loss = (3 * a**2 + 2 * a * b + b**2) / 2 - (a - 2 * b)
    field = compile_flow(Metric(AB, sp.hessian(loss, (a, b))), loss)
    res = descend(field, [10.0, -3.0], lr=1.0, steps=1, preconditioner=levenberg_marquardt(1e-14, schedule=None))
    np.testing.assert_allclose(res.xs[-1], [1.5, -3.5], rtol=1e-10)  # the minimiser, solved by hand
