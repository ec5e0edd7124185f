"""The starts of :func:`riemgrad.distance`: shots from ``x`` and from ``y``, continuation, target homotopy.

Each function runs one kind of start for a batch of pairs (rows of ``A`` and targets ``T``) and returns
the velocities at ``A`` and, per row, ``"ok"``, the conjugate-point message, or why it failed. Every
loop is bounded (see the Notes of :func:`riemgrad.distance`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from ..kernels import GeodesicField
from ..symbolic import Metric
from ._certify import PANELS
from .geodesics import _CONJUGATE, _newton, geodesic
from .results import Status

__all__ = ["STAGES", "OK", "scaled", "shoot_rows", "lifts", "lengths", "attempt", "target_homotopy"]

#: Continuation stages tried, in order, for a pair whose direct shot fails (targets along the chart segment).
STAGES = (4, 16)
OK = "ok"
_OK = OK


def scaled(field: GeodesicField, A: np.ndarray, D: np.ndarray, length: np.ndarray) -> np.ndarray:
    """The chart direction D at A scaled to metric length ``length`` (D itself where that is not finite)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.sqrt(field.energy(np.concatenate([A, D], axis=1)))
        f = length / norm
    f = np.where(np.isfinite(f) & (f > 0), f, 1.0)
    return D * f[:, None]


def shoot_rows(
    metric: Metric, field: GeodesicField, A: np.ndarray, T: np.ndarray, cum: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    """Newton from the scaled chart difference, then continuation along the chart segment for the failures.

    ``cum`` holds the segment's cumulative lengths at s = k/16. Continuation with n stages shoots at
    A + (k/n)(T - A), each stage's answer scaled by the ratio of segment lengths as the next guess.
    Returns the velocities and, per row, "ok", the conjugate-point message, or why it failed.
    """
    V, reason = _newton(metric, A, T, scaled(field, A, T - A, cum[:, -1]), tol, max_iter)
    for stages in STAGES:
        retry = np.flatnonzero((reason != _OK) & (reason != _CONJUGATE))
        if retry.size == 0:
            break
        Ar, Tr, cr = A[retry], T[retry], cum[retry]
        Vr = np.zeros_like(Ar)
        alive = np.ones(retry.size, bool)
        for k in range(1, stages + 1):
            live = np.flatnonzero(alive)
            target = Ar[live] + (k / stages) * (Tr[live] - Ar[live])
            s_k = cr[live, k * PANELS // stages]
            if k == 1:
                guess = scaled(field, Ar[live], target - Ar[live], s_k)
            else:
                with np.errstate(invalid="ignore", divide="ignore"):
                    ratio = s_k / cr[live, (k - 1) * PANELS // stages]
                ratio = np.where(np.isfinite(ratio) & (ratio > 0), ratio, k / (k - 1))
                guess = Vr[live] * ratio[:, None]
            Vk, rk = _newton(metric, Ar[live], target, guess, tol, max_iter)
            Vr[live] = Vk
            alive[live[(rk != _OK) & ((rk != _CONJUGATE) | (k < stages))]] = False
            if k == stages:
                reason[retry[live]] = rk
        V[retry[alive]] = Vr[alive]
    return V, reason


def lifts(B: np.ndarray, A: np.ndarray, periods: Sequence[float | None]) -> list[np.ndarray]:
    """Targets equivalent to B under the periods, nearest first: per periodic coordinate, the lift nearest A
    (``|y_i - x_i| <= p / 2``) and the nearest on the other side."""
    choices = []
    for i, p in enumerate(periods):
        if p is None:
            choices.append([B[:, i]])
            continue
        near = B[:, i] + p * np.round((A[:, i] - B[:, i]) / p)
        other = near + p * np.where(near > A[:, i], -1.0, 1.0)
        choices.append([near, other])
    return [np.stack(c, axis=1) for c in itertools.product(*choices)]


def lengths(field: GeodesicField, A: np.ndarray, V: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(field.energy(np.concatenate([A, V], axis=1)), 0.0))


def attempt(
    metric: Metric, field: GeodesicField, A: np.ndarray, T: np.ndarray, cum: np.ndarray, backward: bool,
    tol: float, max_iter: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """One start for every row: velocities, lengths (inf where the target was not reached) and reasons.

    Backward: shoot from T to A, turn the geodesic around (minus its velocity at time 1) and polish that
    velocity with Newton from A."""
    L = np.full(A.shape[0], np.inf)
    if not backward:
        V, reason = shoot_rows(metric, field, A, T, cum, tol, max_iter)
    else:
        V, reason = np.full_like(A, np.nan), np.full(A.shape[0], "", dtype=object)
        Vb, rb = shoot_rows(metric, field, T, A, cum[:, -1:] - cum[:, ::-1], tol, max_iter)
        reason[:] = ["from y: " + str(r) for r in rb]
        ok = np.flatnonzero((rb == _OK) | (rb == _CONJUGATE))
        if ok.size:
            ends = geodesic(metric, T[ok], Vb[ok], (0.0, 1.0))
            turned = -ends.vs[-1]
            rows = ok[np.isfinite(turned).all(axis=1)]
            Vp, rp = _newton(metric, A[rows], T[rows], turned[np.isfinite(turned).all(axis=1)], tol, max_iter)
            V[rows], reason[rows] = Vp, rp
    hit = np.flatnonzero((reason == _OK) | (reason == _CONJUGATE))
    if hit.size:
        L[hit] = lengths(field, A[hit], V[hit])
    return V, L, reason


def target_homotopy(
    metric: Metric, A: np.ndarray, T: np.ndarray, V0: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    """Newton along a path of targets that starts at a solved problem.

    The shot ``V0`` is halved (at most 20 times) until it stays in the chart and lands within the chart
    distance ``|T - A|`` of ``A``, at ``P``; then the targets ``P + (k / 16)(T - P)``, k = 1..16, are
    solved in turn, each from the previous answer.
    """
    m = A.shape[0]
    V = np.array(V0, dtype=float)
    reach = np.linalg.norm(T - A, axis=1)
    P = np.full_like(A, np.nan)
    pending = np.arange(m)
    for _ in range(21):
        ends = geodesic(metric, A[pending], V[pending], (0.0, 1.0))
        good = (ends.status == Status.SUCCESS) & (np.linalg.norm(ends.xs[-1] - A[pending], axis=1) <= reach[pending])
        P[pending[good]] = ends.xs[-1][good]
        pending = pending[~good]
        if pending.size == 0:
            break
        V[pending] /= 2
    reason = np.full(m, "no shot from x stayed in the chart near x (target homotopy)", dtype=object)
    alive = np.flatnonzero(np.isfinite(P).all(axis=1))
    for k in range(1, 17):
        if alive.size == 0:
            break
        target = P[alive] + (k / 16) * (T[alive] - P[alive])
        Vk, rk = _newton(metric, A[alive], target, V[alive], tol, max_iter)
        V[alive] = Vk
        reason[alive] = [f"target homotopy, stage {k} of 16: {r}" if r != _OK else r for r in rk]
        ok = (rk == _OK) | ((rk == _CONJUGATE) & (k == 16))
        if k == 16:
            reason[alive[rk == _CONJUGATE]] = _CONJUGATE
        alive = alive[ok]
    return V, reason
