# ruff: noqa: B023  (closures over loop variables are called inside the same iteration)
"""Vectorizable elementary functions in generated kernels: side by side with ``math`` (issue 12).

One command, every kernel of a comparison timed in the same alternating loop::

    python benchmarks/bench_simd.py            # W1 at 10,000 x 5,000 RK4 steps (minutes: six fields compile)
    python benchmarks/bench_simd.py --quick    # a smoke run
    python benchmarks/bench_simd.py --w1-only  # the W1 table only
    python benchmarks/bench_simd.py --micro    # vexp and vtanh alone over 1e6 doubles against math and NumPy

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

The W1 table also gives the fraction of the machine's measured flop bound each chart reaches:
the bound is a Numba kernel of 8 independent FMA chains per element over an L1-resident
array (vectorized: 64 ``vfmadd`` on ymm per 4 elements), on all threads, timed in the same
alternating loop; a W1 kernel's flops are counted from its generated source (every ``+ - * /``
of the RK4 stage loops and of the right-hand side, an FMA as two, ``vexp`` as the 39 of its
source text; integer and select operations not counted) times batch x steps.
"""

from __future__ import annotations

import argparse
import ast
import math
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


#: Floating-point operations in one call of the vectorizable functions, counted by hand from their
#: source text (riemgrad/kernels/_elementary_explog.py: the reduction 7, r**2/r**4/r**8 3, the
#: polynomial 20, t 2, Fast2Sum 5, the scaling 2); integer bit operations and selects not counted.
CALL_FLOPS = {"vexp": 39}


def _flops(node: ast.AST, calls: dict[str, int]) -> int:
    """``+ - * /`` in ``node`` (not between two constants) plus ``calls[name]`` per call of ``name``."""
    n = 0
    for sub in ast.walk(node):
        if isinstance(sub, ast.BinOp) and isinstance(sub.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            if not (isinstance(sub.left, ast.Constant) and isinstance(sub.right, ast.Constant)):
                n += 1
        elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in calls:
            n += calls[sub.func.id]
    return n


def rk4_flops_per_step(source: str) -> int:
    """Flops of one RK4 step of one trajectory in a generated module's chunk loop (``_rk4_range``).

    Counts the right-hand side ``_velc`` (or ``_vels`` where ``_velc`` is an alias of it) with
    :data:`CALL_FLOPS` for its function calls, and the stage loops of ``_rk4_range`` (the body of
    its first ``for n in range(n0, n1)``) with one right-hand side per ``_velc`` call.
    """
    tree = ast.parse(source)
    defs = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    rhs = _flops(defs["_velc"] if "_velc" in defs else defs["_vels"], CALL_FLOPS)
    loop = next(
        n
        for n in ast.walk(defs["_rk4_range"])
        if isinstance(n, ast.For) and isinstance(n.iter, ast.Call) and ast.unparse(n.iter) == "range(n0, n1)"
    )
    return _flops(ast.Module(body=loop.body, type_ignores=[]), {**CALL_FLOPS, "_velc": rhs})


def flop_bound_kernel():
    """A Numba kernel at the machine's FMA limit.

    Returns ``kernel(x, out, reps)`` and its flops per element of ``x``, rep and thread.
    """
    from numba import njit, prange

    chains, depth = 8, 8  # independent FMA chains per element: enough to cover the FMA latency
    lines = ["def peak(x, out, reps):", "    for t in prange(out.shape[0]):", "        for r in range(reps):"]
    lines += ["            for i in range(x.shape[0]):", "                v = x[i]"]
    lines += [f"                a{c} = v * {0.5 + 0.01 * c} + {0.1 * c}" for c in range(chains)]
    for d in range(depth - 1):
        lines += [f"                a{c} = a{c} * v + {0.3 + 0.001 * (c + d)}" for c in range(chains)]
    lines.append("                out[t, i] = " + " + ".join(f"a{c}" for c in range(chains)))
    ns = {"prange": prange}
    exec("\n".join(lines), ns)  # noqa: S102 (text generated just above)
    kernel = njit(parallel=True, fastmath={"contract", "arcp"}, error_model="numpy")(ns["peak"])
    per_element = chains * depth * 2 + chains - 1
    return kernel, per_element


def micro(rounds: int) -> list[str]:
    """``out[i] = f(x[i])`` over 1e6 doubles (U(-10, 10)) in one @njit loop (one thread, the chunk
    loops' fast-math flags), for vexp/vtanh, ``math`` in the same loop and NumPy's ufuncs."""
    from numba import njit

    from riemgrad.kernels import elementary as el
    from riemgrad.kernels.abi import FASTMATH_FLAGS

    def make(f):
        @njit(fastmath=set(FASTMATH_FLAGS), error_model="numpy", nogil=True)
        def loop(x, out):
            for i in range(x.shape[0]):
                out[i] = f(x[i])

        return loop

    x = np.random.default_rng(1).uniform(-10.0, 10.0, 1_000_000)
    out = np.empty_like(x)
    cases = [
        ("exp", make(el.vexp), make(math.exp), lambda a, o: np.exp(a, out=o)),
        ("tanh", make(el.vtanh), make(math.tanh), lambda a, o: np.tanh(a, out=o)),
    ]
    rows = [
        "### One function over 1e6 doubles U(-10, 10), one thread\n",
        "| function | riemgrad v-function | `math` in @njit | NumPy ufunc | math / v | NumPy / v |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, v, m, u in cases:
        fns = [lambda v=v: v(x, out), lambda m=m: m(x, out), lambda u=u: u(x, out)]
        for f in fns:
            f()
        t = best_times(fns, 3, rounds)
        rows.append(
            f"| {name} | {t[0] * 1e3:.2f} ms | {t[1] * 1e3:.2f} ms | {t[2] * 1e3:.2f} ms "
            f"| {t[1] / t[0]:.2f} | {t[2] / t[0]:.2f} |"
        )
    return rows


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
    import numba

    dt = 1e-3
    T = n * dt
    sig = rg.compile_flow(rg.Metric(CHARTS["sigma"], FISHER["sigma"]), kl("sigma"))
    var = rg.compile_flow(rg.Metric(CHARTS["variance"], FISHER["variance"]), kl("variance"))
    ls_on = rg.compile_flow(rg.Metric(CHARTS["log_sigma"], FISHER["log_sigma"]), kl("log_sigma"), vectorized_math=True)
    ls_off = rg.compile_flow(
        rg.Metric(CHARTS["log_sigma"], FISHER["log_sigma"]), kl("log_sigma"), vectorized_math=False
    )
    soa = hand_kernels()["log_sigma"][1]
    Xs, Xv, Xl = starts(B, "sigma"), starts(B, "variance"), starts(B, "log_sigma")
    peak, per_element = flop_bound_kernel()
    threads = numba.get_num_threads()
    xp, outp = np.random.default_rng(0).uniform(0.5, 0.9, 512), np.empty((threads, 512))
    # about the flops of a sigma-chart run (64 per step), so that both runs are as long: under a shared
    # machine's load, a long run averages over the busy phases which the best of short runs skips
    reps = max(1, round(64 * B * n / (per_element * 512 * threads)))
    fns = [
        lambda: rg.solve_flow(sig, Xs, (0, T), dt=dt),
        lambda: rg.solve_flow(ls_on, Xl, (0, T), dt=dt),
        lambda: rg.solve_flow(ls_off, Xl, (0, T), dt=dt),
        lambda: soa(Xl, dt, n),
        lambda: rg.solve_flow(var, Xv, (0, T), dt=dt),
        lambda: peak(xp, outp, reps),
    ]
    for f in fns:  # compile
        f()
    t = best_times(fns, 1, rounds)
    on, off = rg.solve_flow(ls_on, Xl, (0, T), dt=dt), rg.solve_flow(ls_off, Xl, (0, T), dt=dt)
    assert (on.status == off.status).all()
    d = rel_diff(on.xs[-1], off.xs[-1])
    bound = per_element * 512 * reps * threads / t[5]
    fl = {"sigma": rk4_flops_per_step(sig.source), "variance": rk4_flops_per_step(var.source)}
    fl["log_sigma"] = rk4_flops_per_step(ls_on.source)

    def frac(chart: str, ti: float) -> str:
        return f"{fl[chart]} | {fl[chart] * B * n / ti / bound:.0%}"

    return [
        f"### W1: Gaussian natural-gradient flow, RK4, {n:,} steps, batch {B:,}\n",
        "| kernel | time | / sigma chart | hand math.exp / this | flops per step | of the flop bound |",
        "|---|---:|---:|---:|---:|---:|",
        f"| riemgrad, sigma chart | {t[0] * 1e3:.1f} ms | 1.00 | {t[3] / t[0]:.2f} | {frac('sigma', t[0])} |",
        f"| riemgrad, variance chart | {t[4] * 1e3:.1f} ms | {t[4] / t[0]:.2f} | {t[3] / t[4]:.2f} "
        f"| {frac('variance', t[4])} |",
        f"| riemgrad, log-sigma, vectorized_math=True (vexp) | {t[1] * 1e3:.1f} ms | {t[1] / t[0]:.2f} "
        f"| {t[3] / t[1]:.2f} | {frac('log_sigma', t[1])} |",
        f"| riemgrad, log-sigma, vectorized_math=False (math.exp) | {t[2] * 1e3:.1f} ms | {t[2] / t[0]:.2f} "
        f"| {t[3] / t[2]:.2f} | {frac('log_sigma', t[2])} (exp counted as vexp's) |",
        f"| hand Numba, log-sigma, math.exp (bench_flows.py SoA) | {t[3] * 1e3:.1f} ms | {t[3] / t[0]:.2f} | 1.00 "
        f"| {frac('log_sigma', t[3])} (likewise) |",
        "",
        f"log-sigma: math.exp / vexp = {t[2] / t[1]:.2f}x; end states differ by at most {d:.1e} (relative); "
        f"statuses equal. Flop bound (measured in the same loop, {threads} threads, FMA chains on ymm): "
        f"{bound / 1e9:.1f} GFLOP/s.",
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
    ap.add_argument("--w1-only", action="store_true", help="only the W1 table (three charts and the flop bound)")
    ap.add_argument("--micro", action="store_true", help="only the one-function loops (vexp, vtanh vs math, NumPy)")
    args = ap.parse_args(argv)
    import numba

    B, n, rounds = (1000, 500, 3) if args.quick else (10_000, 5000, 5)
    print(f"# Vectorized elementary functions{' (quick)' if args.quick else ''}\n")
    print(
        f"numba {numba.__version__}, {os.cpu_count()} cores, {numba.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.1f} at start\n"
    )
    t0 = time.perf_counter()
    if args.micro:
        print("\n".join(micro(max(rounds, 7))) + "\n")
        return
    print("\n".join(w1(B, n, rounds)) + "\n", flush=True)
    if args.w1_only:
        return
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
