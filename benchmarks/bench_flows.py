# ruff: noqa: B023  (closures over loop variables are called inside the same iteration)
"""Side-by-side benchmarks of riemgrad's compiled flows against the baselines.

One command runs every workload and prints markdown tables with ratios::

    python benchmarks/bench_flows.py            # the full run (several minutes)
    python benchmarks/bench_flows.py --quick    # a smoke run (smaller batches, fewer steps)

Workloads (definitions also in docs/numerics.md):

W1  Natural-gradient flow of the Gaussian N(mu, sigma^2) minimising KL(N(1, 4) || N(mu, sigma^2)),
    Fisher metric, RK4, T = 5, dt = 1e-3 (5,000 steps), batches 1, 100 and 10,000, in the sigma,
    variance and log-sigma charts. Starts: mu ~ U(-2, 3), sigma ~ U(0.4, 3), seed 0.
W2  Natural-gradient descent on the same problem, lr = 0.1, 1,000 steps (and 10,000), batch 10,000.
W3  The invariance check: W1 at batch 10,000 in all three charts, mapped to the sigma chart and
    compared (riemgrad.check_invariance), plus the same for the Euclidean flow (not invariant).
W4  Linear model f = sum_{i<d} theta_i x^i on [0, 1] (uniform measure), target 1 - 2x + 3x^2,
    loss E[(f - f*)^2], function-space metric G = E[phi phi^T] (the Hilbert matrix), RK4,
    T = 1, dt = 1e-3, batch 100, d = 2..32: relative error against theta(t) = (theta0 - beta) e^{-2t} + beta.
G1  Geodesics on the Poincare half-plane: exp_map of 1,000 random points and velocities against
    scipy's solve_ivp per point, and distance (log_map by shooting) against the closed form.

Baselines, in the same run:
- "by hand": sympy.lambdify + NumPy + np.linalg.solve inside a Python RK4 loop (what a user writes);
  for long runs it is timed over fewer steps and scaled linearly (marked "*").
- scipy.integrate.solve_ivp (RK45) per trajectory, against riemgrad's adaptive "dopri5" at the
  same tolerances.
- "hand Numba": the closed-form velocity inlined in a hand-written @njit kernel compiled with the
  fast-math flags that keep NaN/inf semantics (contract, arcp), the practical limit;
  two layouts (one trajectory per iteration under prange; structure-of-arrays chunks under prange),
  the faster is the reference.
- JAX when installed (it is an optional extra; skipped otherwise).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sympy as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import riemgrad as rg  # noqa: E402
from _hand_rk4 import chunked_rk4  # noqa: E402

mu = sp.Symbol("mu", real=True)
sigma = sp.Symbol("sigma", positive=True)
var = sp.Symbol("variance", positive=True)
tau = sp.Symbol("log_sigma", real=True)
A_T, B_T = 1.0, 4.0  # target N(1, 4)

CHARTS = {
    "sigma": rg.Chart("sigma", (mu, sigma)),
    "variance": rg.Chart("variance", (mu, var)),
    "log_sigma": rg.Chart("log_sigma", (mu, tau)),
}
FISHER = {
    "sigma": sp.diag(1 / sigma**2, 2 / sigma**2),
    "variance": sp.diag(1 / var, 1 / (2 * var**2)),
    "log_sigma": sp.diag(sp.exp(-2 * tau), 2),
}
SIGMA_OF = {"sigma": sigma, "variance": sp.sqrt(var), "log_sigma": sp.exp(tau)}
TO_CHART = {"sigma": lambda s: s, "variance": lambda s: s**2, "log_sigma": np.log}


def kl(chart: str) -> sp.Expr:
    s = SIGMA_OF[chart]
    return sp.log(s / 2) + (4 + (1 - mu) ** 2) / (2 * s**2) - sp.Rational(1, 2)


def starts(batch: int, chart: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    m = rng.uniform(-2, 3, batch)
    s = rng.uniform(0.4, 3.0, batch)
    return np.column_stack([m, TO_CHART[chart](s)])


def best_time(fn, repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def best_times(fns, repeat: int, rounds: int = 3) -> list[float]:
    """Best time of each function over ``rounds`` alternating blocks of ``repeat`` calls.

    The cores of the development machine are shared: a slow phase of a few hundred
    milliseconds can catch one side of a comparison and not the other. Alternating blocks
    (with a pause, so that OpenMP threads of a prange kernel stop spinning) give each
    function several chances.
    """
    best = [math.inf] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            time.sleep(0.02)
            best[i] = min(best[i], best_time(fn, repeat))
    return best


# ------------------------------------------------------------- hand Numba
#: The hand kernels' fast-math flags: those that keep NaN/inf semantics, as riemgrad's kernels
#: (riemgrad.kernels.abi.FASTMATH_FLAGS): the practical limit of hand-written Numba.
FM = {"contract", "arcp"}


def hand_kernels():
    from numba import njit, prange

    @njit(inline="always", error_model="numpy", fastmath=FM)
    def v_sigma(m, s):
        S = 4.0 + (1.0 - m) * (1.0 - m)
        return 1.0 - m, (S - s * s) / (2.0 * s)

    @njit(inline="always", error_model="numpy", fastmath=FM)
    def v_variance(m, v):
        return 1.0 - m, 4.0 + (1.0 - m) * (1.0 - m) - v

    @njit(inline="always", error_model="numpy", fastmath=FM)
    def v_log_sigma(m, t):
        S = 4.0 + (1.0 - m) * (1.0 - m)
        return 1.0 - m, 0.5 * (S * math.exp(-2.0 * t) - 1.0)

    def make(vf):
        @njit(parallel=True, error_model="numpy", fastmath=FM)
        def per_trajectory(X, dt, n):
            out = np.empty_like(X)
            for i in prange(X.shape[0]):
                a = X[i, 0]
                b = X[i, 1]
                for _ in range(n):
                    a1, b1 = vf(a, b)
                    a2, b2 = vf(a + 0.5 * dt * a1, b + 0.5 * dt * b1)
                    a3, b3 = vf(a + 0.5 * dt * a2, b + 0.5 * dt * b2)
                    a4, b4 = vf(a + dt * a3, b + dt * b3)
                    a += dt / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4)
                    b += dt / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
                out[i, 0] = a
                out[i, 1] = b
            return out

        soa = chunked_rk4(vf, fastmath=FM)  # benchmarks/_hand_rk4.py, shared with bench_elementary.py

        @njit(parallel=True, error_model="numpy", fastmath=FM)
        def descent(X, lr, n):
            out = np.empty_like(X)
            for i in prange(X.shape[0]):
                a = X[i, 0]
                b = X[i, 1]
                for _ in range(n):
                    va, vb = vf(a, b)
                    a += lr * va
                    b += lr * vb
                out[i, 0] = a
                out[i, 1] = b
            return out

        @njit(parallel=True, error_model="numpy", fastmath=FM)
        def descent_soa(X, lr, n):
            B = X.shape[0]
            ch = 512
            nc = (B + ch - 1) // ch
            out = np.empty_like(X)
            for c in prange(nc):
                lo = c * ch
                m = min(B, lo + ch) - lo
                a = X[lo : lo + m, 0].copy()
                b = X[lo : lo + m, 1].copy()
                for _ in range(n):
                    for j in range(m):
                        va, vb = vf(a[j], b[j])
                        a[j] += lr * va
                        b[j] += lr * vb
                out[lo : lo + m, 0] = a
                out[lo : lo + m, 1] = b
            return out

        serial = njit(error_model="numpy", fastmath=FM)(per_trajectory.py_func)  # prange runs as range: no threads
        soa_1 = njit(error_model="numpy", fastmath=FM)(soa.py_func)
        descent_soa_1 = njit(error_model="numpy", fastmath=FM)(descent_soa.py_func)
        return per_trajectory, soa, descent, descent_soa, serial, soa_1, descent_soa_1

    return {"sigma": make(v_sigma), "variance": make(v_variance), "log_sigma": make(v_log_sigma)}


# ---------------------------------------------------------------- by hand
def by_hand_velocity(G: sp.Matrix, loss: sp.Expr, coords):
    """lambdify the metric and gradient, solve with np.linalg.solve: what a user writes."""
    Gf = sp.lambdify(coords, list(G), "numpy")  # a flat list: entries may be scalars or arrays
    gf = sp.lambdify(coords, [sp.diff(loss, c) for c in coords], "numpy")
    d = len(coords)

    def vel(X):
        cols = [X[:, i] for i in range(d)]
        n = X.shape[0]
        Gm = np.empty((n, d, d))
        raw = Gf(*cols)
        for i in range(d):
            for j in range(d):
                Gm[:, i, j] = raw[i * d + j]
        g = np.empty((n, d))
        rg_ = gf(*cols)
        for i in range(d):
            g[:, i] = rg_[i]
        return -np.linalg.solve(Gm, g[..., None])[..., 0]

    return vel


def numpy_rk4(vel, X, dt, n):
    x = X.copy()
    for _ in range(n):
        k1 = vel(x)
        k2 = vel(x + 0.5 * dt * k1)
        k3 = vel(x + 0.5 * dt * k2)
        k4 = vel(x + dt * k3)
        x = x + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


def timed_scaled(fn, n_full: int, n_meas: int) -> tuple[float, bool]:
    """Time fn(n_meas) and scale to n_full steps; returns (seconds, scaled?)."""
    n = min(n_full, n_meas)
    t = time.perf_counter()
    fn(n)
    el = time.perf_counter() - t
    return el * n_full / n, n < n_full


def fmt_t(s: float, scaled: bool = False) -> str:
    star = "*" if scaled else ""
    if s < 1e-3:
        return f"{s * 1e6:.0f} us{star}"
    if s < 1:
        return f"{s * 1e3:.1f} ms{star}"
    return f"{s:.2f} s{star}"


# ---------------------------------------------------------------- workloads
def w1(fields, hands, batches, T, dt, quick):
    n = round(T / dt)
    rows = []
    for chart in CHARTS:
        per_traj, soa, _, _, serial, _, _ = hands[chart]
        vel = by_hand_velocity(FISHER[chart], kl(chart), CHARTS[chart].coords)
        for B in batches:
            X = starts(B, chart)
            f = fields[chart]
            solve_flow = rg.solve_flow
            solve_flow(f, X, (0, T), dt=dt)  # compile / load
            rep = 7 if B <= 100 else 2
            per_traj(X[:2], dt, 2), soa(X[:2], dt, 2), serial(X[:2], dt, 2)
            t_rg, t_h2 = best_times([lambda: solve_flow(f, X, (0, T), dt=dt), lambda: soa(X, dt, n)], rep)
            t_h1 = best_time(lambda: per_traj(X, dt, n), rep)
            t_h0 = best_time(lambda: serial(X, dt, n), rep) if B <= 100 else math.inf
            t_hand = min(t_h0, t_h1, t_h2)
            res = solve_flow(f, X, (0, T), dt=dt)
            ref = soa(X, dt, n)[0]
            agree = float(np.abs(res.xs[-1] - ref).max())
            n_meas = 50 if (quick or B >= 10_000) else 500
            t_np, scaled = timed_scaled(lambda k: numpy_rk4(vel, X, dt, k), n, n_meas)
            rows.append(
                f"| {chart} | {B:,} | {fmt_t(t_rg)} | {fmt_t(t_h0) if t_h0 < math.inf else '-'} | {fmt_t(t_h1)} "
                f"| {fmt_t(t_h2)} | {t_rg / t_hand:.2f}x "
                f"| {fmt_t(t_np, scaled)} | {t_np / t_rg:,.0f}x | {agree:.1e} |"
            )
    head = (
        f"### W1: Gaussian natural-gradient flow, RK4, T = {T}, dt = {dt} ({n:,} steps)\n\n"
        "| chart | batch | riemgrad | hand Numba (serial) | hand Numba (per-traj. prange) | hand Numba (SoA prange) "
        "| riemgrad / best hand | by hand (lambdify+NumPy+solve) | by hand / riemgrad | max abs diff vs hand |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    return head + "\n" + "\n".join(rows)


def w1_adaptive(fields, T, quick):
    from scipy.integrate import solve_ivp

    rows = []
    rtol, atol = 1e-8, 1e-10
    for chart in CHARTS:
        f = fields[chart]
        vel = by_hand_velocity(FISHER[chart], kl(chart), CHARTS[chart].coords)
        for B in (1, 100):
            X = starts(B, chart)
            rg.solve_flow(f, X, (0, T), stepper="dopri5", rtol=rtol, atol=atol)
            t_rg = best_time(lambda: rg.solve_flow(f, X, (0, T), stepper="dopri5", rtol=rtol, atol=atol), 5)

            def scipy_all(k):
                for x in X[:k]:
                    solve_ivp(lambda t, y: vel(y[None])[0], (0, T), x, method="RK45", rtol=rtol, atol=atol)

            t_sp, scaled = timed_scaled(scipy_all, B, 3 if quick else 10)
            rows.append(f"| {chart} | {B} | {fmt_t(t_rg)} | {fmt_t(t_sp, scaled)} | {t_sp / t_rg:,.0f}x |")
    head = (
        f"### W1 (adaptive): riemgrad dopri5 vs scipy solve_ivp RK45 per trajectory, rtol={rtol}, atol={atol}\n\n"
        "| chart | batch | riemgrad dopri5 | scipy solve_ivp | scipy / riemgrad |\n|---|---:|---:|---:|---:|"
    )
    return head + "\n" + "\n".join(rows)


def w2(fields, hands, B, steps_list, lr, quick):
    """W2 at the issue's 1,000 steps, and at more steps: the fixed cost of a call (validation,
    statuses, the result, handing work to the second thread: ~0.1 ms) weighs less as the run grows."""
    rows = []
    repeat = 3 if quick else 7
    for steps in steps_list:
        for chart in CHARTS:
            f = fields[chart]
            _, _, hdesc1, hdesc2, _, _, _ = hands[chart]
            X = starts(B, chart)
            vel = by_hand_velocity(FISHER[chart], kl(chart), CHARTS[chart].coords)
            rg.descend(f, X, lr=lr, steps=steps)
            hdesc1(X[:2], lr, 2), hdesc2(X[:2], lr, 2)
            t_rg, t_h2 = best_times(
                [lambda: rg.descend(f, X, lr=lr, steps=steps), lambda: hdesc2(X, lr, steps)], repeat
            )
            t_h1 = best_time(lambda: hdesc1(X, lr, steps), 3)
            t_h = min(t_h1, t_h2)

            def np_desc(k):
                x = X.copy()
                for _ in range(k):
                    x = x + lr * vel(x)

            t_np, scaled = timed_scaled(np_desc, steps, 50 if quick else 200)
            err = float(np.abs(rg.descend(f, X, lr=lr, steps=steps).xs[-1] - hdesc2(X, lr, steps)).max())
            rows.append(
                f"| {chart} | {steps:,} | {fmt_t(t_rg)} | {fmt_t(t_h1)} | {fmt_t(t_h2)} | {t_rg / t_h:.2f}x "
                f"| {fmt_t(t_np, scaled)} | {t_np / t_rg:,.0f}x | {err:.1e} |"
            )
    head = (
        f"### W2: natural-gradient descent, lr = {lr}, batch {B:,}\n\n"
        "| chart | steps | riemgrad | hand Numba (per-traj.) | hand Numba (SoA) | riemgrad / best hand "
        "| by hand (NumPy) | by hand / riemgrad | max diff |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    return head + "\n" + "\n".join(rows)


def one_thread(fields, hands, B, T, dt, steps, lr):
    """Kernel quality without threads: less sensitive to other jobs on a shared machine."""
    n = round(T / dt)
    rows = []
    for chart in CHARTS:
        f = fields[chart]
        *_, soa_1, desc_1 = hands[chart]
        X = starts(B, chart)
        rg.solve_flow(f, X, (0, T), dt=dt, parallel=False)
        soa_1(X[:2], dt, 2), desc_1(X[:2], lr, 2)
        t_rg, t_h = best_times([lambda: rg.solve_flow(f, X, (0, T), dt=dt, parallel=False), lambda: soa_1(X, dt, n)], 1)
        rg.descend(f, X, lr=lr, steps=steps, parallel=False)
        t_rgd, t_hd = best_times(
            [lambda: rg.descend(f, X, lr=lr, steps=steps, parallel=False), lambda: desc_1(X, lr, steps)], 5
        )
        rows.append(
            f"| {chart} | {fmt_t(t_rg)} | {fmt_t(t_h)} | {t_rg / t_h:.2f}x | {fmt_t(t_rgd)} | {fmt_t(t_hd)} "
            f"| {t_rgd / t_hd:.2f}x |"
        )
    head = (
        f"### W1 and W2 on one thread, batch {B:,} (riemgrad parallel=False vs the hand SoA kernel without prange)\n\n"
        "| chart | W1 riemgrad | W1 hand | ratio | W2 riemgrad | W2 hand | ratio |\n|---|---:|---:|---:|---:|---:|---:|"
    )
    return head + "\n" + "\n".join(rows)


def w3(fields, efields, hands, B, T, dt):
    n = round(T / dt)
    saveat = np.linspace(0, T, 6)
    maps = {
        "variance": rg.ChartMap(CHARTS["variance"], CHARTS["sigma"], (mu, sp.sqrt(var))),
        "log_sigma": rg.ChartMap(CHARTS["log_sigma"], CHARTS["sigma"], (mu, sp.exp(tau))),
    }
    X = {c: starts(B, c) for c in CHARTS}

    def run(fs):
        res = {c: rg.solve_flow(fs[c], X[c], (0, T), dt=dt, saveat=saveat) for c in CHARTS}
        return [rg.check_invariance(res["sigma"], res[c], m, tol=1e-8) for c, m in maps.items()]

    run(fields)
    t0 = time.perf_counter()
    reps = run(fields)
    t_rg = time.perf_counter() - t0
    ereps = run(efields)

    def hand():
        out = {c: hands[c][1](X[c], dt, n)[0] for c in CHARTS}
        return max(
            np.abs(out["sigma"][:, 1] - np.sqrt(out["variance"][:, 1])).max(),
            np.abs(out["sigma"][:, 1] - np.exp(out["log_sigma"][:, 1])).max(),
        )

    t0 = time.perf_counter()
    hand()
    t_h = time.perf_counter() - t0
    return (
        f"### W3: invariance check, batch {B:,}, RK4 dt = {dt}, T = {T}, three charts\n\n"
        "| | riemgrad (3 solves + 2 checks) | hand Numba (3 solves, final time only) | ratio "
        "| max error, natural | max error, Euclidean |\n|---|---:|---:|---:|---:|---:|\n"
        f"| W3 | {fmt_t(t_rg)} | {fmt_t(t_h)} | {t_rg / t_h:.2f}x | {max(r.max_error for r in reps):.1e} "
        f"| {max(r.max_error for r in ereps):.2f} |"
    )


def linear_model(d: int):
    th = sp.symbols(f"theta0:{d}", real=True)
    G = sp.Matrix(d, d, lambda i, j: sp.Rational(1, i + j + 1))
    c = sp.Matrix(d, 1, lambda i, _: sp.Rational(1, i + 1) - sp.Rational(2, i + 2) + sp.Rational(3, i + 3))
    k = sp.Rational(23, 15)  # E[(1 - 2x + 3x^2)^2]
    thv = sp.Matrix(th)
    loss = sp.expand((thv.T * G * thv)[0] - 2 * (thv.T * c)[0]) + k
    beta = np.array([float(v) for v in G.LUsolve(c)])
    return rg.Chart("theta", th), G, loss, beta


def w4(dims, B, T, dt, quick):
    n = round(T / dt)
    rows = []
    for d in dims:
        chart, G, loss, beta = linear_model(d)
        metric = rg.Metric(chart, G)
        X = np.random.default_rng(0).normal(size=(B, d))
        exact_end = (X - beta) * math.exp(-2 * T) + beta
        scale = np.abs(exact_end).max()
        t0 = time.perf_counter()
        fe = rg.compile_flow(metric, loss)
        t_derive = time.perf_counter() - t0
        rg.solve_flow(fe, X, (0, T), dt=dt)
        t_rg = best_time(lambda: rg.solve_flow(fe, X, (0, T), dt=dt), 3)
        err_rg = np.abs(rg.solve_flow(fe, X, (0, T), dt=dt).xs[-1] - exact_end).max() / scale
        fc = rg.compile_flow(metric, loss, strategy="cholesky")
        rc = rg.solve_flow(fc, X, (0, T), dt=dt)
        ok = rc.status == 0
        err_ch = np.abs(rc.xs[-1][ok] - exact_end[ok]).max() / scale if ok.any() else np.inf
        vel = by_hand_velocity(G, loss, chart.coords)
        n_meas = n if not quick else min(n, 100)
        t_np, scaled = timed_scaled(lambda k: numpy_rk4(vel, X, dt, k), n, n_meas)
        with np.errstate(all="ignore"):
            xe = numpy_rk4(vel, X, dt, n) if not scaled else None
        err_np = np.abs(xe - exact_end).max() / scale if xe is not None else float("nan")
        rows.append(
            f"| {d} | {np.linalg.cond(np.array(G, dtype=float)):.0e} | {err_rg:.1e} | {fmt_t(t_rg)} "
            f"| {t_derive:.2f} s | {err_ch:.1e} ({int(ok.sum())}/{B} ok) | {err_np:.1e} | {fmt_t(t_np, scaled)} |"
        )
    head = (
        f"### W4: linear model, monomial basis, function-space metric, RK4 T = {T}, dt = {dt}, batch {B}\n\n"
        "Relative error at T against theta(T) = (theta0 - beta) e^{-2T} + beta.\n\n"
        "| d | cond(G) | riemgrad (exact) | riemgrad time | compile_flow | riemgrad cholesky (normal eq.) "
        "| by hand np.linalg.solve | by hand time |\n|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    return head + "\n" + "\n".join(rows)


_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np, sympy as sp
sys.path.insert(0, {root!r})
import riemgrad as rg
t_import = time.perf_counter() - t0
mu = sp.Symbol("mu", real=True); s = sp.Symbol("sigma", positive=True)
g = rg.Metric(rg.Chart("sigma", (mu, s)), sp.diag(1 / s**2, {two} / s**2))
loss = sp.log(s / 2) + (4 + (1 - mu) ** 2) / (2 * s**2) - sp.Rational(1, 2)
t1 = time.perf_counter()
f = rg.compile_flow(g, loss)
t2 = time.perf_counter()
rg.solve_flow(f, [0.0, 1.0], (0, 5), dt=1e-3)
t3 = time.perf_counter()
rg.solve_flow(f, np.ones((10000, 2)), (0, 0.01), dt=1e-3)
t4 = time.perf_counter()
ts = []
for _ in range(20):
    a = time.perf_counter(); rg.solve_flow(f, [0.0, 1.0], (0, 5), dt=1e-3); ts.append(time.perf_counter() - a)
print(json.dumps(dict(imp=t_import, derive=t2 - t1, small=t3 - t2, large=t4 - t3, batch1=min(ts))))
"""


def compile_times():
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, RIEMGRAD_CACHE_DIR=tmp)
        # a metric no other run has seen (the factor), so the first process really compiles
        code = _CHILD.format(root=str(HERE.parent), two=f"sp.Rational({int(time.time()) % 1000 + 2000}, 1000)")
        out = []
        for _ in range(2):
            r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            out.append(json.loads(r.stdout.strip().splitlines()[-1]))
    new, again = out
    return (
        "### Compilation and the disk cache (fresh cache directory, two processes)\n\n"
        "| | import riemgrad | compile_flow (SymPy) | first solve, batch 1 (RK4 kernel) "
        "| first solve, batch 10,000 (chunk kernel) | total | 5,000 RK4 steps, batch 1 |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n"
        + "\n".join(
            f"| {name} | {fmt_t(r['imp'])} | {fmt_t(r['derive'])} | {fmt_t(r['small'])} | {fmt_t(r['large'])} "
            f"| {fmt_t(r['derive'] + r['small'] + r['large'])} | {fmt_t(r['batch1'])} |"
            for name, r in (
                ("new field, new process (compiles)", new),
                ("same field, next process (disk cache)", again),
            )
        )
    )


def geodesics(B, quick):
    """G1: exp_map and distance on the Poincare half-plane against scipy and the closed form."""
    from scipy.integrate import solve_ivp

    x, y = sp.Symbol("x", real=True), sp.Symbol("y", positive=True)
    H = rg.Metric(rg.Chart("half_plane", (x, y)), sp.diag(1 / y**2, 1 / y**2))
    rng = np.random.default_rng(0)
    a = np.column_stack([rng.uniform(-2, 2, B), rng.uniform(0.3, 3, B)])
    b = np.column_stack([rng.uniform(-2, 2, B), rng.uniform(0.3, 3, B)])
    v = rng.normal(size=(B, 2))
    t0 = time.perf_counter()
    rg.exp_map(H, a[:2], v[:2])
    t_first = time.perf_counter() - t0
    t_exp = best_time(lambda: rg.exp_map(H, a, v), 3)
    end = rg.exp_map(H, a, v)

    def rhs(t, s):
        return [s[2], s[3], 2 * s[2] * s[3] / s[1], (s[3] ** 2 - s[2] ** 2) / s[1]]

    n_sc = 20 if quick else 100
    t0 = time.perf_counter()
    ref = np.array([solve_ivp(rhs, (0, 1), [*a[i], *v[i]], rtol=1e-10, atol=1e-12).y[:2, -1] for i in range(n_sc)])
    t_sc = (time.perf_counter() - t0) * B / n_sc
    t0 = time.perf_counter()
    rg.distance(H, a[:2], b[:2])
    t_dfirst = time.perf_counter() - t0
    t_d = best_time(lambda: rg.distance(H, a, b), 1)
    closed = np.arccosh(1 + np.sum((a - b) ** 2, axis=1) / (2 * a[:, 1] * b[:, 1]))
    err = float(np.abs(rg.distance(H, a, b) - closed).max())
    return (
        f"### G1: geodesics on the Poincare half-plane, {B:,} points (adaptive dopri5, rtol 1e-10)\n\n"
        "| | riemgrad | baseline | baseline / riemgrad | accuracy |\n|---|---:|---:|---:|---:|\n"
        f"| exp_map | {fmt_t(t_exp)} (first call {fmt_t(t_first)}) | scipy solve_ivp per point: {fmt_t(t_sc, True)} "
        f"| {t_sc / t_exp:,.0f}x | max diff {np.abs(ref - end[:n_sc]).max():.1e} |\n"
        f"| distance (log_map by shooting) | {fmt_t(t_d)} (first call {fmt_t(t_dfirst)}) | closed form arccosh(...) "
        f"| - | max error {err:.1e} |"
    )


def jax_note():
    try:
        import jax  # noqa: F401
    except ImportError:
        return "JAX: not installed (optional extra); skipped."
    return "JAX: installed but no JAX workload is implemented in this script yet."


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller batches and fewer steps (a smoke run)")
    args = ap.parse_args(argv)
    quick = args.quick
    import numba

    print(f"# riemgrad flow benchmarks{' (quick)' if quick else ''}\n")
    print(
        f"numpy {np.__version__}, sympy {sp.__version__}, numba {numba.__version__}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start\n"
    )
    T, dt = (0.5, 1e-3) if quick else (5.0, 1e-3)
    batches = (1, 100, 1000) if quick else (1, 100, 10_000)
    fields = {c: rg.compile_flow(rg.Metric(CHARTS[c], FISHER[c]), kl(c)) for c in CHARTS}
    efields = {c: rg.compile_flow(rg.euclidean_metric(CHARTS[c]), kl(c)) for c in CHARTS}
    hands = hand_kernels()
    sections = [
        compile_times,
        lambda: w1(fields, hands, batches, T, dt, quick),
        lambda: w1_adaptive(fields, T, quick),
        lambda: w2(fields, hands, 1000 if quick else 10_000, (100,) if quick else (1000, 10_000), 0.1, quick),
        lambda: one_thread(fields, hands, 1000 if quick else 10_000, T, dt, 100 if quick else 1000, 0.1),
        lambda: w3(fields, efields, hands, 1000 if quick else 10_000, T, dt),
        lambda: w4((2, 8, 16) if quick else (2, 4, 8, 12, 16, 24, 32), 100, 1.0, 1e-3, quick),
        lambda: geodesics(200 if quick else 1000, quick),
        jax_note,
        lambda: "`*` timed over fewer steps (or trajectories) and scaled linearly.",
    ]
    for section in sections:
        print(section() + "\n", flush=True)


if __name__ == "__main__":
    main()
