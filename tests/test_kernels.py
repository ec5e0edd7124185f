"""compile_flow: derivation strategies, generated source, numeric kernels, the disk cache."""

import numpy as np
import pytest
import sympy as sp

from riemgrad import Chart, Metric, compile_flow, euclidean_metric, solve_flow
from riemgrad.errors import ChartMismatchError, CompilationError, CoordinateError, ShapeError
from riemgrad.kernels import FlowField, cache_dir
from riemgrad.kernels.codegen import ScalarPrinter, assignments

x, y = sp.symbols("x y", real=True)
mu = sp.Symbol("mu", real=True)
sigma = sp.Symbol("sigma", positive=True)


# ---------------------------------------------------------------- printer
@pytest.mark.parametrize(
    "expr, text",
    [
        (x**2, "(x*x)"),
        (x**-1, "(1.0/x)"),
        (x**-3, "(1.0/(x*x*x))"),
        (sp.sqrt(x), "math.sqrt(x)"),
        (1 / sp.sqrt(x), "1.0/math.sqrt(x)"),
        (sp.exp(2 * x), "math.exp(2.0*x)"),
        (sp.Rational(1, 3), "0.3333333333333333"),
        (sp.Integer(10) ** 30, "1e+30"),
        (x ** sp.Rational(1, 3), "math.pow(x, 0.3333333333333333)"),
    ],
)
def test_printer(expr, text):
    assert ScalarPrinter().doprint(expr) == text


def test_printer_powers_are_exact_products():
    # (x*x) must parenthesize inside a quotient: a / x**2 is not a / x * x
    code = ScalarPrinter().doprint(y / x**2)
    assert eval(code, {"x": 3.0, "y": 18.0}) == 2.0


def test_assignments_share_subexpressions():
    lines = assignments([sp.exp(x) * y, sp.exp(x) + 1], ["a", "b"], {x: "x0", y: "y0"})
    assert sum("math.exp" in ln for ln in lines) == 1


def test_unsupported_function_is_a_compilation_error():
    with pytest.raises(CompilationError, match="cannot generate numeric code"):
        assignments([sp.polygamma(1, x)], ["a"], {x: "x0"})


# ---------------------------------------------------------------- strategies
@pytest.fixture(scope="module")
def gaussian(gaussian_sigma_field):
    return gaussian_sigma_field


def test_diagonal_metric_velocity_is_derived_symbolically(gaussian):
    assert gaussian.strategy == "symbolic"
    # -G^{-1} grad L by hand: G^{-1} = diag(sigma^2, sigma^2 / 2)
    v_mu = -(sigma**2) * (mu - 1) / sigma**2
    v_sigma = -(sigma**2) / 2 * (1 / sigma - (4 + (1 - mu) ** 2) / sigma**3)
    assert sp.simplify(gaussian.velocity_expr[0] - v_mu) == 0
    assert sp.simplify(gaussian.velocity_expr[1] - v_sigma) == 0


def test_velocity_form_keeps_shared_subexpressions(gaussian):
    # (1 - mu) is the first component; the second, written around it, needs one product less
    # than the expanded mu**2 - 2*mu - sigma**2 + 5 (and is still exactly -G^{-1} grad L)
    from riemgrad.kernels.velocity import _numeric_cost
    from riemgrad.symbolic import simplify_expr

    v = gaussian.velocity_expr
    assert v[1].has((1 - mu) ** 2)
    expanded = [simplify_expr(e) for e in v]
    assert _numeric_cost(v) < _numeric_cost(expanded)
    assert sp.cancel(v[1] - expanded[1]) == 0


def test_velocity_form_prefers_one_exponential():
    tau = sp.Symbol("tau", real=True)
    g = Metric(Chart("log_sigma", (mu, tau)), sp.diag(sp.exp(-2 * tau), 2))
    kl = tau + (4 + (1 - mu) ** 2) * sp.exp(-2 * tau) / 2
    field = compile_flow(g, kl)
    v_tau = field.velocity_expr[1]
    # by hand: -(1/2) dL/dtau = ((4 + (1 - mu)^2) exp(-2 tau) - 1) / 2
    assert sp.simplify(v_tau - ((4 + (1 - mu) ** 2) * sp.exp(-2 * tau) - 1) / 2) == 0
    assert len(v_tau.atoms(sp.exp)) == 1


@pytest.mark.nojit
def test_numeric_methods_shapes_and_values(gaussian):
    X = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 0.5]])
    m, s = X[:, 0], X[:, 1]
    S = 4 + (1 - m) ** 2
    np.testing.assert_allclose(gaussian.loss(X), np.log(s / 2) + S / (2 * s**2) - 0.5, rtol=1e-14)
    np.testing.assert_allclose(gaussian.gradient(X), np.column_stack([(m - 1) / s**2, 1 / s - S / s**3]), rtol=1e-14)
    G = gaussian.metric(X)
    assert G.shape == (3, 2, 2)
    np.testing.assert_allclose(G[:, 1, 1], 2 / s**2)
    np.testing.assert_allclose(gaussian.velocity(X), np.column_stack([1 - m, (S - s**2) / (2 * s)]), rtol=1e-14)
    assert gaussian.velocity(X[0]).shape == (2,) and gaussian.loss(X[0]).shape == ()
    assert gaussian.metric(X[0]).shape == (2, 2)


def test_shape_error(gaussian):
    with pytest.raises(ShapeError, match=r"`x` must have shape \(2,\) or \(batch, 2\)"):
        gaussian.velocity(np.zeros((3, 3)))


def random_spd_metric(dim):
    """A non-constant dense metric: A(x) A(x)^T + I with polynomial entries."""
    coords = sp.symbols(f"q0:{dim}", real=True)
    A = sp.Matrix(dim, dim, lambda i, j: sp.Rational(i + 2 * j + 1, 7) * coords[(i + j) % dim] + (1 if i == j else 0))
    return Chart("q", coords), A * A.T + sp.eye(dim)


@pytest.mark.nojit
@pytest.mark.parametrize("dim, strategy", [(2, "symbolic"), (4, "cholesky")])
def test_dense_metric_velocity_matches_a_linear_solve(dim, strategy):
    chart, G = random_spd_metric(dim)
    q = chart.coords
    loss = sum((k + 1) * c**2 for k, c in enumerate(q)) + sp.exp(q[0]) * q[-1]
    field = compile_flow(Metric(chart, G), loss)
    assert field.strategy == strategy
    X = np.random.default_rng(0).normal(size=(5, dim))
    Gf = sp.lambdify(q, G, "numpy")
    gf = sp.lambdify(q, [sp.diff(loss, c) for c in q], "numpy")
    expected = np.array([-np.linalg.solve(np.array(Gf(*p), dtype=float), np.array(gf(*p), dtype=float)) for p in X])
    np.testing.assert_allclose(field.velocity(X), expected, rtol=1e-10, atol=1e-12)


def test_constant_metric_is_solved_exactly():
    # Hilbert metric and loss of a linear model: the velocity is -2 (theta - beta), exactly.
    d = 10
    th = sp.symbols(f"t0:{d}", real=True)
    G = sp.Matrix(d, d, lambda i, j: sp.Rational(1, i + j + 1))
    beta = sp.Matrix([sp.Rational(k - 4, 3) for k in range(d)])
    v = sp.Matrix(th) - beta
    loss = sp.expand((v.T * G * v)[0])
    field = compile_flow(Metric(Chart("t", th), G), loss)
    assert field.strategy == "exact"
    assert all(sp.expand(field.velocity_expr[k] + 2 * (th[k] - beta[k])) == 0 for k in range(d))


def test_strategy_can_be_forced(gaussian):
    g = gaussian.riemannian_metric
    forced = compile_flow(g, gaussian.loss_expr, strategy="cholesky")
    assert forced.strategy == "cholesky" and forced.velocity_expr is None
    X = np.array([[0.3, 1.2], [-1.0, 0.7]])
    np.testing.assert_allclose(forced.velocity(X), gaussian.velocity(X), rtol=1e-13)
    with pytest.raises(ValueError, match="`strategy='exact'` needs a constant metric"):
        compile_flow(g, gaussian.loss_expr, strategy="exact")
    with pytest.raises(ValueError, match="`strategy` must be one of"):
        compile_flow(g, gaussian.loss_expr, strategy="lu")


@pytest.mark.nojit
def test_cholesky_flags_a_singular_metric():
    field = compile_flow(Metric(Chart("xy", (x, y)), sp.diag(x**2, 1)), x + y**2, strategy="cholesky")
    v = field.velocity([[0.0, 1.0], [1.0, 1.0]])
    assert np.isnan(v[0]).all()
    np.testing.assert_allclose(v[1], [-1.0, -2.0])


# ---------------------------------------------------------------- params
def test_params_are_fed_at_call_time():
    a, b = sp.symbols("a b", real=True)
    field = compile_flow(euclidean_metric(Chart("xy", (x, y))), (x - a) ** 2 + b * y**2, params=(a, b))
    assert field.params == (a, b)
    X = np.array([[1.0, 2.0]])
    np.testing.assert_allclose(field.velocity(X, {"a": 3.0, "b": 0.5}), [[4.0, -2.0]])
    np.testing.assert_allclose(field.velocity(X, [0.0, 1.0]), [[-2.0, -4.0]])
    np.testing.assert_allclose(field.velocity(X, {a: 0.0, b: 1.0}), [[-2.0, -4.0]])
    with pytest.raises(CoordinateError, match=r"missing \['b'\]"):
        field.velocity(X, {"a": 1.0})
    with pytest.raises(CoordinateError, match="must hold 2 values"):
        field.velocity(X, [1.0])


def test_unlisted_symbol_is_rejected():
    a = sp.Symbol("a")
    with pytest.raises(CoordinateError, match=r"use the symbols \['a'\].*Pass params=\(a,\)"):
        compile_flow(euclidean_metric(Chart("x", (x,))), (x - a) ** 2)


@pytest.mark.parametrize(
    "params, match",
    [((x,), "not coordinates"), (("a",), "must hold SymPy Symbols")],
)
def test_bad_params(params, match):
    with pytest.raises(CoordinateError, match=match):
        compile_flow(euclidean_metric(Chart("x", (x,))), x**2, params=params)


def test_metric_must_be_a_metric():
    with pytest.raises(ChartMismatchError, match="`metric` must be a riemgrad Metric"):
        compile_flow(sp.eye(1), x**2)


# ---------------------------------------------------------------- cache
def test_source_is_cached_by_content_hash(gaussian):
    assert isinstance(gaussian, FlowField)
    assert gaussian.path.exists() and gaussian.path.parent.parent == cache_dir()
    assert gaussian.path.read_text() == gaussian.source
    assert "k over ('mu', 'sigma')" in gaussian.source
    again = compile_flow(gaussian.riemannian_metric, gaussian.loss_expr)
    assert again.path == gaussian.path
    other = compile_flow(gaussian.riemannian_metric, gaussian.loss_expr + mu)
    assert other.path != gaussian.path


def test_generated_source_has_no_big_integers_or_float_powers(gaussian):
    src = gaussian.source
    assert "**" not in src.split("# ---")[0].replace("# ", "")
    # every kernel compiles with the header's fast-math flags: only those that keep NaN/inf semantics
    assert "cache=True" in src and "fastmath=True" not in src and "fastmath=False" not in src
    assert src.count("fastmath=FASTMATH") == src.count("@njit(")
    assert "FASTMATH = {'arcp', 'contract'}" in src or "FASTMATH = False" in src


def test_compiled_code_lands_in_numba_disk_cache(gaussian):
    gaussian.velocity([0.0, 1.0])
    index_files = list((gaussian.path.parent / "__pycache__").glob(gaussian.path.stem + ".*.nbi"))
    assert index_files, "numba wrote no on-disk cache index next to the generated module"


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RIEMGRAD_CACHE_DIR", str(tmp_path / "rg"))
    assert cache_dir() == tmp_path / "rg"
    monkeypatch.delenv("RIEMGRAD_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "riemgrad"


def test_import_compiles_nothing():
    import subprocess
    import sys

    code = "import sys, riemgrad; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_derivation_is_reused_from_disk(gaussian, monkeypatch):
    import riemgrad.kernels.velocity as velocity_module

    def fail(*args, **kwargs):
        raise AssertionError("the velocity was derived again")

    monkeypatch.setattr(velocity_module, "_symbolic_velocity", fail)
    again = compile_flow(gaussian.riemannian_metric, gaussian.loss_expr)
    assert again.velocity_expr == gaussian.velocity_expr and again.strategy == "symbolic"
    assert again.source == gaussian.source


# ------------------------------------------------------------------------ QR
def empirical_linear_model(d, n_points):
    """f = sum theta_k x^k on n equispaced points; r_i = (f - f*)(x_i) / sqrt(n); loss |r|^2 / 2."""
    th = sp.symbols(f"theta0:{d}", real=True)
    xs = [sp.Rational(i, n_points - 1) for i in range(n_points)]
    res = [(sum(th[k] * xi**k for k in range(d)) - (1 - 2 * xi + 3 * xi**2)) / sp.sqrt(n_points) for xi in xs]
    J = sp.Matrix([[sp.diff(r, c) for c in th] for r in res])
    loss = sp.expand(sum(r**2 for r in res) / 2)
    return Chart("theta", th), J.T * J, loss, res


def test_qr_of_the_jacobian_beats_normal_equations():
    from riemgrad import solve_flow

    d = 8
    chart, G, loss, res = empirical_linear_model(d, 16)
    metric = Metric(chart, G)
    qr = compile_flow(metric, loss, residuals=res)
    chol = compile_flow(metric, loss, strategy="cholesky")
    assert qr.strategy == "qr" and "Householder QR" in qr.source
    # Gauss-Newton flow of a linear least-squares problem: theta(t) = beta + (theta0 - beta) e^{-t}
    beta = np.array([1.0, -2.0, 3.0] + [0.0] * (d - 3))
    x0 = np.random.default_rng(0).normal(size=(20, d))
    expected = beta + (x0 - beta) * np.exp(-1.0)

    def rel_err(field):
        out = solve_flow(field, x0, (0.0, 1.0), dt=1e-2).xs[-1]
        return np.abs(out - expected).max() / np.abs(expected).max()

    e_qr, e_chol = rel_err(qr), rel_err(chol)
    assert e_qr < 1e-10
    assert e_qr < e_chol / 100, (e_qr, e_chol)


def test_qr_validates_residuals():
    chart, G, loss, res = empirical_linear_model(2, 4)
    metric = Metric(chart, G)
    with pytest.raises(ValueError, match=r"metric = J\^T J and grad\(loss\) = J\^T r"):
        compile_flow(metric, 2 * loss, residuals=res)
    with pytest.raises(ValueError, match="`strategy='qr'` needs `residuals`"):
        compile_flow(metric, loss, strategy="qr")
    with pytest.raises(ValueError, match="`residuals` go with strategy='qr'"):
        compile_flow(metric, loss, strategy="cholesky", residuals=res)


def test_warm_up_compiles_what_the_solvers_use(gaussian):
    from riemgrad import descend, solve_flow
    from riemgrad.errors import SolverSettingsError
    from riemgrad.preconditioners import adam

    assert gaussian.warm_up(["rk4", "euler", "dopri5", "adam"]) >= 0.0
    names = ["_rk4_scalar", "_rk4_range", "_euler_range", "_dopri_range", "_descent_adam_range"]
    before = {k: len(gaussian._kernel(k).signatures) for k in names}
    assert all(v == 1 for v in before.values())
    x0 = np.array([[0.0, 1.0], [1.0, 2.0]])
    big = np.tile(x0, (300, 1))
    solve_flow(gaussian, x0[0], (0.0, 0.1), dt=1e-2)
    solve_flow(gaussian, big, (0.0, 0.1), dt=1e-2)
    solve_flow(gaussian, big, (0.0, 0.1), stepper="dopri5")
    descend(gaussian, big, lr=0.1, steps=3)
    descend(gaussian, big, lr=0.1, steps=3, preconditioner=adam())
    # the solvers found every kernel compiled for their argument types: nothing new was compiled
    assert {k: len(gaussian._kernel(k).signatures) for k in names} == before
    # a large batch needs only the chunked layout (a field of its own: a new module, nothing compiled yet)
    other = compile_flow(gaussian.riemannian_metric, gaussian.loss_expr + sp.Rational(7, 3))
    other.warm_up(["heun"], batch=10_000)
    assert len(other._kernel("_heun_range").signatures) == 1
    assert len(other._kernel("_heun_scalar").signatures) == 0
    with pytest.raises(SolverSettingsError, match="steppers"):
        gaussian.warm_up(["rk5"])


@pytest.mark.parametrize("d", [14, 15, 24])
def test_fields_around_the_register_layout_limit_compile_and_solve(d):
    """Register-form kernels pass every coordinate as an argument; a call with more than 30 arguments
    becomes ``f(*args)`` in CPython, which Numba cannot inline (found by benchmarks/bench_flows.py W4 at
    d = 16). Fields on both sides of SCALAR_MAX_DIM solve, in both layouts, to the closed form."""
    from riemgrad.kernels.abi import SCALAR_MAX_DIM

    assert 2 * SCALAR_MAX_DIM + 1 <= 30
    xs = sp.symbols(f"x0:{d}", real=True)
    chart = Chart(f"r{d}", xs)
    loss = sum((x - 1) ** 2 for x in xs) / 2
    field = compile_flow(euclidean_metric(chart), loss)
    rng = np.random.default_rng(d)
    for batch in (1, 20):
        X = rng.normal(size=(batch, d))
        res = solve_flow(field, X, (0.0, 0.5), dt=0.01)
        # dx/dt = -(x - 1): x(t) = 1 + (x0 - 1) e^{-t}; RK4's error at dt = 0.01 is far below 1e-9
        np.testing.assert_allclose(res.xs[-1], 1 + (X - 1) * np.exp(-0.5), rtol=0, atol=1e-9)
        assert (res.status == 0).all()
