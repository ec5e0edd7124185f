"""Tests for Manifold, Chart and ChartMap: validation, Jacobians, inverses, composition, evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from riemgrad import Chart, ChartMap, Manifold
from riemgrad.errors import (
    ChartMismatchError,
    CoordinateError,
    InverseMapError,
    RiemgradError,
    ShapeError,
)

MU, TAU, X, Y, Z = sp.symbols("mu tau x y z", real=True)
SIGMA, VAR, R = sp.symbols("sigma variance r", positive=True)
PHI = sp.Symbol("phi", real=True)


@pytest.fixture
def polar_to_cart() -> ChartMap:
    return ChartMap(Chart("polar", (R, PHI)), Chart("cartesian", (X, Y)), (R * sp.cos(PHI), R * sp.sin(PHI)))


@pytest.fixture
def log_sigma_to_sigma() -> ChartMap:
    return ChartMap(Chart("log_sigma", (MU, TAU)), Chart("sigma", (MU, SIGMA)), (MU, sp.exp(TAU)))


# ----------------------------------------------------------------- Manifold
@pytest.mark.parametrize("dim", [0, -1, 1.5, "2", True], ids=["zero", "negative", "float", "str", "bool"])
def test_manifold_rejects_bad_dim(dim):
    with pytest.raises(ShapeError, match=r"`dim` must be a positive integer"):
        Manifold("M", dim)


def test_manifold_equality_and_repr():
    assert Manifold("M", 2) == Manifold("M", 2)
    assert Manifold("M", 2) != Manifold("M", 3)
    assert hash(Manifold("M", 2)) == hash(Manifold("M", 2))
    assert repr(Manifold("M", 2)) == "Manifold('M', 2)"


# -------------------------------------------------------------------- Chart
@pytest.mark.parametrize(
    "coords, match",
    [
        ((X, "y"), r"`coords` must hold SymPy Symbols; got 'y' of type str"),
        ((X, 2 * Y), r"`coords` must hold SymPy Symbols; got 2\*y of type Mul"),
        ((X, 1), r"`coords` must hold SymPy Symbols; got 1 of type int"),
        ((), r"`coords` must hold at least one SymPy Symbol"),
        (5, r"`coords` must be a sequence of SymPy Symbols; got 5"),
        ((X, Y, X), r"`coords` must be distinct; x appears 2 times"),
    ],
    ids=["string", "expression", "int", "empty", "not-a-sequence", "duplicate"],
)
def test_chart_rejects_bad_coords(coords, match):
    with pytest.raises(CoordinateError, match=match):
        Chart("bad", coords)


def test_chart_errors_are_riemgrad_and_builtin():
    with pytest.raises(RiemgradError):
        Chart("bad", (X, X))
    with pytest.raises(TypeError):  # CoordinateError refines TypeError
        Chart("bad", (X, X))


def test_chart_manifold_dimension_mismatch():
    with pytest.raises(ShapeError, match=r"`manifold` has dimension 3 but `coords` has 2 symbols"):
        Chart("c", (X, Y), manifold=Manifold("R3", 3))


def test_chart_basic_properties():
    chart = Chart("sigma", (MU, SIGMA))
    assert chart.coords == (MU, SIGMA)
    assert chart.dim == 2
    assert chart.manifold == Manifold("sigma", 2)
    assert chart.domain == {MU: "real", SIGMA: "positive"}
    assert Chart("one", X).coords == (X,)  # a single symbol is accepted
    neg = sp.Symbol("n", negative=True)
    c = sp.Symbol("c")
    assert Chart("c", (neg, c)).domain == {neg: "negative", c: "complex"}


def test_chart_may_share_symbols_and_equality_uses_name_and_coords():
    a, b = Chart("sigma", (MU, SIGMA)), Chart("log_sigma", (MU, TAU))
    assert a != b
    assert a == Chart("sigma", (MU, SIGMA))
    assert hash(a) == hash(Chart("sigma", (MU, SIGMA)))
    assert a != Chart("other", (MU, SIGMA))


def test_chart_in_domain():
    chart = Chart("c", (MU, SIGMA, sp.Symbol("n", negative=True)))
    pts = np.array([[0.0, 1.0, -1.0], [0.0, 0.0, -1.0], [np.nan, 1.0, -1.0], [5.0, 2.0, 1.0]])
    assert chart.in_domain(pts).tolist() == [True, False, False, False]
    assert chart.in_domain(np.zeros((4, 5, 3))).shape == (4, 5)
    with pytest.raises(ShapeError, match=r"`points` must have shape \(\.\.\., 3\)"):
        chart.in_domain(np.zeros((4, 2)))


def test_chart_index():
    chart = Chart("polar", (R, PHI))
    assert chart.index(PHI) == chart.index("phi") == chart.index(1) == 1
    with pytest.raises(CoordinateError, match=r"`coord` 'theta' is not a coordinate of chart 'polar'"):
        chart.index("theta")
    with pytest.raises(CoordinateError, match=r"is not a coordinate"):
        chart.index(2)


# ----------------------------------------------------------------- ChartMap
def test_chartmap_wrong_forward_length():
    with pytest.raises(ShapeError, match=r"`forward` must give 2 expressions.*got 1"):
        ChartMap(Chart("polar", (R, PHI)), Chart("cartesian", (X, Y)), (R,))


def test_chartmap_forward_in_target_coords():
    with pytest.raises(
        CoordinateError, match=r"`forward` must be written in the coordinates of chart 'polar'.*\['x'\]"
    ):
        ChartMap(Chart("polar", (R, PHI)), Chart("cartesian", (X, Y)), (X, R * sp.sin(PHI)))


def test_chartmap_inverse_in_source_coords():
    with pytest.raises(CoordinateError, match=r"`inverse` must be written in the coordinates of chart 'sigma'"):
        ChartMap(Chart("log_sigma", (MU, TAU)), Chart("sigma", (MU, SIGMA)), (MU, sp.exp(TAU)), inverse=(MU, TAU))


def test_chartmap_inverse_wrong_length():
    with pytest.raises(ShapeError, match=r"`inverse` must give 2 expressions"):
        ChartMap(Chart("log_sigma", (MU, TAU)), Chart("sigma", (MU, SIGMA)), (MU, sp.exp(TAU)), inverse=(MU,))


def test_chartmap_inverse_given_for_embedding():
    th = sp.Symbol("theta", positive=True)
    with pytest.raises(ShapeError, match=r"changes dimension \(1 -> 2\), so it has no inverse"):
        ChartMap(Chart("circle", (th,)), Chart("cartesian", (X, Y)), (sp.cos(th), sp.sin(th)), inverse=(X,))


def test_chartmap_rejects_non_charts_and_non_expressions():
    with pytest.raises(CoordinateError, match=r"`source` and `target` must be Chart objects"):
        ChartMap((X,), Chart("c", (Y,)), (X,))
    with pytest.raises(TypeError, match=r"`forward` must hold SymPy expressions"):
        ChartMap(Chart("a", (X,)), Chart("b", (Y,)), (object(),))


def test_jacobian_polar(polar_to_cart):
    # by hand: d(r cos phi, r sin phi)/d(r, phi)
    expected = sp.Matrix([[sp.cos(PHI), -R * sp.sin(PHI)], [sp.sin(PHI), R * sp.cos(PHI)]])
    J = polar_to_cart.jacobian()
    assert isinstance(J, sp.ImmutableMatrix)
    assert J == expected
    assert sp.simplify(J.det() - R) == 0


def test_jacobian_of_embedding_is_rectangular():
    th = sp.Symbol("theta", positive=True)
    emb = ChartMap(
        Chart("sphere", (th, PHI)),
        Chart("R3", (X, Y, Z)),
        (sp.sin(th) * sp.cos(PHI), sp.sin(th) * sp.sin(PHI), sp.cos(th)),
    )
    J = emb.jacobian()
    assert J.shape == (3, 2)
    assert J[2, :] == sp.Matrix([[-sp.sin(th), 0]])
    with pytest.raises(InverseMapError, match=r"changes dimension \(2 -> 3\) and has no inverse"):
        emb.inverse()


def test_inverse_solved_log_sigma(log_sigma_to_sigma):
    inv = log_sigma_to_sigma.inverse()
    assert inv.source == log_sigma_to_sigma.target
    assert inv.target == log_sigma_to_sigma.source
    assert inv.forward == (MU, sp.log(SIGMA))
    assert inv.jacobian() == sp.Matrix([[1, 0], [0, 1 / SIGMA]])
    # the inverse of the inverse is the original map
    assert inv.inverse().forward == (MU, sp.exp(TAU))


def test_inverse_solved_sigma_to_variance_keeps_positive_branch():
    m = ChartMap(Chart("sigma", (SIGMA,)), Chart("variance", (VAR,)), (SIGMA**2,))
    assert m.inverse().forward == (sp.sqrt(VAR),)


def test_inverse_solved_polar(polar_to_cart):
    inv = polar_to_cart.inverse()
    assert sp.simplify(inv.forward[0] - sp.sqrt(X**2 + Y**2)) == 0
    # the angle: check numerically against atan2 on points off the negative x-axis
    rng = np.random.default_rng(0)
    pts = rng.uniform(-3, 3, size=(50, 2))
    got = inv(pts)
    np.testing.assert_allclose(got[:, 0], np.hypot(pts[:, 0], pts[:, 1]), rtol=1e-12)
    np.testing.assert_allclose(got[:, 1], np.arctan2(pts[:, 1], pts[:, 0]), rtol=1e-10, atol=1e-12)
    # round trip polar -> cartesian -> polar
    polar_pts = np.column_stack([rng.uniform(0.1, 3, 20), rng.uniform(-3, 3, 20)])
    np.testing.assert_allclose(inv(polar_to_cart(polar_pts)), polar_pts, rtol=1e-10)


def test_inverse_given_is_used_without_solving():
    m = ChartMap(Chart("a", (X,)), Chart("b", (Y,)), (X**3 + X,), inverse=(sp.Symbol("secret") * Y,))
    assert m.inverse().forward == (sp.Symbol("secret") * Y,)


def test_inverse_solved_discards_complex_branches():
    # x -> x^3 + x is a bijection of the real line; solve() also returns two complex cube-root branches
    m = ChartMap(Chart("a", (X,)), Chart("b", (Y,)), (X**3 + X,))
    inv = m.inverse()
    xs = np.linspace(-2, 2, 9)[:, None]
    np.testing.assert_allclose(inv(m(xs)), xs, atol=1e-12)


def test_inverse_ambiguous_branches():
    m = ChartMap(Chart("a", (X,)), Chart("b", (Y,)), (X**2,))
    with pytest.raises(InverseMapError, match=r"leaves 2 branches.*pass `inverse=` explicitly"):
        m.inverse()


def test_inverse_unsolvable():
    m = ChartMap(Chart("a", (X,)), Chart("b", (Y,)), (X + sp.exp(X) + sp.sin(X),))
    with pytest.raises(InverseMapError, match=r"Pass `inverse=` to ChartMap explicitly"):
        m.inverse()


def test_compose_one_dimensional():
    a = ChartMap(Chart("log_sigma", (TAU,)), Chart("sigma", (SIGMA,)), (sp.exp(TAU),))
    b = ChartMap(Chart("sigma", (SIGMA,)), Chart("variance", (VAR,)), (SIGMA**2,))
    ba = b.compose(a)
    assert ba.source == a.source and ba.target == b.target
    assert ba.forward == (sp.exp(2 * TAU),)
    # chain rule: d variance / d tau = 2 exp(2 tau)
    assert ba.jacobian() == sp.Matrix([[2 * sp.exp(2 * TAU)]])
    assert sp.simplify(ba.inverse().forward[0] - sp.log(VAR) / 2) == 0


def test_compose_carries_given_inverses(polar_to_cart):
    u, v = sp.symbols("u v", real=True)
    scale = ChartMap(polar_to_cart.target, Chart("scaled", (u, v)), (2 * X, 3 * Y), inverse=(u / 2, v / 3))
    back = ChartMap(
        polar_to_cart.source,
        polar_to_cart.target,
        polar_to_cart.forward,
        inverse=(sp.sqrt(X**2 + Y**2), sp.atan2(Y, X)),
    )
    comp = scale.compose(back)
    assert comp.forward == (2 * R * sp.cos(PHI), 3 * R * sp.sin(PHI))
    inv = comp.inverse().forward
    assert sp.simplify(inv[0] - sp.sqrt(u**2 / 4 + v**2 / 9)) == 0
    assert inv[1] == sp.atan2(v / 3, u / 2)


def test_compose_chart_mismatch(log_sigma_to_sigma, polar_to_cart):
    with pytest.raises(ChartMismatchError, match=r"`other.target` lives on chart 'cartesian'"):
        log_sigma_to_sigma.compose(polar_to_cart)
    with pytest.raises(ChartMismatchError, match=r"`other` must be a ChartMap"):
        log_sigma_to_sigma.compose("not a map")


@pytest.mark.parametrize(
    "shape", [(2,), (7, 2), (3, 4, 2), (0, 2)], ids=["single", "batch", "nested-batch", "empty-batch"]
)
def test_call_shapes(polar_to_cart, shape):
    rng = np.random.default_rng(1)
    pts = rng.uniform(0.1, 2.0, size=shape)
    out = polar_to_cart(pts)
    assert out.shape == shape
    np.testing.assert_allclose(out[..., 0], pts[..., 0] * np.cos(pts[..., 1]))
    np.testing.assert_allclose(out[..., 1], pts[..., 0] * np.sin(pts[..., 1]))


def test_call_broadcasts_constant_components():
    m = ChartMap(Chart("a", (X, Y)), Chart("b", (MU, SIGMA)), (X, sp.Integer(1)))
    out = m(np.zeros((5, 2)))
    assert out.shape == (5, 2)
    assert out[:, 1].tolist() == [1.0] * 5


def test_call_embedding_changes_last_axis():
    th = sp.Symbol("theta", positive=True)
    emb = ChartMap(
        Chart("sphere", (th, PHI)),
        Chart("R3", (X, Y, Z)),
        (sp.sin(th) * sp.cos(PHI), sp.sin(th) * sp.sin(PHI), sp.cos(th)),
    )
    pts = np.random.default_rng(2).uniform(0.1, 3.0, size=(6, 2))
    out = emb(pts)
    assert out.shape == (6, 3)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0)


def test_call_wrong_shape(polar_to_cart):
    with pytest.raises(
        ShapeError, match=r"`points` must have shape \(\.\.\., 2\) for source chart 'polar'; got \(4, 3\)"
    ):
        polar_to_cart(np.zeros((4, 3)))


def test_call_with_parameters():
    k = sp.Symbol("k", positive=True)
    m = ChartMap(Chart("a", (X,)), Chart("b", (Y,)), (k * X,))
    assert m.parameters == (k,)
    np.testing.assert_allclose(m([[1.0], [2.0]], params={"k": 3}), [[3.0], [6.0]])
    np.testing.assert_allclose(m([[1.0]], params={k: 0.5}), [[0.5]])
    with pytest.raises(CoordinateError, match=r"`params` must give a value for 'k'"):
        m([[1.0]])


@pytest.mark.parametrize("attr", ["name", "coords", "dim_", "manifold"])
def test_chart_is_immutable(attr):
    chart = Chart("c", (X, Y))
    with pytest.raises(AttributeError, match=r"immutable"):
        setattr(chart, attr, 1)
    with pytest.raises(AttributeError, match=r"immutable"):
        del chart.name


def test_manifold_and_chartmap_are_immutable(polar_to_cart):
    with pytest.raises(AttributeError, match=r"immutable"):
        Manifold("M", 2).dim = 3
    with pytest.raises(AttributeError, match=r"immutable"):
        polar_to_cart.forward = (X, Y)
    assert isinstance(polar_to_cart.forward, tuple)
    J = polar_to_cart.jacobian()
    with pytest.raises(TypeError):
        J[0, 0] = 1
    assert polar_to_cart.jacobian()[0, 0] == sp.cos(PHI)


# ------------------------------------------------------------------ display
from riemgrad.symbolic._latex import coordinate_latex, expr_latex  # noqa: E402

from _mathtext import assert_mathtext  # noqa: E402


@pytest.mark.parametrize(
    "name, want",
    [
        ("sigma", r"\sigma"),
        ("Gamma", r"\Gamma"),
        ("lam", r"\lambda"),
        ("log_sigma", r"\log\sigma"),
        ("log_rate", r"\log\mathrm{rate}"),
        ("theta1", r"\theta_{1}"),
        ("s12", r"s_{12}"),
        ("sigma_sq", r"\sigma^{2}"),
        ("variance", r"\mathrm{variance}"),
        ("x_a", r"x_{a}"),
        ("x", "x"),
    ],
)
def test_coordinate_latex_scheme(name: str, want: str) -> None:
    assert coordinate_latex(name) == want
    assert_mathtext(f"${want}$")


def test_compound_names_are_parenthesized_under_powers() -> None:
    t = sp.Symbol("log_sigma", real=True)
    chart = Chart("log_sigma", (MU, t))
    assert chart.latex(t**2) == r"\left(\log\sigma\right)^{2}"
    assert chart.latex(sp.exp(2 * t)) == r"e^{2 \log\sigma}"
    s2 = sp.Symbol("sigma_sq", positive=True)
    assert expr_latex(s2**3, {s2: coordinate_latex("sigma_sq")}) == r"\left(\sigma^{2}\right)^{3}"
    for e in (t**2, sp.exp(2 * t) / (1 + t**2), sp.sqrt(t**2 + MU**2)):
        assert_mathtext(chart.latex(e))


def test_chart_latex_override_by_symbol_or_name() -> None:
    chart = Chart("sigma", (MU, SIGMA), latex={SIGMA: r"\varsigma", "mu": r"m"})
    assert chart.latex_names == {MU: "m", SIGMA: r"\varsigma"}
    assert chart == Chart("sigma", (MU, SIGMA))  # display only
    assert chart.latex(MU / SIGMA) == r"\frac{m}{\varsigma}"
    with pytest.raises(CoordinateError, match="`latex` must map coordinates"):
        Chart("sigma", (MU, SIGMA), latex={"tau": r"\tau"})
    with pytest.raises(CoordinateError, match="`latex`"):
        Chart("sigma", (MU, SIGMA), latex={SIGMA: 3})


def test_chart_repr_latex_shows_coordinates_and_domain() -> None:
    t = sp.Symbol("log_sigma", real=True)
    latex = Chart("log_sigma", (MU, t, SIGMA))._repr_latex_()
    assert r"\mathrm{log\_sigma}" in latex
    assert r"(\mu,\, \log\sigma,\, \sigma)" in latex
    assert r"\mathbb{R} \times \mathbb{R} \times (0, \infty)" in latex
    assert_mathtext(latex)


def test_chart_map_repr_latex_shows_map_and_jacobian(polar_to_cart: ChartMap) -> None:
    latex = polar_to_cart._repr_latex_()
    assert r"\mathrm{polar} \to \mathrm{cartesian}" in latex
    assert r"\left(x,\, y\right) = \left(r \cos{\left(\phi \right)},\, r \sin{\left(\phi \right)}\right)" in latex
    assert r"\frac{\partial(x,\, y)}{\partial(r,\, \phi)}" in latex
    assert r"- r \sin{\left(\phi \right)}" in latex  # J[0, 1], by hand
    assert_mathtext(polar_to_cart._latex_map())
    for entry in polar_to_cart.jacobian():
        assert_mathtext(polar_to_cart.source.latex(entry))


def _catalogue_cases():
    from riemgrad import families

    return [(a, name) for a in families.catalogue() for name in a.chart_names]


@pytest.mark.parametrize("atlas, chart_name", _catalogue_cases(), ids=lambda v: getattr(v, "name", v))
def test_every_catalogue_chart_renders_with_mathtext(atlas, chart_name: str) -> None:
    chart = atlas.chart(chart_name)
    assert_mathtext(chart._repr_latex_())
    assert "_{" not in "".join(chart.latex_names[c] for c in chart.coords if "log" in c.name)  # no log_{sigma}
    assert_mathtext(atlas.closed_form(chart_name)._repr_latex_())
    base = atlas.chart_names[0]
    if chart_name != base:
        assert_mathtext(atlas.map(chart_name, base)._latex_map())


def test_every_catalogue_space_renders_with_mathtext() -> None:
    from riemgrad import spaces

    for name, build in spaces.CATALOGUE.items():
        g = build()
        assert_mathtext(g.chart._repr_latex_())
        assert_mathtext(g._repr_latex_())
        assert_mathtext(g.christoffel()._repr_latex_()), name
