"""Running a range kernel over a batch: one call, or one per thread on a pool kept for the process.

The ``_range`` kernels (see :mod:`riemgrad.kernels.abi`) loop over chunks of at most ``CHUNK``
trajectories themselves and release the GIL, so contiguous ranges of a batch run in parallel on
threads with no Python between chunks.

Long runs go to the pool's worker threads even on one thread, while the calling thread waits in
short timeouts: a SIGINT (Ctrl-C, Jupyter's "Interrupt kernel") then reaches Python, which sets
the stop flag of the run's control array (:func:`riemgrad.kernels.abi.control_array`); every
kernel reads it between blocks of steps and returns, the waiting thread collects the workers and
re-raises ``KeyboardInterrupt``. The pool is idle and usable afterwards. Short runs (under a
few hundredths of a second by the caller's estimate) are called directly: handing a call to a
thread costs 0.03-0.3 ms.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from .abi import CHUNK, CONTROL_STOP

__all__ = ["chunk_bounds", "run_on_threads", "run_controlled", "WAIT"]

_POOL: list[Any] = []
_LOCK = threading.Lock()

#: Seconds the waiting thread sleeps between looks at the workers (and the progress counters).
WAIT = 0.05


def _pool(threads: int) -> ThreadPoolExecutor:
    """A thread pool kept for the process (starting threads at every call measured ~0.4 ms)."""
    with _LOCK:
        if not _POOL or _POOL[0]._max_workers < threads:
            _POOL[:] = [ThreadPoolExecutor(max_workers=threads, thread_name_prefix="riemgrad")]
        return _POOL[0]


def run_on_threads(fn: Callable[[Any], Any], items: Iterable[Any], threads: int, warm: bool = False) -> None:
    """Apply ``fn`` to every item, on ``threads`` threads.

    Unless ``warm``, the first item runs alone so that the kernel is compiled (or loaded from
    disk) once, not by every thread. The calling thread takes an item itself.

    Examples
    --------
    >>> seen = []
    >>> run_on_threads(seen.append, range(3), threads=1)
    >>> seen
    [0, 1, 2]
    """
    items = list(items)
    if threads <= 1 or len(items) <= 1:
        for it in items:
            fn(it)
        return
    if not warm:
        fn(items.pop(0))
    futures = [_pool(threads).submit(fn, it) for it in items[1:]]
    try:
        if items:
            fn(items[0])
    finally:
        for fut in futures:
            fut.result()


def run_controlled(
    fn: Callable[[int], Any],
    parts: int,
    ctl: np.ndarray | None,
    threads: int,
    *,
    background: bool = True,
    watch: Callable[[], None] | None = None,
    join_on_interrupt: bool = True,
) -> None:
    """Run ``fn(0), ..., fn(parts - 1)`` on ``threads`` worker threads while this thread waits,
    interruptibly.

    Parameters
    ----------
    fn : callable
        Runs part ``i`` (a kernel call with control row ``ctl[i % len(ctl)]``).
    parts : int
        The number of calls.
    ctl : numpy.ndarray of int64, shape (rows, CONTROL_WIDTH), or None
        The run's control array; its stop column is set on ``KeyboardInterrupt``.
    threads : int
        Worker threads (at least one).
    background : bool
        False: call the parts here, one after the other (short runs; not interruptible).
    watch : callable, optional
        Called every :data:`WAIT` seconds while the workers run (a progress bar).
    join_on_interrupt : bool
        On ``KeyboardInterrupt``, wait for the workers to return before re-raising (they stop
        within a block of steps). False for work that cannot be stopped (compilation): it
        finishes in the background.

    Raises
    ------
    KeyboardInterrupt
        When the waiting thread is interrupted; the kernels have been asked to stop.

    Examples
    --------
    >>> from riemgrad.kernels.abi import control_array
    >>> seen = []
    >>> run_controlled(seen.append, 3, control_array(3), threads=2)
    >>> sorted(seen)
    [0, 1, 2]
    """
    if not background:
        for i in range(parts):
            fn(i)
        return
    pool = _pool(max(1, threads))
    futures = [pool.submit(fn, i) for i in range(parts)]
    try:
        pending = futures
        while pending:
            pending = wait(pending, timeout=WAIT)[1]
            if watch is not None:
                watch()
    except BaseException:
        if ctl is not None:
            ctl[:, CONTROL_STOP] = 1
        for fut in futures:
            fut.cancel()
        if join_on_interrupt:
            wait(futures)
        raise
    for fut in futures:
        fut.result()


def chunk_bounds(batch: int, threads: int) -> list[int]:
    """Boundaries of one contiguous range of whole chunks per thread (at most ``CHUNK`` per chunk).

    Examples
    --------
    >>> chunk_bounds(10, 1), chunk_bounds(1200, 2)
    ([0, 10], [0, 512, 1200])
    """
    size = min(CHUNK, max(1, math.ceil(batch / threads)))
    nchunks = math.ceil(batch / size)
    parts = max(1, min(threads, nchunks))
    if parts == 1:
        return [0, batch]
    return [min(batch, (i * nchunks // parts) * size) for i in range(parts + 1)]
