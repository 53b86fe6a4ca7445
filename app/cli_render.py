"""How the CLI shows plans and problems (tables, not JSON dumps)."""

from __future__ import annotations

from typing import Any

import httpx
from rich.console import Console
from rich.table import Table


def _table(*columns: str, title: str) -> Table:
    """Columns wrap instead of truncating: paths and pointers must be readable whole."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def render_plan(console: Console, service: dict[str, Any]) -> None:
    """A service (or dry-run plan) as the gateway will expose it."""
    state = "plan (dry run, nothing saved)" if service.get("dry_run") else "onboarded"
    ident = f"id {service['id']}, " if service.get("id") is not None else ""
    console.print(
        f"[bold]{service['name']}[/bold] {service['division']} {service['division_name']} /"
        f" {service['slug']}: {state} ({ident}version {service['version']},"
        f" OpenAPI {service['openapi_version']})"
    )
    console.print(f"gateway: {service['gateway_path']}  ->  upstream: {service['upstream_url']}")
    routes = _table("method", "gateway path", "operationId", "item", title="routes")
    for route in service["routes"]:
        routes.add_row(
            route["method"], route["path"], route["operation_id"], route.get("item_code") or "-"
        )
    console.print(routes)
    if service.get("warnings"):
        warnings = _table("pointer", "warning", title="warnings")
        for w in service["warnings"]:
            warnings.add_row(w["pointer"], w["message"])
        console.print(warnings)


def render_problem(console: Console, response: httpx.Response) -> None:
    """A problem+json answer; each listed error as a row with its pointer."""
    try:
        problem = response.json()
    except ValueError:
        console.print(f"[red]error[/red] HTTP {response.status_code}: {response.text[:500]}")
        return
    console.print(
        f"[red]error[/red] HTTP {response.status_code} {problem.get('title', '')}:"
        f" {problem.get('detail', '')}"
    )
    errors = problem.get("errors") or problem.get("breaks") or []
    if errors:
        table = _table("pointer", "problem", title=f"{len(errors)} problem(s)")
        for e in errors:
            table.add_row(str(e.get("pointer", "")), str(e.get("detail", "")))
        console.print(table)
    if problem.get("instance"):
        console.print(f"request id: {problem['instance']}")
