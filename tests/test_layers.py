"""The house plan's layers hold: the core knows no domain, services do not reach into the /gw
path, and the product does not depend on its simulators (only the demo and the tools that run
them do). Imports inside functions count too: a lazy import is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"

# The packages of the layers above the core: the core may import none of them.
DOMAIN = (
    "app.cli",
    "app.connectors",
    "app.contracts",
    "app.demo",
    "app.events",
    "app.gateway",
    "app.identity",
    "app.main",
    "app.models",
    "app.routers",
    "app.schemas",
    "app.services",
    "app.simulators",
)
# What may start the simulators: the demo, the CLI that runs it, and contract verification's
# `--target simulator`.
SIMULATOR_USERS = (
    "app/demo.py",
    "app/demo_elicense.py",
    "app/demo_alliance.py",
    "app/demo_hotline.py",
    "app/cli",
    "app/contracts/replay.py",
    "app/simulators/",
)


def imports(path: Path) -> list[str]:
    """Every module ``path`` imports, at any depth."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def modules(under: str) -> list[Path]:
    return sorted((APP / under).rglob("*.py")) if under else sorted(APP.rglob("*.py"))


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def offenders(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(APP.parent)} imports {name}"
        for path in paths
        for name in imports(path)
        if _within(name, forbidden)
    ]


def test_the_core_knows_no_domain() -> None:
    assert offenders(modules("core"), DOMAIN) == []


def test_services_do_not_reach_into_the_gateway_path() -> None:
    assert offenders(modules("services"), ("app.gateway",)) == []


def test_the_product_does_not_depend_on_its_simulators() -> None:
    product = [
        p for p in modules("") if not str(p.relative_to(APP.parent)).startswith(SIMULATOR_USERS)
    ]
    assert offenders(product, ("app.simulators",)) == []


@pytest.mark.parametrize(
    ("source", "forbidden", "expected"),
    [
        ("import app.gateway.proxy\n", ("app.gateway",), True),
        ("def f():\n    from app.gateway import proxy\n", ("app.gateway",), True),
        ("from app.gatewayish import x\n", ("app.gateway",), False),
        ("from . import gateway\n", ("app.gateway",), False),
    ],
)
def test_the_check_sees_what_it_must(
    tmp_path: Path, source: str, forbidden: tuple[str, ...], expected: bool
) -> None:
    path = APP / "__layers_probe__.py"
    module = tmp_path / "probe.py"
    module.write_text(source, encoding="utf-8")
    found = [n for n in imports(module) if _within(n, forbidden)]
    assert bool(found) is expected, (path, found)
