"""The fixed part of a generated data kernel: accumulation, solves, descent and RK4.

The generated part (see :mod:`riemgrad.kernels.data_kernels`) defines, above
this text, the constants ``DIM`` (coordinates), ``NF`` (factors of an "outer"
metric), ``KIND`` (0 outer, 1 matrix) and three functions that loop over the
rows of the data matrix ``Z`` with the coordinates loaded once and the gradient
summed in local scalars:

- ``_rows_loss(th, Z)``: the sum of the per-example losses;
- ``_rows_grad(th, Z, g)``: g = the sum of the per-example gradients;
- ``_rows_full(th, Z, g, U, W, G, a, sq)``: the gradients into ``g`` and the
  metric: for KIND 0 each row's factors ``U[a, :]`` and weights ``W[a]`` go
  through the inlined ``_outer`` (written for the field's solver), for KIND 1
  the per-example matrix's lower triangle is added into ``G``.

Each module is written for one solver (:data:`SOLVER_PARTS`): "cholesky"
(the averaged Gram/Hessian matrix, factorized in place) or "qr" (a streamed
Givens QR of the rows sqrt(w_a / n) u_a; the Gram matrix is never formed).
Damping lam adds lam * I, or the rows sqrt(lam) e_k. Every run comes in two
variants, ``_0`` (gradient only, the identity metric) and ``_m`` (the metric),
so that Numba compiles only the variant a run calls: a first Newton step
never compiles the gradient-only loop, nor a Cholesky field the Givens code.
"""

#: Per solver: the row-to-metric update ``_outer`` (inlined into ``_rows_full``), the damping and the solve.
SOLVER_PARTS = {
    "cholesky": r'''
@njit(cache=True, fastmath=False, error_model="numpy", nogil=True, inline="always")
def _outer(U, W, G, a, sq):
    for f in range(NF):
        w = W[f]
        for r in range(DIM):
            wr = w * U[f, r]
            for c in range(r + 1):
                G[r, c] += wr * U[f, c]


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True, inline="always")
def _finish(G, lam, inv, a):
    for r in range(DIM):
        for c in range(r + 1):
            G[r, c] *= inv
        G[r, r] += lam


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _solve(G, g, v):
    # v = G^{-1} g by Cholesky of G's lower triangle, factorized in place; 3 if not positive definite.
    for c in range(DIM):
        s = G[c, c]
        d = abs(s)
        for k in range(c):
            s -= G[c, k] * G[c, k]
        if not s > 1e-14 * d:
            return 3
        s = math.sqrt(s)
        G[c, c] = s
        for r in range(c + 1, DIM):
            t = G[r, c]
            for k in range(c):
                t -= G[r, k] * G[c, k]
            G[r, c] = t / s
    for r in range(DIM):
        t = g[r]
        for k in range(r):
            t -= G[r, k] * v[k]
        v[r] = t / G[r, r]
    for r in range(DIM - 1, -1, -1):
        t = v[r]
        for k in range(r + 1, DIM):
            t -= G[k, r] * v[k]
        v[r] = t / G[r, r]
    return 0


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True, inline="always")
def _metric_entry(G, r, c):
    return G[max(r, c), min(r, c)]
''',
    "qr": r'''
@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _givens(R, a):
    for k in range(DIM):
        ak = a[k]
        if ak == 0.0:
            continue
        r = R[k, k]
        h = math.hypot(r, ak)
        c = r / h
        s = ak / h
        R[k, k] = h
        for j in range(k + 1, DIM):
            t = R[k, j]
            u = a[j]
            R[k, j] = c * t + s * u
            a[j] = c * u - s * t


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True, inline="always")
def _outer(U, W, G, a, sq):
    for f in range(NF):
        sw = math.sqrt(W[f]) * sq
        for r in range(DIM):
            a[r] = sw * U[f, r]
        _givens(G, a)


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True, inline="always")
def _finish(G, lam, inv, a):
    if lam > 0.0:
        sl = math.sqrt(lam)
        for e in range(DIM):
            for r in range(DIM):
                a[r] = 0.0
            a[e] = sl
            _givens(G, a)


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _solve(G, g, v):
    # v = (R^T R)^{-1} g with R the streamed factor; 3 if R is numerically singular.
    big = 0.0
    for k in range(DIM):
        big = max(big, abs(G[k, k]))
    for k in range(DIM):
        if not abs(G[k, k]) > 1e-14 * big:
            return 3
    for r in range(DIM):  # R^T y = g
        t = g[r]
        for k in range(r):
            t -= G[k, r] * v[k]
        v[r] = t / G[r, r]
    for r in range(DIM - 1, -1, -1):  # R v = y
        t = v[r]
        for k in range(r + 1, DIM):
            t -= G[r, k] * v[k]
        v[r] = t / G[r, r]
    return 0


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _metric_entry(G, r, c):
    t = 0.0
    for k in range(min(r, c) + 1):
        t += G[k, r] * G[k, c]
    return t
''',
}

#: The status of a point: 2 not finite, 1 outside the chart's domain (``dom``: 1 positive, -1 negative), else 0.
#: Shared by the data kernels and the Hessian-free kernels (:mod:`._hf_template`).
CHECK = r'''
@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _check(th, dom):
    for k in range(DIM):
        if not math.isfinite(th[k]):
            return 2
        if dom[k] == 1 and not th[k] > 0.0:
            return 1
        if dom[k] == -1 and not th[k] < 0.0:
            return 1
    return 0
'''

#: The start of every run over data, per starting point ``th`` (loaded from ``X[b]``): its domain check,
#: step 0 recorded when asked, the last-step counter reset. Pasted into the runs (the data runs below, the
#: second-order runs and Hessian-free's), like CHECK.
START = r'''
        si = 0
        st = _check(th, dom)
        if si < ns and save_idx[si] == 0 and st == 0:
            for k in range(DIM):
                XS[si, b, k] = th[k]
            si += 1
        KF[b] = 0
'''[1:]


def step_loop(steps: str) -> str:
    """The head of every step loop over data: stop on a failed status or the control row's stop flag
    (``CTL[0]``, abi.CONTROL_STOP, set by Ctrl-C), count the step (``CTL[1]``, abi.CONTROL_DONE)."""
    return (f"        for step in range(1, {steps} + 1):\n"
            "            if st != 0 or CTL[0] != 0:\n"
            "                break\n"
            "            CTL[1] += 1\n")


TEMPLATE = r'''

# ---------------------------------------------------------------- fixed part
''' + CHECK + r'''


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _velocity_0(th, Z, lam, g, G, U, W, a, v):
    # v = -grad L (the identity metric); returns a status code.
    _rows_grad(th, Z, g)
    inv = 1.0 / Z.shape[0]
    for k in range(DIM):
        g[k] *= inv
        if not math.isfinite(g[k]):
            return 2
        v[k] = -g[k]
    return 0


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _velocity_m(th, Z, lam, g, G, U, W, a, v):
    # v = -(G + lam I)^{-1} grad L with G = E_data[m]; returns a status code.
    n = Z.shape[0]
    for r in range(DIM):
        for c in range(DIM):
            G[r, c] = 0.0
    _rows_full(th, Z, g, U, W, G, a, 1.0 / math.sqrt(n))
    inv = 1.0 / n
    for k in range(DIM):
        g[k] *= inv
        if not math.isfinite(g[k]):
            return 2
    _finish(G, lam, inv, a)
    st = _solve(G, g, v)
    for k in range(DIM):
        v[k] = -v[k]
    return st


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _gradients(X, Z, GRAD):
    g = np.zeros(DIM)
    for b in range(X.shape[0]):
        _rows_grad(X[b], Z, g)
        for r in range(DIM):
            GRAD[b, r] = g[r] / Z.shape[0]


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _evaluate(X, Z, lam, GRAD, MET, VEL, STATUS):
    # The gradient, the metric (+ lam I) and the velocity at each point, by the field's solver.
    g = np.zeros(DIM)
    G = np.zeros((DIM, DIM))
    U = np.zeros((max(NF, 1), DIM))
    W = np.zeros(max(NF, 1))
    a = np.zeros(DIM)
    v = np.zeros(DIM)
    n = Z.shape[0]
    for b in range(X.shape[0]):
        for r in range(DIM):
            for c in range(DIM):
                G[r, c] = 0.0
        _rows_full(X[b], Z, g, U, W, G, a, 1.0 / math.sqrt(n))
        _finish(G, lam, 1.0 / n, a)
        for r in range(DIM):
            g[r] /= n
            GRAD[b, r] = g[r]
            for c in range(DIM):
                MET[b, r, c] = _metric_entry(G, r, c)
        STATUS[b] = _solve(G, g, v)
        for r in range(DIM):
            VEL[b, r] = -v[r]


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _losses(X, Z, OUT):
    for b in range(X.shape[0]):
        OUT[b] = _rows_loss(X[b], Z) / Z.shape[0]


'''

#: The runs, written once with SUFFIX standing for the velocity variant (_0 or _m).
RUNS = r'''
@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _descendSUFFIX(X, Z, lr, steps, lam, dom, save_idx, XS, STATUS, KF, CTL):
    g = np.zeros(DIM)
    G = np.zeros((DIM, DIM))
    U = np.zeros((max(NF, 1), DIM))
    W = np.zeros(max(NF, 1))
    a = np.zeros(DIM)
    v = np.zeros(DIM)
    th = np.zeros(DIM)
    ns = save_idx.shape[0]
    for b in range(X.shape[0]):
        for k in range(DIM):
            th[k] = X[b, k]
''' + START + step_loop("steps") + r'''            st = _velocitySUFFIX(th, Z, lam, g, G, U, W, a, v)
            if st != 0:
                break
            for k in range(DIM):
                th[k] += lr * v[k]
            st = _check(th, dom)
            if st != 0:
                break
            KF[b] = step
            while si < ns and save_idx[si] == step:
                for k in range(DIM):
                    XS[si, b, k] = th[k]
                si += 1
        STATUS[b] = st


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _rk4SUFFIX(X, Z, dt, nsteps, lam, dom, save_idx, XS, STATUS, KF, CTL):
    g = np.zeros(DIM)
    G = np.zeros((DIM, DIM))
    U = np.zeros((max(NF, 1), DIM))
    W = np.zeros(max(NF, 1))
    a = np.zeros(DIM)
    th = np.zeros(DIM)
    y = np.zeros(DIM)
    k1 = np.zeros(DIM)
    k2 = np.zeros(DIM)
    k3 = np.zeros(DIM)
    k4 = np.zeros(DIM)
    ns = save_idx.shape[0]
    for b in range(X.shape[0]):
        for k in range(DIM):
            th[k] = X[b, k]
''' + START + step_loop("nsteps") + r'''            st = _velocitySUFFIX(th, Z, lam, g, G, U, W, a, k1)
            if st == 0:
                for k in range(DIM):
                    y[k] = th[k] + 0.5 * dt * k1[k]
                st = _check(y, dom)
                if st == 0:
                    st = _velocitySUFFIX(y, Z, lam, g, G, U, W, a, k2)
            if st == 0:
                for k in range(DIM):
                    y[k] = th[k] + 0.5 * dt * k2[k]
                st = _check(y, dom)
                if st == 0:
                    st = _velocitySUFFIX(y, Z, lam, g, G, U, W, a, k3)
            if st == 0:
                for k in range(DIM):
                    y[k] = th[k] + dt * k3[k]
                st = _check(y, dom)
                if st == 0:
                    st = _velocitySUFFIX(y, Z, lam, g, G, U, W, a, k4)
            if st != 0:
                break
            for k in range(DIM):
                th[k] += dt / 6.0 * (k1[k] + 2.0 * k2[k] + 2.0 * k3[k] + k4[k])
            st = _check(th, dom)
            if st != 0:
                break
            KF[b] = step
            while si < ns and save_idx[si] == step:
                for k in range(DIM):
                    XS[si, b, k] = th[k]
                si += 1
        STATUS[b] = st
'''
