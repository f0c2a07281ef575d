"""Server names as DBAs write them, and the encryption settings of an instance (precheck.sqltarget, the
Instance model, registration and the command line)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from precheck import cli
from precheck.models import Instance
from precheck.sqltarget import FORMS, ServerName, ServerNameError, SqlTarget, parse_server_name, tls_problem


@pytest.mark.parametrize("text, host, port, instance", [
    ("db.corp", "db.corp", None, None),
    ("  db.corp  ", "db.corp", None, None),
    ("10.0.1.15", "10.0.1.15", None, None),
    ("db.corp,14330", "db.corp", 14330, None),
    ("db.corp , 14330", "db.corp", 14330, None),
    ("tcp:db.corp,14330", "db.corp", 14330, None),
    ("TCP:db.corp", "db.corp", None, None),
    ("db.corp\\SALES", "db.corp", None, "SALES"),
    ("db.corp\\Sales_2$,14330", "db.corp", 14330, "Sales_2$"),
    ("tcp:db.corp\\SALES", "db.corp", None, "SALES"),
    ("[::1],1433", "::1", 1433, None),
    ("[fd00::15]", "fd00::15", None, None),
    ("[fd00::15]\\SALES", "fd00::15", None, "SALES"),
    ("fd00::15", "fd00::15", None, None),
    ("::1,1433", "::1", 1433, None),
    ("SQL-01_prod", "SQL-01_prod", None, None),
])
def test_every_form_dbas_write_is_understood(text, host, port, instance):
    """host, host,port, tcp:host,port, host\\INSTANCE[,port] and IPv6 (bracketed, or bare without a port)."""
    assert parse_server_name(text) == ServerName(host=host, port=port, instance=instance)


def test_the_port_and_the_browser_follow_from_the_form():
    """1433 without a port; a named instance without a port asks the Browser, with one it does not."""
    assert parse_server_name("db").tcp_port == 1433 and not parse_server_name("db").needs_browser
    assert parse_server_name("db\\SALES").needs_browser
    with_port = parse_server_name("db\\SALES,1500")
    assert not with_port.needs_browser and with_port.tcp_port == 1500


@pytest.mark.parametrize("text", ["db.corp", "db.corp,14330", "db.corp\\SALES", "db.corp\\SALES,1", "[::1],1433",
                                  "[fd00::15]\\SALES"])
def test_a_parsed_name_is_written_back_as_dbas_write_it(text):
    assert str(parse_server_name(text)) == text


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("db.corp:1433", "comma"),
    ("db.corp,0", "1 to 65535"),
    ("db.corp,65536", "1 to 65535"),
    ("db.corp,14x", "1 to 65535"),
    ("db.corp,", "1 to 65535"),
    ("np:\\\\db\\pipe\\sql\\query", "local protocol"),
    ("lpc:db", "local protocol"),
    ("(local)", "local protocol"),
    (".\\SQLEXPRESS", "local protocol"),
    ("[::1", "unclosed"),
    ("[db.corp],1433", "not an IPv6 address"),
    ("[::1]x,1433", "unexpected"),
    ("db.corp\\", "instance name"),
    ("db.corp\\9LIVES", "instance name"),
    ("db.corp\\WAY_TOO_LONG_NAME_17", "instance name"),
    ("db.corp\\A\\B", "instance name"),
    ("db.corp\\A;B", "instance name"),
    ("db corp", "not a SQL Server name"),
    ("db.corp;DRIVER={Evil}", "not a SQL Server name"),
    ("db.corp}", "not a SQL Server name"),
    ("db\nDRIVER=x", "control characters"),
    ("-db.corp", "not a SQL Server name"),
    ("a" * 254, "not a SQL Server name"),
])
def test_anything_else_is_refused_naming_the_accepted_forms(text, words):
    """Colon ports, local protocols, bad ports and instance names, ODBC syntax: refused with a reason."""
    with pytest.raises(ServerNameError) as error:
        parse_server_name(text)
    assert words in str(error.value)
    if words in ("not a SQL Server name", "local protocol", "comma"):
        assert FORMS in str(error.value)


def test_an_instance_is_secure_by_default():
    """encrypt require, the certificate validated (no trust, no CA file: the system's CAs)."""
    instance = Instance(instance_id="a", region="cn-hangzhou", server="db\\SALES", user="u", password_ref="env:P")
    target = instance.sql_target()
    assert (target.encrypt, target.trust_server_certificate, target.ca_file) == ("require", False, None)
    assert target.validates_certificate and target.server == ServerName("db", None, "SALES")


@pytest.mark.parametrize("settings, words", [
    ({"encrypt": "sometimes"}, "encrypt"),
    ({"trust_server_certificate": True, "ca_file": "/etc/ca.pem"}, "not both"),
    ({"encrypt": "off", "trust_server_certificate": True}, "apply to encrypt require or strict"),
    ({"encrypt": "request", "ca_file": "/etc/ca.pem"}, "apply to encrypt require or strict"),
    ({"encrypt": "strict", "trust_server_certificate": True}, "strict always validates"),
    ({"ca_file": "ca.pem"}, "absolute path"),
    ({"ca_file": "/etc/ca;x.pem"}, "must not hold"),
    ({"ca_file": "/etc/ca#x.pem"}, "must not hold"),
    ({"ca_file": "/etc/ca\n.pem"}, "must not hold"),
    ({"ca_file": "/etc/ca}.pem"}, "must not hold"),
])
def test_encryption_settings_that_contradict_each_other_are_refused(settings, words):
    """The model refuses what no driver could do as asked, naming why."""
    with pytest.raises(ValidationError) as error:
        Instance(instance_id="a", region="cn-hangzhou", server="db", user="u", password_ref="env:P", **settings)
    assert words in str(error.value)
    problem = tls_problem(settings.get("encrypt", "require"), settings.get("trust_server_certificate", False),
                          settings.get("ca_file"))
    assert problem is not None and words in problem
    with pytest.raises(ValueError):
        SqlTarget(ServerName("db"), **settings)


@pytest.mark.parametrize("fields, words", [
    ({"server": "db.corp:1433"}, "HOST,PORT"),
    ({"server": "db.corp\\BAD-NAME"}, "instance name"),
    ({"server": "db.corp", "encrypt": "require", "trust_server_certificate": True, "ca_file": "/ca.pem"}, "not both"),
])
def test_registration_refuses_a_bad_server_name_or_encryption_with_a_4xx(local_flow, fields, words):
    """POST /instances answers 400 naming the problem, and starts nothing."""
    body = {"instance_id": "x", "region": "cn-hangzhou", "user": "u", "password_ref": "env:P", **fields}
    response = local_flow.http.post("/instances", json=body)
    assert response.status == 400
    assert words in response.json["error"]
    assert local_flow.http.get("/instances/x/prechecks/latest").status == 404


def test_the_command_line_takes_the_encryption_flags():
    """--encrypt, --trust-server-certificate and --ca-file parse; --encrypt takes only the four modes."""
    args = cli.build_parser().parse_args(["check", "--server", "db\\SALES", "--user", "u", "--password-env", "P",
                                          "--region", "cn-hangzhou", "--encrypt", "strict", "--ca-file", "/ca.pem"])
    assert (args.encrypt, args.ca_file, args.trust_server_certificate) == ("strict", "/ca.pem", False)
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["check", "--server", "db", "--user", "u", "--password-env", "P", "--region",
                                       "r", "--encrypt", "maybe"])


def test_the_command_line_refuses_contradicting_flags_before_connecting(monkeypatch, tmp_path, capsys):
    """--trust-server-certificate with --ca-file is a usage error (exit 2) that says why."""
    monkeypatch.setenv("P", "secret-pw")
    monkeypatch.setenv("PRECHECK_HOME", str(tmp_path))
    monkeypatch.delenv("PRECHECK_STORE", raising=False)
    code = cli.main(["check", "--server", "db", "--user", "u", "--password-env", "P", "--region", "cn-hangzhou",
                     "--trust-server-certificate", "--ca-file", "/ca.pem"])
    assert code == 2
    err = capsys.readouterr().err
    assert "not both" in err and "secret-pw" not in err


def test_a_target_built_directly_refuses_contradicting_encryption_with_a_value_error():
    """SqlTarget (written by hand for issue 16) still checks its settings when made, not only through Instance,
    and is a frozen value as the dataclass was."""
    import dataclasses

    with pytest.raises(ValueError, match="not both"):
        SqlTarget(ServerName("db"), trust_server_certificate=True, ca_file="/etc/ca.pem")
    with pytest.raises(ValueError, match="encrypt must be one of"):
        SqlTarget.at("db", 1433, encrypt="sometimes")
    target = SqlTarget.at("db", 1433, encrypt="off")
    assert target == SqlTarget(ServerName("db", 1433), "off")
    assert hash(target) == hash(SqlTarget.at("db", 1433, encrypt="off"))
    assert repr(target.server) == "ServerName(host='db', port=1433, instance=None)" and str(target) == "db,1433"
    with pytest.raises(dataclasses.FrozenInstanceError):
        target.encrypt = "strict"  # type: ignore[misc]
