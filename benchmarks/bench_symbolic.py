"""Symbolic curvature benchmark: riemgrad against GraviPy, EinsteinPy and sympy.diffgeom.

For every workload (the 2-sphere, the Poincare half-plane, the Gaussian Fisher
metric, 4-D Schwarzschild and the dense family ``g_ij = delta_ij + x_i x_j`` for
n = 2..6) and every tool, the Christoffel symbols, the Riemann tensor, the Ricci
tensor and the scalar curvature are computed the way a user of that tool would,
each (tool, workload) pair in a fresh Python subprocess, so no cache leaks from
one case to the next and a slow case can be killed at ``--timeout`` seconds.

Besides the time, the final scalar curvature of each tool is compared with
riemgrad's numerically at a few random points of the domain, and its size is
reported as ``sympy.count_ops`` (smaller is simpler).

Usage
-----
::

    python benchmarks/bench_symbolic.py [--quick] [--timeout SECONDS] [--out FILE.md]
                                        [--tools riemgrad,gravipy,...] [--workloads sphere,dense_3,...]
                                        [--repeat N]

``--quick`` runs the small workloads only (dense n <= 3) with a 30 s timeout.
Baselines are optional (``pip install -e .[bench]``); a tool that is not
installed is reported as ``not installed``, one that fails as ``error: ...``.
Once a baseline times out on the dense family it is not run on larger n.

Each tool's recipe (timed from the metric matrix to the scalar curvature):

* riemgrad: ``Metric(Chart(...), matrix)``, then ``.christoffel()``,
  ``.riemann()``, ``.ricci()``, ``.scalar_curvature()`` (all components
  returned as SymPy expressions).
* GraviPy: ``Coordinates``, ``MetricTensor``, ``Christoffel`` (all ``Ga(-i, j, k)``),
  ``Riemann`` (all covariant ``Rm(i, j, k, l)``, its native form), ``Ricci``
  (all ``Ri(i, j)``), ``Ri.scalar()``; GraviPy's built-in
  ``together().simplify()`` on every component.
* EinsteinPy: ``MetricTensor``, ``ChristoffelSymbols.from_metric``,
  ``RiemannCurvatureTensor.from_christoffels``, ``RicciTensor.from_riemann``,
  ``RicciScalar.from_riccitensor``, then ``.simplify()`` (as in its docs).
* sympy.diffgeom: the metric as a sum of ``TensorProduct``s of coordinate
  differentials, ``metric_to_Christoffel_2nd``, ``metric_to_Riemann_components``,
  ``metric_to_Ricci_components`` and the contraction ``g^ij Ric_ij``, with
  ``sympy.simplify`` applied to every component of each result.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

# Benchmark this checkout's riemgrad, installed or not.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TOOLS = ("riemgrad", "gravipy", "einsteinpy", "diffgeom")
BASELINES = TOOLS[1:]
SHORT = {"riemgrad": "rg", "gravipy": "gp", "einsteinpy": "ep", "diffgeom": "dg"}
_RESULT_TAG = "BENCH-RESULT "


# --------------------------------------------------------------------------- workloads
@dataclass(frozen=True)
class Workload:
    """A metric to benchmark: coordinates, components, domain for sampling, known R."""

    name: str
    description: str
    coords: tuple[sp.Symbol, ...]
    matrix: sp.Matrix
    ranges: dict[sp.Symbol, tuple[float, float]]  # sampling box inside the domain, per symbol
    riemannian: bool = True
    expected_scalar: sp.Expr | None = None
    family: str = field(default="")
    size: int = 0


def _sphere() -> Workload:
    th = sp.Symbol("theta", positive=True)
    ph = sp.Symbol("phi", real=True)
    return Workload(
        "sphere",
        "unit 2-sphere, diag(1, sin(theta)^2)",
        (th, ph),
        sp.diag(1, sp.sin(th) ** 2),
        {th: (0.2, 2.9), ph: (-3.0, 3.0)},
        expected_scalar=sp.Integer(2),
    )


def _half_plane() -> Workload:
    x = sp.Symbol("x", real=True)
    y = sp.Symbol("y", positive=True)
    return Workload(
        "half_plane",
        "Poincare half-plane, diag(1/y^2, 1/y^2)",
        (x, y),
        sp.diag(1 / y**2, 1 / y**2),
        {x: (-2.0, 2.0), y: (0.3, 3.0)},
        expected_scalar=sp.Integer(-2),
    )


def _fisher_gaussian() -> Workload:
    mu = sp.Symbol("mu", real=True)
    sigma = sp.Symbol("sigma", positive=True)
    return Workload(
        "fisher_gaussian",
        "Gaussian (mu, sigma) Fisher metric, diag(1/sigma^2, 2/sigma^2)",
        (mu, sigma),
        sp.diag(1 / sigma**2, 2 / sigma**2),
        {mu: (-2.0, 2.0), sigma: (0.3, 3.0)},
        expected_scalar=sp.Integer(-1),
    )


def _schwarzschild() -> Workload:
    t = sp.Symbol("t", real=True)
    r = sp.Symbol("r", positive=True)
    th = sp.Symbol("theta", positive=True)
    ph = sp.Symbol("phi", real=True)
    M = sp.Symbol("M", positive=True)
    f = 1 - 2 * M / r
    return Workload(
        "schwarzschild",
        "4-D Schwarzschild (pseudo-Riemannian), mass parameter M",
        (t, r, th, ph),
        sp.diag(-f, 1 / f, r**2, r**2 * sp.sin(th) ** 2),
        {t: (-1.0, 1.0), r: (6.0, 12.0), th: (0.2, 2.9), ph: (-3.0, 3.0), M: (0.5, 2.0)},
        riemannian=False,
        expected_scalar=sp.Integer(0),
    )


def _dense(n: int) -> Workload:
    xs = sp.symbols(f"x1:{n + 1}", real=True)
    v = sp.Matrix(xs)
    s = sum(x**2 for x in xs)
    # g = I + x x^T is induced on the graph of |x|^2/2 in R^(n+1); by the Gauss equation
    # R = (n - 1)(n + (n - 2)|x|^2) / (1 + |x|^2)^2.
    return Workload(
        f"dense_{n}",
        f"dense g_ij = delta_ij + x_i x_j, n = {n}",
        tuple(xs),
        sp.eye(n) + v * v.T,
        {x: (-1.5, 1.5) for x in xs},
        expected_scalar=(n - 1) * (n + (n - 2) * s) / (1 + s) ** 2,
        family="dense",
        size=n,
    )


def workloads(quick: bool = False) -> list[Workload]:
    """All workloads in run order (the dense family by increasing n)."""
    top = 3 if quick else 6
    return [_sphere(), _half_plane(), _fisher_gaussian(), _schwarzschild()] + [_dense(n) for n in range(2, top + 1)]


def _workload_by_name(name: str) -> Workload:
    if name.startswith("dense_"):
        return _dense(int(name.split("_", 1)[1]))
    table = {
        "sphere": _sphere,
        "half_plane": _half_plane,
        "fisher_gaussian": _fisher_gaussian,
        "schwarzschild": _schwarzschild,
    }
    return table[name]()


# --------------------------------------------------------------------------- the tools (run in the worker)
def _run_riemgrad(w: Workload) -> sp.Expr:
    import riemgrad

    g = riemgrad.Metric(riemgrad.Chart(w.name, w.coords), w.matrix, riemannian=w.riemannian)
    g.christoffel()
    g.riemann()
    g.ricci()
    return g.scalar_curvature()


def _run_gravipy(w: Workload) -> sp.Expr:
    from gravipy.tensorial import Christoffel, Coordinates, MetricTensor, Ricci, Riemann

    n = len(w.coords)
    chi = Coordinates("chi", list(w.coords))
    g = MetricTensor("g", chi, sp.Matrix(w.matrix))
    Ga = Christoffel("Ga", g)
    idx = range(1, n + 1)
    for i in idx:  # Christoffel symbols of the second kind, Ga(-i, j, k)
        for j in idx:
            for k in idx:
                Ga(-i, j, k)
    Rm = Riemann("Rm", g)
    for a in idx:  # covariant Riemann tensor R_abcd (GraviPy's native form)
        for b in idx:
            for c in idx:
                for d in idx:
                    Rm(a, b, c, d)
    Ri = Ricci("Ri", g)
    for i in idx:
        for j in idx:
            Ri(i, j)
    return sp.sympify(Ri.scalar())


def _run_einsteinpy(w: Workload) -> sp.Expr:
    from einsteinpy.symbolic import (
        ChristoffelSymbols,
        MetricTensor,
        RicciScalar,
        RicciTensor,
        RiemannCurvatureTensor,
    )

    m = MetricTensor(sp.Matrix(w.matrix).tolist(), w.coords)
    ch = ChristoffelSymbols.from_metric(m)
    rm = RiemannCurvatureTensor.from_christoffels(ch)
    ric = RicciTensor.from_riemann(rm)
    R = RicciScalar.from_riccitensor(ric)
    R.simplify()
    return sp.sympify(R.expr)


def _run_diffgeom(w: Workload) -> sp.Expr:
    from sympy.diffgeom import (
        CoordSystem,
        Manifold,
        Patch,
        TensorProduct,
        metric_to_Christoffel_2nd,
        metric_to_Ricci_components,
        metric_to_Riemann_components,
    )

    n = len(w.coords)
    cs = CoordSystem(w.name, Patch("P", Manifold("M", n)), list(w.coords))
    fields = cs.base_scalars()
    to_fields = dict(zip(w.coords, fields))
    G = sp.Matrix(w.matrix).xreplace(to_fields)
    d = cs.base_oneforms()
    metric = sp.Add(*[G[i, j] * TensorProduct(d[i], d[j]) for i in range(n) for j in range(n) if G[i, j] != 0])
    metric_to_Christoffel_2nd(metric).applyfunc(sp.simplify)
    metric_to_Riemann_components(metric).applyfunc(sp.simplify)
    ric = metric_to_Ricci_components(metric).applyfunc(sp.simplify)
    ginv = G.inv()
    R = sp.simplify(sp.Add(*[ginv[i, j] * ric[i, j] for i in range(n) for j in range(n)]))
    return R.xreplace({f: c for c, f in to_fields.items()})  # back to plain symbols for comparison


_RUNNERS = {
    "riemgrad": _run_riemgrad,
    "gravipy": _run_gravipy,
    "einsteinpy": _run_einsteinpy,
    "diffgeom": _run_diffgeom,
}
_MODULES = {"riemgrad": "riemgrad", "gravipy": "gravipy", "einsteinpy": "einsteinpy", "diffgeom": "sympy.diffgeom"}


def _worker(tool: str, workload: str) -> None:
    """Run one case and print one tagged JSON line (stdout) with the outcome."""
    import importlib

    out: dict[str, Any]
    try:
        importlib.import_module(_MODULES[tool])
    except Exception as exc:  # any import failure means "not available"
        print(_RESULT_TAG + json.dumps({"status": "missing", "reason": f"{type(exc).__name__}: {exc}"}), flush=True)
        return
    w = _workload_by_name(workload)
    try:
        t0 = time.perf_counter()
        R = _RUNNERS[tool](w)
        seconds = time.perf_counter() - t0
        out = {"status": "ok", "seconds": seconds, "ops": int(sp.count_ops(R)), "scalar": sp.srepr(R)}
    except Exception as exc:  # a failing baseline is a result, not a crash
        msg = str(exc).splitlines()[0] if str(exc) else ""
        out = {"status": "error", "reason": f"{type(exc).__name__}: {msg}"[:80]}
    print(_RESULT_TAG + json.dumps(out), flush=True)


# --------------------------------------------------------------------------- the runner (parent process)
@dataclass
class CaseResult:
    """The outcome of one (tool, workload) case."""

    status: str  # ok | timeout | error | missing | skipped
    seconds: float | None = None
    ops: int | None = None
    scalar: sp.Expr | None = None
    reason: str = ""
    agrees: bool | None = None


def run_case(tool: str, workload: str, timeout: float) -> CaseResult:
    """Run one case in a fresh interpreter; a timeout kills it."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", tool, workload]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return CaseResult("timeout", reason=f"> {timeout:g} s")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(_RESULT_TAG):
            d = json.loads(line[len(_RESULT_TAG) :])
            if d["status"] != "ok":
                return CaseResult(d["status"], reason=d["reason"])
            return CaseResult("ok", seconds=d["seconds"], ops=d["ops"], scalar=sp.sympify(d["scalar"]))
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return CaseResult("error", reason=f"exit {proc.returncode}: {tail}"[:80])


def _points(w: Workload, scalar: sp.Expr, k: int, seed: int) -> list[dict[sp.Symbol, sp.Rational]]:
    rng = random.Random(seed)
    syms = sorted(scalar.free_symbols | set(w.coords), key=str)
    pts = []
    for _ in range(k):
        pt = {}
        for s in syms:
            lo, hi = next((v for key, v in w.ranges.items() if key.name == s.name), (0.5, 1.5))
            pt[s] = sp.Rational(round(rng.uniform(lo, hi), 6)).limit_denominator(10**6)
        pts.append(pt)
    return pts


def _by_name(pt: dict[sp.Symbol, Any], expr: sp.Expr) -> dict[sp.Symbol, Any]:
    """Match the point's symbols to ``expr``'s by name (tools may drop assumptions)."""
    names = {s.name: v for s, v in pt.items()}
    return {s: names[s.name] for s in expr.free_symbols if s.name in names}


def agree(w: Workload, a: sp.Expr, b: sp.Expr, k: int = 3, seed: int = 0) -> bool:
    """Numerical equality of two scalar curvatures at ``k`` random points of the domain."""
    for pt in _points(w, a + b, k, seed):
        va = complex(sp.N(a.xreplace(_by_name(pt, a)), 30))
        vb = complex(sp.N(b.xreplace(_by_name(pt, b)), 30))
        if abs(va - vb) > 1e-9 * max(1.0, abs(va), abs(vb)):
            return False
    return True


def _cell_time(r: CaseResult) -> str:
    if r.status == "ok":
        return f"{r.seconds:.3f}" if r.seconds < 10 else f"{r.seconds:.1f}"
    if r.status == "timeout":
        return f"timeout ({r.reason})"
    if r.status == "missing":
        return "not installed"
    if r.status == "skipped":
        return r.reason
    return f"error: {r.reason}"


def _cell_ratio(res: dict[str, CaseResult], timeout: float) -> str:
    rg = res.get("riemgrad")
    if rg is None or rg.status != "ok":
        return "-"
    base = [res[t] for t in BASELINES if t in res]
    oks = [r.seconds for r in base if r.status == "ok"]
    slow = [r for r in base if r.status in ("timeout", "skipped")]
    denom = max(rg.seconds, 1e-9)
    if oks:
        return f"{min(oks) / denom:.1f}x"
    if slow:
        return f"> {timeout / denom:.0f}x"
    return "-"


def _cell_ops(res: dict[str, CaseResult]) -> str:
    parts = []
    for t in TOOLS:
        r = res.get(t)
        if r is None or r.status != "ok":
            continue
        mark = "" if r.agrees in (None, True) else " (differs!)"
        parts.append(f"{SHORT[t]} {r.ops}{mark}")
    return ", ".join(parts) or "-"


def format_table(results: dict[str, dict[str, CaseResult]], tools: list[str], timeout: float) -> str:
    """The markdown table: one row per workload."""
    head = ["workload"] + [f"{t} s" for t in tools] + ["fastest baseline / riemgrad", "R count_ops"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 2) + ["---"]) + "|"]
    for wname, res in results.items():
        cells = [wname] + [_cell_time(res[t]) for t in tools] + [_cell_ratio(res, timeout), _cell_ops(res)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def environment() -> str:
    """One line naming the machine and the versions measured."""
    from importlib.metadata import PackageNotFoundError, version

    vers = []
    for dist in ("sympy", "riemgrad", "gravipy", "einsteinpy"):
        try:
            vers.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            vers.append(f"{dist} not installed")
    return (
        f"{os.cpu_count()} cores ({platform.machine()}, {platform.system()}), "
        f"Python {platform.python_version()}, " + ", ".join(vers)
    )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the suite (or, with ``--worker``, one case)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small workloads only (dense n <= 3), 30 s timeout")
    p.add_argument("--timeout", type=float, default=None, help="per-case timeout in seconds (default 120, quick 30)")
    p.add_argument("--out", help="also write the markdown report to this file")
    p.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of " + ",".join(TOOLS))
    p.add_argument("--workloads", default="", help="comma-separated workload names (default: all)")
    p.add_argument("--repeat", type=int, default=1, help="fresh runs per case; the minimum time is kept")
    p.add_argument("--worker", nargs=2, metavar=("TOOL", "WORKLOAD"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        _worker(*args.worker)
        return 0

    timeout = args.timeout if args.timeout is not None else (30.0 if args.quick else 120.0)
    tools = [t for t in args.tools.split(",") if t]
    if "riemgrad" not in tools:
        tools.insert(0, "riemgrad")
    unknown = set(tools) - set(TOOLS)
    if unknown:
        p.error(f"unknown tools {sorted(unknown)}; choose from {TOOLS}")
    wls = workloads(args.quick)
    if args.workloads:
        wls = [_workload_by_name(n) for n in args.workloads.split(",") if n]

    started = datetime.datetime.now(datetime.timezone.utc)
    print(f"# symbolic curvature benchmark, {started:%Y-%m-%d %H:%M} UTC", flush=True)
    print(f"# {environment()}", flush=True)
    print(f"# per-case timeout {timeout:g} s, repeat {args.repeat}", flush=True)
    results: dict[str, dict[str, CaseResult]] = {}
    timed_out_at: dict[str, str] = {}
    for w in wls:
        res: dict[str, CaseResult] = {}
        for t in tools:
            if w.family and t in timed_out_at:
                res[t] = CaseResult("skipped", reason=f"skipped (timed out at {timed_out_at[t]})")
                continue
            best = None
            for _ in range(max(1, args.repeat)):
                r = run_case(t, w.name, timeout)
                if best is None or (r.status == "ok" and (best.status != "ok" or r.seconds < best.seconds)):
                    best = r
                if r.status != "ok":
                    break
            res[t] = best
            if best.status == "timeout" and w.family:
                timed_out_at[t] = w.name
            print(f"  {w.name:16s} {t:11s} {_cell_time(best)}", file=sys.stderr, flush=True)
        ref = res["riemgrad"]
        if ref.status == "ok":
            if w.expected_scalar is not None:
                ref.agrees = bool(sp.cancel(ref.scalar - w.expected_scalar) == 0)
            for t in tools[1:]:
                if res[t].status == "ok":
                    try:
                        res[t].agrees = agree(w, ref.scalar, res[t].scalar)
                    except (TypeError, ValueError) as exc:
                        res[t].status, res[t].reason = "error", f"cannot evaluate R: {exc}"[:80]
        results[w.name] = res

    table = format_table(results, tools, timeout)
    notes = (
        "Times in seconds, each case in a fresh interpreter (imports excluded). "
        "Ratio > 1: riemgrad is faster than the fastest baseline. "
        "R count_ops: size of each tool's scalar curvature (rg riemgrad, gp gravipy, ep einsteinpy, "
        "dg sympy.diffgeom); '(differs!)' marks a value that disagrees with riemgrad's numerically "
        "(or, for riemgrad, with the known closed form)."
    )
    print()
    print(table)
    print()
    print(notes)
    if args.out:
        cmd = "python benchmarks/bench_symbolic.py " + " ".join(a for a in (argv or sys.argv[1:]))
        with open(args.out, "w") as fh:
            fh.write(
                f"Command: `{cmd.strip()}`\n\nDate: {started:%Y-%m-%d %H:%M} UTC\n\n"
                f"Machine: {environment()}\n\n{table}\n\n{notes}\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
