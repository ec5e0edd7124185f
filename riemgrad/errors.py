"""Exceptions raised by riemgrad.

Every error riemgrad raises on bad input is a :class:`RiemgradError`. Each
subclass also inherits the builtin exception it refines, so ``except
ValueError`` keeps working. Messages name the offending argument, say what was
expected, show what arrived and suggest a fix.

Examples
--------
>>> from riemgrad.errors import RiemgradError, SingularMetricError
>>> issubclass(SingularMetricError, ValueError)
True
>>> try:
...     raise SingularMetricError("`matrix` is singular everywhere")
... except RiemgradError as err:
...     print(err)
`matrix` is singular everywhere
"""

from __future__ import annotations

__all__ = [
    "RiemgradError",
    "ShapeError",
    "CoordinateError",
    "ChartMismatchError",
    "NonSymmetricMetricError",
    "SingularMetricError",
    "IndefiniteMetricError",
    "DimensionError",
    "IndexPositionError",
    "InverseMapError",
    "IntegrationError",
    "MethodNotApplicableError",
    "CompilationError",
    "SolverSettingsError",
    "ArgumentTypeError",
    "ConvergenceError",
    "DomainError",
    "ParseError",
    "NonFiniteInputError",
    "ImmutableError",
    "RiemgradWarning",
    "ExactCheckSkippedWarning",
    "SimplificationSkippedWarning",
    "MinimalityWarning",
    "BudgetExceededError",
    "MissingDependencyError",
    "DataError",
]


class RiemgradError(Exception):
    """Base class of every error riemgrad raises on bad input."""


class ShapeError(RiemgradError, ValueError):
    """An array or matrix has the wrong shape or size."""


class CoordinateError(RiemgradError, TypeError):
    """Coordinates are not distinct SymPy Symbols, or an unknown one was named."""


class ChartMismatchError(RiemgradError, ValueError):
    """Two objects live on different charts where the same chart is needed."""


class NonSymmetricMetricError(RiemgradError, ValueError):
    """A metric matrix is not symmetric."""


class SingularMetricError(RiemgradError, ValueError):
    """A metric (or a matrix that must be inverted) is singular."""


class IndefiniteMetricError(RiemgradError, ValueError):
    """A Riemannian metric is not positive definite."""


class DimensionError(RiemgradError, ValueError):
    """An operation is defined only in some dimensions (e.g. Gaussian curvature in 2-D)."""


class IndexPositionError(RiemgradError, ValueError):
    """An index string is malformed, or an index is in the wrong position."""


class InverseMapError(RiemgradError, ValueError):
    """The inverse of a chart map could not be determined uniquely."""


class IntegrationError(RiemgradError, ValueError):
    """SymPy could not evaluate an expectation (integral or sum) in closed form."""


class MethodNotApplicableError(RiemgradError, ValueError):
    """A requested method does not apply to the given input."""


class CompilationError(RiemgradError, RuntimeError):
    """Generated numeric code could not be compiled."""


class SolverSettingsError(RiemgradError, ValueError):
    """A setting of a flow, descent or check is invalid (t_span, stepper, dt, saveat, lr, tolerances...)."""


class ArgumentTypeError(RiemgradError, TypeError):
    """An argument is not the kind of object expected (e.g. not a FlowField or a Preconditioner)."""


class ConvergenceError(RiemgradError, RuntimeError):
    """An iterative solve did not converge (e.g. shooting for the logarithm map between conjugate points)."""


class DomainError(RiemgradError, ValueError):
    """A point lies outside its chart's domain (e.g. sigma <= 0 on a chart with sigma positive)."""


class ParseError(RiemgradError, ValueError, TypeError):
    """A string could not be read as an expression (it is refused, never run as code).

    It refines both ValueError and TypeError: before strings were parsed safely, a string that was not an
    expression raised TypeError.
    """


class BudgetExceededError(RiemgradError, TimeoutError):
    """A symbolic computation ran past its time budget (see :mod:`riemgrad.symbolic.budget`).

    ``what`` names the computation, ``seconds`` the budget it ran past.
    """

    def __init__(self, what: str = "a symbolic computation", seconds: float | None = None) -> None:
        self.what = what
        self.seconds = seconds
        budget = f"its budget of {seconds:g} s" if seconds is not None else "its time budget"
        super().__init__(
            f"{what} ran past {budget}. Raise it with riemgrad.symbolic.budget.budgets(...), "
            "e.g. `with budgets(integral=60):`, or simplify the input."
        )

    def __reduce__(self) -> tuple:
        return (type(self), (self.what, self.seconds))


class NonFiniteInputError(RiemgradError, ValueError):
    """An input expression holds nan, an infinity or a complex number where a finite real one is needed."""


class ImmutableError(RiemgradError, AttributeError):
    """An attribute of an immutable riemgrad object (Chart, Tensor, Metric, ParametricFamily...) was set."""


class RiemgradWarning(UserWarning):
    """Base class of riemgrad's warnings."""


class ExactCheckSkippedWarning(RiemgradWarning):
    """An exact check ran past its budget and was replaced by numeric checks at sample points."""


class SimplificationSkippedWarning(RiemgradWarning):
    """A simplification ran past its budget; the exact, unsimplified expression was kept."""


class MinimalityWarning(RiemgradWarning):
    """Some pairs of a batched ``distance`` or ``log_map`` were not certified minimizing; their entries are NaN.

    Pass ``full_output=True`` for a :class:`~riemgrad.flows.DistanceResult` with a status, an upper bound and a
    reason per pair.
    """


class MissingDependencyError(RiemgradError, ImportError):
    """An optional dependency is needed and not installed (e.g. xarray for ``SweepResult.to_xarray``)."""


class DataError(RiemgradError, ValueError):
    """Data values are unusable: NaN or inf, or labels outside the output family's support."""
