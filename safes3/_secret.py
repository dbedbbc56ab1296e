"""Objects that hold secrets and refuse to be copied into plain structures.

A secret leaks less through the code that uses it than through the code
that serialises, copies or prints the object holding it: ``pickle``,
``copy.deepcopy`` (which ``dataclasses.asdict`` uses), ``vars()`` and the
``repr`` of an internal mapping.  These classes have no ``__dict__``, refuse
every reduce protocol, and print masked values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

__all__ = ["NoCopy", "SecretMapping"]

_MASK = "***"


class NoCopy:
    """Mixin: pickling and copying raise; subclasses keep ``__slots__``."""

    __slots__ = ()

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError(
            f"{type(self).__name__} holds a secret and cannot be pickled or copied; "
            "pass a reference to where the secret lives (an environment variable, a file) "
            "and build the object where it is used"
        )

    def __reduce__(self) -> NoReturn:
        self.__reduce_ex__(0)

    def __copy__(self) -> NoReturn:
        self.__reduce_ex__(0)

    def __deepcopy__(self, memo: object) -> NoReturn:
        self.__reduce_ex__(0)


class SecretMapping(NoCopy, Mapping[str, str]):
    """A read-only mapping whose values under ``secret`` names never print."""

    __slots__ = ("_items", "_secret")
    _items: dict[str, str]
    _secret: frozenset[str]

    def __init__(self, items: Mapping[str, str], *, secret: frozenset[str]) -> None:
        object.__setattr__(self, "_items", dict(items))
        object.__setattr__(self, "_secret", secret)

    def __getitem__(self, name: str) -> str:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("SecretMapping is read-only")

    def __repr__(self) -> str:
        shown = {k: (_MASK if k in self._secret else v) for k, v in self._items.items()}
        return f"SecretMapping({shown!r})"

    __str__ = __repr__
