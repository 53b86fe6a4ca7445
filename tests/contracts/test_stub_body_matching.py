"""Contract stubs tell apart interactions on one method and path by what they send.

The e-license registry's protocol POSTs every request of one kind to one path: which license, which
holder, which page is in the JSON body (contracts/elicense/registry.contract.yaml).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.contracts.matchers import example_of
from app.contracts.model import Interaction
from tests.contract_stubs import (
    NO_MATCH_STATUS,
    ContractRouter,
    NoInteractionMatches,
    choose_interaction,
    load,
    stub_router,
)

REGISTRY = load("elicense/registry")
BASE = "http://registry.test"


def sent_by(interaction: Interaction, **changes: Any) -> httpx.Request:
    """The request ``interaction`` sends; ``json=``/``headers=`` replace its body or headers."""
    spec = interaction.request
    headers = dict(changes.get("headers", spec.headers))
    if "json" in changes:
        content = json.dumps(changes["json"], ensure_ascii=False).encode("utf-8")
    else:
        content = spec.encoded_body()
    content_type = spec.effective_content_type()
    if content_type:
        headers.setdefault("Content-Type", content_type)
    return httpx.Request(
        spec.method or "POST",
        BASE + spec.path,
        params=list(spec.query),
        headers=headers,
        content=content,
    )


def send(router: ContractRouter, request: httpx.Request) -> httpx.Response:
    with httpx.Client(transport=httpx.MockTransport(router.handler)) as client:
        return client.send(request)


@pytest.mark.parametrize("interaction", REGISTRY.interactions, ids=lambda i: i.id)
def test_each_interaction_answers_its_own_request(interaction: Interaction) -> None:
    router = stub_router(REGISTRY)
    answer = send(router, sent_by(interaction))
    assert answer.status_code == interaction.response.status
    assert answer.json() == example_of(interaction.response.body)
    assert router.routes[interaction.id].call_count == 1
    assert sum(route.call_count for route in router.routes) == 1
    router.assert_all_matched()


def test_the_body_is_compared_as_json_not_as_text() -> None:
    firms = REGISTRY.interaction("a-firms-licenses")
    body = dict(reversed(list(firms.request.body.items())))  # other key order
    router = stub_router(REGISTRY)
    answer = send(router, sent_by(firms, json=body))
    assert answer.json() == example_of(firms.response.body)
    assert router.routes["a-firms-licenses"].called


def test_a_body_no_interaction_sends_gets_599_naming_every_candidate() -> None:
    residents = REGISTRY.interaction("a-residents-licenses")
    extra = {**residents.request.body, "zzzt": "01"}
    router = stub_router(REGISTRY)
    answer = send(router, sent_by(residents, json=extra))
    assert answer.status_code == NO_MATCH_STATUS
    problem = answer.json()
    assert problem["detail"] == ("POST /api/v2/zz/query matches none of the 3 interactions on it:")
    listed = {c["interaction"]: c for c in problem["candidates"]}
    assert list(listed) == ["a-residents-licenses", "a-firms-licenses", "a-holder-with-no-licenses"]
    assert listed["a-residents-licenses"]["mismatches"] == [
        '$.zzzt: is sent ("01") but not in the contract'
    ]
    assert listed["a-residents-licenses"]["description"] == residents.description
    assert any("$.czztdm" in m for m in listed["a-firms-licenses"]["mismatches"])
    assert not any(route.called for route in router.routes if route.name in listed)
    with pytest.raises(AssertionError, match="a-residents-licenses"):
        router.assert_all_matched()


def test_a_changed_value_is_named_with_its_path() -> None:
    valid = REGISTRY.interaction("a-valid-license")
    wrong = {"zzbs": valid.request.body["zzbs"][:-1] + "Z"}
    candidates = [i for i in REGISTRY.interactions if i.request.path == valid.request.path]
    with pytest.raises(NoInteractionMatches) as failure:
        choose_interaction(candidates, sent_by(valid, json=wrong))
    assert len(failure.value.reasons) == 5
    assert "$.zzbs: is not equal" in str(failure.value)
    assert valid.description is not None
    assert valid.description in str(failure.value)


def test_headers_the_interaction_names_are_matched_unless_told_not_to() -> None:
    types = REGISTRY.interaction("license-types-first-page")
    without_accept = sent_by(types, headers={})
    refused = send(stub_router(REGISTRY), without_accept)
    assert refused.status_code == NO_MATCH_STATUS
    mismatches = refused.json()["candidates"][0]["mismatches"]
    assert mismatches == ['header Accept: is missing (expected "application/json", got (missing))']
    lenient = stub_router(REGISTRY, match_headers=False)
    assert send(lenient, sent_by(types, headers={})).json() == example_of(types.response.body)


def test_the_state_narrows_the_candidates() -> None:
    router = stub_router(REGISTRY, state="a holder with licenses")
    nobody = REGISTRY.interaction("a-holder-with-no-licenses")
    answer = send(router, sent_by(nobody))
    assert answer.status_code == NO_MATCH_STATUS
    assert [c["interaction"] for c in answer.json()["candidates"]] == [
        "a-residents-licenses",
        "a-firms-licenses",
    ]


def test_a_lone_interaction_checks_the_request_only_when_strict() -> None:
    """Given "no license with this identifier", each path has one interaction: by default it
    answers any body (as stubs always did); strict, it answers only its own request."""
    state = "no license with this identifier"
    missing = REGISTRY.interaction("no-such-license")
    other = sent_by(missing, json={"zzbs": "something else"})
    assert send(stub_router(REGISTRY, state=state), other).status_code == 200
    strict = stub_router(REGISTRY, state=state, strict=True)
    assert send(strict, other).status_code == NO_MATCH_STATUS
    assert send(strict, sent_by(missing)).json() == example_of(missing.response.body)


def test_a_path_in_no_interaction_is_still_501() -> None:
    router = stub_router(REGISTRY)
    answer = send(router, httpx.Request("POST", BASE + "/api/v2/zz/unknown", json={}))
    assert answer.status_code == 501
    assert router.unmatched == []
