"""L-BFGS and Levenberg-Marquardt over data rows: runs appended to every generated data module (issue 11).

Written on the helpers of :mod:`._data_template` (``_rows_loss``, ``_rows_grad``, ``_rows_full``,
``_finish``, ``_metric_entry``, ``_check``), which they do not change. Used by
:meth:`riemgrad.kernels.DataField.descend` for :func:`riemgrad.preconditioners.lbfgs` and
:func:`riemgrad.preconditioners.levenberg_marquardt`.
"""

from ._data_template import START, step_loop
from .codegen.second_order import LM_MU_MAX, LM_MU_MIN

__all__ = ["SECOND_ORDER_RUNS"]

#: L-BFGS and Levenberg-Marquardt over the rows (issue 11): new runs appended to every data module, written
#: on the helpers above (``_rows_loss``, ``_rows_grad``, ``_rows_full``, ``_finish``, ``_metric_entry``,
#: ``_check``) without changing them. They follow the descent kernels of flows (riemgrad.kernels.codegen.
#: second_order: the same pair rule, restart, two-loop recursion, Armijo backtracking and Nielsen schedule),
#: per trajectory. ``hyper``: (history, curvature_eps, backtrack) for L-BFGS; (damping, diagonal, schedule)
#: for Levenberg-Marquardt (flags 0.0 or 1.0). LM reads the metric as a dense matrix through
#: ``_metric_entry`` (for the "qr" solver R^T R) and solves G + mu D by its own Cholesky, ``_lm_solve``.
SECOND_ORDER_RUNS = (r'''

@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _armijo(th, d, g, Z, lr, dom, tt):
    # The Armijo step of the flows' descent kernels: th <- th + eta d with eta = lr, lr / 2, ... (60 tries)
    # and L(th + eta d) <= L(th) + 1e-4 eta g.d inside the domain; th stays when none is found or g.d >= 0.
    inv = 1.0 / Z.shape[0]
    slope = 0.0
    for k in range(DIM):
        slope += g[k] * d[k]
    if not slope < 0.0:
        return
    l0 = _rows_loss(th, Z) * inv
    eta = lr
    for _ in range(60):
        for k in range(DIM):
            tt[k] = th[k] + eta * d[k]
        if _check(tt, dom) == 0 and _rows_loss(tt, Z) * inv <= l0 + 1e-4 * eta * slope:
            for k in range(DIM):
                th[k] = tt[k]
            return
        eta *= 0.5


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _descend_lbfgs(X, Z, lr, steps, dom, save_idx, hyper, XS, STATUS, KF, CTL):
    hist = max(1, int(hyper[0] + 0.5))
    ceps = hyper[1]
    backtrack = hyper[2] > 0.5
    inv = 1.0 / Z.shape[0]
    SS = np.zeros((hist, DIM))
    YY = np.zeros((hist, DIM))
    RH = np.zeros(hist)
    AL = np.zeros(hist)
    g = np.zeros(DIM)
    gp = np.zeros(DIM)
    thp = np.zeros(DIM)
    q = np.zeros(DIM)
    tt = np.zeros(DIM)
    th = np.zeros(DIM)
    ns = save_idx.shape[0]
    for b in range(X.shape[0]):
        for k in range(DIM):
            th[k] = X[b, k]
''' + START + r'''        cnt = 0
        head = 0
        gam = 1.0
''' + step_loop("steps") + r'''            _rows_grad(th, Z, g)
            for k in range(DIM):
                g[k] *= inv
                if not math.isfinite(g[k]):
                    st = 2
            if st != 0:
                break
            if step > 1:  # the pair of the last step (s = 0 after a refused one: a restart)
                sy = 0.0
                ss = 0.0
                yy = 0.0
                for k in range(DIM):
                    sk = th[k] - thp[k]
                    yk = g[k] - gp[k]
                    sy += sk * yk
                    ss += sk * sk
                    yy += yk * yk
                if sy > ceps * math.sqrt(ss) * math.sqrt(yy):
                    for k in range(DIM):
                        SS[head, k] = th[k] - thp[k]
                        YY[head, k] = g[k] - gp[k]
                    RH[head] = 1.0 / sy
                    gam = sy / yy
                    head = (head + 1) % hist
                    cnt = min(cnt + 1, hist)
                else:
                    cnt = 0
                    head = 0
            for k in range(DIM):
                thp[k] = th[k]
                gp[k] = g[k]
                q[k] = g[k]
            for i in range(cnt):
                h = (head - 1 - i + hist) % hist
                t = 0.0
                for k in range(DIM):
                    t += SS[h, k] * q[k]
                t *= RH[h]
                AL[i] = t
                for k in range(DIM):
                    q[k] -= t * YY[h, k]
            for k in range(DIM):
                q[k] *= gam
            for i in range(cnt - 1, -1, -1):
                h = (head - 1 - i + hist) % hist
                t = 0.0
                for k in range(DIM):
                    t += YY[h, k] * q[k]
                t = AL[i] - RH[h] * t
                for k in range(DIM):
                    q[k] += t * SS[h, k]
            for k in range(DIM):
                q[k] = -q[k]
            if backtrack:
                _armijo(th, q, g, Z, lr, dom, tt)
            else:
                for k in range(DIM):
                    th[k] += lr * q[k]
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
def _lm_solve(M, mu, dg, g, L, d):
    # d = -(M + mu diag(dg))^{-1} g by a dense Cholesky into L; 3 if not numerically positive definite.
    for c in range(DIM):
        s = M[c, c] + mu * dg[c]
        big = abs(s)
        for k in range(c):
            s -= L[c, k] * L[c, k]
        if not s > 1e-14 * big:
            return 3
        s = math.sqrt(s)
        L[c, c] = s
        for r in range(c + 1, DIM):
            t = M[r, c]
            for k in range(c):
                t -= L[r, k] * L[c, k]
            L[r, c] = t / s
    for r in range(DIM):
        t = g[r]
        for k in range(r):
            t -= L[r, k] * d[k]
        d[r] = t / L[r, r]
    for r in range(DIM - 1, -1, -1):
        t = d[r]
        for k in range(r + 1, DIM):
            t -= L[k, r] * d[k]
        d[r] = t / L[r, r]
    for r in range(DIM):
        d[r] = -d[r]
    return 0


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _descend_lm(X, Z, lr, steps, dom, save_idx, hyper, XS, STATUS, KF, CTL):
    mu0 = max(hyper[0], MU_MIN)
    diag = hyper[1] > 0.5
    sched = hyper[2] > 0.5
    n = Z.shape[0]
    inv = 1.0 / n
    g = np.zeros(DIM)
    G = np.zeros((DIM, DIM))
    M = np.zeros((DIM, DIM))
    L = np.zeros((DIM, DIM))
    U = np.zeros((max(NF, 1), DIM))
    W = np.zeros(max(NF, 1))
    a = np.zeros(DIM)
    dg = np.ones(DIM)
    d = np.zeros(DIM)
    tt = np.zeros(DIM)
    th = np.zeros(DIM)
    ns = save_idx.shape[0]
    for b in range(X.shape[0]):
        for k in range(DIM):
            th[k] = X[b, k]
''' + START + r'''        mu = mu0
        nu = 2.0
''' + step_loop("steps") + r'''            for r in range(DIM):
                for c in range(DIM):
                    G[r, c] = 0.0
            _rows_full(th, Z, g, U, W, G, a, 1.0 / math.sqrt(n))
            _finish(G, 0.0, inv, a)
            for r in range(DIM):
                g[r] *= inv
                if not math.isfinite(g[r]):
                    st = 2
                for c in range(DIM):
                    M[r, c] = _metric_entry(G, r, c)
                    if not math.isfinite(M[r, c]):
                        st = 2
            if st != 0:
                break
            for k in range(DIM):
                dg[k] = M[k, k] if diag else 1.0
            flag = _lm_solve(M, mu, dg, g, L, d)
            if not sched:
                if flag != 0:
                    st = flag
                    break
                for k in range(DIM):
                    th[k] += lr * d[k]
            else:
                # Nielsen's gain-ratio schedule, as LM_ACCEPT in riemgrad.kernels.codegen.second_order
                acc = False
                rej = flag != 0
                rho = 0.0
                if flag == 0:
                    gd = 0.0
                    dd = 0.0
                    for k in range(DIM):
                        gd += g[k] * d[k]
                        dd += d[k] * dg[k] * d[k]
                    pred = -lr * gd + 0.5 * lr * lr * (gd + mu * dd)
                    if pred > 0.0:
                        rej = True
                        for k in range(DIM):
                            tt[k] = th[k] + lr * d[k]
                        if _check(tt, dom) == 0:
                            lt = _rows_loss(tt, Z) * inv
                            if math.isfinite(lt):
                                rho = (_rows_loss(th, Z) * inv - lt) / pred
                                if rho > 0.0:
                                    acc = True
                                    rej = False
                if acc:
                    for k in range(DIM):
                        th[k] = tt[k]
                    t = 2.0 * rho - 1.0
                    mu = max(mu * max(1.0 / 3.0, 1.0 - t * t * t), MU_MIN)
                    nu = 2.0
                elif rej:
                    if flag != 0 and mu >= MU_MAX:
                        st = flag
                        break
                    mu = min(mu * nu, MU_MAX)
                    nu = min(2.0 * nu, NU_MAX)
            st = _check(th, dom)
            if st != 0:
                break
            KF[b] = step
            while si < ns and save_idx[si] == step:
                for k in range(DIM):
                    XS[si, b, k] = th[k]
                si += 1
        STATUS[b] = st
''').replace("MU_MIN", repr(LM_MU_MIN)).replace("MU_MAX", repr(LM_MU_MAX)).replace("NU_MAX", repr(2.0**60))
