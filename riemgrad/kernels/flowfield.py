"""``FlowField``: the compiled kernels of one gradient-flow field (loss, gradient, metric, velocity) and its descent runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import SolverSettingsError
from .abi import (
    CONTROL_DONE,
    EVALUATORS,
    SCALAR_MAX_BATCH,
    SCALAR_MAX_DIM,
    AdaptiveRun,
    DescentRun,
    FixedStepRun,
    kernel_name,
)
from .codegen.steppers import FIXED
from .codegen.template import DESCENT_KINDS, DIAGONAL_KINDS
from .compiled import BACKGROUND_WORK, CompiledField, real_array  # noqa: F401  (their old import path)
from .runner import chunk_bounds

__all__ = ["FlowField"]


class FlowField(CompiledField):
    """Compiled numeric kernels of a Riemannian gradient flow on one chart.

    Made by :func:`compile_flow`; not constructed directly. Every numeric
    method takes points ``x`` of shape ``(dim,)`` or ``(batch, dim)`` in the
    chart's coordinate order, and ``params`` (the values of the symbols listed
    in :attr:`params`, as a sequence in that order or a mapping from symbol or
    name to value).

    Attributes
    ----------
    chart : Chart
        The chart the coordinates are written in.
    params : tuple of sympy.Symbol
        Symbols whose values are given at call time.
    loss_expr : sympy.Expr
        The loss.
    riemannian_metric : Metric
        The metric (symbolic).
    velocity_expr : tuple of sympy.Expr or None
        The derived velocity ``-G^{-1} grad L`` when it was derived symbolically
        (strategies ``"exact"`` and ``"symbolic"``), else None.
    strategy : str
        ``"exact"`` (constant metric, solved in rational arithmetic),
        ``"symbolic"`` (velocity derived and simplified symbolically),
        ``"cholesky"`` (an inlined Cholesky solve at every evaluation),
        or ``"qr"`` (least squares through QR of the residuals' Jacobian).
    source : str
        The generated module; its header states the argument order.
    path : pathlib.Path
        Where the generated module lives in the cache.

    Examples
    --------
    >>> import numpy as np, sympy as sp
    >>> from riemgrad import Chart, Metric, compile_flow
    >>> mu = sp.Symbol("mu", real=True)
    >>> sigma = sp.Symbol("sigma", positive=True)
    >>> g = Metric(Chart("sigma", (mu, sigma)), sp.diag(1 / sigma**2, 2 / sigma**2))
    >>> kl = sp.log(sigma / 2) + (4 + (1 - mu) ** 2) / (2 * sigma**2) - sp.Rational(1, 2)
    >>> field = compile_flow(g, kl)
    >>> field.strategy, field.velocity_expr
    ('symbolic', (1 - mu, (-sigma**2 + (1 - mu)**2 + 4)/(2*sigma)))
    >>> np.round(field.velocity([0.0, 1.0]), 12).tolist()
    [1.0, 2.0]
    >>> field.velocity(np.array([[0.0, 1.0], [1.0, 2.0]])).shape
    (2, 2)
    """


    def _repr_latex_(self) -> str:
        r"""The compiled velocity field for Jupyter: ``\dot{x}^k = ...`` per coordinate (or
        ``-G^{-1} \nabla L`` when it is solved numerically), the loss and the chart."""
        from ..symbolic import chart_latex

        chart = self.chart
        names = [chart.latex_names[c] for c in chart.coords]
        if self.velocity_expr is not None:
            rows = [f"\\dot{{{n}}} &= {chart.latex(v)}" for n, v in zip(names, self.velocity_expr)]
        else:
            vec = r",\, ".join(f"\\dot{{{n}}}" for n in names)
            rows = [f"({vec}) &= -G^{{-1}} \\nabla L \\quad \\text{{({self.strategy} solve in the kernel)}}"]
        rows.append(f"L &= {chart.latex(self.loss_expr)}")
        return (
            "$\\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}\quad " + chart_latex(chart) + "$"
        )

    def __repr__(self) -> str:
        return (
            f"FlowField(chart={self.chart.name!r}, coords={self.chart.coords}, params={self.params}, "
            f"strategy={self.strategy!r})"
        )

    # ------------------------------------------------------------- numeric
    def loss(self, x: Any, params: Any = None) -> np.ndarray:
        """The loss at ``x``.

        Parameters
        ----------
        x : array_like, shape (dim,) or (batch, dim)
        params : sequence or mapping, optional

        Returns
        -------
        numpy.ndarray, shape () or (batch,)
        """
        X, batch = self.layout(x)
        self._require_domain(X)
        out = np.empty(X.shape[1])
        self._call(EVALUATORS["loss"], X, self.param_vector(params), out)
        return out.reshape(batch)

    def gradient(self, x: Any, params: Any = None) -> np.ndarray:
        """The Euclidean gradient ``dL/dx`` (covector components), shape like ``x``."""
        X, batch = self.layout(x)
        self._require_domain(X)
        out = np.empty_like(X)
        self._call(EVALUATORS["gradient"], X, self.param_vector(params), out)
        return out.T.reshape(batch + (self.dim,))

    def metric(self, x: Any, params: Any = None) -> np.ndarray:
        """The metric matrix ``G(x)``, shape ``(dim, dim)`` or ``(batch, dim, dim)``."""
        X, batch = self.layout(x)
        self._require_domain(X)
        out = np.empty((X.shape[1], self.dim, self.dim))
        self._call(EVALUATORS["metric"], X, self.param_vector(params), out)
        return out.reshape(batch + (self.dim, self.dim))

    def warm_up(self, steppers: Sequence[str] = ("rk4",), batch: int | None = None) -> float:
        """Compile now (or load from the disk cache) what runs with these steppers; the seconds it took.

        Kernels are otherwise compiled on first use, inside the first
        :func:`~riemgrad.solve_flow` or :func:`~riemgrad.descend` call. This
        compiles, with the argument types those calls use, each stepper in
        the batch layouts it runs in (one trajectory at a time for batches of
        at most ``SCALAR_MAX_BATCH``, chunks otherwise), so later timings
        measure running only. The numeric methods (``loss``, ``velocity``, ...)
        compile on their first call.

        Parameters
        ----------
        steppers : sequence of str
            Any stepper name of the table (``"euler"``, ``"heun"``, ``"rk4"``,
            ``"ssprk3"``, ``"dopri5"``; natural descent runs on ``"euler"``) and
            ``"identity"``, ``"rmsprop"``, ``"adam"``, ``"lbfgs"``, ``"lm"`` (the other descent
            preconditioners).
        batch : int, optional
            The batch size that will run: only its layout is compiled. Default:
            both layouts.

        Returns
        -------
        float
            Wall time in seconds (compilation, or loading machine code from disk).

        Raises
        ------
        SolverSettingsError
            If a stepper name is unknown.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, compile_flow, euclidean_metric
        >>> x = sp.Symbol("x", real=True)
        >>> field = compile_flow(euclidean_metric(Chart("line", (x,))), x**2 / 2)
        >>> field.warm_up(["euler"]) >= 0.0
        True
        """
        import time

        fixed, descents = FIXED, tuple(k for k in DESCENT_KINDS if k != "natural")
        known = fixed + ("dopri5",) + descents
        steppers = [steppers] if isinstance(steppers, str) else list(steppers)
        for s in steppers:
            if s not in known:
                raise SolverSettingsError(f"`steppers` must name steppers among {list(known)}; got {s!r}.")
        t0 = time.perf_counter()
        n = self.dim
        # dummy states, typed exactly as riemgrad.flows passes them (a zero state is simply rejected)
        X = np.zeros((n, 1))
        idx = np.zeros(1, np.int64)
        p = np.zeros(max(1, len(self.params)))
        small = n <= SCALAR_MAX_DIM and (batch is None or batch <= SCALAR_MAX_BATCH)
        large = batch is None or batch > SCALAR_MAX_BATCH or n > SCALAR_MAX_DIM
        for s in steppers:
            status, tlast = np.zeros(1, np.int64), np.zeros(1)
            if s in fixed:
                run = FixedStepRun(s, 0.0, 1.0, 1, idx, p)
                if small:
                    self.run_fixed(run, X, status, tlast, scalar=True)
                if large:
                    self.run_fixed(run, X, status, tlast, scalar=False)
            elif s == "dopri5":
                run = AdaptiveRun(0.0, 1.0, 0.1, 1e-8, 1e-10, 1, np.zeros(1), p)
                self.run_adaptive(run, X, status, tlast, np.zeros(1, np.int64))
            else:
                self.run_descent(DescentRun(s, 1.0, False, 1, idx, p), X, status, tlast)
        return time.perf_counter() - t0

    def run_descent(
        self,
        run: DescentRun,
        X: np.ndarray,
        status: np.ndarray,
        klast: np.ndarray,
        *,
        threads: int = 1,
        progress: bool | None = None,
    ) -> np.ndarray:
        """Run compiled descent with a built-in preconditioner on the batch ``X`` (dim, B), in place.

        As :meth:`run_fixed`; ``klast`` receives the index of each trajectory's last valid
        iterate (as a float). Returns the saved iterates, shape ``(n_save, B, dim)``; for the kinds of
        :data:`~riemgrad.kernels.codegen.template.DIAGONAL_KINDS` (RMSprop, Adam) shape ``(n_save, B, 2 dim)``,
        the columns ``dim:`` holding the diagonal metric ``sqrt(v_hat) + eps`` at each saved step.
        """
        B = X.shape[1]
        XS = np.empty((run.save_idx.size, B, self.dim * (2 if run.kind in DIAGONAL_KINDS else 1)))
        bounds = chunk_bounds(B, threads)
        ctl = self._control(run.control, len(bounds) - 1)
        full = run.kernel_args() + (XS, status, klast)
        calls = [(X, bounds[i], bounds[i + 1], *full, ctl[i % len(ctl)]) for i in range(len(bounds) - 1)]
        self._launch(
            kernel_name("descent_range", run.kind), calls, ctl, threads, work=float(run.nsteps) * B * self.dim**2,
            what=f"{run.kind} descent", total=run.nsteps, unit="step",
            done=lambda: int(ctl[:, CONTROL_DONE].sum()) // max(B, 1), progress=progress,
        )
        return XS
