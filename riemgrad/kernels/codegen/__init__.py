"""The code generator: SymPy expressions and a stepper table in, one self-contained module out.

- :mod:`.printer`: SymPy -> scalar Python that Numba compiles well;
- :mod:`.steppers`: the table of steppers and the fixed-step kernel generators;
- :mod:`.adaptive`: the Dormand-Prince pair;
- :mod:`.template`: the field-independent kernels (linear solves, batch evaluation, descent);
- :mod:`.module`: the assembly of one field's module.

Names, arguments and status codes of the generated kernels are those of :mod:`riemgrad.kernels.abi`.
"""

from .module import generate_source
from .printer import ScalarPrinter, assignments
from .steppers import FIXED, TABLE

__all__ = ["generate_source", "ScalarPrinter", "assignments", "TABLE", "FIXED"]
