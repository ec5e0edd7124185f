"""How fast does an iteration converge? The rate read off an error sequence.

An iteration with errors ``e_k`` (``|x_k - x*|``, or ``L(x_k) - L*``) converges

- *linearly* with ratio ``r < 1`` when ``e_{k+1} / e_k -> r`` (gradient descent);
- *superlinearly* when the ratios tend to 0 (quasi-Newton methods: BFGS, L-BFGS
  with a long history);
- with *order q > 1* when ``e_{k+1} ~ C e_k^q``, *quadratically* for ``q = 2``
  (Newton's method near a non-degenerate minimum);
- *sublinearly* when the ratios creep up to 1 (``e_k ~ 1/k``: gradient descent
  on a degenerate minimum).

The order is estimated as ``q_k = log(e_{k+1}/e_k) / log(e_k/e_{k-1})``
(Nocedal & Wright, *Numerical Optimization*, 2nd ed., sec. 2.2 and A.2, for the
definitions). Errors at the level of round-off say nothing about the rate:
the sequence is cut where it first falls to ``floor`` (by default
``1e-13`` times its largest value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ArgumentTypeError, ShapeError, SolverSettingsError

__all__ = ["convergence_rate", "ConvergenceRate", "RATE_KINDS"]

#: The kinds :func:`convergence_rate` reports.
RATE_KINDS = ("quadratic", "superlinear", "linear", "sublinear", "diverging", "undetermined")


@dataclass(frozen=True)
class ConvergenceRate:
    """The rate of an error sequence (see :func:`convergence_rate`).

    Attributes
    ----------
    kind : str
        One of :data:`RATE_KINDS`.
    ratio : float
        The geometric mean of the last ratios ``e_{k+1}/e_k`` (the linear rate; for
        ``superlinear`` and ``quadratic`` the last ratio, small; nan if undetermined).
    order : float
        The estimated order q (about 1 for linear and sublinear runs; nan if fewer than
        three usable errors).
    used : int
        How many errors (from the start) were above ``floor`` and used.
    ratios : numpy.ndarray, shape (used - 1,)
        The ratios ``e_{k+1}/e_k`` of the used errors.
    orders : numpy.ndarray, shape (max(used - 2, 0),)
        The order estimates ``q_k`` (nan where a ratio is not below 1).
    """

    kind: str
    ratio: float
    order: float
    used: int
    ratios: np.ndarray
    orders: np.ndarray

    def __str__(self) -> str:
        if self.kind == "linear":
            return f"linear, ratio {self.ratio:.3g} ({self.used} errors)"
        if self.kind in ("quadratic", "superlinear"):
            return f"{self.kind}, order {self.order:.3g}, last ratio {self.ratio:.3g} ({self.used} errors)"
        if self.kind in ("sublinear", "diverging"):
            return f"{self.kind}, last ratio {self.ratio:.6g} ({self.used} errors)"
        return f"undetermined ({self.used} usable errors; at least 3 are needed)"


def _errors(errors: Any) -> np.ndarray:
    try:
        e = np.asarray(errors, dtype=float)
    except (TypeError, ValueError):
        raise ArgumentTypeError(
            f"`errors` must be a 1-D sequence of non-negative real numbers; got {type(errors).__name__}."
        ) from None
    if e.ndim != 1:
        raise ShapeError(
            f"`errors` must be 1-D (one error per iteration); got shape {e.shape}. For a batch, pass one "
            "trajectory's errors, e.g. np.linalg.norm(res.xs[:, j] - x_star, axis=-1)."
        )
    if not np.all(np.isfinite(e)) or np.any(e < 0):
        bad = int(np.flatnonzero(~np.isfinite(e) | (e < 0))[0])
        raise SolverSettingsError(
            f"`errors` must be finite and >= 0 (norms or loss gaps); entry {bad} is {e[bad]!r}. "
            "Drop the iterations after a failure (see the result's status)."
        )
    return e


def convergence_rate(errors: Any, *, floor: float | None = None) -> ConvergenceRate:
    """Classify the convergence of an error sequence: quadratic, superlinear, linear, sublinear.

    Parameters
    ----------
    errors : array_like, shape (n,)
        Non-negative errors of successive iterates, e.g. ``|x_k - x*|`` or ``L(x_k) - L*``.
    floor : float, optional
        Errors at or below it are round-off: the sequence is cut before the first of them.
        Default ``1e-13 * max(errors)``.

    Returns
    -------
    ConvergenceRate
        ``kind``, the linear ``ratio``, the estimated ``order`` and the evidence.

    Raises
    ------
    ShapeError
        If ``errors`` is not 1-D.
    SolverSettingsError
        If an error is negative or not finite, or ``floor`` is negative.

    Notes
    -----
    The rules, on the used ratios ``r_k`` and their last half (the tail, at least two):
    ``diverging`` if the tail's geometric mean exceeds 1; ``quadratic`` (or
    ``superlinear`` with the order found) if the median of the last three order estimates
    is at least 1.5 and the last ratio below 0.5; ``superlinear`` if the ratios fall over
    the tail (mostly decreasing, the last below 0.8 of the tail's first); ``sublinear``
    if they rise toward 1 over the tail (the last above 0.9 and its gap to 1 below 0.75 of
    the first's); otherwise ``linear`` with the tail's geometric mean as the ratio.

    Examples
    --------
    Newton's method for sqrt(2) from x = 1 (quadratic), and gradient descent on
    x**2 / 2 with step 0.25 (linear, ratio 0.75):

    >>> import math
    >>> x, errs = 1.0, []
    >>> for _ in range(6):
    ...     errs.append(abs(x - math.sqrt(2))); x = x - (x * x - 2) / (2 * x)
    >>> convergence_rate(errs).kind
    'quadratic'
    >>> r = convergence_rate([0.75**k for k in range(30)])
    >>> r.kind, round(r.ratio, 6)
    ('linear', 0.75)
    """
    e = _errors(errors)
    if floor is None:
        floor = 1e-13 * float(e.max()) if e.size else 0.0
    elif not (isinstance(floor, (int, float)) and math.isfinite(floor) and floor >= 0):
        raise SolverSettingsError(f"`floor` must be a finite number >= 0; got {floor!r}.")
    below = np.flatnonzero(e <= floor)
    used = int(below[0]) if below.size else int(e.size)
    e = e[:used]
    ratios = e[1:] / e[:-1] if used >= 2 else np.empty(0)
    orders = np.full(max(used - 2, 0), np.nan)
    for k in range(1, ratios.size):
        if 0 < ratios[k] < 1 and 0 < ratios[k - 1] < 1:
            orders[k - 1] = math.log(ratios[k]) / math.log(ratios[k - 1])
    if used < 3:
        return ConvergenceRate("undetermined", math.nan, math.nan, used, ratios, orders)
    tail = ratios[-max(2, ratios.size // 2) :]
    gmean = float(np.exp(np.mean(np.log(np.maximum(tail, 1e-300)))))
    last = float(ratios[-1])
    finite_orders = orders[np.isfinite(orders)]
    order = float(np.median(finite_orders[-3:])) if finite_orders.size else 1.0
    if gmean > 1.0:
        return ConvergenceRate("diverging", last, order, used, ratios, orders)
    if order >= 1.5 and last < 0.5:
        kind = "quadratic" if abs(order - 2.0) < 0.5 else "superlinear"
        return ConvergenceRate(kind, last, order, used, ratios, orders)
    falling = np.mean(np.diff(tail) < 0) >= 0.7 if tail.size > 2 else tail[-1] < tail[0]
    if falling and last < 0.8 * tail[0]:
        return ConvergenceRate("superlinear", last, order, used, ratios, orders)
    if last > tail[0] and last > 0.9 and (1.0 - last) < 0.75 * (1.0 - tail[0]):
        return ConvergenceRate("sublinear", last, order, used, ratios, orders)
    return ConvergenceRate("linear", gmean, order, used, ratios, orders)
