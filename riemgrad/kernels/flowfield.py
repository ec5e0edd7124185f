"""``FlowField``: the compiled kernels of one field, and the typed runs the solvers ask of them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from ..errors import ArgumentTypeError, CompilationError, DomainError, CoordinateError, ShapeError, SolverSettingsError
from ..symbolic._util import Frozen
from .._progress import Progress, enabled
from .abi import (
    CODE,
    CONTROL_DONE,
    CONTROL_FRACTION,
    CONTROL_STOP,
    EVALUATORS,
    SCALAR_MAX_BATCH,
    SCALAR_MAX_DIM,
    AdaptiveRun,
    DescentRun,
    FixedStepRun,
    control_array,
    kernel_name,
)
from .codegen.steppers import FIXED
from .codegen.template import DESCENT_KINDS
from .runner import chunk_bounds, run_controlled

__all__ = ["CompiledField", "FlowField", "BACKGROUND_WORK"]

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

class FlowField(CompiledField):
    """Compiled numeric kernels of a Riemannian gradient flow on one chart.

    Made by :func:`compile_flow`; not constructed directly. Every numeric
    method takes points ``x`` of shape ``(dim,)`` or ``(batch, dim)`` in the
    chart's coordinate order, and ``params`` (the values of the symbols listed
    in :attr:`params`, as a sequence in that order or a mapping from symbol or
    name to value).

    Attributes
    ----------
    chart : Chart
        The chart the coordinates are written in.
    params : tuple of sympy.Symbol
        Symbols whose values are given at call time.
    loss_expr : sympy.Expr
        The loss.
    riemannian_metric : Metric
        The metric (symbolic).
    velocity_expr : tuple of sympy.Expr or None
        The derived velocity ``-G^{-1} grad L`` when it was derived symbolically
        (strategies ``"exact"`` and ``"symbolic"``), else None.
    strategy : str
        ``"exact"`` (constant metric, solved in rational arithmetic),
        ``"symbolic"`` (velocity derived and simplified symbolically),
        ``"cholesky"`` (an inlined Cholesky solve at every evaluation),
        or ``"qr"`` (least squares through QR of the residuals' Jacobian).
    source : str
        The generated module; its header states the argument order.
    path : pathlib.Path
        Where the generated module lives in the cache.

    Examples
    --------
    >>> import numpy as np, sympy as sp
    >>> from riemgrad import Chart, Metric, compile_flow
    >>> mu = sp.Symbol("mu", real=True)
    >>> sigma = sp.Symbol("sigma", positive=True)
    >>> g = Metric(Chart("sigma", (mu, sigma)), sp.diag(1 / sigma**2, 2 / sigma**2))
    >>> kl = sp.log(sigma / 2) + (4 + (1 - mu) ** 2) / (2 * sigma**2) - sp.Rational(1, 2)
    >>> field = compile_flow(g, kl)
    >>> field.strategy, field.velocity_expr
    ('symbolic', (1 - mu, (-sigma**2 + (1 - mu)**2 + 4)/(2*sigma)))
    >>> np.round(field.velocity([0.0, 1.0]), 12).tolist()
    [1.0, 2.0]
    >>> field.velocity(np.array([[0.0, 1.0], [1.0, 2.0]])).shape
    (2, 2)
    """


    def _repr_latex_(self) -> str:
        r"""The compiled velocity field for Jupyter: ``\dot{x}^k = ...`` per coordinate (or
        ``-G^{-1} \nabla L`` when it is solved numerically), the loss and the chart."""
        from ..symbolic._latex import chart_latex

        chart = self.chart
        names = [chart.latex_names[c] for c in chart.coords]
        if self.velocity_expr is not None:
            rows = [f"\\dot{{{n}}} &= {chart.latex(v)}" for n, v in zip(names, self.velocity_expr)]
        else:
            vec = r",\, ".join(f"\\dot{{{n}}}" for n in names)
            rows = [f"({vec}) &= -G^{{-1}} \\nabla L \\quad \\text{{({self.strategy} solve in the kernel)}}"]
        rows.append(f"L &= {chart.latex(self.loss_expr)}")
        return (
            "$\\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}\quad " + chart_latex(chart) + "$"
        )

    def __repr__(self) -> str:
        return (
            f"FlowField(chart={self.chart.name!r}, coords={self.chart.coords}, params={self.params}, "
            f"strategy={self.strategy!r})"
        )

    # ------------------------------------------------------------- numeric
    def loss(self, x: Any, params: Any = None) -> np.ndarray:
        """The loss at ``x``.

        Parameters
        ----------
        x : array_like, shape (dim,) or (batch, dim)
        params : sequence or mapping, optional

        Returns
        -------
        numpy.ndarray, shape () or (batch,)
        """
        X, batch = self.layout(x)
        self._require_domain(X)
        out = np.empty(X.shape[1])
        self._call(EVALUATORS["loss"], X, self.param_vector(params), out)
        return out.reshape(batch)

    def gradient(self, x: Any, params: Any = None) -> np.ndarray:
        """The Euclidean gradient ``dL/dx`` (covector components), shape like ``x``."""
        X, batch = self.layout(x)
        self._require_domain(X)
        out = np.empty_like(X)
        self._call(EVALUATORS["gradient"], X, self.param_vector(params), out)
        return out.T.reshape(batch + (self.dim,))

    def metric(self, x: Any, params: Any = None) -> np.ndarray:
        """The metric matrix ``G(x)``, shape ``(dim, dim)`` or ``(batch, dim, dim)``."""
        X, batch = self.layout(x)
        self._require_domain(X)
        out = np.empty((X.shape[1], self.dim, self.dim))
        self._call(EVALUATORS["metric"], X, self.param_vector(params), out)
        return out.reshape(batch + (self.dim, self.dim))

    def warm_up(self, steppers: Sequence[str] = ("rk4",), batch: int | None = None) -> float:
        """Compile now (or load from the disk cache) what runs with these steppers; the seconds it took.

        Kernels are otherwise compiled on first use, inside the first
        :func:`~riemgrad.solve_flow` or :func:`~riemgrad.descend` call. This
        compiles, with the argument types those calls use, each stepper in
        the batch layouts it runs in (one trajectory at a time for batches of
        at most ``SCALAR_MAX_BATCH``, chunks otherwise), so later timings
        measure running only. The numeric methods (``loss``, ``velocity``, ...)
        compile on their first call.

        Parameters
        ----------
        steppers : sequence of str
            Any stepper name of the table (``"euler"``, ``"heun"``, ``"rk4"``,
            ``"ssprk3"``, ``"dopri5"``; natural descent runs on ``"euler"``) and
            ``"identity"``, ``"rmsprop"``, ``"adam"``, ``"lbfgs"``, ``"lm"`` (the other descent
            preconditioners).
        batch : int, optional
            The batch size that will run: only its layout is compiled. Default:
            both layouts.

        Returns
        -------
        float
            Wall time in seconds (compilation, or loading machine code from disk).

        Raises
        ------
        SolverSettingsError
            If a stepper name is unknown.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, compile_flow, euclidean_metric
        >>> x = sp.Symbol("x", real=True)
        >>> field = compile_flow(euclidean_metric(Chart("line", (x,))), x**2 / 2)
        >>> field.warm_up(["euler"]) >= 0.0
        True
        """
        import time

        fixed, descents = FIXED, tuple(k for k in DESCENT_KINDS if k != "natural")
        known = fixed + ("dopri5",) + descents
        steppers = [steppers] if isinstance(steppers, str) else list(steppers)
        for s in steppers:
            if s not in known:
                raise SolverSettingsError(f"`steppers` must name steppers among {list(known)}; got {s!r}.")
        t0 = time.perf_counter()
        n = self.dim
        # dummy states, typed exactly as riemgrad.flows passes them (a zero state is simply rejected)
        X = np.zeros((n, 1))
        idx = np.zeros(1, np.int64)
        p = np.zeros(max(1, len(self.params)))
        small = n <= SCALAR_MAX_DIM and (batch is None or batch <= SCALAR_MAX_BATCH)
        large = batch is None or batch > SCALAR_MAX_BATCH or n > SCALAR_MAX_DIM
        for s in steppers:
            status, tlast = np.zeros(1, np.int64), np.zeros(1)
            if s in fixed:
                run = FixedStepRun(s, 0.0, 1.0, 1, idx, p)
                if small:
                    self.run_fixed(run, X, status, tlast, scalar=True)
                if large:
                    self.run_fixed(run, X, status, tlast, scalar=False)
            elif s == "dopri5":
                run = AdaptiveRun(0.0, 1.0, 0.1, 1e-8, 1e-10, 1, np.zeros(1), p)
                self.run_adaptive(run, X, status, tlast, np.zeros(1, np.int64))
            else:
                self.run_descent(DescentRun(s, 1.0, False, 1, idx, p), X, status, tlast)
        return time.perf_counter() - t0

    def run_descent(
        self,
        run: DescentRun,
        X: np.ndarray,
        status: np.ndarray,
        klast: np.ndarray,
        *,
        threads: int = 1,
        progress: bool | None = None,
    ) -> np.ndarray:
        """Run compiled descent with a built-in preconditioner on the batch ``X`` (dim, B), in place.

        As :meth:`run_fixed`; ``klast`` receives the index of each trajectory's last valid
        iterate (as a float). Returns the saved iterates, shape ``(n_save, B, dim)``.
        """
        B = X.shape[1]
        XS = np.empty((run.save_idx.size, B, self.dim))
        bounds = chunk_bounds(B, threads)
        ctl = self._control(run.control, len(bounds) - 1)
        full = run.kernel_args() + (XS, status, klast)
        calls = [(X, bounds[i], bounds[i + 1], *full, ctl[i % len(ctl)]) for i in range(len(bounds) - 1)]
        self._launch(
            kernel_name("descent_range", run.kind), calls, ctl, threads, work=float(run.nsteps) * B * self.dim**2,
            what=f"{run.kind} descent", total=run.nsteps, unit="step",
            done=lambda: int(ctl[:, CONTROL_DONE].sum()) // max(B, 1), progress=progress,
        )
        return XS
