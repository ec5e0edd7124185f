"""A catalogue of per-example models with their parameter charts and output families.

Each function returns a :class:`Model`: the per-example output f(x; theta) as
SymPy, the chart of its parameters, the input and label symbols, the
conditional family p(y | x; theta) of the label and its negative log-likelihood,
and (for multilayer perceptrons) the layer structure that K-FAC needs. Data
never enter the expressions; bind them with :meth:`Model.dataset`.

Examples
--------
>>> import numpy as np
>>> from riemgrad import models
>>> m = models.logistic_regression(2)
>>> m.chart.coords
(b, w0, w1)
>>> m.output
b + w0*x0 + w1*x1
>>> m.dataset(np.zeros((3, 2)), [0, 1, 1])
Dataset(n=3, columns: (x0, x1) (3, 2), y (3,))
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import sympy as sp

from .data import Dataset
from .errors import MethodNotApplicableError, ShapeError
from .symbolic import Chart
from .symbolic._util import Frozen
from .symbolic.conditional import ConditionalFamily, one_hot

__all__ = [
    "Model",
    "Layer",
    "linear_regression",
    "polynomial_regression",
    "logistic_regression",
    "softmax_regression",
    "poisson_regression",
    "mlp",
    "ACTIVATIONS",
]


def _sigmoid(s: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-s))


#: The activations of :func:`mlp`.
ACTIVATIONS = {
    "tanh": sp.tanh,
    "sigmoid": _sigmoid,
    "softplus": lambda s: sp.log(1 + sp.exp(s)),
    "identity": lambda s: s,
}


class Layer(NamedTuple):
    """One dense layer a_out = phi(W a_in + b), recorded for K-FAC.

    Attributes
    ----------
    weights : tuple of tuples of sympy.Symbol, shape (n_out, n_in)
    bias : tuple of sympy.Symbol, shape (n_out,)
    activation : str
    inputs : tuple of sympy.Expr, shape (n_in,)
        The layer's input activations a_in (per example).
    preactivations : tuple of sympy.Expr, shape (n_out,)
        s = W a_in + b.
    """

    weights: tuple
    bias: tuple
    activation: str
    inputs: tuple
    preactivations: tuple


class Model(Frozen):
    """A per-example model: output, parameter chart, data symbols, output family, layers.

    Attributes
    ----------
    name : str
    output : sympy.Expr or tuple of sympy.Expr
        f(x; theta): the mean (normal), logit (bernoulli), log-rate (poisson)
        or logits (categorical) of one example.
    chart : Chart
        The parameters, in the order of the flat parameter vector.
    inputs : tuple of sympy.Symbol
    label : sympy.Symbol or tuple of sympy.Symbol
        The label (one-hot symbols for categorical outputs).
    family : ConditionalFamily
        p(y | x; theta).
    loss : sympy.Expr
        The per-example negative log-likelihood (for the normal family with
        variance 1: (y - f)^2 / 2).
    residual : sympy.Expr or tuple or None
        f - y for normal outputs (so ``loss = |residual|^2 / 2``); None otherwise.
    layers : tuple of Layer
        The dense layers (empty for the linear models).
    """

    def __init__(self, **attrs: Any) -> None:
        self._set(**attrs)

    def __repr__(self) -> str:
        return f"Model({self.name!r}, dim={self.chart.dim}, output={self.family.output!r})"

    def dataset(self, inputs: Any, labels: Any = None) -> Dataset:
        """Bind data: inputs of shape (n,) or (n, n_inputs), labels of shape (n,) (class indices for categorical).

        Raises
        ------
        ShapeError, DataError
            For wrong shapes, NaN/inf or labels outside the family's support.
        """
        X = np.asarray(inputs, dtype=float)
        k = len(self.inputs)
        if X.ndim == 1 and k == 1:
            X = X.reshape(-1, 1)
        if X.ndim != 2 or X.shape[1] != k:
            raise ShapeError(f"`inputs` must have shape (n, {k}) for {self.name}; got {X.shape}.")
        cols: dict[Any, Any] = {self.inputs[0]: X[:, 0]} if k == 1 else {self.inputs: X}
        if labels is not None:
            y = np.asarray(labels, dtype=float)
            if self.family.output == "categorical":
                cols[self.family.labels] = one_hot(y, len(self.family.labels))
            else:
                cols[self.label] = y
        data = Dataset(cols)
        if labels is not None:
            self.family.check_labels(data.matrix(self.family.labels), "labels")
        return data


def _syms(names: str) -> tuple[sp.Symbol, ...]:
    out = sp.symbols(names, real=True, seq=True)
    return tuple(out)


def _inputs(n: int) -> tuple[sp.Symbol, ...]:
    if n < 1:
        raise ShapeError(f"`n_features` must be at least 1; got {n}.")
    return _syms("x") if n == 1 else _syms(f"x0:{n}")


def _glm(name: str, output: str, n_features: int, intercept: bool, **kw: Any) -> Model:
    xs = _inputs(int(n_features))
    ws = _syms("w") if len(xs) == 1 else _syms(f"w0:{len(xs)}")
    coords = (_syms("b") if intercept else ()) + ws
    eta = (coords[0] if intercept else 0) + sp.Add(*[w * x for w, x in zip(ws, xs)])
    return _model(name, output, eta, Chart(name, coords), xs, **kw)


def _model(name: str, output: str, eta: Any, chart: Chart, xs: tuple, layers: tuple = (), variance: Any = 1) -> Model:
    if output == "categorical":
        label = _syms(f"y0:{len(eta)}")
    else:
        label = _syms("y")[0] if not isinstance(eta, tuple) else _syms(f"y0:{len(eta)}")
    if output == "normal" and isinstance(eta, tuple):  # independent outputs with a common variance
        fam = _VectorNormal(chart, eta, label, variance)
        residual = tuple(e - y for e, y in zip(eta, label))
    else:
        fam = ConditionalFamily(output, chart, eta, label, variance=variance)
        residual = eta - label if output == "normal" else None
    loss = fam.nll
    return Model(
        name=name, output=eta, chart=chart, inputs=xs, label=label, family=fam, loss=loss, residual=residual,
        layers=tuple(layers),
    )


class _VectorNormal(ConditionalFamily):
    """Independent normal outputs with a common known variance (a multi-output regression)."""

    def __init__(self, chart: Chart, etas: tuple, labels: tuple, variance: Any) -> None:
        s2 = sp.sympify(variance)
        c = chart.coords
        J = [tuple(sp.diff(e, ci) for ci in c) for e in etas]
        self._set(
            output="normal", chart=chart, eta=etas, label=labels, labels=labels, variance=s2,
            nll=sp.Add(*[(y - e) ** 2 for e, y in zip(etas, labels)]) / (2 * s2),
            score=tuple(sp.Add(*[(y - e) / s2 * Jk[i] for e, y, Jk in zip(etas, labels, J)]) for i in range(len(c))),
            fisher_factors=tuple((1 / s2, Jk) for Jk in J),
        )


def linear_regression(n_features: int = 1, *, intercept: bool = True, variance: Any = 1) -> Model:
    """y = b + w . x + noise, noise ~ N(0, variance): the normal family with mean b + w . x.

    Examples
    --------
    >>> linear_regression(2).output
    b + w0*x0 + w1*x1
    """
    return _glm("linear", "normal", n_features, intercept, variance=variance)


def polynomial_regression(degree: int, *, variance: Any = 1) -> Model:
    """y = sum_k theta_k x^k + noise (k = 0..degree), one input x.

    Examples
    --------
    >>> polynomial_regression(2).output
    theta0 + theta1*x + theta2*x**2
    """
    if int(degree) != degree or degree < 0:
        raise ShapeError(f"`degree` must be a non-negative integer; got {degree!r}.")
    th = _syms(f"theta0:{int(degree) + 1}")
    (x,) = _syms("x")
    eta = sp.Add(*[t * x**k for k, t in enumerate(th)])
    return _model("polynomial", "normal", eta, Chart("polynomial", th), (x,), variance=variance)


def logistic_regression(n_features: int = 1, *, intercept: bool = True) -> Model:
    """P(y = 1 | x) = sigmoid(b + w . x): the Bernoulli family with logit b + w . x.

    Examples
    --------
    >>> logistic_regression(1).loss
    -y*(b + w*x) + log(exp(b + w*x) + 1)
    """
    return _glm("logistic", "bernoulli", n_features, intercept)


def poisson_regression(n_features: int = 1, *, intercept: bool = True) -> Model:
    """y ~ Poisson(exp(b + w . x)): the log link.

    Examples
    --------
    >>> poisson_regression(1).loss
    -y*(b + w*x) + exp(b + w*x)
    """
    return _glm("poisson", "poisson", n_features, intercept)


def softmax_regression(n_features: int, n_classes: int) -> Model:
    """P(y = k | x) = softmax(z)_k, z_k = b_k + W_k . x for k < K - 1 and z_{K-1} = 0 (the reference class).

    The last class's logit is fixed to 0 so the parameters are identifiable
    and the Fisher metric is non-singular ((K - 1)(n_features + 1) parameters).

    Examples
    --------
    >>> m = softmax_regression(1, 3)
    >>> m.output
    (b0 + w0_0*x, b1 + w1_0*x, 0)
    """
    if n_classes < 2:
        raise ShapeError(f"`n_classes` must be at least 2; got {n_classes}.")
    xs = _inputs(int(n_features))
    coords, logits = [], []
    for k in range(n_classes - 1):
        b = _syms(f"b{k}")[0]
        ws = _syms(f"w{k}_0:{len(xs)}")
        coords += [b, *ws]
        logits.append(b + sp.Add(*[w * x for w, x in zip(ws, xs)]))
    logits.append(sp.S.Zero)
    return _model("softmax", "categorical", tuple(logits), Chart("softmax", tuple(coords)), xs)


def mlp(sizes: tuple[int, ...] = (1, 16, 1), activation: str = "tanh", *, output: str = "normal") -> Model:
    """A multilayer perceptron: hidden layers phi(W a + b), a linear last layer, and an output family.

    Parameters
    ----------
    sizes : tuple of int
        Widths from the input to the output, e.g. (1, 16, 1): 1 input, one
        hidden layer of 16, 1 output (49 parameters).
    activation : {"tanh", "sigmoid", "softplus", "identity"}
        The hidden layers' activation.
    output : {"normal", "bernoulli", "poisson", "categorical"}
        The family of the label given the last layer's output (the mean,
        logit, log-rate or logits).

    Returns
    -------
    Model
        Parameters ordered layer by layer, each layer's weights row-major
        (W[l][o, i] named ``W{l}_{o}_{i}``) then its biases ``b{l}_{o}``.

    Examples
    --------
    >>> m = mlp((1, 2, 1))
    >>> m.chart.dim, len(m.layers)
    (7, 2)
    >>> m.output
    W1_0_0*tanh(W0_0_0*x + b0_0) + W1_0_1*tanh(W0_1_0*x + b0_1) + b1_0
    """
    if activation not in ACTIVATIONS:
        raise MethodNotApplicableError(f"`activation` must be one of {sorted(ACTIVATIONS)}; got {activation!r}.")
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ShapeError(f"`sizes` must hold at least two positive widths (input, ..., output); got {sizes!r}.")
    if output in ("bernoulli", "poisson") and sizes[-1] != 1:
        raise ShapeError(f"`sizes` must end in 1 for a {output} output; got {sizes!r}.")
    if output == "categorical" and sizes[-1] < 2:
        raise ShapeError(f"`sizes` must end in the number of classes (>= 2) for a categorical output; got {sizes!r}.")
    xs = _inputs(sizes[0])
    phi = ACTIVATIONS[activation]
    a: tuple = xs
    coords: list[sp.Symbol] = []
    layers = []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = tuple(tuple(_syms(f"W{l}_{o}_{i}")[0] for i in range(n_in)) for o in range(n_out))
        b = tuple(_syms(f"b{l}_{o}")[0] for o in range(n_out))
        coords += [w for row in W for w in row] + list(b)
        s = tuple(sp.Add(*[w * ai for w, ai in zip(W[o], a)]) + b[o] for o in range(n_out))
        last = l == len(sizes) - 2
        act = "identity" if last else activation
        layers.append(Layer(W, b, act, a, s))
        a = s if last else tuple(phi(si) for si in s)
    eta = a[0] if len(a) == 1 and output != "categorical" else tuple(a)
    return _model(f"mlp{sizes}", output, eta, Chart("mlp", tuple(coords)), xs, layers=tuple(layers))
