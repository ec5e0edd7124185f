"""``compile_flow``: a metric and a loss become compiled, batched kernels.

This module is the only place where SymPy meets Numba. The velocity field
``-G^{-1} grad L`` is derived once, symbolically where that pays, printed as
scalar source (common subexpressions shared, integer powers as products),
written to a file named by the hash of its content and compiled with
``njit(cache=True)``, so a new process reloads it from disk.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from ..errors import ChartMismatchError, CompilationError, CoordinateError, ShapeError, SolverSettingsError
from ..symbolic import Chart, Metric
from ..symbolic._util import Frozen, as_expr, simplify_expr
from ._cache import derivation_key, load_derivation, load_source, store_derivation
from ._codegen import assignments
from ._template import CHUNK, ranged, template

__all__ = ["FlowField", "compile_flow", "STRATEGIES"]

#: How the velocity ``-G^{-1} grad L`` is computed inside the kernel.
STRATEGIES = ("auto", "exact", "symbolic", "cholesky", "qr")

#: Every generated function: no fast-math (reproducible IEEE results); NumPy's error model (x / 0 is inf,
#: not an exception, and no division checks that would block vectorization).
_DECORATOR = '@njit(cache=True, fastmath=False, error_model="numpy", nogil=True)'
#: The field functions are inlined into the stepper loops (Numba IR inlining), so LLVM sees one loop body
#: and vectorizes it across trajectories; a call left to LLVM's inliner measured 3x slower.
_INLINE = '@njit(cache=True, fastmath=False, error_model="numpy", nogil=True, inline="always")'

#: Largest dimension with register-resident (scalar-argument) steppers. CPython passes calls with more
#: than ~30 arguments as ``f(*args)``, which Numba cannot inline; wider fields go through arrays.
SCALAR_MAX_DIM = 24

#: Batches at most this large run one trajectory at a time with the state in registers.
SCALAR_MAX_BATCH = 8

#: Largest dimension for which a dense, non-constant metric is inverted symbolically.
SYMBOLIC_MAX_DIM = 3


class FlowField(Frozen):
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
        ``"qr"`` (least squares through QR of the residuals' Jacobian) or
        ``"geodesic"`` (the geodesic equations, from :func:`geodesic_field`).
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

    def __init__(self, **attrs: Any) -> None:
        self._set(**attrs)

    def __repr__(self) -> str:
        return (
            f"FlowField(chart={self.chart.name!r}, coords={self.chart.coords}, params={self.params}, "
            f"strategy={self.strategy!r})"
        )

    @property
    def dim(self) -> int:
        """The number of coordinates."""
        return self.chart.dim

    # ------------------------------------------------------------ plumbing
    def _kernel(self, name: str) -> Any:
        """The compiled function ``name`` of the generated module (for the flows layer)."""
        return getattr(self._module, name)

    def param_vector(self, params: Any = None) -> np.ndarray:
        """The parameter values as a float array in :attr:`params` order.

        Raises
        ------
        CoordinateError
            If a parameter is missing, unknown, or the count is wrong.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart, compile_flow, euclidean_metric
        >>> x, b = sp.Symbol("x", real=True), sp.Symbol("b")
        >>> field = compile_flow(euclidean_metric(Chart("line", (x,))), (x - b) ** 2, params=(b,))
        >>> field.param_vector({"b": 2}).tolist()
        [2.0]
        """
        names = [p.name for p in self.params]
        if params is None:
            params = {}
        if isinstance(params, Mapping):
            given = {(k.name if isinstance(k, sp.Symbol) else str(k)): v for k, v in params.items()}
            unknown = sorted(set(given) - set(names))
            missing = [n for n in names if n not in given]
            if unknown or missing:
                example = ", ".join(f"{n!r}: 1.0" for n in names)
                raise CoordinateError(
                    f"`params` must give exactly the parameters {names} of this field; "
                    f"missing {missing}, unknown {unknown}. Pass e.g. params={{{example}}}."
                )
            values = [given[n] for n in names]
        else:
            values = list(np.atleast_1d(np.asarray(params, dtype=float)))
            if len(values) != len(names):
                raise CoordinateError(
                    f"`params` must hold {len(names)} values, one for each of {names}; got {len(values)}."
                )
        out = np.ascontiguousarray(np.asarray(values, dtype=float).reshape(-1))
        return out if out.size else np.zeros(1)

    def _points(self, x: Any, name: str = "x", copy: bool = False) -> tuple[np.ndarray, tuple[int, ...]]:
        """``x`` as a C-contiguous ``(dim, batch)`` array and the batch shape ``()`` or ``(batch,)``;
        with ``copy``, never memory shared with ``x``."""
        arr = np.asarray(x, dtype=float)
        if arr.ndim not in (1, 2) or arr.shape[-1] != self.dim:
            raise ShapeError(
                f"`{name}` must have shape ({self.dim},) or (batch, {self.dim}) for chart "
                f"{self.chart.name!r} {self.chart.coords}; got {arr.shape}."
            )
        batch = arr.shape[:-1]
        pts = arr.reshape(-1, self.dim).T
        return (np.array(pts, order="C") if copy else np.ascontiguousarray(pts)), batch

    def _call(self, name: str, *args: Any) -> Any:
        """Call a compiled kernel, turning a Numba failure into :class:`CompilationError`."""
        fn = self._kernel(name)
        try:
            return fn(*args)
        except Exception as exc:
            import numba.core.errors as nerr

            if isinstance(exc, nerr.NumbaError):
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise CompilationError(
                    f"Numba could not compile `{name}` for the field on chart {self.chart.name!r}: {first}. "
                    f"The generated source is in {self.path}; simplify the loss or metric, or report this."
                ) from None
            raise

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
        X, batch = self._points(x)
        out = np.empty(X.shape[1])
        self._call("_loss_batch", X, self.param_vector(params), out)
        return out.reshape(batch)

    def gradient(self, x: Any, params: Any = None) -> np.ndarray:
        """The Euclidean gradient ``dL/dx`` (covector components), shape like ``x``."""
        X, batch = self._points(x)
        out = np.empty_like(X)
        self._call("_grad_batch", X, self.param_vector(params), out)
        return out.T.reshape(batch + (self.dim,))

    def metric(self, x: Any, params: Any = None) -> np.ndarray:
        """The metric matrix ``G(x)``, shape ``(dim, dim)`` or ``(batch, dim, dim)``."""
        X, batch = self._points(x)
        out = np.empty((X.shape[1], self.dim, self.dim))
        self._call("_metric_batch", X, self.param_vector(params), out)
        return out.reshape(batch + (self.dim, self.dim))

    def velocity(self, x: Any, params: Any = None) -> np.ndarray:
        """The flow's velocity ``-G(x)^{-1} grad L(x)``, shape like ``x``.

        With strategy ``"cholesky"``, rows where the metric is numerically
        singular are NaN.
        """
        X, batch = self._points(x)
        out = np.empty_like(X)
        status = np.zeros(X.shape[1], np.int64)
        self._call("_vel_batch", X, self.param_vector(params), out, status)
        out[:, status != 0] = np.nan
        return out.T.reshape(batch + (self.dim,))

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
            Any of ``"euler"``, ``"heun"``, ``"rk4"``, ``"dopri5"`` (flows; natural
            descent runs on ``"euler"``) and ``"identity"``, ``"rmsprop"``,
            ``"adam"`` (the other descent preconditioners).
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

        from ._template import DESCENT_KINDS

        fixed, descents = tuple(_BUTCHER), tuple(k for k in DESCENT_KINDS if k != "natural")
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
        p, hyper = np.zeros(max(1, len(self.params))), np.zeros(3)
        XS, status, tlast = np.empty((1, 1, n)), np.zeros(1, np.int64), np.zeros(1)
        small = n <= SCALAR_MAX_DIM and (batch is None or batch <= SCALAR_MAX_BATCH)
        large = batch is None or batch > SCALAR_MAX_BATCH or n > SCALAR_MAX_DIM
        for s in steppers:
            if s in fixed:
                if small:
                    self._call(f"_{s}_scalar", X, 0.0, 1.0, 1, idx, p, hyper, XS, status, tlast)
                if large:
                    self._call(f"_{s}_range", X, 0, 1, 0.0, 1.0, 1, idx, p, hyper, XS, status, tlast)
            elif s == "dopri5":
                save_t = np.zeros(1)
                self._call("_dopri_range", X, 0, 1, 0.0, 1.0, 0.1, 1e-8, 1e-10, 1, save_t, p, XS, status, tlast, idx)
            else:
                self._call(f"_descent_{s}_range", X, 0, 1, 1.0, 0.0, 1, idx, p, hyper, XS, status, tlast)
        return time.perf_counter() - t0


# ---------------------------------------------------------------- derivation
def require_metric(metric: Any) -> None:
    """Raise :class:`ChartMismatchError` unless ``metric`` is a :class:`Metric` (shared check)."""
    if not isinstance(metric, Metric):
        raise ChartMismatchError(
            f"`metric` must be a riemgrad Metric; got {type(metric).__name__}. Wrap the matrix: Metric(chart, matrix)."
        )


def _free_params(exprs: Sequence[sp.Expr], chart: Chart) -> set[sp.Symbol]:
    free: set[sp.Symbol] = set()
    for e in exprs:
        free |= e.free_symbols
    return free - set(chart.coords)


def _is_constant_rational(M: sp.ImmutableMatrix) -> bool:
    return all(sp.sympify(e).is_Rational for e in M)


def _exact_velocity(G: sp.ImmutableMatrix, grad: list[sp.Expr], coords: tuple[sp.Symbol, ...]) -> list[sp.Expr]:
    """-G^{-1} grad in exact rational arithmetic (G constant and rational)."""
    from sympy.polys.matrices import DomainMatrix

    n = len(coords)
    Ginv = DomainMatrix.from_Matrix(sp.Matrix(G)).convert_to(sp.QQ).inv()
    # linear gradient: grad = A x + c, then v = -(G^-1 A) x - G^-1 c, all exact.
    try:
        polys = [sp.Poly(gi, *coords) for gi in grad]
        linear = all(p.total_degree() <= 1 for p in polys)
    except sp.PolynomialError:
        linear = False
    if linear:
        A = sp.Matrix(n, n, lambda i, k: polys[i].coeff_monomial(coords[k]))
        c = sp.Matrix(n, 1, lambda i, _: polys[i].coeff_monomial(1))
        Gi = Ginv.to_Matrix()
        if all(e.is_Rational for e in A):
            GA = (Ginv * DomainMatrix.from_Matrix(A).convert_to(sp.QQ)).to_Matrix()
        else:
            GA = Gi * A
        Gc = [_round_late(sp.expand(e)) for e in Gi * c]
        return [-sp.Add(*[GA[i, k] * coords[k] for k in range(n)]) - Gc[i] for i in range(n)]
    Gi = Ginv.to_Matrix()
    return [-sp.Add(*[Gi[i, k] * grad[k] for k in range(n) if Gi[i, k] != 0]) for i in range(n)]


def _round_late(e: sp.Expr) -> sp.Expr:
    """A constant like ``p + q*E`` (huge p, q that cancel) evaluated to 30 digits before it is rounded
    to a double, instead of being rounded term by term in the kernel."""
    if e.free_symbols or e.is_Rational:
        return e
    return sp.Float(sp.N(e, 30), 30)


#: Extra cost of a division by a non-constant (over a multiplication) and of a function call.
_DIV_WEIGHT = 5
_CALL_WEIGHT = 20


def _numeric_cost(exprs: Sequence[sp.Expr]) -> int:
    """Rough cost of evaluating ``exprs`` together after cse, as the generated kernel does.

    Distinct transcendental calls dominate, then divisions by non-constants (``x / 2`` is
    printed as ``0.5 * x``); shared subexpressions count once.
    """
    replacements, reduced = sp.cse(list(exprs), order="none")
    cost = 0
    for e in [r for _, r in replacements] + list(reduced):
        calls = {a for a in e.atoms(sp.Function)} | {a for a in e.atoms(sp.Pow) if not a.exp.is_Integer}
        divisions = {a for a in e.atoms(sp.Pow) if a.exp.is_Integer and a.exp < 0}
        cost += _CALL_WEIGHT * len(calls) + _DIV_WEIGHT * len(divisions) + int(sp.count_ops(e))
    return cost


def _forms(raw: sp.Expr) -> list[sp.Expr]:
    """Equivalent forms of one velocity component, to be costed together with the others.

    - the targeted simplification (``cancel``: lowest terms, numerator expanded);
    - its expansion with exponentials combined: ``(S - exp(2 t)) exp(-2 t) / 2`` costs two
      exponentials, ``S exp(-2 t) / 2 - 1/2`` one (measured 2x on the log-sigma chart);
    - its numerator in Horner form (fewer multiplications), and the expansion collected in
      its function calls (``exp(-2 t) (mu**2/2 - mu + 5/2) - 1/2``);
    - the derivation's own structure with products distributed and one denominator
      (``((1 - mu)**2 + 4 - sigma**2) / (2 sigma)``), which keeps subexpressions of the loss
      that other components share (measured ~12% on the Gaussian charts).
    """
    forms = [simplify_expr(raw)]
    if sp.count_ops(forms[0]) < 200:
        expanded = sp.factor_terms(sp.powsimp(sp.expand(forms[0]), combine="exp"))
        forms.append(expanded)
        forms.append(_horner_form(forms[0]))
        calls = sorted(expanded.atoms(sp.Function), key=sp.default_sort_key)
        if calls:  # S*exp(-2t)/2 - 1/2 with S a polynomial: one product by the exponential
            forms.append(sp.collect(sp.expand(expanded), calls))
        kept = sp.together(sp.expand_mul(raw))
        if sp.count_ops(kept) < 200 and sp.cancel(kept - forms[0]) == 0:
            forms.append(kept)
    unique: list[sp.Expr] = []
    for f in forms:
        if f not in unique:
            unique.append(f)
    return unique


def _horner_form(e: sp.Expr) -> sp.Expr:
    """``e`` with a polynomial numerator in Horner form (fewer multiplications):
    ``x**2 - 2*x - y + 5`` becomes ``x*(x - 2) - y + 5``. Unchanged when the
    numerator is not a polynomial in plain symbols."""
    num, den = sp.fraction(e)
    gens = sorted(num.free_symbols, key=sp.default_sort_key)
    if not gens or not num.is_polynomial(*gens):
        return e
    return sp.horner(num, *gens) / den


#: Up to this many combinations of forms are costed jointly; beyond, each component alone.
_JOINT_MAX = 81


def _cheapest_forms(raws: list[sp.Expr]) -> list[sp.Expr]:
    """For each velocity component the form that makes the whole velocity cheapest to evaluate."""
    options = [_forms(r) for r in raws]
    total = 1
    for o in options:
        total *= len(o)
    if total <= _JOINT_MAX:
        return list(min(itertools.product(*options), key=_numeric_cost))
    return [min(o, key=lambda f: _numeric_cost([f])) for o in options]


def _symbolic_velocity(metric: Metric, grad: list[sp.Expr]) -> list[sp.Expr]:
    n = metric.dim
    G = metric.matrix
    if all(G[i, k] == 0 for i in range(n) for k in range(n) if i != k):
        return _cheapest_forms([-grad[i] / G[i, i] for i in range(n)])
    Gi = metric.inverse_matrix
    return _cheapest_forms([-sp.Add(*[Gi[i, k] * grad[k] for k in range(n)]) for i in range(n)])


def _check_gauss_newton(
    chart: Chart, params: tuple[sp.Symbol, ...], G: sp.ImmutableMatrix, grad: list[sp.Expr], res: list[sp.Expr]
) -> None:
    """Spot-check ``G = J^T J`` and ``grad L = J^T r`` at random points of the chart's domain."""
    J = sp.Matrix([[sp.diff(r, c) for c in chart.coords] for r in res])
    syms = list(chart.coords) + list(params)
    fG = sp.lambdify(syms, [G - J.T * J], "numpy")
    fg = sp.lambdify(syms, [sp.Matrix(grad) - J.T * sp.Matrix(res)], "numpy")
    rng = np.random.default_rng(0)
    for _ in range(3):
        point = []
        for c in syms:
            lo = 0.5 if (c.is_positive or c.is_nonnegative) else -1.0
            point.append(rng.uniform(lo, 2.0) if c.is_negative is not True else -rng.uniform(0.5, 2.0))
        with np.errstate(all="ignore"):
            dG = np.abs(np.array(fG(*point)[0], dtype=float)).max()
            dg = np.abs(np.array(fg(*point)[0], dtype=float)).max()
            scale = 1.0 + np.abs(np.array(sp.lambdify(syms, [G], "numpy")(*point)[0], dtype=float)).max()
        if not (dG <= 1e-8 * scale and dg <= 1e-8 * (1.0 + scale)):
            raise SolverSettingsError(
                "`residuals` must satisfy metric = J^T J and grad(loss) = J^T r (J = dr/dx, loss = |r|^2 / 2 "
                f"+ const); at {dict(zip(map(str, syms), np.round(point, 3)))} they differ by {max(dG, dg):.3g}. "
                "Pass the residuals of this loss and its Gauss-Newton metric, or drop `residuals`."
            )


def _choose_strategy(metric: Metric, strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise SolverSettingsError(f"`strategy` must be one of {STRATEGIES}; got {strategy!r}.")
    if strategy == "qr":
        return "qr"
    if strategy != "auto":
        if strategy == "exact" and not _is_constant_rational(metric.matrix):
            raise SolverSettingsError(
                "`strategy='exact'` needs a constant metric with rational entries; this metric has "
                f"{metric.matrix}. Use strategy='auto'."
            )
        return strategy
    if _is_constant_rational(metric.matrix):
        return "exact"
    n = metric.dim
    G = metric.matrix
    diagonal = all(G[i, k] == 0 for i in range(n) for k in range(n) if i != k)
    if diagonal or n <= SYMBOLIC_MAX_DIM:
        return "symbolic"
    return "cholesky"


_BUTCHER = {
    # name: (A rows below the diagonal, weights b)
    "euler": ([], ["1.0"]),
    "heun": ([["1.0"]], ["0.5", "0.5"]),
    "rk4": ([["0.5"], ["0.0", "0.5"], ["0.0", "0.0", "1.0"]], ["1.0 / 6.0", "1.0 / 3.0", "1.0 / 3.0", "1.0 / 6.0"]),
}


def _scalar_stepper(name: str, n: int) -> str:
    """A per-trajectory fixed-step kernel with the state in registers (small batches)."""
    A, b = _BUTCHER[name]
    xs = [f"x{k}" for k in range(n)]
    X = ", ".join(xs)
    L = [
        _DECORATOR,
        f"def _{name}_scalar(X, t0, dt, nsteps, save_idx, p, hyper, XS, status, tlast):",
        "    w = np.empty(WORK + 1)",
        "    nsave = save_idx.shape[0]",
        "    for j in range(X.shape[1]):",
        *[f"        x{k} = X[{k}, j]" for k in range(n)],
        f"        st = _oks({X})",
        "        tl = t0",
        "        si = 0",
        "        while si < nsave and save_idx[si] == 0 and st == 0:",
        *[f"            XS[si, j, {k}] = x{k}" for k in range(n)],
        "            si += 1",
        "        if st == 0:",
        "            for n in range(nsteps):",
    ]
    ind = " " * 16
    for s_ in range(len(b)):
        arg = X if s_ == 0 else ", ".join(f"y{k}" for k in range(n))
        ks = ", ".join(f"k{s_}_{k}" for k in range(n))
        if s_ == 0:
            L.append(f"{ind}{ks}, f = _vels({arg}, p, w)")
        else:
            L.append(f"{ind}{ks}, g = _vels({arg}, p, w)")
            L.append(f"{ind}f |= g")
        if s_ + 1 < len(b):
            row = A[s_]
            for k in range(n):
                terms = " + ".join(f"{c} * k{i}_{k}" for i, c in enumerate(row) if c != "0.0")
                L.append(f"{ind}y{k} = x{k} + dt * ({terms})")
    for k in range(n):
        terms = " + ".join(f"{c} * k{i}_{k}" for i, c in enumerate(b))
        L.append(f"{ind}z{k} = x{k} + dt * ({terms})")
    L += [
        f"{ind}if f == 0:",
        f"{ind}    f = _oks({', '.join(f'z{k}' for k in range(n))})",
        f"{ind}if f != 0:",
        f"{ind}    st = f",
        f"{ind}    break",
        *[f"{ind}x{k} = z{k}" for k in range(n)],
        f"{ind}tl = t0 + (n + 1) * dt",
        f"{ind}while si < nsave and save_idx[si] == n + 1:",
        *[f"{ind}    XS[si, j, {k}] = x{k}" for k in range(n)],
        f"{ind}    si += 1",
        *[f"        X[{k}, j] = x{k}" for k in range(n)],
        "        for i in range(si, nsave):",
        "            for k in range(DIM):",
        "                XS[i, j, k] = np.nan",
        "        status[j] = st",
        "        tlast[j] = tl",
    ]
    return "\n".join(L) + "\n"


#: Steps per block of the chunk steppers (validity checked once per block, see _range_stepper).
BLOCK = 128


def _range_stepper(name: str, n: int, flagged: bool) -> str:
    """A fixed-step kernel for a chunk of trajectories in lockstep (structure of arrays).

    The time loop is outside, each stage a loop over the chunk whose body is the
    inlined field, so LLVM vectorizes it across trajectories. Stage inputs are
    formed inside the stage loop (no intermediate arrays). ``flagged``: the field
    can report a singular metric (Cholesky strategy).

    Steps run in blocks of at most ``BLOCK`` (ending at every save index), and
    optimistically: no status is read or written per step. A new state outside
    the chart's domain (or whose stages flagged a singular metric) is poisoned
    with a NaN instead; NaN, like inf, is absorbing under ``x + dt * (...)``.
    After the block, one pass restores the trajectories that had already failed
    (frozen) and finds the alive ones whose state is no longer finite; only
    those are redone from the block's start, one at a time with the state in
    registers and a check after every step, which assigns the status and the
    last valid state exactly as a per-step check would (same arithmetic, so the
    same bits; the others' steps do not depend on them).
    """
    A, b = _BUTCHER[name]
    ns = len(b)
    wide = n > SCALAR_MAX_DIM

    def save(step: str, pad: str) -> list[str]:
        return [
            f"{pad}while si < nsave and save_idx[si] == {step}:",
            f"{pad}    for j in range(m):",
            f"{pad}        ok = status[j] == 0",
            f"{pad}        for k in range(DIM):",
            f"{pad}            XS[si, off + j, k] = x[k, j] if ok else np.nan",
            f"{pad}    si += 1",
        ]

    # stage inputs and the new state, written on the chunk arrays
    args = [[f"x[{k}, j]" for k in range(n)]]
    for s_ in range(1, ns):
        row = []
        for k in range(n):
            terms = " + ".join(f"{c} * k{i}[{k}, j]" for i, c in enumerate(A[s_ - 1]) if c != "0.0")
            row.append(f"x[{k}, j] + dt * ({terms})")
        args.append(row)
    zs = [f"x[{k}, j] + dt * (" + " + ".join(f"{c} * k{i}[{k}, j]" for i, c in enumerate(b)) + ")" for k in range(n)]

    def scalar(e: str) -> str:
        """The same expression on registers: x[k, j] -> x{k}, k{i}[k, j] -> k{i}_{k}."""
        for k in range(n - 1, -1, -1):
            e = e.replace(f"x[{k}, j]", f"x{k}")
            for i in range(ns):
                e = e.replace(f"k{i}[{k}, j]", f"k{i}_{k}")
        return e

    Z = ", ".join(f"z{k}" for k in range(n))
    L = [
        "    nsave = save_idx.shape[0]",
        "    w = np.empty(WORK + 1)",
        *(["    xt = np.empty((DIM, m))"] if wide else []),
        "    xb = np.empty((DIM, m))",
        *(["    flag = np.zeros(m, np.int64)"] if flagged and ns > 1 else []),
        *[f"    k{i} = np.empty((DIM, m))" for i in range(ns if wide else ns - 1)],
        "    for j in range(m):",
        "        if status[j] == 0:",
        "            status[j] = _check_point(x, j)",
        "    si = 0",
        "    n0 = 0",
        "    while True:",
        *save("n0", "        "),
        "        if n0 >= nsteps:",
        "            break",
        f"        n1 = min(nsteps, n0 + {BLOCK})",
        "        if si < nsave and save_idx[si] > n0 and save_idx[si] < n1:",
        "            n1 = save_idx[si]",
        "        for k in range(DIM):",
        "            for j in range(m):",
        "                xb[k, j] = x[k, j]",
    ]
    # The steps of a block. For one-stage steppers (Euler: descent) they go in a function of
    # their own, which LLVM optimizes apart from the bookkeeping around it before inlining it: it
    # then keeps the constants in registers (measured 10-15% on W2). For more stages the second
    # optimization costs too much compile time (0.8 s more for RK4).
    outline = ns == 1
    scratch = (["xt"] if wide else []) + (["flag"] if flagged and ns > 1 else [])
    scratch += [f"k{i}" for i in range(ns if wide else ns - 1)]
    sargs = ", ".join(["x", "m", "n0", "n1", "dt", "p", "w"] + scratch)
    if outline:
        L.append(f"        _{name}_steps({sargs})")
        S = [_DECORATOR, f"def _{name}_steps({sargs}):", "    for n in range(n0, n1):"]
        ind, ind2 = " " * 8, " " * 12
    else:
        S = L
        S.append("        for n in range(n0, n1):")
        ind, ind2 = " " * 12, " " * 16
    outs = ", ".join(f"r{k}" for k in range(n))
    for s_ in range(ns):
        S.append(f"{ind}for j in range(m):")
        if wide:
            if s_ == 0:
                S.append(f"{ind2}f = _vel(x, j, p, w, k0)")
            else:
                S += [f"{ind2}xt[{k}, j] = {a}" for k, a in enumerate(args[s_])]
                S.append(f"{ind2}f = _vel(xt, j, p, w, k{s_})")
        else:
            S.append(f"{ind2}{outs}, f = _vels({', '.join(args[s_])}, p, w)")
            if s_ < ns - 1:
                S += [f"{ind2}k{s_}[{k}, j] = r{k}" for k in range(n)]
        if flagged and ns > 1:
            if s_ == 0:
                S.append(f"{ind2}flag[j] = f")
            elif s_ < ns - 1:
                S.append(f"{ind2}flag[j] |= f")
            else:
                S.append(f"{ind2}f |= flag[j]")
    # the last stage's loop also forms the new state and poisons it when invalid
    last = [z.replace(f"k{ns - 1}[{k}, j]", f"r{k}") if not wide else z for k, z in enumerate(zs)]
    S += [f"{ind2}z{k} = {zk}" for k, zk in enumerate(last)]
    if wide:
        S += [f"{ind2}xt[{k}, j] = z{k}" for k in range(n)]
        S.append(f"{ind2}good = _check_point(xt, j) == 0")
    else:
        S.append(f"{ind2}good = _dom({Z})")
    if flagged:
        S.append(f"{ind2}good = good & (f == 0)")
    S.append(f"{ind2}x[0, j] = z0 if good else np.nan")
    S += [f"{ind2}x[{k}, j] = z{k}" for k in range(1, n)]
    L += [
        "        for j in range(m):",
        "            if status[j] != 0:",
        "                for k in range(DIM):",
        "                    x[k, j] = xb[k, j]",
        "                continue",
        "            fin = True",
        "            for k in range(DIM):",
        "                fin = fin & math.isfinite(x[k, j])",
        "            if fin:",
        "                continue",
        "            # failed in this block: redo its steps from the block's start with a check after each",
    ]
    ind, ind2 = " " * 12, " " * 16
    # the replay's step check: the first failing step sets the status and the last valid time
    fail = [f"{ind2}s = f if f != 0 else s"] if flagged else []
    fail += [f"{ind2}if s != 0:", f"{ind2}    status[j] = s", f"{ind2}    tlast[j] = t0 + n * dt", f"{ind2}    break"]
    if wide:
        L += [
            f"{ind}for k in range(DIM):",
            f"{ind}    x[k, j] = xb[k, j]",
            f"{ind}for n in range(n0, n1):",
            f"{ind2}f = _vel(x, j, p, w, k0)",
        ]
        for s_ in range(1, ns):
            L += [f"{ind2}xt[{k}, j] = {a}" for k, a in enumerate(args[s_])]
            L.append(f"{ind2}f |= _vel(xt, j, p, w, k{s_})")
        L += [f"{ind2}xt[{k}, j] = {z}" for k, z in enumerate(zs)]
        L.append(f"{ind2}s = _check_point(xt, j)")
        L += fail
        L += [f"{ind2}for k in range(DIM):", f"{ind2}    x[k, j] = xt[k, j]"]
    else:
        L += [f"{ind}x{k} = xb[{k}, j]" for k in range(n)]
        L.append(f"{ind}for n in range(n0, n1):")
        for s_ in range(ns):
            ks = ", ".join(f"k{s_}_{k}" for k in range(n))
            sa = ", ".join(scalar(a) for a in args[s_])
            if s_ == 0:
                L.append(f"{ind2}{ks}, f = _vels({sa}, p, w)")
            else:
                L.append(f"{ind2}{ks}, g = _vels({sa}, p, w)")
                L.append(f"{ind2}f |= g")
        L += [f"{ind2}z{k} = {scalar(z)}" for k, z in enumerate(zs)]
        L.append(f"{ind2}s = _oks({Z})")
        L += fail
        L += [f"{ind2}x{k} = z{k}" for k in range(n)] + [f"{ind}x[{k}, j] = x{k}" for k in range(n)]
    L += [
        "        n0 = n1",
        "    for j in range(m):",
        "        if status[j] == 0:",
        "            tlast[j] = t0 + nsteps * dt",
    ]
    steps = "\n".join(S) + "\n\n" if outline else ""
    return steps + ranged(name, "t0, dt", "\n".join(L) + "\n")


def _function(
    header: str,
    exprs: list[sp.Expr],
    targets: list[str],
    coords: tuple[sp.Symbol, ...],
    params: tuple[sp.Symbol, ...],
    tail: str = "",
    scalar: bool = False,
    inline: bool = False,
) -> str:
    names = {c: f"x{k}" for k, c in enumerate(coords)}
    names.update({q: f"p{i}" for i, q in enumerate(params)})
    used: set[sp.Symbol] = set()
    for e in exprs:
        used |= sp.sympify(e).free_symbols
    lines = [_INLINE if inline else _DECORATOR, header]
    for k, c in enumerate(coords):
        if c in used and not scalar:
            lines.append(f"    x{k} = x[{k}, j]")
    for i, q in enumerate(params):
        if q in used:
            lines.append(f"    p{i} = p[{i}]")
    lines += assignments(exprs, targets, names)
    if tail:
        lines.append(tail.rstrip("\n"))
    return "\n".join(lines) + "\n"


def generate_source(
    chart: Chart,
    params: tuple[sp.Symbol, ...],
    loss: sp.Expr,
    grad: list[sp.Expr],
    G: sp.ImmutableMatrix,
    velocity: list[sp.Expr] | None,
    residuals: list[sp.Expr] | None = None,
) -> str:
    """The complete generated module for one field (see :class:`FlowField`)."""
    import numba

    from .._version import __version__

    n = chart.dim
    coords = chart.coords
    m = len(residuals) if residuals is not None else 0
    if velocity is not None:
        how, work = "symbolic (derived with SymPy)", 0
    elif residuals is not None:
        how, work = f"Householder QR of the {m} x {n} Jacobian of the residuals", m * n + m + n
    else:
        how, work = "inlined Cholesky solve", n * n + n
    head = [
        "# Generated by riemgrad.kernels.compile_flow -- do not edit; the file name is a hash of this text.",
        f"# riemgrad {__version__}, numba {numba.__version__}",
        f"# chart {chart.name!r}: x[k, j] is coordinate k of trajectory j, k over {tuple(map(str, coords))}",
        f"# p[i] over params {tuple(map(str, params))}",
        f"# velocity: {how}",
        "import math",
        "",
        "import numpy as np",
        "from numba import njit, prange",
        "",
        f"DIM = {n}",
        f"WORK = {work}",
        f"NRES = {m}",
        f"CHUNK = {CHUNK}",
        "",
        "",
    ]
    parts = ["\n".join(head)]
    parts.append(_function("def _loss(x, j, p):", [loss], ["r"], coords, params, "    return r"))
    parts.append(_function("def _grad(x, j, p, out):", grad, [f"out[{k}, j]" for k in range(n)], coords, params))
    lower = [(a, b) for a in range(n) for b in range(a + 1)]
    parts.append(
        _function(
            "def _metric(x, j, p, g):",
            [G[a, b] for a, b in lower],
            [f"g[{a}, {b}]" for a, b in lower],
            coords,
            params,
            "\n".join(f"    g[{b}, {a}] = g[{a}, {b}]" for a, b in lower if a != b),
        )
    )
    X = ", ".join(f"x{k}" for k in range(n))
    if velocity is not None:
        vel_exprs, vel_targets = velocity, [f"out[{k}, j]" for k in range(n)]
        vel_tail = "    return 0"
        vels_targets = [f"v{k}" for k in range(n)]
        vels_tail = f"    return {', '.join(vels_targets)}, 0"
    elif residuals is not None:
        J = [[sp.diff(r, c) for c in coords] for r in residuals]
        vel_exprs = [J[i][k] for i in range(m) for k in range(n)] + list(residuals)
        vel_targets = vels_targets = [f"w[{i * n + k}]" for i in range(m) for k in range(n)] + [
            f"w[{m * n + i}]" for i in range(m)
        ]
        vel_tail = (
            "    s = _qr_solve(w)\n    for k in range(DIM):\n        out[k, j] = -w[NRES * DIM + k]\n    return s"
        )
        vels_tail = f"    s = _qr_solve(w)\n    return {', '.join(f'-w[{m * n + k}]' for k in range(n))}, s"
    else:
        vel_exprs = [G[a, b] for a, b in lower] + list(grad)
        vel_targets = vels_targets = [f"w[{a * n + b}]" for a, b in lower] + [f"w[{n * n + k}]" for k in range(n)]
        vel_tail = (
            "    s = _chol_solve(w)\n    for k in range(DIM):\n        out[k, j] = -w[DIM * DIM + k]\n    return s"
        )
        vels_tail = f"    s = _chol_solve(w)\n    return {', '.join(f'-w[{n * n + k}]' for k in range(n))}, s"
    parts.append(_function("def _vel(x, j, p, w, out):", vel_exprs, vel_targets, coords, params, vel_tail, inline=True))
    if n <= SCALAR_MAX_DIM:
        parts.append(
            _function(
                f"def _vels({X}, p, w):", vel_exprs, vels_targets, coords, params, vels_tail, scalar=True, inline=True
            )
        )
    conds = []
    for k, kind in enumerate(chart.domain.values()):
        if kind == "positive":
            conds.append(f"x{k} > 0.0")
        elif kind == "negative":
            conds.append(f"x{k} < 0.0")
    fin = " & ".join(f"math.isfinite(x{k})" for k in range(n))
    dom = " & ".join(f"({c})" for c in conds) if conds else "True"
    # 0 valid, 1 outside the chart's domain, 2 non-finite; no short-circuit branches (vectorizes)
    check = f"    fin = {fin}\n    dom = {dom}\n    return 2 if not fin else (0 if dom else 1)\n"
    loads = "".join(f"    x{k} = x[{k}, j]\n" for k in range(n))
    parts.append(f"{_DECORATOR}\ndef _check_point(x, j):\n{loads}{check}")
    if n <= SCALAR_MAX_DIM:
        parts.append(f"{_INLINE}\ndef _oks({X}):\n{check}")
        # the domain alone (finiteness is absorbing under x + dt * (...), see _range_stepper)
        parts.append(f"{_INLINE}\ndef _dom({X}):\n    return {dom}\n")
    for name in _BUTCHER:
        if n <= SCALAR_MAX_DIM:
            parts.append(_scalar_stepper(name, n))
        parts.append(_range_stepper(name, n, flagged=velocity is None))
    return "\n\n".join(parts) + template()


def compile_flow(
    metric: Metric,
    loss: Any,
    params: Sequence[sp.Symbol] = (),
    *,
    strategy: str = "auto",
    residuals: Sequence[Any] | None = None,
) -> FlowField:
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

    Returns
    -------
    FlowField

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
    require_metric(metric)
    chart = metric.chart
    loss = as_expr(loss, "loss")
    if isinstance(params, sp.Symbol):
        params = (params,)
    params = tuple(params)
    for q in params:
        if not isinstance(q, sp.Symbol):
            raise CoordinateError(f"`params` must hold SymPy Symbols; got {q!r} of type {type(q).__name__}.")
    if len(set(params)) != len(params) or set(params) & set(chart.coords):
        raise CoordinateError(
            f"`params` {params} must be distinct symbols that are not coordinates of chart {chart.name!r} "
            f"{chart.coords}."
        )
    G = metric.matrix
    extra = _free_params([loss, *G], chart) - set(params)
    if extra:
        names = sorted(map(str, extra))
        raise CoordinateError(
            f"`loss` and `metric` use the symbols {names}, which are neither coordinates of chart "
            f"{chart.name!r} {tuple(map(str, chart.coords))} nor listed in `params`. "
            f"Pass params=({', '.join(names)},) or substitute values for them."
        )
    res = None
    if residuals is not None:
        res = [as_expr(r, "residuals") for r in (residuals if not isinstance(residuals, sp.Expr) else [residuals])]
        if strategy not in ("auto", "qr"):
            raise SolverSettingsError(f"`residuals` go with strategy='qr' (or 'auto'); got strategy={strategy!r}.")
        strategy = "qr"
        extra = _free_params(res, chart) - set(params)
        if extra:
            raise CoordinateError(
                f"`residuals` use {sorted(map(str, extra))}, which are neither coordinates nor listed in `params`."
            )
    elif strategy == "qr":
        raise SolverSettingsError(
            "`strategy='qr'` needs `residuals`: the r with loss = |r|^2 / 2 and metric = J^T J, J = dr/dx."
        )
    key = derivation_key(
        chart.name, sp.srepr(chart.coords), sp.srepr(params), sp.srepr(loss), sp.srepr(G), strategy, sp.srepr(res)
    )
    stored = load_derivation(key)
    if stored is not None:
        chosen, source = stored["strategy"], stored["source_text"]
        velocity = None if stored["velocity"] is None else [sp.sympify(v) for v in stored["velocity"]]
    else:
        grad = [sp.diff(loss, c) for c in chart.coords]
        chosen = _choose_strategy(metric, strategy)
        if chosen == "qr":
            _check_gauss_newton(chart, params, G, grad, res)
            velocity = None
        elif chosen == "exact":
            velocity = _exact_velocity(G, grad, chart.coords)
        elif chosen == "symbolic":
            velocity = _symbolic_velocity(metric, grad)
        else:
            velocity = None
        source = generate_source(chart, params, loss, grad, G, velocity, res)
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
    return FlowField(
        chart=chart,
        params=params,
        loss_expr=loss,
        riemannian_metric=metric,
        velocity_expr=tuple(velocity) if velocity is not None else None,
        strategy=chosen,
        source=source,
        path=Path(path),
        _module=module,
    )


def geodesic_field(metric: Metric, variational: bool = False) -> FlowField:
    """Compiled kernels of the geodesic equations of ``metric``, as a first-order flow.

    The state is ``(x, v)`` on a phase chart with the coordinates of
    ``metric.chart`` followed by one velocity per coordinate (named ``v_<coordinate>``,
    real); the field is ``dx/dt = v``, ``dv^k/dt = -Gamma^k_ij v^i v^j`` with the
    Christoffel symbols of ``metric`` (exact, cached on the metric). Its "loss" is the
    energy ``g(v, v)``, which is constant along a geodesic, so a result's ``losses``
    check the integration. The phase chart keeps the domain of ``metric.chart``
    (``sigma > 0``), so a geodesic that leaves it gets :attr:`Status.LEFT_DOMAIN`.
    Used by :func:`riemgrad.geodesic`; cached per process and on disk like any field.

    With ``variational``, the state also carries the derivative of ``(x, v)``
    with respect to the initial velocity, ``dx_i_j = dx^i/dv0^j`` then
    ``dv_i_j = dv^i/dv0^j`` (row-major), which obeys the linearized equations
    ``d(delta)/dt = DF(x, v) delta`` (Jacobi fields); started from ``0`` and the
    identity, its ``dx`` block at time 1 is the Jacobian of the exponential map,
    which :func:`riemgrad.log_map` uses.

    Parameters
    ----------
    metric : Metric
        A metric whose entries involve only the chart's coordinates.
    variational : bool
        Also integrate the Jacobian with respect to the initial velocity.

    Returns
    -------
    FlowField
        With ``strategy == "geodesic"``, on a chart of dimension ``2 * metric.dim``
        (``2 * dim + 2 * dim**2`` with ``variational``).

    Raises
    ------
    CoordinateError
        If the metric's entries involve other symbols.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, Metric
    >>> x = sp.Symbol("x", real=True)
    >>> y = sp.Symbol("y", positive=True)
    >>> field = geodesic_field(Metric(Chart("half_plane", (x, y)), sp.diag(1 / y**2, 1 / y**2)))
    >>> field.chart.coords, field.velocity_expr[2:]
    ((x, y, v_x, v_y), (2*v_x*v_y/y, (-v_x**2 + v_y**2)/y))
    >>> field.loss([0.0, 2.0, 1.0, 0.0]).item()   # g(v, v) = |v|^2 / y^2
    0.25
    """
    require_metric(metric)
    cached = _GEODESIC_FIELDS.get(metric, {}).get(variational)
    if cached is not None:
        return cached
    chart = metric.chart
    G = metric.matrix
    extra = _free_params(list(G), chart)
    if extra:
        raise CoordinateError(
            f"The metric on chart {chart.name!r} uses the symbols {sorted(map(str, extra))}, which are not "
            f"coordinates {tuple(map(str, chart.coords))}; substitute values for them (metric.subs(...)) "
            "before computing geodesics."
        )
    n = chart.dim
    taken = {s.name for s in chart.coords}
    vel = []
    for c in chart.coords:
        name = f"v_{c.name}"
        while name in taken:
            name = "_" + name
        taken.add(name)
        vel.append(sp.Symbol(name, real=True))
    dx = [[sp.Symbol(f"dx_{i}_{j}", real=True) for j in range(n)] for i in range(n)] if variational else []
    dv = [[sp.Symbol(f"dv_{i}_{j}", real=True) for j in range(n)] for i in range(n)] if variational else []
    jac = [s_ for row in dx for s_ in row] + [s_ for row in dv for s_ in row]
    phase = Chart(f"{chart.name}_tangent", tuple(chart.coords) + tuple(vel) + tuple(jac))
    energy = sp.Add(*[G[i, j] * vel[i] * vel[j] for i in range(n) for j in range(n) if G[i, j] != 0])
    eye = sp.ImmutableMatrix(sp.eye(phase.dim))
    key = derivation_key(chart.name, sp.srepr(chart.coords), sp.srepr(G), "geodesic", str(variational))
    stored = load_derivation(key)
    if stored is not None:
        source = stored["source_text"]
        velocity = [sp.sympify(v) for v in stored["velocity"]]
    else:
        gamma = metric.christoffel().components
        acc = []
        for k in range(n):
            terms = [gamma[k, i, j] * vel[i] * vel[j] for i in range(n) for j in range(n) if gamma[k, i, j] != 0]
            acc.append(simplify_expr(-sp.Add(*terms)))
        velocity = list(vel) + acc
        if variational:
            # d(dx)/dt = dv; d(dv_k)/dt = sum_i (d acc_k / d x_i) dx_i + (d acc_k / d v_i) dv_i
            velocity += [dv[i][j] for i in range(n) for j in range(n)]
            da_dx = [[simplify_expr(sp.diff(acc[k], chart.coords[i])) for i in range(n)] for k in range(n)]
            da_dv = [[sp.diff(acc[k], vel[i]) for i in range(n)] for k in range(n)]
            velocity += [
                sp.Add(*[da_dx[k][i] * dx[i][j] + da_dv[k][i] * dv[i][j] for i in range(n)])
                for k in range(n)
                for j in range(n)
            ]
        grad = [sp.diff(energy, s) for s in phase.coords]
        source = generate_source(phase, (), energy, grad, eye, velocity, None)
    module, path = load_source(source)
    if stored is None:
        derivation = {"strategy": "geodesic", "velocity": [sp.srepr(v) for v in velocity], "source": path.name}
        store_derivation(key, derivation)
    field = FlowField(
        chart=phase,
        params=(),
        loss_expr=energy,
        riemannian_metric=Metric(phase, eye),
        velocity_expr=tuple(velocity),
        strategy="geodesic",
        source=source,
        path=Path(path),
        _module=module,
    )
    _GEODESIC_FIELDS.setdefault(metric, {})[variational] = field
    return field


#: Geodesic fields built in this process, by metric and ``variational``; an entry goes with its metric.
_GEODESIC_FIELDS: weakref.WeakKeyDictionary[Metric, dict[bool, FlowField]] = weakref.WeakKeyDictionary()
