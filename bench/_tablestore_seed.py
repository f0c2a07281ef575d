"""A Tablestore emulator seeded with one instance's run history, for the last-result benchmark.

The tables are created and the latest run with its outcomes written through the real store (SDK, wire);
the older history is loaded straight into the emulator's backend (through the SDK it would take minutes).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator


@contextlib.contextmanager
def seeded_tablestore(runs: int) -> Iterator[tuple[object, str]]:
    from precheck.adapters.credentials import Credentials
    from precheck.adapters.tablestore import Connection, TableNames, TablestoreResultStore, create_tables
    from precheck.models import Instance, ItemStatus, Outcome, Run
    from tablestore_emulator import TablestoreEmulator
    from tablestore_emulator.state import CellChange, Condition

    with TablestoreEmulator(access_key_id="bench", access_key_secret="bench-secret", instance="bench") as emu:
        client = Connection(emu.endpoint, "bench", 5.0).client(Credentials("bench", "bench-secret"))
        tables = TableNames()
        create_tables(client, tables)
        store = TablestoreResultStore(client, tables)
        store.save_instance(Instance(instance_id="bench", region="cn-hangzhou", server="127.0.0.1,1",
                                     user="backup", password_ref="env:SQL_PW"))
        items = ["oss_connectivity", "control_network", "recovery_mode", "database_status"]
        body = Run(run_id="0", instance_id="bench", items=items, created_at=0, deadline=0).model_dump()
        for n in range(runs - 1):  # ascending ids: each lands at the end of the emulator's sorted key list
            run_id = f"{1_700_000_000_000 + n * 1000:013d}-{n:08x}"
            value = json.dumps({**body, "run_id": run_id, "created_at": n, "deadline": n + 12})
            emu.backend.put_row(tables.runs, [("instance_id", "bench"), ("run_id", run_id)],
                                [CellChange("run", value=value)], Condition())
        latest = f"{1_700_000_000_000 + (runs - 1) * 1000:013d}-{runs - 1:08x}"
        store.create_run(Run(run_id=latest, instance_id="bench", items=items, created_at=0, deadline=0))
        for item in items:
            store.record_outcome("bench", latest, Outcome(item=item, status=ItemStatus.PASSED, message="ok"))
        yield store, latest
