"""The command line runs without pydantic plugins, so it never loads `importlib.metadata`.

pydantic looks for plugins (entry points of the group "pydantic") when it builds a model's first validator:
`pydantic.plugin._schema_validator.create_schema_validator` imports `get_plugins` from `pydantic.plugin._loader`,
whose module imports `importlib.metadata` (about 13 ms here: email, zipfile, csv...) and then scans every
installed distribution's entry points (about 3.5 ms). pydantic's own switch, the environment variable
PYDANTIC_DISABLE_PLUGINS (added by pydantic/pydantic commit b145516, "Environment variable to disable plugins"),
skips the scan but not the import. Plugins are entry points of that group (https://docs.pydantic.dev/latest/concepts/
plugins/). The product installs and uses no plugin; a plugin someone installs into the same environment (an
observability SDK, say) would otherwise be loaded into every command. So the command line registers, before
its first model is built, a `pydantic.plugin._loader` whose `get_plugins` answers none, as the switch would.

tests/test_cli_pydantic.py checks that the installed pydantic still asks `pydantic.plugin._loader.get_plugins`
(an upgrade that moves it fails that test loudly, and the command would then only load plugins as usual) and
that a command's models build without importing `importlib.metadata`.
"""

from __future__ import annotations

import sys
import types

LOADER = "pydantic.plugin._loader"


def _no_plugins() -> tuple[()]:
    return ()


def without_plugins() -> bool:
    """Register the plugin loader that finds none, unless the real one is loaded already; True if registered."""
    if LOADER in sys.modules:
        return False
    loader = types.ModuleType(LOADER, "pydantic plugins: none (precheck's command line loads no plugin)")
    loader.get_plugins = _no_plugins  # type: ignore[attr-defined]
    sys.modules[LOADER] = loader
    return True
