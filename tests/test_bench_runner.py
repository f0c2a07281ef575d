"""scripts/bench's logic (bench/_runner.py) on a temporary bench folder of tiny fake benchmarks."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import _runner  # noqa: E402

FAKES = {
    "b_met": 'import json; print("noise"); print(json.dumps({"bench": "b_met", "met": True, "x": 1}))',
    "a_missed": 'import json; print(json.dumps({"bench": "a_missed", "met": False}))',
    "c_crash": 'import sys; print("half a line"); sys.stderr.write("Traceback: boom\\n"); sys.exit(3)',
    "d_figures": 'import json; print(json.dumps({"bench": "d_figures", "calls": 4}))',
    "e_silent": 'print("no json here")',
    "_helper": 'raise SystemExit("a helper module is never run")',
}


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "bench"
    folder.mkdir()
    for name, source in FAKES.items():
        (folder / f"{name}.py").write_text(source + "\n", encoding="utf-8")
    return folder


def test_discover_lists_benchmarks_in_name_order_without_helper_modules(bench_dir: Path) -> None:
    """Every NAME.py not starting with "_", sorted."""
    assert _runner.discover(bench_dir) == ["a_missed", "b_met", "c_crash", "d_figures", "e_silent"]


def test_the_real_bench_folder_runs_no_helper_module() -> None:
    """The tablestore seeding helper is named as a helper, so the runner does not run it as a benchmark."""
    names = _runner.discover(Path(_runner.HERE))
    assert "tablestore_seed" not in names and "_tablestore_seed" not in names and "_common" not in names
    assert "cold_start" in names


def test_rounds_save_each_output_and_summarise_met_per_round(bench_dir: Path, tmp_path: Path) -> None:
    """Two rounds: .bench/<round>/<name>.json for each; "met" per round; a crash is not met and the rest still run."""
    out = tmp_path / ".bench"
    summary = _runner.run(_runner.discover(bench_dir), 2, bench_dir, out, timeout_s=60)
    assert sorted(p.name for p in (out / "2").iterdir()) == [f"{n}.json" for n in
                                                             ("a_missed", "b_met", "c_crash", "d_figures", "e_silent")]
    assert json.loads((out / "1" / "b_met.json").read_text())["x"] == 1
    results = summary["results"]
    assert results["b_met"] == {"met": [True, True], "held": True}
    assert results["a_missed"]["met"] == [False, False] and results["a_missed"]["held"] is False
    crash = results["c_crash"]
    assert crash["met"] == [False, False] and crash["held"] is False
    assert crash["errors"][0]["error"] == "exit status 3" and "boom" in crash["errors"][0]["stderr_tail"]
    assert results["d_figures"] == {"met": [None, None], "held": None}
    assert results["e_silent"]["held"] is False and results["e_silent"]["errors"][1]["round"] == 2
    assert summary["all_held"] is False and summary["rounds"] == 2
    assert summary["machine"]["cpu_count"] >= 1 and summary["machine"]["python"].startswith("3.")


def test_main_exits_0_only_when_every_target_held(bench_dir: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Named benchmarks only; the last stdout line is the summary JSON; exit 1 when one missed, 0 when all held."""
    args = ["--bench-dir", str(bench_dir), "--out", str(tmp_path / "o")]
    assert _runner.main([*args, "b_met", "d_figures"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["bench"] == "summary" and set(summary["results"]) == {"b_met", "d_figures"}
    assert _runner.main([*args, "b_met", "a_missed"]) == 1


def test_a_benchmark_that_hangs_is_stopped_and_not_met(tmp_path: Path) -> None:
    """The bounded wait: a benchmark past its time is ended, with the processes it started, and is not met."""
    folder = tmp_path / "b"
    folder.mkdir()
    marker = tmp_path / "grandchild-alive"
    grandchild = tmp_path / "grandchild.py"  # outlives its parent unless the runner stops the whole group
    grandchild.write_text(f"import time\ntime.sleep(3)\nopen({str(marker)!r}, 'w').close()\n", encoding="utf-8")
    (folder / "hang.py").write_text("import subprocess, sys, time\n"
                                    f"subprocess.Popen([sys.executable, {str(grandchild)!r}])\n"
                                    "time.sleep(30)\n", encoding="utf-8")
    summary = _runner.run(["hang"], 1, folder, tmp_path / "o", timeout_s=1.0)
    assert summary["results"]["hang"]["held"] is False
    assert summary["results"]["hang"]["errors"][0]["error"].startswith("timed out")
    time.sleep(3)
    assert not marker.exists()  # the benchmark's own children were stopped with it


@pytest.mark.parametrize("argv", [["--rounds", "0"], ["no_such_bench"], ["--timeout-s", "0"],
                                  ["--timeout-s", "soon"]])
def test_bad_arguments_are_refused_clearly(bench_dir: Path, argv: list[str],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown name, a round count below 1, a bad time limit: a usage error (exit 2), no traceback."""
    with pytest.raises(SystemExit) as stopped:
        _runner.main(["--bench-dir", str(bench_dir), *argv])
    assert stopped.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_an_invocation_replaces_what_the_last_one_saved(bench_dir: Path, tmp_path: Path) -> None:
    """`--rounds 2`, then one benchmark alone: the folder holds the second invocation's round only, never a
    round of the pair with one file replaced (the README's table and scripts/cost.py read it as one set)."""
    out = tmp_path / "out"
    (out / "notes").mkdir(parents=True)
    (out / "notes" / "keep.json").write_text("{}", encoding="utf-8")
    _runner.run(["a_missed", "b_met"], 2, bench_dir, out)
    assert sorted(path.relative_to(out).as_posix() for path in out.rglob("*.json")) == [
        "1/a_missed.json", "1/b_met.json", "2/a_missed.json", "2/b_met.json", "notes/keep.json"]
    _runner.run(["b_met"], 1, bench_dir, out)
    assert sorted(path.relative_to(out).as_posix() for path in out.rglob("*.json")) == [
        "1/b_met.json", "notes/keep.json"]
