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
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import sympy as sp

from ..errors import CompilationError

__all__ = ["cache_dir", "load_source", "derivation_key", "load_derivation", "store_derivation", "generator_files"]

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
    if name in _LOADED:
        return _LOADED[name], path
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != source:
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                fh.write(source)
            os.replace(tmp, path)
    except OSError as exc:
        raise CompilationError(
            f"cannot write the generated kernel to the cache directory {folder}: {exc}. "
            "Set the environment variable RIEMGRAD_CACHE_DIR to a writable directory."
        ) from None
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
    """Hash of the inputs of a derivation and of the code that derives."""
    h = hashlib.sha256(_generator_fingerprint().encode())
    for part in parts:
        h.update(b"\0" + part.encode())
    return h.hexdigest()[:32]


def load_derivation(key: str) -> dict | None:
    """The stored derivation for ``key`` (with its source text), or None."""
    path = cache_dir() / "derived" / f"{key}.json"
    try:
        data = json.loads(path.read_text())
        data["source_text"] = (cache_dir() / "kernels" / data["source"]).read_text()
    except (OSError, ValueError, KeyError):
        return None
    return data


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
