"""Static checks: a contract against its provider's OpenAPI document, without calling anything."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest

from app.contracts import StaticProblem, check_contract, load_contract, resolve_operation
from app.contracts.static import documented_status, match_path
from app.services.openapi import analyse, parse_document
from app.simulators import openapi_document
from tests.contracts.support import (
    FILES,
    PETS_CONTRACT,
    contract_with,
    interaction,
    pets_document,
)


def check(*interactions: dict[str, Any]) -> list[StaticProblem]:
    return check_contract(contract_with(*interactions), pets_document())


def found(*interactions: dict[str, Any]) -> dict[str, str]:
    return {p.pointer: p.message for p in check(*interactions)}


# --- the realistic contracts --------------------------------------------------------------------


def test_the_pets_contract_fits_its_document() -> None:
    assert check_contract(load_contract(PETS_CONTRACT)) == []


def write_changsha(directory: Path) -> Path:
    """The city simulator's document next to the changsha contract, with its real sha256."""
    raw = openapi_document("430100").encode("utf-8")
    (directory / "changsha.openapi.yaml").write_bytes(raw)
    template = (FILES / "municipal" / "changsha.contract.yaml").read_text("utf-8")
    path = directory / "changsha.contract.yaml"
    path.write_text(template.replace("0" * 64, hashlib.sha256(raw).hexdigest()), "utf-8")
    return path


def test_a_realistic_contract_for_the_changsha_simulator(tmp_path: Path) -> None:
    contract = load_contract(write_changsha(tmp_path))
    assert contract.name == "municipal/changsha"
    assert len(contract.interactions) == 5
    assert check_contract(contract) == []
    # onboarding checks a submitted document: the same answer
    document = parse_document(openapi_document("430100").encode("utf-8"))
    assert check_contract(contract, document) == []


def test_a_changed_document_is_named_by_its_sha256(tmp_path: Path) -> None:
    contract = load_contract(write_changsha(tmp_path))
    document = tmp_path / "changsha.openapi.yaml"
    changed = document.read_bytes() + b"\n# a comment changes the bytes\n"
    document.write_bytes(changed)
    assert check_contract(contract) == [
        StaticProblem(
            None,
            "/openapi/sha256",
            "The provider's OpenAPI changed since this contract was written (sha256"
            f" {hashlib.sha256(changed).hexdigest()}, expected {contract.openapi_sha256}).",
        )
    ]
    # a document given by the caller is not compared
    assert check_contract(contract, parse_document(changed)) == []


def test_the_realistic_contract_catches_a_wrong_expectation(tmp_path: Path) -> None:
    path = write_changsha(tmp_path)
    path.write_text(
        path.read_text("utf-8").replace(
            "balance: {$type: number, example: 84521.1}",
            'balance: {$type: string, example: "84521.10"}',
        ),
        "utf-8",
    )
    assert check_contract(load_contract(path)) == [
        StaticProblem(
            "fund-account-found",
            "/interactions/0/response/body/balance",
            "In the expected body, $.balance must be a number according to the document's"
            " schema for 200 application/json.",
        )
    ]


# --- the document -------------------------------------------------------------------------------


def test_a_missing_document(tmp_path: Path) -> None:
    shutil.copy(PETS_CONTRACT, tmp_path / "pets.contract.yaml")
    contract = load_contract(tmp_path / "pets.contract.yaml")
    assert check_contract(contract) == [
        StaticProblem(
            None,
            "/openapi/path",
            f"The OpenAPI document {tmp_path / 'pets.openapi.yaml'} does not exist.",
        )
    ]


def test_a_contract_without_a_file_needs_the_document() -> None:
    contract = contract_with(interaction("getPet", "/pets/7"), base_dir=None)
    (problem,) = check_contract(contract)
    assert problem.pointer == "/openapi/path"
    assert "cannot be found; pass the document" in problem.message


def test_an_unparseable_document(tmp_path: Path) -> None:
    (tmp_path / "pets.openapi.yaml").write_text("swagger: '2.0'\n", "utf-8")
    shutil.copy(PETS_CONTRACT, tmp_path / "pets.contract.yaml")
    problems = check_contract(load_contract(tmp_path / "pets.contract.yaml"))
    assert [p.pointer for p in problems] == ["/openapi/sha256", "/openapi/path"]
    assert "Swagger 2.0 is not supported" in problems[1].message


def test_a_document_with_problems_is_one_problem() -> None:
    document = pets_document()
    document["paths"]["/pets/{petId}"]["get"]["operationId"] = "listPets"  # a duplicate
    document["paths"]["/pets"]["get"]["parameters"][0]["in"] = "nowhere"
    contract = contract_with(interaction("getPet", "/pets/7"))
    (problem,) = check_contract(contract, document)
    assert problem.interaction is None
    assert problem.pointer == "/openapi/path"
    assert problem.message.startswith("The provider's OpenAPI document has ")
    assert problem.message.endswith(
        "; the contract cannot be checked against it until they are fixed."
    )


# --- operations ---------------------------------------------------------------------------------


def test_resolve_operation() -> None:
    analysis = analyse(pets_document())
    by_id = resolve_operation(analysis, "getPet")
    assert by_id is not None
    assert (by_id.method, by_id.path) == ("GET", "/pets/{petId}")
    assert resolve_operation(analysis, "GET /pets/{petId}") == by_id
    assert resolve_operation(analysis, "get /pets/{petId}") == by_id
    assert resolve_operation(analysis, "DELETE /pets/{petId}") is None
    assert resolve_operation(analysis, "nothing") is None


def test_an_unknown_operation_lists_some_that_exist() -> None:
    assert found(interaction("getDog", "/pets/7")) == {
        "/interactions/0/operation": (
            "The operation 'getDog' is not in the provider's OpenAPI document; it has listPets"
            " (GET /pets), createPet (POST /pets), getPet (GET /pets/{petId}), getCertificate"
            " (GET /pets/{petId}/certificate), getCard (GET /pets/{petId}/card) and 1 more."
            ' Name an operationId or write "METHOD /path/{template}".'
        )
    }
    assert "/interactions/0/operation" in found(interaction("DELETE /pets/{petId}", "/pets/7"))


def test_the_method_must_be_the_operations() -> None:
    assert found(interaction("getPet", "/pets/7", method="POST")) == {
        "/interactions/0/request/method": (
            "The method is POST, but getPet is GET /pets/{petId} (getPet)."
        )
    }


def test_the_path_must_fit_the_template() -> None:
    assert found(interaction("getPet", "/pets/7/extra")) == {
        "/interactions/0/request/path": (
            "The path /pets/7/extra does not fit the path template /pets/{petId} of"
            " GET /pets/{petId} (getPet)."
        )
    }


def test_match_path() -> None:
    assert match_path("/pets/{petId}", "/pets/7") == {"petId": "7"}
    assert match_path("/pets/{petId}", "/pets/%E8%8A%B1") == {"petId": "花"}
    assert match_path("/files/{name}.{ext}", "/files/a.b.json") == {"name": "a", "ext": "b.json"}
    assert match_path("/a/{x}/b", "/a/1/b") == {"x": "1"}
    assert match_path("/a/{x}", "/a/") is None
    assert match_path("/a/{x}", "/b/1") is None
    assert match_path("/a", "/a/") is None
    assert match_path("/a b", "/a%20b") == {}


def test_path_parameters_are_percent_decoded_and_validated() -> None:
    assert check(interaction("getPet", "/pets/%37")) == []
    assert found(interaction("getPet", "/pets/0")) == {
        "/interactions/0/request/path": "The path parameter 'petId' (0) must be at least 1."
    }
    assert found(interaction("getPet", "/pets/abc")) == {
        "/interactions/0/request/path": "The path parameter 'petId' (abc) must be an integer."
    }


# --- requests: errors point into the contract ---------------------------------------------------


def test_query_and_header_errors() -> None:
    assert found(
        interaction(
            "listPets",
            "/pets",
            query={"limit": "many", "status": "gone"},
            headers={"X-Trace": "ABC"},
        )
    ) == {
        "/interactions/0/request/query/limit": "The query parameter 'limit' must be an integer.",
        "/interactions/0/request/query/status": (
            'The query parameter \'status\' must be one of "available", "sold".'
        ),
        "/interactions/0/request/headers/X-Trace": (
            "The header 'X-Trace' must match the pattern ^[a-z0-9]+$."
        ),
    }


def test_json_body_errors() -> None:
    assert found(
        interaction(
            "createPet",
            "/pets",
            method="POST",
            json={"name": 1, "species": "fish", "owner": {"phone": "12"}},
            status=201,
        )
    ) == {
        "/interactions/0/request/json/name": "The request body's $.name must be a string.",
        "/interactions/0/request/json/species": (
            'The request body\'s $.species must be one of "cat", "dog".'
        ),
        "/interactions/0/request/json/owner/name": "The request body's $.owner.name is required.",
        "/interactions/0/request/json/owner/phone": (
            "The request body's $.owner.phone must match the pattern ^1[3-9][0-9]{9}$."
        ),
    }


def test_form_body_errors() -> None:
    assert found(
        interaction(
            "createAdoption",
            "/adoptions",
            method="POST",
            form={"pet_id": "seven", "adopter": "李"},
            status=201,
        )
    ) == {
        "/interactions/0/request/form/pet_id": "The form field 'pet_id' must be an integer.",
        "/interactions/0/request/form/adopter": (
            "The form field 'adopter' must be at least 2 characters long."
        ),
    }


def test_missing_and_undeclared_bodies() -> None:
    assert found(interaction("createPet", "/pets", method="POST", status=201)) == {
        "/interactions/0/request": "A request body is required."
    }
    assert found(
        interaction("createPet", "/pets", method="POST", form={"name": "a"}, status=201)
    ) == {
        "/interactions/0/request/form": (
            "The media type application/x-www-form-urlencoded is not accepted; this operation"
            " takes application/json."
        )
    }
    assert found(
        interaction(
            "createPet",
            "/pets",
            method="POST",
            json={"name": "a"},
            content_type="text/plain",
            status=201,
        )
    ) == {
        "/interactions/0/request/content_type": (
            "The media type text/plain is not accepted; this operation takes application/json."
        )
    }


# --- statuses -----------------------------------------------------------------------------------


def test_documented_status() -> None:
    assert documented_status(("200", "4XX", "default"), 200) == "200"
    assert documented_status(("200", "4XX", "default"), 404) == "4XX"
    assert documented_status(("200", "4xx"), 409) == "4xx"
    assert documented_status(("200", "default"), 503) == "default"
    assert documented_status(("200",), 201) is None


def test_the_status_must_be_documented() -> None:
    assert found(interaction("getPet", "/pets/7", status=500)) == {
        "/interactions/0/response/status": (
            "GET /pets/{petId} (getPet) does not document the status 500; it documents 200, 404."
        )
    }
    # a range and default document statuses too
    ranged = interaction(
        "createPet", "/pets", method="POST", json={"name": "a"}, status=409, body={"code": "E409"}
    )
    defaulted = interaction("listPets", "/pets", status=503, ident="two", body={"code": "E503"})
    assert check(ranged, defaulted) == []


# --- response bodies: a subset of the schema ----------------------------------------------------


def test_a_subset_of_the_schema_fits() -> None:
    # Pet requires id, price and tags; a contract that lists fewer fields is fine
    assert check(interaction("getPet", "/pets/7", body={"name": "花花"})) == []
    assert check(interaction("getPet", "/pets/7", body={})) == []
    # fields the contract lists inside arrays and allOf members too
    body = {"vaccinations": [{"name": "rabies"}], "owner": {"phone": "13812345678"}}
    assert check(interaction("getPet", "/pets/7", body=body)) == []


def test_body_errors_point_into_the_matcher_tree() -> None:
    body = {
        "id": "7",
        "price": {"$type": "string"},
        "tags": [1],
        "vaccinations": {"$each": {"given_on": {"$type": "string"}}},
        "attributes": {"colour": 1},
        "born_on": {"$anyOf": [{"$type": "integer", "example": 5}, {"$type": "null"}]},
    }
    schema = "according to the document's schema for 200 application/json"
    assert found(interaction("getPet", "/pets/7", body=body)) == {
        "/interactions/0/response/body/id": (
            f"In the expected body, $.id must be an integer {schema}."
        ),
        "/interactions/0/response/body/price": (
            f"In the expected body, $.price must be a number {schema}."
        ),
        "/interactions/0/response/body/tags/0": (
            f"In the expected body, $.tags[0] must be a string {schema}."
        ),
        "/interactions/0/response/body/vaccinations/$each/given_on": (
            "In the expected body, $.vaccinations[0].given_on must be a date (YYYY-MM-DD)"
            f" {schema}; the value is a matcher's default example, so give the matcher an"
            " example that fits."
        ),
        "/interactions/0/response/body/attributes/colour": (
            f"In the expected body, $.attributes.colour must be a string {schema}."
        ),
        "/interactions/0/response/body/born_on/$anyOf/0": (
            f"In the expected body, $.born_on must be a string or null {schema}."
        ),
    }


def test_explicit_examples_and_undeclared_fields() -> None:
    body = {
        "total": 1,
        "extra": True,
        "pets": {"$each": {"id": {"$type": "integer"}}, "example": [{"id": "x"}]},
    }
    schema = "according to the document's schema for 200 application/json"
    assert found(interaction("listPets", "/pets", body=body)) == {
        "/interactions/0/response/body/extra": (
            f"In the expected body, $.extra is not allowed {schema}."
        ),
        "/interactions/0/response/body/pets/example/0/id": (
            f"In the expected body, $.pets[0].id must be an integer {schema}."
        ),
    }


def test_json_bodies_need_a_json_media_type() -> None:
    assert found(interaction("getCertificate", "/pets/7/certificate", body={"a": 1})) == {
        "/interactions/0/response/body": (
            "GET /pets/{petId}/certificate (getCertificate) documents no JSON body for status"
            " 200 (it documents application/xml), but the contract expects one."
        )
    }
    assert found(interaction("getCard", "/pets/7/card", status=204, body=None)) == {
        "/interactions/0/response/body": (
            "GET /pets/{petId}/card (getCard) documents no JSON body for status 204 (it"
            " documents no body), but the contract expects one."
        )
    }
    assert check(interaction("getCard", "/pets/7/card", status=204)) == []


def test_xml_answers_need_an_xml_media_type() -> None:
    assert check(interaction("getCertificate", "/pets/7/certificate", xml={"./a": "x"})) == []
    assert found(interaction("getCard", "/pets/7/card", xml={"./a": "x"})) == {
        "/interactions/0/response/xml": (
            "GET /pets/{petId}/card (getCard) documents no XML body for status 200 (it documents"
            " text/plain), but the contract expects XML."
        )
    }


def test_problems_name_their_interaction() -> None:
    problems = check(
        interaction("getPet", "/pets/7", ident="fine"),
        interaction("getPet", "/pets/7", ident="broken", status=201),
    )
    assert [(p.interaction, p.pointer) for p in problems] == [
        ("broken", "/interactions/1/response/status")
    ]


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
def test_both_openapi_versions(version: str) -> None:
    document = pets_document()
    document["openapi"] = version
    pet = document["components"]["schemas"]["Pet"]["allOf"][1]["properties"]
    pet["born_on"] = (
        {"type": "string", "nullable": True, "format": "date"}
        if version == "3.0.3"
        else {"type": ["string", "null"], "format": "date"}
    )
    contract = contract_with(interaction("getPet", "/pets/7", body={"born_on": None, "price": "x"}))
    assert [p.pointer for p in check_contract(contract, document)] == [
        "/interactions/0/response/body/price"
    ]
