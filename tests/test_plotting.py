"""Plots draw the expected artists with the expected data (Agg backend)."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import sympy as sp  # noqa: E402

import riemgrad as rg  # noqa: E402
from riemgrad.errors import DimensionError, ShapeError  # noqa: E402
from riemgrad.plotting import plot_invariance, plot_loss, plot_metric_ellipses, plot_trajectories  # noqa: E402
from riemgrad.plotting._plots import _contour_levels  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _trajectories() -> np.ndarray:
    t = np.linspace(0.0, 2.0, 21)[:, None]
    starts = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -2.0]])
    return starts[None, :, :] * np.exp(-t)[:, :, None]  # (21, 3, 2)


def test_trajectories_lines_carry_the_data():
    xs = _trajectories()
    ax = plot_trajectories(xs, loss=lambda p: (p**2).sum(axis=-1))
    traj_lines = ax.lines[:-2]  # then the start and end markers
    assert len(traj_lines) == 3
    np.testing.assert_allclose(traj_lines[1].get_xdata(), xs[:, 1, 0])
    np.testing.assert_allclose(traj_lines[1].get_ydata(), xs[:, 1, 1])
    assert ax.collections, "loss contours were not drawn"


def test_trajectories_through_a_chart_map():
    r, phi = sp.symbols("r phi", positive=True)
    x, y = sp.symbols("x y", real=True)
    to_cart = rg.ChartMap(
        rg.Chart("polar", (r, phi)), rg.Chart("cartesian", (x, y)), (r * sp.cos(phi), r * sp.sin(phi))
    )
    polar_traj = np.array([[[1.0, 0.0]], [[1.0, np.pi / 2]]])  # (2, 1, 2)
    ax = plot_trajectories(polar_traj, chart_map=to_cart)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.0, 1.0], atol=1e-12)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("$x$", "$y$")


def test_trajectories_subsample_and_shape_errors():
    xs = np.zeros((5, 300, 2))
    ax = plot_trajectories(xs, max_lines=10)
    assert len(ax.lines) == 12  # 10 trajectories, the start and the end markers
    with pytest.raises(ShapeError, match="shape"):
        plot_trajectories(np.zeros((5, 3, 3)))


def test_ellipses_follow_the_metric():
    # half-plane: g = I / y^2, so the unit ball at height y is a circle of radius ~ y
    x = sp.Symbol("x", real=True)
    y = sp.Symbol("y", positive=True)
    g = rg.Metric(rg.Chart("half_plane", (x, y)), sp.diag(1 / y**2, 1 / y**2))
    ax = plot_metric_ellipses(g, (-1.0, 1.0), (1.0, 2.0), n=2, radius=0.1)
    widths = sorted({round(p.width, 12) for p in ax.patches})
    assert widths == [pytest.approx(0.2), pytest.approx(0.4)]
    # anisotropic constant metric diag(4, 1): semi-axes 1/2 and 1 (times radius)
    u, v = sp.symbols("u v", real=True)
    h = rg.Metric(rg.Chart("c", (u, v)), sp.diag(4, 1))
    ax = plot_metric_ellipses(h, (0, 1), (0, 1), n=1, radius=1.0)
    e = ax.patches[0]
    assert sorted([e.width, e.height]) == [pytest.approx(1.0), pytest.approx(2.0)]


def test_ellipses_errors():
    a, b, c = sp.symbols("a b c", real=True)
    with pytest.raises(DimensionError, match="2-dimensional"):
        plot_metric_ellipses(rg.euclidean_metric(rg.Chart("r3", (a, b, c))), (0, 1), (0, 1))
    k = sp.Symbol("k", positive=True)
    with pytest.raises(ShapeError, match="free parameters"):
        plot_metric_ellipses(rg.Metric(rg.Chart("p", (a, b)), sp.diag(k, k)), (0, 1), (0, 1))


def test_loss_plot_with_reference():
    ts = np.linspace(0, 1, 11)
    losses = np.exp(-4 * ts)[:, None] * np.array([1.0, 2.0])
    ax = plot_loss(SimpleNamespace(ts=ts, losses=losses), reference=np.exp(-4 * ts)[:, None] * np.array([1.0, 2.0]))
    assert ax.get_yscale() == "log"
    assert len(ax.lines) == 4
    np.testing.assert_allclose(ax.lines[1].get_ydata(), losses[:, 1])
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(dashed) == 2
    with pytest.raises(ShapeError, match="rows"):
        plot_loss(SimpleNamespace(ts=ts[:-1], losses=losses))


def test_loss_plot_for_descent_uses_steps():
    ax = plot_loss(SimpleNamespace(ks=np.array([0, 10, 20]), losses=np.array([1.0, 0.1, 0.01])))
    assert ax.get_xlabel() == "step $k$"


def test_invariance_plot():
    rep = SimpleNamespace(errors=np.array([0.0, 1e-10, 2e-10]), times=np.array([0.0, 0.5, 1.0]))
    ax = plot_invariance(rep, label="sigma vs log sigma")
    np.testing.assert_allclose(ax.lines[0].get_xdata(), rep.times)
    assert np.isnan(ax.lines[0].get_ydata()[0])  # exact zeros are left out of the log scale
    with pytest.raises(ShapeError, match="shape"):
        plot_invariance(rep.errors, ts=np.zeros(2))


def test_loss_plot_subtracts_a_baseline():
    ts = np.linspace(0, 1, 5)
    res = SimpleNamespace(ts=ts, losses=3.0 + np.exp(-4 * ts))
    ax = plot_loss(res, baseline=3.0)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.exp(-4 * ts))
    assert ax.get_ylabel() == r"excess loss $L - L_{\mathrm{ref}}$"


# --------------------------------------------------------- labels and legends
def _mathtext_ok(text: str) -> None:
    from matplotlib.mathtext import MathTextParser

    if text.count("$") >= 2:
        for k, piece in enumerate(text.split("$")):
            if k % 2 == 1:
                MathTextParser("path").parse(f"${piece}$")


def _assert_labelled(ax) -> None:
    for text in (ax.get_xlabel(), ax.get_ylabel()):
        assert text, "an axis has no label"
        _mathtext_ok(text)
    ax.figure.canvas.draw()  # renders every label and legend entry with mathtext (Agg)


def test_every_plot_labels_its_axes_from_the_chart():
    mu = sp.Symbol("mu", real=True)
    ls = sp.Symbol("log_sigma", real=True)
    chart = rg.Chart("log_sigma", (mu, ls))
    res = SimpleNamespace(xs=_trajectories(), chart=chart)
    ax = plot_trajectories(res, loss=lambda p: (p**2).sum(axis=-1))
    assert (ax.get_xlabel(), ax.get_ylabel()) == (r"$\mu$", r"$\log\sigma$")
    _assert_labelled(ax)
    g = rg.Metric(chart, sp.diag(sp.exp(-2 * ls), 2))
    ax = plot_metric_ellipses(g, (-1, 1), (-1, 1), n=3)
    assert (ax.get_xlabel(), ax.get_ylabel()) == (r"$\mu$", r"$\log\sigma$")
    _assert_labelled(ax)
    ts = np.linspace(0, 1, 5)
    _assert_labelled(plot_loss(SimpleNamespace(ts=ts, losses=np.exp(-ts))))
    _assert_labelled(plot_invariance(np.array([0.0, 1e-12, 3e-12]), ts=np.array([0.0, 1.0, 2.0])))


def test_loss_label_names_one_series_and_legend_appears_for_two():
    ts = np.linspace(0, 1, 5)
    batch = SimpleNamespace(ts=ts, losses=np.exp(-ts)[:, None] * np.arange(1.0, 5.0))  # 4 trajectories
    ax = plot_loss(batch, label="natural")
    assert ax.get_legend() is None  # one labelled series: no legend needed
    plot_loss(batch, label="euclidean", color="C1", ax=ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["natural", "euclidean"]
    _assert_labelled(ax)


def test_trajectory_legend_and_log_spaced_levels():
    ax = plot_trajectories(_trajectories(), loss=lambda p: (p**2).sum(axis=-1), levels=12)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["trajectories", "start", "end", "loss contours (log-spaced)"]
    # a quadratic bowl sampled on a grid through 0: levels are geometric in L - min L
    Z = np.add.outer(np.linspace(-1, 1, 51) ** 2, np.linspace(-1, 1, 51) ** 2)
    lv = _contour_levels(Z, 10)
    ratios = np.diff(np.log(lv - Z.min()))
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)
    assert lv[0] - Z.min() < 1e-2 * (lv[-1] - Z.min())  # reaches close to the minimum
    assert _contour_levels(np.ones((5, 5)), 10) is None  # a flat loss has no contours


def test_log_axis_has_few_major_labels():
    ts = np.linspace(0, 10, 50)
    ax = plot_loss(SimpleNamespace(ts=ts, losses=np.exp(-4 * ts)))  # 17 decades
    ax.figure.canvas.draw()
    lo, hi = ax.get_ylim()
    shown = [t for t in ax.get_yticklabels() if t.get_text() and lo <= t.get_position()[1] <= hi]
    assert 2 <= len(shown) <= 8


def test_loss_contours_are_drawn_only_inside_the_charts_domain():
    """A contour grid that reaches past sigma = 0 evaluates the loss only where the chart is defined
    (the field's evaluators refuse points outside the domain)."""
    import sympy as sp

    import riemgrad as rg
    from riemgrad import plotting

    mu, sigma = sp.Symbol("mu", real=True), sp.Symbol("sigma", positive=True)
    g = rg.Metric(rg.Chart("sigma", (mu, sigma)), sp.diag(1 / sigma**2, 2 / sigma**2))
    field = rg.compile_flow(g, (mu - 1) ** 2 / 2 + (sigma - 1) ** 2 / 2)
    res = rg.solve_flow(field, np.array([[0.0, 0.05], [2.0, 1.5]]), (0.0, 1.0), dt=1e-2)
    ax = plotting.plot_trajectories(res, loss=field.loss)
    assert ax.collections  # the contours were drawn
