"""Connection strings per driver family and the generated freetds.conf (adapters/odbc.py, freetds_conf.py):
pure functions and files, no server."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading

import pytest

from precheck.adapters import freetds_conf
from precheck.adapters.freetds_conf import FreetdsConf
from precheck.adapters.odbc import FREETDS, MICROSOFT, connection_string, family, freetds_section
from precheck.ports import SqlError
from precheck.sqltarget import ServerName, SqlTarget, parse_server_name

SECRET = "Pa55;w}rd={x}"
DRIVER18 = "ODBC Driver 18 for SQL Server"


def target(server: str = "db.corp", **tls) -> SqlTarget:
    return SqlTarget(parse_server_name(server), **tls)


def test_families_are_told_by_the_driver_name():
    assert family("FreeTDS") == FREETDS and family("/usr/lib/x86_64-linux-gnu/odbc/libtdsodbc.so") == FREETDS
    assert family(DRIVER18) == MICROSOFT and family("ODBC Driver 17 for SQL Server") == MICROSOFT


def test_freetds_without_validation_names_the_server_with_its_port_and_logs_in_to_master():
    """SERVER=host,port (no FreeTDS-only PORT=), DATABASE=master, TDS 7.4, UTF-8, the password last."""
    text = connection_string(target(encrypt="off"), 14330, "backup", SECRET, "FreeTDS").text
    assert text == ("DRIVER={FreeTDS};SERVER={db.corp,14330};Encryption=off;DATABASE=master;UID={backup};"
                    "TDS_Version=7.4;ClientCharset=UTF-8;PWD={Pa55;w}rd={x}};")
    assert "PORT=" not in text.replace("SERVER=", "")


@pytest.mark.parametrize("tls, encryption", [({"encrypt": "request"}, "request"),
                                             ({"encrypt": "require", "trust_server_certificate": True}, "require")])
def test_freetds_without_validation_says_its_encryption_in_the_string(tls, encryption):
    request = connection_string(target(**tls), 1433, "u", "p", "FreeTDS")
    assert f";Encryption={encryption};" in request.text and request.section is None


def test_freetds_validation_goes_through_a_generated_section_without_secrets():
    """require (the default) needs `ca file`, which only freetds.conf takes: the string names a section
    holding host, port, encryption, the system's CAs and the host-name check, and no login or password."""
    request = connection_string(target("db.corp,1500"), 1500, "backup", SECRET, "FreeTDS")
    assert request.section is not None
    name, body = request.section
    assert request.text.startswith(f"DRIVER={{FreeTDS}};Servername={name};DATABASE=master;")
    assert "SERVER=" not in request.text.replace("Servername=", "")
    assert body.split("\n") == ["\thost = db.corp", "\tport = 1500", "\tencryption = require", "\tca file = system",
                                "\tcheck certificate hostname = yes", "\ttds version = 7.4", ""]
    assert "backup" not in body and SECRET not in body


def test_a_ca_file_goes_in_the_section_and_equal_settings_share_one():
    with_ca = freetds_section(target(ca_file="/etc/precheck/ca.pem"), 1433)
    assert "\tca file = /etc/precheck/ca.pem\n" in with_ca[1]
    assert freetds_section(target(ca_file="/etc/precheck/ca.pem"), 1433) == with_ca
    assert freetds_section(target(), 1433)[0] != with_ca[0]


def test_ipv6_is_bare_for_freetds_and_bracketed_for_microsoft():
    """FreeTDS splits SERVER at the comma and resolves the rest (brackets would not resolve)."""
    v6 = target("[fd00::15],1433", encrypt="off")
    assert "SERVER={fd00::15,1433};" in connection_string(v6, 1433, "u", "p", "FreeTDS").text
    assert "SERVER={tcp:[fd00::15],1433};" in connection_string(v6, 1433, "u", "p", DRIVER18).text


def test_a_named_instance_is_reached_at_the_port_the_browser_gave():
    text = connection_string(target("db.corp\\SALES", encrypt="off"), 49172, "u", "p", "FreeTDS").text
    assert "SERVER={db.corp,49172};" in text and "SALES" not in text


def test_freetds_1_3_has_no_strict_and_says_what_to_do():
    with pytest.raises(SqlError) as error:
        connection_string(target(encrypt="strict"), 1433, "u", SECRET, "FreeTDS")
    assert error.value.kind == "config" and "ODBC Driver 18" in error.value.message
    assert SECRET not in error.value.message


@pytest.mark.parametrize("tls, expected", [
    ({}, "Encrypt=yes;TrustServerCertificate=no;"),
    ({"trust_server_certificate": True}, "Encrypt=yes;TrustServerCertificate=yes;"),
    ({"encrypt": "off"}, "Encrypt=no;TrustServerCertificate=yes;"),
    ({"encrypt": "request"}, "Encrypt=no;TrustServerCertificate=yes;"),
    ({"encrypt": "strict"}, "Encrypt=strict;TrustServerCertificate=no;"),
    ({"encrypt": "strict", "ca_file": "/ca.pem"},
     "Encrypt=strict;TrustServerCertificate=no;ServerCertificate={/ca.pem};"),
])
def test_microsoft_keywords(tls, expected):
    """Driver 18's Encrypt and TrustServerCertificate; ServerCertificate only with strict (Driver 18.1+)."""
    text = connection_string(target("db.corp,1500", **tls), 1500, "backup", "p}w", DRIVER18).text
    assert text == (f"DRIVER={{{DRIVER18}}};SERVER={{tcp:db.corp,1500}};DATABASE=master;UID={{backup}};{expected}"
                    "PWD={p}}w};")


@pytest.mark.parametrize("driver, tls, words", [
    (DRIVER18, {"ca_file": "/ca.pem"}, "only with encrypt strict"),
    ("ODBC Driver 17 for SQL Server", {"encrypt": "strict"}, "does not support"),
])
def test_what_microsofts_driver_cannot_do_is_refused_before_connecting(driver, tls, words):
    with pytest.raises(SqlError) as error:
        connection_string(target(**tls), 1433, "u", SECRET, driver)
    assert error.value.kind == "config" and words in error.value.message and SECRET not in error.value.message


@pytest.mark.parametrize("user, password", [("u", "x};DRIVER={Evil}"), ("x};UID={sa", "p"), ("u", "p\x00w")])
def test_freetds_values_that_could_add_attributes_are_refused_without_showing_them(user, password):
    with pytest.raises(SqlError) as error:
        connection_string(target(encrypt="off"), 1433, user, password, "FreeTDS")
    assert error.value.kind == "config"
    assert password not in error.value.message and user not in error.value.message


def test_the_generated_file_keeps_the_operators_text_first_and_only_adds_sections(tmp_path):
    conf = FreetdsConf(tmp_path, "[global]\n\ttds version = 7.4\n")
    conf.ensure("precheck_a", "\thost = a\n")
    conf.ensure("precheck_b", "\thost = b\n")
    conf.ensure("precheck_a", "\thost = a\n")
    text = conf.path.read_text()
    assert text.startswith("[global]\n\ttds version = 7.4\n")
    assert text.count("[precheck_a]") == 1 and text.index("[precheck_a]") < text.index("[precheck_b]")
    assert sorted(os.listdir(tmp_path)) == ["freetds.conf"]  # no staging file left behind


def test_threads_adding_sections_never_let_a_reader_see_a_partial_file(tmp_path):
    """Each version is renamed over the last: a reader (FreeTDS at connect) sees every section handed out
    before it started reading, whatever other threads add meanwhile."""
    conf = FreetdsConf(tmp_path)
    done: list[str] = []
    problems: list[str] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        for i in range(40):
            name = f"precheck_{n}_{i}"
            conf.ensure(name, f"\thost = h{n}-{i}\n")
            done.append(name)

    def reader() -> None:
        while not stop.is_set():
            before = list(done)
            text = conf.path.read_text()
            problems.extend(name for name in before if f"[{name}]" not in text)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    assert problems == []
    assert all(f"[{name}]" in conf.path.read_text() for name in done) and len(done) == 240


def test_the_process_file_is_made_once_and_named_in_freetdsconf():
    first, second = freetds_conf.shared(), freetds_conf.shared()
    assert first is second and os.environ["FREETDSCONF"] == str(first.path)
    assert (first.path.parent.stat().st_mode & 0o777) == 0o700


def test_a_server_name_unfit_for_freetds_conf_is_refused():
    weird = SqlTarget(ServerName(host="db#x"))
    with pytest.raises(SqlError):
        freetds_section(weird, 1433)


def test_the_process_file_is_made_without_importing_tempfile(tmp_path):
    """A fresh process's first connector makes its folder (0700) and file (0600) without tempfile (cold start)."""
    code = ("import os, sys\nfrom precheck.adapters import freetds_conf\n"
            "conf = freetds_conf.shared(export=lambda path: None)\n"
            "print(oct(conf.path.parent.stat().st_mode & 0o777), oct(conf.path.stat().st_mode & 0o777),"
            " conf.path.parent.parent == __import__('pathlib').Path(os.environ['TMPDIR']),"
            " 'tempfile' in sys.modules, sorted(os.listdir(conf.path.parent)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "TMPDIR": str(tmp_path)})
    assert out.stdout.split() == ["0o700", "0o600", "True", "False", "['freetds.conf']"]


def test_a_temporary_directory_that_cannot_hold_the_folder_falls_back_to_tempfiles_choice(tmp_path):
    code = ("import os, tempfile\nfrom precheck.adapters import freetds_conf\n"
            "conf = freetds_conf.shared(export=lambda path: None)\n"
            "print(conf.path.is_file(), conf.path.parent.parent == __import__('pathlib').Path(tempfile.gettempdir()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "TMPDIR": str(tmp_path / "missing")})
    assert out.stdout.split() == ["True", "True"]


def test_a_request_compares_as_a_value_refuses_changes_and_never_shows_its_text():
    made = connection_string(target(encrypt="off"), 1433, "u", SECRET, "FreeTDS")
    again = connection_string(target(encrypt="off"), 1433, "u", SECRET, "FreeTDS")
    assert made == again and hash(made) == hash(again) and made != ("x", None)
    assert SECRET not in repr(made) and "section=None" in repr(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.text = "other"  # type: ignore[misc]
