"""`xyb contracts verify` never reports a check that did not run as passed.

Schemathesis is the ``contracts`` extra, not a dependency of the gateway, so an installed wheel may
lack it: the command then refuses with the install command instead of counting the interactions
it replayed unchecked as passed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.contracts.replay import ResponseChecksUnavailable, verify

ROOT = Path(__file__).resolve().parent.parent.parent
CHANGSHA = ROOT / "contracts" / "municipal" / "changsha.contract.yaml"

# Runs `xyb` with Schemathesis hidden, as in an environment that never installed it: a meta-path
# finder placed first answers every import of it (or of its submodules) with ModuleNotFoundError.
HIDE_SCHEMATHESIS = """
import sys

class HideSchemathesis:
    def find_spec(self, name, path=None, target=None):
        if name == "schemathesis" or name.startswith("schemathesis."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, HideSchemathesis())
from app.cli import main
main()
"""


def test_verify_without_schemathesis_names_the_install_command_and_fails() -> None:
    result = subprocess.run(
        [sys.executable, "-c", HIDE_SCHEMATHESIS, "contracts", "verify", str(CHANGSHA)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    message = " ".join(result.stderr.split())
    assert "pip install 'xyb-gateway[contracts]'" in message  # the [contracts] survives rich
    assert "Schemathesis" in message
    assert "Nothing was verified." in message
    assert "Traceback" not in result.stderr
    assert "passed" not in result.stdout


async def test_verify_as_a_library_raises_before_replaying(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "schemathesis.specs.openapi.checks", None)
    with pytest.raises(ResponseChecksUnavailable, match=r"xyb-gateway\[contracts\]"):
        await verify([CHANGSHA], target="simulator")


async def test_a_document_schemathesis_cannot_load_fails_every_interaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import schemathesis

    def refuse(document: object) -> object:
        raise RuntimeError("unsupported document\nsecond line")

    monkeypatch.setattr(schemathesis.openapi, "from_dict", refuse)
    report = await verify([CHANGSHA], target="simulator")
    assert report.results
    assert report.count("pass") == 0
    for result in report.results:
        assert result.outcome == "fail"
        assert (
            "Schemathesis' response checks did not run: Schemathesis cannot load its OpenAPI"
            " document (RuntimeError: unsupported document)"
        ) in result.problems
