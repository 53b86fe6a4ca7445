"""The simulated enterprise register: its data, its control endpoints, and its contract, verified
the way a user verifies it (`xyb contracts verify ... --target simulator`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from app.contracts.replay import verify
from app.core.identifiers import validate_resident_id, validate_uscc
from app.simulators import simulator_for
from app.simulators.enterprise import (
    ACTIVE_STATUSES,
    STATUSES,
    create_register_app,
    openapi_document,
    seeded_enterprises,
)

ROOT = Path(__file__).resolve().parent.parent.parent
CONTRACT = ROOT / "contracts" / "registers" / "enterprise.contract.yaml"


@pytest.fixture
def register() -> Starlette:
    return create_register_app()


@pytest.fixture
async def register_client(register: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=register), base_url="http://register.example"
    ) as c:
        yield c


def test_the_seed_is_deterministic_and_every_identifier_is_valid() -> None:
    first, again, other = seeded_enterprises(1), seeded_enterprises(1), seeded_enterprises(2)
    assert first == again
    assert first != other
    assert len({e.uscc for e in first}) == len(first) == 60
    for e in first:
        assert validate_uscc(e.uscc) == [], e.uscc
        assert validate_resident_id(e.legal_representative_id_number) == []
        assert e.status in STATUSES
    assert first[0].status in ACTIVE_STATUSES
    assert {e.status for e in first} > set(ACTIVE_STATUSES)  # some no longer exist


async def test_an_enterprise_by_its_code(register_client: httpx.AsyncClient) -> None:
    known = seeded_enterprises(1)[3]
    answer = await register_client.get(f"/enterprises/{known.uscc}")
    assert answer.status_code == 200
    body = answer.json()
    assert body["name"] == known.name
    assert body["legal_representative"] == {
        "name": known.legal_representative,
        "id_number": known.legal_representative_id_number,
    }
    malformed = await register_client.get(f"/enterprises/{known.uscc[:17]}0")
    assert malformed.status_code in (400, 404)
    assert (await register_client.get("/enterprises/not-a-code")).json()["code"] == "BAD_REQUEST"


async def test_tests_and_the_demo_add_enterprises(register_client: httpx.AsyncClient) -> None:
    added = await register_client.post(
        "/_sim/enterprises",
        json={"name": "长沙测试有限公司", "legal_representative_id_number": "11010519491231002X"},
    )
    assert added.status_code == 201, added.text
    company = added.json()
    assert company["status"] == "存续"
    got = await register_client.get(f"/enterprises/{company['uscc']}")
    assert got.json() == company
    refused = await register_client.post(
        "/_sim/enterprises", json={"legal_representative_id_number": "110105194912310020"}
    )
    assert refused.status_code == 400
    assert (await register_client.post("/_sim/reset")).status_code == 204
    assert (await register_client.get(f"/enterprises/{company['uscc']}")).status_code == 404
    listed = await register_client.get("/_sim/enterprises")
    assert len(listed.json()) == 60


async def test_provider_states(register_client: httpx.AsyncClient) -> None:
    gone = await register_client.post(
        "/_sim/provider-state", json={"state": "no enterprise with this code"}
    )
    uscc = gone.json()["params"]["uscc"]
    assert (await register_client.get(f"/enterprises/{uscc}")).status_code == 404
    unknown = await register_client.post("/_sim/provider-state", json={"state": "nonsense"})
    assert unknown.status_code == 400
    assert "an enterprise exists" in unknown.json()["known_states"]


def test_it_is_registered_as_a_simulated_provider() -> None:
    provider = simulator_for("registers", "enterprise")
    assert provider.document() == openapi_document()
    assert provider.demo_url == "http://127.0.0.1:9015"


def test_the_contract_anchors_the_simulators_document() -> None:
    """contracts/registers/enterprise.openapi.yaml is the simulator's document, byte for byte."""
    copy = (CONTRACT.parent / "enterprise.openapi.yaml").read_text(encoding="utf-8")
    assert copy == openapi_document()


def test_the_contract_passes_against_the_simulator() -> None:
    """The done criterion, as a user types it."""
    result = subprocess.run(
        [
            *(sys.executable, "-m", "app.cli", "contracts", "verify"),
            *(str(CONTRACT), "--target", "simulator"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "5 passed, 0 failed, 0 skipped" in result.stdout


async def test_a_contract_the_register_does_not_keep_fails(tmp_path: Path) -> None:
    """Replay really asks the simulator: an expectation it does not meet fails, by name."""
    text = CONTRACT.read_text(encoding="utf-8").replace(
        "        status: 注销\n", "        status: 存续\n", 1
    )
    (tmp_path / "enterprise.openapi.yaml").write_text(openapi_document(), encoding="utf-8")
    broken = tmp_path / "enterprise.contract.yaml"
    broken.write_text(text, encoding="utf-8")
    report = await verify([broken], target="simulator")
    failed = {r.interaction: r for r in report.results if r.outcome == "fail"}
    assert set(failed) == {"enterprise-deregistered"}
    assert any(m.path == "$.status" for m in failed["enterprise-deregistered"].mismatches)
