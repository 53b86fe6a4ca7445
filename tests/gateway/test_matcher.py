"""Path-template matching: literals win, parameters bind, methods are checked."""

from __future__ import annotations

from app.gateway.matcher import Match, MethodMismatch, PathMatcher


def _matcher() -> PathMatcher[str]:
    m: PathMatcher[str] = PathMatcher()
    m.add("GET", "/records", "list")
    m.add("POST", "/records", "create")
    m.add("GET", "/records/{id}", "one")
    m.add("GET", "/records/latest", "latest")
    m.add("DELETE", "/records/{id}", "delete")
    m.add("GET", "/records/{id}/deposits", "deposits")
    m.add("GET", "/files/{name}.json", "file-json")
    m.add("GET", "/files/{name}", "file")
    m.add("GET", "/", "root")
    return m


def test_literal_wins_over_template() -> None:
    found = _matcher().match("GET", "/records/latest")
    assert isinstance(found, Match)
    assert found.target == "latest"
    assert found.params == {}


def test_template_binds_decoded_parameter() -> None:
    found = _matcher().match("GET", "/records/BDC%2F2023-%E9%95%BF")
    assert isinstance(found, Match)
    assert found.target == "one"
    assert found.params == {"id": "BDC/2023-长"}  # an encoded slash stays inside the segment
    assert found.path == "/records/{id}"


def test_nested_and_mixed_segments() -> None:
    m = _matcher()
    deposits = m.match("GET", "/records/42/deposits")
    assert isinstance(deposits, Match)
    assert (deposits.target, deposits.params) == ("deposits", {"id": "42"})
    mixed = m.match("GET", "/files/report.json")
    assert isinstance(mixed, Match)
    assert (mixed.target, mixed.params) == ("file-json", {"name": "report"})
    plain = m.match("GET", "/files/report.csv")
    assert isinstance(plain, Match)
    assert (plain.target, plain.params) == ("file", {"name": "report.csv"})


def test_method_mismatch_lists_allowed_methods() -> None:
    found = _matcher().match("PATCH", "/records/7")
    assert found == MethodMismatch("/records/{id}", ("DELETE", "GET", "HEAD"))


def test_head_falls_back_to_get() -> None:
    found = _matcher().match("HEAD", "/records")
    assert isinstance(found, Match)
    assert found.target == "list"


def test_no_match() -> None:
    m = _matcher()
    assert m.match("GET", "/nothing") is None
    assert m.match("GET", "/records/") is None  # an empty segment never fills a parameter
    assert m.match("GET", "/records/1/2") is None
    root = m.match("GET", "/")
    assert isinstance(root, Match)
    assert root.target == "root"
