"""The logarithm map and the Riemannian distance, certified per pair.

:func:`log_map` and :func:`distance` shoot geodesics (damped Newton on
``v -> exp_x(v) - y``, see :mod:`riemgrad.flows.geodesics`) from several
starts (:mod:`riemgrad.flows._shooting`), keep the shortest geodesic that
reaches the target, and certify that it is minimizing
(:mod:`riemgrad.flows._certify`); every pair gets a status, and a batch is
never sunk by one pair. The work per pair is bounded: see :func:`distance`.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConvergenceError, DomainError, MinimalityWarning, SolverSettingsError
from ..kernels import geodesic_field
from ..symbolic import Chart, Metric
from ._certify import certificate, segment_lengths
from .display import _chart_text, fmt_range, html_table
from ._shooting import OK, attempt, lengths, lifts, scaled, target_homotopy
from .geodesics import _CONJUGATE, _newton, _pair
from .results import Status, _StatusSummary

__all__ = ["DistanceResult", "log_map", "distance"]

_OK = OK


@dataclass(frozen=True)
class DistanceResult(_StatusSummary):
    """Distances and logarithm maps of a batch of pairs, with a status per pair.

    Attributes
    ----------
    distances : numpy.ndarray of float, batch shape
        The length of the shortest geodesic found from ``x`` to ``y`` (NaN when none
        was found). It is the distance where ``status`` is ``SUCCESS``.
    velocities : numpy.ndarray of float, batch shape + (dim,)
        Its initial velocity at ``x`` (chart components): the logarithm map where
        ``status`` is ``SUCCESS``; NaN when no geodesic was found.
    upper_bounds : numpy.ndarray of float, batch shape
        The shortest length known of a curve from ``x`` to ``y``: the smaller of
        ``distances`` and the length of the chart's straight segment (by
        quadrature of ``sqrt(g(y - x, y - x))`` along it). Always ``>=`` the distance.
    status : numpy.ndarray of int, batch shape
        ``Status.SUCCESS`` where the geodesic is certified minimizing,
        ``Status.MINIMALITY_UNKNOWN`` otherwise.
    reasons : numpy.ndarray of str, batch shape (a str for a single pair)
        Per pair, the certificate (why the geodesic is minimizing) or why there is none.
    chart : Chart
        The chart of the points and velocities.

    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad import distance, spaces
    >>> res = distance(spaces.sphere(), [[1.0, 0.0], [1.0, 0.0]], [[2.0, 4.0], [1.5, 0.5]], full_output=True)
    >>> res.summary(), np.round(res.distances, 6).tolist()
    ({'SUCCESS': 2}, [2.3818, 0.68435])
    """

    distances: np.ndarray
    velocities: np.ndarray
    upper_bounds: np.ndarray
    status: np.ndarray
    reasons: np.ndarray
    chart: Chart

    def _repr_html_(self) -> str:
        rows = [
            ("chart", _chart_text(self.chart)),
            ("pairs", str(np.asarray(self.status).size)),
            ("status", ", ".join(f"{n} {k.lower().replace('_', ' ')}" for k, n in self.summary().items())),
            ("distances", fmt_range(self.distances)),
            ("upper bounds", fmt_range(self.upper_bounds)),
        ]
        rows += [("reason", r) for r in dict.fromkeys(np.asarray(self.reasons).reshape(-1).tolist())]
        return html_table("DistanceResult", rows, ok=bool(np.all(np.asarray(self.status) == Status.SUCCESS)))

    def __repr__(self) -> str:
        return (
            f"DistanceResult(pairs={np.asarray(self.status).size}, status={self.summary()}, chart={self.chart.name!r})"
        )


def _solve(
    metric: Metric, A: np.ndarray, B: np.ndarray, tol: float, max_iter: int,
    injectivity_radius: float | None, periods: tuple[float | None, ...] | None,
) -> tuple[np.ndarray, ...]:  # fmt: skip
    """Distances, velocities, upper bounds, statuses and reasons of the pairs (rows of A, B).

    Starts, in order, for the pairs not yet certified: the nearest lift of y from x, then from y, then
    each other lift from x and from y (without a radius to certify against, the start from y only for
    pairs with no geodesic yet). The shortest geodesic reaching y is kept."""
    m, n = A.shape
    R, periods, why, region = certificate(metric, injectivity_radius, periods)
    apart = np.zeros(m, bool) if region is None else ~region(A, B)

    def checked() -> np.ndarray:
        return (rsn == _OK) & (dist < R) & (dist <= seg * (1 + 1e-8) + 1e-12) & ~apart

    field = geodesic_field(metric)
    targets = lifts(B, A, periods)
    cums = [segment_lengths(field, A, T) for T in targets]
    seg = np.min([c[:, -1] for c in cums], axis=0)
    dist, vel = np.full(m, np.inf), np.full((m, n), np.nan)
    rsn = np.full(m, "", dtype=object)
    failures: list[set[str]] = [set() for _ in range(m)]
    certified = np.zeros(m, bool)
    for j, T in enumerate(targets):
        for backward in (False, True):
            # without a radius nothing can be certified: the start from y only for pairs with no geodesic yet
            todo = np.flatnonzero(~certified if R is not None or not backward else ~np.isfinite(dist))
            if todo.size == 0:
                break
            V, L, reason = attempt(metric, field, A[todo], T[todo], cums[j][todo], backward, tol, max_iter)
            for i, r in zip(todo, reason):
                if r not in (_OK, _CONJUGATE):
                    failures[i].add(str(r))
            better = L < dist[todo] * (1 - 1e-9)
            sel = todo[better]
            dist[sel], vel[sel], rsn[sel] = L[better], V[better], reason[better]
            if R is not None:
                certified = checked()
    # a geodesic found but not certified: the other way round (minus its velocity), as on a sphere near antipodes
    if R is not None:
        for T in targets:
            todo = np.flatnonzero(~certified & np.isfinite(dist))
            if todo.size == 0:
                break
            V, reason = _newton(metric, A[todo], T[todo], -vel[todo], tol, max_iter)
            hit = (reason == _OK) | (reason == _CONJUGATE)
            Lh = np.full(todo.size, np.inf)
            if hit.any():
                Lh[hit] = lengths(field, A[todo[hit]], V[hit])
            better = Lh < dist[todo] * (1 - 1e-9)
            sel = todo[better]
            dist[sel], vel[sel], rsn[sel] = Lh[better], V[better], reason[better]
            certified = checked()
    # last resort for pairs with no geodesic yet: first guesses along each coordinate axis, both senses, each
    # shot directly and, failing that, by a homotopy in the target from the point that shot reaches
    for j, T in enumerate(targets):
        for axis, sign in itertools.product(range(n), (1.0, -1.0)):
            for homotopy in (False, True):
                todo = np.flatnonzero(~np.isfinite(dist))
                if todo.size == 0:
                    break
                D = np.zeros((todo.size, n))
                D[:, axis] = sign
                guess = scaled(field, A[todo], D, cums[j][todo, -1])
                if homotopy:
                    V, reason = target_homotopy(metric, A[todo], T[todo], guess, tol, max_iter)
                else:
                    V, reason = _newton(metric, A[todo], T[todo], guess, tol, max_iter)
                hit = (reason == _OK) | (reason == _CONJUGATE)
                if hit.any():
                    sel = todo[hit]
                    dist[sel], vel[sel], rsn[sel] = lengths(field, A[sel], V[hit]), V[hit], reason[hit]
                if R is not None:
                    certified = checked()
    found = np.isfinite(dist)
    upper = np.fmin(dist, seg)
    status = np.where(certified, int(Status.SUCCESS), int(Status.MINIMALITY_UNKNOWN))
    reasons = np.empty(m, dtype=object)
    for i in range(m):
        if certified[i]:
            reasons[i] = f"minimizing: shorter than {R:g}, {why}"
        elif not found[i]:
            reasons[i] = "no geodesic found: " + ("; ".join(sorted(failures[i])) or "no convergence")
        elif rsn[i] == _CONJUGATE:
            reasons[i] = f"the geodesic found (length {dist[i]:.12g}) ends at a conjugate point: {_CONJUGATE}"
        elif dist[i] > seg[i] * (1 + 1e-8) + 1e-12:
            reasons[i] = f"the geodesic found (length {dist[i]:.12g}) is longer than the chart's straight segment"
        elif apart[i]:
            reasons[i] = (
                f"a geodesic of length {dist[i]:.12g} was found, but x and y lie on two sides of a set where the "
                f"metric degenerates ({why}: the certificate holds within one side)"
            )
        elif R is None:
            reasons[i] = f"a geodesic of length {dist[i]:.12g} was found but its minimality is unknown: {why}"
        else:
            reasons[i] = f"the geodesic found (length {dist[i]:.12g}) is not shorter than {R:g}, {why}"
    vel = np.where(found[:, None], vel, np.nan)
    dist = np.where(found, dist, np.nan)
    return dist, vel, upper, status, reasons


# ----------------------------------------------------------------------------------------- public functions


def _settings(metric: Metric, tol: Any, max_iter: Any, injectivity_radius: Any, periods: Any) -> tuple:
    if isinstance(tol, bool) or not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise SolverSettingsError(f"`tol` must be a positive finite number; got {tol!r}. Pass e.g. tol=1e-9.")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise SolverSettingsError(f"`max_iter` must be a positive integer; got {max_iter!r}. Pass e.g. max_iter=50.")
    if injectivity_radius is not None:
        ok = isinstance(injectivity_radius, (int, float, np.floating)) and not isinstance(injectivity_radius, bool)
        if not ok or not injectivity_radius > 0:
            raise SolverSettingsError(
                f"`injectivity_radius` must be a positive number (math.inf for a Hadamard manifold) or None; "
                f"got {injectivity_radius!r}."
            )
        injectivity_radius = float(injectivity_radius)
    if periods is not None:
        try:
            periods = tuple(None if p is None else float(p) for p in periods)
        except (TypeError, ValueError):
            periods = ()
        if len(periods) != metric.dim or any(p is not None and not (math.isfinite(p) and p > 0) for p in periods):
            raise SolverSettingsError(
                f"`periods` must give, for each of the {metric.dim} coordinates {metric.chart.coords}, a positive "
                f"finite period or None; got {periods!r}. E.g. periods=(None, 2 * math.pi) for (theta, phi)."
            )
        if sum(p is not None for p in periods) > 3:
            raise SolverSettingsError(f"`periods`: at most 3 periodic coordinates are supported; got {periods!r}.")
    return int(max_iter), injectivity_radius, periods


def _run(metric: Metric, x: Any, y: Any, tol: Any, max_iter: Any, injectivity_radius: Any, periods: Any):
    A, B, batch = _pair(metric, x, y, ("x", "y"))
    for pts, name in ((A, "x"), (B, "y")):
        inside = metric.chart.in_domain(pts)
        if not inside.all():
            bad = pts[np.flatnonzero(~inside)[0]].tolist()
            raise DomainError(
                f"`{name}` must lie in the domain of chart {metric.chart.name!r} {metric.chart.coords} (finite, "
                f"with the coordinates' sign assumptions); got {bad}. Map the point into this chart first."
            )
    max_iter, injectivity_radius, periods = _settings(metric, tol, max_iter, injectivity_radius, periods)
    n = metric.dim
    if A.shape[0] == 0:
        empty = np.zeros(0)
        parts = (empty, np.zeros((0, n)), empty, np.zeros(0, int), np.zeros(0, dtype=object))
    else:
        parts = _solve(metric, A, B, float(tol), max_iter, injectivity_radius, periods)
    d, v, ub, st, rs = parts
    return DistanceResult(
        distances=d.reshape(batch),
        velocities=v.reshape(batch + (n,)),
        upper_bounds=ub.reshape(batch),
        status=st.reshape(batch),
        reasons=str(rs[0]) if batch == () else rs.reshape(batch),
        chart=metric.chart,
    )


def _plain(res: DistanceResult, what: str, values: np.ndarray, x: Any, y: Any) -> Any:
    """The plain return value: raise for a single failed pair, NaN and one warning for failed pairs of a batch."""
    st = np.asarray(res.status)
    bad = st != Status.SUCCESS
    if st.ndim == 0:
        if bad:
            err = ConvergenceError(
                f"{what}: from x = {np.asarray(x, float).tolist()} to y = {np.asarray(y, float).tolist()}: "
                f"{res.reasons}. The shortest curve known has length {float(res.upper_bounds):.12g} (an upper "
                "bound). Pass `full_output=True` for the result with its status, `injectivity_radius=` or "
                "`periods=` if you know them, or split the pair at an intermediate point."
            )
            err.result = res  # type: ignore[attr-defined]
            raise err
        return float(values) if values.ndim == 0 else values
    if bad.any():
        first = np.asarray(res.reasons)[bad].reshape(-1)[0]
        warnings.warn(
            f"{what}: {int(bad.sum())} of {st.size} pairs are NaN, not certified minimizing (status "
            f"{res.summary()}); the first: {first}. Pass `full_output=True` for per-pair statuses, reasons and "
            "upper bounds.",
            MinimalityWarning,
            stacklevel=3,
        )
        values = np.array(values, dtype=float)
        values[bad] = np.nan
    return values


_COMMON_PARAMS = """metric : Metric
    x, y : array_like, shape (dim,) or (batch, dim)
        Base points and targets (chart components), same shape, in the chart's domain.
    tol : float
        A shot has reached ``y`` when its miss ``F = exp_x(v) - y`` has ``|F| <= tol * (1 + |y|)`` (chart
        components) and ``sqrt(g_y(F, F)) <= tol * (1 + |v|_g)`` (in the metric at ``y``).
    max_iter : int
        Newton iterations at most per run (each iteration halves its step at most 12 times; a run
        whose miss does not halve in 6 iterations stops and the next start is tried).
    injectivity_radius : float, optional
        A radius such that any geodesic shorter than it is the unique shortest curve between its ends
        (``math.inf`` for a Hadamard manifold). Default: what the catalogue knows
        (:func:`riemgrad.spaces.known_geometry`), else what the metric proves (see Notes).
    periods : sequence of (float or None), optional
        The period of each coordinate (``2 * math.pi`` for an angle) or None; targets are then tried at
        the two lifts of ``y`` nearest ``x`` per periodic coordinate (at most 3 periodic coordinates).
        Default: the catalogue's, else none.
    full_output : bool
        Return a :class:`~riemgrad.flows.DistanceResult` (per-pair status, reason, upper bound), never
        raising for a pair.
    """

_NOTES = """How a pair is solved and certified (all pairs of a batch together, in batched shots):

    1. The chart's straight segment from ``x`` to ``y`` is measured, ``S = int_0^1 sqrt(g(y - x, y - x)) ds``
       (adaptive 8-point Gauss-Legendre, at most 4096 panels): an upper bound on the distance, and the
       length the first guess is scaled to (the chart difference ``y - x`` with metric length ``S``), so a
       shot from near the chart's boundary (a Gaussian with ``sigma = 1e-3``) does not fly off; a first
       shot that still leaves the chart is slowed down by 4, at most 10 times.
    2. Damped Newton on ``v -> exp_x(v) - y``: each step halved (at most 12 times) until the miss
       shrinks and the shot stays in the chart; a run whose miss does not halve in 6 iterations stops.
       Converged: the miss is below ``tol`` both in chart components (relative to ``1 + |y|``) and in
       the metric at ``y`` (relative to ``1 + |v|_g``). Failures are retried by continuation: targets at
       1/4, ..., 4/4, then 1/16, ..., 16/16 of the chart segment, each answer scaled by the ratio of
       segment lengths as the next guess.
    3. Pairs not yet certified get more starts, in order, keeping the shortest geodesic that reaches
       ``y``: the same from ``y`` to ``x`` (the geodesic turned around and polished by Newton from
       ``x``); with periodic coordinates, the other lifts of ``y``; minus the velocity found (the
       other way round, as near antipodes on a sphere); last, for pairs with no geodesic yet, first
       guesses along each coordinate axis in both senses, shot directly and, failing that, by a
       homotopy in the target: the shot is halved until it lands within ``|y - x|`` of ``x``, at ``p``,
       then the targets ``p + (k/16)(y - p)`` are solved in turn (two Gaussians with ``sigma = 1e-3``
       and means 6 apart: every shot along the chart segment dives into ``sigma = 0``; straight up in
       ``sigma`` and down to ``y`` finds the half-circle).
    4. The geodesic is certified minimizing (``SUCCESS``) when it is shorter than the injectivity radius
       (given, or known to the catalogue: the sphere of radius a, pi a; the hyperbolic plane, the
       Gaussian's Fisher-Rao metric and Euclidean space, infinite) and not longer than ``S``. Without
       catalogue knowledge the metric itself can prove it: dimension 1, a constant matrix (flat), or
       in 2-D a constant Gaussian curvature K on a chart region without holes (radius pi/sqrt(K) for
       K > 0, infinite for K <= 0; proved by SymPy within the ``metric_checks`` budget). That certificate
       is about the chart's region and is not used with ``periods``. Otherwise ``MINIMALITY_UNKNOWN``.

    Bounded work: per pair, lift and start at most ``(1 + 4 + 16) * max_iter`` Newton iterations (a
    start from ``y`` adds one polishing run, a target homotopy 16 runs of ``max_iter``), each iteration
    at most 13 shots, each shot an adaptive integration of at most 1e6 steps (``Dopri5.max_steps``); at
    most ``2 ** k`` lifts for ``k <= 3`` periodic coordinates and ``2 * dim`` axis starts.
    """


def log_map(
    metric: Metric,
    x: Any,
    y: Any,
    *,
    tol: float = 1e-9,
    max_iter: int = 50,
    injectivity_radius: float | None = None,
    periods: Sequence[float | None] | None = None,
    full_output: bool = False,
) -> Any:
    """The logarithm map: the initial velocity at ``x`` of the minimizing geodesic to ``y``.

    Parameters
    ----------
    {params}
    Returns
    -------
    numpy.ndarray or DistanceResult
        Shaped like ``x``: ``exp_map(metric, x, v) == y`` along a geodesic certified minimizing. In a batch,
        rows of pairs that could not be certified are NaN and a :class:`~riemgrad.errors.MinimalityWarning`
        says how many (before this version a batch raised on the first such pair). With
        ``full_output=True``, the :class:`~riemgrad.flows.DistanceResult` (``.velocities``).

    Raises
    ------
    DomainError
        If a point of ``x`` or ``y`` lies outside the chart's domain (or is not finite).
    ConvergenceError
        For a single pair (``x`` of shape ``(dim,)``) that could not be certified, e.g. antipodes on a
        sphere (conjugate points: the geodesic is not unique); the message says why, and the error's
        ``result`` attribute holds the :class:`~riemgrad.flows.DistanceResult`.
    SolverSettingsError
        If ``tol``, ``max_iter``, ``injectivity_radius`` or ``periods`` is invalid.

    Notes
    -----
    {notes}
    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad import exp_map, log_map, spaces
    >>> half_plane = spaces.poincare_half_plane()
    >>> v = log_map(half_plane, [0.0, 1.0], [1.0, 1.0])
    >>> np.allclose(exp_map(half_plane, [0.0, 1.0], v), [1.0, 1.0])
    True
    """
    res = _run(metric, x, y, tol, max_iter, injectivity_radius, periods)
    if full_output:
        return res
    return _plain(res, "log_map", res.velocities, x, y)


def distance(
    metric: Metric,
    x: Any,
    y: Any,
    *,
    tol: float = 1e-9,
    max_iter: int = 50,
    injectivity_radius: float | None = None,
    periods: Sequence[float | None] | None = None,
    full_output: bool = False,
) -> Any:
    """Riemannian distance: the length ``sqrt(g_x(v, v))`` of a geodesic certified minimizing.

    Parameters
    ----------
    {params}
    Returns
    -------
    float, numpy.ndarray or DistanceResult
        A float for a single pair, an array of shape ``(batch,)`` for a batch, in which pairs that could
        not be certified are NaN and a :class:`~riemgrad.errors.MinimalityWarning` says how many (before
        this version a batch raised on the first such pair). With ``full_output=True``, the
        :class:`~riemgrad.flows.DistanceResult`: ``.distances``, ``.status``, ``.upper_bounds``, ``.reasons`` per pair.

    Raises
    ------
    DomainError
        If a point of ``x`` or ``y`` lies outside the chart's domain (or is not finite).
    ConvergenceError
        For a single pair that could not be certified; the error's ``result`` attribute holds the
        :class:`~riemgrad.flows.DistanceResult` with the upper bound.
    SolverSettingsError
        If ``tol``, ``max_iter``, ``injectivity_radius`` or ``periods`` is invalid.

    Notes
    -----
    {notes}
    Examples
    --------
    The Fisher-Rao distance between N(0, 1) and N(1, 1) is ``sqrt(2) arccosh(1 + 1 / 4)``:

    >>> import numpy as np, sympy as sp
    >>> from riemgrad import Chart, Metric, distance
    >>> mu = sp.Symbol("mu", real=True)
    >>> sigma = sp.Symbol("sigma", positive=True)
    >>> fisher = Metric(Chart("sigma", (mu, sigma)), sp.diag(1 / sigma**2, 2 / sigma**2))
    >>> d = distance(fisher, [0.0, 1.0], [1.0, 1.0])
    >>> round(d, 9), round(float(np.sqrt(2) * np.arccosh(1.25)), 9)
    (0.980258143, 0.980258143)

    On the unit sphere the longitude is periodic: the pair below is 2.3818 apart the short way round
    (the spherical law of cosines), while the geodesic that stays in the chart (phi from 0 to 4) has
    length 2 pi - 2.3818 = 3.9014:

    >>> from riemgrad import spaces
    >>> round(distance(spaces.sphere(), [1.0, 0.0], [2.0, 4.0]), 6)
    2.3818
    """
    res = _run(metric, x, y, tol, max_iter, injectivity_radius, periods)
    if full_output:
        return res
    return _plain(res, "distance", res.distances, x, y)


for _f in (log_map, distance):
    _f.__doc__ = _f.__doc__.format(params=_COMMON_PARAMS, notes=_NOTES)
