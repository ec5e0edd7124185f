"""Gradient flows and descent: closed forms, invariance, statuses, layouts.

Closed forms are derived here, independently of the code under test:

- Gaussian, KL(N(a, b) || N(mu, sigma^2)), natural gradient (Fisher metric):
  the expectation parameters (mu, mu^2 + sigma^2) relax to (a, a^2 + b) as e^{-t}
  (verified symbolically below against the velocity field).
- Linear model f = sum theta_i phi_i on [0, 1], L = E[(f - f*)^2], metric
  G = E[phi phi^T]: theta(t) = (theta0 - beta) e^{-2t} + beta in any basis, and
  L(t) = L(0) e^{-4t} when f* lies in the span.
"""

import numpy as np
import pytest
import sympy as sp

from riemgrad import (
    Chart,
    ChartMap,
    Metric,
    Status,
    check_invariance,
    compare_closed_form,
    compile_flow,
    descend,
    euclidean_metric,
    solve_flow,
)
from riemgrad.errors import ShapeError
from riemgrad.preconditioners import Preconditioner, adam, identity, rmsprop
from riemgrad.preconditioners import natural as natural_pre

from _gaussian import C_SIGMA, C_TAU, C_VAR, FISHER, FROM_SIGMA, TARGET, a, b, kl_in, mu, sigma, tau, var  # noqa: F401

t = sp.Symbol("t", nonnegative=True)


@pytest.fixture(scope="module")
def natural(natural_fields):
    return natural_fields


@pytest.fixture(scope="module")
def euclid(euclid_fields):
    return euclid_fields


@pytest.fixture(scope="module")
def starts(gaussian_starts):
    return gaussian_starts


def expectation_solution():
    """(mu, mu^2 + sigma^2) -> (a, a^2 + b) as e^{-t}, written as (mu(t), sigma^2(t))."""
    m0, s0 = sp.symbols("m0 s0", positive=True)
    m_t = a + (m0 - a) * sp.exp(-t)
    eta2_t = a**2 + b + (m0**2 + s0**2 - a**2 - b) * sp.exp(-t)
    return m0, s0, m_t, eta2_t - m_t**2


def test_closed_form_satisfies_the_natural_gradient_ode():
    # the candidate solves dx/dt = -G^{-1} grad L in the variance chart (checked symbolically)
    m0, s0, m_t, v_t = expectation_solution()
    L = kl_in("variance")
    G = FISHER["variance"].matrix
    vel = -G.inv() * sp.Matrix([sp.diff(L, c) for c in (mu, var)])
    at = {mu: m_t, var: v_t}
    assert sp.simplify(sp.diff(m_t, t) - vel[0].subs(at)) == 0
    assert sp.simplify(sp.diff(v_t, t) - vel[1].subs(at)) == 0


@pytest.mark.parametrize("chart", ["sigma", "variance", "log_sigma"])
def test_gaussian_natural_flow_matches_closed_form(natural, starts, chart):
    x0 = np.column_stack(FROM_SIGMA[chart](starts[:, 0], starts[:, 1]))
    res = solve_flow(natural[chart], x0, (0.0, 5.0), dt=1e-3, saveat=[0, 1, 2.5, 5], params=TARGET)
    assert res.status.tolist() == [0] * len(x0)
    m0, s0, m_t, v_t = expectation_solution()
    c0, c1 = natural[chart].chart.coords
    s0_expr = {"sigma": c1, "variance": sp.sqrt(c1), "log_sigma": sp.exp(c1)}[chart]
    v = v_t.subs({m0: c0, s0: s0_expr})
    second = {"sigma": sp.sqrt(v), "variance": v, "log_sigma": sp.log(v) / 2}[chart]
    rep = compare_closed_form(res, [m_t.subs(m0, c0), second], t, params=TARGET, tol=1e-8)
    assert rep.passed, rep.errors


def test_natural_flow_is_invariant_and_euclidean_is_not(natural, euclid, starts):
    x0 = {c: np.column_stack(FROM_SIGMA[c](starts[:, 0], starts[:, 1])) for c in FISHER}
    kw = dict(dt=1e-3, saveat=np.linspace(0, 5, 11), params=TARGET)
    nat = {c: solve_flow(natural[c], x0[c], (0.0, 5.0), **kw) for c in FISHER}
    euc = {c: solve_flow(euclid[c], x0[c], (0.0, 5.0), **kw) for c in FISHER}
    maps = {
        "variance": ChartMap(C_VAR, C_SIGMA, (mu, sp.sqrt(var))),
        "log_sigma": ChartMap(C_TAU, C_SIGMA, (mu, sp.exp(tau))),
    }
    for c, m in maps.items():
        rep = check_invariance(nat["sigma"], nat[c], m, tol=1e-9)
        assert rep.passed, (c, rep.max_error)
        bad = check_invariance(euc["sigma"], euc[c], m, tol=1e-9)
        assert not bad.passed and bad.max_error > 0.05, (c, bad.max_error)


def test_dopri5_matches_rk4_and_closed_form(natural, starts):
    f = natural["sigma"]
    res = solve_flow(f, starts, (0.0, 5.0), stepper="dopri5", rtol=1e-10, atol=1e-12, params=TARGET)
    ref = solve_flow(f, starts, (0.0, 5.0), dt=1e-3, params=TARGET)
    assert res.status.tolist() == [0] * len(starts)
    np.testing.assert_allclose(res.xs[-1], ref.xs[-1], atol=1e-8)
    assert np.all(res.n_steps < 500)
    # and both against the closed form (the expectation parameters relax as e^{-t})
    m0, s0, m_t, v_t = expectation_solution()
    solution = [m_t.subs(m0, mu), sp.sqrt(v_t.subs({m0: mu, s0: sigma}))]
    for r in (res, ref):
        rep = compare_closed_form(r, solution, t, params=TARGET, tol=1e-8)
        assert rep.passed, rep.errors


@pytest.mark.nojit
def test_dopri5_records_at_any_time(natural):
    res = solve_flow(
        natural["variance"], [0.0, 9.0], (0.0, 1.0), stepper="dopri5", saveat=[0.0, 0.123, 1.0], params=TARGET
    )
    assert res.ts.tolist() == [0.0, 0.123, 1.0]
    assert res.xs.shape == (3, 2)
    m_expected = 1 + (0 - 1) * np.exp(-0.123)
    assert abs(res.xs[1, 0] - m_expected) < 1e-7


def test_default_saves_start_and_end_only(natural, starts):
    res = solve_flow(natural["sigma"], starts, (0.0, 1.0), dt=1e-3, params=TARGET)
    assert res.ts.tolist() == [0.0, 1.0]
    assert res.xs.shape == (2, len(starts), 2) and res.losses.shape == (2, len(starts))
    np.testing.assert_allclose(res.xs[0], starts)
    single = solve_flow(natural["sigma"], starts[0], (0.0, 1.0), dt=1e-3, params=TARGET)
    assert single.xs.shape == (2, 2) and single.status.shape == ()
    np.testing.assert_allclose(single.xs[-1], res.xs[-1, 0], rtol=1e-14)


def test_losses_match_the_loss_at_recorded_states(natural, starts):
    f = natural["log_sigma"]
    x0 = np.column_stack([starts[:, 0], np.log(starts[:, 1])])
    res = solve_flow(f, x0, (0.0, 2.0), dt=1e-2, saveat=[0, 1, 2], params=TARGET)
    # KL(N(1, 4) || N(mu, e^{2 tau})) by hand at the recorded states (losses come from the field, lazily)
    m, tau = res.xs[..., 0], res.xs[..., 1]
    by_hand = tau - np.log(4.0) / 2 + (4.0 + (1.0 - m) ** 2) * np.exp(-2 * tau) / 2 - 0.5
    np.testing.assert_allclose(res.losses, by_hand, rtol=1e-12, atol=1e-14)
    assert np.all(np.diff(res.losses, axis=0) < 0)


def test_losses_are_evaluated_on_first_access(natural, starts, monkeypatch):
    f = natural["sigma"]
    x0 = starts[:4].copy()
    x0[1, 1] = -1.0  # outside the chart: its records are NaN, and so are its losses
    res = solve_flow(f, x0, (0.0, 0.5), dt=1e-2, params=TARGET)
    calls = []
    loss = type(f).loss
    monkeypatch.setattr(type(f), "loss", lambda self, x, p=None: calls.append(len(x)) or loss(self, x, p))
    first = res.losses
    assert calls == [6]  # 3 valid trajectories x 2 records, evaluated once
    assert res.losses is first and calls == [6]
    assert np.isnan(first[:, 1]).all() and np.isfinite(first[:, [0, 2, 3]]).all()
    # KL(N(1, 4) || N(mu, s^2)) by hand at the start
    m, sg = x0[0]
    assert first[0, 0] == pytest.approx(np.log(sg / 2) + (4 + (1 - m) ** 2) / (2 * sg**2) - 0.5, rel=1e-14)


@pytest.mark.parametrize("parallel", [False, True])
def test_layouts_agree(natural, parallel):
    rng = np.random.default_rng(1)
    x0 = np.column_stack([rng.uniform(-2, 3, 1500), rng.uniform(0.4, 3.0, 1500)])
    res = solve_flow(natural["sigma"], x0, (0.0, 0.5), dt=1e-2, parallel=parallel, params=TARGET)
    one = np.array([solve_flow(natural["sigma"], x, (0.0, 0.5), dt=1e-2, params=TARGET).xs[-1] for x in x0[:5]])
    np.testing.assert_allclose(res.xs[-1, :5], one, rtol=1e-14)
    assert res.summary() == {"SUCCESS": 1500}


def test_saveat_off_grid_is_rejected(natural):
    with pytest.raises(ValueError, match="step grid"):
        solve_flow(natural["sigma"], [0.0, 1.0], (0.0, 1.0), dt=0.1, saveat=[0.05], params=TARGET)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(t_span=(1.0, 0.0), dt=0.1), "t0 < t1"),
        (dict(t_span=(0.0, 1.0)), "`dt` must be a positive step"),
        (dict(t_span=(0.0, 1.0), dt=0.1, stepper="rk45"), "`stepper` must be one of"),
    ],
)
def test_bad_arguments(natural, kwargs, match):
    with pytest.raises(ValueError, match=match):
        solve_flow(natural["sigma"], [0.0, 1.0], params=TARGET, **kwargs)


def test_bad_shape(natural):
    with pytest.raises(ShapeError, match=r"`x0` must have shape \(2,\) or \(batch, 2\)"):
        solve_flow(natural["sigma"], [[0.0, 1.0, 2.0]], (0.0, 1.0), dt=0.1, params=TARGET)


# ------------------------------------------------------------------ statuses
@pytest.fixture(scope="module")
def sliding():
    """dsigma/dt = -1 (Euclidean flow of L = sigma): hits sigma = 0 at t = sigma0."""
    return compile_flow(euclidean_metric(C_SIGMA), sigma + mu**2)


@pytest.mark.nojit
@pytest.mark.parametrize("stepper", ["rk4", "dopri5"])
def test_statuses_per_start(sliding, stepper):
    x0 = [[0.0, 0.5], [0.0, 2.0], [0.0, -1.0], [np.nan, 1.0]]
    res = solve_flow(sliding, x0, (0.0, 1.0), stepper=stepper, dt=1e-2)
    assert res.status.tolist() == [Status.LEFT_DOMAIN, Status.SUCCESS, Status.LEFT_DOMAIN, Status.NONFINITE]
    assert 0.5 - 0.02 <= res.t_final[0] <= 0.5
    assert res.t_final[1] == 1.0 and res.t_final[2] == 0.0
    assert np.isnan(res.xs[-1, 0]).all() and np.isnan(res.losses[-1, 0])
    np.testing.assert_allclose(res.xs[-1, 1], [0.0, 1.0], atol=1e-12)
    assert res.summary() == {"SUCCESS": 1, "LEFT_DOMAIN": 2, "NONFINITE": 1}
    assert "domain" in Status(res.status[0]).message


def test_many_bad_starts_do_not_sink_a_large_batch(sliding):
    x0 = np.column_stack([np.zeros(3000), np.linspace(0.2, 3.0, 3000)])
    res = solve_flow(sliding, x0, (0.0, 1.0), dt=1e-3)
    left = x0[:, 1] < 1.0 - 1e-9
    assert np.all(res.status[left] == Status.LEFT_DOMAIN)
    assert np.all(res.status[~left] == Status.SUCCESS)
    np.testing.assert_allclose(res.xs[-1, ~left, 1], x0[~left, 1] - 1.0, atol=1e-9)


@pytest.mark.parametrize("strategy", ["symbolic", "cholesky"])
def test_singular_metric_status(strategy):
    x, y = sp.symbols("x y", real=True)
    g = Metric(Chart("xy", (x, y)), sp.diag(x**2, 1))
    field = compile_flow(g, x + y**2, strategy=strategy)
    res = solve_flow(field, [[0.0, 1.0], [1.0, 1.0]], (0.0, 0.1), dt=1e-2)
    assert res.status.tolist() == [Status.SINGULAR_METRIC, Status.SUCCESS]


def test_non_finite_start_is_not_a_singular_metric(natural):
    res = solve_flow(natural["sigma"], [[np.nan, 1.0], [0.0, np.inf]], (0.0, 0.1), dt=1e-2, params=TARGET)
    assert res.status.tolist() == [Status.NONFINITE, Status.NONFINITE]


def test_step_budget(natural):
    res = solve_flow(natural["sigma"], [0.0, 1.0], (0.0, 5.0), stepper="dopri5", max_steps=3, params=TARGET)
    assert res.status == Status.MAX_STEPS
    assert "max_steps" in Status.MAX_STEPS.message


# ------------------------------------------------------------- linear model
def function_space_problem(basis, target):
    """Loss E[(f - f*)^2] and metric E[phi phi^T] on the uniform measure of [0, 1], exactly."""
    x = sp.Symbol("x", real=True)
    d = len(basis)
    th = sp.symbols(f"theta0:{d}", real=True)
    phis = [sp.sympify(q).subs(sp.Symbol("x"), x) for q in basis]
    fstar = sp.sympify(target).subs(sp.Symbol("x"), x)
    G = sp.Matrix(d, d, lambda i, j: sp.integrate(phis[i] * phis[j], (x, 0, 1)))
    c = sp.Matrix(d, 1, lambda i, _: sp.integrate(phis[i] * fstar, (x, 0, 1)))
    k = sp.integrate(fstar**2, (x, 0, 1))
    thv = sp.Matrix(th)
    loss = (thv.T * G * thv)[0] - 2 * (thv.T * c)[0] + k
    beta = G.LUsolve(c)
    return Chart("theta", th), G, loss, beta


BASES = {
    "monomial": ["1", "x", "x**2"],
    "legendre": ["1", "2*x - 1", "6*x**2 - 6*x + 1"],
}


@pytest.mark.parametrize("basis", BASES)
def test_linear_model_function_space_flow(basis):
    chart, G, loss, beta = function_space_problem(BASES[basis], "1 - 2*x + 3*x**2")
    field = compile_flow(Metric(chart, G), loss)
    assert field.strategy == "exact"
    th0 = np.array([0.5, 1.0, -1.0])
    res = solve_flow(field, th0, (0.0, 2.0), dt=1e-3, saveat=[0, 0.5, 1, 2])
    sol = [(c - bi) * sp.exp(-2 * t) + bi for c, bi in zip(chart.coords, beta)]
    rep = compare_closed_form(res, sol, t, tol=1e-10)
    assert rep.passed, rep.errors
    np.testing.assert_allclose(res.losses, res.losses[0] * np.exp(-4 * res.ts), rtol=1e-9)


def test_linear_model_monomials_beyond_normal_equations():
    # d = 14: cond(E[phi phi^T]) ~ 1e19, so solving G v = grad in floats fails; the exact velocity does not.
    d = 14
    chart, G, loss, beta = function_space_problem([f"x**{i}" for i in range(d)], "1 - 2*x + 3*x**2")
    field = compile_flow(Metric(chart, G), loss)
    th0 = np.linspace(-1.0, 1.0, d)
    assert np.linalg.cond(np.array(G, dtype=float)) > 1e16
    res = solve_flow(field, th0, (0.0, 2.0), dt=1e-3)
    sol = [(c - bi) * sp.exp(-2 * t) + bi for c, bi in zip(chart.coords, beta)]
    rep = compare_closed_form(res, sol, t)
    assert rep.max_relative_error < 1e-8, rep.relative_errors


# ------------------------------------------------------------------- descent
@pytest.fixture(scope="module")
def quadratic():
    x1, x2 = sp.symbols("x1 x2", real=True)
    loss = (3 * x1**2 + 2 * x1 * x2 + x2**2) / 2 - (x1 - 2 * x2)
    chart = Chart("x", (x1, x2))
    return {
        "newton": compile_flow(Metric(chart, sp.hessian(loss, (x1, x2))), loss),
        "euclid": compile_flow(euclidean_metric(chart), loss),
    }


@pytest.mark.nojit
def test_newton_solves_a_quadratic_in_one_step(quadratic):
    x0 = np.random.default_rng(2).normal(size=(50, 2)) * 10
    res = descend(quadratic["newton"], x0, lr=1.0, steps=1)
    # H x = b with H = [[3, 1], [1, 1]], b = (1, -2): x = (3/2, -7/2)
    np.testing.assert_allclose(res.xs[-1], np.tile([1.5, -3.5], (50, 1)), atol=1e-12)
    assert np.all(res.k_final == 1)


@pytest.mark.nojit
def test_euclidean_descent_closed_form():
    z = sp.Symbol("z", real=True)
    field = compile_flow(euclidean_metric(Chart("z", (z,))), (z - 3) ** 2)
    res = descend(field, [[0.0], [5.0]], lr=0.1, steps=20, saveat=range(0, 21, 5))
    # z_k = 3 + (1 - 2 lr)^k (z_0 - 3)
    expected = 3 + np.outer(0.8**res.ks, [-3.0, 2.0])
    np.testing.assert_allclose(res.xs[..., 0], expected, rtol=1e-13)


def test_descent_left_domain_status(euclid):
    # Euclidean descent on the KL in (mu, sigma) with a large step jumps across sigma = 0 from sigma0 = 10
    res = descend(
        euclid["sigma"], [[1.0, 10.0], [1.0, 2.5]], lr=200.0, steps=3, preconditioner=identity(), params=TARGET
    )
    assert res.status[0] == Status.LEFT_DOMAIN and res.k_final[0] == 0
    bt = descend(
        euclid["sigma"],
        [[1.0, 10.0], [1.0, 2.5]],
        lr=200.0,
        steps=50,
        preconditioner=identity(),
        backtracking=True,
        params=TARGET,
    )
    assert bt.status.tolist() == [0, 0]
    assert np.all(bt.losses[-1] < bt.losses[0])


@pytest.mark.nojit
def test_backtracking_tames_a_too_large_step(quadratic):
    plain = descend(quadratic["euclid"], [[1.0, 1.0]], lr=5.0, steps=200)
    bt = descend(quadratic["euclid"], [[1.0, 1.0]], lr=5.0, steps=200, backtracking=True)
    assert plain.status[0] == Status.NONFINITE or np.abs(plain.xs[-1]).max() > 1e6
    np.testing.assert_allclose(bt.xs[-1, 0], [1.5, -3.5], atol=1e-6)


@pytest.mark.nojit
@pytest.mark.parametrize("make", [rmsprop, adam, identity, natural_pre], ids=["rmsprop", "adam", "identity", "natural"])
@pytest.mark.parametrize("backtracking", [False, True])
def test_compiled_preconditioners_match_numpy_pairs(quadratic, make, backtracking):
    pre = make()
    python_pair = Preconditioner(pre.init, pre.update, "python")  # same (init, update), run in NumPy
    x0 = np.random.default_rng(3).normal(size=(20, 2))
    kw = dict(lr=0.05, steps=60, saveat=[0, 1, 2, 30, 60], backtracking=backtracking)
    field = quadratic["newton" if pre.name == "natural" else "euclid"]
    fast = descend(field, x0, preconditioner=pre, **kw)
    slow = descend(field, x0, preconditioner=python_pair, **kw)
    np.testing.assert_allclose(fast.xs, slow.xs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast.losses, slow.losses, rtol=1e-12, atol=1e-12)


def test_adam_first_step_is_sign_step(quadratic):
    x0 = np.array([[1.0, 1.0], [-2.0, 0.5]])
    g = quadratic["euclid"].gradient(x0)
    res = descend(quadratic["euclid"], x0, lr=0.01, steps=1, preconditioner=adam(eps=0.0))
    np.testing.assert_allclose(res.xs[-1], x0 - 0.01 * np.sign(g), rtol=1e-14)


def test_rmsprop_first_step(quadratic):
    # v1 = (1 - rho) g^2, step -lr g / (sqrt(v1) + eps) = -lr sign(g) / sqrt(1 - rho)
    x0 = np.array([[1.0, 1.0]])
    g = quadratic["euclid"].gradient(x0)
    res = descend(quadratic["euclid"], x0, lr=0.01, steps=1, preconditioner=rmsprop(decay=0.9, eps=0.0))
    np.testing.assert_allclose(res.xs[-1], x0 - 0.01 * np.sign(g) / np.sqrt(0.1), rtol=1e-14)


def test_descent_argument_errors(quadratic):
    with pytest.raises(ValueError, match="`lr` must be a positive"):
        descend(quadratic["euclid"], [0.0, 0.0], lr=-1.0, steps=1)
    with pytest.raises(ValueError, match="`steps` must be a non-negative integer"):
        descend(quadratic["euclid"], [0.0, 0.0], lr=1.0, steps=1.5)
    with pytest.raises(ValueError, match="`saveat` must hold step indices"):
        descend(quadratic["euclid"], [0.0, 0.0], lr=1.0, steps=3, saveat=[5])
    with pytest.raises(TypeError, match="`preconditioner` must be a Preconditioner"):
        descend(quadratic["euclid"], [0.0, 0.0], lr=1.0, steps=3, preconditioner="adam")
    with pytest.raises(TypeError, match="`field` must be a FlowField"):
        descend("field", [0.0, 0.0], lr=1.0, steps=3)
