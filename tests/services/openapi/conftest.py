"""Fixtures for the OpenAPI tests: the sample documents and guards against any fetching."""

from __future__ import annotations

import builtins
import io
import socket
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.services.openapi import Analysis, analyse, parse_document

DOCUMENTS = Path(__file__).parent / "documents"

# (file, division, slug, name)
SERVICES = [
    ("bdc-changsha-3.0.yaml", "430100", "bdc", "长沙不动产登记"),
    ("hotline-hunan-3.1.json", "430000", "hotline", "12345热线"),
    ("elicense-hunan-3.1.yaml", "430000", "elicense", "电子证照"),
    ("shebao-zhuzhou-3.0.json", "430200", "shebao", "株洲社保"),
]


def load(name: str) -> dict[str, Any]:
    return parse_document((DOCUMENTS / name).read_bytes())


def analysed(name: str) -> tuple[dict[str, Any], Analysis]:
    document = load(name)
    return document, analyse(document)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail loudly if anything opens a connection or a URL; yields what was attempted."""
    attempts: list[str] = []

    def refuse_connect(self: socket.socket, address: Any) -> None:
        attempts.append(f"connect {address!r}")
        raise AssertionError(f"a connection to {address!r} was attempted")

    def refuse_urlopen(url: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(f"urlopen {url!r}")
        raise AssertionError(f"urlopen({url!r}) was called")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse_connect)
    monkeypatch.setattr(urllib.request, "urlopen", refuse_urlopen)
    yield attempts
    assert attempts == []


@pytest.fixture
def watch_opens(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], list[str]]:
    """Record every attempt to open the given files (through open, io.open or pathlib)."""
    watched: list[Path] = []
    opened: list[str] = []
    real_open = builtins.open

    def recording_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            resolved = Path(file).resolve() if isinstance(file, (str, Path)) else None
        except (TypeError, ValueError, OSError):
            resolved = None
        if resolved is not None and resolved in watched:
            opened.append(str(resolved))
            raise AssertionError(f"{resolved} was opened")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", recording_open)
    monkeypatch.setattr(io, "open", recording_open)

    def watch(path: Path) -> list[str]:
        watched.append(path.resolve())
        return opened

    return watch
