"""The command line builds its models without pydantic's plugin loader (pydanticlean.without_pydantic_plugins
says why)."""

from __future__ import annotations

import inspect
import subprocess
import sys


def test_installed_pydantic_asks_the_loader_this_replaces() -> None:
    # an upgrade that looks plugins up elsewhere fails here (the command would then load them as usual)
    from pydantic.plugin import _schema_validator

    source = inspect.getsource(_schema_validator.create_schema_validator)
    assert "from ._loader import get_plugins" in source
    assert "plugins = get_plugins()" in source


def _in_a_process(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_models_build_without_importlib_metadata() -> None:
    out = _in_a_process(
        "import sys\n"
        "from precheck.cli_session import without_pydantic_plugins\n"
        "assert without_pydantic_plugins()\n"
        "from precheck.models import Instance\n"
        "from pydantic_core import SchemaValidator\n"
        "Instance.model_rebuild(force=True)\n"
        "print(type(Instance.__pydantic_validator__) is SchemaValidator, 'importlib.metadata' in sys.modules)\n")
    assert out == "True False"


def test_a_command_loads_no_plugin_machinery() -> None:
    # `precheck check` with a bad flag value parses, builds the instance (its first model) and answers 2
    out = _in_a_process(
        "import sys\n"
        "from precheck import cli\n"
        "code = cli.main(['check', '--server', 'db1', '--user', 'u', '--password-env', 'NO_SUCH_VARIABLE_X',\n"
        "                 '--region', 'cn-hangzhou'])\n"
        "from precheck.models import Instance\n"
        "Instance(instance_id='i', region='cn-hangzhou', server='db1', user='u', password_ref='env:X')\n"
        "print(code, 'importlib.metadata' in sys.modules, sys.modules['pydantic.plugin._loader'].get_plugins())\n")
    assert out == "2 False ()"


def test_a_loaded_loader_is_left_alone() -> None:
    out = _in_a_process(
        "import pydantic.plugin._loader as real\n"
        "from precheck.cli_session import without_pydantic_plugins\n"
        "import sys\n"
        "print(without_pydantic_plugins(), sys.modules['pydantic.plugin._loader'] is real)\n")
    assert out == "False True"
