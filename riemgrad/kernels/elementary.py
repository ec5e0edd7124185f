"""Vectorizable double-precision elementary functions for the generated kernels.

Numba lowers ``math.exp`` and friends to calls of the scalar C library, and a loop
containing such a call does not vectorize (the SVML path needs an LLVM build the PyPI
wheels lack). The functions here are plain arithmetic on doubles and on the integers of
their bit patterns, with every branch written as a select, so that LLVM's loop vectorizer
turns a loop ``out[i] = vexp(x[i])`` into 256-bit vector code.

Algorithms (from fdlibm/musl, whose error bounds are below 1 ulp; a fitted polynomial for
small ``tanh``):

``vexp``
    Cody-Waite reduction ``x = k ln2 + r`` with a two-part ``ln2``, the fdlibm rational
    approximation ``exp(r) = 1 + r + r c/(2 - c)``, and ``2**k`` built from the exponent
    bits in two factors (so subnormal results are rounded once and ``k = 1024`` works).
``vlog``, ``vlog1p``
    ``x = 2**k (1 + f)`` with ``1 + f`` in ``[sqrt(2)/2, sqrt(2))`` taken from the bits,
    ``s = f/(2 + f)`` and the fdlibm polynomial in ``s**2``; ``vlog1p`` adds the rounding
    error of ``1 + x`` as a correction term.
``vexpm1``
    The fdlibm algorithm with all of its cases computed and selected.
``vtanh``
    ``x + x z P(z)`` (``z = x**2``, ``P`` of degree 16 fitted here, the correction summed in
    double-double) for ``|x| < 1``, else
    ``1 - 2/(expm1(2|x|) + 2)``; ``±1`` beyond ``|x| > 22``.
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
``arcp``, ``nsz`` and ``afn`` keep the 1-ulp bound (tested). ``reassoc`` breaks them:
it folds the rounding shift ``(x/ln2 + 1.5*2**52) - 1.5*2**52`` and the ``hi - lo``
corrections away (errors of 10**19 ulp, tested); ``nnan``/``ninf`` (in ``fastmath=True``)
delete the special-value selects. A kernel that calls them must not use those flags.

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
import math
import struct

import sympy as sp
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

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

#: Options the functions are compiled with (and a code generator should use for them).
JIT_OPTIONS = {"fastmath": False, "error_model": "numpy", "nogil": True, "cache": True, "inline": "always"}

#: ``vsin``/``vcos`` reduce arguments with ``|x|`` below this exactly; beyond, ``math``.
SIN_COS_REDUCTION_LIMIT = 1048576.0


# ---------------------------------------------------------------- bit casts
def float_bits(x: float) -> int:
    """The IEEE 754 bit pattern of a double as a signed 64-bit integer.

    Compiled code reinterprets the register (an LLVM ``bitcast``, which vectorizes);
    pure Python (``NUMBA_DISABLE_JIT=1``) goes through :mod:`struct`.

    Parameters
    ----------
    x : float
        Any double, including inf, NaN and subnormals.

    Returns
    -------
    int
        The bits, in ``[-2**63, 2**63)``.

    Examples
    --------
    >>> hex(float_bits(1.0))
    '0x3ff0000000000000'
    """
    return struct.unpack("<q", struct.pack("<d", x))[0]


def bits_float(i: int) -> float:
    """The double whose IEEE 754 bit pattern is the 64-bit integer ``i``.

    Parameters
    ----------
    i : int
        Bits as a signed 64-bit integer (only the low 64 bits are used).

    Returns
    -------
    float
        The double with these bits.

    Examples
    --------
    >>> bits_float(0x4000000000000000)
    2.0
    """
    return struct.unpack("<d", struct.pack("<q", ((i + 2**63) % 2**64) - 2**63))[0]


@intrinsic
def _float_bits(typingctx, x):
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.fpext(args[0], ir.DoubleType()) if x.bitwidth == 32 else args[0], ir.IntType(64))

    return types.int64(x), codegen


@intrinsic
def _bits_float(typingctx, i):
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        v = args[0]
        if i.bitwidth < 64:
            v = builder.sext(v, ir.IntType(64)) if i.signed else builder.zext(v, ir.IntType(64))
        return builder.bitcast(v, ir.DoubleType())

    return types.float64(i), codegen


@overload(float_bits, inline="always")
def _ol_float_bits(x):
    return lambda x: _float_bits(x)


@overload(bits_float, inline="always")
def _ol_bits_float(i):
    return lambda i: _bits_float(i)


# ---------------------------------------------------------------- functions
# Every branch below is a select (a conditional assignment of an already computed value),
# so a loop calling these functions if-converts and vectorizes. Constants are literals
# inside the functions so that each function's source text stands alone.


def vexp(x):
    """Exponential of a double, vectorizable; error below 1 ulp.

    Parameters
    ----------
    x : float
        Any double.

    Returns
    -------
    float
        ``exp(x)``: ``inf`` above 709.782712893384, subnormal results rounded once, ``0``
        below -745.1332191019411, ``nan`` for ``nan``.

    Examples
    --------
    >>> vexp(0.0), vexp(1000.0), vexp(-1000.0), vexp(-745.0) > 0.0
    (1.0, inf, 0.0, True)
    """
    xs = x
    if xs > 709.9:  # clamp so that k stays in range; inf and overflow give inf below
        xs = 709.9
    if xs < -746.0:  # underflow rounds to 0 below
        xs = -746.0
    if xs != xs:
        xs = 0.0  # NaN: keep the integer conversion defined; selected away at the end
    # round x/ln2 to an integer by adding 1.5 * 2**52: the integer is then in the low bits
    # (no float<->int conversion, which AVX2 lacks for 64-bit integers)
    kd = xs * 1.44269504088896338700e00 + 6755399441055744.0
    kf = kd - 6755399441055744.0
    hi = xs - kf * 6.93147180369123816490e-01
    lo = kf * 1.90821492927058770002e-10
    r = hi - lo
    t = r * r
    c = r - t * (
        1.66666666666666019037e-01
        + t
        * (
            -2.77777777770155933842e-03
            + t * (6.61375632143793436117e-05 + t * (-1.65339022054652515390e-06 + t * 4.13813679705723846039e-08))
        )
    )
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    k = float_bits(kd) - 0x4338000000000000
    k1 = k >> 1
    k2 = k - k1
    y = y * bits_float((k1 + 1023) << 52) * bits_float((k2 + 1023) << 52)
    if x != x:
        y = x + x
    return y


def vexpm1(x):
    """``exp(x) - 1`` for a double, vectorizable, accurate near 0; error below 1 ulp.

    Parameters
    ----------
    x : float
        Any double.

    Returns
    -------
    float
        ``expm1(x)``: ``inf`` on overflow, ``-1`` below -40, ``nan`` for ``nan``.

    Examples
    --------
    >>> vexpm1(1e-20), vexpm1(-50.0)
    (1e-20, -1.0)
    """
    xs = x
    if xs > 709.9:
        xs = 709.9
    if xs < -40.0:  # exp(x) - 1 rounds to -1 below -56 ln 2
        xs = -40.0
    if xs != xs:
        xs = 0.0
    # round x/ln2 to an integer by adding 1.5 * 2**52: the integer is then in the low bits
    # (no float<->int conversion, which AVX2 lacks for 64-bit integers)
    kd = xs * 1.44269504088896338700e00 + 6755399441055744.0
    kf = kd - 6755399441055744.0
    hi = xs - kf * 6.93147180369123816490e-01
    lo = kf * 1.90821492927058770002e-10
    xr = hi - lo
    c = (hi - xr) - lo
    k = float_bits(kd) - 0x4338000000000000
    hfx = 0.5 * xr
    hxs = xr * hfx
    r1 = 1.0 + hxs * (
        -3.33333333333331316428e-02
        + hxs
        * (
            1.58730158725481460165e-03
            + hxs * (-7.93650757867487942473e-05 + hxs * (4.00821782732936239552e-06 + hxs * -2.01099218183624371326e-07))
        )
    )
    t = 3.0 - r1 * hfx
    e = hxs * ((r1 - t) / (6.0 - xr * t))
    y0 = xr - (xr * e - hxs)  # k == 0
    e = xr * (e - c) - c
    e = e - hxs
    ym1 = 0.5 * (xr - e) - 0.5  # k == -1
    yp1 = 1.0 + 2.0 * (xr - e)  # k == 1
    if xr < -0.25:
        yp1 = -2.0 * (e - (xr + 0.5))
    k1 = k >> 1
    k2 = k - k1
    # large |k|: (1 - (e - x)) 2**k - 1, the power of two in two factors (k may be 1024)
    ybig = (1.0 - (e - xr)) * bits_float((k1 + 1023) << 52) * bits_float((k2 + 1023) << 52) - 1.0
    kc = k
    if kc < 2:
        kc = 2
    if kc > 56:
        kc = 56
    twopk = bits_float((kc + 1023) << 52)
    twomk = bits_float((1023 - kc) << 52)
    ymid = (1.0 - twomk - (e - xr)) * twopk  # 2 <= k < 20
    if k >= 20:
        ymid = ((xr - (e + twomk)) + 1.0) * twopk  # 20 <= k <= 56
    y = ybig
    if k >= 2 and k <= 56:
        y = ymid
    if k == 1:
        y = yp1
    if k == -1:
        y = ym1
    if k == 0:
        y = y0
    if x < -40.0:
        y = -1.0
    if x != x:
        y = x + x
    return y


def vlog(x):
    """Natural logarithm of a double, vectorizable; error below 1 ulp.

    Parameters
    ----------
    x : float
        Any double; subnormals are exact arguments.

    Returns
    -------
    float
        ``log(x)``: ``-inf`` at 0, ``nan`` for ``x < 0`` and ``nan``, ``inf`` at ``inf``.

    Examples
    --------
    >>> vlog(1.0), vlog(0.0), vlog(math.inf), math.isnan(vlog(-1.0))
    (0.0, -inf, inf, True)
    """
    xs = x
    kadj = 0
    if xs < 2.2250738585072014e-308:  # subnormal (and 0 or negative: selected away)
        xs = xs * 18014398509481984.0  # 2**54
        kadj = -54
    b = float_bits(xs) + (0x3FF0000000000000 - 0x3FE6A09E00000000)
    k = (b >> 52) - 1023 + kadj
    f = bits_float((b & 0x000FFFFFFFFFFFFF) + 0x3FE6A09E00000000) - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01))
    t2 = z * (
        6.666666666666735130e-01
        + w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01))
    )
    rr = t2 + t1
    dk = bits_float(k + 0x4338000000000000) - 6755399441055744.0  # float(k), vectorizable
    y = s * (hfsq + rr) + dk * 1.90821492927058770002e-10 - hfsq + f + dk * 6.93147180369123816490e-01
    if x == 0.0:
        y = -math.inf
    if x < 0.0:
        y = math.nan
    if not x < math.inf:
        y = x + x  # inf and NaN
    return y


def vlog1p(x):
    """``log(1 + x)`` for a double, vectorizable, accurate near 0; error below 1 ulp.

    Parameters
    ----------
    x : float
        Any double.

    Returns
    -------
    float
        ``log1p(x)``: ``-inf`` at -1, ``nan`` below -1 and for ``nan``.

    Examples
    --------
    >>> vlog1p(1e-20), vlog1p(-1.0)
    (1e-20, -inf)
    """
    u = 1.0 + x
    b = float_bits(u) + (0x3FF0000000000000 - 0x3FE6A09E00000000)
    k = (b >> 52) - 1023
    c = x - (u - 1.0)
    if k >= 2:
        c = 1.0 - (u - x)
    uu = u
    if not uu > 0.0:
        uu = 1.0  # x <= -1 (selected away below); keeps pure Python from dividing by 0
    c = c / uu
    if k >= 54:
        c = 0.0
    f = bits_float((b & 0x000FFFFFFFFFFFFF) + 0x3FE6A09E00000000) - 1.0
    if x < 0.41421353816986084 and x > -0.2928932188134524:  # sqrt(2)/2 <= 1 + x < sqrt(2)
        k = 0
        c = 0.0
        f = x
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01))
    t2 = z * (
        6.666666666666735130e-01
        + w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01))
    )
    rr = t2 + t1
    dk = bits_float(k + 0x4338000000000000) - 6755399441055744.0  # float(k), vectorizable
    y = s * (hfsq + rr) + (dk * 1.90821492927058770002e-10 + c) - hfsq + f + dk * 6.93147180369123816490e-01
    if abs(x) < 1.1102230246251565e-16:  # 2**-53
        y = x
    if x == -1.0:
        y = -math.inf
    if x < -1.0:
        y = math.nan
    if not x < math.inf:
        y = x + x
    return y


def vtanh(x):
    """Hyperbolic tangent of a double, vectorizable; error below 1 ulp.

    Parameters
    ----------
    x : float
        Any double.

    Returns
    -------
    float
        ``tanh(x)``: ``±1`` for ``|x| > 22`` and at ``±inf``, ``nan`` for ``nan``; odd, keeps ``-0.0``.

    Examples
    --------
    >>> vtanh(0.0), vtanh(-math.inf), round(vtanh(0.5), 15)
    (0.0, -1.0, 0.462117157260010)
    """
    a = abs(x)
    z = x * x
    # |x| < 1: tanh x = x + x z (-1/3 + z P1(z)), P1 of degree 15 interpolating at the
    # Chebyshev points of z in [0, 1] (mpmath, 300 bits). The correction is up to 31% of the
    # result, so it is summed in double-double: -1/3 as two doubles, the products exact by
    # Dekker's splitting (no FMA needed), Fast2Sum for the additions.
    p1 = -1.0194947086878417e-08
    p1 = 1.0671460035440944e-07 + z * p1
    p1 = -5.589611878490674e-07 + z * p1
    p1 = 2.0214631163816744e-06 + z * p1
    p1 = -5.919642199680327e-06 + z * p1
    p1 = 1.555872204514558e-05 + z * p1
    p1 = -3.909489114669662e-05 + z * p1
    p1 = 9.684564548505856e-05 + z * p1
    p1 = -0.0002391096012768218 + z * p1
    p1 = 0.0005900235117283935 + z * p1
    p1 = -0.0014558338369963881 + z * p1
    p1 = 0.0035921279857806117 + z * p1
    p1 = -0.008863235527054621 + z * p1
    p1 = 0.02186948853607107 + z * p1
    p1 = -0.053968253968252985 + z * p1
    p1 = 0.13333333333333333 + z * p1
    zp1 = z * p1
    ph = -0.3333333333333333 + zp1
    pl = (zp1 - (ph + 0.3333333333333333)) + -1.850371707708594e-17
    xz = x * z
    xs = 134217729.0 * x  # Veltkamp split of x, z, xz and ph into 26-bit halves
    xh = xs - (xs - x)
    xl = x - xh
    zs = 134217729.0 * z
    zh = zs - (zs - z)
    zl = z - zh
    exz = ((xh * zh - xz) + xh * zl + xl * zh) + xl * zl
    ws = 134217729.0 * xz
    wh = ws - (ws - xz)
    wl = xz - wh
    ps = 134217729.0 * ph
    pph = ps - (ps - ph)
    ppl = ph - pph
    w = xz * ph
    ew = ((wh * pph - w) + wh * ppl + wl * pph) + wl * ppl
    lo = ew + (xz * pl + exz * ph)
    sh = x + w
    small = sh + ((w - (sh - x)) + lo)
    aa = a
    if aa > 22.0:
        aa = 22.0
    t = vexpm1(aa + aa)
    big = 1.0 - 2.0 / (t + 2.0)  # |x| >= 1: 2/(t + 2) < 1/4, its error weighs little
    if a > 22.0:
        big = 1.0
    if x < 0.0:
        big = -big
    y = small
    if a < 3.725290298461914e-09:
        y = x  # |x| < 2**-28: tanh x rounds to x (keeps -0.0)
    if a >= 1.0:
        y = big
    return y


def _rem_pio2(x):
    # x = n pi/2 + (y0 + y1), |y0 + y1| <= pi/4 (1 + eps), for |x| < 2**20; returns n & 3 too.
    fd = x * 6.36619772367581382433e-01 + 6755399441055744.0  # round(x 2/pi) in the low bits
    fn = fd - 6755399441055744.0
    r = x - fn * 1.57079632673412561417e00
    w = fn * 6.07710050650619224932e-11
    y0 = r - w
    ex = (float_bits(x) >> 52) & 0x7FF
    ey = (float_bits(y0) >> 52) & 0x7FF
    # second round (used when the first cancelled more than 16 bits)
    r2 = r - fn * 6.07710050630396597660e-11
    w2 = fn * 2.02226624879595063154e-21 - ((r - r2) - fn * 6.07710050630396597660e-11)
    y02 = r2 - w2
    ey2 = (float_bits(y02) >> 52) & 0x7FF
    # third round (when the second cancelled more than 49 bits)
    r3 = r2 - fn * 2.02226624871116645580e-21
    w3 = fn * 8.47842766036889956997e-32 - ((r2 - r3) - fn * 2.02226624871116645580e-21)
    y03 = r3 - w3
    if ex - ey > 16:
        r = r2
        w = w2
        y0 = y02
        if ex - ey2 > 49:
            r = r3
            w = w3
            y0 = y03
    y1 = (r - y0) - w
    return y0, y1, float_bits(fd) & 3


def _ksin(x, y):
    z = x * x
    v = z * x
    r = 8.33333333332248946124e-03 + z * (
        -1.98412698298579493134e-04
        + z * (2.75573137070700676789e-06 + z * (-2.50507602534068634195e-08 + z * 1.58969099521155010221e-10))
    )
    return x - ((z * (0.5 * y - v * r) - y) - v * -1.66666666666666324348e-01)


def _kcos(x, y):
    z = x * x
    w = z * z
    r = z * (4.16666666666666019037e-02 + z * (-1.38888888888741095749e-03 + z * 2.48015872894767294178e-05)) + w * w * (
        -2.75573143513906633035e-07 + z * (2.08757232129817482790e-09 + z * -1.13596475577881948265e-11)
    )
    hz = 0.5 * z
    w = 1.0 - hz
    return w + (((1.0 - w) - hz) + (z * r - x * y))


def vsin(x):
    """Sine of a double, vectorizable; error below 1 ulp.

    Parameters
    ----------
    x : float
        Any double. For ``|x| >= 2**20`` the C library's ``sin`` (evaluated on every lane of a
        vector, see the module notes).

    Returns
    -------
    float
        ``sin(x)``; ``nan`` for ``±inf`` and ``nan``.

    Examples
    --------
    >>> vsin(0.0), vsin(-0.0), math.isnan(vsin(math.inf)), vsin(1e22) == math.sin(1e22)
    (0.0, -0.0, True, True)
    """
    xs = x
    if not abs(x) < 1048576.0:
        xs = 0.0
    y0, y1, n = _rem_pio2(xs)
    s = _ksin(y0, y1)
    c = _kcos(y0, y1)
    y = s
    if n & 1:
        y = c
    if n & 2:
        y = -y
    # Beyond the reduction's range: the C library. LLVM evaluates the call for every lane
    # of a vector, so the argument is 0 (a fast path of libm) where it is not used.
    big = 0.0
    if abs(x) >= 1048576.0 and abs(x) < math.inf:
        big = x
    yb = math.sin(big)
    if not abs(x) < 1048576.0:
        y = yb
    if not abs(x) < math.inf:
        y = x - x  # inf and NaN give NaN
    return y


def vcos(x):
    """Cosine of a double, vectorizable; error below 1 ulp.

    Parameters
    ----------
    x : float
        Any double. For ``|x| >= 2**20`` the C library's ``cos`` (evaluated on every lane of a
        vector, see the module notes).

    Returns
    -------
    float
        ``cos(x)``; ``nan`` for ``±inf`` and ``nan``.

    Examples
    --------
    >>> vcos(0.0), math.isnan(vcos(-math.inf))
    (1.0, True)
    """
    xs = x
    if not abs(x) < 1048576.0:
        xs = 0.0
    y0, y1, n = _rem_pio2(xs)
    s = _ksin(y0, y1)
    c = _kcos(y0, y1)
    y = c
    if n & 1:
        y = -s
    if n & 2:
        y = -y
    big = 0.0
    if abs(x) >= 1048576.0 and abs(x) < math.inf:
        big = x
    yb = math.cos(big)
    if not abs(x) < 1048576.0:
        y = yb
    if not abs(x) < math.inf:
        y = x - x  # inf and NaN give NaN
    return y


def vsin_bounded(x):
    """Sine for ``|x| < 2**20`` without a C-library call; error below 1 ulp.

    Parameters
    ----------
    x : float
        A double; meant for ``|x| < 2**20``.

    Returns
    -------
    float
        ``sin(x)`` for ``|x| < 2**20``, ``nan`` beyond (and for ``inf``, ``nan``).

    Examples
    --------
    >>> vsin_bounded(0.5) == vsin(0.5), math.isnan(vsin_bounded(2.0**20))
    (True, True)
    """
    xs = x
    if not abs(x) < 1048576.0:
        xs = 0.0
    y0, y1, n = _rem_pio2(xs)
    y = _ksin(y0, y1)
    if n & 1:
        y = _kcos(y0, y1)
    if n & 2:
        y = -y
    if not abs(x) < 1048576.0:
        y = math.nan
    return y


def vcos_bounded(x):
    """Cosine for ``|x| < 2**20`` without a C-library call; error below 1 ulp.

    Parameters
    ----------
    x : float
        A double; meant for ``|x| < 2**20``.

    Returns
    -------
    float
        ``cos(x)`` for ``|x| < 2**20``, ``nan`` beyond (and for ``inf``, ``nan``).

    Examples
    --------
    >>> vcos_bounded(0.5) == vcos(0.5), math.isnan(vcos_bounded(-(2.0**20)))
    (True, True)
    """
    xs = x
    if not abs(x) < 1048576.0:
        xs = 0.0
    y0, y1, n = _rem_pio2(xs)
    y = _kcos(y0, y1)
    if n & 1:
        y = -_ksin(y0, y1)
    if n & 2:
        y = -y
    if not abs(x) < 1048576.0:
        y = math.nan
    return y


# ---------------------------------------------------------------- source text
_PY_FUNCS = {f.__name__: f for f in (vexp, vexpm1, vlog, vlog1p, vtanh, _rem_pio2, _ksin, _kcos, vsin, vcos, vsin_bounded, vcos_bounded)}

#: Direct dependencies of each function (names in :data:`SOURCE`).
DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "vexp": (),
    "vexpm1": (),
    "vlog": (),
    "vlog1p": (),
    "vtanh": ("vexpm1",),
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
    KeyError
        If a name is not in :data:`SOURCE`.

    Examples
    --------
    >>> src = source_for(["vtanh"], decorator="")
    >>> ns = {}
    >>> exec(PRELUDE + src, ns)
    >>> [name for name in ("vexpm1", "vtanh", "vexp") if name in ns]
    ['vexpm1', 'vtanh']
    >>> round(ns["vtanh"](0.5), 12)
    0.46211715726
    """
    order: list[str] = []

    def visit(name: str) -> None:
        if name not in SOURCE:
            raise KeyError(f"`names` must be among {sorted(SOURCE)}; got {name!r}.")
        if name in order:
            return
        for dep in DEPENDENCIES[name]:
            visit(dep)
        order.append(name)

    for name in names:
        visit(name)
    head = decorator + "\n" if decorator else ""
    return "\n\n".join(head + SOURCE[name] for name in order)


# ---------------------------------------------------------------- compiled versions
# Replace the module globals by compiled functions (callers resolve callees through the
# globals, so the dependencies are compiled too); the pure-Python versions stay in _PY_FUNCS.
vexp = njit(**JIT_OPTIONS)(vexp)
vexpm1 = njit(**JIT_OPTIONS)(vexpm1)
vlog = njit(**JIT_OPTIONS)(vlog)
vlog1p = njit(**JIT_OPTIONS)(vlog1p)
vtanh = njit(**JIT_OPTIONS)(vtanh)
_rem_pio2 = njit(**JIT_OPTIONS)(_rem_pio2)
_ksin = njit(**JIT_OPTIONS)(_ksin)
_kcos = njit(**JIT_OPTIONS)(_kcos)
vsin = njit(**JIT_OPTIONS)(vsin)
vcos = njit(**JIT_OPTIONS)(vcos)
vsin_bounded = njit(**JIT_OPTIONS)(vsin_bounded)
vcos_bounded = njit(**JIT_OPTIONS)(vcos_bounded)
