"""The SQL Server Browser client (adapters/sqlbrowser.py) against UDP responders on loopback: the port of a
named instance, and a clear error for each way it can fail."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from precheck.adapters.sqlbrowser import instance_port, instance_request, parse_response
from precheck.ports import SqlError

LOOPBACK = ("127.0.0.1", 0)


def svr_resp(text: str) -> bytes:
    data = text.encode("ascii")
    return struct.pack("<BH", 0x05, len(data)) + data


SALES = "ServerName;DB1;InstanceName;SALES;IsClustered;No;Version;16.0.1000.6;tcp;49172;;"
HR_PIPES = "ServerName;DB1;InstanceName;HR;IsClustered;No;Version;16.0.1000.6;np;\\\\DB1\\pipe\\MSSQL$HR\\sql\\query;;"


class Responder:
    """A UDP Browser on loopback answering as MC-SQLR says: CLNT_UCAST_INST only for a known instance,
    CLNT_UCAST_EX with every instance; `silent` answers nothing."""

    def __init__(self, records: dict[str, str], silent: bool = False):
        self.records, self.silent = records, silent
        self.requests: list[bytes] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(LOOPBACK)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            self.requests.append(data)
            if self.silent:
                continue
            if data == b"\x03":
                self.sock.sendto(svr_resp("".join(self.records.values())), peer)
            elif data[:1] == b"\x04":
                name = data[1:].rstrip(b"\x00").decode().upper()
                if name in self.records:
                    self.sock.sendto(svr_resp(self.records[name]), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def browser():
    made: list[Responder] = []

    def make(records: dict[str, str], silent: bool = False) -> Responder:
        made.append(Responder(records, silent))
        return made[-1]

    yield make
    for responder in made:
        responder.close()


def ask(port: int, instance: str, timeout: float = 2.0) -> int:
    return instance_port("db1.corp", ("127.0.0.1", 0), socket.AF_INET, instance, timeout, port=port)


def test_the_request_and_the_answer_are_mc_sqlr():
    assert instance_request("SALES") == b"\x04SALES\x00"
    assert parse_response(svr_resp(SALES + HR_PIPES)) == [
        {"servername": "DB1", "instancename": "SALES", "isclustered": "No", "version": "16.0.1000.6", "tcp": "49172"},
        {"servername": "DB1", "instancename": "HR", "isclustered": "No", "version": "16.0.1000.6",
         "np": "\\\\DB1\\pipe\\MSSQL$HR\\sql\\query"}]
    assert parse_response(b"\x05") == [] and parse_response(b"junk") == []


def test_a_named_instance_gets_the_port_the_browser_gives(browser):
    responder = browser({"SALES": SALES})
    assert ask(responder.port, "sales") == 49172
    assert responder.requests == [b"\x04sales\x00"]


def test_an_unknown_instance_is_not_found_naming_those_the_browser_knows(browser):
    """The Browser ignores CLNT_UCAST_INST for an instance it lacks; CLNT_UCAST_EX shows it is there."""
    responder = browser({"SALES": SALES, "HR": HR_PIPES})
    with pytest.raises(SqlError) as error:
        ask(responder.port, "FINANCE")
    assert error.value.kind == "instance"
    assert error.value.message == "instance FINANCE not found on db1.corp: its SQL Server Browser lists SALES, HR"
    assert responder.requests == [b"\x04FINANCE\x00", b"\x03"]


def test_an_instance_without_tcp_says_so(browser):
    responder = browser({"HR": HR_PIPES})
    with pytest.raises(SqlError) as error:
        ask(responder.port, "HR")
    assert error.value.kind == "instance" and "does not listen on TCP" in error.value.message


def test_a_silent_browser_is_told_apart_from_a_missing_instance(browser):
    """No answer to either request: UDP 1434 filtered or the Browser stopped, within the time given."""
    responder = browser({"SALES": SALES}, silent=True)
    with pytest.raises(SqlError) as error:
        ask(responder.port, "SALES", timeout=0.4)
    assert error.value.kind == "browser"
    assert error.value.message.startswith("SQL Server Browser on db1.corp did not answer (UDP")
    assert "blocked or Browser stopped" in error.value.message
    assert len(responder.requests) == 2


def test_a_closed_browser_port_is_a_browser_error():
    """ICMP port unreachable (nothing bound) reaches a connected UDP socket as ECONNREFUSED."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(LOOPBACK)
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(SqlError) as error:
        ask(port, "SALES", timeout=1.0)
    assert error.value.kind == "browser" and "did not answer" in error.value.message
