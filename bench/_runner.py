"""Runs the benchmarks for `./scripts/bench`: every bench/*.py whose name does not start with "_" (helper modules
do), in name order, or the names given; `--rounds N` runs them all N times in a row.

Each benchmark runs in its own process and prints ONE JSON object with a top-level "met". Round R's output of
benchmark NAME is saved in .bench/R/NAME.json. At the end one summary JSON goes to stdout: the machine, and for
each benchmark its "met" in each round and whether it held in every round. A benchmark that crashes, times out
or prints no JSON object counts as not met (its stderr's tail is in the summary) and the others still run. A
benchmark whose output has no "met" states figures without a target: it shows as null and fails nothing.
Exit status 1 when any target was not met in any round, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import ROOT, machine  # noqa: E402

#: The longest any one benchmark may take by default (huge_instance runs nine processes over 32,767 databases).
TIMEOUT_S = 3600.0
STDERR_TAIL = 2000


def discover(bench_dir: Path) -> list[str]:
    """The benchmarks in `bench_dir`, in a stable (name) order: every NAME.py not starting with "_"."""
    return sorted(path.stem for path in bench_dir.glob("*.py") if not path.name.startswith("_"))


def run_one(script: Path, timeout_s: float) -> dict[str, Any]:
    """Run one benchmark; its JSON object, or {"met": False, "error": ..., "stderr_tail": ...} when it failed."""
    # its own process group, so a benchmark stopped for its time takes its emulators and children with it
    with subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=ROOT, start_new_session=True) as child:
        try:
            stdout, stderr = child.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            stdout, stderr = child.communicate()
            return {"met": False, "error": f"timed out after {timeout_s:g} s", "stderr_tail": stderr[-STDERR_TAIL:]}
    done = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
    tail = done.stderr[-STDERR_TAIL:]
    if done.returncode != 0:
        return {"met": False, "error": f"exit status {done.returncode}", "stderr_tail": tail}
    for line in reversed(done.stdout.strip().splitlines()):
        try:
            figures = json.loads(line)
        except ValueError:
            continue
        if isinstance(figures, dict):
            return figures
    return {"met": False, "error": "printed no JSON object", "stderr_tail": tail}


def run(names: list[str], rounds: int, bench_dir: Path, out_dir: Path, timeout_s: float = TIMEOUT_S,
        echo: Any = None) -> dict[str, Any]:
    """Run `names` `rounds` times; save each output in out_dir/<round>/<name>.json; return the summary.
    out_dir holds this invocation's rounds only: what an earlier invocation saved there is removed first, so a
    single benchmark run after `--rounds 2` never leaves its figures mixed into the pair (scripts/cost.py and
    the README's table read these files as one set)."""
    _clear(out_dir)
    results: dict[str, dict[str, Any]] = {name: {"met": [], "held": True} for name in names}
    for round_no in range(1, rounds + 1):
        folder = out_dir / str(round_no)
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            figures = run_one(bench_dir / f"{name}.py", timeout_s)
            (folder / f"{name}.json").write_text(json.dumps(figures, ensure_ascii=False) + "\n", encoding="utf-8")
            if echo is not None:
                echo(json.dumps(figures, ensure_ascii=False))
            met = figures.get("met")
            entry = results[name]
            entry["met"].append(met)
            if met is not True and met is not None:
                entry["held"] = False
            if "error" in figures:
                entry.setdefault("errors", []).append({"round": round_no, "error": figures["error"],
                                                      "stderr_tail": figures.get("stderr_tail", "")})
    for entry in results.values():
        if all(met is None for met in entry["met"]):
            entry["held"] = None  # figures without a target
    return {"bench": "summary", "machine": machine(), "rounds": rounds, "results": results,
            "all_held": all(entry["held"] is not False for entry in results.values())}


def _clear(out_dir: Path) -> None:
    """Remove the rounds an earlier invocation saved (numbered folders of JSON files, nothing else)."""
    if not out_dir.is_dir():
        return
    for folder in out_dir.iterdir():
        if folder.is_dir() and folder.name.isdigit():
            for saved in folder.glob("*.json"):
                saved.unlink()
            if not any(folder.iterdir()):
                folder.rmdir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: every bench/*.py not starting with _)")
    parser.add_argument("--rounds", type=int, default=1, help="run them all this many times in a row (default 1)")
    parser.add_argument("--bench-dir", type=Path, default=HERE, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / ".bench", help="where each round's JSON goes")
    parser.add_argument("--timeout-s", type=float, default=TIMEOUT_S,
                        help=f"stop a benchmark running longer than this (default {TIMEOUT_S:g}); it counts as not met")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not args.timeout_s > 0:
        parser.error("--timeout-s must be more than 0")
    known = discover(args.bench_dir)
    unknown = [name for name in args.names if name not in known]
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)} (known: {', '.join(known)})")
    summary = run(args.names or known, args.rounds, args.bench_dir, args.out, args.timeout_s, echo=print)
    print(json.dumps(summary, ensure_ascii=False))
    return 0 if summary["all_held"] else 1


if __name__ == "__main__":
    sys.exit(main())
