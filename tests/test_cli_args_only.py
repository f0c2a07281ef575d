"""The parser built for the command being run (only its subparser) parses exactly as the whole one does."""

from __future__ import annotations

import pytest

from precheck import cli
from precheck.cli_args import COMMANDS, command_named

ARGVS = [
    ["check", "--server", "db,1433", "--user", "u", "--password-env", "PW", "--region", "cn-hangzhou", "--json"],
    ["-v", "check", "--servers", "f.csv", "--timeout", "5", "--live", "off", "--format", "junit"],
    ["last", "i-1", "--format", "csv", "-v"],
    ["list", "--status", "FAILED", "--limit", "3"],
    ["history", "i-1", "--limit", "2"],
    ["diff", "i-1", "r-2", "--json"],
    ["fix", "i-1", "--run", "r"],
    ["serve", "--port", "0"],
    ["invoke", "start_precheck", "--event", "-"],
    ["demo", "--once"],
    ["emulate", "sqlserver", "--port", "0"],
    ["store", "init", "--runs-ttl-days", "3"],
    ["events", "--help-not-an-option-here"],
]


@pytest.mark.parametrize("argv", ARGVS, ids=lambda argv: " ".join(argv[:2]))
def test_only_the_named_command_is_built_and_parses_the_same(argv):
    whole = cli.build_parser().parse_known_args(argv)
    built = cli.build_parser(argv)
    subparsers = next(action for action in built._actions if action.dest == "command")
    assert list(subparsers.choices) == [command_named(argv)]  # type: ignore[attr-defined]
    assert built.parse_known_args(argv) == whole


@pytest.mark.parametrize("argv", [[], ["-v"], ["nosuch", "x"], ["--version"]])
def test_no_command_or_an_unknown_word_builds_every_command(argv):
    built = cli.build_parser(argv)
    subparsers = next(action for action in built._actions if action.dest == "command")
    assert tuple(subparsers.choices) == COMMANDS  # type: ignore[attr-defined]
