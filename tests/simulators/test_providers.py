"""The registry of simulated providers: the 14 cities as connector ``municipal``, by pinyin."""

from __future__ import annotations

import httpx
import pytest

from app.simulators import (
    CITY_DIVISIONS,
    SimulatorProvider,
    UnknownSimulator,
    openapi_document,
    simulator_for,
    simulators,
)
from app.simulators.providers import city_provider_names

CITY_NAMES = [
    "changsha",
    "zhuzhou",
    "xiangtan",
    "hengyang",
    "shaoyang",
    "yueyang",
    "changde",
    "zhangjiajie",
    "yiyang",
    "chenzhou",
    "yongzhou",
    "huaihua",
    "loudi",
    "xiangxi",
]


def test_the_fourteen_cities_by_pinyin() -> None:
    municipal = [s for s in simulators() if s.connector == "municipal"]
    assert [s.provider for s in municipal] == CITY_NAMES
    assert [s.division for s in municipal] == list(CITY_DIVISIONS)
    assert city_provider_names() == dict(zip(CITY_DIVISIONS, CITY_NAMES, strict=True))
    assert len({s.key for s in simulators()}) == len(simulators())


@pytest.mark.parametrize(
    ("provider", "division"), [("changsha", "430100"), ("xiangxi", "433100"), ("loudi", "431300")]
)
def test_simulator_for(provider: str, division: str) -> None:
    simulator = simulator_for("municipal", provider)
    assert isinstance(simulator, SimulatorProvider)
    assert (simulator.connector, simulator.provider, simulator.division) == (
        "municipal",
        provider,
        division,
    )
    assert simulator.key == f"municipal/{provider}"
    assert simulator.document() == openapi_document(division)


async def test_create_builds_the_city_app_with_its_options() -> None:
    simulator = simulator_for("municipal", "zhangjiajie")
    app = simulator.create(provider_states=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://zhangjiajie"
    ) as client:
        document = await client.get("/openapi.yaml")
        assert document.text == simulator.document()
        assert (await client.post("/_sim/reset")).status_code == 404


@pytest.mark.parametrize(
    ("connector", "provider"),
    [("municipal", "beijing"), ("municipal", "Changsha"), ("hotline", "changsha")],
)
def test_unknown_simulator_lists_the_known(connector: str, provider: str) -> None:
    with pytest.raises(UnknownSimulator) as raised:
        simulator_for(connector, provider)
    assert isinstance(raised.value, KeyError)
    assert (raised.value.connector, raised.value.provider) == (connector, provider)
    message = str(raised.value)
    assert repr(provider) in message
    assert "municipal/changsha" in message
    assert "municipal/xiangxi" in message
    assert raised.value.known == [s.key for s in simulators()]
