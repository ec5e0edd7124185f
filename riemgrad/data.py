"""Data sets: per-example symbols bound to NumPy columns, never substituted into SymPy.

A model or loss is written once, per example, in SymPy with data symbols (``x``,
``y``, feature vectors as tuples of symbols). A :class:`Dataset` binds those
symbols to NumPy columns of ``n`` rows. Metrics over data keep the per-example
formula; compiled kernels receive the columns as call-time arguments and loop
over the rows, so nothing symbolic grows with ``n``.

This module sits beside :mod:`riemgrad.errors` (it imports only NumPy and
SymPy), so both the symbolic layer and the kernels can use it without breaking
the left-to-right flow of the package.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp

from .errors import ArgumentTypeError, CoordinateError, DataError, ShapeError

__all__ = ["Dataset"]


def _key_symbols(key: Any) -> tuple[sp.Symbol, ...]:
    if isinstance(key, sp.Symbol):
        return (key,)
    if isinstance(key, (tuple, list)) and key and all(isinstance(s, sp.Symbol) for s in key):
        return tuple(key)
    raise CoordinateError(
        f"`columns` keys must be SymPy Symbols (one column) or tuples of Symbols (a feature vector, one column "
        f"per symbol); got {key!r} of type {type(key).__name__}. Use e.g. {{x: xs, (x1, x2): X}}."
    )


class Dataset:
    """NumPy columns bound to the data symbols of a per-example model; immutable.

    Parameters
    ----------
    columns : mapping
        ``{symbol: array of shape (n,)}`` for a scalar data symbol, or
        ``{(s1, ..., sk): array of shape (n, k)}`` for a feature vector.
        Every array must be real, finite and have the same number of rows
        ``n >= 1``. The arrays are copied (float64, read-only).

    Attributes
    ----------
    n : int
        The number of rows (examples).
    symbols : tuple of sympy.Symbol
        Every bound data symbol, in the order given.
    fingerprint : str
        SHA-256 (hex, 20 digits) of the symbols' names and the values: equal
        data give equal fingerprints, in any process.

    Raises
    ------
    ShapeError
        If ``columns`` is empty, an array has the wrong shape, or the arrays
        disagree on the number of rows, or there are no rows.
    DataError
        If an array holds NaN or inf.
    CoordinateError
        If a key is not a Symbol or a tuple of Symbols, or a symbol is bound twice.
    ArgumentTypeError
        If an array is not real numbers.

    Notes
    -----
    The data never enter SymPy: :meth:`matrix` hands the columns to compiled
    kernels as a ``(n, m)`` float64 array at call time.

    Examples
    --------
    >>> import numpy as np, sympy as sp
    >>> from riemgrad.data import Dataset
    >>> x, y = sp.symbols("x y", real=True)
    >>> data = Dataset({x: [0.0, 1.0, 2.0], y: np.array([1.0, 0.0, 1.0])})
    >>> data
    Dataset(n=3, columns: x (3,), y (3,))
    >>> data.matrix((y, x)).tolist()
    [[1.0, 0.0], [0.0, 1.0], [1.0, 2.0]]
    >>> Dataset({x: [5.0, 6.0], y: [0.0, 1.0]}).n
    2
    """

    __slots__ = ("_cols", "_groups", "n", "symbols", "fingerprint", "_mats")

    def __init__(self, columns: Mapping[Any, Any]) -> None:
        if isinstance(columns, Dataset):
            columns = columns.columns
        if not isinstance(columns, Mapping):
            raise ArgumentTypeError(
                f"`columns` must be a mapping {{symbol: array}}; got {type(columns).__name__}. "
                "Example: Dataset({x: xs, y: ys})."
            )
        if not columns:
            raise ShapeError("`columns` must bind at least one data symbol; got an empty mapping.")
        cols: dict[sp.Symbol, np.ndarray] = {}
        groups: list[tuple[tuple[sp.Symbol, ...], tuple[int, ...]]] = []
        n = None
        first = None
        for key, values in columns.items():
            syms = _key_symbols(key)
            label = syms[0].name if isinstance(key, sp.Symbol) else "(" + ", ".join(s.name for s in syms) + ")"
            try:
                arr = np.array(values, dtype=float)
            except (TypeError, ValueError) as exc:
                raise ArgumentTypeError(
                    f"`columns[{label}]` must hold real numbers; could not read it as float64 ({exc})."
                ) from None
            want = "(n,)" if isinstance(key, sp.Symbol) else f"(n, {len(syms)})"
            if isinstance(key, sp.Symbol) and arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
            ok_shape = arr.ndim == 1 if isinstance(key, sp.Symbol) else (arr.ndim == 2 and arr.shape[1] == len(syms))
            if not ok_shape:
                raise ShapeError(
                    f"`columns[{label}]` must have shape {want}, one row per example; got shape {arr.shape}."
                )
            if arr.shape[0] == 0:
                raise ShapeError(f"`columns[{label}]` has no rows: a data set needs at least one example.")
            if n is None:
                n, first = arr.shape[0], label
            elif arr.shape[0] != n:
                raise ShapeError(
                    f"`columns[{label}]` has {arr.shape[0]} rows but `columns[{first}]` has {n}; every column "
                    "needs one value per example."
                )
            bad = ~np.isfinite(arr)
            if bad.any():
                row = int(np.argwhere(bad)[0][0])
                kind = "NaN" if np.isnan(arr[np.unravel_index(int(np.argmax(bad)), arr.shape)]) else "inf"
                raise DataError(
                    f"`columns[{label}]` must be finite; {int(bad.sum())} value(s) are NaN or inf "
                    f"(first in row {row}: {kind}). Drop or impute those rows first."
                )
            arr2 = arr.reshape(n, -1)
            idx = []
            for k, s in enumerate(syms):
                if s in cols:
                    raise CoordinateError(f"`columns` binds the symbol {s} twice; bind each data symbol once.")
                col = np.ascontiguousarray(arr2[:, k])
                col.flags.writeable = False
                cols[s] = col
                idx.append(len(cols) - 1)
            groups.append((syms, tuple(idx)))
        h = hashlib.sha256()
        for s, c in cols.items():
            h.update(s.name.encode() + b"\0" + c.tobytes())
        object.__setattr__(self, "_cols", cols)
        object.__setattr__(self, "_groups", tuple(groups))
        object.__setattr__(self, "n", int(n))
        object.__setattr__(self, "symbols", tuple(cols))
        object.__setattr__(self, "fingerprint", h.hexdigest()[:20])
        object.__setattr__(self, "_mats", {})

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Dataset objects are immutable; cannot set {name!r}. Build a new Dataset instead.")

    @property
    def columns(self) -> dict[Any, np.ndarray]:
        """The columns as given: ``{symbol: (n,)}`` and ``{(s1, ..., sk): (n, k)}`` (read-only arrays)."""
        out: dict[Any, np.ndarray] = {}
        for syms, _ in self._groups:
            if len(syms) == 1:
                out[syms[0]] = self._cols[syms[0]]
            else:
                out[syms] = np.stack([self._cols[s] for s in syms], axis=1)
        return out

    def column(self, symbol: sp.Symbol) -> np.ndarray:
        """The values of one data symbol, shape ``(n,)`` (read-only)."""
        if symbol not in self._cols:
            raise CoordinateError(f"`symbol` {symbol} is not bound by this data set; it binds {self.symbols}.")
        return self._cols[symbol]

    def describe(self) -> str:
        """One line: the number of rows and each column with its shape."""
        parts = []
        for syms, _ in self._groups:
            if len(syms) == 1:
                parts.append(f"{syms[0]} ({self.n},)")
            else:
                parts.append("(" + ", ".join(str(s) for s in syms) + f") ({self.n}, {len(syms)})")
        return f"n={self.n}, columns: " + ", ".join(parts)

    def __repr__(self) -> str:
        return f"Dataset({self.describe()})"

    def __len__(self) -> int:
        return self.n

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dataset) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def require(self, symbols: Sequence[sp.Symbol], name: str = "data") -> None:
        """Raise unless every symbol in ``symbols`` is bound.

        Raises
        ------
        ShapeError
            Naming the argument ``name`` and the missing columns.
        """
        missing = [s for s in symbols if s not in self._cols]
        if missing:
            raise ShapeError(
                f"`{name}` has no column for {', '.join(map(str, missing))}; it binds "
                f"{', '.join(map(str, self.symbols))}. Add the missing columns: Dataset({{..., {missing[0]}: values}})."
            )

    def check_coordinates(self, coords: Sequence[sp.Symbol], name: str = "data") -> None:
        """Raise if a data symbol is also a chart coordinate.

        Raises
        ------
        CoordinateError
            Naming the argument and the clashing symbol.
        """
        clash = [s for s in self.symbols if s in set(coords)]
        if clash:
            raise CoordinateError(
                f"`{name}` binds {', '.join(map(str, clash))}, which is also a coordinate of the chart; a symbol is "
                "either a parameter (a coordinate) or data. Rename the data symbol."
            )

    def matrix(self, symbols: Sequence[sp.Symbol]) -> np.ndarray:
        """The columns of ``symbols`` side by side: a C-contiguous float64 array of shape ``(n, len(symbols))``.

        Cached per symbol order; this is what compiled kernels receive.
        """
        key = tuple(symbols)
        got = self._mats.get(key)
        if got is None:
            self.require(key)
            got = np.empty((self.n, len(key)))
            for k, s in enumerate(key):
                got[:, k] = self._cols[s]
            got.flags.writeable = False
            self._mats[key] = got
        return got

    def exact_rows(self, symbols: Sequence[sp.Symbol]) -> list[dict[sp.Symbol, sp.Expr]]:
        """Each row as ``{symbol: exact value}`` (floats read through their shortest repr, 0.1 -> 1/10).

        For the exact symbolic metrics of small data sets only; costs grow with ``n``.
        """
        m = self.matrix(symbols)
        return [{s: sp.Rational(repr(float(v))) for s, v in zip(symbols, row)} for row in m]
