"""Bit casts between doubles and 64-bit integers, and the options of the elementary functions.

Part of :mod:`riemgrad.kernels.elementary` (split for size).
"""

from __future__ import annotations

import struct

from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

__all__ = ["float_bits", "bits_float", "JIT_OPTIONS", "SIN_COS_REDUCTION_LIMIT"]

#: Options the functions are compiled with (and a code generator should use for them).
JIT_OPTIONS = {"fastmath": False, "error_model": "numpy", "nogil": True, "cache": True, "inline": "always"}

#: ``vsin``/``vcos`` reduce arguments with ``|x|`` below this exactly; beyond, ``math``.
SIN_COS_REDUCTION_LIMIT = 1048576.0


# ---------------------------------------------------------------- bit casts
def float_bits(x: float) -> int:
    """The IEEE 754 bit pattern of a double as a signed 64-bit integer.

    Compiled code reinterprets the register (an LLVM ``bitcast``, which vectorizes);
    pure Python (``NUMBA_DISABLE_JIT=1``) goes through :mod:`struct`.

    Parameters
    ----------
    x : float
        Any double, including inf, NaN and subnormals.

    Returns
    -------
    int
        The bits, in ``[-2**63, 2**63)``.

    Examples
    --------
    >>> hex(float_bits(1.0))
    '0x3ff0000000000000'
    """
    return struct.unpack("<q", struct.pack("<d", x))[0]


def bits_float(i: int) -> float:
    """The double whose IEEE 754 bit pattern is the 64-bit integer ``i``.

    Parameters
    ----------
    i : int
        Bits as a signed 64-bit integer (only the low 64 bits are used).

    Returns
    -------
    float
        The double with these bits.

    Examples
    --------
    >>> bits_float(0x4000000000000000)
    2.0
    """
    return struct.unpack("<d", struct.pack("<q", ((i + 2**63) % 2**64) - 2**63))[0]


@intrinsic
def _float_bits(typingctx, x):
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.fpext(args[0], ir.DoubleType()) if x.bitwidth == 32 else args[0], ir.IntType(64))

    return types.int64(x), codegen


@intrinsic
def _bits_float(typingctx, i):
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        v = args[0]
        if i.bitwidth < 64:
            v = builder.sext(v, ir.IntType(64)) if i.signed else builder.zext(v, ir.IntType(64))
        return builder.bitcast(v, ir.DoubleType())

    return types.float64(i), codegen


@overload(float_bits, inline="always")
def _ol_float_bits(x):
    return lambda x: _float_bits(x)


@overload(bits_float, inline="always")
def _ol_bits_float(i):
    return lambda i: _bits_float(i)
