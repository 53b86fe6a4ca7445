"""Connectors are discovered through the ``xyb.connectors`` entry-point group."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app.connectors.municipal import MunicipalConnector
from app.connectors.registry import ConnectorRegistry, UnknownConnector


def test_builtin_connector_registers_through_entry_points() -> None:
    registry = ConnectorRegistry.discover()
    assert "municipal" in registry.names
    assert registry.factory("municipal").__module__ == MunicipalConnector.__module__


def test_a_throwaway_connector_is_discovered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Install a tiny distribution (a module and a dist-info with entry points) and find it."""
    (tmp_path / "xyb_echo_connector.py").write_text(
        "class EchoConnector:\n"
        "    kind = 'echo'\n"
        "    def __init__(self, config):\n"
        "        self.config = config\n"
        "def create(config):\n"
        "    return EchoConnector(config)\n",
        encoding="utf-8",
    )
    dist = tmp_path / "xyb_echo_connector-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: xyb-echo-connector\nVersion: 0.1\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(
        "[xyb.connectors]\necho = xyb_echo_connector:create\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = ConnectorRegistry.discover()
    assert {"echo", "municipal"} <= set(registry.names)
    built = registry.factory("echo")(object())  # type: ignore[arg-type]
    assert type(built).__name__ == "EchoConnector"
    sys.modules.pop("xyb_echo_connector", None)


def test_a_broken_connector_is_skipped_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "xyb_broken-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: xyb-broken\nVersion: 0.1\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(
        "[xyb.connectors]\nbroken = no_such_module_anywhere:create\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = ConnectorRegistry.discover()
    assert "broken" not in registry.names
    assert "municipal" in registry.names


def test_unknown_connector_names_the_installed_ones() -> None:
    with pytest.raises(UnknownConnector, match=r"installed: .*municipal"):
        ConnectorRegistry.discover().factory("nope")
