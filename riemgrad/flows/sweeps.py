"""Sweeps on Dask: flows, descent and geodesics over a ``dask.array`` of starting points.

:func:`~riemgrad.solve_flow`, :func:`~riemgrad.descend` and :func:`~riemgrad.geodesic` hand a
``dask.array`` of starting points (chunked along the batch axis) to this module. Each chunk
becomes one task that runs the NumPy path on its block; the field travels as its generated
source (:mod:`riemgrad.kernels.transport`) and each worker process loads its kernels once. The
results hold dask arrays, computed with whatever scheduler the user has (threads, processes, a
``distributed.Client``); a failing trajectory is a status in its task's block, never an
exception. :func:`sweep` runs one field over a grid of ``params`` values x starting points.

Nothing here imports Dask until a dask array arrives.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import numpy as np

from ..errors import ArgumentTypeError, CoordinateError, MissingDependencyError, ShapeError
from ._lazy import is_dask_array
from .geodesics import GeodesicResult
from .results import DescentResult, FlowResult

__all__ = ["lazy_solve_flow", "lazy_descend", "lazy_geodesic", "sweep", "SweepResult"]


def _points(x0: Any, dim: int, name: str = "x0") -> Any:
    """``x0`` as a float dask array ``(batch, dim)`` with the coordinates in one chunk."""
    if x0.ndim != 2 or x0.shape[1] != dim:
        raise ShapeError(
            f"`{name}` as a dask array must have shape (batch, {dim}), chunked along the batch axis; "
            f"got {x0.shape}. Build it with dask.array.from_array(points, chunks=(10_000, {dim}))."
        )
    x0 = x0.astype(float)
    return x0 if len(x0.chunks[1]) == 1 else x0.rechunk({1: -1})


def _serial(kwargs: dict) -> dict:
    """One thread per task unless asked otherwise: the scheduler already runs tasks in parallel."""
    return {**kwargs, "parallel": kwargs.get("parallel", "auto") is True}


def _masked(fn: Any, flat: np.ndarray) -> np.ndarray:
    """``fn`` on the finite rows of ``flat`` (m, dim), NaN elsewhere."""
    ok = np.isfinite(flat).all(axis=1)
    out = np.full(flat.shape[0], np.nan)
    if ok.any():
        out[ok] = fn(flat[ok])
    return out


def _block_losses(block: np.ndarray, field: Any, params: Any) -> np.ndarray:
    flat = block.reshape(-1, block.shape[-1])
    return _masked(lambda x: field.loss(x, params), flat).reshape(block.shape[:-1])


# ----------------------------------------------------------------- blocks
# A task returns one float block (b, columns): the saved states, then the per-trajectory records.
# Status codes and step counts are small integers, exact in float64.


def _flow_block(x: np.ndarray, field: Any, t_span: tuple, kwargs: dict) -> np.ndarray:
    from .solve import solve_flow

    res = solve_flow(field, x, t_span, **kwargs)
    states = res.xs.transpose(1, 0, 2).reshape(x.shape[0], -1)
    return np.column_stack([states, res.status, res.t_final, res.n_steps])


def _descent_block(x: np.ndarray, field: Any, kwargs: dict) -> np.ndarray:
    from .solve import descend

    res = descend(field, x, **kwargs)
    states = res.xs.transpose(1, 0, 2).reshape(x.shape[0], -1)
    return np.column_stack([states, res.status, res.k_final])


def _geodesic_block(s: np.ndarray, field: Any, t_span: tuple, kwargs: dict) -> np.ndarray:
    from .geodesics import _energies
    from .solve import solve_flow

    res = solve_flow(field, s, t_span, **kwargs)
    states = res.xs.transpose(1, 0, 2).reshape(s.shape[0], -1)
    return np.column_stack([states, _energies(field, res.xs).T, res.status])


def _shared(field: Any) -> Any:
    """The field as one key of the graph, named by its source hash: pickled once per graph (not once per
    task) and held by each worker that needs it, rather than unpickled by every task."""
    import dask

    from ..kernels.cache import source_hash

    return dask.delayed(field, name=f"riemgrad-field-{type(field).__name__}-{source_hash(field.source)}-{id(field):x}")


def _run_blocks(fn: Any, x: Any, ncols: int, field: Any, *args: Any) -> Any:
    import dask.array as da

    return da.map_blocks(
        fn, x, _shared(field), *args, chunks=(x.chunks[0], (ncols,)), dtype=float, meta=np.empty((0, 0))
    )


def _states(packed: Any, n_t: int, dim: int, start: int = 0, width: int | None = None) -> Any:
    """Columns of the packed block as states ``(n_t, batch, dim)`` (a slice of ``width`` per time)."""
    width = dim if width is None else width
    cols = packed[:, : n_t * width].reshape(packed.shape[0], n_t, width)[..., start : start + dim]
    return cols.transpose(1, 0, 2)


# ----------------------------------------------------------------- results
class _Lazy:
    """What lazy results add: ``compute()`` (every array in one pass) and ``persist()``."""

    _ARRAYS: tuple[str, ...] = ()
    _EAGER: type = object

    def _fields(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_losses")}

    def compute(self, **kwargs: Any) -> Any:
        """The NumPy result: every array computed in one pass of the current scheduler."""
        import dask

        attrs = self._fields()
        values = dask.compute(*(attrs[k] for k in self._ARRAYS), **kwargs)
        return self._EAGER(**{**attrs, **dict(zip(self._ARRAYS, values))})

    def persist(self, **kwargs: Any) -> Any:
        """The same lazy result with its arrays held in (cluster) memory."""
        import dask

        attrs = self._fields()
        values = dask.persist(*(attrs[k] for k in self._ARRAYS), **kwargs)
        return type(self)(**{**attrs, **dict(zip(self._ARRAYS, values))})


class _LazyRecorded(_Lazy):
    @property
    def losses(self) -> Any:
        """The loss at each recorded state, a dask array of shape ``xs.shape[:-1]`` (NaN after a failure)."""
        cached = self.__dict__.get("_losses")
        if cached is None:
            fld, p = self._loss_fn
            cached = self.xs.map_blocks(_block_losses, _shared(fld), p, drop_axis=self.xs.ndim - 1, dtype=float)
            object.__setattr__(self, "_losses", cached)
        return cached


class LazyFlowResult(_LazyRecorded, FlowResult):
    """A :class:`~riemgrad.FlowResult` whose ``xs``, ``status``, ``t_final``, ``n_steps`` and ``losses``
    are dask arrays; ``compute()`` gives the NumPy result."""

    _ARRAYS = ("xs", "status", "t_final", "n_steps")
    _EAGER = FlowResult

    def compute(self, **kwargs: Any) -> FlowResult:  # noqa: D102 - as _Lazy.compute
        res = super().compute(**kwargs)
        fld, p = self._loss_fn
        return FlowResult(**{**vars(res), "_loss_fn": lambda x: fld.loss(x, p)})


class LazyDescentResult(_LazyRecorded, DescentResult):
    """A :class:`~riemgrad.DescentResult` whose arrays are dask arrays; ``compute()`` gives the NumPy one."""

    _ARRAYS = ("xs", "status", "k_final")
    _EAGER = DescentResult

    def compute(self, **kwargs: Any) -> DescentResult:  # noqa: D102 - as _Lazy.compute
        res = super().compute(**kwargs)
        fld, p = self._loss_fn
        return DescentResult(**{**vars(res), "_loss_fn": lambda x: fld.loss(x, p)})


class LazyGeodesicResult(_Lazy, GeodesicResult):
    """A :class:`~riemgrad.GeodesicResult` whose arrays are dask arrays; ``compute()`` gives the NumPy one."""

    _ARRAYS = ("xs", "vs", "energies", "status")
    _EAGER = GeodesicResult


# ----------------------------------------------------------------- drivers
def lazy_solve_flow(field: Any, x0: Any, t_span: tuple, **kwargs: Any) -> LazyFlowResult:
    """:func:`~riemgrad.solve_flow` over a dask array ``x0`` of shape ``(batch, dim)``: one task per chunk.

    The arguments are checked at once (a probe on an empty batch, which also gives the recorded
    times); the trajectories run when the result's arrays are computed. Blocks run on one
    thread each (``parallel=False``) unless ``parallel=True`` is passed: the scheduler runs
    blocks in parallel.

    Examples
    --------
    >>> import dask.array as da, numpy as np, sympy as sp
    >>> from riemgrad import Chart, compile_flow, euclidean_metric, solve_flow
    >>> x = sp.Symbol("x", real=True)
    >>> field = compile_flow(euclidean_metric(Chart("line", (x,))), x**2 / 2)
    >>> x0 = da.from_array(np.array([[1.0], [2.0], [4.0]]), chunks=(2, 1))
    >>> res = solve_flow(field, x0, (0.0, 1.0), dt=0.01)
    >>> type(res.xs).__name__, res.xs.shape, res.xs.numblocks
    ('Array', (2, 3, 1), (1, 2, 1))
    >>> np.allclose(res.xs[-1, :, 0].compute(), np.array([1, 2, 4]) * np.exp(-1.0)), res.status.compute().tolist()
    (True, [0, 0, 0])
    """
    from .solve import solve_flow

    x0 = _points(x0, field.dim)
    kwargs = _serial(kwargs)
    probe = solve_flow(field, np.empty((0, field.dim)), t_span, **kwargs)
    n_t, dim = probe.ts.size, field.dim
    packed = _run_blocks(_flow_block, x0, n_t * dim + 3, field, tuple(t_span), kwargs)
    p = field.param_vector(kwargs.get("params")) if field.params else None
    loss = (field, p) if hasattr(field, "loss") else (_NoLoss(probe._loss_fn), None)
    return LazyFlowResult(
        ts=probe.ts,
        xs=_states(packed, n_t, dim),
        status=packed[:, -3].astype(np.int64),
        t_final=packed[:, -2],
        n_steps=packed[:, -1].astype(np.int64),
        chart=field.chart,
        stepper=probe.stepper,
        _loss_fn=loss,
    )


class _NoLoss:
    """Stands in for a field without a loss: ``.loss`` raises the NumPy path's error."""

    def __init__(self, fail: Any) -> None:
        self.loss = lambda x, p: fail(x)


def lazy_descend(field: Any, x0: Any, **kwargs: Any) -> LazyDescentResult:
    """:func:`~riemgrad.descend` over a dask array ``x0`` of shape ``(batch, dim)``: one task per chunk.

    Examples
    --------
    >>> import dask.array as da, numpy as np, sympy as sp
    >>> from riemgrad import Chart, compile_flow, descend, euclidean_metric
    >>> x = sp.Symbol("x", real=True)
    >>> field = compile_flow(euclidean_metric(Chart("line", (x,))), x**2 / 2)
    >>> res = descend(field, da.from_array(np.array([[1.0], [2.0]]), chunks=(1, 1)), lr=0.5, steps=3)
    >>> res.compute().xs[-1].ravel().tolist(), res.losses[-1].compute().tolist()
    ([0.125, 0.25], [0.0078125, 0.03125])
    """
    from .solve import descend

    x0 = _points(x0, field.dim)
    kwargs = _serial(kwargs)
    probe = descend(field, np.empty((0, field.dim)), **kwargs)
    n_k, dim = probe.ks.size, field.dim
    packed = _run_blocks(_descent_block, x0, n_k * dim + 2, field, kwargs)
    p = field.param_vector(kwargs.get("params")) if field.params else None
    return LazyDescentResult(
        ks=probe.ks,
        xs=_states(packed, n_k, dim),
        status=packed[:, -2].astype(np.int64),
        k_final=packed[:, -1].astype(np.int64),
        chart=field.chart,
        preconditioner=probe.preconditioner,
        _loss_fn=(field, p),
    )


def lazy_geodesic(metric: Any, x0: Any, v0: Any, t_span: tuple, **kwargs: Any) -> LazyGeodesicResult:
    """:func:`~riemgrad.geodesic` over dask arrays ``x0``, ``v0`` of shape ``(batch, dim)``.

    The compiled geodesic field is built here and travels to the workers as its source.

    Examples
    --------
    >>> import dask.array as da, numpy as np, sympy as sp
    >>> from riemgrad import Chart, Metric, geodesic
    >>> x = sp.Symbol("x", real=True)
    >>> y = sp.Symbol("y", positive=True)
    >>> half_plane = Metric(Chart("half_plane", (x, y)), sp.diag(1 / y**2, 1 / y**2))
    >>> x0 = da.from_array(np.array([[0.0, 1.0], [2.0, 1.0]]), chunks=(1, 2))
    >>> res = geodesic(half_plane, x0, da.zeros((2, 2), chunks=(1, 2)) + [0.0, 1.0], (0.0, 1.0))
    >>> np.round(res.xs[-1, :, 1].compute(), 8).tolist()   # y(t) = e^t on vertical lines
    [2.71828183, 2.71828183]
    """
    import dask.array as da

    from ..kernels import geodesic_field
    from .geodesics import geodesic
    from .steppers import Dopri5

    n = metric.dim
    if not is_dask_array(x0):
        x0 = da.from_array(np.asarray(x0, dtype=float), chunks=v0.chunks if is_dask_array(v0) else -1)
    if not is_dask_array(v0):
        v0 = da.from_array(np.asarray(v0, dtype=float), chunks=x0.chunks)
    x0, v0 = _points(x0, n), _points(v0, n, "v0")
    if x0.shape != v0.shape:
        raise ShapeError(f"`x0` and `v0` must have the same shape; got {x0.shape} and {v0.shape}.")
    kwargs = _serial(kwargs)
    probe = geodesic(metric, np.empty((0, n)), np.empty((0, n)), t_span, **kwargs)
    fld = geodesic_field(metric)
    stepper, rtol, atol = kwargs.pop("stepper", "dopri5"), kwargs.pop("rtol", None), kwargs.pop("atol", None)
    if isinstance(stepper, str) and stepper == "dopri5":  # geodesic's tighter defaults
        stepper = Dopri5(rtol=1e-10 if rtol is None else rtol, atol=1e-12 if atol is None else atol)
        rtol = atol = None
    kwargs.update(stepper=stepper, rtol=rtol, atol=atol)
    state = da.concatenate([x0, v0.rechunk({0: x0.chunks[0]})], axis=1).rechunk({1: -1})
    n_t = probe.ts.size
    packed = _run_blocks(_geodesic_block, state, n_t * 2 * n + n_t + 1, fld, tuple(t_span), kwargs)
    return LazyGeodesicResult(
        ts=probe.ts,
        xs=_states(packed, n_t, n, 0, 2 * n),
        vs=_states(packed, n_t, n, n, 2 * n),
        energies=packed[:, n_t * 2 * n : n_t * 2 * n + n_t].T,
        status=packed[:, -1].astype(np.int64),
        chart=metric.chart,
    )


# ----------------------------------------------------------------- sweeps
@dataclass(frozen=True)
class SweepResult:
    """One field over a grid of ``params`` values x starting points: labelled, lazy arrays.

    Attributes
    ----------
    dims : tuple of str
        The names of the axes of :attr:`xs`: the time axis (``"t"``, or ``"k"`` for descent), one
        axis per parameter (in the field's order), ``"start"`` and ``"coord"``. :attr:`status`
        and :attr:`losses` drop the time and coordinate axes as their shapes say.
    coords : dict of str to numpy.ndarray
        The coordinates of each labelled axis: the recorded times or step indices, each
        parameter's values, and the coordinate names.
    xs : dask.array.Array, shape (n_t, n_p1, ..., n_pm, batch, dim)
        The recorded states.
    status : dask.array.Array of int, shape (n_p1, ..., n_pm, batch)
        One :class:`~riemgrad.Status` per (parameter values, start).
    losses : dask.array.Array, shape (n_t, n_p1, ..., n_pm, batch)
        The loss (with each grid point's parameter values) at each recorded state.
    chart : Chart
        The chart of ``xs``.
    """

    dims: tuple[str, ...]
    coords: dict[str, np.ndarray]
    xs: Any
    status: Any
    losses: Any
    chart: Any = dc_field(repr=False)

    def compute(self, **kwargs: Any) -> SweepResult:
        """The same record with NumPy arrays, computed in one pass of the current scheduler."""
        import dask

        xs, status, losses = dask.compute(self.xs, self.status, self.losses, **kwargs)
        return SweepResult(self.dims, self.coords, xs, status, losses, self.chart)

    def to_xarray(self) -> Any:
        """An ``xarray.Dataset`` with ``xs``, ``status`` and ``losses`` on the labelled axes.

        Raises
        ------
        MissingDependencyError
            If xarray is not installed.
        """
        try:
            import xarray as xr
        except ImportError:
            raise MissingDependencyError(
                "`to_xarray` needs xarray, which is not installed: pip install xarray. "
                "Without it, use the arrays with `dims` and `coords`."
            ) from None
        d = self.dims
        data = {"xs": (d, self.xs), "status": (d[1:-1], self.status), "losses": (d[:-1], self.losses)}
        return xr.Dataset(data, coords={k: v for k, v in self.coords.items()})


def sweep(
    field: Any,
    x0: Any,
    params: Mapping[Any, Any],
    *,
    method: str = "flow",
    chunks: int = 4096,
    **kwargs: Any,
) -> SweepResult:
    """Run one field over a grid of ``params`` values x starting points, lazily on Dask.

    Every combination of the parameter values (the Cartesian product, in the field's
    :attr:`~riemgrad.FlowField.params` order) runs :func:`~riemgrad.solve_flow` (or
    :func:`~riemgrad.descend`) on every chunk of ``x0``: one task per (combination, chunk).

    Parameters
    ----------
    field : FlowField
        From :func:`riemgrad.compile_flow` with ``params=...``.
    x0 : array_like or dask.array.Array, shape (batch, dim)
        Starting points; a NumPy array is split into chunks of ``chunks`` rows.
    params : mapping
        One 1-D sequence of values per parameter of the field (by symbol or name).
    method : {"flow", "descend"}
        Which solver runs.
    chunks : int
        Rows per task when ``x0`` is not already a dask array.
    **kwargs
        The solver's settings (``t_span`` for the flow, with ``dt``, ``stepper``, ...;
        ``lr`` and ``steps`` for descent).

    Returns
    -------
    SweepResult

    Raises
    ------
    CoordinateError
        If ``params`` misses a parameter of the field or names one it does not have.
    ArgumentTypeError
        If ``method`` is unknown.

    Examples
    --------
    The flow of ``(x - b)^2 / 2`` reaches ``b + (x0 - b) e^{-t}``:

    >>> import numpy as np, sympy as sp
    >>> from riemgrad import Chart, compile_flow, euclidean_metric
    >>> x, b = sp.Symbol("x", real=True), sp.Symbol("b")
    >>> field = compile_flow(euclidean_metric(Chart("line", (x,))), (x - b) ** 2 / 2, params=(b,))
    >>> res = sweep(field, np.array([[0.0], [2.0]]), {"b": [1.0, 3.0]}, t_span=(0.0, 1.0), dt=1e-3)
    >>> res.dims, res.xs.shape
    (('t', 'b', 'start', 'coord'), (2, 2, 2, 1))
    >>> out = res.compute()
    >>> np.allclose(out.xs[-1, :, :, 0], [[1 - np.exp(-1), 1 + np.exp(-1)], [3 - 3 * np.exp(-1), 3 - np.exp(-1)]])
    True
    >>> out.status.tolist()
    [[0, 0], [0, 0]]
    """
    import dask.array as da

    from .solve import descend, solve_flow

    if method not in ("flow", "descend"):
        raise ArgumentTypeError(f"`method` must be 'flow' or 'descend'; got {method!r}.")
    names = [p.name for p in field.params]
    given = {(getattr(k, "name", None) or str(k)): np.asarray(v, dtype=float).reshape(-1) for k, v in params.items()}
    if set(given) != set(names):
        raise CoordinateError(
            f"`params` must give values for exactly the field's parameters {names}; got {sorted(given)}. "
            f"Pass e.g. params={{{', '.join(f'{n!r}: [0.0, 1.0]' for n in names)}}}."
        )
    if not is_dask_array(x0):
        x0 = np.asarray(x0, dtype=float)
        if x0.ndim != 2:
            raise ShapeError(f"`x0` must have shape (batch, {field.dim}); got {x0.shape}.")
        x0 = da.from_array(x0, chunks=(max(1, int(chunks)), x0.shape[1]))
    grid = [given[n] for n in names]
    shape = tuple(v.size for v in grid)
    results = []
    for values in itertools.product(*grid):
        p = dict(zip(names, values))
        if method == "flow":
            results.append(solve_flow(field, x0, params=p, **kwargs))
        else:
            results.append(descend(field, x0, params=p, **kwargs))
    first = results[0]
    batch = first.xs.shape[1]

    def stack(arrays: list, lead: int, tail: tuple) -> Any:
        out = da.stack(arrays, axis=lead)
        return out.reshape(out.shape[:lead] + shape + tail)

    time_name, times = ("t", first.ts) if method == "flow" else ("k", first.ks)
    coords = {time_name: times, **dict(zip(names, grid)), "start": np.arange(batch),
              "coord": np.array([c.name for c in field.chart.coords])}  # fmt: skip
    return SweepResult(
        dims=(time_name, *names, "start", "coord"),
        coords=coords,
        xs=stack([r.xs for r in results], 1, (batch, field.dim)),
        status=stack([r.status for r in results], 0, (batch,)),
        losses=stack([r.losses for r in results], 1, (batch,)),
        chart=field.chart,
    )
