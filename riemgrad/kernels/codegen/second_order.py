"""Source of the second-order descent preconditioners: L-BFGS and Levenberg-Marquardt.

Pieces of the chunk kernels of :func:`.template._descent` (the descent kinds ``"lbfgs"`` and
``"lm"`` of :data:`riemgrad.kernels.abi.KERNEL_KINDS`), written out per trajectory: each
trajectory of a chunk has its own history (L-BFGS) or damping (Levenberg-Marquardt). The
NumPy twins, which compute the same numbers, are in :mod:`riemgrad.flows.quasi_newton`.

``hyper`` holds ``(history, curvature_eps, 0)`` for L-BFGS and ``(damping, diagonal, schedule)``
for Levenberg-Marquardt (``diagonal``, ``schedule`` 0.0 or 1.0); the kernels read them as
``a, b, eps``.
"""

from ..abi import CODE

__all__ = ["LBFGS_STATE", "LBFGS_DIRECTION", "LM_STATE", "LM_DIRECTION", "LM_ACCEPT", "LM_MU_MIN", "LM_MU_MAX"]

#: Bounds of the Levenberg-Marquardt damping under the schedule (a run of rejections must not overflow
#: it to inf, nor a run of successes underflow it to 0, from which ``mu *= nu`` could not recover).
LM_MU_MIN, LM_MU_MAX = 1e-300, 1e300
#: Bound of the growth factor ``nu`` (doubling on each rejection).
_NU_MAX = 2.0**60

LBFGS_STATE = """\
    hist = max(1, int(a + 0.5))
    SS = np.zeros((hist, DIM, m))
    YY = np.zeros((hist, DIM, m))
    RH = np.zeros((hist, m))
    GAM = np.ones(m)
    AL = np.zeros(hist)
    cnt = np.zeros(m, np.int64)
    head = np.zeros(m, np.int64)
    xp = np.zeros((DIM, m))
    gp = np.zeros((DIM, m))
    q = np.zeros(DIM)
"""

# s = x_n - x_{n-1}, y = g_n - g_{n-1} of the last accepted step (s = 0 after a refused step: skipped);
# the pair is kept when s.y > eps |s| |y| (curvature condition), in a ring buffer of `hist` pairs; a skipped
# pair also empties the buffer (restart: see flows.quasi_newton.lbfgs). Direction: the two-loop recursion
# with H0 = gamma I, gamma = s.y / y.y of the newest kept pair (1 before any; kept across a restart).
LBFGS_DIRECTION = """\
        _grad_batch(x, p, g)
        for j in range(m):
            if status[j] != 0:
                continue
            if n > 0:
                sy = 0.0
                ss = 0.0
                yy = 0.0
                for k in range(DIM):
                    sk = x[k, j] - xp[k, j]
                    yk = g[k, j] - gp[k, j]
                    sy += sk * yk
                    ss += sk * sk
                    yy += yk * yk
                if sy > b * math.sqrt(ss) * math.sqrt(yy):
                    h = head[j]
                    for k in range(DIM):
                        SS[h, k, j] = x[k, j] - xp[k, j]
                        YY[h, k, j] = g[k, j] - gp[k, j]
                    RH[h, j] = 1.0 / sy
                    GAM[j] = sy / yy
                    head[j] = (h + 1) % hist
                    cnt[j] = min(cnt[j] + 1, hist)
                else:
                    cnt[j] = 0
                    head[j] = 0
            for k in range(DIM):
                xp[k, j] = x[k, j]
                gp[k, j] = g[k, j]
                q[k] = g[k, j]
            c = cnt[j]
            for i in range(c):
                h = (head[j] - 1 - i + hist) % hist
                t = 0.0
                for k in range(DIM):
                    t += SS[h, k, j] * q[k]
                t *= RH[h, j]
                AL[i] = t
                for k in range(DIM):
                    q[k] -= t * YY[h, k, j]
            gam = GAM[j]
            for k in range(DIM):
                q[k] *= gam
            for i in range(c - 1, -1, -1):
                h = (head[j] - 1 - i + hist) % hist
                t = 0.0
                for k in range(DIM):
                    t += YY[h, k, j] * q[k]
                t = AL[i] - RH[h, j] * t
                for k in range(DIM):
                    q[k] += t * SS[h, k, j]
            for k in range(DIM):
                d[k, j] = -q[k]
"""

LM_STATE = """\
    GM = np.empty((DIM, DIM))
    wl = np.empty(DIM * DIM + DIM)
    dg = np.empty(DIM)
    mu = np.full(m, max(a, LM_MU_MIN_))
    nu = np.full(m, 2.0)
    gd = np.zeros(m)
    dd = np.zeros(m)
    diag = b > 0.5
    sched = eps > 0.5
""".replace("LM_MU_MIN_", repr(LM_MU_MIN))

# d = -(G + mu D)^{-1} g, D = I or diag(G), by the inlined Cholesky solve; flag: NONFINITE for a
# non-finite G or g, SINGULAR_METRIC when G + mu D is not numerically positive definite.
# gd = g.d and dd = d.D.d give the predicted decrease of the quadratic model (see LM_ACCEPT).
LM_DIRECTION = f"""\
        _grad_batch(x, p, g)
        for j in range(m):
            flag[j] = 0
            for k in range(DIM):
                d[k, j] = 0.0
            if status[j] != 0:
                continue
            _metric(x, j, p, GM)
            fin = True
            for k in range(DIM):
                dg[k] = GM[k, k] if diag else 1.0
                fin = fin and math.isfinite(g[k, j])
                for c in range(k + 1):
                    wl[k * DIM + c] = GM[k, c]
                    fin = fin and math.isfinite(GM[k, c])
                wl[k * DIM + k] += mu[j] * dg[k]
                wl[DIM * DIM + k] = g[k, j]
            if not fin:
                flag[j] = {CODE["NONFINITE"]}
            elif _chol_solve(wl) != 0:
                flag[j] = {CODE["SINGULAR_METRIC"]}
            else:
                s1 = 0.0
                s2 = 0.0
                for k in range(DIM):
                    d[k, j] = -wl[DIM * DIM + k]
                    s1 += g[k, j] * d[k, j]
                    s2 += d[k, j] * dg[k] * d[k, j]
                gd[j] = s1
                dd[j] = s2
"""

# The damping schedule of Nielsen (1999) as in Madsen, Nielsen & Tingleff (2004), sec. 3.2:
# h = lr d, pred = L(x) - model(x + h) = -(g.h + h.G.h / 2) = -lr g.d + lr^2 (g.d + mu d.D.d) / 2
# (since (G + mu D) d = -g), rho = (L(x) - L(x + h)) / pred; rho > 0: accept, mu *= max(1/3, 1 - (2 rho - 1)^3),
# nu = 2; else stay, mu *= nu, nu *= 2. A trial step outside the domain or with a non-finite loss, and a
# singular G + mu D, count as rejections; pred <= 0 (a zero gradient) leaves x and mu as they are.
LM_ACCEPT = f"""\
        for k in range(DIM):
            for j in range(m):
                xt[k, j] = x[k, j] + lr * d[k, j]
        for j in range(m):
            if status[j] != 0:
                continue
            s = flag[j]
            if s == {CODE["NONFINITE"]}:
                status[j] = s
                continue
            acc = False
            rho = 0.0
            rej = s != 0
            if s == 0:
                pred = -lr * gd[j] + 0.5 * lr * lr * (gd[j] + mu[j] * dd[j])
                if pred > 0.0:
                    rej = True
                    if _check_point(xt, j) == 0:
                        lt = _loss(xt, j, p)
                        if math.isfinite(lt):
                            rho = (_loss(x, j, p) - lt) / pred
                            if rho > 0.0:
                                acc = True
                                rej = False
            if acc:
                for k in range(DIM):
                    x[k, j] = xt[k, j]
                t = 2.0 * rho - 1.0
                mu[j] = max(mu[j] * max(1.0 / 3.0, 1.0 - t * t * t), {LM_MU_MIN!r})
                nu[j] = 2.0
            elif rej:
                if s != 0 and mu[j] >= {LM_MU_MAX!r}:
                    status[j] = s
                    continue
                mu[j] = min(mu[j] * nu[j], {LM_MU_MAX!r})
                nu[j] = min(2.0 * nu[j], {_NU_MAX!r})
            tlast[j] = n + 1.0
"""
