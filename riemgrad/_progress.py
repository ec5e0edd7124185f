"""Progress reports and the one switch that silences them (``riemgrad.config.progress``).

Compilation that takes longer than about a second and long solves show a progress bar
through ``tqdm.auto`` (a widget in Jupyter, text in a terminal). Nothing is shown when the
output is not interactive (standard error is not a terminal and no Jupyter kernel runs),
when ``riemgrad.config.progress`` is False, when the environment variable
``RIEMGRAD_PROGRESS`` is ``0`` (or ``false``, ``no``, ``off``), or when a call passes
``progress=False``. ``progress=True`` (or ``config.progress = True``, or
``RIEMGRAD_PROGRESS=1``) forces the bars on, also when the output is not interactive.

Examples
--------
>>> from riemgrad._progress import config, enabled
>>> config.progress = False
>>> enabled(), enabled(True)
(False, True)
>>> config.progress = None   # back to the default: the environment, then interactivity
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

__all__ = ["Config", "config", "enabled", "Progress"]

#: Seconds of work before a bar appears (shorter work stays silent).
DELAY = 1.0


class Config:
    """Library-wide settings, read at every call (``riemgrad.config``).

    Attributes
    ----------
    progress : bool or None
        Progress bars for compilation and long solves: True (always), False (never), or
        None (the default: the environment variable ``RIEMGRAD_PROGRESS`` if set, else
        only when the output is interactive: a terminal or a Jupyter notebook).

    Examples
    --------
    >>> import riemgrad
    >>> riemgrad.config.progress is None
    True
    """

    def __init__(self) -> None:
        self.progress: bool | None = None

    def __repr__(self) -> str:
        return f"Config(progress={self.progress!r})"


config = Config()


def _interactive() -> bool:
    """Is standard error a terminal, or does a Jupyter kernel run?"""
    try:
        if sys.stderr is not None and sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):
        pass
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:  # pragma: no cover - a broken IPython
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def enabled(progress: bool | None = None) -> bool:
    """Whether to show progress: the call's ``progress``, else ``config.progress``, else the
    environment variable ``RIEMGRAD_PROGRESS``, else whether the output is interactive.

    Examples
    --------
    >>> enabled(False)
    False
    """
    for choice in (progress, config.progress):
        if choice is not None:
            return bool(choice)
    env = os.environ.get("RIEMGRAD_PROGRESS", "").strip().lower()
    if env:
        return env not in ("0", "false", "no", "off")
    return _interactive()


class Progress:
    """A progress bar opened only once the work has lasted ``delay`` seconds.

    Parameters
    ----------
    desc : str
        What is being done.
    total : float or None
        The amount of work (None: elapsed time only).
    unit : str
        Its unit.
    show : bool
        False: never open a bar (every method does nothing).
    delay : float, optional
        Seconds before the bar appears (default :data:`DELAY`).
    leave : bool
        Keep the finished bar on screen.

    Examples
    --------
    >>> bar = Progress("rk4 on chart 'sigma'", 100, "step", show=False)
    >>> bar.update(50); bar.close()
    """

    def __init__(
        self, desc: str, total: float | None, unit: str, *, show: bool, delay: float | None = None, leave: bool = False
    ) -> None:
        self.desc, self.total, self.unit, self.show, self.leave = desc, total, unit, show, leave
        self.delay = DELAY if delay is None else delay
        self.start = time.perf_counter()
        self.bar: Any = None

    def update(self, n: float | None = None) -> None:
        """Move the bar to ``n`` (absolute); open it once ``delay`` seconds have passed."""
        if not self.show:
            return
        if self.bar is None:
            if time.perf_counter() - self.start < self.delay:
                return
            from tqdm.auto import tqdm

            fmt = "{desc}: {elapsed}" if self.total is None else None
            self.bar = tqdm(
                desc=self.desc, total=self.total, unit=self.unit, bar_format=fmt, leave=self.leave, dynamic_ncols=True
            )
        if n is not None and self.total is not None:
            self.bar.n = min(n, self.total)
        self.bar.refresh()

    def close(self, n: float | None = None) -> None:
        """Close the bar (at ``n`` if given), if it was opened."""
        if self.bar is not None:
            if n is not None and self.total is not None:
                self.bar.n = n
            self.bar.refresh()
            self.bar.close()
            self.bar = None
