"""The onboarding API: plans, refusals (all at once, with pointers), versions, retirement."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from app.gateway.routetable import TransportFactory
from tests.conftest import GrantAccess
from tests.gateway.support import UPSTREAM, document_text, onboard, respx_transport, service_body

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture(autouse=True)
async def _authorized(client: httpx.AsyncClient, grant_access: GrantAccess) -> None:
    """Calls through /gw carry a token of a client granted the services these tests use."""
    client.headers.update(await grant_access(("430100", "bdc"), ("430200", "bdc")))


@pytest.fixture
def upstream() -> respx.MockRouter:
    return respx.MockRouter(assert_all_called=False, base_url=UPSTREAM)


@pytest.fixture
def transport_factory(upstream: respx.MockRouter) -> TransportFactory:
    return respx_transport(upstream)


def pointers(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"] == "application/problem+json"
    return {e["pointer"]: e["detail"] for e in response.json()["errors"]}


async def test_admin_api_needs_the_admin_token(client: httpx.AsyncClient) -> None:
    application_token = client.headers.pop("authorization")
    roleless = await client.get("/admin/services", headers={"Authorization": application_token})
    assert roleless.status_code == 403  # a valid token without an admin role
    assert "platform_admin or division_admin" in roleless.json()["detail"]
    missing = await client.get("/admin/services")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = await client.get("/admin/services", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


async def test_dry_run_returns_the_plan_and_saves_nothing(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/admin/services", params={"dry_run": "true"}, json=service_body(), headers=admin_headers
    )
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["dry_run"] is True
    assert plan["id"] is None
    assert plan["division_name"] == "长沙市"
    assert plan["gateway_path"] == "/gw/430100/bdc"
    routes = {(r["method"], r["path"]): r for r in plan["routes"]}
    assert len(routes) == 6
    one = routes[("GET", "/gw/430100/bdc/records/{cert_no}")]
    assert one["upstream"] == f"{UPSTREAM}/records/{{cert_no}}"
    assert one["item_code"] == "430100-BDC-001"
    assert {(b["operation_id"], b["item_code"]) for b in plan["bindings"]} == {
        ("listRecords", "430100-BDC-001"),
        ("createRecord", "430100-BDC-002"),
        ("getRecord", "430100-BDC-001"),
        ("applyForm", "430100-BDC-003"),
    }
    assert plan["policy"]["timeout_s"] == 10
    assert (await client.get("/admin/services", headers=admin_headers)).json() == []
    assert (await client.get("/gw/430100/bdc/records/latest")).status_code == 404


async def test_onboard_then_inspect(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await onboard(client, admin_headers, timeout_s=3, data_classification="personal")
    assert created["id"] > 0
    assert created["status"] == "active"
    assert created["version"] == 1
    assert created["policy"]["timeout_s"] == 3
    listed = (await client.get("/admin/services", headers=admin_headers)).json()
    assert [(s["id"], s["operations"]) for s in listed] == [(created["id"], 6)]
    one = (await client.get(f"/admin/services/{created['id']}", headers=admin_headers)).json()
    assert one["data_classification"] == "personal"
    assert len(one["routes"]) == 6
    missing = await client.get("/admin/services/999999", headers=admin_headers)
    assert missing.status_code == 404


async def test_upstream_defaults_to_the_documents_server(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/admin/services",
        params={"dry_run": "true"},
        json=service_body(upstream_url=None),
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    # Server variables substituted by their defaults.
    assert response.json()["upstream_url"] == "http://127.0.0.1:9100/api/v2"


async def test_a_second_onboarding_of_the_same_service_conflicts(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await onboard(client, admin_headers)
    again = await client.post("/admin/services", json=service_body(), headers=admin_headers)
    assert again.status_code == 409
    assert again.json()["service_id"] == created["id"]
    assert f"PUT /admin/services/{created['id']}" in again.json()["detail"]


async def test_every_problem_is_reported_at_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "broken", "version": "1"},
        "paths": {
            "/a/{id}": {"get": {"operationId": "dup", "responses": {"200": {"description": "ok"}}}},
            "/b": {
                "get": {
                    "operationId": "dup",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "https://evil.example/schema.json"}
                                }
                            },
                        }
                    },
                },
                "post": {
                    "operationId": "c",
                    "requestBody": {"$ref": "#/components/requestBodies/Missing"},
                    "responses": {"201": {"description": "ok"}},
                },
            },
        },
    }
    response = await client.post(
        "/admin/services",
        json=service_body(
            division="430199",
            upstream_url="http://169.254.169.254/",
            connector="carrier-pigeon",
            document=document,
        ),
        headers=admin_headers,
    )
    assert response.status_code == 422
    found = pointers(response)
    assert "/body/division" in found
    assert "/body/upstream_url" in found
    assert "/body/connector" in found
    doc = {p: d for p, d in found.items() if p.startswith("/body/document")}
    assert "/body/document/paths/~1b/get/operationId" in doc
    assert any("{id}" in d or "id" in d for p, d in doc.items() if "~1a~1{id}" in p)
    assert any("evil.example" in d for d in doc.values())
    assert any("Missing" in d for d in doc.values())
    assert "nothing was saved" in response.json()["detail"]
    assert (await client.get("/admin/services", headers=admin_headers)).json() == []


@pytest.mark.parametrize(
    ("document", "pointer", "words"),
    [
        (
            'swagger: "2.0"\ninfo: {title: x, version: "1"}\npaths: {}\n',
            "/body/document",
            "Swagger 2.0",
        ),
        ("openapi: 3.0.3\ninfo: [unclosed\n", "/body/document", "line"),
        ("[" * 5000 + "]" * 5000, "/body/document", "deep"),
        ("just text", "/body/document", "mapping"),
    ],
)
async def test_unreadable_documents_are_refused_with_a_sentence(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    document: str,
    pointer: str,
    words: str,
) -> None:
    response = await client.post(
        "/admin/services", json=service_body(document=document), headers=admin_headers
    )
    assert response.status_code == 422, response.text
    found = pointers(response)
    assert any(p.startswith(pointer) for p in found)
    assert any(words.lower() in d.lower() for d in found.values()), found


async def test_oversized_document_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    padding = "x" * (5 * 1024 * 1024)
    document = document_text() + f"\nx-padding: {padding}\n"
    response = await client.post(
        "/admin/services", json=service_body(document=document), headers=admin_headers
    )
    assert response.status_code == 422
    assert any("5,242,880 bytes" in d for d in pointers(response).values())


async def test_metadata_is_validated(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/admin/services",
        json=service_body(slug="Not_A_Slug", division="4301", upstream_url="ftp://127.0.0.1/"),
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert {"/body/slug", "/body/division"} <= pointers(response).keys()
    ftp = await client.post(
        "/admin/services", json=service_body(upstream_url="ftp://127.0.0.1/"), headers=admin_headers
    )
    assert "http or https" in pointers(ftp)["/body/upstream_url"]


async def test_explicit_bindings(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await client.post(
        "/admin/services",
        params={"dry_run": "true"},
        json=service_body(
            bindings=[
                {"operation": "DELETE /records/{cert_no}", "item": "430100-BDC-009"},
                {"operation": "latestRecord", "item": "430100-BDC-001"},
            ]
        ),
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    bindings = {
        b["operation_id"]: (b["item_code"], b["source"]) for b in response.json()["bindings"]
    }
    assert bindings["deleteRecord"] == ("430100-BDC-009", "bindings")
    assert bindings["latestRecord"] == ("430100-BDC-001", "bindings")
    assert bindings["listRecords"] == ("430100-BDC-001", "x-xyb-item")
    unknown = await client.post(
        "/admin/services",
        json=service_body(bindings=[{"operation": "nope", "item": "x"}]),
        headers=admin_headers,
    )
    assert unknown.status_code == 422
    assert "/body/bindings/0/operation" in pointers(unknown)


async def test_new_version_replaces_atomically_and_keeps_history(
    client: httpx.AsyncClient, admin_headers: dict[str, str], upstream: respx.MockRouter
) -> None:
    created = await onboard(client, admin_headers)
    sid = created["id"]
    upstream.get("/records/latest").respond(
        200, json={"cert_no": "x", "owner_id_number": "1", "address": "a", "area": 1}
    )
    assert (await client.get("/gw/430100/bdc/records/latest")).status_code == 200

    document = document_text().replace("  /records/latest:\n", "  /records/newest:\n")
    replaced = await client.put(
        f"/admin/services/{sid}", json=service_body(document=document), headers=admin_headers
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["version"] == 2
    # /records/latest is gone: it now matches the {cert_no} template, whose pattern refuses it.
    gone = await client.get("/gw/430100/bdc/records/latest")
    assert gone.status_code == 422
    upstream.get("/records/newest").respond(
        200, json={"cert_no": "x", "owner_id_number": "1", "address": "a", "area": 1}
    )
    assert (await client.get("/gw/430100/bdc/records/newest")).status_code == 200

    versions = (await client.get(f"/admin/services/{sid}/versions", headers=admin_headers)).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["document_sha256"] != versions[1]["document_sha256"]
    old = await client.get(f"/admin/services/{sid}/versions/1/document", headers=admin_headers)
    assert "/records/latest" in old.json()["paths"]


async def test_a_dry_run_refuses_what_the_real_put_refuses(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await onboard(client, admin_headers)
    moved = service_body(division="430200")
    dry = await client.put(
        f"/admin/services/{created['id']}",
        params={"dry_run": "true"},
        json=moved,
        headers=admin_headers,
    )
    real = await client.put(f"/admin/services/{created['id']}", json=moved, headers=admin_headers)
    assert dry.status_code == real.status_code == 422, dry.text
    assert pointers(dry) == pointers(real)
    assert "430100/bdc" in pointers(dry)["/body/division"]


async def test_failed_new_version_leaves_the_old_one(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await onboard(client, admin_headers)
    bad = await client.put(
        f"/admin/services/{created['id']}",
        json=service_body(document="openapi: 3.0.3\n"),
        headers=admin_headers,
    )
    assert bad.status_code == 422
    same = (await client.get(f"/admin/services/{created['id']}", headers=admin_headers)).json()
    assert same["version"] == 1
    assert len(same["routes"]) == 6


async def test_retire_takes_routes_off_the_gateway(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await onboard(client, admin_headers)
    retired = await client.delete(f"/admin/services/{created['id']}", headers=admin_headers)
    assert retired.status_code == 200
    assert retired.json()["status"] == "retired"
    response = await client.get("/gw/430100/bdc/records/latest")
    assert response.status_code == 404
    assert "retired" in response.json()["detail"]
    # Onboarding it again revives it as its next version.
    revived = await client.post("/admin/services", json=service_body(), headers=admin_headers)
    assert revived.status_code == 201
    assert revived.json()["version"] == 2


async def test_merged_and_per_service_documents(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await onboard(client, admin_headers)
    await onboard(client, admin_headers, division="430200", slug="bdc", name="株洲不动产")
    merged = (await client.get("/gw/openapi.json")).json()
    assert merged["openapi"].startswith("3.1")
    assert merged["servers"] == [{"url": "http://127.0.0.1:8000"}]  # XYB_PUBLIC_URL's default
    assert "/gw/430100/bdc/records/{cert_no}" in merged["paths"]
    assert "/gw/430200/bdc/records/{cert_no}" in merged["paths"]
    ids = [
        op["operationId"]
        for item in merged["paths"].values()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    ]
    assert len(ids) == len(set(ids)) == 12
    one = (
        await client.get(f"/admin/services/{created['id']}/openapi", headers=admin_headers)
    ).json()
    assert set(one["paths"]) == {p for p in merged["paths"] if p.startswith("/gw/430100/")}
    json.dumps(one)  # serialisable


async def test_dry_run_predicts_a_conflict(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await onboard(client, admin_headers)
    response = await client.post(
        "/admin/services", params={"dry_run": "true"}, json=service_body(), headers=admin_headers
    )
    assert response.status_code == 409


async def test_a_document_of_the_wrong_kind_is_one_error_at_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/admin/services", json=service_body(document=[]), headers=admin_headers
    )
    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == ["/body/document"]
    malformed = await client.post(
        "/admin/services",
        content=b'{"division": ',
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400
    assert [e["pointer"] for e in malformed.json()["errors"]] == ["/body"]
