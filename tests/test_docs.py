"""The README stays true: every setting is in its configuration table."""

from __future__ import annotations

from pathlib import Path

from app.core.config import Settings


def test_every_setting_is_documented(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    missing = [
        f"XYB_{name.upper()}"
        for name in Settings.model_fields
        if f"| `XYB_{name.upper()}` |" not in readme
    ]
    assert missing == []


def test_readme_shows_the_two_commands(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme
    assert "make test" in readme
