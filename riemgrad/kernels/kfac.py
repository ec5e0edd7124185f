"""Compiled K-FAC (Martens & Grosse 2015) for the layered models of :func:`riemgrad.models.mlp`.

The layer structure of the model (its :class:`~riemgrad.models.Layer` records)
fixes the layout; the activation, its derivative and the output family's loss,
gradient and Hessian in the outputs are printed from SymPy; a fixed template
(:mod:`riemgrad.kernels._kfac_template`) runs the forward and backward pass over
the rows of the data, given at call time, and accumulates per layer

- A_l = E[a a^T], a the layer's inputs with a 1 appended (for the bias), shape (n_in + 1, n_in + 1);
- G_l = E_x[J_l^T H J_l] (the true Fisher, ``fisher="true"``: J_l = dz/ds_l the
  Jacobian of the outputs z in the layer's pre-activations s_l, H the output
  family's Fisher, so the expectation over y ~ p(y | x; theta) is taken
  analytically, never by sampling), or G_l = E_data[g g^T] with
  g = d(-log p(y_i | x_i)) / ds_l at the data's labels (``fisher="empirical"``),
  shape (n_out, n_out).

The vec ordering: layer l's parameters, the matrix [W | b] of shape
(n_out, n_in + 1), stacked column by column (vec(W)_{i n_out + o} = W[o, i],
the bias column last), so the Fisher block is approximated by A_l (x) G_l
(Martens & Grosse's convention). :attr:`KFACFactors.indices` maps that order to
the chart's (weights row-major, then biases).

Examples
--------
>>> from riemgrad import models
>>> layout(models.mlp((1, 3, 1)))["SIZES"]
[1, 3, 1]
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from ..data import Dataset
from ..errors import ArgumentTypeError, MethodNotApplicableError, SolverSettingsError
from ._data_runner import run_over_data
from ._kfac_template import TEMPLATE
from .abi import DIVERGENCE_LOSS_FACTOR, DIVERGENCE_NORM_FACTOR
from .cache import load_source
from .codegen.printer import ScalarPrinter

__all__ = ["KFACFactors", "kfac_factors", "layout", "FISHERS"]

#: The two curvatures K-FAC approximates: the true Fisher (analytic in y) and the empirical Fisher.
FISHERS = ("true", "empirical")

_ACT_NAMES = ("identity", "tanh", "sigmoid", "softplus")


def _fail(what: str) -> MethodNotApplicableError:
    return MethodNotApplicableError(
        f"`model` must be a layered model (riemgrad.models.mlp(...)) for K-FAC; {what}. "
        "Build it with riemgrad.models.mlp(sizes, activation, output=...)."
    )


def layout(model: Any) -> dict[str, Any]:
    """The layer layout of an MLP model, checked against its chart and output (raises for any other model).

    Parameters
    ----------
    model : riemgrad.models.Model
        Made by :func:`riemgrad.models.mlp`.

    Returns
    -------
    dict
        ``SIZES`` (widths), ``ACT`` (activation names per layer), ``WOFF``
        (each layer's first chart index), ``K`` (outputs), ``family``.

    Raises
    ------
    MethodNotApplicableError
        If ``model`` has no layers, or its layers, chart and output do not form an MLP.

    Examples
    --------
    >>> from riemgrad import models
    >>> lay = layout(models.mlp((2, 3, 1), "sigmoid"))
    >>> lay["SIZES"], lay["ACT"], lay["WOFF"], lay["K"]
    ([2, 3, 1], ['sigmoid', 'identity'], [0, 9], 1)
    >>> layout(models.linear_regression())
    Traceback (most recent call last):
    ...
    riemgrad.errors.MethodNotApplicableError: `model` must be a layered model (riemgrad.models.mlp(...)) for K-FAC; \
'linear' has no layers. Build it with riemgrad.models.mlp(sizes, activation, output=...).
    """
    from ..models import ACTIVATIONS

    layers = getattr(model, "layers", None)
    family = getattr(model, "family", None)
    if not layers or family is None:
        got = f"got {type(model).__name__}" if family is None else f"{getattr(model, 'name', 'it')!r} has no layers"
        raise _fail(got)
    coords = tuple(model.chart.coords)
    sizes = [len(layers[0].inputs)]
    order: list = []
    woff = []
    prev = tuple(model.inputs)
    for l, lay in enumerate(layers):
        n_out, n_in = len(lay.weights), len(lay.inputs)
        if n_in != sizes[-1] or any(len(r) != n_in for r in lay.weights) or len(lay.bias) != n_out:
            raise _fail(f"layer {l} has weights of inconsistent shape")
        if lay.activation not in ACTIVATIONS or tuple(lay.inputs) != prev:
            raise _fail(f"layer {l}'s inputs are not the previous layer's activations")
        expect = tuple(sp.Add(*[w * a for w, a in zip(lay.weights[o], lay.inputs)]) + lay.bias[o] for o in range(n_out))
        if tuple(lay.preactivations) != expect:
            raise _fail(f"layer {l}'s pre-activations are not W a + b")
        woff.append(len(order))
        order += [w for row in lay.weights for w in row] + list(lay.bias)
        sizes.append(n_out)
        prev = tuple(ACTIVATIONS[lay.activation](s) for s in lay.preactivations)
    if tuple(order) != coords:
        raise _fail("its chart is not ordered layer by layer (weights row-major, then biases)")
    eta = family.eta if isinstance(family.eta, tuple) else (family.eta,)
    if layers[-1].activation != "identity" or tuple(eta) != tuple(layers[-1].preactivations):
        raise _fail("its output is not the last layer's pre-activations")
    return {"SIZES": sizes, "ACT": [lay.activation for lay in layers], "WOFF": woff, "K": len(eta),
            "family": family}


def _output_loss(family: Any) -> tuple[sp.Expr, tuple, tuple]:
    """The family's per-example NLL l(y, z) in fresh output symbols z: (l, z, the labels)."""
    l, zs = family.output_loss()
    return l, zs, tuple(family.labels)


def _source(model: Any) -> str:
    from ..models import ACTIVATIONS

    lay = layout(model)
    sizes, L = lay["SIZES"], len(lay["SIZES"]) - 1
    fam = lay["family"]
    s = sp.Dummy("s", real=True)
    dec = "@njit(cache=True, fastmath=False, error_model=\"numpy\", nogil=True)"
    used: set = set()
    # one loop per activation, the branch outside it: the loop over a chunk's rows vectorizes (vtanh, vexp, ...)
    act = [dec, "def _act_rows(k, t, a, da, m):"]
    for code, name in enumerate(_ACT_NAMES):
        f = sp.sympify(ACTIVATIONS[name](s))
        subs, (fa, fd) = sp.cse([f, sp.diff(f, s)], symbols=sp.numbered_symbols("_c"))
        names = {s: "s", **{c: str(c) for c, _ in subs}}
        pr = ScalarPrinter(names, elementary=used)
        act += [f"    if k == {code}:", "        for r in range(m):", "            s = t[r]"]
        act += [f"            {c} = {pr.doprint(e)}" for c, e in subs]
        act += [f"            a[r] = {pr.doprint(fa)}", f"            da[r] = {pr.doprint(fd)}", "        return"]
    l, zs, _ = _output_loss(fam)
    ys = tuple(fam.labels)
    names = {z: f"z{k}" for k, z in enumerate(zs)}
    names.update({y: f"y{k}" for k, y in enumerate(ys)})
    K = len(zs)
    exprs = [l] + [sp.diff(l, zk) for zk in zs] + [sp.diff(l, za, zb) for za in zs for zb in zs]
    subs, red = sp.cse(exprs, symbols=sp.numbered_symbols("_o"))
    names.update({c: str(c) for c, _ in subs})
    pr = ScalarPrinter(names)
    out = [dec, "def _out(z, y, dz, H, m):", "    tot = 0.0", "    for r in range(m):"]
    out += [f"        z{k} = z[{k}, r]" for k in range(K)] + [f"        y{k} = y[{k}, r]" for k in range(len(ys))]
    out += [f"        {c} = {pr.doprint(e)}" for c, e in subs]
    out += [f"        dz[{k}, r] = {pr.doprint(red[1 + k])}" for k in range(K)]
    out += [f"        H[{a}, {b}, r] = {pr.doprint(red[1 + K + a * K + b])}" for a in range(K) for b in range(K)]
    out += [f"        tot += {pr.doprint(red[0])}", "    return tot"]
    soff = np.concatenate([[0], np.cumsum(sizes[1:])])[:-1]
    ain = np.concatenate([[0], np.cumsum(sizes[:-1])])[:-1]
    am = [(n + 1) ** 2 for n in sizes[:-1]]
    gm = [n**2 for n in sizes[1:]]

    def arr(v: Any) -> str:
        return f"np.array({[int(t) for t in v]}, dtype=np.int64)"

    head = [
        f"# riemgrad K-FAC kernel: layers {sizes}, activations {lay['ACT']}, output {fam.output}",
        "import math",
        "import numpy as np",
        "from numba import njit",
        "",
        f"NL = {L}",
        f"SIZES = {arr(sizes)}",
        f"ACT = {arr(_ACT_NAMES.index(a) for a in lay['ACT'])}",
        f"WOFF = {arr(lay['WOFF'])}",
        f"SOFF = {arr(soff)}",
        f"AIN = {arr(ain)}",
        f"AOFF = {arr(np.concatenate([[0], np.cumsum(am)])[:-1])}",
        f"GOFF = {arr(np.concatenate([[0], np.cumsum(gm)])[:-1])}",
        f"NS = {sum(sizes[1:])}",
        f"NA = {sum(sizes[:-1])}",
        f"NAF = {sum(am)}",
        f"NGF = {sum(gm)}",
        f"K = {K}",
        f"NY = {len(ys)}",
        "CH = 256",
        "",
    ]
    from .elementary import source_for

    elem = "from riemgrad.kernels.elementary import bits_float, float_bits\n\n\n" + source_for(sorted(used)) if used \
        else ""
    return "\n".join(head) + "\n\n" + elem + "\n\n" + "\n".join(act) + "\n\n\n" + "\n".join(out) + "\n" + \
        TEMPLATE


_MODULES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _module(model: Any) -> Any:
    got = _MODULES.get(model)
    if got is None:
        got = _MODULES[model] = load_source(_source(model))[0]
    return got


def _columns(model: Any, symbols: tuple) -> tuple[np.ndarray, np.ndarray]:
    """The indices of the model's inputs and labels among ``symbols`` (a label absent: -1, allowed for "true")."""
    pos = {s: k for k, s in enumerate(symbols)}
    XC = np.array([pos[x] for x in model.inputs], dtype=np.int64)
    YC = np.array([pos.get(y, -1) for y in model.family.labels], dtype=np.int64)
    return XC, YC


def _data_matrix(model: Any, data: Any, fisher: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(data, Dataset):
        raise ArgumentTypeError(
            f"`data` must be a riemgrad.data.Dataset; got {type(data).__name__}. Use model.dataset(inputs, labels)."
        )
    data.require(tuple(model.inputs), "data")
    labels = tuple(model.family.labels)
    have = all(y in data.symbols for y in labels)
    if fisher == "empirical" or have:
        data.require(labels, "data")
        model.family.check_labels(data.matrix(labels), "data")
    syms = tuple(model.inputs) + (labels if have else ())
    Z = np.ascontiguousarray(data.matrix(syms), dtype=float)
    XC = np.arange(len(model.inputs), dtype=np.int64)
    if have:
        YC = np.arange(len(labels), dtype=np.int64) + len(model.inputs)
    else:  # the true Fisher of a canonical link needs no labels (H is free of y); the kernel reads y = 0
        l, zs, _ = _output_loss(model.family)
        if any(sp.diff(l, a, b).free_symbols & set(labels) for a in zs for b in zs):
            data.require(labels, "data")
        YC = np.full(len(labels), -1, dtype=np.int64)
    return Z, XC, YC


def _fisher(fisher: Any) -> int:
    if fisher not in FISHERS:
        raise SolverSettingsError(
            f"`fisher` must be one of {FISHERS}; got {fisher!r}. 'true' takes the expectation over the model's "
            "labels analytically, 'empirical' uses the data's labels."
        )
    return FISHERS.index(fisher)


@dataclass(frozen=True)
class KFACFactors:
    """The Kronecker factors of a layered model at one point, for inspection.

    Attributes
    ----------
    A : tuple of numpy.ndarray, each shape (n_in + 1, n_in + 1)
        E[a a^T] per layer, the bias entry 1 last.
    G : tuple of numpy.ndarray, each shape (n_out, n_out)
        E[g g^T] per layer (true or empirical Fisher, see :func:`kfac_factors`).
    indices : tuple of numpy.ndarray of int, each shape ((n_in + 1) n_out,)
        For each layer, the chart index of each entry of vec([W | b]) (column by column):
        ``indices[l][i * n_out + o]`` is the index of W[o, i] (i < n_in) or b[o] (i = n_in).
    dim : int
        The number of parameters.
    fisher : {"true", "empirical"}

    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad import models
    >>> m = models.mlp((1, 2, 1))
    >>> f = kfac_factors(m, m.dataset([0.0, 1.0], [0.0, 1.0]), np.zeros(7))
    >>> [a.shape for a in f.A], [g.shape for g in f.G]
    ([(2, 2), (3, 3)], [(2, 2), (1, 1)])
    >>> f.indices[1].tolist()   # vec([W1 | b1]) = (W1_0_0, W1_0_1, b1_0): chart indices 4, 5, 6
    [4, 5, 6]
    """

    A: tuple
    G: tuple
    indices: tuple
    dim: int
    fisher: str

    def block(self, layer: int) -> np.ndarray:
        """A_l (x) G_l, shape (n_params_l, n_params_l), in the vec order of :attr:`indices` (``np.kron``)."""
        return np.kron(self.A[layer], self.G[layer])

    def matrix(self) -> np.ndarray:
        """The block-diagonal K-FAC matrix in the chart's order, shape (dim, dim) (zero between layers)."""
        M = np.zeros((self.dim, self.dim))
        for l, idx in enumerate(self.indices):
            M[np.ix_(idx, idx)] = self.block(l)
        return M


def _indices(lay: dict) -> tuple:
    out = []
    for l, w0 in enumerate(lay["WOFF"]):
        nin, nout = lay["SIZES"][l], lay["SIZES"][l + 1]
        out.append(np.array([w0 + o * nin + i if i < nin else w0 + nin * nout + o
                             for i in range(nin + 1) for o in range(nout)], dtype=np.int64))
    return tuple(out)


def _split(lay: dict, A: np.ndarray, G: np.ndarray) -> tuple[tuple, tuple]:
    As, Gs, a0, g0 = [], [], 0, 0
    for nin, nout in zip(lay["SIZES"][:-1], lay["SIZES"][1:]):
        As.append(A[a0:a0 + (nin + 1) ** 2].reshape(nin + 1, nin + 1).copy())
        Gs.append(G[g0:g0 + nout**2].reshape(nout, nout).copy())
        a0, g0 = a0 + (nin + 1) ** 2, g0 + nout**2
    return tuple(As), tuple(Gs)


def kfac_factors(model: Any, data: Dataset, x: Any, *, fisher: str = "true") -> KFACFactors:
    """The K-FAC factors A_l = E[a a^T] and G_l = E[g g^T] of a layered model on data at the point ``x``.

    Parameters
    ----------
    model : riemgrad.models.Model
        A model with layer structure, from :func:`riemgrad.models.mlp`.
    data : Dataset
        The rows (inputs; labels needed for ``fisher="empirical"``), e.g. ``model.dataset(X, y)``.
    x : array_like, shape (dim,)
        The parameters in the model's chart.
    fisher : {"true", "empirical"}
        "true": G_l = E_x[J_l^T H J_l], the expectation over y ~ p(y | x; theta)
        taken analytically through the output family's Fisher H (for a normal
        output of variance s^2, H = 1 / s^2); "empirical": g at the data's labels.

    Returns
    -------
    KFACFactors

    Raises
    ------
    MethodNotApplicableError
        If ``model`` has no layer structure (e.g. ``models.linear_regression()``).
    ArgumentTypeError, ShapeError, DataError, SolverSettingsError
        For ``data`` that is not a Dataset or lacks columns, labels outside the
        family's support, a wrong-sized ``x``, an unknown ``fisher``.

    Notes
    -----
    For one linear layer with a normal output and fixed inputs, g = (y - f)/s^2
    is free of theta's layer inputs and E_y[g g^T] = I / s^2, so the Fisher
    block is exactly A (x) G: K-FAC is exact there. With hidden layers
    it is the approximation E[a a^T (x) g g^T] ~ E[a a^T] (x) E[g g^T].

    References
    ----------
    J. Martens and R. Grosse, "Optimizing neural networks with Kronecker-factored
    approximate curvature", ICML 2015, sec. 3.

    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad import models
    >>> m = models.mlp((1, 1), activation="identity")   # f = W x + b, one linear layer
    >>> f = kfac_factors(m, m.dataset([1.0, 3.0]), [0.0, 0.0])
    >>> f.A[0].tolist(), f.G[0].tolist()   # E[(x, 1)(x, 1)^T], the normal output's Fisher 1
    ([[5.0, 2.0], [2.0, 1.0]], [[1.0]])
    """
    from ..errors import ShapeError

    mode = _fisher(fisher)
    lay = layout(model)
    Z, XC, YC = _data_matrix(model, data, fisher)
    d = model.chart.dim
    th = np.array(x, dtype=float)
    if th.shape != (d,) or not np.isfinite(th).all():
        raise ShapeError(f"`x` must be a finite point of shape ({d},) in the model's chart; got {th.shape}.")
    module = _module(model)
    A, G, g = np.empty(module.NAF), np.empty(module.NGF), np.empty(d)
    module._stats(th, Z, XC, YC, mode, A, G, g)
    n = Z.shape[0]
    As, Gs = _split(lay, A / n, G / n)
    return KFACFactors(As, Gs, _indices(lay), d, fisher)


# ---------------------------------------------------------------- the model of a field, and runs
_FIELD_MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _value(e: sp.Expr, at: dict) -> float:
    try:
        return float(e.xreplace(at).evalf())
    except (TypeError, ValueError):
        return math.nan


def model_of_field(field: Any, model: Any = None) -> Any:
    """The MLP model a data field was compiled from: ``model`` (checked), else recovered from the field.

    Without ``model``, the layer widths are read off the chart's coordinate names
    (``W{l}_{o}_{i}``, ``b{l}_{o}``) and each activation of the catalogue is
    tried: the one whose per-example loss equals the field's (compared at a
    pseudo-random point and the first data row) is used.

    Raises
    ------
    MethodNotApplicableError
        If the field's chart is not an MLP's, or no catalogue MLP has its loss.

    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad import compile_data_flow, gauss_newton_metric, models
    >>> m = models.mlp((1, 2, 1), "sigmoid")
    >>> data = m.dataset(np.linspace(-1, 1, 5), np.zeros(5))
    >>> field = compile_data_flow(gauss_newton_metric(m.residual, m.chart, data=data), m.residual**2 / 2)
    >>> model_of_field(field).layers[0].activation
    'sigmoid'
    """
    from ..models import mlp

    if model is not None:
        layout(model)
        if tuple(model.chart.coords) != tuple(field.chart.coords):
            raise MethodNotApplicableError(
                f"`model` must be the model the field was compiled from; its coordinates "
                f"{tuple(model.chart.coords)[:3]}... differ from the field's {tuple(field.chart.coords)[:3]}...."
            )
        return model
    got = _FIELD_MODELS.get(field)
    if got is not None:
        return got
    names = [c.name for c in field.chart.coords]
    sizes: dict[int, list[int]] = {}
    for nm in names:
        parts = nm.split("_")
        if nm.startswith("W") and len(parts) == 3 and parts[0][1:].isdigit():
            l, o, i = int(parts[0][1:]), int(parts[1]), int(parts[2])
            sz = sizes.setdefault(l, [0, 0])
            sz[0], sz[1] = max(sz[0], i + 1), max(sz[1], o + 1)
    widths = [sizes[l][0] for l in sorted(sizes)] + ([sizes[max(sizes)][1]] if sizes else [])
    fam = field.family
    outputs = [fam.output] if fam is not None else ["normal"]
    rng = np.random.default_rng(12345)
    row = {s: float(v) for s, v in zip(field.data_symbols, field._Z(None)[0])}
    for out in outputs if sorted(sizes) == list(range(len(sizes))) and sizes else []:
        for act in ("tanh", "sigmoid", "softplus", "identity"):
            try:
                cand = mlp(tuple(widths), act, output=out)
            except Exception:  # a width the output family does not allow
                continue
            if tuple(cand.chart.coords) != tuple(field.chart.coords) or not set(cand.loss.free_symbols) - set(
                    cand.chart.coords) <= set(field.data_symbols):
                continue
            at = dict(row)
            at.update({c: float(v) for c, v in zip(cand.chart.coords, rng.normal(0.0, 0.7, len(names)))})
            a, b = _value(field.loss_expr, at), _value(cand.loss, at)
            if math.isfinite(a) and abs(a - b) <= 1e-9 * (1.0 + abs(a)):
                _FIELD_MODELS[field] = cand
                return cand
    raise MethodNotApplicableError(
        "`preconditioner` kfac(...) needs a field compiled from a layered model (riemgrad.models.mlp) with the "
        f"model's loss; this field's chart {field.chart.name!r} and loss match no MLP of the catalogue. Pass the "
        "model: kfac(model=my_mlp), or use another preconditioner."
    )


def kfac_descend(field: Any, x0: Any, *, lr: float, steps: int, saveat: Any, settings: Any,
                 data: Dataset | None) -> Any:
    """K-FAC descent of ``field`` (called by :meth:`DataField.descend` for a pair from ``preconditioners.kfac``).

    The starting points of a batch run one after another in one compiled call (the
    ``threads`` of ``DataField.descend`` is not used); the field's metric and damping
    are not used either.

    Returns
    -------
    DescentResult
    """
    from ..flows.results import DescentResult

    model = model_of_field(field, settings.model)
    mode = _fisher(settings.fisher)
    module = _module(model)
    X, shape = field._points(x0, "x0")
    Z = field._Z(data)
    XC, YC = _columns(model, field.data_symbols)
    if (YC < 0).any():
        raise MethodNotApplicableError(
            f"`data` must hold the labels {tuple(model.family.labels)} for K-FAC (the gradient needs them)."
        )
    idx = field._saves(saveat, int(steps), "saveat")
    XS = np.full((idx.size, X.shape[0], field.dim), np.nan)
    st = np.zeros(X.shape[0], dtype=np.int64)
    kf = np.zeros(X.shape[0], dtype=np.int64)

    def run(lo: int, hi: int, ctl: np.ndarray) -> None:  # one range: every start runs in order
        module._descend_kfac(X, Z, XC, YC, mode, float(lr), int(steps), settings.damping, settings.decay,
                             settings.inverse_every, idx, DIVERGENCE_LOSS_FACTOR, DIVERGENCE_NORM_FACTOR, XS, st, kf,
                             ctl)

    run_over_data(run, 1, 1, steps=X.shape[0] * int(steps), rows=Z.shape[0], what="K-FAC descent over data")
    return DescentResult(
        ks=idx, xs=XS.reshape((idx.size,) + shape + (field.dim,)), status=st.reshape(shape),
        k_final=kf.reshape(shape), chart=field.chart, preconditioner=f"kfac({settings.fisher})",
        _loss_fn=lambda P: field.loss(P, data),
    )
