"""The start's fan-out: threads only where an invocation waits on FC's Invoke API (wiring.build)."""

from __future__ import annotations

from precheck import wiring
from precheck.settings import Settings


def test_in_process_invoker_is_fanned_out_without_threads(tmp_path):
    # its invoke_async only queues the item on the invoker's own pool, where the items run concurrently
    deps = wiring.build(Settings.from_environ({"PRECHECK_HOME": str(tmp_path)}))
    assert deps.fanout_workers == 1


def test_fc_invoker_keeps_its_fan_out_threads(tmp_path):
    settings = Settings.from_environ({"PRECHECK_HOME": str(tmp_path)}).with_(invoker="fc")
    assert wiring.build(settings).fanout_workers == 16
