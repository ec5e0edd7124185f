"""The `riemgrad` command: output, one-line errors and exit codes."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest
from _mathtext import assert_mathtext

from riemgrad.cli import FAMILY_OPTIONS, _build_parser, main

ROOT = Path(__file__).resolve().parents[1]


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
    out = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("%")]
    assert out[0] == r"\mathrm{variance}:\ (\mu,\, \mathrm{variance}) \in \mathbb{R} \times (0, \infty)"
    v = r"\mathrm{variance}"
    dv = rf"\mathrm{{d}}{v}"
    assert out[1] == rf"ds^{{2}} = \frac{{1}}{{{v}}}\, \mathrm{{d}}\mu^{{2}} + \frac{{1}}{{2 {v}^{{2}}}}\, {dv}^{{2}}"
    assert out[2] == rf"\left[\begin{{matrix}}\frac{{1}}{{{v}}} & 0\\0 & \frac{{1}}{{2 {v}^{{2}}}}\end{{matrix}}\right]"
    assert out[3] == "-1"
    for line in out[:2]:
        assert_mathtext(line)


def test_fisher_pretty_output_is_unicode_and_uses_the_terminal_width(capsys, monkeypatch):
    # categorical, k = 4, simplex chart: g_ii = 1/p_i + 1/p_4, g_ij = 1/p_4 with p_4 = 1 - p1 - p2 - p3
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["fisher", "categorical", "--option", "k=4"]) == 0
    wide = capsys.readouterr().out
    assert "⎡" in wide and "p₁" in wide  # one Unicode matrix
    assert max(len(line) for line in wide.splitlines()[1:]) <= 200
    monkeypatch.setenv("COLUMNS", "50")
    assert main(["fisher", "categorical", "--option", "k=4"]) == 0
    narrow = capsys.readouterr().out
    assert "⎡" not in narrow and "wider than 50 columns" in narrow
    assert narrow.count("g[p") == 6  # the six components with i <= j, none zero
    assert max(len(line) for line in narrow.splitlines()[2:]) <= 50
    assert "g[p1, p2] = " in narrow


def test_fisher_list_is_an_aligned_table_of_accepted_names(capsys):
    assert main(["fisher", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0]
    col_opts, col_charts = header.index("options"), header.index("charts")
    rows = {line.split()[0]: line for line in lines[1 : 1 + len(FAMILY_OPTIONS)]}
    assert list(rows) == list(FAMILY_OPTIONS)
    assert rows["categorical"][col_opts:].startswith("k=INT>=2")
    assert rows["poisson"][col_charts:].startswith("rate, log_rate")
    for name, line in rows.items():
        assert line[col_charts - 2 : col_charts] == "  " and line[col_charts] != " "  # aligned column
    # every name in the table is accepted as typed
    for name in ("categorical", "multivariate_normal", "normal_known_mean", "von_mises"):
        assert main(["fisher", name]) == 0


def test_option_table_matches_the_family_builders():
    from riemgrad import families

    names = set(families._BUILDERS) | {"normal_known_mean"}
    assert set(FAMILY_OPTIONS) == names
    for name, builder in families._BUILDERS.items():
        assert set(FAMILY_OPTIONS[name]) == set(inspect.signature(builder).parameters), name


def test_fisher_family_options(capsys):
    assert main(["fisher", "categorical", "--option", "k=2", "--chart", "simplex", "--latex"]) == 0
    # categorical with k = 2 is the Bernoulli family: 1/(p (1 - p)) in the simplex coordinate
    out = capsys.readouterr().out.splitlines()
    assert r"- \frac{1}{p_{1} \left(p_{1} - 1\right)}" in out[out.index("% matrix") + 1]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fisher", "nosuch"], "unknown family 'nosuch'"),
        (["fisher", "normal", "--chart", "nochart"], "has no chart 'nochart'"),
        (["fisher"], "give a FAMILY"),
        (["bogus"], "invalid choice"),
        (["fisher", "binomial", "--option", "n=x"], "bad value for --option n=x: expected an integer >= 1"),
        (["fisher", "categorical", "--option", "k=1"], "expected an integer >= 2"),
        (["fisher", "student_t", "--option", "nu=-2"], "expected a positive number"),
        (["fisher", "normal", "--option", "k=3"], "family 'normal' has no option 'k'; its options: known_mean"),
        (["fisher", "poisson", "--option", "k=3"], "family 'poisson' has no option 'k'; its options: none"),
        (["fisher", "normal", "--option", "k"], "NAME=VALUE"),
    ],
    ids=["unknown-family", "unknown-chart", "no-family", "unknown-command", "n-not-int", "k-too-small",
         "nu-negative", "unknown-option", "no-options", "no-equals"],  # fmt: skip
)
def test_bad_arguments_give_one_line_and_status_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1
    assert err.count("(see '") == 1  # one hint, not two
    assert "Traceback" not in err


def test_help_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from riemgrad.cli import main\n"
        "assert main(['--help']) == 0 and main(['fisher', '--help']) == 0 and main(['demo', '--help']) == 0\n"
        "heavy = sorted(m for m in ('sympy', 'numpy', 'numba', 'matplotlib', 'scipy') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout


def test_lazy_package_resolves_every_public_name():
    import riemgrad

    for name in riemgrad.__all__:
        assert getattr(riemgrad, name) is not None, name
    assert set(riemgrad.__all__) <= set(dir(riemgrad))
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        riemgrad.nosuch  # noqa: B018


def test_good_option_values_are_used(capsys):
    # binomial with n = 3 trials: I(p) = n / (p (1 - p))
    assert main(["fisher", "binomial", "--option", "n=3", "--latex"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert r"- \frac{3}{p \left(p - 1\right)}" in out[out.index("% matrix") + 1]
    # known mean: N(mu0, sigma^2) has I(sigma) = 2 / sigma^2
    assert main(["fisher", "normal", "--option", "known_mean=0.5", "--latex"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[out.index("% matrix") + 1] == r"\left[\begin{matrix}\frac{2}{\sigma^{2}}\end{matrix}\right]"


def test_demo_without_figure_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    parser = _build_parser()
    args = parser.parse_args(["demo"])
    assert args.figure is None  # no PNG unless asked
    assert parser.parse_args(["demo", "--figure", "x.png"]).figure == "x.png"


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
    assert f"figure written to {fig}" in out
