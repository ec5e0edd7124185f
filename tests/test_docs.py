"""The Sphinx documentation builds without warnings (the notebooks are executed in it too)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("myst_nb")
pytest.importorskip("numpydoc")

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(tmp_path / "html")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert (tmp_path / "html" / "index.html").exists()


def test_getting_started_shows_what_the_library_renders() -> None:
    """The rendered Metric and ChartMap on the getting-started page are the library's own output."""
    import sympy as sp

    import riemgrad as rg

    mu, sigma, log_sigma = sp.Symbol("mu", real=True), sp.Symbol("sigma", positive=True), sp.Symbol("log_sigma")
    chart = rg.Chart("sigma", (mu, sigma))
    g = rg.Metric(chart, sp.diag(1 / sigma**2, 2 / sigma**2))
    m = rg.ChartMap(rg.Chart("log_sigma", (mu, log_sigma)), chart, (mu, sp.exp(log_sigma)))
    page = (DOCS / "getting_started.md").read_text()
    for obj in (g, m):
        assert obj._repr_latex_().strip("$").replace("\\displaystyle ", "") in page
