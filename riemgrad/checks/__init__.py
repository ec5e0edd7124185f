"""Checks on solved flows: invariance under a change of chart, closed forms, convergence order.

These turn the geometry into numbers a test can assert on: the natural-gradient
flow does not depend on the chart (:func:`check_invariance`), it matches a
derived solution (:func:`compare_closed_form`), a stepper of order p has
errors that fall as ``dt^p`` (:func:`convergence_order`), and an optimizer's
errors fall linearly, superlinearly or quadratically (:func:`convergence_rate`).
"""

from .closed_form import ClosedFormReport, ConvergenceReport, compare_closed_form, convergence_order
from .invariance import InvarianceReport, check_invariance
from .rates import ConvergenceRate, convergence_rate

__all__ = [
    "check_invariance",
    "InvarianceReport",
    "compare_closed_form",
    "ClosedFormReport",
    "convergence_order",
    "ConvergenceReport",
    "convergence_rate",
    "ConvergenceRate",
]
