"""YAML is read by libyaml wherever it is present, the CLI's ``xyb onboard`` included, and the
limits hold with either loader.

``xyb onboard`` once read a 2.7 MB document with PyYAML's pure-Python loader to find its title:
9 s, against 3.3 s for the gateway to parse and analyse the same document.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import yaml
from typer.testing import CliRunner

from app.services.openapi import parsing
from app.services.openapi.parsing import document_title, parse_document
from app.services.openapi.problems import DocumentRefused
from tests.services.openapi.test_parsing import BILLION_LAUGHS

LIBYAML = bool(getattr(yaml, "__with_libyaml__", False))
GATEWAY = "http://gateway.test"


@pytest.fixture(params=["libyaml", "pure Python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test below runs with both loaders: libyaml's, and the one used without it."""
    if request.param == "libyaml":
        if not LIBYAML:
            pytest.skip("PyYAML is built without libyaml here")
        monkeypatch.setattr(parsing, "_SafeLoader", yaml.CSafeLoader)
        monkeypatch.setattr(parsing, "_LIBYAML", True)
    else:
        monkeypatch.setattr(parsing, "_SafeLoader", yaml.SafeLoader)
        monkeypatch.setattr(parsing, "_LIBYAML", False)
    return str(request.param)


def messages(raw: bytes, **limits: Any) -> list[str]:
    with pytest.raises(DocumentRefused) as refused:
        parse_document(raw, **limits)
    return [p.message for p in refused.value.problems]


@pytest.mark.skipif(not LIBYAML, reason="PyYAML is built without libyaml here")
def test_libyaml_is_the_loader_where_present() -> None:
    assert parsing._SafeLoader.__name__ == "CSafeLoader"


@pytest.mark.parametrize(
    "raw",
    [
        b"openapi: 3.1.0\nx: " + b"[" * 100_000 + b"]" * 100_000,
        b"openapi: 3.1.0\nx:\n" + b"".join(b"  " * i + b"a:\n" for i in range(1, 200)),
        b"openapi: 3.1.0\nx: " + b"{a: " * 5_000 + b"1" + b"}" * 5_000,
    ],
)
def test_depth_is_limited_with_either_loader(loader: str, raw: bytes) -> None:
    assert messages(raw) == ["The document is nested more than 64 levels deep."]


def test_alias_expansion_is_limited_with_either_loader(loader: str) -> None:
    assert messages(BILLION_LAUGHS) == [
        "The document has more than 2,000,000 values once YAML aliases are expanded; split it or"
        " remove the aliases that multiply it."
    ]


def test_the_same_document_with_either_loader(loader: str) -> None:
    raw = (Path(__file__).parent / "documents" / "elicense-hunan-3.1.yaml").read_bytes()
    document = parse_document(raw)
    assert document["openapi"].startswith("3.1")
    assert json.loads(json.dumps(document)) == document


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("openapi: 3.0.3\ninfo: {title: ' 长沙 '}\n".encode(), "长沙"),
        (b'{"openapi": "3.1.0", "info": {"title": "x"}}', "x"),
        (b'\xef\xbb\xbf{"info": {"version": "1", "title": "bom"}}', "bom"),
        (b"openapi: 3.0.3\ninfo: {version: '1', title: [1]}\n", None),
        (b"openapi: 3.0.3\nx: &t text\ninfo: {title: *t}\n", None),
        (b"openapi: 3.0.3\ninfo: {version: '1'}\n", None),
        (b"openapi: 3.0.3\n", None),
        (b"- info: {title: x}\n", None),
        (b"not: [valid", None),
        (b"\xff\xfe", None),
        # Read up to the title only: the aliases after it are never expanded.
        (BILLION_LAUGHS, "lol"),
        # A value before the title nested deeper than the gateway accepts (64) ends the search,
        # with either loader (the pure-Python one once took 5 minutes over this one).
        (b"x: " + b"[" * 100_000 + b"]" * 100_000 + b"\ninfo: {title: deep}\n", None),
        (b"x: " + b"[" * 65 + b"]" * 65 + b"\ninfo: {title: deep}\n", None),
        (b"x: " + b"[" * 64 + b"]" * 64 + b"\ninfo: {title: after}\n", "after"),
    ],
)
def test_document_title(loader: str, raw: bytes, title: str | None) -> None:
    assert document_title(raw) == title


@pytest.fixture
def gateway() -> Iterator[respx.MockRouter]:
    plan = {
        "dry_run": True,
        "name": "x",
        "division": "430100",
        "division_name": "长沙市",
        "slug": "big",
        "version": 1,
        "openapi_version": "3.0.3",
        "gateway_path": "/gw/430100/big",
        "upstream_url": "http://127.0.0.1:9001",
        "routes": [],
        "warnings": [],
    }
    with respx.mock(assert_all_called=True) as router:
        router.post(f"{GATEWAY}/admin/services").mock(return_value=httpx.Response(200, json=plan))
        yield router


def onboard(path: Path) -> str:
    from app.cli import cli

    result = CliRunner().invoke(
        cli,
        [
            "onboard",
            str(path),
            "--division",
            "430100",
            "--slug",
            "big",
            "--gateway",
            GATEWAY,
            "--token",
            "t" * 40,
            "--dry-run",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return str(result.output)


@pytest.mark.skipif(not LIBYAML, reason="PyYAML is built without libyaml here")
def test_xyb_onboard_reads_the_document_with_libyaml(
    tmp_path: Path, gateway: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    pure_python: list[int] = []
    reader_init = yaml.reader.Reader.__init__

    def spy(self: Any, stream: Any) -> None:  # only the pure-Python loader has a Reader
        pure_python.append(len(stream))
        reader_init(self, stream)

    monkeypatch.setattr(yaml.reader.Reader, "__init__", spy)
    schemas = {
        f"S{n}": {"type": "object", "properties": {"a": {"type": "string"}}} for n in range(2000)
    }
    document = {
        "openapi": "3.0.3",
        "info": {"title": "大文档", "version": "1"},
        "paths": {"/a": {"get": {"responses": {"200": {"description": "ok"}}}}},
        "components": {"schemas": schemas},
    }
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    pure_python.clear()
    onboard(path)
    sent = json.loads(gateway.calls.last.request.content)
    assert sent["name"] == "大文档"
    assert pure_python == []

    # A title that is not text is no name: the slug is (it was "['a', 'b']").
    odd = tmp_path / "odd.yaml"
    odd.write_text("openapi: 3.0.3\nx: &t [a, b]\ninfo: {title: *t, version: '1'}\npaths: {}\n")
    onboard(odd)
    assert json.loads(gateway.calls.last.request.content)["name"] == "big"
    assert pure_python == []
