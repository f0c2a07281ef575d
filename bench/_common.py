"""Shared helpers for the benchmarks: each benchmark prints ONE JSON object of figures on stdout."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(function: Callable[[], Any], repeat: int) -> list[float]:
    """Wall-clock seconds of each of `repeat` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def emit(name: str, figures: dict[str, Any]) -> None:
    print(json.dumps({"bench": name, **figures}, ensure_ascii=False))


def start_emulator(catalog: dict, workdir: Path) -> Any:
    """The SQL Server emulator in its own process, as a real server would be: not sharing our interpreter.
    Started through its console script, as the demo starts it (`precheck.launch.Child`)."""
    from precheck.launch import Child

    path = workdir / "catalog.json"
    path.write_text(json.dumps(catalog), encoding="utf-8")
    return Child("sqlserver", ["--port", "0", "--catalog", str(path)])


def env_with(**values: str) -> dict[str, str]:
    return {**os.environ, **values}


def machine() -> dict[str, Any]:
    """The machine the figures were measured on, for the README's table: CPU model and count, memory, OS, Python
    version and the date (UTC). Read from /proc on Linux; a field that cannot be read is None."""
    from datetime import datetime, timezone

    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except (OSError, ValueError):
        pass
    return {"cpu_model": model or platform.processor() or None, "cpu_count": os.cpu_count(),
            "memory_gb": memory_gb, "os": platform.platform(), "python": platform.python_version(),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def drain_through_deadline(client: Any, later: Any, clock: Any, timeout_s: float) -> None:
    """Let a run end as in FC: drain the in-process invoker, then play the finalizer delayed to the run's
    deadline (`later`, a manual x-fc-async-delay, on the manual `clock`) if one is due, and drain again."""
    client.drain(timeout_s)
    due = later.next_due()
    if due is not None:
        clock.now = due
        later.play()
        client.drain(timeout_s)
