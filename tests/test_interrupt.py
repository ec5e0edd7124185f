"""Ctrl-C during a compiled solve: a real SIGINT stops it, raises KeyboardInterrupt, leaves ``x0``
alone and the thread pool usable; the control array every stepping kernel reads (riemgrad.kernels.abi).

The solves interrupted here would run for hours; a test that fails hangs until its child's timeout.
No timings are asserted: the measured latency is printed by the child (``-s`` shows it).
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from riemgrad import Chart, compile_flow, euclidean_metric, preconditioners, solve_flow
from riemgrad.flows import descend
from riemgrad.kernels.abi import (
    CONTROL_DONE,
    CONTROL_STOP,
    AdaptiveRun,
    DescentRun,
    FixedStepRun,
    control_array,
)

ROOT = Path(__file__).resolve().parents[1]

x = sp.Symbol("x", real=True)


@pytest.fixture(scope="module")
def decay():
    """dx/dt = -x (Euclidean gradient flow of x^2 / 2): x(t) = x0 e^{-t}."""
    return compile_flow(euclidean_metric(Chart("line", (x,))), x**2 / 2)


@pytest.fixture(autouse=True)
def _no_step_budget(monkeypatch):
    """The runs here are meant to go on until interrupted: lift the fixed-step budget."""
    import riemgrad.flows.solve

    monkeypatch.setattr(riemgrad.flows.solve, "MAX_FIXED_STEPS", 10**15)


# ------------------------------------------------------------------ a real signal, a child process
CHILD = r"""
import os, sys, time
import numpy as np, sympy as sp
import riemgrad as rg
import riemgrad.flows.solve

riemgrad.flows.solve.MAX_FIXED_STEPS = 10**15  # the runs below are far longer than the step budget, on purpose
mode, B = sys.argv[1], int(sys.argv[2])
mu = sp.Symbol("mu", real=True); sigma = sp.Symbol("sigma", positive=True)
g = rg.Metric(rg.Chart("sigma", (mu, sigma)), sp.diag(1 / sigma**2, 2 / sigma**2))
kl = sp.log(sigma / 2) + (4 + (1 - mu) ** 2) / (2 * sigma**2) - sp.Rational(1, 2)
th, ph = sp.symbols("theta phi", real=True)
sphere = rg.Metric(rg.Chart("angles", (th, ph)), sp.diag(1, sp.sin(th) ** 2))
field = rg.compile_flow(g, kl)
x0 = np.tile([0.0, 1.0], (B, 1))
rng = np.random.default_rng(0)
A = np.column_stack([rng.uniform(0.5, 2.5, B), rng.uniform(0.0, 1.0, B)])
runs = {
    "rk4": lambda: rg.solve_flow(field, x0, (0.0, 1e9), dt=1e-3),
    "adam": lambda: rg.descend(field, x0, lr=1e-3, steps=10**12, preconditioner=rg.preconditioners.adam()),
    "natural": lambda: rg.descend(field, x0, lr=1e-3, steps=10**12),
    "geodesic": lambda: rg.geodesic(sphere, A, np.tile([0.3, 1.0], (B, 1)), (0.0, 1e9),
                                    stepper=rg.flows.Dopri5(rtol=1e-10, atol=1e-12, max_steps=10**12)),
    "log_map": lambda: rg.log_map(sphere, A, A + rng.uniform(-0.3, 0.3, A.shape)),
}
field.warm_up(["rk4", "euler", "adam"])
rg.log_map(sphere, A[:2], A[:2] + 0.1)           # compiles the geodesic kernels
print("READY", flush=True)
try:
    runs[mode]()
    print("FINISHED", flush=True)
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
    os._exit(3)   # skip the interpreter's teardown (seconds with SymPy and Numba loaded)
"""


@pytest.mark.parametrize(
    "mode, batch",
    [("rk4", 1), ("rk4", 100), ("rk4", 3000), ("adam", 100), ("natural", 2000), ("geodesic", 1), ("log_map", 60000)],
    ids=["rk4-registers", "rk4-one-call", "rk4-threads", "adam", "natural-threads", "geodesic-dopri5", "log_map"],
)
def test_sigint_stops_a_long_solve_in_a_child_process(mode, batch, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ, PYTHONPATH=str(ROOT), RIEMGRAD_PROGRESS="0")
    child = subprocess.Popen(
        [sys.executable, str(script), mode, str(batch)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout.readline().strip() == "READY", child.stderr.read()
        time.sleep(2.0)
        sent = time.perf_counter()
        child.send_signal(signal.SIGINT)
        line = child.stdout.readline().strip()
        latency = time.perf_counter() - sent
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    print(f"{mode} batch {batch}: KeyboardInterrupt {latency:.3f} s after SIGINT")
    assert line == "KeyboardInterrupt", child.stderr.read()
    assert child.returncode == 3


# ------------------------------------------------------------------ in process: x0, the pool afterwards
def _interrupt_after(seconds):
    main = threading.main_thread().ident
    timer = threading.Timer(seconds, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    return timer


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs signal.pthread_kill (POSIX)")
@pytest.mark.parametrize("batch", [1, 100, 3000], ids=["registers", "one-call", "threads"])
def test_sigint_in_process_leaves_x0_and_the_pool_usable(decay, batch):
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        x0 = np.linspace(0.5, 2.0, batch).reshape(batch, 1)
        kept = x0.copy()
        solve_flow(decay, x0[:2], (0.0, 0.01), dt=1e-3)  # compiled before the clock starts
        timer = _interrupt_after(0.5)
        try:
            with pytest.raises(KeyboardInterrupt):
                solve_flow(decay, x0, (0.0, 1e9), dt=1e-3)  # 10^12 steps
        finally:  # a run that failed early must not leave a SIGINT on its way to the test runner
            timer.cancel()
            timer.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    np.testing.assert_array_equal(x0, kept)
    # the same kernels and thread pool, straight afterwards: x(2) = x0 e^{-2}
    res = solve_flow(decay, x0, (0.0, 2.0), dt=1e-3, parallel=batch > 1)
    np.testing.assert_allclose(res.xs[-1], kept * np.exp(-2.0), rtol=1e-12)
    assert (res.status == 0).all()


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs signal.pthread_kill (POSIX)")
def test_sigint_in_process_stops_adam_descent(decay):
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        x0 = np.full((600, 1), 3.0)
        descend(decay, x0[:1], lr=0.1, steps=1, preconditioner=preconditioners.adam())
        timer = _interrupt_after(0.5)
        try:
            with pytest.raises(KeyboardInterrupt):
                descend(decay, x0, lr=1e-9, steps=10**12, preconditioner=preconditioners.adam())
        finally:
            timer.cancel()
            timer.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert (x0 == 3.0).all()
    # plain descent x <- x - 0.1 x, 10 times: 3 * 0.9^10
    res = descend(decay, x0, lr=0.1, steps=10, preconditioner=preconditioners.identity())
    np.testing.assert_allclose(res.xs[-1], 3.0 * 0.9**10, rtol=1e-13)


# ------------------------------------------------------------------ the control array itself
@pytest.mark.nojit
@pytest.mark.parametrize("batch, scalar", [(3, True), (700, False)], ids=["registers", "chunks"])
def test_a_set_stop_flag_returns_before_any_step(decay, batch, scalar):
    X, _ = decay.layout(np.ones((batch, 1)), copy=True)
    status, tlast = np.zeros(batch, np.int64), np.zeros(batch)
    ctl = control_array(1)
    ctl[:, CONTROL_STOP] = 1
    run = FixedStepRun("rk4", 0.0, 1e-3, 10**6, np.array([0, 10**6]), np.zeros(1), ctl)
    with pytest.raises(KeyboardInterrupt):
        decay.run_fixed(run, X, status, tlast, scalar=scalar)
    assert (X == 1.0).all()
    assert ctl[:, CONTROL_DONE].sum() == 0


@pytest.mark.nojit
def test_a_set_stop_flag_stops_descent_and_the_adaptive_pair(decay):
    X, _ = decay.layout(np.ones((5, 1)), copy=True)
    status, last = np.zeros(5, np.int64), np.zeros(5)
    ctl = control_array(1)
    ctl[:, CONTROL_STOP] = 1
    run = DescentRun("adam", 0.1, False, 10**6, np.array([0, 10**6]), np.zeros(1), (0.9, 0.999, 1e-8), ctl)
    with pytest.raises(KeyboardInterrupt):
        decay.run_descent(run, X, status, last)
    arun = AdaptiveRun(0.0, 1e9, 0.1, 1e-8, 1e-10, 10**9, np.array([0.0, 1e9]), np.zeros(1), ctl)
    with pytest.raises(KeyboardInterrupt):
        decay.run_adaptive(arun, X, status, last, np.zeros(5, np.int64))
    assert (X == 1.0).all()


@pytest.mark.parametrize("batch, nsteps", [(3, 300), (700, 300), (700, 1000)])
def test_progress_counters_count_trajectory_steps(decay, batch, nsteps):
    X, _ = decay.layout(np.ones((batch, 1)), copy=True)
    status, tlast = np.zeros(batch, np.int64), np.zeros(batch)
    ctl = control_array(1)
    run = FixedStepRun("euler", 0.0, 1e-3, nsteps, np.array([0, nsteps]), np.zeros(1), ctl)
    decay.run_fixed(run, X, status, tlast)
    if batch <= 8:  # one trajectory at a time: whole blocks of 128 steps counted per trajectory
        assert ctl[0, CONTROL_DONE] == batch * (nsteps // 128) * 128
    else:  # chunks: every block counted, nsteps * batch in all
        assert ctl[0, CONTROL_DONE] == nsteps * batch
    np.testing.assert_allclose(X, 0.999**nsteps, rtol=1e-12)
    # descent counts whole blocks of 128 steps per chunk
    ctl = control_array(1)
    run = DescentRun("identity", 1e-3, False, nsteps, np.array([0, nsteps]), np.zeros(1), (0.0, 0.0, 0.0), ctl)
    decay.run_descent(run, X, status, tlast)
    assert ctl[0, CONTROL_DONE] == batch * (nsteps // 128) * 128
    # the adaptive pair: one per finished trajectory
    ctl = control_array(1)
    arun = AdaptiveRun(0.0, 1.0, 0.1, 1e-8, 1e-10, 10**5, np.array([0.0, 1.0]), np.zeros(1), ctl)
    decay.run_adaptive(arun, X, status, tlast, np.zeros(batch, np.int64))
    assert ctl[0, CONTROL_DONE] == batch
