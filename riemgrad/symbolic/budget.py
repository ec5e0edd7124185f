"""Time budgets for symbolic work that can blow up: integration, exact checks, simplification.

SymPy's ``integrate``, polynomial gcds over many generators and ``cancel``
can run for minutes or never finish, and a thread cannot interrupt them.
riemgrad bounds them with a wall-clock budget enforced by a ``SIGALRM``
timer in the main thread: when the budget runs out, a
:class:`~riemgrad.errors.BudgetExceededError` is raised inside the running
computation (and again every 50 ms until the budgeted block is left, in
case SymPy swallows it). Each caller turns it into its documented fallback:

=================  ===============  ===========================================================
budget             default (s)      what happens when it runs out
=================  ===============  ===========================================================
``integral``       10               one exact expectation (an integral or sum, every route
                                    tried for it) gives up: ``IntegrationError`` naming it
``derivation``     60               one ``fisher_metric``, ``kl_divergence`` or
                                    ``function_space_metric`` call gives up:
                                    ``IntegrationError`` naming what was being integrated
``metric_checks``  2                the exact checks at ``Metric`` construction (symmetry,
                                    determinant, definiteness) give up and are replaced by
                                    numeric checks at random points of the chart's domain;
                                    a ``ExactCheckSkippedWarning`` says so and
                                    ``Metric.checks`` records it
``simplify``       30               one ``simplify_expr`` call keeps the unsimplified (exact,
                                    equal) expression; a ``SimplificationSkippedWarning`` says so
=================  ===============  ===========================================================

A budget of ``None`` means unbounded. Budgets nest: an inner budget never
outlives the one around it. In any other thread (a Dask or thread-pool
worker) the same error is raised in that thread by a watchdog thread,
through CPython's ``PyThreadState_SetAsyncExc``, at the same moments; both
mechanisms act between Python bytecodes, so a single long call into C code
is interrupted when it returns. Where neither exists (no ``SIGALRM`` in the
main thread, or not CPython) the work runs unbounded; :func:`budgets_enforced`
tells which.

Examples
--------
>>> from riemgrad.symbolic import budget
>>> budget.get_budget("integral")
10.0
>>> with budget.budgets(integral=0.5):
...     budget.get_budget("integral")
0.5
"""

from __future__ import annotations

import ctypes
import math
import platform
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import BudgetExceededError, SolverSettingsError

__all__ = ["DEFAULT_BUDGETS", "get_budget", "budgets", "time_budget", "ran_out", "budgets_enforced"]

#: The documented defaults, in seconds.
DEFAULT_BUDGETS: dict[str, float | None] = {"integral": 10.0, "derivation": 60.0, "metric_checks": 2.0, "simplify": 30.0}
_current: dict[str, float | None] = dict(DEFAULT_BUDGETS)
_REPEAT = 0.05  # seconds between repeated alarms once a budget has run out


@dataclass
class _Frame:
    deadline: float
    seconds: float
    what: str
    closing: bool = False


_stack: list[_Frame] = []
_previous_handler: Any = None


def get_budget(name: str) -> float | None:
    """The budget in seconds (or None: unbounded) currently set for ``name``.

    Examples
    --------
    >>> get_budget("metric_checks")
    2.0
    """
    if name not in _current:
        raise SolverSettingsError(f"`name` must be one of {sorted(_current)}; got {name!r}.")
    return _current[name]


@contextmanager
def budgets(**seconds: float | None) -> Iterator[None]:
    """Override budgets inside a ``with`` block, e.g. ``with budgets(integral=60, metric_checks=None):``.

    Raises
    ------
    SolverSettingsError
        If a name is unknown or a value is not a positive finite number or None.

    Examples
    --------
    >>> with budgets(simplify=None):
    ...     get_budget("simplify") is None
    True
    """
    for k, v in seconds.items():
        if k not in _current:
            raise SolverSettingsError(f"`{k}` is not a budget; the budgets are {sorted(_current)}.")
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 < v < math.inf)):
            raise SolverSettingsError(f"`{k}` must be a positive number of seconds or None (unbounded); got {v!r}.")
    saved = dict(_current)
    _current.update({k: (None if v is None else float(v)) for k, v in seconds.items()})
    try:
        yield
    finally:
        _current.clear()
        _current.update(saved)


def _on_main_thread() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def budgets_enforced() -> bool:
    """True when budgets can be enforced in this thread.

    The main thread uses ``SIGALRM``; other threads use a watchdog thread
    (CPython only).

    Examples
    --------
    >>> isinstance(budgets_enforced(), bool)
    True
    """
    return _on_main_thread() or _ASYNC_OK


def _handler(signum: int, frame: Any) -> None:
    if not _stack:
        if callable(_previous_handler):  # not ours: pass it on
            _previous_handler(signum, frame)
        return
    f = _stack[-1]
    if f.closing:
        return
    if time.monotonic() >= f.deadline - 1e-3:
        err = BudgetExceededError(f.what, f.seconds)
        err.frame = f
        raise err
    _arm(f.deadline - time.monotonic())  # fired early (a pending alarm of an earlier budget): wait for ours


def _arm(delay: float) -> None:
    signal.setitimer(signal.ITIMER_REAL, max(delay, 1e-4), _REPEAT)


# ------------------------------------------------------------------ worker threads
# Each non-main thread keeps its own stack of budget frames; one watchdog thread raises the error in the
# thread whose innermost frame ran out (and again every _REPEAT s until the frame closes). A frame is
# marked closing under _lock before it is left, and any exception fired but not yet delivered is then
# withdrawn, so none escapes the budgeted block.
_ASYNC_OK = platform.python_implementation() == "CPython" and hasattr(ctypes, "pythonapi")
_lock = threading.Condition()
_workers: dict[int, list[_Frame]] = {}
_watchdog: threading.Thread | None = None


def _set_async(tid: int, exc: Any) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), ctypes.py_object(exc) if exc else None)


def _error_class(f: _Frame) -> type:
    """A subclass of BudgetExceededError for frame ``f`` (the watchdog can raise only a class), built once
    per frame and reused by the repeated alarms."""
    cls = getattr(f, "error_class", None)
    if cls is None:

        def init(self: BudgetExceededError) -> None:
            BudgetExceededError.__init__(self, f.what, f.seconds)

        cls = type("BudgetExceededError", (BudgetExceededError,), {"__init__": init, "frame": f,
                                                                  "__module__": BudgetExceededError.__module__})
        f.error_class = cls
    return cls


def _watch() -> None:
    with _lock:
        while True:
            now = time.monotonic()
            wake = math.inf
            for tid, stack in _workers.items():
                f = stack[-1]
                if f.closing:
                    continue
                due = max(f.deadline, getattr(f, "next_fire", 0.0))
                if now >= due:
                    _set_async(tid, _error_class(f))
                    f.next_fire = now + _REPEAT
                    due = f.next_fire
                wake = min(wake, due)
            _lock.wait(None if wake == math.inf else max(wake - now, 1e-4))


@contextmanager
def _worker_budget(seconds: float, what: str) -> Iterator[_Frame | None]:
    global _watchdog
    tid = threading.get_ident()
    now = time.monotonic()
    with _lock:
        stack = _workers.get(tid, [])
        if stack and stack[-1].deadline <= now + seconds:
            fr = None
        else:
            fr = _Frame(now + seconds, seconds, what)
            _workers[tid] = [*stack, fr]
            if _watchdog is None or not _watchdog.is_alive():
                _watchdog = threading.Thread(target=_watch, name="riemgrad-budget-watchdog", daemon=True)
                _watchdog.start()
            _lock.notify()
    if fr is None:
        yield None
        return
    try:
        yield fr
    finally:
        with _lock:
            fr.closing = True
            _set_async(tid, None)  # withdraw an error fired but not yet raised
            rest = _workers[tid][:-1]
            if rest:
                _workers[tid] = rest
            else:
                del _workers[tid]
            _lock.notify()


@contextmanager
def time_budget(seconds: float | None, what: str) -> Iterator[_Frame | None]:
    """Run the block with a wall-clock budget; past it, BudgetExceededError is raised inside the block.

    Parameters
    ----------
    seconds : float or None
        The budget; None runs unbounded (within any enclosing budget).
    what : str
        What is being computed, for the error message.

    Yields
    ------
    token
        Pass it with the error to :func:`ran_out` to tell this budget from
        an enclosing one (None when this block sets no budget of its own).

    Raises
    ------
    BudgetExceededError
        In the block, when the budget (or an enclosing one) runs out. Its
        ``what`` and ``seconds`` attributes name the budget that ran out.

    Examples
    --------
    >>> import time
    >>> from riemgrad.errors import BudgetExceededError
    >>> try:
    ...     with time_budget(0.05, "a nap"):
    ...         time.sleep(1)
    ... except BudgetExceededError as err:
    ...     print(err.what)
    a nap
    """
    global _previous_handler
    if seconds is None or not budgets_enforced():
        yield None
        return
    if not _on_main_thread():
        with _worker_budget(seconds, what) as fr:
            yield fr
        return
    now = time.monotonic()
    deadline = now + seconds
    if _stack and _stack[-1].deadline <= deadline:  # the enclosing budget runs out first: it stays in charge
        yield None
        return
    if signal.getsignal(signal.SIGALRM) is not _handler:
        # installed once and kept: a late alarm after the last budget closed must not reach SIG_DFL
        # (which would end the process); another handler found here is chained when no budget runs
        _previous_handler = signal.signal(signal.SIGALRM, _handler)
    fr = _Frame(deadline, seconds, what)
    _stack.append(fr)
    _arm(seconds)
    try:
        yield fr
    finally:
        fr.closing = True  # first: from here on the handler never raises for this frame
        signal.setitimer(signal.ITIMER_REAL, 0)
        _stack.pop()
        if _stack:
            _arm(_stack[-1].deadline - time.monotonic())


def ran_out(token: _Frame | None, exc: BudgetExceededError) -> bool:
    """True if ``exc`` is the budget of ``token`` (from :func:`time_budget`) running out, not an enclosing one.

    Examples
    --------
    >>> import time
    >>> from riemgrad.errors import BudgetExceededError
    >>> try:
    ...     with time_budget(0.05, "outer") as outer:
    ...         with time_budget(5, "inner") as inner:
    ...             time.sleep(1)
    ... except BudgetExceededError as err:
    ...     print(ran_out(inner, err), ran_out(outer, err))
    False True
    """
    return token is not None and getattr(exc, "frame", None) is token
