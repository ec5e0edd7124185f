"""The field-independent half of every generated kernel module.

Generated modules define, for one field, the scalar functions ``_loss``,
``_grad``, ``_metric``, ``_vel`` (on the structure-of-arrays layout ``x[k, j]``,
coordinate k of trajectory j), ``_vels`` (the same velocity on scalars),
``_check_point`` / ``_oks`` (domain checks), the steppers (unrolled over
coordinates, see :mod:`.steppers`) and the constants ``DIM`` and ``WORK``
(:mod:`.module`). :func:`template` gives the rest: the linear solves, batch
evaluation and descent, as plain source appended to each generated file, so
that every file is self-contained and Numba's on-disk cache can key on it.

Layout: a chunk of at most ``CHUNK`` trajectories is advanced in lockstep, the
time loop outside and the loop over the chunk's trajectories inside, so that
LLVM vectorizes the field across trajectories. Each ``_range`` kernel loops
over the chunks of a range of trajectories itself (:func:`ranged`) and
releases the GIL; the flows layer calls it once for the whole batch, or once
per thread on a thread pool. Saved states are written point-major,
``XS[save, trajectory, coordinate]``, as the results are shaped. Each stepper
and each descent preconditioner is its own function, so only what is used is
compiled. Names, arguments and status codes: :mod:`riemgrad.kernels.abi`.
"""

from ..abi import (
    CODE,
    CONTROL_DONE,
    CONTROL_STOP,
    DIVERGENCE_LOSS_FACTOR,
    DIVERGENCE_NORM_FACTOR,
    EVALUATORS,
    kernel_name,
)
from .second_order import LBFGS_DIRECTION, LBFGS_STATE, LM_ACCEPT, LM_DIRECTION, LM_STATE

__all__ = [
    "template", "rhs_template", "ranged", "save_block", "DESCENT_KINDS", "DIAGONAL_KINDS", "DECORATOR", "INLINE",
    "BLOCK",
]

#: Steps per block: the chunk steppers check validity once per block (see
#: :func:`.steppers.range_stepper`), and every stepping kernel reads its control row between blocks.
BLOCK = 128

#: Every generated function: no fast-math (reproducible IEEE results); NumPy's error model (x / 0 is inf,
#: not an exception, and no division checks that would block vectorization).
DECORATOR = '@njit(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)'
#: The field functions are inlined into the stepper loops (Numba IR inlining), so LLVM sees one loop body
#: and vectorizes it across trajectories; a call left to LLVM's inliner measured 3x slower.
INLINE = '@njit(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True, inline="always")'


def ranged(name: str, args: str, body: str) -> str:
    """A kernel ``name`` (see :data:`~riemgrad.kernels.abi.KERNEL_KINDS`) running ``body`` over chunks
    of the trajectories ``lo:hi``.

    ``body`` is the source of a chunk kernel's body (indented by four spaces):
    it advances the chunk ``x`` (DIM, m) with its ``status`` and ``tlast``
    (length m), and writes its saved states to ``XS[si, off + j, k]``
    (point-major, as the results are shaped; ``off`` is the chunk's first
    trajectory). The wrapper loops over the chunks of at most ``CHUNK``
    trajectories and copies each in and out of the whole-batch arrays ``X``
    (DIM, B), ``STATUS`` and ``TLAST``: one call per thread, with no Python
    between chunks (a call per chunk measured ~15 us of slicing and copies
    each, and threads then wait on each other for the GIL). Before each chunk it
    reads the stop flag of its control row ``ctl`` (see
    :mod:`riemgrad.kernels.abi`); ``body`` reads it between blocks of steps.
    """
    inner = "\n".join(("    " + line) if line.strip() else "" for line in body.rstrip("\n").split("\n"))
    return f"""
@njit(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)
def {name}(X, lo, hi, {args}, nsteps, save_idx, p, hyper, XS, STATUS, TLAST, ctl):
    for off in range(lo, hi, CHUNK):
        if ctl[{CONTROL_STOP}] != 0:
            return
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


_VEL_BATCH = r"""@njit(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)
def {velocity}(X, p, out, status):
    w = np.empty(WORK + 1)
    for j in range(X.shape[1]):
        status[j] = _vel(X, j, p, w, out)
"""

_HELPERS = r"""

# ---------------------------------------------------------------- shared part
@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _chol_solve(w):
    # w[:DIM*DIM] holds G (lower triangle read), w[DIM*DIM:] holds g. On return w[DIM*DIM:] = G^{{-1}} g
    # and the lower triangle holds the Cholesky factor. Returns 3 when G is not numerically positive definite.
    for c in range(DIM):
        s = w[c * DIM + c]
        d = abs(s)
        for k in range(c):
            s -= w[c * DIM + k] * w[c * DIM + k]
        if not s > 1e-14 * d:
            return {SINGULAR_METRIC}
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


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)
def _qr_solve(w):
    # Least squares min |J v - r| by Householder QR, never forming J^T J.
    # w[:NRES*DIM] holds J (row-major, NRES x DIM), w[NRES*DIM : NRES*DIM+NRES] holds r,
    # w[NRES*DIM+NRES:] receives the diagonal of R. On return w[NRES*DIM : NRES*DIM+DIM] = (J^T J)^{{-1}} J^T r.
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
            return {SINGULAR_METRIC}
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


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)
def {gradient}(X, p, out):
    for j in range(X.shape[1]):
        _grad(X, j, p, out)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)
def {loss}(X, p, out):
    for j in range(X.shape[1]):
        out[j] = _loss(X, j, p)


""" + _VEL_BATCH + r"""

@njit(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)
def {metric}(X, p, out):
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


def save_block(step: str, ind: str) -> str:
    """Source recording the chunk's states at step ``step`` (NaN for failed trajectories), indented by ``ind``."""
    return f"""{ind}while si < nsave and save_idx[si] == {step}:
{ind}    for j in range(m):
{ind}        ok = status[j] == 0
{ind}        for k in range(DIM):
{ind}            XS[si, off + j, k] = x[k, j] if ok else np.nan
{ind}    si += 1
"""


_START_CHECK = """\
    nsave = save_idx.shape[0]
    xt = np.empty((DIM, m))
    w = np.empty(WORK + 1)
    flag = np.zeros(m, np.int64)
    for j in range(m):
        if status[j] == 0:
            status[j] = _check_point(x, j)
    si = 0
"""
_START = _START_CHECK + save_block("0", "    ")

#: RMSprop and Adam also record their diagonal metric sqrt(v_hat) + eps at each saved step, into the columns
#: DIM..2 DIM - 1 of XS (the runner allocates XS twice as wide for them; see flowfield.run_descent). At step 0
#: (v = 0; Adam's v_hat = 0 / 0 is taken as 0) it is eps.
_DIAGONAL = {
    "rmsprop": "math.sqrt(s1[k, j]) + eps",
    "adam": "(math.sqrt(s2[k, j] / (1.0 - pb)) if pb < 1.0 else 0.0) + eps",
}


def _save_diagonal(step: str, ind: str, expr: str) -> str:
    """As :func:`save_block`, also writing the diagonal metric ``expr`` (of k, j) into ``XS[si, off + j, DIM + k]``."""
    return f"""{ind}while si < nsave and save_idx[si] == {step}:
{ind}    for j in range(m):
{ind}        ok = status[j] == 0
{ind}        for k in range(DIM):
{ind}            XS[si, off + j, k] = x[k, j] if ok else np.nan
{ind}            XS[si, off + j, DIM + k] = ({expr}) if ok else np.nan
{ind}    si += 1
"""

_ACCEPT = """\
        for j in range(m):
            if status[j] == 0:
                s = flag[j]
                if s == 0:
                    s = _check_point(xt, j)
{cross}                if s == 0:
                    for k in range(DIM):
                        x[k, j] = xt[k, j]
                    tlast[j] = {tnew}
                else:
                    status[j] = s
"""

# natural descent: a step across a singular factor of the metric is refused (see .definite)
_CROSS = """\
                if s == 0:
                    s = _cross(x, j, xt, j, p)
"""

# a trial step of natural descent across a singular factor ends the trajectory (flag, then _ACCEPT)
_CROSS_BT = """\
                            if ok and _cross(x, j, xt, j, p) != 0:
                                flag[j] = _cross(x, j, xt, j, p)
                                break
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
    "lbfgs": LBFGS_DIRECTION,
    "lm": LM_DIRECTION,
}

#: Descent preconditioners with a compiled chunk kernel, indexed by ``Preconditioner.kind``.
DESCENT_KINDS = tuple(_DIRECTIONS)
#: The descent kinds whose kernels also save their diagonal metric (XS is ``2 * DIM`` wide for them).
DIAGONAL_KINDS = ("rmsprop", "adam")

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
                            ok = _check_point(xt, j) == 0
{cross_bt}                            if ok and _loss(xt, j, p) <= l0 + 1e-4 * eta * slope:
                                moved = True
                                break
                            eta *= 0.5
                if not moved:
                    for k in range(DIM):
                        xt[k, j] = x[k, j]
        else:
""" + _axpy("lr", "d", "            ")


# The starting loss and size of each trajectory, for the divergence test (_diverged).
_START_SIZE = """\
    lstart = np.zeros(m)
    rstart = np.zeros(m)
    for j in range(m):
        if status[j] == 0:
            lstart[j] = _loss(x, j, p)
            for k in range(DIM):
                rstart[j] = max(rstart[j], abs(x[k, j]))
"""

# every BLOCK steps and after the last: a live trajectory far above its starting loss or size is DIVERGED
# (kept as it is at this step; abi.DIVERGENCE_LOSS_FACTOR, abi.DIVERGENCE_NORM_FACTOR)
_DIVERGED_CHECK = f"""\
        if (n + 1) % {BLOCK} == 0 or n + 1 == nsteps:
            for j in range(m):
                if status[j] == 0 and _diverged(x, j, p, lstart[j], rstart[j]):
                    status[j] = {CODE["DIVERGED"]}
"""

_DIVERGED = f"""

@njit(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)
def _diverged(x, j, p, l0, r0):
    r = 0.0
    for k in range(DIM):
        r = max(r, abs(x[k, j]))
    if r > {DIVERGENCE_NORM_FACTOR!r} * (1.0 + r0):
        return True
    return _loss(x, j, p) - l0 > {DIVERGENCE_LOSS_FACTOR!r} * (abs(l0) + 1.0)
"""


def _descent(name: str) -> str:
    state = "    g = np.zeros((DIM, m))\n    d = np.zeros((DIM, m))\n"
    if name in ("rmsprop", "adam"):
        state += "    s1 = np.zeros((DIM, m))\n"
    if name == "adam":
        state += "    s2 = np.zeros((DIM, m))\n"
    state += "    a, b, eps = hyper[0], hyper[1], hyper[2]\n    pa = 1.0\n    pb = 1.0\n"
    if name == "lbfgs":
        state += LBFGS_STATE
    if name == "lm":
        state += LM_STATE
    step = _BACKTRACK.replace("{cross_bt}", _CROSS_BT if name == "natural" else "") + _ACCEPT.format(
        tnew="n + 1.0", cross=_CROSS if name == "natural" else ""
    )
    if name == "lm":  # the damping schedule decides acceptance itself (no backtracking with it: flows.quasi_newton)
        step = "        if sched:\n" + _indent(LM_ACCEPT) + "        else:\n" + _indent(step)
    if name in _DIAGONAL:  # the state exists before step 0 is saved
        start, save = _START_CHECK + _START_SIZE + state + _save_diagonal("0", "    ", _DIAGONAL[name]), (
            _save_diagonal("n + 1", "        ", _DIAGONAL[name])
        )
    else:
        start, save = _START + _START_SIZE + state, save_block("n + 1", "        ")
    body = start + "    for n in range(nsteps):\n" + _DIRECTIONS[name] + step + save + _DIVERGED_CHECK
    # every BLOCK steps: count them, and stop when asked (the steps are whole chunk sweeps: no cost)
    body += f"""\
        if (n + 1) % {BLOCK} == 0:
            ctl[{CONTROL_DONE}] += {BLOCK} * m
            if ctl[{CONTROL_STOP}] != 0:
                break
"""
    return ranged(kernel_name("descent_range", name), "lr, backtrack", body)


def _indent(src: str) -> str:
    return "".join(("    " + line if line.strip() else line) for line in src.splitlines(keepends=True))


def rhs_template() -> str:
    """The shared source of an ODE module without loss or metric: batch evaluation of the
    right-hand side and of the monitored energy."""
    energy = """
@njit(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)
def {energy}(X, p, out):
    for j in range(X.shape[1]):
        out[j] = _energy(X, j, p)
"""
    return "\n\n" + _VEL_BATCH.format(**EVALUATORS) + energy.format(**EVALUATORS)


def template() -> str:
    """The field-independent source appended to every generated module."""
    parts = [_HELPERS.format(**CODE, **EVALUATORS), _DIVERGED]
    parts += [_descent(name) for name in _DIRECTIONS]
    return "".join(parts)
