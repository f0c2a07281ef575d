"""SET statements: the session options of https://learn.microsoft.com/sql/t-sql/statements/set-statements-transact-sql.

Clients send them right after login (Node's tedious: fifteen ``set ...`` lines, ``set ansi_nulls on`` to
``set xact_abort off``). An option is accepted when the emulator behaves as the value asks: either it does not
matter to a read-only catalog (locking, isolation, XACT_ABORT, ANSI_PADDING, ...), or the value is the one the
emulator implements (ANSI_NULLS ON, QUOTED_IDENTIFIER ON, CONCAT_NULL_YIELDS_NULL ON, LANGUAGE us_english,
DATEFORMAT mdy, DATEFIRST 7, ROWCOUNT 0, FMTONLY/NOEXEC/PARSEONLY/SHOWPLAN/STATISTICS OFF, ...). Another value
of a real option is refused (40000, "does not support"), never ignored; TEXTSIZE is applied (MAX values a
SELECT returns are cut to it); a name SQL Server does not know is its
error 195 "'X' is not a recognized SET option." (level 15); ``SET @variable`` is 137 (no variable is ever
declared).
"""

from __future__ import annotations

import re

from sqlglot.tokens import Token, TokenType

from .results import SqlError

ANY = None
# ON/OFF options -> the value the emulator implements (ANY: both are the same to it)
_SWITCHES: dict[str, str | None] = {
    "ANSI_NULLS": "ON", "ANSI_NULL_DFLT_ON": ANY, "ANSI_NULL_DFLT_OFF": ANY, "ANSI_PADDING": ANY,
    "ANSI_WARNINGS": ANY, "ARITHABORT": ANY, "ARITHIGNORE": ANY, "CONCAT_NULL_YIELDS_NULL": "ON",
    "CURSOR_CLOSE_ON_COMMIT": ANY, "FMTONLY": "OFF", "FORCEPLAN": ANY, "IMPLICIT_TRANSACTIONS": "OFF",
    "NOCOUNT": ANY, "NOEXEC": "OFF", "NUMERIC_ROUNDABORT": ANY, "PARSEONLY": "OFF", "QUOTED_IDENTIFIER": "ON",
    "REMOTE_PROC_TRANSACTIONS": ANY, "SHOWPLAN_ALL": "OFF", "SHOWPLAN_TEXT": "OFF", "SHOWPLAN_XML": "OFF",
    "XACT_ABORT": ANY, "NO_BROWSETABLE": ANY,
    # ANSI_DEFAULTS ON turns IMPLICIT_TRANSACTIONS on, OFF turns ANSI_NULLS and QUOTED_IDENTIFIER off: neither is
    # implemented
    "ANSI_DEFAULTS": "NEITHER",
}
_STATISTICS = {"IO", "TIME", "XML", "PROFILE"}
# options with a value -> the values the emulator implements (upper case; ANY: every value)
_VALUED: dict[str, set[str] | None] = {
    "DATEFIRST": {"7"}, "DATEFORMAT": {"MDY"}, "LANGUAGE": {"US_ENGLISH", "ENGLISH"}, "LOCK_TIMEOUT": ANY,
    "DEADLOCK_PRIORITY": ANY, "TEXTSIZE": ANY, "ROWCOUNT": {"0"},
    "QUERY_GOVERNOR_COST_LIMIT": ANY, "CONTEXT_INFO": set(), "IDENTITY_INSERT": set(), "OFFSETS": set(),
    "FIPS_FLAGGER": {"OFF"},
}
_ISOLATION_LEVELS = {"READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SNAPSHOT", "SERIALIZABLE"}


def _unsupported(text: str) -> SqlError:
    return SqlError(40000, f"The TDS emulator does not support {' '.join(text.split())}.", 16, 1)


def _syntax(token: Token | None) -> SqlError:
    return SqlError(102, f"Incorrect syntax near '{token.text if token else 'SET'}'.", 15, 1)


def apply(text: str, tokens: list[Token]) -> dict[str, int]:
    """Check one SET statement (``tokens`` starts with SET): the session settings it changes (``textsize``,
    ``nocount``);
    raises SqlError when it is refused."""
    rest = tokens[1:]
    if not rest:
        raise _syntax(tokens[0])
    first = rest[0]
    if first.token_type == TokenType.PARAMETER:  # SET @name = ...
        name = rest[1].text if len(rest) > 1 else ""
        raise SqlError(137, f'Must declare the scalar variable "@{name}".', 15, 2)
    words = [t.text.upper() for t in rest]
    if words[0] == "TRANSACTION":
        level = " ".join(words[3:])
        if words[1:3] != ["ISOLATION", "LEVEL"] or level not in _ISOLATION_LEVELS:
            raise _syntax(rest[min(len(rest) - 1, 3)])
        return {}  # one session at a time reads a catalog nobody writes: every level reads the same
    if words[0] == "STATISTICS":
        names, value = words[1:-1], words[-1]
        if value not in ("ON", "OFF") or not names or any(n not in _STATISTICS | {","} for n in names):
            raise _syntax(rest[-1])
        if value == "ON":
            raise _unsupported(text)
        return {}
    if words[0] in _VALUED:
        allowed = _VALUED[words[0]]
        if len(rest) < 2:
            raise _syntax(first)
        value = "".join(t.text.upper() for t in rest[1:])
        if allowed is not ANY and value not in allowed:
            raise _unsupported(text)
        if words[0] == "TEXTSIZE":
            return {"textsize": _textsize(value, text)}
        return {}
    switch = next((i for i, w in enumerate(words) if w in ("ON", "OFF")), None)
    names = [(w, t) for w, t in zip(words[:switch], rest[:switch]) if w != ","]
    for name, token in names:
        if name not in _SWITCHES:
            raise SqlError(195, f"'{token.text}' is not a recognized SET option.", 15, 5)
    if switch is None or not names:
        raise _syntax(rest[-1])
    if switch + 1 < len(rest):
        raise _syntax(rest[switch + 1])
    changes: dict[str, int] = {}
    for name, _token in names:
        wanted = _SWITCHES[name]
        if wanted is not ANY and wanted != words[switch]:
            raise _unsupported(text)
        if name == "NOCOUNT":  # applied: DONE tokens then carry no row count
            changes["nocount"] = int(words[switch] == "ON")
    return changes


def _textsize(value: str, text: str) -> int:
    """SET TEXTSIZE: the bytes of a (MAX) value a SELECT returns; 0 is the default, 4 KB; -1 and the maximum,
    2147483647, mean no limit (https://learn.microsoft.com/sql/t-sql/statements/set-textsize-transact-sql)."""
    if not re.fullmatch(r"-?\d+", value) or int(value) < -1 or int(value) > 2147483647:
        raise _unsupported(text)
    size = int(value)
    return 4096 if size == 0 else (2147483647 if size == -1 else size)
