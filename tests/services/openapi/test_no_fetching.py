"""Remote and file $refs are reported, and provably never fetched or opened."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from jsonschema_path import SchemaPath

from app.services.openapi import FieldError, analyse, compile_validator
from app.services.openapi.spec_validation import NEVER_FETCH, FetchRefused

PET = b'{"Pet": {"type": "object", "properties": {"name": {"type": "string"}}}}'


class _Recorder(BaseHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(PET)))
        self.end_headers()
        self.wfile.write(PET)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def schema_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that serves a schema and records every request it gets."""
    requests: list[str] = []
    handler = type("Handler", (_Recorder,), {"requests": requests})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def document_referring_to(target: str, version: str) -> dict[str, Any]:
    """A document with the reference in every place a reference can be."""
    ref = {"$ref": f"{target}#/Pet"}
    document: dict[str, Any] = {
        "openapi": version,
        "info": {"title": "远程引用", "version": "1"},
        "paths": {
            "/pets/{id}": {
                "parameters": [dict(ref)],
                "get": {
                    "operationId": "getPet",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": dict(ref)}
                    ],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": dict(ref)}},
                        },
                        "404": dict(ref),
                    },
                },
                "post": {
                    "operationId": "addPet",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "requestBody": dict(ref),
                    "responses": {"201": {"description": "created"}},
                },
            },
            "/remote": dict(ref),
        },
        "components": {
            "schemas": {
                "Pet": {"allOf": [dict(ref), {"properties": {"owner": dict(ref)}}]},
                "Default": {"type": "object", "default": {"a": 1}, "properties": {"a": dict(ref)}},
            }
        },
    }
    if version.startswith("3.1"):
        document["components"]["schemas"]["Dynamic"] = {"$dynamicRef": f"{target}#meta"}
    return document


EXPECTED_POINTERS = [
    "/paths/~1pets~1{id}/parameters/0/$ref",
    "/paths/~1pets~1{id}/get/parameters/0/schema/$ref",
    "/paths/~1pets~1{id}/get/responses/200/content/application~1json/schema/$ref",
    "/paths/~1pets~1{id}/get/responses/404/$ref",
    "/paths/~1pets~1{id}/post/requestBody/$ref",
    "/paths/~1remote/$ref",
    "/components/schemas/Pet/allOf/0/$ref",
    "/components/schemas/Pet/allOf/1/properties/owner/$ref",
    "/components/schemas/Default/properties/a/$ref",
]


def test_the_recording_server_records(schema_server: tuple[str, list[str]]) -> None:
    """The control: a real fetch is seen by the server."""
    url, requests = schema_server
    with urllib.request.urlopen(f"{url}/control.json") as response:  # noqa: S310 - local
        assert response.read() == PET
    assert requests == ["/control.json"]


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
def test_http_refs_are_reported_and_not_fetched(
    version: str, schema_server: tuple[str, list[str]], no_network: list[str]
) -> None:
    url, requests = schema_server
    target = f"{url}/schemas/pet.json"
    analysis = analyse(document_referring_to(target, version))
    remote = [p for p in analysis.problems if "points outside this document" in p.message]
    expected = list(EXPECTED_POINTERS)
    if version == "3.1.0":
        expected.append("/components/schemas/Dynamic/$dynamicRef")
    assert [p.pointer for p in remote] == expected
    assert remote[0].message == (
        f"The $ref '{target}#/Pet' points outside this document; remote and file references"
        " are not followed. Put the definition under components and refer to it with"
        " '#/components/...'."
    )
    assert analysis.warnings == []  # nothing failed half-way while checking
    assert requests == []
    assert no_network == []


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
@pytest.mark.parametrize("form", ["relative", "dot-relative", "absolute", "file-uri"])
def test_file_refs_are_reported_and_not_opened(
    version: str,
    form: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    watch_opens: Callable[[Path], list[str]],
    no_network: list[str],
) -> None:
    schema_file = tmp_path / "pet.json"
    schema_file.write_bytes(PET)
    monkeypatch.chdir(tmp_path)
    opened = watch_opens(schema_file)
    target = {
        "relative": "pet.json",
        "dot-relative": "./pet.json",
        "absolute": str(schema_file),
        "file-uri": schema_file.as_uri(),
    }[form]
    analysis = analyse(document_referring_to(target, version))
    pointers = [p.pointer for p in analysis.problems if "points outside" in p.message]
    assert pointers[: len(EXPECTED_POINTERS)] == EXPECTED_POINTERS
    assert opened == []


def test_the_resolver_handlers_refuse_every_scheme(
    schema_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, requests = schema_server
    schema_file = tmp_path / "pet.json"
    schema_file.write_bytes(PET)
    for target in (f"{url}/pet.json", schema_file.as_uri(), "ftp://example.com/pet.json"):
        path = SchemaPath.from_dict(
            {"a": {"$ref": f"{target}#/Pet"}}, base_uri="urn:test", handlers=NEVER_FETCH
        )
        with pytest.raises(Exception) as caught:  # noqa: PT011 - wrapped by referencing
            (path / "a").read_value()
        chain: list[BaseException] = []
        error: BaseException | None = caught.value
        while error is not None:
            chain.append(error)
            error = error.__cause__ or error.__context__
        assert any(isinstance(e, FetchRefused) for e in chain), chain
    assert requests == []


def test_compiled_validators_cannot_fetch_either(
    schema_server: tuple[str, list[str]], no_network: list[str]
) -> None:
    """Even a document that skipped analysis cannot make request validation fetch."""
    url, requests = schema_server
    document = document_referring_to(f"{url}/pet.json", "3.1.0")
    document["paths"]["/pets/{id}"]["parameters"] = []
    analysis = analyse(document)
    (get,) = [op for op in analysis.operations if op.method == "GET"]
    assert analysis.version is not None
    validator = compile_validator(document, get, analysis.version)
    errors = validator.validate(
        path_params={"id": "1"}, query=[], headers={}, content_type=None, body=b""
    )
    assert errors == [FieldError("/path/id", "could not be validated against the schema")]
    assert requests == []
