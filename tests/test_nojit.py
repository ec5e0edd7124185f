"""The numeric tests marked ``nojit`` pass with Numba's JIT disabled, and give the compiled results.

With ``NUMBA_DISABLE_JIT=1`` every generated kernel runs as the plain Python it is printed as:
tracebacks point at readable source lines, and coverage sees the kernels. The marked subset is
chosen small (few trajectories, few steps) so that it runs in Python in well under three minutes.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent

#: A few runs through every kernel kind (register and chunked layouts, adaptive, descent), printed as JSON.
_RUNS = r"""
import json, sys
import numpy as np, sympy as sp
from riemgrad import Chart, Metric, compile_flow, descend, solve_flow
from riemgrad.preconditioners import adam, lbfgs, levenberg_marquardt
mu = sp.Symbol("mu", real=True)
sigma = sp.Symbol("sigma", positive=True)
g = Metric(Chart("sigma", (mu, sigma)), sp.diag(1 / sigma**2, 2 / sigma**2))
field = compile_flow(g, sp.log(sigma / 2) + (4 + (1 - mu) ** 2) / (2 * sigma**2))
rng = np.random.default_rng(0)
x0 = np.column_stack([rng.uniform(-2, 3, 12), rng.uniform(0.4, 3.0, 12)])
out = {
    "rk4_scalar": solve_flow(field, x0[:3], (0.0, 1.0), dt=0.05).xs,
    "heun_range": solve_flow(field, x0, (0.0, 1.0), stepper="heun", dt=0.05).xs,
    "ssprk3_range": solve_flow(field, x0, (0.0, 1.0), stepper="ssprk3", dt=0.05).xs,
    "dopri5": solve_flow(field, x0[:4], (0.0, 1.0), stepper="dopri5", rtol=1e-9, atol=1e-12).xs,
    "natural_descent": descend(field, x0, lr=0.1, steps=20).xs,
    "adam_descent": descend(field, x0, lr=0.05, steps=20, preconditioner=adam(), backtracking=True).xs,
    "lbfgs_descent": descend(field, x0, lr=1.0, steps=20, preconditioner=lbfgs(3), backtracking=True).xs,
    "lm_descent": descend(field, x0, lr=1.0, steps=20, preconditioner=levenberg_marquardt(0.1)).xs,
    "diverged": descend(field, x0[:2], lr=2.5, steps=130, preconditioner=adam(b1=0.0, eps=1.0)).status,
}
json.dump({k: np.asarray(v).tolist() for k, v in out.items()}, sys.stdout)
"""


def _env() -> dict:
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONPATH=str(ROOT))
    env.setdefault("RIEMGRAD_CACHE_DIR", str(Path(tempfile.gettempdir()) / "riemgrad-nojit"))
    return env


@pytest.mark.slow
def test_marked_tests_pass_without_jit():
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:randomly", "-m", "nojit", "tests"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    tail = proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    assert " passed" in proc.stdout and "failed" not in proc.stdout, tail
    assert "deselected" in proc.stdout, tail  # only the marked subset ran


@pytest.mark.slow
def test_results_without_jit_match_the_compiled_run():
    proc = subprocess.run(
        [sys.executable, "-c", _RUNS], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    python = json.loads(proc.stdout)
    compiled = {}
    exec(_RUNS.replace("json.dump(", "compiled.update(").replace(", sys.stdout)", ")"), {"compiled": compiled})
    assert set(python) == set(compiled)
    for name, got in python.items():
        # IEEE arithmetic without fast-math on both sides: equal up to libm's last bits
        np.testing.assert_allclose(np.array(got, dtype=float), np.asarray(compiled[name]), rtol=1e-12, atol=1e-14,
                                   err_msg=name)  # fmt: skip
