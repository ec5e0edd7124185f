"""Tests for Tensor: index strings, index moves, contraction and the transformation law."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riemgrad import Chart, ChartMap, Metric, Tensor
from riemgrad.errors import ArgumentTypeError, ChartMismatchError, IndexPositionError, ShapeError
from _mathtext import assert_mathtext

X, Y, Z = sp.symbols("x y z", real=True)
R = sp.Symbol("r", positive=True)
PHI = sp.Symbol("phi", real=True)
CART = Chart("cartesian", (X, Y))
POLAR = Chart("polar", (R, PHI))
TO_CART = ChartMap(POLAR, CART, (R * sp.cos(PHI), R * sp.sin(PHI)))

# fixed seed (derandomize), few examples, no deadline: symbolic work is slow on a shared machine
SETTINGS = settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------ construction
@pytest.mark.parametrize(
    "indices",
    ["ux", "U", "lu ", "x", ["u"], 1],
    ids=["bad-letter", "uppercase", "space", "single-bad", "list", "int"],
)
def test_bad_index_string(indices):
    with pytest.raises(IndexPositionError, match=r"`indices` must be a string over 'u' .* and 'l'"):
        Tensor(CART, [X, Y], indices)


@pytest.mark.parametrize(
    "components, indices, shape",
    [([X, Y, 1], "u", r"\(3,\)"), ([X, Y], "ul", r"\(2,\)"), ([[X, Y]], "ll", r"\(1, 2\)")],
    ids=["too-long", "rank-too-low", "ragged"],
)
def test_bad_component_shape(components, indices, shape):
    with pytest.raises(ShapeError, match=rf"`components` must have shape .*; got {shape}"):
        Tensor(CART, components, indices)


def test_bad_chart_and_components():
    with pytest.raises(ChartMismatchError, match=r"`chart` must be a Chart"):
        Tensor((X, Y), [X, Y], "u")
    with pytest.raises(TypeError, match=r"`components` must hold SymPy expressions"):
        Tensor(CART, [X, "not valid python"], "u")


def test_basic_properties_and_shapes():
    G = Tensor(CART, [[[X, 0], [0, Y]], [[1, 2], [3, 4]]], "ull")
    assert G.rank == 3 and G.dim == 2 and G.indices == "ull"
    assert G.components.shape == (2, 2, 2)
    assert isinstance(G.components, sp.ImmutableDenseNDimArray)
    assert G[1, 1, 0] == 3  # components[k, i, j]
    v = Tensor(CART, sp.Matrix([X, Y]), "u")
    assert v.components.shape == (2,)
    s = Tensor(CART, X * Y, "")
    assert s.rank == 0 and s.components[()] == X * Y
    assert G.free_symbols == {X, Y}


def test_immutability():
    v = Tensor(CART, [X, Y], "u")
    with pytest.raises(AttributeError, match=r"immutable"):
        v.indices = "l"
    with pytest.raises(TypeError):
        v.components[0] = 1
    assert v.components[0] == X


def test_equality_hash_equals_subs_simplify():
    t = sp.Symbol("t")
    c = Chart("c", (t,))
    a = Tensor(c, [sp.sin(t) ** 2], "l")
    b = Tensor(c, [1 - sp.cos(t) ** 2], "l")
    assert a != b and a.equals(b)
    assert not a.equals(Tensor(c, [1 - sp.cos(t) ** 2], "u"))
    assert a == Tensor(c, [sp.sin(t) ** 2], "l") and hash(a) == hash(Tensor(c, [sp.sin(t) ** 2], "l"))
    assert a.subs(t, 0).components[0] == 0
    assert Tensor(c, [(t**2 - 1) / (t - 1)], "u").simplify().components[0] == t + 1
    seen = []
    Tensor(c, [t], "u").simplify(lambda e: seen.append(e) or e)
    assert seen == [t]


# ----------------------------------------------------------- index moves
def test_raise_index_already_up():
    g = Metric(CART, [[2, 1], [1, 3]])
    with pytest.raises(
        IndexPositionError, match=r"cannot raise index 0 of a tensor with indices 'u': it is already up"
    ):
        Tensor(CART, [X, Y], "u").raise_index(0, g)
    with pytest.raises(
        IndexPositionError, match=r"cannot lower index 1 of a tensor with indices 'ul': it is already down"
    ):
        Tensor(CART, [[X, Y], [1, 2]], "ul").lower_index(1, g)
    with pytest.raises(IndexPositionError, match=r"`pos` must be an index position 0\.\.0"):
        Tensor(CART, [X, Y], "l").raise_index(1, g)


def test_index_move_chart_mismatch():
    g = Metric(Chart("other", (X, Y)), [[2, 1], [1, 3]])
    with pytest.raises(ChartMismatchError, match=r"`metric` lives on chart 'other'"):
        Tensor(CART, [X, Y], "l").raise_index(0, g)


def test_raise_and_lower_by_hand():
    # g = [[2, 1], [1, 3]], g^-1 = [[3, -1], [-1, 2]] / 5
    g = Metric(CART, [[2, 1], [1, 3]])
    w = Tensor(CART, [1, 0], "l").raise_index(0, g)
    assert w.indices == "u" and list(w.components) == [sp.Rational(3, 5), sp.Rational(-1, 5)]
    v = Tensor(CART, [X, Y], "u").lower_index(0, g)
    assert v.indices == "l" and list(v.components) == [2 * X + Y, X + 3 * Y]
    # negative positions count from the right; only the chosen index moves
    T = Tensor(CART, [[1, 0], [0, 0]], "ll").raise_index(-1, g)
    assert T.indices == "lu"
    assert T.components.tolist() == [[sp.Rational(3, 5), sp.Rational(-1, 5)], [0, 0]]


def test_raising_both_indices_of_metric_gives_inverse():
    g = Metric(POLAR, sp.diag(1, R**2))
    up = Tensor(POLAR, g.components, "ll").raise_index(0, g).raise_index(1, g)
    assert up.indices == "uu"
    assert up.components.tolist() == [[1, 0], [0, 1 / R**2]]
    mixed = Tensor(POLAR, g.components, "ll").raise_index(0, g)
    assert mixed.components.tolist() == [[1, 0], [0, 1]]  # g^a_b = delta


@st.composite
def constant_spd(draw, n):
    A = sp.Matrix(n, n, draw(st.lists(st.integers(-3, 3), min_size=n * n, max_size=n * n)))
    return A * A.T + sp.eye(n)


@SETTINGS
@given(
    data=st.data(),
    n=st.integers(2, 3),
)
def test_raise_then_lower_is_identity_constant_metric(data, n):
    chart = Chart("c", (X, Y, Z)[:n])
    G = data.draw(constant_spd(n))
    g = Metric(chart, G)
    comps = data.draw(st.lists(st.integers(-9, 9), min_size=n, max_size=n))
    w = Tensor(chart, comps, "l")
    v = Tensor(chart, comps, "u")
    assert w.raise_index(0, g).lower_index(0, g) == w
    assert v.lower_index(0, g).raise_index(0, g) == v
    # and it agrees with the matrix computation G^-1 w
    assert list(w.raise_index(0, g).components) == list(G.inv() * sp.Matrix(comps))


@SETTINGS
@given(
    coeffs=st.lists(st.integers(1, 5), min_size=2, max_size=2),
    comps=st.lists(st.tuples(st.integers(-4, 4), st.integers(-4, 4), st.integers(0, 2)), min_size=2, max_size=2),
)
def test_raise_then_lower_is_identity_polynomial_diagonal_metric(coeffs, comps):
    g = Metric(CART, sp.diag(1 + coeffs[0] * X**2, 2 + coeffs[1] * Y**4 + X**2))
    # components: small polynomials a + b x^k y
    cs = [a + b * X**k * Y for a, b, k in comps]
    w = Tensor(CART, cs, "l")
    v = Tensor(CART, cs, "u")
    assert w.raise_index(0, g).lower_index(0, g).equals(w)
    assert v.lower_index(0, g).raise_index(0, g).equals(v)
    # sharp(w)^i = w_i / g_ii for a diagonal metric
    up = w.raise_index(0, g)
    for i in range(2):
        assert sp.cancel(up[i] - cs[i] / g.matrix[i, i]) == 0


# ------------------------------------------------------------ contraction
def test_contraction_trace():
    t = Tensor(CART, [[X, 1], [2, Y]], "ul")
    s = t.contract(0, 1)
    assert s.indices == "" and s.components[()] == X + Y
    assert Tensor(CART, [[X, 1], [2, Y]], "lu").contract(1, 0).components[()] == X + Y


def test_contraction_rank3():
    # C^k_ij contracted over k and j gives v_i = sum_k C^k_ik
    comps = [[[X, 1], [2, Y]], [[3, 5], [7, X * Y]]]
    v = Tensor(CART, comps, "ull").contract(0, 2)
    assert v.indices == "l"
    assert list(v.components) == [X + 5, 2 + X * Y]
    u = Tensor(CART, comps, "ull").contract(0, 1)
    assert list(u.components) == [X + 7, 1 + X * Y]


@pytest.mark.parametrize(
    "indices, i, j, match",
    [
        ("uu", 0, 1, r"can only contract one upper with one lower index; positions 0 and 1 of 'uu'"),
        ("ul", 0, 0, r"can only contract one upper with one lower index"),
        ("ul", 0, 2, r"`i`, `j` must be index positions 0\.\.1"),
    ],
    ids=["two-upper", "same-index", "out-of-range"],
)
def test_contraction_errors(indices, i, j, match):
    with pytest.raises(IndexPositionError, match=match):
        Tensor(CART, [[X, 1], [2, Y]], indices).contract(i, j)


# ----------------------------------------------------- transformation law
def test_vector_field_pullback_rotation():
    # the rotation field -y d/dx + x d/dy is d/dphi in polar coordinates (by hand)
    v = Tensor(CART, [-Y, X], "u").pullback(TO_CART)
    assert v.chart == POLAR and v.indices == "u"
    assert list(v.components) == [0, 1]
    # the radial field x d/dx + y d/dy is r d/dr
    assert list(Tensor(CART, [X, Y], "u").pullback(TO_CART).components) == [R, 0]


def test_covector_pullback_dx():
    # dx = cos(phi) dr - r sin(phi) dphi
    w = Tensor(CART, [1, 0], "l").pullback(TO_CART)
    assert list(w.components) == [sp.cos(PHI), -R * sp.sin(PHI)]
    # d(x^2 + y^2)/2 = x dx + y dy = r dr
    assert list(Tensor(CART, [X, Y], "l").pullback(TO_CART).components) == [R, 0]


def test_scalar_pullback_is_composition():
    s = Tensor(CART, X**2 + Y**2, "").pullback(TO_CART)
    assert s.chart == POLAR and s.components[()] == R**2


def test_metric_as_tensor_pullback():
    g = Tensor(CART, [[1, 0], [0, 1]], "ll").pullback(TO_CART)
    assert g.components.tolist() == [[1, 0], [0, R**2]]


def _numeric(expr_array, subs):
    return np.array(sp.Matrix(sp.Array(expr_array).tolist()).subs(subs).evalf(), dtype=float)


@pytest.mark.parametrize("indices", ["ll", "ul", "lu", "uu"])
def test_rank2_transformation_law_matches_matrix_form(indices):
    # T' = A^T T B with A, B = J (lower) or J^-1^T (upper), checked numerically
    T = Tensor(CART, [[X, Y], [1, X * Y]], indices)
    Tp = T.pullback(TO_CART)
    J = TO_CART.jacobian()
    Jinv = J.inv()
    mats = {"l": J, "u": Jinv.T}
    T_at = sp.Matrix(T.components.tolist()).xreplace(dict(zip((X, Y), TO_CART.forward)))
    expected = mats[indices[0]].T * T_at * mats[indices[1]]
    for pt in [{R: 1.3, PHI: 0.4}, {R: 0.7, PHI: -2.1}]:
        np.testing.assert_allclose(_numeric(Tp.components, pt), _numeric(expected, pt), rtol=1e-12, atol=1e-12)


def test_pushforward_law_for_vectors():
    # J v' = v(phi(x)) for a pulled-back vector field
    v = Tensor(CART, [X**2 - Y, X * Y + 1], "u")
    vp = v.pullback(TO_CART)
    lhs = TO_CART.jacobian() * sp.Matrix(list(vp.components))
    rhs = sp.Matrix(list(v.components)).xreplace(dict(zip((X, Y), TO_CART.forward)))
    assert sp.simplify(lhs - rhs) == sp.zeros(2, 1)


def test_trace_is_invariant_under_pullback():
    T = Tensor(CART, [[X, Y**2], [X - Y, 3]], "ul")
    lhs = T.pullback(TO_CART).contract(0, 1).components[()]
    rhs = T.contract(0, 1).pullback(TO_CART).components[()]
    assert sp.simplify(lhs - rhs) == 0


def test_covector_pullback_along_embedding():
    # x dx + y dy = d(r^2/2) restricted to the unit circle vanishes
    th = sp.Symbol("theta", positive=True)
    emb = ChartMap(Chart("circle", (th,)), CART, (sp.cos(th), sp.sin(th)))
    assert list(Tensor(CART, [X, Y], "l").pullback(emb).components) == [0]
    assert list(Tensor(CART, [-Y, X], "l").pullback(emb).components) == [1]
    with pytest.raises(ShapeError, match=r"upper indices 'u' cannot be pulled back along 'circle' -> 'cartesian'"):
        Tensor(CART, [X, Y], "u").pullback(emb)


def test_pullback_chart_mismatch():
    with pytest.raises(ChartMismatchError, match=r"its chart must be chart_map.target"):
        Tensor(POLAR, [1, 0], "u").pullback(TO_CART)
    with pytest.raises(ChartMismatchError, match=r"`chart_map` must be a ChartMap"):
        Tensor(CART, [1, 0], "u").pullback("polar")


def test_in_chart_sigma_to_variance():
    s, v = sp.symbols("sigma variance", positive=True)
    m = ChartMap(Chart("sigma", (s,)), Chart("variance", (v,)), (s**2,))
    # d/dsigma = (dv/dsigma) d/dv = 2 sigma d/dv = 2 sqrt(v) d/dv
    assert list(Tensor(m.source, [1], "u").in_chart(m).components) == [2 * sp.sqrt(v)]
    # dsigma = dv / (2 sqrt(v))
    assert list(Tensor(m.source, [1], "l").in_chart(m).components) == [1 / (2 * sp.sqrt(v))]
    with pytest.raises(ChartMismatchError, match=r"its chart must be chart_map.source"):
        Tensor(m.target, [1], "u").in_chart(m)


def test_in_chart_round_trip_numerically():
    v = Tensor(POLAR, [R, 1], "u")  # r d/dr + d/dphi
    vc = v.in_chart(TO_CART)
    # by hand: r d/dr = x d/dx + y d/dy, d/dphi = -y d/dx + x d/dy
    for x0, y0 in [(0.3, 1.2), (-1.5, 0.4), (2.0, -0.7)]:
        got = [float(c.subs({X: x0, Y: y0})) for c in vc.components]
        np.testing.assert_allclose(got, [x0 - y0, y0 + x0], rtol=1e-12)


# ------------------------------------------------------------------ display
def test_repr_latex_shows_components():
    t = Tensor(CART, [[X**2, 0], [0, sp.sqrt(Y)]], "ul")
    latex = t._repr_latex_()
    assert latex.startswith("$") and latex.endswith("$")
    assert "x^{2}" in latex and r"\sqrt{y}" in latex
    assert "T^{x}{}_{x}" in latex and "T^{y}{}_{y}" in latex
    assert "T &= 0" in Tensor(CART, [0, 0], "u")._repr_latex_()
    assert "x y" in Tensor(CART, X * Y, "")._repr_latex_()
    assert "indices='ul'" in repr(t)


def test_components_order_is_row_major():
    comps = [[[100 * k + 10 * i + j for j in range(2)] for i in range(2)] for k in range(2)]
    t = Tensor(CART, comps, "ull")
    for k, i, j in itertools.product(range(2), repeat=3):
        assert t[k, i, j] == 100 * k + 10 * i + j


def test_mixed_index_orders_render_differently_and_in_order():
    comps = [[[0] * 2 for _ in range(2)] for _ in range(2)]
    comps[0][1][0] = X  # components[a, b, c] with (a, b, c) = (x, y, x)
    lul = Tensor(CART, comps, "lul")._repr_latex_()
    ull = Tensor(CART, comps, "ull")._repr_latex_()
    assert "T_{x}{}^{y}{}_{x} &= x" in lul
    assert "T^{x}{}_{yx} &= x" in ull
    assert lul != ull
    assert_mathtext(lul)
    assert_mathtext(ull)


def test_tensor_symbol_and_name_are_kept_and_display_only():
    g = Metric(POLAR, sp.diag(1, R**2))
    v = Tensor(POLAR, [0, 1], "l", symbol=r"\omega", name="one-form")
    up = v.raise_index(0, g)
    assert (up.symbol, up.name) == (r"\omega", "one-form")
    assert r"\omega^{\phi} &= \frac{1}{r^{2}}" in up._repr_latex_()
    assert v == Tensor(POLAR, [0, 1], "l")
    with pytest.raises(ArgumentTypeError, match="`symbol`"):
        Tensor(POLAR, [0, 1], "l", symbol="")


def test_curvature_tensors_carry_their_symbols():
    th = sp.Symbol("theta", positive=True)
    ph = sp.Symbol("phi", real=True)
    g = Metric(Chart("sphere", (th, ph)), sp.diag(1, sp.sin(th) ** 2))
    symbols = (g.symbol, g.christoffel().symbol, g.riemann().symbol, g.ricci().symbol)
    assert symbols == ("g", r"\Gamma", "R", r"\mathrm{Ric}")
    assert g.inverse.symbol == "g" and g.christoffel().name == "Christoffel symbols"
    gamma = g.christoffel()._repr_latex_()
    # Gamma^theta_phi,phi = -sin cos, by hand
    assert r"\Gamma^{\theta}{}_{\phi\phi} &= - \sin{\left(\theta \right)} \cos{\left(\theta \right)}" in gamma
    assert "T^" not in gamma
    riemann = g.riemann()._repr_latex_()
    assert r"R^{\theta}{}_{\phi\theta\phi}" in riemann
    for t in (g.christoffel(), g.riemann(), g.ricci(), g.inverse):
        assert_mathtext(t._repr_latex_())
