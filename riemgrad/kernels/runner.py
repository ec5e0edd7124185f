"""Running a range kernel over a batch: one call, or one per thread on a pool kept for the process.

The ``_range`` kernels (see :mod:`riemgrad.kernels.abi`) loop over chunks of at most ``CHUNK``
trajectories themselves and release the GIL, so contiguous ranges of a batch run in parallel on
threads with no Python between chunks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .abi import CHUNK

__all__ = ["chunk_bounds", "run_on_threads"]

_POOL: list[Any] = []


def _pool(threads: int) -> ThreadPoolExecutor:
    """A thread pool kept for the process (starting threads at every call measured ~0.4 ms)."""
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
