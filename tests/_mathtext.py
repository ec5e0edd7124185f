"""Check that LaTeX strings made by riemgrad parse with matplotlib's mathtext (what the plots use)."""

from __future__ import annotations

import re


def mathtext_lines(latex: str) -> list[str]:
    """Split a ``$\\displaystyle \\begin{aligned} a &= b \\\\ ... \\end{aligned}$`` string into its lines."""
    s = latex.strip()
    if s.startswith("$") and s.endswith("$"):
        s = s[1:-1]
    s = s.replace(r"\displaystyle", "").replace(r"\begin{aligned}", "").replace(r"\end{aligned}", "")
    return [line.replace("&", "").strip() for line in re.split(r"\\\\(?![a-zA-Z])", s) if line.strip()]


def assert_mathtext(latex: str) -> None:
    """Every line of ``latex`` parses with ``MathTextParser('path')`` (raises ValueError otherwise)."""
    from matplotlib.mathtext import MathTextParser

    parser = MathTextParser("path")
    for line in mathtext_lines(latex):
        assert r"\begin{matrix}" not in line, "matrices are MathJax-only; test their entries instead"
        parser.parse(f"${line}$")
