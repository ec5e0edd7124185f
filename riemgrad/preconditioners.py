"""Preconditioners for :func:`riemgrad.descend` as ``(init, update)`` pairs.

A preconditioner turns the Euclidean gradient ``g`` into a step direction
``d``; descent moves ``x <- x + lr * d``. Each is a pair of pure NumPy
functions, in the manner of optax:

- ``init(x) -> state`` for starting points ``x`` of shape ``(batch, dim)``;
- ``update(grad, state, velocity) -> (direction, state)``, where ``velocity``
  is the field's natural direction ``-G^{-1} grad``.

A fixed metric is a preconditioner with no state (:func:`natural`,
:func:`identity`); RMSprop and Adam are time-varying diagonal metrics whose
state is the running moments. The built-in pairs also carry a compiled twin
that :func:`riemgrad.descend` runs inside the kernel; a pair you write
yourself runs through the same loop in Python (correct, slower).

Examples
--------
>>> import numpy as np
>>> from riemgrad.preconditioners import rmsprop
>>> opt = rmsprop(decay=0.9, eps=0.0)
>>> state = opt.init(np.zeros((1, 2)))
>>> d, state = opt.update(np.array([[2.0, -1.0]]), state, None)
>>> np.round(d, 6).tolist()   # -g / sqrt(0.1 g^2)
[[-3.162278, 3.162278]]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .errors import SolverSettingsError

__all__ = ["Preconditioner", "natural", "identity", "rmsprop", "adam"]


class Preconditioner(NamedTuple):
    """An ``(init, update)`` pair, plus what the compiled descent kernel needs.

    Attributes
    ----------
    init : callable
        ``init(x) -> state``, ``x`` of shape ``(batch, dim)``.
    update : callable
        ``update(grad, state, velocity) -> (direction, state)``; arrays of shape
        ``(batch, dim)``; ``velocity`` is ``-G^{-1} grad`` of the field's metric.
    name : str
        A label for results.
    kind : int or None
        The compiled implementation (0 natural, 1 identity, 2 RMSprop, 3 Adam),
        or None for a user-defined pair run in Python.
    hyper : tuple of float
        Hyperparameters handed to the compiled implementation.

    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad.preconditioners import Preconditioner
    >>> half = Preconditioner(lambda x: None, lambda g, s, v: (-0.5 * g, s), "half")
    >>> half.update(np.ones((1, 2)), None, None)[0].tolist()
    [[-0.5, -0.5]]
    """

    init: Callable[[np.ndarray], Any]
    update: Callable[[np.ndarray, Any, Any], tuple[np.ndarray, Any]]
    name: str = "custom"
    kind: int | None = None
    hyper: tuple[float, ...] = (0.0, 0.0, 0.0)


def natural() -> Preconditioner:
    """The field's own metric: direction ``-G^{-1} grad`` (the default of ``descend``).

    With the Hessian as the metric this is Newton's method: on a quadratic one
    step of size 1 lands on the minimiser.

    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad.preconditioners import natural
    >>> natural().update(np.ones((1, 2)), None, np.array([[-1.0, -0.5]]))[0].tolist()
    [[-1.0, -0.5]]
    """

    def update(grad: np.ndarray, state: Any, velocity: np.ndarray) -> tuple[np.ndarray, Any]:
        return np.asarray(velocity), state

    return Preconditioner(lambda x: None, update, "natural", 0)


def identity() -> Preconditioner:
    """Plain gradient descent, direction ``-grad`` (the Euclidean metric of the chart).

    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad.preconditioners import identity
    >>> identity().update(np.array([[1.0, -2.0]]), None, None)[0].tolist()
    [[-1.0, 2.0]]
    """

    def update(grad: np.ndarray, state: Any, velocity: Any) -> tuple[np.ndarray, Any]:
        return -np.asarray(grad), state

    return Preconditioner(lambda x: None, update, "identity", 1)


def rmsprop(decay: float = 0.9, eps: float = 1e-8) -> Preconditioner:
    """RMSprop: the diagonal metric ``diag(sqrt(v) + eps)``, ``v`` a running mean of ``g^2``.

    ``v <- decay * v + (1 - decay) * g^2`` (``v_0 = 0``), direction
    ``-g / (sqrt(v) + eps)``.

    Parameters
    ----------
    decay : float
        The averaging factor rho in [0, 1).
    eps : float
        Added to ``sqrt(v)``; keeps the metric positive.

    Raises
    ------
    SolverSettingsError
        If ``decay`` is outside [0, 1) or ``eps`` is negative.

    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad.preconditioners import rmsprop
    >>> opt = rmsprop(decay=0.5, eps=0.0)
    >>> s = opt.init(np.zeros((1, 1)))
    >>> d, s = opt.update(np.array([[2.0]]), s, None)
    >>> np.round(d, 12).tolist(), s.tolist()   # -2 / sqrt(0.5 * 4)
    ([[-1.414213562373]], [[2.0]])
    """
    if not 0.0 <= decay < 1.0:
        raise SolverSettingsError(f"`decay` must lie in [0, 1); got {decay!r}. The usual value is 0.9.")
    if eps < 0:
        raise SolverSettingsError(f"`eps` must be >= 0; got {eps!r}. The usual value is 1e-8.")

    def init(x: np.ndarray) -> np.ndarray:
        return np.zeros_like(np.asarray(x, dtype=float))

    def update(grad: np.ndarray, state: np.ndarray, velocity: Any) -> tuple[np.ndarray, np.ndarray]:
        g = np.asarray(grad, dtype=float)
        v = decay * state + (1.0 - decay) * g * g
        return -g / (np.sqrt(v) + eps), v

    return Preconditioner(init, update, "rmsprop", 2, (float(decay), 0.0, float(eps)))


def adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Preconditioner:
    """Adam: RMSprop's diagonal metric with momentum and bias correction.

    ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2`` (both start at 0),
    direction ``-m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m / (1 - b1^k)``,
    ``v_hat = v / (1 - b2^k)`` at step ``k = 1, 2, ...``.

    Raises
    ------
    SolverSettingsError
        If ``b1`` or ``b2`` is outside [0, 1) or ``eps`` is negative.

    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad.preconditioners import adam
    >>> opt = adam(eps=0.0)
    >>> d, s = opt.update(np.array([[3.0, -0.5]]), opt.init(np.zeros((1, 2))), None)
    >>> d.tolist()   # the first Adam step is -sign(g)
    [[-1.0, 1.0]]
    """
    for name, val in (("b1", b1), ("b2", b2)):
        if not 0.0 <= val < 1.0:
            raise SolverSettingsError(f"`{name}` must lie in [0, 1); got {val!r}. Usual values: b1=0.9, b2=0.999.")
    if eps < 0:
        raise SolverSettingsError(f"`eps` must be >= 0; got {eps!r}. The usual value is 1e-8.")

    def init(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        z = np.zeros_like(np.asarray(x, dtype=float))
        return z, z.copy(), 0

    def update(grad: np.ndarray, state: tuple[np.ndarray, np.ndarray, int], velocity: Any) -> tuple[np.ndarray, Any]:
        g = np.asarray(grad, dtype=float)
        m, v, k = state
        k += 1
        m = b1 * m + (1.0 - b1) * g
        v = b2 * v + (1.0 - b2) * g * g
        d = -(m / (1.0 - b1**k)) / (np.sqrt(v / (1.0 - b2**k)) + eps)
        return d, (m, v, k)

    return Preconditioner(init, update, "adam", 3, (float(b1), float(b2), float(eps)))
