"""Replaying contract interactions against a provider (or its simulator) and judging the answers.

Each interaction goes through the connector's own client (the same code the gateway uses),
after its provider state is set up; an upstream the gateway consults itself (``registers``) is
sent plain HTTP, as its client sends it (``app.contracts.consulted``). The answer is checked
twice: by Schemathesis' response checks against the provider's OpenAPI (status code, content
type, headers, schema where the body is JSON) and by the contract's own matchers.

Schemathesis is the ``contracts`` extra (``pip install 'xyb-gateway[contracts]'``), not a
dependency of the gateway: it brings pytest, hypothesis and a Rust JSON Schema engine that a
production image has no use for. Without it nothing is verified (:func:`require_response_checks`
says how to install it): a check that did not run is never reported as passed, and neither is an
interaction whose document Schemathesis could not load.
"""

from __future__ import annotations

import datetime
import json
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlencode

import httpx

from app.connectors.base import ConnectorConfig, ConnectorError, UpstreamRequest, UpstreamResponse
from app.connectors.registry import ConnectorRegistry
from app.contracts.consulted import (
    CONSULTED_CONNECTORS,
    TRANSLATING_CONNECTORS,
    PlainHTTPClient,
)
from app.contracts.matchers import Mismatch, match_header, match_json, match_xml
from app.contracts.model import Contract, Interaction
from app.contracts.static import StaticProblem, check_contract, resolve_operation
from app.services.openapi import DocumentRefused, OperationSpec, analyse, parse_document

Outcome = Literal["pass", "fail", "skip"]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECRET_HEADERS = ("authorization", "cookie", "proxy-authorization", "x-api-key")
REPLAY_TIMEOUT_S = 30.0
INSTALL_CONTRACTS_EXTRA = "pip install 'xyb-gateway[contracts]'"


class ResponseChecksUnavailable(RuntimeError):
    """Schemathesis, which runs the response checks, cannot be imported: nothing can be verified."""


def require_response_checks() -> None:
    """Raise :class:`ResponseChecksUnavailable`, with the install command, unless they can run."""
    try:
        import schemathesis.specs.openapi.checks  # noqa: F401
    except ImportError as exc:
        raise ResponseChecksUnavailable(
            "xyb contracts verify checks every answer with Schemathesis, which cannot be imported"
            f" here ({exc}): install it with `{INSTALL_CONTRACTS_EXTRA}` (in a checkout:"
            " `pip install -e '.[contracts]'`). Nothing was verified."
        ) from exc


@dataclass
class InteractionResult:
    """What happened to one interaction."""

    contract: str  # the contract file (as given)
    contract_name: str  # connector/provider
    interaction: str
    operation: str
    given: str | None
    target: str
    outcome: Outcome
    reason: str | None = None
    curl: str | None = None
    expected: dict[str, Any] = field(default_factory=dict)
    actual: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # static problems and check failures
    mismatches: list[Mismatch] = field(default_factory=list)
    duration_ms: float = 0.0


@dataclass
class Report:
    target: str
    results: list[InteractionResult]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def failed(self) -> bool:
        return self.count("fail") > 0


@dataclass
class Target:
    """Where interactions are replayed."""

    label: str  # "simulator" or the URL
    base_url: str
    transport: httpx.AsyncBaseTransport
    # Sets provider states (POST /_sim/provider-state); None when the target cannot.
    control: httpx.AsyncClient | None
    is_simulator: bool
    allow_writes: bool
    headers: Mapping[str, str] = field(default_factory=dict)
    # What to print in curl lines (a simulator in-process is reproduced with `xyb demo`).
    curl_base: str = ""

    async def aclose(self) -> None:
        if self.control is not None:
            await self.control.aclose()
        await self.transport.aclose()


def _merged_headers(target: Target, interaction: Interaction) -> dict[str, str]:
    """The interaction's headers, a target's (``--header``) replacing any of the same name: an
    operator's credential for a live provider wins over the contract's (the enterprise register's
    interactions present the replay simulator's consumer token)."""
    replaced = {name.lower() for name in target.headers}
    kept = {k: v for k, v in interaction.request.headers.items() if k.lower() not in replaced}
    return {**kept, **dict(target.headers)}


def _curl(target: Target, interaction: Interaction) -> str:
    request = interaction.request
    method = request.method or "GET"
    url = target.curl_base.rstrip("/") + request.path
    if request.query:
        url += "?" + urlencode(list(request.query))
    parts = ["curl", "-X", method, url]
    headers = _merged_headers(target, interaction)
    content_type = request.effective_content_type()
    if content_type and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = content_type
    for name, value in headers.items():
        shown = "[REDACTED]" if name.lower() in SECRET_HEADERS or "token" in name.lower() else value
        parts += ["-H", f"{name}: {shown}"]
    body = request.encoded_body()
    if body:
        parts += ["--data-binary", body.decode("utf-8", errors="replace")]
    return " ".join(shlex.quote(p) for p in parts)


def _excerpt(body: bytes, limit: int = 400) -> str:
    text = body.decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + "…"


class _Provider:
    """The provider's OpenAPI document, analysed once per contract, and its Schemathesis schema."""

    def __init__(self, document: dict[str, Any]) -> None:
        import schemathesis

        self.document = document
        self.analysis = analyse(document, check_spec=False)
        self.schema = schemathesis.openapi.from_dict(document)

    def operation(self, ref: str) -> OperationSpec | None:
        return resolve_operation(self.analysis, ref)

    def schemathesis_failures(
        self,
        spec: OperationSpec,
        interaction: Interaction,
        response: httpx.Response,
    ) -> list[str]:
        """Schemathesis' response checks; each failure as 'title: message'."""
        from schemathesis.specs.openapi.checks import (
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
            status_code_conformance,
        )

        operation = self.schema[spec.path][spec.method]
        request = interaction.request
        case = operation.Case(
            path_parameters=_path_parameters(spec.path, request.path),
            query=dict(request.query) or None,
            headers=dict(request.headers) or None,
        )
        try:
            case.validate_response(
                response,
                checks=[
                    status_code_conformance,
                    content_type_conformance,
                    response_headers_conformance,
                    response_schema_conformance,
                ],
            )
        except BaseExceptionGroup as group:  # FailureGroup is not an Exception
            return [_failure_text(e) for e in group.exceptions]
        except AssertionError as failure:
            return [_failure_text(failure)]
        return []


def _failure_text(failure: BaseException) -> str:
    title = getattr(failure, "title", type(failure).__name__)
    message = str(getattr(failure, "message", "") or failure).strip()
    first = message.splitlines()[0] if message else ""
    path = getattr(failure, "instance_path", None)
    where = (
        " at $" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path) if path else ""
    )
    return f"{title}: {first}{where}"


def _path_parameters(template: str, path: str) -> dict[str, str]:
    names = template.split("/")
    values = path.split("/")
    params: dict[str, str] = {}
    for name, value in zip(names, values, strict=False):
        if name.startswith("{") and name.endswith("}"):
            params[name[1:-1]] = unquote(value)
    return params


def _as_httpx(answer: UpstreamResponse, body: bytes, request: httpx.Request) -> httpx.Response:
    response = httpx.Response(answer.status, headers=answer.headers, content=body, request=request)
    response.elapsed = datetime.timedelta(0)
    return response


async def _set_state(target: Target, interaction: Interaction) -> str | None:
    """Set the interaction's provider state; a reason to skip when the target cannot."""
    given = interaction.given
    if target.is_simulator and target.control is not None:
        await target.control.post("/_sim/reset")
    if given is None:
        return None
    if target.control is None:
        return f"the target cannot set up provider state {given.state!r}"
    try:
        answer = await target.control.post(
            "/_sim/provider-state", json={"state": given.state, "params": given.params}
        )
    except httpx.HTTPError as exc:
        return f"the target cannot set up provider state {given.state!r} ({exc})"
    if answer.status_code in (404, 405, 501):
        return f"the target cannot set up provider state {given.state!r} (no /_sim/provider-state)"
    if answer.status_code >= 400:
        detail = answer.text[:200]
        if target.is_simulator:
            raise StateSetupFailed(f"provider state {given.state!r} was refused: {detail}")
        return f"the target refused provider state {given.state!r}: {detail}"
    return None


class StateSetupFailed(RuntimeError):
    """A simulator refused a state: the contract names a state the simulator does not know."""


def _upstream_request(target: Target, interaction: Interaction) -> UpstreamRequest:
    request = interaction.request
    headers = _merged_headers(target, interaction)
    content_type = request.effective_content_type()
    if content_type and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = content_type
    method = request.method or "GET"
    return UpstreamRequest(
        method=method,
        path=request.path,
        query=urlencode(list(request.query)),
        headers=list(headers.items()),
        body=request.encoded_body(),
        timeout=REPLAY_TIMEOUT_S,
        idempotent=method in SAFE_METHODS,
        request_id=f"contract-{interaction.id}",
        division="000000",
    )


async def _read_all(answer: UpstreamResponse) -> bytes:
    if answer.complete:
        return answer.body
    chunks = [answer.body]
    try:
        async for chunk in answer.rest():
            chunks.append(chunk)
    finally:
        await answer.aclose()
    return b"".join(chunks)


def _judge(
    interaction: Interaction, status: int, headers: httpx.Headers, body: bytes
) -> list[Mismatch]:
    expected = interaction.response
    mismatches: list[Mismatch] = []
    if status != expected.status:
        mismatches.append(
            Mismatch("status", str(expected.status), str(status), "a different status")
        )
    for name, matcher in expected.headers.items():
        mismatches.extend(match_header(matcher, headers.get(name), name))
    if expected.xml is not None:
        mismatches.extend(match_xml(expected.xml, body))
    elif expected.has_body:
        try:
            actual = json.loads(body) if body else None
        except ValueError:
            mismatches.append(
                Mismatch("$", "a JSON body", _excerpt(body, 80), "the answer is not JSON")
            )
        else:
            mismatches.extend(match_json(expected.body, actual))
    return mismatches


async def replay_contract(
    contract: Contract,
    target: Target,
    *,
    source: str,
    registry: ConnectorRegistry | None = None,
) -> list[InteractionResult]:
    """Static checks, then every interaction of one contract against one target."""
    static = check_contract(contract)
    by_interaction: dict[str | None, list[StaticProblem]] = {}
    for problem in static:
        by_interaction.setdefault(problem.interaction, []).append(problem)
    results: list[InteractionResult] = []
    contract_problems = by_interaction.get(None, [])
    if contract_problems:
        results.append(
            InteractionResult(
                contract=source,
                contract_name=contract.name,
                interaction="(contract)",
                operation="-",
                given=None,
                target=target.label,
                outcome="fail",
                reason="static checks of the contract failed",
                problems=[f"{p.pointer}: {p.message}" for p in contract_problems],
            )
        )
    provider, unchecked = _load_provider(contract)
    registry = registry or ConnectorRegistry.discover()
    plain = contract.connector in CONSULTED_CONNECTORS | TRANSLATING_CONNECTORS
    factory = PlainHTTPClient if plain else registry.factory(contract.connector)
    connector = factory(
        ConnectorConfig(
            service=contract.name,
            base_url=target.base_url,
            transport=target.transport,
            max_connections=4,
            buffer_bytes=16 * 1024 * 1024,
            max_response_bytes=64 * 1024 * 1024,
            retries=0,
        )
    )
    for interaction in contract.interactions:
        results.append(
            await _replay_one(
                contract,
                interaction,
                target,
                connector_send=connector.send,
                provider=provider,
                unchecked=unchecked,
                static=by_interaction.get(interaction.id, []),
                source=source,
            )
        )
    return results


def _load_provider(contract: Contract) -> tuple[_Provider | None, str]:
    """The provider's document with its Schemathesis schema, or why the response checks cannot run.

    The static checks report a missing or broken document too; whatever the reason (Schemathesis
    may also refuse a document the gateway reads), every interaction fails with it instead of
    passing unchecked. A missing Schemathesis is not the contract's fault: the ImportError goes up.
    """
    if contract.openapi_path is None:
        return None, "the contract has no OpenAPI document to check the answers against"
    try:
        document = parse_document(contract.openapi_path.read_bytes())
    except (OSError, DocumentRefused) as exc:
        return None, f"its OpenAPI document cannot be read ({type(exc).__name__})"
    try:
        return _Provider(document), ""
    except ImportError:
        raise  # not a property of this contract: verify() names the install command
    except Exception as exc:  # Schemathesis' loader errors have no common base
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        return (
            None,
            f"Schemathesis cannot load its OpenAPI document ({type(exc).__name__}: {first})",
        )


async def _replay_one(
    contract: Contract,
    interaction: Interaction,
    target: Target,
    *,
    connector_send: Any,
    provider: _Provider | None,
    unchecked: str = "",
    static: Sequence[StaticProblem],
    source: str,
) -> InteractionResult:
    method = interaction.request.method or "GET"
    spec = provider.operation(interaction.operation) if provider else None
    if spec is not None and interaction.request.method is None:
        method = spec.method
    result = InteractionResult(
        contract=source,
        contract_name=contract.name,
        interaction=interaction.id,
        operation=interaction.operation,
        given=interaction.given.state if interaction.given else None,
        target=target.label,
        outcome="pass",
        curl=_curl(target, _with_method(interaction, method)),
        expected={"status": interaction.response.status},
        problems=[f"{p.pointer}: {p.message}" for p in static],
    )
    if static:
        result.outcome, result.reason = "fail", "static checks failed"
        return result
    if method not in SAFE_METHODS and not target.is_simulator and not target.allow_writes:
        result.outcome = "skip"
        result.reason = f"{method} is not replayed against a live provider without --allow-writes"
        return result
    started = time.perf_counter()
    try:
        skip = await _set_state(target, interaction)
        if skip is not None:
            result.outcome, result.reason = "skip", skip
            return result
        request = _upstream_request(target, _with_method(interaction, method))
        answer = await connector_send(request)
        body = await _read_all(answer)
    except ConnectorError as exc:
        result.outcome, result.reason = "fail", exc.detail
        return result
    except StateSetupFailed as exc:
        result.outcome, result.reason = "fail", str(exc)
        return result
    finally:
        result.duration_ms = (time.perf_counter() - started) * 1000
    as_httpx = _as_httpx(
        answer, body, httpx.Request(method, target.base_url.rstrip("/") + request.path)
    )
    result.actual = {
        "status": answer.status,
        "content_type": as_httpx.headers.get("content-type"),
        "body": _excerpt(body),
    }
    result.expected["content_type"] = interaction.response.headers.get(
        "Content-Type", interaction.response.headers.get("content-type")
    )
    result.mismatches = _judge(interaction, answer.status, as_httpx.headers, body)
    if provider is not None and spec is not None:
        result.problems += provider.schemathesis_failures(spec, interaction, as_httpx)
    else:
        why = (
            unchecked or f"the operation {interaction.operation} is not in the provider's document"
        )
        result.problems.append(f"Schemathesis' response checks did not run: {why}")
    if result.mismatches or result.problems:
        result.outcome = "fail"
        result.reason = (
            f"{len(result.mismatches)} mismatch(es) with the contract, "
            f"{len(result.problems)} failed response check(s)"
        )
    return result


def _with_method(interaction: Interaction, method: str) -> Interaction:
    if interaction.request.method == method:
        return interaction
    from dataclasses import replace

    return replace(interaction, request=replace(interaction.request, method=method))


async def simulator_target(contract: Contract, *, drift: frozenset[str] = frozenset()) -> Target:
    """The contract's provider simulated in-process (its state is reset before each interaction)."""
    from app.simulators.providers import simulator_for

    provider = simulator_for(contract.connector, contract.provider)
    app = provider.create(drift=drift) if drift else provider.create()
    base = "http://simulator"
    return Target(
        label="simulator",
        base_url=base,
        transport=httpx.ASGITransport(app=app),
        control=httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base),
        is_simulator=True,
        allow_writes=True,
        curl_base=provider.demo_url,
    )


def url_target(url: str, *, allow_writes: bool, headers: Mapping[str, str]) -> Target:
    """A live provider: states are set up only if it offers /_sim/provider-state."""
    from httpx_aiohttp import AiohttpTransport

    return Target(
        label=url,
        base_url=url,
        transport=AiohttpTransport(),
        control=httpx.AsyncClient(base_url=url, headers=dict(headers), timeout=10),
        is_simulator=False,
        allow_writes=allow_writes,
        headers=headers,
        curl_base=url,
    )


async def verify(
    files: Sequence[Path],
    *,
    target: str,
    allow_writes: bool = False,
    headers: Mapping[str, str] | None = None,
    drift: frozenset[str] = frozenset(),
    on_file: Callable[[int, Path], None] | None = None,
) -> Report:
    """Verify contract files against ``target`` ("simulator" or a base URL).

    ``on_file(done, path)`` is told before each file (the CLI's progress bar).

    Raises :class:`ResponseChecksUnavailable` before anything runs when Schemathesis is missing.
    """
    from app.contracts.model import ContractFileError, load_contract

    require_response_checks()
    results: list[InteractionResult] = []
    for done, path in enumerate(files):
        if on_file is not None:
            on_file(done, path)
        try:
            contract = load_contract(path)
        except ContractFileError as exc:
            results.append(
                InteractionResult(
                    contract=str(path),
                    contract_name="?",
                    interaction="(contract)",
                    operation="-",
                    given=None,
                    target=target,
                    outcome="fail",
                    reason="the contract file is malformed",
                    problems=[f"{p.pointer}: {p.message}" for p in exc.problems],
                )
            )
            continue
        where = (
            await simulator_target(contract, drift=drift)
            if target == "simulator"
            else url_target(target, allow_writes=allow_writes, headers=headers or {})
        )
        try:
            results += await replay_contract(contract, where, source=str(path))
        finally:
            await where.aclose()
    return Report(target=target, results=results)
