"""The market-supervision enterprise register (市场监管 企业登记), consulted when a legal person
registers: who a credit code's company is, whether it still exists, and who represents it.

The gateway asks ``GET {XYB_ENTERPRISE_REGISTER_URL}/enterprises/{uscc}`` (the contract is
``contracts/registers/enterprise.contract.yaml``) and trusts only what the register answers: the
company's name, its status and its legal representative (name and GB 11643 ID number). A register
publishes the name and the status to anyone but gives the ID number only to its authenticated
consumer: the gateway presents ``Authorization: Bearer {XYB_ENTERPRISE_REGISTER_TOKEN}`` (to the
register's own address only: redirects are not followed). One ``httpx.AsyncClient`` is opened in
the lifespan over the app's upstream transport (tests inject a stub through
``create_app(transport_factory=...)``).

Failures are never a silent accept. Not configured, unreachable, slower than ``TIMEOUT_S``, an
error status (401 when the register refuses the token), or an answer that is not the documented
shape (one without the ID number: the register did not take the gateway for its consumer):
``RegisterUnavailable`` (503). The answer carries an ID number: it is compared, never stored,
logged or shown; log lines name only the error class and a fixed sentence (the operator's
warning says which setting to check).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.core.errors import GatewayError, register_problem_type
from app.core.identifiers import normalise_resident_id, validate_resident_id, validate_uscc
from app.core.logging import describe_exception

log = logging.getLogger("xyb.identity.register")

TIMEOUT_S = 5.0  # the whole exchange: connect, headers and body
MAX_ANSWER_BYTES = 64 * 1024  # an enterprise is about 500 bytes
MAX_CONNECTIONS = 10
# The register's statuses meaning the enterprise exists and may act (国家企业信用信息公示系统).
ACTIVE_STATUSES = frozenset({"存续", "在业"})
KNOWN_STATUSES = ACTIVE_STATUSES | {"吊销", "注销", "迁出", "撤销", "停业", "清算"}
_MAX_NAME = 200
_MAX_REPRESENTATIVE = 100

REGISTER_NOT_CONFIGURED = register_problem_type(
    "enterprise-register-not-configured",
    503,
    "Enterprise register not configured",
    "Registering a legal person consults the market-supervision enterprise register, and this"
    " gateway has none configured: set XYB_ENTERPRISE_REGISTER_URL to the register's base URL"
    " (`xyb demo` runs a simulated register and sets it).",
)
REGISTER_UNAVAILABLE = register_problem_type(
    "upstream-enterprise-register-unavailable",
    503,
    "Enterprise register unavailable",
    "The market-supervision enterprise register could not be reached, did not answer in time or"
    " gave an answer the gateway cannot use, so the company could not be checked. Nothing was"
    " registered; try again later.",
)


class RegisterNotConfigured(GatewayError):
    problem = REGISTER_NOT_CONFIGURED


class RegisterUnavailable(GatewayError):
    problem = REGISTER_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class EnterpriseRecord:
    """What the register says about one enterprise (the ID number never in a repr)."""

    uscc: str
    name: str
    status: str
    representative: str
    representative_id_number: str = field(repr=False)

    @property
    def active(self) -> bool:
        """Whether the enterprise exists and may act (存续 or 在业)."""
        return self.status in ACTIVE_STATUSES


class _Unusable(Exception):
    """The register's answer is not what its contract says."""


class _WithoutIdNumber(_Unusable):
    """An enterprise without its representative's ID number: the public view, not the consumer's."""


def _printable(value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise _Unusable
    text = value.strip()
    if not text or len(text) > limit:
        raise _Unusable
    if any(not char.isprintable() for char in text):
        raise _Unusable
    return text


def _record(uscc: str, data: Any) -> EnterpriseRecord:
    """The enterprise from the register's JSON, checked field by field (it is an upstream)."""
    if not isinstance(data, dict) or data.get("uscc") != uscc:
        raise _Unusable
    status = data.get("status")
    if status not in KNOWN_STATUSES:
        raise _Unusable
    representative = data.get("legal_representative")
    if not isinstance(representative, dict):
        raise _Unusable
    id_number = representative.get("id_number")
    if id_number is None:
        raise _WithoutIdNumber
    if not isinstance(id_number, str) or validate_resident_id(id_number):
        raise _Unusable
    return EnterpriseRecord(
        uscc=uscc,
        name=_printable(data.get("name"), _MAX_NAME),
        status=status,
        representative=_printable(representative.get("name"), _MAX_REPRESENTATIVE),
        representative_id_number=normalise_resident_id(id_number),
    )


class EnterpriseRegister:
    """A client of the enterprise register at ``base_url`` (None: not configured)."""

    def __init__(
        self,
        base_url: str | None,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        token: str | None = None,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.base_url = base_url
        self.timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None
        if base_url is not None:
            headers = {"Accept": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            self._client = httpx.AsyncClient(
                base_url=base_url,
                transport=transport,
                timeout=httpx.Timeout(timeout_s),
                follow_redirects=False,  # the credential goes to the register's address only
                headers=headers,
            )

    @property
    def configured(self) -> bool:
        return self._client is not None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def lookup(self, uscc: str) -> EnterpriseRecord | None:
        """The enterprise with this (valid) credit code; None when the register has none."""
        if self._client is None:
            raise RegisterNotConfigured(
                "No enterprise register is configured, so no legal person can be registered:"
                " set XYB_ENTERPRISE_REGISTER_URL to the register's base URL (`xyb demo` sets it"
                " to its simulated register)."
            )
        if validate_uscc(uscc):
            raise ValueError("look up valid credit codes only")
        try:
            async with asyncio.timeout(self.timeout_s):
                status, body = await self._get(f"/enterprises/{uscc}")
        except (TimeoutError, httpx.TimeoutException):
            log.warning("the enterprise register did not answer in time")
            raise RegisterUnavailable(
                f"The enterprise register did not answer within {self.timeout_s:g} s, so the"
                " company could not be checked; nothing was registered. Try again later."
            ) from None
        except (httpx.HTTPError, OSError) as exc:
            # Named by the chain's classes (httpx's wrappers left out), never by its message.
            log.warning(
                "the enterprise register cannot be reached",
                extra={"error": describe_exception(exc)},
            )
            raise RegisterUnavailable(
                "The enterprise register cannot be reached, so the company could not be checked;"
                " nothing was registered. Try again later."
            ) from None
        if status == 404:
            return None
        if status in (401, 403):
            log.warning(
                "the enterprise register refused the gateway's credential"
                " (check XYB_ENTERPRISE_REGISTER_TOKEN)",
                extra={"status": status},
            )
            raise self._unusable()
        try:
            if status != 200 or body is None:
                raise _Unusable
            return _record(uscc, json.loads(body))
        except _WithoutIdNumber:
            log.warning(
                "the enterprise register answered without the legal representative's ID number:"
                " it gives that only to its authenticated consumer (set"
                " XYB_ENTERPRISE_REGISTER_TOKEN)"
            )
            raise self._unusable() from None
        except (_Unusable, ValueError, RecursionError):
            log.warning("the enterprise register gave an unusable answer", extra={"status": status})
            raise self._unusable() from None

    @staticmethod
    def _unusable() -> RegisterUnavailable:
        return RegisterUnavailable(
            "The enterprise register gave an answer the gateway cannot use, so the company"
            " could not be checked; nothing was registered. Try again later."
        )

    async def _get(self, path: str) -> tuple[int, bytes | None]:
        """The status and the (decoded) body; None for a body over ``MAX_ANSWER_BYTES``."""
        assert self._client is not None
        async with self._client.stream("GET", path) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    return response.status_code, None
                chunks.append(chunk)
            return response.status_code, b"".join(chunks)
