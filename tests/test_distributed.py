"""Sweeps on a LocalCluster of 2 worker processes x 1 thread: kernels load once per worker, a killed
worker's tasks rerun with identical results, failing trajectories are statuses.

One module-scoped cluster: starting worker processes is the slow part (seconds on 2 cores).
The reference for "identical" is the same sweep computed in this process with the synchronous
scheduler (the same NumPy path on the same blocks).
"""

import logging
import os
import signal
import sys
import time

import numpy as np
import pytest
import sympy as sp

import riemgrad as rg

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
    )
    with distributed.Client(cluster) as cl:
        yield cl
    cluster.close()


def _dispatcher_signatures(module_name):
    """Compiled signatures per Numba dispatcher of a generated module in this worker, {name: count}."""
    mod = sys.modules.get(module_name)
    if mod is None:
        return {}
    return {k: len(f.signatures) for k, f in vars(mod).items() if getattr(f, "signatures", None)}


def _restored():
    from riemgrad.kernels.transport import transport_stats

    return transport_stats()["restored"]


def test_a_worker_loads_and_compiles_a_field_once_however_many_tasks(client):
    x, q = sp.Symbol("x", real=True), sp.Symbol("q")
    field = rg.compile_flow(rg.euclidean_metric(rg.Chart("line", (x,))), (x - q) ** 4 / 4 + x**2 / 7, params=(q,))
    name = field._module.__name__
    before = client.run(_restored)
    x0 = da.from_array(np.linspace(-2, 2, 64).reshape(-1, 1), chunks=(8, 1))
    res = rg.solve_flow(field, x0, (0.0, 1.0), dt=1e-2, params=[0.5])
    first, _ = dask.compute(res.xs, res.losses)  # the stepper kernel and the loss kernel
    after_one = client.run(_restored)
    sigs_one = client.run(_dispatcher_signatures, name)
    # 3 x 8 more tasks, two other parameter values: nothing new is loaded or compiled
    for _ in range(3):
        res = rg.sweep(field, x0, {"q": [0.0, 1.0]}, t_span=(0.0, 1.0), dt=1e-2)
        res.compute()
    after_many = client.run(_restored)
    sigs_many = client.run(_dispatcher_signatures, name)
    assert sum(after_one[w] - before[w] for w in before) >= 1
    assert all(after_one[w] - before[w] <= 1 for w in before)  # at most once per worker process
    assert after_many == after_one and sigs_many == sigs_one
    # each kernel a worker ran (the stepper, the loss and the final checks' evaluators) compiled once
    assert any(sigs_one.values()) and all(n == 1 for sigs in sigs_one.values() for n in sigs.values())
    assert client.run(lambda: name in sys.modules) and np.isfinite(first).all()


def _heavy_sweep(field):
    rng = np.random.default_rng(1)
    pts = np.column_stack([rng.uniform(-2, 3, 2048), rng.uniform(0.4, 3.0, 2048)])
    pts[::97, 1] = -1.0  # starts outside sigma > 0: LEFT_DOMAIN in their blocks
    x0 = da.from_array(pts, chunks=(128, 2))
    return rg.solve_flow(field, x0, (0.0, 20.0), dt=1e-3)


def test_a_killed_worker_reruns_its_tasks_with_identical_results(client, gaussian_sigma_field):
    res = _heavy_sweep(gaussian_sigma_field)
    reference = res.compute(scheduler="sync")
    xs, status = client.persist([res.xs, res.status])
    futures = distributed.futures_of(xs)
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 120
    while sum(f.done() for f in futures) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    busy = [w for w, keys in client.processing().items() if keys]
    assert busy and not all(f.done() for f in futures), "the sweep finished before a worker could be killed"
    victim = pids[busy[0]]
    os.kill(victim, signal.SIGKILL)
    xs, status = client.compute([xs, status], sync=True)
    assert victim not in client.run(os.getpid).values()
    assert np.array_equal(xs, reference.xs, equal_nan=True)
    assert np.array_equal(status, reference.status)
    assert (status[::97] == rg.Status.LEFT_DOMAIN).all() and (np.delete(status, np.s_[::97]) == 0).all()
