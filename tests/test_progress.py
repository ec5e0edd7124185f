"""Progress bars (tqdm.auto) for first-use compilation and long solves, and the switch that silences them.

The bars appear only after ``riemgrad._progress.DELAY`` seconds of work; the tests set it to 0 so
that any run long enough to go to a worker thread shows its bar, and read it from captured stderr.
"""

import numpy as np
import pytest
import sympy as sp

import riemgrad
from riemgrad import Chart, compile_flow, descend, euclidean_metric, preconditioners, solve_flow
from riemgrad import _progress
from riemgrad._progress import Progress, enabled

x = sp.Symbol("x", real=True)


@pytest.fixture
def no_delay(monkeypatch):
    monkeypatch.setattr(_progress, "DELAY", 0.0)
    monkeypatch.setattr(_progress.config, "progress", None)
    monkeypatch.delenv("RIEMGRAD_PROGRESS", raising=False)


@pytest.fixture(scope="module")
def decay():
    return compile_flow(euclidean_metric(Chart("line", (x,))), x**2 / 2)


X0 = np.linspace(0.5, 2.0, 100).reshape(100, 1)
LONG = dict(t_span=(0.0, 50.0), dt=1e-3)  # 50,000 steps x 100 trajectories: a run on a worker thread


def test_a_long_solve_shows_its_bar_when_forced_on(decay, no_delay, capsys):
    res = solve_flow(decay, X0, LONG["t_span"], dt=LONG["dt"], progress=True)
    err = capsys.readouterr().err
    assert "rk4 on chart 'line'" in err
    assert "step" in err and "50000/50000" in err
    np.testing.assert_allclose(res.xs[-1], X0 * np.exp(-50.0), rtol=1e-9)


def test_config_and_environment_force_it_on(decay, no_delay, capsys, monkeypatch):
    monkeypatch.setattr(_progress.config, "progress", True)
    descend(decay, X0, lr=1e-4, steps=50_000, preconditioner=preconditioners.adam())
    assert "adam descent on chart 'line'" in capsys.readouterr().err
    monkeypatch.setattr(_progress.config, "progress", None)
    monkeypatch.setenv("RIEMGRAD_PROGRESS", "1")
    solve_flow(decay, X0, LONG["t_span"], dt=LONG["dt"])
    assert "rk4 on chart 'line'" in capsys.readouterr().err


@pytest.mark.parametrize("how", ["keyword", "config", "environment", "not-a-terminal"])
def test_silent_when_turned_off_or_not_interactive(decay, no_delay, capsys, monkeypatch, how):
    kwargs = {}
    if how == "keyword":
        monkeypatch.setattr(_progress.config, "progress", True)  # the keyword wins over the config
        kwargs["progress"] = False
    elif how == "config":
        monkeypatch.setattr(riemgrad.config, "progress", False)
        monkeypatch.setenv("RIEMGRAD_PROGRESS", "1")  # the config wins over the environment
    elif how == "environment":
        monkeypatch.setenv("RIEMGRAD_PROGRESS", "0")
    # "not-a-terminal": pytest's captured stderr is not a TTY and no Jupyter kernel runs
    res = solve_flow(decay, X0, LONG["t_span"], dt=LONG["dt"], **kwargs)
    descend(decay, X0, lr=1e-4, steps=50_000, preconditioner=preconditioners.rmsprop(), **kwargs)
    assert capsys.readouterr().err == ""
    np.testing.assert_allclose(res.xs[-1], X0 * np.exp(-50.0), rtol=1e-9)


def test_first_use_compilation_is_announced(no_delay, capsys, monkeypatch):
    monkeypatch.setattr(riemgrad.config, "progress", True)
    # a field no other test compiles in this process: its heun kernels have no compiled signature yet
    field = compile_flow(euclidean_metric(Chart("progress_line", (x,))), (x - 3) ** 2 / 2 + x**4 / 1000)
    field.warm_up(["heun"], batch=1)
    err = capsys.readouterr().err
    assert "compiling heun kernels for FlowField on chart 'progress_line' (first use; cached on disk)" in err
    field.warm_up(["heun"], batch=1)  # compiled now: nothing to announce
    assert "compiling" not in capsys.readouterr().err


def test_first_use_compilation_is_silent_when_off(no_delay, capsys):
    field = compile_flow(euclidean_metric(Chart("quiet_line", (x,))), (x - 5) ** 2 / 2 + x**4 / 1000)
    res = solve_flow(field, [1.0], (0.0, 0.5), dt=0.01, stepper="ssprk3", progress=False)
    assert capsys.readouterr().err == ""
    assert res.status[()] == 0


def test_short_work_stays_silent_with_the_default_delay(decay, capsys, monkeypatch):
    monkeypatch.setattr(_progress.config, "progress", True)
    solve_flow(decay, X0, (0.0, 1.0), dt=1e-2)  # milliseconds: under a second, no bar
    assert capsys.readouterr().err == ""


def test_enabled_precedence(monkeypatch):
    monkeypatch.setattr(_progress.config, "progress", None)
    monkeypatch.setenv("RIEMGRAD_PROGRESS", "off")
    assert enabled() is False and enabled(True) is True
    monkeypatch.setenv("RIEMGRAD_PROGRESS", "1")
    assert enabled() is True and enabled(False) is False
    monkeypatch.setattr(_progress.config, "progress", False)
    assert enabled() is False
    assert repr(riemgrad.config) == "Config(progress=False)"


def test_a_progress_bar_opens_only_after_its_delay(capsys):
    bar = Progress("work", 10, "step", show=True, delay=3600.0)
    bar.update(5)
    bar.close(10)
    assert capsys.readouterr().err == ""
    bar = Progress("work", 10, "step", show=True, delay=0.0)
    bar.update(5)
    bar.close(10)
    assert "work" in capsys.readouterr().err
