"""Second-order preconditioners for :func:`riemgrad.descend`: L-BFGS and Levenberg-Marquardt.

Both run as compiled kernels inside :func:`riemgrad.descend` (the descent kinds ``"lbfgs"`` and
``"lm"``, see :mod:`riemgrad.kernels.codegen.second_order`); the ``(init, update)`` pairs below
are their NumPy twins, which compute the same numbers. Their ``update`` functions use the
extended protocol of :class:`~riemgrad.flows.preconditioners.Preconditioner`: they name the
keyword parameters ``x`` (the current points), and for Levenberg-Marquardt ``lr``, ``loss``
and ``metric``, which the descent loop then supplies.

Examples
--------
>>> import numpy as np
>>> from riemgrad.preconditioners import lbfgs
>>> opt = lbfgs(history=5)
>>> x = np.array([[1.0, 2.0]])
>>> state = opt.init(x)
>>> d, state = opt.update(np.array([[2.0, 4.0]]), state, None, x=x)
>>> d.tolist()   # no curvature pair yet: the first direction is -grad
[[-2.0, -4.0]]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import SolverSettingsError
from ..kernels.codegen.second_order import LM_MU_MAX, LM_MU_MIN
from .preconditioners import Preconditioner, _builtin

__all__ = ["lbfgs", "levenberg_marquardt"]

_NU_MAX = 2.0**60


def _positive_finite(value: Any, name: str, usual: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SolverSettingsError(
            f"`{name}` must be a positive finite real number; got {value!r} of type {type(value).__name__}. "
            f"The usual value is {usual}."
        )
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise SolverSettingsError(
            f"`{name}` must be a positive finite real number; got {value!r}. The usual value is {usual}."
        )
    return v


def lbfgs(history: int = 10, curvature_eps: float = 1e-10) -> Preconditioner:
    """L-BFGS: the inverse-Hessian estimate of the last ``history`` steps, per trajectory.

    At step ``k`` the pair ``s = x_k - x_{k-1}``, ``y = g_k - g_{k-1}`` of the last
    step is stored (in a ring buffer of ``history`` pairs) when it satisfies the
    curvature condition ``s.y > curvature_eps |s| |y|``; otherwise it is skipped and
    the memory restarts (the stored pairs are dropped; a refused backtracking step,
    ``s = 0``, always does this). The direction is ``d = -H g`` by the two-loop
    recursion (Nocedal & Wright, Algorithm 7.4) with ``H0 = gamma I``,
    ``gamma = s.y / y.y`` of the newest stored pair (kept across a restart); before
    any pair, ``d = -g``. Use it with ``backtracking=True`` (the pairs then come from
    the accepted steps; the first trial step ``lr = 1`` is the quasi-Newton step) or
    a small ``lr``. Each trajectory has its own memory.

    Parameters
    ----------
    history : int
        The number of pairs kept, ``m >= 1``.
    curvature_eps : float
        The threshold of the curvature condition, ``>= 0``.

    Returns
    -------
    Preconditioner
        Named ``"lbfgs"``; compiled in :func:`riemgrad.descend`. Its ``update`` takes
        ``(grad, state, velocity, x=points)``.

    Raises
    ------
    SolverSettingsError
        If ``history`` is not an integer >= 1, or ``curvature_eps`` is negative or not finite.

    Notes
    -----
    With ``history`` at least the number of steps and no skipped pair, each direction
    equals ``-H g`` with ``H`` the dense BFGS update of ``gamma_k I`` by all pairs so far,
    ``H <- (I - rho s y^T) H (I - rho y s^T) + rho s s^T``, ``rho = 1 / s.y``.

    Why the restart: backtracking enforces sufficient decrease (Armijo) but not the
    curvature condition of a Wolfe line search, so a step may have ``s.y <= 0`` (an
    indefinite region). Skipping the pair alone leaves ``H`` unchanged, and the same
    poor direction repeats: on Rosenbrock from (-1.2, 1), 500 steps ended at L = 2.37;
    with the restart, 43 steps reach (1, 1) (scipy's L-BFGS-B, with a Wolfe line search: 36).

    References
    ----------
    J. Nocedal, "Updating quasi-Newton matrices with limited storage", Math. Comp. 35 (1980).
    J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer (2006), sec. 7.2.

    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad.preconditioners import lbfgs
    >>> opt = lbfgs(history=3)
    >>> x0, x1 = np.array([[1.0, 1.0]]), np.array([[0.5, 0.0]])
    >>> s = opt.init(x0)
    >>> _, s = opt.update(x0.copy(), s, None, x=x0)   # L = |x|^2 / 2: grad = x
    >>> d, s = opt.update(x1.copy(), s, None, x=x1)
    >>> np.round(d, 12).tolist()   # s = y: gamma = 1, H = I, the exact Newton step here
    [[-0.5, 0.0]]
    """
    if isinstance(history, (bool, np.bool_)) or not isinstance(history, (int, np.integer)) or history < 1:
        raise SolverSettingsError(
            f"`history` must be an integer >= 1 (the number of stored pairs); got {history!r}. The usual value is 10."
        )
    eps = float(curvature_eps) if isinstance(curvature_eps, (int, float, np.integer, np.floating)) else math.nan
    if isinstance(curvature_eps, (bool, np.bool_)) or not (math.isfinite(eps) and eps >= 0):
        raise SolverSettingsError(
            f"`curvature_eps` must be a finite number >= 0; got {curvature_eps!r}. The usual value is 1e-10."
        )
    hist = int(history)

    def init(x: np.ndarray) -> dict[str, Any]:
        x = np.asarray(x, dtype=float)
        B, n = x.shape
        return {
            "k": 0,
            "S": np.zeros((B, hist, n)),
            "Y": np.zeros((B, hist, n)),
            "rho": np.zeros((B, hist)),
            "gamma": np.ones(B),
            "count": np.zeros(B, np.int64),
            "head": np.zeros(B, np.int64),
            "x_prev": x.copy(),
            "g_prev": np.zeros_like(x),
        }

    def update(grad: np.ndarray, state: dict[str, Any], velocity: Any, x: np.ndarray) -> tuple[np.ndarray, Any]:
        g = np.asarray(grad, dtype=float)
        x = np.asarray(x, dtype=float)
        st = {key: (val.copy() if isinstance(val, np.ndarray) else val) for key, val in state.items()}
        S, Y, rho, gam, cnt, head = st["S"], st["Y"], st["rho"], st["gamma"], st["count"], st["head"]
        d = np.empty_like(g)
        for j in range(g.shape[0]):
            if st["k"] > 0:
                s, y = x[j] - st["x_prev"][j], g[j] - st["g_prev"][j]
                sy = float(s @ y)
                if sy > eps * math.sqrt(float(s @ s)) * math.sqrt(float(y @ y)):
                    h = head[j]
                    S[j, h], Y[j, h], rho[j, h], gam[j] = s, y, 1.0 / sy, sy / float(y @ y)
                    head[j] = (h + 1) % hist
                    cnt[j] = min(cnt[j] + 1, hist)
                else:  # restart the memory (see Notes)
                    cnt[j], head[j] = 0, 0
            q = g[j].copy()
            order = [(head[j] - 1 - i) % hist for i in range(cnt[j])]  # newest first
            alpha = []
            for h in order:
                a = rho[j, h] * float(S[j, h] @ q)
                alpha.append(a)
                q -= a * Y[j, h]
            q *= gam[j]
            for h, a in zip(reversed(order), reversed(alpha)):
                q += (a - rho[j, h] * float(Y[j, h] @ q)) * S[j, h]
            d[j] = -q
        st["x_prev"], st["g_prev"], st["k"] = x.copy(), g.copy(), st["k"] + 1
        return d, st

    return _builtin(init, update, "lbfgs", "lbfgs", (float(hist), eps, 0.0))


def levenberg_marquardt(
    damping: float = 1e-3, scaling: str = "identity", schedule: str | None = "nielsen"
) -> Preconditioner:
    """Levenberg-Marquardt: the damped metric, direction ``-(G + lam D)^{-1} grad``.

    ``G`` is the field's metric (the Gauss-Newton metric ``J^T J`` of a field compiled
    with :func:`~riemgrad.gauss_newton_metric` for a loss ``1/2 sum r_a^2``: then this is
    the classical method), ``D = I`` (``scaling="identity"``, Levenberg) or
    ``D = diag(G)`` (``scaling="diagonal"``, Marquardt). ``lam`` starts at ``damping``,
    per trajectory.

    With ``schedule="nielsen"`` the step ``h = lr d`` is judged by the gain ratio
    ``rho = (L(x) - L(x + h)) / (L(x) - q(h))``, ``q`` the quadratic model
    ``L + g.h + h.G.h / 2`` (so ``L(x) - q(h) = -lr g.d + lr^2 (g.d + lam d.D.d) / 2``):
    if ``rho > 0`` the step is taken and ``lam *= max(1/3, 1 - (2 rho - 1)^3)``,
    ``nu = 2``; otherwise ``x`` stays, ``lam *= nu``, ``nu *= 2`` (``nu`` starts at 2).
    A trial step outside the chart's domain, with a non-finite loss, or with
    ``G + lam D`` not positive definite counts as a rejection; ``lam`` is kept within
    ``[1e-300, 1e300]`` (a singular ``G + lam D`` at ``lam = 1e300`` ends the trajectory
    with ``SINGULAR_METRIC``); a zero gradient leaves ``x`` and ``lam`` as they are.
    Rejected steps count as steps. Use ``lr=1`` (the method's own step) and no
    ``backtracking`` (the schedule is the step control). With ``schedule=None``, ``lam``
    stays at ``damping`` and the step is an ordinary descent step (``backtracking`` allowed).

    Parameters
    ----------
    damping : float
        The initial (or fixed) ``lam > 0``, in the units of ``G``.
    scaling : {"identity", "diagonal"}
    schedule : {"nielsen", None}

    Returns
    -------
    Preconditioner
        Named ``"levenberg_marquardt"``; compiled in :func:`riemgrad.descend`. Its ``update``
        takes ``(grad, state, velocity, x=points, lr=float, loss=callable, metric=callable)``.

    Raises
    ------
    SolverSettingsError
        If ``damping`` is not a positive finite number, or ``scaling`` / ``schedule`` is unknown.

    References
    ----------
    K. Levenberg, Quart. Appl. Math. 2 (1944); D. W. Marquardt, SIAM J. Appl. Math. 11 (1963).
    H. B. Nielsen, "Damping parameter in Marquardt's method", IMM-REP-1999-05, DTU (1999).
    K. Madsen, H. B. Nielsen and O. Tingleff, *Methods for Non-Linear Least Squares Problems*,
    2nd ed., IMM, DTU (2004), sec. 3.2 (eqs. 3.13-3.16).

    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad.preconditioners import levenberg_marquardt
    >>> opt = levenberg_marquardt(damping=1.0, schedule=None)
    >>> G = lambda pts: np.array([[[3.0, 0.0], [0.0, 1.0]]])
    >>> d, _ = opt.update(np.array([[4.0, 2.0]]), opt.init(np.zeros((1, 2))), None,
    ...                   x=np.zeros((1, 2)), lr=1.0, loss=None, metric=G)
    >>> d.tolist()   # -(G + I)^{-1} g
    [[-1.0, -1.0]]
    """
    lam0 = _positive_finite(damping, "damping", "1e-3")
    if scaling not in ("identity", "diagonal"):
        raise SolverSettingsError(
            f"`scaling` must be 'identity' (G + lam I) or 'diagonal' (G + lam diag(G)); got {scaling!r}."
        )
    if schedule not in ("nielsen", None):
        raise SolverSettingsError(
            f"`schedule` must be 'nielsen' (the gain-ratio update of lam) or None (a fixed lam); got {schedule!r}."
        )
    diag, sched = scaling == "diagonal", schedule == "nielsen"

    def init(x: np.ndarray) -> dict[str, np.ndarray]:
        B = np.asarray(x).shape[0]
        return {"mu": np.full(B, max(lam0, LM_MU_MIN)), "nu": np.full(B, 2.0)}

    def update(
        grad: np.ndarray, state: dict[str, np.ndarray], velocity: Any, x: np.ndarray, lr: float,
        loss: Callable[[np.ndarray], np.ndarray], metric: Callable[[np.ndarray], np.ndarray],
    ) -> tuple[np.ndarray, Any]:  # fmt: skip
        g = np.asarray(grad, dtype=float)
        x = np.asarray(x, dtype=float)
        G = np.asarray(metric(x), dtype=float).reshape(g.shape[0], g.shape[1], g.shape[1])
        mu, nu = state["mu"].copy(), state["nu"].copy()
        d = np.zeros_like(g)
        gd, dd = np.zeros(g.shape[0]), np.zeros(g.shape[0])
        singular = np.zeros(g.shape[0], bool)
        for j in range(g.shape[0]):
            D = np.diag(G[j]).copy() if diag else np.ones(g.shape[1])
            if not (np.all(np.isfinite(G[j])) and np.all(np.isfinite(g[j]))):
                d[j] = np.nan
                continue
            try:
                np.linalg.cholesky(G[j] + mu[j] * np.diag(D))
                d[j] = -np.linalg.solve(G[j] + mu[j] * np.diag(D), g[j])
            except np.linalg.LinAlgError:
                singular[j] = True
                continue
            gd[j], dd[j] = g[j] @ d[j], d[j] @ (D * d[j])
        if not sched:
            d[singular] = np.nan  # ends the trajectory (the kernel: SINGULAR_METRIC)
            return d, {"mu": mu, "nu": nu}
        out = np.zeros_like(g)
        pred = -lr * gd + 0.5 * lr * lr * (gd + mu * dd)
        trial = x + lr * d
        l0, lt = loss(x), loss(trial)
        for j in range(g.shape[0]):
            if np.isnan(d[j]).any():
                out[j] = np.nan
                continue
            rho = (l0[j] - lt[j]) / pred[j] if pred[j] > 0 and np.isfinite(lt[j]) else -np.inf
            if not singular[j] and pred[j] > 0 and rho > 0:
                out[j] = d[j]
                mu[j] = max(mu[j] * max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3), LM_MU_MIN)
                nu[j] = 2.0
            elif singular[j] or pred[j] > 0:
                if singular[j] and mu[j] >= LM_MU_MAX:
                    out[j] = np.nan
                    continue
                mu[j] = min(mu[j] * nu[j], LM_MU_MAX)
                nu[j] = min(2.0 * nu[j], _NU_MAX)
        return out, {"mu": mu, "nu": nu}

    hyper = (lam0, float(diag), float(sched))
    return _builtin(init, update, "levenberg_marquardt", "lm", hyper)
