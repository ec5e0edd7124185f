"""riemgrad: Riemannian geometry of optimisation, from SymPy to compiled flows.

The pipeline, left to right: :mod:`riemgrad.symbolic` (exact metrics and
curvature) -> ``riemgrad.kernels`` (generated, compiled code) ->
``riemgrad.flows`` (gradient flow and descent) -> ``riemgrad.checks`` ->
``riemgrad.plotting``. Importing riemgrad compiles nothing and loads neither
Numba kernels nor matplotlib.

Examples
--------
>>> import sympy as sp
>>> import riemgrad as rg
>>> mu = sp.Symbol("mu", real=True)
>>> sigma = sp.Symbol("sigma", positive=True)
>>> g = rg.Metric(rg.Chart("sigma", (mu, sigma)), sp.diag(1 / sigma**2, 2 / sigma**2))
>>> g.gaussian_curvature()
-1/2
"""

from . import errors, families, models, preconditioners, spaces
from .data import Dataset
from .checks import check_invariance, compare_closed_form
from .errors import RiemgradError
from .flows import (
    DescentResult,
    FlowResult,
    GeodesicResult,
    Status,
    descend,
    distance,
    exp_map,
    geodesic,
    log_map,
    solve_flow,
)
from .kernels import DataField, FlowField, compile_data_flow, compile_flow
from .symbolic import (
    Chart,
    ChartMap,
    ConditionalFamily,
    DataMetric,
    Manifold,
    Metric,
    ParametricFamily,
    Tensor,
    empirical_fisher_metric,
    euclidean_metric,
    fisher_metric,
    function_space_metric,
    gauss_newton_metric,
    hessian_metric,
    induced_metric,
    kl_divergence,
)

__version__ = "0.1.0"

__all__ = [
    "Manifold",
    "Chart",
    "ChartMap",
    "Tensor",
    "Metric",
    "euclidean_metric",
    "compile_flow",
    "FlowField",
    "solve_flow",
    "descend",
    "FlowResult",
    "DescentResult",
    "Status",
    "geodesic",
    "exp_map",
    "log_map",
    "distance",
    "GeodesicResult",
    "check_invariance",
    "compare_closed_form",
    "preconditioners",
    "ParametricFamily",
    "fisher_metric",
    "kl_divergence",
    "hessian_metric",
    "gauss_newton_metric",
    "induced_metric",
    "function_space_metric",
    "families",
    "RiemgradError",
    "errors",
    "spaces",
    "__version__",
    "Dataset",
    "models",
    "DataMetric",
    "ConditionalFamily",
    "empirical_fisher_metric",
    "compile_data_flow",
    "DataField",
]
