"""The on-disk home of generated kernels: one ``.py`` file per distinct source.

A file is named by a hash of its content, so a changed field is a new file and
an unchanged one is found again by any later process; Numba's own cache
(``njit(cache=True)``) then lives in the ``__pycache__`` folder beside it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path
from types import ModuleType

import sympy as sp

from ..errors import CompilationError

__all__ = [
    "cache_dir",
    "load_source",
    "derivation_key",
    "load_derivation",
    "store_derivation",
    "generator_files",
    "CacheRepairWarning",
    "purge_numba_cache",
]

#: The only file names a derivation may point to: a kernel named by the hash of its content.
_KERNEL_NAME = re.compile(r"riemgrad_kernel_([0-9a-f]{20})\.py")


class CacheRepairWarning(UserWarning):
    """A damaged or tampered cache entry was found, discarded and rebuilt (once per entry)."""


def _repair(what: str, path: Path) -> None:
    warnings.warn(
        f"riemgrad's kernel cache: {what} ({path}); it was discarded and is rebuilt. If this recurs, "
        f"delete the cache directory {cache_dir()}.",
        CacheRepairWarning,
        stacklevel=4,
    )


def purge_numba_cache(path: Path) -> int:
    """Delete Numba's cached machine code (index and data files) for the kernel module at ``path``.

    Returns
    -------
    int
        The number of files removed.
    """
    folder = Path(path).parent / "__pycache__"
    removed = 0
    for f in folder.glob(f"{Path(path).stem}.*"):
        if f.suffix in (".nbi", ".nbc"):
            try:
                f.unlink()
                removed += 1
            except OSError:
                pass
    return removed


def _whole_pickle(path: Path) -> bool:
    """A cheap integrity check of a Numba data file (a pickle): it exists, opens with the pickle protocol
    marker and ends with pickle's STOP opcode. Catches truncation, emptied and overwritten files without
    unpickling the machine code twice."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            fh.seek(-1, os.SEEK_END)
            tail = fh.read(1)
    except OSError:
        return False
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5 and tail == b"."


def _check_numba_index(path: Path) -> bool:
    """True when every Numba index file of the module at ``path`` reads back (or there is none);
    otherwise its index and data files are removed and False returned."""
    import pickle

    folder = Path(path).parent / "__pycache__"
    for f in folder.glob(f"{Path(path).stem}.*.nbi"):
        try:
            with open(f, "rb") as fh:
                pickle.load(fh)
                stamp, overloads = pickle.loads(fh.read())
            if not isinstance(overloads, dict):
                raise ValueError("not an index")
            for data_name in overloads.values():
                if not _whole_pickle(folder / str(data_name)):
                    raise ValueError("missing or damaged data file")
        except Exception:  # any damage: unpickling, truncation, wrong structure
            purge_numba_cache(path)
            return False
    return True


_LOADED: dict[str, ModuleType] = {}


def cache_dir() -> Path:
    """The directory holding generated kernels.

    ``$RIEMGRAD_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/riemgrad``, else
    ``~/.cache/riemgrad``. Created on first use.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import os
    >>> from riemgrad.kernels import cache_dir
    >>> cache_dir().name in ("riemgrad", os.path.basename(os.environ.get("RIEMGRAD_CACHE_DIR", "riemgrad")))
    True
    """
    env = os.environ.get("RIEMGRAD_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "riemgrad"


def source_hash(source: str) -> str:
    """First 20 hex digits of the SHA-256 of ``source``."""
    return hashlib.sha256(source.encode()).hexdigest()[:20]


def load_source(source: str) -> tuple[ModuleType, Path]:
    """Write ``source`` to the cache (once) and import it as a module.

    Parameters
    ----------
    source : str
        A complete generated module.

    Returns
    -------
    (module, path)

    Raises
    ------
    CompilationError
        If the cache directory is not writable or the module fails to import.
    """
    key = source_hash(source)
    name = f"riemgrad_kernel_{key}"
    folder = cache_dir() / "kernels"
    path = folder / f"{name}.py"
    if name in _LOADED and path.exists():
        return _LOADED[name], path
    # (a module loaded earlier in this process from another cache directory is written here too, so a
    # derivation stored in this directory never names a file that is not in it)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            stored = path.read_text() if path.exists() else None
        except (OSError, UnicodeDecodeError):
            stored = ""
        if stored is not None and stored != source:
            # an edited or truncated kernel: its compiled code in Numba's cache is not trusted either
            _repair("a kernel file did not match the hash in its name", path)
            purge_numba_cache(path)
        if stored is not None and stored == source and not _check_numba_index(path):
            _repair("Numba's cached machine code for a kernel was unreadable", path)
        if stored != source:
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                fh.write(source)
            os.replace(tmp, path)
    except OSError as exc:
        raise CompilationError(
            f"cannot write the generated kernel to the cache directory {folder}: {exc}. "
            "Set the environment variable RIEMGRAD_CACHE_DIR to a writable directory."
        ) from None
    if name in _LOADED:
        return _LOADED[name], path
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except Exception as exc:  # pragma: no cover - generated code is tested
        sys.modules.pop(name, None)
        raise CompilationError(
            f"the generated kernel {path} failed to import: {type(exc).__name__}: {exc}. "
            "This is a bug in riemgrad's code generator; please report it with the file."
        ) from None
    _LOADED[name] = module
    return module, path


# ------------------------------------------------------------ derivations
# The symbolic work of compile_flow (velocity, printing) is cached too, keyed by a hash of its
# inputs and of the generator's own source, so a new process goes straight to the compiled file.

#: Every file whose change can alter a derivation or the generated source: the whole kernels package
#: (code generator, strategies, contract), the symbolic code it calls (simplification, Christoffel
#: symbols, the geodesic equations) and the version printed into each header.
_PACKAGE = Path(__file__).resolve().parent.parent
_GENERATOR_GLOBS = ("kernels/*.py", "kernels/codegen/*.py")
_GENERATOR_FILES = ("_version.py", "symbolic/_util.py", "symbolic/metric.py", "symbolic/geodesic.py")


def generator_files() -> list[Path]:
    """The files the derivation cache's key covers, in a fixed order.

    Examples
    --------
    >>> names = [p.name for p in generator_files()]
    >>> "steppers.py" in names and "geodesic.py" in names and "_version.py" in names
    True
    """
    files = sorted({p for pattern in _GENERATOR_GLOBS for p in _PACKAGE.glob(pattern)})
    return files + [_PACKAGE / name for name in _GENERATOR_FILES if (_PACKAGE / name).exists()]


@functools.lru_cache(maxsize=1)
def _generator_fingerprint() -> str:
    """Hash of the generator's files and of the versions of SymPy and Numba (once per process)."""
    h = hashlib.sha256()
    for path in generator_files():
        h.update(str(path.relative_to(_PACKAGE)).encode() + b"\0" + path.read_bytes())
    import numba

    h.update(f"sympy {sp.__version__} numba {numba.__version__}".encode())
    return h.hexdigest()


def derivation_key(*parts: str) -> str:
    """Hash of the inputs of a derivation, of the code that derives and of the fast-math flags it prints."""
    from .abi import fastmath_flags

    h = hashlib.sha256(_generator_fingerprint().encode())
    for part in (*parts, f"fastmath={fastmath_flags()}"):
        h.update(b"\0" + part.encode())
    return h.hexdigest()[:32]


def load_derivation(key: str) -> dict | None:
    """The stored derivation for ``key`` (with its source text), or None.

    An entry is data: a JSON object with a ``strategy`` string, a ``velocity`` (None or a list of
    ``srepr`` strings, read back by :func:`~riemgrad.kernels._srepr.read_srepr`, never evaluated) and
    the bare file name of its kernel (``riemgrad_kernel_<hash>.py`` in the cache's ``kernels`` folder,
    no other path is followed) whose content must hash to the name. Anything else (old format,
    malformed, a kernel edited or truncated) is discarded with one :class:`CacheRepairWarning`, and
    None returned so that the caller derives again.
    """
    path = cache_dir() / "derived" / f"{key}.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or set(data) != {"strategy", "velocity", "source"}:
            raise ValueError("not an entry of this format")
        match = _KERNEL_NAME.fullmatch(data["source"]) if isinstance(data["source"], str) else None
        if match is None:
            raise ValueError("the kernel's name is not a hash-named file of the cache")
        velocity = data["velocity"]
        if not isinstance(data["strategy"], str) or not (
            velocity is None or (isinstance(velocity, list) and all(isinstance(v, str) for v in velocity))
        ):
            raise ValueError("malformed fields")
        text = (cache_dir() / "kernels" / data["source"]).read_text()
        if source_hash(text) != match.group(1):
            raise ValueError("the kernel file does not match the hash in its name")
        data["source_text"] = text
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        _repair(f"a stored derivation was unusable: {exc}", path)
        discard_derivation(key)
        return None
    return data


def discard_derivation(key: str) -> None:
    """Remove the stored derivation for ``key`` (if any)."""
    try:
        (cache_dir() / "derived" / f"{key}.json").unlink()
    except OSError:
        pass


def store_derivation(key: str, data: dict) -> None:
    """Remember a derivation; failures to write are ignored (the cache is an optimization)."""
    folder = cache_dir() / "derived"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, folder / f"{key}.json")
    except OSError:
        pass
