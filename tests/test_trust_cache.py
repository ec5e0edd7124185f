"""The on-disk cache: entries are data, paths stay in the cache, files are verified, damage heals."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent(
    """
    import warnings, json, sys
    import numpy as np, sympy as sp
    from riemgrad import Chart, Metric, compile_flow, solve_flow
    x = sp.Symbol("x", real=True)
    field = compile_flow(Metric(Chart("line", (x,)), [[1 + x**2]]), (x - 1) ** 2, strategy="symbolic")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = solve_flow(field, [[0.0], [3.0]], (0.0, 1.0), dt=0.01)
    print(json.dumps({"x": res.xs[-1, :, 0].tolist(), "status": res.status.tolist(),
                      "velocity": str(field.velocity_expr), "path": str(field.path),
                      "warnings": [str(w.message) for w in caught]}))
    """
)


def run(cache: Path) -> tuple[dict, str]:
    env = dict(os.environ, RIEMGRAD_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-W", "always", "-c", SCRIPT], env=env, capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    cache = tmp_path_factory.mktemp("clean")
    return run(cache)[0], cache


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "derived").glob("*.json"))


def copy_cache(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_tampered_entry_does_not_run_code(clean, tmp_path):
    reference, src = clean
    cache = copy_cache(src, tmp_path / "c")
    marker = tmp_path / "pwned"
    for entry in entries(cache):
        data = json.loads(entry.read_text())
        data["velocity"] = [f"__import__('os').system('touch {marker}')"]
        entry.write_text(json.dumps(data))
    got, err = run(cache)
    assert not marker.exists()
    assert got["x"] == reference["x"] and got["velocity"] == reference["velocity"]
    assert "CacheRepairWarning" in err and err.count("CacheRepairWarning") == 1


def test_entry_pointing_outside_the_cache_is_discarded(clean, tmp_path):
    reference, src = clean
    cache = copy_cache(src, tmp_path / "c")
    outside = tmp_path / "evil.py"
    outside.write_text("raise SystemExit('evil')\n")
    for entry in entries(cache):
        data = json.loads(entry.read_text())
        data["source"] = str(outside)
        entry.write_text(json.dumps(data))
    got, err = run(cache)
    assert got["x"] == reference["x"]
    assert "CacheRepairWarning" in err


def test_one_line_edit_of_a_kernel_is_detected_and_rebuilt(clean, tmp_path):
    reference, src = clean
    cache = copy_cache(src, tmp_path / "c")
    kernel = cache / "kernels" / Path(reference["path"]).name
    text = kernel.read_text()
    # a wrong velocity with the right shape: flip the sign of the first output line of _vels
    edited = text.replace("    return v0, s", "    return -v0, s", 1)
    assert edited != text
    kernel.write_text(edited)
    got, err = run(cache)
    assert got["x"] == reference["x"] and got["status"] == reference["status"]
    assert "did not match the hash" in err
    assert kernel.read_text() == text  # healed on disk


@pytest.mark.parametrize("damage", ["garbage", "truncate"])
def test_corrupt_numba_index_heals(clean, tmp_path, damage):
    reference, src = clean
    cache = copy_cache(src, tmp_path / "c")
    index = sorted((cache / "kernels" / "__pycache__").glob("*.nbi"))
    assert index, "the clean run left no Numba index"
    for f in index:
        f.write_bytes(b"not a pickle" if damage == "garbage" else f.read_bytes()[:7])
    got, err = run(cache)
    assert got["x"] == reference["x"]
    got2, err2 = run(cache)  # and the next run is clean again
    assert got2["x"] == reference["x"] and "CacheRepairWarning" not in err2


def test_old_format_entry_is_rebuilt(clean, tmp_path):
    reference, src = clean
    cache = copy_cache(src, tmp_path / "c")
    for entry in entries(cache):
        entry.write_text(json.dumps({"strategy": "symbolic", "velocity": None}))
    got, err = run(cache)
    assert got["x"] == reference["x"] and err.count("CacheRepairWarning") == 1


def test_a_kernel_loaded_from_another_cache_directory_is_written_to_the_current_one(tmp_path, monkeypatch):
    """A process that compiled a field with one cache directory and then switches to another writes the
    kernel file there too, so the derivation stored there names a file that exists (found by CI: the
    second directory's entry pointed at a missing file and the next compile warned)."""
    import warnings

    import sympy as sp

    from riemgrad import Chart, Metric, compile_flow
    from riemgrad.kernels.cache import CacheRepairWarning

    x = sp.Symbol("x", real=True)
    metric, loss = Metric(Chart("line", (x,)), [[3 + x**2]]), (x - 2) ** 2
    monkeypatch.setenv("RIEMGRAD_CACHE_DIR", str(tmp_path / "first"))
    first = compile_flow(metric, loss, strategy="symbolic")
    monkeypatch.setenv("RIEMGRAD_CACHE_DIR", str(tmp_path / "second"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheRepairWarning)
        second = compile_flow(metric, loss, strategy="symbolic")
        again = compile_flow(metric, loss, strategy="symbolic")
    assert second.path.parent == tmp_path / "second" / "kernels"
    assert second.path.exists() and again.path == second.path
    assert second.path.read_text() == first.path.read_text()


@pytest.mark.parametrize("damage", ["garbage", "truncate", "empty"])
def test_corrupt_numba_data_file_heals(clean, tmp_path, damage):
    """A damaged machine-code file of Numba's cache (.nbc, read when a kernel is loaded): one warning, the
    same results, and the next run is clean."""
    reference, src = clean
    cache = copy_cache(src, tmp_path / "c")
    data = sorted((cache / "kernels" / "__pycache__").glob("*.nbc"))
    assert data, "the clean run left no Numba data file"
    for f in data:
        raw = f.read_bytes()
        f.write_bytes({"garbage": b"\x80\x04not machine code" * 7, "truncate": raw[: len(raw) // 3], "empty": b""}[damage])
    got, err = run(cache)
    assert got["x"] == reference["x"] and got["status"] == reference["status"]
    assert "CacheRepairWarning" in err and "Traceback" not in err
    got2, err2 = run(cache)
    assert got2["x"] == reference["x"] and "CacheRepairWarning" not in err2
