"""Every setting checked: a bad value is a RiemgradError naming the argument, never a raw error."""

import os

import numpy as np
import pytest
import sympy as sp

from riemgrad import Chart, Metric, compile_flow, descend, exp_map, solve_flow
from riemgrad.errors import ArgumentTypeError, DomainError, RiemgradError, ShapeError, SolverSettingsError
from riemgrad.preconditioners import Preconditioner

x = sp.Symbol("x", real=True)
s = sp.Symbol("s", positive=True)
a = sp.Symbol("a", real=True)
CHART = Chart("xs", (x, s))
X0 = np.array([[0.5, 1.0]])


@pytest.fixture(scope="module")
def field():
    return compile_flow(Metric(CHART, [[1 / s**2, 0], [0, 2 / s**2]]), (x - a) ** 2 + (s - 1) ** 2, params=(a,))


NAN, INF = float("nan"), float("inf")
FLOW_CASES = {
    "dt-nan": (dict(dt=NAN), "`dt`"),
    "dt-inf": (dict(dt=INF), "`dt`"),
    "dt-str": (dict(dt="0.1"), "`dt`"),
    "dt-bool": (dict(dt=True), "`dt`"),
    "dt-negative": (dict(dt=-0.1), "`dt`"),
    "dt-budget": (dict(dt=1e-11), "step budget"),
    "dopri-dt-nan": (dict(dt=NAN, stepper="dopri5"), "`dt`"),
    "saveat-nan": (dict(dt=0.1, saveat=[0.0, NAN]), "`saveat`"),
    "saveat-unsorted": (dict(dt=0.1, saveat=[0.5, 0.2]), "`saveat`.*sorted"),
    "saveat-str": (dict(dt=0.1, saveat=["a"]), "`saveat`"),
    "saveat-outside": (dict(dt=0.1, saveat=[0.0, 2.0]), "`saveat`"),
    "dopri-saveat-unsorted": (dict(stepper="dopri5", saveat=[0.5, 0.2]), "`saveat`"),
    "rtol-negative": (dict(stepper="dopri5", rtol=-1.0), "`rtol`"),
    "atol-inf": (dict(stepper="dopri5", atol=INF), "`atol`"),
    "max_steps-zero": (dict(stepper="dopri5", max_steps=0), "`max_steps`"),
    "max_steps-float": (dict(stepper="dopri5", max_steps=10.5), "`max_steps`"),
    "params-nan": (dict(dt=0.1, params=[NAN]), "`params`"),
    "params-length": (dict(dt=0.1, params=[1.0, 2.0]), "`params`"),
    "params-complex": (dict(dt=0.1, params=[1j]), "`params`"),
    "params-bool": (dict(dt=0.1, params=[True]), "`params`"),
    "params-str": (dict(dt=0.1, params=["a"]), "`params`"),
}


@pytest.mark.parametrize("case", sorted(FLOW_CASES))
def test_flow_settings(field, case):
    kwargs, match = FLOW_CASES[case]
    kwargs = {"params": [1.0], **kwargs}
    with pytest.raises(RiemgradError, match=match):
        solve_flow(field, X0, (0.0, 1.0), **kwargs)


DESCENT_CASES = {
    "lr-bool": (dict(lr=True, steps=3), "`lr`"),
    "lr-complex": (dict(lr=1j, steps=3), "`lr`"),
    "lr-nan": (dict(lr=NAN, steps=3), "`lr`"),
    "lr-zero": (dict(lr=0.0, steps=3), "`lr`"),
    "steps-float": (dict(lr=0.1, steps=3.0), "`steps`"),
    "steps-bool": (dict(lr=0.1, steps=True), "`steps`"),
    "steps-budget": (dict(lr=0.1, steps=10**11), "`steps`.*budget"),
    "saveat-fraction": (dict(lr=0.1, steps=10, saveat=[0, 2.5]), "`saveat`.*integer"),
    "saveat-nan": (dict(lr=0.1, steps=10, saveat=[0, NAN]), "`saveat`"),
    "saveat-unsorted": (dict(lr=0.1, steps=10, saveat=[5, 2]), "`saveat`"),
    "saveat-beyond": (dict(lr=0.1, steps=10, saveat=[0, 11]), "`saveat`"),
    "params-inf": (dict(lr=0.1, steps=3, params=[INF]), "`params`"),
}


@pytest.mark.parametrize("case", sorted(DESCENT_CASES))
def test_descent_settings(field, case):
    kwargs, match = DESCENT_CASES[case]
    kwargs = {"params": [1.0], **kwargs}
    with pytest.raises(SolverSettingsError if "params" not in case else RiemgradError, match=match):
        descend(field, X0, **kwargs)


@pytest.mark.parametrize(
    ("x0", "error"),
    [([[1.0, 2.0], [1.0]], ShapeError), ([[1.0 + 1j, 2.0]], ArgumentTypeError), ([["a", 2.0]], ArgumentTypeError)],
    ids=["ragged", "complex", "string"],
)
def test_x0_must_be_real_and_rectangular(field, x0, error):
    with pytest.raises(error, match="`x0`"):
        solve_flow(field, x0, (0.0, 1.0), dt=0.1, params=[1.0])


def test_nonfinite_start_is_flagged_not_raised(field):
    res = solve_flow(field, [[NAN, 1.0], [0.5, 1.0]], (0.0, 1.0), dt=0.1, params=[1.0])
    assert res.status.tolist() == [2, 0]


def test_evaluators_outside_the_domain_raise(field):
    for method in (field.loss, field.gradient, field.metric, field.velocity):
        with pytest.raises(DomainError, match="`x`"):
            method([[0.5, -1.0]], [1.0])
    # a NaN row (a stopped trajectory in a result) evaluates to NaN, no error
    assert np.isnan(field.loss([[NAN, 1.0]], [1.0])[0])


def test_exp_map_outside_the_domain_raises():
    half = Metric(Chart("hp", (x, s)), sp.diag(1 / s**2, 1 / s**2))
    with pytest.raises(DomainError, match="`x`"):
        exp_map(half, [[0.0, -1.0]], [[0.0, 1.0]])


def test_preconditioner_with_wrong_shape(field):
    bad = Preconditioner(lambda x: None, lambda g, st, v: (g[:, :1], st), "bad")
    with pytest.raises(ShapeError, match="`preconditioner` 'bad'.*shape"):
        descend(field, X0, lr=0.1, steps=3, preconditioner=bad, params=[1.0])
    worse = Preconditioner(lambda x: None, lambda g, st, v: g, "worse")
    with pytest.raises(ArgumentTypeError, match="pair"):
        descend(field, X0, lr=0.1, steps=3, preconditioner=worse, params=[1.0])


def test_hostile_string_loss_is_refused(tmp_path):
    from riemgrad.errors import ParseError

    marker = "/tmp/pwned-H"
    if os.path.exists(marker):
        os.remove(marker)
    metric = Metric(CHART, [[1 / s**2, 0], [0, 2 / s**2]])
    with pytest.raises(ParseError, match="`loss`"):
        compile_flow(metric, f"__import__('os').system('touch {marker}')")
    assert not os.path.exists(marker)
    with pytest.raises(ParseError, match="`residuals`"):
        compile_flow(metric, (x - 1) ** 2 / 2, residuals=["x.__class__"])


def test_string_loss_uses_the_chart_symbols():
    metric = Metric(CHART, [[1 / s**2, 0], [0, 2 / s**2]])
    field = compile_flow(metric, "(x - 1)**2 + log(s)")
    assert field.loss_expr == (x - 1) ** 2 + sp.log(s)  # the chart's s (positive), not a new Symbol
