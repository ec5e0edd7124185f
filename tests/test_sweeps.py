"""Fields that travel (pickling as source) and lazy sweeps on Dask's local schedulers.

Ground truth: closed forms derived by hand (x(t) = b + (x0 - b) e^{-ct} for the flow of
c (x - b)^2 / 2; the variance-chart Fisher flow v(t) = 4 + (v0 - 4) e^{-2t}; geodesics y = e^t on
the half-plane), and the NumPy path run on the same points. The cluster tests are in
test_distributed.py.
"""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sympy as sp

import riemgrad as rg
from riemgrad.errors import CompilationError, CoordinateError, ShapeError
from riemgrad.kernels.transport import restore_field

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
x, v = sp.Symbol("x", real=True), sp.Symbol("variance", positive=True)
b, c = sp.Symbol("b"), sp.Symbol("c")


@pytest.fixture(scope="module")
def shifted():
    """The flow of c (x - b)^2 / 2 on the line: x(t) = b + (x0 - b) e^{-c t}."""
    return rg.compile_flow(rg.euclidean_metric(rg.Chart("line", (x,))), c * (x - b) ** 2 / 2, params=(b, c))


@pytest.fixture(scope="module")
def variance_field():
    """KL to N(0, 4) in the variance chart under the Fisher metric: v(t) = 4 + (v0 - 4) e^{-2t}."""
    return rg.compile_flow(rg.Metric(rg.Chart("variance", (v,)), [[1 / (2 * v**2)]]), sp.log(v) / 2 + 2 / v)


# ------------------------------------------------------------------ pickling
def test_pickle_round_trip_in_a_fresh_process_is_bitwise(gaussian_sigma_field, gaussian_starts, tmp_path):
    field = gaussian_sigma_field
    here = rg.solve_flow(field, gaussian_starts, (0.0, 2.0), dt=1e-2, parallel=False)
    payload = tmp_path / "field.pkl"
    payload.write_bytes(pickle.dumps(field))
    assert b"njit" in payload.read_bytes()  # the source travels, not machine code
    np.save(tmp_path / "x0.npy", gaussian_starts)
    script = textwrap.dedent(
        f"""
        import pickle, sys, numpy as np
        sys.path.insert(0, {ROOT!r})
        import riemgrad as rg
        field = pickle.loads(open({str(payload)!r}, "rb").read())
        res = rg.solve_flow(field, np.load({str(tmp_path / "x0.npy")!r}), (0.0, 2.0), dt=1e-2, parallel=False)
        np.save({str(tmp_path / "xs.npy")!r}, res.xs)
        print(field.path)
        """
    )
    child_cache = tmp_path / "child-cache"
    env = {**os.environ, "RIEMGRAD_CACHE_DIR": str(child_cache)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    path = out.stdout.strip().splitlines()[-1]
    assert path.startswith(str(child_cache))  # written to the child's own cache
    assert open(path).read() == field.source
    theirs = np.load(tmp_path / "xs.npy")
    assert np.array_equal(theirs, here.xs, equal_nan=True)


def test_unpickling_twice_in_one_process_reuses_the_field(shifted):
    data = pickle.dumps(shifted)
    first, second = pickle.loads(data), pickle.loads(data)
    assert first is second and first._module is shifted._module
    assert first.params == shifted.params and first.loss_expr == shifted.loss_expr
    assert first.velocity([3.0], [1.0, 2.0]).tolist() == [-4.0]  # -c (x - b)


def test_geodesic_field_pickles():
    y = sp.Symbol("y", positive=True)
    half_plane = rg.Metric(rg.Chart("half_plane", (x, y)), sp.diag(1 / y**2, 1 / y**2))
    field = rg.kernels.geodesic_field(half_plane)
    again = pickle.loads(pickle.dumps(field))
    assert type(again).__name__ == "GeodesicField" and again.base_metric.matrix == half_plane.matrix
    assert again.energy([0.0, 2.0, 1.0, 0.0]).item() == 0.25  # |v|^2 / y^2


def test_a_corrupted_payload_is_refused(shifted):
    fn, (cls, key, source, meta, ident) = shifted.__reduce__()
    with pytest.raises(CompilationError, match="corrupted"):
        restore_field(cls, key, source.replace("def ", "def  ", 1), meta, ident)


# ------------------------------------------------------------------ lazy solvers
def test_solve_flow_on_dask_is_lazy_and_matches_the_closed_form(variance_field):
    v0 = np.array([[1.0], [2.0], [9.0], [16.0], [0.5]])
    x0 = da.from_array(v0, chunks=(2, 1))
    res = rg.solve_flow(variance_field, x0, (0.0, 2.0), dt=1e-3)
    assert isinstance(res, rg.FlowResult) and isinstance(res.xs, da.Array) and isinstance(res.losses, da.Array)
    assert res.xs.shape == (2, 5, 1) and res.xs.numblocks[1] == 3 and res.ts.tolist() == [0.0, 2.0]
    out = res.compute(scheduler="threads")
    exact = 4 + (v0[:, 0] - 4) * np.exp(-2.0)
    assert np.allclose(out.xs[-1, :, 0], exact, rtol=1e-11)
    numpy = rg.solve_flow(variance_field, v0, (0.0, 2.0), dt=1e-3, parallel=False)
    assert np.array_equal(out.xs, numpy.xs) and np.array_equal(out.n_steps, numpy.n_steps)
    # lazy losses: the loss log(v)/2 + 2/v at the recorded states
    losses = res.losses.compute(scheduler="sync")
    assert np.allclose(losses, np.log(out.xs[..., 0]) / 2 + 2 / out.xs[..., 0], rtol=1e-14)


def test_failing_trajectories_are_statuses_in_their_blocks():
    # Euclidean descent on (v - 1)^2 / 2 with lr = 1.5: v <- 1.5 - v / 2, so v0 = 5 jumps to -1
    # (left the domain v > 0) at step 1, and v0 = 2 goes 0.5, 1.25, 0.875 (stays).
    field = rg.compile_flow(rg.euclidean_metric(rg.Chart("v", (v,))), (v - 1) ** 2 / 2)
    x0 = da.from_array(np.array([[5.0], [2.0], [5.0], [2.0]]), chunks=(1, 1))
    res = rg.descend(field, x0, lr=1.5, steps=3, preconditioner=rg.preconditioners.identity())
    status = res.status.compute()
    assert status.tolist() == [rg.Status.LEFT_DOMAIN, 0, rg.Status.LEFT_DOMAIN, 0]
    assert (res.status == rg.Status.LEFT_DOMAIN).sum().compute() == 2  # element-wise, lazily
    out = res.compute()
    assert out.k_final.tolist() == [0, 3, 0, 3] and out.xs[-1, 1, 0] == 0.875
    assert np.isnan(out.xs[-1, 0, 0]) and np.isnan(res.losses[-1, 0].compute())
    assert out.summary() == {"SUCCESS": 2, "LEFT_DOMAIN": 2}


def test_geodesic_on_dask_matches_the_closed_form():
    y = sp.Symbol("y", positive=True)
    half_plane = rg.Metric(rg.Chart("half_plane", (x, y)), sp.diag(1 / y**2, 1 / y**2))
    pts = np.array([[0.0, 1.0], [1.0, 2.0], [-1.0, 0.5]])
    vel = np.column_stack([np.zeros(3), pts[:, 1]])  # unit speed, straight up: y = y0 e^t
    res = rg.geodesic(half_plane, da.from_array(pts, chunks=(2, 2)), vel, (0.0, 1.0), saveat=[0.0, 0.5, 1.0])
    assert isinstance(res.xs, da.Array) and res.xs.shape == (3, 3, 2)
    out = res.compute()
    assert np.allclose(out.xs[:, :, 1], pts[None, :, 1] * np.exp([0.0, 0.5, 1.0])[:, None], rtol=1e-9)
    assert np.allclose(out.energies, 1.0, atol=1e-9) and out.status.tolist() == [0, 0, 0]
    numpy = rg.geodesic(half_plane, pts, vel, (0.0, 1.0), saveat=[0.0, 0.5, 1.0], parallel=False)
    assert np.array_equal(out.xs, numpy.xs) and np.array_equal(out.vs, numpy.vs)


def test_bad_dask_shapes_and_settings_fail_at_call_time(variance_field):
    with pytest.raises(ShapeError, match="x0"):
        rg.solve_flow(variance_field, da.zeros((4, 2), chunks=2), (0.0, 1.0), dt=0.1)
    with pytest.raises(rg.errors.SolverSettingsError, match="dt"):
        rg.solve_flow(variance_field, da.ones((4, 1), chunks=2), (0.0, 1.0))


# ------------------------------------------------------------------ sweeps
def test_sweep_over_a_parameter_grid_matches_the_closed_form(shifted):
    x0 = np.array([[0.0], [2.0], [-1.0]])
    bs, cs = np.array([1.0, 3.0]), np.array([0.5, 1.0, 2.0])
    res = rg.sweep(shifted, x0, {"c": cs, b: bs}, t_span=(0.0, 1.0), dt=1e-3, chunks=2)
    assert res.dims == ("t", "b", "c", "start", "coord")
    assert res.xs.shape == (2, 2, 3, 3, 1) and res.status.shape == (2, 3, 3) and res.losses.shape == (2, 2, 3, 3)
    assert res.coords["b"].tolist() == [1.0, 3.0] and res.coords["coord"].tolist() == ["x"]
    out = res.compute()
    B, C, X0 = np.meshgrid(bs, cs, x0[:, 0], indexing="ij")
    exact = B + (X0 - B) * np.exp(-C)
    assert np.allclose(out.xs[-1, ..., 0], exact, rtol=1e-11, atol=1e-12)
    assert np.allclose(out.losses[-1], C * (exact - B) ** 2 / 2, rtol=1e-9, atol=1e-15)
    assert (out.status == 0).all()


def test_sweep_of_descent_and_its_errors(shifted):
    res = rg.sweep(shifted, [[4.0]], {"b": [0.0], "c": [1.0]}, method="descend", lr=0.5, steps=2)
    assert res.dims[0] == "k" and res.compute().xs[:, 0, 0, 0, 0].tolist() == [4.0, 1.0]  # x <- x - x/2
    with pytest.raises(CoordinateError, match="exactly the field's parameters"):
        rg.sweep(shifted, [[0.0]], {"b": [1.0]}, t_span=(0.0, 1.0), dt=0.1)
    with pytest.raises(rg.errors.ArgumentTypeError, match="method"):
        rg.sweep(shifted, [[0.0]], {"b": [1.0], "c": [1.0]}, method="adam")


def test_numpy_paths_import_nothing_of_dask(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {ROOT!r})
        import numpy as np, sympy as sp, riemgrad
        x = sp.Symbol("x", real=True)
        field = riemgrad.compile_flow(riemgrad.euclidean_metric(riemgrad.Chart("line", (x,))), x**2 / 2)
        riemgrad.solve_flow(field, np.ones((3, 1)), (0.0, 1.0), dt=0.1)
        riemgrad.descend(field, np.ones((3, 1)), lr=0.1, steps=2)
        riemgrad.sweep, riemgrad.SweepResult
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_to_xarray_labels_the_axes_or_names_the_missing_dependency(shifted):
    res = rg.sweep(shifted, [[0.0], [1.0]], {"b": [1.0, 2.0], "c": [1.0]}, t_span=(0.0, 1.0), dt=0.1)
    try:
        import xarray  # noqa: F401
    except ImportError:
        with pytest.raises(rg.errors.MissingDependencyError, match="pip install xarray"):
            res.to_xarray()
        return
    ds = res.to_xarray()
    assert ds["xs"].dims == res.dims and ds["status"].dims == ("b", "c", "start")
    assert ds["b"].values.tolist() == [1.0, 2.0]
