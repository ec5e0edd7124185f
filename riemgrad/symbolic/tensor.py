"""Tensors with tracked index positions, on a chart."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import sympy as sp

from ..errors import ArgumentTypeError, ChartMismatchError, IndexPositionError, ShapeError
from ._latex import indexed_symbol
from ._util import Frozen, as_expr, resolve_simplifier
from .charts import Chart, ChartMap, _check_same_chart

if TYPE_CHECKING:
    from .metric import Metric

__all__ = ["Tensor"]


def _check_indices(indices: Any) -> str:
    if not isinstance(indices, str) or any(ch not in "ul" for ch in indices):
        raise IndexPositionError(
            f"`indices` must be a string over 'u' (upper, contravariant) and 'l' (lower, covariant); "
            f"got {indices!r}. For the Christoffel symbols Gamma^k_ij write 'ull'."
        )
    return indices


def _elements(arr: sp.ImmutableDenseNDimArray) -> list[sp.Expr]:
    """The components of an array in row-major order (iteration yields rows for rank > 1)."""
    if arr.rank() == 0:
        return [arr[()]]
    return list(sp.flatten(arr.tolist())) if arr.rank() > 1 else list(arr)


def _sympify_leaves(obj: Any, symbols: Any = None) -> Any:
    if isinstance(obj, (list, tuple)):
        return [_sympify_leaves(o, symbols) for o in obj]
    if isinstance(obj, str):  # parsed, never run: ImmutableDenseNDimArray would sympify (evaluate) the string
        return as_expr(obj, "components", symbols)
    return obj


def _as_array(components: Any, dim: int, rank: int, symbols: Any = None) -> sp.ImmutableDenseNDimArray:
    if rank == 0:
        return sp.ImmutableDenseNDimArray([as_expr(components, "components", symbols)], ())
    if isinstance(components, sp.MatrixBase) and rank == 1:
        components = list(components)
    # strings are iterable: sympify leaves first, or SymPy's shape scan recurses forever
    components = _sympify_leaves(components, symbols)
    try:
        arr = sp.ImmutableDenseNDimArray(components)
    except (ValueError, TypeError, sp.SympifyError) as exc:
        raise ShapeError(f"`components` could not be read as an array: {exc}") from None
    want = (dim,) * rank
    if arr.shape != want:
        raise ShapeError(
            f"`components` must have shape {want} (rank {rank} from `indices`, dimension {dim} from the "
            f"chart); got {arr.shape}."
        )
    for e in _elements(arr):
        as_expr(e, "components")
    return arr


class Tensor(Frozen):
    r"""A tensor field on a chart, with its index positions.

    Parameters
    ----------
    chart : Chart
        The chart whose coordinates the components are written in.
    components : array_like
        Nested sequences, a SymPy Matrix or NDimArray of shape ``(dim,) * rank``.
        A rank-0 tensor (a scalar field) takes a single expression.
    indices : str
        One letter per index, read left to right: ``"u"`` upper
        (contravariant), ``"l"`` lower (covariant). ``"ull"`` is Gamma^k_ij with
        ``components[k, i, j]``.
    symbol : str, optional
        The LaTeX of the kernel letter shown in Jupyter, e.g. ``r"\Gamma"``;
        ``"T"`` when omitted. Display only (equality ignores it).
    name : str, optional
        A plain-text name, e.g. ``"Christoffel symbols"``. Display only.

    Raises
    ------
    IndexPositionError
        If ``indices`` has letters other than ``u`` and ``l``.
    ShapeError
        If ``components`` does not have shape ``(chart.dim,) * len(indices)``.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, Tensor
    >>> x, y = sp.symbols("x y", real=True)
    >>> v = Tensor(Chart("cartesian", (x, y)), [y, -x], "u")
    >>> v.components
    [y, -x]
    >>> v.rank, v.indices
    (1, 'u')
    >>> w = Tensor(Chart("cartesian", (x, y)), [[[0, x], [0, 0]], [[y, 0], [0, 0]]], "lul", symbol="S")
    >>> print(w._repr_latex_())
    $\displaystyle \begin{aligned} S_{x}{}^{x}{}_{y} &= x \\ S_{y}{}^{x}{}_{x} &= y \end{aligned}$
    """

    def __init__(
        self, chart: Chart, components: Any, indices: str, *, symbol: str = "T", name: str | None = None
    ) -> None:
        if not isinstance(chart, Chart):
            raise ChartMismatchError(f"`chart` must be a Chart; got {type(chart).__name__}.")
        indices = _check_indices(indices)
        arr = _as_array(components, chart.dim, len(indices), chart.coords)
        if not isinstance(symbol, str) or not symbol:
            raise ArgumentTypeError(f"`symbol` must be a non-empty LaTeX string such as r'\\Gamma'; got {symbol!r}.")
        self._set(chart=chart, indices=indices, components=arr, symbol=symbol, name=name)

    @classmethod
    def _trusted(
        cls, chart: Chart, arr: sp.ImmutableDenseNDimArray, indices: str, symbol: str = "T", name: str | None = None
    ) -> Tensor:
        """Build from an array the library made itself (right shape, SymPy entries): no re-validation."""
        t = object.__new__(Tensor)
        t._set(chart=chart, indices=indices, components=arr, symbol=symbol, name=name)
        return t

    # ------------------------------------------------------------------ basics
    @property
    def rank(self) -> int:
        """The number of indices."""
        return len(self.indices)

    @property
    def dim(self) -> int:
        """The dimension of the chart."""
        return self.chart.dim

    def __getitem__(self, idx: Any) -> Any:
        return self.components[idx]

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(chart={self.chart.name!r}, indices={self.indices!r}, components={self.components})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Tensor)
            and self.chart == other.chart
            and self.indices == other.indices
            and self.components == other.components
        )

    def __hash__(self) -> int:
        return hash((self.chart, self.indices, tuple(_elements(self.components))))

    def _new(self, components: Any, indices: str | None = None, chart: Chart | None = None) -> Tensor:
        """A tensor like this one (same symbol and name) with new components, indices or chart."""
        return Tensor(
            chart or self.chart,
            components,
            self.indices if indices is None else indices,
            symbol=self.symbol,
            name=self.name,
        )

    def _map(self, fn: Callable[[sp.Expr], sp.Expr]) -> sp.ImmutableDenseNDimArray:
        if self.rank == 0:
            return sp.ImmutableDenseNDimArray([fn(self.components[()])], ())
        return sp.ImmutableDenseNDimArray([fn(e) for e in _elements(self.components)], self.components.shape)

    def subs(self, *args: Any, **kwargs: Any) -> Tensor:
        """Substitute in every component (arguments as for ``sympy.Expr.subs``).

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Tensor
        >>> x, y = sp.symbols("x y")
        >>> Tensor(Chart("c", (x, y)), [x * y, y], "l").subs(x, 2).components
        [2*y, y]
        """
        return self._new(self._map(lambda e: e.subs(*args, **kwargs)))

    def simplify(self, simplifier: Any = "auto") -> Tensor:
        """Apply a simplifier to every component (default: the targeted one).

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Tensor
        >>> x = sp.Symbol("x")
        >>> Tensor(Chart("c", (x,)), [(x**2 - 1) / (x - 1)], "u").simplify().components
        [x + 1]
        """
        fn = resolve_simplifier(simplifier)
        return self._new(self._map(fn))

    def equals(self, other: Tensor) -> bool:
        """True if ``other`` has the same chart and index positions and equal components.

        Components are compared after the default simplifier brings their
        difference to lowest terms, so different forms of one expression are
        equal.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Tensor
        >>> t = sp.Symbol("t")
        >>> c = Chart("c", (t,))
        >>> Tensor(c, [sp.sin(t)**2], "l").equals(Tensor(c, [1 - sp.cos(t)**2], "l"))
        True
        """
        from ._util import simplify_expr

        if not isinstance(other, Tensor) or self.chart != other.chart or self.indices != other.indices:
            return False
        return all(simplify_expr(a - b) == 0 for a, b in zip(_elements(self.components), _elements(other.components)))

    # ------------------------------------------------------------ index moves
    def _check_pos(self, pos: int, want: str, verb: str) -> int:
        if not isinstance(pos, int) or not -self.rank <= pos < self.rank:
            raise IndexPositionError(
                f"`pos` must be an index position 0..{self.rank - 1} of a tensor with indices "
                f"{self.indices!r}; got {pos!r}."
            )
        pos %= self.rank
        if self.indices[pos] != want:
            where = "up" if self.indices[pos] == "u" else "down"
            raise IndexPositionError(
                f"cannot {verb} index {pos} of a tensor with indices {self.indices!r}: it is already "
                f"{where}. Pick a position whose letter is {want!r}."
            )
        return pos

    def _apply_matrix(self, pos: int, M: sp.MatrixBase, simplifier: Callable) -> sp.ImmutableDenseNDimArray:
        n = self.dim
        shape = self.components.shape
        out = []
        for idx in itertools.product(range(n), repeat=self.rank):
            a = idx[pos]
            acc = sp.S.Zero
            for b in range(n):
                m = M[a, b]
                if m == 0:
                    continue
                j = idx[:pos] + (b,) + idx[pos + 1 :]
                c = self.components[j]
                if c != 0:
                    acc += m * c
            out.append(simplifier(acc))
        return sp.ImmutableDenseNDimArray(out, shape)

    def raise_index(self, pos: int, metric: Metric) -> Tensor:
        """Raise the lower index at ``pos`` with the inverse metric: T^a = g^ab T_b.

        Parameters
        ----------
        pos : int
            The position of an ``"l"`` index.
        metric : Metric
            A metric on the same chart.

        Raises
        ------
        IndexPositionError
            If the index at ``pos`` is already upper.
        ChartMismatchError
            If ``metric`` lives on another chart.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric, Tensor
        >>> r, phi = sp.symbols("r phi", positive=True)
        >>> polar = Chart("polar", (r, phi))
        >>> g = Metric(polar, sp.diag(1, r**2))
        >>> Tensor(polar, [0, 1], "l").raise_index(0, g).components
        [0, r**(-2)]
        """
        pos = self._check_pos(pos, "l", "raise")
        _check_same_chart(self.chart, metric.chart, "metric")
        arr = self._apply_matrix(pos, metric.inverse_matrix, metric.simplifier)
        return self._new(arr, self.indices[:pos] + "u" + self.indices[pos + 1 :])

    def lower_index(self, pos: int, metric: Metric) -> Tensor:
        """Lower the upper index at ``pos`` with the metric: T_a = g_ab T^b.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Metric, Tensor
        >>> r, phi = sp.symbols("r phi", positive=True)
        >>> polar = Chart("polar", (r, phi))
        >>> g = Metric(polar, sp.diag(1, r**2))
        >>> Tensor(polar, [0, 1], "u").lower_index(0, g).components
        [0, r**2]
        """
        pos = self._check_pos(pos, "u", "lower")
        _check_same_chart(self.chart, metric.chart, "metric")
        arr = self._apply_matrix(pos, metric.matrix, metric.simplifier)
        return self._new(arr, self.indices[:pos] + "l" + self.indices[pos + 1 :])

    def contract(self, i: int, j: int) -> Tensor:
        """Contract an upper index with a lower index (a trace over the pair).

        Raises
        ------
        IndexPositionError
            If ``i`` and ``j`` are not one upper and one lower index.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, Tensor
        >>> x, y = sp.symbols("x y")
        >>> Tensor(Chart("c", (x, y)), [[x, 1], [2, y]], "ul").contract(0, 1).components
        x + y
        """
        r = self.rank
        if not all(isinstance(k, int) and -r <= k < r for k in (i, j)):
            raise IndexPositionError(f"`i`, `j` must be index positions 0..{r - 1}; got {i!r}, {j!r}.")
        i, j = i % r, j % r
        if i == j or {self.indices[i], self.indices[j]} != {"u", "l"}:
            raise IndexPositionError(
                f"can only contract one upper with one lower index; positions {i} and {j} of "
                f"{self.indices!r} are {self.indices[i]!r} and {self.indices[j]!r}. Raise or lower one first."
            )
        keep = [k for k in range(r) if k not in (i, j)]
        new_idx = "".join(self.indices[k] for k in keep)
        n = self.dim
        out = []
        for idx in itertools.product(range(n), repeat=len(keep)):
            acc = sp.S.Zero
            for a in range(n):
                full = [0] * r
                for k, v in zip(keep, idx):
                    full[k] = v
                full[i] = full[j] = a
                acc += self.components[tuple(full)]
            out.append(acc)
        if not keep:
            return Tensor(self.chart, out[0], "")
        return Tensor(self.chart, sp.ImmutableDenseNDimArray(out, (n,) * len(keep)), new_idx)

    # ------------------------------------------------------ change of chart
    def pullback(self, chart_map: ChartMap, simplifier: Any = "auto") -> Tensor:
        """The same tensor written in ``chart_map.source``, by the transformation law.

        The tensor must live on ``chart_map.target``. Lower indices transform
        with ``J = d target / d source``, upper indices with ``J^{-1}``; the
        components are evaluated at ``target = forward(source)``. Tensors with
        upper indices need a square, invertible Jacobian.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, ChartMap, Tensor
        >>> r, phi = sp.symbols("r phi", positive=True)
        >>> x, y = sp.symbols("x y", real=True)
        >>> m = ChartMap(Chart("polar", (r, phi)), Chart("cartesian", (x, y)), (r*sp.cos(phi), r*sp.sin(phi)))
        >>> Tensor(m.target, [1, 0], "l").pullback(m).components   # dx in polar coordinates
        [cos(phi), -r*sin(phi)]
        """
        if not isinstance(chart_map, ChartMap):
            raise ChartMismatchError(f"`chart_map` must be a ChartMap; got {type(chart_map).__name__}.")
        _check_same_chart(chart_map.target, self.chart, "tensor (its chart must be chart_map.target)")
        simp = resolve_simplifier(simplifier)
        J = chart_map.jacobian()
        Jinv = None
        if "u" in self.indices:
            if J.shape[0] != J.shape[1]:
                raise ShapeError(
                    f"a tensor with upper indices {self.indices!r} cannot be pulled back along "
                    f"{chart_map.source.name!r} -> {chart_map.target.name!r}, which changes dimension."
                )
            Jinv = sp.ImmutableMatrix(J.inv().applyfunc(simp))
        sub = dict(zip(chart_map.target.coords, chart_map.forward))
        if self.rank == 0:
            return self._new(simp(self.components[()].xreplace(sub)), chart=chart_map.source)
        # substitute simultaneously (charts may share symbols)
        comps = self.components.applyfunc(lambda e: e.xreplace(sub))
        m, n = chart_map.source.dim, chart_map.target.dim
        out = []
        for idx in itertools.product(range(m), repeat=self.rank):
            acc = sp.S.Zero
            for jdx in itertools.product(range(n), repeat=self.rank):
                c = comps[jdx]
                if c == 0:
                    continue
                f = sp.S.One
                for k, (a, b) in enumerate(zip(idx, jdx)):
                    f = f * (J[b, a] if self.indices[k] == "l" else Jinv[a, b])
                    if f == 0:
                        break
                acc += f * c
            out.append(simp(acc))
        return self._new(sp.ImmutableDenseNDimArray(out, (m,) * self.rank), chart=chart_map.source)

    def in_chart(self, chart_map: ChartMap, simplifier: Any = "auto") -> Tensor:
        """The same tensor written in ``chart_map.target`` (the tensor lives on its source).

        Equivalent to ``self.pullback(chart_map.inverse())``.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, ChartMap, Tensor
        >>> s, v = sp.symbols("sigma variance", positive=True)
        >>> m = ChartMap(Chart("sigma", (s,)), Chart("variance", (v,)), (s**2,))
        >>> Tensor(m.source, [1], "u").in_chart(m).components   # d/dsigma = 2 sigma d/dv
        [2*sqrt(variance)]
        """
        if not isinstance(chart_map, ChartMap):
            raise ChartMismatchError(f"`chart_map` must be a ChartMap; got {type(chart_map).__name__}.")
        _check_same_chart(chart_map.source, self.chart, "tensor (its chart must be chart_map.source)")
        return self.pullback(chart_map.inverse(), simplifier=simplifier)

    # -------------------------------------------------------------- display
    def _latex_rows(self) -> list[str]:
        """One ``symbol^{..}{}_{..} &= value`` row per nonzero component (each row mathtext-valid without ``&``)."""
        names = [self.chart.latex_names[c] for c in self.chart.coords]
        if self.rank == 0:
            return [f"{self.symbol} &= {self.chart.latex(self.components[()])}"]
        rows = []
        for idx in itertools.product(range(self.dim), repeat=self.rank):
            c = self.components[idx]
            if c == 0:
                continue
            head = indexed_symbol(self.symbol, self.indices, [names[i] for i in idx])
            rows.append(f"{head} &= {self.chart.latex(c)}")
        return rows or [f"{self.symbol} &= 0"]

    def _repr_latex_(self) -> str:
        """The nonzero components, one per line, indices in their order (``"lul"`` is not ``"ull"``)."""
        if self.rank == 0:
            return "$\\displaystyle " + self._latex_rows()[0].replace(" &=", " =") + "$"
        return "$\\displaystyle \\begin{aligned} " + r" \\ ".join(self._latex_rows()) + " \\end{aligned}$"

    @cached_property
    def free_symbols(self) -> set[sp.Symbol]:
        """All free symbols in the components."""
        return set().union(*(e.free_symbols for e in _elements(self.components)))
