"""Module assembly: the field's own functions, the steppers and the shared template, in one file.

The first lines of a generated module state its chart, the argument order and how the velocity is
computed; then come the field's scalar functions (``_loss``, ``_grad``, ``_metric``, ``_vel``,
``_vels``, the domain checks), the fixed-step kernels of every stepper of
:data:`~riemgrad.kernels.codegen.steppers.TABLE`, the shared template and the adaptive pair.
"""

from __future__ import annotations

import sympy as sp

from ...symbolic import Chart
from ..abi import CHUNK, CODE, SCALAR_MAX_DIM, fastmath_flags
from .adaptive import dopri_source
from .definite import pivot_check, singular_factors
from .printer import assignments
from .steppers import FIXED, range_stepper, scalar_stepper
from .template import DECORATOR, INLINE, rhs_template, template

__all__ = ["generate_source", "generate_rhs_source"]

OK = CODE["SUCCESS"]


def _function(
    header: str,
    exprs: list[sp.Expr],
    targets: list[str],
    coords: tuple[sp.Symbol, ...],
    params: tuple[sp.Symbol, ...],
    tail: str = "",
    scalar: bool = False,
    inline: bool = False,
    elementary: set[str] | None = None,
) -> str:
    names = {c: f"x{k}" for k, c in enumerate(coords)}
    names.update({q: f"p{i}" for i, q in enumerate(params)})
    used: set[sp.Symbol] = set()
    for e in exprs:
        used |= sp.sympify(e).free_symbols
    lines = [INLINE if inline else DECORATOR, header]
    for k, c in enumerate(coords):
        if c in used and not scalar:
            lines.append(f"    x{k} = x[{k}, j]")
    for i, q in enumerate(params):
        if q in used:
            lines.append(f"    p{i} = p[{i}]")
    lines += assignments(exprs, targets, names, elementary=elementary)
    if tail:
        lines.append(tail.rstrip("\n"))
    return "\n".join(lines) + "\n"


def generate_source(
    chart: Chart,
    params: tuple[sp.Symbol, ...],
    loss: sp.Expr,
    grad: list[sp.Expr],
    G: sp.ImmutableMatrix,
    velocity: list[sp.Expr] | None,
    residuals: list[sp.Expr] | None = None,
    vectorized_math: bool = True,
) -> str:
    """The complete generated module for one field (see :class:`~riemgrad.kernels.FlowField`).

    Parameters
    ----------
    chart : Chart
        The chart; its coordinates are ``x[k, j]`` and its domain gives ``_check_point``.
    params : tuple of sympy.Symbol
        Call-time parameters, ``p[i]``.
    loss, grad, G : sympy expressions
        The loss, its gradient (one per coordinate) and the metric matrix, printed as the
        ``evaluate`` kernels.
    velocity : list of sympy.Expr or None
        The right-hand side of the flow when it is given symbolically; None for a metric
        solved in the kernel (Cholesky, or QR of the residuals' Jacobian).
    residuals : list of sympy.Expr, optional
        For the QR strategy.
    vectorized_math : bool
        Print ``exp``, ``log``, ``tanh`` in the right-hand side ``_vel``
        and ``_velc`` (inlined into the loops over chunks of trajectories) as the vectorizable
        functions of :mod:`riemgrad.kernels.elementary`, whose definitions the module then
        carries (only those used). The loss, gradient and metric evaluators and the
        one-trajectory right-hand side ``_vels`` keep :mod:`math`.
        A module without these functions in its right-hand side is the same either way.

    Returns
    -------
    str
        A self-contained module defining every kernel of :mod:`riemgrad.kernels.abi`.
    """
    n = chart.dim
    coords = chart.coords
    m = len(residuals) if residuals is not None else 0
    if velocity is not None:
        how, work = "symbolic (derived with SymPy)", 0
    elif residuals is not None:
        how, work = f"Householder QR of the {m} x {n} Jacobian of the residuals", m * n + m + n
    else:
        how, work = "inlined Cholesky solve", n * n + n
    parts = [_header(chart, params, f"velocity: {how}", work, m)]
    parts.append(_function("def _loss(x, j, p):", [loss], ["r"], coords, params, "    return r"))
    parts.append(_function("def _grad(x, j, p, out):", grad, [f"out[{k}, j]" for k in range(n)], coords, params))
    lower = [(a, b) for a in range(n) for b in range(a + 1)]
    parts.append(
        _function(
            "def _metric(x, j, p, g):",
            [G[a, b] for a, b in lower],
            [f"g[{a}, {b}]" for a, b in lower],
            coords,
            params,
            "\n".join(f"    g[{b}, {a}] = g[{a}, {b}]" for a, b in lower if a != b),
        )
    )
    if velocity is not None:
        # the symbolic and exact strategies test the metric's pivots as the Cholesky solve does
        check_exprs, check_names, check = pivot_check(G)
        vel_exprs = list(velocity) + check_exprs
        vel_targets = [f"out[{k}, j]" for k in range(n)] + check_names
        vel_tail = f"{check}\n    return s"
        vels_targets = [f"v{k}" for k in range(n)] + check_names
        vels_tail = f"{check}\n    return {', '.join(vels_targets[:n])}, s"
        flagged = check != "    s = 0"
    elif residuals is not None:
        J = [[sp.diff(r, c) for c in coords] for r in residuals]
        vel_exprs = [J[i][k] for i in range(m) for k in range(n)] + list(residuals)
        vel_targets = vels_targets = [f"w[{i * n + k}]" for i in range(m) for k in range(n)] + [
            f"w[{m * n + i}]" for i in range(m)
        ]
        vel_tail = (
            "    s = _qr_solve(w)\n    for k in range(DIM):\n        out[k, j] = -w[NRES * DIM + k]\n    return s"
        )
        vels_tail = f"    s = _qr_solve(w)\n    return {', '.join(f'-w[{m * n + k}]' for k in range(n))}, s"
        flagged = True
    else:
        vel_exprs = [G[a, b] for a, b in lower] + list(grad)
        vel_targets = vels_targets = [f"w[{a * n + b}]" for a, b in lower] + [f"w[{n * n + k}]" for k in range(n)]
        vel_tail = (
            "    s = _chol_solve(w)\n    for k in range(DIM):\n        out[k, j] = -w[DIM * DIM + k]\n    return s"
        )
        vels_tail = f"    s = _chol_solve(w)\n    return {', '.join(f'-w[{n * n + k}]' for k in range(n))}, s"
        flagged = True
    factors = singular_factors(G, coords)
    used: set[str] | None = set() if vectorized_math else None
    parts += _dynamics(
        chart, params, vel_exprs, vel_targets, vel_tail, vels_targets, vels_tail, flagged, factors, elementary=used
    )
    return "\n\n".join(_with_elementary(parts, used)) + template() + dopri_source()


def _with_elementary(parts: list[str], used: set[str] | None) -> list[str]:
    """``parts`` with the definitions of the vectorizable functions ``used`` after the header."""
    if not used:
        return parts
    from ..elementary import source_for  # imports Numba: only for a module that needs it

    code = "from riemgrad.kernels.elementary import bits_float, float_bits\n\n\n" + source_for(
        sorted(used), decorator=INLINE
    )
    return [parts[0] + code + "\n", *parts[1:]]


def _header(chart: Chart, params: tuple[sp.Symbol, ...], how: str, work: int, nres: int) -> str:
    """The first lines of a module: provenance, argument order, imports, constants."""
    import numba

    from ..._version import __version__

    coords = chart.coords
    head = [
        "# Generated by riemgrad.kernels.compile_flow -- do not edit; the file name is a hash of this text.",
        f"# riemgrad {__version__}, numba {numba.__version__}",
        f"# chart {chart.name!r}: x[k, j] is coordinate k of trajectory j, k over {tuple(map(str, coords))}",
        f"# p[i] over params {tuple(map(str, params))}",
        f"# {how}",
        "import math",
        "",
        "import numpy as np",
        "from numba import njit, prange",
        "",
        f"DIM = {chart.dim}",
        f"WORK = {work}",
        f"NRES = {nres}",
        f"CHUNK = {CHUNK}",
        f"FASTMATH = {_fastmath_literal()}  # riemgrad.kernels.abi.FASTMATH_FLAGS",
        "",
        "",
    ]
    return "\n".join(head)


def _fastmath_literal() -> str:
    flags = fastmath_flags()
    return "{" + ", ".join(repr(f) for f in flags) + "}" if flags else "False"


def _dynamics(
    chart: Chart,
    params: tuple[sp.Symbol, ...],
    vel_exprs: list[sp.Expr],
    vel_targets: list[str],
    vel_tail: str,
    vels_targets: list[str],
    vels_tail: str,
    flagged: bool,
    factors: list[sp.Expr] = (),
    elementary: set[str] | None = None,
) -> list[str]:
    """The right-hand side (``_vel``, ``_vels``), the domain checks and the fixed-step kernels.

    ``factors``: the metric's singular factors (:func:`.definite.singular_factors`); a step that
    changes the strict sign of one is refused with ``SINGULAR_METRIC`` (``_sides``, ``_cross``).

    With a set ``elementary``, the right-hand sides inlined into the loops over a chunk of
    trajectories, which vectorize, use the vectorizable functions and record their names:
    ``_vel`` (wide fields) and ``_velc`` (the register form for fields of at most
    ``SCALAR_MAX_DIM`` coordinates). ``_vels`` (one trajectory at a time, for batches of at
    most ``SCALAR_MAX_BATCH``) keeps :mod:`math`: it has no loop to vectorize, and the inlined
    functions would only add compilation time (measured: a log-sigma field's first scalar
    solve 19 s against 6 s under load). So the two layouts of such a field agree to the
    functions' accuracy (a few ulps), not bitwise.
    """
    n = chart.dim
    coords = chart.coords
    X = ", ".join(f"x{k}" for k in range(n))
    parts = []
    parts.append(
        _function(
            "def _vel(x, j, p, w, out):",
            vel_exprs,
            vel_targets,
            coords,
            params,
            vel_tail,
            inline=True,
            elementary=elementary,
        )
    )
    if n <= SCALAR_MAX_DIM:
        # on scalars: ``_vels`` with math for one trajectory at a time, ``_velc`` for the loops over a
        # chunk (which vectorize) with the vectorizable functions, or the same function if none is used
        vec: set[str] = set()
        for name, funcs in (("_vels", None), ("_velc", None if elementary is None else vec)):
            text = _function(f"def {name}({X}, p, w):", vel_exprs, vels_targets, coords, params, vels_tail,
                             scalar=True, inline=True, elementary=funcs)  # fmt: skip
            if name == "_vels" or vec:
                parts.append(text)
        if vec:
            elementary |= vec
        else:
            parts.append("_velc = _vels  # no function here has a vectorizable twin\n")
    conds = []
    for k, kind in enumerate(chart.domain.values()):
        if kind == "positive":
            conds.append(f"x{k} > 0.0")
        elif kind == "negative":
            conds.append(f"x{k} < 0.0")
    fin = " & ".join(f"math.isfinite(x{k})" for k in range(n))
    dom = " & ".join(f"({c})" for c in conds) if conds else "True"
    # valid, outside the chart's domain, non-finite; no short-circuit branches (vectorizes)
    codes = f"{CODE['NONFINITE']} if not fin else ({OK} if dom else {CODE['LEFT_DOMAIN']})"
    check = f"    fin = {fin}\n    dom = {dom}\n    return {codes}\n"
    loads = "".join(f"    x{k} = x[{k}, j]\n" for k in range(n))
    parts.append(f"{DECORATOR}\ndef _check_point(x, j):\n{loads}{check}")
    if n <= SCALAR_MAX_DIM:
        parts.append(f"{INLINE}\ndef _oks({X}):\n{check}")
        # the domain alone (finiteness is absorbing under x + dt * (...), see _range_stepper)
        parts.append(f"{INLINE}\ndef _dom({X}):\n    return {dom}\n")
    parts += _crossing(coords, params, list(factors))
    for name in FIXED:
        if n <= SCALAR_MAX_DIM:
            parts.append(scalar_stepper(name, n))
        parts.append(range_stepper(name, n, flagged=flagged))
    return parts


def _crossing(coords: tuple[sp.Symbol, ...], params: tuple[sp.Symbol, ...], factors: list[sp.Expr]) -> list[str]:
    """``_sides(x..., z..., p)`` (True when no singular factor changes strict sign from x to z) and
    ``_cross(x, j, y, i, p)`` (the same on arrays, as a status code)."""
    n = len(coords)
    X = ", ".join(f"x{k}" for k in range(n))
    Z = ", ".join(f"z{k}" for k in range(n))
    xn = {c: f"x{k}" for k, c in enumerate(coords)}
    zn = {c: f"z{k}" for k, c in enumerate(coords)}
    pn = {q: f"p[{i}]" for i, q in enumerate(params)}
    if factors:
        body = assignments(factors, [f"_a{i}" for i in range(len(factors))], {**xn, **pn})
        body += assignments(factors, [f"_b{i}" for i in range(len(factors))], {**zn, **pn})
        crossed = " | ".join(
            f"((_a{i} > 0.0) & (_b{i} < 0.0)) | ((_a{i} < 0.0) & (_b{i} > 0.0))" for i in range(len(factors))
        )
        body.append(f"    return not ({crossed})")
    else:
        body = ["    return True"]
    loads = [f"    x{k} = x[{k}, j]" for k in range(n)] + [f"    z{k} = y[{k}, i]" for k in range(n)]
    parts = []
    if n <= SCALAR_MAX_DIM:
        parts.append(f"{INLINE}\ndef _sides({X}, {Z}, p):\n" + "\n".join(body) + "\n")
        cross = f"    return {OK} if _sides({X}, {Z}, p) else {CODE['SINGULAR_METRIC']}\n"
        parts.append(f"{INLINE}\ndef _cross(x, j, y, i, p):\n" + "\n".join(loads) + "\n" + cross)
    else:
        same = body[-1].replace("    return ", "    same = ")
        tail = f"{same}\n    return {OK} if same else {CODE['SINGULAR_METRIC']}\n"
        parts.append(f"{INLINE}\ndef _cross(x, j, y, i, p):\n" + "\n".join(loads + body[:-1]) + "\n" + tail)
    return parts


def generate_rhs_source(chart: Chart, rhs: list[sp.Expr], energy: sp.Expr, vectorized_math: bool = True) -> str:
    """The module of an autonomous ODE ``dx/dt = rhs(x)`` handed over whole, with a monitored ``energy``.

    No loss, gradient or metric: the module holds the right-hand side, the domain checks,
    every stepper and the ``energy`` evaluator (a quantity the ODE conserves, such as ``g(v, v)``
    along a geodesic).

    Parameters
    ----------
    chart : Chart
        The (phase) chart of the state.
    rhs : list of sympy.Expr
        One entry per coordinate, in the chart's coordinates only.
    energy : sympy.Expr
        The monitored scalar.
    vectorized_math : bool
        As for :func:`generate_source`.

    Returns
    -------
    str
    """
    n = chart.dim
    parts = [_header(chart, (), "right-hand side: given symbolically (no loss, no metric)", 0, 0)]
    parts.append(_function("def _energy(x, j, p):", [energy], ["r"], chart.coords, (), "    return r"))
    vel_targets = [f"out[{k}, j]" for k in range(n)]
    vels_targets = [f"v{k}" for k in range(n)]
    vels_tail = f"    return {', '.join(vels_targets)}, {OK}"
    used: set[str] | None = set() if vectorized_math else None
    parts += _dynamics(chart, (), list(rhs), vel_targets, f"    return {OK}", vels_targets, vels_tail, False, elementary=used)
    return "\n\n".join(_with_elementary(parts, used)) + rhs_template() + dopri_source()
