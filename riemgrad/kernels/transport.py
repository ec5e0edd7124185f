"""Fields that travel: a compiled field pickles as its generated source, its hash and its metadata.

Compiled code never crosses a process boundary. Unpickling (in a Dask worker, a
``multiprocessing`` child, a later session) checks the source against its hash, writes it to
that process's own kernel cache (:func:`riemgrad.kernels.cache_dir`, shared or not) and imports
it; Numba then loads the machine code from its disk cache or compiles it, once per process.
A per-process registry keyed by the hashes of the source and of the metadata hands every later
unpickling of the same field the object already built, so a worker that runs a thousand tasks of
one field loads its kernels once.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from typing import Any

from ..errors import CompilationError
from .cache import load_source, source_hash

__all__ = ["reduce_field", "restore_field", "transport_stats"]

#: Fields restored in this process, by (class, source hash, metadata ident).
_FIELDS: dict[tuple[type, str, str], Any] = {}
_STATS = {"restored": 0, "reused": 0}

#: Attributes rebuilt on arrival rather than shipped.
_LOCAL = ("source", "path", "_module")


def reduce_field(field: Any) -> tuple:
    """The ``__reduce__`` of a compiled field: ``(restore_field, (class, hash, source, metadata, ident))``.

    The metadata (chart, parameters, symbolic expressions, strategy) is pickled separately as
    bytes, so that a process which already holds the field (the same source hash and ``ident``, a
    hash of a deterministic text of the metadata) never unpickles it again.
    """
    meta = {k: v for k, v in vars(field).items() if k not in _LOCAL}
    buf = io.BytesIO()
    _MetaPickler(buf, protocol=5).dump(meta)
    ident = hashlib.sha256(repr(sorted((k, _describe(v)) for k, v in meta.items())).encode()).hexdigest()[:20]
    return restore_field, (type(field), source_hash(field.source), field.source, buf.getvalue(), ident)


def _describe(value: Any) -> str:
    """A deterministic text of a metadata value (pickled bytes are not: SymPy pickles caches)."""
    import sympy as sp

    from ..symbolic import Chart, Metric

    if isinstance(value, Metric):
        return f"Metric({_describe(value.chart)}, {sp.srepr(value.matrix)}, {value.riemannian})"
    if isinstance(value, Chart):
        return f"Chart({value.name!r}, {sp.srepr(value.coords)})"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    if isinstance(value, sp.Basic):
        return sp.srepr(value)
    return repr(value)


class _MetaPickler(pickle.Pickler):
    """Pickles a :class:`~riemgrad.Metric` by its constructor's arguments: its private algebra caches
    (SymPy polynomial rings) do not pickle, and are rebuilt on arrival."""

    def reducer_override(self, obj: Any) -> Any:
        from ..symbolic import Metric

        if type(obj) is Metric:
            args = (obj.chart, obj.matrix, obj._simplifier_arg, obj.riemannian, obj.allow_singular)
            return _rebuild_metric, args
        return NotImplemented


def _rebuild_metric(chart: Any, matrix: Any, simplifier: Any, riemannian: bool, allow_singular: bool) -> Any:
    from ..symbolic import Metric

    return Metric(chart, matrix, simplifier=simplifier, riemannian=riemannian, allow_singular=allow_singular)


def restore_field(cls: type, key: str, source: str, meta: bytes, ident: str) -> Any:
    """Rebuild a pickled field in this process (see :func:`reduce_field`).

    Raises
    ------
    CompilationError
        If the source does not match its hash (a corrupted or tampered payload).

    Examples
    --------
    >>> import pickle, sympy as sp
    >>> from riemgrad import Chart, compile_flow, euclidean_metric
    >>> x = sp.Symbol("x", real=True)
    >>> field = compile_flow(euclidean_metric(Chart("line", (x,))), x**2 / 2)
    >>> again = pickle.loads(pickle.dumps(field))
    >>> again.source == field.source, again.velocity([2.0]).tolist()
    (True, [-2.0])
    """
    if source_hash(source) != key:
        raise CompilationError(
            f"the pickled {cls.__name__} carries a source whose hash is not {key!r}: the payload was "
            "corrupted in transit. Pickle the field again from the process that compiled it."
        )
    found = _FIELDS.get((cls, key, ident))
    if found is not None:
        _STATS["reused"] += 1
        return found
    module, path = load_source(source)
    field = cls.__new__(cls)
    field._set(**pickle.loads(meta), source=source, path=path, _module=module)
    _FIELDS[(cls, key, ident)] = field
    _STATS["restored"] += 1
    return field


def transport_stats() -> dict[str, Any]:
    """What this process did with pickled fields: how many it rebuilt and how many it reused.

    Returns
    -------
    dict
        ``restored`` (fields rebuilt from their metadata, one kernel module import each at most),
        ``reused`` (unpicklings answered from the registry), ``modules`` (the names of the
        generated modules imported in this process).

    Examples
    --------
    >>> sorted(transport_stats())
    ['modules', 'restored', 'reused']
    """
    from .cache import _LOADED

    return {**_STATS, "modules": sorted(_LOADED)}
