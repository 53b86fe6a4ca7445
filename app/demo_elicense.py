"""The demo's e-license part: the registry simulator onboarded as ``430000/elicense``, the
clients that use it (the app, a verifier, a department) and a resident who holds licenses."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from app.connectors.elicense import DIVISION, SLUG, canonical_document
from app.core.config import Settings, load_or_create_secret
from app.core.db import create_engine, create_sessionmaker, take_write_lock
from app.demo_admin import grant, publish
from app.identity.accounts import verify_in_person
from app.identity.crypto import DataCipher
from app.services.elicense.types import license_types_named
from app.simulators.elicense import License, seeded_licenses

# Operations each demo client may call (deny by default).
RESIDENT_OPERATIONS = [
    "listLicenseTypes",
    "listMyLicenses",
    "getLicense",
    "createPresentation",
    "presentationQrPng",
    "presentationQrSvg",
    "grantConsent",
    "listConsents",
    "withdrawConsent",
]


@dataclass(frozen=True)
class DemoResident:
    name: str
    id_number: str
    phone: str
    password: str
    licenses: int
    id_card: str  # the identifier of their 居民身份证


@dataclass(frozen=True)
class RoleClient:
    client_id: str
    client_secret: str


class GatewayKeys:
    """The gateway's JWK Set as the registry simulator checks assertions with it: fetched once the
    gateway is up, then every minute (a rotated key reaches the registry within a minute)."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}

    def __call__(self) -> dict[str, Any]:
        return self.jwks

    @contextlib.asynccontextmanager
    async def following(self, base: str) -> AsyncIterator[None]:
        async def refresh() -> None:
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                while True:
                    with contextlib.suppress(httpx.HTTPError, ValueError):
                        answer = await client.get("/.well-known/jwks.json")
                        if answer.is_success:
                            self.jwks = answer.json()
                    await asyncio.sleep(60)

        await asyncio.wait_for(self._first(base), timeout=30)
        task = asyncio.create_task(refresh())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _first(self, base: str) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            answer = await client.get("/.well-known/jwks.json")
            answer.raise_for_status()
            self.jwks = answer.json()


async def onboard_elicense(base: str, token: str, registry_url: str) -> None:
    """Onboard (or re-publish) the canonical e-license API, upstream the registry."""
    body = {
        "division": DIVISION,
        "slug": SLUG,
        "name": "湖南省电子证照",
        "upstream_url": registry_url,
        "document": canonical_document(),
        "connector": "elicense",
        # Holders are decided from the verified ID number, which only such services may see.
        "data_classification": "sensitive",
    }
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        await publish(client, body, "the e-license service")


async def elicense_clients(
    base: str, token: str, app_client_id: str
) -> tuple[RoleClient, RoleClient]:
    """Grants the app the residents' operations; makes a verifier and a department client."""
    headers = {"Authorization": f"Bearer {token}"}
    made: list[RoleClient] = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        await grant(client, app_client_id, DIVISION, SLUG, RESIDENT_OPERATIONS)
        for name, role, operations, division in (
            ("扫码核验终端 (demo verifier)", "verifier", ["verifyPresentation"], None),
            # A provincial department: it issues and revokes for issuers anywhere in Hunan.
            (
                "发证部门 (demo department)",
                "department",
                ["issueLicense", "revokeLicense"],
                DIVISION,
            ),
        ):
            fields = {"name": name, "kind": "app", "roles": [role]}
            if division is not None:
                fields["division"] = division
            created = await client.post("/admin/clients", json=fields)
            created.raise_for_status()
            info = created.json()
            await grant(client, info["client_id"], DIVISION, SLUG, operations)
            made.append(RoleClient(info["client_id"], info["client_secret"]))
    return made[0], made[1]


def license_holder(seed: int = 1) -> tuple[str, str, list[License]]:
    """The seeded resident with the most licenses (name, ID number, licenses), one who has a
    居民身份证 that is valid."""
    id_card = license_types_named("居民身份证")[0].code
    by_holder: dict[str, list[License]] = {}
    for item in seeded_licenses(seed):
        if item.holder_code_kind == "111":
            by_holder.setdefault(item.holder_code, []).append(item)
    candidates = [
        held
        for held in by_holder.values()
        if any(x.type_code == id_card and x.status(date.today()) == "01" for x in held)
    ]
    best = max(candidates, key=lambda held: (len(held), held[0].holder_code))
    return best[0].holder_name, best[0].holder_code, best


async def demo_resident(base: str, settings: Settings) -> DemoResident:
    """Registers the license holder as a resident (once; the password is kept in the data dir),
    verified in person as a clerk would record it (``xyb persons verify``): assurance 2."""
    name, id_number, held = license_holder()
    password = load_or_create_secret(settings.data_dir, "demo_resident_password")
    phone = "139" + id_number[-8:].replace("X", "0")
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        answer = await client.post(
            "/identity/persons",
            json={"name": name, "id_number": id_number, "phone": phone, "password": password},
        )
        if answer.status_code not in (201, 409):
            raise RuntimeError(f"registering the demo resident failed: {answer.text}")
    await _verified_in_person(settings, id_number, name, password)
    id_card = license_types_named("居民身份证")[0].code
    card = next(x for x in held if x.type_code == id_card and x.status(date.today()) == "01")
    return DemoResident(name, id_number, phone, password, len(held), card.identifier)


async def _verified_in_person(settings: Settings, id_number: str, name: str, password: str) -> None:
    """The counter verification (it sets a new password: the demo's own, so the printed one
    keeps working)."""
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            # The gateway beside it writes too: on SQLite take the write lock first.
            await take_write_lock(session)
            cipher = DataCipher.from_text(settings.resolved_data_key)
            await verify_in_person(
                session, cipher, id_number=id_number, name=name, new_password=password
            )
    finally:
        await engine.dispose()
