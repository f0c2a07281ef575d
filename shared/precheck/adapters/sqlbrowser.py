"""The SQL Server Browser (UDP 1434): the TCP port of a named instance, `host\\INSTANCE`, with bounded waits.

Protocol MC-SQLR ([MC-SQLR] SQL Server Resolution Protocol, https://learn.microsoft.com/openspecs/
windows_protocols/mc-sqlr): the client sends CLNT_UCAST_INST (0x04, the instance name, 0x00) and the Browser
answers SVR_RESP (0x05, a 2-byte little-endian length, then records
`ServerName;H;InstanceName;I;IsClustered;No;Version;V;tcp;PORT;;`). A Browser does not answer a request for
an instance it does not have, so silence alone cannot tell "no such instance" from "no Browser": after a
silent wait the client sends CLNT_UCAST_EX (0x03, every instance); an answer to that without the instance
means the instance does not exist, silence means nothing answers on UDP 1434 (blocked, or the Browser is
stopped), and an ICMP "port unreachable" (ECONNREFUSED on a connected UDP socket) means no Browser runs there.
FreeTDS asks the same way (src/tds/net.c, tds7_get_instance_port); asking here gives the check its own
bounded time and a message that says which of these it was.
"""

from __future__ import annotations

import socket
import time

from ..ports import SqlError
from ..sqltarget import BROWSER_PORT

CLNT_UCAST_EX, CLNT_UCAST_INST, SVR_RESP = 0x03, 0x04, 0x05
#: how long each request waits for its answer, at most
MAX_WAIT_S = 1.0


def instance_request(instance: str) -> bytes:
    return bytes([CLNT_UCAST_INST]) + instance.encode("ascii") + b"\x00"


def parse_response(data: bytes) -> list[dict[str, str]]:
    """The instances an SVR_RESP lists, each as its `key;value` pairs (keys lower-cased); [] if not one."""
    if len(data) < 3 or data[0] != SVR_RESP:
        return []
    size = int.from_bytes(data[1:3], "little")
    text = data[3:3 + size].decode("latin-1")
    instances = []
    for record in text.split(";;"):
        tokens = record.split(";")
        if len(tokens) < 2:
            continue
        instances.append({tokens[i].strip().lower(): tokens[i + 1].strip() for i in range(0, len(tokens) - 1, 2)})
    return instances


def _port_of(instances: list[dict[str, str]], instance: str) -> int | None | str:
    """The instance's TCP port; "no-tcp" when listed without one; None when not listed."""
    for record in instances:
        if record.get("instancename", "").lower() == instance.lower():
            port = record.get("tcp", "")
            return int(port) if port.isdigit() and 0 < int(port) < 65536 else "no-tcp"
    return None


def instance_port(host: str, address: tuple, family: int, instance: str, timeout: float,
                  port: int = BROWSER_PORT) -> int:
    """Ask the Browser at `address` (one of `host`'s addresses) for `instance`'s TCP port within `timeout`
    seconds; SqlError kind `browser` (no answer) or `instance` (no such instance, or not on TCP)."""
    wait = max(0.05, min(MAX_WAIT_S, timeout / 4))
    where = f"{host}\\{instance}"
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((address[0], port, *address[2:]))
            listed: list[str] | None = None
            for request in (instance_request(instance), bytes([CLNT_UCAST_EX])):
                sock.send(request)
                answer = _receive(sock, wait)
                if answer is None:
                    continue
                found = _port_of(answer, instance)
                if isinstance(found, int):
                    return found
                if found == "no-tcp":
                    raise SqlError("instance", f"instance {where} does not listen on TCP (the SQL Server Browser lists "
                                               "it without a TCP port)")
                if request[0] == CLNT_UCAST_EX:
                    listed = [record.get("instancename", "?") for record in answer]
        except ConnectionRefusedError:
            raise SqlError("browser", f"SQL Server Browser on {host} did not answer (UDP {port} refused: the Browser "
                                      "is stopped, or nothing listens there)") from None
        except OSError as error:
            raise SqlError("browser", f"SQL Server Browser on {host} could not be asked: "
                                      f"{error.strerror or type(error).__name__}") from None
    if listed is not None:
        raise SqlError("instance", f"instance {instance} not found on {host}: its SQL Server Browser lists "
                                   f"{', '.join(listed) or 'no instance'}")
    raise SqlError("browser", f"SQL Server Browser on {host} did not answer (UDP {port} blocked or Browser stopped)")


def _receive(sock: socket.socket, wait: float) -> list[dict[str, str]] | None:
    """The next SVR_RESP within `wait` seconds (other datagrams are skipped), or None."""
    deadline = time.monotonic() + wait
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            data = sock.recv(65535)
        except TimeoutError:
            return None
        answer = parse_response(data)
        if answer:
            return answer
    return None
