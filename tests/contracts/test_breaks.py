"""Breaking changes between two versions of a provider's document, for a recorded contract."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.contracts import Break, Contract, find_breaks, load_contract
from app.services.openapi import parse_document
from app.simulators import openapi_document
from tests.contracts.support import PETS_CONTRACT, contract_with, interaction, pets_document

Doc = dict[str, Any]


def pets_contract() -> Contract:
    return load_contract(PETS_CONTRACT)


def breaks_after(change: Callable[[Doc], None], contract: Contract | None = None) -> list[Break]:
    new = pets_document()
    change(new)
    return find_breaks(contract or pets_contract(), pets_document(), new)


def pet_properties(document: Doc) -> dict[str, Any]:
    properties = document["components"]["schemas"]["Pet"]["allOf"][1]["properties"]
    assert isinstance(properties, dict)
    return properties


def test_the_same_document_breaks_nothing() -> None:
    assert find_breaks(pets_contract(), pets_document(), pets_document()) == []


def test_compatible_changes_break_nothing() -> None:
    def change(document: Doc) -> None:
        properties = pet_properties(document)
        properties["colour"] = {"type": "string"}  # a new field
        properties["price"] = {"type": ["number", "null"]}  # still admits a number
        properties["weight"] = {"type": "number"}  # integer → number
        document["paths"]["/pets"]["get"]["parameters"].append(
            {"name": "region", "in": "query", "schema": {"type": "string"}}  # optional
        )
        document["paths"]["/pets/{petId}"]["delete"] = {
            "operationId": "deletePet",
            "responses": {"204": {"description": "gone"}},
        }

    contract = contract_with(
        interaction("getPet", "/pets/7", body={"price": 1.5, "weight": 3, "tags": []})
    )
    assert breaks_after(change, contract) == []


def test_integer_to_number_is_not_a_break() -> None:
    contract = contract_with(
        interaction("getPet", "/pets/7", body={"id": {"$type": "integer"}, "weight": 3})
    )

    def change(document: Doc) -> None:
        pet_properties(document)["id"] = {"type": "number"}
        pet_properties(document)["weight"] = {"type": "number"}

    assert breaks_after(change, contract) == []


# --- operations ---------------------------------------------------------------------------------


def test_a_removed_operation() -> None:
    found = breaks_after(lambda d: d["paths"]["/pets/{petId}"].pop("get"))
    assert found == [
        Break(
            "pet-found",
            "getPet",
            "GET /pets/{petId} (getPet) was removed from the document.",
            "/paths/~1pets~1{petId}",
        ),
        Break(
            "pet-missing",
            "GET /pets/{petId}",
            "GET /pets/{petId} (getPet) was removed from the document.",
            "/paths/~1pets~1{petId}",
        ),
    ]


def test_a_removed_path() -> None:
    found = breaks_after(lambda d: d["paths"].pop("/adoptions"))
    assert found == [
        Break(
            "adoption",
            "createAdoption",
            "POST /adoptions (createAdoption) was removed from the document.",
            "/paths",
        )
    ]


def test_an_operation_id_that_moved() -> None:
    def change(document: Doc) -> None:
        document["paths"]["/pets"]["get"]["operationId"] = "listAllPets"
        document["paths"]["/pets/{petId}/card"]["get"]["operationId"] = "listPets"

    assert breaks_after(change) == [
        Break(
            "pets-listed",
            "listPets",
            "listPets was GET /pets, is now GET /pets/{petId}/card.",
            "/paths/~1pets~1{petId}~1card/get",
        )
    ]


# --- response fields ----------------------------------------------------------------------------


def test_a_retyped_field() -> None:
    found = breaks_after(lambda d: pet_properties(d).update(price={"type": "string"}))
    assert found == [
        Break(
            "pet-found",
            "getPet",
            "GET /pets/{petId} (getPet), 200: $.price was number, is now string.",
            "/components/schemas/Pet/allOf/1/properties/price",
        )
    ]


def test_a_removed_field() -> None:
    found = breaks_after(lambda d: pet_properties(d).pop("tags"))
    assert found == [
        Break(
            "pet-found",
            "getPet",
            "GET /pets/{petId} (getPet), 200: $.tags is no longer declared.",
            "/components/schemas/Pet/allOf/1/properties",
        )
    ]


def test_a_nested_field_through_a_ref() -> None:
    found = breaks_after(
        lambda d: d["components"]["schemas"]["Owner"]["properties"].update(name={"type": "integer"})
    )
    assert found == [
        Break(
            "pet-found",
            "getPet",
            "GET /pets/{petId} (getPet), 200: $.owner.name was string, is now integer.",
            "/components/schemas/Owner/properties/name",
        )
    ]


def test_fields_inside_arrays() -> None:
    def change(document: Doc) -> None:
        document["components"]["schemas"]["PetList"]["properties"]["pets"]["items"] = {
            "type": "object",
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
        }

    messages = [b.message for b in breaks_after(change)]
    assert messages == [
        "GET /pets (listPets), 200: $.pets[*].id was integer, is now string.",
        "GET /pets (listPets), 200: $.pets[*].vaccinations is no longer declared.",
    ]


def test_a_literal_array_element() -> None:
    contract = contract_with(
        interaction("getPet", "/pets/7", body={"vaccinations": [{"name": "rabies"}]})
    )

    def change(document: Doc) -> None:
        items = pet_properties(document)["vaccinations"]["items"]
        items["properties"]["name"] = {"type": "integer"}

    assert [b.message for b in breaks_after(change, contract)] == [
        "GET /pets/{petId} (getPet), 200: $.vaccinations[0].name was string, is now integer."
    ]


def test_a_removed_parent_is_one_break() -> None:
    found = breaks_after(lambda d: d["components"]["schemas"]["NewPet"]["properties"].pop("owner"))
    assert [b.message for b in found] == [
        "GET /pets/{petId} (getPet), 200: $.owner is no longer declared."
    ]


def test_additional_properties_declare_any_key() -> None:
    contract = contract_with(
        interaction("getPet", "/pets/7", body={"attributes": {"colour": "white"}})
    )

    def keep_declared(document: Doc) -> None:
        pet_properties(document)["attributes"] = {"type": "object", "additionalProperties": True}

    assert breaks_after(keep_declared, contract) == []

    def retype(document: Doc) -> None:
        pet_properties(document)["attributes"]["additionalProperties"] = {"type": "integer"}

    assert [b.message for b in breaks_after(retype, contract)] == [
        "GET /pets/{petId} (getPet), 200: $.attributes.colour was string, is now integer."
    ]

    def undeclare(document: Doc) -> None:
        pet_properties(document)["attributes"] = {"type": "object"}

    assert [b.message for b in breaks_after(undeclare, contract)] == [
        "GET /pets/{petId} (getPet), 200: $.attributes.colour is no longer declared."
    ]


def test_one_of_and_any_of_are_looked_through() -> None:
    contract = contract_with(interaction("getPet", "/pets/7", body={"price": 1.5, "name": "x"}))

    def change(document: Doc) -> None:
        schemas = document["components"]["schemas"]
        schemas["Pet"] = {
            "oneOf": [
                {"$ref": "#/components/schemas/NewPet"},
                {"type": "object", "properties": {"price": {"anyOf": [{"type": "string"}]}}},
            ]
        }

    assert [b.message for b in breaks_after(change, contract)] == [
        "GET /pets/{petId} (getPet), 200: $.price was number, is now string."
    ]


def test_matcher_types_count() -> None:
    contract = contract_with(
        interaction(
            "getPet",
            "/pets/7",
            body={
                "name": {"$regex": "^x", "example": "x"},
                "born_on": {"$anyOf": [{"$type": "null"}, {"$type": "string"}]},
                "tags": {"$each": {"$type": "string"}},
            },
        )
    )

    def change(document: Doc) -> None:
        document["components"]["schemas"]["NewPet"]["properties"]["name"] = {"type": "integer"}
        pet_properties(document)["born_on"] = {"type": "string"}  # null no longer admitted
        pet_properties(document)["tags"] = {"type": "object"}

    assert [b.message for b in breaks_after(change, contract)] == [
        "GET /pets/{petId} (getPet), 200: $.name was string, is now integer.",
        "GET /pets/{petId} (getPet), 200: $.born_on was string or null, is now string.",
        "GET /pets/{petId} (getPet), 200: $.tags was array, is now object.",
    ]


def test_a_status_no_longer_documented_and_a_body_no_longer_json() -> None:
    found = breaks_after(lambda d: d["paths"]["/pets/{petId}"]["get"]["responses"].pop("404"))
    assert found == [
        Break(
            "pet-missing",
            "GET /pets/{petId}",
            "GET /pets/{petId} (getPet), 404: the status is no longer documented.",
            "/paths/~1pets~1{petId}/get/responses",
        )
    ]

    def text_only(document: Doc) -> None:
        document["paths"]["/pets/{petId}"]["get"]["responses"]["200"]["content"] = {
            "text/plain": {"schema": {"type": "string"}}
        }

    assert [b.message for b in breaks_after(text_only)] == [
        "GET /pets/{petId} (getPet), 200: the response no longer has a JSON body."
    ]


# --- requests -----------------------------------------------------------------------------------


def test_a_newly_required_query_parameter() -> None:
    def change(document: Doc) -> None:
        parameters = document["paths"]["/pets"]["get"]["parameters"]
        parameters.append(
            {"name": "region", "in": "query", "required": True, "schema": {"type": "string"}}
        )
        parameters[0]["required"] = True  # limit: sent by the contract, so not a break

    assert breaks_after(change) == [
        Break(
            "pets-listed",
            "listPets",
            "GET /pets (listPets): the query parameter 'region' is new and required.",
            "/paths/~1pets/get/parameters/3",
        )
    ]
    contract = contract_with(interaction("listPets", "/pets"))
    assert [b.message for b in breaks_after(change, contract)] == [
        "GET /pets (listPets): the query parameter 'limit' is now required.",
        "GET /pets (listPets): the query parameter 'region' is new and required.",
    ]


def test_a_newly_required_header() -> None:
    def change(document: Doc) -> None:
        document["paths"]["/pets"]["get"]["parameters"][2]["required"] = True

    assert breaks_after(change) == []  # the contract sends X-Trace
    contract = contract_with(interaction("listPets", "/pets"))
    assert [b.message for b in breaks_after(change, contract)] == [
        "GET /pets (listPets): the header parameter 'x-trace' is now required."
    ]


def test_newly_required_body_fields() -> None:
    def change(document: Doc) -> None:
        schemas = document["components"]["schemas"]
        schemas["NewPet"]["required"] = ["name", "species", "colour"]
        schemas["Owner"]["required"] = ["name", "email"]

    found = [(b.interaction, b.message, b.pointer) for b in breaks_after(change)]
    assert found == [
        (
            "pet-created",
            "POST /pets (createPet): the request body field $.colour is now required.",
            "/components/schemas/NewPet/required",
        ),
        (
            "pet-created",
            "POST /pets (createPet): the request body field $.owner.email is now required.",
            "/components/schemas/Owner/required",
        ),
        (
            "pet-refused",
            "POST /pets (createPet): the request body field $.species is now required.",
            "/components/schemas/NewPet/required",
        ),
        (
            "pet-refused",
            "POST /pets (createPet): the request body field $.colour is now required.",
            "/components/schemas/NewPet/required",
        ),
    ]


def test_newly_required_form_field() -> None:
    def change(document: Doc) -> None:
        schema = document["paths"]["/adoptions"]["post"]["requestBody"]["content"][
            "application/x-www-form-urlencoded"
        ]["schema"]
        schema["properties"]["phone"] = {"type": "string"}
        schema["required"].append("phone")

    assert [b.message for b in breaks_after(change)] == [
        "POST /adoptions (createAdoption): the request body field $.phone is now required."
    ]


def test_a_newly_required_body() -> None:
    def change(document: Doc) -> None:
        document["paths"]["/pets"]["get"]["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }

    assert breaks_after(change) == [
        Break(
            "pets-listed",
            "listPets",
            "GET /pets (listPets): a request body is now required.",
            "/paths/~1pets/get/requestBody",
        )
    ]


# --- a realistic pair of documents --------------------------------------------------------------


def test_the_city_simulator_with_a_retyped_balance() -> None:
    text = openapi_document("430100")
    old = parse_document(text.encode("utf-8"))
    new = parse_document(text.encode("utf-8"))
    new["components"]["schemas"]["FundAccount"]["properties"]["balance"] = {"type": "string"}
    contract = contract_with(
        interaction(
            "getFundAccount_430100",
            "/gjj/accounts/430121199912124865",
            body={"balance": {"$type": "number", "example": 1.5}},
        )
    )
    assert find_breaks(contract, old, new) == [
        Break(
            "one",
            "getFundAccount_430100",
            "GET /gjj/accounts/{id_number} (getFundAccount_430100), 200: $.balance was number,"
            " is now string.",
            "/components/schemas/FundAccount/properties/balance",
        )
    ]


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
def test_nullable_in_openapi_30(version: str) -> None:
    contract = contract_with(interaction("getPet", "/pets/7", body={"price": None}))
    old = pets_document()
    old["openapi"] = version
    if version == "3.0.3":
        pet_properties(old)["price"] = {"type": "number", "nullable": True}
    else:
        pet_properties(old)["price"] = {"type": ["number", "null"]}
    new = pets_document()
    new["openapi"] = version
    assert [b.message for b in find_breaks(contract, old, new)] == [
        "GET /pets/{petId} (getPet), 200: $.price was number or null, is now number."
    ]
