"""Silent endpoints: `precheck check` against a SQL Server that accepts and never answers, an OSS endpoint that
accepts, and a control endpoint that never completes the handshake (its accept queue full), with an item
limit of 2 s. Measured in a fresh process from the call of the command to its answer (the interpreter's
start-up left out), median of 5. Target (README, "Each item has a hard time limit"): the limit plus about a
second. tests/test_flow.py asserts the statuses and reasons; this is where the time is a figure.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, median  # noqa: E402

LIMIT_S = 2.0
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))

CHILD = r"""
import io, json, sys, time, contextlib
from precheck import cli
args = sys.argv[1:]
out = io.StringIO()
started = time.perf_counter()
with contextlib.redirect_stdout(out):
    code = cli.main(args)
elapsed = time.perf_counter() - started
view = json.loads(out.getvalue())
print(json.dumps({"elapsed_s": elapsed, "code": code,
                  "items": {item["item"]: item["status"] for item in view["items"]}}))
"""


def listening(backlog: int) -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(backlog)
    return sock


def main() -> None:
    silent_sql, oss = listening(16), listening(16)  # accept (the kernel does) and never answer
    full = listening(0)
    filler = socket.create_connection(full.getsockname(), timeout=1)  # the queue is full from now on
    endpoint = "127.0.0.1:{}".format
    args = ["check", "--server", f"127.0.0.1,{silent_sql.getsockname()[1]}", "--user", "backup",
            "--password-env", "BENCH_SQL_PW", "--region", "cn-hangzhou", "--oss-endpoint",
            endpoint(oss.getsockname()[1]), "--control-endpoint", endpoint(full.getsockname()[1]),
            "--timeout", str(LIMIT_S), "--json"]
    runs = []
    try:
        for _ in range(REPEAT):
            home = tempfile.mkdtemp(prefix="bench-silent-")
            env = {**os.environ, "PRECHECK_HOME": home, "BENCH_SQL_PW": "Bench-Pa55"}
            env.pop("PRECHECK_STORE", None)
            out = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, env=env,
                                 timeout=60)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        filler.close()
        for sock in (silent_sql, oss, full):
            sock.close()
    elapsed = [run["elapsed_s"] for run in runs]
    over = median(elapsed) - LIMIT_S
    emit("silent_endpoints", {"item_limit_s": LIMIT_S, "median_s": round(median(elapsed), 3),
                              "max_s": round(max(elapsed), 3), "over_limit_ms": round(over * 1000, 1),
                              "items": runs[-1]["items"], "target_over_limit_ms": 1000, "met": over <= 1.0})


if __name__ == "__main__":
    main()
