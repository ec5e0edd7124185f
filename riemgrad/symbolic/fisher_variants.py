"""The true Fisher, the empirical Fisher and the generalized Gauss-Newton metric of a model on data.

For a conditional model p(y | x; theta) = q(y | z = f(x; theta)) whose label
distribution q is read off an output z of the model (a logit, a log-rate, a
mean, logits):

- the **true Fisher** F = E_x E_{y ~ p(y|x;theta)}[s s^T] (s the score),
  :func:`~riemgrad.symbolic.data_metrics.conditional_fisher_metric`;
- the **empirical Fisher** E_data[s(y_i) s(y_i)^T] at the observed labels,
  :func:`~riemgrad.symbolic.data_metrics.empirical_fisher_metric`;
- the **generalized Gauss-Newton** (GGN) G = E_x[J^T H J], J = dz/dtheta and
  H = d^2 l / dz^2 the Hessian of the per-example loss l(y, z) in the output
  (Schraudolph 2002), :func:`generalized_gauss_newton_metric`;
- the Hessian of the NLL, E_data[d^2 l / dtheta^2] (Newton).

Identities (Martens 2020, sec. 9): if z is the natural parameter of an
exponential family (the canonical link: Bernoulli logit, Poisson log-rate,
normal mean, categorical logits), H does not depend on y and equals the Fisher
of q in z, so F = GGN at every theta; if moreover z is linear in theta (a
GLM), the Hessian of the NLL is J^T H J as well, for any labels. The
empirical Fisher uses the observed labels in place of the expectation over
the model's; it is not F in general, only in expectation over y ~ model
(Kunstner, Balles & Hennig 2019). :func:`fisher_comparison` puts the four side
by side at a point.

References
----------
.. [1] N. N. Schraudolph, "Fast curvature matrix-vector products for second-order
   gradient descent", Neural Computation 14(7), 2002.
.. [2] J. Martens, "New insights and perspectives on the natural gradient method",
   JMLR 21(146), 2020.
.. [3] F. Kunstner, L. Balles, P. Hennig, "Limitations of the empirical Fisher
   approximation for natural gradient descent", NeurIPS 2019.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy as sp

from ..data import Dataset
from ..errors import ArgumentTypeError, CoordinateError, ShapeError
from ._util import Frozen, as_expr
from .charts import Chart
from .conditional import ConditionalFamily
from .data_metrics import (
    DataMetric,
    _check,
    _check_labels,
    conditional_fisher_metric,
    data_hessian_metric,
    empirical_fisher_metric,
)

__all__ = ["generalized_gauss_newton_metric", "FisherComparison", "fisher_comparison"]

#: The order of the matrices in a FisherComparison.
VARIANTS = ("true Fisher", "empirical Fisher", "generalized Gauss-Newton", "Hessian")


def _family_of(model: Any, name: str) -> ConditionalFamily:
    fam = getattr(model, "family", model)
    if not isinstance(fam, ConditionalFamily):
        raise ArgumentTypeError(
            f"`{name}` must be a ConditionalFamily or a riemgrad.models.Model (which carries one); got "
            f"{type(model).__name__}. Build one with riemgrad.models.logistic_regression(...) or "
            "ConditionalFamily(output, chart, eta, label)."
        )
    return fam


def _output_loss(family: ConditionalFamily) -> tuple[sp.Expr, tuple[sp.Symbol, ...], tuple[sp.Expr, ...]]:
    """The family's per-example NLL written in fresh output symbols z: (l(y, z), z, the model's outputs eta)."""
    l, zs = family.output_loss()
    return l, zs, family.eta if isinstance(family.eta, tuple) else (family.eta,)


def generalized_gauss_newton_metric(
    loss: Any, data: Dataset, *, outputs: Mapping[sp.Symbol, Any] | None = None, chart: Chart | None = None
) -> DataMetric:
    """The generalized Gauss-Newton metric E_data[J^T H J] of a loss composed with a model's outputs.

    Parameters
    ----------
    loss : ConditionalFamily, Model or sympy expression
        A family (or a ``riemgrad.models.Model``): the loss is its negative
        log-likelihood, split at the family's output (the logit, log-rate,
        mean or logits). An expression: the per-example loss l(y, z) in the
        output symbols given as the keys of ``outputs`` (and data symbols).
    data : Dataset
        The rows the expectation runs over (labels are needed only where H
        depends on them; they are checked against a family's support).
    outputs : mapping {Symbol: expression}, optional
        For an expression ``loss``: each output symbol z_k and the model's
        per-example output f_k(x; theta) it stands for.
    chart : Chart, optional
        For an expression ``loss``: the parameters theta.

    Returns
    -------
    DataMetric
        Per example J^T H J with J[k, i] = d f_k / d theta_i (shape (K, d)) and
        H[k, l] = d^2 l / dz_k dz_l at z = f (shape (K, K)): kind "outer" with
        weight H for one output, "matrix" for several. Name "generalized Gauss-Newton".

    Raises
    ------
    ArgumentTypeError
        If ``loss`` is an expression without ``outputs`` and ``chart``, or ``data`` is not a Dataset.
    CoordinateError
        If an output key is not a Symbol, or is a coordinate.
    ShapeError
        If ``data`` lacks a column the metric needs.

    Notes
    -----
    The GGN is positive semi-definite when l is convex in z. For a family with
    its canonical output, H is free of y and equals the Fisher of the label's
    distribution in z, so the GGN equals the true Fisher
    (:func:`~riemgrad.symbolic.data_metrics.conditional_fisher_metric`); split
    elsewhere (a loss written in the mean of a Poisson, say), H depends on the
    observed labels and the two differ, equal only in expectation over y.

    Examples
    --------
    Logistic regression: H = q (1 - q), the Bernoulli variance, so the GGN is
    E[q (1 - q) x x^T], the true Fisher.

    >>> import sympy as sp
    >>> from riemgrad import Chart
    >>> from riemgrad.data import Dataset
    >>> from riemgrad.symbolic.conditional import ConditionalFamily
    >>> w, x, y = sp.symbols("w x y", real=True)
    >>> fam = ConditionalFamily("bernoulli", Chart("w", (w,)), w * x, y)
    >>> g = generalized_gauss_newton_metric(fam, Dataset({x: [1.0, 2.0]}))
    >>> g.evaluate([0.0]).tolist()
    [[0.625]]

    A squared loss on a sigmoid output, split at the output p:

    >>> p = sp.Symbol("p", real=True)
    >>> g = generalized_gauss_newton_metric((p - y) ** 2 / 2, Dataset({x: [1.0, 2.0], y: [0.0, 1.0]}),
    ...                                     outputs={p: 1 / (1 + sp.exp(-w * x))}, chart=Chart("w", (w,)))
    >>> g.per_example
    Matrix([[x**2*exp(-2*w*x)/(1 + exp(-w*x))**4]])
    """
    if isinstance(loss, (ConditionalFamily,)) or isinstance(getattr(loss, "family", None), ConditionalFamily):
        fam = _family_of(loss, "loss")
        l, zs, fs = _output_loss(fam)
        chart = fam.chart
        what = f"-log p ({fam.output})"
    else:
        fam = None
        if outputs is None or chart is None:
            raise ArgumentTypeError(
                "`outputs` and `chart` are required when `loss` is an expression: pass outputs={z: f(x; theta)} "
                "mapping each output symbol of the loss to the model's output, and the parameters' chart "
                "(or pass a ConditionalFamily / Model as `loss`)."
            )
        if not isinstance(outputs, Mapping) or not outputs:
            raise ArgumentTypeError(f"`outputs` must be a non-empty mapping {{z: f(x; theta)}}; got {outputs!r}.")
        zs = tuple(outputs)
        for z in zs:
            if not isinstance(z, sp.Symbol):
                raise CoordinateError(f"`outputs` keys must be Symbols (the loss's output variables); got {z!r}.")
            if isinstance(chart, Chart) and z in chart.coords:
                raise CoordinateError(f"`outputs` key {z} is a coordinate of the chart; use a fresh output symbol.")
        fs = tuple(as_expr(outputs[z], f"outputs[{z}]") for z in zs)
        l = as_expr(loss, "loss")
        what = "\\ell"
    if not isinstance(chart, Chart):
        raise ArgumentTypeError(f"`chart` must be a Chart; got {type(chart).__name__}.")
    at = dict(zip(zs, fs))
    K = len(zs)
    H = [[sp.diff(l, zs[a], zs[b]).xreplace(at) for b in range(K)] for a in range(K)]
    J = [[sp.diff(f, c) for c in chart.coords] for f in fs]
    if K == 1:
        exprs = [H[0][0], *J[0]]
    else:
        d = chart.dim
        JtHJ = sp.ImmutableMatrix(
            d, d, lambda i, j: sp.Add(*[J[a][i] * H[a][b] * J[b][j] for a in range(K) for b in range(K)])
        )
        exprs = list(JtHJ)
    chart, data, syms = _check(chart, data, exprs)
    if fam is not None:
        _check_labels(fam, data)
    common = dict(
        data_symbols=syms, name="generalized Gauss-Newton",
        formula=r"\partial_i z^{\top} \, \nabla_z^2 " + (r"\ell" if fam is None else r"(-\log p)")
        + r" \, \partial_j z",
        definitions={("z" if K == 1 else r"\mathbf{z}"): fs[0] if K == 1 else sp.Matrix(fs)},
    )
    if fam is None:
        common["definitions"][what] = l
    if K == 1:
        return DataMetric(chart, data, kind="outer", factors=[(H[0][0], tuple(J[0]))], **common)
    return DataMetric(chart, data, kind="matrix", matrix=JtHJ, **common)


class FisherComparison(Frozen):
    """The true Fisher, empirical Fisher, GGN and Hessian of a model on data, at one point.

    Made by :func:`fisher_comparison`.

    Attributes
    ----------
    chart : Chart
    point : numpy.ndarray, shape (d,)
    matrices : dict {str: numpy.ndarray of shape (d, d)}
        Keyed "true Fisher", "empirical Fisher", "generalized Gauss-Newton", "Hessian".
    gradient : numpy.ndarray, shape (d,)
        The gradient of the mean NLL at ``point``.
    relative_differences : dict {str: float}
        ||M - F||_F / ||F||_F of each matrix M against the true Fisher F.
    steps : dict {str: numpy.ndarray of shape (d,)}
        The preconditioned steps -M^{-1} g (NaN where M is singular).
    step_angles : dict {str: float}
        The angle in degrees between the step -M^{-1} g and the true Fisher's
        step -F^{-1} g (NaN where M is singular or g = 0).

    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad import models
    >>> m = models.poisson_regression(1)
    >>> c = fisher_comparison(m, m.dataset([0.0, 1.0, 2.0], [1, 0, 4]), [0.2, 0.1])
    >>> c.step_angles["Hessian"] < 1e-6, c.step_angles["empirical Fisher"] > 1
    (True, True)
    """

    def __init__(self, chart: Chart, point: np.ndarray, matrices: dict, gradient: np.ndarray) -> None:
        F = matrices["true Fisher"]
        nF = np.linalg.norm(F)
        steps = {k: _solve(M, gradient) for k, M in matrices.items()}
        self._set(
            chart=chart,
            point=point,
            matrices=dict(matrices),
            gradient=gradient,
            relative_differences={k: float(np.linalg.norm(M - F) / nF) if nF > 0 else float("nan")
                                  for k, M in matrices.items()},
            step_angles={k: _angle(s, steps["true Fisher"]) for k, s in steps.items()},
            steps=steps,
        )

    @property
    def true_fisher(self) -> np.ndarray:
        """E_x E_{y ~ model}[s s^T], shape (d, d)."""
        return self.matrices["true Fisher"]

    @property
    def empirical_fisher(self) -> np.ndarray:
        """E_data[s(y_i) s(y_i)^T], shape (d, d)."""
        return self.matrices["empirical Fisher"]

    @property
    def gauss_newton(self) -> np.ndarray:
        """The generalized Gauss-Newton E_x[J^T H J], shape (d, d)."""
        return self.matrices["generalized Gauss-Newton"]

    @property
    def hessian(self) -> np.ndarray:
        """The Hessian of the mean NLL, shape (d, d)."""
        return self.matrices["Hessian"]

    def summary(self) -> str:
        """A plain-text table: each matrix's difference from the true Fisher, step angle and eigenvalue range."""
        rows = [f"{'metric':<26}{'|M - F| / |F|':>15}{'step angle (deg)':>18}{'eigenvalues':>28}"]
        for k, M in self.matrices.items():
            ev = np.linalg.eigvalsh(M)
            rows.append(f"{k:<26}{self.relative_differences[k]:>15.3e}{self.step_angles[k]:>18.3f}"
                        f"{f'[{ev[0]:.3e}, {ev[-1]:.3e}]':>28}")
        pt = ", ".join(f"{c}={v:.4g}" for c, v in zip(self.chart.coords, self.point))
        return f"Fisher variants at ({pt}):\n" + "\n".join(rows)

    def __repr__(self) -> str:
        diffs = ", ".join(f"{k}: {v:.3g}" for k, v in self.relative_differences.items() if k != "true Fisher")
        return f"FisherComparison(chart={self.chart.name!r}, d={self.chart.dim}, relative differences {{{diffs}}})"

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in ("metric", "|M − F| / |F|", "step angle (°)", "λ min", "λ max"))
        body = []
        for k, M in self.matrices.items():
            ev = np.linalg.eigvalsh(M)
            body.append(f"<tr><td>{html.escape(k)}</td><td>{self.relative_differences[k]:.3e}</td>"
                        f"<td>{self.step_angles[k]:.3f}</td><td>{ev[0]:.3e}</td><td>{ev[-1]:.3e}</td></tr>")
        pt = ", ".join(f"{html.escape(str(c))} = {v:.4g}" for c, v in zip(self.chart.coords, self.point))
        return (f"<p>Fisher variants on chart {html.escape(self.chart.name)!s} at ({pt})</p>"
                f"<table><tr>{head}</tr>{''.join(body)}</table>")


def _solve(M: np.ndarray, g: np.ndarray) -> np.ndarray:
    try:
        out = -np.linalg.solve(M, g)
    except np.linalg.LinAlgError:
        return np.full_like(g, np.nan)
    return out if np.all(np.isfinite(out)) else np.full_like(g, np.nan)


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if not (na > 0 and nb > 0) or not (np.isfinite(na) and np.isfinite(nb)):
        return float("nan")
    return float(np.degrees(np.arccos(np.clip(a @ b / (na * nb), -1.0, 1.0))))


def fisher_comparison(model: Any, data: Dataset, point: Any) -> FisherComparison:
    """The true Fisher, empirical Fisher, generalized Gauss-Newton and Hessian of a model on data, side by side.

    Parameters
    ----------
    model : riemgrad.models.Model or ConditionalFamily
    data : Dataset
        Inputs and labels (the empirical Fisher and the Hessian need the labels).
    point : array_like, shape (d,)
        The parameters, in the chart's order.

    Returns
    -------
    FisherComparison
        The four (d, d) matrices, the gradient, each matrix's relative
        difference from the true Fisher and the angle of its step.

    Raises
    ------
    ArgumentTypeError
        If ``model`` is neither a Model nor a ConditionalFamily.
    ShapeError
        If ``point`` does not have shape (d,) or ``data`` lacks the labels.
    DataError
        If the labels are outside the family's support.

    Notes
    -----
    Each matrix is averaged over the rows in compiled code (one kernel per
    variant, cached on disk). For a GLM with its canonical link the true
    Fisher, GGN and Hessian agree to rounding; the empirical Fisher does not.

    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad import models
    >>> m = models.logistic_regression(1)
    >>> data = m.dataset([-1.0, 0.5, 2.0], [0, 1, 0])
    >>> c = fisher_comparison(m, data, [0.1, -0.3])
    >>> bool(np.allclose(c.gauss_newton, c.true_fisher)), bool(np.allclose(c.hessian, c.true_fisher))
    (True, True)
    >>> round(c.relative_differences["empirical Fisher"], 3)
    0.321
    """
    fam = _family_of(model, "model")
    if not isinstance(data, Dataset):
        raise ArgumentTypeError(
            f"`data` must be a Dataset; got {type(data).__name__}. Build one with model.dataset(X, y)."
        )
    data.require(fam.labels, "data")
    x = np.asarray(point, dtype=float)
    if x.shape != (fam.chart.dim,):
        raise ShapeError(f"`point` must have shape ({fam.chart.dim},), one value per coordinate of "
                         f"{fam.chart.coords}; got shape {x.shape}.")
    from ..kernels.data_kernels import compile_data_flow  # the numeric layer, loaded on demand

    E = empirical_fisher_metric(fam, data=data)
    field = compile_data_flow(E, fam)  # the empirical Fisher and the NLL's gradient in one kernel
    mats = {
        "true Fisher": conditional_fisher_metric(fam, data).evaluate(x),
        "empirical Fisher": field.metric(x),
        "generalized Gauss-Newton": generalized_gauss_newton_metric(fam, data).evaluate(x),
        "Hessian": data_hessian_metric(fam.nll, fam.chart, data).evaluate(x),
    }
    return FisherComparison(fam.chart, x, mats, field.gradient(x))
