"""Conditional output families p(y | x; theta) of per-example models: Bernoulli, Poisson, normal, categorical.

Each family is written through the model's per-example output (a logit, a
log-rate, a mean, or a vector of logits) as a SymPy expression in the chart's
coordinates and the data symbols. The negative log-likelihood, the score and
the Fisher information of one example follow in closed form, analytic in the
label y (no sums or integrals over y):

========== ================ ============================= ==========================
family     output eta       NLL(y)                        Fisher of one example
========== ================ ============================= ==========================
bernoulli  logit            log(1 + e^eta) - y eta        q(1 - q) d eta d eta^T
poisson    log-rate         e^eta - y eta (+ log y!)      e^eta d eta d eta^T
normal     mean mu          (y - mu)^2 / (2 s^2)          d mu d mu^T / s^2
categorical logits z_k       logsumexp(z) - sum y_k z_k    sum_k p_k u_k u_k^T, u_k = d z_k - sum_j p_j d z_j
========== ================ ============================= ==========================

(q = 1 / (1 + e^-eta), p = softmax(z); categorical labels are one-hot symbols.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import sympy as sp

from ..errors import CoordinateError, DataError, MethodNotApplicableError
from ._util import Frozen, as_expr
from .charts import Chart

__all__ = ["ConditionalFamily", "OUTPUTS"]

#: The output families and the meaning of their per-example output.
OUTPUTS = {"bernoulli": "logit", "poisson": "log-rate", "normal": "mean", "categorical": "logits"}


def _nll(output: str, outs: tuple, labels: tuple, variance: Any) -> sp.Expr:
    """The per-example negative log-likelihood of ``output`` at the outputs ``outs`` (eta, or any symbols)."""
    y = labels
    if output == "bernoulli":
        return sp.log(1 + sp.exp(outs[0])) - y[0] * outs[0]
    if output == "poisson":
        return sp.exp(outs[0]) - y[0] * outs[0]
    if output == "normal":
        return sp.Add(*[(yk - e) ** 2 for yk, e in zip(y, outs)]) / (2 * variance)  # K outputs: a sum
    return sp.log(sp.Add(*[sp.exp(e) for e in outs])) - sp.Add(*[yk * e for yk, e in zip(y, outs)])


class ConditionalFamily(Frozen):
    """A conditional family p(y | x; theta) given by a per-example output expression.

    Parameters
    ----------
    output : {"bernoulli", "poisson", "normal", "categorical"}
        The distribution of the label given the model's output.
    chart : Chart
        The parameter chart (theta).
    eta : sympy expression, or sequence of them for "categorical"
        The per-example output in ``chart.coords`` and the data symbols: the
        logit (bernoulli), the log-rate (poisson), the mean (normal) or the K
        logits (categorical).
    label : sympy.Symbol, or sequence of K Symbols (one-hot) for "categorical"
        The label's data symbol(s).
    variance : number, optional
        The known variance s^2 of the normal family (default 1).

    Attributes
    ----------
    nll : sympy.Expr
        The per-example negative log-likelihood (Poisson: without the constant log y!).
    score : tuple of sympy.Expr
        d log p / d theta_i of one example.
    fisher_factors : tuple of (weight, vector)
        The Fisher of one example as sum_a weight_a u_a u_a^T (weights >= 0).

    Raises
    ------
    MethodNotApplicableError
        For an unknown ``output``.
    CoordinateError
        If the label is a chart coordinate or not a Symbol.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart
    >>> from riemgrad.symbolic.conditional import ConditionalFamily
    >>> w, b, x, y = sp.symbols("w b x y", real=True)
    >>> fam = ConditionalFamily("bernoulli", Chart("wb", (w, b)), w * x + b, y)
    >>> fam.nll
    -y*(b + w*x) + log(exp(b + w*x) + 1)
    >>> fam.fisher_factors[0][1]
    (x, 1)
    """

    def __init__(self, output: str, chart: Chart, eta: Any, label: Any, *, variance: Any = 1) -> None:
        if output not in OUTPUTS:
            raise MethodNotApplicableError(
                f"`output` must be one of {sorted(OUTPUTS)}; got {output!r}."
            )
        if not isinstance(chart, Chart):
            raise CoordinateError(f"`chart` must be a Chart; got {type(chart).__name__}.")
        cat = output == "categorical"
        if cat:
            etas = tuple(as_expr(e, "eta") for e in eta)
            labels = tuple(label)
            if len(labels) != len(etas) or len(etas) < 2:
                raise CoordinateError(
                    f"`label` must be {len(etas)} one-hot Symbols, one per logit in `eta`; got {label!r}."
                )
        else:
            etas = (as_expr(eta, "eta"),)
            labels = (label,)
        for s in labels:
            if not isinstance(s, sp.Symbol):
                raise CoordinateError(f"`label` must be a Symbol (one-hot Symbols for categorical); got {s!r}.")
            if s in chart.coords:
                raise CoordinateError(f"`label` {s} is a coordinate of the chart; a label must be a data symbol.")
        s2 = as_expr(variance, "variance")
        c = chart.coords
        J = [[sp.diff(e, ci) for ci in c] for e in etas]
        y = labels
        if output == "bernoulli":
            (e,) = etas
            q = 1 / (1 + sp.exp(-e))
            nll = _nll(output, etas, y, s2)
            score = tuple((y[0] - q) * d for d in J[0])
            factors = ((q * (1 - q), tuple(J[0])),)
        elif output == "poisson":
            (e,) = etas
            nll = _nll(output, etas, y, s2)
            score = tuple((y[0] - sp.exp(e)) * d for d in J[0])
            factors = ((sp.exp(e), tuple(J[0])),)
        elif output == "normal":
            (e,) = etas
            nll = _nll(output, etas, y, s2)
            score = tuple((y[0] - e) / s2 * d for d in J[0])
            factors = ((1 / s2, tuple(J[0])),)
        else:
            ex = [sp.exp(e) for e in etas]
            Z = sp.Add(*ex)
            p = [t / Z for t in ex]
            nll = _nll(output, etas, y, s2)
            mean = [sp.Add(*[p[k] * J[k][i] for k in range(len(etas))]) for i in range(chart.dim)]
            score = tuple(sp.Add(*[y[k] * J[k][i] for k in range(len(etas))]) - mean[i] for i in range(chart.dim))
            factors = tuple((p[k], tuple(J[k][i] - mean[i] for i in range(chart.dim))) for k in range(len(etas)))
        self._set(
            output=output,
            chart=chart,
            eta=etas if cat else etas[0],
            label=labels if cat else labels[0],
            labels=labels,
            variance=s2,
            nll=nll,
            score=score,
            fisher_factors=factors,
        )

    def __repr__(self) -> str:
        return f"ConditionalFamily({self.output!r}, chart={self.chart.name!r}, {OUTPUTS[self.output]}={self.eta})"

    def output_loss(self) -> tuple[sp.Expr, tuple[sp.Dummy, ...]]:
        """The per-example negative log-likelihood as a function of free outputs z (one per eta).

        Returns
        -------
        (l, z) : (sympy.Expr, tuple of sympy.Dummy, length K)
            ``l(y, z)``; substituting ``z = eta`` gives :attr:`nll`.

        Examples
        --------
        >>> import sympy as sp
        >>> from riemgrad import Chart
        >>> b, x, y = sp.symbols("b x y", real=True)
        >>> fam = ConditionalFamily("poisson", Chart("c", (b,)), b * x, y)
        >>> l, (z,) = fam.output_loss()
        >>> sp.simplify(l.subs(z, b * x) - fam.nll)
        0
        """
        etas = self.eta if isinstance(self.eta, tuple) else (self.eta,)
        zs = tuple(sp.Dummy(f"z{k}", real=True) for k in range(len(etas)))
        return _nll(self.output, zs, self.labels, self.variance), zs

    def check_labels(self, values: np.ndarray, name: str = "data") -> None:
        """Raise a DataError if labels lie outside the family's support.

        Parameters
        ----------
        values : numpy.ndarray, shape (n, n_labels)
            The label columns, in the order of :attr:`labels`.
        name : str
            The argument to name in the message.
        """
        v = np.asarray(values, dtype=float).reshape(len(values), -1)
        lab = ", ".join(map(str, self.labels))
        if self.output == "bernoulli":
            bad = ~np.isin(v[:, 0], (0.0, 1.0))
            want = "0 or 1"
        elif self.output == "poisson":
            bad = (v[:, 0] < 0) | (v[:, 0] != np.floor(v[:, 0]))
            want = "a non-negative integer"
        elif self.output == "categorical":
            bad = ~(np.isin(v, (0.0, 1.0)).all(axis=1) & (v.sum(axis=1) == 1))
            want = "one-hot (0/1 entries, exactly one 1 per row)"
        else:
            return
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(
                f"`{name}` holds labels outside the support of the {self.output} family: the label `{lab}` must be "
                f"{want}; row {row} has {v[row].tolist() if v.shape[1] > 1 else v[row, 0]} "
                f"({int(bad.sum())} bad row(s)). Recode the labels."
            )


def one_hot(labels: Sequence[int] | np.ndarray, k: int) -> np.ndarray:
    """Integer class labels (n,) in 0..k-1 -> one-hot rows (n, k), for categorical families.

    Raises
    ------
    DataError
        If a label is not an integer in ``range(k)``.

    Examples
    --------
    >>> one_hot([0, 2], 3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    lab = np.asarray(labels, dtype=float).reshape(-1)
    bad = (lab != np.floor(lab)) | (lab < 0) | (lab >= k)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"`labels` must be integers in 0..{k - 1}; row {row} has {lab[row]}.")
    out = np.zeros((lab.size, k))
    out[np.arange(lab.size), lab.astype(int)] = 1.0
    return out
