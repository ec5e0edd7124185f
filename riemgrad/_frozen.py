"""``Frozen``: the base of riemgrad's immutable records, shared by every layer."""

from __future__ import annotations

from typing import Any

from .errors import ImmutableError

__all__ = ["Frozen"]


class Frozen:
    """Base for immutable objects: attributes are set once, in ``__init__``, via ``_set``.

    Examples
    --------
    >>> class Point(Frozen):
    ...     def __init__(self, x: float) -> None:
    ...         self._set(x=x)
    >>> p = Point(1.0)
    >>> p.x = 2.0
    Traceback (most recent call last):
    ...
    riemgrad.errors.ImmutableError: Point objects are immutable; cannot set 'x'. Build a new object instead.
    """

    def _set(self, **attrs: Any) -> None:
        for k, v in attrs.items():
            object.__setattr__(self, k, v)

    def __setattr__(self, name: str, value: Any) -> None:
        raise ImmutableError(
            f"{type(self).__name__} objects are immutable; cannot set {name!r}. Build a new object instead."
        )

    def __delattr__(self, name: str) -> None:
        raise ImmutableError(f"{type(self).__name__} objects are immutable; cannot delete {name!r}.")
