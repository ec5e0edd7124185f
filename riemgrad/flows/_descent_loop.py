"""The descent loop in Python, for user-built (init, update) pairs, and the divergence test.

:func:`_descend_python` runs the loop of the compiled descent kernels
(:mod:`riemgrad.kernels.codegen.template`) step for step in NumPy: the same backtracking,
the same statuses, the same divergence test every ``BLOCK`` steps. Private to
:func:`riemgrad.descend`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ArgumentTypeError, ShapeError
from ..kernels import FlowField
from ..kernels.abi import DIVERGENCE_LOSS_FACTOR, DIVERGENCE_NORM_FACTOR, EVALUATORS
from ..kernels.codegen.template import BLOCK
from .preconditioners import _TWINS, Preconditioner
from .results import Status

__all__: list[str] = []


def _descend_python(
    field: FlowField,
    X: np.ndarray,
    lr: float,
    steps: int,
    idx: np.ndarray,
    p: Any,
    pre: Preconditioner,
    backtracking: bool,
    status: np.ndarray,
    klast: np.ndarray,
    diagonal: bool = False,
) -> Any:
    """The same loop as the compiled kernel, for user-defined (init, update) pairs.

    Returns the saved iterates ``XS`` (n_save, B, dim); with ``diagonal=True`` the pair ``(XS, D)``,
    ``D`` (n_save, B, dim) the diagonal metric of an RMSprop/Adam update at the saved steps
    (:func:`_state_diagonal`), or None for other pairs.
    """
    x = X.T.copy()  # (B, dim)
    status[:] = np.where(field.chart.in_domain(x), 0, Status.LEFT_DOMAIN)
    x0 = X.copy()
    state = pre.init(x)
    extras = _update_keywords(pre.update, field, lr, p)
    si = 0
    XS = np.empty((idx.size, x.shape[0], x.shape[1]))
    of_state = _state_diagonal(pre) if diagonal else None
    D = None if of_state is None else np.empty_like(XS)

    def save(si: int) -> int:
        while si < idx.size and idx[si] == k:
            XS[si] = np.where(status[:, None] == 0, x, np.nan)
            if D is not None:
                D[si] = np.where(status[:, None] == 0, of_state(state, x.shape), np.nan)
            si += 1
        return si

    k = 0
    si = save(si)
    for k in range(1, steps + 1):
        g = field.gradient(x, p)
        v = field.velocity(x, p)
        out = pre.update(g, state, v, **{key: (x.copy() if key == "x" else val) for key, val in extras.items()})
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ArgumentTypeError(
                f"`preconditioner` {pre.name!r}: update(grad, state, velocity) must return a pair "
                f"(direction, state); got {type(out).__name__}."
            )
        d, state = out
        try:
            d = np.asarray(d, dtype=float)
        except (TypeError, ValueError):
            d = np.asarray(np.nan)
        if d.shape != x.shape:
            raise ShapeError(
                f"`preconditioner` {pre.name!r}: update(grad, state, velocity) must return a direction of the "
                f"shape of `grad`, {x.shape} (batch, dim); got shape {d.shape}. Fix its update function."
            )
        eta = np.full(x.shape[0], lr)
        if backtracking:
            l0 = field.loss(x, p)
            slope = np.sum(g * d, axis=1)
            todo = slope < 0
            eta[~todo] = 0.0
            for _ in range(60):
                if not todo.any():
                    break
                trial = x + eta[:, None] * d
                ok = field.chart.in_domain(trial)
                lt = np.where(ok, field.loss(np.where(ok[:, None], trial, x), p), np.inf)
                good = todo & (lt <= l0 + 1e-4 * eta * slope)
                todo &= ~good
                eta[todo] *= 0.5
            eta[todo] = 0.0
        new = x + eta[:, None] * d
        alive = status == 0
        fin = np.all(np.isfinite(new), axis=1)
        dom = field.chart.in_domain(np.where(fin[:, None], new, 1.0))
        bad = alive & ~(fin & dom)
        status[bad] = np.where(fin[bad], Status.LEFT_DOMAIN, Status.NONFINITE)
        move = alive & ~bad
        x[move] = new[move]
        klast[move] = k
        si = save(si)
        if k % BLOCK == 0 or k == steps:  # as the compiled kernels
            _mark_diverged(field, x0, x.T, status, field.param_vector(p))
    X[:, :] = x.T
    return (XS, D) if diagonal else XS


def _state_diagonal(pre: Preconditioner) -> Callable[[Any, tuple[int, int]], np.ndarray] | None:
    """For a pair whose ``update`` is the one :func:`~riemgrad.preconditioners.rmsprop` or
    :func:`~riemgrad.preconditioners.adam` made (whatever its ``init``), the function of its state giving
    the diagonal metric ``sqrt(v_hat) + eps`` (batch, dim), as the compiled kernels record it: ``eps``
    before the first step (``v = 0``; Adam's ``v_hat = 0 / 0`` taken as 0). None for other pairs."""
    twin = _TWINS.get(pre.update)
    if twin is None or twin[1] not in ("rmsprop", "adam"):
        return None
    _, b2, eps = twin[2]
    if twin[1] == "rmsprop":
        return lambda v, shape: np.sqrt(np.broadcast_to(v, shape)) + eps

    def adam_diagonal(state: Any, shape: tuple[int, int]) -> np.ndarray:
        _, v, k = state
        vhat = np.broadcast_to(v, shape) / (1.0 - b2**k) if k > 0 else np.zeros(shape)
        return np.sqrt(vhat) + eps

    return adam_diagonal


def _update_keywords(update: Any, field: FlowField, lr: float, p: Any) -> dict[str, Any]:
    """The keyword arguments ``update`` names among ``x``, ``lr``, ``loss``, ``metric`` (``x`` filled per step)."""
    try:
        names = set(inspect.signature(update).parameters)
    except (TypeError, ValueError):  # a builtin or C function: the three-argument protocol
        return {}

    def loss(points: np.ndarray) -> np.ndarray:
        pts = np.asarray(points, dtype=float)
        out = np.full(pts.shape[0], np.nan)
        fin = np.all(np.isfinite(pts), axis=1)
        ok = fin & field.chart.in_domain(np.where(fin[:, None], pts, 1.0))
        if ok.any():
            out[ok] = field.loss(pts[ok], p)
        return out

    offered = {"x": None, "lr": lr, "loss": loss, "metric": lambda points: field.metric(points, p)}
    return {key: val for key, val in offered.items() if key in names}


def _mark_diverged(field: FlowField, X0: np.ndarray, X: np.ndarray, status: np.ndarray, p: np.ndarray) -> None:
    """DIVERGED for the live trajectories of ``X`` (dim, B) far above their start ``X0`` (dim, B) in loss or
    size: ``L - L0 > DIVERGENCE_LOSS_FACTOR (|L0| + 1)`` or ``max|x| > DIVERGENCE_NORM_FACTOR (1 + max|x0|)``
    (:data:`riemgrad.kernels.abi.DIVERGENCE_LOSS_FACTOR`); the test of the compiled kernels' ``_diverged``."""
    live = np.flatnonzero(status == Status.SUCCESS)
    if live.size == 0:
        return
    x, x0 = np.ascontiguousarray(X[:, live]), np.ascontiguousarray(X0[:, live])
    big = np.max(np.abs(x), axis=0) > DIVERGENCE_NORM_FACTOR * (1.0 + np.max(np.abs(x0), axis=0))
    l, l0 = np.empty(live.size), np.empty(live.size)
    field._call(EVALUATORS["loss"], x, p, l)
    field._call(EVALUATORS["loss"], x0, p, l0)
    with np.errstate(invalid="ignore"):
        up = l - l0 > DIVERGENCE_LOSS_FACTOR * (np.abs(l0) + 1.0)
    status[live[big | up]] = Status.DIVERGED
