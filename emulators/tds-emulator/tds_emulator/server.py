"""The socket server: one thread per connection, translating TDS requests into engine calls.

Every socket operation has a short timeout so that ``stop()`` returns promptly, even with silent or
stuck clients. Fault modes (``Catalog.faults``, or ``SqlServerEmulator.faults`` at run time) live here,
because they are wire behaviour.
"""

from __future__ import annotations

import logging
import re
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

from . import protocol as p
from . import rpc, tls
from . import tokens as tk
from .browser import Instance, SqlBrowser
from .catalog import Catalog, Faults
from .engine import Engine, Session
from .procedures import ProcedureOutcome
from .results import SqlError, StatementResult

log = logging.getLogger("tds_emulator")

_PROGRAM = "Microsoft SQL Server"
_INTERNAL_SQL = re.compile(r"^\s*(exec(ute)?\s+)?(\[?(sys|master|dbo)\]?\.+)*\[?sp_datatype_info", re.I)
_TDS_74 = 0x74000004


class _DropConnection(Exception):
    """Raised to close the connection on purpose (drop_mid_result)."""


class SqlServerEmulator:
    """A SQL Server that speaks TDS 7.2-7.4 on a local TCP port, backed by a ``Catalog``.

    ``SqlServerEmulator(catalog, host="127.0.0.1", port=0)``; ``start()``, ``stop()``, or use it as a
    context manager. ``port`` is the bound port once started. ``faults`` may be replaced at run time.
    With the catalog's ``encryption`` other than "not_supported" it speaks TLS (tls.py);
    ``certificate_path`` is then the PEM certificate clients may trust. ``browser_port`` (0: a free one)
    also starts a SQL Server Browser (UDP, browser.py) on ``host`` announcing ``catalog.instance_name``.
    A client that has not finished PRELOGIN, TLS and LOGIN7 within ``login_timeout`` seconds is dropped.
    """

    def __init__(self, catalog: Catalog | dict[str, Any], host: str = "127.0.0.1", port: int = 0,
                 browser_port: int | None = None, login_timeout: float = 30.0):
        self.catalog = catalog if isinstance(catalog, Catalog) else Catalog.from_dict(catalog)
        self.faults: Faults = self.catalog.faults
        self.engine = Engine(self.catalog)
        self.host = host
        self.login_timeout = login_timeout
        self.browser: SqlBrowser | None = None
        self._browser_port = browser_port
        self.tls: tls.ServerTls | None = None
        self._requested_port = port
        self._port: int | None = None
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._accept_thread: threading.Thread | None = None
        self._connections: set[_Connection] = set()
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not started")
        return self._port

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def certificate_path(self) -> Path:
        """The PEM certificate the emulator serves (a CA file for clients that validate it)."""
        if self.tls is None:
            raise RuntimeError("no certificate: the emulator is not started or its encryption is not_supported")
        return Path(self.tls.certificate.cert_file)

    def start(self) -> SqlServerEmulator:
        if self._listener is not None:
            raise RuntimeError("already started")
        if self.catalog.encryption != "not_supported" and self.tls is None:
            self.tls = tls.ServerTls.prepare(self.catalog.certificate, self.host)
        self._stopping.clear()
        listener = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self._requested_port))
        listener.listen(128)
        listener.settimeout(0.1)
        self._listener = listener
        self._port = listener.getsockname()[1]
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"tds-accept-{self._port}",
                                               daemon=True)
        self._accept_thread.start()
        if self._browser_port is not None:
            browser = SqlBrowser(self.host, self._browser_port)
            browser.add(Instance(self.catalog.server_name, self.catalog.instance_name, self.catalog.version,
                                 self._port))
            try:
                self.browser = browser.start()
            except OSError:
                self.stop()
                raise
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._listener is None:
            return
        self._stopping.set()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout)
        self._listener.close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.abort()
        for connection in connections:
            connection.join(timeout)
        self._listener = None
        if self.browser is not None:
            self.browser.stop(timeout)
            self.browser = None
        if self.tls is not None:
            self.tls.close()
            self.tls = None

    def __enter__(self) -> SqlServerEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(self, sock, peer)
            with self._lock:
                self._connections.add(connection)
            connection.start()

    def _forget(self, connection: _Connection) -> None:
        with self._lock:
            self._connections.discard(connection)


class _Connection(threading.Thread):
    def __init__(self, emulator: SqlServerEmulator, sock: socket.socket, peer: Any):
        super().__init__(name=f"tds-conn-{peer}", daemon=True)
        self.emulator = emulator
        self.sock = sock
        self.channel = p.PacketChannel(sock, emulator._stopping)
        self.session: Session | None = None
        self.tds_version = _TDS_74
        self._transaction = 0

    def abort(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def run(self) -> None:
        try:
            self._serve()
        except (p.ConnectionClosed, _DropConnection):
            pass
        except Exception:  # a bug in the emulator must not kill the process
            log.exception("TDS emulator connection failed")
        finally:
            if self.session is not None:
                self.session.close()
            try:
                self.sock.close()
            except OSError:
                pass
            self.emulator._forget(self)

    @property
    def faults(self) -> Faults:
        return self.emulator.faults

    # ---- connection phases -------------------------------------------------------------------------------
    def _serve(self) -> None:
        if self.faults.silent:
            self.channel.discard_until_closed()
        self.channel.deadline = time.monotonic() + self.emulator.login_timeout
        first = tls.pre_login(self.channel, self.sock, self.emulator.catalog, self.emulator.tls)
        self.channel.deadline = None
        if first is None:
            return
        kind, payload = first
        if kind != p.LOGIN7:  # TDS 5.0 login (0x02), SSL, anything else: close
            return
        if not self._login(p.parse_login7(payload)):
            return
        while True:
            kind, payload = self.channel.read_message()
            if kind == p.SQL_BATCH:
                self._on_sql_batch(payload)
            elif kind == p.RPC:
                self._on_rpc(payload)
            elif kind == p.TRANSACTION_MANAGER:
                self._on_transaction(payload)
            elif kind == p.ATTENTION:  # arrived after the answer was complete
                self.channel.send_message(tk.done(tk.DONE_ATTN))
            else:
                self._send_error(SqlError(50000, f"TDS emulator: unsupported packet type 0x{kind:02X}"))

    def _login(self, login7: p.Login7) -> bool:
        server = self.emulator.catalog.server_name
        engine = self.emulator.engine
        if tk.loginack_version(login7.tds_version) is None:
            self.channel.send_message(tk.unsupported_version(login7.tds_version, server))
            return False
        login = None if login7.integrated_security else engine.authenticate(login7.username, login7.password)
        out = bytearray()
        if login is not None:
            try:
                self.session = engine.open_session(login, login7.database or None)
            except SqlError as exc:
                out += tk.message(exc.number, exc.state, exc.severity, exc.message, server)
        if self.session is None:
            out += tk.message(18456, 1, 14, f"Login failed for user '{login7.username}'.", server)
            out += tk.done(tk.DONE_ERROR)
            self.channel.send_message(bytes(out))
            return False
        self.channel.spid = self.session.spid
        self.tds_version = tk.loginack_version(login7.tds_version) or _TDS_74
        requested = login7.packet_size
        packet_size = requested if 512 <= requested <= 32767 else p.DEFAULT_PACKET_SIZE
        out += tk.envchange_text(tk.ENV_DATABASE, self.session.database, "master")
        out += tk.envchange_bytes(tk.ENV_COLLATION, tk.COLLATION, b"")
        out += tk.envchange_text(tk.ENV_LANGUAGE, "us_english", "")
        out += tk.loginack(self.tds_version, _PROGRAM, self.emulator.catalog.version)
        out += tk.envchange_text(tk.ENV_PACKET_SIZE, str(packet_size), str(p.DEFAULT_PACKET_SIZE))
        out += tk.done(tk.DONE_FINAL)
        self.channel.send_message(bytes(out))
        self.channel.packet_size = packet_size
        return True

    # ---- requests ----------------------------------------------------------------------------------------
    def _delay_cancelled(self) -> bool:
        """Apply query_delay_ms; True if the client cancelled (DONE ATTN already sent)."""
        delay = self.faults.query_delay_ms
        if delay > 0 and self.channel.attention_arrived(delay / 1000.0):
            self.channel.send_message(tk.done(tk.DONE_ATTN))
            return True
        return False

    def _on_sql_batch(self, payload: bytes) -> None:
        sql = p.parse_sql_batch(payload)
        internal = bool(_INTERNAL_SQL.match(sql))
        if not internal and self._delay_cancelled():
            return
        assert self.session is not None
        self._answer([(None, self.session.execute(sql))], user_query=not internal)

    def _on_rpc(self, payload: bytes) -> None:
        try:
            calls = rpc.parse_rpc(payload)
        except p.UnsupportedRequest as exc:
            self._send_error(SqlError(50000, f"TDS emulator: {exc}"))
            return
        internal = all(c.name.lower().endswith(("sp_datatype_info_100", "sp_datatype_info")) for c in calls)
        if not internal and self._delay_cancelled():
            return
        assert self.session is not None
        self._answer([(call.name, self.session.call(call.name, call.params)) for call in calls],
                     user_query=not internal)

    def _on_transaction(self, payload: bytes) -> None:
        request = p.parse_transaction_request(payload)
        out = bytearray()
        if request.kind == p.TM_BEGIN_XACT:
            out += self._transaction_change("begin")
        elif request.kind in (p.TM_COMMIT_XACT, p.TM_ROLLBACK_XACT):
            out += self._transaction_change("commit" if request.kind == p.TM_COMMIT_XACT else "rollback")
            if request.begin_after:
                out += self._transaction_change("begin")
        elif request.kind != p.TM_SAVE_XACT:
            self._send_error(SqlError(50000, f"TDS emulator: unsupported transaction request {request.kind}"))
            return
        out += tk.done(tk.DONE_FINAL)
        self.channel.send_message(bytes(out))

    def _transaction_change(self, what: str) -> bytes:
        assert self.session is not None
        if what == "begin":
            self._transaction += 1
            self.session.trancount = max(1, self.session.trancount)
            return tk.envchange_bytes(tk.ENV_BEGIN_TRAN, struct.pack("<Q", self._transaction), b"")
        old = struct.pack("<Q", self._transaction)
        self.session.trancount = 0
        kind = tk.ENV_COMMIT_TRAN if what == "commit" else tk.ENV_ROLLBACK_TRAN
        return tk.envchange_bytes(kind, b"", old)

    def _send_error(self, error: SqlError) -> None:
        server = self.emulator.catalog.server_name
        self.channel.send_message(tk.message(error.number, error.state, error.severity, error.message, server)
                                  + tk.done(tk.DONE_ERROR))

    # ---- answers -----------------------------------------------------------------------------------------
    def _answer(self, calls: list[tuple[str | None, list[StatementResult] | ProcedureOutcome]],
                user_query: bool) -> None:
        """Encode results; ``calls`` holds (procedure name or None for a SQL batch, its results)."""
        writer = p.ResponseWriter(self.channel, check_attention=True)
        try:
            for index, (procedure, results) in enumerate(calls):
                more_calls = index < len(calls) - 1
                self._write_results(writer, procedure, results, more_calls, user_query)
        except p.Cancelled:
            writer.restart()
            writer.write(tk.done(tk.DONE_ATTN))
        writer.finish()

    def _write_results(self, writer: p.ResponseWriter, procedure: str | None,
                       outcome: list[StatementResult] | ProcedureOutcome, more_after: bool, user_query: bool) -> None:
        server = self.emulator.catalog.server_name
        results = outcome.results if isinstance(outcome, ProcedureOutcome) else outcome
        in_proc = procedure is not None
        done_token = tk.DONEINPROC if in_proc else tk.DONE
        failed = False
        for index, result in enumerate(results):
            # SET NOCOUNT ON: "the DONE_COUNT bit is not set" in DONE tokens (MS-TDS 2.2.7.6, DONE; NOCOUNT docs:
            # https://learn.microsoft.com/sql/t-sql/statements/set-nocount-transact-sql); read per statement,
            # since a SET earlier in the same batch applies to the statements after it
            counted = 0 if self.session is not None and self.session.nocount else tk.DONE_COUNT
            last = index == len(results) - 1
            more = tk.DONE_MORE if (in_proc or not last or more_after) else 0
            if result.database_change:
                writer.write(tk.envchange_text(tk.ENV_DATABASE, *result.database_change))
            if result.transaction:
                writer.write(self._transaction_change(result.transaction))
            if result.error is not None:
                error = result.error
                writer.write(tk.message(error.number, error.state, error.severity, error.message, server,
                                        procedure or "", 1))
                failed = True
                if not in_proc:
                    writer.write(tk.done(tk.DONE_ERROR | more))
            elif result.columns is not None:
                self._write_rows(writer, result, user_query)
                writer.write(tk.done(counted | more, result.rowcount or 0, tk.CURCMD_SELECT, done_token))
            else:
                status = (counted if result.rowcount is not None else 0) | more
                writer.write(tk.done(status, result.rowcount or 0, 0, done_token))
        if isinstance(outcome, ProcedureOutcome):
            writer.write(tk.returnstatus(outcome.return_status))
            for ordinal, name, sql_type, value in outcome.outputs:
                writer.write(tk.returnvalue(ordinal, name, sql_type, value))
            status = (tk.DONE_ERROR if failed else 0) | (tk.DONE_MORE if more_after else 0)
            writer.write(tk.done(status, 0, 0, tk.DONEPROC))
        elif not results:
            writer.write(tk.done(tk.DONE_MORE if more_after else tk.DONE_FINAL))

    def _write_rows(self, writer: p.ResponseWriter, result: StatementResult, user_query: bool) -> None:
        assert result.columns is not None
        writer.write(tk.colmetadata([(c.name, c.type) for c in result.columns]))
        encode = tk.row_encoder([c.type for c in result.columns])
        rows = result.rows
        drop_at = self._drop_point(len(rows)) if user_query else None
        if drop_at is None:
            write = writer.write
            for row in rows:
                write(encode(row))
            return
        for row in rows[:drop_at]:
            writer.write(encode(row))
        writer.abandon()
        raise _DropConnection()

    def _drop_point(self, row_count: int) -> int | None:
        drop = self.faults.drop_mid_result
        if drop is True:
            return row_count // 2
        if drop is False or isinstance(drop, bool):
            return None
        return drop if drop < row_count else None
