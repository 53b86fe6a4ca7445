"""Matchers: JSON subset matching, headers, XML (safely parsed) and examples."""

from __future__ import annotations

from typing import Any

import pytest

from app.contracts import Mismatch, example_of, is_matcher, match_header, match_json, match_xml
from app.contracts.matchers import json_path

# --- literals, objects, arrays ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        (1, 1),
        (1, 1.0),
        (1.0, 1),
        (True, True),
        (None, None),
        ("张三", "张三"),
        ({}, {"anything": 1}),
        ({"a": 1}, {"a": 1, "b": 2}),
        ([], [1, 2]),
        ([1], [1, 2, 3]),
        ([{"a": 1}], [{"a": 1, "b": 2}]),
        ({"a": {"b": [1, {"c": "x"}]}}, {"a": {"b": [1, {"c": "x", "d": 0}, 5]}, "z": 0}),
    ],
)
def test_matches(expected: Any, actual: Any) -> None:
    assert match_json(expected, actual) == []


@pytest.mark.parametrize(
    ("expected", "actual", "mismatch"),
    [
        (True, 1, Mismatch("$", "true", "1", "is not equal")),
        (1, True, Mismatch("$", "1", "true", "is not equal")),
        (0, False, Mismatch("$", "0", "false", "is not equal")),
        ("1", 1, Mismatch("$", '"1"', "1", "is not equal")),
        (None, 0, Mismatch("$", "null", "0", "is not equal")),
        ({"a": 1}, [1], Mismatch("$", "an object", "[1]", "is an array")),
        ([1], {"a": 1}, Mismatch("$", "an array", '{"a": 1}', "is an object")),
        ({"a": 1}, {}, Mismatch("$.a", "1", "(missing)", "is missing")),
        ({"a": {"b": 2}}, {"a": {"b": 3}}, Mismatch("$.a.b", "2", "3", "is not equal")),
        (
            {"records": [{}, {"balance": 1}]},
            {"records": [{}, {"balance": 2}]},
            Mismatch("$.records[1].balance", "1", "2", "is not equal"),
        ),
        ({"weird key": 1}, {"weird key": 2}, Mismatch("$['weird key']", "1", "2", "is not equal")),
        ({"余额": 1}, {"余额": 2}, Mismatch("$['余额']", "1", "2", "is not equal")),
        ([1, 2], [1], Mismatch("$", "at least 2 items", "1 item", "has too few items")),
    ],
)
def test_mismatches(expected: Any, actual: Any, mismatch: Mismatch) -> None:
    assert match_json(expected, actual) == [mismatch]


def test_every_mismatch_is_reported() -> None:
    found = match_json({"a": 1, "b": {"c": "x"}, "d": [1]}, {"a": 2, "b": {}, "d": []})
    assert [m.path for m in found] == ["$.a", "$.b.c", "$.d"]


def test_long_values_are_cut() -> None:
    (mismatch,) = match_json("x", "y" * 500)
    assert len(mismatch.actual) == 80
    assert mismatch.actual.endswith("…")
    assert str(mismatch).startswith("$: is not equal (expected")


def test_json_path_quoting() -> None:
    assert json_path("$", "a_1") == "$.a_1"
    assert json_path("$", "1a") == "$['1a']"
    assert json_path("$", "it's") == "$['it\\'s']"
    assert json_path("$.a", 3) == "$.a[3]"


# --- $type --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "good", "bad"),
    [
        ("string", ["", "x"], [1, None, True]),
        ("integer", [0, -5, 10**20], [1.5, True, "1", None]),
        ("number", [0, 1.5, -2], [True, "1.5", None]),
        ("boolean", [True, False], [0, 1, "true"]),
        ("array", [[], [1]], [{}, "[]"]),
        ("object", [{}, {"a": 1}], [[], None]),
        ("null", [None], [0, "", False]),
    ],
)
def test_type(type_name: str, good: list[Any], bad: list[Any]) -> None:
    for value in good:
        assert match_json({"$type": type_name}, value) == [], value
    for value in bad:
        (mismatch,) = match_json({"$type": type_name}, value)
        assert mismatch.expected == f"$type {type_name}"


def test_type_reason() -> None:
    assert match_json({"balance": {"$type": "number"}}, {"balance": "12.5"}) == [
        Mismatch("$.balance", "$type number", '"12.5"', "is a string, not a number")
    ]
    assert match_json({"$type": "integer"}, True)[0].reason == "is a boolean, not an integer"


# --- $regex -------------------------------------------------------------------------------------


def test_regex() -> None:
    matcher = {"$regex": "^E[0-9]{3}$", "example": "E404"}
    assert match_json(matcher, "E404") == []
    assert match_json({"$regex": "[0-9]", "example": "a1"}, "abc1def") == []  # re.search
    assert match_json(matcher, "E4040") == [
        Mismatch("$", '$regex "^E[0-9]{3}$"', '"E4040"', "does not match the regex")
    ]
    assert match_json(matcher, 404)[0].reason == "is an integer, not a string"
    assert match_json({"$regex": "(", "example": ""}, "x")[0].reason == (
        "the regex cannot be used: it is not a valid regular expression (missing ): ()"
    )


# --- $anyOf -------------------------------------------------------------------------------------


def test_any_of() -> None:
    matcher = {"$anyOf": [{"$type": "null"}, {"$regex": "^[0-9]{4}-", "example": "2024-01"}]}
    assert match_json(matcher, None) == []
    assert match_json(matcher, "2024-05-01") == []
    (mismatch,) = match_json({"sealed_on": matcher}, {"sealed_on": 5})
    assert mismatch.path == "$.sealed_on"
    assert mismatch.reason == (
        "matches none of the 2 alternatives: is an integer, not null; is an integer, not a string"
    )


def test_any_of_with_nested_objects() -> None:
    matcher = {"$anyOf": [{"code": "OK"}, {"code": "E404", "message": {"$type": "string"}}]}
    assert match_json(matcher, {"code": "E404", "message": "未找到"}) == []
    assert match_json(matcher, {"code": "OK", "extra": 1}) == []
    assert len(match_json(matcher, {"code": "E404"})) == 1


# --- $each --------------------------------------------------------------------------------------


def test_each() -> None:
    matcher = {"$each": {"month": {"$regex": "^2023-", "example": "2023-01"}}, "$min": 1}
    good = [{"month": "2023-01", "total": 1}, {"month": "2023-02"}]
    assert match_json(matcher, good) == []
    assert match_json({"$each": {"$type": "integer"}}, []) == []  # $min defaults to 0
    assert match_json(matcher, []) == [
        Mismatch("$", "at least 1 item", "0 items", "has too few items")
    ]
    found = match_json(
        {"deposits": matcher}, {"deposits": [{"month": "2023-01"}, {"month": "2022-12"}]}
    )
    assert found == [
        Mismatch("$.deposits[1].month", '$regex "^2023-"', '"2022-12"', "does not match the regex")
    ]
    assert match_json(matcher, {"a": 1})[0].reason == "is an object, not an array"


def test_nested_matchers() -> None:
    expected = {
        "total": {"$type": "integer"},
        "records": {
            "$each": {
                "id": {"$regex": "^BDC", "example": "BDC1"},
                "owners": {"$each": {"$anyOf": ["张三", "李四"]}, "$min": 1},
            },
            "$min": 1,
        },
    }
    actual = {
        "total": 2,
        "records": [
            {"id": "BDC1", "owners": ["张三"]},
            {"id": "XYZ", "owners": ["王五"]},
        ],
    }
    found = match_json(expected, actual)
    assert [m.path for m in found] == ["$.records[1].id", "$.records[1].owners[0]"]


def test_is_matcher() -> None:
    assert is_matcher({"$type": "string"})
    assert is_matcher({"$each": 1, "$min": 2})
    assert not is_matcher({"type": "string"})
    assert not is_matcher("$type")
    assert not is_matcher([{"$type": "string"}])


# --- headers ------------------------------------------------------------------------------------


def test_headers() -> None:
    assert match_header("application/json", "application/json", "Content-Type") == []
    assert match_header("application/json", "application/json; charset=utf-8", "Content-Type") == [
        Mismatch(
            "header Content-Type",
            '"application/json"',
            '"application/json; charset=utf-8"',
            "is not equal",
        )
    ]
    regex = {"$regex": "^application/json", "example": "application/json"}
    assert match_header(regex, "application/json; charset=utf-8", "Content-Type") == []
    assert match_header(regex, "text/html", "Content-Type")[0].reason == (
        "does not match the regex"
    )
    any_of = {"$anyOf": ["no-store", {"$regex": "^max-age=", "example": "max-age=1"}]}
    assert match_header(any_of, "max-age=60", "Cache-Control") == []
    assert match_header(any_of, "public", "Cache-Control")[0].reason.startswith(
        "matches none of the 2 alternatives"
    )
    assert match_header("x", None, "X-Trace") == [
        Mismatch("header X-Trace", '"x"', "(missing)", "is missing")
    ]


# --- XML ----------------------------------------------------------------------------------------

CERTIFICATE = """<?xml version="1.0" encoding="UTF-8"?>
<Certificate>
  <Pet><Name> 花花 </Name><Born>2020-05-01</Born></Pet>
  <Fees><Fee currency="CNY">12.50</Fee><Fee>3</Fee></Fees>
  <Paid>true</Paid>
  <Note/>
</Certificate>
""".encode()


def test_xml_matches() -> None:
    expected = {
        "./Pet/Name": "花花",
        ".//Born": {"$regex": "^[0-9]{4}-", "example": "2020-01-01"},
        "./Fees/Fee": 12.5,
        "./Fees/Fee[2]": 3,
        "./Paid": True,
        ".//Note": {"$type": "null"},
        "Pet/Born": {"$anyOf": ["x", {"$type": "string"}]},
    }
    assert match_xml(expected, CERTIFICATE) == []


@pytest.mark.parametrize(
    ("type_name", "good", "bad"),
    [
        ("number", ["12.5", "-3", "1e3", ".5"], ["abc", "", "NaN", "1,5"]),
        ("integer", ["12", "-3", "+4"], ["12.5", "", "x"]),
        ("boolean", ["true", "false"], ["True", "1", "yes"]),
        ("string", ["", "x"], []),
    ],
)
def test_xml_types(type_name: str, good: list[str], bad: list[str]) -> None:
    for text in good:
        body = f"<r><v>{text}</v></r>".encode()
        assert match_xml({"./v": {"$type": type_name}}, body) == [], text
    for text in bad:
        body = f"<r><v>{text}</v></r>".encode()
        (mismatch,) = match_xml({"./v": {"$type": type_name}}, body)
        assert mismatch.path == "./v"


def test_xml_mismatches() -> None:
    found = match_xml(
        {
            "./Pet/Name": "咪咪",
            "./Fees/Fee": "12.5",  # text is compared as text: "12.50" is not "12.5"
            "./Missing": "x",
            "./Paid": {"$regex": "^no", "example": "no"},
        },
        CERTIFICATE,
    )
    assert found == [
        Mismatch("./Pet/Name", '"咪咪"', '"花花"', "is not equal"),
        Mismatch("./Fees/Fee", '"12.5"', '"12.50"', "is not equal"),
        Mismatch("./Missing", '"x"', "(missing)", "no element at this path"),
        Mismatch("./Paid", '$regex "^no"', '"true"', "does not match the regex"),
    ]


def test_xml_namespaces() -> None:
    body = (
        b'<s:Envelope xmlns:s="urn:soap">'
        b'<s:Body><Code xmlns="urn:app">OK</Code></s:Body>'
        b"</s:Envelope>"
    )
    assert match_xml({"./{urn:soap}Body/{urn:app}Code": "OK"}, body) == []
    assert match_xml({"./Body/Code": "OK"}, body)[0].reason == "no element at this path"


def test_xml_bad_path() -> None:
    (mismatch,) = match_xml({"/absolute": "x"}, b"<r/>")
    assert mismatch.reason.startswith("not a valid ElementTree path")


def test_malformed_xml() -> None:
    (mismatch,) = match_xml({"./a": "x"}, b"<r><a>x</r>")
    assert mismatch.path == "xml"
    assert mismatch.reason.startswith("malformed XML: mismatched tag")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz><a>&lol9;</a></lolz>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<r><a>&secret;</a></r>
"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE r SYSTEM "http://example.invalid/evil.dtd">
<r><a>x</a></r>
"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD])
def test_entities_and_dtds_are_refused(body: bytes) -> None:
    (mismatch,) = match_xml({"./a": "x"}, body)
    assert mismatch.path == "xml"
    assert mismatch.reason.startswith("the XML was refused: ")
    assert "DTD" in mismatch.reason


# --- examples -----------------------------------------------------------------------------------


def test_example_of() -> None:
    expected = {
        "id": 7,
        "name": {"$type": "string", "example": "花花"},
        "defaults": [
            {"$type": "string"},
            {"$type": "integer"},
            {"$type": "number"},
            {"$type": "boolean"},
            {"$type": "array"},
            {"$type": "object"},
            {"$type": "null"},
        ],
        "code": {"$regex": "^E", "example": "E404"},
        "either": {"$anyOf": [{"$type": "integer", "example": 3}, "x"]},
        "one": {"$each": {"a": {"$type": "integer"}}},
        "three": {"$each": "x", "$min": 3},
        "given": {"$each": {"$type": "integer"}, "$min": 5, "example": [1, 2]},
        "literal": [1, {"b": {"$type": "boolean", "example": False}}],
    }
    assert example_of(expected) == {
        "id": 7,
        "name": "花花",
        "defaults": ["string", 0, 0.5, True, [], {}, None],
        "code": "E404",
        "either": 3,
        "one": [{"a": 0}],
        "three": ["x", "x", "x"],
        "given": [1, 2],
        "literal": [1, {"b": False}],
    }


def test_example_of_copies() -> None:
    expected: dict[str, Any] = {"a": {"$type": "object", "example": {"x": [1]}}}
    example = example_of(expected)
    example["a"]["x"].append(2)
    assert expected["a"]["example"] == {"x": [1]}
    each = example_of({"$each": {"$type": "array"}, "$min": 2})
    each[0].append(1)
    assert each == [[1], []]


def test_an_example_matches_its_matcher() -> None:
    expected = {
        "records": {
            "$each": {"id": {"$regex": "^B", "example": "B1"}, "n": {"$type": "integer"}},
            "$min": 2,
        },
        "status": {"$anyOf": ["正常", "封存"]},
    }
    assert match_json(expected, example_of(expected)) == []
