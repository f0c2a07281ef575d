"""No model of the package takes a builtin as its default factory.

pydantic inspects a default factory's signature when it builds the model's schema (does the factory take the
validated data?); for a builtin such as `list` or `dict` that means parsing its text signature, which loads
and compiles the tokenizer: ~2.5 ms of a cold start, paid on the first model built. `models.new_list` and
`models.new_dict` are plain functions that cost nothing to inspect.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pydantic

import precheck


def _models() -> list[type[pydantic.BaseModel]]:
    found: dict[str, type[pydantic.BaseModel]] = {}
    for info in pkgutil.walk_packages(precheck.__path__, "precheck."):
        if ".console" in info.name:
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (inspect.isclass(value) and issubclass(value, pydantic.BaseModel)
                    and value.__module__.startswith("precheck.")):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def test_no_model_field_has_a_builtin_default_factory():
    models = _models()
    assert len(models) > 10  # the walk found the package's models
    builtin = [f"{model.__module__}.{model.__qualname__}.{name}"
               for model in models for name, field in model.model_fields.items()
               if field.default_factory is not None
               and (inspect.isbuiltin(field.default_factory) or isinstance(field.default_factory, type))]
    assert builtin == []
