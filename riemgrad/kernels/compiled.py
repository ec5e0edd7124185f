"""``CompiledField``: what every compiled field shares.

Points and parameters checked and laid out for the kernels, guarded calls
(a Numba failure becomes a riemgrad error), first-use compilation with a
progress bar, and the launch of the typed runs of :mod:`.abi` (fixed-step and
adaptive) on worker threads under the run's control array (:mod:`.runner`).
:class:`~riemgrad.kernels.FlowField` and
:class:`~riemgrad.kernels.GeodesicField` build on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from .._frozen import Frozen
from .._progress import Progress, enabled
from ..errors import ArgumentTypeError, CompilationError, CoordinateError, DomainError, ShapeError, SolverSettingsError
from .abi import (
    CODE,
    CONTROL_DONE,
    CONTROL_FRACTION,
    CONTROL_STOP,
    EVALUATORS,
    SCALAR_MAX_BATCH,
    SCALAR_MAX_DIM,
    AdaptiveRun,
    FixedStepRun,
    control_array,
    kernel_name,
)
from .runner import chunk_bounds, run_controlled

__all__ = ["CompiledField", "BACKGROUND_WORK", "real_array"]

#: Runs estimated at ``steps * trajectories * dim**2`` below this are called on the calling thread
#: (a few hundredths of a second for a cheap 2-D field; handing a call to a worker thread costs
#: 0.03-0.3 ms); longer ones run on a worker thread, so that Ctrl-C stops them (see ``runner``).
BACKGROUND_WORK = 4_000_000

#: Kernel files whose Numba cache was purged after a failed load in this process (once each).
_HEALED: set[str] = set()


class CompiledField(Frozen):
    """The compiled kernels of an autonomous ODE ``dx/dt = F(x)`` on one chart, and the runs that step it.

    The part every compiled field shares: :class:`FlowField` (a gradient flow,
    ``F = -G^{-1} grad L``) and :class:`~riemgrad.kernels.geodesic.GeodesicField`
    (the geodesic equations). Not constructed directly. Points ``x`` have shape
    ``(dim,)`` or ``(batch, dim)`` in the chart's coordinate order.

    Attributes
    ----------
    chart : Chart
        The chart the coordinates are written in.
    params : tuple of sympy.Symbol
        Symbols whose values are given at call time.
    source : str
        The generated module; its header states the argument order.
    path : pathlib.Path
        Where the generated module lives in the cache.
    """

    def __init__(self, **attrs: Any) -> None:
        self._set(**attrs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(chart={self.chart.name!r}, coords={self.chart.coords}, params={self.params})"

    @property
    def dim(self) -> int:
        """The number of coordinates."""
        return self.chart.dim

    def __reduce__(self) -> tuple:
        """Pickle as generated source, hash and metadata, never compiled code (see :mod:`.transport`)."""
        from .transport import reduce_field

        return reduce_field(self)

    # ------------------------------------------------------------ plumbing
    def _kernel(self, name: str) -> Any:
        """The compiled function ``name`` of the generated module (see :mod:`riemgrad.kernels.abi`)."""
        return getattr(self._module, name)

    def param_vector(self, params: Any = None) -> np.ndarray:
        """The parameter values as a float array in :attr:`params` order.

        Raises
        ------
        CoordinateError
            If a parameter is missing, unknown, or the count is wrong.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, compile_flow, euclidean_metric
        >>> x, b = sp.Symbol("x", real=True), sp.Symbol("b")
        >>> field = compile_flow(euclidean_metric(Chart("line", (x,))), (x - b) ** 2, params=(b,))
        >>> field.param_vector({"b": 2}).tolist()
        [2.0]
        """
        names = [p.name for p in self.params]
        if params is None:
            params = {}
        if isinstance(params, Mapping):
            given = {(k.name if isinstance(k, sp.Symbol) else str(k)): v for k, v in params.items()}
            unknown = sorted(set(given) - set(names))
            missing = [n for n in names if n not in given]
            if unknown or missing:
                example = ", ".join(f"{n!r}: 1.0" for n in names)
                raise CoordinateError(
                    f"`params` must give exactly the parameters {names} of this field; "
                    f"missing {missing}, unknown {unknown}. Pass e.g. params={{{example}}}."
                )
            values = [given[n] for n in names]
        else:
            values = list(np.atleast_1d(real_array(params, "params")).reshape(-1))
            if len(values) != len(names):
                raise CoordinateError(
                    f"`params` must hold {len(names)} values, one for each of {names}; got {len(values)}."
                )
        out = np.ascontiguousarray(real_array(values, "params").reshape(-1))
        if not np.all(np.isfinite(out)):
            raise SolverSettingsError(
                f"`params` must be finite real numbers; got {dict(zip(names, out.tolist()))}. Fix the values."
            )
        return out if out.size else np.zeros(1)

    def layout(self, x: Any, name: str = "x", copy: bool = False) -> tuple[np.ndarray, tuple[int, ...]]:
        """``x`` in the kernels' layout: a C-contiguous ``(dim, batch)`` array, and the batch shape.

        Parameters
        ----------
        x : array_like, shape (dim,) or (batch, dim)
        name : str
            The argument's name, for the error message.
        copy : bool
            Never share memory with ``x`` (the kernels advance their input in place).

        Returns
        -------
        (numpy.ndarray of shape (dim, batch), tuple)
            The batch shape is ``()`` or ``(batch,)``.

        Raises
        ------
        ShapeError
            If ``x`` does not have shape ``(dim,)`` or ``(batch, dim)``.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, compile_flow, euclidean_metric
        >>> a, b = sp.symbols("a b", real=True)
        >>> field = compile_flow(euclidean_metric(Chart("ab", (a, b))), a**2 + b**2)
        >>> X, batch = field.layout([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        >>> X.shape, batch
        ((2, 3), (3,))
        """
        arr = real_array(x, name)
        if arr.ndim not in (1, 2) or arr.shape[-1] != self.dim:
            raise ShapeError(
                f"`{name}` must have shape ({self.dim},) or (batch, {self.dim}) for chart "
                f"{self.chart.name!r} {self.chart.coords}; got {arr.shape}."
            )
        batch = arr.shape[:-1]
        pts = arr.reshape(-1, self.dim).T
        return (np.array(pts, order="C") if copy else np.ascontiguousarray(pts)), batch

    def _require_domain(self, X: np.ndarray, name: str = "x") -> None:
        """Raise DomainError for a finite point of ``X`` (dim, B) outside the chart's domain (non-finite
        points evaluate to NaN: results hold NaN rows for trajectories that stopped)."""
        pts = X.T
        fin = np.all(np.isfinite(pts), axis=1)
        if not fin.any():
            return
        inside = self.chart.in_domain(pts[fin])
        if not inside.all():
            bad = pts[fin][~inside][0]
            raise DomainError(
                f"`{name}` must lie in the domain of chart {self.chart.name!r} {tuple(map(str, self.chart.coords))} "
                f"({dict(zip(map(str, self.chart.coords), self.chart.domain.values()))}); the point "
                f"{bad.tolist()} does not. The field is undefined there: pass points of the domain."
            )

    def _call(self, name: str, *args: Any) -> Any:
        """Call a compiled kernel (announcing a compilation that lasts), turning a Numba failure into
        :class:`CompilationError`."""
        self._compile(name, args)
        return self._guard(name, self._kernel(name), *args)

    def _guard(self, name: str, fn: Any, *args: Any) -> Any:
        """``fn(*args)``, with a Numba failure as :class:`CompilationError` naming the kernel ``name``."""
        try:
            return fn(*args)
        except Exception as exc:
            import numba.core.errors as nerr

            if not isinstance(exc, nerr.NumbaError) and str(self.path) not in _HEALED:
                # a damaged file of Numba's on-disk cache (index or data): drop it and compile afresh, once
                from .cache import CacheRepairWarning, purge_numba_cache

                if self.path is not None and purge_numba_cache(Path(self.path)):
                    import warnings

                    warnings.warn(
                        f"riemgrad's kernel cache: Numba's cached code for {self.path} failed to load "
                        f"({type(exc).__name__}); it was discarded and is compiled again.",
                        CacheRepairWarning,
                        stacklevel=3,
                    )
                    _HEALED.add(str(self.path))
                    return fn(*args)

            if isinstance(exc, nerr.NumbaError):
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise CompilationError(
                    f"Numba could not compile `{name}` for the field on chart {self.chart.name!r}: {first}. "
                    f"The generated source is in {self.path}; simplify the loss or metric, or report this."
                ) from None
            raise

    def _compile(self, name: str, args: tuple, what: str | None = None, progress: bool | None = None) -> None:
        """Compile kernel ``name`` for the types of ``args`` (or load it from the disk cache) unless it
        has a compiled signature already, on a worker thread; a bar announces it after a second.

        Numba compiles on first call; doing it here, apart, lets the bar say what is compiled, keeps
        Ctrl-C responsive (the compilation itself cannot be stopped: it finishes in the background)
        and leaves the solve's own timing to running.
        """
        fn = self._kernel(name)
        if getattr(fn, "overloads", True) or not hasattr(fn, "typeof_pyval"):  # compiled, or NUMBA_DISABLE_JIT
            return
        sig = tuple(fn.typeof_pyval(a) for a in args)
        what = what or name.strip("_").replace("_", " ")
        desc = f"compiling {what} kernels for {type(self).__name__} on chart {self.chart.name!r} (first use; cached on disk)"
        bar = Progress(desc, None, "s", show=enabled(progress), leave=True)
        try:
            run_controlled(lambda _: self._guard(name, fn.compile, sig), 1, None, 1, watch=bar.update,
                           join_on_interrupt=False)
        finally:
            bar.close()

    def _launch(
        self,
        name: str,
        calls: list[tuple],
        ctl: np.ndarray,
        threads: int,
        *,
        work: float,
        what: str,
        total: float,
        unit: str,
        done: Any,
        progress: bool | None,
    ) -> None:
        """Run kernel ``name`` once per argument tuple of ``calls`` (each ending with its control row),
        on worker threads when the work is long or split, with a progress bar for long runs;
        ``done()`` reads the progress from ``ctl`` in units of ``unit``."""
        if not calls:  # an empty batch (e.g. the shape probe of a lazy Dask solve): nothing to run
            return
        self._compile(name, calls[0], what, progress)
        fn = self._kernel(name)
        if len(calls) == 1 and work < BACKGROUND_WORK:  # short: here, no thread, no bar
            self._guard(name, fn, *calls[0])
        else:
            bar = Progress(f"{what} on chart {self.chart.name!r}", total, unit, show=enabled(progress))
            try:
                run_controlled(
                    lambda i: self._guard(name, fn, *calls[i]),
                    len(calls),
                    ctl,
                    threads,
                    watch=lambda: bar.update(done()),
                )
            finally:
                bar.close(done())
        if any(ctl[:, CONTROL_STOP].tolist()):  # stopped from another thread: the state is incomplete
            raise KeyboardInterrupt(f"{what} on chart {self.chart.name!r} was stopped through its control array")

    def velocity(self, x: Any, params: Any = None) -> np.ndarray:
        """The right-hand side ``F(x)`` (for a gradient flow ``-G(x)^{-1} grad L(x)``), shape like ``x``.

        With strategy ``"cholesky"``, rows where the metric is numerically
        singular are NaN.
        """
        X, batch = self.layout(x)
        self._require_domain(X)
        out = np.empty_like(X)
        status = np.zeros(X.shape[1], np.int64)
        self._call(EVALUATORS["velocity"], X, self.param_vector(params), out, status)
        out[:, status != CODE["SUCCESS"]] = np.nan
        return out.T.reshape(batch + (self.dim,))

    # ------------------------------------------------------------- runs
    def run_fixed(
        self,
        run: FixedStepRun,
        X: np.ndarray,
        status: np.ndarray,
        tlast: np.ndarray,
        *,
        threads: int = 1,
        scalar: bool | None = None,
        progress: bool | None = None,
    ) -> np.ndarray:
        """Advance the batch ``X`` (dim, B) by ``run.nsteps`` fixed steps, in place.

        Parameters
        ----------
        run : FixedStepRun
        X : numpy.ndarray, shape (dim, B)
            The states, from :meth:`layout`; advanced in place to the last valid state.
        status : numpy.ndarray of int64, shape (B,)
            Per-trajectory status codes (0 to start), written.
        tlast : numpy.ndarray, shape (B,)
            The time of each trajectory's last valid state, written.
        threads : int
            Threads for the chunked layout.
        scalar : bool, optional
            Force the register layout (True) or the chunked one (False); default: the register
            layout for batches of at most ``SCALAR_MAX_BATCH`` and dimension at most ``SCALAR_MAX_DIM``.
        progress : bool, optional
            Show a progress bar for a long run (None: ``riemgrad.config.progress``).

        Raises
        ------
        KeyboardInterrupt
            On Ctrl-C (or when ``run.control``'s stop column is set): the kernels stopped within a
            block of steps; ``X``, ``status`` and ``tlast`` are then incomplete.

        Returns
        -------
        numpy.ndarray, shape (n_save, B, dim)
            The saved states, NaN after a trajectory failed.

        Examples
        --------
        >>> import numpy as np, sympy as sp
        >>> from riemgrad import Chart, compile_flow, euclidean_metric
        >>> from riemgrad.kernels.abi import FixedStepRun
        >>> x = sp.Symbol("x", real=True)
        >>> field = compile_flow(euclidean_metric(Chart("line", (x,))), x**2 / 2)
        >>> X, _ = field.layout([[1.0]], copy=True)
        >>> status, tlast = np.zeros(1, np.int64), np.zeros(1)
        >>> run = FixedStepRun("euler", 0.0, 0.5, 2, np.array([0, 2]), np.zeros(1))
        >>> field.run_fixed(run, X, status, tlast)[:, 0, 0].tolist()   # x <- x - 0.5 x, twice
        [1.0, 0.25]
        """
        B = X.shape[1]
        XS = np.empty((run.save_idx.size, B, self.dim))
        if scalar is None:
            scalar = B <= SCALAR_MAX_BATCH and self.dim <= SCALAR_MAX_DIM
        if scalar:
            name, bounds = kernel_name("fixed_scalar", run.stepper), [0, B]
        else:
            name, bounds = kernel_name("fixed_range", run.stepper), chunk_bounds(B, threads)
        ctl = self._control(run.control, len(bounds) - 1)
        if scalar:
            calls = [(X, *run.kernel_args(), XS, status, tlast, ctl[0])]
        else:
            full = run.kernel_args() + (XS, status, tlast)
            calls = [(X, bounds[i], bounds[i + 1], *full, ctl[i % len(ctl)]) for i in range(len(bounds) - 1)]
        self._launch(
            name, calls, ctl, threads, work=float(run.nsteps) * B * self.dim**2, what=run.stepper,
            total=run.nsteps, unit="step", done=lambda: int(ctl[:, CONTROL_DONE].sum()) // max(B, 1), progress=progress,
        )
        return XS

    @staticmethod
    def _control(given: np.ndarray | None, calls: int) -> np.ndarray:
        """The run's control array: the one of the run record, or a fresh one with a row per call."""
        return control_array(calls) if given is None else given

    def run_adaptive(
        self,
        run: AdaptiveRun,
        X: np.ndarray,
        status: np.ndarray,
        tlast: np.ndarray,
        nsteps: np.ndarray,
        *,
        threads: int = 1,
        progress: bool | None = None,
    ) -> np.ndarray:
        """Integrate the batch ``X`` (dim, B) with the adaptive Dormand-Prince pair, in place.

        As :meth:`run_fixed`; ``nsteps`` (int64, shape (B,)) receives the steps taken
        (accepted and rejected). Returns the states at ``run.save_t``, shape ``(n_save, B, dim)``.
        """
        B = X.shape[1]
        XS = np.empty((run.save_t.size, B, self.dim))
        name = kernel_name("adaptive_range")
        args = run.kernel_args() + (XS, status, tlast, nsteps)
        size = max(1, math.ceil(B / (4 * threads))) if threads > 1 else max(B, 1)
        starts = range(0, B, size)
        ctl = self._control(run.control, len(starts))
        calls = [(X, a, min(B, a + size), *args, ctl[i % len(ctl)]) for i, a in enumerate(starts)]
        self._launch(
            name, calls, ctl, threads, work=float(run.max_steps) * B * self.dim**2, what="dopri5", total=B, unit="trajectory",
            done=lambda: ctl[:, CONTROL_DONE].sum() + ctl[:, CONTROL_FRACTION].sum() / 1e6, progress=progress,
        )
        return XS



def real_array(x: Any, name: str) -> np.ndarray:
    """``x`` as a float array; a ragged, complex, boolean or non-numeric input is a clear error.

    Non-finite entries are kept (a start point that is not finite gets the NONFINITE status).

    Parameters
    ----------
    x : array_like
    name : str
        The argument's name, for the message.

    Returns
    -------
    numpy.ndarray of float

    Raises
    ------
    ShapeError
        If ``x`` is ragged (not rectangular).
    ArgumentTypeError
        If ``x`` holds complex, boolean or non-numeric entries.

    Examples
    --------
    >>> real_array([[1, 2], [3, 4]], "x0").dtype
    dtype('float64')
    >>> real_array([[1.0, 2.0], [3.0]], "x0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    riemgrad.errors.ShapeError: `x0` must be a rectangular array of real numbers...
    """
    try:
        arr = np.asarray(x)
    except ValueError:
        arr = None
    if arr is None or arr.dtype == object and any(isinstance(e, (list, tuple, np.ndarray)) for e in arr.flat):
        raise ShapeError(
            f"`{name}` must be a rectangular array of real numbers (all rows of the same length); got {x!r:.80}."
        )
    kind = arr.dtype.kind
    if kind in "iuf":
        return np.asarray(arr, dtype=float)
    if kind == "O" and all(isinstance(e, (int, float, np.integer, np.floating, sp.Integer, sp.Float, sp.Rational))
                           and not isinstance(e, (bool, np.bool_)) for e in arr.flat):
        return np.asarray(arr, dtype=float)
    raise ArgumentTypeError(
        f"`{name}` must hold real numbers (float or int); got entries of type {arr.dtype} ({x!r:.80}). "
        "Pass real floats; complex numbers, booleans and strings are not coordinates or parameter values."
    )
