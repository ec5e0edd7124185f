# ruff: noqa: B023  (closures over loop variables are called inside the same iteration)
"""Speed of the vectorizable elementary functions, and which fast-math flags pay (issue 12).

One command::

    python benchmarks/bench_elementary.py           # about two minutes
    python benchmarks/bench_elementary.py --quick   # smaller sizes
    NUMBA_NUM_THREADS=1 python benchmarks/bench_elementary.py --tables w1 --batch 2000 --rounds 5

Tables:

1. Per function, a loop ``out[i] = f(x[i])`` over 10**6 doubles in one thread: ``math.f`` in
   ``@njit``, riemgrad's ``vf`` in ``@njit``, and NumPy's ufunc; ratios against ``math``.
2. The hand-written W1 kernel of ``benchmarks/bench_flows.py`` (Gaussian natural-gradient
   flow, sigma chart, RK4, structure-of-arrays chunks of 512 under ``prange``; batch 10,000 x
   5,000 steps) compiled with no fast-math, ``{'contract'}``, ``{'contract', 'arcp'}``,
   ``{'contract', 'arcp', 'reassoc', 'nsz'}``, ``{'contract', 'arcp', 'afn'}`` and
   ``fastmath=True``; for each: time, ratio against no fast-math, largest relative difference
   from the no-fast-math result, bitwise reproducibility run to run, and whether the
   NaN/inf checks behind the statuses (``x != x``, ``math.isfinite``, ``not (s > 0)``) still
   see a NaN, an inf and a start outside the domain.
3. W1 in the log-sigma chart (one ``exp`` per evaluation) with ``math.exp`` and with
   ``vexp``, and the sigma chart alongside (the issue's goal: log-sigma within 1.5x of sigma).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from numba import njit, prange  # noqa: E402

from _hand_rk4 import chunked_rk4  # noqa: E402

from riemgrad.kernels import elementary as el  # noqa: E402

FUNCS = {
    # name: (math function, riemgrad function, numpy ufunc, sampler)
    "exp": (math.exp, el.vexp, np.exp, lambda r, n: r.uniform(-10.0, 10.0, n)),
    "expm1": (math.expm1, el.vexpm1, np.expm1, lambda r, n: r.uniform(-1.0, 1.0, n)),
    "log": (math.log, el.vlog, np.log, lambda r, n: np.exp(r.uniform(-10.0, 10.0, n))),
    "log1p": (math.log1p, el.vlog1p, np.log1p, lambda r, n: r.uniform(-0.5, 10.0, n)),
    "sin": (math.sin, el.vsin, np.sin, lambda r, n: r.uniform(-10.0, 10.0, n)),
    "sin_bounded": (math.sin, el.vsin_bounded, np.sin, lambda r, n: r.uniform(-10.0, 10.0, n)),
    "cos": (math.cos, el.vcos, np.cos, lambda r, n: r.uniform(-10.0, 10.0, n)),
    "cos_bounded": (math.cos, el.vcos_bounded, np.cos, lambda r, n: r.uniform(-10.0, 10.0, n)),
    "tanh": (math.tanh, el.vtanh, np.tanh, lambda r, n: r.uniform(-5.0, 5.0, n)),
}

FLAG_SETS = {
    "none": False,
    "contract": {"contract"},
    "contract+arcp": {"contract", "arcp"},
    "contract+arcp+reassoc+nsz": {"contract", "arcp", "reassoc", "nsz"},
    "contract+arcp+afn": {"contract", "arcp", "afn"},
    "fastmath=True": True,
}


def best_times(fns, repeat: int, rounds: int = 3) -> list[float]:
    """Best time of each function over ``rounds`` alternating blocks of ``repeat`` calls.

    The machine's cores are shared: alternating blocks give each side of a comparison
    several chances to meet a quiet phase (as in bench_flows.py).
    """
    best = [math.inf] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            time.sleep(0.02)
            for _ in range(repeat):
                t = time.perf_counter()
                fn()
                best[i] = min(best[i], time.perf_counter() - t)
    return best


def elementwise_loop(f):
    @njit(error_model="numpy")
    def loop(x, out):
        for i in range(x.shape[0]):
            out[i] = f(x[i])

    return loop


def table_functions(n: int, repeat: int) -> None:
    print(f"\n### Elementary functions: loop over {n:,} doubles, one thread (best of {3 * repeat})\n")
    print("| function | math.f in @njit | riemgrad vf in @njit | NumPy ufunc | math / vf | NumPy / vf |")
    print("|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for name, (mf, vf, uf, draw) in FUNCS.items():
        x = draw(rng, n)
        out = np.empty_like(x)
        lm, lv = elementwise_loop(mf), elementwise_loop(vf)
        lm(x, out)
        lv(x, out)
        tm, tv, tu = best_times([lambda: lm(x, out), lambda: lv(x, out), lambda: uf(x, out=out)], repeat)
        print(f"| {name} | {tm * 1e3:.2f} ms | {tv * 1e3:.2f} ms | {tu * 1e3:.2f} ms | {tm / tv:.2f} | {tu / tv:.2f} |")


# --------------------------------------------------------------- W1 hand kernels
def make_w1(kind: str, fastmath):
    """The chunked (structure-of-arrays) hand kernel of bench_flows.py with a status per trajectory.

    ``kind``: "sigma", "log_sigma_math" (math.exp) or "log_sigma_v" (riemgrad's vexp). The
    status is 1 if the state left the domain (sigma <= 0, or NaN, in the sigma chart), 2 if
    it is not finite, as riemgrad's statuses; written with the checks fast-math may break.
    """
    opts = {"inline": "always", "error_model": "numpy", "fastmath": fastmath}
    if kind == "sigma":

        @njit(**opts)
        def vf(m, s):
            S = 4.0 + (1.0 - m) * (1.0 - m)
            return 1.0 - m, (S - s * s) / (2.0 * s)

    elif kind == "log_sigma_math":

        @njit(**opts)
        def vf(m, t):
            S = 4.0 + (1.0 - m) * (1.0 - m)
            return 1.0 - m, 0.5 * (S * math.exp(-2.0 * t) - 1.0)

    else:
        vexp = el.vexp

        @njit(**opts)
        def vf(m, t):
            S = 4.0 + (1.0 - m) * (1.0 - m)
            return 1.0 - m, 0.5 * (S * vexp(-2.0 * t) - 1.0)

    return chunked_rk4(vf, fastmath=fastmath, check_domain=kind == "sigma")


def probe_flags(fastmath):
    """Do the status checks still see NaN and inf when compiled with these flags?"""

    @njit(fastmath=fastmath)
    def probe(x):
        return x != x, math.isfinite(x), math.isnan(x), not (x > 0.0)

    nan_ok = probe(math.nan) == (True, False, True, True)
    inf_ok = probe(math.inf) == (False, False, False, False)
    neg_ok = probe(-1.0) == (False, True, False, True)
    return nan_ok and inf_ok and neg_ok


def starts(batch: int, chart: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    m = rng.uniform(-2, 3, batch)
    s = rng.uniform(0.4, 3.0, batch)
    return np.column_stack([m, s if chart == "sigma" else np.log(s)])


def table_w1(batch: int, steps: int, repeat: int, rounds: int) -> None:
    """Both W1 tables from one alternating timing loop over every kernel (fair under load)."""
    dt = 1e-3
    Xs, Xl = starts(batch, "sigma"), starts(batch, "log_sigma")
    # statuses: a NaN start, an inf start and one outside the domain, at the end of the batch
    Xbad = Xs.copy()
    Xbad[-3] = (math.nan, 1.0)
    Xbad[-2] = (math.inf, 1.0)
    Xbad[-1] = (0.5, -1.0)
    runs = {}
    for label, fm in FLAG_SETS.items():
        runs[("sigma", label)] = (make_w1("sigma", fm), Xs)
    for label in ("none", "contract", "contract+arcp"):
        runs[("log_sigma_math", label)] = (make_w1("log_sigma_math", FLAG_SETS[label]), Xl)
        runs[("log_sigma_v", label)] = (make_w1("log_sigma_v", FLAG_SETS[label]), Xl)
    for k, X in runs.values():
        k(X[:8], dt, 2)
    fns = [lambda k=k, X=X: k(X, dt, steps) for k, X in runs.values()]
    t = dict(zip(runs, best_times(fns, repeat, rounds)))

    print(f"\n### W1 hand kernel, sigma chart, batch {batch:,} x {steps:,} RK4 steps (best of {rounds * repeat})\n")
    print(
        "| fast-math flags | time | none / this | max rel. diff from none | bitwise run to run "
        "| statuses (NaN, inf, outside) | x != x, isfinite, isnan see NaN/inf |"
    )
    print("|---|---|---|---|---|---|---|")
    ref, _ = runs[("sigma", "none")][0](Xs, dt, steps)
    for label in FLAG_SETS:
        k = runs[("sigma", label)][0]
        out1, _ = k(Xs, dt, steps)
        out2, _ = k(Xs, dt, steps)
        rel = float(np.max(np.abs(out1 - ref) / np.abs(ref)))
        _, st = k(Xbad, dt, 50)
        statuses = tuple(int(v) for v in st[-3:])
        ok = statuses == (2, 2, 1) and not st[:-3].any()
        tt = t[("sigma", label)]
        print(
            f"| {label} | {tt * 1e3:.1f} ms | {t[('sigma', 'none')] / tt:.2f} | {rel:.1e} "
            f"| {np.array_equal(out1, out2)} | {statuses} {'ok' if ok else 'BROKEN'} | {probe_flags(FLAG_SETS[label])} |"
        )

    print(f"\n### W1 hand kernel, log-sigma chart: math.exp against vexp, batch {batch:,} x {steps:,} RK4 steps\n")
    print("| fast-math | sigma chart | log-sigma, math.exp | log-sigma, vexp | math.exp / vexp | vexp / sigma | max rel. diff vexp vs math.exp |")
    print("|---|---|---|---|---|---|---|")
    for label in ("none", "contract", "contract+arcp"):
        ts, tm, tv = t[("sigma", label)], t[("log_sigma_math", label)], t[("log_sigma_v", label)]
        om, _ = runs[("log_sigma_math", label)][0](Xl, dt, steps)
        ov, _ = runs[("log_sigma_v", label)][0](Xl, dt, steps)
        rel = float(np.max(np.abs(ov - om) / np.maximum(np.abs(om), 1e-300)))
        print(
            f"| {label} | {ts * 1e3:.1f} ms | {tm * 1e3:.1f} ms | {tv * 1e3:.1f} ms | {tm / tv:.2f} | {tv / ts:.2f} | {rel:.1e} |"
        )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--batch", type=int, default=None, help="W1 batch (default 10,000)")
    p.add_argument("--steps", type=int, default=None, help="W1 RK4 steps (default 5,000)")
    p.add_argument("--tables", default="functions,w1", help="comma-separated subset of functions,w1")
    p.add_argument("--rounds", type=int, default=3, help="alternating timing rounds for W1")
    a = p.parse_args(argv)
    n, batch, steps, repeat = (10**5, 2000, 1000, 2) if a.quick else (10**6, 10_000, 5_000, 3)
    batch = a.batch or batch
    steps = a.steps or steps
    tables = a.tables.split(",")
    import numba

    print(f"numba {numba.__version__}, threads {numba.get_num_threads()}, numpy {np.__version__}")
    if "functions" in tables:
        table_functions(n, repeat)
    if "w1" in tables:
        table_w1(batch, steps, repeat, rounds=a.rounds)


if __name__ == "__main__":
    main()
