"""What `xyb` shows: progress on a terminal only, tables whole at any width, every setting named.

`xyb contracts verify --target simulator` used to be silent for seconds, a catalog import of
10,000 items likewise; piped into a file they must stay quiet. Tables cut names at 80 columns
(`municipal/chan…`); `xyb config show` left XYB_DATA_KEY and XYB_TARGET_YEAR_END blank.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

import app.cli_common
from app.cli import cli
from tests.catalog.support import item

ROOT = Path(__file__).resolve().parents[1]
CHANGSHA = ROOT / "contracts" / "municipal" / "changsha.contract.yaml"
# Names in Changsha's contract longer than an 80-column table leaves them.
LONG_NAMES = ("estate-records-by-id-number", "listEstateRecords_430100", "municipal/changsha")


def a_terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """Make the CLI's stderr console a terminal 100 columns wide; returns what it shows."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100, soft_wrap=True)
    monkeypatch.setattr(app.cli_common, "err", console)
    return screen


@pytest.fixture
def migrated(tmp_path: Path, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XYB_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("XYB_DATA_DIR", str(tmp_path / "data"))
    done = CliRunner().invoke(cli, ["db", "upgrade"], catch_exceptions=False)
    assert done.exit_code == 0, done.output


def test_verify_shows_progress_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = a_terminal(monkeypatch)
    result = CliRunner().invoke(
        cli, ["contracts", "verify", str(CHANGSHA), "--target", "simulator"], env={"COLUMNS": ""}
    )
    assert result.exit_code == 0, result.output
    shown = screen.getvalue()
    assert "verifying changsha.contract.yaml" in shown, shown
    assert "0/1" in shown


def test_verify_piped_is_quiet_and_its_table_keeps_every_name() -> None:
    """Piped (CliRunner is not a terminal): no progress at all, and the table is not cut."""
    result = CliRunner().invoke(
        cli, ["contracts", "verify", str(CHANGSHA), "--target", "simulator"], env={"COLUMNS": ""}
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    for name in LONG_NAMES:
        assert name in result.stdout, (name, result.stdout[:2000])
    assert "…" not in result.stdout


@pytest.mark.usefixtures("migrated")
def test_a_catalog_import_shows_progress_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "items.json"
    items = [item(code=f"P-{n}") for n in range(3)]
    source.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    screen = a_terminal(monkeypatch)
    result = CliRunner().invoke(cli, ["catalog", "import", str(source)])
    assert result.exit_code == 0, result.output
    assert "imported 3 items: 3 created" in result.stdout
    assert "importing items.json" in screen.getvalue()


def test_a_table_on_a_narrow_terminal_folds_names_instead_of_cutting_them() -> None:
    screen = io.StringIO()
    narrow = Console(file=screen, force_terminal=True, width=40, color_system=None)
    table = Table("contract", "operation")
    table.add_row("municipal/zhangjiajie", "listEstateRecords_430800_withAVeryLongName")
    app.cli_common.print_table(narrow, table)
    shown = screen.getvalue()
    assert "…" not in shown
    # Folded onto the next lines, not dropped: each column read top to bottom is the whole name.
    lines = [line.split("│") for line in shown.splitlines() if line.startswith("│")]
    columns = ["".join(cells[n].strip() for cells in lines) for n in (1, 2)]
    assert columns == ["municipal/zhangjiajie", "listEstateRecords_430800_withAVeryLongName"]


def test_config_show_names_every_value(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["config", "show"],
        env={"XYB_DATA_DIR": str(tmp_path / "data"), "XYB_DATA_KEY": None, "COLUMNS": ""},
    )
    assert result.exit_code == 0, result.output
    rows = {}
    for line in result.stdout.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) == 2 and cells[0].startswith("XYB_"):
            rows[cells[0]] = cells[1]
    assert len(rows) > 40, result.stdout
    blank = [name for name, value in rows.items() if not value]
    assert blank == []
    assert rows["XYB_DATA_KEY"].startswith("(unset: generated into")
    assert rows["XYB_TARGET_YEAR_END"].startswith("(default) 20")
    assert not (tmp_path / "data").exists()  # showing the settings creates nothing
