"""contracts/municipal/: the exported documents and the contracts, true to the simulators.

The files are written by ``scripts/generate_city_contracts.py``; a simulator change that is not
re-exported fails here. The interactions are replayed against in-process city apps, on the fixed
clock and on the real one, checking the status (the matchers are the contract verifier's job).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.simulators import PROVIDER_STATES, SimulatorProvider, simulators
from app.simulators.city.api import shanghai_now
from tests.simulators.clock import fixed_clock

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts" / "municipal"
SCRIPT = ROOT / "scripts" / "generate_city_contracts.py"
RERUN = f"run `.venv/bin/python {SCRIPT.relative_to(ROOT)}` to re-export contracts/municipal/"
CITIES = [s for s in simulators() if s.connector == "municipal"]
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _contract(simulator: SimulatorProvider) -> dict[str, Any]:
    path = CONTRACTS / f"{simulator.provider}.contract.yaml"
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing; {RERUN}"
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def _operations(simulator: SimulatorProvider) -> dict[str, tuple[str, str]]:
    """operationId -> (METHOD, path template) of the simulator's document."""
    document = yaml.safe_load(simulator.document())
    return {
        operation["operationId"]: (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile(
        "^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$"
    )


@pytest.mark.parametrize("simulator", CITIES, ids=lambda s: s.provider)
def test_exported_document_is_the_simulators(simulator: SimulatorProvider) -> None:
    path = CONTRACTS / f"{simulator.provider}.openapi.yaml"
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing; {RERUN}"
    assert path.read_bytes() == simulator.document().encode("utf-8"), (
        f"{path.relative_to(ROOT)} differs from openapi_document({simulator.division!r}); {RERUN}"
    )


def test_nothing_else_in_the_directory() -> None:
    expected = {f"{s.provider}.{kind}.yaml" for s in CITIES for kind in ("openapi", "contract")}
    assert {p.name for p in CONTRACTS.iterdir()} == expected


@pytest.mark.parametrize("simulator", CITIES, ids=lambda s: s.provider)
def test_contract_is_well_formed(simulator: SimulatorProvider) -> None:
    contract = _contract(simulator)
    assert list(contract) == [
        "format",
        "connector",
        "provider",
        "description",
        "openapi",
        "interactions",
    ]
    assert contract["format"] == 1
    assert contract["connector"] == "municipal"
    assert contract["provider"] == simulator.provider
    assert simulator.division in contract["description"]
    assert contract["openapi"]["path"] == f"{simulator.provider}.openapi.yaml"
    document = CONTRACTS / contract["openapi"]["path"]
    assert contract["openapi"]["sha256"] == hashlib.sha256(document.read_bytes()).hexdigest(), (
        f"the contract's openapi.sha256 is not that of {document.name}; {RERUN}"
    )

    operations = _operations(simulator)
    interactions = contract["interactions"]
    ids = [i["id"] for i in interactions]
    assert len(ids) == len(set(ids))
    assert all(ID.match(i) for i in ids)
    assert {i["operation"] for i in interactions} == set(operations)  # every operation covered
    for interaction in interactions:
        method, template = operations[interaction["operation"]]
        request = interaction["request"]
        assert request["method"] == method
        assert _template_regex(template).match(request["path"]), interaction["id"]
        assert sum(kind in request for kind in ("json", "form", "xml", "text")) <= 1
        if "given" in interaction:
            assert interaction["given"]["state"] in PROVIDER_STATES
        response = interaction["response"]
        assert isinstance(response["status"], int)
        assert response["headers"]["Content-Type"]["$regex"] == "^application/json"
        assert "body" in response


def _regexes_have_examples(node: Any) -> bool:
    if isinstance(node, dict):
        if ("$regex" in node or "$type" in node or "$each" in node) and "example" not in node:
            return False
        return all(_regexes_have_examples(value) for value in node.values())
    if isinstance(node, list):
        return all(_regexes_have_examples(value) for value in node)
    return True


@pytest.mark.parametrize("simulator", CITIES, ids=lambda s: s.provider)
def test_every_matcher_has_an_example(simulator: SimulatorProvider) -> None:
    for interaction in _contract(simulator)["interactions"]:
        assert _regexes_have_examples(interaction["response"]), interaction["id"]


@pytest.mark.parametrize("clock", [fixed_clock, shanghai_now], ids=["fixed-clock", "real-clock"])
@pytest.mark.parametrize("simulator", CITIES, ids=lambda s: s.provider)
async def test_replayed_statuses(
    simulator: SimulatorProvider, clock: Callable[[], datetime]
) -> None:
    app = simulator.create(clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://simulator"
    ) as client:
        for interaction in _contract(simulator)["interactions"]:
            assert (await client.post("/_sim/reset")).status_code == 204
            if "given" in interaction:
                arranged = await client.post("/_sim/provider-state", json=interaction["given"])
                assert arranged.status_code == 200, arranged.text
            request = interaction["request"]
            answer = await client.request(
                request["method"],
                request["path"],
                params=request.get("query"),
                json=request.get("json"),
                data=request.get("form"),
            )
            expected = interaction["response"]["status"]
            assert answer.status_code == expected, (
                f"{simulator.key} {interaction['id']}: expected {expected}, "
                f"got {answer.status_code}: {answer.text}"
            )
            for name, matcher in interaction["response"]["headers"].items():
                assert re.search(matcher["$regex"], answer.headers.get(name, "")), (
                    f"{simulator.key} {interaction['id']}: header {name}"
                )


def test_the_contracts_are_up_to_date(monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-generating writes the same bytes (the examples are the simulators' real answers)."""
    spec = importlib.util.spec_from_file_location("generate_city_contracts", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, script)  # dataclasses look their module up
    spec.loader.exec_module(script)
    assert script.main(["--check"]) == 0, RERUN
