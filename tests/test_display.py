"""Notebook display of results and reports: HTML summaries without array dumps, and ``.plot()``."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import sympy as sp  # noqa: E402

import riemgrad as rg  # noqa: E402
from riemgrad.checks import check_invariance, compare_closed_form, convergence_order  # noqa: E402
from riemgrad.errors import DimensionError, MethodNotApplicableError  # noqa: E402

X, Y, Z = sp.symbols("x y z", real=True)
S = sp.Symbol("s", positive=True)
T = sp.Symbol("t", real=True)
PLANE = rg.Chart("plane", (X, Y))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def bowl() -> rg.FlowField:
    return rg.compile_flow(rg.euclidean_metric(PLANE), (X**2 + Y**2) / 2)


def _cells(html: str) -> dict[str, str]:
    return dict(re.findall(r"<th[^>]*>([^<]*)</th><td[^>]*>([^<]*)</td>", html))


def test_flow_result_html_summarizes_without_arrays(bowl):
    res = rg.solve_flow(bowl, [[1.0, 0.0], [0.0, 2.0]], (0.0, 2.0), dt=0.01)
    html = res._repr_html_()
    cells = _cells(html)
    assert "FlowResult" in html and "color:#1a7f37" in html  # all succeeded: green title
    assert cells["chart"] == "plane (x, y)"
    assert cells["trajectories"] == "2"
    assert cells["status"] == "2 success"
    assert cells["stepper"] == "rk4"
    assert cells["steps per trajectory"] == "200"
    # L(x0 e^{-t}) = |x0|^2 e^{-2t} / 2 at t = 2, by hand: 0.5 e^-4 and 2 e^-4
    assert cells["final loss"] == f"{0.5 * np.exp(-4):.3g} … {2 * np.exp(-4):.3g}"
    assert cells["initial loss"] == "0.5 … 2"
    assert "[" not in html and "array" not in html and len(html) < 3000


def test_failed_trajectories_are_counted_and_explained():
    field = rg.compile_flow(rg.euclidean_metric(rg.Chart("s", (S,))), S)  # ds/dt = -1: leaves s > 0 at t = s0
    res = rg.solve_flow(field, [[0.5], [3.0]], (0.0, 2.0), dt=0.01)
    html = res._repr_html_()
    cells = _cells(html)
    assert cells["status"] == "1 success, 1 left domain"
    assert "color:#cf222e" in html
    assert "left the chart" in cells["note"]


def test_descent_result_html(bowl):
    res = rg.descend(bowl, [[1.0, 1.0], [2.0, 0.0]], lr=0.5, steps=3)
    cells = _cells(res._repr_html_())
    assert cells["steps recorded"] == "2 (k = 0 … 3)"
    # x_3 = x0 / 8: losses 2 / 128 and 4 / 128, by hand
    assert cells["final loss"] == f"{2 / 128:.3g} … {4 / 128:.3g}"
    assert cells["preconditioner"] == "natural"


def test_geodesic_result_html_and_plot():
    yp = sp.Symbol("y", positive=True)
    half = rg.Metric(rg.Chart("half_plane", (X, yp)), sp.diag(1 / yp**2, 1 / yp**2))
    res = rg.geodesic(half, [[0.0, 1.0], [0.0, 2.0]], [[0.0, 1.0], [1.0, 0.0]], (0.0, 1.0))
    cells = _cells(res._repr_html_())
    assert cells["status"] == "2 success"
    # g(v, v) = |v|^2 / y^2 at the starts: 1 and 1/4
    assert cells["energy g(v, v)"] == "0.25 … 1"
    assert float(cells["relative energy drift"].split(" … ")[-1]) < 1e-6
    ax = res.plot()
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("$x$", "$y$")
    assert not ax.collections  # no loss, no contours
    np.testing.assert_allclose(ax.lines[0].get_ydata(), res.xs[:, 0, 1])


def test_plot_2d_draws_trajectories_over_contours(bowl):
    res = rg.solve_flow(bowl, [[1.0, 0.5], [-1.0, 1.0]], (0.0, 2.0), dt=0.05, saveat=np.linspace(0, 2, 9))
    ax = res.plot()
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("$x$", "$y$")
    assert ax.collections, "no loss contours"
    np.testing.assert_allclose(ax.lines[1].get_xdata(), -np.exp(-np.linspace(0, 2, 9)), rtol=1e-6)
    assert ax.get_legend() is not None


def test_plot_loss_kind_and_field_override(bowl):
    ts = np.linspace(0, 1, 5)
    res = rg.solve_flow(bowl, [[1.0, 0.0]], (0.0, 1.0), dt=0.01, saveat=ts)
    ax = res.plot(kind="loss")
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "time $t$"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 0.5 * np.exp(-2 * ts), rtol=1e-8)
    other = rg.compile_flow(rg.euclidean_metric(PLANE), X**2)  # another loss, read along the same path
    ax = res.plot(kind="loss", field=other)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.exp(-2 * ts), rtol=1e-8)
    with pytest.raises(MethodNotApplicableError, match="`kind`"):
        res.plot(kind="contours")


def test_plot_3d_falls_back_to_the_loss():
    field = rg.compile_flow(rg.euclidean_metric(rg.Chart("r3", (X, Y, Z))), (X**2 + Y**2 + Z**2) / 2)
    res = rg.descend(field, [[1.0, 1.0, 1.0]], lr=0.5, steps=4, saveat=[0, 1, 2, 3, 4])
    ax = res.plot(label="gd")
    assert ax.get_xlabel() == "step $k$"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 1.5 * 0.25 ** np.arange(5), rtol=1e-12)
    with pytest.raises(DimensionError, match="2-D chart"):
        res.plot(kind="trajectories")


def test_reports_html(bowl):
    tau = sp.Symbol("tau", real=True)
    ts = np.linspace(0, 1, 5)
    x0 = [[1.0, 0.5]]
    ra = rg.solve_flow(bowl, x0, (0.0, 1.0), dt=0.01, saveat=ts)
    rep = compare_closed_form(ra, [X * sp.exp(-T), Y * sp.exp(-T)], T, tol=1e-8)
    cells = _cells(rep._repr_html_())
    assert cells["verdict"].startswith("passed: max error")
    assert cells["times compared"] == "5 (t = 0 … 1)"
    shifted = rg.Chart("shifted", (tau, Y))
    to_plane = rg.ChartMap(shifted, PLANE, (tau - 1, Y))
    field_b = rg.compile_flow(rg.euclidean_metric(shifted), ((tau - 1) ** 2 + Y**2) / 2)
    rb = rg.solve_flow(field_b, [[2.0, 0.5]], (0.0, 1.0), dt=0.01, saveat=ts)
    inv = check_invariance(ra, rb, to_plane, tol=1e-9)
    html = inv._repr_html_()
    assert "InvarianceReport" in html and _cells(html)["verdict"].startswith("passed")
    conv = convergence_order(bowl, x0, (0.0, 1.0), [X * sp.exp(-T), Y * sp.exp(-T)], T, stepper="euler")
    cells = _cells(conv._repr_html_())
    assert abs(float(cells["fitted order"]) - 1.0) < 0.1  # Euler is first order
    assert len([k for k in cells if k.startswith("dt = ")]) == len(conv.dts)


def test_results_and_reports_do_not_import_matplotlib():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, sympy as sp, riemgrad as rg\n"
        "x = sp.Symbol('x', real=True)\n"
        "f = rg.compile_flow(rg.euclidean_metric(rg.Chart('line', (x,))), x**2 / 2)\n"
        "res = rg.solve_flow(f, [1.0], (0.0, 1.0), dt=0.1)\n"
        "html = res._repr_html_()\n"
        "print('MPL', 'matplotlib' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "MPL False" in proc.stdout


def test_family_atlas_and_field_render_as_latex():
    """ParametricFamily shows log p(x | theta) with its support and chart; FamilyAtlas a table of charts,
    maps and closed forms; FlowField the velocity it compiled (or the solve it does) and the loss."""
    import sympy as sp

    from riemgrad import families
    from tests._mathtext import assert_mathtext

    atlas = families.atlas("normal")
    fam = atlas["sigma"]
    tex = fam._repr_latex_()
    assert r"\log p(x \mid \mu,\, \sigma)" in tex and r"x \in \mathbb{R}" in tex
    assert_mathtext(tex.replace(r"\mid", "|"))
    table = atlas._repr_latex_()
    assert table.count(r" \\ ") == len(atlas.chart_names)  # a header row, then one row per chart
    assert r"\sigma = \sqrt{\mathrm{variance}}" in table and r"\frac{2}{\sigma^{2}}" in table
    mu, sigma = sp.Symbol("mu", real=True), sp.Symbol("sigma", positive=True)
    g = rg.Metric(rg.Chart("sigma", (mu, sigma)), sp.diag(1 / sigma**2, 2 / sigma**2))
    loss = (mu - 1) ** 2 / 2 + sigma**2
    tex = rg.compile_flow(g, loss, strategy="symbolic")._repr_latex_()
    assert r"\dot{\mu} &= " in tex and r"\dot{\sigma} &= " in tex
    assert_mathtext(tex.split(r"\quad")[0] + "$")
    assert r"-G^{-1} \nabla L" in rg.compile_flow(g, loss, strategy="cholesky")._repr_latex_()
