"""convergence_rate: sequences whose rate is known by construction, and optimizers whose rate is a theorem."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from riemgrad.checks import convergence_rate
from riemgrad.errors import ArgumentTypeError, ShapeError, SolverSettingsError


def test_linear_sequences_give_their_ratio():
    for r in (0.1, 0.5, 0.9, 0.99):
        got = convergence_rate([3.0 * r**k for k in range(40)])
        assert got.kind == "linear" and got.ratio == pytest.approx(r, rel=1e-9)
        assert got.order == pytest.approx(1.0, abs=1e-6)


def test_quadratic_and_higher_orders():
    e = [0.3]
    for _ in range(4):
        e.append(0.7 * e[-1] ** 2)  # e_{k+1} = C e_k^2
    got = convergence_rate(e)
    assert got.kind == "quadratic" and got.order == pytest.approx(2.0, abs=0.15)
    e = [0.5]
    for _ in range(3):
        e.append(e[-1] ** 3)
    got = convergence_rate(e)
    assert got.kind == "superlinear" and got.order == pytest.approx(3.0, abs=0.2)


def test_superlinear_without_an_order():
    # e_k = 1/k!: the ratios 1/(k+1) fall to 0, the order estimates stay near 1
    got = convergence_rate([1 / math.factorial(k) for k in range(1, 22)])
    assert got.kind == "superlinear"


def test_sublinear_and_diverging_and_undetermined():
    assert convergence_rate([1.0 / k for k in range(1, 80)]).kind == "sublinear"
    assert convergence_rate([1.0 / math.sqrt(k) for k in range(1, 80)]).kind == "sublinear"
    assert convergence_rate([1.5**k for k in range(20)]).kind == "diverging"
    got = convergence_rate([1.0, 0.1])
    assert got.kind == "undetermined" and math.isnan(got.ratio)


def test_a_fast_transient_then_a_slow_linear_rate_is_linear():
    e = [1.0]
    for k in range(80):
        e.append(e[-1] * (0.1 if k < 5 else 0.95))
    got = convergence_rate(e)
    assert got.kind == "linear" and got.ratio == pytest.approx(0.95, rel=1e-9)


def test_round_off_is_cut_at_the_floor():
    e = [0.5**k for k in range(40)] + [1e-17, 3e-17, 2e-17]  # round-off noise after the run
    got = convergence_rate(e)
    assert got.kind == "linear" and got.used == 40
    assert convergence_rate([2.0**-k for k in range(10)] + [0.0]).used == 10  # an exact hit


def test_newton_is_quadratic_and_gradient_descent_linear_with_the_predicted_ratio():
    # Newton for the root of x^3 - 2 (a simple root: quadratic), iterated in exact arithmetic then floated
    x, root, errs = sp.Rational(1), sp.cbrt(2), []
    for _ in range(6):
        errs.append(float(abs(x - root)))
        x = x - (x**3 - 2) / (3 * x**2)
    assert convergence_rate(errs).kind == "quadratic"
    # gradient descent on (x^2 + 10 y^2)/2 with step 0.15: the slow mode contracts by |1 - 0.15| = 0.85
    p, errs = np.array([1.0, 1.0]), []
    for _ in range(80):
        errs.append(float(np.linalg.norm(p)))
        p = p - 0.15 * np.array([1.0, 10.0]) * p
    got = convergence_rate(errs)
    assert got.kind == "linear" and got.ratio == pytest.approx(0.85, rel=1e-6)


def test_the_compiled_optimizers_show_their_textbook_rates():
    """Newton (descent in the Hessian metric) is quadratic, gradient descent linear with ratio |1 - lr a|,
    on a smooth strictly convex loss with minimum at the origin."""
    from riemgrad import Chart, Metric, compile_flow, descend, euclidean_metric

    u, v = sp.symbols("u v", real=True)
    chart = Chart("uv", (u, v))
    loss = sp.exp(u) - u + (v**2 + v**4) / 2  # minimum at 0, Hessian diag(1, 1) there
    newton = compile_flow(Metric(chart, sp.hessian(loss, (u, v))), loss)
    res = descend(newton, [0.8, -0.6], lr=1.0, steps=6, saveat=range(7))
    assert convergence_rate(np.linalg.norm(res.xs, axis=-1)).kind == "quadratic"
    gd = compile_flow(euclidean_metric(chart), loss)
    res = descend(gd, [0.8, -0.6], lr=0.3, steps=120, saveat=range(121))
    got = convergence_rate(np.linalg.norm(res.xs, axis=-1))
    assert got.kind == "linear" and got.ratio == pytest.approx(0.7, rel=1e-3)  # |1 - 0.3 * 1|


@pytest.mark.parametrize(
    "errors, kind, match",
    [
        ([[1.0, 0.5], [0.25, 0.1]], ShapeError, "must be 1-D"),
        ([1.0, -0.5, 0.1], SolverSettingsError, "finite and >= 0"),
        ([1.0, float("nan"), 0.1], SolverSettingsError, "entry 1"),
        ("fast", ArgumentTypeError, "sequence of non-negative real numbers; got str"),
    ],
)
def test_bad_errors(errors, kind, match):
    with pytest.raises(kind, match=match):
        convergence_rate(errors)


def test_bad_floor():
    with pytest.raises(SolverSettingsError, match="`floor`"):
        convergence_rate([1.0, 0.5, 0.25], floor=-1.0)
