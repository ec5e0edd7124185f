"""sin and cos (Cody-Waite reduction, fdlibm kernels): part of :mod:`riemgrad.kernels.elementary`."""

from __future__ import annotations

import math

from numba import njit

from ._elementary_base import JIT_OPTIONS, float_bits

__all__ = ["vsin", "vcos", "vsin_bounded", "vcos_bounded"]

PY_FUNCS = {}


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


PY_FUNCS.update({f.__name__: f for f in (_rem_pio2, _ksin, _kcos, vsin, vcos, vsin_bounded, vcos_bounded)})
_rem_pio2 = njit(**JIT_OPTIONS)(_rem_pio2)
_ksin = njit(**JIT_OPTIONS)(_ksin)
_kcos = njit(**JIT_OPTIONS)(_kcos)
vsin = njit(**JIT_OPTIONS)(vsin)
vcos = njit(**JIT_OPTIONS)(vcos)
vsin_bounded = njit(**JIT_OPTIONS)(vsin_bounded)
vcos_bounded = njit(**JIT_OPTIONS)(vcos_bounded)
