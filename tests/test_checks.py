"""The four check items' logic, through fake probes (no network, no driver)."""

from __future__ import annotations

import pytest

from precheck import checks
from precheck.checks import control_network, database_status, oss_connectivity, recovery_mode
from precheck.models import ItemStatus
from precheck.ports import Connected, ProbeError, SqlError
from tests.fakes import (
    NO_VIEW_ANY,
    SYSADMIN,
    VIEW_ANY_ONLY,
    FakeNetwork,
    FakeOss,
    FakeSecrets,
    FakeSession,
    FakeSql,
    context,
    probes,
)

CATALOG = [
    ("master", "ONLINE", "SIMPLE"),
    ("tempdb", "ONLINE", "SIMPLE"),
    ("model", "ONLINE", "FULL"),
    ("msdb", "ONLINE", "SIMPLE"),
    ("sales", "ONLINE", "FULL"),
    ("reporting", "ONLINE", "SIMPLE"),
    ("staging", "ONLINE", "BULK_LOGGED"),
    ("archive", "OFFLINE", "SIMPLE"),
    ("payroll", "RECOVERY_PENDING", "FULL"),
]


def sql_probes(databases=CATALOG, rights=SYSADMIN):
    return probes(sql=FakeSql(FakeSession(list(databases), rights)))


def test_registry_discovers_the_items_in_report_order():
    """Check items are discovered from the package: HBR's four first, in HBR's order, each with its HBR code;
    every item (issue 15 adds more) has a code, a place and a name of its own."""
    found = checks.all_items()
    assert [(item.name, item.code) for item in found[:4]] == [
        ("oss_connectivity", "OSS_INTERNAL_ENDPOINT_CONNECTIVITY"),
        ("control_network", "SERVICE_CONNECTIVITY"),
        ("recovery_mode", "SQL_SERVER_DB_IN_SIMPLE_RECOVERY_MODE"),
        ("database_status", "SQL_SERVER_DB_NOT_ONLINE"),
    ]
    for attribute in ("name", "code", "order"):
        assert len({getattr(item, attribute) for item in found}) == len(found), attribute
    assert [item.order for item in found] == sorted(item.order for item in found)
    assert found[0].function_name == "check_oss_connectivity"


# --- recovery_mode --------------------------------------------------------------------------------------


def test_recovery_mode_names_user_databases_in_simple_and_skips_system_ones():
    """Only user databases in SIMPLE recovery are flagged; master, model, msdb and tempdb never are."""
    verdict = recovery_mode.run(context(sql_probes()))
    assert verdict.status is ItemStatus.WARNING
    assert sorted(db.name for db in verdict.affected) == ["archive", "reporting"]
    assert all(db.recovery_model == "SIMPLE" for db in verdict.affected)
    assert "SET RECOVERY FULL" in verdict.advice and "full backup" in verdict.advice


def test_recovery_mode_passes_when_only_system_databases_are_simple():
    """An instance whose user databases are FULL or BULK_LOGGED passes."""
    verdict = recovery_mode.run(context(sql_probes([db for db in CATALOG if db[0] not in ("reporting", "archive")])))
    assert verdict.status is ItemStatus.PASSED
    assert verdict.affected == []


def test_recovery_mode_warns_that_a_login_without_view_any_database_may_miss_databases():
    """Without VIEW ANY DATABASE the result may be incomplete, and the item says so."""
    verdict = recovery_mode.run(context(sql_probes([("master", "ONLINE", "SIMPLE")], rights=NO_VIEW_ANY)))
    assert verdict.status is ItemStatus.WARNING
    assert "VIEW ANY DATABASE" in verdict.message and "incomplete" in verdict.message
    assert "databases it does not own" in verdict.message and "OFFLINE databases" in verdict.message
    assert "GRANT VIEW ANY DATABASE TO [backup]; GRANT CREATE ANY DATABASE TO [backup];" in verdict.advice


def test_database_status_never_passes_for_a_login_that_cannot_see_offline_databases():
    """VIEW ANY DATABASE alone hides OFFLINE rows: a clean result is a WARNING naming the missing permission,
    the least-privilege GRANT (login quoted as QUOTENAME does) and why CREATE ANY DATABASE; details say
    what the login holds."""
    online = [db for db in CATALOG if db[1] == "ONLINE"]
    verdict = database_status.run(context(sql_probes(online, rights=VIEW_ANY_ONLY), user="ops]team"))
    assert verdict.status is ItemStatus.WARNING
    assert verdict.message == (
        "every visible database is ONLINE, but login 'ops]team' lacks CREATE ANY DATABASE (or ALTER ANY "
        "DATABASE, or CREATE DATABASE in master), so sys.databases hides OFFLINE databases from it and the "
        "result may be incomplete")
    assert "GRANT CREATE ANY DATABASE TO [ops]]team];" in verdict.advice
    assert "GRANT VIEW ANY DATABASE" not in verdict.advice
    assert "least permission that makes OFFLINE databases visible" in verdict.advice
    assert verdict.details["complete"] is False
    assert verdict.details["login_permissions"] == {"sysadmin": False, "view_any_database": True,
                                                    "alter_any_database": False,
                                                    "create_database_in_master": False}


@pytest.mark.parametrize("rights", [
    SYSADMIN,
    {"is_sysadmin": 0, "view_any_database": 1, "alter_any_database": 0, "create_database": 1},
    {"is_sysadmin": 0, "view_any_database": 1, "alter_any_database": 1, "create_database": 1},
], ids=["sysadmin", "view-any+create-database", "view-any+alter-any"])
def test_a_login_that_sees_every_database_passes(rights):
    """sysadmin, or VIEW ANY DATABASE with CREATE DATABASE in master (or ALTER ANY DATABASE): complete."""
    online = [db for db in CATALOG if db[1] == "ONLINE"]
    verdict = database_status.run(context(sql_probes(online, rights=rights)))
    assert verdict.status is ItemStatus.PASSED and verdict.details["complete"] is True


def test_a_finding_by_a_login_missing_view_any_database_still_says_the_result_may_be_incomplete():
    """A finding keeps its status, and adds what is hidden and the GRANT."""
    rights = {"is_sysadmin": 0, "view_any_database": 0, "alter_any_database": 0, "create_database": 1}
    verdict = database_status.run(context(sql_probes(rights=rights)))
    assert verdict.status is ItemStatus.FAILED
    assert "lacks VIEW ANY DATABASE, so sys.databases hides databases it does not own" in verdict.message
    assert "GRANT VIEW ANY DATABASE TO [backup];" in verdict.advice and "CREATE ANY" not in verdict.advice


def test_sql_items_log_in_with_the_resolved_password_and_close_the_session():
    """The password comes from the instance's password_ref, and the session is closed after reading."""
    session = FakeSession(list(CATALOG))
    sql = FakeSql(session)
    recovery_mode.run(context(probes(sql=sql)))
    assert sql.logins == [("backup", "s3cret-Pa55")]
    assert session.closed


# --- database_status ------------------------------------------------------------------------------------


def test_database_status_names_every_database_not_online_with_its_state():
    """Databases not ONLINE fail the item, each named with its state, with advice per state."""
    verdict = database_status.run(context(sql_probes()))
    assert verdict.status is ItemStatus.FAILED
    assert {(db.name, db.state) for db in verdict.affected} == {("archive", "OFFLINE"),
                                                                ("payroll", "RECOVERY_PENDING")}
    assert "OFFLINE" in verdict.message and "RECOVERY_PENDING" in verdict.message
    assert "SET ONLINE" in verdict.advice and "RECOVERY_PENDING:" in verdict.advice


@pytest.mark.parametrize("state", ["OFFLINE", "RESTORING", "RECOVERING", "RECOVERY_PENDING", "SUSPECT", "EMERGENCY"])
def test_database_status_fails_for_each_non_online_state(state):
    """Every state other than ONLINE makes the item FAILED and gets its own advice."""
    verdict = database_status.run(context(sql_probes([("master", "ONLINE", "SIMPLE"), ("db1", state, "FULL")])))
    assert verdict.status is ItemStatus.FAILED
    assert [(db.name, db.state) for db in verdict.affected] == [("db1", state)]
    assert verdict.advice.startswith(f"{state}:")


def test_database_status_passes_when_all_are_online():
    """An instance whose databases are all ONLINE passes and says how many it saw."""
    verdict = database_status.run(context(sql_probes([("master", "ONLINE", "SIMPLE"), ("a", "ONLINE", "FULL")])))
    assert verdict.status is ItemStatus.PASSED
    assert "all 2 databases are ONLINE" == verdict.message


def test_sql_item_reports_login_failure_as_error_without_the_password():
    """A failed login is ERROR, names the user, and never carries the password."""
    sql = FakeSql(error=SqlError("login", "login failed for user 'backup'"))
    verdict = database_status.run(context(probes(sql=sql)))
    assert verdict.status is ItemStatus.ERROR
    assert "login failed for user 'backup'" in verdict.message
    assert "s3cret-Pa55" not in verdict.message + verdict.advice + str(verdict.details)


def test_sql_item_reports_an_unset_password_variable_as_error():
    """A password_ref whose variable is not set is an ERROR that names the variable, not a crash."""
    verdict = recovery_mode.run(context(probes(secrets=FakeSecrets({}))))
    assert verdict.status is ItemStatus.ERROR
    assert "SQL_PASSWORD is not set" in verdict.message


# --- network items ---------------------------------------------------------------------------------------


def test_control_network_passes_with_the_measured_connect_time():
    """A reachable control endpoint passes and the outcome carries the connect time."""
    network = FakeNetwork(default=Connected("100.100.1.1:443", 12.34))
    verdict = control_network.run(context(probes(network=network)))
    assert verdict.status is ItemStatus.PASSED
    assert verdict.details["connect_ms"] == 12.3
    assert network.calls[0][0] == "hbr-vpc.cn-hangzhou.aliyuncs.com:443"


def test_control_network_endpoint_is_overridable():
    """The control endpoint can be overridden as host:port."""
    network = FakeNetwork()
    control_network.run(context(probes(network=network), control_endpoint="10.0.0.9:8443"))
    assert network.calls[0][0] == "10.0.0.9:8443"


@pytest.mark.parametrize("kind, words", [
    ("dns", "cannot resolve"),
    ("refused", "refused the connection"),
    ("timeout", "did not accept a connection within the time limit"),
    ("unreachable", "no route to"),
])
def test_network_items_tell_failure_kinds_apart(kind, words):
    """DNS failure, refusal, timeout and no route each get their own words, and FAILED."""
    network = FakeNetwork(default=ProbeError(kind, ""))
    for item in (oss_connectivity, control_network):
        verdict = item.run(context(probes(network=network)))
        assert verdict.status is ItemStatus.FAILED
        assert words in verdict.message
        assert verdict.details["reason"] == kind


def test_oss_uses_the_internal_endpoint_of_the_region():
    """Without an override the OSS item probes oss-<region>-internal.aliyuncs.com:443."""
    network = FakeNetwork()
    verdict = oss_connectivity.run(context(probes(network=network), region="cn-shanghai"))
    assert network.calls[0][0] == "oss-cn-shanghai-internal.aliyuncs.com:443"
    assert verdict.status is ItemStatus.PASSED
    assert "bucket access not checked" in verdict.message


def test_oss_reads_the_named_bucket_info():
    """With a bucket named, the item also reads the bucket's info through the same endpoint."""
    oss = FakeOss()
    verdict = oss_connectivity.run(context(probes(oss=oss), bucket="erp-backups"))
    assert verdict.status is ItemStatus.PASSED
    assert oss.calls == [("oss-cn-hangzhou-internal.aliyuncs.com:443", "erp-backups")]
    assert verdict.details["bucket"] == {"location": "oss-cn-hangzhou", "storage_class": "Standard"}


@pytest.mark.parametrize("kind, words", [
    ("access_denied", "access denied to bucket erp-backups"),
    ("no_such_bucket", "bucket erp-backups does not exist"),
    ("tls", "TLS handshake"),
])
def test_oss_bucket_failures_are_told_apart(kind, words):
    """Access denied, no such bucket and TLS failure each get their own words, and FAILED."""
    verdict = oss_connectivity.run(context(probes(oss=FakeOss(ProbeError(kind, ""))), bucket="erp-backups"))
    assert verdict.status is ItemStatus.FAILED
    assert words in verdict.message


def test_a_connection_is_a_value_shown_as_the_dataclass_was_and_refuses_changes():
    import dataclasses

    made = Connected("100.100.1.1:443", 3.5)
    assert made == Connected(address="100.100.1.1:443", connect_ms=3.5) and made != Connected("x:1", 3.5)
    assert hash(made) == hash(Connected("100.100.1.1:443", 3.5)) and made != ("100.100.1.1:443", 3.5)
    assert repr(made) == "Connected(address='100.100.1.1:443', connect_ms=3.5)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.connect_ms = 1.0  # type: ignore[misc]


def test_a_verdict_is_a_value_whose_default_list_and_dict_are_its_own():
    """Written by hand (issue 16) as the dataclass was: each verdict a new list and dict, == and repr by field."""
    first, second = checks.Verdict(ItemStatus.PASSED, "ok"), checks.Verdict(ItemStatus.PASSED, "ok")
    first.affected.append("x")  # type: ignore[arg-type]
    first.details["k"] = 1
    assert second.affected == [] and second.details == {} and first != second
    assert checks.Verdict(ItemStatus.FAILED, "m", [], "a", {}) == checks.Verdict(ItemStatus.FAILED, "m", advice="a")
    assert repr(second) == ("Verdict(status=<ItemStatus.PASSED: 'PASSED'>, message='ok', affected=[], advice='', "
                            "details={})")


def test_probes_and_a_context_are_replaced_field_by_field_and_probes_refuse_changes():
    """replace() makes a new value through the constructor (an unknown field is a TypeError) and leaves the old one."""
    import dataclasses

    base = probes()
    local = base.replace(local=True)
    assert local.local and not base.local and local.sql is base.sql and local != base
    assert base.for_invocation().network is base.network
    with pytest.raises(TypeError):
        base.replace(nothing=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.local = True  # type: ignore[misc]
    ctx = context(base)
    moved = ctx.replace(probes=local)
    assert moved.probes is local and ctx.probes is base and moved.instance is ctx.instance
    assert (moved.started, moved.time_limit, moved.margin) == (ctx.started, ctx.time_limit, ctx.margin)
