"""The `riemgrad` command: output, one-line errors and exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from riemgrad.cli import main


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("riemgrad ")
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert main(["fisher", "--help"]) == 0
    assert "--chart" in capsys.readouterr().out


def test_fisher_prints_the_closed_form(capsys):
    # Fisher metric of N(mu, v) in (mu, variance): diag(1/v, 1/(2 v^2)); scalar curvature -1
    assert main(["fisher", "normal", "--chart", "variance", "--latex", "--curvature"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == r"\left[\begin{matrix}\frac{1}{variance} & 0\\0 & \frac{1}{2 variance^{2}}\end{matrix}\right]"
    assert out[1] == "-1"


def test_fisher_list(capsys):
    assert main(["fisher", "--list"]) == 0
    out = capsys.readouterr().out
    assert "poisson" in out and "log_rate" in out


def test_fisher_family_options(capsys):
    assert main(["fisher", "categorical", "--option", "k=2", "--chart", "simplex", "--latex"]) == 0
    # categorical with k = 2 is the Bernoulli family: 1/(p (1 - p)) in the simplex coordinate
    out = capsys.readouterr().out.strip()
    assert out == r"\left[\begin{matrix}- \frac{1}{p_{1} \left(p_{1} - 1\right)}\end{matrix}\right]"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fisher", "nosuch"], "unknown family 'nosuch'"),
        (["fisher", "normal", "--chart", "nochart"], "has no chart 'nochart'"),
        (["fisher"], "give a FAMILY"),
        (["bogus"], "invalid choice"),
    ],
    ids=["unknown-family", "unknown-chart", "no-family", "unknown-command"],
)
def test_bad_arguments_give_one_line_and_status_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_bad_option_value_is_an_error_not_a_traceback(capsys):
    assert main(["fisher", "normal", "--option", "k"]) != 0
    err = capsys.readouterr().err
    assert "NAME=VALUE" in err and "Traceback" not in err


def test_console_script_runs():
    proc = subprocess.run([sys.executable, "-m", "riemgrad.cli", "fisher", "nosuch"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_demo_runs_checks_and_writes_the_figure(capsys, tmp_path):
    fig = tmp_path / "demo.png"
    assert main(["demo", "--quick", "--figure", str(fig)]) == 0
    out = capsys.readouterr().out
    # the symbolic half: the Fisher metric's curvature is -1/2 in every chart
    assert out.count("Gaussian curvature K = -1/2") == 3
    # the numeric half: both invariance checks and the closed-form check pass, Euclidean flows differ
    assert out.count("(passed)") == 3 and "FAILED" not in out
    assert "compilation" in out
    assert fig.exists() and fig.stat().st_size > 10_000
