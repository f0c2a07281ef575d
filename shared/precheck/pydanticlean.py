"""pydantic without its plugin machinery: the command line and every deployed function build their models
without `importlib.metadata` (the product uses no pydantic plugin). Not called by `import precheck`: a library
user's own plugins stay theirs."""

from __future__ import annotations

import sys
import types

#: pydantic's plugin loader, replaced before the first model is built
PYDANTIC_LOADER = "pydantic.plugin._loader"


def without_pydantic_plugins() -> bool:
    """Register a `pydantic.plugin._loader` whose `get_plugins` finds none, unless the real one is loaded
    already; True if registered. The command line (precheck.cli) and the functions (precheck.handling, which
    every functions/*/index.py imports) call it before their first model is built, so they never load
    `importlib.metadata`.

    pydantic looks for plugins (entry points of the group "pydantic",
    https://docs.pydantic.dev/latest/concepts/plugins/) when it builds a model's first validator:
    `pydantic.plugin._schema_validator.create_schema_validator` imports `get_plugins` from
    `pydantic.plugin._loader`, whose module imports `importlib.metadata` (about 13 ms here: email, zipfile,
    csv...) and then scans every installed distribution's entry points (about 3.5 ms). pydantic's own switch,
    the environment variable PYDANTIC_DISABLE_PLUGINS (pydantic/pydantic commit b145516, "Environment variable
    to disable plugins"), skips the scan but not the import. The product installs and uses no plugin; one
    installed into the same environment (an observability SDK, say) would otherwise be loaded into every
    command and function. So they register, before their first model is built, a loader that answers none,
    as the switch would. A process that imported the real loader already (a library user's, a test's) keeps
    it, and its plugins load as usual.

    tests/test_pydanticlean.py checks that the installed pydantic still asks
    `pydantic.plugin._loader.get_plugins` (an upgrade that moves it fails that test loudly; the command and
    the functions would then load plugins as usual) and that a check function's and start_precheck's first
    invocations, and a command's models, build without importing `importlib.metadata`.
    """
    if PYDANTIC_LOADER in sys.modules:
        return False
    loader = types.ModuleType(PYDANTIC_LOADER, "pydantic plugins: none (precheck loads no plugin)")
    loader.get_plugins = _no_pydantic_plugins  # type: ignore[attr-defined]
    sys.modules[PYDANTIC_LOADER] = loader
    return True


def _no_pydantic_plugins() -> tuple[()]:
    return ()
