"""K-FAC per-iteration time: riemgrad's compiled K-FAC against a NumPy K-FAC and kfac-jax.

Run ``python benchmarks/bench_kfac.py`` (one thread each; ``--steps`` iterations
timed, best of ``--repeat``; ``--quick``: 50 steps, best of 1; this checkout's
riemgrad is measured). Problem (issue 11): an MLP 1-16-1 tanh (49 parameters) on
n = 1,000 points x ~ U(-2, 2), y = sin(3x) + 0.1 N(0, 1), normal output (the
loss (f - y)^2 / 2 averaged), from theta ~ 0.5 N(0, 1).

- riemgrad: ``descend(field, x0, preconditioner=kfac(damping=1e-2, decay=0.95,
  inverse_every=1), lr=0.2)``: the whole run is one compiled loop.
- NumPy: the same algorithm written as a user would, vectorized over the rows
  (forward and backward pass as matrix products, the factors as Gram matrices,
  SciPy's ``cho_factor``/``cho_solve`` per layer). Its iterates are compared
  with riemgrad's (the same recursion: they agree to rounding).
- JAX (optional): the same recursion in ``jax.numpy``, the whole run one jitted
  ``lax.fori_loop`` (float64), as a JAX user would write it; iterates compared too.
- kfac-jax (optional; ``pip install kfac-jax``): ``kfac_jax.Optimizer`` with
  the exact GGN curvature (``estimation_mode="ggn_curvature_prop"``, equal to
  the true Fisher for this normal output), fixed learning rate 0.2, momentum 0,
  damping 1e-2, ``curvature_ema=0.95``, ``inverse_update_period=1``, jitted,
  after its warm-up step. Its damping and pi-rule are its own, so its iterates
  differ; its loss after the run is printed beside. kfac-jax 0.0.8 (the
  newest on PyPI when this was written) fails on JAX 0.10.2, the venv's, inside
  its tracer (``eqn.primitive.get_bind_params`` returns three values there):
  the row then says "failed" with the error.

It prints the time per iteration, the loss after the timed steps, and the ratio
other / riemgrad (above 1: riemgrad faster).
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

H, LAM, DECAY, LR = 16, 1e-2, 0.95, 0.2


def problem(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, n)
    Y = np.sin(3 * X) + 0.1 * rng.normal(size=n)
    x0 = 0.5 * np.random.default_rng(seed + 1).normal(size=3 * H + 1)
    return X, Y, x0


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


# ---------------------------------------------------------------- riemgrad
def riemgrad_run(X, Y, x0, steps: int, repeat: int):
    import riemgrad as rg
    from riemgrad import models
    from riemgrad.preconditioners import kfac

    m = models.mlp((1, H, 1), "tanh")
    data = m.dataset(X, Y)
    field = rg.compile_data_flow(rg.generalized_gauss_newton_metric(m, data), m.family)
    pre = kfac(damping=LAM, decay=DECAY, inverse_every=1, model=m)
    rg.descend(field, x0, lr=LR, steps=2, preconditioner=pre)  # compile outside the timing
    t, res = _best(lambda: rg.descend(field, x0, lr=LR, steps=steps, preconditioner=pre), repeat)
    return t / steps, float(res.losses[-1]), res.xs[-1]


# ---------------------------------------------------------------- NumPy
def numpy_run(X, Y, x0, steps: int, repeat: int):
    from scipy.linalg import cho_factor, cho_solve

    n = X.size
    ab0 = np.c_[X, np.ones(n)]
    A0 = ab0.T @ ab0 / n  # the first layer's inputs do not move

    def run():
        th = x0.copy()
        Aa0 = Aa1 = Ga0 = Ga1 = None
        for k in range(steps):
            W0, b0, W1, b1 = th[:H], th[H:2 * H], th[2 * H:3 * H], th[3 * H]
            a1 = np.tanh(np.outer(X, W0) + b0)
            r = a1 @ W1 + b1 - Y  # dl/dz
            ds = 1.0 - a1 * a1
            J0 = ds * W1  # dz/ds0 (n, H)
            d0 = J0 * r[:, None]  # dl/ds0
            g = np.concatenate([d0.T @ X, d0.sum(0), a1.T @ r, [r.sum()]]) / n
            ab1 = np.c_[a1, np.ones(n)]
            A1 = ab1.T @ ab1 / n
            G0 = J0.T @ J0 / n  # true Fisher: H = 1 for N(z, 1)
            G1 = np.ones((1, 1))
            if k == 0:
                Aa0, Aa1, Ga0, Ga1 = A0, A1, G0, G1
            else:
                Aa0, Aa1 = DECAY * Aa0 + (1 - DECAY) * A0, DECAY * Aa1 + (1 - DECAY) * A1
                Ga0, Ga1 = DECAY * Ga0 + (1 - DECAY) * G0, DECAY * Ga1 + (1 - DECAY) * G1
            d = np.empty_like(th)
            for A, G, V, put in ((Aa0, Ga0, np.c_[g[:H], g[H:2 * H]], (slice(0, H), slice(H, 2 * H))),
                                 (Aa1, Ga1, np.r_[g[2 * H:3 * H], g[3 * H]][None, :], (slice(2 * H, 3 * H), 3 * H))):
                pi = np.sqrt((np.trace(A) / len(A)) / (np.trace(G) / len(G)))
                cA = cho_factor(A + pi * np.sqrt(LAM) * np.eye(len(A)), lower=True)
                cG = cho_factor(G + np.sqrt(LAM) / pi * np.eye(len(G)), lower=True)
                D = cho_solve(cA, cho_solve(cG, V).T).T  # G^-1 V A^-1
                d[put[0]] = -D[:, :-1].reshape(-1)
                d[put[1]] = -D[:, -1] if D.shape[0] > 1 else -D[0, -1]
            th = th + LR * d
        return th

    t, th = _best(run, repeat)
    W0, b0, W1, b1 = th[:H], th[H:2 * H], th[2 * H:3 * H], th[3 * H]
    loss = float(np.mean((np.tanh(np.outer(X, W0) + b0) @ W1 + b1 - Y) ** 2) / 2)
    return t / steps, loss, th


# ---------------------------------------------------------------- JAX, the same recursion
def jax_run(X, Y, x0, steps: int, repeat: int):
    try:
        import jax
        import jax.numpy as jnp
        from jax.scipy.linalg import cho_factor, cho_solve
    except ImportError as exc:
        return f"not installed ({exc.name})"
    jax.config.update("jax_enable_x64", True)
    n = X.size
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
    ab0 = jnp.stack([Xj, jnp.ones(n)], 1)
    A0 = ab0.T @ ab0 / n

    def solve(A, G, V):
        pi = jnp.sqrt((jnp.trace(A) / A.shape[0]) / (jnp.trace(G) / G.shape[0]))
        cA = cho_factor(A + pi * jnp.sqrt(LAM) * jnp.eye(A.shape[0]), lower=True)
        cG = cho_factor(G + jnp.sqrt(LAM) / pi * jnp.eye(G.shape[0]), lower=True)
        return cho_solve(cA, cho_solve(cG, V).T).T

    def body(k, carry):
        th, Aa0, Aa1, Ga0, Ga1 = carry
        W0, b0, W1, b1 = th[:H], th[H:2 * H], th[2 * H:3 * H], th[3 * H]
        a1 = jnp.tanh(jnp.outer(Xj, W0) + b0)
        r = a1 @ W1 + b1 - Yj
        J0 = (1.0 - a1 * a1) * W1
        d0 = J0 * r[:, None]
        ab1 = jnp.concatenate([a1, jnp.ones((n, 1))], 1)
        A1, G0, G1 = ab1.T @ ab1 / n, J0.T @ J0 / n, jnp.ones((1, 1))
        first = k == 0
        Aa0 = jnp.where(first, A0, DECAY * Aa0 + (1 - DECAY) * A0)
        Aa1 = jnp.where(first, A1, DECAY * Aa1 + (1 - DECAY) * A1)
        Ga0 = jnp.where(first, G0, DECAY * Ga0 + (1 - DECAY) * G0)
        Ga1 = jnp.where(first, G1, DECAY * Ga1 + (1 - DECAY) * G1)
        D0 = solve(Aa0, Ga0, jnp.stack([d0.T @ Xj, d0.sum(0)], 1) / n)
        D1 = solve(Aa1, Ga1, jnp.concatenate([a1.T @ r, r.sum()[None]])[None, :] / n)
        d = jnp.concatenate([D0[:, 0], D0[:, 1], D1[0, :H], D1[0, H:]])
        return th - LR * d, Aa0, Aa1, Ga0, Ga1

    @jax.jit
    def run(th0):
        z = (th0, jnp.zeros((2, 2)), jnp.zeros((H + 1, H + 1)), jnp.zeros((H, H)), jnp.zeros((1, 1)))
        return jax.lax.fori_loop(0, steps, body, z)[0]

    th0 = jnp.asarray(x0)
    run(th0).block_until_ready()  # compile outside the timing
    t, th = _best(lambda: run(th0).block_until_ready(), repeat)
    th = np.asarray(th)
    W0, b0, W1, b1 = th[:H], th[H:2 * H], th[2 * H:3 * H], th[3 * H]
    loss = float(np.mean((np.tanh(np.outer(X, W0) + b0) @ W1 + b1 - Y) ** 2) / 2)
    return t / steps, loss, th


# ---------------------------------------------------------------- kfac-jax
def kfac_jax_run(X, Y, x0, steps: int, repeat: int):
    try:
        import jax
        import jax.numpy as jnp
        import kfac_jax
    except ImportError as exc:
        return f"not installed ({exc.name}); pip install kfac-jax"
    jax.config.update("jax_enable_x64", True)

    def model(p, x):
        h = jnp.tanh(x @ p["w0"] + p["b0"])
        return h @ p["w1"] + p["b1"]

    def loss(p, batch):
        x, y = batch
        f = model(p, x)
        kfac_jax.register_normal_predictive_distribution(f, y, variance=1.0)
        return jnp.mean((f - y) ** 2) / 2

    params = {"w0": jnp.asarray(x0[:H][None, :]), "b0": jnp.asarray(x0[H:2 * H]),
              "w1": jnp.asarray(x0[2 * H:3 * H][:, None]), "b1": jnp.asarray(x0[3 * H:][None, :][0])}
    batch = (jnp.asarray(X[:, None]), jnp.asarray(Y[:, None]))
    opt = kfac_jax.Optimizer(
        value_and_grad_func=jax.value_and_grad(loss), l2_reg=0.0, use_adaptive_learning_rate=False,
        use_adaptive_momentum=False, use_adaptive_damping=False, curvature_ema=DECAY, inverse_update_period=1,
        estimation_mode="ggn_curvature_prop", num_burnin_steps=0, multi_device=False,
    )
    rng = jax.random.PRNGKey(0)
    lr, mom, damp = jnp.asarray(LR), jnp.asarray(0.0), jnp.asarray(LAM)

    def run(k):
        p, state = params, opt.init(params, rng, batch)
        for _ in range(k):
            p, state, stats = opt.step(p, state, rng, batch=batch, learning_rate=lr, momentum=mom, damping=damp)
        jax.block_until_ready(p)
        return p, state

    p, state = run(2)  # compile outside the timing

    def timed():
        q, s = p, state
        for _ in range(steps):
            q, s, stats = opt.step(q, s, rng, batch=batch, learning_rate=lr, momentum=mom, damping=damp)
        jax.block_until_ready(q)
        return q

    t, _ = _best(timed, repeat)
    q, _ = run(steps)  # the loss after `steps` steps from x0 (a fresh run, untimed)
    return t / steps, float(loss_plain(q, X, Y)), None


def loss_plain(p, X, Y):
    f = np.tanh(X[:, None] @ np.asarray(p["w0"]) + np.asarray(p["b0"])) @ np.asarray(p["w1"]) + np.asarray(p["b1"])
    return np.mean((f[:, 0] - Y) ** 2) / 2


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200, help="iterations timed (default 200)")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs (default 3)")
    ap.add_argument("--n", type=int, default=1_000)
    ap.add_argument("--quick", action="store_true", help="50 iterations, best of 1")
    ap.add_argument("--no-jax", action="store_true", help="skip JAX and kfac-jax")
    args = ap.parse_args(argv)
    steps, repeat = (50, 1) if args.quick else (args.steps, args.repeat)
    X, Y, x0 = problem(args.n)
    print(f"K-FAC on an MLP 1-{H}-1 tanh, n = {args.n}, {steps} iterations, best of {repeat}, one thread")
    t_rg, l_rg, th_rg = riemgrad_run(X, Y, x0, steps, repeat)
    t_np, l_np, th_np = numpy_run(X, Y, x0, steps, repeat)
    rows = [("riemgrad kfac (compiled)", t_rg, l_rg, 1.0), ("NumPy K-FAC (same recursion)", t_np, l_np, t_np / t_rg)]
    if not args.no_jax:
        got = jax_run(X, Y, x0, steps, repeat)
        if isinstance(got, str):
            print(f"JAX: {got}")
        else:
            rows.append(("JAX K-FAC (same recursion, jit)", got[0], got[1], got[0] / t_rg))
            print(f"riemgrad vs JAX iterates: max |diff| = {np.abs(th_rg - got[2]).max():.2e}")
        try:
            got = kfac_jax_run(X, Y, x0, steps, repeat)
        except Exception as exc:  # kfac-jax 0.0.8 does not run on JAX 0.10 (get_bind_params changed)
            got = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        if isinstance(got, str):
            print(f"kfac-jax: {got}")
        else:
            rows.append(("kfac-jax (ggn_curvature_prop, jit)", got[0], got[1], got[0] / t_rg))
    print(f"{'method':38s} {'ms/iter':>9s} {'loss':>10s} {'ratio':>8s}")
    for name, t, l, r in rows:
        print(f"{name:38s} {t * 1e3:9.3f} {l:10.5f} {r:8.2f}")
    print(f"riemgrad vs NumPy iterates: max |diff| = {np.abs(th_rg - th_np).max():.2e}")


if __name__ == "__main__":
    main()
