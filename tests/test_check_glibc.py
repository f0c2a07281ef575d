"""scripts/check_glibc.py: the glibc versions a shared object needs, read as `readelf -V` reads them, and the
verdict against the runtime's glibc (FC python3.10 = Debian 10 = glibc 2.28)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("check_glibc", ROOT / "scripts" / "check_glibc.py")
assert _spec and _spec.loader
check_glibc = importlib.util.module_from_spec(_spec)
sys.modules["check_glibc"] = check_glibc
_spec.loader.exec_module(check_glibc)


def elf(needs: dict[str, list[str]], machine: int = 62) -> bytes:
    """A minimal ELF64 x86-64 shared object whose only content is a .gnu.version_r section listing `needs`
    ({library: [version names]}) and the string table it points into."""
    strings = bytearray(b"\0")

    def string(text: str) -> int:
        strings.extend(text.encode() + b"\0")
        return len(strings) - len(text) - 1

    entries = bytearray()
    libraries = list(needs.items())
    for number, (library, versions) in enumerate(libraries):
        last = number == len(libraries) - 1
        entries += struct.pack("<HHIII", 1, len(versions), string(library), 16,
                               0 if last else 16 + 16 * len(versions))
        for index, version in enumerate(versions):
            entries += struct.pack("<IHHII", 0, 0, index + 2, string(version), 0 if index == len(versions) - 1 else 16)
    strtab_at = 64
    verneed_at = strtab_at + len(strings)
    sections_at = verneed_at + len(entries)
    header = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 3, machine, 1, 0, 0, sections_at,
                         0, 64, 0, 0, 64, 3, 0)
    sections = bytes(64)
    sections += struct.pack("<IIQQQQIIQQ", 0, 3, 0, 0, strtab_at, len(strings), 0, 0, 1, 0)
    sections += struct.pack("<IIQQQQIIQQ", 0, 0x6FFFFFFE, 0, 0, verneed_at, len(entries), 1, len(libraries), 8, 0)
    return header + bytes(strings) + bytes(entries) + sections


def run(paths: list[Path], *args: str) -> tuple[int, str]:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_glibc.py"), *args, *map(str, paths)],
                            capture_output=True, text=True, timeout=60)
    return result.returncode, result.stderr


def test_a_synthetic_object_is_read_entry_by_entry():
    """Every library and version of a two-library verneed section comes back, nothing more."""
    data = elf({"libc.so.6": ["GLIBC_2.2.5", "GLIBC_2.14"], "libm.so.6": ["GLIBC_2.29"]})
    assert check_glibc.version_needs(data) == {"libc.so.6": {"GLIBC_2.2.5", "GLIBC_2.14"},
                                               "libm.so.6": {"GLIBC_2.29"}}


def test_versions_compare_as_numbers_and_the_limit_itself_passes(tmp_path):
    """2.3.4 and 2.28 are within 2.28 (not compared as text); 2.29 is not, whichever library asks for it."""
    (tmp_path / "old.so").write_bytes(elf({"libc.so.6": ["GLIBC_2.3.4", "GLIBC_2.28"]}))
    (tmp_path / "new.so.1").write_bytes(elf({"libc.so.6": ["GLIBC_2.3.4"], "libm.so.6": ["GLIBC_2.29"]}))
    findings, foreign = check_glibc.check([tmp_path])
    verdicts = {finding.path.name: finding.problem for finding in findings}
    assert verdicts == {"old.so": "", "new.so.1": "needs GLIBC_2.29"} and foreign == []


def test_the_cli_fails_and_names_each_offending_file(tmp_path):
    """Exit 1, one line per offender with the versions it needs; an object without the suffix is still read."""
    (tmp_path / "ok.so").write_bytes(elf({"libc.so.6": ["GLIBC_2.17"]}))
    (tmp_path / "_rust.abi3.so").write_bytes(elf({"libc.so.6": ["GLIBC_2.33", "GLIBC_2.34", "GLIBC_2.2.5"]}))
    (tmp_path / "tool").write_bytes(elf({"libc.so.6": ["GLIBC_2.32"]}))
    (tmp_path / "notes.txt").write_text("GLIBC_2.99", encoding="utf-8")
    code, stderr = run([tmp_path])
    assert code == 1, stderr
    assert re.search(r"_rust\.abi3\.so: needs GLIBC_2\.33, GLIBC_2\.34$", stderr, re.M), stderr
    assert re.search(r"tool: needs GLIBC_2\.32$", stderr, re.M) and "ok.so:" not in stderr, stderr
    assert "2 of 3 ELF files" in stderr and "notes.txt" not in stderr


def test_the_cli_passes_a_clean_tree_and_only_warns_about_foreign_binaries(tmp_path):
    """Exit 0 when every object is within 2.28; a Mach-O file named .so (tablestore ships one) is a warning."""
    (tmp_path / "ok.so").write_bytes(elf({"libc.so.6": ["GLIBC_2.28"]}))
    (tmp_path / "native.cpython-313-darwin.so").write_bytes(b"\xcf\xfa\xed\xfe" + bytes(60))
    code, stderr = run([tmp_path])
    assert code == 0, stderr
    assert "native.cpython-313-darwin.so is named like a shared object but is not ELF" in stderr
    assert "ok: 1 ELF files, newest glibc needed: 2.28" in stderr


def test_what_cannot_be_vouched_for_fails(tmp_path):
    """An aarch64 object, one without section headers and one needing GLIBC_PRIVATE each fail the check."""
    (tmp_path / "arm.so").write_bytes(elf({"libc.so.6": ["GLIBC_2.17"]}, machine=183))
    (tmp_path / "private.so").write_bytes(elf({"libc.so.6": ["GLIBC_PRIVATE", "GLIBC_2.2.5"]}))
    stripped = bytearray(elf({"libc.so.6": ["GLIBC_2.17"]}))
    stripped[40:48] = bytes(8)
    (tmp_path / "stripped.so").write_bytes(bytes(stripped))
    findings, _ = check_glibc.check([tmp_path])
    verdicts = {finding.path.name: finding.problem for finding in findings}
    assert "not x86-64" in verdicts["arm.so"]
    assert "GLIBC_PRIVATE" in verdicts["private.so"]
    assert "no section headers" in verdicts["stripped.so"]


def test_the_limit_is_a_parameter(tmp_path):
    """--max-glibc 2.34 accepts what 2.28 refuses (the development machine's own libraries in tests)."""
    (tmp_path / "new.so").write_bytes(elf({"libc.so.6": ["GLIBC_2.34"]}))
    assert run([tmp_path])[0] == 1
    assert run([tmp_path], "--max-glibc", "2.34")[0] == 0


def real_objects() -> list[Path]:
    """Shared objects of this machine: the venv's extensions (pydantic_core, pyodbc, cryptography's Rust one)
    and the system's FreeTDS driver and unixODBC."""
    found: list[Path] = []
    site = Path(pytest.__file__).resolve().parent.parent
    for pattern in ("pydantic_core/*.so", "pyodbc*.so", "cryptography/hazmat/bindings/*.so"):
        found += sorted(site.glob(pattern))
    for system in ("/usr/lib/x86_64-linux-gnu/odbc/libtdsodbc.so", "/usr/lib/x86_64-linux-gnu/libodbc.so.2"):
        if Path(system).exists():
            found.append(Path(system).resolve())
    return found


def readelf_needs(path: Path) -> dict[str, set[str]]:
    """The version needs as binutils' readelf -V prints them ("File: libc.so.6 ... Name: GLIBC_2.14 ...")."""
    output = subprocess.run(["readelf", "-V", "--wide", str(path)], capture_output=True, text=True,
                            check=True).stdout
    section = output.split("Version needs section", 1)[1] if "Version needs section" in output else ""
    needs: dict[str, set[str]] = {}
    current = ""
    for line in section.splitlines():
        file_match = re.search(r"File: (\S+)", line)
        if file_match:
            current = file_match.group(1)
            needs.setdefault(current, set())
        name_match = re.search(r"Name: (\S+)", line)
        if name_match and current:
            needs[current].add(name_match.group(1))
    return needs


@pytest.mark.skipif(shutil.which("readelf") is None, reason="binutils' readelf is not installed")
def test_real_objects_are_read_as_readelf_reads_them():
    """On this machine's real shared objects the parser agrees with readelf -V, library by library."""
    objects = real_objects()
    assert len(objects) >= 3, objects
    for path in objects:
        assert check_glibc.version_needs(path.read_bytes()) == readelf_needs(path), path
