"""Metrics over data that keep the per-example formula: g = E_data[per-example matrix].

The per-example matrix is symbolic (in the chart's coordinates and the data
symbols); the average over the rows is numeric, in compiled code
(:func:`riemgrad.kernels.data_kernels.compile_data_flow`). Nothing here
substitutes rows, so sizes and derivation times do not depend on ``n``.

Two shapes of per-example matrix are kept:

- ``"outer"``: sum_a w_a u_a u_a^T (function space, Gauss-Newton, the true and
  the empirical Fisher); kernels can then also build a QR factor of the stacked
  rows sqrt(w_a / n) u_a instead of forming the Gram matrix;
- ``"matrix"``: a general symmetric d x d matrix (the Hessian of a loss).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sympy as sp

from ..data import Dataset
from ..errors import ArgumentTypeError, ChartMismatchError, CoordinateError, ShapeError
from ._util import Frozen, as_expr
from .charts import Chart
from .conditional import ConditionalFamily
from .metric import Metric

__all__ = [
    "DataMetric",
    "data_function_space_metric",
    "data_gauss_newton_metric",
    "data_hessian_metric",
    "conditional_fisher_metric",
    "empirical_fisher_metric",
]


def _exprs(value: Any, name: str) -> tuple[sp.Expr, ...]:
    if isinstance(value, (sp.MatrixBase, sp.NDimArray)):
        value = list(value)
    if isinstance(value, (str, sp.Basic)) or not isinstance(value, Sequence):
        value = [value]
    out = tuple(as_expr(v, name) for v in value)
    if not out:
        raise ShapeError(f"`{name}` must hold at least one expression; got an empty sequence.")
    return out


def _check(
    chart: Any, data: Any, exprs: Sequence[sp.Expr], name: str = "data"
) -> tuple[Chart, Dataset, tuple[sp.Symbol, ...]]:
    if not isinstance(chart, Chart):
        raise ChartMismatchError(f"`chart` must be a Chart; got {type(chart).__name__}.")
    if not isinstance(data, Dataset):
        raise ArgumentTypeError(
            f"`{name}` must be a riemgrad.data.Dataset binding the data symbols to columns; got "
            f"{type(data).__name__}. Build one with Dataset({{x: xs, y: ys}})."
        )
    data.check_coordinates(chart.coords, name)
    free: set[sp.Symbol] = set()
    for e in exprs:
        free |= e.free_symbols
    need = tuple(sorted(free - set(chart.coords), key=lambda s: s.name))
    data.require(need, name)
    order = tuple(s for s in data.symbols if s in set(need))
    return chart, data, order


class DataMetric(Frozen):
    """A metric over a data set: g_ij(theta) = E_data[m_ij(theta; x, y)], the per-example formula kept.

    Made by the data-aware metric functions (``function_space_metric(...,
    measure=Dataset)``, ``gauss_newton_metric(..., data=)``,
    ``hessian_metric(..., data=)``, ``fisher_metric(ConditionalFamily,
    data=)``, :func:`empirical_fisher_metric`); not usually built directly.

    Attributes
    ----------
    chart : Chart
    data : Dataset
        The data the expectation runs over (swap with :meth:`with_data`).
    kind : {"outer", "matrix"}
        How the per-example matrix is held (see the module docstring).
    factors : tuple of (weight, tuple of d exprs)
        For ``"outer"``: m = sum_a w_a u_a u_a^T. Empty for ``"matrix"``.
    per_example : sympy.ImmutableMatrix, shape (d, d)
        The per-example matrix m(theta; x, y) (formed on first access).
    data_symbols : tuple of sympy.Symbol
        The data symbols the per-example matrix uses, in the data set's order.
    name : str
        What the metric is ("function-space", "Gauss-Newton", "Hessian", "Fisher", "empirical Fisher").
    formula : str
        LaTeX of the summand with indices i, j (e.g. ``\\partial_i f \\, \\partial_j f``).
    definitions : dict
        LaTeX name -> SymPy expression of the quantities in :attr:`formula`.

    Examples
    --------
    >>> import numpy as np, sympy as sp
    >>> from riemgrad import Chart, function_space_metric
    >>> from riemgrad.data import Dataset
    >>> a, b, x = sp.symbols("a b x", real=True)
    >>> g = function_space_metric(a + b * x, Chart("ab", (a, b)), x, measure=Dataset({x: [0.0, 1.0, 2.0]}))
    >>> g
    DataMetric(function-space, chart='ab', n=3, columns: x (3,))
    >>> g.per_example
    Matrix([
    [1,    x],
    [x, x**2]])
    >>> g.to_metric().matrix
    Matrix([
    [1,   1],
    [1, 5/3]])
    """

    def __init__(
        self,
        chart: Chart,
        data: Dataset,
        *,
        kind: str,
        factors: tuple = (),
        matrix: Any = None,
        data_symbols: tuple[sp.Symbol, ...],
        name: str,
        formula: str,
        definitions: dict | None = None,
    ) -> None:
        if kind not in ("outer", "matrix"):
            raise ArgumentTypeError(f"`kind` must be 'outer' or 'matrix'; got {kind!r}.")
        factors = tuple((as_expr(w, "weight"), tuple(u)) for w, u in factors)
        if kind == "outer" and any(len(u) != chart.dim for _, u in factors):
            raise ShapeError(f"every factor must have {chart.dim} entries, one per coordinate.")
        self._set(
            chart=chart,
            data=data,
            kind=kind,
            factors=factors,
            _matrix=None if matrix is None else sp.ImmutableMatrix(matrix),
            data_symbols=tuple(data_symbols),
            name=name,
            formula=formula,
            definitions=dict(definitions or {}),
            _cache={},
        )

    @property
    def dim(self) -> int:
        """The number of coordinates."""
        return self.chart.dim

    @property
    def per_example(self) -> sp.ImmutableMatrix:
        """The per-example matrix m(theta; data symbols), shape (d, d)."""
        if self._matrix is not None:
            return self._matrix
        got = self._cache.get("m")
        if got is None:
            d = self.dim
            M = sp.zeros(d, d)
            for i in range(d):
                for j in range(i, d):
                    M[i, j] = M[j, i] = sp.Add(*[w * u[i] * u[j] for w, u in self.factors])
            got = self._cache["m"] = sp.ImmutableMatrix(M)
        return got

    def per_example_exprs(self) -> list[sp.Expr]:
        """The expressions a kernel evaluates per row: weights and factors ("outer") or the matrix entries."""
        if self.kind == "outer":
            return [e for w, u in self.factors for e in (w, *u)]
        return list(self.per_example)

    def with_data(self, data: Dataset) -> DataMetric:
        """The same per-example metric over another data set (checked for the needed columns)."""
        if not isinstance(data, Dataset):
            raise ArgumentTypeError(f"`data` must be a Dataset; got {type(data).__name__}.")
        data.check_coordinates(self.chart.coords)
        data.require(self.data_symbols)
        new = object.__new__(DataMetric)
        new._set(**{**self.__dict__, "data": data, "_cache": self._cache})
        return new

    def to_metric(self, *, max_rows: int = 200) -> Metric:
        """The exact symbolic Metric: the per-example matrix averaged over the rows in exact arithmetic.

        Only for small data sets (floats are read through their shortest repr, 0.1 -> 1/10); the
        expression grows with ``n`` and transcendental models may be slow to check.

        Raises
        ------
        ShapeError
            If the data set has more than ``max_rows`` rows.
        """
        if self.data.n > max_rows:
            raise ShapeError(
                f"`max_rows` is {max_rows} but the data set has {self.data.n} rows; the exact metric grows with n. "
                "Evaluate numerically (compile_data_flow(...).metric(x)) or raise `max_rows`."
            )
        M = self.per_example
        rows = self.data.exact_rows(self.data_symbols)
        d = self.dim
        G = sp.zeros(d, d)
        for i in range(d):
            for j in range(i, d):
                G[i, j] = G[j, i] = sp.Add(*[M[i, j].subs(r) for r in rows]) / len(rows)
        return Metric(self.chart, G)

    def evaluate(self, x: Any, data: Dataset | None = None) -> Any:
        """The numeric metric at points, averaged over the rows in compiled code.

        Parameters
        ----------
        x : array_like, shape (dim,) or (batch, dim)
        data : Dataset, optional
            Other data with the same columns (the compiled kernel is reused).

        Returns
        -------
        numpy.ndarray, shape (dim, dim) or (batch, dim, dim)
        """
        from ..kernels.data_kernels import metric_field  # the numeric layer, loaded on demand

        return metric_field(self).metric(x, data=data)

    def __repr__(self) -> str:
        return f"DataMetric({self.name}, chart={self.chart.name!r}, {self.data.describe()})"

    def _repr_latex_(self) -> str:
        defs = "".join(
            r",\quad " + k + " = " + sp.latex(v) for k, v in self.definitions.items() if sp.count_ops(v) < 60
        )
        cols = r",\ ".join(sp.latex(s) for s in self.data.symbols)
        return (
            r"$\displaystyle g_{ij} = \mathbb{E}_{\mathrm{data}}\left[" + self.formula + r"\right]" + defs
            + r",\qquad \text{data: } n = " + str(self.data.n) + r",\ (" + cols + ")$"
        )


def _grad(e: sp.Expr, chart: Chart) -> tuple[sp.Expr, ...]:
    return tuple(sp.diff(e, c) for c in chart.coords)


def data_function_space_metric(model: Any, chart: Chart, inputs: Any, data: Dataset) -> DataMetric:
    """E_data[J_f^T J_f]: the function-space metric of a model over the inputs of a data set.

    Parameters
    ----------
    model : sympy expression, or sequence of them (vector output)
        f(x; theta), per example.
    chart : Chart
    inputs : Symbol or sequence of Symbols
        The model's inputs; each must be a column of ``data``.
    data : Dataset

    Returns
    -------
    DataMetric
        kind "outer", one factor (w = 1, u = grad f_k) per output.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart
    >>> from riemgrad.data import Dataset
    >>> a, b, x = sp.symbols("a b x", real=True)
    >>> g = data_function_space_metric(a * x + b, Chart("ab", (a, b)), x, Dataset({x: [1.0, 3.0]}))
    >>> g.evaluate([0.0, 0.0]).tolist()
    [[5.0, 2.0], [2.0, 1.0]]
    """
    fs = _exprs(model, "model")
    ins = (inputs,) if isinstance(inputs, sp.Symbol) else tuple(inputs)
    if not ins or not all(isinstance(v, sp.Symbol) for v in ins):
        raise CoordinateError(f"`inputs` must be a Symbol or a sequence of Symbols; got {inputs!r}.")
    chart, data, syms = _check(chart, data, fs, "measure")
    data.require(ins, "measure")
    extra = [s for s in syms if s not in ins]
    if extra:
        raise CoordinateError(
            f"`model` uses {', '.join(map(str, extra))}, which are neither coordinates nor `inputs`; "
            "list every input symbol in `inputs`."
        )
    f = sp.Symbol("f")
    return DataMetric(
        chart, data, kind="outer", factors=[(sp.S.One, _grad(e, chart)) for e in fs], data_symbols=syms,
        name="function-space", formula=r"\partial_i f\,\partial_j f",
        definitions={sp.latex(f): fs[0] if len(fs) == 1 else sp.Matrix(fs)},
    )


def data_gauss_newton_metric(residual: Any, chart: Chart, data: Dataset) -> DataMetric:
    """E_data[J_r^T J_r]: the Gauss-Newton metric of the loss E_data[r^2 / 2] (r per example).

    Parameters
    ----------
    residual : sympy expression, or sequence of them (several residuals per example)
    chart : Chart
    data : Dataset

    Returns
    -------
    DataMetric
        kind "outer"; the Hessian of E[r^2/2] minus E[r d^2 r].

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart
    >>> from riemgrad.data import Dataset
    >>> a, x, y = sp.symbols("a x y", real=True)
    >>> g = data_gauss_newton_metric(sp.exp(a * x) - y, Chart("a", (a,)), Dataset({x: [0.0, 1.0], y: [1.0, 2.0]}))
    >>> g.evaluate([0.0]).tolist()
    [[0.5]]
    """
    rs = _exprs(residual, "residual")
    chart, data, syms = _check(chart, data, rs)
    return DataMetric(
        chart, data, kind="outer", factors=[(sp.S.One, _grad(r, chart)) for r in rs], data_symbols=syms,
        name="Gauss-Newton", formula=r"\partial_i r\,\partial_j r",
        definitions={"r": rs[0] if len(rs) == 1 else sp.Matrix(rs)},
    )


def data_hessian_metric(loss: Any, chart: Chart, data: Dataset) -> DataMetric:
    """E_data[d_i d_j l]: the Hessian of the per-example loss l averaged over the data (Newton).

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart
    >>> from riemgrad.data import Dataset
    >>> a, x = sp.symbols("a x", real=True)
    >>> g = data_hessian_metric((a * x - 1) ** 2 / 2, Chart("a", (a,)), Dataset({x: [1.0, 2.0]}))
    >>> g.evaluate([3.0]).tolist()
    [[2.5]]
    """
    (l,) = _exprs(loss, "loss")
    chart, data, syms = _check(chart, data, [l])
    d = chart.dim
    g = _grad(l, chart)
    H = sp.ImmutableMatrix(d, d, lambda i, j: sp.diff(g[max(i, j)], chart.coords[min(i, j)]))
    return DataMetric(
        chart, data, kind="matrix", matrix=H, data_symbols=syms, name="Hessian",
        formula=r"\partial_i \partial_j \ell", definitions={r"\ell": l},
    )


def conditional_fisher_metric(family: ConditionalFamily, data: Dataset) -> DataMetric:
    """The true Fisher E_x E_{y ~ p(y|x; theta)}[s s^T] over the inputs of a data set, analytic in y.

    Labels in ``data`` are not needed; when present they are checked against
    the family's support.

    Raises
    ------
    DataError
        If the data hold labels outside the family's support.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart
    >>> from riemgrad.data import Dataset
    >>> from riemgrad.symbolic.conditional import ConditionalFamily
    >>> w, x, y = sp.symbols("w x y", real=True)
    >>> fam = ConditionalFamily("bernoulli", Chart("w", (w,)), w * x, y)
    >>> conditional_fisher_metric(fam, Dataset({x: [1.0, 2.0]})).evaluate([0.0]).tolist()
    [[0.625]]
    """
    if not isinstance(family, ConditionalFamily):
        raise ArgumentTypeError(f"`family` must be a ConditionalFamily; got {type(family).__name__}.")
    exprs = [w * u_i for w, u in family.fisher_factors for u_i in u]
    chart, data, syms = _check(family.chart, data, exprs)
    _check_labels(family, data)
    return DataMetric(
        chart, data, kind="outer", factors=family.fisher_factors, data_symbols=syms, name="Fisher",
        formula=r"\mathbb{E}_{y \sim p(y \mid x;\theta)}\left[\partial_i \log p\,\partial_j \log p\right]",
        definitions={r"-\log p": family.nll},
    )


def _check_labels(family: ConditionalFamily, data: Dataset) -> None:
    if all(s in data.symbols for s in family.labels):
        family.check_labels(data.matrix(family.labels))


def empirical_fisher_metric(loss: Any, chart: Chart | None = None, data: Dataset | None = None) -> DataMetric:
    """The empirical Fisher E_data[d_i l d_j l] of a per-example loss (or a family's NLL at the data's labels).

    Parameters
    ----------
    loss : sympy expression or ConditionalFamily
        The per-example loss l (for a family: its negative log-likelihood,
        the labels checked against its support).
    chart : Chart, optional
        Required for an expression; a family brings its own.
    data : Dataset

    Returns
    -------
    DataMetric
        kind "outer" with u = grad l. Not the Fisher in general: it uses the
        observed labels instead of an expectation over the model's.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart
    >>> from riemgrad.data import Dataset
    >>> a, y = sp.symbols("a y", real=True)
    >>> g = empirical_fisher_metric((a - y) ** 2 / 2, Chart("a", (a,)), data=Dataset({y: [1.0, 3.0]}))
    >>> g.evaluate([0.0]).tolist()
    [[5.0]]
    """
    if isinstance(loss, ConditionalFamily):
        fam = loss
        chart = fam.chart
        l = fam.nll
        if isinstance(data, Dataset):
            data.require(fam.labels)
    else:
        fam = None
        (l,) = _exprs(loss, "loss")
    chart, data, syms = _check(chart, data, [l])
    if fam is not None:
        _check_labels(fam, data)
    return DataMetric(
        chart, data, kind="outer", factors=[(sp.S.One, _grad(l, chart))], data_symbols=syms,
        name="empirical Fisher", formula=r"\partial_i \ell\,\partial_j \ell", definitions={r"\ell": l},
    )
