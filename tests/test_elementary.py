"""Vectorizable elementary functions: accuracy against mpmath, special values, vectorization.

The accuracy tests measure the maximum error in ulps on a CI-sized sample (about 200,000
points per function, hard cases included; ``benchmarks/accuracy_elementary.py`` runs the
millions-of-points version with the same sampler).
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from numba import njit

from riemgrad.errors import CompilationError
from riemgrad.kernels import elementary as el

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import accuracy_elementary as acc  # noqa: E402

FUNCS = ["vexp", "vexpm1", "vlog", "vlog1p", "vsin", "vcos", "vtanh"]
ALL = FUNCS + ["vsin_bounded", "vcos_bounded"]
MATH = {
    "vexp": math.exp,
    "vexpm1": math.expm1,
    "vlog": math.log,
    "vlog1p": math.log1p,
    "vsin": math.sin,
    "vcos": math.cos,
    "vtanh": math.tanh,
    "vsin_bounded": math.sin,
    "vcos_bounded": math.cos,
}
INF, NAN = math.inf, math.nan

# Values math raises ValueError on, written down from IEEE 754 / C99 Annex F (OverflowError: inf).
IEEE = {
    ("vlog", 0.0): -INF,
    ("vlog", -0.0): -INF,
    ("vlog", -5e-324): NAN,
    ("vlog", -1.0): NAN,
    ("vlog", -INF): NAN,
    ("vlog", -1e-300): NAN,
    ("vlog", -1e308): NAN,
    ("vlog", -745.1332191019411): NAN,
    ("vlog", -745.1332191019412): NAN,
    ("vlog", -22.0): NAN,
    ("vlog", -1.0000000000000002): NAN,
    ("vlog", -1048576.0): NAN,
    ("vlog1p", -1.0): -INF,
    ("vlog1p", -1.0000000000000002): NAN,
    ("vlog1p", -INF): NAN,
    ("vlog1p", -1e308): NAN,
    ("vlog1p", -745.1332191019411): NAN,
    ("vlog1p", -745.1332191019412): NAN,
    ("vlog1p", -22.0): NAN,
    ("vlog1p", -1048576.0): NAN,
    ("vsin", INF): NAN,
    ("vsin", -INF): NAN,
    ("vcos", INF): NAN,
    ("vcos", -INF): NAN,
}
SPECIAL = [0.0, -0.0, INF, -INF, NAN, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-300, -1e-300]
SPECIAL += [709.782712893384, 709.7827128933841, 1e308, -1e308, -745.1332191019411, -745.1332191019412]
SPECIAL += [-1.0, -1.0000000000000002, 1.0, 22.0, -22.0, 1e-20, 1048576.0, -1048576.0, 3e300]


def _same(a: float, b: float) -> bool:
    """Equal including the sign of zero, or both NaN."""
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1.0, a) == math.copysign(1.0, b))


_LOOPS: dict = {}


def loop(name: str, fastmath=False):
    key = (name, frozenset(fastmath) if fastmath else False)
    if key not in _LOOPS:
        _LOOPS[key] = acc.compiled_loop(name, fastmath)
    return _LOOPS[key]


@pytest.mark.parametrize("name", ALL)
def test_special_values_are_those_of_math_and_ieee(name):
    f = getattr(el, name)
    for x in SPECIAL:
        if name.endswith("_bounded") and not abs(x) < 1048576.0:
            assert math.isnan(f(x)), x
            continue
        try:
            expected = MATH[name](x)
        except OverflowError:
            expected = INF  # exp and expm1 of large positive x
        except ValueError:
            expected = IEEE[(name, x)]
        got = f(x)
        if math.isinf(expected) or math.isnan(expected) or expected == 0.0 or abs(x) < 1e-290:
            assert _same(got, expected), (x, got, expected)
        else:
            assert abs(got - expected) <= 2 * math.ulp(expected), (x, got, expected)


def test_exp_underflows_through_the_subnormals_to_zero():
    # exp(-745.1332191019411) is just above 2**-1075 (rounds up to the smallest subnormal);
    # the next double below gives exactly 0. exp(-1022 ln 2) ~ 2**-1022 (the smallest normal).
    assert el.vexp(-745.1332191019411) == 5e-324
    assert el.vexp(-745.1332191019412) == 0.0
    assert el.vexp(-1074 * math.log(2.0)) == 5e-324
    assert el.vexp(-1023.5 * math.log(2.0)) == pytest.approx(2.0**-1023.5, rel=2**-50)
    assert el.vexp(709.782712893384) == pytest.approx(1.7976931348622732e308, rel=1e-15)


def test_tanh_is_odd_and_saturates():
    x = np.concatenate([np.geomspace(1e-300, 30.0, 2001), [INF]])
    y = loop("vtanh")(x)
    assert np.array_equal(loop("vtanh")(-x), -y)
    assert np.all(y[x > 19.1] == 1.0) and el.vtanh(-INF) == -1.0
    assert np.all(np.diff(y) >= 0)


@pytest.mark.parametrize("name", FUNCS)
def test_max_error_at_most_one_ulp_against_mpmath(name):
    r = acc.worst(name, 200_000, seed=0, n_check=1500)
    assert r["points"] > 130_000
    assert r["max_ulp"] <= 1.0, r
    assert r["ref_gap"] < 0.01, r  # the long-double prefilter agrees with mpmath


@pytest.mark.parametrize("name", ["vexp", "vlog1p", "vsin", "vtanh"])
def test_max_error_at_most_one_ulp_under_the_safe_fast_math_flags(name):
    # inline="always" puts the functions under the caller's fast-math flags: FMA contraction,
    # reciprocals, no signed zeros and approximate libm calls keep the bound ('reassoc' does not)
    r = acc.worst(name, 20_000, seed=3, fastmath={"contract", "arcp", "nsz", "afn"}, n_check=500)
    assert r["max_ulp"] <= 1.0, r


def test_reassociation_with_nsz_breaks_the_reductions():
    # documents why the module forbids 'reassoc' + 'nsz' (LLVM 15+ needs both to fold
    # (x/ln2 + 1.5*2**52) - 1.5*2**52 into x/ln2 and to drop the hi - lo corrections);
    # 'reassoc' alone and 'nsz' alone left the results within 1 ulp when measured
    flags = {"contract", "arcp", "reassoc", "nsz"}
    assert loop("vlog", flags)(np.array([1.0]))[0] != 0.0  # measured: 0.25 for every x
    x = np.array([3.0, 1e5])
    assert not np.allclose(loop("vsin", flags)(x), np.sin(x), rtol=1e-6, atol=0.0)


@pytest.mark.parametrize("name", ["vsin_bounded", "vcos_bounded"])
def test_bounded_variants_agree_with_the_full_ones_below_two_to_the_twenty(name):
    x = acc.sample(name, 20_000, seed=5)
    assert np.all(np.abs(x) < 1048576.0)
    full = loop(name.replace("_bounded", ""))(x)
    assert np.array_equal(loop(name)(x), full)


@pytest.mark.parametrize("name", ALL)
def test_the_loop_over_an_array_vectorizes(name):
    run = loop(name)
    run(np.linspace(0.1, 2.0, 64))
    ir = run.loop.inspect_llvm()[run.loop.signatures[0]]
    assert re.search(r"<(2|4|8) x double>", ir), f"{name}: no vector type in the loop's IR"


@pytest.mark.parametrize("name", ["vexp", "vlog", "vtanh", "vsin_bounded"])
def test_no_scalar_libm_call_remains(name):
    run = loop(name)
    run(np.linspace(0.1, 2.0, 64))
    ir = run.loop.inspect_llvm()[run.loop.signatures[0]]
    assert not re.search(r"call [^\n]*@llvm\.(exp|log|sin|cos|tanh)\.", ir)
    assert "@tanh" not in ir and "@exp(" not in ir


def test_exp_has_no_division():
    # the polynomial form: no fdiv left in the vectorized loop (the rational form had one per lane)
    run = loop("vexp")
    run(np.linspace(0.1, 2.0, 64))
    ir = run.loop.inspect_llvm()[run.loop.signatures[0]]
    assert re.search(r"fmul[^\n]*<4 x double>", ir) and not re.search(r"fdiv", ir)


@pytest.mark.parametrize("name", ALL)
def test_pure_python_versions_are_bitwise_the_compiled_ones(name):
    # what runs under NUMBA_DISABLE_JIT=1
    x = np.concatenate([acc.sample(name, 800, seed=7), SPECIAL])
    py = el._PY_FUNCS[name]
    got = loop(name)(x)
    for xi, gi in zip(x, got):
        assert _same(py(float(xi)), float(gi)), xi


def test_bit_casts_round_trip_compiled_and_in_python():
    @njit
    def both(x):
        return el.float_bits(x), el.bits_float(el.float_bits(x))

    for x in [1.0, -2.5, 5e-324, INF, -0.0]:
        bits, back = both(x)
        assert bits == el.float_bits(x) and _same(back, x)
    assert el.float_bits(-0.0) == -(2**63)
    assert el.bits_float(0x7FF0000000000000) == INF


def test_emitted_source_compiles_in_its_own_module_and_matches(tmp_path):
    src = "from numba import njit\n" + el.PRELUDE + "\n\n" + el.source_for(["vtanh", "vsin", "vlog"])
    path = tmp_path / "gen_elementary.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("gen_elementary", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert src.index("def vexp(") < src.index("def vtanh")  # callees first
    assert "def vexpm1" not in src  # vtanh needs vexp only
    assert src.count("def _rem_pio2") == 1

    @njit(error_model="numpy")
    def use(x, out):
        for i in range(x.shape[0]):
            out[i] = mod.vtanh(x[i]) + mod.vsin(x[i]) * mod.vlog(abs(x[i]) + 1.0)

    x = np.random.default_rng(0).uniform(-30, 30, 1000)
    out = np.empty_like(x)
    use(x, out)
    ref = loop("vtanh")(x) + loop("vsin")(x) * loop("vlog")(np.abs(x) + 1.0)
    assert np.array_equal(out, ref)


def test_source_for_rejects_unknown_names():
    with pytest.raises(CompilationError, match="`names` must be among"):
        el.source_for(["vexp", "erf"])


def test_sympy_names_point_at_emittable_functions():
    import sympy as sp

    t = sp.Symbol("t")
    for func, name in el.SYMPY_NAMES.items():
        assert name in el.SOURCE
        assert isinstance(func(t), func)
