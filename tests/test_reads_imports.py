"""get_last_result imports per route (precheck.reads, issue 16): loading it and reading one run (what
`precheck check` does while its items run, and the console's polling) loads neither the fleet's models
(precheck.history) nor the fix script's modules; the routes that need them load them when asked, and answer
as before (tests/test_history_api.py pins the answers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

#: in a fresh interpreter: a SQLite store, a registered instance, a run of it; then the routes, one by one,
#: each printing the heavy modules loaded so far and its status code
CODE = """
import json, sys, time
from precheck import wiring
from precheck.local import DEFAULT
from precheck.models import Instance, ItemStatus, Outcome, Run
DEFAULT.load("get_last_result")
def loaded():
    return [name for name in ("precheck.history", "precheck.fixscript", "precheck.fixes") if name in sys.modules]
print(json.dumps(["loaded", loaded()]))
store = wiring.deps(None).store
store.save_instance(Instance(instance_id="i-1", region="cn-hangzhou", server="10.0.1.15,1433", user="backup",
                             password_ref="env:SQL_PASSWORD", encrypt="off"))
now = time.time()
run = Run(run_id="1700000000000-00000001", instance_id="i-1", items=["recovery_mode"], created_at=now,
          deadline=now + 12, trigger="api")
store.claim_run(run, None)
store.create_run(run)
store.record_outcome("i-1", run.run_id, Outcome(item="recovery_mode", code="X", status=ItemStatus.PASSED,
                                                message="ok", finished_at=now + 1))
for path in ("/instances/i-1/prechecks/latest", f"/instances/i-1/prechecks/{run.run_id}",
             "/instances/i-1/prechecks", f"/instances/i-1/prechecks/{run.run_id}/fix.sql"):
    print(json.dumps([path, DEFAULT.request("GET", path).statusCode, loaded()]))
"""


def test_reading_a_run_loads_neither_the_history_nor_the_fix_scripts_modules(tmp_path):
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PRECHECK_HOME": str(tmp_path)}, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0] == ["loaded", []]
    assert [line[1] for line in lines[1:]] == [200, 200, 200, 200], lines
    assert lines[1][2] == [] and lines[2][2] == []  # the latest run, one run: answered without them
    assert "precheck.history" in lines[3][2]  # the instance's runs: the fleet's models, now
    assert "precheck.fixscript" in lines[4][2]
