"""checks: invariance reports, closed-form comparison, convergence order."""

import numpy as np
import pytest
import sympy as sp

from riemgrad import Chart, ChartMap, Metric, check_invariance, compare_closed_form, compile_flow, solve_flow
from riemgrad.checks import convergence_order
from riemgrad.errors import ChartMismatchError, CoordinateError, ShapeError

s = sp.Symbol("sigma", positive=True)
v = sp.Symbol("variance", positive=True)
t = sp.Symbol("t")
CS, CV = Chart("sigma", (s,)), Chart("variance", (v,))
V_TO_S = ChartMap(CV, CS, (sp.sqrt(v),))


@pytest.fixture(scope="module")
def fields():
    # natural gradient of KL(N(0, 4) || N(0, s^2)) up to constants; variance(t) = 4 + (v0 - 4) e^{-t}
    return {
        "sigma": compile_flow(Metric(CS, [[2 / s**2]]), sp.log(s) + 2 / s**2),
        "variance": compile_flow(Metric(CV, [[1 / (2 * v**2)]]), sp.log(v) / 2 + 2 / v),
    }


@pytest.fixture(scope="module")
def results(fields):
    kw = dict(dt=1e-3, saveat=[0, 0.5, 1, 2])
    return (
        solve_flow(fields["sigma"], [[1.0], [3.0]], (0, 2), **kw),
        solve_flow(fields["variance"], [[1.0], [9.0]], (0, 2), **kw),
    )


def test_invariance_report(results):
    ra, rb = results
    rep = check_invariance(ra, rb, V_TO_S, tol=1e-10)
    assert rep.passed and rep.errors.shape == (4,) and rep.errors[0] == 0.0
    assert rep.max_error == rep.errors.max()
    assert rep.times.tolist() == [0, 0.5, 1, 2]


def test_invariance_detects_a_mismatch(results):
    ra, rb = results
    shifted = ChartMap(CV, CS, (sp.sqrt(v) + sp.Rational(1, 1000),))
    rep = check_invariance(ra, rb, shifted, tol=1e-6)
    assert not rep.passed and abs(rep.max_error - 1e-3) < 1e-9


def test_invariance_argument_errors(results, fields):
    ra, rb = results
    with pytest.raises(ChartMismatchError, match="`chart_map` must go from result_b's chart 'variance'"):
        check_invariance(ra, rb, V_TO_S.inverse())
    other = solve_flow(fields["variance"], [[1.0], [9.0]], (0, 2), dt=1e-3, saveat=[0, 2])
    with pytest.raises(ValueError, match="same times"):
        check_invariance(ra, other, V_TO_S)
    with pytest.raises(TypeError, match="`result_a` must be a FlowResult"):
        check_invariance("a", rb, V_TO_S)


def test_failed_trajectory_fails_the_check(fields):
    ra = solve_flow(fields["sigma"], [[1.0], [-3.0]], (0, 1), dt=1e-2)
    rb = solve_flow(fields["variance"], [[1.0], [9.0]], (0, 1), dt=1e-2)
    rep = check_invariance(ra, rb, V_TO_S)
    assert not rep.passed and np.isinf(rep.max_error)


def test_compare_closed_form_forms_of_solution(results):
    ra, rb = results
    sol_v = 4 + (v - 4) * sp.exp(-t)
    for solution in ([sol_v], {v: sol_v}, {"variance": sol_v}, sp.Matrix([sol_v]), sol_v):
        rep = compare_closed_form(rb, solution, t, tol=1e-10)
        assert rep.passed, rep.errors
    assert rep.expected.shape == rb.xs.shape
    wrong = compare_closed_form(rb, [4 + (v - 4) * sp.exp(-2 * t)], t)
    assert not wrong.passed and wrong.max_error > 0.1


def test_compare_closed_form_with_params_and_errors(results):
    ra, rb = results
    c = sp.Symbol("c")
    rep = compare_closed_form(rb, [c + (v - c) * sp.exp(-t)], t, params={"c": 4.0}, tol=1e-10)
    assert rep.passed
    with pytest.raises(CoordinateError, match=r"uses \['c'\]"):
        compare_closed_form(rb, [c + (v - c) * sp.exp(-t)], t)
    with pytest.raises(ShapeError, match="must hold 1 expressions"):
        compare_closed_form(rb, [v, v], t)
    with pytest.raises(CoordinateError, match="missing"):
        compare_closed_form(rb, {"sigma": v}, t)


@pytest.mark.parametrize("stepper, order", [("euler", 1), ("heun", 2), ("rk4", 4)])
def test_convergence_order(fields, stepper, order):
    dts = {"euler": (0.1, 0.05, 0.025, 0.0125), "heun": (0.2, 0.1, 0.05, 0.025), "rk4": (0.4, 0.2, 0.1, 0.05)}
    rep = convergence_order(
        fields["variance"], [[9.0], [0.5]], (0, 2), [4 + (v - 4) * sp.exp(-t)], t, stepper=stepper, dts=dts[stepper]
    )
    assert abs(rep.order - order) < 0.15, (rep.order, rep.errors)
    assert np.all(np.diff(rep.errors) < 0)


def test_rk4_error_falls_as_dt4_on_the_gaussian_flow():
    # a 2-D, non-linear field: the natural-gradient flow in (mu, sigma), with its closed form
    mu = sp.Symbol("mu", real=True)
    chart = Chart("mu_sigma", (mu, s))
    kl = sp.log(s / 2) + (4 + (1 - mu) ** 2) / (2 * s**2)
    field = compile_flow(Metric(chart, sp.diag(1 / s**2, 2 / s**2)), kl)
    m_t = 1 + (mu - 1) * sp.exp(-t)
    var_t = 5 + (mu**2 + s**2 - 5) * sp.exp(-t) - m_t**2
    rep = convergence_order(
        field, [[0.0, 0.5], [2.0, 3.0]], (0, 2), [m_t, sp.sqrt(var_t)], t, dts=(0.2, 0.1, 0.05, 0.025)
    )
    assert abs(rep.order - 4) < 0.25, (rep.order, rep.errors)
