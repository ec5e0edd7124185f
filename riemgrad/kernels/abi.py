"""The written contract between the generated kernels and the code that runs them.

Every generated module (one per field, see :func:`riemgrad.compile_flow`)
defines the same set of compiled functions. This module says, in one place,
what they are called, what they take, what they return and how large their
inputs may be; the code generator (:mod:`riemgrad.kernels.codegen`) prints
names and status codes from here, and :class:`~riemgrad.kernels.FlowField`
calls the kernels through the typed run records below, so no other module
formats a kernel name or builds a positional argument list.

Kernel kinds
------------
``fixed_scalar``
    ``_<stepper>_scalar(X, t0, dt, nsteps, save_idx, p, hyper, XS, status, tlast, ctl)``:
    fixed steps, one trajectory at a time with the state in registers (batches of
    at most :data:`SCALAR_MAX_BATCH`, dimension at most :data:`SCALAR_MAX_DIM`).
``fixed_range``
    ``_<stepper>_range(X, lo, hi, t0, dt, nsteps, save_idx, p, hyper, XS, STATUS, TLAST, ctl)``:
    fixed steps over the trajectories ``lo:hi``, in chunks of at most :data:`CHUNK`.
``descent_range``
    ``_descent_<kind>_range(X, lo, hi, lr, backtrack, nsteps, save_idx, p, hyper, XS, STATUS, TLAST, ctl)``:
    preconditioned descent (the slots of ``t0, dt`` carry ``lr`` and the backtracking flag).
``adaptive_range``
    ``_dopri_range(X, lo, hi, t0, t1, h0, rtol, atol, max_steps, save_t, p, XS, STATUS, TLAST, NSTEPS, ctl)``.
``evaluate``
    ``_loss_batch(X, p, out)``, ``_grad_batch(X, p, out)``, ``_metric_batch(X, p, out)``,
    ``_vel_batch(X, p, out, status)``; a module of an ODE handed over whole (the geodesic
    equations) has ``_vel_batch`` and ``_energy_batch(X, p, out)`` instead, and no descent kernels.

``data_run`` (a module over data rows, :mod:`riemgrad.kernels.data_kernels`)
    ``_descend_0`` / ``_descend_m`` and ``_rk4_m``, each
    ``(X, Z, lr_or_dt, nsteps, lam, dom, save_idx, XS, STATUS, KF, CTL)``: descent with the
    gradient only (``_0``) or with the metric averaged over the rows of ``Z`` (``_m``),
    and the RK4 gradient flow; ``X`` is ``(batch, dim)`` here, ``Z`` is ``(n, columns)``
    bound at call time, ``dom`` (int64, ``(dim,)``) marks coordinates that must stay
    positive (1) or negative (-1), ``lam`` is the damping, ``KF`` the last step per start,
    ``CTL`` the call's control row, read before every step. The other runs over data
    (``_descend_lbfgs``, ``_descend_lm``, Hessian-free's ``_descend_hf`` and K-FAC's
    ``_descend_kfac``) also take their control row last; all are started through
    :func:`riemgrad.kernels._data_runner.run_over_data`.
    Its evaluators are ``_losses(X, Z, out)``, ``_gradients(X, Z, out)`` and
    ``_evaluate(X, Z, lam, GRAD, MET, VEL, STATUS)``. See :class:`DataRun`.

Layouts: ``X`` is ``(dim, batch)`` C-contiguous (coordinate k of trajectory j
at ``X[k, j]``) and is advanced in place; ``XS`` receives the saved states
point-major, ``(n_save, batch, dim)``; ``p`` holds the parameter values (at
least one entry); ``status`` (int64) and ``tlast`` (float) hold one entry per
trajectory. Every kernel returns nothing and writes a status code per
trajectory from :data:`STATUS_CODES`.

The control row
---------------
The last argument of every stepping kernel, ``ctl``, is one row (int64, length
:data:`CONTROL_WIDTH`) of the run's control array (the ``control`` field of the
run records; :func:`control_array`). It is how a run is stopped and watched while
it runs on worker threads, with no Python between steps:

* ``ctl[CONTROL_STOP]`` is read between blocks of at most ``BLOCK`` (128) steps,
  and between chunks and trajectories; when another thread has set it non-zero,
  the kernel returns early. The states, statuses and saved states of a stopped
  run are then incomplete and must be discarded (the solvers raise
  ``KeyboardInterrupt``; they advance a copy of the user's ``x0``).
* ``ctl[CONTROL_DONE]`` is the progress counter: fixed-step and descent kernels
  add the trajectory-steps of each finished block (steps times trajectories, so
  the total is ``nsteps * batch``); the adaptive kernel adds 1 per finished
  trajectory and keeps the millionths of the current trajectory's time span in
  ``ctl[CONTROL_FRACTION]``.

Each concurrent call gets its own row, so that no two threads write the same
counter; the caller sums the rows. Reading the counters while the kernels run is
racy by design (a progress bar may lag a block behind), never wrong at the end.

Examples
--------
>>> from riemgrad.kernels import abi
>>> abi.kernel_name("fixed_range", "rk4"), abi.kernel_name("descent_range", "adam")
('_rk4_range', '_descent_adam_range')
>>> [s.name for s in abi.STATUS_CODES][:3]
['SUCCESS', 'LEFT_DOMAIN', 'NONFINITE']
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "CHUNK",
    "SCALAR_MAX_BATCH",
    "SCALAR_MAX_DIM",
    "KERNEL_KINDS",
    "EVALUATORS",
    "StatusCode",
    "STATUS_CODES",
    "CODE",
    "DIVERGENCE_LOSS_FACTOR",
    "DIVERGENCE_NORM_FACTOR",
    "kernel_name",
    "FixedStepRun",
    "DescentRun",
    "AdaptiveRun",
    "CONTROL_WIDTH",
    "CONTROL_STOP",
    "CONTROL_DONE",
    "CONTROL_FRACTION",
    "control_array",
    "DATA_KERNELS",
    "DataRun",
    "FASTMATH_FLAGS",
    "FASTMATH_ENV",
    "fastmath_flags",
]

#: Trajectories per chunk: the inner, vectorized loop of every ``_range`` kernel.
CHUNK = 512

#: The LLVM fast-math flags every generated kernel is compiled with (``FASTMATH`` in its header):
#: fused multiply-add (``contract``) and reciprocal multiplication (``arcp``). Both keep NaN and
#: inf semantics, so every status is detected as without them, and the vectorizable elementary
#: functions, inlined with their caller's flags, keep their 1-ulp bound (docs/elementary.md).
#: Not used: ``nnan``/``ninf`` (they delete the NaN and inf checks: statuses break), ``reassoc``
#: with ``nsz`` (folds the elementary functions' rounding steps), ``afn`` (libm approximations).
FASTMATH_FLAGS = ("arcp", "contract")

#: Environment variable: ``0``/``off``/``false``/``no`` compiles new kernels without fast-math.
FASTMATH_ENV = "RIEMGRAD_FASTMATH"

#: Batches at most this large run one trajectory at a time with the state in registers.
SCALAR_MAX_BATCH = 8

#: Largest dimension with register-resident (scalar-argument) steppers. CPython passes calls with more
#: than 30 arguments as ``f(*args)``, which Numba cannot inline; the widest such call is the singular-factor
#: check ``_sides(x0.., z0.., p)`` with ``2 * DIM + 1`` arguments, so 14. Wider fields go through arrays.
SCALAR_MAX_DIM = 14

#: Kernel kind -> the pattern of its function name (``{}`` is the stepper or preconditioner name).
KERNEL_KINDS = {
    "fixed_scalar": "_{}_scalar",
    "fixed_range": "_{}_range",
    "descent_range": "_descent_{}_range",
    "adaptive_range": "_dopri_range",
}

#: The batch evaluators of the field's quantities, by what they compute.
EVALUATORS = {
    "loss": "_loss_batch",
    "gradient": "_grad_batch",
    "metric": "_metric_batch",
    "velocity": "_vel_batch",
    "energy": "_energy_batch",
}


#: The runs of a module over data rows, by what they do (see ``data_run`` above).
DATA_KERNELS = {"descent_gradient": "_descend_0", "descent_metric": "_descend_m", "flow_metric": "_rk4_m"}


def kernel_name(kind: str, name: str = "") -> str:
    """The name of a generated function of kind ``kind`` for stepper or preconditioner ``name``.

    Parameters
    ----------
    kind : str
        A key of :data:`KERNEL_KINDS`.
    name : str
        The stepper (``"rk4"``) or descent preconditioner (``"adam"``); unused for
        ``"adaptive_range"``.

    Returns
    -------
    str

    Examples
    --------
    >>> kernel_name("fixed_scalar", "heun")
    '_heun_scalar'
    """
    return KERNEL_KINDS[kind].format(name)


class StatusCode(NamedTuple):
    """One outcome of one trajectory: its name, its integer code in the kernels, its message."""

    name: str
    code: int
    message: str


#: The one table of outcomes. ``riemgrad.Status`` is built from it, and the generator prints the codes
#: into the kernels from it. SUCCESS must be 0: kernels OR the flags of a step's stages together
#: (``f |= g``) and test ``!= 0``.
STATUS_CODES = (
    StatusCode("SUCCESS", 0, "The trajectory reached the end."),
    StatusCode(
        "LEFT_DOMAIN",
        1,
        "The trajectory left the chart's domain (e.g. sigma <= 0). Use a smaller step `dt` or `lr`, "
        "an adaptive stepper, or a chart whose domain is all of R^n (e.g. log_sigma).",
    ),
    StatusCode(
        "NONFINITE",
        2,
        "The state or velocity became non-finite (inf or NaN). Use a smaller step `dt` or `lr`, or check "
        "the loss near the starting point.",
    ),
    StatusCode(
        "SINGULAR_METRIC",
        3,
        "The metric is singular (not numerically positive definite) at the last valid point. "
        "The flow is undefined there; start elsewhere or regularize the metric.",
    ),
    StatusCode("MAX_STEPS", 4, "The maximum number of solver steps was reached. Try increasing `max_steps`."),
    StatusCode(
        "STEP_SIZE_TOO_SMALL",
        5,
        "The adaptive step size fell below its minimum (the field is too stiff or ill-defined here). "
        "Loosen `rtol`/`atol` or use a fixed-step stepper.",
    ),
    StatusCode(
        "DIVERGED",
        6,
        "The descent diverged: its loss rose above L0 + 1e4 (|L0| + 1) (L0 the starting loss) or an iterate's "
        "largest coordinate exceeded 1e10 (1 + max|x0|). Use a smaller `lr`, backtracking=True, or a "
        "preconditioner that adapts its steps (levenberg_marquardt, lbfgs with backtracking).",
    ),
    StatusCode(
        "MINIMALITY_UNKNOWN",
        7,
        "riemgrad could not establish that the distance is the length of a minimizing geodesic (no geodesic "
        "was found, or the one found may not be the shortest); `upper_bounds` holds the shortest length "
        "known. Pass `injectivity_radius=` or `periods=` if you know them, or split the pair at a midpoint.",
    ),
)

#: A descent trajectory is DIVERGED when its loss ``L`` at a checked iterate satisfies
#: ``L - L0 > DIVERGENCE_LOSS_FACTOR * (|L0| + 1)`` (``L0`` its starting loss) ...
DIVERGENCE_LOSS_FACTOR = 1e4
#: ... or when the iterate's largest coordinate exceeds ``DIVERGENCE_NORM_FACTOR * (1 + max|x0|)``. Checked
#: every ``BLOCK`` (128) steps and after the last step by the compiled descent kernels and the Python loop,
#: after the last step only by natural descent without backtracking (which runs on the flows' Euler kernel).
DIVERGENCE_NORM_FACTOR = 1e10

#: Status name -> integer code, for the code generator's templates.
CODE = {s.name: s.code for s in STATUS_CODES}

if CODE["SUCCESS"] != 0 or len(set(CODE.values())) != len(CODE):  # pragma: no cover - a broken table
    raise ImportError("riemgrad.kernels.abi.STATUS_CODES: SUCCESS must be 0 and codes distinct")

#: Entries of one control row (see the module docstring, "The control row").
CONTROL_STOP, CONTROL_DONE, CONTROL_FRACTION = 0, 1, 2
#: Length of one control row (one spare entry).
CONTROL_WIDTH = 4


def control_array(calls: int = 1) -> np.ndarray:
    """A fresh control array: one zero row per concurrent kernel call.

    Parameters
    ----------
    calls : int
        The number of kernel calls of the run (one per thread).

    Returns
    -------
    numpy.ndarray of int64, shape (calls, CONTROL_WIDTH)

    Examples
    --------
    >>> ctl = control_array(2)
    >>> ctl.shape, ctl.dtype.name
    ((2, 4), 'int64')
    >>> ctl[:, CONTROL_STOP] = 1   # every kernel of the run returns at its next check
    """
    return np.zeros((max(1, int(calls)), CONTROL_WIDTH), np.int64)


#: The slot every fixed-step kernel keeps for the hyperparameters of descent (unused there).
_NO_HYPER = np.zeros(3)


class FixedStepRun(NamedTuple):
    """The settings of a fixed-step run (``fixed_scalar`` and ``fixed_range`` kernels).

    Attributes
    ----------
    stepper : str
        A fixed-step stepper of the generator's table (``"euler"``, ``"heun"``, ``"rk4"``, ...).
    t0 : float
        The start time.
    dt : float
        The step.
    nsteps : int
        The number of steps.
    save_idx : numpy.ndarray of int64, shape (n_save,)
        Sorted step indices to record (0 is the start).
    params : numpy.ndarray of float, shape (max(1, n_params),)
        The field's parameter values.
    control : numpy.ndarray of int64, shape (n_calls, CONTROL_WIDTH), optional
        The run's control array (:func:`control_array`); row ``i`` is the last argument of the
        ``i``-th concurrent kernel call (rows are reused in turn if there are fewer rows than
        calls). None: the runner makes a fresh one. Setting column ``CONTROL_STOP`` from another
        thread stops the run; column ``CONTROL_DONE`` counts its progress.

    Examples
    --------
    >>> import numpy as np
    >>> run = FixedStepRun("rk4", 0.0, 0.1, 10, np.array([0, 10]), np.zeros(1))
    >>> run.kernel_args()[:3]
    (0.0, 0.1, 10)
    """

    stepper: str
    t0: float
    dt: float
    nsteps: int
    save_idx: np.ndarray
    params: np.ndarray
    control: np.ndarray | None = None

    def kernel_args(self) -> tuple:
        """The positional arguments after ``X`` (and ``lo, hi``), up to the saved-state buffer."""
        return (self.t0, self.dt, self.nsteps, self.save_idx, self.params, _NO_HYPER)


class DescentRun(NamedTuple):
    """The settings of a compiled descent run (``descent_range`` kernels).

    Attributes
    ----------
    kind : str
        The compiled preconditioner: ``"natural"``, ``"identity"``, ``"rmsprop"``, ``"adam"``,
        ``"lbfgs"`` or ``"lm"`` (Levenberg-Marquardt).
    lr : float
        The step size (the first trial step with backtracking).
    backtracking : bool
        Armijo backtracking.
    nsteps : int
        The number of steps.
    save_idx : numpy.ndarray of int64, shape (n_save,)
        Sorted step indices to record.
    params : numpy.ndarray of float
        The field's parameter values.
    hyper : tuple of float
        Three hyperparameters ``(a, b, eps)`` of the preconditioner: the decays and epsilon of
        RMSprop and Adam; ``(history, curvature_eps, 0)`` of L-BFGS; ``(damping, diagonal, schedule)``
        of Levenberg-Marquardt (``diagonal`` and ``schedule`` are 0.0 or 1.0).
    control : numpy.ndarray of int64, shape (n_calls, CONTROL_WIDTH), optional
        The run's control array (:func:`control_array`); row ``i`` is the last argument of the
        ``i``-th concurrent kernel call (rows are reused in turn if there are fewer rows than
        calls). None: the runner makes a fresh one. Setting column ``CONTROL_STOP`` from another
        thread stops the run; column ``CONTROL_DONE`` counts its progress.

    Examples
    --------
    >>> import numpy as np
    >>> run = DescentRun("rmsprop", 0.1, False, 5, np.array([0, 5]), np.zeros(1), (0.9, 0.0, 1e-8))
    >>> run.kernel_args()[:2]
    (0.1, 0.0)
    """

    kind: str
    lr: float
    backtracking: bool
    nsteps: int
    save_idx: np.ndarray
    params: np.ndarray
    hyper: tuple[float, float, float] = (0.0, 0.0, 0.0)
    control: np.ndarray | None = None

    def kernel_args(self) -> tuple:
        """The positional arguments after ``X, lo, hi``, up to the saved-state buffer."""
        hyper = np.asarray(self.hyper, dtype=float)
        return (float(self.lr), float(bool(self.backtracking)), self.nsteps, self.save_idx, self.params, hyper)


class AdaptiveRun(NamedTuple):
    """The settings of an adaptive Dormand-Prince run (the ``adaptive_range`` kernel).

    Attributes
    ----------
    t0, t1 : float
        Start and end time.
    first_step : float
        The first trial step.
    rtol, atol : float
        Tolerances of the error control.
    max_steps : int
        Step budget per trajectory.
    save_t : numpy.ndarray of float, shape (n_save,)
        Sorted times to record.
    params : numpy.ndarray of float
        The field's parameter values.
    control : numpy.ndarray of int64, shape (n_calls, CONTROL_WIDTH), optional
        The run's control array (:func:`control_array`); row ``i`` is the last argument of the
        ``i``-th concurrent kernel call (rows are reused in turn if there are fewer rows than
        calls). None: the runner makes a fresh one. Setting column ``CONTROL_STOP`` from another
        thread stops the run; column ``CONTROL_DONE`` counts its progress.

    Examples
    --------
    >>> import numpy as np
    >>> run = AdaptiveRun(0.0, 1.0, 0.01, 1e-8, 1e-10, 1000, np.array([0.0, 1.0]), np.zeros(1))
    >>> run.kernel_args()[:3]
    (0.0, 1.0, 0.01)
    """

    t0: float
    t1: float
    first_step: float
    rtol: float
    atol: float
    max_steps: int
    save_t: np.ndarray
    params: np.ndarray
    control: np.ndarray | None = None

    def kernel_args(self) -> tuple:
        """The positional arguments after ``X, lo, hi``, up to the saved-state buffer."""
        return (
            self.t0,
            self.t1,
            self.first_step,
            float(self.rtol),
            float(self.atol),
            int(self.max_steps),
            self.save_t,
            self.params,
        )


class DataRun(NamedTuple):
    """The settings of a run over data rows (the ``data_run`` kernels of :data:`DATA_KERNELS`).

    Attributes
    ----------
    kernel : str
        A key of :data:`DATA_KERNELS`.
    Z : numpy.ndarray of float, shape (n, columns)
        The data matrix, C-contiguous, columns in the module's order.
    step : float
        ``lr`` of a descent, ``dt`` of the flow.
    nsteps : int
    lam : float
        Damping added to the metric (``G + lam I``).
    dom : numpy.ndarray of int64, shape (dim,)
        Sign constraints of the coordinates (1 positive, -1 negative, 0 free).
    save_idx : numpy.ndarray of int64, shape (n_save,)
        Sorted step indices to record.

    Examples
    --------
    >>> import numpy as np
    >>> run = DataRun("descent_metric", np.zeros((3, 2)), 0.5, 4, 0.0, np.zeros(2, np.int64), np.array([0, 4]))
    >>> run.name(), run.kernel_args()[1:3]
    ('_descend_m', (0.5, 4))
    """

    kernel: str
    Z: np.ndarray
    step: float
    nsteps: int
    lam: float
    dom: np.ndarray
    save_idx: np.ndarray

    def name(self) -> str:
        """The generated function this run calls."""
        return DATA_KERNELS[self.kernel]

    def kernel_args(self) -> tuple:
        """The positional arguments after ``X``, up to the saved-state buffer."""
        return (self.Z, float(self.step), int(self.nsteps), float(self.lam), self.dom, self.save_idx)


def fastmath_flags() -> tuple[str, ...]:
    """The fast-math flags for kernels generated now: :data:`FASTMATH_FLAGS`, or none when
    ``$RIEMGRAD_FASTMATH`` is ``0``, ``off``, ``false`` or ``no`` (to compare and debug).

    Returns
    -------
    tuple of str
        Sorted LLVM flag names; empty for no fast-math.

    Examples
    --------
    >>> import os
    >>> fastmath_flags() == (() if os.environ.get(FASTMATH_ENV, "").lower() in ("0", "off", "false", "no")
    ...                      else FASTMATH_FLAGS)
    True
    """
    import os

    if os.environ.get(FASTMATH_ENV, "").strip().lower() in ("0", "off", "false", "no"):
        return ()
    return FASTMATH_FLAGS
