"""The one test the solvers make before handing a dask array to :mod:`riemgrad.flows.sweeps`."""

from __future__ import annotations

from typing import Any

__all__ = ["is_dask_array"]


def is_dask_array(x: Any) -> bool:
    """True for a ``dask.array.Array`` (checked without importing Dask).

    Examples
    --------
    >>> import numpy as np
    >>> is_dask_array(np.zeros((3, 2))), is_dask_array([[1.0, 2.0]])
    (False, False)
    """
    return type(x).__module__.startswith("dask.array") and hasattr(x, "chunks")
