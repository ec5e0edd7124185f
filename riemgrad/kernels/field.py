"""The former home of ``compile_flow`` and ``FlowField``, kept as an import path.

The kernels package is split by concern: :mod:`.compile` (``compile_flow``), :mod:`.flowfield`
(``FlowField``), :mod:`.velocity` (strategies and cost model), :mod:`.codegen` (the generator),
:mod:`.cache`, :mod:`.geodesic` and :mod:`.abi` (the contract).
"""

from .abi import SCALAR_MAX_BATCH, SCALAR_MAX_DIM
from .compile import compile_flow, require_metric
from .flowfield import FlowField
from .geodesic import geodesic_field
from .velocity import STRATEGIES

__all__ = ["FlowField", "compile_flow", "geodesic_field", "require_metric", "STRATEGIES"]
__all__ += ["SCALAR_MAX_BATCH", "SCALAR_MAX_DIM"]
