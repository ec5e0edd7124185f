"""Every symbolic routine that can blow up has a budget and a fallback, and says when it used it.

The examples are those of issue 14: location families whose Fisher integral SymPy cannot do (a cosh, an erf
and a sin perturbation of the Gaussian), the KL of the hyperbolic secant family, a dense 4x4 metric with exp
and cos entries, and the Hessian of a logistic-regression NLL over float features. Budgets are set small here so
each test ends in seconds; no test asserts a timing beyond "it ended" (pytest itself would hang otherwise).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
import sympy as sp

from riemgrad import Chart, Metric, ParametricFamily, fisher_metric, hessian_metric, kl_divergence
from riemgrad.errors import (
    BudgetExceededError,
    ExactCheckSkippedWarning,
    IndefiniteMetricError,
    IntegrationError,
    NonSymmetricMetricError,
    SimplificationSkippedWarning,
    SingularMetricError,
    SolverSettingsError,
)
from riemgrad.symbolic import simplify_expr
from riemgrad.symbolic._metric_checks import numeric_checks
from riemgrad.symbolic.budget import DEFAULT_BUDGETS, budgets, budgets_enforced, get_budget, time_budget

pytestmark = pytest.mark.skipif(not budgets_enforced(), reason="budgets need SIGALRM in the main thread")

x = sp.Symbol("x", real=True)
mu = sp.Symbol("mu", real=True)
U = x - mu
PHI = sp.exp(-(U**2) / 2) / sp.sqrt(2 * sp.pi)
MU = Chart("mu", (mu,))

HARD = {
    "cosh": PHI * sp.cosh(U) * sp.exp(-sp.Rational(1, 2)),
    "erf": PHI * (1 + sp.erf(U / sp.sqrt(2))),
    "sin": PHI * (1 + sp.sin(U) / 2),
}


def test_documented_defaults():
    assert DEFAULT_BUDGETS == {"integral": 10.0, "derivation": 60.0, "metric_checks": 2.0, "simplify": 30.0}
    with budgets(integral=1.5, simplify=None):
        assert get_budget("integral") == 1.5 and get_budget("simplify") is None
    assert get_budget("integral") == 10.0


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan"), True, "10"])
def test_budget_values_are_checked(bad):
    with pytest.raises(SolverSettingsError, match="`integral`"):
        with budgets(integral=bad):
            pass
    with pytest.raises(SolverSettingsError, match="`nope` is not a budget"):
        with budgets(nope=1):
            pass


def test_time_budget_interrupts_python_and_nests():
    t0 = time.perf_counter()
    with pytest.raises(BudgetExceededError, match="busy loop.*0.2 s"):
        with time_budget(0.2, "busy loop"):
            while True:
                pass
    assert time.perf_counter() - t0 < 5
    # an inner, longer budget never outlives the outer one
    with pytest.raises(BudgetExceededError, match="outer"):
        with time_budget(0.2, "outer"):
            with time_budget(100, "inner"):
                while True:
                    pass
    # a budget that does not run out leaves no alarm behind
    with time_budget(0.2, "short"):
        pass
    time.sleep(0.4)


def test_budget_survives_code_that_swallows_exceptions():
    with pytest.raises(BudgetExceededError):
        with time_budget(0.2, "stubborn"):
            try:
                while True:
                    pass
            except Exception:  # noqa: BLE001 - SymPy swallows broad exceptions in places
                pass
            while True:  # the alarm repeats until the budgeted block is left
                pass


@pytest.mark.parametrize("name", sorted(HARD))
def test_hard_location_families_end_with_an_error_naming_the_integral(name):
    fam = ParametricFamily.from_density(HARD[name], MU, x, {x: sp.Reals})
    with budgets(integral=1.0, derivation=3.0):
        t0 = time.perf_counter()
        with pytest.raises(IntegrationError, match=r"budget") as info:
            fisher_metric(fam)
        elapsed = time.perf_counter() - t0
    assert "mu" in str(info.value) or "score" in str(info.value) or "d2 log p" in str(info.value)
    assert elapsed < 30  # ended; the budget itself is 3 s


def test_sech_kl_ends_with_an_error():
    fam = ParametricFamily.from_density(sp.sech(sp.pi * U / 2) / 2, MU, x, {x: sp.Reals})
    with budgets(integral=1.0, derivation=3.0):
        with pytest.raises(IntegrationError, match=r"KL|expectation"):
            kl_divergence(fam, [0], [1])


def test_budgeted_fisher_still_exact_when_it_fits():
    fam = ParametricFamily.from_density(PHI, MU, x, {x: sp.Reals})
    with budgets(integral=5.0, derivation=20.0):
        assert fisher_metric(fam).matrix == sp.Matrix([[1]])


def dense4():
    xs = sp.symbols("x0:4", real=True)
    M = sp.Matrix(4, 4, lambda i, j: sp.exp(xs[i] * xs[j]) + sp.cos(xs[i] - xs[j]) + (3 if i == j else 0))
    return Chart("c", xs), M


def test_dense_metric_construction_falls_back_to_numeric_checks():
    chart, M = dense4()
    with budgets(metric_checks=0.5):
        with pytest.warns(ExactCheckSkippedWarning, match="checked numerically"):
            g = Metric(chart, M)
    assert g.checks.startswith("numeric at 6 sample points")
    # the numeric fallback still catches what the exact checks catch
    with pytest.raises(NonSymmetricMetricError, match="numerically"):
        numeric_checks(M + sp.Matrix(4, 4, lambda i, j: sp.exp(chart.coords[0]) if (i, j) == (0, 1) else 0), chart,
                       True, False)
    with pytest.raises(IndefiniteMetricError, match="sample points"):
        numeric_checks(-M, chart, True, False)
    assert numeric_checks(-M, chart, False, False) == 6  # pseudo-Riemannian: accepted
    row = sp.Matrix([[sp.exp(c) + sp.cos(c) ** 2 for c in chart.coords]])
    with pytest.raises(SingularMetricError, match="every one"):
        numeric_checks(row.T * row * sp.exp(sum(chart.coords)), chart, True, False)
    # a metric singular on a line only (diag(x**2, 1)) is not "singular everywhere"
    a, b = sp.symbols("a b", real=True)
    assert numeric_checks(sp.ImmutableMatrix(sp.diag(a**2, 1)), Chart("ab", (a, b)), True, False) == 6


def test_small_metrics_keep_exact_checks():
    r = sp.Symbol("r", positive=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = Metric(Chart("polar", (r, sp.Symbol("phi", real=True))), sp.diag(1, r**2))
    assert g.checks == "exact"


def logistic_nll(nparams: int, rows: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    w = sp.symbols(f"w0:{nparams}", real=True)
    X = rng.standard_normal((rows, nparams)).round(3)
    y = rng.integers(0, 2, rows)
    z = [sum(float(X[k, i]) * w[i] for i in range(nparams)) for k in range(rows)]
    L = sum(sp.log(1 + sp.exp(zk)) - int(yk) * zk for zk, yk in zip(z, y))
    return Chart("w", w), L, X


def test_logistic_hessian_construction_ends_and_is_right():
    chart, L, X = logistic_nll(2)
    with budgets(metric_checks=0.5, simplify=2.0), warnings.catch_warnings():
        warnings.simplefilter("ignore", ExactCheckSkippedWarning)
        warnings.simplefilter("ignore", SimplificationSkippedWarning)
        g = hessian_metric(L, chart)
    # closed form X^T W X with W = diag(q (1 - q)), q = sigmoid(X w), at a random point
    w0 = np.array([0.3, -0.7])
    q = 1 / (1 + np.exp(-X @ w0))
    H = X.T @ np.diag(q * (1 - q)) @ X
    got = np.array(g.matrix.subs(dict(zip(chart.coords, w0))).evalf(), dtype=float)
    assert np.allclose(got, H, rtol=1e-12, atol=1e-14)


def test_simplification_gives_up_and_keeps_the_exact_expression():
    t = sp.Symbol("t", real=True)
    e = sum(sp.exp(k * t) / (1 + sp.exp((k + 1) * t)) ** 2 for k in range(1, 40))
    with budgets(simplify=0.05):
        with pytest.warns(SimplificationSkippedWarning, match="unsimplified"):
            r = simplify_expr(e)
    assert r == e


# ------------------------------------------------------------------ other threads
def in_thread(fn):
    """Run ``fn`` in a new thread (as a Dask or thread-pool worker would) and return what it returned or raised."""
    import threading

    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc

    th = threading.Thread(target=run)
    th.start()
    th.join(120)
    assert not th.is_alive(), "the budgeted work did not end in its thread"
    return box


def test_budgets_are_enforced_in_other_threads():
    def spin():
        assert budgets_enforced()
        with time_budget(0.2, "a worker's spin") as token:
            try:
                while True:
                    pass
            except BudgetExceededError as err:
                return err, token

    got = in_thread(spin)["value"]
    err, token = got
    assert err.what == "a worker's spin" and isinstance(err, TimeoutError)
    from riemgrad.symbolic.budget import ran_out

    assert ran_out(token, err)


def test_a_worker_thread_gets_the_same_fallbacks():
    """The dense 4x4 metric in a worker thread falls back to numeric checks, as in the main thread."""
    chart, M = dense4()

    def build():
        with budgets(metric_checks=0.5):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                g = Metric(chart, M)
        return g.checks, [type(w.message) for w in caught]

    checks, kinds = in_thread(build)["value"]
    assert checks.startswith("numeric at 6 sample points") and ExactCheckSkippedWarning in kinds


def test_no_budget_error_escapes_a_closed_block_in_a_worker():
    """Blocks that end right at their deadline: the error is raised inside the block or not at all."""

    def many():
        for _ in range(300):
            try:
                with time_budget(0.001, "tiny"):
                    sum(range(3000))
            except BudgetExceededError:
                pass
            for _ in range(20000):  # outside any budget: an escaped error would surface here
                pass
        return "clean"

    assert in_thread(many) == {"value": "clean"}
