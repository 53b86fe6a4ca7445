"""What every part of the demo does through the admin API: publish a service (onboard it, or
re-publish it when the data directory already holds it) and grant a client operations."""

from __future__ import annotations

from typing import Any

import httpx


async def publish(client: httpx.AsyncClient, body: dict[str, Any], what: str) -> dict[str, Any]:
    """Onboards ``body`` (POST /admin/services), or publishes it as a new version of the service
    already at its division and slug (a demo restarted on the same data); the service."""
    response = await client.post("/admin/services", json=body)
    if response.status_code == 409:
        existing = response.json()["service_id"]
        response = await client.put(f"/admin/services/{existing}", json=body)
    if not response.is_success:
        raise RuntimeError(f"onboarding {what} failed: {response.text}")
    service: dict[str, Any] = response.json()
    return service


async def grant(
    client: httpx.AsyncClient,
    client_id: str,
    division: str,
    slug: str,
    operations: list[str] | None = None,
) -> None:
    """Grants ``client_id`` the service's ``operations`` (None: all of them)."""
    body: dict[str, Any] = {"division": division, "slug": slug}
    if operations is not None:
        body["operations"] = operations
    granted = await client.post(f"/admin/clients/{client_id}/grants", json=body)
    granted.raise_for_status()
