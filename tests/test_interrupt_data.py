"""Ctrl-C stops every compiled run over data (descent, RK4, L-BFGS, LM, Hessian-free, K-FAC).

Each run is compiled first by a one-step call, then started for 10^9 steps (Hessian-free: 10^6); SIGINT reaches the
main thread 1.5 s later. The call must raise KeyboardInterrupt, leave the starting points as
they were, and the same field must run again afterwards. The latency is printed, not asserted.
"""

from __future__ import annotations

import signal
import threading
import time

import numpy as np
import pytest

import riemgrad as rg
from riemgrad import models
from riemgrad.preconditioners import hessian_free, kfac, lbfgs, levenberg_marquardt

pytestmark = pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs signal.pthread_kill (POSIX)")


@pytest.fixture(scope="module")
def fields():
    rng = np.random.default_rng(0)
    logit = models.logistic_regression(3)
    X = rng.standard_normal((3000, 3))
    y = (rng.random(3000) < 0.5).astype(float)
    f = rg.compile_flow(rg.fisher_metric(logit.family, data=logit.dataset(X, y)), logit.family)
    mlp = models.mlp((1, 3, 1), "tanh")
    xs = rng.uniform(-1, 1, 1000)
    g = rg.compile_flow(rg.gauss_newton_metric(mlp.residual, mlp.chart, data=mlp.dataset(xs, np.sin(3 * xs))),
                        mlp.loss)
    return f, g, mlp


RUNS = {
    "gradient-threads": ("f", np.zeros((4, 4)), dict(preconditioner="identity", threads=2)),
    "natural": ("f", np.zeros(4), {}),
    "rk4": ("f", np.zeros(4), None),
    "lbfgs": ("f", np.zeros(4), dict(preconditioner=lbfgs())),
    "lm": ("g", None, dict(preconditioner=levenberg_marquardt(schedule=None))),
    "hessian-free": ("f", np.zeros(4), dict(preconditioner=hessian_free(damping=1e-3))),
    "kfac": ("g", None, dict(preconditioner=kfac(damping=1e-2))),
}


@pytest.mark.parametrize("kind", list(RUNS))
def test_sigint_stops_a_long_run_over_data(fields, kind):
    f, g, mlp = fields
    which, x0, kw = RUNS[kind]
    field = f if which == "f" else g
    x0 = np.full(mlp.chart.dim, 0.1) if x0 is None else x0
    kept = x0.copy()

    def run(n):
        if kw is None:
            return field.solve_flow(x0, (0.0, n * 1e-6), dt=1e-6)
        return field.descend(x0, lr=1e-9, steps=n, **kw)

    run(1)  # compiles the kernel
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.5, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    try:
        timer.start()
        sent = time.perf_counter() + 1.5
        with pytest.raises(KeyboardInterrupt):
            run(10**6 if kind == "hessian-free" else 10**9)  # Hessian-free records CG counts per step: O(steps)
        print(f"{kind}: KeyboardInterrupt {time.perf_counter() - sent:.3f} s after SIGINT")
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    np.testing.assert_array_equal(x0, kept)
    again = run(3)  # the field (and the thread pool) run again
    assert np.isfinite(again.xs).all()
