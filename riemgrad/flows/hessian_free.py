"""Hessian-free (truncated Newton) descent over data: its settings, its factory and its result record.

:func:`hessian_free` returns a :class:`~riemgrad.flows.preconditioners.Preconditioner`
that :meth:`riemgrad.kernels.DataField.descend` (and :func:`riemgrad.descend` on a
data field) recognises and runs compiled: each step solves
``(B + lam I) d = -grad L`` by truncated conjugate gradients, with ``B v`` the
Hessian- or Gauss-Newton-vector product summed over the rows
(:mod:`riemgrad.kernels.hvp`), and moves ``theta <- theta + lr d``
(Martens 2010). The settings live here; the kernels are generated in
:mod:`riemgrad.kernels.hvp`.

Examples
--------
>>> from riemgrad.preconditioners import hessian_free
>>> pre = hessian_free(damping=1e-3, max_cg=20, product="hessian")
>>> pre.name
'hessian_free(hessian)'
>>> hessian_free_settings(pre).max_cg
20
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SolverSettingsError
from .results import DescentResult

__all__ = ["HessianFreeSettings", "HessianFreeResult", "hessian_free", "hessian_free_settings", "CG_STOPS"]

#: CG stop codes recorded in :attr:`HessianFreeResult.cg_stops` (0: no step taken).
CG_STOPS = {
    1: "relative residual |r| <= tol |g|",
    2: "Martens' relative progress rule",
    3: "max_cg iterations",
    4: "non-positive curvature (last iterate kept, or -g on the first iteration)",
    5: "non-finite product",
}

_PRODUCTS = ("gauss_newton", "hessian")


@dataclass(frozen=True)
class HessianFreeSettings:
    """The validated settings of a Hessian-free run (see :func:`hessian_free` for their meaning).

    Attributes
    ----------
    product : {"gauss_newton", "hessian"}
    damping : float or None
    max_cg : int
    tol : float
    progress_tol : float
    warm_start : float
    adapt_damping : bool

    Examples
    --------
    >>> from riemgrad.preconditioners import hessian_free
    >>> hessian_free_settings(hessian_free(damping=0.1, warm_start=0.95))
    HessianFreeSettings(product='gauss_newton', damping=0.1, max_cg=50, tol=1e-06, progress_tol=0.0005, \
warm_start=0.95, adapt_damping=False)
    """

    product: str
    damping: float | None
    max_cg: int
    tol: float
    progress_tol: float
    warm_start: float
    adapt_damping: bool


def _number(value: Any, name: str, low: float, low_ok: bool, fix: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = math.nan
    if isinstance(value, bool) or not math.isfinite(x) or (x < low if low_ok else x <= low):
        bound = f">= {low}" if low_ok else f"> {low}"
        raise SolverSettingsError(f"`{name}` must be a finite number {bound}; got {value!r}. {fix}")
    return x


#: update function -> settings; a pair runs as Hessian-free only while it holds the functions hessian_free made.
_SETTINGS: weakref.WeakKeyDictionary[Callable, tuple[Callable, HessianFreeSettings]] = weakref.WeakKeyDictionary()


def hessian_free(
    damping: float | None = None,
    max_cg: int = 50,
    tol: float = 1e-6,
    *,
    product: str = "gauss_newton",
    progress_tol: float = 5e-4,
    warm_start: float = 0.0,
    adapt_damping: bool = False,
) -> Any:
    """Hessian-free (truncated Newton) descent for fields over data: CG on curvature-vector products.

    Each step solves ``(B + lam I) d = -g`` (g the gradient of the average loss)
    by conjugate gradients, with ``B v`` computed row by row in compiled code and
    ``B`` never formed, then moves ``theta <- theta + lr d``. CG stops at the
    first of: ``max_cg`` iterations; the relative residual ``|r| <= tol |g|``;
    Martens' relative progress rule on the quadratic model
    ``phi(d) = g.d + 1/2 d.(B + lam I) d`` (stop at iteration i when
    ``i > k``, ``phi_i < 0`` and ``(phi_i - phi_{i-k}) / phi_i < k * progress_tol``,
    ``k = max(10, i / 10)``); non-positive curvature ``p.(B + lam I) p <= 0``
    (possible with the Hessian): the last iterate is used, or ``-g`` if it comes
    on the first iteration.

    Parameters
    ----------
    damping : float, optional
        Tikhonov damping lam >= 0. None: the run's ``damping`` (the ``damping``
        argument of :meth:`~riemgrad.kernels.DataField.descend`, else the
        field's).
    max_cg : int
        CG iterations per step, >= 1. With ``max_cg >= dim``, ``tol`` tiny and
        ``lam = 0`` the step is the exact Newton (or Gauss-Newton) step.
    tol : float
        Relative residual tolerance, >= 0.
    product : {"gauss_newton", "hessian"}
        ``"hessian"``: the Hessian of the loss (the R-operator, Pearlmutter 1994);
        ``"gauss_newton"``: the field's own metric when it is a sum of outer
        products J^T W J (Gauss-Newton, Fisher, empirical Fisher, function space),
        positive semi-definite, as Martens recommends.
    progress_tol : float
        Martens' epsilon (5e-4 in the paper); 0 turns the progress rule off.
    warm_start : float
        CG starts from ``warm_start`` times the previous step's direction
        (Martens uses 0.95); 0 starts from zero, in [0, 1].
    adapt_damping : bool
        Levenberg-Marquardt adaptation (Martens 2010, sec. 4.1): with the
        reduction ratio rho = (L(theta + lr d) - L(theta)) / (q(lr d) - q(0)),
        q the undamped quadratic model, lam <- 3/2 lam if rho < 1/4 and
        lam <- 2/3 lam if rho > 3/4; a step that does not lower the loss is
        rejected (theta stays). Needs a damping > 0.

    Returns
    -------
    Preconditioner
        Named ``"hessian_free(<product>)"``; run by ``DataField.descend`` /
        ``riemgrad.descend`` on a field from :func:`riemgrad.compile_data_flow`,
        which then return a :class:`HessianFreeResult`.

    Raises
    ------
    SolverSettingsError
        For a negative or non-finite ``damping``, ``max_cg < 1``, a negative
        ``tol`` or ``progress_tol``, ``warm_start`` outside [0, 1], an unknown
        ``product``, or ``adapt_damping`` with ``damping`` 0. Running it on a
        :class:`~riemgrad.FlowField` raises SolverSettingsError too (it needs
        curvature-vector products over data).

    References
    ----------
    J. Martens, "Deep learning via Hessian-free optimization", ICML 2010.
    B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural Computation 6 (1994).
    J. Nocedal and S. J. Wright, Numerical Optimization, 2nd ed., sec. 7.1 (line-search Newton-CG).

    Examples
    --------
    Exact CG (max_cg >= dim, lam = 0) is Newton's method: one step solves a
    least-squares problem.

    >>> import numpy as np, sympy as sp
    >>> from riemgrad import Chart, compile_data_flow, descend, gauss_newton_metric
    >>> from riemgrad.data import Dataset
    >>> a, b, x, y = sp.symbols("a b x y", real=True)
    >>> r = a + b * x - y
    >>> field = compile_data_flow(gauss_newton_metric(r, Chart("ab", (a, b)),
    ...                           data=Dataset({x: [0.0, 1.0, 2.0], y: [1.0, 3.0, 5.0]})), r**2 / 2)
    >>> res = descend(field, [0.0, 0.0], lr=1.0, steps=1, preconditioner=hessian_free(damping=0.0, tol=1e-12))
    >>> np.round(res.xs[-1], 10).tolist(), res.cg_iterations[:, ...].tolist()
    ([1.0, 2.0], [2])
    """
    if product not in _PRODUCTS:
        raise SolverSettingsError(
            f"`product` must be one of {_PRODUCTS}; got {product!r}. 'gauss_newton' uses the field's "
            "outer-product metric, 'hessian' the Hessian of its loss."
        )
    lam = None if damping is None else _number(damping, "damping", 0.0, True, "Use e.g. damping=1e-3.")
    if isinstance(max_cg, bool) or not isinstance(max_cg, (int, np.integer)) or max_cg < 1:
        raise SolverSettingsError(f"`max_cg` must be an integer >= 1; got {max_cg!r}. Use e.g. max_cg=50.")
    tol = _number(tol, "tol", 0.0, True, "Use e.g. tol=1e-6.")
    ptol = _number(progress_tol, "progress_tol", 0.0, True, "Martens uses 5e-4; 0 turns the rule off.")
    warm = _number(warm_start, "warm_start", 0.0, True, "Use a value in [0, 1], e.g. 0.95.")
    if warm > 1.0:
        raise SolverSettingsError(f"`warm_start` must lie in [0, 1]; got {warm_start!r}. Martens uses 0.95.")
    if adapt_damping and lam is not None and lam == 0.0:
        raise SolverSettingsError(
            "`damping` must be > 0 with adapt_damping=True (the adaptation multiplies it); got 0. "
            "Use e.g. damping=1.0, or adapt_damping=False."
        )
    settings = HessianFreeSettings(product, lam, int(max_cg), tol, ptol, warm, bool(adapt_damping))
    from .preconditioners import Preconditioner

    def init(x: np.ndarray) -> Any:
        raise SolverSettingsError(
            "`preconditioner` hessian_free(...) runs only on a field over data (riemgrad.compile_data_flow), "
            "where curvature-vector products are compiled over the rows; this field is a FlowField. Use "
            "preconditioner=natural() with compile_flow(hessian_metric(loss, chart), loss) for Newton's method."
        )

    def update(grad: np.ndarray, state: Any, velocity: Any) -> tuple[np.ndarray, Any]:
        return init(grad)

    _SETTINGS[update] = (init, settings)
    return Preconditioner(init, update, f"hessian_free({product})")


def hessian_free_settings(pre: Any) -> HessianFreeSettings | None:
    """The settings of a pair made by :func:`hessian_free`, or None for any other preconditioner.

    Examples
    --------
    >>> from riemgrad.preconditioners import hessian_free, natural
    >>> hessian_free_settings(natural()) is None
    True
    >>> hessian_free_settings(hessian_free(product="hessian")).product
    'hessian'
    """
    update = getattr(pre, "update", None)
    try:
        got = _SETTINGS.get(update) if update is not None else None
    except TypeError:  # an unhashable or non-weakrefable update
        return None
    if got is None or got[0] is not getattr(pre, "init", None):
        return None
    return got[1]


@dataclass(frozen=True)
class HessianFreeResult(DescentResult):
    """A Hessian-free descent: a :class:`~riemgrad.DescentResult` with the CG record of every step.

    Attributes
    ----------
    cg_iterations : numpy.ndarray of int, shape (steps,) + batch shape
        CG iterations (curvature-vector products) of each step; 0 after a trajectory stopped.
    cg_stops : numpy.ndarray of int, shape (steps,) + batch shape
        Why CG stopped at each step (a key of :data:`CG_STOPS`; 0: no step).
    dampings : numpy.ndarray of float, shape (steps,) + batch shape
        The damping lam of each step's solve (it changes with ``adapt_damping``); NaN for no step.
    settings : HessianFreeSettings
        The damping recorded there is the one used at the first step.

    Examples
    --------
    >>> from riemgrad.flows.hessian_free import CG_STOPS
    >>> CG_STOPS[1]
    'relative residual |r| <= tol |g|'
    """

    cg_iterations: np.ndarray
    cg_stops: np.ndarray
    dampings: np.ndarray
    settings: HessianFreeSettings
