"""Compiled kernels over data: the rows are a call-time argument, never part of the source.

:func:`compile_data_flow` turns a :class:`~riemgrad.symbolic.data_metrics.DataMetric`
and a per-example loss into a :class:`DataField`. The generated module holds
the per-example loss, gradient and metric (printed once, common subexpressions
shared) and a fixed part that, per state, loops over the rows accumulating the
loss, the gradient and the d x d metric, then solves (inlined Cholesky, or a
QR factor streamed by Givens rotations over the stacked per-example rows).
Per step: O(n d^2 + d^3) time, O(d^2) memory beyond the data and the batch.
The source (and so the cache key) never holds the data: a new data set with
the same columns runs on the same compiled kernel.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from .._frozen import Frozen
from ..data import Dataset
from ..errors import ArgumentTypeError, ShapeError, SolverSettingsError
from ..symbolic import as_expression as as_expr
from ..symbolic.conditional import ConditionalFamily
from ..symbolic.data_metrics import DataMetric
from ._data_runner import run_over_data
from ._data_second_order import SECOND_ORDER_RUNS
from ._data_template import RUNS, SOLVER_PARTS, TEMPLATE
from .abi import DataRun
from .cache import derivation_key, load_derivation, load_source, store_derivation
from .codegen.printer import assignments

__all__ = ["DataField", "compile_data_flow", "metric_field", "SOLVERS"]

#: How the metric is solved: an inlined Cholesky of the averaged matrix, or QR of the stacked rows.
SOLVERS = ("cholesky", "qr")

#: Fingerprint of this generator (its own file and the fixed template): part of every derivation key.
_OWN = hashlib.sha256(
    (Path(__file__).read_text() + TEMPLATE + RUNS + SECOND_ORDER_RUNS + repr(SOLVER_PARTS)).encode()
).hexdigest()
_DEC = '@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)'


def _rows(header: str, exprs: list, targets: list, names: dict, tloads: list, zloads: list, per_row: list,
          pre: list, post: list) -> str:
    """A function that loads the coordinates once, loops over the rows and runs ``per_row`` after the body."""
    body = assignments(exprs, targets, names, indent="        ") if exprs else []
    lines = [_DEC, header, *tloads, *pre, "    for i in range(Z.shape[0]):", *zloads, *body, *per_row, *post]
    return "\n".join(lines) + "\n"


def generate_source(metric: DataMetric, loss: sp.Expr, zsyms: tuple[sp.Symbol, ...], solver: str = "cholesky") -> str:
    """The generated module for ``metric``, the per-example ``loss`` (data symbols in ``zsyms`` order) and ``solver``.

    Three functions loop over the rows of ``Z`` with the coordinates loaded once and the gradient
    accumulated in local scalars (registers): ``_rows_loss(th, Z)`` (the sum of the losses),
    ``_rows_grad(th, Z, g)`` (g = the sum of the gradients) and ``_rows_full(th, Z, g, U, W, G, a, sq)``
    (the gradients, and the metric: the factors handed to the template's ``_outer`` per row, or the
    per-example matrix added into ``G``).
    """
    coords = metric.chart.coords
    d = len(coords)
    names = {c: f"t{k}" for k, c in enumerate(coords)}
    names.update({s: f"z{k}" for k, s in enumerate(zsyms)})
    used = set()
    for e in [loss, *metric.per_example_exprs()]:
        used |= e.free_symbols
    tloads = [f"    t{k} = th[{k}]" for k in range(d)]
    zloads = [f"        z{k} = Z[i, {k}]" for k, s in enumerate(zsyms) if s in used]
    # factor_terms pulls the common per-row factor out (x_k (q - y) instead of q x_k - x_k y), so cse shares it.
    grad = [sp.factor_terms(sp.diff(loss, c)) for c in coords]
    nf = len(metric.factors) if metric.kind == "outer" else 0
    kind = 0 if metric.kind == "outer" else 1
    head = [
        f"# riemgrad data kernel: DIM={d}, data columns {', '.join(map(str, zsyms))} (Z[:, k] in this order),",
        f"# coordinates {', '.join(map(str, coords))} (th[k]); metric {metric.name!r} ({metric.kind}).",
        "import math",
        "import numpy as np",
        "from numba import njit",
        "",
        f"DIM = {d}",
        f"NF = {nf}",
        f"KIND = {kind}",
        "",
    ]
    parts = ["\n".join(head)]
    parts.append(
        _rows("def _rows_loss(th, Z):", [loss], ["r"], names, tloads, zloads, ["        acc += r"],
              ["    acc = 0.0"], ["    return acc"])
    )
    gt = [f"g{k}" for k in range(d)]
    pre = [f"    s{k} = 0.0" for k in range(d)]
    acc = [f"        s{k} += g{k}" for k in range(d)]
    post = [f"    g[{k}] = s{k}" for k in range(d)]
    # The gradient passes leave the loss out (a log per row that descent does not need); finiteness is
    # checked on the gradient, and the recorded losses are evaluated afterwards by _rows_loss.
    parts.append(_rows("def _rows_grad(th, Z, g):", grad, gt, names, tloads, zloads, acc, pre, post))
    exprs, targets, per_row = list(grad), list(gt), list(acc)
    if kind == 0:
        for a, (w, u) in enumerate(metric.factors):
            exprs.append(w)
            targets.append(f"W[{a}]")
            exprs.extend(u)
            targets.extend(f"U[{a}, {k}]" for k in range(d))
        per_row.append("        _outer(U, W, G, a, sq)")
    else:
        M = metric.per_example
        for r in range(d):
            for c in range(r + 1):
                exprs.append(M[r, c])
                targets.append(f"m{r}_{c}")
                per_row.append(f"        G[{r}, {c}] += m{r}_{c}")
    parts.append(
        _rows("def _rows_full(th, Z, g, U, W, G, a, sq):", exprs, targets, names, tloads, zloads, per_row,
              pre, post)
    )
    runs = RUNS.replace("SUFFIX", "_0").split("\n\n\n")[0] + "\n\n\n" + RUNS.replace("SUFFIX", "_m")
    return "\n\n".join(parts) + SOLVER_PARTS[solver] + TEMPLATE + "\n\n" + runs + SECOND_ORDER_RUNS


class DataField(Frozen):
    """Compiled loss, gradient and metric over a data set, with descent and a gradient flow.

    Made by :func:`compile_data_flow`. Every numeric method takes points of
    shape ``(dim,)`` or ``(batch, dim)`` and optionally ``data``: another
    :class:`~riemgrad.data.Dataset` with the needed columns (the compiled
    kernel is reused; only the rows change).

    Attributes
    ----------
    chart : Chart
    metric_data : DataMetric
    loss_expr : sympy.Expr
        The per-example loss; the field's loss is its average over the rows.
    data : Dataset
        The default data.
    data_symbols : tuple of sympy.Symbol
        The columns the kernel reads, in the order of ``Z[:, k]``.
    solver : {"cholesky", "qr"}
    source : str
        The generated module (no data in it).
    path : pathlib.Path

    Examples
    --------
    >>> import numpy as np, sympy as sp
    >>> from riemgrad import Chart, gauss_newton_metric
    >>> from riemgrad.data import Dataset
    >>> a, b, x, y = sp.symbols("a b x y", real=True)
    >>> data = Dataset({x: [0.0, 1.0, 2.0], y: [1.0, 3.0, 5.0]})
    >>> chart = Chart("ab", (a, b))
    >>> field = compile_data_flow(gauss_newton_metric(a + b * x - y, chart, data=data), (a + b * x - y) ** 2 / 2)
    >>> res = field.descend([0.0, 0.0], lr=1.0, steps=1)
    >>> np.round(res.xs[-1], 12).tolist()
    [1.0, 2.0]
    """

    def __init__(self, **attrs: Any) -> None:
        self._set(**attrs)

    def __repr__(self) -> str:
        return (
            f"DataField(chart={self.chart.name!r}, metric={self.metric_data.name!r}, solver={self.solver!r}, "
            f"{self.data.describe()})"
        )

    @property
    def dim(self) -> int:
        """The number of coordinates."""
        return self.chart.dim

    # ------------------------------------------------------------ plumbing
    def _Z(self, data: Dataset | None) -> np.ndarray:
        if data is None:
            data = self.data
        if not isinstance(data, Dataset):
            raise ArgumentTypeError(f"`data` must be a Dataset; got {type(data).__name__}.")
        data.check_coordinates(self.chart.coords)
        data.require(self.data_symbols)
        if self.family is not None:
            self.family.check_labels(data.matrix(self.family.labels))
        return data.matrix(self.data_symbols)

    def _lam(self, damping: Any) -> float:
        return _damping(self.damping if damping is None else damping)

    def _points(self, x: Any, name: str = "x") -> tuple[np.ndarray, tuple[int, ...]]:
        X = np.array(x, dtype=float)
        if X.ndim not in (1, 2) or X.shape[-1] != self.dim:
            raise ShapeError(f"`{name}` must have shape ({self.dim},) or (batch, {self.dim}); got {X.shape}.")
        return np.ascontiguousarray(X.reshape(-1, self.dim)), X.shape[:-1]

    def _mode(self, preconditioner: Any) -> int:
        """1 for the field's metric, 0 for gradient descent (a name, or a built-in Preconditioner pair)."""
        if preconditioner is None or preconditioner == "metric":
            return 1
        if preconditioner in ("identity", "gradient"):
            return 0
        from ..flows.preconditioners import Preconditioner, compiled_twin

        twin = compiled_twin(preconditioner) if isinstance(preconditioner, Preconditioner) else None
        if twin is not None and twin[0] in ("natural", "identity"):
            return int(twin[0] == "natural")
        raise SolverSettingsError(
            f"`preconditioner` over data must be 'metric' or riemgrad.preconditioners.natural() (the field's "
            f"metric), or 'identity' or identity() (gradient descent); "
            f"got {getattr(preconditioner, 'name', preconditioner)!r}. "
            "lbfgs(), levenberg_marquardt() and hessian_free() are also compiled over data; "
            "rmsprop, adam and your own pairs are not."
        )

    def _evaluate(self, x: Any, data: Dataset | None, damping: float) -> tuple:
        X, shape = self._points(x)
        Z = self._Z(data)
        B = X.shape[0]
        GR, M, V = np.empty((B, self.dim)), np.zeros((B, self.dim, self.dim)), np.empty((B, self.dim))
        st = np.zeros(B, dtype=np.int64)
        self._module._evaluate(X, Z, float(damping), GR, M, V, st)
        return shape, GR, M, V, st

    # ------------------------------------------------------------ numeric values
    def loss(self, x: Any, data: Dataset | None = None) -> Any:
        """The average per-example loss at ``x``: shape () or (batch,)."""
        X, shape = self._points(x)
        out = np.empty(X.shape[0])
        self._module._losses(X, self._Z(data), out)
        return out.reshape(shape) if shape else float(out[0])

    def gradient(self, x: Any, data: Dataset | None = None) -> np.ndarray:
        """The gradient of the average loss: shape (dim,) or (batch, dim)."""
        X, shape = self._points(x)
        GR = np.empty((X.shape[0], self.dim))
        self._module._gradients(X, self._Z(data), GR)
        return GR.reshape(shape + (self.dim,))

    def metric(self, x: Any, data: Dataset | None = None, damping: float = 0.0) -> np.ndarray:
        """The metric E_data[m] (+ damping * I): shape (dim, dim) or (batch, dim, dim)."""
        shape, _, M, *_ = self._evaluate(x, data, self._lam(damping))
        return M.reshape(shape + (self.dim, self.dim))

    def velocity(self, x: Any, data: Dataset | None = None, damping: float = 0.0) -> np.ndarray:
        """-(G + damping I)^{-1} grad L: shape (dim,) or (batch, dim); NaN where G is singular."""
        shape, _, _, V, st = self._evaluate(x, data, self._lam(damping))
        V[st != 0] = np.nan
        return V.reshape(shape + (self.dim,))

    # ------------------------------------------------------------ runs
    def _saves(self, saveat: Any, last: int, name: str) -> np.ndarray:
        default = [0, last] if last > 0 else [0]  # steps=0: the start only
        idx = np.array(default if saveat is None else saveat, dtype=np.int64).reshape(-1)
        if idx.size == 0 or (np.diff(idx) <= 0).any() or idx[0] < 0 or idx[-1] > last:
            raise SolverSettingsError(
                f"`{name}` must be increasing step indices in 0..{last}; got {saveat!r}."
            )
        return idx

    def descend(
        self,
        x0: Any,
        *,
        lr: float,
        steps: int,
        saveat: Sequence[int] | None = None,
        preconditioner: Any = "metric",
        damping: float | None = None,
        data: Dataset | None = None,
        threads: int = 1,
        backtracking: bool = False,
        parallel: Any = "auto",
    ) -> Any:
        """Preconditioned descent theta <- theta - lr (G + damping I)^{-1} grad L, compiled over the rows.

        Parameters
        ----------
        x0 : array_like, shape (dim,) or (batch, dim)
        lr : float
        steps : int
        saveat : sequence of int, optional
            Step indices to record (default: the start and the end).
        preconditioner : {"metric", "identity"} or Preconditioner
            The field's metric (Newton, Gauss-Newton, natural gradient, empirical
            Fisher, ... whichever it was built with) or plain gradient descent;
            ``riemgrad.preconditioners.natural()`` and ``identity()`` name the same two.
            ``riemgrad.preconditioners.hessian_free(...)`` runs truncated Newton-CG on
            compiled curvature-vector products and returns a ``HessianFreeResult``.
            ``lbfgs(...)`` (needs only the loss and gradient over the rows; with
            ``backtracking=True`` the first trial step is ``lr``) and
            ``levenberg_marquardt(...)`` (the field's metric, e.g. the Gauss-Newton metric
            E[JᵀJ] of a field compiled with :func:`~riemgrad.gauss_newton_metric` and the loss
            r²/2, damped by its own ``lam`` and schedule; use ``lr=1``) run compiled
            per trajectory, as in :func:`riemgrad.descend`.
        damping : float, optional
            Levenberg-Marquardt style lam >= 0 added to the metric (default: the
            field's ``damping``, set by :func:`compile_data_flow`).
        data : Dataset, optional
        threads : int
            Starting points are split into this many contiguous chunks run on
            threads (the kernels release the GIL); 1 runs them in order.
        backtracking : bool
            Armijo backtracking, compiled over data for ``lbfgs()`` only; must be False otherwise.
        parallel : "auto" or bool
            ``True`` sets ``threads`` to the number of cores (as :func:`riemgrad.descend`).

        Returns
        -------
        DescentResult
        """
        from ..flows.results import DescentResult  # the record type of the next stage, loaded on use

        if not (np.isfinite(lr) and lr > 0):
            raise SolverSettingsError(f"`lr` must be a positive finite number; got {lr!r}.")
        second = _second_order(preconditioner)
        if backtracking and (second is None or second[0] != "lbfgs"):
            raise SolverSettingsError(
                "`backtracking` is compiled over data only for riemgrad.preconditioners.lbfgs(); pass "
                "backtracking=False and a fixed `lr` (Levenberg-Marquardt's schedule is its own step control)."
            )
        threads = _parallel(threads, parallel)
        if int(steps) != steps or steps < 0:
            raise SolverSettingsError(f"`steps` must be a non-negative integer; got {steps!r}.")
        from ..flows.hessian_free import hessian_free_settings

        hf = hessian_free_settings(preconditioner)
        if hf is not None:  # truncated Newton on compiled curvature-vector products: kernels/hvp.py
            from .hvp import hf_descend

            return hf_descend(self, x0, lr=lr, steps=steps, saveat=saveat, settings=hf, damping=damping, data=data,
                              threads=threads)
        from ..flows.kfac import kfac_settings  # K-FAC on a layered model: kernels/kfac.py
        from .kfac import kfac_descend

        if (kf := kfac_settings(preconditioner)) is not None:
            return kfac_descend(self, x0, lr=lr, steps=steps, saveat=saveat, settings=kf, data=data)
        X, shape = self._points(x0, "x0")
        Z = self._Z(data)
        idx = self._saves(saveat, int(steps), "saveat")
        XS = np.full((idx.size, X.shape[0], self.dim), np.nan)
        st = np.zeros(X.shape[0], dtype=np.int64)
        kf = np.zeros(X.shape[0], dtype=np.int64)
        if second is not None:  # L-BFGS / Levenberg-Marquardt: _data_template.SECOND_ORDER_RUNS
            kind, hyper = second
            if kind == "lm" and damping is not None:
                raise SolverSettingsError(
                    f"`damping` is not used with levenberg_marquardt() (its own `damping` sets lam); got {damping!r}. "
                    "Leave `damping` unset."
                )
            h = np.array([hyper[0], hyper[1], float(backtracking) if kind == "lbfgs" else hyper[2]])
            kernel = getattr(self._module, "_descend_lbfgs" if kind == "lbfgs" else "_descend_lm")
            _chunks(kernel, X, (Z, float(lr), int(steps), self._dom, idx, h), XS, st, kf, threads, steps=int(steps),
                    what=f"{'L-BFGS' if kind == 'lbfgs' else 'Levenberg-Marquardt'} over data")
            return DescentResult(
                ks=idx, xs=XS.reshape((idx.size,) + shape + (self.dim,)), status=st.reshape(shape),
                k_final=kf.reshape(shape), chart=self.chart,
                preconditioner="lbfgs" if kind == "lbfgs" else "levenberg_marquardt",
                _loss_fn=lambda P: self.loss(P, data),
            )
        mode = self._mode(preconditioner)
        kind = "descent_metric" if mode else "descent_gradient"
        run = DataRun(kind, Z, lr, steps, self._lam(damping), self._dom, idx)
        _chunks(getattr(self._module, run.name()), X, run.kernel_args(), XS, st, kf, threads,  # only it compiles
                steps=int(steps), what="descent over data")
        name = self.metric_data.name if mode else "identity"
        return DescentResult(
            ks=idx, xs=XS.reshape((idx.size,) + shape + (self.dim,)), status=st.reshape(shape),
            k_final=kf.reshape(shape), chart=self.chart, preconditioner=name,
            _loss_fn=lambda P: self.loss(P, data),
        )

    def solve_flow(
        self,
        x0: Any,
        t_span: tuple[float, float],
        *,
        dt: float,
        saveat: Any = None,
        damping: float | None = None,
        data: Dataset | None = None,
        threads: int = 1,
        stepper: Any = "rk4",
        rtol: float | None = None,
        atol: float | None = None,
        max_steps: int | None = None,
        parallel: Any = "auto",
    ) -> Any:
        """The gradient flow d theta/dt = -(G + damping I)^{-1} grad L by fixed-step RK4.

        Parameters
        ----------
        x0 : array_like, shape (dim,) or (batch, dim)
        t_span : (t0, t1)
        dt : float
            The step; adjusted down so that a whole number of steps spans ``t_span``.
        saveat : array_like, optional
            Times to record, on the step grid (default: t0 and t1).
        damping : float, optional
            Default: the field's ``damping``.
        data : Dataset, optional
        threads : int
            Starting points are split into this many contiguous chunks run on
            threads (the kernels release the GIL); 1 runs them in order.
        stepper : "rk4" or RK4
            The only stepper compiled over data (the adaptive ``rtol``, ``atol``
            and ``max_steps`` must be None).
        parallel : "auto" or bool
            ``True`` sets ``threads`` to the number of cores.

        Returns
        -------
        FlowResult
        """
        from ..flows.results import FlowResult  # the record type of the next stage, loaded on use

        if getattr(stepper, "name", stepper) != "rk4" or (rtol, atol, max_steps) != (None, None, None):
            raise SolverSettingsError(
                f"`stepper` over data must be 'rk4' (fixed steps, no rtol/atol/max_steps); got {stepper!r}. "
                "Use stepper='rk4' with a step `dt`."
            )
        threads = _parallel(threads, parallel)
        t0, t1 = (float(t) for t in t_span)
        if not (np.isfinite(t0) and np.isfinite(t1) and t1 > t0):
            raise SolverSettingsError(f"`t_span` must be (t0, t1) with t1 > t0; got {t_span!r}.")
        if not (np.isfinite(dt) and dt > 0):
            raise SolverSettingsError(f"`dt` must be a positive number; got {dt!r}.")
        nsteps = max(1, int(np.ceil((t1 - t0) / dt - 1e-9)))
        h = (t1 - t0) / nsteps
        if saveat is None:
            idx = np.array([0, nsteps], dtype=np.int64)
        else:
            ts = np.asarray(saveat, dtype=float).reshape(-1)
            k = np.rint((ts - t0) / h)
            if (np.abs(k * h + t0 - ts) > 1e-9 * max(1.0, abs(t1))).any():
                raise SolverSettingsError(f"`saveat` times must lie on the step grid t0 + k * {h!r}; got {saveat!r}.")
            idx = self._saves(k.astype(np.int64), nsteps, "saveat")
        X, shape = self._points(x0, "x0")
        Z = self._Z(data)
        XS = np.full((idx.size, X.shape[0], self.dim), np.nan)
        st = np.zeros(X.shape[0], dtype=np.int64)
        kf = np.zeros(X.shape[0], dtype=np.int64)
        run = DataRun("flow_metric", Z, h, nsteps, self._lam(damping), self._dom, idx)
        _chunks(getattr(self._module, run.name()), X, run.kernel_args(), XS, st, kf, threads, steps=nsteps,
                what="RK4 over data")
        return FlowResult(
            ts=t0 + idx * h, xs=XS.reshape((idx.size,) + shape + (self.dim,)), status=st.reshape(shape),
            t_final=(t0 + kf * h).reshape(shape), n_steps=kf.reshape(shape), chart=self.chart, stepper="rk4",
            _loss_fn=lambda P: self.loss(P, data),
        )


def _chunks(
    kernel: Any, X: np.ndarray, args: tuple, XS: np.ndarray, st: np.ndarray, kf: np.ndarray, threads: Any,
    *, steps: int, what: str,
) -> None:
    """Run ``kernel`` over the starting points in ``threads`` contiguous ranges (each with its own arrays),
    interruptibly (:func:`riemgrad.kernels._data_runner.run_over_data`; ``args[0]`` is the data ``Z``)."""
    B = X.shape[0]
    parts: dict[int, tuple] = {}

    def call(lo: int, hi: int, ctl: np.ndarray) -> None:
        if lo == 0 and hi == B:  # one range: the caller's arrays
            kernel(X, *args, XS, st, kf, ctl)
            return
        part = (np.ascontiguousarray(X[lo:hi]), np.full((XS.shape[0], hi - lo, XS.shape[2]), np.nan),
                np.zeros(hi - lo, dtype=np.int64), np.zeros(hi - lo, dtype=np.int64))
        kernel(part[0], *args, *part[1:], ctl)
        parts[lo] = (hi, *part[1:])

    run_over_data(call, B, threads, steps=steps, rows=args[0].shape[0], what=what)
    for lo, (hi, xs, s, f) in parts.items():
        XS[:, lo:hi] = xs
        st[lo:hi] = s
        kf[lo:hi] = f


def _second_order(preconditioner: Any) -> tuple[str, tuple[float, float, float]] | None:
    """(kind, hyper) for the built-in lbfgs() / levenberg_marquardt() pairs, compiled over data; else None."""
    from ..flows.preconditioners import Preconditioner, compiled_twin

    twin = compiled_twin(preconditioner) if isinstance(preconditioner, Preconditioner) else None
    return twin if twin is not None and twin[0] in ("lbfgs", "lm") else None


def _parallel(threads: Any, parallel: Any) -> Any:
    if parallel is True:
        return os.cpu_count() or 1
    if parallel not in ("auto", False):
        raise SolverSettingsError(f"`parallel` must be 'auto', True or False; got {parallel!r}.")
    return threads


def _damping(lam: Any) -> float:
    lam = float(lam)
    if not (np.isfinite(lam) and lam >= 0):
        raise SolverSettingsError(f"`damping` must be a finite number >= 0; got {lam!r}.")
    return lam


def compile_data_flow(
    metric: DataMetric, loss: Any = 0, *, data: Dataset | None = None, solver: str = "cholesky", damping: float = 0.0
) -> DataField:
    """Compile a data metric and a per-example loss into a :class:`DataField`.

    Parameters
    ----------
    metric : DataMetric
    loss : sympy expression or ConditionalFamily, optional
        The per-example loss (a family: its negative log-likelihood, with the
        labels checked against its support at every call). Default 0 (metric only).
    data : Dataset, optional
        The default data (default: the metric's).
    solver : {"cholesky", "qr"}
        "qr" streams a Givens QR of the rows sqrt(w/n) u of an "outer" metric,
        never forming the Gram matrix (use it where the metric is ill
        conditioned, e.g. polynomial models).
    damping : float
        The default Levenberg-Marquardt damping lam >= 0 of every run (``G + lam I``).

    Returns
    -------
    DataField

    Raises
    ------
    ArgumentTypeError
        If ``metric`` is not a DataMetric.
    SolverSettingsError
        For an unknown ``solver``, or "qr" with a Hessian metric.
    """
    if not isinstance(metric, DataMetric):
        raise ArgumentTypeError(
            f"`metric` must be a DataMetric (a metric over a Dataset); got {type(metric).__name__}. "
            "Pass data= to the metric function, e.g. gauss_newton_metric(r, chart, data=Dataset(...))."
        )
    if solver not in SOLVERS:
        raise SolverSettingsError(f"`solver` must be one of {SOLVERS}; got {solver!r}.")
    if solver == "qr" and metric.kind != "outer":
        raise SolverSettingsError(
            f"`solver` 'qr' needs a metric written as a sum of outer products; the {metric.name} metric is not. "
            "Use solver='cholesky'."
        )
    family = loss if isinstance(loss, ConditionalFamily) else None
    lexpr = family.nll if family is not None else as_expr(loss, "loss")
    data = metric.data if data is None else data
    if not isinstance(data, Dataset):
        raise ArgumentTypeError(f"`data` must be a Dataset; got {type(data).__name__}.")
    free = set(lexpr.free_symbols)
    for e in metric.per_example_exprs():
        free |= e.free_symbols
    zsyms = tuple(sorted(free - set(metric.chart.coords), key=lambda s: s.name))
    data.check_coordinates(metric.chart.coords)
    data.require(zsyms)
    if family is not None:
        family.check_labels(data.matrix(family.labels))
    key = derivation_key(
        "data-kernel", _OWN, solver, sp.srepr(lexpr), sp.srepr(tuple(metric.per_example_exprs())), metric.kind,
        sp.srepr(metric.chart.coords), sp.srepr(zsyms),
    )
    got = load_derivation(key)
    if got is not None:
        source = got["source_text"]
    else:
        source = generate_source(metric, lexpr, zsyms, solver)
    module, path = load_source(source)
    if got is None:
        # the cache's one verified entry format (strategy, velocity, hash-named source): no velocity here
        store_derivation(key, {"strategy": f"data-{solver}", "velocity": None, "source": path.name})
    dom = np.array([{"positive": 1, "negative": -1}.get(k, 0) for k in metric.chart.domain.values()], dtype=np.int64)
    return DataField(
        chart=metric.chart, metric_data=metric, loss_expr=lexpr, family=family, data=data, data_symbols=zsyms,
        solver=solver, damping=_damping(damping), source=source, path=path, _module=module, _dom=dom,
    )


_METRIC_FIELDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def metric_field(metric: DataMetric) -> DataField:
    """The metric-only field of ``metric`` (kept while the metric lives), for :meth:`DataMetric.evaluate`."""
    got = _METRIC_FIELDS.get(metric)
    if got is None:
        got = _METRIC_FIELDS[metric] = compile_data_flow(metric)
    return got
