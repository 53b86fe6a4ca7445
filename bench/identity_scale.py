"""Identity at scale on PostgreSQL: 1,000,000 residents, then registrations, logins, look-ups and
token verification measured on that table.

.venv/bin/python -m bench.identity_scale [--persons 1000000] [--sample 200]
  (XYB_BENCH_DATABASE_URL: a PostgreSQL server; default the local one. A database
  xyb_bench_identity is created there and dropped at the end unless --keep.)

Method (see bench/README.md for the numbers):
1. Bulk load: residents with valid GB 11643 numbers across Hunan's counties, names and phones,
   each encrypted (AES-GCM), hashed (HMAC) and masked exactly as registration does, with one
   argon2 password hash computed once and reused for every bulk row; written with COPY.
2. Registrations through the API: `xyb serve` (one worker) on that database; N registrations over
   HTTP with 8 concurrent clients (argon2 hashing included) -> registrations per second.
3. Logins: the password grant for N bulk residents (argon2 verification included) -> p50/p95.
4. Look-up by ID number: the keyed-hash look-up the login does, on the 1,000,000-row table -> p50/p95.
5. Token verification: the offline check every /gw call makes, cold (signature) and cached.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from app.core.config import Settings
from app.core.db import create_engine
from app.core.divisions import divisions
from app.core.identifiers import make_resident_id, mask_phone, mask_resident_id
from app.core.migrations import upgrade
from app.identity.accounts import ASSURANCE_PASSWORD, ID_CONTEXT, PHONE_CONTEXT
from app.identity.crypto import DataCipher
from app.identity.keys import KeyRing, generate_key
from app.identity.passwords import hash_password
from app.identity.tokens import TokenIssuer, TokenVerifier

TOKEN = "bench-admin-token-0123456789abcdef0123456789"
PASSWORD = "bench-password-1"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅玲丹萍鹏辉健波宁琳"


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (
        statistics.median(ordered),
        ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
    )


def _residents(count: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """(name, id_number, phone) for ``count`` distinct residents of Hunan."""
    rng = random.Random(seed)
    counties = [d.code for d in divisions().values() if d.level == "county"]
    start = date(1940, 1, 1)
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    while len(out) < count:
        birth = start + timedelta(days=rng.randrange(0, 365 * 65))
        number = make_resident_id(rng.choice(counties), birth, rng.randrange(1, 999))
        if number in seen:
            continue
        seen.add(number)
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        phone = f"1{rng.choice('3456789')}{len(out):09d}"
        out.append((name, number, phone))
    return out


async def _bulk_load(url: str, cipher: DataCipher, people: list[tuple[str, str, str]]) -> float:
    password = hash_password(PASSWORD)  # once, reused: hashing a million would take hours
    now = datetime.now(UTC)
    started = time.perf_counter()
    rows = [
        (
            name,
            cipher.encrypt(number, context=ID_CONTEXT),
            cipher.lookup_hash(number, purpose="id_number"),
            mask_resident_id(number),
            cipher.encrypt(phone, context=PHONE_CONTEXT),
            cipher.lookup_hash(phone, purpose="phone"),
            mask_phone(phone),
            password,
            ASSURANCE_PASSWORD,
            "registered",
            "active",
            now,
        )
        for name, number, phone in people
    ]
    prepared = time.perf_counter() - started
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.copy_records_to_table(
            "persons",
            records=rows,
            columns=[
                "name",
                "id_number_enc",
                "id_number_hash",
                "id_number_masked",
                "phone_enc",
                "phone_hash",
                "phone_masked",
                "password_hash",
                "assurance",
                "source",
                "status",
                "created_at",
            ],
        )
        await conn.execute(
            "UPDATE account_counts SET n = (SELECT count(*) FROM persons) WHERE kind = 'persons'"
        )
        await conn.execute("ANALYZE persons")
    finally:
        await conn.close()
    total = time.perf_counter() - started
    print(f"bulk load: {len(rows):,} rows, {prepared:.1f} s preparing, {total:.1f} s in all")
    return total


async def _lookups(
    url: str, cipher: DataCipher, people: list[tuple[str, str, str]], n: int
) -> tuple[float, float]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        samples = []
        for _, number, _ in random.Random(1).sample(people, n):
            started = time.perf_counter()
            key = cipher.lookup_hash(number, purpose="id_number")
            found = await conn.fetchval("SELECT id FROM persons WHERE id_number_hash = $1", key)
            samples.append((time.perf_counter() - started) * 1000)
            assert found is not None
    finally:
        await conn.close()
    return _percentiles(samples)


async def _through_api(
    base: str, people: list[tuple[str, str, str]], sample: int
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        app = (
            await client.post(
                "/admin/clients", json={"name": "bench app", "kind": "app"}, headers=headers
            )
        ).json()
        await asyncio.sleep(1.5)  # the change feed reaches the serving instance
        fresh = _residents(len(people) + sample, seed=7)[len(people) :]
        queue = list(fresh)
        started = time.perf_counter()
        statuses: list[int] = []

        async def register() -> None:
            while queue:
                name, number, phone = queue.pop()
                answer = await client.post(
                    "/identity/persons",
                    json={
                        "name": name,
                        "id_number": number,
                        "phone": "139" + phone[3:],
                        "password": PASSWORD,
                    },
                )
                statuses.append(answer.status_code)

        await asyncio.gather(*(register() for _ in range(8)))
        registration_rate = len(statuses) / (time.perf_counter() - started)
        assert statuses.count(201) == len(statuses), statuses[:10]

        logins: list[float] = []
        for _, number, _ in random.Random(2).sample(people, sample):
            begun = time.perf_counter()
            answer = await client.post(
                "/identity/token",
                data={"grant_type": "password", "username": number, "password": PASSWORD},
                auth=(app["client_id"], app["client_secret"]),
            )
            logins.append((time.perf_counter() - begun) * 1000)
            assert answer.status_code == 200, answer.text
    p50, p95 = _percentiles(logins)
    return {"registrations_per_s": registration_rate, "login_p50": p50, "login_p95": p95}


def _verification() -> tuple[float, float]:
    ring = KeyRing([generate_key(datetime.now(UTC))])
    issuer = TokenIssuer(ring, issuer="xyb-gateway", audience="xyb-gateway")
    tokens = [
        issuer.issue(
            subject=f"p:{i}",
            client_id="cli_bench",
            kind="person",
            roles=(),
            assurance=1,
            family="f",
        )[0]
        for i in range(2000)
    ]
    cold = TokenVerifier(ring.get, issuer="xyb-gateway", audience="xyb-gateway", cache_size=0)
    cold_us = (
        min(timeit.repeat(lambda: [cold.verify(t) for t in tokens], number=1, repeat=3))
        / len(tokens)
        * 1e6
    )
    warm = TokenVerifier(ring.get, issuer="xyb-gateway", audience="xyb-gateway")
    for t in tokens:
        warm.verify(t)
    warm_us = (
        min(timeit.repeat(lambda: [warm.verify(t) for t in tokens], number=1, repeat=3))
        / len(tokens)
        * 1e6
    )
    return cold_us, warm_us


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    server = os.environ.get(
        "XYB_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    admin = await asyncpg.connect(server.replace("postgresql+asyncpg://", "postgresql://"))
    await admin.execute("DROP DATABASE IF EXISTS xyb_bench_identity WITH (FORCE)")
    await admin.execute("CREATE DATABASE xyb_bench_identity")
    url = server.rsplit("/", 1)[0] + "/xyb_bench_identity"
    data_key = DataCipher.generate_text()
    cipher = DataCipher.from_text(data_key)
    engine = create_engine(Settings(database_url=url), url)
    await upgrade(engine)
    await engine.dispose()

    people = _residents(args.persons)
    load_s = await _bulk_load(url, cipher, people)
    lookup_p50, lookup_p95 = await _lookups(url, cipher, people, 1000)

    port = 18765
    env = {
        **os.environ,
        "XYB_DATABASE_URL": url,
        "XYB_DATA_KEY": data_key,
        "XYB_ADMIN_TOKEN": TOKEN,
        "XYB_DATA_DIR": tempfile.mkdtemp(prefix="xyb-bench-"),
        "XYB_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        api = await _through_api(base, people, args.sample)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    cold_us, warm_us = _verification()
    if not args.keep:
        await admin.execute("DROP DATABASE IF EXISTS xyb_bench_identity WITH (FORCE)")
    await admin.close()
    print(f"\n{args.persons:,} persons in PostgreSQL; samples of {args.sample}\n")
    print("| measure | result |")
    print("| --- | ---: |")
    print(f"| bulk load (prepare + COPY) | {load_s:.1f} s |")
    print(
        f"| registrations through the API (8 clients, argon2 included) | {api['registrations_per_s']:.1f} /s |"
    )
    print(
        f"| login, password grant (argon2 verify included) p50 / p95 | {api['login_p50']:.1f} / {api['login_p95']:.1f} ms |"
    )
    print(
        f"| look-up by ID number (HMAC + indexed SELECT) p50 / p95 | {lookup_p50:.3f} / {lookup_p95:.3f} ms |"
    )
    print(f"| token verification per request, cold (EdDSA signature) | {cold_us:.1f} µs |")
    print(f"| token verification per request, cached | {warm_us:.2f} µs |")


if __name__ == "__main__":
    asyncio.run(main())
