"""The steppers: ONE table of their names, orders and Butcher tableaus, and the generators of
the fixed-step kernels.

Every explicit Runge-Kutta method of the table gets two kernels in each generated module:
``_<name>_scalar`` (one trajectory at a time, state in registers) and ``_<name>_range``
(chunks of trajectories in lockstep), from :func:`scalar_stepper` and :func:`range_stepper`,
which read only the tableau. Adding a fixed-step method is one entry in :data:`TABLE`.
The adaptive pair (``adaptive=True``) has its own generator (:mod:`.adaptive`).

Examples
--------
>>> from riemgrad.kernels.codegen.steppers import TABLE
>>> {name: s.order for name, s in TABLE.items()}
{'euler': 1, 'heun': 2, 'rk4': 4, 'ssprk3': 3, 'dopri5': 5}
"""

from __future__ import annotations

from typing import NamedTuple

from ..abi import CODE, CONTROL_DONE, CONTROL_STOP, SCALAR_MAX_DIM, kernel_name
from .template import BLOCK, DECORATOR, ranged, save_block

__all__ = ["Tableau", "TABLE", "FIXED", "scalar_stepper", "range_stepper", "BLOCK"]


class Tableau(NamedTuple):
    """A stepper: its order and, for an explicit fixed-step method, its Butcher tableau.

    Attributes
    ----------
    order : int
        The order of convergence (global error ~ dt**order).
    a : tuple of tuple of str
        The rows of the Butcher matrix below the diagonal (row ``s`` gives stage ``s + 1``),
        as float literals printed into the kernels.
    b : tuple of str
        The weights.
    adaptive : bool
        An embedded pair with error control, generated apart (:mod:`.adaptive`).
    """

    order: int
    a: tuple[tuple[str, ...], ...] = ()
    b: tuple[str, ...] = ()
    adaptive: bool = False


SINGULAR = CODE["SINGULAR_METRIC"]

#: Every stepper by name. Fixed-step methods: c_i = sum_j a_ij (explicit, no time dependence: the fields
#: are autonomous).
TABLE = {
    "euler": Tableau(1, (), ("1.0",)),
    "heun": Tableau(2, (("1.0",),), ("0.5", "0.5")),
    "rk4": Tableau(
        4, (("0.5",), ("0.0", "0.5"), ("0.0", "0.0", "1.0")), ("1.0 / 6.0", "1.0 / 3.0", "1.0 / 3.0", "1.0 / 6.0")
    ),
    # the strong-stability-preserving RK3 of Shu and Osher (1988), J. Comput. Phys. 77, 439, in Butcher form
    "ssprk3": Tableau(3, (("1.0",), ("0.25", "0.25")), ("1.0 / 6.0", "1.0 / 6.0", "2.0 / 3.0")),
    "dopri5": Tableau(5, adaptive=True),
}

#: The fixed-step methods, in table order.
FIXED = tuple(name for name, s in TABLE.items() if not s.adaptive)


def scalar_stepper(name: str, n: int) -> str:
    """A per-trajectory fixed-step kernel with the state in registers (small batches)."""
    A, b = TABLE[name].a, TABLE[name].b
    xs = [f"x{k}" for k in range(n)]
    X = ", ".join(xs)
    L = [
        DECORATOR,
        f"def {kernel_name('fixed_scalar', name)}(X, t0, dt, nsteps, save_idx, p, hyper, XS, status, tlast, ctl):",
        "    w = np.empty(WORK + 1)",
        "    nsave = save_idx.shape[0]",
        "    for j in range(X.shape[1]):",
        f"        if ctl[{CONTROL_STOP}] != 0:",
        "            break",
        *[f"        x{k} = X[{k}, j]" for k in range(n)],
        f"        st = _oks({X})",
        "        tl = t0",
        "        si = 0",
        "        while si < nsave and save_idx[si] == 0 and st == 0:",
        *[f"            XS[si, j, {k}] = x{k}" for k in range(n)],
        "            si += 1",
        "        if st == 0:",
        "            for n in range(nsteps):",
    ]
    ind = " " * 16
    for s_ in range(len(b)):
        arg = X if s_ == 0 else ", ".join(f"y{k}" for k in range(n))
        ks = ", ".join(f"k{s_}_{k}" for k in range(n))
        if s_ == 0:
            L.append(f"{ind}{ks}, f = _vels({arg}, p, w)")
        else:
            L.append(f"{ind}{ks}, g = _vels({arg}, p, w)")
            L.append(f"{ind}f |= g")
        if s_ + 1 < len(b):
            row = A[s_]
            for k in range(n):
                terms = " + ".join(f"{c} * k{i}_{k}" for i, c in enumerate(row) if c != "0.0")
                L.append(f"{ind}y{k} = x{k} + dt * ({terms})")
    for k in range(n):
        terms = " + ".join(f"{c} * k{i}_{k}" for i, c in enumerate(b))
        L.append(f"{ind}z{k} = x{k} + dt * ({terms})")
    L += [
        f"{ind}if f == 0:",
        f"{ind}    f = _oks({', '.join(f'z{k}' for k in range(n))})",
        f"{ind}if f == 0 and not _sides({X}, {', '.join(f'z{k}' for k in range(n))}, p):",
        f"{ind}    f = {SINGULAR}",
        f"{ind}if f != 0:",
        f"{ind}    st = f",
        f"{ind}    break",
        *[f"{ind}x{k} = z{k}" for k in range(n)],
        f"{ind}tl = t0 + (n + 1) * dt",
        f"{ind}while si < nsave and save_idx[si] == n + 1:",
        *[f"{ind}    XS[si, j, {k}] = x{k}" for k in range(n)],
        f"{ind}    si += 1",
        # every BLOCK steps: count them, and stop when asked (see riemgrad.kernels.abi)
        f"{ind}if (n + 1) % {BLOCK} == 0:",
        f"{ind}    ctl[{CONTROL_DONE}] += {BLOCK}",
        f"{ind}    if ctl[{CONTROL_STOP}] != 0:",
        f"{ind}        break",
        *[f"        X[{k}, j] = x{k}" for k in range(n)],
        "        for i in range(si, nsave):",
        "            for k in range(DIM):",
        "                XS[i, j, k] = np.nan",
        "        status[j] = st",
        "        tlast[j] = tl",
    ]
    return "\n".join(L) + "\n"


def range_stepper(name: str, n: int, flagged: bool) -> str:
    """A fixed-step kernel for a chunk of trajectories in lockstep (structure of arrays).

    The time loop is outside, each stage a loop over the chunk whose body is the
    inlined field, so LLVM vectorizes it across trajectories. Stage inputs are
    formed inside the stage loop (no intermediate arrays). ``flagged``: the field
    can report a singular metric (Cholesky strategy).

    Steps run in blocks of at most ``BLOCK`` (ending at every save index), and
    optimistically: no status is read or written per step. A new state outside
    the chart's domain (or whose stages flagged a singular metric) is poisoned
    with a NaN instead; NaN, like inf, is absorbing under ``x + dt * (...)``.
    After the block, one pass restores the trajectories that had already failed
    (frozen) and finds the alive ones whose state is no longer finite; only
    those are redone from the block's start, one at a time with the state in
    registers and a check after every step, which assigns the status and the
    last valid state exactly as a per-step check would (same arithmetic, so the
    same bits; the others' steps do not depend on them).
    """
    A, b = TABLE[name].a, TABLE[name].b
    ns = len(b)
    wide = n > SCALAR_MAX_DIM

    # stage inputs and the new state, written on the chunk arrays
    args = [[f"x[{k}, j]" for k in range(n)]]
    for s_ in range(1, ns):
        row = []
        for k in range(n):
            terms = " + ".join(f"{c} * k{i}[{k}, j]" for i, c in enumerate(A[s_ - 1]) if c != "0.0")
            row.append(f"x[{k}, j] + dt * ({terms})")
        args.append(row)
    zs = [f"x[{k}, j] + dt * (" + " + ".join(f"{c} * k{i}[{k}, j]" for i, c in enumerate(b)) + ")" for k in range(n)]

    def scalar(e: str) -> str:
        """The same expression on registers: x[k, j] -> x{k}, k{i}[k, j] -> k{i}_{k}."""
        for k in range(n - 1, -1, -1):
            e = e.replace(f"x[{k}, j]", f"x{k}")
            for i in range(ns):
                e = e.replace(f"k{i}[{k}, j]", f"k{i}_{k}")
        return e

    Z = ", ".join(f"z{k}" for k in range(n))
    L = [
        "    nsave = save_idx.shape[0]",
        "    w = np.empty(WORK + 1)",
        *(["    xt = np.empty((DIM, m))"] if wide else []),
        "    xb = np.empty((DIM, m))",
        *(["    flag = np.zeros(m, np.int64)"] if flagged and ns > 1 else []),
        *[f"    k{i} = np.empty((DIM, m))" for i in range(ns if wide else ns - 1)],
        "    for j in range(m):",
        "        if status[j] == 0:",
        "            status[j] = _check_point(x, j)",
        "    si = 0",
        "    n0 = 0",
        "    while True:",
        *save_block("n0", "        ").rstrip("\n").split("\n"),
        "        if n0 >= nsteps:",
        "            break",
        f"        n1 = min(nsteps, n0 + {BLOCK})",
        "        if si < nsave and save_idx[si] > n0 and save_idx[si] < n1:",
        "            n1 = save_idx[si]",
        "        for k in range(DIM):",
        "            for j in range(m):",
        "                xb[k, j] = x[k, j]",
    ]
    # The steps of a block. For one-stage steppers (Euler: descent) they go in a function of
    # their own, which LLVM optimizes apart from the bookkeeping around it before inlining it: it
    # then keeps the constants in registers (measured 10-15% on W2). For more stages the second
    # optimization costs too much compile time (0.8 s more for RK4).
    outline = ns == 1
    scratch = (["xt"] if wide else []) + (["flag"] if flagged and ns > 1 else [])
    scratch += [f"k{i}" for i in range(ns if wide else ns - 1)]
    sargs = ", ".join(["x", "m", "n0", "n1", "dt", "p", "w"] + scratch)
    if outline:
        L.append(f"        _{name}_steps({sargs})")
        S = [DECORATOR, f"def _{name}_steps({sargs}):", "    for n in range(n0, n1):"]
        ind, ind2 = " " * 8, " " * 12
    else:
        S = L
        S.append("        for n in range(n0, n1):")
        ind, ind2 = " " * 12, " " * 16
    outs = ", ".join(f"r{k}" for k in range(n))
    for s_ in range(ns):
        S.append(f"{ind}for j in range(m):")
        if wide:
            if s_ == 0:
                S.append(f"{ind2}f = _vel(x, j, p, w, k0)")
            else:
                S += [f"{ind2}xt[{k}, j] = {a}" for k, a in enumerate(args[s_])]
                S.append(f"{ind2}f = _vel(xt, j, p, w, k{s_})")
        else:
            S.append(f"{ind2}{outs}, f = _velc({', '.join(args[s_])}, p, w)")
            if s_ < ns - 1:
                S += [f"{ind2}k{s_}[{k}, j] = r{k}" for k in range(n)]
        if flagged and ns > 1:
            if s_ == 0:
                S.append(f"{ind2}flag[j] = f")
            elif s_ < ns - 1:
                S.append(f"{ind2}flag[j] |= f")
            else:
                S.append(f"{ind2}f |= flag[j]")
    # the last stage's loop also forms the new state and poisons it when invalid
    last = [z.replace(f"k{ns - 1}[{k}, j]", f"r{k}") if not wide else z for k, z in enumerate(zs)]
    S += [f"{ind2}z{k} = {zk}" for k, zk in enumerate(last)]
    if wide:
        S += [f"{ind2}xt[{k}, j] = z{k}" for k in range(n)]
        S.append(f"{ind2}good = (_check_point(xt, j) == 0) & (_cross(x, j, xt, j, p) == 0)")
    else:
        S.append(f"{ind2}good = _dom({Z}) & _sides({', '.join(f'x[{k}, j]' for k in range(n))}, {Z}, p)")
    if flagged:
        S.append(f"{ind2}good = good & (f == 0)")
    S.append(f"{ind2}x[0, j] = z0 if good else np.nan")
    S += [f"{ind2}x[{k}, j] = z{k}" for k in range(1, n)]
    L += [
        "        for j in range(m):",
        "            if status[j] != 0:",
        "                for k in range(DIM):",
        "                    x[k, j] = xb[k, j]",
        "                continue",
        "            fin = True",
        "            for k in range(DIM):",
        "                fin = fin & math.isfinite(x[k, j])",
        "            if fin:",
        "                continue",
        "            # failed in this block: redo its steps from the block's start with a check after each",
    ]
    ind, ind2 = " " * 12, " " * 16
    # the replay's step check: the first failing step sets the status and the last valid time
    fail = [f"{ind2}s = f if f != 0 else s"] if flagged else []
    fail += [f"{ind2}if s != 0:", f"{ind2}    status[j] = s", f"{ind2}    tlast[j] = t0 + n * dt", f"{ind2}    break"]
    if wide:
        L += [
            f"{ind}for k in range(DIM):",
            f"{ind}    x[k, j] = xb[k, j]",
            f"{ind}for n in range(n0, n1):",
            f"{ind2}f = _vel(x, j, p, w, k0)",
        ]
        for s_ in range(1, ns):
            L += [f"{ind2}xt[{k}, j] = {a}" for k, a in enumerate(args[s_])]
            L.append(f"{ind2}f |= _vel(xt, j, p, w, k{s_})")
        L += [f"{ind2}xt[{k}, j] = {z}" for k, z in enumerate(zs)]
        L.append(f"{ind2}s = _check_point(xt, j)")
        L.append(f"{ind2}if s == 0:")
        L.append(f"{ind2}    s = _cross(x, j, xt, j, p)")
        L += fail
        L += [f"{ind2}for k in range(DIM):", f"{ind2}    x[k, j] = xt[k, j]"]
    else:
        L += [f"{ind}x{k} = xb[{k}, j]" for k in range(n)]
        L.append(f"{ind}for n in range(n0, n1):")
        for s_ in range(ns):
            ks = ", ".join(f"k{s_}_{k}" for k in range(n))
            sa = ", ".join(scalar(a) for a in args[s_])
            if s_ == 0:
                L.append(f"{ind2}{ks}, f = _velc({sa}, p, w)")
            else:
                L.append(f"{ind2}{ks}, g = _velc({sa}, p, w)")
                L.append(f"{ind2}f |= g")
        L += [f"{ind2}z{k} = {scalar(z)}" for k, z in enumerate(zs)]
        L.append(f"{ind2}s = _oks({Z})")
        L.append(f"{ind2}if s == 0 and not _sides({', '.join(f'x{k}' for k in range(n))}, {Z}, p):")
        L.append(f"{ind2}    s = {SINGULAR}")
        L += fail
        L += [f"{ind2}x{k} = z{k}" for k in range(n)] + [f"{ind}x[{k}, j] = x{k}" for k in range(n)]
    L += [
        f"        ctl[{CONTROL_DONE}] += (n1 - n0) * m",
        "        n0 = n1",
        f"        if ctl[{CONTROL_STOP}] != 0:",
        "            break",
        "    for j in range(m):",
        "        if status[j] == 0:",
        "            tlast[j] = t0 + nsteps * dt",
    ]
    steps = "\n".join(S) + "\n\n" if outline else ""
    return steps + ranged(kernel_name("fixed_range", name), "t0, dt", "\n".join(L) + "\n")


