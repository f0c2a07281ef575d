#!/usr/bin/env python3
"""Fail if any shared object under the given paths needs a newer glibc than the runtime's.

FC's python3.10 runtime runs on Debian 10, whose glibc is 2.28: a library or Python extension linked against a
newer glibc (a symbol versioned GLIBC_2.34, say) fails to load there ("version `GLIBC_2.34' not found"), so
`import oss2` would fail in the cloud although it works on the machine that built the layer.

The version needs are read from each ELF file's `.gnu.version_r` section (SHT_GNU_verneed: what `readelf -V`
prints as "Version needs section"), in plain Python, so the check runs in the runtime's build image and here
without binutils. Every regular file whose first bytes are ELF's magic is read, whatever its name; a file
named like a shared object that is not ELF (a macOS build some wheels carry) is listed as a warning, never
loaded on Linux. An ELF file that cannot be read (not 64-bit little-endian x86-64, no section headers) fails.

Usage: check_glibc.py [--max-glibc 2.28] PATH...   exit 0 clean, 1 offending files (listed on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import re
import struct
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

RUNTIME_GLIBC = (2, 28)  # FC python3.10 = Debian 10 (buster), glibc 2.28
ELF_MAGIC = b"\x7fELF"
SHT_GNU_VERNEED = 0x6FFFFFFE
EM_X86_64 = 62
GLIBC_VERSION = re.compile(r"^GLIBC_(\d+)\.(\d+)(?:\.(\d+))?$")
LOOKS_SHARED = re.compile(r"\.so(\.\d+)*$")


class ElfError(ValueError):
    """The file is ELF but not one this check can read (and so cannot vouch for)."""


@dataclass
class Finding:
    """One file's verdict: the glibc versions it needs, and why it fails (empty when it does not)."""

    path: Path
    needs: dict[str, set[str]] = field(default_factory=dict)  # needed library -> version names
    problem: str = ""

    @property
    def glibc(self) -> list[tuple[int, ...]]:
        found = set()
        for names in self.needs.values():
            for name in names:
                match = GLIBC_VERSION.match(name)
                if match:
                    found.add(tuple(int(part) for part in match.groups() if part is not None))
        return sorted(found)


def version_needs(data: bytes) -> dict[str, set[str]]:
    """The version needs of an ELF64 little-endian x86-64 object: {needed file: {version names}}."""
    if data[:4] != ELF_MAGIC:
        raise ElfError("not an ELF file")
    if data[4] != 2 or data[5] != 1:
        raise ElfError("not a 64-bit little-endian ELF file")
    (machine,) = struct.unpack_from("<H", data, 18)
    if machine != EM_X86_64:
        raise ElfError(f"built for machine {machine}, not x86-64 ({EM_X86_64})")
    (shoff,) = struct.unpack_from("<Q", data, 40)
    shentsize, shnum = struct.unpack_from("<HH", data, 58)
    if shoff == 0 or shnum == 0:
        raise ElfError("no section headers: its version needs cannot be read")
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + index * shentsize) for index in range(shnum)]
    needs: dict[str, set[str]] = {}
    for _name, kind, _flags, _addr, offset, _size, link, info, _align, _entsize in sections:
        if kind != SHT_GNU_VERNEED:
            continue
        strings = sections[link][4]

        def text(at: int, base: int = strings) -> str:
            end = data.index(b"\0", base + at)
            return data[base + at:end].decode("ascii", "replace")

        entry = offset
        for _ in range(info):  # sh_info = the number of Verneed entries
            _version, count, file_at, aux_at, next_at = struct.unpack_from("<HHIII", data, entry)
            names = needs.setdefault(text(file_at), set())
            aux = entry + aux_at
            for _ in range(count):
                _hash, _flags2, _other, name_at, aux_next = struct.unpack_from("<IHHII", data, aux)
                names.add(text(name_at))
                aux += aux_next
            if not next_at:
                break
            entry += next_at
    return needs


def elf_files(paths: Iterable[Path]) -> Iterator[tuple[Path, bool]]:
    """(path, is ELF) for every regular file under paths that is ELF or is named like a shared object."""
    for root in paths:
        candidates = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in candidates:
            if path.is_symlink():
                continue  # its target is checked where it lies (or is not shipped)
            with path.open("rb") as handle:
                is_elf = handle.read(4) == ELF_MAGIC
            if is_elf or LOOKS_SHARED.search(path.name):
                yield path, is_elf


def check(paths: Iterable[Path], max_glibc: tuple[int, ...] = RUNTIME_GLIBC) -> tuple[list[Finding], list[Path]]:
    """(every ELF file's finding, files named like shared objects that are not ELF)."""
    findings, foreign = [], []
    for path, is_elf in elf_files(paths):
        if not is_elf:
            foreign.append(path)
            continue
        finding = Finding(path)
        try:
            finding.needs = version_needs(path.read_bytes())
        except (ElfError, struct.error, ValueError, IndexError) as error:
            finding.problem = f"unreadable ELF: {error}"
        else:
            if any(name == "GLIBC_PRIVATE" for names in finding.needs.values() for name in names):
                finding.problem = "needs GLIBC_PRIVATE (only glibc's own libraries may)"
            newer = [version for version in finding.glibc if version > max_glibc]
            if newer:
                finding.problem = "needs " + ", ".join("GLIBC_" + ".".join(map(str, v)) for v in newer)
        findings.append(finding)
    return findings, foreign


def parse_version(text: str) -> tuple[int, ...]:
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", text):
        raise argparse.ArgumentTypeError(f"not a glibc version: {text!r}")
    return tuple(int(part) for part in text.split("."))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-glibc", type=parse_version, default=RUNTIME_GLIBC,
                        help="the newest glibc the objects may need (default: 2.28, FC python3.10's)")
    parser.add_argument("paths", nargs="+", type=Path)
    options = parser.parse_args(argv)
    missing = [str(path) for path in options.paths if not path.exists()]
    if missing:
        parser.error(f"no such path: {', '.join(missing)}")
    findings, foreign = check(options.paths, options.max_glibc)
    limit = ".".join(map(str, options.max_glibc))
    bad = [finding for finding in findings if finding.problem]
    for path in foreign:
        print(f"check-glibc: warning: {path} is named like a shared object but is not ELF (never loaded on Linux)",
              file=sys.stderr)
    for finding in bad:
        print(f"check-glibc: {finding.path}: {finding.problem}", file=sys.stderr)
    newest = max((v for finding in findings for v in finding.glibc), default=())
    summary = f"{len(findings)} ELF files, newest glibc needed: {'.'.join(map(str, newest)) or 'none'}"
    if bad:
        print(f"check-glibc: FAILED: {len(bad)} of {summary}; the runtime has glibc {limit}", file=sys.stderr)
        return 1
    print(f"check-glibc: ok: {summary} (limit {limit})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
