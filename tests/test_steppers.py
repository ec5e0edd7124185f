"""Steppers as objects: orders, aliases, settings that do not apply, and SSPRK3 added through the table.

Closed forms used here, derived by hand:

- dx/dt = -(x - b) (loss (x - b)^2 / 2, Euclidean metric): x(t) = b + (x0 - b) e^{-t}.
- One SSPRK3 step in Shu and Osher's own form (J. Comput. Phys. 77 (1988) 439, eq. 2.18):
  u1 = u + h f(u); u2 = 3/4 u + 1/4 (u1 + h f(u1)); u_new = 1/3 u + 2/3 (u2 + h f(u2)),
  evaluated below in NumPy, independently of the generated kernel (which uses the Butcher form).
"""

import numpy as np
import pytest
import sympy as sp

from riemgrad import Chart, compile_flow, euclidean_metric, solve_flow
from riemgrad.checks import convergence_order
from riemgrad.errors import SolverSettingsError
from riemgrad.flows import RK4, STEPPERS, Dopri5, Euler, FixedStep, Heun
from riemgrad.flows.steppers import as_stepper

x = sp.Symbol("x", real=True)
b = sp.Symbol("b", real=True)
t = sp.Symbol("t")


@pytest.fixture(scope="module")
def relax():
    """dx/dt = -(x - b)."""
    return compile_flow(euclidean_metric(Chart("line", (x,))), (x - b) ** 2 / 2, params=(b,))


def test_orders_and_aliases():
    assert [Euler().order, Heun().order, RK4().order, FixedStep("ssprk3").order, Dopri5().order] == [1, 2, 4, 3, 5]
    assert STEPPERS == {"euler": 1, "heun": 2, "rk4": 4, "ssprk3": 3, "dopri5": 5}
    assert as_stepper("rk4") == RK4() and as_stepper("euler") == Euler()
    assert as_stepper("dopri5", rtol=1e-6, max_steps=10) == Dopri5(rtol=1e-6, max_steps=10)
    with pytest.raises(AttributeError):
        RK4().name = "euler"  # immutable
    with pytest.raises(SolverSettingsError, match="`name` must be a fixed-step stepper"):
        FixedStep("dopri5")


@pytest.mark.parametrize("kwargs", [dict(rtol=1e-6), dict(atol=1e-9), dict(max_steps=10)], ids=lambda k: next(iter(k)))
@pytest.mark.parametrize("stepper", ["rk4", "euler", RK4(), FixedStep("ssprk3")], ids=str)
def test_adaptive_settings_with_a_fixed_step_stepper_are_an_error(relax, stepper, kwargs):
    name = next(iter(kwargs))
    with pytest.raises(SolverSettingsError, match=f"`{name}` is a setting of the adaptive stepper"):
        solve_flow(relax, [1.0], (0.0, 1.0), stepper=stepper, dt=0.1, params=[0.0], **kwargs)


def test_settings_given_twice_and_bad_settings(relax):
    with pytest.raises(SolverSettingsError, match="`rtol` is given twice"):
        solve_flow(relax, [1.0], (0.0, 1.0), stepper=Dopri5(rtol=1e-6), rtol=1e-7, params=[0.0])
    with pytest.raises(SolverSettingsError, match="`atol` must be a positive finite number"):
        Dopri5(atol=0.0)
    with pytest.raises(SolverSettingsError, match="`max_steps` must be a positive integer"):
        Dopri5(max_steps=0)
    with pytest.raises(SolverSettingsError, match="`stepper` must be a stepper name"):
        solve_flow(relax, [1.0], (0.0, 1.0), stepper=4, dt=0.1, params=[0.0])


def test_dopri5_object_settings_are_used(relax):
    res = solve_flow(relax, [1.0], (0.0, 5.0), stepper=Dopri5(max_steps=3), params=[0.0])
    assert res.status.item() == 4  # MAX_STEPS: the object's budget was applied
    assert res.stepper == "dopri5"


@pytest.mark.nojit
def test_ssprk3_step_is_shu_osher(relax):
    """One generated step against the Shu-Osher form, on a non-linear field (dx/dt = -x^2)."""
    field = compile_flow(euclidean_metric(Chart("line", (x,))), x**3 / 3)
    x0, h = np.array([0.3, 1.0, 2.5]), 0.1

    def f(u):
        return -(u**2)

    u1 = x0 + h * f(x0)
    u2 = 0.75 * x0 + 0.25 * (u1 + h * f(u1))
    expected = x0 / 3 + 2 / 3 * (u2 + h * f(u2))
    res = solve_flow(field, x0[:, None], (0.0, h), stepper="ssprk3", dt=h)
    np.testing.assert_allclose(res.xs[-1, :, 0], expected, rtol=1e-15, atol=0)
    # and it is not one of the other methods
    for other in ("heun", "rk4"):
        assert not np.allclose(solve_flow(field, x0[:, None], (0.0, h), stepper=other, dt=h).xs[-1, :, 0], expected)


@pytest.mark.nojit
@pytest.mark.parametrize("stepper", [Euler(), Heun(), FixedStep("ssprk3"), RK4()], ids=lambda s: s.name)
def test_convergence_order_on_the_relaxation(relax, stepper):
    """The fitted slope of log(error) against log(dt) is the stepper's order (x(t) = b + (x0 - b) e^{-t})."""
    rep = convergence_order(
        relax, [[3.0], [-1.0]], (0, 2), [b + (x - b) * sp.exp(-t)], t, stepper=stepper,
        dts=(0.2, 0.1, 0.05, 0.025), params={"b": 0.5},
    )  # fmt: skip
    assert rep.expected == stepper.order
    assert abs(rep.order - rep.expected) < 0.1, (rep.order, rep.errors)
    assert np.all(np.diff(rep.errors) < 0)


def test_convergence_order_refuses_the_adaptive_pair(relax):
    with pytest.raises(SolverSettingsError, match="must be a fixed-step stepper"):
        convergence_order(relax, [[3.0]], (0, 1), [b + (x - b) * sp.exp(-t)], t, stepper="dopri5", params={"b": 0.0})
