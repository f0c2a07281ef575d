"""scripts/build-layer: the layer's layout, its bytecode, an ODBC configuration that loads the shipped FreeTDS,
the lock its dependencies come from, and the refusal to ship anything FC's python3.10 (glibc 2.28) cannot load.

The layout tests build the layer once per session without downloading dependencies, with this machine's
unixODBC/FreeTDS (--host-libraries: a test build, not deployable). The Python part is built once from the
lock, for the runtime's platform, as `make layer` builds it (PyPI or pip's cache must be reachable).
"""

from __future__ import annotations

import json
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
    """The layer folder (and layer.zip beside it) built by scripts/build-layer --no-download --host-libraries."""
    out = tmp_path_factory.mktemp("layer")
    result = subprocess.run(["bash", str(ROOT / "scripts" / "build-layer"), "--out", str(out / "layer"),
                             "--zip", str(out / "layer.zip"), "--no-download", "--host-libraries"],
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


def build(tmp_path: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "scripts" / "build-layer"), *args],
                          env={**os.environ, "PYTHON": sys.executable}, capture_output=True, text=True,
                          timeout=timeout, cwd=tmp_path)


def os_release(tmp_path: Path, codename: str) -> str:
    path = tmp_path / f"os-release-{codename}"
    path.write_text(f'PRETTY_NAME="Debian"\nVERSION_CODENAME={codename}\n', encoding="utf-8")
    return str(path)


def test_native_libraries_of_another_debian_release_are_refused(tmp_path):
    """On a machine that is not Debian 10 the build stops before copying anything and writes no zip."""
    result = build(tmp_path, "--out", str(tmp_path / "layer"), "--zip", str(tmp_path / "layer.zip"),
                   "--no-download", "--os-release", os_release(tmp_path, "bookworm"))
    assert result.returncode == 1, result.stderr
    assert "must come from Debian 10 (buster) packages" in result.stderr and "'bookworm'" in result.stderr
    assert not (tmp_path / "layer.zip").exists() and not (tmp_path / "layer").exists()


def test_libraries_needing_a_newer_glibc_fail_the_build_by_name(tmp_path):
    """This machine's FreeTDS (Debian 12: GLIBC_2.34) passed off as buster's fails the glibc check, named."""
    result = build(tmp_path, "--out", str(tmp_path / "layer"), "--zip", str(tmp_path / "layer.zip"),
                   "--no-download", "--os-release", os_release(tmp_path, "buster"))
    assert result.returncode == 1, result.stderr
    assert re.search(r"lib/libtdsodbc\.so: needs GLIBC_2\.(29|3\d)", result.stderr), result.stderr
    assert "no zip written" in result.stderr and not (tmp_path / "layer.zip").exists()


LOCK = ROOT / "layer" / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def locked() -> dict[str, tuple[str, list[str]]]:
    """{normalized name: (version, [sha256 hashes])} of layer/requirements.lock."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current = ""
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        pin = PIN.match(line)
        if pin:
            current = re.sub(r"[-_.]+", "-", pin.group(1)).lower()
            entries[current] = (pin.group(2), [])
        for digest in re.findall(r"--hash=sha256:([0-9a-f]{64})", line):
            entries[current][1].append(digest)
    return entries


def test_the_lock_pins_every_package_with_hashes():
    """Each locked package has an exact version and at least one sha256; nothing else is required unpinned."""
    entries = locked()
    assert len(entries) >= 20
    assert all(hashes for _, hashes in entries.values()), [name for name, (_, h) in entries.items() if not h]
    requirement_lines = [line for line in LOCK.read_text(encoding="utf-8").splitlines()
                         if line and not line[0].isspace() and not line.startswith("#")]
    assert all(PIN.match(line) for line in requirement_lines), requirement_lines


def test_the_lock_covers_exactly_the_declared_runtime_dependencies():
    """layer/requirements.in repeats pyproject's dependencies, and the lock's versions satisfy each of them."""
    from packaging.requirements import Requirement

    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.S | re.M)
    assert block
    declared = sorted(re.findall(r'"([^"]+)"', block.group(1)))
    listed = sorted(line.strip() for line in (ROOT / "layer" / "requirements.in").read_text().splitlines()
                    if line.strip() and not line.startswith("#"))
    assert listed == declared
    entries = locked()
    for spec in declared:
        requirement = Requirement(spec)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in entries and requirement.specifier.contains(entries[name][0]), (spec, entries.get(name))


@pytest.fixture(scope="session")
def python_part(tmp_path_factory) -> tuple[Path, dict]:
    """python/ as `make layer` builds it (from the lock, manylinux <= 2.28 wheels), and the sizes printed."""
    out = tmp_path_factory.mktemp("python-part")
    result = build(out, "--python-only", "--out", str(out / "layer"), "--no-zip", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return out / "layer" / "python", json.loads(result.stdout.strip().splitlines()[-1])


def test_the_python_part_needs_no_glibc_newer_than_the_runtimes(python_part):
    """Every ELF object installed from the lock (cryptography's Rust extension included) needs glibc <= 2.28."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_glibc_for_layer", ROOT / "scripts" / "check_glibc.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    findings, _ = module.check([python_part[0]])
    rust = [finding for finding in findings if finding.path.name.startswith("_rust")]
    assert rust and len(findings) > 20
    assert [(str(f.path), f.problem) for f in findings if f.problem] == []
    assert max(v for finding in findings for v in finding.glibc) <= (2, 28)


def test_the_python_part_imports_with_nothing_but_itself(python_part):
    """The SDKs and precheck import from python/ alone (-I: no site-packages): the lock misses no dependency."""
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import oss2, tablestore, fc2, pydantic, pyodbc, "
              "precheck.wiring; print(oss2.__file__.startswith(sys.argv[1]), pydantic.VERSION)")
    result = subprocess.run([sys.executable, "-I", "-c", script, str(python_part[0])], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("True"), result.stderr[-2000:]


def test_the_build_reports_its_sizes(python_part):
    """The JSON on stdout counts every byte of python/ (no lib/ with --python-only, no zip with --no-zip)."""
    folder, report = python_part
    total = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    assert report["python_bytes"] == report["unpacked_bytes"] == total and report["lib_bytes"] == 0
    assert report["zipped_bytes"] is None and report["files"] > 1000


def fake_docker(tmp_path: Path, has_image: bool) -> dict[str, str]:
    """A `docker` on PATH that logs its arguments: it has the image or fails to pull it, and runs nothing."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "docker.log"
    (bin_dir / "docker").write_text(textwrap.dedent(f"""\
        #!/usr/bin/env bash
        echo "$*" >> {log}
        case "$1 $2" in "image inspect") exit {0 if has_image else 1} ;; "pull -q") exit 1 ;; esac
        exit 0
        """), encoding="utf-8")
    (bin_dir / "docker").chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_make_layer_builds_in_the_pinned_build_image_with_the_archive(tmp_path):
    """`make layer` runs build-layer --docker, which runs itself in FC's python3.10 build image, pinned by tag,
    installing unixODBC/FreeTDS from Debian 10's archive, and hands the files back to the caller."""
    dry = subprocess.run(["make", "-n", "layer"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert dry.stdout.strip().splitlines()[-1] == "./scripts/build-layer --docker", dry.stdout
    result = subprocess.run(["bash", str(ROOT / "scripts" / "build-layer"), "--docker"], capture_output=True,
                            text=True, timeout=30, env={**os.environ, **fake_docker(tmp_path, has_image=True)})
    assert result.returncode == 0, result.stderr
    run = [line for line in (tmp_path / "docker.log").read_text().splitlines() if line.startswith("run ")]
    assert len(run) == 1
    assert " aliyunfc/runtime-python3.10:build-1.10.9 bash scripts/build-layer --install-odbc " in run[0]
    assert f"-v {ROOT}:/code" in run[0] and "DEBIAN_ARCHIVE=http://archive.debian.org/debian" in run[0]
    assert "--out /code/build/layer --zip /code/build/layer.zip" in run[0] and "--chown " in run[0]


def test_without_the_build_image_nothing_is_built(tmp_path):
    """When the image cannot be pulled the build says so and stops, with no fallback to this machine."""
    result = subprocess.run(["bash", str(ROOT / "scripts" / "build-layer"), "--docker"], capture_output=True,
                            text=True, timeout=30, env={**os.environ, **fake_docker(tmp_path, has_image=False)})
    assert result.returncode == 1 and "cannot pull aliyunfc/runtime-python3.10:build-1.10.9" in result.stderr
    assert not any(line.startswith("run ") for line in (tmp_path / "docker.log").read_text().splitlines())
