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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names load on first use (PEP 562), so `import riemgrad` and the `riemgrad --help`
# command start in milliseconds; `riemgrad.Metric` imports SymPy when first touched.
_SUBMODULES = {
    "errors", "families", "models", "data", "preconditioners", "spaces", "symbolic", "kernels", "flows", "checks",
    "plotting",
}  # fmt: skip
_ATTRIBUTES = {
    "check_invariance": "checks",
    "compare_closed_form": "checks",
    "convergence_rate": "checks",
    "DistanceResult": "flows",
    "RiemgradError": "errors",
    **dict.fromkeys(
        ["DescentResult", "FlowResult", "GeodesicResult", "Status", "descend", "distance", "exp_map", "geodesic",
         "log_map", "solve_flow", "sweep", "SweepResult"],
        "flows",
    ),  # fmt: skip
    "config": "_progress",
    "Dataset": "data",
    **dict.fromkeys(["FlowField", "compile_flow", "DataField", "compile_data_flow"], "kernels"),
    "kfac_factors": "kernels.kfac",
    **dict.fromkeys(
        ["Chart", "ChartMap", "Manifold", "Metric", "ParametricFamily", "Tensor", "euclidean_metric", "fisher_metric",
         "function_space_metric", "gauss_newton_metric", "hessian_metric", "induced_metric", "kl_divergence",
         "ConditionalFamily", "DataMetric", "empirical_fisher_metric"],
        "symbolic",
    ),  # fmt: skip
    **dict.fromkeys(
        ["generalized_gauss_newton_metric", "fisher_comparison", "FisherComparison", "js_divergence",
         "neural_tangent_kernel"],
        "symbolic",
    ),  # fmt: skip  (true/empirical Fisher vs GGN; seed 001: JS divergence, NTK)
}


def __getattr__(name: str) -> Any:
    if name in _ATTRIBUTES:
        value = getattr(importlib.import_module(f".{_ATTRIBUTES[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'riemgrad' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # the same names, imported eagerly, for type checkers and IDEs
    from . import errors, families, models, preconditioners, spaces
    from .checks import check_invariance, compare_closed_form, convergence_rate
    from .errors import RiemgradError
    from .flows import (
        DescentResult,
        DistanceResult,
        FlowResult,
        GeodesicResult,
        Status,
        SweepResult,
        descend,
        distance,
        exp_map,
        geodesic,
        log_map,
        solve_flow,
        sweep,
    )
    from .data import Dataset
    from .kernels import DataField, FlowField, compile_data_flow, compile_flow
    from .kernels.kfac import kfac_factors
    from .symbolic import (
        FisherComparison,
        fisher_comparison,
        generalized_gauss_newton_metric,
        js_divergence,
        neural_tangent_kernel,
    )
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


from ._version import __version__

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
    "sweep",
    "SweepResult",
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
    "config",
    "__version__",
    "Dataset",
    "models",
    "DataMetric",
    "ConditionalFamily",
    "empirical_fisher_metric",
    "compile_data_flow",
    "DataField",
]
__all__ += ["generalized_gauss_newton_metric", "fisher_comparison", "FisherComparison", "js_divergence"]
__all__ += ["neural_tangent_kernel"]
__all__ += ["convergence_rate", "DistanceResult"]
__all__ += ["kfac_factors"]
