"""How the CLI shows plans and problems (tables, not JSON dumps).

Everything shown here comes from a document or a server, so it is printed as text, never read
as rich markup: a pattern such as ``^[a-z0-9-]{2,40}$`` must reach the screen whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from app.cli_common import print_table

if TYPE_CHECKING:
    import httpx


def _table(*columns: str, title: str) -> Table:
    """Columns wrap instead of truncating: paths and pointers must be readable whole."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _say(console: Console, text: str, style: str | None = None) -> None:
    console.print(Text(text, style=style or ""), soft_wrap=True)


def render_plan(console: Console, service: dict[str, Any]) -> None:
    """A service (or dry-run plan) as the gateway will expose it."""
    state = "plan (dry run, nothing saved)" if service.get("dry_run") else "onboarded"
    ident = f"id {service['id']}, " if service.get("id") is not None else ""
    head = Text()
    head.append(str(service["name"]), style="bold")
    head.append(
        f" {service['division']} {service['division_name']} / {service['slug']}: {state}"
        f" ({ident}version {service['version']}, OpenAPI {service['openapi_version']})"
    )
    console.print(head, soft_wrap=True)
    _say(console, f"gateway: {service['gateway_path']}  ->  upstream: {service['upstream_url']}")
    routes = _table("method", "gateway path", "operationId", "item", title="routes")
    for route in service["routes"]:
        routes.add_row(
            Text(str(route["method"])),
            Text(str(route["path"])),
            Text(str(route["operation_id"])),
            Text(str(route.get("item_code") or "-")),
        )
    print_table(console, routes)
    if service.get("warnings"):
        warnings = _table("pointer", "warning", title="warnings")
        for w in service["warnings"]:
            warnings.add_row(Text(str(w["pointer"])), Text(str(w["message"])))
        print_table(console, warnings)


def render_problem(console: Console, response: httpx.Response, *, again: str = "") -> None:
    """A problem+json answer; each listed error as a row with its pointer.

    ``again`` is the command that was run (``xyb onboard FILE --division D --slug S``): a 409
    for a service that exists already then says how to publish a new version of it.
    """
    try:
        problem = response.json()
    except ValueError:
        line = Text("error", style="red")
        line.append(f" HTTP {response.status_code}: {response.text[:500]}", style="")
        console.print(line, soft_wrap=True)
        return
    line = Text("error", style="red")
    line.append(
        f" HTTP {response.status_code} {problem.get('title', '')}: {problem.get('detail', '')}",
        style="",
    )
    console.print(line, soft_wrap=True)
    errors = problem.get("errors") or problem.get("breaks") or []
    if errors:
        table = _table("pointer", "problem", title=f"{len(errors)} problem(s)")
        for e in errors:
            table.add_row(Text(str(e.get("pointer", ""))), Text(str(e.get("detail", ""))))
        print_table(console, table)
    existing = problem.get("service_id")
    if response.status_code == 409 and isinstance(existing, int) and again:
        _say(console, f"to publish it as a new version of service {existing}:")
        _say(console, f"  {again} --replace {existing}")
    if problem.get("breaks") and again:
        _say(console, f"to publish it anyway (logged with every break): {again} --force")
    if problem.get("instance"):
        _say(console, f"request id: {problem['instance']}")
