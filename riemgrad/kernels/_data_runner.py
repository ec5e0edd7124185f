"""Running the compiled runs over data (descent, RK4, L-BFGS, LM, Hessian-free, K-FAC) interruptibly.

Every run kernel over data takes a control row ``CTL`` last (a row of
:func:`riemgrad.kernels.abi.control_array`): it returns as soon as ``CTL[CONTROL_STOP]`` is set,
checked before every step, and counts its steps in ``CTL[CONTROL_DONE]``. A step over data costs
O(n d^2), so the check is free. Long runs go to worker threads while the caller waits: Ctrl-C
(Jupyter's "Interrupt kernel") sets the stop flag and ``KeyboardInterrupt`` is raised at once, with the caller's arrays
untouched; the kernels return within one step (one still being compiled on first use finishes
compiling in the background first, then stops before its first step). Runs taking longer than about a
second show a progress bar (:mod:`riemgrad._progress`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._progress import Progress, enabled
from ..errors import SolverSettingsError
from .abi import CONTROL_DONE, CONTROL_STOP, control_array
from .runner import run_controlled

__all__ = ["run_over_data", "BACKGROUND_ROW_STEPS"]

#: The templates read the stop flag and the step counter at these columns.
if (CONTROL_STOP, CONTROL_DONE) != (0, 1):  # pragma: no cover - the templates print 0 and 1
    raise ImportError("the data templates expect CONTROL_STOP = 0 and CONTROL_DONE = 1")

#: Runs of at least this many row-steps (starting points x steps x data rows) go to a worker thread
#: (interruptible, with a progress bar); shorter ones run here (handing a call to a thread costs 0.03-0.3 ms).
BACKGROUND_ROW_STEPS = 2_000_000


def run_over_data(
    call: Callable[[int, int, np.ndarray], None],
    batch: int,
    threads: Any,
    *,
    steps: int,
    rows: int,
    what: str,
    progress: bool | None = None,
) -> None:
    """Run ``call(lo, hi, ctl_row)`` over contiguous ranges of a batch, on ``threads`` threads, interruptibly.

    Parameters
    ----------
    call : callable
        ``call(lo, hi, ctl_row)`` runs starting points ``lo:hi`` (one kernel call with its control row).
    batch : int
        The number of starting points.
    threads : int
        Ranges run on this many threads (at most ``batch``).
    steps : int
        Steps per starting point (for the progress bar and the choice of a worker thread).
    rows : int
        Data rows (the cost of a step is proportional to it).
    what : str
        What runs, for the progress bar (``"L-BFGS over data"``).
    progress : bool, optional
        Force the progress bar on or off (default: :data:`riemgrad.config.progress`).

    Raises
    ------
    KeyboardInterrupt
        When the caller was interrupted; the kernels were stopped within a step.

    Examples
    --------
    >>> seen = []
    >>> run_over_data(lambda lo, hi, ctl: seen.append((lo, hi)), 10, 2, steps=5, rows=3, what="a run")
    >>> sorted(seen)
    [(0, 5), (5, 10)]
    """
    if int(threads) != threads or threads < 1:
        raise SolverSettingsError(f"`threads` must be a positive integer; got {threads!r}.")
    k = max(1, min(int(threads), batch))
    bounds = np.linspace(0, batch, k + 1).astype(int)
    ctl = control_array(k)
    background = k > 1 or float(batch) * steps * max(rows, 1) >= BACKGROUND_ROW_STEPS
    bar = Progress(what, batch * steps, "step", show=background and enabled(progress))
    try:
        run_controlled(
            lambda i: call(int(bounds[i]), int(bounds[i + 1]), ctl[i]),
            k,
            ctl,
            k,
            background=background,
            watch=lambda: bar.update(int(ctl[:, CONTROL_DONE].sum())),
            join_on_interrupt=False,  # a kernel still compiling finishes in the background, then stops at once
        )
    finally:
        bar.close(int(ctl[:, CONTROL_DONE].sum()))
    if ctl[:, CONTROL_STOP].any():  # stopped from another thread: the results are incomplete
        raise KeyboardInterrupt(f"{what} was stopped through its control array")
