"""The exact, symbolic layer: charts, tensors, metrics and their curvature.

Everything here is immutable SymPy; nothing is compiled. Derived quantities
(inverse, Christoffel symbols, curvature) are computed on first use and cached.
"""

from ._util import simplify_expr
from .charts import Chart, ChartMap, Manifold
from .metric import Metric, euclidean_metric
from .tensor import Tensor

__all__ = ["Manifold", "Chart", "ChartMap", "Tensor", "Metric", "euclidean_metric", "simplify_expr"]
