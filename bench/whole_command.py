"""The whole command as a user waits for it: `precheck check ... --json` as a process, spawn to exit.

Against the SQL Server emulator (its own process, the demo catalog) and two loopback listeners (the OSS and
control endpoints), as bench/e2e_latency.py sets them up. Compared side by side, in the same run, with a
minimal process making the same probes: a Python process that imports pyodbc, logs in through the same
FreeTDS driver with the connection string the product builds, runs the two catalog queries (their text passed
in, so it imports nothing of precheck), makes two TCP connects and exits. Each `check` gets a fresh
PRECHECK_HOME, so it registers the instance and stores its run in a new local store, as a first use does.
Target: the whole command's median <= 2.0x the minimal process's median (median of >= 9, alternated).

A third process, not part of the ratio, runs the same command through a wrapper that times its parts, so the
figures say where the time goes: interpreter start (`python -c pass`), importing `precheck.cli`, the
command's parts (parsing, the session and its store, the instance's validation, starting the run, waiting
for it, showing it; "run" ends when its exit functions have run) and the rest (the process's end, and the
spawn and reaping every process pays).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, median, ms, start_emulator  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "11"))
TARGET = 2.0
BIN = Path(sys.executable).parent

#: the minimal process: the same login and queries, two TCP connects, nothing of precheck
MINIMAL = """
import os, socket, pyodbc
connection = pyodbc.connect(os.environ["BENCH_CONN"], timeout=10, autocommit=True)
connection.timeout = 10
for sql in (os.environ["BENCH_SQL1"], os.environ["BENCH_SQL2"]):
    cursor = connection.cursor()
    cursor.execute(sql)
    [column[0] for column in cursor.description]
    cursor.fetchall()
connection.close()
for port in (os.environ["BENCH_OSS"], os.environ["BENCH_CONTROL"]):
    socket.create_connection(("127.0.0.1", int(port)), timeout=10).close()
"""

#: the command through a wrapper timing its parts (written to the file BENCH_PARTS names)
WRAPPED = """
import atexit, json, os, sys, time
started = time.perf_counter()
from precheck import cli, cli_check
imported = time.perf_counter()
parts = {}
def timing(name, function):
    def timed(*args, **kwargs):
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            parts[name] = parts.get(name, 0.0) + time.perf_counter() - began
    return timed
from precheck import cli_session
cli_check.start = timing("start", cli_check.start)
cli_check.follow = timing("follow", cli_check.follow)
cli_check.show_run = timing("show", cli_check.show_run)
cli_check.build_instance = timing("build_instance", cli_check.build_instance)
cli_session.Session.__init__ = timing("session", cli_session.Session.__init__)
cli_session.Session.check_store = timing("check_store", cli_session.Session.check_store)
cli.build_parser = timing("build_parser", cli.build_parser)
def written():  # an exit function: the command, run as the process, ends with them (cli._end_process)
    parts.update(imports=imported - started, main=time.perf_counter() - imported)
    with open(os.environ["BENCH_PARTS"], "w") as handle:
        json.dump(parts, handle)
atexit.register(written)
sys.argv[0] = "precheck"
sys.exit(cli.main())
"""


def _timed_process(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, timeout=120)
    return time.perf_counter() - started, done


def main() -> None:
    from precheck.adapters.odbc import connection_string
    from precheck.adapters.sqlserver import DEFAULT_DRIVER
    from precheck.checks._sql import DATABASES_SQL, VISIBILITY_SQL
    from precheck.demo import DEMO_CATALOG
    from precheck.sqltarget import SqlTarget
    from precheck.testing import Listener

    work = Path(tempfile.mkdtemp(prefix="bench-whole-"))
    password = "Bench-Pa55"
    catalog = json.loads(json.dumps(DEMO_CATALOG))
    catalog["logins"][0]["password"] = password
    emulator = start_emulator(catalog, work)
    oss, control = Listener(backlog=1024), Listener(backlog=1024)
    try:
        target = SqlTarget.at("127.0.0.1", emulator.port, encrypt="off")
        conn = connection_string(target, emulator.port, "backup", password, DEFAULT_DRIVER).text
        minimal_env = {**os.environ, "BENCH_CONN": conn, "BENCH_SQL1": DATABASES_SQL, "BENCH_SQL2": VISIBILITY_SQL,
                       "BENCH_OSS": str(oss.port), "BENCH_CONTROL": str(control.port)}
        arguments = ["check", "--server", f"127.0.0.1,{emulator.port}", "--user", "backup",
                     "--password-env", "BENCH_SQL_PW", "--region", "cn-hangzhou",
                     "--oss-endpoint", f"127.0.0.1:{oss.port}", "--control-endpoint", f"127.0.0.1:{control.port}",
                     "--encrypt", "off", "--json"]
        homes = iter(range(10 ** 6))

        def command_env() -> dict[str, str]:
            home = work / f"home-{next(homes)}"
            return {**os.environ, "BENCH_SQL_PW": password, "PRECHECK_HOME": str(home),
                    "BENCH_PARTS": str(home) + ".parts.json"}

        def whole() -> float:
            took, done = _timed_process([str(BIN / "precheck"), *arguments], command_env())
            view = json.loads(done.stdout)
            assert done.returncode in (0, 1) and view["status"] != "RUNNING", (done.returncode, done.stderr[-500:])
            assert view["progress"] == 100 and all(item["status"] not in ("ERROR", "TIMED_OUT", "PENDING")
                                                   for item in view["items"]), view
            return took

        def minimal() -> float:
            took, done = _timed_process([sys.executable, "-c", MINIMAL], minimal_env)
            assert done.returncode == 0, done.stderr[-500:]
            return took

        def interpreter() -> float:
            return _timed_process([sys.executable, "-c", "pass"], os.environ.copy())[0]

        def wrapped() -> tuple[float, dict[str, float]]:
            env = command_env()
            took, done = _timed_process([sys.executable, "-c", WRAPPED, *arguments], env)
            assert done.returncode in (0, 1), done.stderr[-500:]
            return took, json.loads(Path(env["BENCH_PARTS"]).read_text())

        whole(), minimal(), wrapped()  # warm-up: the page cache, the emulator's first logins
        commands: list[float] = []
        minimals: list[float] = []
        starts: list[float] = []
        wrapped_totals: list[float] = []
        parts: dict[str, list[float]] = {}
        for run in range(RUNS):  # alternated (the order too), so drift on a shared machine hits both alike
            if run % 2:
                minimals.append(minimal())
                commands.append(whole())
            else:
                commands.append(whole())
                minimals.append(minimal())
            starts.append(interpreter())
            took, measured = wrapped()
            wrapped_totals.append(took)
            for name, value in measured.items():
                parts.setdefault(name, []).append(value)
        command_median, minimal_median = median(commands), median(minimals)
        ratio = command_median / minimal_median
        part = {name: median(values) for name, values in parts.items()}
        start_median = median(starts)
        inside = {name: ms(value) for name, value in part.items() if name not in ("imports", "main")}
        inside["other_in_main"] = ms(part["main"] - sum(value for name, value in part.items()
                                                        if name not in ("imports", "main")))
        emit("whole_command", {
            "runs": RUNS,
            "command_median_ms": ms(command_median),
            "minimal_median_ms": ms(minimal_median),
            "ratio": round(ratio, 3),
            "target_ratio": TARGET,
            "met": ratio <= TARGET,
            "command_ms": [ms(value) for value in commands],
            "minimal_ms": [ms(value) for value in minimals],
            "breakdown_ms": {
                "wrapped_command_median": ms(median(wrapped_totals)),
                "interpreter_start": ms(start_median),
                "imports": ms(part["imports"]),
                "run": ms(part["main"]),
                "run_parts": inside,
                "rest": ms(median(wrapped_totals) - start_median - part["imports"] - part["main"]),
            },
        })
    finally:
        emulator.stop()
        oss.close()
        control.close()


if __name__ == "__main__":
    main()
