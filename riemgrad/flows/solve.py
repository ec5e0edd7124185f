"""Batched integration of gradient flows and runs of preconditioned descent."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ArgumentTypeError, SolverSettingsError
from ..kernels import AdaptiveRun, CompiledField, DataField, DescentRun, FixedStepRun, FlowField
from ..kernels.abi import EVALUATORS
from ._descent_loop import _descend_python, _mark_diverged
from ._lazy import is_dask_array
from .preconditioners import Preconditioner, compiled_twin, natural
from .results import DescentResult, FlowResult, Status
from .steppers import STEPPERS, Stepper, as_stepper

__all__ = ["solve_flow", "descend", "STEPPERS"]

#: Batches at least this large run in parallel over chunks.
PARALLEL_MIN_BATCH = 256

#: Step budget of a fixed-step solve or of descent, per trajectory: a larger step count is refused
#: up front (an `dt` of 1e-11 over a unit span would otherwise run for days).
MAX_FIXED_STEPS = 100_000_000


def _positive_real(value: Any, name: str, hint: str = "") -> float:
    """``value`` as a positive finite float; bools, complex numbers and strings are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SolverSettingsError(
            f"`{name}` must be a positive finite real number; got {value!r} of type {type(value).__name__}.{hint}"
        )
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise SolverSettingsError(f"`{name}` must be a positive finite real number; got {value!r}.{hint}")
    return v


def _sorted_reals(saveat: Any, name: str = "saveat") -> np.ndarray:
    """``saveat`` as a sorted, finite, non-empty float array (not sorted silently: an error)."""
    try:
        req = np.asarray(saveat, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise SolverSettingsError(f"`{name}` must be a sequence of real numbers; got {saveat!r:.80}.") from None
    if np.iscomplexobj(np.asarray(saveat)) or req.size == 0 or not np.all(np.isfinite(req)):
        raise SolverSettingsError(f"`{name}` must be a non-empty sequence of finite real numbers; got {saveat!r:.80}.")
    if np.any(np.diff(req) < 0):
        raise SolverSettingsError(f"`{name}` must be sorted in increasing order; got {saveat!r:.80}. Sort it.")
    return req


def _check_field(field: Any, kinds: type | tuple[type, ...] = FlowField) -> None:
    if not isinstance(field, kinds):
        raise ArgumentTypeError(
            f"`field` must be a FlowField from riemgrad.compile_flow; got {type(field).__name__}. "
            "Build one with compile_flow(metric, loss)."
        )


_CPUS = os.cpu_count() or 1


def _threads(batch: int, parallel: Any) -> int:
    """How many threads run chunks: 1 unless the batch is large (or ``parallel`` forces it)."""
    n = _CPUS
    if parallel == "auto":
        return n if batch >= PARALLEL_MIN_BATCH else 1
    return n if parallel else 1


def _classify(field: FlowField, X: np.ndarray, status: np.ndarray, params: Any) -> None:
    """Turn NONFINITE into SINGULAR_METRIC where the metric at the last valid point is singular."""
    nonfinite = status == Status.NONFINITE
    if not nonfinite.any():
        return
    bad = np.flatnonzero(nonfinite & np.all(np.isfinite(X), axis=0))
    if bad.size == 0:
        return
    G = field.metric(X[:, bad].T, params)
    for i, g in zip(bad, G):
        if not np.all(np.isfinite(g)):
            status[i] = Status.SINGULAR_METRIC
            continue
        try:
            np.linalg.cholesky(g)
            w = np.linalg.eigvalsh(g)
            if w[0] <= 1e-14 * max(abs(w[-1]), 1e-300):
                status[i] = Status.SINGULAR_METRIC
        except np.linalg.LinAlgError:
            status[i] = Status.SINGULAR_METRIC


def _final_values(field: FlowField, X: np.ndarray, status: np.ndarray, params: Any) -> None:
    """NONFINITE for a finished trajectory whose loss or metric is not finite at its end point.

    The kernels check the state and the velocity; a non-finite loss (never evaluated by a flow) or an
    infinite metric (whose inverse is 0: a frozen state) would otherwise end as SUCCESS.
    """
    ok = np.flatnonzero(status == Status.SUCCESS)
    if ok.size == 0:
        return
    # the evaluators' kernels directly: X is already in their layout and in the domain (SUCCESS)
    sub = X if ok.size == X.shape[1] else np.ascontiguousarray(X[:, ok])
    p = field.param_vector(params)
    loss = np.empty(sub.shape[1])
    metric = np.empty((sub.shape[1], field.dim, field.dim))
    field._call(EVALUATORS["loss"], sub, p, loss)
    field._call(EVALUATORS["metric"], sub, p, metric)
    bad = ~np.isfinite(loss) | ~np.all(np.isfinite(metric), axis=(1, 2))
    status[ok[bad]] = Status.NONFINITE


def _records(
    field: FlowField, X: np.ndarray, XS: np.ndarray, status: np.ndarray, params: Any, batch: tuple[int, ...]
) -> dict[str, Any]:
    """The fields every result shares: states shaped ``(n_t,) + batch + (dim,)``, statuses, the chart,
    and the loss function the result evaluates on first access to ``.losses``."""
    if not isinstance(field, FlowField):  # an ODE handed over whole (geodesics): no loss, no metric
        return {
            "xs": XS.reshape((XS.shape[0],) + batch + (field.dim,)),
            "status": status.reshape(batch),
            "chart": field.chart,
            "_loss_fn": _no_loss(field),
        }
    _classify(field, X, status, params)
    _final_values(field, X, status, params)
    p = field.param_vector(params) if field.params else None  # a snapshot of the values
    return {
        "xs": XS.reshape((XS.shape[0],) + batch + (field.dim,)),
        "status": status.reshape(batch),
        "chart": field.chart,
        "_loss_fn": lambda x: field.loss(x, p),
    }


def _no_loss(field: CompiledField) -> Any:
    def fail(x: np.ndarray) -> np.ndarray:
        raise ArgumentTypeError(
            f"`losses` needs a loss, and the {type(field).__name__} this result was solved on has none "
            "(it is not a gradient flow). For geodesics read `GeodesicResult.energies`."
        )

    return fail


def solve_flow(
    field: FlowField | CompiledField,
    x0: Any,
    t_span: tuple[float, float],
    *,
    stepper: str | Stepper = "rk4",
    dt: float | None = None,
    saveat: Sequence[float] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    params: Any = None,
    max_steps: int | None = None,
    parallel: Any = "auto",
    progress: bool | None = None,
) -> FlowResult:
    """Integrate the gradient flow ``dx/dt = -G(x)^{-1} grad L(x)`` from many starts at once.

    Parameters
    ----------
    field : FlowField
        From :func:`riemgrad.compile_flow` (or another compiled field such as
        :func:`riemgrad.kernels.geodesic_field`, whose results have no ``losses``).
    x0 : array_like, shape (dim,) or (batch, dim)
        Starting points in the field's chart.
    t_span : (float, float)
        Start and end time, ``t0 < t1``.
    stepper : RK4, Heun, Euler, FixedStep, Dopri5 or str
        A stepper object from :mod:`riemgrad.flows.steppers`, or its name
        (``"rk4"``, ``"heun"``, ``"euler"``, ``"ssprk3"``, ``"dopri5"``): fixed-step
        Runge-Kutta of order 4, 2, 1, 3, or the adaptive Dormand-Prince 5(4)
        pair with error control.
    dt : float
        The step of a fixed-step stepper (required there); it is shrunk to
        divide ``t1 - t0`` into a whole number of steps. For ``"dopri5"`` the
        first trial step (default ``(t1 - t0) / 100``).
    saveat : sequence of float, optional
        Times to record, within ``t_span``. Default: the start and the end
        only, so memory does not grow with the number of steps. Fixed-step
        steppers need them on the step grid.
    rtol, atol : float, optional
        Relative and absolute tolerance of ``"dopri5"`` (default 1e-8, 1e-10);
        an error with a fixed-step stepper.
    params : sequence or mapping, optional
        Values of the field's parameters.
    max_steps : int, optional
        Step budget per trajectory for ``"dopri5"`` (default 1,000,000);
        exceeding it gives :attr:`Status.MAX_STEPS`. An error with a
        fixed-step stepper.
    parallel : "auto" or bool
        Run chunks of trajectories on all cores. ``"auto"``: for batches of at
        least 256.
    progress : bool, optional
        A progress bar for a run that lasts more than about a second, and for a
        first-use compilation. None (default): ``riemgrad.config.progress``, else the
        environment variable ``RIEMGRAD_PROGRESS``, else only when the output is
        interactive (a terminal or Jupyter).

    Returns
    -------
    FlowResult
        ``xs`` of shape ``(n_t,) + x0.shape``, one :class:`Status` per start.
        A trajectory that fails (leaves the chart's domain, turns non-finite,
        meets a singular metric) stops there; the others go on.

    Raises
    ------
    ShapeError
        If ``x0`` has the wrong shape.
    SolverSettingsError
        If ``t_span``, ``stepper``, ``dt`` or ``saveat`` is invalid, or
        ``rtol``/``atol``/``max_steps`` go with a fixed-step stepper.
    KeyboardInterrupt
        On Ctrl-C or Jupyter's "Interrupt kernel": the compiled kernels stop within
        a block of 128 steps and nothing is returned (``x0`` is never modified).

    Examples
    --------
    >>> import numpy as np, sympy as sp
    >>> from riemgrad import Chart, Metric, compile_flow, solve_flow
    >>> v = sp.Symbol("variance", positive=True)
    >>> g = Metric(Chart("variance", (v,)), [[1 / (2 * v**2)]])
    >>> field = compile_flow(g, sp.log(v) / 2 + 4 / (2 * v))   # KL to N(0, 4) up to constants
    >>> res = solve_flow(field, [[1.0], [9.0]], (0.0, 2.0), dt=1e-3)
    >>> np.allclose(res.xs[-1, :, 0], 4 + (np.array([1.0, 9.0]) - 4) * np.exp(-2.0))
    True
    >>> res.status.tolist()
    [0, 0]
    """
    if isinstance(field, DataField):  # rows bound at call time (params= a Dataset): kernels/data_kernels.py
        return field.solve_flow(x0, t_span, dt=dt, saveat=saveat, data=params, stepper=stepper, rtol=rtol, atol=atol,
                                max_steps=max_steps, parallel=parallel)
    _check_field(field, CompiledField)
    if is_dask_array(x0):  # one task per chunk, lazy: riemgrad.flows.sweeps
        from .sweeps import lazy_solve_flow

        return lazy_solve_flow(field, x0, t_span, stepper=stepper, dt=dt, saveat=saveat, rtol=rtol, atol=atol,
                               params=params, max_steps=max_steps, parallel=parallel)  # fmt: skip
    try:
        t0, t1 = (float(t) for t in t_span)
    except (TypeError, ValueError):
        raise SolverSettingsError(f"`t_span` must be a pair (t0, t1) of numbers; got {t_span!r}.") from None
    if not (math.isfinite(t0) and math.isfinite(t1) and t1 > t0):
        raise SolverSettingsError(f"`t_span` must satisfy t0 < t1 (both finite); got {t_span!r}.")
    step = as_stepper(stepper, rtol=rtol, atol=atol, max_steps=max_steps)
    X, batch = field.layout(x0, "x0", copy=True)
    B = X.shape[1]
    p = field.param_vector(params)
    status = np.zeros(B, np.int64)
    tlast = np.full(B, t0)
    threads = _threads(B, parallel)
    if step.adaptive:
        h0 = (t1 - t0) / 100 if dt is None else _positive_real(dt, "dt", " It is the first trial step.")
        if saveat is None:
            save_t = np.array([t0, t1])
        else:
            save_t = _sorted_reals(saveat)
            if save_t[0] < t0 or save_t[-1] > t1:
                raise SolverSettingsError(
                    f"`saveat` must be a non-empty sequence of times within t_span {(t0, t1)}; got {saveat!r}."
                )
        nsteps = np.zeros(B, np.int64)
        run = AdaptiveRun(t0, t1, h0, float(step.rtol), float(step.atol), int(step.max_steps), save_t, p)
        XS = field.run_adaptive(run, X, status, tlast, nsteps, threads=threads, progress=progress)
        ts = save_t
    else:
        hint = " Pass e.g. dt=1e-3, or stepper='dopri5' for adaptive steps."
        if dt is None:
            raise SolverSettingsError(
                f"`dt` must be a positive step for the fixed-step stepper {step.name!r}; got None.{hint}"
            )
        dtf = _positive_real(dt, "dt", hint)
        count = (t1 - t0) / dtf
        if not count - 1e-9 <= MAX_FIXED_STEPS:
            raise SolverSettingsError(
                f"`dt` = {dt!r} over t_span {(t0, t1)} needs {count:.3g} fixed steps per trajectory, more than the "
                f"step budget of {MAX_FIXED_STEPS:.0e} (riemgrad.flows.solve.MAX_FIXED_STEPS). Use a larger `dt`, "
                "a shorter span, or stepper='dopri5' with `max_steps`."
            )
        n = max(1, math.ceil(count - 1e-9))
        h = (t1 - t0) / n
        if saveat is None:
            idx = np.array([0, n], np.int64)
        else:
            req = _sorted_reals(saveat)
            fidx = (req - t0) / h
            idx = np.rint(fidx).astype(np.int64)
            bad = (np.abs(fidx - idx) > 1e-6) | (idx < 0) | (idx > n)
            if req.size == 0 or bad.any():
                raise SolverSettingsError(
                    f"`saveat` must hold times within t_span on the step grid t0 + k*dt (dt = {h!r}); "
                    f"{req[bad][:3].tolist() if bad.any() else 'nothing'} is not. Pick grid times, or use "
                    "stepper='dopri5', which records at any time."
                )
        run = FixedStepRun(step.name, t0, h, n, idx, p)
        XS = field.run_fixed(run, X, status, tlast, threads=threads, progress=progress)
        ts = t0 + idx * h
        nsteps = np.where(status == 0, n, np.rint((tlast - t0) / h).astype(np.int64))
    return FlowResult(
        ts=ts,
        t_final=tlast.reshape(batch),
        n_steps=nsteps.reshape(batch),
        stepper=step.name,
        **_records(field, X, XS, status, params, batch),
    )


def descend(
    field: FlowField,
    x0: Any,
    *,
    lr: float,
    steps: int,
    saveat: Sequence[int] | None = None,
    preconditioner: Preconditioner | None = None,
    backtracking: bool = False,
    params: Any = None,
    parallel: Any = "auto",
    progress: bool | None = None,
) -> DescentResult:
    """Preconditioned gradient descent ``x <- x + lr * d`` from many starts at once.

    With the default preconditioner :func:`~riemgrad.preconditioners.natural`,
    ``d = -G^{-1} grad L`` (Riemannian descent in the field's metric).

    Parameters
    ----------
    field : FlowField
    x0 : array_like, shape (dim,) or (batch, dim)
    lr : float
        The step size (the first trial step with ``backtracking``).
    steps : int
        Number of steps.
    saveat : sequence of int, optional
        Step indices to record (0 is ``x0``); default the start and the end.
    preconditioner : Preconditioner, optional
        An ``(init, update)`` pair from :mod:`riemgrad.preconditioners`:
        ``natural()`` (default), ``identity()``, ``rmsprop()``, ``adam()``,
        ``lbfgs()``, ``levenberg_marquardt()``, ``hessian_free()`` (fields over data:
        truncated Newton-CG, returns a ``HessianFreeResult``), or your own (run in Python; its
        ``update`` may name ``x``, ``lr``, ``loss``, ``metric`` to receive them, see
        :class:`~riemgrad.preconditioners.Preconditioner`).
    backtracking : bool
        Armijo backtracking: halve the step until
        ``L(x + eta d) <= L(x) + 1e-4 eta grad.d`` and the point stays in the
        chart's domain; a trajectory with no descent direction stays put.
    params : sequence or mapping, optional
    parallel : "auto" or bool
    progress : bool, optional
        A progress bar for a run that lasts more than about a second, and for a
        first-use compilation. None (default): ``riemgrad.config.progress``, else the
        environment variable ``RIEMGRAD_PROGRESS``, else only when the output is
        interactive (a terminal or Jupyter).

    Returns
    -------
    DescentResult
        A trajectory whose loss rises above ``L0 + 1e4 (|L0| + 1)`` or whose largest
        coordinate exceeds ``1e10 (1 + max|x0|)`` ends :attr:`Status.DIVERGED`, tested
        every 128 steps and after the last (natural descent without backtracking: after
        the last step only); the iterate where it was judged is kept.

    Raises
    ------
    ShapeError
        If ``x0`` has the wrong shape.
    SolverSettingsError
        If ``lr``, ``steps`` or ``saveat`` is invalid, or ``backtracking`` is combined with
        ``levenberg_marquardt(schedule="nielsen")``.
    KeyboardInterrupt
        On Ctrl-C: the compiled kernels stop within 128 steps; ``x0`` is never modified.

    Examples
    --------
    Newton's method is descent in the Hessian metric: one step of size 1
    solves a quadratic.

    >>> import sympy as sp
    >>> from riemgrad import Chart, Metric, compile_flow, descend
    >>> x1, x2 = sp.symbols("x1 x2", real=True)
    >>> loss = (3 * x1**2 + 2 * x1 * x2 + x2**2) / 2 - (x1 - 2 * x2)
    >>> newton = compile_flow(Metric(Chart("x", (x1, x2)), sp.hessian(loss, (x1, x2))), loss)
    >>> descend(newton, [10.0, -3.0], lr=1.0, steps=1).xs[-1].tolist()
    [1.5, -3.5]
    """
    if isinstance(field, DataField):  # rows bound at call time (params= a Dataset): kernels/data_kernels.py
        return field.descend(x0, lr=lr, steps=steps, saveat=saveat, preconditioner=preconditioner, data=params,
                             backtracking=backtracking, parallel=parallel)
    _check_field(field)
    if is_dask_array(x0):  # one task per chunk, lazy: riemgrad.flows.sweeps
        from .sweeps import lazy_descend

        return lazy_descend(field, x0, lr=lr, steps=steps, saveat=saveat, preconditioner=preconditioner,
                            backtracking=backtracking, params=params, parallel=parallel)  # fmt: skip
    lr = _positive_real(lr, "lr")
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise SolverSettingsError(f"`steps` must be a non-negative integer; got {steps!r}.")
    if steps > MAX_FIXED_STEPS:
        raise SolverSettingsError(
            f"`steps` = {steps} is more than the step budget of {MAX_FIXED_STEPS:.0e} "
            "(riemgrad.flows.solve.MAX_FIXED_STEPS). Run fewer steps, or in several calls."
        )
    pre = natural() if preconditioner is None else preconditioner
    if not isinstance(pre, Preconditioner):
        raise ArgumentTypeError(
            f"`preconditioner` must be a Preconditioner (init, update) pair from riemgrad.preconditioners; "
            f"got {type(pre).__name__}."
        )
    X, batch = field.layout(x0, "x0", copy=True)
    B = X.shape[1]
    p = field.param_vector(params)
    if saveat is None:
        idx = np.array([0, steps], np.int64) if steps > 0 else np.array([0], np.int64)
    else:
        req = _sorted_reals(saveat)
        if np.any(req != np.rint(req)):
            raise SolverSettingsError(f"`saveat` must hold integer step indices for descent; got {saveat!r:.80}.")
        idx = np.unique(req.astype(np.int64))
        if idx[0] < 0 or idx[-1] > steps:
            raise SolverSettingsError(f"`saveat` must hold step indices in [0, {steps}]; got {saveat!r}.")
    status = np.zeros(B, np.int64)
    klast = np.zeros(B)
    diagonal = None  # RMSprop/Adam: their diagonal metric at the saved steps (results.DescentResult.metric_diagonal)
    twin = compiled_twin(pre)
    compiled = None if twin is None else twin[0]
    if compiled == "lm" and backtracking and twin[1][2] > 0.5:
        raise SolverSettingsError(
            "`backtracking` must be False with levenberg_marquardt(schedule='nielsen'): its damping schedule "
            "accepts or refuses each step by the gain ratio. Pass backtracking=False (and lr=1), or "
            "levenberg_marquardt(schedule=None) for a fixed damping with backtracking."
        )
    if compiled == "natural" and not backtracking:
        # natural descent is the Euler scheme of the flow with dt = lr: reuse its kernels
        X0 = X.copy() if steps > 0 else X
        run = FixedStepRun("euler", 0.0, float(lr), int(steps), idx, p)
        XS = field.run_fixed(run, X, status, klast, threads=_threads(B, parallel), progress=progress)
        klast = np.rint(klast / float(lr))
        if steps > 0:  # the Euler kernel is the flows': the divergence test runs here, after the last step
            _mark_diverged(field, X0, X, status, p)
    elif compiled is None:
        XS, diagonal = _descend_python(field, X, float(lr), int(steps), idx, params, pre, backtracking, status,
                                       klast, diagonal=True)
    else:
        run = DescentRun(compiled, float(lr), bool(backtracking), int(steps), idx, p, twin[1])
        XS = field.run_descent(run, X, status, klast, threads=_threads(B, parallel), progress=progress)
        if XS.shape[-1] == 2 * field.dim:
            XS, diagonal = XS[..., : field.dim], XS[..., field.dim :]
    if diagonal is not None:
        diagonal = np.ascontiguousarray(diagonal).reshape((idx.size,) + batch + (field.dim,))
    return DescentResult(
        ks=idx,
        k_final=klast.astype(np.int64).reshape(batch),
        preconditioner=pre.name,
        metric_diagonal=diagonal,
        **_records(field, X, XS, status, params, batch),
    )
