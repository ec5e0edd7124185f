"""Tests for riemgrad.spaces: every catalogue entry against its documented closed form."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from riemgrad import Chart, ChartMap, Metric, spaces
from riemgrad.errors import IndefiniteMetricError, ShapeError

X, Y, Z, PHI = sp.symbols("x y z phi", real=True)
YP, R, THETA, A = sp.symbols("y r theta a", positive=True)
BIG, SMALL = sp.symbols("R r", positive=True)
TORUS_THETA = sp.Symbol("theta", real=True)

NAMES = list(spaces.CATALOGUE)

# name -> (coordinates, matrix, scalar curvature), written out by hand from the literature
CLOSED_FORMS = {
    "euclidean_line": ((X,), sp.Matrix([[1]]), 0),
    "euclidean_plane": ((X, Y), sp.eye(2), 0),
    "euclidean_space": ((X, Y, Z), sp.eye(3), 0),
    "euclidean_4d": (sp.symbols("x1:5", real=True), sp.eye(4), 0),
    "polar_plane": ((R, PHI), sp.diag(1, R**2), 0),
    "spherical_space": ((R, THETA, PHI), sp.diag(1, R**2, R**2 * sp.sin(THETA) ** 2), 0),
    "sphere": ((THETA, PHI), sp.diag(1, sp.sin(THETA) ** 2), 2),
    "sphere_radius_a": ((THETA, PHI), sp.diag(A**2, A**2 * sp.sin(THETA) ** 2), 2 / A**2),
    "torus": (
        (TORUS_THETA, PHI),
        sp.diag(1, (2 + sp.cos(TORUS_THETA)) ** 2),
        2 * sp.cos(TORUS_THETA) / (2 + sp.cos(TORUS_THETA)),
    ),
    "torus_symbolic": (
        (TORUS_THETA, PHI),
        sp.diag(SMALL**2, (BIG + SMALL * sp.cos(TORUS_THETA)) ** 2),
        2 * sp.cos(TORUS_THETA) / (SMALL * (BIG + SMALL * sp.cos(TORUS_THETA))),
    ),
    "poincare_half_plane": ((X, YP), sp.diag(1 / YP**2, 1 / YP**2), -2),
    "poincare_disk": ((X, Y), sp.diag(4 / (1 - X**2 - Y**2) ** 2, 4 / (1 - X**2 - Y**2) ** 2), -2),
}

# a point inside each chart's domain, with values for the parameters
SAMPLE_POINTS = {
    "euclidean_line": [0.3],
    "euclidean_plane": [0.3, -1.2],
    "euclidean_space": [0.3, -1.2, 2.0],
    "euclidean_4d": [0.3, -1.2, 2.0, 0.1],
    "polar_plane": [1.5, 0.7],
    "spherical_space": [1.5, 0.7, 2.0],
    "sphere": [0.7, 2.0],
    "sphere_radius_a": [0.7, 2.0],
    "torus": [2.5, 1.0],
    "torus_symbolic": [2.5, 1.0],
    "poincare_half_plane": [-0.4, 0.3],
    "poincare_disk": [0.5, -0.6],
}
PARAMS = {A: 1.7, BIG: 3.0, SMALL: 1.2}


def test_catalogue_and_tables_cover_the_same_names():
    assert set(CLOSED_FORMS) == set(NAMES) == set(SAMPLE_POINTS)


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_catalogue_entry_matches_closed_form(name):
    coords, matrix, scalar = CLOSED_FORMS[name]
    g = spaces.CATALOGUE[name]()
    assert isinstance(g, Metric)
    assert g.chart.coords == tuple(coords)  # symbols with the documented assumptions
    assert sp.simplify(g.matrix - matrix) == sp.zeros(*matrix.shape)
    assert sp.simplify(g.scalar_curvature() - scalar) == 0
    if g.dim == 2:
        assert sp.simplify(g.gaussian_curvature() - sp.S(scalar) / 2) == 0


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_catalogue_contract(name):
    g = spaces.CATALOGUE[name]()
    # immutable, symmetric, positive definite inside the chart's domain, equal charts on every call
    assert g.chart == spaces.CATALOGUE[name]().chart
    assert g.matrix == g.matrix.T
    pt = np.array(SAMPLE_POINTS[name])
    assert g.chart.in_domain(pt)
    subs = dict(zip(g.chart.coords, pt)) | PARAMS
    G = np.array(g.matrix.subs(subs).evalf(), dtype=float)
    assert np.linalg.eigvalsh(G).min() > 0
    Ginv = np.array(g.inverse_matrix.subs(subs).evalf(), dtype=float)
    np.testing.assert_allclose(G @ Ginv, np.eye(g.dim), atol=1e-12)
    assert all(c.is_real for c in g.chart.coords)


def test_cartesian_chart():
    assert spaces.cartesian_chart(1).coords == (X,)
    assert spaces.cartesian_chart().coords == (X, Y)
    assert spaces.cartesian_chart(5).coords == sp.symbols("x1:6", real=True)
    assert spaces.cartesian_chart(3).name == "cartesian"
    for bad in (0, -2, 2.0, True):
        with pytest.raises(ShapeError, match=r"`n` must be a positive integer"):
            spaces.cartesian_chart(bad)


# --------------------------------------------------------------- sphere
def test_sphere_documented_forms():
    g = spaces.sphere(A)
    G = g.christoffel()
    assert sp.simplify(G[0, 1, 1] + sp.sin(THETA) * sp.cos(THETA)) == 0
    assert sp.simplify(G[1, 0, 1] - sp.cot(THETA)) == 0
    assert g.gaussian_curvature() == 1 / A**2
    assert spaces.sphere(2).gaussian_curvature() == sp.Rational(1, 4)
    assert spaces.sphere(sp.Rational(1, 3)).scalar_curvature() == 18
    assert spaces.sphere().volume_element() == sp.Abs(sp.sin(THETA))


@pytest.mark.parametrize("radius", [1, 2, A], ids=["unit", "two", "symbolic"])
def test_sphere_is_pullback_of_its_embedding(radius):
    emb = spaces.sphere_embedding(radius)
    assert emb.source == spaces.sphere(radius).chart
    assert emb.target == spaces.euclidean(3).chart
    pulled = spaces.euclidean(3).pullback(emb)
    assert pulled.equals(spaces.sphere(radius))


def test_sphere_embedding_numerically():
    pts = np.random.default_rng(0).uniform([0.1, -3.0], [3.0, 3.0], size=(50, 2))
    out = spaces.sphere_embedding(A)(pts, params={"a": 2.5})
    assert out.shape == (50, 3)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 2.5)
    np.testing.assert_allclose(out[:, 2], 2.5 * np.cos(pts[:, 0]))  # z = a cos(theta)


@pytest.mark.parametrize(
    "radius, error, match",
    [
        (0, IndefiniteMetricError, r"`radius` must be positive.*got 0"),
        (-1, IndefiniteMetricError, r"`radius` must be positive.*got -1"),
        (sp.Symbol("b"), IndefiniteMetricError, r"Declare it positive, e.g. sp.Symbol\('b', positive=True\)"),
        (sp.Symbol("n", negative=True), IndefiniteMetricError, r"got n\. Pass a value > 0"),
        ("one", TypeError, r"`radius` must be a positive number or a positive SymPy symbol"),
    ],
    ids=["zero", "negative", "unknown-sign", "negative-symbol", "string"],
)
def test_sphere_radius_validation(radius, error, match):
    with pytest.raises(error, match=match):
        spaces.sphere(radius)
    with pytest.raises(error, match=match):
        spaces.sphere_embedding(radius)


# ---------------------------------------------------------------- torus
def test_torus_documented_curvature():
    g = spaces.torus(BIG, SMALL)
    K = g.gaussian_curvature()
    expected = sp.cos(TORUS_THETA) / (SMALL * (BIG + SMALL * sp.cos(TORUS_THETA)))
    assert sp.simplify(K - expected) == 0
    # positive on the outer equator (theta = 0), negative on the inner one (theta = pi)
    assert sp.simplify(K.subs(TORUS_THETA, 0) - 1 / (SMALL * (BIG + SMALL))) == 0
    assert sp.simplify(K.subs(TORUS_THETA, sp.pi) + 1 / (SMALL * (BIG - SMALL))) == 0
    # area element r (R + r cos theta) (positive since R > r)
    assert sp.expand(g.volume_element() ** 2 - (SMALL * (BIG + SMALL * sp.cos(TORUS_THETA))) ** 2) == 0


@pytest.mark.parametrize("radii", [(2, 1), (3, sp.Rational(1, 2)), (BIG, SMALL)], ids=["2-1", "3-half", "symbolic"])
def test_torus_is_pullback_of_its_embedding(radii):
    emb = spaces.torus_embedding(*radii)
    assert emb.target == spaces.cartesian_chart(3)
    assert spaces.euclidean(3).pullback(emb).equals(spaces.torus(*radii))


def test_torus_embedding_numerically():
    big, small = 3.0, 1.2
    pts = np.random.default_rng(1).uniform(-4, 4, size=(40, 2))
    out = spaces.torus_embedding(BIG, SMALL)(pts, params={"R": big, "r": small})
    rho = np.hypot(out[:, 0], out[:, 1])
    # implicit equation of the torus: (sqrt(x^2 + y^2) - R)^2 + z^2 = r^2
    np.testing.assert_allclose((rho - big) ** 2 + out[:, 2] ** 2, small**2)


@pytest.mark.parametrize(
    "radii, match",
    [
        ((1, 1), r"the torus needs `R` > `r` > 0.*got R = 1, r = 1"),
        ((1, 2), r"the torus needs `R` > `r` > 0"),
        ((2, 0), r"`r` must be positive"),
        ((-2, 1), r"`R` must be positive"),
    ],
    ids=["equal", "R-smaller", "r-zero", "R-negative"],
)
def test_torus_radius_validation(radii, match):
    with pytest.raises(IndefiniteMetricError, match=match):
        spaces.torus(*radii)
    with pytest.raises(IndefiniteMetricError, match=match):
        spaces.torus_embedding(*radii)


# ------------------------------------------------------- flat and hyperbolic
def test_polar_plane_is_pullback_of_euclidean():
    g = spaces.polar_plane()
    m = ChartMap(g.chart, spaces.cartesian_chart(2), (R * sp.cos(PHI), R * sp.sin(PHI)))
    assert spaces.euclidean(2).pullback(m).equals(g)
    G = g.christoffel()
    assert (G[0, 1, 1], G[1, 0, 1], G[1, 1, 0]) == (-R, 1 / R, 1 / R)


def test_spherical_space_is_pullback_of_euclidean():
    g = spaces.spherical_space()
    fwd = (R * sp.sin(THETA) * sp.cos(PHI), R * sp.sin(THETA) * sp.sin(PHI), R * sp.cos(THETA))
    m = ChartMap(g.chart, spaces.cartesian_chart(3), fwd)
    assert spaces.euclidean(3).pullback(m).equals(g)
    assert sp.simplify(g.volume_element() - R**2 * sp.Abs(sp.sin(THETA))) == 0


def test_half_plane_documented_christoffels():
    G = spaces.poincare_half_plane().christoffel()
    assert (G[0, 0, 1], G[1, 0, 0], G[1, 1, 1]) == (-1 / YP, 1 / YP, -1 / YP)
    assert (G[0, 0, 0], G[0, 1, 1], G[1, 0, 1]) == (0, 0, 0)


def test_disk_and_half_plane_are_isometric():
    # Cayley transform w = i (1 + z) / (1 - z), from the disk onto the half-plane
    disk, half = spaces.poincare_disk(), spaces.poincare_half_plane()
    den = (1 - X) ** 2 + Y**2
    cayley = ChartMap(disk.chart, half.chart, (-2 * Y / den, (1 - X**2 - Y**2) / den))
    assert half.pullback(cayley).equals(disk)


def test_disk_conformal_curvature_formula():
    # e^{2f}(dx^2 + dy^2) with f = log 2 - log(1 - x^2 - y^2): K = -e^{-2f} Laplacian(f)
    f = sp.log(2) - sp.log(1 - X**2 - Y**2)
    K = -sp.exp(-2 * f) * (sp.diff(f, X, 2) + sp.diff(f, Y, 2))
    assert sp.simplify(K) == -1
    assert spaces.poincare_disk().gaussian_curvature() == -1


def test_euclidean_is_flat_with_identity_matrix():
    for n in (1, 2, 3, 5):
        g = spaces.euclidean(n)
        assert g.matrix == sp.eye(n)
        assert g.chart == Chart("cartesian", spaces.cartesian_chart(n).coords)
        assert g.scalar_curvature() == 0
