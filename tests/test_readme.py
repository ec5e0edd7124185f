"""The README's notebook example runs and does what its comments say."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

README = Path(__file__).resolve().parent.parent / "README.md"


def _example() -> str:
    match = re.search(r"## In a notebook\n\n```python\n(.*?)```", README.read_text(), re.S)
    assert match, "README.md has no '## In a notebook' python block"
    return match.group(1)


def test_readme_example_is_short():
    assert len(_example().strip().splitlines()) <= 15


@pytest.mark.slow
def test_readme_example_runs():
    ns: dict = {}
    exec(compile(_example(), str(README), "exec"), ns)
    sigma = ns["sigma"]
    assert ns["g"].matrix == sp.diag(1 / sigma**2, 2 / sigma**2)
    assert ns["g"].gaussian_curvature() == sp.Rational(-1, 2)
    res = ns["res"]
    assert res.summary() == {"SUCCESS": 10_000}
    # e^{-10} ~ 5e-5: every trajectory is within 1e-2 of the target (mu, sigma) = (1, 2)
    np.testing.assert_allclose(res.xs[-1], np.broadcast_to([1.0, 2.0], res.xs[-1].shape), atol=1e-2)
