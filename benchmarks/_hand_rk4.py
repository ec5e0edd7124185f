"""The hand-written baseline shared by the benchmarks: RK4 over chunks of trajectories in Numba.

Structure of arrays, 512 trajectories per chunk, one ``prange`` over the
chunks: the fastest layout we could write by hand for a 2-D field. Used by
``bench_flows.py`` (the W1 "hand Numba" column) and ``bench_elementary.py``
(fast-math flags and vectorizable ``exp`` in the same kernel).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit, prange


def chunked_rk4(vf: Callable, *, fastmath: Any = False, check_domain: bool = False):
    """An ``@njit(parallel=True)`` RK4 kernel ``run(X, dt, n) -> (states, statuses)`` for the 2-D field
    ``vf(a, b) -> (va, vb)``.

    ``X`` has shape (batch, 2). The kernel returns the final states and an int8 status per
    trajectory, as riemgrad's (the check after the run costs nothing next to the steps): 2 if the state is not finite, 1 if ``check_domain`` and the
    second coordinate is not > 0 (the sigma chart). ``fastmath`` is Numba's flag (bool or a set of
    LLVM flags); the status checks are written as fast-math may break them.
    """

    @njit(inline="always", error_model="numpy", fastmath=fastmath)
    def chunk(X, dt, n, lo, m, out, status):
        a = X[lo : lo + m, 0].copy()
        b = X[lo : lo + m, 1].copy()
        ka = np.empty((4, m))
        kb = np.empty((4, m))
        for _ in range(n):
            for j in range(m):
                ka[0, j], kb[0, j] = vf(a[j], b[j])
            for j in range(m):
                ka[1, j], kb[1, j] = vf(a[j] + 0.5 * dt * ka[0, j], b[j] + 0.5 * dt * kb[0, j])
            for j in range(m):
                ka[2, j], kb[2, j] = vf(a[j] + 0.5 * dt * ka[1, j], b[j] + 0.5 * dt * kb[1, j])
            for j in range(m):
                ka[3, j], kb[3, j] = vf(a[j] + dt * ka[2, j], b[j] + dt * kb[2, j])
            for j in range(m):
                a[j] += dt / 6.0 * (ka[0, j] + 2.0 * ka[1, j] + 2.0 * ka[2, j] + ka[3, j])
                b[j] += dt / 6.0 * (kb[0, j] + 2.0 * kb[1, j] + 2.0 * kb[2, j] + kb[3, j])
        for j in range(m):
            if a[j] != a[j] or b[j] != b[j] or not math.isfinite(a[j]) or not math.isfinite(b[j]):
                status[lo + j] = 2
            elif check_domain and not (b[j] > 0.0):
                status[lo + j] = 1
        out[lo : lo + m, 0] = a
        out[lo : lo + m, 1] = b

    @njit(parallel=True, error_model="numpy", fastmath=fastmath)
    def run(X, dt, n):
        B = X.shape[0]
        out = np.empty_like(X)
        status = np.zeros(B, dtype=np.int8)
        for c in prange((B + 511) // 512):
            chunk(X, dt, n, c * 512, min(B, c * 512 + 512) - c * 512, out, status)
        return out, status

    return run
