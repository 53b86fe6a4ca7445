"""parse_document: JSON or YAML in, a plain document out, or every reason it is refused."""

from __future__ import annotations

import json
import re
import tracemalloc

import pytest

from app.services.openapi import DocProblem, DocumentRefused, parse_document
from tests.services.openapi.conftest import DOCUMENTS, SERVICES, load

MINIMAL_YAML = b"openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n"
MINIMAL_JSON = b'{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}}'


def refusal(raw: bytes, **kwargs: object) -> list[DocProblem]:
    with pytest.raises(DocumentRefused) as caught:
        parse_document(raw, **kwargs)  # type: ignore[arg-type]
    assert caught.value.problems
    return caught.value.problems


def only_message(raw: bytes, **kwargs: object) -> str:
    problems = refusal(raw, **kwargs)
    assert len(problems) == 1, problems
    return problems[0].message


# --- formats ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (MINIMAL_JSON, "application/json"),
        (MINIMAL_JSON, "application/vnd.oai.openapi+json; charset=utf-8"),
        (MINIMAL_JSON, None),
        (MINIMAL_JSON, "text/plain"),  # not a format: sniffed
        (MINIMAL_YAML, "application/yaml"),
        (MINIMAL_YAML, "application/x-yaml"),
        (MINIMAL_YAML, "text/yaml"),
        (MINIMAL_YAML, "Application/YAML; charset=UTF-8"),
        (MINIMAL_YAML, None),
        (b"\xef\xbb\xbf" + MINIMAL_YAML, None),  # a UTF-8 byte order mark
        (b"  \n\t" + MINIMAL_JSON, None),
    ],
)
def test_json_and_yaml_are_read(raw: bytes, content_type: str | None) -> None:
    document = parse_document(raw, content_type=content_type)
    assert document["info"] == {"title": "t", "version": "1"}
    assert document["paths"] == {}


def test_json_is_json_even_when_it_is_also_yaml() -> None:
    # YAML would read the 1e3 as the string "1e3" (YAML 1.1); JSON reads a number.
    document = parse_document(MINIMAL_JSON.replace(b"{}}", b'{}, "x-n": 1e3}'))
    assert document["x-n"] == 1000.0


@pytest.mark.parametrize(
    "raw",
    [
        b"{openapi: 3.1.0, info: {title: t, version: '1'}, paths: {}}",
        b'{"openapi": "3.1.0", "paths": {},}',  # a trailing comma: YAML, not JSON
    ],
)
def test_a_brace_that_is_not_json_is_tried_as_yaml(raw: bytes) -> None:
    assert parse_document(raw)["openapi"] == "3.1.0"


def test_declared_json_is_not_read_as_yaml() -> None:
    message = only_message(MINIMAL_YAML, content_type="application/json")
    assert message.startswith("The JSON is not valid at line 1, column 1:")


@pytest.mark.parametrize("name", [s[0] for s in SERVICES])
def test_the_sample_documents_parse(name: str) -> None:
    document = load(name)
    assert document["openapi"].startswith(("3.0.", "3.1."))
    # Every value is plain JSON: the document survives a round trip unchanged.
    assert json.loads(json.dumps(document)) == document


# --- refusals -----------------------------------------------------------------------------------


def test_too_large_says_the_size_and_the_limit() -> None:
    raw = MINIMAL_YAML + b"#" * 100
    limit = len(raw) - 1
    problems = refusal(raw, max_bytes=limit)
    assert problems == [
        DocProblem("", f"The document is {len(raw):,} bytes; the limit is {limit:,} bytes.")
    ]
    assert parse_document(raw, max_bytes=len(raw))["openapi"] == "3.1.0"


def test_the_default_limit_is_five_mebibytes() -> None:
    raw = MINIMAL_YAML + b"#" * (5 * 1024 * 1024)
    assert only_message(raw) == (
        f"The document is {len(raw):,} bytes; the limit is 5,242,880 bytes."
    )


@pytest.mark.parametrize(
    ("raw", "offset"),
    [
        (b"openapi: 3.1.0\ninfo:\n  title: \xff\n", 30),
        ("openapi: 3.1.0\ntitle: 不动产".encode("gbk"), 22),
        ("openapi: 3.1.0".encode("utf-16"), 0),
    ],
)
def test_not_utf8(raw: bytes, offset: int) -> None:
    message = only_message(raw)
    assert message.startswith("The document is not UTF-8 text: the byte 0x")
    assert message.endswith(f"at offset {offset} cannot be decoded.")


@pytest.mark.parametrize(
    ("raw", "content_type", "expected"),
    [
        (
            b'{"openapi": "3.1.0" "info": {}}',
            None,  # neither JSON nor YAML: the JSON error is reported
            "The JSON is not valid at line 1, column 21: Expecting ',' delimiter.",
        ),
        (
            b'{\n  "openapi": "3.1.0"\n  "info": {}\n}',
            "application/json",
            "The JSON is not valid at line 3, column 3: Expecting ',' delimiter.",
        ),
        (
            b"openapi: 3.1.0\ninfo:\n  title: [unclosed\n",
            None,
            None,  # checked by pattern below
        ),
        (
            b"openapi: 3.1.0\n  info: x\n",
            "application/yaml",
            "The YAML is not valid at line 2, column 7: mapping values are not allowed in this"
            " context.",
        ),
    ],
)
def test_syntax_errors_say_where(
    raw: bytes, content_type: str | None, expected: str | None
) -> None:
    message = only_message(raw, content_type=content_type)
    if expected is None:
        assert re.fullmatch(r"The YAML is not valid at line \d+, column \d+: .+\.", message)
    else:
        assert message == expected


def test_json_nan_is_refused() -> None:
    message = only_message(b'{"openapi": "3.1.0", "x": NaN}', content_type="application/json")
    assert message == "The JSON is not valid: NaN is not a JSON value."


@pytest.mark.parametrize(
    "raw",
    [
        b"openapi: 3.1.0\nx: " + b"[" * 20 + b"]" * 20,
        b'{"openapi": "3.1.0", "x": ' + b"[" * 20 + b"]" * 20 + b"}",
        b"openapi: 3.1.0\nx:\n" + b"".join(b"  " * i + b"a:\n" for i in range(1, 22)),
    ],
)
def test_deeper_than_max_depth(raw: bytes) -> None:
    assert only_message(raw, max_depth=16) == "The document is nested more than 16 levels deep."


@pytest.mark.parametrize(
    "raw",
    [
        # Far past what the parsers recurse through: refused, never a RecursionError.
        b"openapi: 3.1.0\nx: " + b"[" * 200_000 + b"]" * 200_000,
        b'{"openapi": "3.1.0", "x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
        b'{"openapi": "3.1.0", "x": ' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"}",
    ],
)
def test_absurdly_deep_documents_are_refused(raw: bytes) -> None:
    assert only_message(raw) == "The document is nested more than 64 levels deep."


def test_depth_counts_aliases_expanded() -> None:
    nested = b"openapi: 3.1.0\na: &a [[[[[1]]]]]\nb: &b [[[[[*a]]]]]\nc: [[[[[*b]]]]]\n"
    assert only_message(nested, max_depth=12) == "The document is nested more than 12 levels deep."
    assert parse_document(nested, max_depth=20)["c"][0][0][0][0][0][0][0][0][0][0] == [[[[[1]]]]]


BILLION_LAUGHS = b"""openapi: 3.1.0
info: {title: lol, version: "1"}
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
paths: {}
"""


def test_billion_laughs_is_refused_without_expanding_it() -> None:
    tracemalloc.start()
    try:
        problems = refusal(BILLION_LAUGHS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problems == [
        DocProblem(
            "",
            "The document has more than 2,000,000 values once YAML aliases are expanded; split"
            " it or remove the aliases that multiply it.",
        )
    ]
    # ~3.9e8 values if expanded; refused having allocated next to nothing.
    assert peak < 2 * 1024 * 1024


def test_max_nodes_counts_alias_expansion() -> None:
    raw = b"openapi: 3.1.0\na: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: [*a, *a, *a, *a, *a]\n"
    assert parse_document(raw, max_nodes=200)["b"][4] == list(range(1, 11))
    assert "more than 50 values" in only_message(raw, max_nodes=50)


def test_a_json_document_with_too_many_values() -> None:
    raw = b'{"openapi": "3.1.0", "x": [' + b",".join([b"0"] * 100) + b"]}"
    assert "more than 60 values" in only_message(raw, max_nodes=60)


def test_an_alias_that_contains_itself() -> None:
    message = only_message(b"openapi: 3.1.0\nloop: &a [1, *a]\n")
    assert message == "The YAML has an alias that contains itself at line 2, column 7."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "The document is empty."),
        (b"# only a comment\n", "The document is empty."),
        (b"- openapi: 3.1.0\n", "The top level of the document must be a mapping; it is a list."),
        (b"[1, 2]", "The top level of the document must be a mapping; it is a list."),
        (b"just text", "The top level of the document must be a mapping; it is a single value."),
        (b"42", "The top level of the document must be a mapping; it is a single value."),
    ],
)
def test_the_top_level_must_be_a_mapping(raw: bytes, expected: str) -> None:
    assert only_message(raw) == expected


def test_several_yaml_documents_are_refused() -> None:
    message = only_message(MINIMAL_YAML + b"---\n" + MINIMAL_YAML)
    assert message == (
        "The YAML is not valid at line 4, column 1: expected a single document in the stream,"
        " but found another document."
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"openapi: 3.1.0\nx: !!python/object/apply:os.system ['echo pwned']\n",
        b"openapi: 3.1.0\nx: !!python/name:os.system\n",
        b"openapi: 3.1.0\nx: !Ref Something\n",
    ],
)
def test_only_safe_yaml(raw: bytes) -> None:
    message = only_message(raw)
    assert message.startswith("The YAML is not valid at line 2, column 4:")
    assert "could not determine a constructor for the tag" in message


def test_non_finite_numbers_are_refused_with_their_pointer() -> None:
    raw = b"openapi: 3.1.0\npaths:\n  /a:\n    x-max: .inf\n    x-min: -.inf\n"
    problems = refusal(raw)
    assert {p.pointer for p in problems} == {"/paths/~1a/x-max", "/paths/~1a/x-min"}
    assert all(
        p.message.endswith("is not a finite number; JSON cannot represent it.") for p in problems
    )


# --- versions -----------------------------------------------------------------------------------


def test_swagger_2_is_refused_with_advice() -> None:
    raw = b'swagger: "2.0"\ninfo: {title: old, version: "1"}\npaths: {}\n'
    assert refusal(raw) == [
        DocProblem(
            "/swagger",
            "Swagger 2.0 is not supported; convert the document to OpenAPI 3 (for example with"
            " swagger2openapi or the Swagger Editor) and submit it again.",
        )
    ]


def test_missing_openapi_version() -> None:
    assert refusal(b"info: {title: t, version: '1'}\npaths: {}\n") == [
        DocProblem(
            "",
            'The document has no openapi field; it must state its OpenAPI version, such as "3.0.3"'
            ' or "3.1.0".',
        )
    ]


@pytest.mark.parametrize("version", ["3.2.0", "2.0", "4.0.0", "3.1", "3.0", "v3.1.0", "3.1.0.1"])
def test_unsupported_openapi_versions(version: str) -> None:
    raw = json.dumps({"openapi": version, "paths": {}}).encode()
    assert refusal(raw) == [
        DocProblem(
            "/openapi",
            f"OpenAPI {version} is not supported; the gateway takes OpenAPI 3.0.x and 3.1.x.",
        )
    ]


@pytest.mark.parametrize("version", ["3.0.0", "3.0.3", "3.0.4", "3.1.0", "3.1.1", "3.1.0-rc1"])
def test_supported_openapi_versions(version: str) -> None:
    raw = json.dumps({"openapi": version, "paths": {}}).encode()
    assert parse_document(raw)["openapi"] == version


def test_an_unquoted_yaml_version_is_a_number() -> None:
    assert refusal(b"openapi: 3.1\npaths: {}\n") == [
        DocProblem(
            "/openapi",
            'The openapi field must be a string such as "3.1.0", not 3.1 (in YAML, quote it).',
        )
    ]


# --- normalising --------------------------------------------------------------------------------


def test_yaml_keys_are_the_text_the_author_wrote() -> None:
    raw = b"""openapi: 3.0.3
paths:
  /a:
    get:
      responses:
        200: {description: ok}
        4XX: {description: client}
        default: {description: other}
x-keys:
  on: 1
  yes: 2
  no: 3
  null: 4
  1.50: 5
  2024-05-01: 6
  0x1F: 7
"""
    document = parse_document(raw)
    assert list(document["paths"]["/a"]["get"]["responses"]) == ["200", "4XX", "default"]
    assert document["x-keys"] == {
        "on": 1,
        "yes": 2,
        "no": 3,
        "null": 4,
        "1.50": 5,
        "2024-05-01": 6,
        "0x1F": 7,
    }


def test_yaml_dates_become_iso_strings() -> None:
    raw = b"""openapi: 3.1.0
x-dates:
  day: 2024-05-01
  local: 2024-05-01 08:30:00
  zoned: 2024-05-01T08:30:00+08:00
  utc: 2024-05-01T00:30:00Z
  quoted: '2024-05-01'
"""
    assert parse_document(raw)["x-dates"] == {
        "day": "2024-05-01",
        "local": "2024-05-01T08:30:00",
        "zoned": "2024-05-01T08:30:00+08:00",
        "utc": "2024-05-01T00:30:00+00:00",
        "quoted": "2024-05-01",
    }


def test_aliases_become_independent_copies_and_merge_keys_work() -> None:
    raw = b"""openapi: 3.1.0
x-base: &base {type: object, properties: {id: {type: integer}}}
x-copy: *base
x-extended:
  <<: *base
  required: [id]
"""
    document = parse_document(raw)
    assert document["x-copy"] == document["x-base"]
    assert document["x-copy"] is not document["x-base"]
    assert document["x-copy"]["properties"] is not document["x-base"]["properties"]
    assert document["x-extended"] == {
        "type": "object",
        "properties": {"id": {"type": "integer"}},
        "required": ["id"],
    }


def test_yaml_binary_and_sets_become_json_values() -> None:
    raw = b"openapi: 3.1.0\nx-bin: !!binary aGVsbG8=\nx-set: !!set {b, a}\n"
    document = parse_document(raw)
    assert document["x-bin"] == "aGVsbG8="
    assert document["x-set"] == ["a", "b"]


def test_the_elicense_sample_uses_anchors_merge_keys_and_dates() -> None:
    document = load("elicense-hunan-3.1.yaml")
    responses = document["paths"]["/licenses/{licenseType}/{holderId}"]["get"]["responses"]
    assert sorted(responses) == ["200", "400", "500"]
    list_params = document["paths"]["/licenses/{licenseType}"]["get"]["parameters"]
    get_params = document["paths"]["/licenses/{licenseType}/{holderId}"]["get"]["parameters"]
    assert list_params[0] == get_params[0]
    assert get_params[2]["schema"]["examples"] == ["2024-05-01"]


def test_documents_directory_has_yaml_and_json_in_both_versions() -> None:
    names = {p.name for p in DOCUMENTS.iterdir()}
    versions = {(name.rsplit(".", 1)[1], load(name)["openapi"][:3]) for name in names}
    assert {("yaml", "3.0"), ("yaml", "3.1"), ("json", "3.0"), ("json", "3.1")} <= versions


# --- duplicate keys -----------------------------------------------------------------------------


def _twice(key: str, where: str) -> str:
    return (
        f"The key '{key}' is given more than once in the same mapping ({where}); only one value"
        " would count, so keep one of them."
    )


def test_a_yaml_path_given_twice_is_refused_with_its_pointer_and_line() -> None:
    raw = b"""openapi: 3.1.0
info: {title: t, version: '1'}
paths:
  /x:
    get: {responses: {'200': {description: ok}}}
  /x:
    post: {responses: {'200': {description: ok}}}
"""
    assert refusal(raw) == [DocProblem("/paths/~1x", _twice("/x", "at line 4 and at line 6"))]


def test_every_yaml_duplicate_is_reported_once_in_document_order() -> None:
    raw = b"""openapi: 3.1.0
info: &info {title: t, version: '1', title: u}
x-copy: *info
paths:
  /a~b:
    get: {}
    get: {}
    get: {}
x-list:
  - {n: 1, n: 2}
200: a
'200': b
"""
    assert refusal(raw) == [
        DocProblem("/info/title", _twice("title", "twice on line 2")),
        DocProblem("/paths/~1a~0b/get", _twice("get", "at line 6 and at line 7")),
        DocProblem("/paths/~1a~0b/get", _twice("get", "at line 6 and at line 8")),
        DocProblem("/x-list/0/n", _twice("n", "twice on line 10")),
        DocProblem("/200", _twice("200", "at line 11 and at line 12")),
    ]


def test_a_merge_key_may_be_overridden() -> None:
    raw = b"openapi: 3.1.0\nx-base: &b {a: 1, c: 3}\nx-m:\n  <<: *b\n  a: 2\n"
    assert parse_document(raw)["x-m"] == {"a": 2, "c": 3}


@pytest.mark.parametrize("content_type", ["application/json", None])
def test_a_json_key_given_twice_is_refused_with_its_pointer_and_line(
    content_type: str | None,
) -> None:
    raw = b"""{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/x": {"get": {"responses": {}}},
    "/x": {"post": {"responses": {}}}
  },
  "tags": [{"name": "a"}, {"name": "b", "x-q": [{"k": 1, "k": "two\\"s"}]}]
}"""
    assert refusal(raw, content_type=content_type) == [
        DocProblem("/paths/~1x", _twice("/x", "at line 5 and at line 6")),
        DocProblem("/tags/1/x-q/0/k", _twice("k", "twice on line 8")),
    ]


def test_duplicates_are_reported_with_the_other_problems() -> None:
    raw = b'{"openapi": "2.0", "openapi": "3.2.0", "info": {}}'
    assert refusal(raw) == [
        DocProblem("/openapi", _twice("openapi", "twice on line 1")),
        DocProblem(
            "/openapi",
            "OpenAPI 3.2.0 is not supported; the gateway takes OpenAPI 3.0.x and 3.1.x.",
        ),
    ]
