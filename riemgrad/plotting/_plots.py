"""Plot functions. matplotlib is imported inside each function, never at module import."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import DimensionError, ShapeError
from ..symbolic import ChartMap, Metric

__all__ = ["plot_trajectories", "plot_metric_ellipses", "plot_loss", "plot_invariance", "coordinate_labels"]


def axes_or_new(ax: Any = None) -> Any:
    """``ax`` itself, or a new Axes on a new figure when ``ax`` is None (how every plot here starts).

    Parameters
    ----------
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = axes_or_new()
    >>> axes_or_new(ax) is ax
    True
    """
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    return ax


def coordinate_labels(chart: Any) -> tuple[str, ...]:
    r"""Axis labels for a chart's coordinates: their LaTeX names as mathtext, e.g. ``("$\\mu$", "$\\log\\sigma$")``.

    Parameters
    ----------
    chart : Chart

    Returns
    -------
    tuple of str, length chart.dim

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart
    >>> print(*coordinate_labels(Chart("log_sigma", sp.symbols("mu log_sigma", real=True))))
    $\mu$ $\log\sigma$
    """
    names = getattr(chart, "latex_names", None) or {}
    return tuple(f"${names[c]}$" if c in names else f"${c.name}$" for c in chart.coords)


def _tidy_log_axis(ax: Any, which: str = "y") -> None:
    """At most ~6 labelled decades, no labels on minor ticks: log-axis tick labels that do not collide."""
    from matplotlib.ticker import LogLocator, NullFormatter

    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_locator(LogLocator(base=10, numticks=6))
    axis.set_minor_locator(LogLocator(base=10, subs=np.arange(2, 10) * 0.1, numticks=12))
    axis.set_minor_formatter(NullFormatter())


def _contour_levels(Z: np.ndarray, levels: int) -> np.ndarray | None:
    """Levels spaced geometrically in the excess over the grid's minimum: dense near the minimum.

    Evenly spaced levels crowd where the loss is steep (near a domain edge where it
    blows up) and leave the basin around the minimum empty; log-spaced excess
    levels put about as many contours in each decade.
    """
    finite = Z[np.isfinite(Z)]
    if finite.size < 4:
        return None
    zmin = finite.min()
    excess = finite - zmin
    pos = excess[excess > 0]
    if pos.size < 2:
        return None
    lo, hi = np.quantile(pos, 0.005), np.quantile(pos, 0.95)
    lo = max(lo, hi * 1e-6)
    if not hi > lo:
        return None
    return zmin + np.geomspace(lo, hi, levels)


def _trajectory_array(result: Any) -> np.ndarray:
    xs = np.asarray(getattr(result, "xs", result), dtype=float)
    if xs.ndim == 2:
        xs = xs[:, None, :]
    if xs.ndim != 3 or xs.shape[-1] != 2:
        raise ShapeError(
            f"`result` must hold 2-D trajectories of shape (n_t, batch, 2) or (n_t, 2); got {xs.shape}. "
            "Plot two coordinates at a time (slice xs[..., [i, j]])."
        )
    return xs


def plot_trajectories(
    result: Any,
    *,
    loss: Callable[[np.ndarray], np.ndarray] | None = None,
    chart_map: ChartMap | None = None,
    ax: Any = None,
    levels: int = 20,
    max_lines: int = 200,
    labels: tuple[str, str] | None = None,
    **line_kwargs: Any,
) -> Any:
    """Trajectories of a 2-D flow or descent, over the contours of the loss.

    Parameters
    ----------
    result : FlowResult, DescentResult or array_like, shape (n_t, batch, 2) or (n_t, 2)
        Anything with an ``xs`` attribute (time-first), or the array itself.
    loss : callable, optional
        ``loss(points)`` on an array of shape ``(m, 2)`` in the plotted chart,
        returning shape ``(m,)`` (e.g. ``FlowField.loss``). Its contours are
        drawn under the trajectories.
    chart_map : ChartMap, optional
        Map the trajectories through ``chart_map`` first (plot them in its
        target chart). ``loss`` is then read in the target chart.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    levels : int
        The number of contour levels, spaced geometrically in the excess
        ``L - min L`` over the plotted box, so the basin around the minimum
        has as many contours as the steep walls.
    max_lines : int
        At most this many trajectories are drawn (evenly subsampled).
    labels : (str, str), optional
        Axis labels; default: the chart's coordinates in LaTeX (``$\\mu$``,
        ``$\\log\\sigma$``) when ``result`` has a chart, else ``$x_{0}$``, ``$x_{1}$``.
    **line_kwargs
        Passed to ``Axes.plot`` for the trajectories; ``label`` names them in
        the legend (once), which also shows the start and end points.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad.plotting import plot_trajectories
    >>> t = np.linspace(0, 1, 11)[:, None, None]
    >>> xs = np.concatenate([np.exp(-t), 2 * np.exp(-2 * t)], axis=-1)   # (11, 1, 2)
    >>> ax = plot_trajectories(xs, loss=lambda p: (p**2).sum(axis=-1))
    >>> len(ax.lines), ax.get_xlabel(), [t.get_text() for t in ax.get_legend().get_texts()]
    (3, '$x_{0}$', ['trajectories', 'start', 'end', 'loss contours (log-spaced)'])
    """
    xs = _trajectory_array(result)
    if chart_map is not None:
        xs = chart_map(xs)
        if xs.shape[-1] != 2:
            raise DimensionError(
                f"`chart_map` must go to a 2-D chart to plot; its target has dimension {xs.shape[-1]}."
            )
    ax = axes_or_new(ax)
    batch = xs.shape[1]
    pick = np.unique(np.linspace(0, batch - 1, min(batch, max_lines)).astype(int))
    finite = xs[np.isfinite(xs).all(axis=-1)]
    extra: list[Any] = []  # legend entries for artists that are not lines (the contours)
    if loss is not None and finite.size:
        lo, hi = finite.min(axis=0), finite.max(axis=0)
        pad = 0.1 * np.maximum(hi - lo, 1e-9)
        gx = np.linspace(lo[0] - pad[0], hi[0] + pad[0], 160)
        gy = np.linspace(lo[1] - pad[1], hi[1] + pad[1], 160)
        X, Y = np.meshgrid(gx, gy)
        pts = np.stack([X.ravel(), Y.ravel()], axis=-1)
        # the loss only where it is defined: the grid may reach past the chart's domain (sigma <= 0)
        chart = chart_map.target if chart_map is not None else getattr(result, "chart", None)
        inside = chart.in_domain(pts) if chart is not None else np.ones(len(pts), dtype=bool)
        Z = np.full(len(pts), np.nan)
        with np.errstate(all="ignore"):
            if inside.any():
                Z[inside] = np.asarray(loss(pts[inside]), dtype=float)
        Z = Z.reshape(X.shape)
        lv = _contour_levels(Z, levels)
        if lv is not None:
            import matplotlib.colors as mcolors
            from matplotlib.lines import Line2D

            zmin = np.nanmin(np.where(np.isfinite(Z), Z, np.nan))
            ex_levels = lv - zmin
            # clamp below the lowest level (the grid's minimum itself is 0, which a log norm masks)
            excess = np.where(np.isfinite(Z), np.maximum(Z - zmin, 1e-3 * ex_levels[0]), np.nan)
            # coloured by the excess over the minimum on a log scale, so each level is distinct
            norm = mcolors.LogNorm(vmin=ex_levels[0], vmax=ex_levels[-1])
            ax.contour(X, Y, excess, levels=ex_levels, cmap="viridis", norm=norm, linewidths=0.8, alpha=0.8)
            extra.append(Line2D([], [], color="#21918c", lw=0.8, label="loss contours (log-spaced)"))
    style = {"lw": 0.9, "alpha": 0.8, "color": "C1"} | line_kwargs
    label = style.pop("label", "trajectories")
    shown = set(ax.get_legend_handles_labels()[1])  # a second call on the same Axes: no second "start"
    for k, b in enumerate(pick):
        ax.plot(xs[:, b, 0], xs[:, b, 1], label=label if k == 0 else None, **style)
    ax.plot(xs[0, pick, 0], xs[0, pick, 1], "o", ms=2.5, color="k", label=None if "start" in shown else "start")
    ends = [xs[ok, b][-1] for b in pick if (ok := np.isfinite(xs[:, b]).all(axis=-1)).any()]
    ends = np.asarray(ends, dtype=float).reshape(-1, 2)
    if ends.size:
        ax.plot(ends[:, 0], ends[:, 1], "x", ms=4, color="C3", label=None if "end" in shown else "end")
    chart = chart_map.target if chart_map is not None else getattr(result, "chart", None)
    if labels is None and chart is not None:
        labels = coordinate_labels(chart)
    if labels is None:
        labels = ("$x_{0}$", "$x_{1}$")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + extra, fontsize="small", loc="best")
    return ax


def _metric_function(metric: Any) -> Callable[[np.ndarray], np.ndarray]:
    if isinstance(metric, Metric):
        import sympy as sp

        if metric.dim != 2:
            raise DimensionError(f"`metric` must be 2-dimensional to draw ellipses; got dimension {metric.dim}.")
        free = metric.matrix.free_symbols - set(metric.chart.coords)
        if free:
            raise ShapeError(
                f"`metric` has free parameters {sorted(map(str, free))}; substitute numbers first "
                "(metric.subs({...}))."
            )
        fn = sp.lambdify(metric.chart.coords, metric.matrix, modules="numpy")

        def g(p: np.ndarray) -> np.ndarray:
            return np.array(fn(*p), dtype=float)

        return g
    if callable(getattr(metric, "metric", None)):
        return lambda p: np.asarray(metric.metric(np.asarray(p, dtype=float)), dtype=float)
    if callable(metric):
        return lambda p: np.asarray(metric(np.asarray(p, dtype=float)), dtype=float)
    raise TypeError(
        f"`metric` must be a Metric, a FlowField or a callable point -> (2, 2) matrix; got {type(metric).__name__}."
    )


def plot_metric_ellipses(
    metric: Any,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    *,
    n: int = 7,
    radius: float | None = None,
    ax: Any = None,
    labels: tuple[str, str] | None = None,
    **patch_kwargs: Any,
) -> Any:
    """Tissot's indicatrix: the unit ball {v : v^T g(x) v = r^2} drawn at grid points.

    Long axes point where the metric is cheap (a step there costs little
    length); the natural gradient takes its longest steps along them.

    Parameters
    ----------
    metric : Metric, FlowField or callable
        A 2-D :class:`~riemgrad.Metric` without free parameters, a compiled
        field (its ``.metric``), or a function ``point -> (2, 2) array``.
    xlim, ylim : (float, float)
        The grid's range in the chart's coordinates.
    n : int
        Grid points per axis.
    radius : float, optional
        The ellipses' geodesic radius; chosen so that the largest one fits a
        grid cell when omitted.
    ax : matplotlib Axes, optional
    labels : (str, str), optional
        Axis labels; default: the chart's coordinates in LaTeX when ``metric``
        is a Metric or a FlowField, else ``$x_{0}$``, ``$x_{1}$``.
    **patch_kwargs
        Passed to ``matplotlib.patches.Ellipse``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import sympy as sp
    >>> import riemgrad as rg
    >>> from riemgrad.plotting import plot_metric_ellipses
    >>> x = sp.Symbol("x", real=True)
    >>> y = sp.Symbol("y", positive=True)
    >>> g = rg.Metric(rg.Chart("half_plane", (x, y)), sp.diag(1 / y**2, 1 / y**2))
    >>> ax = plot_metric_ellipses(g, (-1, 1), (0.5, 2), n=4)
    >>> len(ax.patches), ax.get_xlabel(), ax.get_ylabel()
    (16, '$x$', '$y$')
    """
    from matplotlib.patches import Ellipse

    gfun = _metric_function(metric)
    ax = axes_or_new(ax)
    gx, gy = np.linspace(*xlim, n), np.linspace(*ylim, n)
    cell = min(np.ptp(gx) / max(n - 1, 1), np.ptp(gy) / max(n - 1, 1))
    shapes = []
    for px in gx:
        for py in gy:
            G = gfun(np.array([px, py]))
            w, V = np.linalg.eigh(0.5 * (G + G.T))
            if not np.all(np.isfinite(w)) or w.min() <= 0:
                continue
            shapes.append((px, py, 1 / np.sqrt(w), V))
    if not shapes:
        raise ShapeError(
            "the metric is not positive definite anywhere on the grid; check `xlim`/`ylim` against the chart's domain."
        )
    if radius is None:
        radius = 0.45 * cell / max(s[2].max() for s in shapes)
    style = {"fill": False, "lw": 1.0, "color": "C0"} | patch_kwargs
    for px, py, semi, V in shapes:
        angle = np.degrees(np.arctan2(V[1, 0], V[0, 0]))
        ax.add_patch(Ellipse((px, py), 2 * radius * semi[0], 2 * radius * semi[1], angle=angle, **style))
    ax.set_xlim(xlim[0] - 0.5 * cell, xlim[1] + 0.5 * cell)
    ax.set_ylim(ylim[0] - 0.5 * cell, ylim[1] + 0.5 * cell)
    ax.set_aspect("equal")
    chart = getattr(metric, "chart", None)
    if labels is None:
        labels = coordinate_labels(chart) if chart is not None else ("$x_{0}$", "$x_{1}$")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    return ax


def plot_loss(
    result: Any,
    *,
    reference: Callable[[np.ndarray], np.ndarray] | np.ndarray | None = None,
    baseline: float | np.ndarray = 0.0,
    ax: Any = None,
    max_lines: int = 50,
    **line_kwargs: Any,
) -> Any:
    """Loss against time (or step) on a log scale, with an optional closed-form reference.

    Parameters
    ----------
    result : FlowResult or DescentResult
        Anything with ``losses`` of shape ``(n_t,)`` or ``(n_t, batch)`` and
        ``ts`` (flows) or ``ks`` (descent).
    reference : callable or array_like, optional
        The expected loss: a function of the times, or values at them,
        shape ``(n_t,)`` or ``(n_t, batch)``; drawn dashed.
    baseline : float or array_like, optional
        Subtracted from the losses before plotting (e.g. the minimum, to show
        the excess loss ``L - L_min`` on the log scale); the reference is
        taken to be an excess already.
    ax : matplotlib Axes, optional
    max_lines : int
        At most this many trajectories are drawn.
    **line_kwargs
        Passed to ``Axes.plot``; ``label`` names the whole batch once in the
        legend. A legend is drawn when the Axes holds more than one labelled
        series (e.g. several calls with ``label=``, or a ``reference``).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from riemgrad.plotting import plot_loss
    >>> ts = np.linspace(0, 2, 21)
    >>> res = SimpleNamespace(ts=ts, losses=np.exp(-4 * ts))
    >>> ax = plot_loss(res, reference=lambda t: np.exp(-4 * t))
    >>> ax.get_yscale(), len(ax.lines)
    ('log', 2)
    """
    ts = getattr(result, "ts", None)
    xlabel = "time $t$"
    if ts is None:
        ts, xlabel = result.ks, "step $k$"
    ts = np.asarray(ts, dtype=float)
    L = np.asarray(result.losses, dtype=float) - np.asarray(baseline, dtype=float)
    if L.ndim == 1:
        L = L[:, None]
    L = L.reshape(L.shape[0], -1)
    if L.shape[0] != ts.shape[0]:
        raise ShapeError(f"`result.losses` has {L.shape[0]} rows but there are {ts.shape[0]} recorded times.")
    ax = axes_or_new(ax)
    pick = np.unique(np.linspace(0, L.shape[1] - 1, min(L.shape[1], max_lines)).astype(int))
    style = {"lw": 1.0, "color": "C0", "alpha": 0.7} | line_kwargs
    label = style.pop("label", None)
    for k, b in enumerate(pick):
        # one legend entry for the whole batch, not one per trajectory
        ax.plot(ts, L[:, b], label=label if k == 0 else None, **style)
    if reference is not None:
        ref = reference(ts) if callable(reference) else reference
        ref = np.asarray(ref, dtype=float)
        if ref.ndim == 1:
            ref = ref[:, None]
        for b in range(min(ref.shape[1], len(pick))):
            col = pick[b] if ref.shape[1] == L.shape[1] else b
            ax.plot(ts, ref[:, col], "--", color="k", lw=1.0, label="closed form" if b == 0 else None)
    ax.set_yscale("log")
    _tidy_log_axis(ax, "y")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss $L$" if np.all(np.asarray(baseline) == 0) else r"excess loss $L - L_{\mathrm{ref}}$")
    if len(ax.get_legend_handles_labels()[1]) > 1:
        ax.legend(fontsize="small")
    return ax


def plot_invariance(
    report: Any, ts: np.ndarray | None = None, *, ax: Any = None, label: str | None = None, **line_kwargs: Any
) -> Any:
    """The invariance error (largest coordinate difference) against time, on a log scale.

    Parameters
    ----------
    report : InvarianceReport or array_like
        Anything with ``errors`` of shape ``(n_t,)`` (and optionally
        ``times``, as an :class:`~riemgrad.checks.InvarianceReport` has), or the
        errors themselves.
    ts : array_like, optional
        The times; taken from ``report.times`` when omitted.
    ax : matplotlib Axes, optional
    label : str, optional
        Legend label; the legend appears once the Axes holds two labelled series.
    **line_kwargs
        Passed to ``Axes.plot`` (``color``, ``ls``...).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad.plotting import plot_invariance
    >>> ax = plot_invariance(np.array([0.0, 1e-12, 3e-12]), ts=np.array([0.0, 1.0, 2.0]))
    >>> ax.get_yscale()
    'log'
    """
    errors = np.asarray(getattr(report, "errors", report), dtype=float)
    if ts is None:
        ts = getattr(report, "times", getattr(report, "ts", None))
    ts = np.arange(errors.shape[0]) if ts is None else np.asarray(ts, dtype=float)
    if ts.shape != errors.shape:
        raise ShapeError(f"`ts` has shape {ts.shape} but the errors have shape {errors.shape}.")
    ax = axes_or_new(ax)
    # exact zeros (the shared starting points) have no place on a log scale: leave them out
    ax.plot(ts, np.where(errors > 0, errors, np.nan), label=label, **line_kwargs)
    ax.set_yscale("log")
    _tidy_log_axis(ax, "y")
    ax.set_xlabel("time $t$")
    ax.set_ylabel(r"$\max\,|x_a - \varphi(x_b)|$")
    if len(ax.get_legend_handles_labels()[1]) > 1:
        ax.legend(fontsize="small")
    return ax
