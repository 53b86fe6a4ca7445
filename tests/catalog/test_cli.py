"""`xyb catalog import|export|generate` against a database of the test's own."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.cli_catalog import catalog_cli
from app.services.catalog.files import to_csv
from tests.catalog.support import item


@pytest.fixture
def env(tmp_path: Path, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A migrated database of the test's own (the catalog commands never create one)."""
    values = {"XYB_DATABASE_URL": fresh_database_url, "XYB_DATA_DIR": str(tmp_path / "data")}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    migrated = CliRunner().invoke(cli, ["db", "upgrade"], catch_exceptions=False)
    assert migrated.exit_code == 0, migrated.output
    return values


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(catalog_cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.usefixtures("env")
def test_generate_import_export_round_trip(tmp_path: Path) -> None:
    generated = tmp_path / "catalog.json"
    code, _, stderr = run("generate", "--items", "300", "--seed", "5", "--output", str(generated))
    assert code == 0, stderr
    assert "generated 300 items (seed 5)" in stderr
    items = json.loads(generated.read_text(encoding="utf-8"))
    assert len(items) == 300

    code, stdout, stderr = run("import", str(generated))
    assert code == 0, stderr
    assert "imported 300 items: 300 created, 0 updated" in stdout
    code, stdout, _ = run("import", str(generated))
    assert "300 updated" in stdout

    exported = tmp_path / "out.csv"
    code, _, stderr = run("export", "--format", "csv", "--output", str(exported))
    assert code == 0, stderr
    records = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8"))))
    assert sorted(r["code"] for r in records) == sorted(i["code"] for i in items)

    code, stdout, _ = run("export")  # JSON on stdout
    assert code == 0
    assert sorted(json.loads(stdout), key=lambda r: r["code"]) == sorted(
        items, key=lambda r: r["code"]
    )

    # --load writes straight to the database: the first 200 of seed 5 are the same items.
    code, _, stderr = run("generate", "--items", "200", "--seed", "5", "--load")
    assert code == 0, stderr
    assert "0 created, 200 updated" in stderr


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize("suffix", [".csv", ".json", ".CSV"])
def test_export_writes_the_format_its_file_name_says_and_import_reads_it_back(
    tmp_path: Path, suffix: str
) -> None:
    """`xyb catalog export -o catalog.csv` used to write JSON into the .csv (import: 15 errors)."""
    source = tmp_path / "source.json"
    odd = item(
        code="RT-1",
        name="含逗号, “引号”的事项",
        acceptance_conditions="第一条；\n第二条, 含逗号",
        materials=["居民身份证", "户口簿, 原件"],
        one_network=False,
    )
    source.write_text(json.dumps([odd, item(code="RT-2")], ensure_ascii=False), encoding="utf-8")
    assert run("import", str(source))[0] == 0

    exported = tmp_path / f"catalog{suffix}"
    code, _, stderr = run("export", "-o", str(exported))
    assert code == 0, stderr
    text = exported.read_text(encoding="utf-8")
    if suffix.lower() == ".csv":
        assert text.startswith("code,name,type,")
        assert "(csv)" in stderr
    else:
        assert json.loads(text)[0]["code"] == "RT-1"

    code, stdout, stderr = run("import", str(exported))
    assert code == 0, stdout + stderr
    assert "imported 2 items: 0 created, 2 updated" in stdout
    code, stdout, _ = run("export")
    assert {r["code"]: r for r in json.loads(stdout)}["RT-1"] == odd


@pytest.mark.usefixtures("env")
def test_a_file_whose_content_is_not_its_suffix_gets_one_sentence(tmp_path: Path) -> None:
    json_in_csv = tmp_path / "catalog.csv"
    json_in_csv.write_text(json.dumps([item()], ensure_ascii=False), encoding="utf-8")
    code, stdout, stderr = run("import", str(json_in_csv))
    assert code == 1
    assert "1 problem; nothing saved" in stdout
    assert "this is JSON, not CSV" in stdout
    assert "--format json" in stdout

    csv_in_json = tmp_path / "catalog.json"
    csv_in_json.write_text(to_csv([item()]), encoding="utf-8")
    code, stdout, _ = run("import", str(csv_in_json))
    assert code == 1
    assert "this is CSV, not JSON" in stdout
    # --format says what the file is, whatever its name.
    code, stdout, stderr = run("import", str(csv_in_json), "--format", "csv")
    assert code == 0, stdout + stderr


@pytest.mark.usefixtures("env")
def test_a_bad_file_is_reported_as_a_table_and_nothing_is_saved(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(to_csv([item(code="GOOD-1")]), encoding="utf-8")
    assert run("import", str(good))[0] == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(
        to_csv([item(code="NEW-1"), item(code="NEW-2", type="行政处罚"), item(code="NEW-1")]),
        encoding="utf-8",
    )
    code, stdout, stderr = run("import", str(bad))
    assert code == 1
    assert "2 problems; nothing saved" in stdout
    assert "type" in stdout
    assert "code NEW-1 is also in row 1" in stdout
    assert "nothing saved" in stderr
    code, stdout, _ = run("export")
    assert [r["code"] for r in json.loads(stdout)] == ["GOOD-1"]


@pytest.mark.usefixtures("env")
def test_formats_are_checked(tmp_path: Path) -> None:
    unknown = tmp_path / "items.xlsx"
    unknown.write_bytes(b"x")
    code, _, stderr = run("import", str(unknown))
    assert code == 2
    assert "--format" in stderr
    code, _, stderr = run("import", str(tmp_path / "missing.json"))
    assert code == 2
    code, _, stderr = run("export", "-o", str(tmp_path / "items.xlsx"))
    assert code == 2
    assert "--format" in stderr
    code, _, stderr = run("generate", "--items", "5", "--load", "--output", "x.json")
    assert code == 2
    assert "exclude each other" in stderr


def test_the_module_runs_as_a_command(tmp_path: Path, fresh_database_url: str) -> None:
    """The same commands through a real process (as `xyb catalog` will run them)."""
    env = {
        **os.environ,
        "XYB_DATABASE_URL": fresh_database_url,
        "XYB_DATA_DIR": str(tmp_path / "data"),
    }

    def xyb(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    # No database yet: refused in one sentence, nothing created.
    refused = xyb("catalog", "generate", "--items", "100", "--load")
    assert refused.returncode == 2
    assert "no gateway tables" in refused.stderr or "no gateway database" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert xyb("db", "upgrade").returncode == 0
    generated = xyb("catalog", "generate", "--items", "100", "--load")
    assert generated.returncode == 0, generated.stderr
    assert "100 created" in generated.stderr
    # Piped: no progress bar, nothing on stderr but the summary.
    assert generated.stderr.count("\n") == 1, generated.stderr
    exported = xyb("catalog", "export", "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    assert len(list(csv.DictReader(io.StringIO(exported.stdout)))) == 100
