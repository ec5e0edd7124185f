"""Vectorizable double-precision elementary functions for the generated kernels.

Numba lowers ``math.exp`` and friends to calls of the scalar C library, and a loop
containing such a call does not vectorize (the SVML path needs an LLVM build the PyPI
wheels lack). The functions here are plain arithmetic on doubles and on the integers of
their bit patterns, with every branch written as a select, so that LLVM's loop vectorizer
turns a loop ``out[i] = vexp(x[i])`` into 256-bit vector code.

Algorithms (from fdlibm/musl, whose error bounds are below 1 ulp; a fitted polynomial for
small ``tanh``):

``vexp``
    Cody-Waite reduction ``x = k ln2 + r`` with a two-part ``ln2``, ``exp(r) = 1 + r +
    r**2 q(r)`` with ``q`` a degree-10 polynomial (Chebyshev interpolation, Estrin's form: no
    division, short dependency chains), ``1 + hi`` summed exactly (Fast2Sum), and ``2**k``
    built from the exponent bits in two factors (so subnormal results are rounded once in
    the scaling and ``k = 1024`` works). Until 2026-11-29 the fdlibm rational form
    ``1 + r + r c/(2 - c)``: the division and a longer chain made it about 1.2x slower.
``vlog``, ``vlog1p``
    ``x = 2**k (1 + f)`` with ``1 + f`` in ``[sqrt(2)/2, sqrt(2))`` taken from the bits,
    ``s = f/(2 + f)`` and the fdlibm polynomial in ``s**2``; ``vlog1p`` adds the rounding
    error of ``1 + x`` as a correction term.
``vexpm1``
    The fdlibm algorithm with all of its cases computed and selected.
``vtanh``
    ``x + x z P(z)`` (``z = x**2``, ``P`` of degree 16 fitted here, the correction summed in
    double-double) for ``|x| < 1``, else
    ``1 - 2/(exp(2|x|) + 1)``; ``±1`` beyond ``|x| > 22``.
``vsin``, ``vcos``
    Three-round Cody-Waite reduction by a 3 x 33-bit ``pi/2`` (fdlibm's "medium" case,
    good to 151 bits, exact for ``|x| < 2**20``) and the fdlibm kernels. Beyond
    ``|x| >= 2**20`` the functions call ``math.sin``/``math.cos``: the reduction's
    accuracy ends there. The loop still vectorizes, but LLVM if-converts the branch and
    calls the scalar C function for every lane (with argument 0 where it is not needed),
    which costs most of the gain: ``vsin_bounded``/``vcos_bounded`` leave the call out and
    return NaN for ``|x| >= 2**20``, for callers that know their arguments are moderate.
    A vectorizable Payne-Hanek reduction (a table of 2/pi by exponent, as in SLEEF) would
    remove the call; it is not written yet.

Special values are those of :mod:`math` and IEEE 754: ``vexp`` overflows to ``inf``
above ``709.782712893384``, underflows through the subnormals to ``0`` below
``-745.1332191019411``; NaN propagates; ``vlog(0) = -inf``, ``vlog(x < 0) = nan``,
``vlog(inf) = inf``; ``vsin(±inf) = vcos(±inf) = nan``; ``vtanh(±inf) = ±1``. Unlike
``math``, no function raises (a kernel must not raise in a batch).

The functions are compiled with ``inline="always"``: Numba inlines them into the caller
before LLVM sees the loop (LLVM alone finds them too big to inline, and a call blocks
vectorization), so they take the *caller's* fast-math flags. ``contract`` (FMA),
``arcp``, ``nsz`` and ``afn`` keep the 1-ulp bound (tested). ``reassoc`` together with
``nsz`` breaks them: LLVM then folds the rounding shift ``(x/ln2 + 1.5*2**52) -
1.5*2**52`` and the ``hi - lo`` corrections away (measured: ``vlog`` returned 0.25 for
every argument; tested); ``nnan``/``ninf`` (in ``fastmath=True``) delete the
special-value selects. A kernel that calls them must not use ``reassoc`` with ``nsz``,
nor ``nnan``/``ninf``.

For a code generator, :data:`SOURCE` maps each name to the source text of its function
and :func:`source_for` returns the text of a set of functions with their dependencies and
the one import they need (:data:`PRELUDE`); :data:`SYMPY_NAMES` maps SymPy functions to
these names.

Examples
--------
>>> import math
>>> from riemgrad.kernels.elementary import vexp, vlog, vsin
>>> abs(vexp(1.0) - math.e) <= math.ulp(math.e), vlog(0.0), vsin(0.0)
(True, -inf, 0.0)
"""

from __future__ import annotations

import inspect

import sympy as sp

from ..errors import CompilationError
from . import _elementary_explog, _elementary_trig
from ._elementary_base import JIT_OPTIONS, SIN_COS_REDUCTION_LIMIT, bits_float, float_bits
from ._elementary_explog import vexp, vexpm1, vlog, vlog1p, vtanh
from ._elementary_trig import _kcos, _ksin, _rem_pio2, vcos, vcos_bounded, vsin, vsin_bounded

__all__ = [
    "float_bits",
    "bits_float",
    "vexp",
    "vexpm1",
    "vlog",
    "vlog1p",
    "vsin",
    "vcos",
    "vsin_bounded",
    "vcos_bounded",
    "vtanh",
    "SOURCE",
    "DEPENDENCIES",
    "PRELUDE",
    "SYMPY_NAMES",
    "JIT_OPTIONS",
    "SIN_COS_REDUCTION_LIMIT",
    "source_for",
]


# ---------------------------------------------------------------- source text
#: The undecorated Python functions (what runs under ``NUMBA_DISABLE_JIT=1``), by name.
_PY_FUNCS = {**_elementary_explog.PY_FUNCS, **_elementary_trig.PY_FUNCS}
# the compiled ones, re-exported
_COMPILED = (vexp, vexpm1, vlog, vlog1p, vtanh, vsin, vcos, vsin_bounded, vcos_bounded, _rem_pio2, _ksin, _kcos)

#: Direct dependencies of each function (names in :data:`SOURCE`).
DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "vexp": (),
    "vexpm1": (),
    "vlog": (),
    "vlog1p": (),
    "vtanh": ("vexp",),
    "_rem_pio2": (),
    "_ksin": (),
    "_kcos": (),
    "vsin": ("_rem_pio2", "_ksin", "_kcos"),
    "vcos": ("_rem_pio2", "_ksin", "_kcos"),
    "vsin_bounded": ("_rem_pio2", "_ksin", "_kcos"),
    "vcos_bounded": ("_rem_pio2", "_ksin", "_kcos"),
}

#: The function's source text, undecorated, by name.
SOURCE: dict[str, str] = {name: inspect.getsource(f) for name, f in _PY_FUNCS.items()}

#: What the emitted source needs in scope: ``math`` and the two bit casts.
PRELUDE = "import math\n\nfrom riemgrad.kernels.elementary import bits_float, float_bits\n"

#: SymPy function class -> name of the function here (``sp.exp`` also covers ``E**x``).
SYMPY_NAMES = {
    sp.exp: "vexp",
    sp.log: "vlog",
    sp.sin: "vsin",
    sp.cos: "vcos",
    sp.tanh: "vtanh",
}


def source_for(
    names, decorator: str = '@njit(fastmath=False, error_model="numpy", nogil=True, cache=True, inline="always")'
) -> str:
    """Source text defining the functions ``names`` and everything they call.

    Parameters
    ----------
    names : iterable of str
        Names from :data:`SOURCE`, e.g. ``["vexp", "vtanh"]``.
    decorator : str
        The line put above every ``def`` (the emitting module must import ``njit``);
        ``""`` for plain Python functions.

    Returns
    -------
    str
        Definitions in dependency order (callees first), without :data:`PRELUDE`.

    Raises
    ------
    CompilationError
        If a name is not in :data:`SOURCE` (a ``RuntimeError``).

    Examples
    --------
    >>> src = source_for(["vtanh"], decorator="")
    >>> ns = {}
    >>> exec(PRELUDE + src, ns)
    >>> [name for name in ("vexp", "vtanh", "vexpm1") if name in ns]
    ['vexp', 'vtanh']
    >>> round(ns["vtanh"](0.5), 12)
    0.46211715726
    """
    order: list[str] = []

    def visit(name: str) -> None:
        if name not in SOURCE:
            raise CompilationError(
                f"`names` must be among {sorted(SOURCE)}; got {name!r}. Keep math.{name.lstrip('v')} "
                "for a function that has no vectorizable version."
            )
        if name in order:
            return
        for dep in DEPENDENCIES[name]:
            visit(dep)
        order.append(name)

    for name in names:
        visit(name)
    head = decorator + "\n" if decorator else ""
    return "\n\n".join(head + SOURCE[name] for name in order)
