"""Shared helpers for the benchmarks: each benchmark prints ONE JSON object of figures on stdout."""

from __future__ import annotations

import json
import os
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
