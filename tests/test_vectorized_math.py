"""The vectorizable elementary functions wired into generated kernels (``vectorized_math``).

Batches here exceed ``SCALAR_MAX_BATCH`` so that the chunk loops, which use the vectorizable
functions (``_velc`` for fields of at most ``SCALAR_MAX_DIM`` coordinates, ``_vel`` above), run;
smaller batches run ``_vels``, which keeps ``math``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from _gaussian import FISHER, a, b, kl_in

from riemgrad import Chart, Metric, Status, compile_flow, euclidean_metric, solve_flow
from riemgrad.errors import SolverSettingsError
from riemgrad.kernels import geodesic_field
from riemgrad.kernels.abi import SCALAR_MAX_BATCH
from riemgrad.kernels.compile import VECTORIZED_MATH_ENV, vectorized_math_enabled

TARGET = {"a": 1.0, "b": 4.0}


def _rhs(source: str) -> str:
    """The text of ``_vel`` in a generated module."""
    start = source.index("def _vel(")
    return source[start : source.index("\n\n", start)]


@pytest.fixture(scope="module")
def log_sigma_pair():
    loss = kl_in("log_sigma")
    return (
        compile_flow(FISHER["log_sigma"], loss, params=(a, b), vectorized_math=True),
        compile_flow(FISHER["log_sigma"], loss, params=(a, b), vectorized_math=False),
    )


def test_switch_selects_the_functions(log_sigma_pair):
    on, off = log_sigma_pair
    assert "vexp(" in _rhs(on.source) and "math.exp(" not in _rhs(on.source)
    assert "math.exp(" in _rhs(off.source) and "vexp" not in off.source
    # only what is used is emitted: exp, not log/sin/tanh
    assert "def vexp(" in on.source and "def vlog(" not in on.source and "def vsin(" not in on.source
    assert on.path != off.path  # both variants live in the cache


def _function_text(source: str, name: str) -> str:
    start = source.index(f"def {name}(")
    return source[start : source.index("\n\n", start)]


def test_chunk_loops_of_a_small_field_call_the_vectorizable_functions(log_sigma_pair):
    """A 2-D field steps its chunks with ``_velc`` (vexp), its one-trajectory kernels with ``_vels`` (math)."""
    on, off = log_sigma_pair
    assert "vexp(" in _function_text(on.source, "_velc") and "math.exp(" not in _function_text(on.source, "_velc")
    assert "math.exp(" in _function_text(on.source, "_vels")
    rk4 = _function_text(on.source, "_rk4_range")
    assert "_velc(" in rk4 and "_vels(" not in rk4
    assert "_vels(" in _function_text(on.source, "_rk4_scalar")
    assert "_velc = _vels" in off.source  # nothing to vectorize: one function


def test_kernels_carry_the_documented_fastmath_flags(log_sigma_pair, monkeypatch, tmp_path):
    from riemgrad.kernels.abi import FASTMATH_ENV, FASTMATH_FLAGS

    on, _ = log_sigma_pair
    assert "FASTMATH = {'arcp', 'contract'}" in on.source and FASTMATH_FLAGS == ("arcp", "contract")
    assert "fastmath=False" not in on.source and "fastmath=True" not in on.source
    monkeypatch.setenv(FASTMATH_ENV, "0")
    monkeypatch.setenv("RIEMGRAD_CACHE_DIR", str(tmp_path))
    plain = compile_flow(FISHER["log_sigma"], kl_in("log_sigma"), params=(a, b))
    assert "FASTMATH = False" in plain.source and plain.path != on.path
    X = np.column_stack([np.linspace(-2, 3, 3 * SCALAR_MAX_BATCH), np.linspace(-1, 1, 3 * SCALAR_MAX_BATCH)])
    r_fast = solve_flow(on, X, (0.0, 1.0), dt=1e-2, params=TARGET)
    r_plain = solve_flow(plain, X, (0.0, 1.0), dt=1e-2, params=TARGET)
    assert r_fast.status.tolist() == r_plain.status.tolist()
    np.testing.assert_allclose(r_fast.xs, r_plain.xs, rtol=1e-13, atol=1e-14)


def test_rational_field_source_does_not_depend_on_the_switch():
    loss = kl_in("sigma")  # log in the loss only; the velocity is rational
    on = compile_flow(FISHER["sigma"], loss, params=(a, b), vectorized_math=True)
    off = compile_flow(FISHER["sigma"], loss, params=(a, b), vectorized_math=False)
    assert on.source == off.source and "vlog" not in on.source


def test_environment_variable(monkeypatch):
    monkeypatch.setenv(VECTORIZED_MATH_ENV, "0")
    assert vectorized_math_enabled() is False
    monkeypatch.setenv(VECTORIZED_MATH_ENV, "off")
    assert vectorized_math_enabled() is False
    monkeypatch.setenv(VECTORIZED_MATH_ENV, "1")
    assert vectorized_math_enabled() is True
    monkeypatch.delenv(VECTORIZED_MATH_ENV)
    assert vectorized_math_enabled() is True
    assert vectorized_math_enabled(False) is False
    with pytest.raises(SolverSettingsError, match="`vectorized_math`"):
        vectorized_math_enabled("yes")


def test_log_sigma_flow_matches_math_and_closed_form(log_sigma_pair):
    on, off = log_sigma_pair
    rng = np.random.default_rng(3)
    B = 4 * SCALAR_MAX_BATCH
    X = np.column_stack([rng.uniform(-2, 3, B), np.log(rng.uniform(0.4, 3.0, B))])
    r_on = solve_flow(on, X, (0.0, 2.0), dt=1e-2, params=TARGET)
    r_off = solve_flow(off, X, (0.0, 2.0), dt=1e-2, params=TARGET)
    assert r_on.status.tolist() == [Status.SUCCESS] * B
    # a few ulps per exp, damped by the flow: far inside 1e-13
    np.testing.assert_allclose(r_on.xs, r_off.xs, rtol=1e-13, atol=1e-14)
    # mu(t) = 1 + (mu0 - 1) e^{-t} (the mean's natural-gradient flow, written by hand)
    np.testing.assert_allclose(r_on.xs[-1][:, 0], 1 + (X[:, 0] - 1) * math.exp(-2.0), rtol=1e-7, atol=1e-7)


def test_statuses_unchanged_at_overflow_and_nan(log_sigma_pair):
    on, off = log_sigma_pair
    # exp(-2 tau) overflows for tau = -400, underflows to 0 for tau = 400
    taus = [-400.0, 400.0, math.nan, 0.0, -1.0, math.inf, -math.inf] + [0.5] * SCALAR_MAX_BATCH
    X = np.column_stack([np.zeros(len(taus)), taus])
    r_on = solve_flow(on, X, (0.0, 0.1), dt=1e-2, params=TARGET)
    r_off = solve_flow(off, X, (0.0, 0.1), dt=1e-2, params=TARGET)
    assert r_on.status.tolist() == r_off.status.tolist()
    # the overflow and the NaN start fail (the metric exp(-2 tau) is inf there), tau = 0 succeeds
    assert r_on.status[0] != Status.SUCCESS and r_on.status[2] != Status.SUCCESS and r_on.status[3] == Status.SUCCESS


def test_sphere_geodesics_keep_math_sin_cos():
    th, ph = sp.symbols("theta phi", real=True)
    sphere = Metric(Chart("sphere_vm", (th, ph)), sp.diag(1, sp.sin(th) ** 2))
    on, off = geodesic_field(sphere, vectorized_math=True), geodesic_field(sphere, vectorized_math=False)
    # sin/cos keep math (vsin's C-library fallback for |x| >= 2**20 made the kernel slower): one module
    assert on.source == off.source and "math.sin(" in _rhs(on.source) and "vsin" not in on.source
    B = 2 * SCALAR_MAX_BATCH + 1
    rng = np.random.default_rng(5)
    # along the equator theta = pi/2 with v = (0, 1): phi(t) = phi0 + t; plus random starts
    X = np.column_stack([rng.uniform(0.5, 2.6, B), rng.uniform(-3, 3, B), rng.normal(size=B), rng.normal(size=B)])
    X[0] = [math.pi / 2, 0.25, 0.0, 1.0]
    r_on = solve_flow(on, X, (0.0, 1.0), dt=1e-3)
    r_off = solve_flow(off, X, (0.0, 1.0), dt=1e-3)
    assert r_on.status.tolist() == r_off.status.tolist() == [Status.SUCCESS] * B
    np.testing.assert_allclose(r_on.xs, r_off.xs, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(r_on.xs[-1][0], [math.pi / 2, 1.25, 0.0, 1.0], atol=1e-12)
    e0, e1 = on.energy(X), on.energy(r_on.xs[-1])
    np.testing.assert_allclose(e1, e0, rtol=1e-10)


def test_tanh_model_flow():
    w, c = sp.symbols("w c", real=True)
    loss = (sp.tanh(w) - sp.Rational(1, 2)) ** 2 + (sp.tanh(w + c) + sp.Rational(1, 3)) ** 2
    metric = euclidean_metric(Chart("wc_vm", (w, c)))
    on, off = compile_flow(metric, loss, vectorized_math=True), compile_flow(metric, loss, vectorized_math=False)
    assert "vtanh(" in _rhs(on.source) and "def vexp(" in on.source and "def vexpm1(" not in on.source
    B = 3 * SCALAR_MAX_BATCH
    X = np.random.default_rng(7).uniform(-1, 1, (B, 2))
    r_on = solve_flow(on, X, (0.0, 60.0), dt=1e-2)
    r_off = solve_flow(off, X, (0.0, 60.0), dt=1e-2)
    np.testing.assert_allclose(r_on.xs, r_off.xs, rtol=1e-12, atol=1e-13)
    # the minimum: tanh(w) = 1/2, tanh(w + c) = -1/3
    np.testing.assert_allclose(
        r_on.xs[-1], np.tile([math.atanh(0.5), -math.atanh(1 / 3) - math.atanh(0.5)], (B, 1)), atol=1e-6
    )
