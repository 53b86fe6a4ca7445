"""`xyb contracts verify`: replaying contracts against simulators and live URLs, and the reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from defusedxml.ElementTree import parse as safe_parse

from app.contracts.replay import Report, verify
from app.contracts.report import as_json, write_junit
from app.simulators import SimulatorHost

ROOT = Path(__file__).resolve().parent.parent.parent
CITIES = sorted((ROOT / "contracts" / "municipal").glob("*.contract.yaml"))
CHANGSHA = ROOT / "contracts" / "municipal" / "changsha.contract.yaml"


def by_id(report: Report) -> dict[str, object]:
    return {r.interaction: r for r in report.results}


def test_every_city_contract_passes_against_its_simulator() -> None:
    """The done criterion, as a user types it."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "contracts",
            "verify",
            *map(str, CITIES),
            "--target",
            "simulator",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=300,
        cwd=ROOT,
    )
    assert len(CITIES) == 14
    assert result.returncode == 0, result.stdout[-3000:]
    assert "154 passed, 0 failed, 0 skipped" in result.stdout


async def test_a_retyped_field_fails_naming_interaction_and_path() -> None:
    report = await verify(
        [CHANGSHA], target="simulator", drift=frozenset({"fund-balance-as-string"})
    )
    failed = {r.interaction: r for r in report.results if r.outcome == "fail"}
    assert set(failed) == {"fund-account-found"}
    result = failed["fund-account-found"]
    assert any(m.path == "$.balance" for m in result.mismatches), result.mismatches
    assert any("balance" in p for p in result.problems)  # Schemathesis' schema check agrees
    assert result.curl is not None
    assert "/gjj/accounts/" in result.curl
    assert result.actual["status"] == 200


async def test_a_removed_operation_fails() -> None:
    report = await verify(
        [CHANGSHA], target="simulator", drift=frozenset({"no-deposits-operation"})
    )
    failed = {r.interaction: r for r in report.results if r.outcome == "fail"}
    assert set(failed) == {"fund-deposits-of-a-year"}
    mismatch = failed["fund-deposits-of-a-year"].mismatches[0]
    assert (mismatch.path, mismatch.expected, mismatch.actual) == ("status", "200", "404")


async def test_a_changed_document_is_reported(tmp_path: Path) -> None:
    contract = tmp_path / "changsha.contract.yaml"
    document = tmp_path / "changsha.openapi.yaml"
    contract.write_text(CHANGSHA.read_text(encoding="utf-8"), encoding="utf-8")
    original = (CHANGSHA.parent / "changsha.openapi.yaml").read_text(encoding="utf-8")
    document.write_text(original + "\n# edited\n", encoding="utf-8")
    report = await verify([contract], target="simulator")
    first = report.results[0]
    assert first.interaction == "(contract)"
    assert first.outcome == "fail"
    assert any("changed since this contract was written" in p for p in first.problems)


async def test_a_malformed_contract_names_file_pointer_and_sentence(tmp_path: Path) -> None:
    broken = tmp_path / "changsha.contract.yaml"
    broken.write_text("format: 1\nconnector: municipal\nprovider: changsha\n", encoding="utf-8")
    report = await verify([broken], target="simulator")
    assert report.failed
    assert report.results[0].contract == str(broken)
    assert report.results[0].problems  # each "pointer: sentence"


@pytest.fixture
async def live_city() -> AsyncIterator[SimulatorHost]:
    async with SimulatorHost(divisions=["430100"], control=False) as host:
        yield host


async def test_against_a_live_url_writes_need_permission(live_city: SimulatorHost) -> None:
    url = live_city.url("430100")
    report = await verify([CHANGSHA], target=url)
    outcomes = {r.interaction: r.outcome for r in report.results}
    assert outcomes["residence-permit-application-created"] == "skip"
    assert outcomes["birth-registration-created"] == "skip"
    assert outcomes["fund-account-found"] == "pass"  # its state set up through /_sim
    assert not report.failed
    allowed = await verify([CHANGSHA], target=url, allow_writes=True)
    assert allowed.count("skip") == 0
    assert not allowed.failed


async def test_states_that_cannot_be_set_up_are_skipped_with_the_reason() -> None:
    async with SimulatorHost(divisions=["430100"], control=False, provider_states=False) as host:
        report = await verify([CHANGSHA], target=host.url("430100"))
    skipped = [r for r in report.results if r.outcome == "skip"]
    assert any("cannot set up provider state" in (r.reason or "") for r in skipped)
    assert not report.failed


async def test_reports_in_json_and_junit(tmp_path: Path) -> None:
    report = await verify(
        [CHANGSHA], target="simulator", drift=frozenset({"no-deposits-operation"})
    )
    data = json.loads(json.dumps(as_json(report)))
    assert data["totals"] == {"pass": 10, "fail": 1, "skip": 0}
    junit = tmp_path / "report.xml"
    write_junit(report, junit)
    root = safe_parse(str(junit)).getroot()
    assert root is not None
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "1"
    failure = root.find(".//testcase[@name='fund-deposits-of-a-year']/failure")
    assert isinstance(failure, ET.Element)
    assert "curl" in (failure.text or "")


def test_cli_exit_code_and_redacted_curl(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "contracts",
            "verify",
            str(CHANGSHA),
            "--target",
            "http://127.0.0.1:1",
            "--header",
            "Authorization: Bearer s3cret",
            "--json",
            str(tmp_path / "r.json"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 1
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["totals"]["fail"] >= 1
    assert "s3cret" not in result.stdout
    assert "[REDACTED]" in result.stdout
