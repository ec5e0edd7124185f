"""Geodesics, exponential and logarithm maps, distances: closed forms, batches, statuses, errors.

Every expected value is derived here by hand, independently of the code under test (each was also
checked in scratch work against scipy.integrate.solve_ivp on hand-written geodesic equations):

- Euclidean plane, Cartesian chart: all Christoffel symbols vanish, so x(t) = x0 + t v0 and d(a, b) = |a - b|.
- Polar chart (r > 0, theta), g = diag(1, r^2) (pullback of the flat metric along (r cos theta, r sin theta)):
  geodesics are straight lines X0 + t V in the Cartesian image, V = v_r e_r + r0 v_theta e_theta; distances are
  Cartesian distances when the segment avoids r = 0 (points in a cone of opening < pi).
- Unit sphere (theta, phi), g = diag(1, sin^2 theta): great circles. In R^3, exp_P(V) = cos|V| P + sin|V| V/|V|
  with V = v_theta dP/dtheta + v_phi dP/dphi; the equator (phi0 + t) and meridians (theta0 + t) are special cases;
  d = arccos(cos t1 cos t2 + sin t1 sin t2 cos(p1 - p2)) (spherical law of cosines, do Carmo).
- Poincare half-plane (x, y > 0), g = (dx^2 + dy^2)/y^2: d = arccosh(1 + |a - b|^2 / (2 y1 y2)); vertical geodesic
  y0 e^t (y'' = y'^2 / y); other geodesics are semicircles x = c + R tanh(tau), y = R sech(tau) with unit-speed
  parameter tau (|d(x, y)/dtau| / y = 1), centre c = x0 + y0 vy / vx (radius orthogonal to the velocity).
- Gaussian Fisher metric (mu, sigma), diag(1/sigma^2, 2/sigma^2): with u = mu / sqrt(2) it is
  2 (du^2 + dsigma^2) / sigma^2, twice the half-plane metric, so lengths are sqrt(2) times hyperbolic ones:
  d_FR = sqrt(2) arccosh(1 + ((mu1 - mu2)^2 / 2 + (sigma1 - sigma2)^2) / (2 sigma1 sigma2))
  (Costa, Santos & Strapasson 2015). In the variance chart v = sigma^2 (dsigma^2 = dv^2 / (4 v)) it is
  diag(1/v, 1/(2 v^2)) and distances are unchanged. The vertical geodesic mu = mu0 solves
  sigma'' = sigma'^2 / sigma: sigma0 e^{c t}.
- Incomplete metric: the flat metric on (x, y > 0) has the straight line (0, 1 - 2 t), which leaves y > 0 at t = 1/2.
"""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from riemgrad import Chart, GeodesicResult, Metric, Status, distance, exp_map, geodesic, log_map
from riemgrad.errors import ConvergenceError, CoordinateError, ShapeError

HALF_PI = np.pi / 2


# --------------------------------------------------------------------------- metrics (each built once)


@pytest.fixture(scope="module")
def plane():
    x, y = sp.symbols("x y", real=True)
    return Metric(Chart("cartesian", (x, y)), sp.eye(2))


@pytest.fixture(scope="module")
def polar():
    r, th = sp.Symbol("r", positive=True), sp.Symbol("theta", real=True)
    return Metric(Chart("polar", (r, th)), sp.diag(1, r**2))


@pytest.fixture(scope="module")
def sphere():
    th, ph = sp.symbols("theta phi", real=True)
    return Metric(Chart("sphere", (th, ph)), sp.diag(1, sp.sin(th) ** 2))


@pytest.fixture(scope="module")
def half_plane():
    x, y = sp.Symbol("x", real=True), sp.Symbol("y", positive=True)
    return Metric(Chart("half_plane", (x, y)), sp.diag(1 / y**2, 1 / y**2))


@pytest.fixture(scope="module")
def gauss_sigma():
    mu, sigma = sp.Symbol("mu", real=True), sp.Symbol("sigma", positive=True)
    return Metric(Chart("gauss_sigma", (mu, sigma)), sp.diag(1 / sigma**2, 2 / sigma**2))


@pytest.fixture(scope="module")
def gauss_variance():
    mu, v = sp.Symbol("mu", real=True), sp.Symbol("v", positive=True)
    return Metric(Chart("gauss_variance", (mu, v)), sp.diag(1 / v, 1 / (2 * v**2)))


@pytest.fixture(scope="module")
def flat_half():
    x, y = sp.Symbol("x", real=True), sp.Symbol("y", positive=True)
    return Metric(Chart("flat_half", (x, y)), sp.eye(2))


# --------------------------------------------------------------------------- closed forms


def polar_exp(p, v):
    """Straight line in the Cartesian image, mapped back to (r, theta)."""
    r0, t0 = p
    e_r, e_t = np.array([np.cos(t0), np.sin(t0)]), np.array([-np.sin(t0), np.cos(t0)])
    X = r0 * e_r + v[0] * e_r + r0 * v[1] * e_t
    return np.array([np.hypot(*X), np.arctan2(X[1], X[0])])


def to_cartesian(p):
    return p[0] * np.array([np.cos(p[1]), np.sin(p[1])])


def sphere_exp(p, v):
    """Great circle cos|V| P + sin|V| V/|V| in R^3, mapped back to (theta, phi)."""
    t, f = p
    P = np.array([np.sin(t) * np.cos(f), np.sin(t) * np.sin(f), np.cos(t)])
    d_t = np.array([np.cos(t) * np.cos(f), np.cos(t) * np.sin(f), -np.sin(t)])
    d_f = np.array([-np.sin(t) * np.sin(f), np.sin(t) * np.cos(f), 0.0])
    V = v[0] * d_t + v[1] * d_f
    n = np.linalg.norm(V)
    Q = np.cos(n) * P + np.sin(n) * V / n
    return np.array([np.arccos(Q[2]), np.arctan2(Q[1], Q[0])])


def great_circle(a, b):
    return np.arccos(np.cos(a[0]) * np.cos(b[0]) + np.sin(a[0]) * np.sin(b[0]) * np.cos(a[1] - b[1]))


def half_plane_exp(p, v, t=1.0):
    """Semicircle x = c + R tanh(tau), y = R sech(tau), tau unit-speed (needs vx != 0)."""
    x0, y0 = p
    vx, vy = v
    c = x0 + y0 * vy / vx
    R = np.hypot(x0 - c, y0)
    tau = np.arctanh((x0 - c) / R) + np.sign(vx) * np.hypot(vx, vy) / y0 * t
    return np.array([c + R * np.tanh(tau), R / np.cosh(tau)])


def half_plane_distance(a, b):
    return np.arccosh(1 + ((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) / (2 * a[1] * b[1]))


def fisher_rao(a, b):
    return np.sqrt(2) * np.arccosh(1 + ((a[0] - b[0]) ** 2 / 2 + (a[1] - b[1]) ** 2) / (2 * a[1] * b[1]))


# --------------------------------------------------------------------------- Euclidean plane


def test_plane_geodesics_are_straight_lines(plane):
    x0 = np.array([[0.0, 0.0], [1.0, -2.0], [-0.5, 3.0]])
    v0 = np.array([[1.0, 2.0], [-3.0, 0.5], [0.0, -1.0]])
    res = geodesic(plane, x0, v0, (0.0, 2.0), saveat=[0.0, 0.3, 1.0, 2.0])
    assert isinstance(res, GeodesicResult)
    assert res.ts.tolist() == [0.0, 0.3, 1.0, 2.0]
    assert res.xs.shape == res.vs.shape == (4, 3, 2) and res.energies.shape == (4, 3)
    assert res.status.tolist() == [Status.SUCCESS] * 3
    for k, t in enumerate(res.ts):
        np.testing.assert_allclose(res.xs[k], x0 + t * v0, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(res.vs[k], v0, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(res.energies[k], (v0**2).sum(axis=1), rtol=1e-10)


@pytest.mark.nojit
def test_plane_exp_log_distance(plane):
    a, b = np.array([0.5, -1.0]), np.array([2.0, 1.0])
    np.testing.assert_allclose(exp_map(plane, a, b - a), b, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(log_map(plane, a, b), b - a, rtol=1e-8, atol=1e-8)
    d = distance(plane, a, b)
    assert isinstance(d, float)
    assert d == pytest.approx(2.5, rel=1e-9)  # |(1.5, 2)| = 2.5


# --------------------------------------------------------------------------- polar chart of the plane


@pytest.mark.parametrize("p, v", [((1.0, 0.5), (0.3, 0.4)), ((2.0, 0.2), (-0.5, 0.3)), ((1.5, 1.0), (0.2, -0.6))])
def test_polar_exp_map_is_a_straight_line(polar, p, v):
    np.testing.assert_allclose(exp_map(polar, np.array(p), np.array(v)), polar_exp(p, v), rtol=1e-9, atol=1e-9)


def test_polar_distance_is_the_cartesian_distance(polar):
    for a, b in [((1.0, 0.3), (2.0, 1.1)), ((1.5, 1.2), (1.2, 0.2)), ((0.8, 0.5), (3.0, 0.9))]:
        expected = np.linalg.norm(to_cartesian(a) - to_cartesian(b))
        assert distance(polar, np.array(a), np.array(b)) == pytest.approx(expected, rel=1e-8), (a, b)


# --------------------------------------------------------------------------- unit sphere


@pytest.mark.nojit
def test_sphere_equator(sphere):
    res = geodesic(sphere, [HALF_PI, 0.3], [0.0, 1.0], (0.0, 2.0), saveat=[0.0, 0.5, 1.0, 2.0])
    assert res.status == Status.SUCCESS
    np.testing.assert_allclose(res.xs[:, 0], HALF_PI, atol=1e-10)
    np.testing.assert_allclose(res.xs[:, 1], 0.3 + res.ts, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(res.vs, [[0.0, 1.0]] * 4, atol=1e-10)


@pytest.mark.nojit
def test_sphere_meridian(sphere):
    res = geodesic(sphere, [0.5, -1.0], [1.0, 0.0], (0.0, 1.0), saveat=[0.0, 0.25, 0.75, 1.0])
    assert res.status == Status.SUCCESS
    np.testing.assert_allclose(res.xs[:, 0], 0.5 + res.ts, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(res.xs[:, 1], -1.0, atol=1e-10)


@pytest.mark.parametrize("p, v", [((1.0, 0.3), (0.4, 0.7)), ((0.8, -0.5), (-0.3, 1.1)), ((2.0, 1.0), (0.5, -0.6))])
def test_sphere_exp_map_is_a_great_circle(sphere, p, v):
    np.testing.assert_allclose(exp_map(sphere, np.array(p), np.array(v)), sphere_exp(p, v), rtol=1e-9, atol=1e-9)


def test_sphere_great_circle_distance(sphere):
    pairs = [
        ((1.0, 0.3), (1.5, 1.2)),
        ((0.7, -1.0), (2.2, 0.8)),
        ((1.2, 0.0), (1.9, -1.5)),
        ((HALF_PI, 0.0), (HALF_PI, 2.0)),
    ]
    for a, b in pairs:
        assert distance(sphere, np.array(a), np.array(b)) == pytest.approx(great_circle(a, b), rel=1e-8), (a, b)


def test_sphere_energy_is_conserved(sphere):
    x0, v0 = np.array([1.0, 0.3]), np.array([0.4, 0.7])
    res = geodesic(sphere, x0, v0, (0.0, 3.0), saveat=np.linspace(0.0, 3.0, 7))
    assert res.status == Status.SUCCESS and res.energies.shape == (7,)
    e0 = v0[0] ** 2 + np.sin(x0[0]) ** 2 * v0[1] ** 2
    np.testing.assert_allclose(res.energies, e0, rtol=1e-9)
    # energies are g(v, v) at the recorded states
    recomputed = res.vs[:, 0] ** 2 + np.sin(res.xs[:, 0]) ** 2 * res.vs[:, 1] ** 2
    np.testing.assert_allclose(res.energies, recomputed, rtol=1e-12)


def test_sphere_rk4_stepper(sphere):
    res = geodesic(sphere, [HALF_PI, 0.0], [0.0, 1.0], (0.0, 1.0), stepper="rk4", dt=1e-3)
    assert res.status == Status.SUCCESS
    np.testing.assert_allclose(res.xs[-1], [HALF_PI, 1.0], atol=1e-8)


# --------------------------------------------------------------------------- Poincare half-plane


def test_half_plane_vertical_geodesic(half_plane):
    res = geodesic(half_plane, [0.3, 0.7], [0.0, 0.7], (0.0, 1.5), saveat=[0.0, 0.5, 1.0, 1.5])
    assert res.status == Status.SUCCESS
    np.testing.assert_allclose(res.xs[:, 0], 0.3, atol=1e-10)
    np.testing.assert_allclose(res.xs[:, 1], 0.7 * np.exp(res.ts), rtol=1e-9)
    np.testing.assert_allclose(res.vs[:, 1], 0.7 * np.exp(res.ts), rtol=1e-9)
    np.testing.assert_allclose(res.energies, 1.0, rtol=1e-9)  # unit speed


@pytest.mark.parametrize("p, v", [((0.0, 1.0), (1.0, 0.5)), ((1.0, 0.5), (-0.3, -0.2)), ((-0.5, 2.0), (0.8, -1.5))])
def test_half_plane_exp_map_is_a_semicircle(half_plane, p, v):
    got = exp_map(half_plane, np.array(p), np.array(v))
    np.testing.assert_allclose(got, half_plane_exp(p, v), rtol=1e-9, atol=1e-9)


def test_half_plane_log_map_vertical(half_plane):
    # the vertical geodesic y0 e^t reaches (x0, y0 e^d) at t = d from velocity (0, y0 d)
    v = log_map(half_plane, np.array([0.3, 0.7]), np.array([0.3, 0.7 * np.exp(1.2)]))
    assert v.shape == (2,)
    np.testing.assert_allclose(v, [0.0, 0.7 * 1.2], atol=1e-8)


def test_half_plane_distance(half_plane):
    for a, b in [((0.0, 1.0), (1.0, 2.0)), ((-1.5, 0.4), (1.2, 2.5)), ((0.3, 0.8), (0.3, 2.4))]:
        got = distance(half_plane, np.array(a), np.array(b))
        assert got == pytest.approx(half_plane_distance(a, b), rel=1e-8), (a, b)


# --------------------------------------------------------------------------- Gaussian Fisher-Rao


def test_fisher_rao_distance_in_both_charts(gauss_sigma, gauss_variance):
    for a, b in [((0.0, 1.0), (1.0, 2.0)), ((-1.0, 0.5), (2.0, 1.5)), ((0.5, 3.0), (-0.5, 0.7))]:
        expected = fisher_rao(a, b)
        assert distance(gauss_sigma, np.array(a), np.array(b)) == pytest.approx(expected, rel=1e-8), (a, b)
        a_var, b_var = np.array([a[0], a[1] ** 2]), np.array([b[0], b[1] ** 2])
        assert distance(gauss_variance, a_var, b_var) == pytest.approx(expected, rel=1e-8), (a, b)


def test_gaussian_vertical_geodesic(gauss_sigma):
    # mu = 0.5 fixed, sigma(t) = 1.5 e^{0.7 t}; energy 2 (sigma'/sigma)^2 = 2 * 0.49
    res = geodesic(gauss_sigma, [0.5, 1.5], [0.0, 1.5 * 0.7], (0.0, 1.0), saveat=[0.0, 0.5, 1.0])
    assert res.status == Status.SUCCESS
    np.testing.assert_allclose(res.xs[:, 0], 0.5, atol=1e-10)
    np.testing.assert_allclose(res.xs[:, 1], 1.5 * np.exp(0.7 * res.ts), rtol=1e-9)
    np.testing.assert_allclose(res.energies, 2 * 0.49, rtol=1e-9)


# --------------------------------------------------------------------------- batches and layouts


def test_default_records_start_and_end(half_plane):
    single = geodesic(half_plane, [0.0, 1.0], [1.0, 0.5])
    assert single.ts.tolist() == [0.0, 1.0]
    assert single.xs.shape == single.vs.shape == (2, 2)
    assert single.energies.shape == (2,) and np.shape(single.status) == ()
    np.testing.assert_allclose(single.xs[0], [0.0, 1.0])
    np.testing.assert_allclose(single.xs[-1], half_plane_exp((0.0, 1.0), (1.0, 0.5)), rtol=1e-9, atol=1e-9)
    batch = geodesic(half_plane, [[0.0, 1.0], [1.0, 0.5]], [[1.0, 0.5], [-0.3, -0.2]])
    assert batch.xs.shape == (2, 2, 2) and batch.energies.shape == (2, 2) and batch.status.shape == (2,)


def test_batch_exp_map_equals_single(half_plane, sphere):
    hp_x = np.array([[0.0, 1.0], [1.0, 0.5], [-0.5, 2.0]])
    hp_v = np.array([[1.0, 0.5], [-0.3, -0.2], [0.8, -1.5]])
    sp_x = np.array([[1.0, 0.3], [0.8, -0.5], [2.0, 1.0]])
    sp_v = np.array([[0.4, 0.7], [-0.3, 1.1], [0.5, -0.6]])
    for metric, xs, vs in [(half_plane, hp_x, hp_v), (sphere, sp_x, sp_v)]:
        batch = exp_map(metric, xs, vs)
        assert batch.shape == xs.shape
        single = np.array([exp_map(metric, x, v) for x, v in zip(xs, vs)])
        np.testing.assert_allclose(batch, single, rtol=1e-12, atol=1e-12)


def test_batch_distance_equals_single(half_plane):
    a = np.array([[0.0, 1.0], [-1.0, 0.5], [0.3, 0.8]])
    b = np.array([[1.0, 2.0], [1.0, 1.5], [0.3, 2.4]])
    d = distance(half_plane, a, b)
    assert isinstance(d, np.ndarray) and d.shape == (3,)
    single = [distance(half_plane, x, y) for x, y in zip(a, b)]
    assert all(isinstance(s, float) for s in single)
    np.testing.assert_allclose(d, single, rtol=1e-8)
    np.testing.assert_allclose(d, [half_plane_distance(x, y) for x, y in zip(a, b)], rtol=1e-8)
    v = log_map(half_plane, a, b)
    assert v.shape == a.shape


# --------------------------------------------------------------------------- round trips, symmetry, properties


@pytest.mark.parametrize(
    "which, a, b",
    [
        ("half_plane", (0.0, 1.0), (1.0, 2.0)),
        ("half_plane", (-1.5, 0.4), (1.2, 2.5)),
        ("sphere", (1.0, 0.3), (1.5, 1.2)),
        ("sphere", (0.7, -1.0), (2.2, 0.8)),
    ],
)
def test_exp_of_log_is_the_identity(request, which, a, b):
    metric = request.getfixturevalue(which)
    a, b = np.array(a), np.array(b)
    v = log_map(metric, a, b)
    np.testing.assert_allclose(exp_map(metric, a, v), b, rtol=0, atol=1e-8)


@pytest.mark.parametrize(
    "which, a, b",
    [
        ("half_plane", (-1.0, 0.5), (2.0, 1.5)),
        ("sphere", (1.2, 0.0), (1.9, -1.5)),
        ("gauss_sigma", (0.5, 3.0), (-0.5, 0.7)),
    ],
)
def test_distance_is_symmetric(request, which, a, b):
    metric = request.getfixturevalue(which)
    a, b = np.array(a), np.array(b)
    assert abs(distance(metric, a, b) - distance(metric, b, a)) < 1e-8


points = st.tuples(st.floats(-2.0, 2.0), st.floats(0.3, 3.0))


@settings(max_examples=15, deadline=None)
@given(p=points, q=points, r=points)
def test_half_plane_triangle_inequality_and_closed_form(half_plane, p, q, r):
    a, b, c = np.array(p), np.array(q), np.array(r)
    ab, bc, ac = distance(half_plane, a, b), distance(half_plane, b, c), distance(half_plane, a, c)
    assert ac <= ab + bc + 1e-8
    for got, (x, y) in [(ab, (a, b)), (bc, (b, c)), (ac, (a, c))]:
        assert got == pytest.approx(half_plane_distance(x, y), rel=1e-7, abs=1e-8)


# --------------------------------------------------------------------------- statuses


def test_left_domain_status(flat_half):
    # straight line (0, 1 - 2t) crosses y = 0 at t = 1/2; (0, 1 + t) stays inside
    x0 = np.array([[0.0, 1.0], [0.0, 1.0]])
    v0 = np.array([[0.0, -2.0], [0.0, 1.0]])
    res = geodesic(flat_half, x0, v0, (0.0, 1.0))
    assert res.status.tolist() == [Status.LEFT_DOMAIN, Status.SUCCESS]
    assert np.isnan(res.xs[-1, 0]).all()
    np.testing.assert_allclose(res.xs[:, 1], [[0.0, 1.0], [0.0, 2.0]], atol=1e-10)
    ends = exp_map(flat_half, x0, v0)
    assert np.isnan(ends[0]).all()
    np.testing.assert_allclose(ends[1], [0.0, 2.0], atol=1e-10)


# --------------------------------------------------------------------------- errors


def test_mismatched_shapes_raise(half_plane):
    with pytest.raises(ShapeError):
        geodesic(half_plane, [0.0, 1.0], [[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ShapeError):
        exp_map(half_plane, [0.0, 1.0], [1.0, 0.5, 0.0])


def test_wrong_dimension_raises(half_plane):
    with pytest.raises(ShapeError):
        geodesic(half_plane, [0.0, 1.0, 2.0], [1.0, 0.5, 0.0])
    with pytest.raises(ShapeError):
        distance(half_plane, np.ones((2, 3)), np.ones((2, 3)))


def test_stray_symbol_raises():
    x, y, k = sp.Symbol("x", real=True), sp.Symbol("y", positive=True), sp.Symbol("k", positive=True)
    metric = Metric(Chart("stray", (x, y)), sp.diag(k / y**2, 1 / y**2))
    with pytest.raises(CoordinateError):
        geodesic(metric, [0.0, 1.0], [1.0, 0.0])


def test_antipodal_points_do_not_converge(sphere):
    with pytest.raises(ConvergenceError):
        log_map(sphere, np.array([HALF_PI, 0.0]), np.array([HALF_PI, np.pi]))


def test_far_pairs_converge_by_continuation(half_plane):
    # from y = 0.41 up to y = 2.91: the first shot v = b - a flies off (y grows like e^6); continuation
    # along the chart segment reaches the answer. Closed form: arccosh(1 + |a - b|^2 / (2 y1 y2)).
    a = np.array([[0.620484255965521, 0.4096800656064431], [-1.9, 0.3]])
    b = np.array([[-0.13794158623636266, 2.914395233646504], [1.9, 2.9]])
    closed = np.arccosh(1 + np.sum((a - b) ** 2, axis=1) / (2 * a[:, 1] * b[:, 1]))
    np.testing.assert_allclose(distance(half_plane, a, b), closed, rtol=1e-8)


def test_variational_field_gives_jacobi_fields(sphere):
    # Along the equator at unit speed, a Jacobi field J'' + K J = 0 with K = 1, J(0) = 0, J'(0) = 1:
    # d theta / d v0_theta = sin t across the motion, d phi / d v0_phi = t along it, no cross terms.
    from riemgrad import solve_flow
    from riemgrad.kernels import geodesic_field

    field = geodesic_field(sphere, variational=True)
    assert field.chart.dim == 12
    state = np.concatenate([[HALF_PI, 0.0, 0.0, 1.0], np.zeros(4), np.eye(2).ravel()])
    ts = np.array([0.5, 1.0, 2.0])
    res = solve_flow(field, state, (0.0, 2.0), stepper="dopri5", saveat=ts, rtol=1e-11, atol=1e-13)
    assert res.ts.tolist() == ts.tolist()
    dx = res.xs[:, 4:8].reshape(-1, 2, 2)  # dx_i_j = d x^i / d v0^j
    expected = np.stack([np.array([[np.sin(t), 0.0], [0.0, t]]) for t in ts])
    np.testing.assert_allclose(dx, expected, atol=1e-9)


def test_points_outside_the_chart_are_rejected(half_plane):
    from riemgrad.errors import DomainError

    with pytest.raises(DomainError, match="`y` must lie in the domain"):
        log_map(half_plane, [0.0, 1.0], [0.0, -1.0])
    with pytest.raises(DomainError, match="`x` must lie in the domain"):
        distance(half_plane, [[0.0, 1.0], [np.nan, 1.0]], [[1.0, 1.0], [1.0, 1.0]])
