"""`Frozen` and `Record`: what `dataclass(frozen=True)` and `dataclass` give a small value class, written once.

A dataclass generates its `__init__`, `__eq__`, `__hash__` and `__repr__` with `exec` when its class is made:
0.3-0.5 ms a class on a cold start, 29 classes (12 ms) on the `precheck check` command's path and 11 on a
check function's (issue 16; bench/cold_start.py, bench/whole_command.py). The product's value classes are
written by hand instead, with `__slots__` and their own `__init__`, and share these bases:
- `Frozen`: `==` and hash over `_key()` between instances of the same class only; assignment or deletion refused
  with `dataclasses.FrozenInstanceError`, as a frozen dataclass refuses them. A subclass sets its fields with
  `_init(...)` (or `object.__setattr__` where a class is made in bulk) in its `__init__`.
- `Record`: mutable, `==` over `_key()` between instances of the same class only, and unhashable, as a plain
  dataclass is.
Both pickle and copy field by field, have `replace(...)` as `dataclasses.replace`, and show themselves as a
dataclass does, `Name(field=value, ...)` over their slots in order, unless the class says its own repr (one
holding a secret does); `_key()` is the slots' values unless the class says otherwise.
Imports nothing of ours.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any


def _fields_of(value: Any) -> tuple[str, ...]:
    """The slots of `value`'s class and its bases, bases first, each once (declaration order)."""
    names: list[str] = []
    for klass in reversed(type(value).__mro__):
        for name in klass.__dict__.get("__slots__", ()):
            if name not in names:
                names.append(name)
    return tuple(names)


def _rebuilt(klass: type, fields: dict[str, Any]) -> Any:
    """`klass`'s value with these fields, set past a frozen class's refusal (pickle and copy make them so)."""
    value: Any = object.__new__(klass)
    for name, field in fields.items():
        object.__setattr__(value, name, field)
    return value


class _Value:
    __slots__: tuple[str, ...] = ()

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled and copied field by field (a frozen class refuses the setattr pickle's default would use)."""
        fields = {name: getattr(self, name) for name in _fields_of(self)}
        fields.update(getattr(self, "__dict__", {}))
        return (_rebuilt, (self.__class__, fields))

    def _key(self) -> tuple[Any, ...]:
        """What `==` (and, when frozen, hash) compares: every field's value, in order."""
        return tuple(getattr(self, name) for name in _fields_of(self))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, _Value)
        return self._key() == other._key()

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _fields_of(self))
        return f"{self.__class__.__qualname__}({shown})"

    def replace(self, **changes: Any) -> Any:
        """A new value with `changes` (field=value), made through the class's `__init__` as `dataclasses.replace`
        makes one (so its checks run again; an unknown field is a TypeError): for a class whose `__init__` takes
        its fields by name."""
        return type(self)(**{**{name: getattr(self, name) for name in _fields_of(self)}, **changes})


class Frozen(_Value):
    """Base of a hand-written frozen value class (module docstring)."""

    __slots__ = ()

    def _init(self, **fields: Any) -> None:
        """Set the fields once, in `__init__` (assignment is refused afterwards)."""
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __hash__(self) -> int:
        return hash(self._key())

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")


class Record(_Value):
    """Base of a hand-written mutable value class (module docstring): compared by value, not hashable."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]  # as a dataclass with eq and without frozen: unhashable
