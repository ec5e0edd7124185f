"""Preconditioners as (init, update) pairs: formulas, validation, use in descend."""

import numpy as np
import pytest
import sympy as sp

from riemgrad import Chart, Metric, compile_flow, descend, euclidean_metric
from riemgrad.preconditioners import Preconditioner, adam, identity, natural, rmsprop


def test_rmsprop_recursion():
    # v_k = rho v_{k-1} + (1 - rho) g_k^2, v_0 = 0; d_k = -g_k / (sqrt(v_k) + eps)
    opt = rmsprop(decay=0.8, eps=1e-3)
    state = opt.init(np.zeros((1, 1)))
    v = 0.0
    for g in (1.0, -2.0, 0.5):
        d, state = opt.update(np.array([[g]]), state, None)
        v = 0.8 * v + 0.2 * g * g
        assert d[0, 0] == pytest.approx(-g / (np.sqrt(v) + 1e-3), rel=1e-14)
        assert state[0, 0] == pytest.approx(v, rel=1e-14)


def test_adam_recursion():
    opt = adam(b1=0.5, b2=0.75, eps=0.0)
    state = opt.init(np.zeros((1, 1)))
    m = v = 0.0
    for k, g in enumerate((2.0, -1.0, 3.0), start=1):
        d, state = opt.update(np.array([[g]]), state, None)
        m = 0.5 * m + 0.5 * g
        v = 0.75 * v + 0.25 * g * g
        expected = -(m / (1 - 0.5**k)) / np.sqrt(v / (1 - 0.75**k))
        assert d[0, 0] == pytest.approx(expected, rel=1e-14)


def test_fixed_metric_pairs():
    g = np.array([[1.0, -2.0]])
    vel = np.array([[-0.5, 4.0]])
    assert natural().update(g, None, vel)[0].tolist() == vel.tolist()
    assert identity().update(g, None, vel)[0].tolist() == [[-1.0, 2.0]]
    assert natural().name == "natural"
    # the pairing with a compiled kernel is private: no public field a user could set
    assert Preconditioner._fields == ("init", "update", "name")


@pytest.mark.parametrize(
    "make, kwargs, match",
    [
        (rmsprop, dict(decay=1.0), "`decay` must lie in"),
        (rmsprop, dict(eps=-1.0), "`eps` must be >= 0"),
        (adam, dict(b1=1.5), "`b1` must lie in"),
        (adam, dict(b2=-0.1), "`b2` must lie in"),
        (adam, dict(eps=-1.0), "`eps` must be >= 0"),
    ],
)
def test_validation(make, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make(**kwargs)


def test_custom_pair_runs_in_descend():
    x = sp.Symbol("x", real=True)
    field = compile_flow(euclidean_metric(Chart("x", (x,))), (x - 2) ** 2)
    calls = {"init": 0, "update": 0}

    def init(x0):
        calls["init"] += 1
        return np.zeros(x0.shape[0])

    def update(grad, count, velocity):  # "half gradient", and a step counter as state
        calls["update"] += 1
        return -0.5 * grad, count + 1

    res = descend(field, [[0.0], [4.0]], lr=1.0, steps=3, preconditioner=Preconditioner(init, update, "half"))
    # x1 = x0 - 0.5 * 2 (x0 - 2) = 2, a fixed point
    np.testing.assert_allclose(res.xs[-1], [[2.0], [2.0]])
    assert res.preconditioner == "half"
    assert calls == {"init": 1, "update": 3}  # one batched call per step


@pytest.mark.parametrize("make", [natural, identity, rmsprop, adam], ids=lambda f: f.__name__)
def test_a_user_pair_is_never_replaced_by_a_compiled_kernel(make):
    """A pair built by the user runs the user's functions, even under a built-in's name, or with one of
    a built-in's two functions; only the factory's own pair has a compiled twin."""
    from riemgrad.preconditioners import compiled_twin

    x = sp.Symbol("x", real=True)
    field = compile_flow(euclidean_metric(Chart("x", (x,))), (x - 2) ** 2)
    builtin = make()
    assert compiled_twin(builtin) is not None
    calls = []

    def update(grad, state, velocity):
        calls.append(grad.shape)
        return -0.25 * grad, state

    for pre in (
        Preconditioner(builtin.init, update, builtin.name),  # same name and init, own update
        Preconditioner(lambda x0: builtin.init(x0), builtin.update, builtin.name),  # own init
    ):
        assert compiled_twin(pre) is None
    calls.clear()
    res = descend(field, [[0.0]], lr=1.0, steps=2, preconditioner=Preconditioner(builtin.init, update, builtin.name))
    assert calls == [(1, 1), (1, 1)]
    # x <- x - 0.25 * 2 (x - 2): 0 -> 1 -> 1.5 (the built-in would give another sequence)
    np.testing.assert_allclose(res.xs[-1], [[1.5]], rtol=0, atol=1e-15)


def test_natural_uses_the_field_metric():
    x = sp.Symbol("x", positive=True)
    # metric 1/x^2 (scale-invariant); loss log(x)^2: natural direction -x^2 * 2 log(x) / x = -2 x log(x)
    field = compile_flow(Metric(Chart("x", (x,)), [[1 / x**2]]), sp.log(x) ** 2)
    res = descend(field, [[2.0]], lr=0.1, steps=1, preconditioner=natural())
    assert res.xs[-1, 0, 0] == pytest.approx(2.0 - 0.1 * 2 * 2.0 * np.log(2.0), rel=1e-14)
