# ruff: noqa: B023  (closures over loop variables are called inside the same iteration)
"""Vectorizable elementary functions in generated kernels: side by side with ``math`` (issue 12).

One command, every kernel of a comparison timed in the same alternating loop::

    python benchmarks/bench_simd.py            # W1 at 10,000 x 5,000 RK4 steps (minutes: six fields compile)
    python benchmarks/bench_simd.py --quick    # a smoke run

Rows:

- W1 (bench_flows.py's workload: the Gaussian natural-gradient flow, RK4, dt = 1e-3, 5,000 steps,
  batch 10,000): riemgrad in the sigma chart (no transcendental function), in the log-sigma chart
  with ``vectorized_math=True`` (``vexp``) and ``False`` (``math.exp``), and the hand-written
  ``math.exp`` Numba kernel of bench_flows.py (structure-of-arrays chunks under prange).
- Geodesics on the unit sphere (``diag(1, sin(theta)**2)``: ``sin``/``cos`` in the right-hand side),
  batch 10,000, RK4, 1,000 steps of 1e-3, with and without vectorized math. ``sin``/``cos`` now keep
  ``math`` (``vsin``/``vcos`` measured 0.75x), so both are the same module: a control of the timing noise.
- A tanh model's flow: the Euclidean gradient flow of ``sum_i (tanh(w x_i + c) - y_i)**2`` over 8 fixed
  points, batch 10,000, RK4, 1,000 steps of 1e-3, with and without.

Each pair also reports the largest difference of the end states (relative to their magnitude).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import sympy as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_flows import CHARTS, FISHER, best_times, hand_kernels, kl, starts  # noqa: E402

import riemgrad as rg  # noqa: E402


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|b|, 1e-300), over finite entries."""
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def sphere_metric() -> rg.Metric:
    th, ph = sp.symbols("theta phi", real=True)
    return rg.Metric(rg.Chart("sphere", (th, ph)), sp.diag(1, sp.sin(th) ** 2))


def tanh_model() -> tuple[rg.Metric, sp.Expr]:
    w, c = sp.symbols("w c", real=True)
    xs = np.linspace(-1.5, 1.5, 8)
    ys = np.tanh(1.3 * xs - 0.2)
    loss = sum((sp.tanh(w * sp.Float(x) + c) - sp.Float(y)) ** 2 for x, y in zip(xs, ys))
    return rg.euclidean_metric(rg.Chart("wc", (w, c))), loss


def w1(B: int, n: int, rounds: int) -> list[str]:
    dt = 1e-3
    T = n * dt
    sig = rg.compile_flow(rg.Metric(CHARTS["sigma"], FISHER["sigma"]), kl("sigma"))
    ls_on = rg.compile_flow(rg.Metric(CHARTS["log_sigma"], FISHER["log_sigma"]), kl("log_sigma"), vectorized_math=True)
    ls_off = rg.compile_flow(
        rg.Metric(CHARTS["log_sigma"], FISHER["log_sigma"]), kl("log_sigma"), vectorized_math=False
    )
    soa = hand_kernels()["log_sigma"][1]
    Xs, Xl = starts(B, "sigma"), starts(B, "log_sigma")
    fns = [
        lambda: rg.solve_flow(sig, Xs, (0, T), dt=dt),
        lambda: rg.solve_flow(ls_on, Xl, (0, T), dt=dt),
        lambda: rg.solve_flow(ls_off, Xl, (0, T), dt=dt),
        lambda: soa(Xl, dt, n),
    ]
    for f in fns:  # compile
        f()
    t = best_times(fns, 1, rounds)
    on, off = rg.solve_flow(ls_on, Xl, (0, T), dt=dt), rg.solve_flow(ls_off, Xl, (0, T), dt=dt)
    assert (on.status == off.status).all()
    d = rel_diff(on.xs[-1], off.xs[-1])
    return [
        f"### W1: Gaussian natural-gradient flow, RK4, {n:,} steps, batch {B:,}\n",
        "| kernel | time | / sigma chart | hand math.exp / this |",
        "|---|---:|---:|---:|",
        f"| riemgrad, sigma chart | {t[0] * 1e3:.1f} ms | 1.00 | {t[3] / t[0]:.2f} |",
        f"| riemgrad, log-sigma, vectorized_math=True (vexp) | {t[1] * 1e3:.1f} ms | {t[1] / t[0]:.2f} "
        f"| {t[3] / t[1]:.2f} |",
        f"| riemgrad, log-sigma, vectorized_math=False (math.exp) | {t[2] * 1e3:.1f} ms | {t[2] / t[0]:.2f} "
        f"| {t[3] / t[2]:.2f} |",
        f"| hand Numba, log-sigma, math.exp (bench_flows.py SoA) | {t[3] * 1e3:.1f} ms | {t[3] / t[0]:.2f} | 1.00 |",
        "",
        f"log-sigma: math.exp / vexp = {t[2] / t[1]:.2f}x; end states differ by at most {d:.1e} (relative); "
        "statuses equal.",
    ]


def pair(title: str, make, X: np.ndarray, n: int, rounds: int) -> list[str]:
    dt = 1e-3
    on, off = make(True), make(False)
    fns = [lambda: rg.solve_flow(on, X, (0, n * dt), dt=dt), lambda: rg.solve_flow(off, X, (0, n * dt), dt=dt)]
    for f in fns:
        f()
    t = best_times(fns, 1, rounds)
    a, b = fns[0](), fns[1]()
    assert (a.status == b.status).all()
    d = rel_diff(a.xs[-1], b.xs[-1])
    return [
        f"| {title} | {t[0] * 1e3:.1f} ms | {t[1] * 1e3:.1f} ms | {t[1] / t[0]:.2f}x | {d:.1e} |",
    ]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="batch 1,000 and 500 steps")
    args = ap.parse_args(argv)
    import numba

    B, n, rounds = (1000, 500, 3) if args.quick else (10_000, 5000, 5)
    print(f"# Vectorized elementary functions{' (quick)' if args.quick else ''}\n")
    print(
        f"numba {numba.__version__}, {os.cpu_count()} cores, {numba.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.1f} at start\n"
    )
    t0 = time.perf_counter()
    print("\n".join(w1(B, n, rounds)) + "\n", flush=True)
    rng = np.random.default_rng(0)
    ng = n // 5
    sphere = sphere_metric()
    Xg = np.column_stack([rng.uniform(0.3, 2.8, B), rng.uniform(-3, 3, B), rng.normal(size=B), rng.normal(size=B)])
    model_metric, model_loss = tanh_model()
    Xm = np.column_stack([rng.uniform(-2, 2, B), rng.uniform(-1, 1, B)])
    rows = [
        f"### sin/cos and tanh: RK4, {ng:,} steps, batch {B:,}\n",
        "| flow | vectorized_math=True | False | False / True | max relative diff of end states |",
        "|---|---:|---:|---:|---:|",
    ]
    rows += pair(
        "geodesics on the sphere (sin, cos)",
        lambda v: rg.kernels.geodesic_field(sphere, vectorized_math=v),
        Xg,
        ng,
        rounds,
    )
    rows += pair(
        "tanh model, 8 points (tanh)",
        lambda v: rg.compile_flow(model_metric, model_loss, vectorized_math=v),
        Xm,
        ng,
        rounds,
    )
    print("\n".join(rows) + "\n")
    print(f"(whole run {time.perf_counter() - t0:.0f} s, load average {os.getloadavg()[0]:.1f} at the end)")


if __name__ == "__main__":
    main()
