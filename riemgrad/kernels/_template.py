"""The field-independent half of every generated kernel module.

Generated modules define, for one field, the scalar functions ``_loss``,
``_grad``, ``_metric``, ``_vel`` (on the structure-of-arrays layout ``x[k, j]``,
coordinate k of trajectory j), ``_vels`` (the same velocity on scalars),
``_check_point`` / ``_oks`` (domain checks), the fixed-step steppers (unrolled
over coordinates, see :mod:`riemgrad.kernels.field`) and the constants ``DIM``
and ``WORK``. :func:`template` gives the rest: descent, the adaptive
Dormand-Prince pair and batch evaluation, as plain source appended to each
generated file, so that every file is self-contained and Numba's on-disk cache
can key on it.

Layout: a chunk of at most ``CHUNK`` trajectories is advanced in lockstep, the
time loop outside and the loop over the chunk's trajectories inside, so that
LLVM vectorizes the field across trajectories. Each ``_range`` kernel loops
over the chunks of a range of trajectories itself (:func:`ranged`) and
releases the GIL; the flows layer calls it once for the whole batch, or once
per thread on a thread pool. Saved states are written point-major,
``XS[save, trajectory, coordinate]``, as the results are shaped. Each stepper
and each descent preconditioner is its own function, so only what is used is
compiled.

Status codes (``riemgrad.flows.Status``): 0 success, 1 left the chart's domain,
2 non-finite, 3 singular metric, 4 step budget exhausted, 5 step size too small.
"""

__all__ = ["template", "ranged", "DESCENT_KINDS", "CHUNK"]

#: Trajectories per chunk: the inner, vectorized loop of every ``_range`` kernel.
CHUNK = 512


def ranged(name: str, args: str, body: str) -> str:
    """A kernel ``_{name}_range`` running ``body`` over chunks of the trajectories ``lo:hi``.

    ``body`` is the source of a chunk kernel's body (indented by four spaces):
    it advances the chunk ``x`` (DIM, m) with its ``status`` and ``tlast``
    (length m), and writes its saved states to ``XS[si, off + j, k]``
    (point-major, as the results are shaped; ``off`` is the chunk's first
    trajectory). The wrapper loops over the chunks of at most ``CHUNK``
    trajectories and copies each in and out of the whole-batch arrays ``X``
    (DIM, B), ``STATUS`` and ``TLAST``: one call per thread, with no Python
    between chunks (a call per chunk measured ~15 us of slicing and copies
    each, and threads then wait on each other for the GIL).
    """
    inner = "\n".join(("    " + line) if line.strip() else "" for line in body.rstrip("\n").split("\n"))
    return f"""
@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _{name}_range(X, lo, hi, {args}, nsteps, save_idx, p, hyper, XS, STATUS, TLAST):
    for off in range(lo, hi, CHUNK):
        m = min(hi, off + CHUNK) - off
        x = np.empty((DIM, m))
        status = np.empty(m, np.int64)
        tlast = np.empty(m)
        for k in range(DIM):
            for j in range(m):
                x[k, j] = X[k, off + j]
        for j in range(m):
            status[j] = STATUS[off + j]
            tlast[j] = TLAST[off + j]
{inner}
        for k in range(DIM):
            for j in range(m):
                X[k, off + j] = x[k, j]
        for j in range(m):
            STATUS[off + j] = status[j]
            TLAST[off + j] = tlast[j]
"""


_HELPERS = r"""

# ---------------------------------------------------------------- shared part
@njit(cache=True, fastmath=False, error_model="numpy")
def _chol_solve(w):
    # w[:DIM*DIM] holds G (lower triangle read), w[DIM*DIM:] holds g. On return w[DIM*DIM:] = G^{-1} g
    # and the lower triangle holds the Cholesky factor. Returns 3 when G is not numerically positive definite.
    for c in range(DIM):
        s = w[c * DIM + c]
        d = abs(s)
        for k in range(c):
            s -= w[c * DIM + k] * w[c * DIM + k]
        if not s > 1e-14 * d:
            return 3
        s = math.sqrt(s)
        w[c * DIM + c] = s
        for r in range(c + 1, DIM):
            t = w[r * DIM + c]
            for k in range(c):
                t -= w[r * DIM + k] * w[c * DIM + k]
            w[r * DIM + c] = t / s
    o = DIM * DIM
    for r in range(DIM):
        t = w[o + r]
        for k in range(r):
            t -= w[r * DIM + k] * w[o + k]
        w[o + r] = t / w[r * DIM + r]
    for r in range(DIM - 1, -1, -1):
        t = w[o + r]
        for k in range(r + 1, DIM):
            t -= w[k * DIM + r] * w[o + k]
        w[o + r] = t / w[r * DIM + r]
    return 0


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _qr_solve(w):
    # Least squares min |J v - r| by Householder QR, never forming J^T J.
    # w[:NRES*DIM] holds J (row-major, NRES x DIM), w[NRES*DIM : NRES*DIM+NRES] holds r,
    # w[NRES*DIM+NRES:] receives the diagonal of R. On return w[NRES*DIM : NRES*DIM+DIM] = (J^T J)^{-1} J^T r.
    # Returns 3 when J does not have full column rank numerically.
    n = DIM
    m = NRES
    o = m * n
    dg = o + m
    for k in range(n):
        norm2 = 0.0
        for i in range(k, m):
            norm2 += w[i * n + k] * w[i * n + k]
        full2 = norm2
        for i in range(k):
            full2 += w[i * n + k] * w[i * n + k]
        norm = math.sqrt(norm2)
        if not norm > 1e-13 * math.sqrt(full2):
            return 3
        alpha = -norm if w[k * n + k] >= 0.0 else norm
        w[k * n + k] -= alpha
        vn2 = 0.0
        for i in range(k, m):
            vn2 += w[i * n + k] * w[i * n + k]
        for c in range(k + 1, n):
            s = 0.0
            for i in range(k, m):
                s += w[i * n + k] * w[i * n + c]
            s = 2.0 * s / vn2
            for i in range(k, m):
                w[i * n + c] -= s * w[i * n + k]
        s = 0.0
        for i in range(k, m):
            s += w[i * n + k] * w[o + i]
        s = 2.0 * s / vn2
        for i in range(k, m):
            w[o + i] -= s * w[i * n + k]
        w[dg + k] = alpha
    for k in range(n - 1, -1, -1):
        s = w[o + k]
        for c in range(k + 1, n):
            s -= w[k * n + c] * w[o + c]
        w[o + k] = s / w[dg + k]
    return 0


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _grad_batch(X, p, out):
    for j in range(X.shape[1]):
        _grad(X, j, p, out)


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _loss_batch(X, p, out):
    for j in range(X.shape[1]):
        out[j] = _loss(X, j, p)


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _vel_batch(X, p, out, status):
    w = np.empty(WORK + 1)
    for j in range(X.shape[1]):
        status[j] = _vel(X, j, p, w, out)


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _metric_batch(X, p, out):
    g = np.empty((DIM, DIM))
    for j in range(X.shape[1]):
        _metric(X, j, p, g)
        out[j, :, :] = g

"""

# Loops written out in each chunk kernel (not helper functions): one Numba
# compilation per kernel instead of one per helper.


def _field(src: str, out: str, reset: bool, ind: str = "        ") -> str:
    op = "=" if reset else "|="
    return f"{ind}for j in range(m):\n{ind}    flag[j] {op} _vel({src}, j, p, w, {out})\n"


def _axpy(coef: str, kk: str, ind: str = "        ") -> str:
    return (
        f"{ind}for k in range(DIM):\n{ind}    for j in range(m):\n"
        f"{ind}        xt[k, j] = x[k, j] + {coef} * {kk}[k, j]\n"
    )


def _save(step: str, ind: str) -> str:
    return f"""{ind}while si < nsave and save_idx[si] == {step}:
{ind}    for j in range(m):
{ind}        ok = status[j] == 0
{ind}        for k in range(DIM):
{ind}            XS[si, off + j, k] = x[k, j] if ok else np.nan
{ind}    si += 1
"""


_START = """\
    nsave = save_idx.shape[0]
    xt = np.empty((DIM, m))
    w = np.empty(WORK + 1)
    flag = np.zeros(m, np.int64)
    for j in range(m):
        if status[j] == 0:
            status[j] = _check_point(x, j)
    si = 0
""" + _save("0", "    ")

_ACCEPT = """\
        for j in range(m):
            if status[j] == 0:
                s = flag[j]
                if s == 0:
                    s = _check_point(xt, j)
                if s == 0:
                    for k in range(DIM):
                        x[k, j] = xt[k, j]
                    tlast[j] = {tnew}
                else:
                    status[j] = s
"""

_DIRECTIONS = {
    "natural": _field("x", "d", True)
    + """\
        if backtrack > 0.0:
            _grad_batch(x, p, g)
""",
    "identity": """\
        _grad_batch(x, p, g)
        for k in range(DIM):
            for j in range(m):
                d[k, j] = -g[k, j]
""",
    "rmsprop": """\
        _grad_batch(x, p, g)
        for k in range(DIM):
            for j in range(m):
                s1[k, j] = a * s1[k, j] + (1.0 - a) * g[k, j] * g[k, j]
                d[k, j] = -g[k, j] / (math.sqrt(s1[k, j]) + eps)
""",
    "adam": """\
        _grad_batch(x, p, g)
        pa *= a
        pb *= b
        for k in range(DIM):
            for j in range(m):
                s1[k, j] = a * s1[k, j] + (1.0 - a) * g[k, j]
                s2[k, j] = b * s2[k, j] + (1.0 - b) * g[k, j] * g[k, j]
                d[k, j] = -(s1[k, j] / (1.0 - pa)) / (math.sqrt(s2[k, j] / (1.0 - pb)) + eps)
""",
}

#: Descent preconditioners with a compiled chunk kernel, indexed by ``Preconditioner.kind``.
DESCENT_KINDS = tuple(_DIRECTIONS)

_BACKTRACK = """\
        if backtrack > 0.0:
            # Armijo: halve eta until L(x + eta d) <= L(x) + 1e-4 eta g.d inside the domain; else stay.
            for j in range(m):
                moved = False
                if status[j] == 0 and flag[j] == 0:
                    slope = 0.0
                    for k in range(DIM):
                        slope += g[k, j] * d[k, j]
                    if slope < 0.0:
                        l0 = _loss(x, j, p)
                        eta = lr
                        for _ in range(60):
                            for k in range(DIM):
                                xt[k, j] = x[k, j] + eta * d[k, j]
                            if _check_point(xt, j) == 0 and _loss(xt, j, p) <= l0 + 1e-4 * eta * slope:
                                moved = True
                                break
                            eta *= 0.5
                if not moved:
                    for k in range(DIM):
                        xt[k, j] = x[k, j]
        else:
""" + _axpy("lr", "d", "            ")


def _descent(name: str) -> str:
    state = "    g = np.zeros((DIM, m))\n    d = np.zeros((DIM, m))\n"
    if name in ("rmsprop", "adam"):
        state += "    s1 = np.zeros((DIM, m))\n"
    if name == "adam":
        state += "    s2 = np.zeros((DIM, m))\n"
    body = (
        _START
        + state
        + "    a, b, eps = hyper[0], hyper[1], hyper[2]\n    pa = 1.0\n    pb = 1.0\n"
        + "    for n in range(nsteps):\n"
        + _DIRECTIONS[name]
        + _BACKTRACK
        + _ACCEPT.format(tnew="n + 1.0")
        + _save("n + 1", "        ")
    )
    return ranged(f"descent_{name}", "lr, backtrack", body)


_DOPRI = r"""
# Dormand-Prince 5(4) tableau
_A21 = 1.0 / 5.0
_A31, _A32 = 3.0 / 40.0, 9.0 / 40.0
_A41, _A42, _A43 = 44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0
_A51, _A52, _A53, _A54 = 19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0
_A61, _A62, _A63, _A64, _A65 = 9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0
_B1, _B3, _B4, _B5, _B6 = 35.0 / 384.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0
_E1, _E3, _E4, _E5, _E6, _E7 = (
    71.0 / 57600.0, -71.0 / 16695.0, 71.0 / 1920.0, -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0)


@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _dopri_one(x, t0, t1, h, rtol, atol, max_steps, save_t, p, xs, col, K, xt, w):
    # Integrate the single trajectory x (DIM, 1) from t0 to t1; writes xs[:, col, :].
    # Returns (status, last good time, steps taken).
    nsave = save_t.shape[0]
    si = 0
    s = _check_point(x, 0)
    t = t0
    if s != 0:
        for i in range(nsave):
            for k in range(DIM):
                xs[i, col, k] = np.nan
        return s, t0, 0
    while si < nsave and save_t[si] <= t0:
        for k in range(DIM):
            xs[si, col, k] = x[k, 0]
        si += 1
    steps = 0
    fail = 0
    hmin = 1e-13 * max(abs(t0), abs(t1), 1.0)
    while t < t1 and si <= nsave:
        if steps >= max_steps:
            fail = 4
            break
        target = t1 if si >= nsave else min(t1, save_t[si])
        hh = min(h, target - t)
        if hh < hmin and target - t > hmin:
            fail = 5 if fail == 0 else fail
            break
        steps += 1
        f = _vel(x, 0, p, w, K[0])
        for k in range(DIM):
            xt[k, 0] = x[k, 0] + hh * _A21 * K[0, k, 0]
        f |= _vel(xt, 0, p, w, K[1])
        for k in range(DIM):
            xt[k, 0] = x[k, 0] + hh * (_A31 * K[0, k, 0] + _A32 * K[1, k, 0])
        f |= _vel(xt, 0, p, w, K[2])
        for k in range(DIM):
            xt[k, 0] = x[k, 0] + hh * (_A41 * K[0, k, 0] + _A42 * K[1, k, 0] + _A43 * K[2, k, 0])
        f |= _vel(xt, 0, p, w, K[3])
        for k in range(DIM):
            xt[k, 0] = x[k, 0] + hh * (_A51 * K[0, k, 0] + _A52 * K[1, k, 0] + _A53 * K[2, k, 0]
                                       + _A54 * K[3, k, 0])
        f |= _vel(xt, 0, p, w, K[4])
        for k in range(DIM):
            xt[k, 0] = x[k, 0] + hh * (_A61 * K[0, k, 0] + _A62 * K[1, k, 0] + _A63 * K[2, k, 0]
                                       + _A64 * K[3, k, 0] + _A65 * K[4, k, 0])
        f |= _vel(xt, 0, p, w, K[5])
        for k in range(DIM):
            xt[k, 0] = x[k, 0] + hh * (_B1 * K[0, k, 0] + _B3 * K[2, k, 0] + _B4 * K[3, k, 0]
                                       + _B5 * K[4, k, 0] + _B6 * K[5, k, 0])
        f |= _vel(xt, 0, p, w, K[6])
        code = f
        if code == 0:
            code = _check_point(xt, 0)
        err = 0.0
        if code == 0:
            for k in range(DIM):
                e = hh * (_E1 * K[0, k, 0] + _E3 * K[2, k, 0] + _E4 * K[3, k, 0] + _E5 * K[4, k, 0]
                          + _E6 * K[5, k, 0] + _E7 * K[6, k, 0])
                sc = atol + rtol * max(abs(x[k, 0]), abs(xt[k, 0]))
                err += (e / sc) * (e / sc)
            err = math.sqrt(err / DIM)
            if not math.isfinite(err):
                code = 2
        if code != 0:
            # an invalid trial point: shrink and retry; give up below hmin
            fail = code
            h = 0.25 * hh
            if h < hmin:
                break
            continue
        if err <= 1.0:
            fail = 0
            t = t + hh if hh < target - t else target
            for k in range(DIM):
                x[k, 0] = xt[k, 0]
            while si < nsave and save_t[si] <= t:
                for k in range(DIM):
                    xs[si, col, k] = x[k, 0]
                si += 1
            if t >= t1:
                break
        fac = 10.0 if err == 0.0 else min(10.0, max(0.2, 0.9 * err ** -0.2))
        if err > 1.0:
            fac = min(fac, 1.0)
        h = hh * fac
    status = 0
    if t < t1:
        status = fail if fail != 0 else 4
    for i in range(si, nsave):
        for k in range(DIM):
            xs[i, col, k] = np.nan if status != 0 else x[k, 0]
    return status, t, steps



@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)
def _dopri_range(X, lo, hi, t0, t1, h0, rtol, atol, max_steps, save_t, p, XS, status, tlast, nsteps):
    K = np.zeros((7, DIM, 1))
    xt = np.empty((DIM, 1))
    x = np.empty((DIM, 1))
    w = np.empty(WORK + 1)
    for j in range(lo, hi):
        for k in range(DIM):
            x[k, 0] = X[k, j]
        s, tl, ns = _dopri_one(x, t0, t1, h0, rtol, atol, max_steps, save_t, p, XS, j, K, xt, w)
        status[j] = s
        tlast[j] = tl
        nsteps[j] = ns
        for k in range(DIM):
            X[k, j] = x[k, 0]
"""


def template() -> str:
    """The field-independent source appended to every generated module."""
    parts = [_HELPERS]
    parts += [_descent(name) for name in _DIRECTIONS]
    parts.append(_DOPRI)
    return "".join(parts)
