"""`Frozen`: what `dataclass(frozen=True)` gives a small value class, written once.

A dataclass generates its `__init__`, `__eq__`, `__hash__` and `__repr__` with `exec` when its class is made,
about 0.4 ms each on a cold start; the few value classes every function imports (Settings, Credentials, Connected,
OdbcRequest) are written by hand instead (issue 16, bench/cold_start.py), and share this base: `==` and hash
over `_key()` between instances of the same class only, and assignment or deletion refused with
`dataclasses.FrozenInstanceError`, as a frozen dataclass refuses them. A subclass sets its fields with
`_init(...)` in its `__init__`, and says its repr; `_key()` is its slots' values unless it says otherwise.
Imports nothing of ours.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any


class Frozen:
    """Base of a hand-written frozen value class (module docstring)."""

    __slots__: tuple[str, ...] = ()

    def _init(self, **fields: Any) -> None:
        """Set the fields once, in `__init__` (assignment is refused afterwards)."""
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def _key(self) -> tuple[Any, ...]:
        """What `==` and hash compare: every slot's value, in order (a class without slots says its own)."""
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Frozen)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")
