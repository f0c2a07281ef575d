"""Starting the emulators, which are products of their own: only through their console scripts.

`tds-emulator` (SQL Server over TDS) and `tablestore-emulator` are separate distributions
(`emulators/<name>/`), installed by the project's setup; this package never imports them. `precheck emulate`
runs a console script in its own place; the demo starts one as a child process and reads its port from the
first line it prints (`listening on HOST:PORT` or `listening on http://HOST:PORT`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

SCRIPTS = {"sqlserver": "tds-emulator", "tablestore": "tablestore-emulator"}
_DISTRIBUTIONS = {"sqlserver": "./emulators/tds-emulator", "tablestore": "./emulators/tablestore-emulator"}


class Unavailable(Exception):
    """The emulator's console script is not installed, or it did not start."""


def console_script(target: str) -> str:
    """The path of the emulator's console script: beside this interpreter first, then on the PATH."""
    name = SCRIPTS[target]
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise Unavailable(f"the {target} emulator is not installed ({name} not found): "
                          f"pip install {_DISTRIBUTIONS[target]}, or run ./scripts/setup")
    return found


class Child:
    """An emulator running as a child process; `address` is what its first line announced."""

    def __init__(self, target: str, args: list[str], start_timeout: float = 30.0):
        self._errors = tempfile.TemporaryFile("w+")  # a file, not a pipe: a chatty child never blocks on it
        self.process = subprocess.Popen([console_script(target), *args], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=self._errors, text=True)
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(self.process.stdout.readline() if self.process.stdout
                                                              else ""), daemon=True)
        reader.start()
        reader.join(start_timeout)
        line = first[0].strip() if first else ""
        if not line.startswith("listening on "):
            self.process.kill()
            self.process.wait(5)
            self._errors.seek(0)
            error = self._errors.read()[-500:]
            self._errors.close()
            raise Unavailable(f"the {target} emulator did not start within {start_timeout:g} s"
                              + (f": {error.strip()}" if error.strip() else ""))
        self.address = line[len("listening on "):]

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self._errors.close()
