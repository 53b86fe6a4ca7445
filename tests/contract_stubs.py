"""Upstream stubs built from contracts/: one source of truth for what providers answer.

``contract_stub("municipal/changsha")`` gives a respx router with one route per interaction
(method, path and the query it sends); it answers the interaction's example. A call that no
interaction describes gets 501 listing the interactions that exist, never a silent default.

Several interactions on one method and path (the e-license registry's POST protocol: one path
per operation, the request body says which license) are told apart by what the interaction
sends: its query pairs, its headers and its body. The first one (in contract order) whose request
matches answers; a request that matches none gets 599 listing each candidate and why it did not
match, and the router keeps the explanation (``router.unmatched``). ``strict=True`` checks a lone
interaction's request the same way (by default a lone one answers whatever body it is sent).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import respx
from respx.patterns import Match, Pattern

from app.contracts.matchers import example_of, is_matcher, json_path, match_header, match_json, show
from app.contracts.model import Contract, Interaction, load_contract

__all__ = [
    "CONTRACTS",
    "NO_MATCH_STATUS",
    "ContractRouter",
    "NoInteractionMatches",
    "choose_interaction",
    "load",
    "request_mismatches",
    "stub_router",
    "transport_for",
]

CONTRACTS = Path(__file__).resolve().parent.parent / "contracts"
# Outside the range any provider answers, so a test cannot mistake it for a contracted answer.
NO_MATCH_STATUS = 599


def load(name: str) -> Contract:
    """``municipal/changsha`` → contracts/municipal/changsha.contract.yaml."""
    return load_contract(CONTRACTS / f"{name}.contract.yaml")


class NoInteractionMatches(AssertionError):
    """A request on a contracted method and path that none of its interactions sends."""

    def __init__(self, request: httpx.Request, reasons: Sequence[tuple[Interaction, list[str]]]):
        self.reasons = list(reasons)
        lines = [
            f"{request.method} {request.url.path} matches none of the {len(reasons)}"
            " interactions on it:"
        ]
        for interaction, found in reasons:
            title = f"{interaction.id}" + (
                f" ({interaction.description})" if interaction.description else ""
            )
            lines.append(f"- {title}: {'; '.join(found)}")
        super().__init__("\n".join(lines))


class ContractRouter(respx.MockRouter):
    """A respx router whose routes are a contract's interactions (named by their ids)."""

    def __init__(self) -> None:
        super().__init__(assert_all_called=False, assert_all_mocked=False)
        self.unmatched: list[str] = []  # why each request no interaction matched got 599

    def assert_all_matched(self) -> None:
        """Fail with the explanations when a request matched none of its interactions."""
        if self.unmatched:
            raise AssertionError("\n\n".join(self.unmatched))


def _answer(interaction: Interaction) -> httpx.Response:
    expected = interaction.response
    headers: dict[str, str] = {}
    for name, matcher in expected.headers.items():
        value = example_of(matcher)
        if isinstance(value, str):
            headers[name] = value
    if expected.xml is not None:
        raise ValueError(f"{interaction.id}: XML answers are not stubbed yet; give a JSON example")
    if not expected.has_body:
        return httpx.Response(expected.status, headers=headers)
    headers.setdefault("Content-Type", "application/json")
    body = json.dumps(example_of(expected.body), ensure_ascii=False).encode("utf-8")
    return httpx.Response(expected.status, headers=headers, content=body)


# --- telling interactions apart -------------------------------------------------------------------


def _json_differences(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """How ``actual`` differs from a request body the contract sends: equal as JSON (no key more,
    none fewer, arrays as long), except where the contract writes a matcher."""
    if is_matcher(expected):
        return [str(m) for m in match_json(expected, actual, path)]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: is {show(actual)}, not an object"]
        found: list[str] = []
        for key, value in expected.items():
            where = json_path(path, str(key))
            if key in actual:
                found += _json_differences(value, actual[key], where)
            else:
                found.append(f"{where}: is missing (expected {show(value)})")
        found += [
            f"{json_path(path, str(key))}: is sent ({show(actual[key])}) but not in the contract"
            for key in actual
            if key not in expected
        ]
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: is {show(actual)}, not an array"]
        if len(actual) != len(expected):
            return [f"{path}: has {len(actual)} items, the contract {len(expected)}"]
        found = []
        for index, (item, value) in enumerate(zip(expected, actual, strict=True)):
            found += _json_differences(item, value, json_path(path, index))
        return found
    return [str(m) for m in match_json(expected, actual, path)]


def _form_pairs(body: Any) -> dict[str, list[str]]:
    pairs: dict[str, list[str]] = {}
    for key, value in (body or {}).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        pairs.setdefault(str(key), []).extend(str(v) for v in values)
    return pairs


def _body_differences(interaction: Interaction, request: httpx.Request) -> list[str]:
    spec = interaction.request
    content = request.content
    if spec.body_kind == "none":
        return [] if not content else [f"a body is sent ({len(content)} bytes); the contract none"]
    if spec.body_kind == "json":
        try:
            actual = json.loads(content)
        except ValueError:
            return [f"the body is not JSON: {show(content.decode('utf-8', 'replace'))}"]
        return _json_differences(spec.body, actual)
    text = content.decode("utf-8", "replace")
    if spec.body_kind == "form":
        sent: dict[str, list[str]] = {}
        for key, value in parse_qsl(text, keep_blank_values=True):
            sent.setdefault(key, []).append(value)
        expected = _form_pairs(spec.body)
        if sent == expected:
            return []
        return [f"the form is {show(sent)}, the contract's {show(expected)}"]
    if text == str(spec.body):
        return []
    return [f"the body is {show(text)}, the contract's {show(spec.body)}"]


def request_mismatches(
    interaction: Interaction, request: httpx.Request, *, match_headers: bool = True
) -> list[str]:
    """Why ``request`` is not the one ``interaction`` sends (empty: it is), method and path aside:
    a query pair it lacks, a header the interaction names (literal, or the contract's ``$regex``
    / ``$anyOf``), its body (see :func:`_json_differences`)."""
    found: list[str] = []
    sent = request.url.params.multi_items()
    found += [
        f"query {name}={value!r} is not sent"
        for name, value in interaction.request.query
        if (name, value) not in sent
    ]
    if match_headers:
        for name, expected in interaction.request.headers.items():
            found += [str(m) for m in match_header(expected, request.headers.get(name), name)]
    return found + _body_differences(interaction, request)


def choose_interaction(
    candidates: Sequence[Interaction], request: httpx.Request, *, match_headers: bool = True
) -> Interaction:
    """The first of ``candidates`` (the interactions on the request's method and path) whose
    request ``request`` is; :class:`NoInteractionMatches` (an AssertionError) saying why not
    for each one when there is none."""
    reasons: list[tuple[Interaction, list[str]]] = []
    for interaction in candidates:
        found = request_mismatches(interaction, request, match_headers=match_headers)
        if not found:
            return interaction
        reasons.append((interaction, found))
    raise NoInteractionMatches(request, reasons)


# --- the router ---------------------------------------------------------------------------------


class _SentBy(Pattern):
    """A respx pattern: the request is the one the interaction sends (request_mismatches).

    Its value is the interaction's id, so two interactions on one method and path are two routes
    (respx merges routes whose patterns are equal)."""

    def __init__(self, interaction: Interaction, match_headers: bool) -> None:
        super().__init__(interaction.id)
        self.interaction = interaction
        self.match_headers = match_headers

    def match(self, request: httpx.Request) -> Match:
        found = request_mismatches(self.interaction, request, match_headers=self.match_headers)
        return Match(not found)


# Set after the class is made: a `key` in its body would register it in respx's global table of
# lookups (`xyb_contract_request__eq=...`), which nothing uses, and a second import of this module
# (under another name) would raise there.
_SentBy.key = "xyb_contract_request"


def stub_router(
    contract: Contract,
    *,
    state: str | None = None,
    strict: bool = False,
    match_headers: bool = True,
) -> ContractRouter:
    """Routes for the contract's interactions (only those given ``state``, when named).

    Interactions sharing a method and path are chosen by the request (see the module's
    docstring); ``strict`` checks a lone interaction's request too; ``match_headers=False``
    ignores the headers the interactions list.
    """
    router = ContractRouter()
    chosen = [
        i
        for i in contract.interactions
        if state is None or (i.given is not None and i.given.state == state)
    ]
    if not chosen:
        raise ValueError(f"{contract.name} has no interaction given {state!r}")
    groups: dict[tuple[str, str], list[Interaction]] = {}
    for interaction in chosen:
        method = interaction.request.method or _method(contract, interaction)
        groups.setdefault((method, interaction.request.path), []).append(interaction)
    for interaction in chosen:
        request = interaction.request
        method = request.method or _method(contract, interaction)
        pattern: dict[str, Any] = {"method": method, "path": request.path}
        if request.query:
            pattern["params__contains"] = dict(request.query)
        checked: tuple[Pattern, ...] = ()
        if strict or len(groups[(method, request.path)]) > 1:
            checked = (_SentBy(interaction, match_headers),)
        router.route(*checked, name=interaction.id, **pattern).mock(
            return_value=_answer(interaction)
        )
    for (method, path), candidates in groups.items():
        if strict or len(candidates) > 1:
            router.route(
                name=f"no-interaction-matches {method} {path}", method=method, path=path
            ).mock(side_effect=_no_match(router, candidates, match_headers))
    listed = [
        f"{i.id}: {i.request.method or _method(contract, i)} {i.request.path}" for i in chosen
    ]

    def not_in_contract(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            501,
            json={
                "detail": f"{request.method} {request.url.path} is in no interaction of"
                f" {contract.name}",
                "interactions": listed,
            },
        )

    router.route(name="not-in-contract").mock(side_effect=not_in_contract)
    return router


def _no_match(
    router: ContractRouter, candidates: list[Interaction], match_headers: bool
) -> Callable[[httpx.Request], httpx.Response]:
    def refuse(request: httpx.Request) -> httpx.Response:
        try:
            # The routes before this one ran the same check, so a match here means they and it
            # disagree; answering it beats a 599 that blames the caller.
            return _answer(choose_interaction(candidates, request, match_headers=match_headers))
        except NoInteractionMatches as failure:
            router.unmatched.append(str(failure))
            return httpx.Response(
                NO_MATCH_STATUS,
                json={
                    "detail": str(failure).partition("\n")[0],
                    "candidates": [
                        {"interaction": i.id, "description": i.description, "mismatches": found}
                        for i, found in failure.reasons
                    ],
                },
            )

    return refuse


def _method(contract: Contract, interaction: Interaction) -> str:
    method, _, _ = interaction.operation.partition(" ")
    if method.isupper() and method.isalpha():
        return method
    from app.contracts.static import resolve_operation
    from app.services.openapi import analyse, parse_document

    assert contract.openapi_path is not None
    analysis = analyse(parse_document(contract.openapi_path.read_bytes()), check_spec=False)
    spec = resolve_operation(analysis, interaction.operation)
    if spec is None:
        raise ValueError(f"{contract.name} {interaction.id}: no operation {interaction.operation}")
    return spec.method


def transport_for(router: respx.MockRouter) -> httpx.AsyncBaseTransport:
    return httpx.MockTransport(router.async_handler)
