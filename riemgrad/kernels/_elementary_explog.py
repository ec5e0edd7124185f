"""exp, expm1, log, log1p and tanh: part of :mod:`riemgrad.kernels.elementary` (split for size)."""

from __future__ import annotations

import math

from numba import njit

from ._elementary_base import JIT_OPTIONS, bits_float, float_bits

__all__ = ["vexp", "vexpm1", "vlog", "vlog1p", "vtanh"]

PY_FUNCS = {}

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
        ``exp(x)``: ``inf`` above 709.782712893384, subnormal results (one rounding in the scaling), ``0``
        below -745.1332191019411, ``nan`` for ``nan``.

    Examples
    --------
    >>> vexp(0.0), vexp(1000.0), vexp(-1000.0), vexp(-745.0) > 0.0
    (1.0, inf, 0.0, True)
    """
    # x = k ln2 + r, |r| <= ln2/2: round x/ln2 to an integer by adding 1.5 * 2**52 (the integer
    # is then in the low bits; AVX2 has no float <-> 64-bit integer conversion). hi is exact
    # (ln2 in two parts, the first with 32 bits), lo small; arguments beyond the range give
    # garbage here and are replaced by the selects at the end (NaN propagates through y).
    kd = x * 1.44269504088896338700e00 + 6755399441055744.0
    kf = kd - 6755399441055744.0
    hi = x - kf * 6.93147180369123816490e-01
    lo = kf * 1.90821492927058770002e-10
    r = hi - lo
    # exp(r) = 1 + r + r**2 q(r): q of degree 10 interpolating (exp(r) - 1 - r)/r**2 at the
    # Chebyshev points of |r| <= ln2/2 (mpmath, 300 bits; error below 3e-19 after rounding the
    # coefficients), in Estrin's form (shorter dependency chains than Horner's, no division)
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    p01 = 0.5 + r * 0.1666666666666667
    p23 = 0.04166666666666667 + r * 0.008333333333326141
    p45 = 0.0013888888888883752 + r * 0.00019841269874801073
    p67 = 2.480158732553378e-05 + r * 2.7557255425009614e-06
    p89 = 2.7557273660822466e-07 + r * 2.510520668068106e-08
    q = (p01 + r2 * p23) + r4 * (p45 + r2 * p67) + r8 * (p89 + r2 * 2.0914679595617734e-09)
    t = r2 * q - lo
    # 1 + hi + t with the rounding error of 1 + hi kept (Fast2Sum: |hi| < 1)
    s1 = 1.0 + hi
    e = (1.0 - s1) + hi
    y = s1 + (e + t)
    # times 2**k in two factors: subnormal results are rounded once, k = 1024 works
    k = float_bits(kd) - 0x4338000000000000
    k1 = k >> 1
    k2 = k - k1
    y = y * bits_float((k1 + 1023) << 52) * bits_float((k2 + 1023) << 52)
    if x > 709.9:  # inf too; between 709.78 and 709.9 the product overflows by itself
        y = math.inf
    if x < -746.0:  # -inf too; between -746 and -745.13 the product underflows by itself
        y = 0.0
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
            + hxs
            * (-7.93650757867487942473e-05 + hxs * (4.00821782732936239552e-06 + hxs * -2.01099218183624371326e-07))
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
    big = 1.0 - 2.0 / (vexp(aa + aa) + 1.0)  # |x| >= 1: 2/(exp(2|x|) + 1) < 1/4, its error weighs little
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


# Replace the module globals by compiled functions (callers resolve callees through the
# globals, so vtanh's vexp is compiled too); the Python functions stay in PY_FUNCS.
PY_FUNCS.update({f.__name__: f for f in (vexp, vexpm1, vlog, vlog1p, vtanh)})
vexp = njit(**JIT_OPTIONS)(vexp)
vexpm1 = njit(**JIT_OPTIONS)(vexpm1)
vlog = njit(**JIT_OPTIONS)(vlog)
vlog1p = njit(**JIT_OPTIONS)(vlog1p)
vtanh = njit(**JIT_OPTIONS)(vtanh)
