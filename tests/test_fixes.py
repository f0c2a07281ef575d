"""Fix statements (issue 14, point 2): each finding about a database carries the T-SQL that fixes it, names
quoted as QUOTENAME does, nothing destructive, and outcomes carrying them still fit a destination event."""

from __future__ import annotations

import json
import re

from precheck import fixes
from precheck.checks import CheckItem, Verdict, database_status, recovery_mode
from precheck.models import AffectedDatabase, ItemStatus
from precheck.runner import DESTINATION_LIMIT_BYTES, DESTINATION_MARGIN_BYTES, run_check
from tests.fakes import SYSADMIN, FakeSession, FakeSql, context, probes
from tests.test_destinations import HOSTILE, event_size, hostile_request

#: a name with everything that could end a bracket, a string, a line or a comment early
HOSTILE_NAME = "a]b'c\nGO\nDROP DATABASE x --/*d*/"
DESTRUCTIVE = re.compile(r"^\s*(DROP|DELETE|TRUNCATE|DBCC|RESTORE|ALTER\s+DATABASE\s+\S+\s+SET\s+(EMERGENCY|OFFLINE|"
                         r"SINGLE_USER))\b", re.IGNORECASE | re.MULTILINE)


def executable_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("--")]


def test_a_plain_name_is_one_statement_then_the_commented_full_backup():
    """SIMPLE -> FULL is one ALTER DATABASE with the name bracketed, ']' doubled, followed by the full backup as
    a commented template whose path is left to the DBA."""
    fix = fixes.set_recovery_full("sales]2024")
    assert fix.splitlines()[0] == "ALTER DATABASE [sales]]2024] SET RECOVERY FULL;"
    assert executable_lines(fix) == ["ALTER DATABASE [sales]]2024] SET RECOVERY FULL;"]
    assert "-- BACKUP DATABASE [sales]]2024] TO DISK = N'<backup path>' WITH CHECKSUM;" in fix.splitlines()


def test_a_hostile_name_never_appears_raw_and_no_line_runs_what_it_does_not_show():
    """A name with ], ', a line break, GO, -- and /* is built with NCHAR in dynamic SQL: every executable line is
    a DECLARE or EXEC of the fix, and every line break in the script is one the script itself put there."""
    fix = fixes.set_recovery_full(HOSTILE_NAME)
    lines = executable_lines(fix)
    assert len(lines) == 2 and lines[0].startswith("DECLARE @fix_") and lines[1].startswith("EXEC (@fix_")
    assert "N'a]b''c' + NCHAR(10) + N'GO' + NCHAR(10) + N'DROP DATABASE x --/*d*/'" in lines[0]
    assert "QUOTENAME(" in lines[0] and "N'ALTER DATABASE ' + QUOTENAME(" in lines[0]
    assert not any(line.strip() == "GO" for line in fix.splitlines())
    comments = [line for line in fix.splitlines() if line.lstrip().startswith("--")]
    assert all("\n" not in line for line in comments) and len(comments) + 2 == len(fix.splitlines())


def test_the_dynamic_statement_builds_exactly_the_quoted_name():
    """Evaluating the name expression as T-SQL would (N'..' literals, NCHAR) gives the name back."""
    expression = fixes.name_literal(HOSTILE_NAME)
    parts = re.findall(r"N'((?:[^']|'')*)'|NCHAR\((\d+)\)", expression)
    rebuilt = "".join(text.replace("''", "'") if not code else chr(int(code)) for text, code in parts)
    assert rebuilt == HOSTILE_NAME


def test_database_status_fixes_are_statements_only_where_safe():
    """OFFLINE and RECOVERY_PENDING get SET ONLINE, a stopped secondary SET HADR RESUME; RESTORING, STANDBY,
    SUSPECT and the rest are comments only: nothing that ends a restore or repairs runs."""
    assert executable_lines(fixes.state_fix("x", "OFFLINE")) == ["ALTER DATABASE [x] SET ONLINE;"]
    assert executable_lines(fixes.state_fix("x", "RECOVERY_PENDING")) == ["ALTER DATABASE [x] SET ONLINE;"]
    assert executable_lines(fixes.state_fix("x", "SECONDARY NOT SYNCHRONIZING")) == [
        "ALTER DATABASE [x] SET HADR RESUME;"]
    for label in ("RESTORING", "STANDBY", "SUSPECT", "RECOVERING", "EMERGENCY", "COPYING", "WHATEVER"):
        fix = fixes.state_fix("x", label)
        assert executable_lines(fix) == [], label
        assert fix.startswith(f"-- {label}"), label
    assert "-- RESTORE DATABASE [x] WITH RECOVERY;" in fixes.state_fix("x", "RESTORING")


def test_no_fix_is_destructive_for_any_state_or_name():
    """Whatever the state and the name, no executable line drops, deletes, repairs or restores."""
    for name in ("x", HOSTILE_NAME, *HOSTILE.values()):
        texts = [fixes.set_recovery_full(name), fixes.set_recovery_full(name, read_only=True)]
        texts += [fixes.state_fix(name, label) for label in (*fixes._STATE_FIXES, *fixes._STATE_NOTES, "SECONDARY X")]
        for text in texts:
            assert text is not None
            assert not DESTRUCTIVE.search("\n".join(executable_lines(text))), (name, text)


def test_a_read_only_database_gets_only_commented_statements():
    """Full backups protect a read-only database; switching it is left commented, READ_WRITE first."""
    fix = fixes.set_recovery_full("ro", read_only=True)
    assert executable_lines(fix) == []
    assert fix.index("SET READ_WRITE") < fix.index("SET RECOVERY FULL") < fix.index("BACKUP DATABASE")


def test_a_name_longer_than_sysname_has_no_fix():
    """QUOTENAME returns NULL past 128 characters: no statement is made up for such a name."""
    assert fixes.set_recovery_full("x" * 129) is None
    assert fixes.state_fix("x" * 129, "OFFLINE") is None


def test_the_checks_attach_the_fix_of_each_affected_database():
    """recovery_mode and database_status put each database's fix on it, quoted."""
    session = FakeSession([("a]b", "ONLINE", "SIMPLE"), ("off", "OFFLINE", "FULL")], SYSADMIN)
    ctx = context(probes(sql=FakeSql(session)))
    simple = recovery_mode.run(ctx)
    assert [db.fix.splitlines()[0] for db in simple.affected] == ["ALTER DATABASE [a]]b] SET RECOVERY FULL;"]
    offline = database_status.run(context(probes(sql=FakeSql(session))))
    assert [executable_lines(db.fix) for db in offline.affected] == [["ALTER DATABASE [off] SET ONLINE;"]]


def test_the_worst_destination_event_with_fix_statements_keeps_its_margin():
    """5,000 affected databases of each hostile kind of name, each with its fix statement (control characters
    as NCHAR dynamic SQL, the longest): every destination event stays under the limit minus the margin."""
    request, figures = hostile_request(), {}
    for kind, name in HOSTILE.items():
        names = [f"{n:04d}{name}"[:128] for n in range(5000)]
        affected = [AffectedDatabase(name=n, state="SIMPLE", fix=fixes.set_recovery_full(n)) for n in names]
        verdict = Verdict(ItemStatus.WARNING, name * 40, advice=name * 80, details={"reason": name}, affected=affected)
        item = CheckItem("recovery_mode", "CODE", "hostile", 99, lambda ctx, verdict=verdict: verdict)
        outcome = run_check(item, request, probes())
        size = event_size(request, outcome.model_dump_json())
        figures[kind] = {"event_bytes": size, "listed": len(outcome.affected), "omitted": outcome.affected_omitted,
                         "longest_fix": max(len(db.fix or "") for db in affected)}
        assert len(outcome.affected) + outcome.affected_omitted == 5000
        assert all(db.fix for db in outcome.affected)
        assert size <= DESTINATION_LIMIT_BYTES - DESTINATION_MARGIN_BYTES, kind
    print(json.dumps({"worst_event_bytes_with_fixes": max(value["event_bytes"] for value in figures.values()),
                      "limit_minus_margin": DESTINATION_LIMIT_BYTES - DESTINATION_MARGIN_BYTES,
                      "by_name_kind": figures}))


def test_the_unprintable_set_is_the_class_it_replaced():
    """fixes tells unprintable characters by a set (no pattern compiled on a cold start): exactly the C0 and C1
    controls, DEL and the two Unicode line separators, as the character class `[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]`
    it replaced; every other character of the first planes is printable."""
    import re

    from precheck import fixes

    pattern = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
    for code in range(0x3000):
        char = chr(code)
        assert fixes.plain(f"a{char}b") is (pattern.search(char) is None), hex(code)
    assert fixes.name_literal("a\nb\u2028") == "N'a' + NCHAR(10) + N'b' + NCHAR(8232)"
