"""Notebook display for result records: an HTML summary and ``.plot()``.

Nothing here imports matplotlib at module import; :meth:`ResultDisplay.plot`
imports the plotting module when called.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["ResultDisplay", "html_table", "fmt_range"]


def fmt_range(values: Any, fmt: str = ".3g") -> str:
    """``"a"`` or ``"a … b"`` for the finite values of an array, ``"—"`` if there are none.

    Examples
    --------
    >>> fmt_range([3.0, 1.0, float("nan")]), fmt_range([2, 2]), fmt_range([])
    ('1 … 3', '2', '—')
    """
    v = np.asarray(values, dtype=float).reshape(-1)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "—"
    lo, hi = v.min(), v.max()
    return f"{lo:{fmt}}" if lo == hi else f"{lo:{fmt}} … {hi:{fmt}}"


def html_table(title: str, rows: Sequence[tuple[str, str]], *, ok: bool | None = None) -> str:
    """A small two-column HTML table with a bold title (cells are escaped).

    Parameters
    ----------
    title : str
    rows : sequence of (str, str)
        ``(label, value)`` pairs.
    ok : bool, optional
        Colours the title green (True) or red (False).

    Examples
    --------
    >>> print(html_table("Report", [("passed", "yes")]))  # doctest: +ELLIPSIS
    <table ...><caption ...><b>Report</b></caption><tr><th ...>passed</th><td ...>yes</td></tr></table>
    """
    colour = "" if ok is None else ("color:#1a7f37;" if ok else "color:#cf222e;")
    cap = f'<caption style="text-align:left;{colour}"><b>{html.escape(title)}</b></caption>'
    body = "".join(
        f'<tr><th style="text-align:left;padding-right:1em">{html.escape(k)}</th>'
        f'<td style="text-align:left">{html.escape(v)}</td></tr>'
        for k, v in rows
    )
    return f'<table style="border-collapse:collapse">{cap}{body}</table>'


def _status_text(summary: dict[str, int]) -> str:
    return ", ".join(f"{n} {name.lower().replace('_', ' ')}" for name, n in summary.items())


def _chart_text(chart: Any) -> str:
    return f"{chart.name} ({', '.join(c.name for c in chart.coords)})"


class ResultDisplay:
    """Mixin for FlowResult, DescentResult and GeodesicResult: ``_repr_html_`` and ``plot``.

    The summary shows the number of trajectories, the status counts, the chart,
    the recorded times (or steps) and the range of the final loss (or, for
    geodesics, of the energy drift): never the arrays themselves.
    """

    def _final_losses(self) -> np.ndarray | None:
        cached = self.__dict__.get("_losses")
        if cached is not None:
            return np.asarray(cached[-1])
        loss_fn = getattr(self, "_loss_fn", None)
        if loss_fn is None:
            return None
        last = np.asarray(self.xs[-1], dtype=float)
        flat = last.reshape(-1, last.shape[-1])
        out = np.full(flat.shape[0], np.nan)
        ok = np.isfinite(flat).all(axis=1)
        if ok.any():
            out[ok] = loss_fn(flat[ok])
        return out

    def _summary_rows(self) -> list[tuple[str, str]]:
        xs = np.asarray(self.xs)
        batch = int(np.prod(xs.shape[1:-1])) if xs.ndim > 2 else 1
        summary = self.summary()
        rows = [
            ("chart", _chart_text(self.chart)),
            ("trajectories", f"{batch}"),
            ("status", _status_text(summary)),
        ]
        if hasattr(self, "ks"):
            rows.append(("steps recorded", f"{len(self.ks)} (k = {int(self.ks[0])} … {int(self.ks[-1])})"))
            rows.append(("last valid step", fmt_range(self.k_final, ".0f")))
            rows.append(("preconditioner", str(self.preconditioner)))
        else:
            rows.append(("times recorded", f"{len(self.ts)} (t = {fmt_range(self.ts)})"))
            if hasattr(self, "t_final"):
                rows.append(("final time", fmt_range(self.t_final)))
            if hasattr(self, "n_steps"):
                rows.append(("steps per trajectory", fmt_range(self.n_steps, ".0f")))
            if hasattr(self, "stepper"):
                rows.append(("stepper", str(self.stepper)))
        final = self._final_losses()
        if final is not None:
            rows.append(("initial loss", fmt_range(self._initial_losses())))
            rows.append(("final loss", fmt_range(final)))
        if hasattr(self, "energies"):
            e = np.asarray(self.energies, dtype=float)
            with np.errstate(all="ignore"):
                drift = np.nanmax(np.abs(e - e[:1]) / np.maximum(np.abs(e[:1]), 1e-300), axis=0)
            rows.append(("energy g(v, v)", fmt_range(e[0])))
            rows.append(("relative energy drift", fmt_range(drift, ".2e")))
        messages = [m for name, m in zip(summary, self.messages) if name != "SUCCESS"]
        for m in messages:
            rows.append(("note", m))
        return rows

    def _initial_losses(self) -> np.ndarray:
        cached = self.__dict__.get("_losses")
        if cached is not None:
            return np.asarray(cached[0])
        first = np.asarray(self.xs[0], dtype=float)
        flat = first.reshape(-1, first.shape[-1])
        ok = np.isfinite(flat).all(axis=1)
        out = np.full(flat.shape[0], np.nan)
        if ok.any():
            out[ok] = self._loss_fn(flat[ok])
        return out

    def _repr_html_(self) -> str:
        ok = bool(np.all(np.asarray(self.status) == 0))
        return html_table(type(self).__name__, self._summary_rows(), ok=ok)

    def plot(
        self,
        ax: Any = None,
        *,
        kind: str = "auto",
        field: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Plot the result and return the matplotlib Axes.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure is made when omitted.
        kind : {"auto", "trajectories", "loss"}
            ``"trajectories"``: the paths in the chart's two coordinates, over
            log-spaced contours of the loss (2-D charts only). ``"loss"``: the
            loss against time (flows) or step (descent) on a log scale; for a
            geodesic, its coordinates against time. ``"auto"`` picks
            trajectories for 2-D charts, else the loss.
        field : FlowField, optional
            A field whose ``.loss`` draws the contours instead of the loss the
            result was solved with (e.g. with other call-time parameters).
        **kwargs
            Passed on to :func:`riemgrad.plotting.plot_trajectories` or
            :func:`riemgrad.plotting.plot_loss` (``label=``, ``levels=``,
            ``max_lines=``, ``color=``...).

        Returns
        -------
        matplotlib.axes.Axes

        Examples
        --------
        >>> import sympy as sp
        >>> import riemgrad as rg
        >>> x, y = sp.symbols("x y", real=True)
        >>> field = rg.compile_flow(rg.euclidean_metric(rg.Chart("plane", (x, y))), (x**2 + 4 * y**2) / 2)
        >>> res = rg.solve_flow(field, [[1.0, 1.0], [-1.0, 0.5]], (0.0, 2.0), dt=0.05, saveat=[0, 0.5, 1, 2])
        >>> ax = res.plot()
        >>> ax.get_xlabel(), ax.get_ylabel()
        ('$x$', '$y$')
        >>> res.plot(kind="loss").get_yscale()
        'log'
        """
        from .. import plotting

        if kind not in ("auto", "trajectories", "loss"):
            from ..errors import MethodNotApplicableError

            raise MethodNotApplicableError(
                f"`kind` must be 'auto', 'trajectories' or 'loss'; got {kind!r}. Use kind='loss' for the loss curve."
            )
        dim = np.asarray(self.xs).shape[-1]
        if kind == "auto":
            kind = "trajectories" if dim == 2 else "loss"
        if kind == "trajectories":
            if dim != 2:
                from ..errors import DimensionError

                raise DimensionError(
                    f"`kind='trajectories'` needs a 2-D chart; chart {self.chart.name!r} has {dim} coordinates. "
                    "Use kind='loss', or plot two coordinates with plotting.plot_trajectories(res.xs[..., [i, j]])."
                )
            loss = field.loss if field is not None else getattr(self, "_loss_fn", None)
            return plotting.plot_trajectories(self, loss=loss, ax=ax, **kwargs)
        if not hasattr(self, "_loss_fn") and field is None:
            return _plot_coordinates(self, ax, **kwargs)
        if field is not None:
            from types import SimpleNamespace

            xs = np.asarray(self.xs, dtype=float)
            flat = xs.reshape(-1, dim)
            losses = np.full(flat.shape[0], np.nan)
            ok = np.isfinite(flat).all(axis=1)
            losses[ok] = field.loss(flat[ok])
            rec = SimpleNamespace(losses=losses.reshape(xs.shape[:-1]), chart=self.chart)
            rec.__dict__.update({"ts": self.ts} if hasattr(self, "ts") else {"ks": self.ks})
            return plotting.plot_loss(rec, ax=ax, **kwargs)
        return plotting.plot_loss(self, ax=ax, **kwargs)


def _plot_coordinates(res: Any, ax: Any, **kwargs: Any) -> Any:
    """Each coordinate against time, one colour per coordinate (geodesics have no loss)."""
    from ..plotting import axes_or_new, coordinate_labels

    ax = axes_or_new(ax)
    xs = np.asarray(res.xs, dtype=float)
    xs = xs.reshape(xs.shape[0], -1, xs.shape[-1])
    labels = coordinate_labels(res.chart)
    style = {"lw": 1.0, "alpha": 0.8} | kwargs
    for i in range(xs.shape[-1]):
        for b in range(min(xs.shape[1], 50)):
            ax.plot(res.ts, xs[:, b, i], color=f"C{i}", label=labels[i] if b == 0 else None, **style)
    ax.set_xlabel("time $t$")
    ax.set_ylabel("coordinates")
    if xs.shape[-1] > 1:
        ax.legend(fontsize="small")
    return ax
