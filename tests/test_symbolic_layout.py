"""The symbolic layer's layout: the family is immutable, modules import no private names across files."""

from __future__ import annotations

import ast
import pathlib

import pytest
import sympy as sp

import riemgrad.symbolic as symbolic
from riemgrad import Chart, ChartMap, ParametricFamily, fisher_metric

x = sp.Symbol("x", real=True)
mu = sp.Symbol("mu", real=True)
sigma = sp.Symbol("sigma", positive=True)
SYMBOLIC = pathlib.Path(symbolic.__file__).parent


def gaussian() -> ParametricFamily:
    logp = -((x - mu) ** 2) / (2 * sigma**2) - sp.log(sp.sqrt(2 * sp.pi) * sigma)
    return ParametricFamily(Chart("sigma", (mu, sigma)), x, logp, {x: sp.Reals})


def test_family_is_immutable_and_unchanged_by_derivations():
    fam = gaussian()
    before = dict(vars(fam))
    with pytest.raises(AttributeError, match="immutable"):
        fam.log_density = x
    g1 = fisher_metric(fam)
    g2 = fisher_metric(fam)
    assert g1 is g2  # cached
    after = {k: v for k, v in vars(fam).items() if k in before}
    assert after == before  # no attribute given at construction changed
    assert not any(isinstance(v, dict) and k != "support" for k, v in vars(fam).items())  # no mutable cache dict


def test_reparameterized_family_is_built_whole():
    fam = gaussian()
    tau = sp.Symbol("tau", real=True)
    m = ChartMap(Chart("log_sigma", (mu, tau)), fam.chart, (mu, sp.exp(tau)))
    rep = fam.reparameterize(m)
    assert rep.source == (fam, m)
    assert fam.source is None


SPLIT = ["family.py", "exponential.py", "expectation.py", "fisher.py", "divergences.py", "model_metrics.py"]


@pytest.mark.parametrize("name", SPLIT)
def test_no_private_import_across_modules(name):
    path = SYMBOLIC / name
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level >= 1:
            for alias in node.names:
                if node.module.lstrip(".") in ("_util", "_algebra", "_parse", "_budget", "_metric_checks", "_inverse"):
                    continue  # private helper modules of this package
                assert not alias.name.startswith("_"), f"{path.name} imports {alias.name} from {node.module}"


@pytest.mark.parametrize("path", sorted(SYMBOLIC.glob("*.py")), ids=lambda p: p.name)
def test_symbolic_modules_are_small(path):
    assert len(path.read_text().splitlines()) <= 530


def test_old_import_paths_still_work():
    from riemgrad.symbolic.fisher import (  # noqa: F401
        ExponentialForm,
        ParametricFamily,
        fisher_metric,
        fisher_route,
        kl_divergence,
    )


PACKAGE = SYMBOLIC.parent
LAYERS = ("symbolic", "kernels", "flows", "checks", "plotting")


@pytest.mark.parametrize("layer", LAYERS)
def test_no_layer_imports_another_layers_private_modules(layer):
    """Each layer (riemgrad/<layer>/) reaches the others only through their public modules and names;
    the package's own private modules at the top (riemgrad/_version.py, _progress.py, _frozen.py) are shared."""
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        depth = len(path.relative_to(PACKAGE).parts) - 1  # 1 for riemgrad/<layer>/x.py
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            if node.level:
                if node.level <= depth:
                    continue  # inside the same layer
                parts = node.module.split(".")  # relative to riemgrad/
            else:
                mod = node.module.split(".")
                parts = mod[1:] if mod[0] == "riemgrad" else []
            if not parts or parts[0] == layer or parts[0] not in LAYERS:
                continue
            private = [p for p in parts[1:] if p.startswith("_")]
            private += [a.name for a in node.names if a.name.startswith("_")]
            assert not private, f"{path.relative_to(PACKAGE)} imports {private} from {node.module} (another layer)"
