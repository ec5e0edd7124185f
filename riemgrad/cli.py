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
>>> main(["fisher", "poisson", "--chart", "log_rate"])
Fisher metric of poisson in the chart 'log_rate' (log_rate; log_rate real):
[ log_rate]
[e        ]
0
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from . import __version__  # the package imports lazily: nothing heavy loads for --help
from .errors import RiemgradError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit with status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        hint = "" if "(see '" in message else f" (see '{self.prog} --help')"
        self.exit(2, f"{self.prog}: error: {message}{hint}\n")


#: The names ``riemgrad fisher`` accepts, as typed, and each one's options: name -> (form, meaning).
#: tests/test_cli.py checks this table against the builders in riemgrad.families.
FAMILY_OPTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "normal": {"known_mean": ("true|NUMBER", "fix the mean (a symbol mu0, or the number): the 1-parameter family")},
    "normal_known_mean": {},
    "bernoulli": {},
    "binomial": {"n": ("INT>=1", "number of trials (default: a symbol n)")},
    "poisson": {},
    "geometric": {},
    "exponential": {},
    "gamma": {},
    "beta": {},
    "categorical": {"k": ("INT>=2", "number of categories (default 3)")},
    "multivariate_normal": {"d": ("INT>=1", "dimension (default 2)")},
    "laplace": {},
    "cauchy": {},
    "student_t": {"nu": ("NUMBER>0", "degrees of freedom (default: a symbol nu)")},
    "von_mises": {},
}
#: The options ``--list`` shows charts for (the catalogue's defaults).
_LIST_OPTIONS = {"normal_known_mean": {"known_mean": True}, "categorical": {"k": 3}, "multivariate_normal": {"d": 2}}


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="riemgrad", description="Riemannian geometry of optimisation: symbolic metrics and flows.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    d = sub.add_parser(
        "demo", help="the main demonstration: Gaussian Fisher geometry and natural-gradient flow in three charts"
    )
    d.add_argument("--quick", action="store_true", help="a smaller run (1,000 starting points instead of 10,000)")
    d.add_argument("--figure", metavar="PATH", default=None, help="write the demo's figure (PNG) to PATH")
    d.add_argument("--no-figure", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for scripts
    f = sub.add_parser("fisher", help="print the Fisher metric of a catalogue family in one of its charts")
    f.add_argument("family", nargs="?", help="a family, e.g. normal, poisson, categorical (see --list)")
    f.add_argument("--chart", help="the chart (default: the family's base chart)")
    f.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a family option, e.g. k=4 for categorical, d=2 for multivariate_normal (repeatable; see --list)",
    )
    f.add_argument("--latex", action="store_true", help="print LaTeX (chart, line element, matrix) instead of text")
    f.add_argument("--curvature", action="store_true", help="also print the scalar curvature")
    f.add_argument("--list", action="store_true", help="list the accepted family names, their options and charts")
    return p


def _width() -> int:
    """The terminal's width in columns (``COLUMNS`` when set; 100 when not a terminal)."""
    import shutil

    return max(40, shutil.get_terminal_size(fallback=(100, 24)).columns)


def _unicode() -> bool:
    enc = (getattr(sys.stdout, "encoding", None) or "ascii").lower()
    try:
        "Γμσ√─".encode(enc)
    except (LookupError, UnicodeEncodeError):
        return False
    return True


def _int_option(lo: int) -> object:
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"expected an integer >= {lo}") from None
        if n < lo:
            raise ValueError(f"expected an integer >= {lo}")
        return n

    return parse


def _positive_number(value: str) -> object:
    import sympy as sp

    try:
        v = sp.Rational(value)
    except (TypeError, ValueError, sp.SympifyError):
        raise ValueError("expected a positive number, e.g. 3 or 2.5") from None
    if not v > 0:
        raise ValueError("expected a positive number, e.g. 3 or 2.5")
    return int(v) if v.is_integer else v


def _known_mean(value: str) -> object:
    if value.lower() in ("true", "yes", "1"):
        return True
    if value.lower() in ("false", "no", "0"):
        return False
    sign, magnitude = (-1, value[1:]) if value.startswith("-") else (1, value)
    try:
        return sign * _positive_number(magnitude)  # type: ignore[operator]
    except ValueError:
        raise ValueError("expected true, false or a number (the known mean)") from None


_PARSERS = {
    "known_mean": _known_mean,
    "n": _int_option(1),
    "k": _int_option(2),
    "d": _int_option(1),
    "nu": _positive_number,
}


def _parse_options(family: str, items: Sequence[str], parser: argparse.ArgumentParser) -> dict[str, object]:
    allowed = FAMILY_OPTIONS[family]
    out: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            parser.error(f"--option must look like NAME=VALUE (e.g. k=4); got {item!r}")
        if name not in allowed:
            has = ", ".join(f"{k}={v[0]}" for k, v in allowed.items()) or "none"
            parser.error(f"family {family!r} has no option {name!r}; its options: {has} (see 'riemgrad fisher --list')")
        try:
            out[name] = _PARSERS[name](value)
        except ValueError as exc:
            parser.error(f"bad value for --option {name}={value}: {exc}")
    return out


def _print_list() -> None:
    import textwrap

    from . import families

    rows = []
    for name, opts in FAMILY_OPTIONS.items():
        base = "normal" if name == "normal_known_mean" else name
        atlas = families.atlas(base, **_LIST_OPTIONS.get(name, {}))
        options = " ".join(f"{k}={form}" for k, (form, _) in opts.items())
        rows.append((name, options, ", ".join(atlas.chart_names)))
    w0 = max(len(r[0]) for r in rows + [("family", "", "")])
    w1 = max(len(r[1]) for r in rows + [("", "options", "")])
    indent = w0 + w1 + 4
    width = _width()
    print(f"{'family':<{w0}}  {'options':<{w1}}  charts")
    for name, options, charts in rows:
        lines = textwrap.wrap(charts, max(20, width - indent)) or [""]
        print(f"{name:<{w0}}  {options:<{w1}}  {lines[0]}")
        for more in lines[1:]:
            print(" " * indent + more)
    print()
    print("options:")
    for name, opts in FAMILY_OPTIONS.items():
        for k, (form, meaning) in opts.items():
            print(f"  {name} --option {k}={form}: {meaning}")
    print("the charts of categorical and multivariate_normal are listed for k=3 and d=2.")


def _domain_text(chart: object) -> str:
    words = {"positive": "> 0", "negative": "< 0", "real": "real", "complex": "complex"}
    return ", ".join(f"{c.name} {words[k]}" for c, k in chart.domain.items())  # type: ignore[attr-defined]


def _pretty_metric(g: object, width: int, unicode: bool) -> list[str]:
    """The matrix when it fits the terminal, else its independent components one per block."""
    import sympy as sp

    M = g.matrix  # type: ignore[attr-defined]
    text = sp.pretty(M, use_unicode=unicode, num_columns=10**6)
    if max(len(line) for line in text.splitlines()) <= width:
        return text.splitlines()
    coords = [c.name for c in g.chart.coords]  # type: ignore[attr-defined]
    out = [f"(the {M.shape[0]} x {M.shape[1]} matrix is wider than {width} columns; its components g[i, j], i <= j:)"]
    for i in range(M.shape[0]):
        for j in range(i, M.shape[1]):
            if M[i, j] == 0:
                continue
            label = sp.Symbol(f"g[{coords[i]}, {coords[j]}]")
            out += sp.pretty(sp.Eq(label, M[i, j], evaluate=False), use_unicode=unicode, num_columns=width).splitlines()
    zeros = sum(1 for i in range(M.shape[0]) for j in range(i, M.shape[1]) if M[i, j] == 0)
    if zeros:
        out.append(f"(the other {zeros} components with i <= j are 0)")
    return out


def _fisher(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.list:
        _print_list()
        return 0
    if not args.family:
        parser.error("give a FAMILY (see 'riemgrad fisher --list')")
    name = args.family
    if name not in FAMILY_OPTIONS:
        parser.error(f"unknown family {name!r}; expected one of {', '.join(FAMILY_OPTIONS)}")
    options = _parse_options(name, args.option, parser)

    import sympy as sp

    from . import families
    from .symbolic import fisher_metric

    if name == "normal_known_mean":
        name, options = "normal", {**options, "known_mean": True}
    atlas = families.atlas(name, **options)
    chart = args.chart or atlas.chart_names[0]
    if chart not in atlas.chart_names:
        parser.error(f"family {args.family!r} has no chart {chart!r}; its charts are {', '.join(atlas.chart_names)}")
    g = fisher_metric(atlas[chart])
    coords = ", ".join(c.name for c in g.chart.coords)
    if args.latex:
        from .symbolic._latex import line_element_latex

        print(f"% Fisher metric of {atlas.name} in the chart {chart!r}: coordinates and domain")
        print(g.chart._repr_latex_().strip("$"))
        print("% line element")
        print(line_element_latex(g.matrix, g.chart.coords, g.chart.latex_names))
        print("% matrix")
        print(g.chart.latex(g.matrix))
        if args.curvature:
            print("% scalar curvature")
            print(g.chart.latex(g.scalar_curvature()))
        return 0
    width, uni = _width(), _unicode()
    print(f"Fisher metric of {atlas.name} in the chart {chart!r} ({coords}; {_domain_text(g.chart)}):")
    print("\n".join(_pretty_metric(g, width, uni)))
    if args.curvature:
        R = sp.pretty(sp.Eq(sp.Symbol("R"), g.scalar_curvature(), evaluate=False), use_unicode=uni, num_columns=width)
        print("scalar curvature:")
        print(R)
    return 0


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
        print(
            f"chart {scale:>9}: Gaussian curvature K = {g.gaussian_curvature()}, scalar curvature R = "
            f"{g.scalar_curvature()}"
        )
    g = metrics["sigma"]
    G = g.christoffel()
    _section("Christoffel symbols in the (mu, sigma) chart")
    names = [c.name for c in g.chart.coords]
    for k in range(2):
        for i in range(2):
            for j in range(i, 2):
                if G[k, i, j] != 0:
                    print(f"Gamma^{names[k]}_{names[i]}{names[j]} = {G[k, i, j]}")
    return _demo_flows(args, families.atlas("normal"), metrics)


def _demo_flows(args: argparse.Namespace, atlas: object, metrics: dict) -> int:
    import numpy as np
    import sympy as sp

    from .checks import check_invariance, compare_closed_form
    from .flows import solve_flow
    from .kernels import compile_flow
    from .symbolic import euclidean_metric, kl_divergence

    charts = ("sigma", "variance", "log_sigma")
    target = {"sigma": (1, 2), "variance": (1, 4), "log_sigma": (1, sp.log(2))}  # N(1, 4)
    batch = 1_000 if args.quick else 10_000
    _section("Natural-gradient flow minimising KL(N(1, 4) || N(mu, sigma^2))")
    fields, euclid = {}, {}
    t0 = time.perf_counter()
    for name in charts:
        fam = atlas[name]
        loss = kl_divergence(fam, target[name], fam.chart.coords)
        fields[name] = compile_flow(metrics[name], loss)
        euclid[name] = compile_flow(euclidean_metric(fam.chart), loss)
    t1 = time.perf_counter()
    print(f"derived 6 velocity fields (natural and Euclidean, three charts): {t1 - t0:.2f} s")
    x0 = {"sigma": np.random.default_rng(0).uniform([-3.0, 0.5], [5.0, 5.0], size=(batch, 2))}
    for name in charts[1:]:
        x0[name] = atlas.map("sigma", name)(x0["sigma"])
    for name in charts:  # compile with Numba, or load machine code from the disk cache
        for f in (fields[name], euclid[name]):
            f.warm_up(["rk4"], batch=batch)
    t2 = time.perf_counter()
    print(f"compilation (Numba; reused from the disk cache on later runs): {t2 - t1:.2f} s")
    saveat = np.linspace(0.0, 5.0, 51)
    res, eres, times = {}, {}, {}
    for name in charts:
        s0 = time.perf_counter()
        res[name] = solve_flow(fields[name], x0[name], (0.0, 5.0), dt=1e-3, saveat=saveat)
        times[name] = time.perf_counter() - s0
        eres[name] = solve_flow(euclid[name], x0[name], (0.0, 5.0), dt=1e-3, saveat=saveat)
    for name in charts:
        print(
            f"chart {name:>9}: {batch:,} trajectories x 5,000 RK4 steps in {times[name] * 1e3:7.1f} ms "
            f"({res[name].summary()})"
        )
    _section("Checks")
    ok = True
    for name in charts[1:]:
        back = atlas.map(name, "sigma")
        nat = check_invariance(res["sigma"], res[name], back, tol=1e-8)
        euc = check_invariance(eres["sigma"], eres[name], back, tol=1e-8)
        ok &= nat.passed
        print(
            f"invariance, sigma vs {name:<9}: natural flow max difference {nat.max_error:.1e} "
            f"({'passed' if nat.passed else 'FAILED'}); Euclidean flow {euc.max_error:.2f}"
        )
    mu, sigma = atlas["sigma"].chart.coords
    t = sp.Symbol("t", nonnegative=True)
    mu_t = 1 + (mu - 1) * sp.exp(-t)
    sigma_t = sp.sqrt(5 + (mu**2 + sigma**2 - 5) * sp.exp(-t) - mu_t**2)
    closed = compare_closed_form(res["sigma"], [mu_t, sigma_t], t, tol=1e-7)
    ok &= closed.passed
    print(
        f"closed form (mu, mu^2 + sigma^2 relax as e^-t): max error {closed.max_error:.1e} "
        f"({'passed' if closed.passed else 'FAILED'})"
    )
    if args.figure:
        _demo_figure(args.figure, res, eres, fields["sigma"], atlas)
        print(f"\nfigure written to {args.figure}")
    else:
        print("\n(no figure written; pass --figure PATH to save one)")
    return 0 if ok else 1


def _demo_figure(path: str, res: dict, eres: dict, field: object, atlas: object) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .checks import check_invariance
    from .plotting import plot_invariance, plot_metric_ellipses, plot_trajectories

    fig, axes = plt.subplots(1, 3, figsize=(16, 5), gridspec_kw={"width_ratios": [1.4, 1, 1]})
    plot_metric_ellipses(field, (-2.5, 4.5), (0.75, 4.75), n=8, ax=axes[0], color="0.75")
    plot_trajectories(res["sigma"], loss=field.loss, ax=axes[0], max_lines=40, label="natural-gradient flow")
    axes[0].set_title(r"natural-gradient flow over Fisher ellipses, $(\mu, \sigma)$")
    plot_trajectories(eres["sigma"], ax=axes[1], max_lines=40, color="C0", label=r"Euclidean in $(\mu, \sigma)$")
    plot_trajectories(
        eres["log_sigma"], chart_map=atlas.map("log_sigma", "sigma"), ax=axes[1], max_lines=40, color="C1",
        label=r"Euclidean in $(\mu, \log\sigma)$, mapped back",
    )  # fmt: skip
    axes[1].set_title("the Euclidean flow depends on the chart")
    for name, tex in (("variance", r"\sigma^2"), ("log_sigma", r"\log\sigma")):
        back = atlas.map(name, "sigma")
        plot_invariance(check_invariance(res["sigma"], res[name], back), ax=axes[2], label=f"natural, ${tex}$ chart")
        plot_invariance(
            check_invariance(eres["sigma"], eres[name], back), ax=axes[2], label=f"Euclidean, ${tex}$ chart", ls="--"
        )
    axes[2].set_title(r"largest difference from the $(\mu, \sigma)$ run")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
        if args.command == "fisher":
            return _fisher(args, parser._subparsers._group_actions[0].choices["fisher"])
    except SystemExit as exc:
        return int(exc.code or 0)
    except (RiemgradError, ValueError) as exc:
        print(f"riemgrad: error: {exc}", file=sys.stderr)
        return 1
    return 0  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
