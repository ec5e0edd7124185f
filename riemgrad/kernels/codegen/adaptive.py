"""The adaptive Dormand-Prince 5(4) pair, as source appended to every generated module.

One trajectory at a time (``_dopri_one``), with the error control of Hairer, Norsett and Wanner
(Solving ODEs I, II.4): the fifth-order solution advances, the embedded fourth-order one estimates
the error; the step grows or shrinks by ``0.9 err**-1/5`` within [0.2, 10]. An invalid trial point
(outside the domain, non-finite, singular metric) shrinks the step by 4 and retries.
"""

from ..abi import CODE, CONTROL_DONE, CONTROL_FRACTION, CONTROL_STOP, kernel_name

__all__ = ["dopri_source"]

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


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)
def _dopri_one(x, t0, t1, h, rtol, atol, max_steps, save_t, p, xs, col, K, xt, w, ctl):
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
            fail = {MAX_STEPS}
            break
        if steps % 128 == 127:
            # every 128 steps: the progress within this trajectory, and stop when asked
            ctl[{CONTROL_FRACTION}] = np.int64(1e6 * (t - t0) / (t1 - t0))
            if ctl[{CONTROL_STOP}] != 0:
                break
        target = t1 if si >= nsave else min(t1, save_t[si])
        hh = min(h, target - t)
        if hh < hmin and target - t > hmin:
            fail = {STEP_SIZE_TOO_SMALL} if fail == 0 else fail
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
        if code == 0:
            code = _cross(x, 0, xt, 0, p)
        err = 0.0
        if code == 0:
            for k in range(DIM):
                e = hh * (_E1 * K[0, k, 0] + _E3 * K[2, k, 0] + _E4 * K[3, k, 0] + _E5 * K[4, k, 0]
                          + _E6 * K[5, k, 0] + _E7 * K[6, k, 0])
                sc = atol + rtol * max(abs(x[k, 0]), abs(xt[k, 0]))
                err += (e / sc) * (e / sc)
            err = math.sqrt(err / DIM)
            if not math.isfinite(err):
                code = {NONFINITE}
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
        status = fail if fail != 0 else {MAX_STEPS}
    for i in range(si, nsave):
        for k in range(DIM):
            xs[i, col, k] = np.nan if status != 0 else x[k, 0]
    return status, t, steps



@njit(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)
def {adaptive}(X, lo, hi, t0, t1, h0, rtol, atol, max_steps, save_t, p, XS, status, tlast, nsteps, ctl):
    K = np.zeros((7, DIM, 1))
    xt = np.empty((DIM, 1))
    x = np.empty((DIM, 1))
    w = np.empty(WORK + 1)
    for j in range(lo, hi):
        if ctl[{CONTROL_STOP}] != 0:
            return
        for k in range(DIM):
            x[k, 0] = X[k, j]
        s, tl, ns = _dopri_one(x, t0, t1, h0, rtol, atol, max_steps, save_t, p, XS, j, K, xt, w, ctl)
        ctl[{CONTROL_DONE}] += 1
        ctl[{CONTROL_FRACTION}] = 0
        status[j] = s
        tlast[j] = tl
        nsteps[j] = ns
        for k in range(DIM):
            X[k, j] = x[k, 0]
"""


def dopri_source() -> str:
    """The source of ``_dopri_one`` and the ``adaptive_range`` kernel, status codes from the abi."""
    return _DOPRI.format(
        adaptive=kernel_name("adaptive_range"),
        CONTROL_STOP=CONTROL_STOP,
        CONTROL_DONE=CONTROL_DONE,
        CONTROL_FRACTION=CONTROL_FRACTION,
        **CODE,
    )
