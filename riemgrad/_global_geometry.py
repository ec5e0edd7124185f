"""What the catalogues know about the global geometry of their metrics: injectivity radii and periods.

:func:`riemgrad.distance` needs global facts that no local computation gives:
how long a geodesic may be and still be the shortest curve between its ends,
and which coordinates are angles (periodic), so that ``phi`` and ``phi + 2 pi``
are the same point. This module holds them for the metrics of
:mod:`riemgrad.spaces` and for the Gaussian's Fisher metric of
:mod:`riemgrad.families`; it is re-exported as :func:`riemgrad.spaces.known_geometry`.

Examples
--------
>>> from riemgrad import spaces
>>> spaces.known_geometry(spaces.sphere(2))
KnownGeometry(injectivity_radius=6.283185307179586, periods=(None, 6.283185307179586), reference='...')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sympy as sp

__all__ = ["KnownGeometry", "known_geometry"]

_TWO_PI = 2 * math.pi


@dataclass(frozen=True)
class KnownGeometry:
    """Global facts about a catalogue metric, for certifying distances.

    Attributes
    ----------
    injectivity_radius : float or None
        A radius ``R`` such that every geodesic segment of length ``< R`` between
        two points is the unique shortest curve between them (for complete
        manifolds, the injectivity radius; ``math.inf`` for Hadamard manifolds,
        where every geodesic is minimizing). None when not known.
    periods : tuple of (float or None), length dim
        The period of each coordinate (``2 pi`` for an angle), None for a coordinate
        that is not periodic.
    reference : str
        Where the facts come from.

    Examples
    --------
    >>> from riemgrad.spaces import KnownGeometry
    >>> KnownGeometry(float("inf"), (None, None), "Hadamard").injectivity_radius
    inf
    """

    injectivity_radius: float | None
    periods: tuple[float | None, ...]
    reference: str

    def __repr__(self) -> str:  # the reference is long; doctests elide it
        return (
            f"KnownGeometry(injectivity_radius={self.injectivity_radius!r}, periods={self.periods!r}, reference='...')"
        )


_HADAMARD = (
    "Cartan-Hadamard: complete, simply connected, curvature <= 0, so exp_x is a diffeomorphism and every "
    "geodesic is the unique minimizing one (do Carmo, Riemannian Geometry, ch. 7)"
)
_FLAT_PUNCTURED = (
    "flat chart of Euclidean space minus a set of codimension >= 2 (the origin or an axis): geodesics are "
    "straight segments, each the unique shortest curve, and removing the set changes no distance; the angle "
    "phi is 2 pi periodic"
)
_SPHERE = (
    "round sphere of radius a: injectivity radius pi a (geodesics shorter than half a great circle are the "
    "unique minimizers; do Carmo, Riemannian Geometry, ch. 13); the longitude phi is 2 pi periodic"
)
_TORUS = "torus of revolution: both angles are 2 pi periodic; no closed form of the injectivity radius is used"


@lru_cache(maxsize=1)
def _table() -> dict[Any, KnownGeometry]:
    """Catalogue metrics (built once) -> their facts; the sphere and torus, whose radii vary, are matched apart."""
    from . import families, spaces

    inf = math.inf
    table: dict[Any, KnownGeometry] = {}
    for n in (1, 2, 3, 4):
        table[spaces.euclidean(n)] = KnownGeometry(inf, (None,) * n, "Euclidean space: straight lines")
    table[spaces.polar_plane()] = KnownGeometry(inf, (None, _TWO_PI), _FLAT_PUNCTURED)
    table[spaces.spherical_space()] = KnownGeometry(inf, (None, None, _TWO_PI), _FLAT_PUNCTURED)
    table[spaces.poincare_half_plane()] = KnownGeometry(inf, (None, None), "hyperbolic plane (K = -1); " + _HADAMARD)
    table[spaces.poincare_disk()] = KnownGeometry(
        inf, (None, None), "hyperbolic plane (K = -1) inside the unit disk, and its isometric image under "
        "inversion outside; " + _HADAMARD,
    )  # fmt: skip
    normal = families.atlas("normal")
    for chart in ("sigma", "variance", "log_sigma"):
        table[normal.closed_form(chart)] = KnownGeometry(
            inf, (None, None), "Fisher-Rao metric of the univariate normal: twice the hyperbolic plane in "
            "(mu / sqrt(2), sigma), curvature -1/2 (Costa, Santos & Strapasson 2015); " + _HADAMARD,
        )  # fmt: skip
    return table


def _numeric_positive(expr: Any) -> float | None:
    try:
        e = sp.sympify(expr)
    except (sp.SympifyError, TypeError):
        return None
    if not e.is_number or e.is_positive is not True:
        return None
    return float(e)


def known_geometry(metric: Any) -> KnownGeometry | None:
    """The catalogue's global facts about ``metric``, or None if it is not a catalogue metric.

    A metric is recognised when it equals (same chart, same symbols with their
    assumptions, same matrix) one built by :mod:`riemgrad.spaces` (with numeric
    radii) or the closed-form Fisher metric of the normal family in its
    ``sigma``, ``variance`` or ``log_sigma`` chart (as :func:`riemgrad.fisher_metric`
    returns it). A metric written by hand with other symbols is not recognised:
    pass the facts to :func:`riemgrad.distance` (``injectivity_radius=``, ``periods=``).

    Parameters
    ----------
    metric : Metric

    Returns
    -------
    KnownGeometry or None

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, Metric, spaces
    >>> spaces.known_geometry(spaces.poincare_half_plane()).injectivity_radius
    inf
    >>> spaces.known_geometry(spaces.torus()).periods
    (6.283185307179586, 6.283185307179586)
    >>> x, y = sp.symbols("u v", real=True)
    >>> spaces.known_geometry(Metric(Chart("other", (x, y)), sp.eye(2))) is None
    True
    """
    from . import spaces

    try:
        hit = _table().get(metric)
    except TypeError:  # unhashable: not a Metric
        return None
    if hit is not None:
        return hit
    chart = getattr(metric, "chart", None)
    if chart is None:
        return None
    if chart == spaces._sphere_chart():
        a = sp.sqrt(metric.matrix[0, 0])
        if _numeric_positive(a) is not None and metric == spaces.sphere(a):
            return KnownGeometry(math.pi * float(a), (None, _TWO_PI), _SPHERE)
    if chart == spaces._torus_chart():
        r = sp.sqrt(metric.matrix[0, 0])
        R = sp.sqrt(metric.matrix[1, 1].subs(chart.coords[0], sp.pi / 2))
        if _numeric_positive(r) is not None and _numeric_positive(R - r) is not None and metric == spaces.torus(R, r):
            return KnownGeometry(None, (_TWO_PI, _TWO_PI), _TORUS)
    return None
