"""Descent over data: riemgrad's compiled data kernels against a hand-written scalar Numba kernel and NumPy.

Run ``python benchmarks/bench_data.py`` (one thread each; add ``--n-p1`` /
``--n-p2`` to change the sizes). It prints a markdown table of the time per
iteration and its ratio to the scalar Numba kernel, and the time from the
SymPy model to the first descent step (derivation + compilation, in a fresh
cache directory) and reloaded from the disk cache (a second process).

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

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread each, set before NumPy loads its BLAS

import numpy as np  # noqa: E402

STEPS = 50


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

    @njit(cache=True, fastmath=False)
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

    @njit(cache=True, fastmath=False)
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

    @njit(cache=True, fastmath=False)
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


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-p1", type=int, default=10_000)
    ap.add_argument("--n-p2", type=int, default=1_000)
    ap.add_argument("--no-cold", action="store_true", help="skip the time-to-first-step measurement")
    ap.add_argument("--first-step", choices=("P1", "P2"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.first_step:
        print(_first_step_here(args.first_step))
        return
    p1, p2 = problems(args.n_p1, args.n_p2)
    newton, ef, gn = fields(p1, p2)
    nb_newton, nb_gd, nb_p2 = _numba_baselines()
    A, y = p1[2], p1[3]
    x2, y2, th2 = p2[2], p2[3], p2[4]
    z10 = np.zeros(10)
    rows = [
        ("P1 Newton", lambda: nb_newton(A, y, z10.copy(), STEPS, 1.0, False),
         lambda: _numpy_p1(A, y, z10, STEPS, 1.0, "newton"),
         lambda: newton.descend(z10, lr=1.0, steps=STEPS)),
        ("P1 empirical Fisher", lambda: nb_newton(A, y, z10.copy(), STEPS, 0.5, True),
         lambda: _numpy_p1(A, y, z10, STEPS, 0.5, "ef"),
         lambda: ef.descend(z10, lr=0.5, steps=STEPS)),
        ("P1 gradient descent", lambda: nb_gd(A, y, z10.copy(), STEPS, 1.0),
         lambda: _numpy_p1(A, y, z10, STEPS, 1.0, "gd"),
         lambda: newton.descend(z10, lr=1.0, steps=STEPS, preconditioner="identity")),
        ("P2 Gauss-Newton", lambda: nb_p2(x2, y2, th2.copy(), STEPS, 1.0, 1e-4, True),
         lambda: _numpy_p2(x2, y2, th2, STEPS, 1.0, 1e-4, True),
         lambda: gn.descend(th2, lr=1.0, steps=STEPS, damping=1e-4)),
        ("P2 gradient descent", lambda: nb_p2(x2, y2, th2.copy(), STEPS, 0.1, 0.0, False),
         lambda: _numpy_p2(x2, y2, th2, STEPS, 0.1, 0.0, False),
         lambda: gn.descend(th2, lr=0.1, steps=STEPS, preconditioner="identity")),
    ]
    print(f"P1 n={args.n_p1}, P2 n={args.n_p2}; {STEPS} steps per timing, best of 3, one thread\n")
    print("| problem | scalar Numba (ms/iter) | NumPy | riemgrad |")
    print("|---|---|---|---|")
    for name, nb, npy, rgd in rows:
        t_nb, t_np, t_rg = (_best(f) / STEPS for f in (nb, npy, rgd))
        print(f"| {name} | 1.0 ({t_nb * 1e3:.3f} ms) | {t_np / t_nb:.2f} | {t_rg / t_nb:.2f} ({t_rg * 1e3:.3f} ms) |")
    # agreement: riemgrad's iterates against the hand-written kernel
    a = newton.descend(z10, lr=1.0, steps=5).xs[-1]
    b = nb_newton(A, y, z10.copy(), 5, 1.0, False)
    print(f"\nP1 Newton, 5 steps: max |riemgrad - hand-written| = {np.abs(a - b).max():.2e}")
    a = gn.descend(th2, lr=1.0, steps=5, damping=1e-4).xs[-1]
    b = nb_p2(x2, y2, th2.copy(), 5, 1.0, 1e-4, True)
    print(f"P2 Gauss-Newton, 5 steps: max |riemgrad - hand-written| = {np.abs(a - b).max():.2e}")
    if not args.no_cold:
        print("\nSymPy model -> first descent step, in a new process (imports included), seconds:")
        for prob in ("P1", "P2"):
            with tempfile.TemporaryDirectory() as cache:
                cold = first_step(prob, cache)
                warm = first_step(prob, cache)
            print(f"{prob}: {cold:.1f} cold (derivation + compilation), {warm:.2f} reloaded from the disk cache")


if __name__ == "__main__":
    main()
