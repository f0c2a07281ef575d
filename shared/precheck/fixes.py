"""The T-SQL that fixes each finding about a database (`AffectedDatabase.fix`), for a DBA to read and paste.

Names are quoted as QUOTENAME does (`precheck.tsql.quote_name`: `[a]]b]`). Nothing here is destructive:
statements only change a database's recovery model or bring it online; anything that could lose data or end a
restore sequence is written as a commented template with the reason, never as a statement that runs.

A name holding a line break or another control character is never written raw: a client that splits a script
into batches on `GO` lines (sqlcmd, SSMS) could read a line of the name as a separator, and a `--` comment
holding it would end at the break. Such a name is built with NCHAR() in dynamic SQL, so every line of the fix
is what it looks like (`name_literal`). Any other fix that would put a line break inside a quoted name or string
is written only as comments (`guarded`).
"""

from __future__ import annotations

import functools
import hashlib
import re

from .tsql import MAX_SYSNAME, comment, quote_name, quote_string

#: line breaks (`str.splitlines` breaks at each) and the C0/C1 control characters: a set, not a compiled pattern
#: (compiling the class cost each check function that writes a fix ~0.3 ms of its cold start, issue 16)
_UNPRINTABLE = frozenset(map(chr, [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]))

BACKUP_PATH = "<backup path>"


def plain(name: str) -> bool:
    """Whether `name` can be written raw inside brackets (no line break, no control character)."""
    return _UNPRINTABLE.isdisjoint(name)


def name_literal(name: str) -> str:
    """`name` as a T-SQL nvarchar expression with no control character in its text: N'ab' + NCHAR(10) + N'c'."""
    parts: list[str] = []
    literal = ""
    for char in name:
        if char in _UNPRINTABLE:
            if literal:
                parts.append(quote_string(literal))
                literal = ""
            parts.append(f"NCHAR({ord(char)})")
        else:
            literal += char
    if literal or not parts:
        parts.append(quote_string(literal))
    return " + ".join(parts)


def database_statement(name: str, action: str) -> str | None:
    """`ALTER DATABASE [name] <action>;` (`action` without the name, e.g. `SET ONLINE`), or for a name with
    control characters the same statement run as dynamic SQL; None for a name no database can have."""
    return _statement(name, "ALTER DATABASE {} " + action + ";")


def _statement(name: str, template: str) -> str | None:
    """`template` with `{}` the quoted name; dynamic SQL for a name with control characters."""
    if not name or len(name) > MAX_SYSNAME:
        return None
    if plain(name):
        return template.format(quote_name(name))
    variable = "@fix_" + hashlib.sha256((name + "\0" + template).encode("utf-8")).hexdigest()[:12]
    head, tail = template.split("{}", 1)
    expression = f"{quote_string(head)} + QUOTENAME({name_literal(name)}) + {quote_string(tail)}"
    return (f"{comment('this database name holds a line break or control character: the statement is built')}\n"
            f"DECLARE {variable} nvarchar(max) = {expression};\nEXEC ({variable});")


def _shown(name: str) -> str:
    """The name as a comment may show it: quoted, control characters as '?'."""
    if len(name) > MAX_SYSNAME:
        return "(name too long)"
    return quote_name("".join("?" if char in _UNPRINTABLE else char for char in name))


def _commented(name: str, template: str) -> str:
    """A statement as a commented template (`{}` the quoted name); a name with control characters is shown
    with '?' for them and a note, so the comment never ends early."""
    if plain(name):
        return comment(template.format(quote_name(name)))
    return comment(template.format(_shown(name)) + "  (write the name as in the statement above: '?' stands "
                                                   "for a control character)")


def backup_template(name: str) -> str:
    """The full backup that starts the log chain, commented: the path is the DBA's to choose."""
    return _commented(name, "BACKUP DATABASE {} TO DISK = N'" + BACKUP_PATH + "' WITH CHECKSUM;")


def set_recovery_full(name: str, read_only: bool = False) -> str | None:
    """SIMPLE -> FULL, then (commented) the full backup it needs at once: until that backup the log chain does
    not start and log backups fail. A read-only database needs no change (full backups protect it), so its
    statements are all commented, READ_WRITE first since SET RECOVERY is refused while it is read-only."""
    statement = database_statement(name, "SET RECOVERY FULL")
    if statement is None:
        return None
    backup = [comment("then, at once, the full backup that starts the log chain (choose the path):"),
              backup_template(name)]
    if not read_only:
        return "\n".join([statement, *backup])
    return "\n".join([
        comment("READ_ONLY: full backups already protect it completely; to switch it to FULL anyway:"),
        _commented(name, "ALTER DATABASE {} SET READ_WRITE;"),
        _commented(name, "ALTER DATABASE {} SET RECOVERY FULL;"),
        backup_template(name),
        _commented(name, "ALTER DATABASE {} SET READ_ONLY;")])


#: per state of database_status: (statement after ALTER DATABASE [name], or None; comment before it)
_STATE_FIXES: dict[str, tuple[str | None, str]] = {
    "OFFLINE": ("SET ONLINE", "OFFLINE: bring it online (or exclude it from the backup plan)"),
    "RECOVERY_PENDING": ("SET ONLINE", "RECOVERY_PENDING: first fix the cause in the error log (missing or "
                                       "locked files, full disk, permissions), then"),
}
_STATE_NOTES = {
    "RESTORING": ("RESTORING: only once no further backup is to be restored (this ends the restore sequence; "
                  "a log shipping or mirroring secondary stops being one):", "RESTORE DATABASE {} WITH RECOVERY;"),
    "STANDBY": ("STANDBY: a warm standby is a restore target; back up its primary instead. To make this one a "
                "backup source (it stops being a standby):", "RESTORE DATABASE {} WITH RECOVERY;"),
    "RECOVERING": ("RECOVERING: crash recovery is running; wait for it to finish and read the error log.", None),
    "SUSPECT": ("SUSPECT: recovery failed and the database may be damaged: restore it from a good backup, or "
                "examine it with DBCC CHECKDB in EMERGENCY mode (a repair can lose data: never run one unread).",
                None),
    "EMERGENCY": ("EMERGENCY: finish the repair under way, then set it ONLINE.", "ALTER DATABASE {} SET ONLINE;"),
    "COPYING": ("COPYING: a state only Azure SQL Database shows: check that this is the SQL Server meant.", None),
    "OFFLINE_SECONDARY": ("OFFLINE_SECONDARY: a state only Azure SQL Database shows: check that this is the "
                          "SQL Server meant.", None),
}


def state_fix(name: str, label: str) -> str | None:
    """What fixes a database that cannot be backed up because of `label` (database_status's state, STANDBY or
    `SECONDARY <synchronization state>`): a statement where one is safe, else a comment saying what to do."""
    if not name or len(name) > MAX_SYSNAME:
        return None
    if label.startswith("SECONDARY "):
        statement = database_statement(name, "SET HADR RESUME")
        return "\n".join([comment(f"{label}: resume data movement, then fix what stopped it (the error log)"),
                          statement or ""])
    if label in _STATE_FIXES:
        action, note = _STATE_FIXES[label]
        return "\n".join([comment(note), database_statement(name, action) or ""]) if action else comment(note)
    note, template = _STATE_NOTES.get(label, (f"{label}: bring the database ONLINE (see the error log).", None))
    lines = [comment(note)]
    if template is not None:
        lines.append(_commented(name, template))
    return "\n".join(lines)


#: what `str.splitlines` breaks a line at: each could start a line a batch-splitting client reads as `GO`
_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_BREAK_CLASS = "[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]"
_CLOSING = {"[": "]", "'": "'", '"': '"', "/*": "*/"}


@functools.cache
def _marks() -> tuple[re.Pattern[str], re.Pattern[str], dict[str, re.Pattern[str]]]:
    """The patterns `_outside_quotes` jumps with, compiled on first use (a check that writes no fix, the usual
    first invocation, does not pay ~0.7 ms for them): outside any quote, the next comment, block comment or
    opening quote; a line end; inside a quote, its closing mark doubled (still inside; not for */), the mark,
    or a line break."""
    inside = {closing: re.compile(("" if closing == "*/" else re.escape(closing * 2) + "|") + re.escape(closing)
                                  + "|" + _BREAK_CLASS)
              for closing in _CLOSING.values()}
    return re.compile(r"--|/\*|[\['\"]"), re.compile(_BREAK_CLASS), inside


def _outside_quotes(fix: str) -> tuple[bool, str]:
    """(whether every line break of `fix` is outside a quoted name, string or block comment; `fix` with the
    breaks inside those shown as '?'). A break inside one would let a name's own line (`GO`, `DROP ...`) stand
    as a line of the script for sqlcmd or SSMS, which split batches on `GO` lines whatever the quoting.

    It jumps from mark to mark with regular expressions (a fix is a few hundred characters, and an item may
    write one for each of 32,767 databases), reading exactly as a scan character by character would."""
    opening, line_end, inside = _marks()
    shown: list[str] = []
    closing, safe, i = "", True, 0
    while i < len(fix):
        if not closing:
            found = opening.search(fix, i)
            if found is None:
                shown.append(fix[i:])
                break
            shown.append(fix[i:found.start()])
            mark = found.group()
            if mark == "--":  # a comment runs to the end of its line (tsql.comment keeps it one line)
                end = line_end.search(fix, found.start())
                stop = end.start() if end else len(fix)
                shown.append(fix[found.start():stop])
                i = stop
                continue
            closing = _CLOSING[mark]
            shown.append(mark)
            i = found.end()
            continue
        found = inside[closing].search(fix, i)
        if found is None:
            shown.append(fix[i:])
            break
        shown.append(fix[i:found.start()])
        mark = found.group()
        if mark in _BREAKS:
            safe = False
            shown.append("?")
        elif mark != closing:  # doubled: still inside
            shown.append(mark)
        else:
            shown.append(mark)
            closing = ""
        i = found.end()
    return safe and not closing, "".join(shown)


def guarded(fix: str) -> str:
    """`fix` as it is when no line break is inside a quoted name or string; else only as comments, with the
    break shown as '?', for the DBA to write by hand (a name holding a line break is built with NCHAR())."""
    safe, shown = _outside_quotes(fix)
    if safe:
        return fix
    return "\n".join([comment("NOT RUNNABLE AS WRITTEN: a name in this fix holds a line break (shown as '?'); a "
                               "client splitting batches on GO lines could run a line of it. Write it by hand, "
                               "building the name with NCHAR() (name_literal):"),
                      *(comment(line) for line in shown.splitlines() if line.strip())])
