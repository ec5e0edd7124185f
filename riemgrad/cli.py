"""The ``riemgrad`` command line.

``riemgrad demo`` runs the main demonstration; ``riemgrad --help`` lists the
commands. Bad arguments give a one-line error and exit status 2, never a
traceback.

Examples
--------
>>> from riemgrad.cli import main
>>> main(["--version"])  # doctest: +ELLIPSIS
riemgrad ...
0
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from . import __version__
from .errors import RiemgradError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit with status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="riemgrad", description="Riemannian geometry of optimisation: symbolic metrics and flows.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    d = sub.add_parser("demo", help="the main demonstration: Gaussian Fisher geometry in three charts")
    d.add_argument("--quick", action="store_true", help="a smaller run (fewer starting points)")
    d.add_argument("--figure", default="riemgrad-demo.png", help="where to write the figure (default: %(default)s)")
    d.add_argument("--no-figure", action="store_true", help="do not write a figure")
    return p


def _section(title: str) -> None:
    print(f"\n== {title} ==")


def _demo(args: argparse.Namespace) -> int:
    import sympy as sp

    from . import families
    from .symbolic import fisher_metric

    print(f"riemgrad {__version__} demo: the Gaussian N(mu, sigma^2) as a Riemannian manifold")
    _section("Fisher metric derived from the density, in three charts")
    metrics = {}
    for scale in ("sigma", "variance", "log_sigma"):
        fam = families.normal(scale=scale)
        t0 = time.perf_counter()
        g = fisher_metric(fam)
        dt = time.perf_counter() - t0
        metrics[scale] = g
        print(f"chart {scale:>9} {str(g.chart.coords):<22} g = {sp.sstr(g.matrix.tolist()):<40} ({dt * 1e3:.0f} ms)")
    _section("Curvature (the same in every chart)")
    for scale, g in metrics.items():
        print(f"chart {scale:>9}: Gaussian curvature K = {g.gaussian_curvature()}, scalar curvature R = "
              f"{g.scalar_curvature()}")
    g = metrics["sigma"]
    G = g.christoffel()
    _section("Christoffel symbols in the (mu, sigma) chart")
    names = [c.name for c in g.chart.coords]
    for k in range(2):
        for i in range(2):
            for j in range(i, 2):
                if G[k, i, j] != 0:
                    print(f"Gamma^{names[k]}_{names[i]}{names[j]} = {G[k, i, j]}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``riemgrad`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success, 1 on a riemgrad error, 2 on bad
        arguments.
    """
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on errors
        return int(exc.code or 0)
    if args.version:
        print(f"riemgrad {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "demo":
            return _demo(args)
    except RiemgradError as exc:
        print(f"riemgrad: error: {exc}", file=sys.stderr)
        return 1
    return 0  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
