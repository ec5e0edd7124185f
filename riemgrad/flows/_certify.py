"""What :func:`riemgrad.distance` knows for sure: minimality certificates and the chart segment's length.

A geodesic from ``x`` to ``y`` is certified minimizing when it is shorter than a radius ``R``
(:func:`certificate`): the injectivity radius when given or known to the catalogue
(:func:`riemgrad.spaces.known_geometry`), else one the metric proves (:func:`symbolic_radius`).
:func:`segment_lengths` measures the chart's straight segment, an upper bound on the distance.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import sympy as sp

from ..errors import BudgetExceededError
from ..kernels import GeodesicField
from ..symbolic import Metric

__all__ = ["certificate", "symbolic_radius", "segment_lengths", "PANELS", "MAX_PANELS"]

#: Panels of the first quadrature level of the chart segment; the continuation targets lie on their ends.
PANELS = 16
#: Largest number of quadrature panels per segment (the refinement stops there).
MAX_PANELS = 4096
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)

# ----------------------------------------------------------------------------------------- certificates

_CERTS: dict[Metric, tuple[float | None, str, tuple[sp.Expr, ...]]] = {}

#: Where two points lie in one region of the chart without degenerate points: ``region(A, B) -> bool (rows,)``.
Region = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _factor_bases(expr: sp.Expr) -> list[sp.Expr]:
    out = []
    for f in sp.Mul.make_args(sp.factor(expr)):
        base = f.base if isinstance(f, sp.Pow) and f.exp.is_number else f
        if base.free_symbols:
            out.append(base)
    return out


def symbolic_radius(metric: Metric) -> tuple[float | None, str, tuple[sp.Expr, ...]]:
    """A radius below which every geodesic of a chart region is minimizing, from the metric alone.

    One dimension: any geodesic is the monotone path (inf). A constant matrix: flat, geodesics are straight
    lines (inf). Two dimensions with constant Gaussian curvature K, on a region where the metric is
    non-degenerate and simply connected (every factor of det g whose sign SymPy cannot fix involves one
    coordinate only, so the regions between their zeros are products of intervals): the developing map into
    the plane, sphere or hyperbolic plane of curvature K preserves lengths, so a geodesic shorter than
    pi / sqrt(K) (any, for K <= 0) is the shortest curve between its ends. Otherwise None.

    Returns
    -------
    (R or None, why, factors)
        ``factors``: the one-coordinate factors of det g of unknown sign; a certified pair must have its
        two points on the same side of each (the same region).
    """
    from ..symbolic.budget import get_budget, time_budget

    coords = set(metric.chart.coords)
    if not (sp.Matrix(metric.matrix).free_symbols & coords):
        return math.inf, "constant metric: flat, geodesics are straight lines", ()
    if metric.dim > 2:
        return None, "no certificate for a non-constant metric in dimension > 2 outside the catalogue", ()
    try:
        with time_budget(get_budget("metric_checks"), "the curvature certificate of distance"):
            if metric.dim == 2:
                K = sp.cancel(sp.together(metric.gaussian_curvature()))
                if K.free_symbols or not K.is_real:
                    return None, f"the Gaussian curvature {K} is not constant", ()
            factors = []
            for base in _factor_bases(sp.Matrix(metric.matrix).det()):
                if base.is_positive or base.is_negative:
                    continue
                if len(base.free_symbols & coords) > 1:
                    return None, (
                        f"the metric may degenerate on {base} = 0, which may enclose a hole in the chart's domain"
                    ), ()  # fmt: skip
                factors.append(base)
    except BudgetExceededError:
        return None, "the curvature certificate ran past its budget (`metric_checks`)", ()
    if metric.dim == 1:
        return math.inf, "one dimension: a geodesic is the monotone path between its ends", tuple(factors)
    if K > 0:
        return (
            float(sp.pi / sp.sqrt(K)),
            f"constant curvature {K}: geodesics shorter than pi/sqrt(K) minimize",
            tuple(factors),
        )
    return (
        math.inf,
        f"constant curvature {K} <= 0 on a simply connected region: every geodesic minimizes",
        tuple(factors),
    )


def _region(metric: Metric, factors: tuple[sp.Expr, ...]) -> Region | None:
    if not factors:
        return None
    fns = [sp.lambdify(metric.chart.coords, f, "numpy") for f in factors]

    def same(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        ok = np.ones(A.shape[0], bool)
        with np.errstate(all="ignore"):
            for fn in fns:
                fa = np.broadcast_to(np.asarray(fn(*A.T), dtype=float), ok.shape)
                fb = np.broadcast_to(np.asarray(fn(*B.T), dtype=float), ok.shape)
                ok &= np.sign(fa) * np.sign(fb) > 0
        return ok

    return same


def certificate(
    metric: Metric, injectivity_radius: float | None, periods: tuple[float | None, ...] | None
) -> tuple[float | None, tuple[float | None, ...], str, Region | None]:
    """The radius below which a geodesic is certified minimizing, the coordinates' periods, why, and the
    region test the pair's points must pass (None: any pair)."""
    from ..spaces import known_geometry

    known = known_geometry(metric)
    if periods is None:
        periods = known.periods if known is not None else (None,) * metric.dim
    if injectivity_radius is not None:
        return injectivity_radius, periods, "the given injectivity radius", None
    if known is not None and known.injectivity_radius is not None:
        short = re.split(r"[;:]", known.reference)[0]
        return known.injectivity_radius, periods, f"the injectivity radius of the catalogue's {short}", None
    if any(p is not None for p in periods):
        return None, periods, "periodic coordinates and no injectivity radius known (pass `injectivity_radius=`)", None
    if metric not in _CERTS:
        _CERTS[metric] = symbolic_radius(metric)
    R, why, factors = _CERTS[metric]
    return R, periods, why, _region(metric, factors)


# ----------------------------------------------------------------------------------------- chart segment


def _panel_lengths(field: GeodesicField, A: np.ndarray, D: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Gauss-Legendre (8 points) integrals of sqrt(g(D, D)) over [lo, hi] of the segments A + s D: (rows, panels)."""
    s = lo[:, None] + (hi - lo)[:, None] * (_GL_X + 1) / 2  # (p, 8)
    pts = A[:, None, None, :] + s[None, :, :, None] * D[:, None, None, :]
    vel = np.broadcast_to(D[:, None, None, :], pts.shape)
    states = np.concatenate([pts, vel], axis=-1).reshape(-1, 2 * A.shape[1])
    with np.errstate(invalid="ignore"):
        e = field.energy(states).reshape(pts.shape[:3])
        speed = np.where(np.isfinite(e), np.sqrt(np.maximum(e, 0.0)), np.inf)
    return speed @ _GL_W * (hi - lo)[None, :] / 2


def segment_lengths(field: GeodesicField, A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Cumulative lengths of the chart segments from A to B at s = k / 16: shape (rows, 17).

    Adaptive composite Gauss-Legendre: a panel is split until halving it changes no row's integral by more
    than 1e-11 relative (at most MAX_PANELS panels per segment). Inf where the metric is not finite.
    """
    D = B - A
    edges = np.linspace(0.0, 1.0, PANELS + 1)
    owner = np.arange(PANELS)  # the first-level panel each current panel belongs to
    lo, hi = edges[:-1], edges[1:]
    whole = _panel_lengths(field, A, D, lo, hi)
    out = np.zeros((A.shape[0], PANELS))
    while lo.size:
        mid = (lo + hi) / 2
        halves = _panel_lengths(field, A, D, np.concatenate([lo, mid]), np.concatenate([mid, hi]))
        fine = halves[:, : lo.size] + halves[:, lo.size :]
        with np.errstate(invalid="ignore"):
            err = np.abs(fine - whole)
            good = ~np.isfinite(fine) | (err <= 1e-11 * np.abs(fine) + 1e-300)
        done = good.all(axis=0) | (2 * lo.size > MAX_PANELS)
        np.add.at(out.T, owner[done], fine[:, done].T)
        keep = ~done
        owner = np.concatenate([owner[keep], owner[keep]])
        whole = np.concatenate([halves[:, : lo.size][:, keep], halves[:, lo.size :][:, keep]], axis=1)
        lo, hi = np.concatenate([lo[keep], mid[keep]]), np.concatenate([mid[keep], hi[keep]])
    return np.concatenate([np.zeros((A.shape[0], 1)), np.cumsum(out, axis=1)], axis=1)
