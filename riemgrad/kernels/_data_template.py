"""The fixed part of a generated data kernel: row loops, accumulation, solves, descent and RK4.

The generated part (see :mod:`riemgrad.kernels.data_kernels`) defines, above
this text, the constants ``DIM`` (coordinates), ``NF`` (factors of an "outer"
metric), ``KIND`` (0 outer, 1 matrix) and three functions that loop over the
rows of the data matrix ``Z`` with the coordinates loaded once and the gradient
summed in local scalars:

- ``_rows_loss(th, Z)``: the sum of the per-example losses;
- ``_rows_grad(th, Z, g)``: g = the sum of the per-example gradients;
- ``_rows_full(th, Z, mode, g, U, W, G, a, sq)``: the gradients into ``g`` and
  the metric: for KIND 0 each row's factors ``U[a, :]`` and weights ``W[a]`` go
  through ``_outer`` (defined here), for KIND 1 the per-example matrix's lower
  triangle is added into ``G``.

Modes: 0 gradient only (identity metric), 1 metric by Cholesky of the
averaged Gram/Hessian matrix, 2 metric by a streamed Givens QR of the rows
sqrt(w_a / n) u_a (KIND 0 only; the Gram matrix is never formed). Damping
lam adds lam * I (mode 1) or the rows sqrt(lam) e_k (mode 2).
"""

TEMPLATE = r'''

# ---------------------------------------------------------------- fixed part
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
def _outer(mode, U, W, G, a, sq):
    # One row's factors into the metric: the Gram matrix's lower triangle (mode 1) or the R factor (mode 2).
    for f in range(NF):
        w = W[f]
        if mode == 1:
            for r in range(DIM):
                wr = w * U[f, r]
                for c in range(r + 1):
                    G[r, c] += wr * U[f, c]
        else:
            sw = math.sqrt(w) * sq
            for r in range(DIM):
                a[r] = sw * U[f, r]
            _givens(G, a)


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _accumulate(th, Z, mode, lam, g, G, U, W, a):
    n = Z.shape[0]
    for r in range(DIM):
        for c in range(DIM):
            G[r, c] = 0.0
    if mode == 0:
        _rows_grad(th, Z, g)
    else:
        _rows_full(th, Z, mode, g, U, W, G, a, 1.0 / math.sqrt(n))
    inv = 1.0 / n
    for k in range(DIM):
        g[k] *= inv
    if mode == 1:
        for r in range(DIM):
            for c in range(r + 1):
                G[r, c] *= inv
            G[r, r] += lam
    elif mode == 2 and lam > 0.0:
        sl = math.sqrt(lam)
        for e in range(DIM):
            for r in range(DIM):
                a[r] = 0.0
            a[e] = sl
            _givens(G, a)
    return 0


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _solve(G, g, v, mode):
    # v = G^{-1} g with G's lower triangle (mode 1, factorized in place) or v = (R^T R)^{-1} g (mode 2).
    if mode == 0:
        for k in range(DIM):
            v[k] = g[k]
        return 0
    if mode == 1:
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
def _check(th, dom):
    for k in range(DIM):
        if not math.isfinite(th[k]):
            return 2
        if dom[k] == 1 and not th[k] > 0.0:
            return 1
        if dom[k] == -1 and not th[k] < 0.0:
            return 1
    return 0


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _velocity(th, Z, mode, lam, g, G, U, W, a, v):
    # v = -(G + lam I)^{-1} grad L; returns a status code.
    _accumulate(th, Z, mode, lam, g, G, U, W, a)
    for k in range(DIM):
        if not math.isfinite(g[k]):
            return 2
    st = _solve(G, g, v, mode)
    for k in range(DIM):
        v[k] = -v[k]
    return st


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _evaluate(X, Z, mode, lam, LOSS, GRAD, MET, VEL, STATUS):
    g = np.zeros(DIM)
    G = np.zeros((DIM, DIM))
    U = np.zeros((max(NF, 1), DIM))
    W = np.zeros(max(NF, 1))
    a = np.zeros(DIM)
    v = np.zeros(DIM)
    for b in range(X.shape[0]):
        th = X[b]
        _accumulate(th, Z, mode, lam, g, G, U, W, a)
        LOSS[b] = _rows_loss(th, Z) / Z.shape[0]
        for r in range(DIM):
            GRAD[b, r] = g[r]
            for c in range(DIM):
                if mode == 1:
                    MET[b, r, c] = G[max(r, c), min(r, c)]
                elif mode == 2:
                    t = 0.0
                    for k in range(min(r, c) + 1):
                        t += G[k, r] * G[k, c]
                    MET[b, r, c] = t
        STATUS[b] = _solve(G, g, v, mode)
        for r in range(DIM):
            VEL[b, r] = -v[r]


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _losses(X, Z, OUT):
    for b in range(X.shape[0]):
        OUT[b] = _rows_loss(X[b], Z) / Z.shape[0]


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _descend(X, Z, lr, steps, mode, lam, dom, save_idx, XS, STATUS, KF):
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
        si = 0
        st = _check(th, dom)
        if si < ns and save_idx[si] == 0 and st == 0:
            for k in range(DIM):
                XS[si, b, k] = th[k]
            si += 1
        KF[b] = 0
        for step in range(1, steps + 1):
            if st != 0:
                break
            st = _velocity(th, Z, mode, lam, g, G, U, W, a, v)
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
def _rk4(X, Z, dt, nsteps, mode, lam, dom, save_idx, XS, STATUS, KF):
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
        si = 0
        st = _check(th, dom)
        if si < ns and save_idx[si] == 0 and st == 0:
            for k in range(DIM):
                XS[si, b, k] = th[k]
            si += 1
        KF[b] = 0
        for step in range(1, nsteps + 1):
            if st != 0:
                break
            st = _velocity(th, Z, mode, lam, g, G, U, W, a, k1)
            if st == 0:
                for k in range(DIM):
                    y[k] = th[k] + 0.5 * dt * k1[k]
                st = _check(y, dom)
                if st == 0:
                    st = _velocity(y, Z, mode, lam, g, G, U, W, a, k2)
            if st == 0:
                for k in range(DIM):
                    y[k] = th[k] + 0.5 * dt * k2[k]
                st = _check(y, dom)
                if st == 0:
                    st = _velocity(y, Z, mode, lam, g, G, U, W, a, k3)
            if st == 0:
                for k in range(DIM):
                    y[k] = th[k] + dt * k3[k]
                st = _check(y, dom)
                if st == 0:
                    st = _velocity(y, Z, mode, lam, g, G, U, W, a, k4)
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
