"""The neural tangent kernel of a model on data, beside its function-space metric.

With J the Jacobian of the model's outputs on the n rows of a data set
(J[a, i] = d f(x_a) / d theta_i, shape (n, p)), the empirical neural tangent
kernel is K = J J^T (n x n, Jacot, Gabriel & Hongler 2018) and the
function-space metric over the same rows is G = J^T J / n (p x p,
:func:`riemgrad.function_space_metric` with ``measure=data``). J J^T and
J^T J share their non-zero eigenvalues (both are the squared singular values
of J), so the non-zero spectrum of K is n times that of G: gradient descent
in parameters moves the outputs by the kernel K, natural-gradient descent
with G moves them by the projection onto the tangent space of the model.

References
----------
.. [1] A. Jacot, F. Gabriel, C. Hongler, "Neural tangent kernel: convergence and
   generalization in neural networks", NeurIPS 2018.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from ..data import Dataset
from ..errors import ArgumentTypeError, CoordinateError, ShapeError
from ._util import as_expr
from .charts import Chart

__all__ = ["neural_tangent_kernel"]


def _model_parts(model: Any, chart: Chart | None, inputs: Any) -> tuple[tuple[sp.Expr, ...], Chart, tuple]:
    if hasattr(model, "output") and hasattr(model, "chart") and hasattr(model, "inputs"):
        out = model.output
        return (out if isinstance(out, tuple) else (out,)), model.chart, tuple(model.inputs)
    if not isinstance(chart, Chart):
        raise ArgumentTypeError(
            f"`chart` must be a Chart when `model` is an expression; got {type(chart).__name__}. "
            "Pass chart=Chart(name, params) and inputs=(x, ...), or a riemgrad.models.Model."
        )
    ins = (inputs,) if isinstance(inputs, sp.Symbol) else tuple(inputs or ())
    if not ins or not all(isinstance(v, sp.Symbol) for v in ins):
        raise CoordinateError(f"`inputs` must be a Symbol or a sequence of Symbols; got {inputs!r}.")
    outs = model if isinstance(model, (tuple, list)) else (model,)
    return tuple(as_expr(f, "model") for f in outs), chart, ins


def neural_tangent_kernel(
    model: Any, data: Dataset, point: Any, *, chart: Chart | None = None, inputs: Any = None
) -> np.ndarray:
    """The empirical neural tangent kernel K = J J^T of a model on the rows of a data set, at one point.

    Parameters
    ----------
    model : riemgrad.models.Model or sympy expression (or a sequence of them)
        The per-example output f(x; theta). A Model brings its chart and inputs.
    data : Dataset
        Binds the inputs; n rows.
    point : array_like, shape (p,)
        The parameters theta, in the chart's order.
    chart : Chart, optional
        Required for an expression.
    inputs : Symbol or sequence of Symbols, optional
        Required for an expression.

    Returns
    -------
    numpy.ndarray, shape (n K, n K)
        K[(a, k), (b, l)] = grad f_k(x_a) . grad f_l(x_b), rows ordered by
        example then output (K outputs; (n, n) for one).

    Raises
    ------
    ShapeError
        If ``point`` does not have shape (p,) or ``data`` lacks an input column.
    ArgumentTypeError
        If ``data`` is not a Dataset, or an expression comes without ``chart``.
    CoordinateError
        If ``inputs`` are not Symbols.

    Notes
    -----
    The non-zero eigenvalues of K are n times those of the function-space
    metric G = E_data[J^T J] = J^T J / n at the same point.

    Examples
    --------
    >>> import numpy as np, sympy as sp
    >>> from riemgrad import Chart
    >>> from riemgrad.data import Dataset
    >>> a, b, x = sp.symbols("a b x", real=True)
    >>> neural_tangent_kernel(a * x + b, Dataset({x: [0.0, 1.0, 2.0]}), [0.5, 0.0],
    ...                       chart=Chart("ab", (a, b)), inputs=x).tolist()
    [[1.0, 1.0, 1.0], [1.0, 2.0, 3.0], [1.0, 3.0, 5.0]]
    """
    fs, chart, ins = _model_parts(model, chart, inputs)
    if not isinstance(data, Dataset):
        raise ArgumentTypeError(f"`data` must be a Dataset binding the inputs; got {type(data).__name__}.")
    data.require(ins, "data")
    theta = np.asarray(point, dtype=float)
    if theta.shape != (chart.dim,):
        raise ShapeError(f"`point` must have shape ({chart.dim},), one value per coordinate of {chart.coords}; "
                         f"got shape {theta.shape}.")
    at = dict(zip(chart.coords, (sp.Float(v, 17) for v in theta)))
    X = data.matrix(ins)
    rows = []
    for f in fs:
        extra = f.free_symbols - set(chart.coords) - set(ins)
        if extra:
            raise CoordinateError(f"`model` uses {sorted(map(str, extra))}, neither coordinates nor `inputs`.")
        grads = [sp.diff(f, c).xreplace(at) for c in chart.coords]
        fn = sp.lambdify(ins, grads, modules="numpy")
        J = np.stack([np.broadcast_to(np.asarray(g, dtype=float), (data.n,)) for g in fn(*X.T)], axis=1)
        rows.append(J)
    J = np.stack(rows, axis=1).reshape(data.n * len(fs), chart.dim)  # (example, output) rows
    return J @ J.T
