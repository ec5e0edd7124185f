"""Manifolds, charts and the maps between them.

A :class:`Chart` names an ordered tuple of SymPy symbols. Its domain comes from
the symbols' assumptions: ``Symbol("sigma", positive=True)`` is a chart on
``sigma > 0``. A :class:`ChartMap` gives the target chart's coordinates as
expressions in the source chart's coordinates; coordinates are matched by
position, never by name, so two charts may share a symbol (``mu`` in both
``(mu, sigma)`` and ``(mu, tau)``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import sympy as sp

from ..errors import ChartMismatchError, CoordinateError, InverseMapError, ShapeError
from ._latex import chart_latex, chart_map_latex, coordinate_latex, expr_latex
from ._util import Frozen, as_expr, simplify_expr, sympify_safe

__all__ = ["Manifold", "Chart", "ChartMap"]


class Manifold(Frozen):
    """A named smooth manifold of a fixed dimension.

    Parameters
    ----------
    name : str
        A label, used in printing only.
    dim : int
        The dimension, a positive integer.

    Examples
    --------
    >>> from riemgrad import Manifold
    >>> M = Manifold("gaussians", 2)
    >>> M.dim
    2
    """

    def __init__(self, name: str, dim: int) -> None:
        if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or dim < 1:
            raise ShapeError(
                f"`dim` must be a positive integer; got {dim!r}. "
                "Pass the number of coordinates, e.g. Manifold('plane', 2)."
            )
        self._set(name=str(name), dim=int(dim))

    def __repr__(self) -> str:
        return f"Manifold({self.name!r}, {self.dim})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Manifold) and (self.name, self.dim) == (other.name, other.dim)

    def __hash__(self) -> int:
        return hash(("Manifold", self.name, self.dim))


class Chart(Frozen):
    r"""A coordinate chart: an ordered tuple of distinct SymPy symbols.

    Parameters
    ----------
    name : str
        The chart's name, e.g. ``"log_sigma"``.
    coords : sequence of sympy.Symbol
        The coordinates in order. Their assumptions give the chart's domain:
        ``positive=True`` means the coordinate must stay ``> 0``.
    manifold : Manifold, optional
        The manifold this chart covers (part of). A fresh one of the right
        dimension is made when omitted.
    latex : mapping, optional
        LaTeX for some coordinates, ``{symbol or name: latex}``, e.g.
        ``{sigma: r"\varsigma"}`` (the same form as SymPy's ``symbol_names``).
        The others follow the scheme of
        :func:`riemgrad.symbolic._latex.coordinate_latex`: ``log_sigma`` ->
        ``\log\sigma``, ``theta1`` -> ``\theta_{1}``, ``sigma_sq`` -> ``\sigma^{2}``.
        Display only: two charts that differ only in ``latex`` are equal.

    Raises
    ------
    CoordinateError
        If ``coords`` is empty, holds something other than a Symbol, or repeats
        a symbol, or ``latex`` names something that is not a coordinate.
    ShapeError
        If ``manifold`` has another dimension than ``len(coords)``.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart
    >>> mu = sp.Symbol("mu", real=True)
    >>> sigma = sp.Symbol("sigma", positive=True)
    >>> chart = Chart("sigma", (mu, sigma))
    >>> chart.coords, chart.dim
    ((mu, sigma), 2)
    >>> chart.domain
    {mu: 'real', sigma: 'positive'}
    >>> print(chart.latex_names[sigma], Chart("log_sigma", (mu, sp.Symbol("log_sigma"))).latex_names)
    \sigma {mu: '\\mu', log_sigma: '\\log\\sigma'}
    >>> print(Chart("s", (mu, sigma), latex={"sigma": r"\varsigma"})._repr_latex_())
    $\mathrm{s}:\ (\mu,\, \varsigma) \in \mathbb{R} \times (0, \infty)$
    """

    def __init__(
        self,
        name: str,
        coords: Sequence[sp.Symbol],
        manifold: Manifold | None = None,
        *,
        latex: Mapping[Any, str] | None = None,
    ) -> None:
        if isinstance(coords, sp.Symbol):
            coords = (coords,)
        try:
            coords = tuple(coords)
        except TypeError:
            raise CoordinateError(
                f"`coords` must be a sequence of SymPy Symbols; got {coords!r}. "
                "Write e.g. Chart('polar', sp.symbols('r phi'))."
            ) from None
        if not coords:
            raise CoordinateError("`coords` must hold at least one SymPy Symbol; got an empty sequence.")
        for c in coords:
            if not isinstance(c, sp.Symbol):
                raise CoordinateError(
                    f"`coords` must hold SymPy Symbols; got {c!r} of type {type(c).__name__}. "
                    f"Make it a symbol, e.g. sp.Symbol({str(c)!r})."
                )
        if len(set(coords)) != len(coords):
            dup = [c for c in coords if coords.count(c) > 1]
            raise CoordinateError(
                f"`coords` must be distinct; {dup[0]} appears {coords.count(dup[0])} times in {coords}. "
                "Give each coordinate its own symbol."
            )
        if manifold is None:
            manifold = Manifold(str(name), len(coords))
        elif manifold.dim != len(coords):
            raise ShapeError(
                f"`manifold` has dimension {manifold.dim} but `coords` has {len(coords)} symbols "
                f"{coords}; a chart needs exactly one coordinate per dimension."
            )
        names = {c: coordinate_latex(c.name) for c in coords}
        for key, tex in (latex or {}).items():
            match = [c for c in coords if key == c or key == c.name]
            if not match or not isinstance(tex, str):
                raise CoordinateError(
                    f"`latex` must map coordinates of chart {name!r} ({[c.name for c in coords]}) to LaTeX "
                    f"strings; got {key!r}: {tex!r}. Write e.g. latex={{{coords[0].name!r}: r'\\alpha'}}."
                )
            names[match[0]] = tex
        self._set(name=str(name), coords=coords, manifold=manifold, latex_names=names)

    def latex(self, expr: Any) -> str:
        r"""LaTeX of an expression in this chart's coordinates, with their display names.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart
        >>> t = sp.Symbol("log_sigma", real=True)
        >>> print(Chart("log_sigma", (t,)).latex(sp.exp(2 * t)))
        e^{2 \log\sigma}
        """
        return expr_latex(expr, self.latex_names)

    def _repr_latex_(self) -> str:
        return "$" + chart_latex(self) + "$"

    @property
    def dim(self) -> int:
        """The number of coordinates."""
        return len(self.coords)

    @property
    def domain(self) -> dict[sp.Symbol, str]:
        """The domain of each coordinate, read from its assumptions.

        Returns
        -------
        dict
            ``{coordinate: kind}`` with kind one of ``"positive"``,
            ``"negative"``, ``"real"`` or ``"complex"``.
        """
        out = {}
        for c in self.coords:
            if c.is_positive:
                out[c] = "positive"
            elif c.is_negative:
                out[c] = "negative"
            elif c.is_real:
                out[c] = "real"
            else:
                out[c] = "complex"
        return out

    def in_domain(self, points: Any) -> np.ndarray:
        """Whether numeric points lie in the chart's domain.

        Parameters
        ----------
        points : array_like, shape (..., dim)
            Coordinates in this chart's order.

        Returns
        -------
        numpy.ndarray of bool, shape (...)
            True where every coordinate is finite and meets its sign
            assumption (``positive=True`` requires ``> 0``).

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart
        >>> chart = Chart("sigma", (sp.Symbol("mu", real=True), sp.Symbol("sigma", positive=True)))
        >>> chart.in_domain([[0.0, 1.0], [0.0, -1.0]]).tolist()
        [True, False]
        """
        x = np.asarray(points, dtype=float)
        if x.shape[-1:] != (self.dim,):
            raise ShapeError(f"`points` must have shape (..., {self.dim}) for chart {self.name!r}; got {x.shape}.")
        ok = np.all(np.isfinite(x), axis=-1)
        for i, kind in enumerate(self.domain.values()):
            if kind == "positive":
                ok &= x[..., i] > 0
            elif kind == "negative":
                ok &= x[..., i] < 0
        return ok

    def index(self, coord: sp.Symbol | str | int) -> int:
        """The position of a coordinate, given as a Symbol, its name or an int.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart
        >>> Chart("polar", sp.symbols("r phi")).index("phi")
        1
        """
        if isinstance(coord, (int, np.integer)) and not isinstance(coord, bool):
            if 0 <= coord < self.dim:
                return int(coord)
        for i, c in enumerate(self.coords):
            if coord == c or coord == c.name:
                return i
        raise CoordinateError(
            f"`coord` {coord!r} is not a coordinate of chart {self.name!r}; "
            f"expected one of {[c.name for c in self.coords]} or a position 0..{self.dim - 1}."
        )

    def __repr__(self) -> str:
        return f"Chart({self.name!r}, {self.coords})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Chart) and (self.name, self.coords) == (other.name, other.coords)

    def __hash__(self) -> int:
        return hash(("Chart", self.name, self.coords))


def _check_same_chart(expected: Chart, got: Chart, what: str) -> None:
    if expected != got:
        raise ChartMismatchError(
            f"`{what}` lives on chart {got.name!r} {got.coords} but chart {expected.name!r} "
            f"{expected.coords} was expected. Map it first (e.g. with .pullback(chart_map))."
        )


class ChartMap(Frozen):
    """A smooth map between charts, given by the target's coordinates in the source's.

    Parameters
    ----------
    source, target : Chart
        The charts the map goes from and to. ``target`` may have a higher
        dimension (an embedding, such as the sphere into R^3).
    forward : sequence of sympy expressions, length ``target.dim``
        ``forward[i]`` is the i-th target coordinate written in the source
        coordinates. Symbols that belong to neither chart are parameters.
    inverse : sequence of sympy expressions, optional
        The source coordinates written in the target coordinates. When
        omitted, :meth:`inverse` solves for it.

    Raises
    ------
    ShapeError
        If ``forward`` (or ``inverse``) has the wrong length.
    CoordinateError
        If ``forward`` uses a target coordinate that is not also a source
        coordinate (``forward`` must be written in the source coordinates).

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, ChartMap
    >>> r, phi = sp.symbols("r phi", positive=True)
    >>> x, y = sp.symbols("x y", real=True)
    >>> polar, cart = Chart("polar", (r, phi)), Chart("cartesian", (x, y))
    >>> to_cart = ChartMap(polar, cart, (r * sp.cos(phi), r * sp.sin(phi)))
    >>> to_cart.jacobian()
    Matrix([
    [cos(phi), -r*sin(phi)],
    [sin(phi),  r*cos(phi)]])
    >>> to_cart([[2.0, 0.0]]).tolist()
    [[2.0, 0.0]]
    """

    def __init__(
        self,
        source: Chart,
        target: Chart,
        forward: Sequence[Any],
        inverse: Sequence[Any] | None = None,
    ) -> None:
        if not isinstance(source, Chart) or not isinstance(target, Chart):
            raise CoordinateError(
                f"`source` and `target` must be Chart objects; got {type(source).__name__} and {type(target).__name__}."
            )
        fwd = _expr_tuple(forward, "forward", target.dim, f"target chart {target.name!r}", source.coords)
        _check_written_in(fwd, source, target, "forward")
        inv = None
        if inverse is not None:
            if source.dim != target.dim:
                raise ShapeError(
                    f"`inverse` was given but the map {source.name!r} -> {target.name!r} changes "
                    f"dimension ({source.dim} -> {target.dim}), so it has no inverse; drop `inverse`."
                )
            inv = _expr_tuple(inverse, "inverse", source.dim, f"source chart {source.name!r}", target.coords)
            _check_written_in(inv, target, source, "inverse")
        self._set(source=source, target=target, forward=fwd, _given_inverse=inv)

    def __repr__(self) -> str:
        return f"ChartMap({self.source.name!r} -> {self.target.name!r}, {self.forward})"

    def _latex_map(self) -> str:
        """The map as ``source -> target: (target coords) = (forward)`` (mathtext-valid)."""
        return chart_map_latex(self)[0]

    def _repr_latex_(self) -> str:
        r"""The map and its Jacobian, for Jupyter.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, ChartMap
        >>> tau = sp.Symbol("log_sigma", real=True)
        >>> s = sp.Symbol("sigma", positive=True)
        >>> m = ChartMap(Chart("log_sigma", (tau,)), Chart("sigma", (s,)), (sp.exp(tau),))
        >>> print(m._repr_latex_())  # doctest: +NORMALIZE_WHITESPACE
        $\displaystyle \mathrm{log\_sigma} \to \mathrm{sigma}:\quad \sigma = e^{\log\sigma},\qquad
        \frac{\partial(\sigma)}{\partial(\log\sigma)} = \left[\begin{matrix}e^{\log\sigma}\end{matrix}\right]$
        """
        return r"$\displaystyle {},\qquad {}$".format(*chart_map_latex(self))

    @cached_property
    def _jacobian(self) -> sp.ImmutableMatrix:
        J = sp.Matrix(self.target.dim, self.source.dim, lambda i, j: sp.diff(self.forward[i], self.source.coords[j]))
        return sp.ImmutableMatrix(J)

    def jacobian(self) -> sp.ImmutableMatrix:
        """The Jacobian matrix ``J[i, j] = d target_i / d source_j``.

        Returns
        -------
        sympy.ImmutableMatrix, shape (target.dim, source.dim)

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, ChartMap
        >>> mu, tau = sp.symbols("mu tau", real=True)
        >>> sigma = sp.Symbol("sigma", positive=True)
        >>> m = ChartMap(Chart("log_sigma", (mu, tau)), Chart("sigma", (mu, sigma)), (mu, sp.exp(tau)))
        >>> m.jacobian()
        Matrix([
        [1,        0],
        [0, exp(tau)]])
        """
        return self._jacobian

    @cached_property
    def _inverse_exprs(self) -> tuple[sp.Expr, ...]:
        if self._given_inverse is not None:
            return self._given_inverse
        return _solve_inverse(self)

    def inverse(self) -> ChartMap:
        """The inverse map, from ``target`` to ``source``.

        Uses the ``inverse`` given at construction, else solves
        ``target = forward(source)`` for the source coordinates, keeping the
        branch allowed by the source coordinates' assumptions.

        Raises
        ------
        InverseMapError
            If the map changes dimension, SymPy finds no solution, or more than
            one branch remains.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, ChartMap
        >>> mu, tau = sp.symbols("mu tau", real=True)
        >>> sigma = sp.Symbol("sigma", positive=True)
        >>> m = ChartMap(Chart("log_sigma", (mu, tau)), Chart("sigma", (mu, sigma)), (mu, sp.exp(tau)))
        >>> m.inverse().forward
        (mu, log(sigma))
        """
        return ChartMap(self.target, self.source, self._inverse_exprs, inverse=self.forward)

    def compose(self, other: ChartMap) -> ChartMap:
        """The composition ``self o other``: apply ``other`` first, then ``self``.

        Parameters
        ----------
        other : ChartMap
            A map whose target is this map's source.

        Returns
        -------
        ChartMap
            From ``other.source`` to ``self.target``.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, ChartMap
        >>> tau = sp.Symbol("tau", real=True)
        >>> s, v = sp.symbols("sigma variance", positive=True)
        >>> a = ChartMap(Chart("log_sigma", (tau,)), Chart("sigma", (s,)), (sp.exp(tau),))
        >>> b = ChartMap(Chart("sigma", (s,)), Chart("variance", (v,)), (s**2,))
        >>> b.compose(a).forward
        (exp(2*tau),)
        """
        if not isinstance(other, ChartMap):
            raise ChartMismatchError(f"`other` must be a ChartMap; got {type(other).__name__}.")
        _check_same_chart(self.source, other.target, "other.target")
        sub = dict(zip(self.source.coords, other.forward))
        fwd = tuple(simplify_expr(sympify_safe(f).xreplace(sub)) for f in self.forward)
        inv = None
        if self._given_inverse is not None and other._given_inverse is not None:
            sub2 = dict(zip(other.target.coords, self._given_inverse))
            inv = tuple(simplify_expr(sympify_safe(f).xreplace(sub2)) for f in other._given_inverse)
        return ChartMap(other.source, self.target, fwd, inverse=inv)

    @cached_property
    def _numeric(self) -> Callable[..., Any]:
        params = sorted(self.parameters, key=str)
        fn = sp.lambdify(list(self.source.coords) + params, list(self.forward), modules="numpy")
        return fn

    @cached_property
    def parameters(self) -> tuple[sp.Symbol, ...]:
        """Free symbols of ``forward`` that are not source coordinates, sorted by name."""
        free = set().union(*(f.free_symbols for f in self.forward)) - set(self.source.coords)
        return tuple(sorted(free, key=str))

    def __call__(self, points: Any, params: Mapping[Any, float] | None = None) -> np.ndarray:
        """Evaluate the map on numeric points.

        Parameters
        ----------
        points : array_like, shape (..., source.dim)
        params : mapping, optional
            Values of the map's parameters (symbols or names), if it has any.

        Returns
        -------
        numpy.ndarray, shape (..., target.dim)
        """
        x = np.asarray(points, dtype=float)
        if x.shape[-1:] != (self.source.dim,):
            raise ShapeError(
                f"`points` must have shape (..., {self.source.dim}) for source chart "
                f"{self.source.name!r}; got {x.shape}."
            )
        values = []
        given = {str(k): v for k, v in (params or {}).items()}
        for p in self.parameters:
            if p.name not in given:
                raise CoordinateError(
                    f"`params` must give a value for {p.name!r}, a parameter of this map; got "
                    f"{sorted(given)}. Pass params={{'{p.name}': value}}."
                )
            values.append(given[p.name])
        cols = self._numeric(*[x[..., i] for i in range(self.source.dim)], *values)
        return np.stack([np.broadcast_to(np.asarray(c, dtype=float), x.shape[:-1]) for c in cols], axis=-1)


def _expr_tuple(seq: Any, name: str, n: int, what: str, symbols: Any = None) -> tuple[sp.Expr, ...]:
    if isinstance(seq, (sp.MatrixBase, sp.NDimArray)):
        seq = list(seq)
    if isinstance(seq, (str, sp.Basic)) or not hasattr(seq, "__iter__"):
        items: tuple[sp.Expr, ...] = (as_expr(seq, name, symbols),)
    else:
        items = tuple(as_expr(s, name, symbols) for s in seq)
    if len(items) != n:
        raise ShapeError(f"`{name}` must give {n} expressions, one per coordinate of the {what}; got {len(items)}.")
    return items


def _check_written_in(exprs: tuple[sp.Expr, ...], src: Chart, dst: Chart, name: str) -> None:
    foreign = set(dst.coords) - set(src.coords)
    for e in exprs:
        bad = e.free_symbols & foreign
        if bad:
            raise CoordinateError(
                f"`{name}` must be written in the coordinates of chart {src.name!r} {src.coords}; "
                f"{e} uses {sorted(map(str, bad))} of chart {dst.name!r}. Express it in {src.coords}."
            )


def _tidy_root(e: sp.Expr) -> sp.Expr:
    """Rationalize denominators when that shortens a solution (so its sign becomes decidable).

    ``solve`` returns the polar radius as (x**2 - x*s + y**2)/(s - x) with s = sqrt(x**2 + y**2);
    only after ``radsimp`` does it become s, whose sign the assumptions decide.
    """
    if not e.has(sp.Pow):
        return e
    alt = sp.cancel(sp.radsimp(e))
    return alt if sp.count_ops(alt) < sp.count_ops(e) else e


def _branch_plausible(m: ChartMap, exprs: tuple[sp.Expr, ...]) -> bool:
    """False if the branch leaves the source's domain at images of sample source points.

    Inconclusive evaluations (parameters, poles) never reject a branch.
    """
    if set().union(*(f.free_symbols for f in m.forward)) - set(m.source.coords):
        return True
    samples = ((0.7, -0.4), (1.3, 0.9), (0.45, -1.7))
    for k in range(len(samples)):
        pt = {}
        for i, c in enumerate(m.source.coords):
            v = samples[(k + i) % len(samples)][i % 2]
            pt[c] = abs(v) if c.is_positive else -abs(v) if c.is_negative else v
        try:
            tgt = {t: complex(sp.N(f.xreplace(pt), 30)) for t, f in zip(m.target.coords, m.forward)}
            vals = [complex(sp.N(e.xreplace(tgt), 30)) for e in exprs]
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        for c, v in zip(m.source.coords, vals):
            if c.is_real and abs(v.imag) > 1e-9 * (1 + abs(v)):
                return False
            if c.is_positive and v.real <= 0 or c.is_negative and v.real >= 0:
                return False
    return True


def _solve_inverse(m: ChartMap) -> tuple[sp.Expr, ...]:
    if m.source.dim != m.target.dim:
        raise InverseMapError(
            f"the map {m.source.name!r} -> {m.target.name!r} changes dimension "
            f"({m.source.dim} -> {m.target.dim}) and has no inverse."
        )
    # target symbols may coincide with source symbols (mu -> mu): solve with dummies.
    dummies = [sp.Dummy(c.name, **c.assumptions0) for c in m.target.coords]
    eqs = [sp.Eq(d, f) for d, f in zip(dummies, m.forward)]
    try:
        sols = sp.solve(eqs, list(m.source.coords), dict=True)
    except NotImplementedError:
        sols = []
    back = dict(zip(dummies, m.target.coords))
    good = []
    for s in sols:
        if len(s) != m.source.dim:
            continue
        exprs = tuple(_tidy_root(sympify_safe(s[c]).xreplace(back)) for c in m.source.coords)
        ok = True
        for c, e in zip(m.source.coords, exprs):
            if c.is_positive and e.is_positive is False or c.is_real and e.is_real is False:
                ok = False
        if ok:
            good.append(exprs)
    if len(good) > 1:
        # assumptions SymPy cannot decide (complex cube-root branches): test numerically
        good = [g for g in good if _branch_plausible(m, g)] or good
    if len(good) == 1:
        return good[0]
    if not good:
        raise InverseMapError(
            f"could not solve {m.target.coords} = {m.forward} for the source coordinates "
            f"{m.source.coords} of chart {m.source.name!r}. Pass `inverse=` to ChartMap explicitly."
        )
    raise InverseMapError(
        f"solving {m.target.coords} = {m.forward} for {m.source.coords} leaves {len(good)} branches "
        f"{good}. Add assumptions to the coordinates (e.g. positive=True) or pass `inverse=` explicitly."
    )
