"""`xyb` starts without its heavy dependencies, and its help reads like the README.

Every command used to take 1-2 s to start, `--help` included, because the command modules
imported FastAPI, SQLAlchemy and the app at the top. Speed is measured by hand
(`time .venv/bin/xyb --help`, DEVELOPERS.md), never asserted here: this checks what is imported,
which is what the speed follows from.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from app.cli import cli

# What a command's help must not pull in (each costs from 50 to 400 ms to import).
HEAVY = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "jsonschema",
    "aiohttp",
    "httpx",
    "uvicorn",
    "yaml",
    "pydantic_settings",
    "app.core.config",
    "app.main",
)

AFTER_HELP = """
import sys
from app.cli import cli
try:
    cli(sys.argv[1:], prog_name="xyb")
except SystemExit:
    pass
print("HEAVY:" + ",".join(name for name in {heavy!r} if name in sys.modules))
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["onboard", "--help"],
        ["catalog", "import", "--help"],
        ["ops", "counts", "--help"],
        ["contracts", "verify", "--help"],
        ["audit", "verify", "--help"],
    ],
    ids=" ".join,
)
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", AFTER_HELP.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: xyb" in result.stdout
    assert result.stdout.strip().endswith("HEAVY:"), result.stdout.splitlines()[-1]


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command's path (typer's own click: groups have ``commands``)."""
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found += _commands(sub, (*path, name))
    return found


def _command(path: tuple[str, ...]) -> Any:
    command: Any = get_command(cli)
    for name in path:
        command = command.commands[name]
    return command


def test_every_help_text_is_clean() -> None:
    """No typer type tags (`<bool>`, `<str>`), no braces around arguments, no rst backticks."""
    root = get_command(cli)
    paths = _commands(root)
    assert ("catalog", "export") in paths
    assert ("db", "downgrade") in paths
    runner = CliRunner()
    for path in paths:
        shown = runner.invoke(cli, [*path, "--help"], prog_name="xyb", env={"COLUMNS": "200"})
        assert shown.exit_code == 0, (path, shown.output)
        text = shown.output
        for tag in ("<bool>", "<str>", "<int", "<float>", "<path>", "``"):
            assert tag not in text, (path, tag, text)
        usage = next(line for line in text.splitlines() if "Usage:" in line)
        assert "{" not in usage, (path, usage)


def test_option_values_are_named() -> None:
    """Every option that takes a value names it (--slug SLUG), so help needs no type tags."""
    unnamed = []
    for path in _commands(get_command(cli)):
        for param in _command(path).params:
            option = param.param_type_name == "option"
            if option and not param.is_flag and param.metavar is None:
                unnamed.append((path, param.name))
    assert unnamed == []


def test_the_limit_of_ops_counts_is_the_apis() -> None:
    from app.services.ops.counts import DEFAULT_LIMIT, MAX_LIMIT

    limit = next(p for p in _command(("ops", "counts")).params if p.name == "limit")
    assert limit.default is None  # the API's default applies
    assert f"1-{MAX_LIMIT}, default {DEFAULT_LIMIT}" in str(getattr(limit, "help", ""))


def test_typer_is_the_one_the_help_was_tidied_for() -> None:
    """The help tidying hooks typer's parameter classes; a typer without them shows raw tags."""
    from typer import core

    assert hasattr(core.TyperOption, "display_type_rich")
    assert hasattr(core.TyperArgument, "_usage_display_name")
    assert typer.__version__
