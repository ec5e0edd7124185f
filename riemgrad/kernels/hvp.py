"""Compiled curvature-vector products over data, and the Hessian-free (truncated Newton) runs built on them.

For a per-example loss l(theta; z) two products are generated, each summed over
the rows in compiled code and never forming a d x d matrix:

- ``"hessian"``: H v = grad(grad l . v), written as the directional derivative
  of the gradient along v (the R-operator of Pearlmutter 1994): the expression
  tree of each gradient component is differentiated once in forward mode, with
  the derivative of every shared subexpression computed once, so a row costs a
  small multiple of a gradient, not d gradients;
- ``"gauss_newton"``: G v = J^T (H_out (J v)) for a field whose metric is a sum
  of outer products sum_a w_a u_a u_a^T (Gauss-Newton, Fisher, empirical
  Fisher, function space): per row, sum_a u_a (w_a (u_a . v)).

The products go into a module of their own (its own cache entry), next to a
truncated conjugate-gradient solver and a descent loop (the fixed part,
:mod:`riemgrad.kernels._hf_template`). The data field's own module is untouched.
"""

from __future__ import annotations

import hashlib
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from ..data import Dataset
from ..errors import ArgumentTypeError, CompilationError, ShapeError, SolverSettingsError
from ._data_runner import run_over_data
from ._hf_template import TEMPLATE
from .cache import derivation_key, load_derivation, load_source, store_derivation
from .codegen.printer import ScalarPrinter, assignments
from .data_kernels import _DEC, DataField, _rows

__all__ = ["PRODUCTS", "CACHE_BYTES", "directional_derivative", "hessian_vector_product",
           "gauss_newton_vector_product", "curvature_product"]

#: The curvature products: the Hessian of the loss, or the field's outer-product (Gauss-Newton) metric.
PRODUCTS = ("gauss_newton", "hessian")

#: Largest per-row cache (bytes, per thread) of the v-free part of the products; beyond it each CG product
#: recomputes everything from the rows (no memory beyond O(dim), the cost of a gradient per product).
CACHE_BYTES = 256 * 2**20

_OWN = hashlib.sha256((Path(__file__).read_text() + TEMPLATE).encode()).hexdigest()


# ---------------------------------------------------------------- the R-operator
def directional_derivative(
    expr: sp.Expr,
    coords: tuple[sp.Symbol, ...],
    direction: tuple[sp.Expr, ...],
    memo: dict | None = None,
    known: dict | None = None,
) -> sp.Expr:
    """The derivative of ``expr`` along ``direction``: sum_k d expr / d coords[k] * direction[k], in forward mode.

    The expression tree is walked once; the derivative of each subexpression is
    kept in ``memo`` (pass the same dict for several expressions that share
    subexpressions, e.g. the components of a gradient), so the result grows like
    the expression, not like ``len(coords)`` copies of it.

    Parameters
    ----------
    expr : sympy.Expr
    coords : tuple of sympy.Symbol, shape (d,)
    direction : tuple of sympy.Expr, shape (d,)
        Usually fresh symbols v_0, ..., v_{d-1}.
    memo : dict, optional
    known : dict, optional
        Symbols that stand for functions of the coordinates, mapped to their
        directional derivatives (e.g. a symbol E for exp(a) maps to E * D_v a);
        they are differentiated through, never merged (E * E stays E**2, where
        exp(a) * exp(a) would become exp(2 a), a second call to exp).

    Returns
    -------
    sympy.Expr

    Examples
    --------
    >>> import sympy as sp
    >>> a, b, va, vb = sp.symbols("a b v_a v_b")
    >>> directional_derivative(sp.tanh(a * b), (a, b), (va, vb))
    (1 - tanh(a*b)**2)*(a*v_b + b*v_a)
    """
    memo = {} if memo is None else memo
    memo.update(known or {})
    index = {c: k for k, c in enumerate(coords)}
    deps = frozenset(index) | frozenset(known or ())
    return _dd(sp.sympify(expr), index, tuple(direction), memo, deps)


def _dd(e: sp.Expr, index: dict, v: tuple, memo: dict, deps: frozenset) -> sp.Expr:
    got = memo.get(e)
    if got is not None:
        return got
    if not (e.free_symbols & deps):
        out = sp.S.Zero
    elif e.is_Symbol:
        out = v[index[e]]
    elif e.is_Add:
        out = sp.Add(*[_dd(a, index, v, memo, deps) for a in e.args])
    elif e.is_Mul:
        terms = []
        for i, a in enumerate(e.args):
            da = _dd(a, index, v, memo, deps)
            if da != 0:
                terms.append(sp.Mul(da, *(e.args[:i] + e.args[i + 1:])))
        out = sp.Add(*terms)
    elif e.is_Pow and not (e.exp.free_symbols & deps):
        out = e.exp * e.base ** (e.exp - 1) * _dd(e.base, index, v, memo, deps)
    elif isinstance(e, sp.Function) and e.args and type(e).__name__ not in ("Piecewise",):
        try:
            out = sp.Add(*[e.fdiff(i + 1) * _dd(a, index, v, memo, deps) for i, a in enumerate(e.args)
                           if a.free_symbols & deps])
        except (sp.ArgumentIndexError, NotImplementedError, TypeError):
            out = _fallback(e, index, v, memo, deps)
    else:  # general powers, Piecewise, Abs, ...: the chain rule through sympy's own derivative
        out = _fallback(e, index, v, memo, deps)
    memo[e] = out
    return out


def _fallback(e: sp.Expr, index: dict, v: tuple, memo: dict, deps: frozenset) -> sp.Expr:
    return sp.Add(*[sp.diff(e, s) * (v[index[s]] if s in index else memo[s]) for s in e.free_symbols & deps])


# ---------------------------------------------------------------- generation
def _zloads(exprs: list, zsyms: tuple) -> list[str]:
    used: set = set()
    for e in exprs:
        used |= e.free_symbols
    return [f"        z{k} = Z[i, {k}]" for k, s in enumerate(zsyms) if s in used]


def _check_product(field: DataField, product: str) -> None:
    if product not in PRODUCTS:
        raise SolverSettingsError(f"`product` must be one of {PRODUCTS}; got {product!r}.")
    if product == "gauss_newton" and field.metric_data.kind != "outer":
        raise SolverSettingsError(
            f"`product` 'gauss_newton' needs a field whose metric is a sum of outer products J^T W J "
            f"(Gauss-Newton, Fisher, empirical Fisher, function space); this field's metric is the "
            f"{field.metric_data.name} metric. Use product='hessian', or compile the field with "
            "gauss_newton_metric(...) or fisher_metric(...)."
        )


def generate_hf_source(field: DataField, product: str) -> str:
    """The generated Hessian-free module of ``field`` for ``product`` ("hessian" or "gauss_newton").

    Defines ``NC``, ``_rows_loss``, ``_rows_grad``, ``_rows_grad_fill`` (the gradient and the v-free
    part of the product, per row into the cache C), ``_rows_prod_cached`` (the part linear in v, reading
    C) and ``_rows_prod`` (the whole product from the rows), followed by the fixed part
    (:mod:`riemgrad.kernels._hf_template`: damped product, CG, descent). The data columns are read in
    the order of ``field.data_symbols``.
    """
    _check_product(field, product)
    coords = field.chart.coords
    d = len(coords)
    zsyms = field.data_symbols
    vs = tuple(sp.Dummy(f"v{k}") for k in range(d))
    names = {c: f"t{k}" for k, c in enumerate(coords)}
    names.update({s: f"z{k}" for k, s in enumerate(zsyms)})
    names.update({s: f"v{k}" for k, s in enumerate(vs)})
    tloads = [f"    t{k} = th[{k}]" for k in range(d)]
    loss = field.loss_expr
    grad = [sp.factor_terms(sp.diff(loss, c)) for c in coords]
    head = [
        f"# riemgrad Hessian-free kernel ({product} products): DIM={d}, data columns "
        f"{', '.join(map(str, zsyms))} (Z[:, k] in this order),",
        f"# coordinates {', '.join(map(str, coords))} (th[k]); metric {field.metric_data.name!r}.",
        "import math",
        "import numpy as np",
        "from numba import njit",
        "",
        f"DIM = {d}",
        "",
    ]
    parts = ["\n".join(head)]
    parts.append(_rows("def _rows_loss(th, Z):", [loss], ["r"], names, tloads, _zloads([loss], zsyms),
                       ["        acc += r"], ["    acc = 0.0"], ["    return acc"]))
    pre = [f"    s{k} = 0.0" for k in range(d)]
    acc = [f"        s{k} += g{k}" for k in range(d)]
    post = [f"    g[{k}] = s{k}" for k in range(d)]
    parts.append(_rows("def _rows_grad(th, Z, g):", grad, [f"g{k}" for k in range(d)], names, tloads,
                       _zloads(grad, zsyms), acc, pre, post))
    vloads = [f"    v{k} = v[{k}]" for k in range(d)]
    vset = set(vs)
    gnames = [f"g{k}" for k in range(d)]
    if product == "hessian":
        # Each innermost exp(a) of the gradient becomes a symbol E (computed once per row, first):
        # differentiated as E * D_v a, it is never merged into exp(2 a), a second call.
        atoms = sorted({a for gk in grad for a in gk.atoms(sp.exp) if not a.args[0].atoms(sp.exp)},
                       key=sp.default_sort_key)
        place = {a: sp.Dummy(f"e{j}") for j, a in enumerate(atoms)}
        known = {E: E * directional_derivative(a.args[0], coords, vs) for a, E in place.items()}
        memo: dict = {}
        grad_p = [gk.xreplace(place) for gk in grad]
        hv = [directional_derivative(gk, coords, vs, memo, known) for gk in grad_p]
        names.update({E: f"_e{j}" for j, E in enumerate(place.values())})
        first = assignments(atoms, [names[E] for E in place.values()], names, indent="        ") if atoms else []
        # one cse over the product and the gradient; the subexpressions free of v are the per-row cache
        subs, reduced = sp.cse(hv + grad_p, symbols=sp.numbered_symbols("_h"), order="none")
        dep: set = set()
        for sym, e in subs:
            if e.free_symbols & (vset | dep):
                dep.add(sym)
        free = [(sym, e) for sym, e in subs if sym not in dep]
        hs, gs = [sp.Dummy(f"h{k}") for k in range(d)], [sp.Dummy(f"g{k}") for k in range(d)]
        later = [(sym, e) for sym, e in subs if sym in dep] + list(zip(hs, reduced[:d]))
        used = set().union(*[e.free_symbols for _, e in later])
        cached = [E for E in place.values() if E in used] + [sym for sym, _ in free if sym in used]
        needed = set(used)
        for sym, e in reversed(free):  # the v-free lines the uncached product needs
            if sym in needed:
                needed |= e.free_symbols
        names.update({sym: str(sym) for sym, _ in subs})
        names.update({h: f"h{k}" for k, h in enumerate(hs)})
        names.update({g: f"g{k}" for k, g in enumerate(gs)})
        fused = first + _print(free + list(zip(gs, reduced[d:])), names)
        direct_free = first + _print([(sym, e) for sym, e in free if sym in needed], names)
        dep_lines = _print(later, names)
        acc = [f"        s{k} += h{k}" for k in range(d)]
        zfused = _zloads(atoms + [e for _, e in free] + list(reduced[d:]), zsyms)
        zdirect = _zloads(atoms + [e for sym, e in free if sym in needed], zsyms)
        zdep = _zloads([e for _, e in later], zsyms)
        cached_names = [names[c] for c in cached]
    else:
        exprs, targets, dep_lines = [], [], []
        for a, (w, u) in enumerate(field.metric_data.factors):
            exprs.append(w)
            targets.append(f"w{a}")
            nz = [k for k in range(d) if u[k] != 0]
            exprs.extend(u[k] for k in nz)
            targets.extend(f"u{a}_{k}" for k in nz)
            jv = " + ".join(f"u{a}_{k} * v{k}" for k in nz) or "0.0"
            dep_lines.append(f"        q = w{a} * ({jv})")
            dep_lines.extend(f"        s{k} += q * u{a}_{k}" for k in nz)
        fused = assignments(grad + exprs, gnames + targets, names, indent="        ")
        direct_free = assignments(exprs, targets, names, indent="        ")
        acc, zdep, cached_names = [], [], targets
        zfused, zdirect = _zloads(grad + exprs, zsyms), _zloads(exprs, zsyms)
    parts.append(_product_functions(tloads, vloads, d, fused, direct_free, cached_names, dep_lines, acc, zfused,
                                    zdirect, zdep))
    return "\n\n".join(parts) + TEMPLATE


def _print(pairs: list, names: dict) -> list[str]:
    printer = ScalarPrinter(names)
    try:
        return [f"        {names[sym]} = {printer.doprint(e)}" for sym, e in pairs]
    except Exception as exc:  # PrintMethodNotImplementedError and friends
        raise CompilationError(
            f"cannot generate numeric code for the Hessian-vector product: {exc}. riemgrad compiles elementary "
            "functions (exp, log, sqrt, powers, trigonometric and hyperbolic functions); rewrite the loss with those."
        ) from None


def _product_functions(tloads: list, vloads: list, d: int, fused: list, direct_free: list, cached: list,
                       dep_lines: list, acc: list, zfused: list, zdirect: list, zdep: list) -> str:
    """``_rows_grad_fill`` (the gradient and the v-free part of the product per row into C, one pass),
    ``_rows_prod_cached`` (the v-dependent part, reading C) and ``_rows_prod`` (recomputing everything
    from the rows: for data too large to cache)."""
    pre = [f"    s{k} = 0.0" for k in range(d)]
    loop = "    for i in range(Z.shape[0]):"
    fill = [_DEC, "def _rows_grad_fill(th, Z, g, C):", *tloads, *pre, loop, *zfused, *fused,
            *[f"        C[i, {m}] = {nm}" for m, nm in enumerate(cached)],
            *[f"        s{k} += g{k}" for k in range(d)], *[f"    g[{k}] = s{k}" for k in range(d)]]
    post = [f"    out[{k}] = s{k}" for k in range(d)]
    use = [_DEC, "def _rows_prod_cached(th, Z, C, v, out):", *tloads, *vloads, *pre, loop, *zdep,
           *[f"        {nm} = C[i, {m}]" for m, nm in enumerate(cached)], *dep_lines, *acc, *post]
    zall = list(dict.fromkeys(zdirect + zdep))
    direct = [_DEC, "def _rows_prod(th, Z, v, out):", *tloads, *vloads, *pre, loop, *zall, *direct_free,
              *dep_lines, *acc, *post]
    return f"NC = {len(cached)}\n\n\n" + "\n".join(fill) + "\n\n\n" + "\n".join(use) + "\n\n\n" + \
        "\n".join(direct) + "\n"


_MODULES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def hf_module(field: DataField, product: str) -> Any:
    """The compiled Hessian-free module of ``field`` for ``product`` (derived once, cached on disk and per field)."""
    if not isinstance(field, DataField):
        raise ArgumentTypeError(
            f"`field` must be a DataField (from compile_data_flow); got {type(field).__name__}."
        )
    _check_product(field, product)
    per_field = _MODULES.setdefault(field, {})
    if product in per_field:
        return per_field[product]
    metric = field.metric_data
    key = derivation_key(
        "hf-kernel", _OWN, product, sp.srepr(field.loss_expr),
        sp.srepr(tuple(metric.per_example_exprs())) if product == "gauss_newton" else "",
        sp.srepr(field.chart.coords), sp.srepr(field.data_symbols),
    )
    got = load_derivation(key)
    source = got["source_text"] if got is not None else generate_hf_source(field, product)
    module, path = load_source(source)
    if got is None:
        store_derivation(key, {"strategy": f"hf-{product}", "velocity": None, "source": path.name})
    per_field[product] = module
    return module


# ---------------------------------------------------------------- products
def _row_cache(module: Any, n: int) -> tuple[np.ndarray, bool]:
    """The per-row cache C of shape (n, NC) and True, or a placeholder and False when it would be too large."""
    if n * max(module.NC, 1) * 8 <= CACHE_BYTES:
        return np.empty((n, max(module.NC, 1))), True
    return np.empty((1, 1)), False


def _pair(field: DataField, x: Any, v: Any) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    X, shape = field._points(x)
    V = np.array(v, dtype=float)
    if V.ndim not in (1, 2) or V.shape[-1] != field.dim:
        raise ShapeError(f"`v` must have shape ({field.dim},) or (batch, {field.dim}); got {V.shape}.")
    V = V.reshape(-1, field.dim)
    if V.shape[0] not in (1, X.shape[0]):
        raise ShapeError(f"`v` must hold one direction or one per point ({X.shape[0]}); got {V.shape[0]}.")
    V = np.ascontiguousarray(np.broadcast_to(V, X.shape))
    return X, V, shape


def curvature_product(
    field: DataField, x: Any, v: Any, *, product: str = "hessian", damping: float = 0.0, data: Dataset | None = None
) -> np.ndarray:
    """(B(x) + damping I) v, with B the Hessian of the average loss or the field's Gauss-Newton metric.

    Computed row by row in compiled code (:func:`hessian_vector_product`,
    :func:`gauss_newton_vector_product`); the d x d matrix is never formed.

    Parameters
    ----------
    field : DataField
    x : array_like, shape (dim,) or (batch, dim)
    v : array_like, shape (dim,) or (batch, dim)
        One direction (used at every point) or one per point.
    product : {"hessian", "gauss_newton"}
    damping : float
        lam >= 0 added as lam * v.
    data : Dataset, optional
        Other rows with the same columns (default: the field's data).

    Returns
    -------
    numpy.ndarray, shape (dim,) or (batch, dim)

    Raises
    ------
    SolverSettingsError
        For an unknown ``product``, "gauss_newton" on a field whose metric is not
        a sum of outer products, or a negative ``damping``.
    ShapeError
        If ``x`` or ``v`` has the wrong shape.

    Examples
    --------
    >>> import numpy as np, sympy as sp
    >>> from riemgrad import Chart, gauss_newton_metric, compile_data_flow
    >>> from riemgrad.data import Dataset
    >>> a, x, y = sp.symbols("a x y", real=True)
    >>> r = sp.exp(a * x) - y
    >>> data = Dataset({x: [0.0, 1.0], y: [1.0, 2.0]})
    >>> field = compile_data_flow(gauss_newton_metric(r, Chart("a", (a,)), data=data), r**2 / 2)
    >>> curvature_product(field, [0.0], [1.0], product="gauss_newton").tolist()   # E[x^2] at a = 0
    [0.5]
    >>> curvature_product(field, [0.0], [1.0]).tolist()   # + E[r x^2 e^{ax}] = 0.5 + (-1) / 2
    [0.0]
    """
    from .data_kernels import _damping

    lam = _damping(damping)
    module = hf_module(field, product)
    X, V, shape = _pair(field, x, v)
    OUT = np.empty_like(X)
    Z = field._Z(data)
    module._products(X, V, Z, *_row_cache(module, Z.shape[0]), lam, OUT)
    return OUT.reshape(shape + (field.dim,))


def hessian_vector_product(field: DataField, x: Any, v: Any, data: Dataset | None = None) -> np.ndarray:
    """H(x) v, H the Hessian of the field's average loss, by the R-operator (see :func:`curvature_product`).

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, hessian_metric, compile_data_flow
    >>> from riemgrad.data import Dataset
    >>> a, b, x = sp.symbols("a b x", real=True)
    >>> loss = (a * x + b) ** 2 / 2
    >>> field = compile_data_flow(hessian_metric(loss, Chart("ab", (a, b)), data=Dataset({x: [1.0, 3.0]})), loss)
    >>> hessian_vector_product(field, [0.0, 0.0], [1.0, 0.0]).tolist()   # first column of E[[x^2, x], [x, 1]]
    [5.0, 2.0]
    """
    return curvature_product(field, x, v, product="hessian", data=data)


def gauss_newton_vector_product(field: DataField, x: Any, v: Any, data: Dataset | None = None) -> np.ndarray:
    """G(x) v = E_data[J^T W J] v for a field with an outer-product metric (see :func:`curvature_product`).

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, gauss_newton_metric, compile_data_flow
    >>> from riemgrad.data import Dataset
    >>> a, b, x = sp.symbols("a b x", real=True)
    >>> r = a * x + b
    >>> field = compile_data_flow(gauss_newton_metric(r, Chart("ab", (a, b)), data=Dataset({x: [1.0, 3.0]})), r**2 / 2)
    >>> gauss_newton_vector_product(field, [0.0, 0.0], [0.0, 1.0]).tolist()
    [2.0, 1.0]
    """
    return curvature_product(field, x, v, product="gauss_newton", data=data)


# ---------------------------------------------------------------- runs
def hf_descend(
    field: DataField,
    x0: Any,
    *,
    lr: float,
    steps: int,
    saveat: Any,
    settings: Any,
    damping: float | None,
    data: Dataset | None,
    threads: int,
) -> Any:
    """Hessian-free descent of ``field`` (called by :meth:`DataField.descend` for a :func:`hessian_free` pair).

    Returns
    -------
    HessianFreeResult
    """
    from ..flows.hessian_free import HessianFreeResult  # the record type of the next stage, loaded on use

    lam = field._lam(damping) if settings.damping is None else settings.damping
    if settings.adapt_damping and lam == 0.0:
        raise SolverSettingsError(
            "`damping` must be > 0 with hessian_free(adapt_damping=True) (the adaptation multiplies it); the run's "
            "damping is 0. Pass hessian_free(damping=1.0, adapt_damping=True)."
        )
    if int(threads) != threads or threads < 1:
        raise SolverSettingsError(f"`threads` must be a positive integer; got {threads!r}.")
    module = hf_module(field, settings.product)
    X, shape = field._points(x0, "x0")
    Z = field._Z(data)
    steps = int(steps)
    idx = field._saves(saveat, steps, "saveat")
    B = X.shape[0]
    XS = np.full((idx.size, B, field.dim), np.nan)
    st = np.zeros(B, dtype=np.int64)
    kf = np.zeros(B, dtype=np.int64)
    its = np.zeros((steps, B), dtype=np.int64)
    stops = np.zeros((steps, B), dtype=np.int64)
    lams = np.full((steps, B), np.nan)
    args = (Z, float(lr), steps, lam, bool(settings.adapt_damping), settings.max_cg, settings.tol,
            settings.progress_tol, settings.warm_start, field._dom, idx)

    def run(lo: int, hi: int, ctl: np.ndarray) -> None:
        xs = np.full((idx.size, hi - lo, field.dim), np.nan)
        s, f = np.zeros(hi - lo, np.int64), np.zeros(hi - lo, np.int64)
        a, b, c = np.zeros((steps, hi - lo), np.int64), np.zeros((steps, hi - lo), np.int64), \
            np.full((steps, hi - lo), np.nan)
        Zc = args[0]
        module._descend_hf(np.ascontiguousarray(X[lo:hi]), Zc, *_row_cache(module, Zc.shape[0]), *args[1:],
                           xs, s, f, a, b, c, ctl)
        XS[:, lo:hi], st[lo:hi], kf[lo:hi], its[:, lo:hi], stops[:, lo:hi], lams[:, lo:hi] = xs, s, f, a, b, c

    # a CG iteration costs about two passes over the rows: count each step as (max_cg + 1) passes
    run_over_data(run, B, threads, steps=steps, rows=Z.shape[0] * (settings.max_cg + 1),
                  what=f"Hessian-free descent over data ({settings.product} products)")
    from dataclasses import replace

    return HessianFreeResult(
        ks=idx, xs=XS.reshape((idx.size,) + shape + (field.dim,)), status=st.reshape(shape),
        k_final=kf.reshape(shape), chart=field.chart, preconditioner=f"hessian_free({settings.product})",
        _loss_fn=lambda P: field.loss(P, data), cg_iterations=its.reshape((steps,) + shape),
        cg_stops=stops.reshape((steps,) + shape), dampings=lams.reshape((steps,) + shape),
        settings=replace(settings, damping=lam),
    )
