"""scripts/build-layer: the layer's layout, its bytecode, and an ODBC configuration that loads the shipped FreeTDS.

The layer is built once per session without downloading dependencies (offline): the precheck package and the
unixODBC/FreeTDS libraries of this machine.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.helpers import closed_port

ROOT = Path(__file__).resolve().parent.parent
GLIBC = re.compile(r"^(linux-vdso|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libutil\.so|"
                   r"ld-linux)")


@pytest.fixture(scope="session")
def layer(tmp_path_factory) -> Path:
    """The layer folder (and build/layer.zip beside it) built by scripts/build-layer --no-download."""
    out = tmp_path_factory.mktemp("layer")
    result = subprocess.run(["bash", str(ROOT / "scripts" / "build-layer"), "--out", str(out / "layer"),
                             "--zip", str(out / "layer.zip"), "--no-download"],
                            env={**os.environ, "PYTHON": sys.executable}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return out / "layer"


def odbc_probe(layer: Path, tmp_path: Path, driver_path: str, port: int) -> subprocess.CompletedProcess:
    """Run pyodbc in a fresh process configured only by the layer's etc/ (with Driver= rewritten)."""
    etc = tmp_path / "etc"
    etc.mkdir(exist_ok=True)
    ini = (layer / "etc" / "odbcinst.ini").read_text(encoding="utf-8")
    (etc / "odbcinst.ini").write_text(ini.replace("/opt/lib/libtdsodbc.so", driver_path), encoding="utf-8")
    (etc / "odbc.ini").write_text("", encoding="utf-8")
    script = textwrap.dedent(f"""
        import pyodbc
        print("drivers:", pyodbc.drivers())
        try:
            pyodbc.connect("DRIVER={{FreeTDS}};SERVER=127.0.0.1;PORT={port};UID=u;PWD=p;TDS_Version=7.4", timeout=3)
        except pyodbc.Error as error:
            print("state:", error.args[0])
    """)
    env = {**os.environ, "ODBCSYSINI": str(etc), "ODBCINSTINI": "odbcinst.ini",
           "LD_LIBRARY_PATH": str(layer / "lib")}
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30)


def test_layout_has_the_package_without_emulators_and_the_odbc_parts(layer):
    """python/precheck, lib/ with unixODBC and FreeTDS, etc/odbcinst.ini pointing at /opt/lib; no emulator."""
    assert (layer / "python" / "precheck" / "__init__.py").is_file()
    assert (layer / "python" / "precheck" / "adapters" / "fc_invoker.py").is_file()
    assert not list((layer / "python").glob("*emulator*"))
    for name in ("libtdsodbc.so", "libodbc.so.2", "libodbcinst.so.2", "libltdl.so.7"):
        assert (layer / "lib" / name).is_file(), name
    ini = (layer / "etc" / "odbcinst.ini").read_text(encoding="utf-8")
    assert re.search(r"^\[FreeTDS\]$", ini, re.M) and re.search(r"^Driver = /opt/lib/libtdsodbc\.so$", ini, re.M)


def test_every_module_has_python310_bytecode_that_needs_no_source_check(layer):
    """Each .py has a cpython-310 .pyc compiled with unchecked hashes (flags 0b01: valid without the source mtime)."""
    sources = list((layer / "python" / "precheck").rglob("*.py"))
    assert len(sources) > 20
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-310.pyc"
        assert compiled.is_file(), source
        flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
        assert flags == 0b01, (source, flags)


def test_zip_holds_the_same_tree(layer):
    """The zip to upload holds python/, lib/ and etc/ at its root, file for file."""
    with zipfile.ZipFile(layer.parent / "layer.zip") as archive:
        names = {name for name in archive.namelist() if not name.endswith("/")}
    files = {path.relative_to(layer).as_posix() for path in layer.rglob("*") if path.is_file()}
    assert names == files and "lib/libtdsodbc.so" in names and "etc/odbcinst.ini" in names


def test_shipped_libraries_need_nothing_but_each_other_and_glibc(layer):
    """ldd of the driver and unixODBC resolves every non-glibc dependency inside lib/."""
    env = {**os.environ, "LD_LIBRARY_PATH": str(layer / "lib")}
    for name in ("libtdsodbc.so", "libodbc.so.2", "libodbcinst.so.2"):
        output = subprocess.run(["ldd", str(layer / "lib" / name)], env=env, capture_output=True, text=True).stdout
        assert "not found" not in output, output
        for soname, path in re.findall(r"^\s*(\S+) => (/\S+)", output, re.M):
            if not GLIBC.match(soname):
                assert Path(path).parent == layer / "lib", (soname, path)


def test_odbc_configuration_loads_the_shipped_freetds(layer, tmp_path):
    """With ODBCSYSINI at the layer's etc/, pyodbc lists FreeTDS and a closed port fails in the driver (08S01)."""
    result = odbc_probe(layer, tmp_path, str(layer / "lib" / "libtdsodbc.so"), closed_port())
    assert "drivers: ['FreeTDS']" in result.stdout, result.stdout + result.stderr
    assert "state: 08S01" in result.stdout, result.stdout + result.stderr


def test_odbc_configuration_is_the_layers_own(layer, tmp_path):
    """Pointing the layer's Driver= at a missing file breaks loading: the system's odbcinst.ini is not used."""
    result = odbc_probe(layer, tmp_path, str(tmp_path / "missing" / "libtdsodbc.so"), closed_port())
    assert "state: 08S01" not in result.stdout
    assert re.search(r"state: (01000|IM002|IM003)", result.stdout), result.stdout + result.stderr
