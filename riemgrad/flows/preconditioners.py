"""Preconditioners for :func:`riemgrad.descend` as ``(init, update)`` pairs.

A preconditioner turns the Euclidean gradient ``g`` into a step direction
``d``; descent moves ``x <- x + lr * d``. Each is a pair of pure NumPy
functions, in the manner of optax:

- ``init(x) -> state`` for starting points ``x`` of shape ``(batch, dim)``;
- ``update(grad, state, velocity) -> (direction, state)``, where ``velocity``
  is the field's natural direction ``-G^{-1} grad``. An ``update`` that also names
  any of the parameters ``x``, ``lr``, ``loss``, ``metric`` receives them as keywords
  (see :class:`Preconditioner`): the points, so that quasi-Newton methods can be
  written (:func:`lbfgs`), and the step size and the field's loss and metric
  (:func:`levenberg_marquardt`).

A fixed metric is a preconditioner with no state (:func:`natural`,
:func:`identity`); RMSprop and Adam are time-varying diagonal metrics whose
state is the running moments; L-BFGS and Levenberg-Marquardt
(:mod:`riemgrad.flows.quasi_newton`) are metrics built from the run's steps and
from the field's metric damped by a gain-ratio schedule. :func:`riemgrad.descend` runs the built-in
pairs with a compiled twin inside the kernel (a private pairing, recorded when
the pair is made); a pair you build yourself, ``Preconditioner(init, update,
name)``, always runs your functions, through the same loop in Python (correct,
slower). Also importable as ``riemgrad.preconditioners``.

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

import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ..errors import SolverSettingsError

__all__ = [
    "Preconditioner",
    "natural",
    "identity",
    "rmsprop",
    "adam",
    "lbfgs",
    "levenberg_marquardt",
    "compiled_twin",
]


class Preconditioner(NamedTuple):
    """An ``(init, update)`` pair with a name.

    Attributes
    ----------
    init : callable
        ``init(x) -> state``, ``x`` of shape ``(batch, dim)``.
    update : callable
        ``update(grad, state, velocity) -> (direction, state)``; arrays of shape
        ``(batch, dim)``; ``velocity`` is ``-G^{-1} grad`` of the field's metric.
        If its signature names any of these parameters, :func:`riemgrad.descend`
        passes them as keywords (detected once per run with :func:`inspect.signature`;
        three-argument functions are called as before):

        - ``x``: the current points, shape ``(batch, dim)`` (the iterates the gradient
          was evaluated at);
        - ``lr``: the step size (float);
        - ``loss``: a function of points ``(k, dim)`` returning the losses ``(k,)``,
          NaN outside the chart's domain or at non-finite points;
        - ``metric``: a function of points ``(k, dim)`` in the domain returning the
          field's metric ``(k, dim, dim)``.
    name : str
        A label for results.

    Notes
    -----
    :func:`riemgrad.descend` calls ``init`` and ``update`` of a pair you build
    (in Python, vectorized over the batch). Only the pairs made by
    :func:`natural`, :func:`identity`, :func:`rmsprop`, :func:`adam`, :func:`lbfgs`
    and :func:`levenberg_marquardt` run as
    compiled kernels, and only while they hold the functions those factories
    made (see :func:`compiled_twin`).

    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad.preconditioners import Preconditioner
    >>> half = Preconditioner(lambda x: None, lambda g, s, v: (-0.5 * g, s), "half")
    >>> half.update(np.ones((1, 2)), None, None)[0].tolist()
    [[-0.5, -0.5]]

    A pair that sees the point: a step towards the origin, whatever the gradient.

    >>> home = Preconditioner(lambda x: None, lambda g, s, v, x: (-x, s), "home")
    >>> home.update(None, None, None, x=np.array([[2.0, -1.0]]))[0].tolist()
    [[-2.0, 1.0]]
    """

    init: Callable[[np.ndarray], Any]
    update: Callable[[np.ndarray, Any, Any], tuple[np.ndarray, Any]]
    name: str = "custom"


#: The compiled twins of the built-in pairs: update function -> (its init function, kernel kind, hyperparameters).
#: Private: a pair is run compiled only when both its functions are those a factory below made.
_TWINS: weakref.WeakKeyDictionary[Callable, tuple[Callable, str, tuple[float, float, float]]] = (
    weakref.WeakKeyDictionary()
)


def _builtin(
    init: Callable, update: Callable, name: str, kind: str, hyper: tuple[float, float, float] = (0.0, 0.0, 0.0)
) -> Preconditioner:
    _TWINS[update] = (init, kind, hyper)
    return Preconditioner(init, update, name)


def compiled_twin(pre: Preconditioner) -> tuple[str, tuple[float, float, float]] | None:
    """The compiled descent kernel that computes exactly ``pre``, or None when ``pre`` must run in Python.

    A pair has a twin only when its ``init`` and ``update`` are the very functions one of
    :func:`natural`, :func:`identity`, :func:`rmsprop`, :func:`adam`, :func:`lbfgs`,
    :func:`levenberg_marquardt` made (so the kernel
    computes what they compute); a pair you build, even with a built-in's name, has none.

    Parameters
    ----------
    pre : Preconditioner

    Returns
    -------
    (str, tuple of float) or None
        The kernel kind (see :data:`riemgrad.kernels.abi.KERNEL_KINDS`) and its three
        hyperparameters.

    Examples
    --------
    >>> import numpy as np
    >>> compiled_twin(rmsprop(decay=0.5))
    ('rmsprop', (0.5, 0.0, 1e-08))
    >>> compiled_twin(Preconditioner(lambda x: None, lambda g, s, v: (-g, s), "rmsprop")) is None
    True
    """
    twin = _TWINS.get(pre.update)
    if twin is None or twin[0] is not pre.init:
        return None
    return twin[1], twin[2]


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

    return _builtin(lambda x: None, update, "natural", "natural")


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

    return _builtin(lambda x: None, update, "identity", "identity")


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

    return _builtin(init, update, "rmsprop", "rmsprop", (float(decay), 0.0, float(eps)))


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

    return _builtin(init, update, "adam", "adam", (float(b1), float(b2), float(eps)))


# the second-order pairs build on _builtin above (imported last: quasi_newton imports this module)
from .quasi_newton import lbfgs, levenberg_marquardt  # noqa: E402

# ---------------------------------------------------------------- Hessian-free (issue 11)
# Truncated Newton-CG on compiled curvature-vector products, for fields over data. The factory and its
# settings live in riemgrad/flows/hessian_free.py; DataField.descend recognises the pair it returns.
from .hessian_free import hessian_free, hessian_free_settings  # noqa: E402

__all__ += ["hessian_free", "hessian_free_settings"]

# K-FAC (issue 11): riemgrad/flows/kfac.py; DataField.descend recognises the pair it returns.
from .kfac import kfac, kfac_settings  # noqa: E402

__all__ += ["kfac", "kfac_settings"]
