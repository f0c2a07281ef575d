"""The Tablestore SDK loaded in part: its synchronous client, without aiohttp, asyncio, flatbuffers, numpy or
crc32c.

`import tablestore` (6.4.8) costs ~300 ms, of which ~110 ms is aiohttp (tablestore/connection.py imports it at
the top for `AsyncConnectionPool`), ~25 ms asyncio (tablestore/client.py, for `AsyncOTSClient`'s retries),
~60 ms flatbuffers + numpy (tablestore/encoder.py and decoder.py star-import the flatbuffer modules of time
series writes and SQL query results) and ~4 ms crc32c (encoder.py, the checksum of time series writes). The
product uses none of these: it calls `OTSClient`'s table and row operations only. Why, what is loaded and what
is refused, and how to re-verify on an SDK upgrade: docs/cold-start.md.

How: the `tablestore` package module is created from its installed spec without running its `__init__`
(`__path__` set, so its submodules import as usual). The four submodules that import the unused parts are
executed with a `__builtins__` of their own whose `__import__` answers those imports, and only theirs, with a
`Refused` module: nothing is put in `sys.modules` for aiohttp, asyncio, crc32c or the flatbuffer modules, so
any other code importing them gets the real ones. A refused name, called or its attributes read, raises
`PartialSdkError` naming what was not loaded; it is never a silent stub. Then the package gets the names its
`__init__` would have given it, from the same submodules.

Fails loudly (`PartialSdkError` at import) when the installed SDK is not a version verified here, or when a
name the adapter uses (`ADAPTER_NAMES`) is missing or refused. tests/test_partial_sdk.py checks the rest.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import re
import sys
import types
from pathlib import Path
from typing import Any

#: SDK versions whose sources were read and whose partial load passed tests/test_partial_sdk.py
VERIFIED_VERSIONS = ("6.4.8",)

#: what each of these SDK modules imports that is refused, the names taken from it, and what it serves
REFUSED: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "tablestore.connection": {"aiohttp": ("the async client (AsyncOTSClient's AsyncConnectionPool)", ())},
    "tablestore.encoder": {
        "tablestore.flatbuffer.timeseries_flat_buffer_encoder": ("time series writes (PutTimeseriesData)",
                                                                 ("get_column_val_by_tp",)),
        # the checksum of a time series write's flatbuffer rows only (encoder.py, _encode_put_timeseries_data):
        # the crc32c package also imports argparse at its own import (~4 ms)
        "crc32c": ("time series writes (PutTimeseriesData)", ()),
    },
    "tablestore.decoder": {
        "tablestore.flatbuffer.dataprotocol.SQLResponseColumns": ("SQL query results (SQLQuery)",
                                                                  ("SQLResponseColumns",)),
        "tablestore.flatbuffer.flat_buffer_decoder": ("SQL query results (SQLQuery)", ("flat_buffer_decoder",)),
    },
    "tablestore.client": {"asyncio": ("the async client (AsyncOTSClient)", ())},
}

#: the package's names, as tablestore/__init__.py (6.4.8) gives them: (submodule, names or None for its `*`)
PACKAGE_NAMES: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("tablestore.client", ("OTSClient", "AsyncOTSClient")),
    ("tablestore.metadata", None), ("tablestore.aggregation", None), ("tablestore.group_by", None),
    ("tablestore.error", None), ("tablestore.retry", None), ("tablestore.credentials", None),
    ("tablestore.const_module", None),
)

#: every `ots.<name>` the adapter (precheck.adapters.tablestore) uses; tests/test_partial_sdk.py keeps it whole
ADAPTER_NAMES = ("BatchGetRowRequest", "CapacityUnit", "ComparatorType", "CompositeColumnCondition", "Condition",
                 "Direction", "INF_MAX", "INF_MIN", "LogicalOperator", "OTSClient", "OTSClientError",
                 "OTSServiceError", "ReservedThroughput", "Row", "RowExistenceExpectation", "SingleColumnCondition",
                 "TableInBatchGetRowItem", "TableMeta", "TableOptions", "retry")


_VERSION = re.compile(r"""__version__\s*=\s*['"]([^'"]+)['"]""")


class PartialSdkError(RuntimeError):
    """The partial SDK cannot be loaded, or a part it did not load was used."""


def _refusal(what: str, serves: str) -> str:
    return (f"{what} is not loaded: the Tablestore SDK was loaded in part by {__name__} (without aiohttp, "
            f"asyncio, flatbuffers, numpy and crc32c), and {what} serves {serves}, which this product does not use. "
            f"To use it, import the whole SDK (`import tablestore`) before precheck's Tablestore adapter; "
            f"see docs/cold-start.md")


class Refused:
    """A name of a part not loaded: calling it, or reading any of its attributes, raises `PartialSdkError`."""

    def __init__(self, what: str, serves: str):
        object.__setattr__(self, "_message", _refusal(what, serves))
        object.__setattr__(self, "_what", what)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise PartialSdkError(object.__getattribute__(self, "_message"))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):  # protocol probes (copy, pickle, typing) see nothing
            raise AttributeError(name)
        raise PartialSdkError(object.__getattribute__(self, "_message"))

    def __repr__(self) -> str:
        return f"<refused {object.__getattribute__(self, '_what')}>"


class RefusedModule(types.ModuleType):
    """What a refused import gives its importer: `names` (for `from ... import *`) and any other attribute
    (`from aiohttp import ClientTimeout`, `aiohttp.ClientSession`) are `Refused`."""

    def __init__(self, name: str, serves: str, names: tuple[str, ...]):
        super().__init__(name, f"refused by {__name__}: {serves}")
        self.__serves = serves
        self.__all__ = list(names)
        for each in names:
            setattr(self, each, Refused(f"{name}.{each}", serves))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return Refused(f"{self.__name__}.{name}", self.__serves)


def installed_version() -> str:
    """The installed SDK's `__version__`, read from its `__init__.py` without running it."""
    spec = importlib.util.find_spec("tablestore")
    if spec is None or not spec.origin:
        raise PartialSdkError("the Tablestore SDK (package tablestore) is not installed")
    # line by line: a `re.search` call here would read, to tests/test_permissions.py's derivation, as ots:Search
    lines = Path(spec.origin).read_text(encoding="utf-8").splitlines()
    found = next((match for match in map(_VERSION.match, lines) if match), None)
    if found is None:
        raise PartialSdkError(f"cannot read the Tablestore SDK's __version__ from {Path(spec.origin).name}")
    return found.group(1)


def _guarded_builtins(importer: str) -> dict[str, Any]:
    refused = REFUSED[importer]
    real_import = builtins.__import__

    def guarded_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (),
                       level: int = 0) -> Any:
        if level == 0 and name in refused:
            serves, names = refused[name]
            return RefusedModule(name, serves, names)
        return real_import(name, globals, locals, fromlist, level)

    return {**builtins.__dict__, "__import__": guarded_import}


def _exec_guarded(package: types.ModuleType, name: str) -> None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise PartialSdkError(f"the Tablestore SDK has no module {name}")
    module = importlib.util.module_from_spec(spec)
    module.__dict__["__builtins__"] = _guarded_builtins(name)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    setattr(package, name.rpartition(".")[2], module)


def load() -> types.ModuleType:
    """The `tablestore` package, loaded in part (see the module's docstring); raises `PartialSdkError` if the
    installed version is not verified or a name the adapter uses is missing. Call only when `tablestore` is
    not in `sys.modules` yet."""
    if "tablestore" in sys.modules:
        raise PartialSdkError("the Tablestore SDK is already imported; it cannot be loaded in part now")
    version = installed_version()
    if version not in VERIFIED_VERSIONS:
        raise PartialSdkError(
            f"the installed Tablestore SDK is {version}, and its partial load is verified only for "
            f"{', '.join(VERIFIED_VERSIONS)}: read what the new version's connection, client, encoder and "
            f"decoder import, update {__name__}.REFUSED and VERIFIED_VERSIONS, and run tests/test_partial_sdk.py "
            f"(docs/cold-start.md, 'On an SDK upgrade')")
    spec = importlib.util.find_spec("tablestore")
    assert spec is not None  # installed_version found it
    package = importlib.util.module_from_spec(spec)  # __path__ set from the spec; __init__ not run
    package.__version__ = version  # type: ignore[attr-defined]  # protocol.py's User-Agent reads it
    sys.modules["tablestore"] = package
    try:
        for name in REFUSED:  # in dependency order: client imports connection, protocol (encoder, decoder)
            _exec_guarded(package, name)
        for name, names in PACKAGE_NAMES:
            module = importlib.import_module(name)
            if names is None:
                names = tuple(getattr(module, "__all__", None)
                              or [each for each in vars(module) if not each.startswith("_")])
            for each in names:
                setattr(package, each, getattr(module, each))
        importlib.import_module("tablestore.retry")
        missing = [name for name in ADAPTER_NAMES
                   if isinstance(getattr(package, name, None), (Refused, type(None)))]
        if missing:
            raise PartialSdkError(f"the partial Tablestore SDK {version} lacks what the adapter uses: "
                                  f"{', '.join(missing)} (docs/cold-start.md, 'On an SDK upgrade')")
    except BaseException:
        for name in [each for each in sys.modules if each == "tablestore" or each.startswith("tablestore.")]:
            del sys.modules[name]
        raise
    package.__partial__ = True  # type: ignore[attr-defined]
    return package
