"""A catalogue of classic Riemannian metrics with known closed forms.

Each function returns a fresh, immutable :class:`~riemgrad.Metric` (or, for
embeddings, a :class:`~riemgrad.ChartMap`) on a chart with the usual
coordinates and the assumptions that give the chart's domain (``theta``
positive on the sphere, ``y`` positive on the half-plane, radii positive).
Calling a function twice gives equal charts, so the results can be combined:
``euclidean(3).pullback(sphere_embedding())`` is ``sphere()``.

:data:`CATALOGUE` maps a readable name to a zero-argument constructor of every
metric here, for contract tests that run over all of them. :func:`known_geometry`
gives what is known globally about a catalogue metric (its injectivity radius,
its periodic coordinates), which :func:`riemgrad.distance` uses to certify that
a geodesic is the shortest curve.

Examples
--------
>>> from riemgrad import spaces
>>> spaces.sphere().gaussian_curvature()
1
>>> spaces.poincare_half_plane().scalar_curvature()
-2
>>> list(spaces.CATALOGUE)[:4]
['euclidean_line', 'euclidean_plane', 'euclidean_space', 'euclidean_4d']
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import sympy as sp

from ._global_geometry import KnownGeometry, known_geometry
from .errors import ArgumentTypeError, IndefiniteMetricError, ShapeError
from .symbolic import Chart, ChartMap, Metric, euclidean_metric
from .symbolic import as_expression as as_expr

__all__ = [
    "CATALOGUE",
    "KnownGeometry",
    "known_geometry",
    "cartesian_chart",
    "euclidean",
    "polar_plane",
    "spherical_space",
    "sphere",
    "sphere_embedding",
    "torus",
    "torus_embedding",
    "poincare_half_plane",
    "poincare_disk",
]

_X, _Y, _Z = sp.symbols("x y z", real=True)
_R_POLAR = sp.Symbol("r", positive=True)
_THETA = sp.Symbol("theta", positive=True)
_PHI = sp.Symbol("phi", real=True)
_TORUS_THETA = sp.Symbol("theta", real=True)
_Y_POS = sp.Symbol("y", positive=True)


def _positive(value: Any, name: str) -> sp.Expr:
    """Sympify a radius and check that it is known to be positive."""
    try:
        if isinstance(value, str):
            raise ArgumentTypeError(name)
        v = as_expr(value, name)
    except ArgumentTypeError:
        raise ArgumentTypeError(
            f"`{name}` must be a positive number or a positive SymPy symbol; got {value!r} "
            f"of type {type(value).__name__}."
        ) from None
    if not isinstance(v, sp.Expr) or v.is_positive is not True:
        hint = (
            f" Declare it positive, e.g. sp.Symbol({str(v)!r}, positive=True)."
            if isinstance(v, sp.Expr) and v.is_positive is None
            else " Pass a value > 0."
        )
        raise IndefiniteMetricError(
            f"`{name}` must be positive (the metric is degenerate or not positive definite otherwise); got {v}.{hint}"
        )
    return v


def cartesian_chart(n: int = 2) -> Chart:
    """The Cartesian chart of R^n.

    Parameters
    ----------
    n : int, optional
        The dimension (default 2).

    Returns
    -------
    Chart
        Named ``"cartesian"``; coordinates ``x`` (n = 1), ``(x, y)``
        (n = 2), ``(x, y, z)`` (n = 3), else ``(x1, ..., xn)``; all real.

    Raises
    ------
    ShapeError
        If ``n`` is not a positive integer.

    Examples
    --------
    >>> from riemgrad.spaces import cartesian_chart
    >>> cartesian_chart(3).coords
    (x, y, z)
    >>> cartesian_chart(4).coords
    (x1, x2, x3, x4)
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ShapeError(f"`n` must be a positive integer (the dimension); got {n!r}.")
    if n <= 3:
        coords = (_X, _Y, _Z)[:n]
    else:
        coords = sp.symbols(f"x1:{n + 1}", real=True)
    return Chart("cartesian", coords)


def euclidean(n: int = 2) -> Metric:
    """The flat metric of R^n in Cartesian coordinates.

    Parameters
    ----------
    n : int, optional
        The dimension (default 2).

    Returns
    -------
    Metric
        The identity matrix on :func:`cartesian_chart` ``(n)``.

    Notes
    -----
    ds^2 = dx_1^2 + ... + dx_n^2. Christoffel symbols, Riemann tensor, Ricci
    tensor and scalar curvature all vanish.

    Examples
    --------
    >>> from riemgrad.spaces import euclidean
    >>> euclidean(3).line_element()
    dx**2 + dy**2 + dz**2
    >>> euclidean(3).scalar_curvature()
    0
    """
    return euclidean_metric(cartesian_chart(n))


def polar_plane() -> Metric:
    """The Euclidean plane in polar coordinates (r, phi): diag(1, r^2).

    Returns
    -------
    Metric
        On the chart ``"polar"`` with ``r > 0`` and ``phi`` real.

    Notes
    -----
    The pullback of dx^2 + dy^2 along x = r cos(phi), y = r sin(phi):
    ds^2 = dr^2 + r^2 dphi^2. Flat (K = 0). Christoffel symbols
    Gamma^r_phiphi = -r, Gamma^phi_rphi = 1/r; geodesic equations
    r'' = r phi'^2, phi'' = -2 r' phi'/r (straight lines) [1]_.

    References
    ----------
    .. [1] M. P. do Carmo, *Differential Geometry of Curves and Surfaces*,
       Prentice-Hall, 1976, ch. 4.

    Examples
    --------
    >>> from riemgrad.spaces import polar_plane
    >>> g = polar_plane()
    >>> g.matrix
    Matrix([
    [1,    0],
    [0, r**2]])
    >>> g.christoffel()[0, 1, 1], g.christoffel()[1, 0, 1], g.gaussian_curvature()
    (-r, 1/r, 0)
    """
    return Metric(Chart("polar", (_R_POLAR, _PHI)), sp.diag(1, _R_POLAR**2))


def spherical_space() -> Metric:
    """Euclidean 3-space in spherical coordinates (r, theta, phi).

    Returns
    -------
    Metric
        The matrix diag(1, r^2, r^2 sin^2 theta) on the chart ``"spherical"`` with
        ``r > 0``, ``theta > 0`` (the chart covers 0 < theta < pi) and ``phi``
        real.

    Notes
    -----
    The pullback of dx^2 + dy^2 + dz^2 along x = r sin(theta) cos(phi),
    y = r sin(theta) sin(phi), z = r cos(theta). The Riemann tensor vanishes
    identically (the space is flat); the volume element is r^2 sin(theta).

    Examples
    --------
    >>> from riemgrad.spaces import spherical_space
    >>> g = spherical_space()
    >>> g.line_element()
    dphi**2*r**2*sin(theta)**2 + dr**2 + dtheta**2*r**2
    >>> import sympy as sp
    >>> g.scalar_curvature(), set(sp.flatten(g.riemann().components.tolist()))
    (0, {0})
    """
    r, th, ph = _R_POLAR, _THETA, _PHI
    return Metric(Chart("spherical", (r, th, ph)), sp.diag(1, r**2, r**2 * sp.sin(th) ** 2))


def _sphere_chart() -> Chart:
    return Chart("sphere", (_THETA, _PHI))


def sphere(radius: float | sp.Expr = 1) -> Metric:
    """The round 2-sphere of radius ``radius`` in (theta, phi).

    Parameters
    ----------
    radius : positive number or positive SymPy expression, optional
        The radius (default 1), e.g. ``sp.Symbol("a", positive=True)``.

    Returns
    -------
    Metric
        The matrix diag(a^2, a^2 sin^2 theta) on the chart ``"sphere"``: colatitude
        ``theta > 0`` (the chart covers 0 < theta < pi) and longitude ``phi``.

    Raises
    ------
    IndefiniteMetricError
        If ``radius`` is not known to be positive.

    Notes
    -----
    With a = radius: ds^2 = a^2 (dtheta^2 + sin^2(theta) dphi^2), the
    pullback of the Euclidean metric along :func:`sphere_embedding`.
    Christoffel symbols Gamma^theta_phiphi = -sin(theta) cos(theta),
    Gamma^phi_thetaphi = cot(theta) (independent of a); Gaussian curvature
    K = 1/a^2, scalar curvature R = 2/a^2; area 4 pi a^2 and, by Gauss-Bonnet,
    the integral of K dA is 4 pi = 2 pi chi(S^2) [1]_.

    References
    ----------
    .. [1] M. P. do Carmo, *Riemannian Geometry*, Birkhauser, 1992, ch. 4.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad.spaces import sphere
    >>> sphere().gaussian_curvature()
    1
    >>> a = sp.Symbol("a", positive=True)
    >>> g = sphere(a)
    >>> g.matrix
    Matrix([
    [a**2,                   0],
    [   0, a**2*sin(theta)**2]])
    >>> g.gaussian_curvature(), g.scalar_curvature()
    (a**(-2), 2/a**2)
    """
    a = _positive(radius, "radius")
    th = _THETA
    return Metric(_sphere_chart(), sp.diag(a**2, a**2 * sp.sin(th) ** 2))


def sphere_embedding(radius: float | sp.Expr = 1) -> ChartMap:
    """The embedding of the sphere of radius ``radius`` into R^3.

    Parameters
    ----------
    radius : positive number or positive SymPy expression, optional
        The radius (default 1).

    Returns
    -------
    ChartMap
        From the chart of :func:`sphere` to :func:`cartesian_chart` ``(3)``:
        (theta, phi) -> (a sin(theta) cos(phi), a sin(theta) sin(phi),
        a cos(theta)).

    Raises
    ------
    IndefiniteMetricError
        If ``radius`` is not known to be positive.

    Notes
    -----
    ``euclidean(3).pullback(sphere_embedding(a))`` equals ``sphere(a)``.

    Examples
    --------
    >>> from riemgrad.spaces import euclidean, sphere_embedding
    >>> emb = sphere_embedding(2)
    >>> emb.forward
    (2*sin(theta)*cos(phi), 2*sin(phi)*sin(theta), 2*cos(theta))
    >>> euclidean(3).pullback(emb).matrix
    Matrix([
    [4,                0],
    [0, 4*sin(theta)**2]])
    """
    a = _positive(radius, "radius")
    th, ph = _THETA, _PHI
    fwd = (a * sp.sin(th) * sp.cos(ph), a * sp.sin(th) * sp.sin(ph), a * sp.cos(th))
    return ChartMap(_sphere_chart(), cartesian_chart(3), fwd)


def _torus_radii(R: float | sp.Expr, r: float | sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    R_, r_ = _positive(R, "R"), _positive(r, "r")
    if (R_ - r_).is_positive is False:
        raise IndefiniteMetricError(
            f"the torus needs `R` > `r` > 0 (otherwise the tube passes through the axis and the metric "
            f"degenerates where cos(theta) = -R/r); got R = {R_}, r = {r_}."
        )
    return R_, r_


def _torus_chart() -> Chart:
    return Chart("torus", (_TORUS_THETA, _PHI))


def torus(R: float | sp.Expr = 2, r: float | sp.Expr = 1) -> Metric:
    """The torus of revolution with radii R > r > 0.

    Parameters
    ----------
    R : positive number or positive SymPy expression, optional
        The distance from the axis to the centre of the tube (default 2).
    r : positive number or positive SymPy expression, optional
        The radius of the tube (default 1). For symbols, R > r is assumed.

    Returns
    -------
    Metric
        The matrix diag(r^2, (R + r cos(theta))^2) on the chart ``"torus"``: ``theta``
        the angle around the tube, ``phi`` the angle around the axis, both
        real.

    Raises
    ------
    IndefiniteMetricError
        If a radius is not known to be positive, or ``R <= r`` is known.

    Notes
    -----
    The pullback of the Euclidean metric along :func:`torus_embedding`:
    ds^2 = r^2 dtheta^2 + (R + r cos(theta))^2 dphi^2. Gaussian curvature
    K = cos(theta) / (r (R + r cos(theta))), positive on the outer half,
    negative on the inner half; area element r (R + r cos(theta)); the
    integral of K dA vanishes, as Gauss-Bonnet requires for chi(T^2) = 0 [1]_.

    References
    ----------
    .. [1] M. P. do Carmo, *Differential Geometry of Curves and Surfaces*,
       Prentice-Hall, 1976, ch. 3 (curvature of the torus) and ch. 4
       (Gauss-Bonnet).

    Examples
    --------
    >>> from riemgrad.spaces import torus
    >>> g = torus(3, 1)
    >>> g.matrix
    Matrix([
    [1,                  0],
    [0, (cos(theta) + 3)**2]])
    >>> g.gaussian_curvature()
    cos(theta)/(cos(theta) + 3)
    """
    R_, r_ = _torus_radii(R, r)
    th = _TORUS_THETA
    return Metric(_torus_chart(), sp.diag(r_**2, (R_ + r_ * sp.cos(th)) ** 2))


def torus_embedding(R: float | sp.Expr = 2, r: float | sp.Expr = 1) -> ChartMap:
    """The embedding of the torus of revolution into R^3.

    Parameters
    ----------
    R, r : positive numbers or positive SymPy expressions, optional
        The radii as in :func:`torus` (defaults 2 and 1).

    Returns
    -------
    ChartMap
        From the chart of :func:`torus` to :func:`cartesian_chart` ``(3)``:
        (theta, phi) -> ((R + r cos(theta)) cos(phi),
        (R + r cos(theta)) sin(phi), r sin(theta)).

    Raises
    ------
    IndefiniteMetricError
        If a radius is not known to be positive, or ``R <= r`` is known.

    Examples
    --------
    >>> from riemgrad.spaces import euclidean, torus_embedding
    >>> emb = torus_embedding(2, 1)
    >>> emb.forward
    ((cos(theta) + 2)*cos(phi), (cos(theta) + 2)*sin(phi), sin(theta))
    >>> euclidean(3).pullback(emb).matrix
    Matrix([
    [1,                  0],
    [0, (cos(theta) + 2)**2]])
    """
    R_, r_ = _torus_radii(R, r)
    th, ph = _TORUS_THETA, _PHI
    w = R_ + r_ * sp.cos(th)
    return ChartMap(_torus_chart(), cartesian_chart(3), (w * sp.cos(ph), w * sp.sin(ph), r_ * sp.sin(th)))


def poincare_half_plane() -> Metric:
    """The Poincaré upper half-plane: (dx^2 + dy^2) / y^2 on y > 0.

    Returns
    -------
    Metric
        On the chart ``"half_plane"`` with ``x`` real and ``y`` positive.

    Notes
    -----
    Constant Gaussian curvature K = -1 (scalar curvature R = -2). Christoffel
    symbols Gamma^x_xy = -1/y, Gamma^y_xx = 1/y, Gamma^y_yy = -1/y, the others
    zero. The Cayley transform w = i (1 + z) / (1 - z) is an isometry from
    :func:`poincare_disk` onto this half-plane [1]_.

    References
    ----------
    .. [1] J. W. Anderson, *Hyperbolic Geometry*, 2nd ed., Springer, 2005,
       ch. 3-4.

    Examples
    --------
    >>> from riemgrad.spaces import poincare_half_plane
    >>> g = poincare_half_plane()
    >>> g.gaussian_curvature()
    -1
    >>> G = g.christoffel()
    >>> G[0, 0, 1], G[1, 0, 0], G[1, 1, 1]
    (-1/y, 1/y, -1/y)
    """
    x, y = _X, _Y_POS
    return Metric(Chart("half_plane", (x, y)), sp.diag(1 / y**2, 1 / y**2))


def poincare_disk() -> Metric:
    """The Poincaré disk: 4 (dx^2 + dy^2) / (1 - x^2 - y^2)^2 on x^2 + y^2 < 1.

    Returns
    -------
    Metric
        On the chart ``"poincare_disk"`` with ``x``, ``y`` real (the chart
        covers the open unit disk).

    Notes
    -----
    A conformal metric e^{2f} (dx^2 + dy^2) with f = log 2 - log(1 - x^2 - y^2);
    its Gaussian curvature -e^{-2f} Laplacian(f) is constant, K = -1 [1]_.

    References
    ----------
    .. [1] J. W. Anderson, *Hyperbolic Geometry*, 2nd ed., Springer, 2005,
       ch. 4.

    Examples
    --------
    >>> from riemgrad.spaces import poincare_disk
    >>> g = poincare_disk()
    >>> g.gaussian_curvature()
    -1
    >>> g.volume_element()
    4/(x**2 + y**2 - 1)**2
    """
    x, y = _X, _Y
    c = 4 / (1 - x**2 - y**2) ** 2
    return Metric(Chart("poincare_disk", (x, y)), sp.diag(c, c))


CATALOGUE: dict[str, Callable[[], Metric]] = {
    "euclidean_line": partial(euclidean, 1),
    "euclidean_plane": partial(euclidean, 2),
    "euclidean_space": partial(euclidean, 3),
    "euclidean_4d": partial(euclidean, 4),
    "polar_plane": polar_plane,
    "spherical_space": spherical_space,
    "sphere": sphere,
    "sphere_radius_a": partial(sphere, sp.Symbol("a", positive=True)),
    "torus": torus,
    "torus_symbolic": partial(torus, sp.Symbol("R", positive=True), sp.Symbol("r", positive=True)),
    "poincare_half_plane": poincare_half_plane,
    "poincare_disk": poincare_disk,
}
"""Every metric of this module by a readable name: ``name -> zero-argument constructor``."""
