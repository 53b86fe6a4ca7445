"""The demo's 12345 part: the hotline system simulator onboarded as ``430000/hotline``, calling
the gateway back (signed) as its sub-centres work through the tickets on their schedule."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import httpx

from app.connectors.hotline import DIVISION, SLUG, canonical_document
from app.core.config import Settings
from app.demo_admin import grant, publish
from app.services.hotline.callbacks import callback_secret
from app.simulators.assertions import JwksSource
from app.simulators.hotline import HotlineServer

# What the app may call: every operation of the hotline service is a resident's own.
OPERATIONS = [
    "fileTicket",
    "listMyTickets",
    "getTicket",
    "rateTicket",
    "rateCall",
    "listMyRatings",
]


@dataclass(frozen=True)
class HotlineExamples:
    url: str  # the simulator's


def hotline_server(port: int, settings: Settings, gateway: str, keys: JwksSource) -> HotlineServer:
    """The 12345 system on ``port``: it checks the gateway's assertions and calls ``gateway``
    back, signed with the secret both share (the data directory's, unless configured), advancing
    every open ticket on its schedule."""
    return HotlineServer(
        port=port,
        callback_url=f"{gateway}/callbacks/hotline",
        callback_secret=callback_secret(settings).decode("utf-8"),
        gateway_jwks=keys,
        assertion_issuer=settings.resolved_issuer,
        auto=True,
        # Its tickets live in memory, the gateway's in the data directory: a demo restarted on
        # the same (Shanghai) day numbers on from the time of day (ten numbers a second), not 1.
        first_serial=1 + ((int(time.time()) + 8 * 3600) % 86_400) * 10,
    )


async def onboard_hotline(base: str, token: str, url: str, app_client_id: str) -> None:
    """Onboard (or re-publish) the canonical 12345 API, upstream the hotline system, and grant
    the app its operations."""
    body = {
        "division": DIVISION,
        "slug": SLUG,
        "name": "12345政务服务便民热线",
        "upstream_url": url,
        "document": canonical_document(),
        "connector": "hotline",
        # The system learns the resident's pairwise pseudonym, never their ID number.
        "data_classification": "internal",
    }
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        await publish(client, body, "the 12345 hotline")
        await grant(client, app_client_id, DIVISION, SLUG, OPERATIONS)


def hotline_lines(base: str, token: str, hotline: HotlineExamples, resident_name: str) -> list[str]:
    """A ticket's life: filed through the app, worked by the sub-centre (here one step at a
    time through the simulator's control, as the schedule would), read back with its history,
    rated; and the operators' view."""
    gw = f"{base}/gw/{DIVISION}/{SLUG}"
    field = """python3 -c 'import json,sys; print(json.load(sys.stdin)["{0}"])'"""
    ticket = json.dumps(
        {
            "category": "complaint",
            "content": "小区门口的路灯坏了一个月，夜里出行不便",
            "division": "430104",
        },
        ensure_ascii=False,
    )
    rating = json.dumps(
        {"level": "dissatisfied", "comment": "修好了，但拖得太久"}, ensure_ascii=False
    )
    json_body = "-H 'Content-Type: application/json'"
    return [
        f"# the 12345 hotline (工单): the 12345 system on {hotline.url} behind 430000/hotline;"
        f" {resident_name} files a complaint through the app (the same Idempotency-Key again"
        " returns the same ticket); it goes to the 长沙 sub-centre with a deadline of 5 working"
        " days",
        f'TICKET=$(curl -s -H "Authorization: Bearer $RESIDENT" {json_body}'
        f" -H 'Idempotency-Key: demo-ticket-1' -d '{ticket}' {gw}/tickets)",
        'echo "$TICKET"',
        f'ID=$(echo "$TICKET" | {field.format("id")})',
        f'NUMBER=$(echo "$TICKET" | {field.format("number")})',
        "# the sub-centre dispatches, handles, replies, closes and calls back (回访); the system"
        " does it on its schedule, this moves it on at once; each step reaches the gateway as a"
        " signed callback",
        f'curl -s -X POST {json_body} -d \'{{"until": "06", "wait": true}}\''
        f" {hotline.url}/_sim/tickets/$NUMBER/advance > /dev/null",
        f'curl -s -H "Authorization: Bearer $RESIDENT" {gw}/tickets/$ID',
        "# 好差评: the resident rates it; 不满意 opens a follow-up owned by the division",
        f"curl -s -H \"Authorization: Bearer $RESIDENT\" {json_body} -d '{rating}'"
        f" {gw}/tickets/$ID/rating",
        "# operators: tickets by status and division, on-time rate, satisfaction, cards,"
        " follow-ups",
        f"curl -s -H 'Authorization: Bearer {token}' {base}/ops/hotline",
    ]
