"""K-FAC descent over data (Martens & Grosse 2015): its settings and its factory.

:func:`kfac` returns a :class:`~riemgrad.flows.preconditioners.Preconditioner`
that :meth:`riemgrad.kernels.DataField.descend` (and :func:`riemgrad.descend`
on a data field) recognises and runs compiled, on a field compiled from a
layered model (:func:`riemgrad.models.mlp`). The kernels are generated in
:mod:`riemgrad.kernels.kfac`; the factors at a point are
:func:`riemgrad.kernels.kfac.kfac_factors`.

Examples
--------
>>> from riemgrad.preconditioners import kfac
>>> pre = kfac(damping=1e-2, decay=0.9, inverse_every=5)
>>> pre.name
'kfac(true)'
>>> kfac_settings(pre).inverse_every
5
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SolverSettingsError

__all__ = ["KFACSettings", "kfac", "kfac_settings"]


@dataclass(frozen=True)
class KFACSettings:
    """The validated settings of a K-FAC run (see :func:`kfac` for their meaning).

    Attributes
    ----------
    damping : float
    decay : float
    inverse_every : int
    fisher : {"true", "empirical"}
    model : riemgrad.models.Model or None

    Examples
    --------
    >>> from riemgrad.preconditioners import kfac
    >>> kfac_settings(kfac(damping=0.1)).decay
    0.95
    """

    damping: float
    decay: float
    inverse_every: int
    fisher: str
    model: Any = None


#: update function -> (init, settings); a pair runs as K-FAC only while it holds the functions kfac made.
_SETTINGS: weakref.WeakKeyDictionary[Callable, tuple[Callable, KFACSettings]] = weakref.WeakKeyDictionary()


def kfac(
    damping: float = 1e-3,
    decay: float = 0.95,
    inverse_every: int = 1,
    *,
    fisher: str = "true",
    model: Any = None,
) -> Any:
    """K-FAC: descent preconditioned by a block-diagonal, Kronecker-factored Fisher metric.

    Per layer l with parameters [W_l | b_l] (vec ordered column by column, the
    bias column last) the Fisher block is approximated by A_l (x) G_l, with
    A_l = E[a a^T] (the layer's inputs, a 1 appended) and G_l = E[g g^T] (g the
    gradient of the log-likelihood in the layer's pre-activations; see
    :func:`~riemgrad.kernels.kfac.kfac_factors`). Each step k:

    1. the factors at theta_k are computed over the rows (compiled) and averaged,
       ``A <- decay A + (1 - decay) A_k`` (``A = A_0`` at the first step), likewise G;
    2. every ``inverse_every`` steps (k = 0, T, 2T, ...) the damped factors
       ``A + pi sqrt(lam) I`` and ``G + sqrt(lam) / pi I``,
       ``pi = sqrt((tr A / dim A) / (tr G / dim G))`` (Martens & Grosse sec. 6.3;
       pi = 1 if a trace is 0), are Cholesky-factored; between, the last factors
       are used;
    3. ``theta <- theta - lr vec(G_d^{-1} V A_d^{-1})``, V = dL/d[W | b] the
       layer's gradient of the average loss: (A_d (x) G_d)^{-1} vec V by two small
       solves, the Kronecker product never formed.

    Parameters
    ----------
    damping : float
        Tikhonov damping lam > 0, split between the factors with the pi-correction.
    decay : float
        The running average's decay, in [0, 1) (0: the current factors only).
    inverse_every : int
        Refactor the damped factors every this many steps, >= 1.
    fisher : {"true", "empirical"}
        The true Fisher (the expectation over the model's labels, analytic in y
        through the output family's Fisher) or the empirical Fisher (the data's labels).
    model : riemgrad.models.Model, optional
        The MLP the field was compiled from. Default: recovered from the field
        (its chart's coordinate names and its loss).

    Returns
    -------
    Preconditioner
        Named ``"kfac(<fisher>)"``; run by ``DataField.descend`` /
        ``riemgrad.descend`` on a field from :func:`riemgrad.compile_data_flow`.
        The field's own metric and ``damping`` are not used.

    Raises
    ------
    SolverSettingsError
        For ``damping <= 0`` (or not finite), ``decay`` outside [0, 1),
        ``inverse_every < 1``, an unknown ``fisher``. Running it on a
        :class:`~riemgrad.FlowField` raises SolverSettingsError too.
    MethodNotApplicableError
        If ``model`` (or, at the run, the field) has no layer structure.

    References
    ----------
    J. Martens and R. Grosse, "Optimizing neural networks with Kronecker-factored
    approximate curvature", ICML 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from riemgrad import compile_data_flow, descend, generalized_gauss_newton_metric, models
    >>> m = models.mlp((1, 2, 1))
    >>> X = np.linspace(-1, 1, 50)
    >>> data = m.dataset(X, np.sin(2 * X))
    >>> field = compile_data_flow(generalized_gauss_newton_metric(m, data), m.family)
    >>> x0 = np.random.default_rng(0).normal(0, 0.5, m.chart.dim)
    >>> res = descend(field, x0, lr=0.2, steps=30, preconditioner=kfac(damping=1e-2))
    >>> gd = descend(field, x0, lr=0.2, steps=30, preconditioner="identity")
    >>> np.round(res.losses, 4).tolist(), np.round(gd.losses, 4).tolist()
    ([0.4791, 0.0043], [0.4791, 0.0464])
    >>> res.preconditioner
    'kfac(true)'
    """
    lam = _positive(damping)
    try:
        dec = float(decay)
    except (TypeError, ValueError):
        dec = math.nan
    if isinstance(decay, bool) or not (0.0 <= dec < 1.0):
        raise SolverSettingsError(
            f"`decay` must be a number in [0, 1); got {decay!r}. Martens & Grosse use 0.95; 0 uses the current "
            "factors only."
        )
    if isinstance(inverse_every, bool) or not isinstance(inverse_every, (int, np.integer)) or inverse_every < 1:
        raise SolverSettingsError(
            f"`inverse_every` must be an integer >= 1; got {inverse_every!r}. Use 1 to refactor every step."
        )
    if fisher not in ("true", "empirical"):
        raise SolverSettingsError(
            f"`fisher` must be 'true' or 'empirical'; got {fisher!r}. 'true' takes the expectation over the "
            "model's labels analytically, 'empirical' uses the data's labels."
        )
    if model is not None:
        from ..kernels.kfac import layout

        layout(model)  # raises MethodNotApplicableError naming `model`
    settings = KFACSettings(lam, dec, int(inverse_every), fisher, model)
    from .preconditioners import Preconditioner

    def init(x: np.ndarray) -> Any:
        raise SolverSettingsError(
            "`preconditioner` kfac(...) runs only on a field over data compiled from a layered model "
            "(riemgrad.compile_data_flow with a riemgrad.models.mlp model); this field is a FlowField."
        )

    def update(grad: np.ndarray, state: Any, velocity: Any) -> tuple[np.ndarray, Any]:
        return init(grad)

    _SETTINGS[update] = (init, settings)
    return Preconditioner(init, update, f"kfac({fisher})")


def _positive(damping: Any) -> float:
    try:
        lam = float(damping)
    except (TypeError, ValueError):
        lam = math.nan
    if isinstance(damping, bool) or not (math.isfinite(lam) and lam > 0.0):
        raise SolverSettingsError(
            f"`damping` must be a finite number > 0; got {damping!r}. K-FAC's factors are singular without it "
            "(a factor of rank at most n); use e.g. damping=1e-3."
        )
    return lam


def kfac_settings(pre: Any) -> KFACSettings | None:
    """The settings of a pair made by :func:`kfac`, or None for any other preconditioner.

    Examples
    --------
    >>> from riemgrad.preconditioners import kfac, natural
    >>> kfac_settings(natural()) is None
    True
    >>> kfac_settings(kfac(fisher="empirical")).fisher
    'empirical'
    """
    update = getattr(pre, "update", None)
    try:
        got = _SETTINGS.get(update) if update is not None else None
    except TypeError:
        return None
    if got is None or got[0] is not getattr(pre, "init", None):
        return None
    return got[1]
