"""The exact, symbolic layer: charts, tensors, metrics and their curvature.

Everything here is immutable SymPy; nothing is compiled. Derived quantities
(inverse, Christoffel symbols, curvature) are computed on first use and cached.
"""

from ._latex import chart_latex
from ._parse import CONSTANTS, FUNCTIONS, parse_expression
from ._util import as_expr as as_expression
from ._util import simplify_expr, sympify_safe
from .charts import Chart, ChartMap, Manifold
from .conditional import ConditionalFamily
from .data_metrics import DataMetric, empirical_fisher_metric
from .fisher import ParametricFamily, fisher_metric, kl_divergence
from .fisher_variants import FisherComparison, fisher_comparison, generalized_gauss_newton_metric
from .jensen_shannon import js_divergence
from .metric import Metric, euclidean_metric
from .model_metrics import function_space_metric, gauss_newton_metric, hessian_metric, induced_metric
from .tangent_kernel import neural_tangent_kernel
from .tensor import Tensor

__all__ = ["Manifold", "Chart", "ChartMap", "Tensor", "Metric", "euclidean_metric", "simplify_expr"]
__all__ += ["ParametricFamily", "fisher_metric", "kl_divergence"]
__all__ += ["hessian_metric", "gauss_newton_metric", "induced_metric", "function_space_metric"]
__all__ += ["parse_expression", "as_expression", "sympify_safe", "FUNCTIONS", "CONSTANTS"]
__all__ += ["chart_latex"]
__all__ += ["ConditionalFamily", "DataMetric", "empirical_fisher_metric"]
__all__ += ["generalized_gauss_newton_metric", "fisher_comparison", "FisherComparison", "js_divergence"]
__all__ += ["neural_tangent_kernel"]
