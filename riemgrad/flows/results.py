"""Outcomes of flows and descent: a status per starting point, and the result records."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..kernels.abi import STATUS_CODES
from ..symbolic import Chart
from .display import ResultDisplay

__all__ = ["Status", "FlowResult", "DescentResult"]

class _StatusBase(enum.IntEnum):
    @property
    def message(self) -> str:
        """The user-facing explanation and fix."""
        return _MESSAGES[int(self)]


_MESSAGES = {s.code: s.message for s in STATUS_CODES}

#: Built from the one table of outcomes, :data:`riemgrad.kernels.abi.STATUS_CODES`, whose codes the
#: code generator prints into the kernels.
Status = _StatusBase("Status", [(s.name, s.code) for s in STATUS_CODES], module=__name__, qualname="Status")
Status.__doc__ = """What became of one starting point; each member's :attr:`message` says what to do.

    Results hold statuses as an integer array, so comparisons such as
    ``result.status == Status.LEFT_DOMAIN`` work element-wise. The members and
    their codes come from :data:`riemgrad.kernels.abi.STATUS_CODES`:
    ``SUCCESS`` (0), ``LEFT_DOMAIN`` (1), ``NONFINITE`` (2),
    ``SINGULAR_METRIC`` (3), ``MAX_STEPS`` (4), ``STEP_SIZE_TOO_SMALL`` (5), ``DIVERGED`` (6, descent only),
    and for :func:`riemgrad.distance` and :func:`riemgrad.log_map` ``MINIMALITY_UNKNOWN`` (7).

    Examples
    --------
    >>> from riemgrad import Status
    >>> Status(1).name
    'LEFT_DOMAIN'
    >>> Status.MAX_STEPS.message
    'The maximum number of solver steps was reached. Try increasing `max_steps`.'
    """


def _summary(status: np.ndarray) -> dict[str, int]:
    codes, counts = np.unique(np.asarray(status).reshape(-1), return_counts=True)
    return {Status(int(c)).name: int(n) for c, n in zip(codes, counts)}


class _StatusSummary:
    """Per-trajectory status helpers shared by the result records."""

    status: np.ndarray

    @property
    def succeeded(self) -> Any:
        """True where the status is SUCCESS (a bool, or a bool array for a batch)."""
        ok = np.asarray(self.status) == Status.SUCCESS
        return bool(ok) if ok.ndim == 0 else ok

    def summary(self) -> dict[str, int]:
        """How many starting points ended in each status, e.g. ``{'SUCCESS': 99, 'LEFT_DOMAIN': 1}``."""
        return _summary(self.status)

    @property
    def messages(self) -> list[str]:
        """The distinct messages of the statuses that occurred."""
        return [Status[name].message for name in self.summary()]


class _Recorded(_StatusSummary):
    """Status helpers and the recorded losses, shared by FlowResult and DescentResult."""

    xs: np.ndarray
    _loss_fn: Callable[[np.ndarray], np.ndarray]

    @property
    def losses(self) -> np.ndarray:
        """The loss at each recorded state, shape ``xs.shape[:-1]``; NaN where the trajectory had failed.

        Computed from :attr:`xs` with the field's compiled loss on first access
        (and kept), so runs that never read it do not pay for it.
        """
        cached = self.__dict__.get("_losses")
        if cached is None:
            flat = self.xs.reshape(-1, self.xs.shape[-1])
            ok = np.isfinite(flat).all(axis=1)
            out = np.full(flat.shape[0], np.nan)
            if ok.any():
                out[ok] = self._loss_fn(flat[ok])
            cached = out.reshape(self.xs.shape[:-1])
            object.__setattr__(self, "_losses", cached)
        return cached


@dataclass(frozen=True)
class FlowResult(_Recorded, ResultDisplay):
    """A solved gradient flow, time-first.

    Attributes
    ----------
    ts : numpy.ndarray, shape (n_t,)
        The recorded times.
    xs : numpy.ndarray, shape (n_t,) + x0.shape
        The states at ``ts``; NaN after a trajectory failed.
    losses : numpy.ndarray, shape (n_t,) + batch shape
        The loss at each recorded state (evaluated on first access).
    status : numpy.ndarray of int, batch shape
        One :class:`Status` code per starting point.
    t_final : numpy.ndarray, batch shape
        The time of each trajectory's last valid state (``t_span[1]`` on success).
    n_steps : numpy.ndarray of int, batch shape
        Steps taken per trajectory (accepted and rejected for adaptive steppers).
    chart : Chart
        The chart of ``xs``.
    stepper : str
        The stepper used.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, compile_flow, euclidean_metric, solve_flow
    >>> x = sp.Symbol("x", real=True)
    >>> field = compile_flow(euclidean_metric(Chart("line", (x,))), x**2 / 2)
    >>> res = solve_flow(field, [1.0], (0.0, 1.0), dt=0.01)
    >>> res.xs.shape, res.status.tolist(), res.succeeded
    ((2, 1), 0, True)
    """

    ts: np.ndarray
    xs: np.ndarray
    status: np.ndarray
    t_final: np.ndarray
    n_steps: np.ndarray
    chart: Chart
    stepper: str
    _loss_fn: Callable[[np.ndarray], np.ndarray] = field(repr=False, compare=False)


@dataclass(frozen=True)
class DescentResult(_Recorded, ResultDisplay):
    """A run of (preconditioned) gradient descent, step-index-first.

    Attributes
    ----------
    ks : numpy.ndarray of int, shape (n_k,)
        The recorded step indices (0 is the start).
    xs : numpy.ndarray, shape (n_k,) + x0.shape
        The iterates at ``ks``; NaN after a trajectory failed.
    losses : numpy.ndarray, shape (n_k,) + batch shape
        The loss at each recorded iterate (evaluated on first access).
    status : numpy.ndarray of int, batch shape
        One :class:`Status` code per starting point.
    k_final : numpy.ndarray of int, batch shape
        The index of each trajectory's last valid iterate.
    chart : Chart
    preconditioner : str
        The name of the preconditioner used.
    metric_diagonal : numpy.ndarray or None, shape (n_k,) + x0.shape
        For :func:`~riemgrad.preconditioners.rmsprop` and :func:`~riemgrad.preconditioners.adam`: the
        diagonal of the metric the preconditioner holds at each recorded step, ``sqrt(v_hat) + eps``
        (the step is ``-lr m_hat / (sqrt(v_hat) + eps)``, a diagonal-metric step; RMSprop has
        ``v_hat = v``, no momentum), with ``v`` the running mean of ``g**2`` after ``ks[i]`` updates:
        the metric that produced the step into ``xs[i]``. At step 0 (``v = 0``; Adam's bias-corrected
        ``0 / 0`` taken as 0) it is ``eps``. NaN where ``xs`` is NaN. Recorded by the compiled kernels
        and by the Python loop (a pair whose ``update`` is the one those factories made). None for
        every other preconditioner.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, compile_flow, descend, euclidean_metric
    >>> x = sp.Symbol("x", real=True)
    >>> field = compile_flow(euclidean_metric(Chart("line", (x,))), x**2 / 2)
    >>> res = descend(field, [[1.0], [2.0]], lr=0.5, steps=3)
    >>> res.ks.tolist(), res.xs[-1].ravel().tolist()
    ([0, 3], [0.125, 0.25])

    Adam's diagonal metric: after one step ``v_hat = g**2``, so ``sqrt(v_hat) = |g| = |x0|`` here.

    >>> from riemgrad.preconditioners import adam
    >>> res = descend(field, [[1.0], [2.0]], lr=0.1, steps=1, preconditioner=adam(eps=0.0))
    >>> res.metric_diagonal.shape, res.metric_diagonal[-1].ravel().tolist()
    ((2, 2, 1), [1.0, 2.0])
    """

    ks: np.ndarray
    xs: np.ndarray
    status: np.ndarray
    k_final: np.ndarray
    chart: Chart
    preconditioner: str
    _loss_fn: Callable[[np.ndarray], np.ndarray] = field(repr=False, compare=False)
    metric_diagonal: np.ndarray | None = field(default=None, repr=False, compare=False, kw_only=True)
