"""distance and log_map you can trust: certified minimality, per-pair statuses, pairs near a chart's boundary.

Expected values come from closed forms, never from the code under test:

- Unit sphere: the great-circle distance arccos(<P, Q>) of the embedded points P, Q in R^3
  (P = (sin t cos f, sin t sin f, cos t)); every other geodesic between them is longer (2 pi - d, 2 pi + d, ...).
- Gaussian Fisher-Rao metric diag(1/sigma^2, 2/sigma^2): twice the hyperbolic metric in (mu / sqrt(2), sigma), so
  d = sqrt(2) arccosh(1 + ((mu1 - mu2)^2 / 2 + (sigma1 - sigma2)^2) / (2 sigma1 sigma2)) (Costa, Santos &
  Strapasson 2015; REFERENCE.md fisher_rao.normal). In the variance chart v = sigma^2 the distances are the same.
- Chart segments: along mu = const in the sigma chart the length is sqrt(2) log(sigma2 / sigma1); along
  sigma = s it is |mu2 - mu1| / s; on the half-plane along y = 1 it is |x2 - x1|.
"""

import math
import warnings

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from riemgrad import Chart, Metric, Status, distance, exp_map, families, fisher_metric, log_map, spaces
from riemgrad.errors import ConvergenceError, MinimalityWarning, SolverSettingsError
from riemgrad.flows import DistanceResult

SUCCESS, UNKNOWN = int(Status.SUCCESS), int(Status.MINIMALITY_UNKNOWN)


def embed(p):
    p = np.asarray(p, float)
    t, f = p[..., 0], p[..., 1]
    return np.stack([np.sin(t) * np.cos(f), np.sin(t) * np.sin(f), np.cos(t)], axis=-1)


def great_circle(a, b):
    return np.arccos(np.clip(np.sum(embed(a) * embed(b), axis=-1), -1.0, 1.0))


def fisher_rao(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    q = ((a[..., 0] - b[..., 0]) ** 2 / 2 + (a[..., 1] - b[..., 1]) ** 2) / (2 * a[..., 1] * b[..., 1])
    return np.sqrt(2) * np.arccosh(1 + q)


@pytest.fixture(scope="module")
def sphere():
    return spaces.sphere()


@pytest.fixture(scope="module")
def hand_sphere():
    th, ph = sp.symbols("theta phi", real=True)
    return Metric(Chart("angles", (th, ph)), sp.diag(1, sp.sin(th) ** 2))


@pytest.fixture(scope="module")
def gauss():
    return families.atlas("normal").closed_form("sigma")


# --------------------------------------------------------------------------- the sphere


def test_the_issue_pair_gets_the_short_great_circle(sphere):
    # phi from 0 to 4 > pi: the geodesic staying in the chart is 2 pi - 2.3818 = 3.9014 long; shooting used to
    # return it. The longitude is periodic (the catalogue knows), so the short way round is found and certified.
    a, b = [1.0, 0.0], [2.0, 4.0]
    expected = great_circle(a, b)
    assert expected == pytest.approx(2.3818, abs=1e-4)
    d = distance(sphere, a, b)
    assert d == pytest.approx(expected, rel=1e-8)
    v = log_map(sphere, a, b)
    np.testing.assert_allclose(embed(exp_map(sphere, a, v)), embed(b), atol=1e-8)


def test_sphere_batch_up_to_near_antipodal(sphere):
    rng = np.random.default_rng(3)
    A = np.column_stack([rng.uniform(0.2, 2.9, 40), rng.uniform(-3.0, 3.0, 40)])
    B = np.column_stack([rng.uniform(0.2, 2.9, 40), rng.uniform(-3.0, 3.0, 40)])
    # near-antipodes: the antipode of (t, f) is (pi - t, f + pi); move it by dphi along its parallel
    near = np.array([[1.2, 0.3], [2.0, 1.0], [1.5, 0.0]])
    dphi = np.array([1e-1, 1e-3, 1e-4])
    anti = np.column_stack([np.pi - near[:, 0], near[:, 1] + np.pi - dphi])
    assert np.all(np.pi - great_circle(near, anti) < 0.1)
    A, B = np.concatenate([A, near]), np.concatenate([B, anti])
    res = distance(sphere, A, B, full_output=True)
    assert isinstance(res, DistanceResult) and res.distances.shape == (43,)
    assert res.summary() == {"SUCCESS": 43}
    np.testing.assert_allclose(res.distances, great_circle(A, B), rtol=1e-8, atol=1e-9)
    assert np.all(res.upper_bounds <= res.distances * (1 + 1e-12))
    ends = exp_map(sphere, A, res.velocities)
    np.testing.assert_allclose(embed(ends), embed(B), atol=1e-7)


def test_antipodes_do_not_sink_the_batch(sphere):
    A = np.array([[np.pi / 2, 0.0], [1.0, 0.3]])
    B = np.array([[np.pi / 2, np.pi], [1.5, 1.2]])
    with pytest.warns(MinimalityWarning, match="1 of 2 pairs are NaN"):
        d = distance(sphere, A, B)
    assert np.isnan(d[0]) and d[1] == pytest.approx(great_circle(A[1], B[1]), rel=1e-8)
    with pytest.warns(MinimalityWarning):
        v = log_map(sphere, A, B)
    assert np.isnan(v[0]).all() and np.isfinite(v[1]).all()
    res = distance(sphere, A, B, full_output=True)
    assert res.status.tolist() == [UNKNOWN, SUCCESS]
    assert res.upper_bounds[0] >= np.pi * (1 - 1e-9)  # an upper bound on the true distance pi
    assert "minimizing" in res.reasons[1]
    assert "minimizing" not in res.reasons[0]


def test_a_single_uncertified_pair_raises_with_the_result(sphere):
    with pytest.raises(ConvergenceError, match="full_output=True") as info:
        distance(sphere, [np.pi / 2, 0.0], [np.pi / 2, np.pi])
    res = info.value.result
    assert res.status == UNKNOWN and res.upper_bounds >= np.pi * (1 - 1e-9)


def test_hand_written_sphere_says_what_it_does_not_know(hand_sphere):
    # Not a catalogue metric: nothing says phi is periodic. The only geodesic that reaches (2, 4) in the chart
    # is 3.9014 long, longer than pi: not certified, and the reported bound is still >= the true distance.
    a, b = [1.0, 0.0], [2.0, 4.0]
    res = distance(hand_sphere, a, b, full_output=True)
    assert res.status == UNKNOWN
    assert res.upper_bounds >= great_circle(a, b) - 1e-9
    assert res.distances == pytest.approx(2 * np.pi - great_circle(a, b), rel=1e-7)
    with pytest.raises(ConvergenceError):
        distance(hand_sphere, a, b)
    # periods alone do not certify a hand-written metric ...
    res = distance(hand_sphere, a, b, periods=(None, 2 * math.pi), full_output=True)
    assert res.status == UNKNOWN and res.distances == pytest.approx(great_circle(a, b), rel=1e-8)
    assert "injectivity_radius" in res.reasons
    # ... the injectivity radius with them does
    d = distance(hand_sphere, a, b, periods=(None, 2 * math.pi), injectivity_radius=math.pi)
    assert d == pytest.approx(great_circle(a, b), rel=1e-8)
    # a close pair is certified by the metric itself: constant curvature 1, geodesic shorter than pi
    res = distance(hand_sphere, [1.0, 0.3], [1.5, 1.2], full_output=True)
    assert res.status == SUCCESS and "constant curvature 1" in res.reasons
    assert res.distances == pytest.approx(great_circle([1.0, 0.3], [1.5, 1.2]), rel=1e-8)


def test_curvature_certificate_holds_within_one_region(hand_sphere):
    # sin(theta) = 0 at theta = 0 splits the chart: (1, 0) and (-1, 0) are on two sides (the same sphere points
    # as (1, 0) and (1, pi)), so the constant-curvature certificate does not apply to the pair
    res = distance(hand_sphere, [1.0, 0.0], [-1.0, 0.0], full_output=True)
    assert res.status == UNKNOWN
    assert res.upper_bounds >= 2.0 - 1e-9  # the sphere distance of (1, 0) and (1, pi) is 2
    res = distance(hand_sphere, [1.0, 0.0], [2.0, 0.5], full_output=True)
    assert res.status == SUCCESS


@settings(max_examples=8, deadline=None, derandomize=True)
@given(
    pts=st.lists(
        st.tuples(st.floats(0.3, 2.8), st.floats(-3.1, 3.1)),
        min_size=3,
        max_size=3,
    )
)
def test_sphere_symmetry_and_triangle_inequality(sphere, pts):
    a, b, c = (np.array(p) for p in pts)
    X = np.array([a, b, a, b, c])
    Y = np.array([b, a, c, c, a])
    res = distance(sphere, X, Y, full_output=True)
    exact = great_circle(X, Y)
    ok = res.status == SUCCESS
    # every pair not within 0.1 of antipodal is certified (closer ones may be, see the near-antipodal test)
    assert np.all(ok | (exact > np.pi - 0.1)), res.reasons
    np.testing.assert_allclose(res.distances[ok], exact[ok], rtol=1e-7, atol=1e-8)
    assert np.all(res.upper_bounds >= exact - 1e-8)
    d = np.where(ok, res.distances, res.upper_bounds)  # upper bounds stand in for uncertified pairs
    ab, ba, ac, bc, ca = d
    if ok[0] and ok[1]:
        assert abs(ab - ba) <= 1e-8
    if ok[2] and ok[4]:
        assert abs(ac - ca) <= 1e-8
    if ok[2]:
        assert ac <= ab + bc + 1e-8


# --------------------------------------------------------------------------- the Gaussian near sigma = 0

BOUNDARY_A = [[0.0, 1e-3], [0.0, 1e-3], [0.0, 1e-3], [2.0, 1e-3], [0.0, 1e-4], [5.0, 1e-5], [0.0, 1e-2]]
BOUNDARY_B = [[0.0, 1.0], [1.0, 1.0], [0.5, 2.0], [-1.0, 1.0], [3.0, 1.0], [-5.0, 10.0], [0.0, 1.1e-2]]


@pytest.mark.parametrize("reverse", [False, True], ids=["from-near-zero", "to-near-zero"])
def test_fisher_rao_near_the_boundary(gauss, reverse):
    A, B = np.array(BOUNDARY_A), np.array(BOUNDARY_B)
    if reverse:
        A, B = B, A
    d = distance(gauss, A, B)
    np.testing.assert_allclose(d, fisher_rao(A, B), rtol=1e-9)
    v = log_map(gauss, A, B)
    np.testing.assert_allclose(exp_map(gauss, A, v, rtol=1e-12, atol=1e-16), B, rtol=1e-8, atol=1e-10)


def test_fisher_rao_of_the_family_and_the_variance_chart():
    a, b = np.array([0.3, 1e-3]), np.array([-0.4, 1.0])
    expected = fisher_rao(a, b)
    g = fisher_metric(families.normal())
    res = distance(g, a, b, full_output=True)
    assert res.status == SUCCESS and "Fisher-Rao" in res.reasons
    assert res.distances == pytest.approx(expected, rel=1e-9)
    variance = families.atlas("normal").closed_form("variance")
    to_var = np.array([[a[0], a[1] ** 2], [b[0], b[1] ** 2]])
    assert distance(variance, to_var[0], to_var[1]) == pytest.approx(expected, rel=1e-8)


def test_far_apart_along_the_boundary(gauss):
    # Both sigma = 1e-3, mu 6 apart: the segment (length 6 / 1e-3) is 250 times the distance, every shot along it
    # dives into sigma = 0; the start straight up in sigma and the homotopy in the target from where it lands
    # find the half-circle. The upper bound is never below the closed form.
    A = np.array([[-3.0, 1e-3], [3.0, 1e-3], [-1.0, 1e-4]])
    B = np.array([[3.0, 1e-3], [-3.0, 1e-3], [1.0, 2e-4]])
    res = distance(gauss, A, B, full_output=True)
    assert res.summary() == {"SUCCESS": 3}
    np.testing.assert_allclose(res.distances, fisher_rao(A, B), rtol=1e-9)
    assert np.all(res.upper_bounds >= fisher_rao(A, B) * (1 - 1e-9))
    assert res.upper_bounds[0] <= 6 / 1e-3


def test_segment_lengths_by_quadrature(gauss):
    from riemgrad.flows._certify import segment_lengths
    from riemgrad.kernels import geodesic_field

    A = np.array([[0.0, 1e-3], [1.0, 0.5], [0.0, 1e-5]])
    B = np.array([[0.0, 1.0], [3.0, 0.5], [0.0, 10.0]])
    cum = segment_lengths(geodesic_field(gauss), A, B)
    assert cum.shape == (3, 17)
    expected = [np.sqrt(2) * np.log(1e3), 2 / 0.5, np.sqrt(2) * np.log(1e6)]
    np.testing.assert_allclose(cum[:, -1], expected, rtol=1e-10)
    # cumulative along the vertical segment: sqrt(2) log(sigma(s) / sigma(0)) at s = k / 16
    s = np.arange(17) / 16
    np.testing.assert_allclose(cum[0], np.sqrt(2) * np.log((1e-3 + s * (1 - 1e-3)) / 1e-3), rtol=1e-10, atol=1e-14)


def test_one_failed_pair_in_a_gaussian_batch(gauss):
    # the second pair asks for one Newton iteration from a far start: it cannot converge, the first keeps its value
    A = np.array([[0.0, 1.0], [0.0, 1e-3]])
    B = np.array([[0.0, 1.0 + 1e-12], [1.0, 1.0]])
    res = distance(gauss, A, B, max_iter=1, full_output=True)
    assert res.status.tolist() == [SUCCESS, UNKNOWN]
    assert res.distances[0] == pytest.approx(np.sqrt(2) * np.log1p(1e-12), rel=1e-6)
    assert res.upper_bounds[1] >= fisher_rao(A[1], B[1]) * (1 - 1e-9)
    assert "no geodesic found" in res.reasons[1] and "1 Newton iterations" in res.reasons[1]


# --------------------------------------------------------------------------- what is certified, and how


def test_known_geometry_of_the_catalogues():
    assert spaces.known_geometry(spaces.sphere(2)).injectivity_radius == pytest.approx(2 * np.pi)
    assert spaces.known_geometry(spaces.sphere()).periods == (None, 2 * np.pi)
    assert spaces.known_geometry(spaces.poincare_half_plane()).injectivity_radius == math.inf
    assert spaces.known_geometry(spaces.poincare_disk()).injectivity_radius == math.inf
    assert spaces.known_geometry(spaces.euclidean(3)).injectivity_radius == math.inf
    assert spaces.known_geometry(spaces.polar_plane()).periods == (None, 2 * np.pi)
    torus = spaces.known_geometry(spaces.torus(3, 1))
    assert torus.injectivity_radius is None and torus.periods == (2 * np.pi, 2 * np.pi)
    for chart in ("sigma", "variance", "log_sigma"):
        g = families.atlas("normal").closed_form(chart)
        assert spaces.known_geometry(g).injectivity_radius == math.inf
    assert spaces.known_geometry(fisher_metric(families.normal())).injectivity_radius == math.inf
    a = sp.Symbol("a", positive=True)
    assert spaces.known_geometry(spaces.sphere(a)) is None  # symbolic radius: no number
    x, y = sp.symbols("u w", real=True)
    assert spaces.known_geometry(Metric(Chart("c", (x, y)), sp.diag(1, 1 + x**2))) is None


def test_torus_distances_are_not_certified_without_a_radius():
    torus = spaces.torus()
    res = distance(torus, [0.3, 0.1], [0.5, 0.4], full_output=True)
    assert res.status == UNKNOWN and np.isfinite(res.distances)
    assert "injectivity_radius" in res.reasons
    assert res.upper_bounds <= res.distances * (1 + 1e-12)


def test_non_constant_curvature_without_knowledge_is_unknown():
    x, y = sp.Symbol("x", real=True), sp.Symbol("y", real=True)
    g = Metric(Chart("bump", (x, y)), sp.diag(1, 1 + x**2))  # K = -1 / (1 + x^2)^2, not constant
    res = distance(g, [0.0, 0.0], [1.0, 1.0], full_output=True)
    assert res.status == UNKNOWN and "not constant" in res.reasons
    # the straight segment (x, y) = (s, s): length int_0^1 sqrt(2 + s^2) ds, an upper bound
    seg = np.sqrt(3) / 2 + np.log((1 + np.sqrt(3)) / np.sqrt(2))
    assert res.upper_bounds <= seg + 1e-9
    # complete with K < 0 (Hadamard): the user may say so, and the same geodesic is certified
    d = distance(g, [0.0, 0.0], [1.0, 1.0], injectivity_radius=math.inf)
    assert d == pytest.approx(float(res.distances), rel=1e-12)


def test_flat_and_hyperbolic_hand_written_metrics_are_certified():
    x, y = sp.Symbol("x", real=True), sp.Symbol("y", positive=True)
    half = Metric(Chart("hp", (x, y)), sp.diag(1 / y**2, 1 / y**2))
    A, B = [[0.0, 1.0], [-1.0, 1e-3], [-2.0, 0.01]], [[0.0, 2.0], [0.5, 2.0], [2.0, 0.02]]
    res = distance(half, A, B, full_output=True)
    assert res.summary() == {"SUCCESS": 3} and "constant curvature -1" in res.reasons[0]
    closed = np.arccosh(1 + np.array([1.0, 2.25 + 1.999**2, 16.0001]) / (2 * np.array([2.0, 2e-3, 2e-4])))
    np.testing.assert_allclose(res.distances, closed, rtol=1e-8)
    plane = Metric(Chart("xy", (x, sp.Symbol("z", real=True))), sp.Matrix([[2, 1], [1, 1]]))
    res = distance(plane, [0.0, 0.0], [1.0, -1.0], full_output=True)
    assert res.status == SUCCESS and "flat" in res.reasons
    assert res.distances == pytest.approx(1.0)  # (1, -1) G (1, -1)^T = 2 - 2 + 1


def test_one_dimension_is_certified():
    # known mean: g = 2 / sigma^2, d = sqrt(2) |log(sigma2 / sigma1)|
    sigma = sp.Symbol("sigma", positive=True)
    g = Metric(Chart("scale", (sigma,)), sp.Matrix([[2 / sigma**2]]))
    res = distance(g, [[1e-3], [5.0]], [[1.0], [0.2]], full_output=True)
    assert res.summary() == {"SUCCESS": 2} and "one dimension" in res.reasons[0]
    np.testing.assert_allclose(res.distances, np.sqrt(2) * np.abs(np.log([1e3, 0.04])), rtol=1e-9)


def test_log_map_full_output(gauss):
    A, B = np.array([[0.0, 1e-3], [1.0, 2.0]]), np.array([[1.0, 1.0], [1.0, 0.5]])
    res = log_map(gauss, A, B, full_output=True)
    assert isinstance(res, DistanceResult) and res.velocities.shape == (2, 2)
    np.testing.assert_allclose(exp_map(gauss, A, res.velocities, rtol=1e-12, atol=1e-16), B, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(res.distances, fisher_rao(A, B), rtol=1e-9)
    assert "DistanceResult" in repr(res) and "2 success" in res._repr_html_()


def test_empty_batch(sphere):
    assert distance(sphere, np.zeros((0, 2)), np.zeros((0, 2))).shape == (0,)
    assert log_map(sphere, np.zeros((0, 2)), np.zeros((0, 2))).shape == (0, 2)


def test_status_message_names_the_way_out():
    msg = Status.MINIMALITY_UNKNOWN.message
    assert "upper_bounds" in msg and "injectivity_radius" in msg


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tol": 0.0}, "`tol`"),
        ({"tol": True}, "`tol`"),
        ({"max_iter": 0}, "`max_iter`"),
        ({"max_iter": 2.5}, "`max_iter`"),
        ({"injectivity_radius": -1.0}, "`injectivity_radius`"),
        ({"injectivity_radius": "pi"}, "`injectivity_radius`"),
        ({"periods": (2 * np.pi,)}, "`periods`"),
        ({"periods": (None, -1.0)}, "`periods`"),
        ({"periods": (None, "x")}, "`periods`"),
    ],
)
def test_settings_are_checked(sphere, kwargs, match):
    with pytest.raises(SolverSettingsError, match=match):
        distance(sphere, [1.0, 0.0], [1.2, 0.1], **kwargs)


def test_no_warning_when_every_pair_is_certified(sphere):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = distance(sphere, [[1.0, 0.3], [2.0, 0.0]], [[1.5, 1.2], [2.5, -3.0]])
    np.testing.assert_allclose(d, great_circle([[1.0, 0.3], [2.0, 0.0]], [[1.5, 1.2], [2.5, -3.0]]), rtol=1e-8)
