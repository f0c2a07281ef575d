"""Runs in the formats pipelines read: JSON, JUnit XML (a test case per item, so a CI job can gate on a
precheck) and CSV (a row per item). Plain standard library; used by the command line only."""

from __future__ import annotations

import io
import json
import re
from functools import cache
from typing import Any

from .models import ItemStatus

CSV_FIELDS = ["instance_id", "run_id", "run_status", "item", "status", "duration_ms", "message", "affected",
              "advice"]


def as_json(views: list[dict[str, Any]]) -> str:
    """One run: its view; several: a list of them."""
    return json.dumps(views[0] if len(views) == 1 else views, indent=2, ensure_ascii=False)


def as_csv(views: list[dict[str, Any]]) -> str:
    import csv  # only this format needs it: not imported by `check --json` (cold command, ~0.5 ms)

    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for view in views:
        for item in view["items"]:
            writer.writerow({"instance_id": view["instance_id"], "run_id": view["run_id"],
                             "run_status": view["status"], "item": item["item"], "status": item["status"],
                             "duration_ms": item.get("duration_ms", 0), "message": item.get("message", ""),
                             "affected": len(item.get("affected") or []) + item.get("affected_omitted", 0),
                             "advice": item.get("advice", "")})
    return out.getvalue()


def as_junit(views: list[dict[str, Any]]) -> str:
    """JUnit XML as CI servers read it (Jenkins, GitLab, GitHub actions' reporters): a <testsuite> per run, a
    <testcase> per item; FAILED is a <failure>, ERROR and TIMED_OUT an <error>, SKIPPED <skipped/>, WARNING
    passes with its message in <system-out>. PENDING (a run still going) is an <error> too: not known to pass."""
    import xml.etree.ElementTree as ET  # only JUnit needs it (and its import costs every other format ~6 ms)

    suites = ET.Element("testsuites", name="precheck")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for view in views:
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        suite = ET.SubElement(suites, "testsuite", name=_x(f"precheck {view['instance_id']}"),
                              id=str(view["run_id"]))
        for item in view["items"]:
            counts["tests"] += 1
            seconds = item.get("duration_ms", 0) / 1000
            case = ET.SubElement(suite, "testcase", classname=_x(f"precheck.{view['instance_id']}"),
                                 name=_x(item["item"]), time=f"{seconds:.3f}")
            status = ItemStatus(item["status"])
            text = _details(item)
            message = _x(item.get("message", "")[:500])
            if status is ItemStatus.FAILED:
                counts["failures"] += 1
                ET.SubElement(case, "failure", message=message, type=status.value).text = _x(text)
            elif status in (ItemStatus.ERROR, ItemStatus.TIMED_OUT, ItemStatus.PENDING):
                counts["errors"] += 1
                ET.SubElement(case, "error", message=message, type=status.value).text = _x(text)
            elif status is ItemStatus.SKIPPED:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=message)
            elif status is ItemStatus.WARNING:
                ET.SubElement(case, "system-out").text = _x("WARNING: " + text)
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


#: what XML 1.0 cannot hold (control characters a hostile name may carry) becomes "?": the complement of its
#: Char production (#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]), written as the few
#: ranges it leaves out, which compiles in a tenth of the time the negated class took (3.5 ms, every command)
#: compiled on the first JUnit export, not at import: `precheck check --json` imports this module too (~0.4 ms)
@cache
def _not_xml() -> re.Pattern[str]:
    return re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(text: str) -> str:
    return _not_xml().sub("?", text)


def _details(item: dict[str, Any]) -> str:
    lines = [item.get("message", "")]
    for database in item.get("affected") or []:
        lines.append(f"affected: {database.get('name')}" + (f"  fix: {database['fix']}" if database.get("fix") else ""))
    if item.get("affected_omitted"):
        lines.append(f"and {item['affected_omitted']} more databases (left out for size)")
    if item.get("advice"):
        lines.append(f"advice: {item['advice']}")
    return "\n".join(lines)


def export(views: list[dict[str, Any]], format: str) -> str:
    return {"json": as_json, "junit": as_junit, "csv": as_csv}[format](views)
