"""Time the exact Fisher metric of every catalogue family in every chart.

Run ``python benchmarks/bench_fisher.py``; it prints a markdown table with the
derivation time of each family-chart (a fresh catalogue, base chart first, so
the other charts pay only for the pullback; SymPy's cache cleared before each
timing), the route ``fisher_metric``
("auto") took, whether the result equals the literature closed form, and, for
comparison, the time to re-derive the same metric from the chart's own density
(no pullback) by the direct route. Goal: < 1 s per family-chart.
"""

from __future__ import annotations

import argparse
import sys
import time

import sympy as sp


def _equal(a: sp.Matrix, b: sp.Matrix) -> bool:
    from riemgrad.symbolic._util import simplify_expr

    for u, v in zip(a, b):
        d = simplify_expr(u - v)
        if d == 0:
            continue
        d = sp.simplify(d)  # benchmark-only check, never in library code
        if d != 0:
            return False
    return True


def _direct_method(fam) -> str:
    ef = fam.exponential_form
    if ef is not None:
        return "exponential"
    return "hessian" if fam.is_twice_differentiable else "score"


def run(direct: bool = True) -> list[tuple]:
    """Derive every family-chart once (and, if ``direct``, once more from its own density).

    Returns rows (family, chart, seconds, route, matches closed form, direct seconds, direct route).
    """
    from sympy.core.cache import clear_cache

    from riemgrad import ParametricFamily, families
    from riemgrad.symbolic.fisher import _fisher

    families._atlas_cached.cache_clear()
    rows = []
    for at in families.catalogue():
        for cname in at.chart_names:
            fam = at[cname]
            clear_cache()  # SymPy's own cache: time each derivation cold
            t0 = time.perf_counter()
            g, route = _fisher(fam, "auto")
            dt = time.perf_counter() - t0
            print(f"{at.name}/{cname}: {dt:.3f} s ({route})", file=sys.stderr, flush=True)
            dt_direct, method = float("nan"), "-"
            if direct:
                fresh = ParametricFamily(fam.chart, fam.variables, fam.log_density, fam.support)
                method = _direct_method(fresh)
                clear_cache()
                t0 = time.perf_counter()
                _fisher(fresh, method)
                dt_direct = time.perf_counter() - t0
            rows.append((at.name, cname, dt, route, _equal(g.matrix, at.closed_form(cname).matrix), dt_direct, method))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the table as markdown; exit status 1 if a result differs from its closed form.

    ``--quick`` skips the second, direct derivation of each family-chart.
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="skip the direct (no pullback) re-derivation column")
    args = p.parse_args(argv)
    rows = run(direct=not args.quick)
    print("| family | chart | time (s) | route | equals closed form | direct from density (s) | direct route |")
    print("|---|---|---:|---|---|---:|---|")
    for fam, chart, dt, route, ok, dt2, method in rows:
        print(f"| {fam} | {chart} | {dt:.3f} | {route} | {'yes' if ok else 'NO'} | {dt2:.3f} | {method} |")
    total = sum(r[2] for r in rows)
    worst = max(rows, key=lambda r: r[2])
    print(f"\n{len(rows)} family-charts, total {total:.2f} s, slowest {worst[0]}/{worst[1]} {worst[2]:.3f} s")
    return 0 if all(r[4] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
