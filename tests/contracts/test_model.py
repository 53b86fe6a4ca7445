"""Loading contract files: the model, and every problem of a malformed file with its pointer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.contracts import (
    Contract,
    ContractFileError,
    ContractProblem,
    ProviderState,
    RequestSpec,
    ResponseSpec,
    load_contract,
    parse_contract,
)
from app.contracts.model import contract_schema, provider_name_of
from tests.contracts.support import FILES, PETS_CONTRACT, PETS_OPENAPI, pets_contract_data


def problems_of(data: Any, source: str = "t.yaml") -> list[ContractProblem]:
    with pytest.raises(ContractFileError) as caught:
        parse_contract(data, source=source)
    return caught.value.problems


def pointers(data: Any) -> dict[str, str]:
    return {p.pointer: p.message for p in problems_of(data)}


# --- a good file --------------------------------------------------------------------------------


def test_loads_the_pets_contract() -> None:
    contract = load_contract(PETS_CONTRACT)
    assert isinstance(contract, Contract)
    assert contract.path == PETS_CONTRACT
    assert contract.format == 1
    assert contract.name == "municipal/pets"
    assert contract.description == "宠物登记 (a small provider for the tests)"
    assert contract.openapi_path == PETS_OPENAPI
    assert contract.openapi_sha256 == (
        "7970eee44c78f969032017374041bde61ed93a4a2814791ff39cf634c2872bcc"
    )
    assert [i.id for i in contract.interactions] == [
        "pet-found",
        "pet-missing",
        "pets-listed",
        "pet-created",
        "pet-refused",
        "adoption",
        "certificate",
    ]
    assert [i.pointer for i in contract.interactions][:3] == [
        "/interactions/0",
        "/interactions/1",
        "/interactions/2",
    ]

    found = contract.interaction("pet-found")
    assert found.operation == "getPet"
    assert found.description == "查询一只登记过的宠物"
    assert found.given == ProviderState("a pet exists", {"pet_id": 7})
    assert found.request == RequestSpec(
        method=None,
        path="/pets/7",
        query=(),
        headers={"Accept": "application/json"},
        body_kind="none",
        body=None,
        content_type=None,
    )
    assert found.response.status == 200
    assert found.response.has_body
    assert isinstance(found.response.body, dict)
    assert found.response.body["id"] == 7
    assert found.response.body["born_on"]["$anyOf"][0] == {"$type": "null"}  # YAML's null
    assert found.response.headers["Content-Type"]["$regex"] == "^application/json"
    assert found.response.xml is None

    listed = contract.interaction("pets-listed")
    assert listed.given is None
    assert listed.request.query == (("limit", "2"), ("status", "available"))

    adoption = contract.interaction("adoption")
    assert adoption.request.body_kind == "form"
    assert not adoption.response.has_body
    assert adoption.response.body is None

    certificate = contract.interaction("certificate")
    assert certificate.response.xml == {
        "./Pet/Name": "花花",
        ".//Fee": {"$regex": "^[0-9.]+$", "example": "12.5"},
    }
    assert not certificate.response.has_body


def test_unknown_interaction_is_a_key_error() -> None:
    contract = load_contract(PETS_CONTRACT)
    with pytest.raises(KeyError, match="no-such"):
        contract.interaction("no-such")


def test_json_is_yaml_and_a_mapping_works_too() -> None:
    data = pets_contract_data()
    from_json = parse_contract(json.dumps(data, ensure_ascii=False), source="x", base_dir=FILES)
    from_mapping = parse_contract(data, source="x", base_dir=FILES)
    from_bytes = parse_contract(
        json.dumps(data, ensure_ascii=False).encode("utf-8"), source="x", base_dir=FILES
    )
    assert from_json == from_mapping == from_bytes
    assert from_json.path is None  # not loaded from a file
    assert parse_contract(data, source="x", base_dir=None).openapi_path is None


def test_json_null_body_differs_from_no_body() -> None:
    data = pets_contract_data()
    data["interactions"][0]["response"] = {"status": 200, "body": None}
    contract = parse_contract(data, source="x")
    response = contract.interactions[0].response
    assert response.has_body
    assert response.body is None


def test_yaml_reads_dates_and_yes_no_as_text() -> None:
    text = PETS_CONTRACT.read_text("utf-8").replace(
        "json: {name: 花花, species: cat,",
        "json: {name: 花花, born: 2020-05-01, on: yes, species: cat,",
    )
    contract = parse_contract(text, source="x")
    body = contract.interaction("pet-created").request.body
    assert body["born"] == "2020-05-01"
    assert body["on"] == "yes"


def test_query_lists_become_repeated_pairs() -> None:
    data = pets_contract_data()
    data["interactions"][2]["request"]["query"] = {"tag": ["a", "b"], "limit": "1"}
    contract = parse_contract(data, source="x")
    assert contract.interactions[2].request.query == (("tag", "a"), ("tag", "b"), ("limit", "1"))


# --- RequestSpec --------------------------------------------------------------------------------


def test_encoded_bodies_and_content_types() -> None:
    json_request = RequestSpec("POST", "/a", body_kind="json", body={"name": "张三", "n": [1, 2]})
    assert json_request.encoded_body() == '{"name":"张三","n":[1,2]}'.encode()
    assert json_request.effective_content_type() == "application/json"

    form = RequestSpec("POST", "/a", body_kind="form", body={"name": "张 三", "tag": ["a", "b"]})
    assert form.encoded_body() == b"name=%E5%BC%A0+%E4%B8%89&tag=a&tag=b"
    assert form.effective_content_type() == "application/x-www-form-urlencoded"

    xml = RequestSpec("POST", "/a", body_kind="xml", body="<a>张</a>")
    assert xml.encoded_body() == "<a>张</a>".encode()
    assert xml.effective_content_type() == "application/xml"

    text = RequestSpec("POST", "/a", body_kind="text", body="hi", content_type="text/csv")
    assert text.encoded_body() == b"hi"
    assert text.effective_content_type() == "text/csv"

    explicit = RequestSpec(
        "POST", "/a", body_kind="json", body=1, content_type="application/merge-patch+json"
    )
    assert explicit.effective_content_type() == "application/merge-patch+json"

    none = RequestSpec("GET", "/a")
    assert none.encoded_body() == b""
    assert none.effective_content_type() is None


def test_response_spec_says_whether_a_body_is_expected() -> None:
    assert not ResponseSpec(204, {}, None, None, has_body=False).has_body
    assert ResponseSpec(200, {}, None, None, has_body=True).has_body


# --- malformed files ----------------------------------------------------------------------------


def test_yaml_syntax_error_names_the_line() -> None:
    path = FILES / "bad-yaml.contract.yaml"
    with pytest.raises(ContractFileError) as caught:
        load_contract(path)
    error = caught.value
    assert error.source == str(path)
    assert len(error.problems) == 1
    problem = error.problems[0]
    assert problem.pointer == ""
    assert problem.message.startswith("The YAML is not valid at line 7, column ")
    assert str(error) == f"{path}: {problem.message}"


def test_every_schema_violation_with_its_pointer() -> None:
    path = FILES / "violations.contract.yaml"
    with pytest.raises(ContractFileError) as caught:
        load_contract(path)
    found = {p.pointer: p.message for p in caught.value.problems}
    assert found == {
        "/openapi/sha256": "The sha256 must be 64 lower-case hexadecimal digits.",
        "/interactions/0/id": (
            'The interaction id "Pet_Found" is not valid: use lower-case letters, digits and'
            " '-', starting with a letter or digit."
        ),
        "/interactions/0/request": (
            "The request has more than one body (json and form); give at most one of json,"
            " form, xml or text."
        ),
        "/interactions/0/request/query/limit": (
            "'limit' must be a string, not an integer (quote it in YAML)."
        ),
        "/interactions/0/response/body/id/$type": (
            "'$type' must be one of string, number, integer, boolean, array, object, null;"
            ' not "int".'
        ),
        "/interactions/0/response/body/tags/$max": (
            "'$max' is not a field of this matcher; the fields are $each, $min, example."
        ),
        "/interactions/0/response/body/name": "The field 'example' is required in this matcher.",
        "/interactions/1": "The field 'request' is required in an interaction.",
        "/interactions/1/response": (
            "The response has both body and xml; a response expects a JSON body or XML, not both."
        ),
    }
    rendered = str(caught.value).splitlines()
    assert f"{path}: /openapi/sha256: The sha256 must be 64 lower-case hexadecimal digits." in (
        rendered
    )
    assert len(rendered) == len(found)
    assert all("is not valid under" not in line and "{'" not in line for line in rendered)


def test_duplicate_interaction_ids() -> None:
    with pytest.raises(ContractFileError) as caught:
        load_contract(FILES / "duplicate-ids.contract.yaml")
    assert caught.value.problems == [
        ContractProblem(
            "/interactions/1/id",
            "The interaction id 'pet-found' is already used by /interactions/0; ids must be"
            " unique in a file.",
        )
    ]


def test_provider_must_be_named_like_the_file() -> None:
    with pytest.raises(ContractFileError) as caught:
        load_contract(FILES / "misnamed.contract.yaml")
    assert caught.value.problems == [
        ContractProblem(
            "/provider",
            "The provider is 'pets', but the file is named for 'misnamed'"
            " (misnamed.contract.yaml); a contract file is named <provider>.contract.yaml.",
        )
    ]
    # without a file there is no name to compare with
    text = (FILES / "misnamed.contract.yaml").read_text("utf-8")
    assert parse_contract(text, source="x").provider == "pets"


def test_provider_name_of() -> None:
    assert provider_name_of(Path("a/changsha.contract.yaml")) == "changsha"
    assert provider_name_of(Path("changsha.contract.json")) == "changsha"
    assert provider_name_of(Path("changsha.yaml")) == "changsha"


def test_unknown_format_version() -> None:
    with pytest.raises(ContractFileError) as caught:
        load_contract(FILES / "future.contract.yaml")
    assert caught.value.problems == [
        ContractProblem(
            "/format", "Contract format 2 is not known here; this gateway reads format 1."
        )
    ]


def test_a_missing_file() -> None:
    with pytest.raises(ContractFileError, match="cannot be read"):
        load_contract(FILES / "nothing-here.contract.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "A contract file is a mapping; this one is empty."),
        ("- 1\n", "A contract file is a mapping; this one is a list."),
        (b"\xff\xfe", "The file is not UTF-8 text (byte offset 0)."),
    ],
)
def test_not_a_mapping(text: str | bytes, message: str) -> None:
    assert problems_of(text) == [ContractProblem("", message)]


def test_python_tags_are_refused() -> None:
    (problem,) = problems_of("format: 1\nx: !!python/object/apply:os.system [ls]\n")
    assert "could not determine a constructor" in problem.message
    assert problem.message.startswith("The YAML is not valid at line 2")


def test_alias_bombs_are_refused() -> None:
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for n in range(1, 9):
        previous = chr(ord("a") + n - 1)
        name = chr(ord("a") + n)
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]")
    (problem,) = problems_of("\n".join(lines))
    assert "too large" in problem.message


def test_missing_fields_and_unknown_fields() -> None:
    data = pets_contract_data()
    del data["openapi"]
    data["interactions"][0]["request"]["reqest"] = 1
    data["extra"] = True
    found = pointers(data)
    assert found[""] == "The field 'openapi' is required in the contract."
    assert found["/extra"].startswith("'extra' is not a field of the contract; the fields are")
    assert found["/interactions/0/request/reqest"].startswith(
        "'reqest' is not a field of a request"
    )


@pytest.mark.parametrize(
    ("change", "pointer", "message"),
    [
        (
            lambda i: i["request"].update(method="get"),
            "/interactions/0/request/method",
            "'method' must be one of GET, PUT, POST, DELETE, OPTIONS, HEAD, PATCH, TRACE;"
            ' not "get".',
        ),
        (
            lambda i: i["request"].update(path="pets/7?x=1"),
            "/interactions/0/request/path",
            "The path \"pets/7?x=1\" must start with '/' and carry no query string or fragment"
            " (put query parameters under query).",
        ),
        (
            lambda i: i["request"].update(text="hi"),
            "/interactions/0/request",
            "A 'text' body needs 'content_type' as well.",
        ),
        (
            lambda i: i["response"].update(status=700),
            "/interactions/0/response/status",
            "'status' must be at most 599.",
        ),
        (
            lambda i: i["response"]["headers"].update(X=1),
            "/interactions/0/response/headers/X",
            "'X' must be a string, not an integer (quote it in YAML).",
        ),
        (
            lambda i: i["response"]["headers"].update(X={"$anyOf": []}),
            "/interactions/0/response/headers/X/$anyOf",
            "'$anyOf' must have at least 1 item.",
        ),
        (
            lambda i: i["response"]["body"].update(x={"$min": 1}),
            "/interactions/0/response/body/x/$min",
            "'$min' is not a matcher keyword: a matcher object has $type, $regex, $anyOf or $each"
            " (with $min and example); other keys starting with $ are reserved.",
        ),
        (
            lambda i: i["response"]["body"].update(x={"$each": 1, "$min": -1}),
            "/interactions/0/response/body/x/$min",
            "'$min' must be at least 0.",
        ),
        (
            lambda i: i["response"]["body"].update(x={"$each": 1, "example": 3}),
            "/interactions/0/response/body/x/example",
            "'example' must be a list, not an integer.",
        ),
        (
            lambda i: i["response"]["body"].update(x={"$type": "integer", "example": 1.5}),
            "/interactions/0/response/body/x/example",
            "The example 1.5 is not an integer (the matcher's $type is integer).",
        ),
        (
            lambda i: i["response"]["body"].update(x={"$regex": "(", "example": "x"}),
            "/interactions/0/response/body/x/$regex",
            "The regex cannot be used: it is not a valid regular expression (missing ): ().",
        ),
        (
            lambda i: i["response"]["body"].update(
                x={"$anyOf": [1, {"$regex": "^a", "example": "b"}]}
            ),
            "/interactions/0/response/body/x/$anyOf/1/example",
            'The example "b" does not match the regex ^a.',
        ),
        (
            lambda i: i["response"]["body"].update(x={"$anyOf": [], "example": 1}),
            "/interactions/0/response/body/x/example",
            "'example' is not a field of this matcher; the fields are $anyOf.",
        ),
        (
            lambda i: i["response"].update(xml={"./a": {"$type": "array"}}),
            "/interactions/0/response/xml/.~1a/$type",
            "'$type' must be one of string, number, integer, boolean; not \"array\".",
        ),
        (
            lambda i: i["response"].update(xml={"./a": [1]}),
            "/interactions/0/response/xml/.~1a",
            "'./a' must be a string, a number or a boolean, not a list.",
        ),
        (
            lambda i: i.update(given={"params": {}}),
            "/interactions/0/given",
            "The field 'state' is required in given.",
        ),
    ],
)
def test_each_rule(change: Any, pointer: str, message: str) -> None:
    data = pets_contract_data()
    interaction = data["interactions"][0]
    if "xml" in str(pointer):
        interaction["response"].pop("body")
    change(interaction)
    found = pointers(data)
    assert found.get(pointer) == message, found


def test_no_interactions() -> None:
    data = pets_contract_data()
    data["interactions"] = []
    assert pointers(data) == {"/interactions": "'interactions' must have at least 1 item."}


def test_the_schema_is_shipped_in_the_package() -> None:
    schema = contract_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["format"] == {"description": "The format version.", "const": 1}


def test_the_published_schema_is_the_one_the_loader_uses() -> None:
    """contracts/contract.schema.json is for people and editors; app/contracts ships the same."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent.parent
    published = (root / "contracts" / "contract.schema.json").read_bytes()
    shipped = (root / "app" / "contracts" / "contract.schema.json").read_bytes()
    assert published == shipped, "copy app/contracts/contract.schema.json to contracts/"
