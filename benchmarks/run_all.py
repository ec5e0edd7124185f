"""Run every riemgrad benchmark in turn: ``python benchmarks/run_all.py [--quick]``.

Runs ``bench_symbolic.py`` and, when present, ``bench_fisher.py`` and
``bench_flows.py`` from this folder, each in its own subprocess with the same
Python interpreter, passing ``--quick`` through, from the repository root and
with the root on ``PYTHONPATH`` (so the checkout's riemgrad is measured). Their reports go to stdout
(progress to stderr). The exit status is non-zero if any benchmark failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SUITES = ("bench_symbolic.py", "bench_fisher.py", "bench_flows.py")


def main(argv: list[str] | None = None) -> int:
    """Run the suites that exist; return 0 if all succeeded."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="pass --quick to every suite (small sizes, short timeouts)")
    args = p.parse_args(argv)

    # every suite benchmarks this checkout's riemgrad, installed or not
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    failed = []
    for name in SUITES:
        path = os.path.join(HERE, name)
        if not os.path.exists(path):
            print(f"## {name}: not present, skipped\n", flush=True)
            continue
        cmd = [sys.executable, path] + (["--quick"] if args.quick else [])
        shown = " ".join(["python", os.path.relpath(path, ROOT)] + cmd[2:])
        print(f"## {name}\n\n$ {shown}\n", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd, cwd=ROOT, env=env)
        print(f"\n({name}: exit {rc}, {time.perf_counter() - t0:.0f} s)\n", flush=True)
        if rc != 0:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
