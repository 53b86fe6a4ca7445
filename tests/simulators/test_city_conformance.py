"""Schemathesis: city apps answer only what their own OpenAPI documents promise.

The fuzzer draws ID numbers, record ids and application ids from the city's seeded data most of
the time (schemathesis dictionaries), so the 200/201 answers are checked against their schemas
too, not only the errors. ``positive_data_acceptance`` is told that 400 and 422 are fine answers
to schema-valid requests: JSON Schema cannot express the GB 11643 check digit, nor the rules
(six months of residence, a parent living in the city, at most 60 months per query) the
documents state in words.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from app.simulators import PROVIDER_STATES, create_city_app
from app.simulators.city import city_data
from tests.simulators.clock import fixed_clock


@pytest.mark.parametrize(
    ("division", "document"),
    [("430100", "/openapi.yaml"), ("430200", "/openapi.json"), ("433100", "/openapi.yaml")],
)
def test_city_conforms_to_its_openapi(division: str, document: str) -> None:
    app = create_city_app(division, clock=fixed_clock)
    state = app.state.city
    applications = [f"JZZ{division}-90000{n}" for n in range(1, 4)]
    registrations = [f"CSDJ{division}-90000{n}" for n in range(1, 4)]
    for application_id, registration_id in zip(applications, registrations, strict=True):
        PROVIDER_STATES["a residence permit application exists"](
            state, {"application_id": application_id}
        )
        PROVIDER_STATES["a birth registration exists"](state, {"registration_id": registration_id})
    data = city_data(division)
    people = sorted(
        data.residents,
        key=lambda n: (n not in data.fund_accounts, data.residents[n].insured_since is None),
    )[:60]

    def drawn_from(dictionary: str, probability: float = 0.8) -> dict[str, Any]:
        return {"dictionary": dictionary, "probability": probability}

    config = schemathesis.Config.from_dict(
        {
            "dictionaries": {
                "people": {"values": people},
                "records": {"values": sorted(data.estates)[:40]},
                "applications": {"values": applications},
                "registrations": {"values": registrations},
            },
            "parameters": {
                "id_number": drawn_from("people"),
                "body.id_number": drawn_from("people"),
                "body.mother_id_number": drawn_from("people"),
                "body.father_id_number": drawn_from("people", 0.5),
                "record_id": drawn_from("records"),
                "application_id": drawn_from("applications"),
                "registration_id": drawn_from("registrations"),
            },
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404", "422"]}
            },
        }
    )
    schema = schemathesis.openapi.from_asgi(document, app, config=config)
    operations: list[Any] = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 9
    answered: Counter[tuple[str, int]] = Counter()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=20,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            response = case.call_and_validate()
            answered[(case.operation.label, response.status_code // 100)] += 1

        check()
    succeeded = {label for label, kind in answered if kind == 2}
    assert len(succeeded) >= 7, answered  # the happy paths were fuzzed, not only the errors
