"""Advice names where the checks ran: on this machine (the command line, the local API) it speaks of this
machine's network and the precheck process's environment; in FC it keeps the function's VPC, vSwitch and role."""

from __future__ import annotations

import pytest

from precheck import wiring
from precheck.adapters.assistant_ecs import EcsAssistant
from precheck.adapters.assistant_local import LocalAssistant
from precheck.checks import Probes, control_network, oss_connectivity, recovery_mode
from precheck.models import ItemStatus
from precheck.ports import AssistantError, ProbeError, SqlError
from precheck.settings import Settings
from tests import fakes

CLOUD_WORDS = ("security group", "vSwitch", "function's", "check function", "SQL check functions")


def where(local: bool, **parts) -> Probes:
    return fakes.probes(**parts).replace(local=local)


def sql_advice(local: bool, error) -> str:
    probes = where(local, sql=fakes.FakeSql(error=error), secrets=fakes.FakeSecrets())
    verdict = recovery_mode.ITEM.run(fakes.context(probes))
    assert verdict.status is ItemStatus.ERROR
    return verdict.advice


@pytest.mark.parametrize("kind", ["refused", "timeout", "dns", "unreachable", "browser"])
def test_a_connection_failure_on_this_machine_names_its_network_not_a_security_group(kind):
    """Locally: this machine's network and the server's firewall; in FC: the security group and vSwitch."""
    local = sql_advice(True, SqlError(kind, "no"))
    assert "this machine" in local
    assert not any(word in local for word in CLOUD_WORDS), local
    assert any(word in sql_advice(False, SqlError(kind, "no")) for word in ("vSwitch", "function's VPC"))


def test_a_missing_password_on_this_machine_names_the_precheck_process_environment():
    probes = where(True, secrets=fakes.FakeSecrets({}))
    advice = recovery_mode.ITEM.run(fakes.context(probes)).advice
    assert "environment of the precheck process" in advice and "--password-env" in advice
    assert "SQL check functions" not in advice
    cloud = recovery_mode.ITEM.run(fakes.context(where(False, secrets=fakes.FakeSecrets({})))).advice
    assert "an environment variable of the SQL check functions" in cloud


@pytest.mark.parametrize("item", [oss_connectivity.ITEM, control_network.ITEM])
def test_a_network_item_on_this_machine_says_it_probed_from_here(item):
    """The message says this machine's network, the advice its DNS and firewall; FC's wording is unchanged."""
    network = fakes.FakeNetwork(default=ProbeError("refused", ""))
    local = item.run(fakes.context(where(True, network=network)))
    assert local.status is ItemStatus.FAILED
    assert "probed from this machine's network" in local.message
    assert "this machine" in local.advice.lower() and not any(word in local.advice for word in CLOUD_WORDS)
    cloud = item.run(fakes.context(where(False, network=network)))
    assert "probed from the check function's network" in cloud.message
    assert "function's VPC and vSwitch" in cloud.advice or "function's VPC" in cloud.advice


def test_the_local_assistant_failing_gives_bash_advice_not_cloud_assistants():
    class NoBash:
        def run_probe(self, *args, **kwargs):
            raise AssistantError("unsupported", "bash is not installed on this machine")

    base = where(True)
    probes = base.replace(assistant=lambda: NoBash())
    verdict = control_network.ITEM.run(fakes.context(probes, ecs_instance_id="i-bp1local0000001"))
    assert verdict.status is ItemStatus.ERROR and "bash" in verdict.advice and "Cloud Assistant" not in verdict.advice


def test_settings_say_local_unless_fc_runs_the_function():
    """FC sets FC_FUNCTION_NAME in every function instance: there the probes are FC's (Cloud Assistant, cloud
    advice) even with the default in-process invoker, which the check functions keep."""
    assert Settings.from_environ({}).local
    assert not Settings.from_environ({"PRECHECK_INVOKER": "fc"}).local
    in_fc = Settings.from_environ({"FC_FUNCTION_NAME": "check_control_network"})
    assert not in_fc.local
    made = wiring.make_probes(in_fc)
    assert not made.local and made.assistant is not None and isinstance(made.assistant(), EcsAssistant)
    here = wiring.make_probes(Settings.from_environ({}))
    assert here.local and here.assistant is not None and isinstance(here.assistant(), LocalAssistant)
    assert here.for_invocation().local
