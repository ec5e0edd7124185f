"""Hessian-free descent over data: riemgrad's compiled truncated Newton-CG against SciPy's Newton-CG and trust-ncg.

Run ``python benchmarks/bench_hf.py`` (one thread each; ``--iters`` changes the
number of outer iterations timed, ``--repeat`` the best-of count, ``--quick`` 5
iterations once; this checkout's riemgrad is measured). It prints,
per problem and method, the time per outer iteration, the curvature-vector
products per iteration and the time per product, the loss reached, and the
ratio SciPy / riemgrad (above 1: riemgrad faster).

Problems (issue 11, the sizes of ``bench_data.py``):

- P1: logistic regression, n = 10,000 rows, p = 10 parameters (intercept + 9
  standard-normal features, labels from a logistic model), from theta = 0.
  riemgrad: ``hessian_free(product="hessian", damping=0, tol=...)``, lr = 1.
- P2: an MLP 1-16-1 tanh (p = 49) on n = 1,000 points x ~ U(-1, 1),
  y = sin(3x) + 0.1 N(0, 1), from theta ~ 0.5 N(0, 1); Gauss-Newton products
  (J^T J v), riemgrad with damping 1e-4.

SciPy's methods get what a user would write with NumPy: the loss, the gradient
and ``hessp`` (the Hessian-vector product for P1, the Gauss-Newton-vector
product J^T (J v) / n for P2), vectorized, each call recomputing what it needs
at ``x``. SciPy chooses its own CG tolerance (relative residual
min(0.5, sqrt|g|)) and adds a line search (Newton-CG) or a trust region
(trust-ncg); riemgrad is given the same relative-residual rule's tolerance at
the start (``tol``) and takes full steps. The per-product column compares the
cost of the work both do; the per-iteration column includes each method's own
choices, so read it with the products-per-iteration column beside it.
"""

from __future__ import annotations

import argparse
import os
import time

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread each, set before NumPy loads its BLAS

import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's riemgrad

import numpy as np  # noqa: E402

H = 16


def _best(fn, repeat: int) -> tuple[float, object]:
    out = fn()
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


# ---------------------------------------------------------------- problems, and their NumPy functions for SciPy
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
    return (m1, m1.dataset(X, y1), A, y1, np.zeros(10)), (m2, m2.dataset(x2, y2), x2, y2, th2)


def p1_numpy(A: np.ndarray, y: np.ndarray):
    n = len(y)

    def loss(th):
        z = A @ th
        return np.mean(np.logaddexp(0.0, z) - y * z)

    def grad(th):
        return A.T @ (1 / (1 + np.exp(-(A @ th))) - y) / n

    def hessp(th, v):
        q = 1 / (1 + np.exp(-(A @ th)))
        return A.T @ (q * (1 - q) * (A @ v)) / n

    return loss, grad, hessp


def p2_numpy(x: np.ndarray, y: np.ndarray):
    n = len(x)

    def parts(th):
        W0, b0, W1, b1 = th[:H], th[H : 2 * H], th[2 * H : 3 * H], th[3 * H]
        a = np.tanh(np.outer(x, W0) + b0)
        return a, a @ W1 + b1 - y, W1 * (1 - a * a)

    def loss(th):
        return np.mean(parts(th)[1] ** 2) / 2

    def grad(th):
        a, r, dh = parts(th)
        return np.concatenate([(dh * x[:, None]).T @ r, dh.T @ r, a.T @ r, [r.sum()]]) / n

    def hessp(th, v):  # J^T (J v) / n without forming J
        a, _, dh = parts(th)
        jv = (dh * x[:, None]) @ v[:H] + dh @ v[H : 2 * H] + a @ v[2 * H : 3 * H] + v[3 * H]
        return np.concatenate([(dh * x[:, None]).T @ jv, dh.T @ jv, a.T @ jv, [jv.sum()]]) / n

    return loss, grad, hessp


# ---------------------------------------------------------------- runs
def scipy_run(method: str, fun, jac, hessp, x0: np.ndarray, iters: int, repeat: int) -> dict:
    from scipy.optimize import minimize

    opts = {"maxiter": iters}
    if method == "Newton-CG":
        opts["xtol"] = 1e-300  # run the iterations asked for
    else:
        opts["gtol"] = 1e-300
    t, res = _best(lambda: minimize(fun, x0, jac=jac, hessp=hessp, method=method, options=opts), repeat)
    nit = max(int(res.nit), 1)
    return {"time": t, "nit": nit, "products": int(res.nhev), "loss": float(res.fun)}


def riemgrad_run(field, x0: np.ndarray, iters: int, repeat: int, **hf) -> dict:
    from riemgrad.preconditioners import hessian_free

    pre = hessian_free(**hf)
    t, res = _best(lambda: field.descend(x0, lr=1.0, steps=iters, preconditioner=pre), repeat)
    return {"time": t, "nit": iters, "products": int(res.cg_iterations.sum()), "loss": float(res.losses[-1])}


def table(name: str, rows: dict) -> None:
    base = rows["riemgrad HF"]
    it_rg = base["time"] / base["nit"]
    pr_rg = base["time"] / max(base["products"], 1)
    print(f"\n{name}")
    print("| method | ms / iteration | products / iteration | us / product (all time) | loss reached "
          "| ratio / iteration | ratio / product |")
    print("|---|---|---|---|---|---|---|")
    for meth, r in rows.items():
        it = r["time"] / r["nit"]
        pr = r["time"] / max(r["products"], 1)
        print(f"| {meth} | {it * 1e3:.3f} | {r['products'] / r['nit']:.1f} | {pr * 1e6:.1f} | {r['loss']:.10f} "
              f"| {it / it_rg:.2f} | {pr / pr_rg:.2f} |")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=10, help="outer iterations timed (default 10)")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs (default 3)")
    ap.add_argument("--n-p1", type=int, default=10_000)
    ap.add_argument("--n-p2", type=int, default=1_000)
    ap.add_argument("--quick", action="store_true", help="5 iterations, best of 1 (as run_all.py --quick)")
    args = ap.parse_args(argv)
    if args.quick:
        args.iters, args.repeat = 5, 1
    import riemgrad as rg

    p1, p2 = problems(args.n_p1, args.n_p2)
    m1, d1, A, y1, x01 = p1
    m2, d2, x2, y2, x02 = p2
    f1 = rg.compile_data_flow(rg.fisher_metric(m1.family, data=d1), m1.family)
    f2 = rg.compile_data_flow(rg.gauss_newton_metric(m2.residual, m2.chart, data=d2), m2.loss)
    print(f"P1 logistic n={args.n_p1} p=10; P2 MLP 1-16-1 n={args.n_p2} p=49; {args.iters} outer iterations, "
          f"best of {args.repeat}, one thread. Ratios: time of the method / time of riemgrad HF.")

    loss, grad, hessp = p1_numpy(A, y1)
    rows = {
        # SciPy's first CG tolerance is min(0.5, sqrt|g0|) |g0|: 0.5 here; later ones shrink with |g|
        "riemgrad HF": riemgrad_run(f1, x01, args.iters, args.repeat, product="hessian", damping=0.0, max_cg=20,
                                    tol=1e-4),
        "scipy Newton-CG": scipy_run("Newton-CG", loss, grad, hessp, x01, args.iters, args.repeat),
        "scipy trust-ncg": scipy_run("trust-ncg", loss, grad, hessp, x01, args.iters, args.repeat),
    }
    table("P1: logistic regression, Hessian-vector products", rows)

    loss, grad, hessp = p2_numpy(x2, y2)
    rows = {
        "riemgrad HF": riemgrad_run(f2, x02, args.iters, args.repeat, product="gauss_newton", damping=1e-4,
                                    max_cg=50, tol=1e-2),
        "scipy Newton-CG": scipy_run("Newton-CG", loss, grad, hessp, x02, args.iters, args.repeat),
        "scipy trust-ncg": scipy_run("trust-ncg", loss, grad, hessp, x02, args.iters, args.repeat),
    }
    table("P2: MLP 1-16-1, Gauss-Newton-vector products", rows)
    # agreement: the products riemgrad compiles against the NumPy ones the baselines use
    from riemgrad.kernels.hvp import gauss_newton_vector_product, hessian_vector_product

    v = np.random.default_rng(1).standard_normal(10)
    th = np.random.default_rng(2).standard_normal(10) * 0.3
    e1 = np.abs(hessian_vector_product(f1, th, v) - p1_numpy(A, y1)[2](th, v)).max()
    v = np.random.default_rng(3).standard_normal(49)
    e2 = np.abs(gauss_newton_vector_product(f2, x02, v) - hessp(x02, v)).max()
    print(f"\nmax |riemgrad product - NumPy product|: P1 {e1:.1e}, P2 {e2:.1e}")


if __name__ == "__main__":
    main()
