"""The product's value classes are written by hand on precheck.frozen's bases (issue 16: generating a dataclass
costs 0.3-0.5 ms of every cold start) and behave as the dataclasses they were: ==, hash, repr, refusals, copies,
pickles. And no module the functions or the command load makes a dataclass again."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import subprocess
import sys

import pytest

from precheck.frozen import Frozen, Record


class Point(Frozen):
    __slots__ = ("x", "y")
    x: int
    y: list[int]

    def __init__(self, x: int, y: list[int] | None = None):
        self._init(x=x, y=y if y is not None else [])


class Labelled(Point):
    __slots__ = ("label",)
    label: str

    def __init__(self, x: int, label: str):
        super().__init__(x)
        object.__setattr__(self, "label", label)


class Tally(Record):
    __slots__ = ("name", "count")
    name: str
    count: int

    def __init__(self, name: str, count: int = 0):
        self.name, self.count = name, count


def test_a_frozen_value_compares_hashes_shows_and_refuses_as_a_frozen_dataclass():
    made = Point(1, [2])
    assert made == Point(1, [2]) and made != Point(1) and made != (1, [2])
    assert repr(made) == "Point(x=1, y=[2])"
    assert repr(Labelled(1, "a")) == "Labelled(x=1, y=[], label='a')"  # the base's fields first
    assert Point(1) != Labelled(1, "") and Labelled(1, "a") == Labelled(1, "a")
    assert hash(Point(3, ())) == hash(Point(3, ()))  # type: ignore[arg-type]
    assert Point(1).y is not Point(1).y  # no shared default
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.x = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del made.x
    assert made.x == 1


def test_a_record_is_mutable_compared_by_value_and_unhashable_as_a_plain_dataclass():
    made = Tally("a")
    made.count += 2
    assert made == Tally("a", 2) and made != Tally("a", 3) and repr(made) == "Tally(name='a', count=2)"
    with pytest.raises(TypeError):
        hash(made)
    with pytest.raises(AttributeError):
        made.other = 1  # type: ignore[attr-defined]  # slots: no stray attribute


def test_replace_makes_a_new_value_through_init_as_dataclasses_replace():
    made = Point(1, [2])
    assert made.replace(x=5) == Point(5, [2]) and made == Point(1, [2])
    assert Tally("a", 1).replace(count=3) == Tally("a", 3)
    with pytest.raises(TypeError):
        made.replace(z=1)  # an unknown field, refused by __init__


@pytest.mark.parametrize("value", [Point(1, [2]), Labelled(4, "b"), Tally("c", 5)], ids=repr)
def test_values_copy_and_pickle_field_by_field(value):
    assert pickle.loads(pickle.dumps(value)) == value
    assert copy.copy(value) == value and copy.deepcopy(value) == value
    if isinstance(value, Point):
        assert copy.deepcopy(value).y is not value.y


#: modules that may make dataclasses: a test helper and a benchmark's meter, which no function or command loads
ALLOWED = {"precheck.testing", "precheck.adapters.tablestore.metering"}

SCAN = r"""
import dataclasses, importlib, json, pkgutil, sys
made = []
real = dataclasses._process_class
def counted(cls, *args, **kwargs):
    made.append((cls.__module__, cls.__qualname__))
    return real(cls, *args, **kwargs)
dataclasses._process_class = counted
import precheck
allowed = set(json.loads(sys.argv[1]))
for module in pkgutil.walk_packages(precheck.__path__, "precheck."):
    if module.name not in allowed:
        importlib.import_module(module.name)
print(json.dumps(sorted(f"{module}.{name}" for module, name in made
                        if module.startswith("precheck") and module not in allowed)))
"""


def test_no_module_of_the_product_makes_a_dataclass():
    """Every module of the package imported in a fresh interpreter, each dataclass made counted (dataclasses'
    own class processor, wrapped): none of the product's, so no cold start pays for one."""
    out = subprocess.run([sys.executable, "-c", SCAN, json.dumps(sorted(ALLOWED))], capture_output=True,
                         text=True, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
