"""Accuracy of riemgrad's vectorizable elementary functions against mpmath.

One command (millions of points per function, several minutes on one core)::

    python benchmarks/accuracy_elementary.py                 # 2,000,000 points per function
    python benchmarks/accuracy_elementary.py --points 200000 # the size tests/test_elementary.py uses

For every function the sample mixes: log-uniform magnitudes over the function's whole
double range (both signs where defined), uniform points on the ordinary range, and the
hard cases of the algorithm: the doubles nearest to multiples of ln 2 (exp/expm1
reduction) and of pi/2 (sin/cos reduction, every multiple below 2**20 in the full run),
the overflow and underflow thresholds, subnormal arguments and results, values near 1 for
log, tiny arguments for tanh/expm1/log1p, large arguments for sin/cos (the libm fallback).
The error of a result ``y`` is ``|y - f(x)| / ulp(f(x))`` with ``f(x)`` computed by mpmath at
200 bits (first estimated for every point with the C library's 80-bit ``long double``
functions; every point whose estimate exceeds 0.5 ulp, and a random 20,000, are
re-measured with mpmath, so the reported maximum is mpmath's), ``ulp(t) = 2**(floor(log2 |t|) - 52)`` (at least ``2**-1074``, the subnormal
spacing). A result of inf counts as exact when ``f(x)`` rounds to inf.

The sampling and measurement functions are shared with ``tests/test_elementary.py``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import mpmath
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from numba import njit  # noqa: E402

from riemgrad.kernels import elementary as el  # noqa: E402

MP = {
    "vexp": mpmath.exp,
    "vexpm1": mpmath.expm1,
    "vlog": mpmath.log,
    "vlog1p": mpmath.log1p,
    "vsin": mpmath.sin,
    "vcos": mpmath.cos,
    "vtanh": mpmath.tanh,
    "vsin_bounded": mpmath.sin,
    "vcos_bounded": mpmath.cos,
}
LN2 = math.log(2.0)
TINY = 5e-324


def _loguniform(rng, n, lo_exp, hi_exp, signed=True):
    """``n`` doubles with |x| log-uniform in [2**lo_exp, 2**hi_exp) (exponent and mantissa drawn)."""
    e = rng.integers(lo_exp, hi_exp, n)
    m = rng.uniform(1.0, 2.0, n)
    x = np.ldexp(m, e)
    if signed:
        x = x * rng.choice([-1.0, 1.0], n)
    return x


def _near(values, k=2):
    """The doubles within ``k`` ulps of each of ``values``."""
    v = np.asarray(values, dtype=float)
    out = [v]
    up, down = v.copy(), v.copy()
    for _ in range(k):
        up = np.nextafter(up, np.inf)
        down = np.nextafter(down, -np.inf)
        out += [up, down]
    return np.concatenate(out)


def _multiples(c_hi, c_lo, kmax, n, rng):
    """The doubles nearest to ``j*c`` (c = c_hi + c_lo) for ``n`` integers j (all when n >= kmax)."""
    j = np.arange(-kmax, kmax + 1) if n >= 2 * kmax + 1 else rng.integers(-kmax, kmax + 1, n)
    j = j.astype(float)
    return _near(j * c_hi + j * c_lo, 1)


def sample(name: str, n: int, seed: int = 0) -> np.ndarray:
    """About ``n`` arguments for ``name`` (see the module notes), finite and special values excluded."""
    rng = np.random.default_rng(seed)
    q = max(n // 8, 1)
    base = name.replace("_bounded", "")
    if base in ("vexp", "vexpm1"):
        parts = [
            _loguniform(rng, 2 * q, -1074, 10),
            rng.uniform(-746.0, 710.0, q),
            rng.uniform(-745.2, -708.3, q // 2),  # subnormal results
            _near([709.782712893384, -745.1332191019411, -708.3964185322641, 709.7827128933840], 40),
            rng.uniform(709.0, 709.8, q // 4),
            _multiples(LN2, 2.3190468138462996e-17, 1074, q // 3, rng),
            rng.uniform(-1.0, 1.0, q),
            _loguniform(rng, q, -60, 0),  # tiny
            rng.uniform(-40.0, 3.0, q // 2),
        ]
        if base == "vexp":
            parts.append(_loguniform(rng, q // 4, -1074, -1022))  # subnormal arguments
        if base == "vexpm1":
            parts.append(_near([-40.0, 56 * LN2, -0.25, 0.5 * LN2, -0.5 * LN2, 1.5 * LN2, -1.5 * LN2, 20 * LN2], 20))
    elif base == "vlog":
        parts = [
            _loguniform(rng, 3 * q, -1074, 1024, signed=False),
            1.0 + _loguniform(rng, q, -53, -1),
            _loguniform(rng, q, -1074, -1022, signed=False),  # subnormals
            rng.uniform(0.0, 10.0, q),
            _near([1.0, math.sqrt(2.0), math.sqrt(0.5), 2.0, 0.5, 2.2250738585072014e-308, 1.7976931348623157e308], 50),
            rng.uniform(0.7, 1.5, q),
        ]
    elif base == "vlog1p":
        parts = [
            _loguniform(rng, 2 * q, -1074, 1024, signed=False),
            -_loguniform(rng, q, -1074, 0, signed=False),  # (-1, 0)
            -1.0 + _loguniform(rng, q // 2, -53, -1, signed=False),  # near -1
            _loguniform(rng, q, -60, -1),  # tiny
            rng.uniform(-0.999, 10.0, q),
            _near([0.41421353816986084, -0.2928932188134524, 1.1102230246251565e-16, 2.0**54, 1.0], 40),
        ]
    elif base in ("vsin", "vcos"):
        top = 20
        parts = [
            _loguniform(rng, 3 * q, -1074, top),
            rng.uniform(-10.0, 10.0, q),
            _multiples(math.pi / 2, 6.123233995736766e-17, 667544, 2 * q if n < 10**6 else 2 * 667544 + 1, rng),
            _loguniform(rng, q // 4, -1074, -1022),
        ]
        if "bounded" not in name:
            parts.append(_loguniform(rng, q // 8, 20, 1024))  # the libm fallback
    elif base == "vtanh":
        parts = [
            _loguniform(rng, 3 * q, -1074, 6),
            rng.uniform(-3.0, 3.0, q),
            rng.uniform(-1.0, 1.0, q),
            _near([0.625, -0.625, 22.0, -22.0, 0.55, 19.06], 40),
            _loguniform(rng, q, -60, -2),
        ]
    else:
        raise KeyError(name)
    x = np.concatenate(parts)
    return x[np.isfinite(x)]


def compiled_loop(name: str, fastmath=False):
    """An @njit loop ``out[i] = f(x[i])`` (the loop the vectorization test inspects)."""
    f = getattr(el, name)

    @njit(error_model="numpy", fastmath=fastmath)
    def loop(x, out):
        for i in range(x.shape[0]):
            out[i] = f(x[i])

    def run(x):
        out = np.empty_like(x)
        loop(x, out)
        return out

    run.loop = loop
    return run


def ulp_errors(name: str, x: np.ndarray, y: np.ndarray, prec: int = 200) -> np.ndarray:
    """Error of ``y[i]`` in ulps of the exact ``f(x[i])`` (mpmath at ``prec`` bits)."""
    f = MP[name]
    err = np.empty(x.shape[0])
    with mpmath.workprec(prec):
        for i in range(x.shape[0]):
            yi = float(y[i])
            t = f(mpmath.mpf(float(x[i])))
            if math.isinf(yi):
                err[i] = 0.0 if float(t) == yi else math.inf
                continue
            if math.isnan(yi):
                err[i] = math.inf
                continue
            sign, man, exp, bc = t._mpf_
            if man == 0:
                err[i] = 0.0 if yi == 0.0 else math.inf
                continue
            e = exp + bc  # |t| in [2**(e-1), 2**e)
            ulp_exp = max(min(e, 1024) - 53, -1074)
            err[i] = float(abs(mpmath.mpf(yi) - t) * mpmath.ldexp(1, -ulp_exp))
    return err


LONGDOUBLE = {
    "vexp": np.exp,
    "vexpm1": np.expm1,
    "vlog": np.log,
    "vlog1p": np.log1p,
    "vsin": np.sin,
    "vcos": np.cos,
    "vtanh": np.tanh,
}
#: np.longdouble is the x87 80-bit format (64-bit significand) on x86-64 Linux; elsewhere
#: it may be plain double, and every point goes to mpmath instead.
HAVE_EXTENDED = np.finfo(np.longdouble).nmant >= 63


def ulp_errors_fast(name: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Error estimate in ulps against the C library's ``long double`` functions.

    The reference carries 11 more bits than a double, so an estimate is within about
    ``2**-10`` ulp of the truth; :func:`worst` re-measures with mpmath every point whose
    estimate exceeds 0.5 ulp (the only ones that can hold the maximum) and a random subset.
    """
    f = LONGDOUBLE[name.replace("_bounded", "")]
    with np.errstate(all="ignore"):
        ref = f(x.astype(np.longdouble))
        _, e = np.frexp(ref)  # |ref| in [2**(e-1), 2**e)
        ulp_exp = np.clip(np.minimum(e, 1024) - 53, -1074, None)
        err = np.abs(y.astype(np.longdouble) - ref) / np.ldexp(np.longdouble(1.0), ulp_exp)
        err = err.astype(float)
        yinf = np.isinf(y)
        err[yinf] = np.where(ref[yinf].astype(float) == y[yinf], 0.0, np.inf)
        err[(ref == 0) & (y == 0)] = 0.0
        err[np.isnan(y)] = np.inf
    return err


def worst(name: str, n: int, seed: int = 0, fastmath=False, n_check: int = 2000) -> dict:
    """Maximum error of ``name`` over :func:`sample` ``(name, n, seed)``.

    Returns a dict with ``max_ulp`` (mpmath-exact), ``x`` (where), ``points``, ``rechecked``
    (points measured with mpmath) and ``ref_gap`` (largest difference between the
    ``long double`` estimate and mpmath on the rechecked points).
    """
    x = sample(name, n, seed)
    y = compiled_loop(name, fastmath)(x)
    if HAVE_EXTENDED:
        est = ulp_errors_fast(name, x, y)
        rng = np.random.default_rng(seed + 1)
        idx = np.union1d(np.flatnonzero(est > 0.5), rng.choice(x.shape[0], min(n_check, x.shape[0]), replace=False))
    else:
        est = None
        idx = np.arange(x.shape[0])
    err = ulp_errors(name, x[idx], y[idx])
    i = int(np.argmax(err))
    return {
        "max_ulp": float(err[i]),
        "x": float(x[idx][i]),
        "points": int(x.shape[0]),
        "rechecked": int(idx.shape[0]),
        "ref_gap": float(np.max(np.abs(est[idx] - err))) if est is not None else 0.0,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=2_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--safe-fastmath", action="store_true", help="compile the loops with fastmath={'contract', 'arcp', 'nsz', 'afn'}"
    )
    p.add_argument("names", nargs="*", default=["vexp", "vexpm1", "vlog", "vlog1p", "vsin", "vcos", "vtanh"])
    a = p.parse_args(argv)
    fm = {"contract", "arcp", "nsz", "afn"} if a.safe_fastmath else False
    print(f"fastmath={fm}, long double reference: {HAVE_EXTENDED}")
    print("| function | points | max error (ulp, mpmath) | at x | rechecked with mpmath | max gap long double vs mpmath | s |")
    print("|---|---|---|---|---|---|---|")
    for name in a.names:
        t = time.perf_counter()
        r = worst(name, a.points, a.seed, fm, n_check=20000)
        print(
            f"| {name} | {r['points']:,} | {r['max_ulp']:.4f} | {r['x']!r} | {r['rechecked']:,} "
            f"| {r['ref_gap']:.1e} | {time.perf_counter() - t:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
