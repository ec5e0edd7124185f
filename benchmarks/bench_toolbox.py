"""L-BFGS and Levenberg-Marquardt over data: riemgrad against SciPy and optax, side by side in one run.

Run ``python benchmarks/bench_toolbox.py`` (``--quick``: smaller problems, one repeat; this checkout's
riemgrad is measured, one thread everywhere). It prints, per problem and method, the time per
iteration, the iterations to the target loss, the time to the target, and the ratio baseline / riemgrad
of the per-iteration time (above 1: riemgrad faster).

Problems:

- P1, L-BFGS: logistic regression, n = 10,000 rows (2,000 with ``--quick``), p = 10 parameters
  (intercept + 9 standard-normal features, labels from a logistic model), from theta = 0. Target: the
  loss of SciPy's L-BFGS-B run to gtol 1e-12, plus 1e-8. riemgrad: ``lbfgs(history=10)`` with
  ``backtracking=True`` (Armijo, first trial step 1); SciPy: ``minimize(method="L-BFGS-B", maxcor=10)``
  with a NumPy loss and gradient (what a user would write); optax: ``optax.lbfgs(memory_size=10)`` (its
  zoom line search, Wolfe conditions), jitted, x64, ``value_and_grad_from_state``.
- P2, Levenberg-Marquardt: an MLP 1-16-1 tanh (p = 49) least-squares fit on n = 1,000 points (500 with
  ``--quick``) of sin(3x) + 0.1 N(0, 1), from theta ~ 0.5 N(0, 1). riemgrad: ``levenberg_marquardt()`` on
  the Gauss-Newton metric E[J^T J], lr = 1; SciPy: ``least_squares(method="lm")`` (MINPACK, its default tolerances) with
  the Jacobian by hand in NumPy. An iteration is a Jacobian evaluation for MINPACK, a step (accepted or
  not) for riemgrad. Target: 1.05 times the smaller of the two final losses (the runs may settle at different
  stationary points of this non-convex loss; both final losses are printed).

Iteration counts are each method's own: the line searches differ (Armijo vs Wolfe), so read the
per-iteration column beside the iterations column. optax is optional (``pip install riemgrad[bench]``);
its rows are skipped with a message when jax or optax is missing. Times are best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import os
import time

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread each, set before NumPy loads its BLAS
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's riemgrad

import numpy as np  # noqa: E402


def _best(fn, repeat: int):
    out = fn()  # warm-up (compilation)
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _first_below(losses, target):
    hit = np.flatnonzero(np.asarray(losses) <= target)
    return int(hit[0]) if hit.size else None


def problems(n1: int, n2: int, seed: int = 0):
    from riemgrad import models

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n1, 9))
    A = np.c_[np.ones(n1), X]
    y1 = (rng.random(n1) < 1 / (1 + np.exp(-A @ (rng.standard_normal(10) * 0.3)))).astype(float)
    x2 = rng.uniform(-1, 1, n2)
    y2 = np.sin(3 * x2) + 0.1 * rng.standard_normal(n2)
    m1, m2 = models.logistic_regression(9), models.mlp((1, 16, 1), "tanh")
    th2 = rng.standard_normal(49) * 0.5
    return (m1, m1.dataset(X, y1), A, y1), (m2, m2.dataset(x2, y2), x2, y2, th2)


def mlp_rJ(x, y, th, h=16):
    """Residuals f - y and their Jacobian in the model's parameter order (W0, b0, W1, b1)."""
    W0, b0, W1, b1 = th[:h], th[h : 2 * h], th[2 * h : 3 * h], th[3 * h]
    a = np.tanh(np.outer(x, W0) + b0)
    dh = W1 * (1 - a * a)
    return a @ W1 + b1 - y, np.c_[dh * x[:, None], dh, a, np.ones(len(x))]


def row(name, per_it, iters, ref_per_it=None):
    it = "-" if iters is None else f"{iters}"
    to_target = "-" if iters is None else f"{per_it * iters * 1e3:9.2f}"
    ratio = "" if ref_per_it is None else f"{per_it / ref_per_it:8.2f}x"
    print(f"  {name:34s} {per_it * 1e6:12.1f} {it:>10s} {to_target:>12s} {ratio:>10s}")


def header(title):
    print(f"\n{title}")
    print(f"  {'method':34s} {'us/iter':>12s} {'iters':>10s} {'ms to tgt':>12s} {'/riemgrad':>10s}")


def bench_lbfgs(p1, repeat):
    from scipy.optimize import minimize

    import riemgrad as rg

    m, data, A, y = p1
    n = len(y)

    def loss(th):
        z = A @ th
        return np.mean(np.logaddexp(0.0, z) - y * z)

    def grad(th):
        return A.T @ (1 / (1 + np.exp(-(A @ th))) - y) / n

    ref = minimize(loss, np.zeros(10), jac=grad, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 0, "maxiter": 500})
    target = ref.fun + 1e-8
    field = rg.compile_data_flow(rg.fisher_metric(m.family, data=data), m.family)
    pre = rg.preconditioners.lbfgs(history=10)

    def rg_run(steps):
        return field.descend(np.zeros(10), lr=1.0, steps=steps, saveat=range(steps + 1), preconditioner=pre,
                             backtracking=True)

    # Each method is timed over exactly the iterations it needs to reach the target: past the minimiser an
    # Armijo search finds no decrease (60 halvings of loss passes per step) and SciPy stops, so iterations
    # beyond the target would measure different work.
    it_rg = _first_below(rg_run(60).losses, target)
    t, _ = _best(lambda: rg_run(it_rg), repeat)
    rg_it = t / it_rg
    header(f"P1 L-BFGS, logistic regression n={n}, p=10; target loss {target:.10f}")
    row("riemgrad lbfgs(10) + Armijo", rg_it, it_rg)

    def scipy_run(steps):
        hist = [loss(np.zeros(10))]
        out = minimize(loss, np.zeros(10), jac=grad, method="L-BFGS-B",
                       options={"maxcor": 10, "gtol": 1e-12, "ftol": 0, "maxiter": steps},
                       callback=lambda xk: hist.append(loss(xk)))
        return out, hist

    it_sp = _first_below(scipy_run(60)[1], target)
    t, (out, hist) = _best(lambda: scipy_run(it_sp), repeat)
    row(f"scipy L-BFGS-B ({out.nfev} f+g evals)", t / it_sp, it_sp, rg_it)
    steps = 60

    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        import optax
    except ImportError as exc:
        print(f"  optax L-BFGS: skipped ({exc}; pip install riemgrad[bench])")
        return
    Aj, yj = jnp.asarray(A), jnp.asarray(y)

    def jloss(th):
        z = Aj @ th
        return jnp.mean(jnp.logaddexp(0.0, z) - yj * z)

    opt = optax.lbfgs(memory_size=10)
    vg = optax.value_and_grad_from_state(jloss)

    @jax.jit
    def step(th, state):
        val, g = vg(th, state=state)
        upd, state = opt.update(g, state, th, value=val, grad=g, value_fn=jloss)
        return optax.apply_updates(th, upd), state, val

    def optax_run(steps):
        th = jnp.zeros(10)
        state = opt.init(th)
        vals = []
        for _ in range(steps):
            th, state, val = step(th, state)
            vals.append(val)
        vals.append(jloss(th))
        return np.asarray(jax.block_until_ready(jnp.stack(vals)))

    it_ox = _first_below(optax_run(steps), target)
    if it_ox is None:
        print(f"  optax lbfgs(10): did not reach the target in {steps} iterations")
        return
    t, _ = _best(lambda: optax_run(it_ox), repeat)
    row("optax lbfgs(10) (zoom line search)", t / it_ox, it_ox, rg_it)


def bench_lm(p2, repeat):
    from scipy.optimize import least_squares

    import riemgrad as rg

    m, data, x, y, th0 = p2
    n = len(y)
    field = rg.compile_data_flow(rg.gauss_newton_metric(m.residual, m.chart, data=data), m.loss)
    steps = 100
    pre = rg.preconditioners.levenberg_marquardt(damping=1e-3)
    t, res = _best(lambda: field.descend(th0, lr=1.0, steps=steps, saveat=range(steps + 1), preconditioner=pre),
                   repeat)
    rg_it = t / steps

    def scipy_run():
        hist = []

        def jac(th):
            r, J = mlp_rJ(x, y, th)
            hist.append(np.mean(r * r) / 2)  # the loss at each Jacobian evaluation (an accepted point)
            return J

        out = least_squares(lambda th: mlp_rJ(x, y, th)[0], th0, jac=jac, method="lm", max_nfev=steps * 50)
        return out, hist

    t, (out, hist) = _best(scipy_run, repeat)
    final = min(float(res.losses[-1]), out.cost / n)  # cost = sum(r^2) / 2
    target = 1.05 * final  # the two may settle at different stationary points: a target both can reach
    header(f"P2 Levenberg-Marquardt, MLP 1-16-1 tanh least squares n={n}, p=49; target loss {target:.10f}")
    row("riemgrad levenberg_marquardt", rg_it, _first_below(res.losses, target))
    row(f"scipy least_squares lm ({out.nfev} r, {out.njev} J)", t / max(out.njev, 1), _first_below(hist, target),
        rg_it)
    print(f"  final losses: riemgrad {float(res.losses[-1]):.10f} after {steps} steps, "
          f"scipy {out.cost / n:.10f} ({out.message})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller problems, one repeat")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    p1, p2 = problems(2000, 500) if args.quick else problems(10_000, 1000)
    print("ratio column: baseline per-iteration time / riemgrad's (above 1: riemgrad faster)")
    bench_lbfgs(p1, repeat)
    bench_lm(p2, repeat)


if __name__ == "__main__":
    main()
