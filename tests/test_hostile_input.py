"""Nothing read from outside runs as code; symbolic input of the wrong kind is refused at construction.

Every entry point that accepts a string parses it (riemgrad.symbolic.parse_expression) instead of evaluating
it; hostile strings are refused with a ParseError naming the argument, and the file they would create is not
created. SymPy objects of the wrong kind (matrices, equations, nan, infinities, complex numbers) are refused with
the argument named.
"""

from __future__ import annotations

import pytest
import sympy as sp

from riemgrad import (
    Chart,
    ChartMap,
    Metric,
    ParametricFamily,
    Tensor,
    families,
    function_space_metric,
    gauss_newton_metric,
    hessian_metric,
    induced_metric,
    kl_divergence,
)
from riemgrad.checks.closed_form import _solution_exprs
from riemgrad.errors import ArgumentTypeError, NonFiniteInputError, ParseError, RiemgradError
from riemgrad.symbolic import parse_expression, simplify_expr, sympify_safe

x = sp.Symbol("x", real=True)
a, b = sp.symbols("a b", real=True)
mu = sp.Symbol("mu", real=True)
sigma = sp.Symbol("sigma", positive=True)
AB = Chart("ab", (a, b))


def payloads(path) -> list[str]:
    cmd = f"touch {path}"
    return [
        f"__import__('os').system('{cmd}')",
        f"(lambda: __import__('os').system('{cmd}'))()",
        f"getattr(__builtins__, '__import__')('os').system('{cmd}')",
        f"exec(\"import os; os.system('{cmd}')\")",
        f"eval(\"__import__('os').system('{cmd}')\")",
        f"open('{path}', 'w')",
        f"x if __import__('os').system('{cmd}') else x",
        f"[__import__('os').system('{cmd}') for _ in (1,)]",
        "().__class__.__base__.__subclasses__()",
        "x.__class__.__mro__[-1]",
        "sin.__globals__",
        "a.func.__init__.__globals__['__builtins__']",
        "__builtins__",
        "_",
        "Symbol('x').__class__",
        "(1).real",
        "{1: 2}",
        "'a' + 'b'",
        f"x + (y := __import__('os').system('{cmd}'))",
    ]


def entry_points():
    """(name, callable taking the string) for every public place that accepts a string expression."""
    fam = ParametricFamily(
        Chart("s", (mu, sigma)), x, -((x - mu) ** 2) / (2 * sigma**2) - sp.log(sp.sqrt(2 * sp.pi) * sigma),
        {x: sp.Reals},
    )
    return [
        ("parse_expression", lambda s: parse_expression(s)),
        ("sympify_safe", lambda s: sympify_safe(s)),
        ("simplify_expr", lambda s: simplify_expr(s)),
        ("Tensor components", lambda s: Tensor(AB, [a, s], "u")),
        ("Tensor scalar", lambda s: Tensor(AB, s, "")),
        ("Metric entry", lambda s: Metric(AB, [[1, 0], [0, s]])),
        ("Metric.gradient", lambda s: Metric(AB, [[1, 0], [0, 1]]).gradient(s)),
        ("Metric.inner", lambda s: Metric(AB, [[1, 0], [0, 1]]).inner([s, 0], [1, 0])),
        ("ChartMap forward", lambda s: ChartMap(AB, Chart("cd", sp.symbols("c d", real=True)), (a, s))),
        ("ChartMap inverse", lambda s: ChartMap(Chart("cd", sp.symbols("c d", real=True)), AB, (a, b), inverse=(s, b))),
        ("ParametricFamily log_density", lambda s: ParametricFamily(Chart("m", (mu,)), x, s, {x: sp.Reals})),
        ("from_density", lambda s: ParametricFamily.from_density(s, Chart("m", (mu,)), x, {x: sp.Reals})),
        ("kl_divergence p", lambda s: kl_divergence(fam, [s, 1], [0, 1])),
        ("hessian_metric", lambda s: hessian_metric(s, AB)),
        ("gauss_newton_metric", lambda s: gauss_newton_metric([a, s], AB)),
        ("induced_metric loss", lambda s: induced_metric(s, AB)),
        ("induced_metric scale", lambda s: induced_metric(a**2 + b**2, AB, scale=s)),
        ("function_space_metric model", lambda s: function_space_metric(s, AB, x, [0, 1, 2])),
        ("function_space_metric density", lambda s: function_space_metric(a + b * x, AB, x, (s, {x: sp.Reals}))),
        ("function_space_metric data", lambda s: function_space_metric(a + b * x, AB, x, [0, s, 2])),
        ("families.normal known_mean", lambda s: families.normal(known_mean=s)),
        ("families.binomial n", lambda s: families.binomial(n=s)),
        ("families.student_t nu", lambda s: families.student_t(nu=s)),
        ("compare_closed_form solution", lambda s: _solution_exprs([s, b], (a, b), sp.Symbol("t"))),
    ]


ENTRY = entry_points()


@pytest.mark.parametrize("entry", ENTRY, ids=[e[0] for e in ENTRY])
def test_hostile_strings_are_refused_and_never_run(entry, tmp_path):
    name, call = entry
    target = tmp_path / "pwned-XYZ"
    for text in payloads(target):
        with pytest.raises(RiemgradError) as info:
            call(text)
        assert isinstance(info.value, (ParseError, ArgumentTypeError)) or "must" in str(info.value), (name, text)
        assert not target.exists(), f"{name} ran {text!r}"


@pytest.mark.parametrize("entry", ENTRY[:3], ids=[e[0] for e in ENTRY[:3]])
def test_plain_strings_still_parse(entry):
    name, call = entry
    assert call("x**2 + 2*x + 1") is not None


def test_parser_reads_arithmetic_and_whitelisted_functions_with_symbols_in_scope():
    e = parse_expression("exp(-(x - mu)^2 / (2*sigma**2)) / sqrt(2*pi) / sigma + 1/2 + 0.25", [x, mu, sigma])
    ref = sp.exp(-((x - mu) ** 2) / (2 * sigma**2)) / sp.sqrt(2 * sp.pi) / sigma + sp.Rational(1, 2) + sp.Float(0.25)
    assert sp.simplify(e - ref) == 0
    assert e.free_symbols == {x, mu, sigma}  # the chart's symbols, with their assumptions
    assert parse_expression("y").is_real is None  # unknown names: plain symbols, as sympify makes them


@pytest.mark.parametrize(
    "text, match",
    [
        ("2**10**9", "exponent above"),
        ("x" * 30_000, "characters long"),
        ("(" * 500 + "x" + ")" * 500, "nested too deeply|not a valid expression"),
        ("sin", "without a call"),
        ("f(x)", "not a whitelisted function"),
        ("sin(x, y=1)", "keyword argument"),
        ("x +", "not a valid expression"),
        ("True", "literal"),
    ],
)
def test_parser_refusals_name_the_argument(text, match):
    with pytest.raises(ParseError, match=match) as info:
        parse_expression(text, name="loss")
    assert "`loss`" in str(info.value)


def test_parse_error_refines_value_and_type_errors():
    assert issubclass(ParseError, ValueError) and issubclass(ParseError, TypeError)


# -------------------------------------------------------------- wrong kinds of SymPy objects
BAD = [
    (sp.Matrix([[a, b]]), ArgumentTypeError, "scalar"),
    (sp.ImmutableMatrix([a]), ArgumentTypeError, "scalar"),
    (sp.Eq(a, 1), ArgumentTypeError, "equation"),
    (a < b, ArgumentTypeError, "equation"),
    (sp.zoo, NonFiniteInputError, "zoo"),
    (sp.oo * a, NonFiniteInputError, "oo"),
    (-sp.oo + a, NonFiniteInputError, "oo"),
    (sp.nan, NonFiniteInputError, "nan"),
    (sp.I * a, NonFiniteInputError, "complex"),
    (a + (1 + 2j), NonFiniteInputError, "complex"),
    (float("nan"), NonFiniteInputError, "nan"),
    (float("inf"), NonFiniteInputError, "oo"),
    ("oo*a", NonFiniteInputError, "oo"),
    ("I*a", NonFiniteInputError, "complex"),
]


@pytest.mark.parametrize("value, error, match", BAD, ids=[str(v[0])[:20] for v in BAD])
def test_wrong_kind_of_loss_is_refused_naming_the_argument(value, error, match):
    with pytest.raises(error, match=rf"`loss`.*{match}"):
        hessian_metric(value, AB)
    with pytest.raises(error, match=rf"`loss`.*{match}"):
        induced_metric(value, AB)


@pytest.mark.parametrize("entry", [sp.oo, -sp.oo, sp.zoo, sp.nan, sp.I, 1 + sp.I * a, sp.oo * a, float("inf")])
def test_metric_entries_must_be_finite_and_real(entry):
    with pytest.raises(NonFiniteInputError, match=r"`matrix` must be a real, finite expression"):
        Metric(AB, [[1, 0], [0, entry]])
    with pytest.raises(NonFiniteInputError, match=r"`matrix`"):
        Metric(AB, sp.Matrix([[entry, 0], [0, 1]]), riemannian=False)


def test_wrong_kind_in_tensor_chartmap_and_family():
    with pytest.raises(NonFiniteInputError, match="`components`"):
        Tensor(AB, [a, sp.oo], "u")
    with pytest.raises(NonFiniteInputError, match="`forward`"):
        ChartMap(AB, Chart("cd", sp.symbols("c d", real=True)), (a, sp.I * b))
    with pytest.raises(NonFiniteInputError, match="`log_density`"):
        ParametricFamily(Chart("m", (mu,)), x, -((x - mu) ** 2) / 2 + sp.zoo, {x: sp.Reals})
    with pytest.raises(ArgumentTypeError, match="`log_density`.*equation"):
        ParametricFamily(Chart("m", (mu,)), x, sp.Eq(x, mu), {x: sp.Reals})


def test_own_checks_raise_riemgrad_errors_that_keep_their_builtin():
    from riemgrad.errors import ImmutableError

    with pytest.raises(ImmutableError) as info:
        AB.name = "other"
    assert isinstance(info.value, AttributeError)
    with pytest.raises(ArgumentTypeError, match="`simplifier`") as info:
        Metric(AB, [[1, 0], [0, 1]], simplifier="fast")
    assert isinstance(info.value, TypeError)
    with pytest.raises(ArgumentTypeError, match="`family`"):
        kl_divergence("normal", [0, 1], [1, 1])


def test_compile_flow_string_loss_is_parsed_not_run(tmp_path):
    from riemgrad import compile_flow, euclidean_metric

    target = tmp_path / "pwned-XYZ"
    for text in payloads(target):
        with pytest.raises(RiemgradError):
            compile_flow(euclidean_metric(AB), text)
        assert not target.exists()
