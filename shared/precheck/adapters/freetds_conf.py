"""The freetds.conf this process generates, so FreeTDS validates SQL Server's certificate.

FreeTDS 1.3 validates a server's certificate only when `ca file` is set, and takes `ca file` only from a
freetds.conf section, never from the ODBC connection string (src/odbc/connectparams.c lists every keyword
it reads; src/tds/config.c reads `ca file`). The file it reads is named by the environment variable
FREETDSCONF, read at every connection (tds_read_conf_file), before ~/.freetds.conf and the system's
/etc/freetds/freetds.conf, which it falls through to when the section asked for is not in the first file.

So the process owns one file in a private temporary folder (mode 0700) and names it in FREETDSCONF once, when
the first connector is made, before any connection of this process can be reading the environment. Each
distinct set of settings is one section named by a digest of its body (adapters/odbc.py, freetds_section):
sections are only ever added, and each new version of the file is written beside it and renamed over it
(atomic on POSIX), so a connection made at the same time in another thread reads either the old or the
new file, and both hold every section already handed out. The file holds no secret (host, port and TLS
settings; the login and password stay in the connection string). If the operator had set FREETDSCONF, that
file's text starts ours, so its [global] section and its servers still apply.

The folder and each staging file are made with os.mkdir / os.open(O_CREAT | O_EXCL) under a random name, as
tempfile.mkdtemp / mkstemp make theirs (modes 0700 and 0600, never an existing path), without importing
tempfile, whose import loads shutil, bz2 and lzma (~2.3 ms of each check function's first invocation); the
folder goes in the first of TMPDIR, TEMP, TMP or /tmp (tempfile's order) where it can be made, else wherever
tempfile.mkdtemp puts it. It is removed at exit (`_remove`).
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable
from pathlib import Path

_lock = threading.Lock()
_shared: FreetdsConf | None = None


class FreetdsConf:
    """One generated freetds.conf: `ensure(name, body)` makes sure section `name` is in it."""

    def __init__(self, folder: Path, base_text: str = ""):
        self.path = folder / "freetds.conf"
        self._base = base_text
        self._sections: dict[str, str] = {}
        self._lock = threading.Lock()
        self._write()

    def ensure(self, name: str, body: str) -> None:
        with self._lock:
            if self._sections.get(name) == body:
                return
            self._sections[name] = body
            self._write()

    def _write(self) -> None:
        text = self._base.rstrip("\n") + ("\n\n" if self._base.strip() else "")
        text += "# written by the SQL Server backup precheck (precheck.adapters.freetds_conf); no secrets\n"
        text += "".join(f"\n[{name}]\n{body}" for name, body in self._sections.items())
        fd, staging = _new_file(self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(staging, self.path)

    def sections(self) -> dict[str, str]:
        with self._lock:
            return dict(self._sections)


_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


def _new_file(folder: Path) -> tuple[int, str]:
    """A new file of mode 0600 in `folder`, opened for writing, under a random name no one else holds."""
    while True:
        path = str(folder / f".freetds-{os.urandom(6).hex()}.conf")
        try:
            return os.open(path, _FLAGS, 0o600), path
        except FileExistsError:
            continue


def _new_folder() -> Path:
    """A new private folder (mode 0700) under the temporary directory tempfile would pick first."""
    from ..settings import temporary_parent

    parent = temporary_parent()
    for _ in range(100):
        folder = os.path.join(os.path.abspath(parent), f"precheck-freetds-{os.urandom(6).hex()}")
        try:
            os.mkdir(folder, 0o700)
            return Path(folder)
        except FileExistsError:
            continue
        except OSError:
            break
    import tempfile  # the parent cannot hold it: wherever tempfile finds room (it tries every candidate)

    return Path(tempfile.mkdtemp(prefix="precheck-freetds-"))


def _remove(folder: Path) -> None:
    """Remove the folder and what it holds, ignoring errors (as `shutil.rmtree(folder, True)`): it holds only
    the files this module writes (freetds.conf and staging files), never a folder, so no shutil (its import
    loads bz2, lzma and fnmatch, about 2 ms of every process's exit)."""
    try:
        with os.scandir(folder) as entries:
            names = [entry.path for entry in entries]
    except OSError:
        names = []
    for name in names:
        try:
            os.remove(name)
        except OSError:
            pass
    try:
        os.rmdir(folder)
    except OSError:
        pass


def shared(operator_conf: Path | None = None, export: Callable[[Path], None] | None = None) -> FreetdsConf:
    """The process's generated freetds.conf, made (and named in FREETDSCONF through `export`) on first use.
    `operator_conf` is the file FREETDSCONF named before, whose text ours starts with."""
    global _shared
    with _lock:
        if _shared is None:
            folder = _new_folder()
            atexit.register(_remove, folder)
            base = ""
            if operator_conf is not None and operator_conf.parent != folder:
                try:
                    base = operator_conf.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    base = ""
            _shared = FreetdsConf(folder, base)
            if export is None:
                from ..settings import export_freetds_conf

                export = export_freetds_conf
            export(_shared.path)
        return _shared
