"""SUCCESS means correct: a metric singular or indefinite along the way is reported by every strategy."""

import numpy as np
import pytest
import sympy as sp

from riemgrad import Chart, Metric, Status, compile_flow, descend, solve_flow
from riemgrad.kernels.codegen.definite import pivot_check, singular_factors

x, y = sp.symbols("x y", real=True)
CHART = Chart("xy", (x, y))
LOSS = (x - 2) ** 2 + y**2
START = np.array([[-1.0, 0.5], [-0.3, 0.2]])

CASES = {
    # singular on x = 0, positive on both sides: only the crossing check can see a step over it
    "x_squared": ([[x**2, 0], [0, 1]], ("symbolic", "cholesky")),
    # indefinite everywhere (a constant: decided exactly)
    "indefinite": ([[1, 0], [0, -1]], ("exact", "symbolic", "cholesky")),
    # becomes indefinite at x = 1 on the way to the minimum at x = 2
    "becomes_indefinite": ([[1 - x, 0], [0, 1]], ("symbolic", "cholesky")),
    # dense: det = (1 + x^2)(1 - x) - x^2 y^2 changes sign on the way
    "dense": ([[1 + x**2, x * y], [x * y, 1 - x]], ("symbolic", "cholesky")),
}
PARAMS = [(case, strategy) for case, (_, strategies) in CASES.items() for strategy in strategies]


@pytest.fixture(scope="module")
def fields():
    cache = {}

    def get(case, strategy):
        if (case, strategy) not in cache:
            metric = Metric(CHART, CASES[case][0], riemannian=False)
            cache[case, strategy] = compile_flow(metric, LOSS, strategy=strategy)
        return cache[case, strategy]

    return get


@pytest.mark.parametrize(("case", "strategy"), PARAMS, ids=[f"{c}-{s}" for c, s in PARAMS])
@pytest.mark.parametrize("stepper", ["rk4", "euler", "dopri5"])
def test_flow_reports_singular_metric(fields, case, strategy, stepper):
    field = fields(case, strategy)
    assert field.strategy == strategy
    res = solve_flow(field, START, (0.0, 3.0), stepper=stepper, dt=0.01)
    # never SUCCESS; the adaptive pair may instead shrink its step below the minimum near x = 0
    allowed = {Status.SINGULAR_METRIC} | ({Status.STEP_SIZE_TOO_SMALL} if stepper == "dopri5" else set())
    assert set(Status(s) for s in res.status.tolist()) <= allowed, res.status


@pytest.mark.parametrize(("case", "strategy"), PARAMS, ids=[f"{c}-{s}" for c, s in PARAMS])
@pytest.mark.parametrize("backtracking", [False, True])
def test_descent_reports_singular_metric(fields, case, strategy, backtracking):
    res = descend(fields(case, strategy), START, lr=0.05, steps=200, backtracking=backtracking)
    assert res.status.tolist() == [Status.SINGULAR_METRIC] * 2


def test_regular_side_still_succeeds(fields):
    # starting right of x = 0, diag(x^2, 1) is regular all the way to the minimum x = 2
    res = solve_flow(fields("x_squared", "symbolic"), [[0.5, 0.5]], (0.0, 20.0), dt=0.01)
    assert res.status.tolist() == [Status.SUCCESS]
    assert abs(res.xs[-1, 0, 0] - 2.0) < 1e-3


def test_singular_factors_by_hand():
    s = sp.Symbol("s", positive=True)
    assert singular_factors(sp.ImmutableMatrix([[x**2 * (1 - y), 0], [0, sp.exp(x)]]), (x, y)) == [x, y - 1]
    assert singular_factors(sp.ImmutableMatrix([[1 / s**2, 0], [0, 2 / s**2]]), (x, s)) == []
    # det = 1 - x^2 y^2 = (1 - x y)(1 + x y)
    got = singular_factors(sp.ImmutableMatrix([[1, x * y], [x * y, 1]]), (x, y))
    assert {sp.expand(f**2) for f in got} == {sp.expand((1 - x * y) ** 2), sp.expand((1 + x * y) ** 2)}


def test_pivot_check_skips_entries_positive_on_the_domain():
    s = sp.Symbol("s", positive=True)
    assert pivot_check(sp.ImmutableMatrix([[1 / s**2, 0], [0, sp.exp(x)]])) == ([], [], "    s = 0")
    assert pivot_check(sp.ImmutableMatrix([[2, 1], [1, 1]]))[2] == "    s = 0"


def test_nonfinite_metric_is_not_success():
    # G = diag(1/x^2 ..) is infinite at x = 0, where the velocity -x^2 grad vanishes: a frozen state
    field = compile_flow(Metric(CHART, [[1 / x**2, 0], [0, 1]]), (x - 2) ** 2 + y**2, strategy="symbolic")
    res = solve_flow(field, [[0.0, 0.5], [1.0, 0.5]], (0.0, 1.0), dt=0.01)
    assert res.status.tolist() == [Status.NONFINITE, Status.SUCCESS]
