"""The demo's alliance part: 粤省事, 随申办 and 赣服通 simulated on the ports after the e-license
registry (9017-9019), each onboarded as ``<partner>/alliance`` with the canonical alliance API,
a partner client per partner for inbound single sign-on (its real keys registered), and the
demo resident given a work history in all three provinces."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from app.connectors.alliance import PARTNERS, SLUG, canonical_document
from app.demo_admin import grant, publish
from app.simulators.alliance.common import partner, partner_jwks
from app.simulators.alliance.guangdong import GuangdongServer
from app.simulators.alliance.jiangxi import JiangxiServer
from app.simulators.alliance.shanghai import ShanghaiServer

# Every operation of the canonical alliance API (deny by default: granted by name).
OPERATIONS = [
    "createMedicalFiling",
    "getMedicalFiling",
    "cancelMedicalFiling",
    "getSocialInsuranceRecords",
    "getProvidentFundAccount",
    "createProvidentFundTransfer",
    "getProvidentFundTransfer",
]
_SERVERS = {"440000": GuangdongServer, "310000": ShanghaiServer, "360000": JiangxiServer}


@dataclass(frozen=True)
class PartnerClient:
    """A partner app's client at the gateway (token exchange with the partner's ID tokens)."""

    province: str
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class AllianceExamples:
    urls: dict[str, str]  # partner code -> simulator URL
    guangdong: PartnerClient
    issuer: str  # the gateway's issuer: the audience of partners' ID tokens


@contextlib.asynccontextmanager
async def alliance_servers(
    first_port: int, gateway_jwks: Callable[[], dict[str, Any]], issuer: str
) -> AsyncIterator[dict[str, str]]:
    """The three partner simulators (``first_port`` 0: free ports), checking the gateway's
    assertions with its published keys; their URLs by partner code."""
    async with contextlib.AsyncExitStack() as stack:
        urls: dict[str, str] = {}
        for offset, (code, server) in enumerate(_SERVERS.items()):
            running = await stack.enter_async_context(
                server(
                    port=0 if first_port == 0 else first_port + offset,
                    gateway_jwks=gateway_jwks,
                    assertion_issuer=issuer,
                )
            )
            urls[code] = running.url
        yield urls


async def onboard_alliance(
    base: str, token: str, urls: dict[str, str], app_client_id: str
) -> PartnerClient:
    """Onboards (or re-publishes) the canonical alliance API at each partner, grants the app its
    operations there, and registers each partner app's keys for the token exchange; the
    粤省事 client (for the examples)."""
    headers = {"Authorization": f"Bearer {token}"}
    made: dict[str, PartnerClient] = {}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        for code, url in urls.items():
            body = {
                "division": code,
                "slug": SLUG,
                "name": f"{PARTNERS[code]} 跨省通办",
                "upstream_url": url,
                "document": canonical_document(),
                "connector": "alliance",
                # The partner acts on the verified ID number, which only such services may see.
                "data_classification": "personal",
            }
            await publish(client, body, PARTNERS[code])
            await grant(client, app_client_id, code, SLUG, OPERATIONS)
            made[code] = await _partner_client(client, code)
    return made["440000"]


async def _partner_client(client: httpx.AsyncClient, code: str) -> PartnerClient:
    """The partner app as a client of the gateway: its ID tokens are exchanged for 湘易办 tokens,
    which may call the alliance operations at that partner (a new client each start: the
    secret is shown once)."""
    who = partner(code)
    created = await client.post(
        "/admin/clients",
        json={
            "name": f"{who.app} (demo partner app)",
            "kind": "partner",
            "partner": {"province": code, "issuer": who.issuer, "jwks": partner_jwks(code)},
        },
    )
    created.raise_for_status()
    info = created.json()
    await grant(client, info["client_id"], code, SLUG, OPERATIONS)
    return PartnerClient(code, info["client_id"], info["client_secret"])


async def give_history(urls: dict[str, str], id_number: str, name: str) -> None:
    """The demo resident once worked in Guangdong, Shanghai and Jiangxi (each simulator's own
    provider state), so one login shows a history at every partner."""
    states = {
        "440000": (
            "a signed-in resident insured in Guangdong",
            {"idNumber": id_number, "name": name},
        ),
        "310000": ("a resident with a history in Shanghai", {"id_number": id_number, "name": name}),
        "360000": ("a resident with a history in Jiangxi", {"ZJHM": id_number, "XM": name}),
    }
    async with httpx.AsyncClient(timeout=30) as client:
        for code, url in urls.items():
            state, params = states[code]
            answer = await client.post(
                f"{url}/_sim/provider-state",
                json={"state": state, "params": params},
            )
            if not answer.is_success:
                raise RuntimeError(f"{PARTNERS[code]} refused the demo's history: {answer.text}")
