"""Steppers as small immutable objects that know their order.

:class:`Euler`, :class:`Heun`, :class:`RK4` (and any other fixed-step method of the
generator's table, through :class:`FixedStep`) take steps of a size given to
:func:`~riemgrad.solve_flow` as ``dt``; :class:`Dopri5` carries its tolerances and step
budget. The strings ``"euler"``, ``"heun"``, ``"rk4"``, ``"ssprk3"`` and ``"dopri5"`` stay
accepted as aliases (:func:`as_stepper`). Names and orders come from the one stepper table,
:data:`riemgrad.kernels.STEPPER_TABLE`.

Examples
--------
>>> from riemgrad.flows.steppers import RK4, Dopri5, as_stepper
>>> RK4().order, Dopri5(rtol=1e-6).order
(4, 5)
>>> as_stepper("heun")
Heun()
>>> as_stepper("ssprk3")
FixedStep(name='ssprk3')
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Union

from ..errors import SolverSettingsError
from ..kernels import STEPPER_TABLE

__all__ = ["FixedStep", "Euler", "Heun", "RK4", "Dopri5", "Stepper", "as_stepper", "STEPPERS"]

#: Every stepper name and its order (one table: the code generator's).
STEPPERS = {name: s.order for name, s in STEPPER_TABLE.items()}


@dataclass(frozen=True)
class FixedStep:
    """An explicit fixed-step Runge-Kutta method of the stepper table, by name.

    Parameters
    ----------
    name : str
        A fixed-step entry of :data:`riemgrad.kernels.STEPPER_TABLE` (``"euler"``,
        ``"heun"``, ``"rk4"``, ``"ssprk3"``).

    Attributes
    ----------
    order : int
        The order of convergence: the global error falls as ``dt**order``.

    Raises
    ------
    SolverSettingsError
        If ``name`` is not a fixed-step method of the table.

    Examples
    --------
    >>> FixedStep("ssprk3").order
    3
    """

    name: str

    def __post_init__(self) -> None:
        entry = STEPPER_TABLE.get(self.name)
        if entry is None or entry.adaptive:
            fixed = [n for n, s in STEPPER_TABLE.items() if not s.adaptive]
            raise SolverSettingsError(f"`name` must be a fixed-step stepper among {fixed}; got {self.name!r}.")

    @property
    def order(self) -> int:
        """The order of convergence."""
        return STEPPER_TABLE[self.name].order

    adaptive = False


@dataclass(frozen=True)
class Euler(FixedStep):
    """The explicit Euler method (order 1). Natural descent is Euler's method with ``dt = lr``.

    Examples
    --------
    >>> Euler().order
    1
    """

    name: str = field(default="euler", init=False, repr=False)


@dataclass(frozen=True)
class Heun(FixedStep):
    """Heun's method, the explicit trapezoidal rule (order 2).

    Examples
    --------
    >>> Heun().order
    2
    """

    name: str = field(default="heun", init=False, repr=False)


@dataclass(frozen=True)
class RK4(FixedStep):
    """The classical fourth-order Runge-Kutta method.

    Examples
    --------
    >>> RK4().order
    4
    """

    name: str = field(default="rk4", init=False, repr=False)


@dataclass(frozen=True)
class Dopri5:
    """The adaptive Dormand-Prince 5(4) pair with error control.

    Parameters
    ----------
    rtol, atol : float
        Relative and absolute tolerance of the local error (per coordinate, RMS norm).
    max_steps : int
        Step budget per trajectory (accepted and rejected); exceeding it gives
        :attr:`~riemgrad.Status.MAX_STEPS`.

    Raises
    ------
    SolverSettingsError
        If a tolerance is not positive and finite or ``max_steps`` is not a positive integer.

    Examples
    --------
    >>> Dopri5(rtol=1e-6, atol=1e-9)
    Dopri5(rtol=1e-06, atol=1e-09, max_steps=1000000)
    >>> Dopri5().order
    5
    """

    rtol: float = 1e-8
    atol: float = 1e-10
    max_steps: int = 1_000_000

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, numbers.Real) or not (math.isfinite(val) and val > 0):
                raise SolverSettingsError(f"`{name}` must be a positive finite number; got {val!r}.")
        m = self.max_steps
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 1:
            raise SolverSettingsError(f"`max_steps` must be a positive integer; got {m!r}.")

    name = "dopri5"
    adaptive = True

    @property
    def order(self) -> int:
        """The order of the solution that advances (5)."""
        return STEPPER_TABLE["dopri5"].order


Stepper = Union[FixedStep, Dopri5]

_NAMED = {"euler": Euler, "heun": Heun, "rk4": RK4}


def as_stepper(
    stepper: Any, *, rtol: float | None = None, atol: float | None = None, max_steps: int | None = None
) -> Stepper:
    """The stepper object for ``stepper`` (an object, or one of the string aliases).

    Parameters
    ----------
    stepper : FixedStep, Dopri5 or str
    rtol, atol, max_steps : optional
        Settings of the adaptive pair, for the alias ``"dopri5"``.

    Returns
    -------
    FixedStep or Dopri5

    Raises
    ------
    SolverSettingsError
        If the name is unknown, or ``rtol``/``atol``/``max_steps`` are given with a
        fixed-step stepper (which has no use for them) or with a :class:`Dopri5` object
        (which carries its own).

    Examples
    --------
    >>> as_stepper("dopri5", rtol=1e-6)
    Dopri5(rtol=1e-06, atol=1e-10, max_steps=1000000)
    >>> as_stepper("rk4", rtol=1e-6)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    riemgrad.errors.SolverSettingsError: `rtol` is a setting of the adaptive stepper 'dopri5'; ... takes only `dt`...
    """
    given = {k: v for k, v in (("rtol", rtol), ("atol", atol), ("max_steps", max_steps)) if v is not None}
    if isinstance(stepper, str):
        if stepper == "dopri5":
            return Dopri5(**given)
        if stepper not in STEPPER_TABLE:
            raise SolverSettingsError(
                f"`stepper` must be one of {sorted(STEPPER_TABLE)} or a stepper object (RK4(), Dopri5(...)); "
                f"got {stepper!r}."
            )
        stepper = _NAMED[stepper]() if stepper in _NAMED else FixedStep(stepper)
    if not isinstance(stepper, (FixedStep, Dopri5)):
        raise SolverSettingsError(
            f"`stepper` must be a stepper name {sorted(STEPPER_TABLE)} or object (RK4(), Dopri5(...)); "
            f"got {type(stepper).__name__}."
        )
    if given:
        first = next(iter(given))
        if isinstance(stepper, Dopri5):
            raise SolverSettingsError(
                f"`{first}` is given twice: as an argument and on the stepper {stepper!r}. Set it on the stepper only."
            )
        raise SolverSettingsError(
            f"`{first}` is a setting of the adaptive stepper 'dopri5'; the fixed-step stepper {stepper.name!r} "
            f"takes only `dt`. Drop `{first}`, or pass stepper=Dopri5({first}=...)."
        )
    return stepper
