"""Descent over data: riemgrad's compiled data kernels against a hand-written scalar Numba kernel and NumPy.

Run ``python benchmarks/bench_data.py`` (one thread each; ``--n-p1`` /
``--n-p2`` take one or more sizes, one table per pair; ``--quick`` for a short
run). It prints a markdown table of the time per iteration of each baseline
(a scalar Numba kernel looping over rows, Numba + BLAS: the per-example
Jacobian in an (n, d) array and J^T J by np.dot, NumPy, and JAX jit with x64
on one thread when JAX is installed) and of riemgrad, as ratios to the scalar
Numba kernel and riemgrad's ratio to the fastest baseline; then the time from
the SymPy model to the first descent step (derivation + compilation, in a
fresh cache directory) and reloaded from the disk cache (a second process).
``--scaling`` adds riemgrad's time per iteration and per row at n = 1e3 ...
1e6 (P1) and 1e3 ... 1e5 (P2), and the peak RSS growth over 10 and 1,000 steps.

Problems (issue 10):

- P1: logistic regression, n = 10,000 rows, d = 10 parameters (intercept + 9
  standard-normal features, labels drawn from a logistic model); Newton /
  natural-gradient descent (Fisher = Hessian), empirical-Fisher descent and
  gradient descent, one starting point, lr = 1 (0.5 for the empirical Fisher,
  1 for GD).
- P2: an MLP 1-16-1 tanh (d = 49) on n = 1,000 points x ~ U(-1, 1),
  y = sin(3x) + 0.1 N(0, 1); Gauss-Newton (= function-space natural gradient)
  descent with damping 1e-4, and gradient descent (lr 0.1).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from functools import partial

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread each, set before NumPy loads its BLAS
# JAX/XLA on one thread too (read when jax is imported, inside the benchmark only)
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402

STEPS = 50
#: The safe fast-math flags (as riemgrad.kernels.abi.FASTMATH_FLAGS) for every hand-written Numba kernel.
FM = {"arcp", "contract"}


def _best(fn, repeat: int = 3) -> float:
    fn()
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


# ---------------------------------------------------------------- baselines written by hand
def _numba_baselines():
    from numba import njit

    @njit(cache=True, fastmath=FM)
    def p1_newton(A, y, th, steps, lr, empirical):
        n, d = A.shape
        g = np.zeros(d)
        G = np.zeros((d, d))
        for _ in range(steps):
            g[:] = 0.0
            G[:] = 0.0
            for i in range(n):
                z = 0.0
                for k in range(d):
                    z += A[i, k] * th[k]
                q = 1.0 / (1.0 + np.exp(-z))
                w = (q - y[i]) ** 2 if empirical else q * (1.0 - q)
                for r in range(d):
                    g[r] += (q - y[i]) * A[i, r]
                    wr = w * A[i, r]
                    for c in range(r + 1):
                        G[r, c] += wr * A[i, c]
            for r in range(d):
                for c in range(r):
                    G[c, r] = G[r, c]
            th -= lr * np.linalg.solve(G / n, g / n)
        return th

    @njit(cache=True, fastmath=FM)
    def p1_gd(A, y, th, steps, lr):
        n, d = A.shape
        g = np.zeros(d)
        for _ in range(steps):
            g[:] = 0.0
            for i in range(n):
                z = 0.0
                for k in range(d):
                    z += A[i, k] * th[k]
                q = 1.0 / (1.0 + np.exp(-z))
                for r in range(d):
                    g[r] += (q - y[i]) * A[i, r]
            th -= lr * g / n
        return th

    @njit(cache=True, fastmath=FM)
    def p2(x, y, th, steps, lr, lam, gn):
        # th = (W0[16], b0[16], W1[16], b1): the riemgrad mlp layout for sizes (1, 16, 1)
        n = x.shape[0]
        H = 16
        d = 3 * H + 1
        J = np.zeros(d)
        g = np.zeros(d)
        G = np.zeros((d, d))
        for _ in range(steps):
            g[:] = 0.0
            G[:] = 0.0
            for i in range(n):
                f = th[3 * H]
                for h in range(H):
                    a = np.tanh(th[h] * x[i] + th[H + h])
                    f += th[2 * H + h] * a
                    J[2 * H + h] = a
                    dh = th[2 * H + h] * (1.0 - a * a)
                    J[h] = dh * x[i]
                    J[H + h] = dh
                J[3 * H] = 1.0
                r = f - y[i]
                for k in range(d):
                    g[k] += r * J[k]
                if gn:
                    for k in range(d):
                        for c in range(k + 1):
                            G[k, c] += J[k] * J[c]
            if gn:
                for k in range(d):
                    for c in range(k):
                        G[c, k] = G[k, c]
                    G[k, k] += lam * n
                th -= lr * np.linalg.solve(G, g)
            else:
                th -= lr * g / n
        return th

    return p1_newton, p1_gd, p2


def _blas_baselines():
    """Numba + BLAS: the per-example Jacobian rows into an (n, d) array, then J^T J and J^T r by np.dot."""
    from numba import njit

    @njit(cache=True, fastmath=FM)
    def p1_blas(A, y, th, steps, lr, kind):
        # kind 0 Newton, 1 empirical Fisher, 2 gradient descent
        n, d = A.shape
        J = np.empty((n, d))
        r = np.empty(n)
        for _ in range(steps):
            z = np.dot(A, th)
            for i in range(n):
                q = 1.0 / (1.0 + np.exp(-z[i]))
                r[i] = q - y[i]
                if kind != 2:
                    s = np.sqrt(q * (1.0 - q)) if kind == 0 else abs(q - y[i])
                    for k in range(d):
                        J[i, k] = s * A[i, k]
            g = np.dot(r, A) / n
            if kind == 2:
                th = th - lr * g
            else:
                th = th - lr * np.linalg.solve(np.dot(J.T, J) / n, g)
        return th

    @njit(cache=True, fastmath=FM)
    def p2_blas(x, y, th, steps, lr, lam, gn):
        n = x.shape[0]
        H = 16
        d = 3 * H + 1
        J = np.empty((n, d))
        r = np.empty(n)
        for _ in range(steps):
            for i in range(n):
                f = th[3 * H]
                for h in range(H):
                    a = np.tanh(th[h] * x[i] + th[H + h])
                    f += th[2 * H + h] * a
                    J[i, 2 * H + h] = a
                    dh = th[2 * H + h] * (1.0 - a * a)
                    J[i, h] = dh * x[i]
                    J[i, H + h] = dh
                J[i, 3 * H] = 1.0
                r[i] = f - y[i]
            g = np.dot(r, J)
            if gn:
                G = np.dot(J.T, J)
                for k in range(d):
                    G[k, k] += lam * n
                th = th - lr * np.linalg.solve(G, g)
            else:
                th = th - lr * g / n
        return th

    return p1_blas, p2_blas


def _jax_baselines():
    """JAX jit (x64, one thread): the steps in one lax.fori_loop; None (with a message) if JAX is missing."""
    try:
        import jax
    except ImportError:
        print("JAX is not installed: its column is skipped (pip install jax).")
        return None
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    @partial(jax.jit, static_argnums=(3, 5))
    def p1(A, y, th, steps, lr, kind):
        n = A.shape[0]

        def body(_, th):
            q = jax.nn.sigmoid(A @ th)
            g = A.T @ (q - y) / n
            if kind == "gd":
                return th - lr * g
            w = q * (1 - q) if kind == "newton" else (q - y) ** 2
            return th - lr * jnp.linalg.solve((A.T * w) @ A / n, g)

        return jax.lax.fori_loop(0, steps, body, th)

    @partial(jax.jit, static_argnums=(3, 6))
    def p2(x, y, th, steps, lr, lam, gn):
        n, H = x.shape[0], 16

        def body(_, th):
            W0, b0, W1, b1 = th[:H], th[H : 2 * H], th[2 * H : 3 * H], th[3 * H]
            a = jnp.tanh(jnp.outer(x, W0) + b0)
            r = a @ W1 + b1 - y
            dh = W1 * (1 - a * a)
            J = jnp.concatenate([dh * x[:, None], dh, a, jnp.ones((n, 1))], axis=1)
            g = J.T @ r / n
            if not gn:
                return th - lr * g
            return th - lr * jnp.linalg.solve(J.T @ J / n + lam * jnp.eye(3 * H + 1), g)

        return jax.lax.fori_loop(0, steps, body, th)

    def run(f, *args):
        return lambda: f(*args).block_until_ready()

    return p1, p2, run, jnp


def _numpy_p1(A, y, th, steps, lr, kind):
    n = len(y)
    for _ in range(steps):
        q = 1 / (1 + np.exp(-A @ th))
        g = A.T @ (q - y) / n
        if kind == "gd":
            th = th - lr * g
            continue
        w = q * (1 - q) if kind == "newton" else (q - y) ** 2
        th = th - lr * np.linalg.solve((A.T * w) @ A / n, g)
    return th


def _numpy_p2(x, y, th, steps, lr, lam, gn):
    n, H = len(x), 16
    for _ in range(steps):
        W0, b0, W1, b1 = th[:H], th[H : 2 * H], th[2 * H : 3 * H], th[3 * H]
        a = np.tanh(np.outer(x, W0) + b0)
        r = a @ W1 + b1 - y
        dh = W1 * (1 - a * a)
        J = np.c_[dh * x[:, None], dh, a, np.ones(n)]
        g = J.T @ r / n
        th = th - lr * (np.linalg.solve(J.T @ J / n + lam * np.eye(3 * H + 1), g) if gn else g)
    return th


# ---------------------------------------------------------------- problems
def problems(n1: int, n2: int, seed: int = 0):
    from riemgrad import models

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n1, 9))
    A = np.c_[np.ones(n1), X]
    beta = rng.standard_normal(10) * 0.3
    y1 = (rng.random(n1) < 1 / (1 + np.exp(-A @ beta))).astype(float)
    x2 = rng.uniform(-1, 1, n2)
    y2 = np.sin(3 * x2) + 0.1 * rng.standard_normal(n2)
    m1, m2 = models.logistic_regression(9), models.mlp((1, 16, 1), "tanh")
    th2 = rng.standard_normal(49) * 0.5
    return (m1, m1.dataset(X, y1), A, y1), (m2, m2.dataset(x2, y2), x2, y2, th2)


def fields(p1, p2):
    import riemgrad as rg

    m1, d1 = p1[:2]
    m2, d2 = p2[:2]
    newton = rg.compile_data_flow(rg.fisher_metric(m1.family, data=d1), m1.family)
    ef = rg.compile_data_flow(rg.empirical_fisher_metric(m1.family, data=d1), m1.family)
    gn = rg.compile_data_flow(rg.gauss_newton_metric(m2.residual, m2.chart, data=d2), m2.loss)
    return newton, ef, gn


def _first_step_here(problem: str) -> float:
    """In this process: SymPy model -> data -> metric -> compiled field -> first descent step."""
    t0 = time.perf_counter()
    import riemgrad as rg
    from riemgrad import models

    rng = np.random.default_rng(0)
    if problem == "P1":
        m = models.logistic_regression(9)
        data = m.dataset(rng.standard_normal((10_000, 9)), rng.integers(0, 2, 10_000))
        field = rg.compile_data_flow(rg.fisher_metric(m.family, data=data), m.family)
        field.descend(np.zeros(10), lr=1.0, steps=1)
    else:
        m = models.mlp((1, 16, 1), "tanh")
        x = rng.uniform(-1, 1, 1000)
        data = m.dataset(x, np.sin(3 * x))
        field = rg.compile_data_flow(rg.gauss_newton_metric(m.residual, m.chart, data=data), m.loss)
        field.descend(rng.standard_normal(49) * 0.5, lr=1.0, steps=1, damping=1e-4)
    return time.perf_counter() - t0


def first_step(problem: str, cache: str) -> float:
    """Seconds from the SymPy model to the first descent step in a fresh process (imports included)."""
    env = dict(os.environ, RIEMGRAD_CACHE_DIR=cache, NUMBA_CACHE_DIR=os.path.join(cache, "numba"))
    out = subprocess.run(
        [sys.executable, __file__, "--first-step", problem], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.split()[-1])


def _rows_of_table(p1, p2, flds, steps):
    """(name, {baseline: callable}, riemgrad callable) per row of the table; every callable runs ``steps`` steps."""
    newton, ef, gn = flds
    nb_newton, nb_gd, nb_p2 = _numba_baselines()
    bl_p1, bl_p2 = _blas_baselines()
    jx = _jax_baselines()
    A, y = p1[2], p1[3]
    x2, y2, th2 = p2[2], p2[3], p2[4]
    z10 = np.zeros(10)
    S = steps
    rows = [
        ("P1 Newton", {"scalar Numba": lambda: nb_newton(A, y, z10.copy(), S, 1.0, False),
                       "Numba + BLAS": lambda: bl_p1(A, y, z10.copy(), S, 1.0, 0),
                       "NumPy": lambda: _numpy_p1(A, y, z10, S, 1.0, "newton")},
         lambda: newton.descend(z10, lr=1.0, steps=S)),
        ("P1 empirical Fisher", {"scalar Numba": lambda: nb_newton(A, y, z10.copy(), S, 0.5, True),
                                 "Numba + BLAS": lambda: bl_p1(A, y, z10.copy(), S, 0.5, 1),
                                 "NumPy": lambda: _numpy_p1(A, y, z10, S, 0.5, "ef")},
         lambda: ef.descend(z10, lr=0.5, steps=S)),
        ("P1 gradient descent", {"scalar Numba": lambda: nb_gd(A, y, z10.copy(), S, 1.0),
                                 "Numba + BLAS": lambda: bl_p1(A, y, z10.copy(), S, 1.0, 2),
                                 "NumPy": lambda: _numpy_p1(A, y, z10, S, 1.0, "gd")},
         lambda: newton.descend(z10, lr=1.0, steps=S, preconditioner="identity")),
        ("P2 Gauss-Newton", {"scalar Numba": lambda: nb_p2(x2, y2, th2.copy(), S, 1.0, 1e-4, True),
                             "Numba + BLAS": lambda: bl_p2(x2, y2, th2.copy(), S, 1.0, 1e-4, True),
                             "NumPy": lambda: _numpy_p2(x2, y2, th2, S, 1.0, 1e-4, True)},
         lambda: gn.descend(th2, lr=1.0, steps=S, damping=1e-4)),
        ("P2 gradient descent", {"scalar Numba": lambda: nb_p2(x2, y2, th2.copy(), S, 0.1, 0.0, False),
                                 "Numba + BLAS": lambda: bl_p2(x2, y2, th2.copy(), S, 0.1, 0.0, False),
                                 "NumPy": lambda: _numpy_p2(x2, y2, th2, S, 0.1, 0.0, False)},
         lambda: gn.descend(th2, lr=0.1, steps=S, preconditioner="identity")),
    ]
    if jx is not None:
        jp1, jp2, run, jnp = jx
        jA, jy, jz = jnp.asarray(A), jnp.asarray(y), jnp.zeros(10)
        jx2, jy2, jth2 = jnp.asarray(x2), jnp.asarray(y2), jnp.asarray(th2)
        jax_rows = [run(jp1, jA, jy, jz, S, 1.0, "newton"), run(jp1, jA, jy, jz, S, 0.5, "ef"),
                    run(jp1, jA, jy, jz, S, 1.0, "gd"), run(jp2, jx2, jy2, jth2, S, 1.0, 1e-4, True),
                    run(jp2, jx2, jy2, jth2, S, 0.1, 0.0, False)]
        for (_, base, _), f in zip(rows, jax_rows):
            base["JAX jit"] = f
    return rows


def table(n1: int, n2: int, steps: int, repeat: int) -> None:
    """Print the side-by-side table at P1 size ``n1`` and P2 size ``n2``."""
    p1, p2 = problems(n1, n2)
    flds = fields(p1, p2)
    rows = _rows_of_table(p1, p2, flds, steps)
    names = list(rows[0][1])
    print(f"\nP1 n={n1}, P2 n={n2}; {steps} steps per timing, best of {repeat}, one thread; "
          "ratios to the scalar Numba kernel (its time in ms per iteration)\n")
    print("| problem | " + " | ".join(names) + " | riemgrad | riemgrad / fastest baseline |")
    print("|---|" + "---|" * (len(names) + 2))
    for name, base, rgd in rows:
        t = {k: _best(f, repeat) / steps for k, f in base.items()}
        t_rg = _best(rgd, repeat) / steps
        t0 = t["scalar Numba"]
        fastest = min(t, key=t.get)
        cells = [f"1.0 ({t0 * 1e3:.3f} ms)"] + [f"{t[k] / t0:.2f}" for k in names[1:]]
        print(f"| {name} | " + " | ".join(cells) + f" | {t_rg / t0:.2f} ({t_rg * 1e3:.3f} ms) | "
              f"{t_rg / t[fastest]:.2f} (vs {fastest}) |")
    # agreement: riemgrad's iterates against the hand-written kernels
    newton, _, gn = flds
    nb_newton, _, nb_p2 = _numba_baselines()
    z10 = np.zeros(10)
    a = newton.descend(z10, lr=1.0, steps=5).xs[-1]
    b = nb_newton(p1[2], p1[3], z10.copy(), 5, 1.0, False)
    print(f"\nP1 Newton, 5 steps: max |riemgrad - hand-written| = {np.abs(a - b).max():.2e}")
    a = gn.descend(p2[4], lr=1.0, steps=5, damping=1e-4).xs[-1]
    b = nb_p2(p2[2], p2[3], p2[4].copy(), 5, 1.0, 1e-4, True)
    print(f"P2 Gauss-Newton, 5 steps: max |riemgrad - hand-written| = {np.abs(a - b).max():.2e}")


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kilobytes on Linux


def scaling(sizes_p1, sizes_p2, steps: int, repeat: int) -> None:
    """riemgrad's time per iteration and per row as n grows, and peak RSS over 10 vs 1,000 steps."""
    print("\nriemgrad per iteration as n grows (Newton on P1, Gauss-Newton on P2):\n")
    print("| problem | n | ms / iteration | ns / row / iteration |")
    print("|---|---|---|---|")
    for prob, sizes in (("P1", sizes_p1), ("P2", sizes_p2)):
        for n in sizes:
            p1, p2 = problems(n if prob == "P1" else 10, n if prob == "P2" else 10)
            newton, _, gn = fields(p1, p2)
            if prob == "P1":
                f = lambda: newton.descend(np.zeros(10), lr=1.0, steps=steps)  # noqa: E731
            else:
                f = lambda: gn.descend(p2[4], lr=1.0, steps=steps, damping=1e-4)  # noqa: E731
            t = _best(f, repeat) / steps
            print(f"| {prob} | {n:,} | {t * 1e3:.3f} | {t / n * 1e9:.1f} |")
    n = max(sizes_p1)
    p1, p2 = problems(n, 10)
    newton = fields(p1, p2)[0]
    newton.descend(np.zeros(10), lr=1.0, steps=10)
    r0 = _peak_rss_mb()
    newton.descend(np.zeros(10), lr=1.0, steps=10)
    r10 = _peak_rss_mb()
    newton.descend(np.zeros(10), lr=1.0, steps=1000)
    r1000 = _peak_rss_mb()
    print(f"\nP1 n={n:,}: peak RSS {r0:.1f} MB after warm-up; growth over a 10-step run {r10 - r0:+.1f} MB, "
          f"over a 1,000-step run {r1000 - r10:+.1f} MB (memory flat in the number of steps)")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-p1", type=int, nargs="+", default=[10_000], help="P1 sizes (one table per pair)")
    ap.add_argument("--n-p2", type=int, nargs="+", default=[1_000], help="P2 sizes (paired with --n-p1)")
    ap.add_argument("--quick", action="store_true", help="10 steps, best of 2, no cold start")
    ap.add_argument("--no-cold", action="store_true", help="skip the time-to-first-step measurement")
    ap.add_argument("--scaling", action="store_true",
                    help="riemgrad per iteration at n = 1e3..1e6 (P1) and 1e3..1e5 (P2), and memory over steps")
    ap.add_argument("--first-step", choices=("P1", "P2"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.first_step:
        print(_first_step_here(args.first_step))
        return
    steps, repeat = (10, 2) if args.quick else (STEPS, 3)
    n1s, n2s = args.n_p1, args.n_p2
    if len(n1s) != len(n2s):
        n1s, n2s = (n1s * len(n2s), n2s) if len(n1s) == 1 else (n1s, n2s * len(n1s))
    for n1, n2 in zip(n1s, n2s):
        table(n1, n2, steps, repeat)
    if args.scaling:
        scaling([1_000, 10_000, 100_000, 1_000_000], [1_000, 10_000, 100_000], 5 if args.quick else 10, repeat)
    if not (args.no_cold or args.quick):
        print("\nSymPy model -> first descent step, in a new process (imports included), seconds:")
        for prob in ("P1", "P2"):
            with tempfile.TemporaryDirectory() as cache:
                cold = first_step(prob, cache)
                warm = first_step(prob, cache)
            print(f"{prob}: {cold:.1f} cold (derivation + compilation), {warm:.2f} reloaded from the disk cache")


if __name__ == "__main__":
    main()
