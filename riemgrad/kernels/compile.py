"""``compile_flow``: a metric and a loss become compiled, batched kernels.

The velocity field ``-G^{-1} grad L`` is derived once (:mod:`.velocity`), printed as scalar
source (:mod:`.codegen`), written to a file named by the hash of its content and compiled with
``njit(cache=True)`` (:mod:`.cache`), so a new process reloads it. The derivation itself is cached
too (keyed by its inputs and the generator's files): :func:`build` is the one path for both.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import sympy as sp

from ..errors import ChartMismatchError, CoordinateError, SolverSettingsError
from ..symbolic import Chart, Metric
from ..symbolic import as_expression as as_expr
from ..symbolic.data_metrics import DataMetric
from ._srepr import CacheEntryError, read_srepr
from .cache import (
    CacheRepairWarning,
    derivation_key,
    discard_derivation,
    load_derivation,
    load_source,
    store_derivation,
)
from .codegen import generate_source
from .data_kernels import DataField, compile_data_flow
from .flowfield import FlowField
from .velocity import derive_velocity

__all__ = ["compile_flow", "build", "require_metric", "free_params", "vectorized_math_enabled", "VECTORIZED_MATH_ENV"]


def compile_flow(
    metric: Metric,
    loss: Any,
    params: Sequence[sp.Symbol] = (),
    *,
    strategy: str = "auto",
    residuals: Sequence[Any] | None = None,
    data: Any = None,
    vectorized_math: bool | None = None,
) -> FlowField | DataField:
    """Compile the Riemannian gradient flow of ``loss`` under ``metric``.

    The flow is ``dx/dt = -G(x)^{-1} grad L(x)``. Nothing is compiled until a
    kernel is first called; compiled machine code is cached on disk (see
    :func:`riemgrad.kernels.cache_dir`), so a later process reloads it.

    Parameters
    ----------
    metric : Metric
        The metric ``G``, on the chart whose coordinates the flow moves.
    loss : sympy expression
        The loss ``L``, written in the chart's coordinates and ``params``.
    params : sequence of sympy.Symbol, optional
        Symbols whose values are supplied at call time (targets, data), so one
        compiled kernel serves many problems. Every free symbol of ``loss`` and
        ``metric`` must be a coordinate or listed here.
    strategy : {"auto", "exact", "symbolic", "cholesky", "qr"}, optional
        How ``-G^{-1} grad L`` is computed. ``"auto"`` (default) solves a
        constant rational metric exactly (``"exact"``), derives and simplifies
        the velocity symbolically for diagonal metrics and dimension <= 3
        (``"symbolic"``), and otherwise inlines a Cholesky solve. With
        ``residuals`` it is ``"qr"``.
    residuals : sequence of sympy expressions, optional
        For a Gauss-Newton (or empirical function-space) metric: residuals
        ``r`` with ``loss = |r|^2 / 2`` (up to a constant) and
        ``metric = J^T J``, ``J = dr/dx``. The kernel then solves the least
        squares problem ``min |J v + r|`` by Householder QR of ``J``, never
        forming ``J^T J``, whose condition number is the square of ``J``'s.
        Both identities are spot-checked at random points.
    data : Dataset, optional
        For a metric over data (a :class:`~riemgrad.symbolic.data_metrics.DataMetric`):
        the default rows (default: the metric's). Such a metric compiles to a
        :class:`~riemgrad.kernels.DataField` by :func:`~riemgrad.kernels.compile_data_flow`,
        with ``loss`` per example (or a ConditionalFamily, its negative log-likelihood)
        and the rows looped over in compiled code; ``strategy`` "qr" selects
        its streamed QR solver.
    vectorized_math : bool, optional
        Compute ``exp``, ``log`` and ``tanh`` (and ``E**x``) in the flow's
        right-hand side with the vectorizable functions of :mod:`riemgrad.kernels.elementary`
        (at most 1 ulp from the correctly rounded value, special values as :mod:`math`), so
        the loop over a chunk of trajectories runs in SIMD vectors; ``False`` calls
        :mod:`math` (the C library, one element at a time), to compare or debug. The default
        (None) reads the environment variable ``RIEMGRAD_VECTORIZED_MATH`` (``0``, ``false``
        or ``off`` turn it off) and is on otherwise. Both variants are cached separately.
        Fields without these functions compile to the same module either way. ``sin`` and
        ``cos`` keep :mod:`math` (the vectorizable versions call the C library for large
        arguments, which made a kernel slower).

    Returns
    -------
    FlowField or DataField

    Raises
    ------
    ChartMismatchError
        If ``metric`` is not a :class:`Metric`.
    CoordinateError
        If ``loss`` or ``metric`` uses a symbol that is neither a coordinate
        nor listed in ``params``, or ``params`` repeats or includes a coordinate.
    SolverSettingsError
        If ``strategy`` is unknown, ``"exact"`` for a metric that is not
        constant and rational, ``"qr"`` without ``residuals``, or
        ``residuals`` that do not give ``metric = J^T J`` and
        ``grad loss = J^T r``.
    CompilationError
        If the expressions use functions that cannot be compiled.

    Notes
    -----
    With a constant rational metric the velocity is exact before rounding:
    for a linear model under its function-space metric it is ``-2 (x - beta)``
    whatever the conditioning of ``G``, so the flow stays on its closed form.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, Metric, compile_flow
    >>> a, b = sp.symbols("a b", real=True)
    >>> hilbert = Metric(Chart("ab", (a, b)), [[1, sp.Rational(1, 2)], [sp.Rational(1, 2), sp.Rational(1, 3)]])
    >>> loss = a**2 + a * b + b**2 / 3 - 2 * a - b
    >>> field = compile_flow(hilbert, loss)
    >>> field.strategy, field.velocity_expr
    ('exact', (2 - 2*a, -2*b))
    """
    if isinstance(metric, DataMetric) or data is not None:  # rows at call time: kernels/data_kernels.py
        if strategy not in ("auto", "cholesky", "qr") or residuals is not None or params:
            raise SolverSettingsError(
                f"a metric over data takes strategy 'auto', 'cholesky' or 'qr' and no `residuals` or `params` "
                f"(its data symbols are bound by the Dataset); got strategy={strategy!r}."
            )
        return compile_data_flow(metric, loss, data=data, solver="qr" if strategy == "qr" else "cholesky")
    require_metric(metric)
    chart = metric.chart
    if isinstance(params, sp.Symbol):
        params = (params,)
    params = tuple(params)
    for q in params:
        if not isinstance(q, sp.Symbol):
            raise CoordinateError(f"`params` must hold SymPy Symbols; got {q!r} of type {type(q).__name__}.")
    # a string is parsed by riemgrad.symbolic.parse_expression (never evaluated as Python), with the
    # chart's coordinates and the parameters in scope
    scope = tuple(chart.coords) + params
    loss = as_expr(loss, "loss", scope)
    if len(set(params)) != len(params) or set(params) & set(chart.coords):
        raise CoordinateError(
            f"`params` {params} must be distinct symbols that are not coordinates of chart {chart.name!r} "
            f"{chart.coords}."
        )
    G = metric.matrix
    extra = free_params([loss, *G], chart) - set(params)
    if extra:
        names = sorted(map(str, extra))
        raise CoordinateError(
            f"`loss` and `metric` use the symbols {names}, which are neither coordinates of chart "
            f"{chart.name!r} {tuple(map(str, chart.coords))} nor listed in `params`. "
            f"Pass params=({', '.join(names)},) or substitute values for them."
        )
    res = None
    if residuals is not None:
        given = residuals if not isinstance(residuals, (sp.Expr, str)) else [residuals]
        res = [as_expr(r, "residuals", scope) for r in given]
        if strategy not in ("auto", "qr"):
            raise SolverSettingsError(f"`residuals` go with strategy='qr' (or 'auto'); got strategy={strategy!r}.")
        strategy = "qr"
        extra = free_params(res, chart) - set(params)
        if extra:
            raise CoordinateError(
                f"`residuals` use {sorted(map(str, extra))}, which are neither coordinates nor listed in `params`."
            )
    elif strategy == "qr":
        raise SolverSettingsError(
            "`strategy='qr'` needs `residuals`: the r with loss = |r|^2 / 2 and metric = J^T J, J = dr/dx."
        )
    inputs = (chart.name, sp.srepr(chart.coords), sp.srepr(params), sp.srepr(loss), sp.srepr(G), strategy)
    vectorized = vectorized_math_enabled(vectorized_math)
    inputs += (sp.srepr(res), f"vectorized_math={vectorized}")

    def derive() -> tuple[str, list[sp.Expr] | None, str]:
        grad = [sp.diff(loss, c) for c in chart.coords]
        chosen, velocity = derive_velocity(metric, params, grad, strategy, res)
        return chosen, velocity, generate_source(chart, params, loss, grad, G, velocity, res, vectorized)

    chosen, velocity, source, module, path = build(inputs, derive)
    return FlowField(
        chart=chart,
        params=params,
        loss_expr=loss,
        riemannian_metric=metric,
        velocity_expr=tuple(velocity) if velocity is not None else None,
        strategy=chosen,
        source=source,
        path=path,
        _module=module,
    )


def build(
    inputs: tuple[str, ...], derive: Callable[[], tuple[str, list[sp.Expr] | None, str]]
) -> tuple[str, list[sp.Expr] | None, str, ModuleType, Path]:
    """The one cache-and-build path: a stored derivation for ``inputs``, or ``derive()`` and store it.

    Parameters
    ----------
    inputs : tuple of str
        Everything the derivation depends on besides the generator's own files (which
        :func:`~riemgrad.kernels.cache.derivation_key` adds), as strings.
    derive : callable
        ``derive() -> (strategy, velocity or None, source)``, run only on a cache miss.

    Returns
    -------
    (strategy, velocity, source, module, path)
        The loaded module and the path of its file in the cache.
    """
    key = derivation_key(*inputs)
    stored = load_derivation(key)
    if stored is not None:
        chosen, source = stored["strategy"], stored["source_text"]
        try:  # data, never code: srepr text rebuilt from a whitelist of SymPy nodes
            velocity = None if stored["velocity"] is None else [read_srepr(v) for v in stored["velocity"]]
        except CacheEntryError as exc:
            warnings.warn(
                f"riemgrad's kernel cache: a stored derivation was unusable ({exc}); it was discarded and is "
                "rebuilt.",
                CacheRepairWarning,
                stacklevel=3,
            )
            discard_derivation(key)
            stored = None
    if stored is None:
        chosen, velocity, source = derive()
    module, path = load_source(source)
    if stored is None:
        store_derivation(
            key,
            {
                "strategy": chosen,
                "velocity": None if velocity is None else [sp.srepr(v) for v in velocity],
                "source": path.name,
            },
        )
    return chosen, velocity, source, module, Path(path)


#: The environment variable that turns the vectorizable elementary functions off (``0``, ``false``, ``off``).
VECTORIZED_MATH_ENV = "RIEMGRAD_VECTORIZED_MATH"


def vectorized_math_enabled(value: bool | None = None) -> bool:
    """Whether generated right-hand sides use the vectorizable ``exp``, ``log``, ``tanh`` (see :func:`compile_flow`).

    Parameters
    ----------
    value : bool or None
        An explicit choice, returned as is; None reads ``$RIEMGRAD_VECTORIZED_MATH``
        (on unless it is ``0``, ``false``, ``no`` or ``off``).

    Returns
    -------
    bool

    Raises
    ------
    SolverSettingsError
        If ``value`` is neither a bool nor None.

    Examples
    --------
    >>> vectorized_math_enabled(False)
    False
    >>> import os
    >>> setting = os.environ.get("RIEMGRAD_VECTORIZED_MATH", "1").lower()
    >>> vectorized_math_enabled() == (setting not in ("0", "false", "no", "off"))
    True
    """
    if value is None:
        return os.environ.get(VECTORIZED_MATH_ENV, "1").strip().lower() not in ("0", "false", "no", "off")
    if not isinstance(value, bool):
        raise SolverSettingsError(
            f"`vectorized_math` must be True, False or None (read ${VECTORIZED_MATH_ENV}); got {value!r}. Pass a bool."
        )
    return value


def require_metric(metric: Any) -> None:
    """Raise :class:`~riemgrad.errors.ChartMismatchError` unless ``metric`` is a :class:`~riemgrad.Metric`.

    Examples
    --------
    >>> require_metric("g")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    riemgrad.errors.ChartMismatchError: `metric` must be a riemgrad Metric; got str. Wrap the matrix: ...
    """
    if not isinstance(metric, Metric):
        raise ChartMismatchError(
            f"`metric` must be a riemgrad Metric; got {type(metric).__name__}. Wrap the matrix: Metric(chart, matrix)."
        )


def free_params(exprs: Sequence[sp.Expr], chart: Chart) -> set[sp.Symbol]:
    """The free symbols of ``exprs`` that are not coordinates of ``chart``."""
    free: set[sp.Symbol] = set()
    for e in exprs:
        free |= e.free_symbols
    return free - set(chart.coords)
