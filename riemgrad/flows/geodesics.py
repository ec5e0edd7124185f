"""Geodesics, the exponential and logarithm maps, and Riemannian distance, batched and compiled.

A geodesic is the flow of the geodesic equations ``x' = v``,
``v^k' = -Gamma^k_ij v^i v^j`` on the tangent bundle; it runs on the same
compiled steppers as gradient flows (:func:`riemgrad.kernels.geodesic_field`).
:func:`log_map` shoots: Newton's method on ``v -> exp_x(v) - y`` with the Jacobian
from the variational equations, all shots of one iteration in one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DomainError, ShapeError
from ..kernels import GeodesicField, geodesic_field, require_metric
from ..symbolic import Chart, Metric
from ._lazy import is_dask_array
from .display import ResultDisplay
from .results import Status, _StatusSummary
from .solve import solve_flow
from .steppers import Dopri5, Stepper

__all__ = ["geodesic", "exp_map", "log_map", "distance", "GeodesicResult", "DistanceResult"]


@dataclass(frozen=True)
class GeodesicResult(_StatusSummary, ResultDisplay):
    """Geodesics from many starting points, time-first.

    Attributes
    ----------
    ts : numpy.ndarray, shape (n_t,)
        The recorded times.
    xs : numpy.ndarray, shape (n_t,) + x0.shape
        Positions at ``ts``; NaN after a geodesic left the chart.
    vs : numpy.ndarray, shape (n_t,) + x0.shape
        Velocities (tangent vectors, chart components) at ``ts``.
    energies : numpy.ndarray, shape (n_t,) + batch shape
        ``g(v, v)`` at each record: constant along a geodesic, so its drift
        measures the integration error.
    status : numpy.ndarray of int, batch shape
        One :class:`Status` per start (``LEFT_DOMAIN`` when the geodesic leaves
        the chart, e.g. reaches ``sigma <= 0`` under an incomplete metric).
    chart : Chart
        The chart of ``xs`` and ``vs``.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, Metric, geodesic
    >>> x = sp.Symbol("x", real=True)
    >>> y = sp.Symbol("y", positive=True)
    >>> half_plane = Metric(Chart("half_plane", (x, y)), sp.diag(1 / y**2, 1 / y**2))
    >>> res = geodesic(half_plane, [0.0, 1.0], [0.0, 1.0], (0.0, 2.0))
    >>> round(float(res.xs[-1, 1]), 9), res.summary(), res.succeeded   # y(t) = e^t on the vertical line
    (7.389056099, {'SUCCESS': 1}, True)
    """

    ts: np.ndarray
    xs: np.ndarray
    vs: np.ndarray
    energies: np.ndarray
    status: np.ndarray
    chart: Chart


def _pair(metric: Any, x: Any, v: Any, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Check two point-shaped arguments: ``(batch, dim)`` float arrays and the batch shape."""
    require_metric(metric)
    n = metric.dim
    arrs = []
    for val, name in zip((x, v), names):
        try:
            a = np.asarray(val, dtype=float)
        except (TypeError, ValueError):
            raise ShapeError(
                f"`{name}` must be an array of numbers of shape ({n},) or (batch, {n}); got {val!r}."
            ) from None
        if a.ndim not in (1, 2) or a.shape[-1] != n:
            raise ShapeError(
                f"`{name}` must have shape ({n},) or (batch, {n}) for chart {metric.chart.name!r} "
                f"{metric.chart.coords}; got {a.shape}."
            )
        arrs.append(a)
    if arrs[0].shape != arrs[1].shape:
        raise ShapeError(
            f"`{names[0]}` and `{names[1]}` must have the same shape (one {names[1]} per {names[0]}); "
            f"got {arrs[0].shape} and {arrs[1].shape}. Repeat a single point with np.broadcast_to if needed."
        )
    batch = arrs[0].shape[:-1]
    return arrs[0].reshape(-1, n), arrs[1].reshape(-1, n), batch


def geodesic(
    metric: Metric,
    x0: Any,
    v0: Any,
    t_span: tuple[float, float] = (0.0, 1.0),
    *,
    stepper: str | Stepper = "dopri5",
    dt: float | None = None,
    saveat: Sequence[float] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    parallel: Any = "auto",
) -> GeodesicResult:
    """Integrate the geodesics through ``x0`` with initial velocities ``v0``.

    Parameters
    ----------
    metric : Metric
        The metric; its entries may involve only the chart's coordinates.
    x0, v0 : array_like, shape (dim,) or (batch, dim)
        Starting points and their initial velocities (chart components), same shape.
    t_span : (float, float)
        Start and end time; a geodesic with ``|v0| = 1`` is parameterized by arc length.
    stepper : str or stepper object
        The adaptive Dormand-Prince 5(4) pair (default) or a fixed-step stepper with ``dt``
        (see :func:`riemgrad.solve_flow`).
    dt : float, optional
        The step of a fixed-step stepper; the first trial step of ``"dopri5"``.
    saveat : sequence of float, optional
        Times to record; default the start and the end.
    rtol, atol : float, optional
        Tolerances of ``"dopri5"`` (default 1e-10, 1e-12); an error with a fixed-step stepper.
    parallel : "auto" or bool
        As in :func:`riemgrad.solve_flow`.

    Returns
    -------
    GeodesicResult

    Raises
    ------
    ShapeError
        If ``x0`` and ``v0`` differ in shape or do not match the chart's dimension.
    CoordinateError
        If the metric involves symbols other than the chart's coordinates.
    SolverSettingsError
        If ``t_span``, ``stepper``, ``dt`` or ``saveat`` is invalid.

    Examples
    --------
    Along the equator of the unit sphere, the geodesic with unit speed is ``phi = phi0 + t``:

    >>> import numpy as np, sympy as sp
    >>> from riemgrad import Chart, Metric, geodesic
    >>> th, ph = sp.symbols("theta phi", real=True)
    >>> sphere = Metric(Chart("angles", (th, ph)), sp.diag(1, sp.sin(th) ** 2))
    >>> res = geodesic(sphere, [np.pi / 2, 0.0], [0.0, 1.0], (0.0, 1.5))
    >>> np.allclose(res.xs[-1], [np.pi / 2, 1.5]), np.allclose(res.energies, 1.0)
    (True, True)
    """
    if is_dask_array(x0) or is_dask_array(v0):  # one task per chunk, lazy: riemgrad.flows.sweeps
        from .sweeps import lazy_geodesic

        return lazy_geodesic(metric, x0, v0, t_span, stepper=stepper, dt=dt, saveat=saveat, rtol=rtol, atol=atol,
                             parallel=parallel)  # fmt: skip
    X, V, batch = _pair(metric, x0, v0, ("x0", "v0"))
    field = geodesic_field(metric)
    if isinstance(stepper, str) and stepper == "dopri5":  # tighter defaults than solve_flow's
        stepper = Dopri5(rtol=1e-10 if rtol is None else rtol, atol=1e-12 if atol is None else atol)
        rtol = atol = None
    res = solve_flow(
        field,
        np.concatenate([X, V], axis=1),
        t_span,
        stepper=stepper,
        dt=dt,
        saveat=saveat,
        rtol=rtol,
        atol=atol,
        parallel=parallel,
    )
    n = metric.dim
    states = res.xs.reshape(res.ts.size, -1, 2 * n)
    shape = (res.ts.size,) + batch + (n,)
    return GeodesicResult(
        ts=res.ts,
        xs=states[..., :n].reshape(shape),
        vs=states[..., n:].reshape(shape),
        energies=_energies(field, res.xs).reshape((res.ts.size,) + batch),
        status=res.status.reshape(batch),
        chart=metric.chart,
    )


def _energies(field: GeodesicField, xs: np.ndarray) -> np.ndarray:
    """``g(v, v)`` at every recorded phase state, NaN where the geodesic had failed."""
    flat = xs.reshape(-1, xs.shape[-1])
    ok = np.isfinite(flat).all(axis=1)
    out = np.full(flat.shape[0], np.nan)
    if ok.any():
        out[ok] = field.energy(flat[ok])
    return out.reshape(xs.shape[:-1])


def exp_map(metric: Metric, x: Any, v: Any, *, rtol: float = 1e-10, atol: float = 1e-12) -> np.ndarray:
    """The exponential map: the point at time 1 of the geodesic through ``x`` with velocity ``v``.

    Parameters
    ----------
    metric : Metric
    x, v : array_like, shape (dim,) or (batch, dim)
        Base points and tangent vectors (chart components), same shape.
    rtol, atol : float
        Tolerances of the adaptive integration.

    Returns
    -------
    numpy.ndarray
        Shaped like ``x``; rows whose geodesic left the chart before time 1 are NaN.

    Examples
    --------
    >>> import numpy as np, sympy as sp
    >>> from riemgrad import Chart, Metric, exp_map
    >>> x = sp.Symbol("x", real=True)
    >>> y = sp.Symbol("y", positive=True)
    >>> half_plane = Metric(Chart("half_plane", (x, y)), sp.diag(1 / y**2, 1 / y**2))
    >>> np.round(exp_map(half_plane, [[0.0, 1.0], [3.0, 2.0]], [[0.0, 1.0], [0.0, -2.0]]), 8).tolist()
    [[0.0, 2.71828183], [3.0, 0.73575888]]
    """
    try:
        pts = np.asarray(x, dtype=float)
        inside = metric.chart.in_domain(pts)
    except (TypeError, ValueError):
        inside = None  # shape and type errors are reported by geodesic() with the argument named
    if inside is not None and not np.all(inside):
        raise DomainError(
            f"`x` must lie in the domain of chart {metric.chart.name!r} {tuple(map(str, metric.chart.coords))}; "
            f"{np.asarray(pts).reshape(-1, metric.dim)[~np.asarray(inside).reshape(-1)][0].tolist()} does not "
            "(a coordinate is outside its sign assumption, or not finite). Pass base points of the domain."
        )
    res = geodesic(metric, x, v, (0.0, 1.0), rtol=rtol, atol=atol)
    return res.xs[-1]


def _shoot(
    field: GeodesicField, A: np.ndarray, V: np.ndarray, rtol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """End points at t = 1 of the geodesics from the rows of A with velocities V, their Jacobians
    d x(1) / d v (integrated along, from the variational equations) and the statuses.

    ``field`` is ``geodesic_field(metric, variational=True)`` (looked up once by the caller)."""
    n = A.shape[1]
    eye = np.broadcast_to(np.eye(n).reshape(1, -1), (A.shape[0], n * n))
    state = np.concatenate([A, V, np.zeros((A.shape[0], n * n)), eye], axis=1)
    res = solve_flow(field, state, (0.0, 1.0), stepper=Dopri5(rtol=rtol, atol=rtol * 1e-4))
    end = res.xs[-1]
    return end[:, :n], end[:, 2 * n : 2 * n + n * n].reshape(-1, n, n), res.status


def _frames(energy: Any, X: np.ndarray) -> np.ndarray:
    """Cholesky factors ``L`` (``G = L L^T``) of the metric at the rows of X, from ``g(v, v)`` by polarization;
    the identity where the metric is not positive definite or not finite. Shape (rows, dim, dim)."""
    m, n = X.shape
    G = np.empty((m, n, n))
    eye = np.eye(n)
    with np.errstate(all="ignore"):
        diag = [energy(np.concatenate([X, np.broadcast_to(eye[i], X.shape)], axis=1)) for i in range(n)]
        for i in range(n):
            G[:, i, i] = diag[i]
            for j in range(i + 1, n):
                both = energy(np.concatenate([X, np.broadcast_to(eye[i] + eye[j], X.shape)], axis=1))
                G[:, i, j] = G[:, j, i] = (both - diag[i] - diag[j]) / 2
    L = np.broadcast_to(eye, (m, n, n)).copy()
    fine = np.isfinite(G).all(axis=(1, 2))
    for r in np.flatnonzero(fine):
        try:
            L[r] = np.linalg.cholesky(G[r])
        except np.linalg.LinAlgError:
            pass
    return L


#: Step halvings at most per Newton iteration, and iterations over which the miss must halve.
_HALVINGS, _STALL = 12, 6
#: Times a first shot that leaves the chart is slowed down (by 4 each time) before Newton starts.
_SHRINKS = 10

_CONJUGATE = (
    "the exponential map is singular there (conjugate points: the geodesic to y is not unique, e.g. antipodes on "
    "a sphere)"
)


def _newton(
    metric: Metric, A: np.ndarray, B: np.ndarray, V0: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    """Damped Newton on ``v -> exp_a(v) - b`` for every pair at once; the velocities and, per pair,
    "ok" or why it failed.

    Converged: the miss ``F = exp_a(v) - b`` satisfies ``|F| <= tol (1 + |b|)`` in chart components and
    ``sqrt(g_b(F, F)) <= tol (1 + |v|_g)`` in the metric at the target (so the length is accurate to about
    ``tol`` relative also where the metric is large, near a chart's boundary). A first shot that leaves the
    chart is slowed down by 4, at most ``_SHRINKS`` times.

    Each iteration solves with the Jacobian of the current shot and halves a pair's step (at most
    ``_HALVINGS`` times) until its miss shrinks and the shot stays in the chart; the accepted trial shot,
    integrated with its Jacobian, is the next iteration's current shot. At most ``max_iter`` iterations;
    a pair whose miss did not halve over ``_STALL`` iterations stops ("stalled": a continuation or
    another start does better than crawling on)."""
    m, n = A.shape
    rt = min(1e-11, tol * 1e-2)
    field = geodesic_field(metric, variational=True)
    V = np.array(V0, dtype=float)
    scale = tol * (1.0 + np.linalg.norm(B, axis=1))
    reason = np.array([""] * m, dtype=object)
    if m == 0:
        return V, reason
    P, J, st = _shoot(field, A, V, rt)
    for _ in range(_SHRINKS):  # a first shot that leaves the chart (too fast near its boundary): a slower one
        out = np.flatnonzero(st != Status.SUCCESS)
        if out.size == 0:
            break
        V[out] /= 4
        P[out], J[out], st[out] = _shoot(field, A[out], V[out], rt)
    energy = geodesic_field(metric).energy
    # orthonormal frames at the starts and the targets: the conjugate-point test reads d exp in them, so that
    # it does not depend on the chart's scales (near sigma = 0 a chart Jacobian is very anisotropic)
    La, Lb = _frames(energy, A), _frames(energy, B)
    todo = np.ones(m, bool)
    history = np.full((m, _STALL + 1), np.inf)  # the last misses, newest last
    for it in range(max_iter + 1):
        idx = np.flatnonzero(todo)
        if idx.size == 0:
            break
        F = P[idx] - B[idx]
        err = np.linalg.norm(F, axis=1)
        history[idx] = np.concatenate([history[idx, 1:], err[:, None]], axis=1)
        Ji, sti = J[idx], st[idx]
        with np.errstate(invalid="ignore"):  # the miss measured by the metric at the target, against the length
            miss = np.sqrt(np.abs(energy(np.concatenate([B[idx], F], axis=1))))
            length = np.sqrt(np.abs(energy(np.concatenate([A[idx], V[idx]], axis=1))))
        done = (sti == Status.SUCCESS) & (err <= scale[idx]) & (miss <= tol * (1.0 + length))
        left = sti != Status.SUCCESS
        rough = ~left & ~np.isfinite(Ji).all(axis=(1, 2))
        Jf = np.where(np.isfinite(Ji), Ji, 0.0)
        with np.errstate(all="ignore"):
            Jo = np.swapaxes(Lb[idx], 1, 2) @ Jf @ np.swapaxes(np.linalg.inv(La[idx]), 1, 2)
        Jo = np.where(np.isfinite(Jo).all(axis=(1, 2))[:, None, None], Jo, Jf)
        sv = np.linalg.svd(Jo, compute_uv=False)
        ratio = sv[:, -1] / np.maximum(sv[:, 0], 1e-300)
        # conjugate points: d exp singular at the answer; in orthonormal frames the radial singular value is 1
        # (Gauss lemma) and the others are |J(1)| of unit Jacobi fields, so the smallest one is tested
        # absolutely (on a Hadamard manifold it is >= 1). On the way, only a numerically singular Jacobian
        # stops the iteration.
        conjugate = ~left & ~rough & done & (sv[:, -1] <= 1e-6)
        singular = ~left & ~rough & ~conjugate & (ratio <= 1e-14)
        for r in np.flatnonzero(left):
            reason[idx[r]] = f"the geodesic left the chart ({Status(int(sti[r])).name})"
        reason[idx[rough]] = "the exponential map could not be differentiated there"
        reason[idx[conjugate]] = _CONJUGATE
        reason[idx[singular]] = "the exponential map is numerically singular on the way (a very long shot)"
        ok = ~left & ~rough & ~singular & ~conjugate
        reason[idx[ok & done]] = "ok"
        todo[idx[~ok | done]] = False
        stalled = ok & ~done & (history[idx, -1] > 0.5 * history[idx, 0])
        reason[idx[stalled]] = f"Newton's method stalled (its miss did not halve in {_STALL} iterations)"
        todo[idx[stalled]] = False
        go = np.flatnonzero(ok & ~done & ~stalled)
        if go.size == 0:
            continue
        if it == max_iter:
            reason[idx[go]] = f"no convergence in {max_iter} Newton iterations"
            todo[idx[go]] = False
            break
        # damped Newton, all pairs at once: halve a pair's step until its miss shrinks
        step = np.linalg.solve(Ji[go], -F[go][..., None])[..., 0]
        lam = np.ones(go.size)
        pending = np.arange(go.size)
        for _ in range(_HALVINGS + 1):
            rows = idx[go[pending]]
            trial = V[rows] + lam[pending, None] * step[pending]
            Pn, Jn, sn = _shoot(field, A[rows], trial, rt)
            better = (sn == Status.SUCCESS) & (np.linalg.norm(Pn - B[rows], axis=1) < err[go[pending]])
            acc = rows[better]
            V[acc], P[acc], J[acc], st[acc] = trial[better], Pn[better], Jn[better], sn[better]
            pending = pending[~better]
            if pending.size == 0:
                break
            lam[pending] /= 2
        stuck = idx[go[pending]]
        reason[stuck] = "Newton's method made no progress"
        todo[stuck] = False
    return V, reason


from .logmap import DistanceResult, distance, log_map  # noqa: E402  (re-exported; logmap uses the above)
