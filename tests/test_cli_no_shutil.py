"""The command line's start and a process's exit import no shutil (with bz2, lzma: about 2 ms each, issue 16):
argparse's help width is computed as shutil would (cli_args.SizedFormatter), and the generated freetds.conf's
folder is removed without shutil.rmtree (adapters/freetds_conf._remove)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from precheck.adapters import freetds_conf
from precheck.cli_args import SizedFormatter
from precheck.settings import terminal_columns


def _fresh(code: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, **env}, stdin=subprocess.DEVNULL, timeout=60)
    return done.stdout.strip()


@pytest.mark.parametrize("command", ["check", "last", "list", "events", "nosuch"])
def test_building_a_commands_parser_imports_no_shutil(command):
    """Every add_argument makes a help formatter; none of them imports shutil for the terminal's width."""
    code = ("import sys\nfrom precheck.cli import build_parser\n"
            f"build_parser([{command!r}, '--json'])\nprint('shutil' in sys.modules)")
    assert _fresh(code) == "False"


@pytest.mark.parametrize("columns", ["", "0", "abc", "-5", "37", "200"])
def test_the_help_width_is_the_one_argparse_computes_itself(columns):
    """COLUMNS when a positive integer, else the terminal of stdout, else 80, less 2, as shutil's own value."""
    code = ("import argparse, shutil\nfrom precheck.cli_args import SizedFormatter\n"
            "print(SizedFormatter('p')._width, argparse.HelpFormatter('p')._width)")
    ours, argparses = _fresh(code, COLUMNS=columns).split()
    assert ours == argparses
    if columns in ("37", "200"):
        assert int(ours) == int(columns) - 2


def test_a_width_given_is_kept(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    assert terminal_columns() == 120
    assert SizedFormatter("p", width=50)._width == 50 and SizedFormatter("p")._width == 118


def test_the_generated_folder_is_removed_with_its_files_and_errors_are_ignored(tmp_path):
    """The exit function removes the folder and every file in it, and a folder already gone is no error."""
    folder = tmp_path / "precheck-freetds-x"
    folder.mkdir()
    conf = freetds_conf.FreetdsConf(folder)
    conf.ensure("s1", "\thost = h\n")
    (folder / ".freetds-left.conf").write_text("staging left behind")
    freetds_conf._remove(folder)
    assert not folder.exists()
    freetds_conf._remove(folder)  # already gone: ignored, as shutil.rmtree(folder, True)


def test_a_process_that_made_the_file_removes_its_folder_at_exit_without_shutil(tmp_path):
    code = ("import atexit, os, sys\nfrom precheck.adapters import freetds_conf\n"
            "atexit.register(lambda: print('shutil' in sys.modules))\n"
            "conf = freetds_conf.shared(export=lambda path: None)\n"
            "print(conf.path.parent.name)")
    name, shutil_loaded = _fresh(code, TMPDIR=str(tmp_path)).split()
    assert name.startswith("precheck-freetds-") and os.listdir(tmp_path) == []
    assert shutil_loaded == "False"
