"""The shape of the package, checked from its source: no import cycles, no imports of the emulators, one
reader of the environment, no module too long to hold one thing, every configuration variable documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from precheck import settings

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "shared" / "precheck"
MAX_LINES = 400


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path) -> list[str]:
    """Every module named by an `import` or `from` statement anywhere in the file (lazy ones included):
    `from P import x` names module `P.x` when there is one, and `P` itself otherwise."""
    known = modules()
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    named = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            named += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                named.append(f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target)
    return named


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {target for target in imports_of(name, path) if target in known and target != name}
            for name, path in known.items()}


def test_the_package_has_no_import_cycle():
    """No module of shared/precheck reaches itself through imports (every import statement counted)."""
    edges = graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_the_cycle_finder_finds_a_cycle(tmp_path, monkeypatch):
    """The analysis itself sees `from . import x` and relative imports (it would report a real cycle)."""
    assert "precheck.checks" in graph()["precheck.checks.database_status"]
    assert "precheck.checks._sql" in graph()["precheck.checks.database_status"]


@pytest.mark.parametrize("name, path", sorted(modules().items()))
def test_no_module_imports_the_emulators(name, path):
    """The product reaches the emulators only through their console scripts, never by importing them."""
    assert not [target for target in imports_of(name, path)
                if target.split(".")[0] in ("emulators", "tds_emulator", "tablestore_emulator")]


@pytest.mark.parametrize("name, path", sorted(modules().items()))
def test_only_the_settings_module_reads_the_environment(name, path):
    """os.environ / os.getenv / os.putenv appear in precheck.settings alone."""
    if name == "precheck.settings":
        return
    source = path.read_text(encoding="utf-8")
    assert not re.findall(r"\bos\.(environ|getenv|putenv|unsetenv)\b|\bfrom os import\b", source)


@pytest.mark.parametrize("name, path", sorted(modules().items()))
def test_no_module_is_longer_than_400_lines(name, path):
    """A module that holds one thing fits in 400 lines."""
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def test_every_variable_settings_read_is_in_the_readme_and_back():
    """The README's configuration table lists exactly the variables Settings reads."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`((?:PRECHECK|ALIBABA_CLOUD|FC)_[A-Z_]+|FREETDSCONF)`", table))
    assert listed == set(settings.VARIABLES)


def test_the_readme_layout_names_every_module():
    """The README's layout section names every module of the package."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    missing = [name for name, path in modules().items()
               if path.name != "__init__.py" and path.stem not in layout and not name.startswith("precheck.checks.")]
    assert missing == []
