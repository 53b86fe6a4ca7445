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
    RegisterServer,
    create_register_app,
    openapi_document,
    seeded_enterprises,
)

ROOT = Path(__file__).resolve().parent.parent.parent
CONTRACT = ROOT / "contracts" / "registers" / "enterprise.contract.yaml"


CONSUMER = {"Authorization": "Bearer the-gateways-register-token"}


@pytest.fixture
def register() -> Starlette:
    return create_register_app(consumer_token="the-gateways-register-token")


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
    answer = await register_client.get(f"/enterprises/{known.uscc}", headers=CONSUMER)
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


async def test_only_its_consumer_is_given_the_representatives_id_number(
    register_client: httpx.AsyncClient,
) -> None:
    """Anyone could read it (outside check of issue 9); a real register publishes the name, the
    status and the representative's name, never an ID number."""
    known = seeded_enterprises(1)[0]
    public = await register_client.get(f"/enterprises/{known.uscc}")
    assert public.status_code == 200
    assert public.json()["legal_representative"] == {"name": known.legal_representative}
    assert public.json()["status"] == known.status
    assert known.legal_representative_id_number not in public.text
    for wrong in (
        "Bearer not-the-token",
        "Basic Z2F0ZXdheTp4",
        "Bearer ",
        "the-gateways-register-token",
    ):
        refused = await register_client.get(
            f"/enterprises/{known.uscc}", headers={"Authorization": wrong}
        )
        assert refused.status_code == 401, wrong
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["code"] == "UNAUTHORIZED"
        assert known.legal_representative_id_number not in refused.text
    # Nor through the simulator's own endpoints.
    listed = await register_client.get("/_sim/enterprises")
    assert all("id_number" not in e["legal_representative"] for e in listed.json())
    assert known.legal_representative_id_number not in listed.text
    echoed = await register_client.post("/_sim/enterprises", json={"uscc": known.uscc})
    assert known.legal_representative_id_number not in echoed.text
    stated = await register_client.post(
        "/_sim/provider-state",
        json={"state": "an enterprise exists", "params": {"uscc": known.uscc}},
    )
    assert known.legal_representative_id_number not in stated.text
    consumer = await register_client.get("/_sim/enterprises", headers=CONSUMER)
    assert known.legal_representative_id_number in consumer.text


async def test_without_a_consumer_token_nobody_is_given_id_numbers() -> None:
    known = seeded_enterprises(1)[0]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_register_app()), base_url="http://register"
    ) as client:
        assert (await client.get(f"/enterprises/{known.uscc}", headers=CONSUMER)).status_code == 401
        public = await client.get(f"/enterprises/{known.uscc}")
    assert known.legal_representative_id_number not in public.text


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


async def test_a_live_register_is_verified_with_its_own_credential() -> None:
    """A register with another consumer token than the contract's: `--header` presents it
    (replacing the interactions' Authorization); without it the register keeps ID numbers back."""
    async with RegisterServer(consumer_token="the-live-registers-token") as live:
        own = await verify(
            [CONTRACT],
            target=live.url,
            headers={"Authorization": "Bearer the-live-registers-token"},
        )
        assert [r.outcome for r in own.results] == ["pass"] * 5, own.results
        contracts = await verify([CONTRACT], target=live.url)
    refused = {r.interaction for r in contracts.results if r.outcome == "fail"}
    # Every interaction that finds an enterprise; the unknown code is 404 whoever asks.
    assert refused == {r.interaction for r in own.results} - {"no-enterprise-with-this-code"}
