"""The cost of interruptibility (issue 13, point 1): W1 and W2 of bench_flows.py, this checkout against
another one (today's main), each in its own process, alternating, best of several repeats.

    python benchmarks/bench_interrupt.py /path/to/other/checkout [--repeats 7]

Prints a markdown table of the best times and their ratio (this / other).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

WORKER = r"""
import json, sys, time
import numpy as np, sympy as sp
sys.path.insert(0, sys.argv[1])
import riemgrad as rg
mu = sp.Symbol("mu", real=True); sigma = sp.Symbol("sigma", positive=True)
g = rg.Metric(rg.Chart("sigma", (mu, sigma)), sp.diag(1 / sigma**2, 2 / sigma**2))
kl = sp.log(sigma / 2) + (4 + (1 - mu) ** 2) / (2 * sigma**2) - sp.Rational(1, 2)
field = rg.compile_flow(g, kl)
field.warm_up(["rk4", "euler"])
rng = np.random.default_rng(0)
x0 = np.column_stack([rng.uniform(-2, 3, 10_000), rng.uniform(0.4, 3, 10_000)])
cases = {
    "W1 rk4 batch 1": lambda: rg.solve_flow(field, x0[:1], (0.0, 5.0), dt=1e-3),
    "W1 rk4 batch 100": lambda: rg.solve_flow(field, x0[:100], (0.0, 5.0), dt=1e-3),
    "W1 rk4 batch 10,000": lambda: rg.solve_flow(field, x0, (0.0, 5.0), dt=1e-3),
    "W2 descent batch 10,000": lambda: rg.descend(field, x0, lr=0.1, steps=1000),
}
out = {}
for name, fn in cases.items():
    fn()
    best = float("inf")
    for _ in range(int(sys.argv[2])):
        t = time.perf_counter(); fn(); best = min(best, time.perf_counter() - t)
    out[name] = best
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("other", help="the checkout to compare against (e.g. an export of main)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3, help="alternating processes per version")
    args = ap.parse_args()
    roots = {"this": str(HERE.parent), "other": str(Path(args.other).resolve())}
    best: dict[str, dict[str, float]] = {"this": {}, "other": {}}
    for _ in range(args.rounds):
        for label, root in roots.items():
            res = subprocess.run(
                [sys.executable, "-c", WORKER, root, str(args.repeats)], capture_output=True, text=True, check=True
            )
            for name, t in json.loads(res.stdout.strip().splitlines()[-1]).items():
                best[label][name] = min(best[label].get(name, float("inf")), t)
    print("| workload | this (ms) | other (ms) | ratio |\n|---|---:|---:|---:|")
    for name in best["this"]:
        a, b = best["this"][name], best["other"][name]
        print(f"| {name} | {a * 1e3:.3f} | {b * 1e3:.3f} | {a / b:.3f} |")


if __name__ == "__main__":
    main()
