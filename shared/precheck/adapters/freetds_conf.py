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
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
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
        fd, staging = tempfile.mkstemp(dir=self.path.parent, prefix=".freetds-", suffix=".conf")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(staging, self.path)

    def sections(self) -> dict[str, str]:
        with self._lock:
            return dict(self._sections)


def shared(operator_conf: Path | None = None, export: Callable[[Path], None] | None = None) -> FreetdsConf:
    """The process's generated freetds.conf, made (and named in FREETDSCONF through `export`) on first use.
    `operator_conf` is the file FREETDSCONF named before, whose text ours starts with."""
    global _shared
    with _lock:
        if _shared is None:
            folder = Path(tempfile.mkdtemp(prefix="precheck-freetds-"))
            atexit.register(shutil.rmtree, folder, True)
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
