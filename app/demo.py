"""``xyb demo``: the gateway and the 14 city simulators in one process, onboarded and ready.

The cities are onboarded through the admin API over HTTP, exactly as a city developer would, so
the demo exercises the real onboarding path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import httpx
import uvicorn
from pydantic import SecretStr

from app.core.config import Settings, load_or_create_secret
from app.core.db import create_engine, create_sessionmaker, take_write_lock
from app.core.divisions import division as known_division
from app.core.http_server import uvicorn_options
from app.demo_admin import grant, publish
from app.demo_alliance import AllianceExamples, alliance_servers, give_history, onboard_alliance
from app.demo_elicense import (
    DemoResident,
    GatewayKeys,
    RoleClient,
    demo_resident,
    elicense_clients,
    onboard_elicense,
)
from app.demo_hotline import HotlineExamples, hotline_lines, hotline_server, onboard_hotline
from app.simulators import CITY_DIVISIONS, SimulatorHost, city_data, openapi_document
from app.simulators.elicense import RegistryServer
from app.simulators.enterprise import RegisterServer, seeded_enterprises

log = logging.getLogger("xyb.demo")
SLUG = "zwfw"
DEMO_ITEMS = 10_000
DEMO_OPERATOR = "operator"


async def _wait_ready(base: str, within_s: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while True:
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"the gateway at {base} did not become ready")
            await asyncio.sleep(0.1)


@dataclass(frozen=True)
class ElicenseExamples:
    resident: DemoResident
    verifier: RoleClient
    registry_url: str


@dataclass(frozen=True)
class DemoClient:
    client_id: str
    client_secret: str


async def demo_client(base: str, token: str, divisions: tuple[str, ...]) -> DemoClient:
    """The 湘易办 app's client, granted every city (deny by default: without grants, 403)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        created = await client.post(
            "/admin/clients", json={"name": "湘易办 app (demo)", "kind": "app"}
        )
        created.raise_for_status()
        info = created.json()
        for code in divisions:
            await grant(client, info["client_id"], code, SLUG)
    return DemoClient(info["client_id"], info["client_secret"])


async def onboard_cities(
    base: str, token: str, host: SimulatorHost, divisions: tuple[str, ...]
) -> list[int]:
    """Onboard (or re-publish) each city through the admin API; returns the service ids."""
    ids: list[int] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        for code in divisions:
            city = known_division(code)
            body = {
                "division": code,
                "slug": SLUG,
                "name": f"{city.name if city else code}政务服务",
                "upstream_url": host.url(code),
                "document": openapi_document(code),
                "data_classification": "personal",
            }
            service = await publish(client, body, code)
            ids.append(int(service["id"]))
    return ids


async def prepare_operations(settings: Settings) -> str:
    """A generated catalog (when the catalog is empty) and the demo's operator account.

    Returns the operator's password: generated once into the data dir, like the admin token.
    """
    from sqlalchemy import func, select

    from app.models.catalog import Item
    from app.models.counting import Operator
    from app.services.catalog.files import RawRow, validate_rows
    from app.services.catalog.generator import generate
    from app.services.catalog.store import save_items
    from app.services.ops.operators import create_operator
    from app.simulators.city.catalog import simulated_items

    password = load_or_create_secret(settings.data_dir, "demo_operator_password")
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            # The gateway beside it writes (its audit log, its counts) while this reads then
            # writes: on SQLite take the write lock first (see app.core.db.SQLITE_BEGIN).
            await take_write_lock(session)
            if not await session.scalar(select(func.count()).select_from(Item)):
                generated = generate(DEMO_ITEMS, seed=1, first=simulated_items())
                rows = [RawRow(n + 1, None, values) for n, values in enumerate(generated)]
                await save_items(session, validate_rows(rows))
                log.info("demo: loaded a generated catalog of %d items", len(generated))
            known = await session.scalar(
                select(Operator.username).where(Operator.username == DEMO_OPERATOR)
            )
            if known is None:
                await create_operator(session, DEMO_OPERATOR, password, ["operator"])
    finally:
        await engine.dispose()
    return password


def examples(
    base: str,
    token: str,
    host: SimulatorHost,
    app: DemoClient,
    operator_password: str = "",
    *,
    register_url: str | None = None,
    elicense: ElicenseExamples | None = None,
    alliance: AllianceExamples | None = None,
    hotline: HotlineExamples | None = None,
) -> str:
    """Working curl lines for what the demo serves."""
    city = CITY_DIVISIONS[0]
    data = city_data(city)
    resident = next(iter(data.fund_accounts))
    gw = f"{base}/gw/{city}/{SLUG}"
    control = host.control_url
    auth = '-H "Authorization: Bearer $TOKEN"'
    city_ports = sorted(int(host.url(code).rsplit(":", 1)[1]) for code in host.divisions)
    return "\n".join(
        [
            "",
            f"xyb demo: the gateway on {base}, {len(host.divisions)} city simulators behind it"
            f" (ports {city_ports[0]}-{city_ports[-1]}; fault control on {control})"
            + (f", the enterprise register on {register_url}." if register_url else "."),
            f"admin token: {token}",
            f"app client: {app.client_id}",
            f"app secret: {app.client_secret}",
            f"operators' dashboard: {base}/ops/dashboard"
            f" (user {DEMO_OPERATOR}, password {operator_password})",
            *(
                [
                    f"resident id number: {elicense.resident.id_number}",
                    f"resident password: {elicense.resident.password}",
                    f"verifier client: {elicense.verifier.client_id}",
                    f"verifier secret: {elicense.verifier.client_secret}",
                ]
                if elicense
                else []
            ),
            *(
                [
                    f"partner client: {alliance.guangdong.client_id}",
                    f"partner secret: {alliance.guangdong.client_secret}",
                ]
                if alliance
                else []
            ),
            "",
            "# an access token for the app (client_credentials; valid 15 minutes)",
            f"TOKEN=$(curl -s -u {app.client_id}:{app.client_secret}"
            f" -d grant_type=client_credentials {base}/identity/token"
            " | python3 -c 'import json,sys; print(json.load(sys.stdin)"
            '["access_token"])\')',
            "",
            "# every onboarded operation, as one OpenAPI document (its paths counted)",
            f"curl -s {base}/gw/openapi.json | python3 -c 'import json,sys;"
            ' paths = json.load(sys.stdin)["paths"];'
            ' print(len(paths), "paths:", *list(paths)[:5])\'',
            "# 住房公积金 account of a Changsha resident, through the gateway",
            f"curl -s {auth} {gw}/gjj/accounts/{resident}",
            "# 不动产登记 records by ID number",
            f"curl -s {auth} '{gw}/bdc/records?id_number={resident}'",
            "# a request the gateway refuses before the city sees it (422 with JSON pointers)",
            f"curl -s {auth} '{gw}/shebao/contributions?id_number={resident}&from=2023-13'",
            "# 居住证 application (JSON body)",
            f"curl -s {auth} -X POST {gw}/jzz/applications -H 'Content-Type: application/json' -d"
            f' \'{{"applicant_name": "张三", "id_number": "{resident}", "phone":'
            ' "13812345678", "address": "长沙市岳麓区麓山南路932号", "reason": "居住",'
            ' "residence_since": "2020-01-01"}\'',
            "# the catalog: Chinese search knows abbreviations (社保 finds 社会保险);"
            " -G --data-urlencode percent-encodes the query, as HTTP requires",
            f"curl -s -G --data-urlencode 'q=社保' -d limit=3 {base}/catalog/items",
            f"curl -s {base}/catalog/items/{city}-GJJ-001",
            "# year-end targets and access counts (the admin token has the operator role)",
            f"curl -s -H 'Authorization: Bearer {token}' {base}/ops/targets",
            f"curl -s -H 'Authorization: Bearer {token}'"
            f" '{base}/ops/access-counts?group_by=service,hour'",
            *(
                [
                    "# the enterprise register the gateway consults when a company registers"
                    " (only the legal representative it names may register it); it gives the"
                    " representative's ID number to the gateway alone (a token), others see the"
                    " public fields",
                    f"curl -s {register_url}/enterprises/{seeded_enterprises(1)[0].uscc}",
                ]
                if register_url
                else []
            ),
            *(_elicense_lines(base, app, elicense) if elicense else []),
            *(_alliance_lines(base, elicense, alliance) if elicense and alliance else []),
            *(
                hotline_lines(base, token, hotline, elicense.resident.name)
                if elicense and hotline
                else []
            ),
            "# the onboarded services",
            f"curl -s -H 'Authorization: Bearer {token}' {base}/admin/services",
            "# make Changsha hang, watch the gateway answer 504 within the timeout, then heal it",
            f"curl -s -X PATCH {control}/simulators/{city}/faults -H 'Content-Type:"
            " application/json' -d '{\"hang\": true}'",
            f"curl -s -X DELETE {control}/simulators/{city}/faults",
            "",
        ]
    )


def _elicense_lines(base: str, app: DemoClient, elicense: ElicenseExamples) -> list[str]:
    """A resident lists their licenses and makes a QR code; a verifier checks it."""
    resident, verifier = elicense.resident, elicense.verifier
    gw = f"{base}/gw/430000/elicense"
    access = """python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'"""
    text = """python3 -c 'import json,sys; print(json.load(sys.stdin)["text"])'"""
    png = """python3 -c 'import json,sys; print(json.load(sys.stdin)["qr"]["png"])'"""
    body = json.dumps({"licenseId": resident.id_card, "disclose": ["age_over_18"]})
    json_body = "-H 'Content-Type: application/json'"
    return [
        f"# e-licenses (电子证照): the registry on {elicense.registry_url} behind 430000/elicense;"
        f" {resident.name}, a resident holding {resident.licenses}, signs in through the app",
        f"RESIDENT=$(curl -s -u {app.client_id}:{app.client_secret} -d grant_type=password"
        f" -d username={resident.id_number} -d password={resident.password}"
        f" {base}/identity/token | {access})",
        f'curl -s -H "Authorization: Bearer $RESIDENT" {gw}/licenses',
        "# scan to show (扫码亮证): a presentation of the 居民身份证 that discloses only that its"
        " holder is over 18, as text and as a QR code (qr.png)",
        f"CODE=$(curl -s -H \"Authorization: Bearer $RESIDENT\" {json_body} -d '{body}'"
        f" {gw}/presentations)",
        'echo "$CODE"',
        f'TEXT=$(echo "$CODE" | {text})',
        f'curl -s -H "Authorization: Bearer $RESIDENT" -o qr.png {base}$(echo "$CODE" | {png})',
        "# a verifier (a client of the role verifier) checks the scanned text: valid, the holder"
        " masked, only age_over_18 disclosed; the same code again is already-used",
        f"VERIFIER=$(curl -s -u {verifier.client_id}:{verifier.client_secret}"
        f" -d grant_type=client_credentials {base}/identity/token | {access})",
        f'curl -s -H "Authorization: Bearer $VERIFIER" {json_body}'
        f' -d "{{\\"text\\": \\"$TEXT\\"}}" {gw}/verifications',
    ]


def _alliance_lines(base: str, elicense: ElicenseExamples, alliance: AllianceExamples) -> list[str]:
    """One filing at each partner with the same request; a 粤省事 resident opens 湘易办 without a
    second login (token exchange) and reads their records there."""
    resident, gd = elicense.resident, alliance.guangdong
    ports = sorted(int(url.rsplit(":", 1)[1]) for url in alliance.urls.values())
    access = """python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'"""
    pick = """python3 -c 'import json,sys; print(json.load(sys.stdin)["id_token"])'"""
    filing = json.dumps(
        {
            "insurance": "employee",
            "kind": "long-term-residence",
            "destination": "430100",
            "startDate": date.today().isoformat(),
            "phone": "13800138000",
        }
    )
    lines = [
        "# the cross-province alliance (跨省通办): 粤省事 440000, 随申办 310000 and 赣服通 360000"
        f" (ports {ports[0]}-{ports[-1]}) behind one API; the same 医保异地备案 at each partner for"
        f" {resident.name}, who once worked in all three provinces (the gateway signs them in at"
        " the partner; the same Idempotency-Key again returns the same filing)",
    ]
    for code in ("440000", "310000", "360000"):
        lines.append(
            f"curl -s -H \"Authorization: Bearer $RESIDENT\" -H 'Content-Type: application/json'"
            f" -H 'Idempotency-Key: demo-filing-1' -d '{filing}'"
            f" {base}/gw/{code}/alliance/medical-filings"
        )
    sign_in = json.dumps({"idNumber": resident.id_number, "audience": alliance.issuer})
    lines += [
        "# 社保互查: their contributions in Shanghai",
        f'curl -s -H "Authorization: Bearer $RESIDENT" \'{base}/gw/310000/alliance'
        "/social-insurance/records?fromMonth=2016-01&toMonth=2016-03'",
        "# single sign-on the other way: 粤省事 signs its resident in and hands over an ID token,"
        " which the partner app exchanges for a 湘易办 token (RFC 8693) and uses at once",
        f"IDTOKEN=$(curl -s -H 'Content-Type: application/json' -d '{sign_in}'"
        f" {alliance.urls['440000']}/_sim/sign-in | {pick})",
        f"GD=$(curl -s -u {gd.client_id}:{gd.client_secret}"
        " -d grant_type=urn:ietf:params:oauth:grant-type:token-exchange"
        " -d subject_token_type=urn:ietf:params:oauth:token-type:id_token"
        ' -d "subject_token=$IDTOKEN"'
        f" {base}/identity/token | {access})",
        f'curl -s -H "Authorization: Bearer $GD" {base}/gw/440000/alliance/provident-fund/account',
    ]
    return lines


async def run_demo(
    settings: Settings,
    *,
    host: str,
    port: int,
    simulator_port: int,
    divisions: tuple[str, ...] = tuple(CITY_DIVISIONS),
    on_ready: Callable[[str], None] = print,
    on_step: Callable[[str], None] = lambda text: None,
) -> None:
    """Serve until interrupted; ``on_step`` hears what it is doing while it starts."""
    from app.main import create_app

    local = f"http://{host}:{port}"
    # Documents and the printed examples name the demo's own address (unless configured).
    settings = settings.model_copy(update={"public_url": settings.public_url or local})
    base = settings.resolved_public_url
    # The enterprise register the gateway consults takes the port after the cities' (9015).
    register_port = 0 if simulator_port == 0 else simulator_port + 1 + len(CITY_DIVISIONS)
    # It gives legal representatives' ID numbers only to its consumer: this gateway, by a token.
    configured = settings.enterprise_register_token
    register_token = configured.get_secret_value() if configured else secrets.token_urlsafe(32)
    # The e-license registry takes the next port (9016); it checks the gateway's assertions.
    registry_port = 0 if simulator_port == 0 else register_port + 1
    # The alliance partners (粤省事, 随申办, 赣服通) take the next three (9017-9019).
    alliance_port = 0 if simulator_port == 0 else registry_port + 1
    # The 12345 system takes the one after them (9020); it calls the gateway back.
    hotline_port = 0 if simulator_port == 0 else alliance_port + 3
    gateway_keys = GatewayKeys()
    on_step(
        f"starting {len(divisions)} city simulators, the enterprise register, the e-license"
        " registry, the three alliance partners and the 12345 system"
    )
    async with (
        SimulatorHost(divisions=divisions, base_port=simulator_port) as simulators,
        RegisterServer(port=register_port, consumer_token=register_token) as register,
        RegistryServer(
            port=registry_port,
            gateway_jwks=gateway_keys,
            assertion_issuer=settings.resolved_issuer,
        ) as registry,
        alliance_servers(alliance_port, gateway_keys, settings.resolved_issuer) as partners,
        hotline_server(hotline_port, settings, local, gateway_keys) as hotline,
    ):
        if settings.enterprise_register_url is None:
            settings = settings.model_copy(
                update={
                    "enterprise_register_url": register.url,
                    "enterprise_register_token": SecretStr(register_token),
                }
            )
        config = uvicorn.Config(
            create_app(settings), host=host, port=port, loop="asyncio", **uvicorn_options(settings)
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        try:
            on_step(f"starting the gateway on {local}")
            await _wait_ready(local)
            token = settings.resolved_admin_token
            on_step(f"onboarding {len(divisions)} cities through the admin API")
            await onboard_cities(local, token, simulators, divisions)
            app = await demo_client(local, token, divisions)
            on_step("onboarding the e-license registry as 430000/elicense")
            async with gateway_keys.following(local):
                await onboard_elicense(local, token, registry.url)
                verifier, _department = await elicense_clients(local, token, app.client_id)
                resident = await demo_resident(local, settings)
                on_step("onboarding 粤省事, 随申办 and 赣服通 as <partner>/alliance")
                partner_client = await onboard_alliance(local, token, partners, app.client_id)
                await give_history(partners, resident.id_number, resident.name)
                on_step("onboarding the 12345 system as 430000/hotline")
                await onboard_hotline(local, token, hotline.url, app.client_id)
                on_step(f"the catalog ({DEMO_ITEMS:,} generated items when empty) and the operator")
                operator_password = await prepare_operations(settings)
                on_ready(
                    examples(
                        base,
                        token,
                        simulators,
                        app,
                        operator_password,
                        register_url=settings.enterprise_register_url,
                        elicense=ElicenseExamples(resident, verifier, registry.url),
                        alliance=AllianceExamples(
                            partners, partner_client, settings.resolved_issuer
                        ),
                        hotline=HotlineExamples(hotline.url),
                    )
                )
                await serving
        finally:
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await serving
