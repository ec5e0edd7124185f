r"""LaTeX for coordinates, expressions in them, and indexed tensor symbols.

Every string made here is also valid matplotlib mathtext (the plots use the
same names for their axis labels), except the matrices and ``aligned``
environments that only the notebook's MathJax draws.

The naming scheme for a coordinate (a SymPy Symbol's name), unless the chart
was given its LaTeX explicitly:

* a Greek letter's name becomes the letter: ``sigma`` -> ``\sigma``,
  ``Gamma`` -> ``\Gamma``, ``lam`` / ``lamda`` / ``lambda`` -> ``\lambda``;
* trailing digits are a subscript, as in SymPy: ``theta1`` -> ``\theta_{1}``,
  ``s12`` -> ``s_{12}``;
* a ``_sq`` suffix squares: ``sigma_sq`` -> ``\sigma^{2}``;
* a ``log_`` / ``exp_`` / ``sqrt_`` prefix is the function applied to the
  rest: ``log_sigma`` -> ``\log\sigma``, ``log_rate`` -> ``\log\mathrm{rate}``;
* any other underscore starts a subscript: ``x_a`` -> ``x_{a}``;
* a word of several letters that is not Greek is set upright:
  ``variance`` -> ``\mathrm{variance}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sympy as sp
from sympy.printing.latex import LatexPrinter

__all__ = [
    "coordinate_latex",
    "expr_latex",
    "indexed_symbol",
    "line_element_latex",
    "chart_latex",
    "chart_map_latex",
    "FUNCTION_PREFIXES",
]

_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda",
    "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
    "varepsilon", "vartheta", "varphi", "varrho", "varsigma",
}  # fmt: skip
_GREEK_UPPER = {"Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"}
_ALIASES = {"lam": r"\lambda", "lamda": r"\lambda", "Lamda": r"\Lambda"}
#: name prefixes read as a function of the rest of the name (``log_sigma`` is log of sigma)
FUNCTION_PREFIXES = {"log": r"\log", "ln": r"\ln", "exp": r"\exp", "sqrt": r"\sqrt"}
_OPERATORS = tuple(FUNCTION_PREFIXES.values())


def _word(w: str) -> str:
    """One name without underscores: Greek letter, letter with digit subscript, or upright word."""
    m = re.fullmatch(r"([A-Za-z]+)(\d+)", w)
    if m:
        return f"{_word(m.group(1))}_{{{m.group(2)}}}"
    if w in _ALIASES:
        return _ALIASES[w]
    if w in _GREEK or w in _GREEK_UPPER:
        return "\\" + w
    if len(w) <= 1 or not w.isalpha():
        return w
    return rf"\mathrm{{{w}}}"


def coordinate_latex(name: str) -> str:
    r"""The LaTeX of a coordinate name, by the scheme in this module's docstring.

    Parameters
    ----------
    name : str
        A SymPy Symbol's name, e.g. ``"log_sigma"``.

    Returns
    -------
    str
        LaTeX without dollar signs, valid in matplotlib's mathtext.

    Examples
    --------
    >>> coordinate_latex("log_sigma"), coordinate_latex("theta1"), coordinate_latex("sigma_sq")
    ('\\log\\sigma', '\\theta_{1}', '\\sigma^{2}')
    >>> coordinate_latex("variance"), coordinate_latex("x_a")
    ('\\mathrm{variance}', 'x_{a}')
    """
    parts = [p for p in name.split("_") if p]
    if not parts:
        return name.replace("_", r"\_")
    squared = len(parts) > 1 and parts[-1] == "sq"
    if squared:
        parts = parts[:-1]
    if len(parts) > 1 and parts[0] in FUNCTION_PREFIXES:
        inner = coordinate_latex("_".join(parts[1:]))
        op = FUNCTION_PREFIXES[parts[0]]
        out = f"{op}{{{inner}}}" if op == r"\sqrt" else f"{op}{inner}"
    else:
        out = _word(parts[0])
        if len(parts) > 1:
            out += "_{" + ",".join(_word(p) for p in parts[1:]) + "}"
    if squared:
        out = f"{out}^{{2}}" if not _compound(out) else rf"\left({out}\right)^{{2}}"
    return out


def _compound(s: str) -> bool:
    r"""True if a symbol's LaTeX would be misread under a power (``\log\sigma^2``, ``\sigma^{2}^{2}``)."""
    return "^" in s or any(op in s for op in _OPERATORS if op != r"\sqrt")


class _CoordinatePrinter(LatexPrinter):
    """SymPy's LaTeX printer, parenthesizing compound coordinate names under powers."""

    def parenthesize_super(self, s: str) -> str:
        if _compound(s):
            return rf"\left({s}\right)"
        return super().parenthesize_super(s)


def expr_latex(expr: Any, names: Mapping[sp.Symbol, str] | None = None, **settings: Any) -> str:
    r"""LaTeX of an expression with coordinates printed by ``names`` (``{Symbol: latex}``).

    Examples
    --------
    >>> import sympy as sp
    >>> t = sp.Symbol("log_sigma")
    >>> expr_latex(t**2 + 1, {t: coordinate_latex(t.name)})
    '\\left(\\log\\sigma\\right)^{2} + 1'
    """
    return _CoordinatePrinter({"symbol_names": dict(names or {}), **settings}).doprint(sp.sympify(expr))


def _index_list(labels: list[str]) -> str:
    """Index labels side by side; thin spaces between them unless each is one letter (with a digit subscript)."""
    single = all(re.fullmatch(r"(\\[A-Za-z]+|[A-Za-z])(_\{\d+\})?", s) and "mathrm" not in s for s in labels)
    if not single:
        return r"\,".join(labels)
    out = labels[0]
    for prev, label in zip(labels, labels[1:]):
        # a command followed by a letter would merge (\phi r -> \phir): separate with a space
        out += (" " if re.search(r"\\[A-Za-z]+$", prev) and label[:1].isalpha() else "") + label
    return out


def indexed_symbol(symbol: str, positions: str, labels: list[str]) -> str:
    r"""A tensor symbol with its indices in order, staggered: ``T^{a}{}_{b}{}^{c}``.

    Runs of indices in the same position share one script; a change of
    position starts a new script after an empty group, so ``"lul"`` and
    ``"ull"`` print differently and each index keeps its own column.

    Parameters
    ----------
    symbol : str
        LaTeX of the kernel letter, e.g. ``"\\Gamma"``.
    positions : str
        ``"u"``/``"l"`` per index, left to right.
    labels : list of str, one per index
        LaTeX of each index (a coordinate's name).

    Examples
    --------
    >>> indexed_symbol(r"\Gamma", "ull", ["x", "x", "y"])
    '\\Gamma^{x}{}_{xy}'
    >>> indexed_symbol("T", "lul", ["a", "b", "c"])
    'T_{a}{}^{b}{}_{c}'
    >>> indexed_symbol(r"\Gamma", "ull", [r"\phi", r"\phi", "r"])
    '\\Gamma^{\\phi}{}_{\\phi r}'
    """
    if len(positions) != len(labels):
        raise ValueError(f"`labels` must have one entry per index of {positions!r}; got {len(labels)}.")
    out, k = symbol, 0
    first = True
    while k < len(positions):
        j = k
        while j < len(positions) and positions[j] == positions[k]:
            j += 1
        script = "^" if positions[k] == "u" else "_"
        out += ("" if first else "{}") + script + "{" + _index_list(labels[k:j]) + "}"
        first = False
        k = j
    return out


def _differential(tex: str) -> str:
    return r"\mathrm{d}" + (rf"\left({tex}\right)" if "^" in tex else tex)


def line_element_latex(matrix: Any, coords: Any, names: Mapping[sp.Symbol, str]) -> str:
    r"""``ds^{2} = ...`` with each coefficient written before its differentials.

    Parameters
    ----------
    matrix : sympy Matrix, shape (dim, dim)
        The metric's components.
    coords : sequence of sympy.Symbol, length dim
    names : mapping
        ``{coordinate: latex}``.

    Examples
    --------
    >>> import sympy as sp
    >>> mu, s = sp.symbols("mu sigma", positive=True)
    >>> print(line_element_latex(sp.diag(1 / s**2, 2 / s**2), (mu, s), {mu: r"\mu", s: r"\sigma"}))
    ds^{2} = \frac{1}{\sigma^{2}}\, \mathrm{d}\mu^{2} + \frac{2}{\sigma^{2}}\, \mathrm{d}\sigma^{2}
    >>> t = sp.Symbol("log_sigma")
    >>> print(line_element_latex(sp.Matrix([[1, -1], [-1, 2]]), (mu, t), {mu: r"\mu", t: r"\log\sigma"}))
    ds^{2} = \mathrm{d}\mu^{2} - 2\, \mathrm{d}\mu\, \mathrm{d}\log\sigma + 2\, \left(\mathrm{d}\log\sigma\right)^{2}
    """
    n = len(coords)
    diffs = [_differential(names[c]) for c in coords]
    out = ""
    for i in range(n):
        for j in range(i, n):
            coef = sp.sympify(matrix[i, j]) * (1 if i == j else 2)
            if coef == 0:
                continue
            if i == j:
                d = diffs[i]
                d = rf"\left({d}\right)^{{2}}" if _compound(names[coords[i]]) else f"{d}^{{2}}"
            else:
                d = rf"{diffs[i]}\, {diffs[j]}"
            neg = coef.could_extract_minus_sign()
            if neg:
                coef = -coef
            c = "" if coef == 1 else expr_latex(coef, names)
            if isinstance(coef, sp.Add):
                c = rf"\left({c}\right)"
            term = f"{c}\\, {d}" if c else d
            out += (" - " if neg else " + ") + term if out else ("-" if neg else "") + term
    return "ds^{2} = " + (out or "0")


def tex_text(s: str) -> str:
    r"""Escape a plain name for use inside ``\mathrm{...}`` (``log_sigma`` -> ``log\_sigma``)."""
    return "".join("\\" + ch if ch in "_#%&$" else ch for ch in str(s))


_SETS = {"positive": r"(0, \infty)", "negative": r"(-\infty, 0)", "real": r"\mathbb{R}", "complex": r"\mathbb{C}"}


def chart_latex(chart: Any) -> str:
    r"""``name: (coords) \in domain`` for a Chart, without dollar signs (mathtext-valid).

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart
    >>> print(chart_latex(Chart("polar", sp.symbols("r phi", positive=True))))
    \mathrm{polar}:\ (r,\, \phi) \in (0, \infty) \times (0, \infty)
    """
    coords = r",\, ".join(chart.latex_names[c] for c in chart.coords)
    if chart.dim > 1:
        coords = f"({coords})"
    dom = r" \times ".join(_SETS[k] for k in chart.domain.values())
    return rf"\mathrm{{{tex_text(chart.name)}}}:\ {coords} \in {dom}"


def chart_map_latex(m: Any) -> tuple[str, str]:
    r"""The map ``source -> target: (target) = (forward)`` and its Jacobian ``d(target)/d(source) = [J]``.

    The first string is mathtext-valid; the second holds a matrix, which only
    MathJax (the notebook) draws.

    Examples
    --------
    >>> import sympy as sp
    >>> from riemgrad import Chart, ChartMap
    >>> s, v = sp.symbols("sigma variance", positive=True)
    >>> print(*chart_map_latex(ChartMap(Chart("sigma", (s,)), Chart("variance", (v,)), (s**2,))), sep="\n")
    \mathrm{sigma} \to \mathrm{variance}:\quad \mathrm{variance} = \sigma^{2}
    \frac{\partial(\mathrm{variance})}{\partial(\sigma)} = \left[\begin{matrix}2 \sigma\end{matrix}\right]
    """

    def tup(items: list[str]) -> str:
        return items[0] if len(items) == 1 else r"\left(" + r",\, ".join(items) + r"\right)"

    src, dst = m.source, m.target
    head = rf"\mathrm{{{tex_text(src.name)}}} \to \mathrm{{{tex_text(dst.name)}}}"
    lhs = tup([dst.latex_names[c] for c in dst.coords])
    rhs = tup([expr_latex(f, src.latex_names) for f in m.forward])
    num = r",\, ".join(dst.latex_names[c] for c in dst.coords)
    den = r",\, ".join(src.latex_names[c] for c in src.coords)
    jac = rf"\frac{{\partial({num})}}{{\partial({den})}} = {expr_latex(m.jacobian(), src.latex_names)}"
    return rf"{head}:\quad {lhs} = {rhs}", jac
