"""The simulated providers by (connector, provider name): what contracts and their tests look up.

A provider's name is the one its contract files carry (``contracts/<connector>/<provider>...``).
The 14 city systems are connector ``municipal``, each named by the lower-case pinyin of its
prefecture in ``app/data/hunan_divisions.csv`` (``changsha`` .. ``xiangxi``). The registers the
gateway consults itself are connector ``registers`` (``enterprise``: the market-supervision
register, served by ``xyb demo`` on port 9015). The e-license registry is connector ``elicense``
(``registry``; ``xyb demo`` serves it on port 9016). The partner apps of the cross-province
alliance are connector ``alliance`` (``guangdong`` 粤省事, ``shanghai`` 随申办, ``jiangxi`` 赣服通;
ports 9017-9019). The 12345 hotline's ticket system is connector ``hotline`` (``hotline``; port
9020). Other connectors add their simulators by adding a function of their providers
to ``_PROVIDER_LISTS``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from importlib.resources import files

from starlette.types import ASGIApp

from app.simulators.city import CITY_DIVISIONS, create_city_app, openapi_document

MUNICIPAL = "municipal"
REGISTERS = "registers"
ELICENSE = "elicense"
ALLIANCE = "alliance"
HOTLINE = "hotline"


@dataclass(frozen=True, slots=True)
class SimulatorProvider:
    """One simulated provider.

    ``create(**options)`` builds its ASGI app (for the cities: ``create_city_app``'s keyword
    arguments, such as ``clock``, ``faults`` or ``drift``); ``document()`` is its OpenAPI document.
    """

    connector: str
    provider: str
    division: str
    create: Callable[..., ASGIApp]
    document: Callable[[], str]
    # Where `xyb demo` serves it, for a simulator that is not one of the cities.
    url: str | None = None

    @property
    def key(self) -> str:
        """``connector/provider``, e.g. ``municipal/changsha``."""
        return f"{self.connector}/{self.provider}"

    @property
    def demo_url(self) -> str:
        """Where ``xyb demo`` serves this simulator (for reproducing a contract failure)."""
        from app.simulators.city import demo_port

        if self.url is not None:
            return self.url
        return f"http://127.0.0.1:{demo_port(self.division)}"


class UnknownSimulator(KeyError):
    """No simulator is registered under this connector and provider name."""

    def __init__(self, connector: str, provider: str, known: list[str]) -> None:
        super().__init__(f"{connector}/{provider}")
        self.connector = connector
        self.provider = provider
        self.known = known

    def __str__(self) -> str:
        return (
            f"no simulator for provider {self.provider!r} of connector {self.connector!r}; "
            f"known: {', '.join(self.known)}"
        )


@cache
def city_provider_names() -> dict[str, str]:
    """The provider name of each prefecture, by division code: ``{"430100": "changsha", ...}``."""
    text = files("app.data").joinpath("hunan_divisions.csv").read_text(encoding="utf-8")
    names = {
        row["code"]: row["pinyin"].strip().lower() for row in csv.DictReader(text.splitlines())
    }
    return {division: names[division] for division in CITY_DIVISIONS}


def _city_providers() -> list[SimulatorProvider]:
    return [
        SimulatorProvider(
            connector=MUNICIPAL,
            provider=name,
            division=division,
            create=partial(create_city_app, division),
            document=partial(openapi_document, division),
        )
        for division, name in city_provider_names().items()
    ]


def _register_providers() -> list[SimulatorProvider]:
    """The registers the gateway consults itself (not through /gw): connector ``registers``."""
    from app.simulators.enterprise import (
        CONTRACT_CONSUMER_TOKEN,
        DEMO_PORT,
        create_register_app,
    )
    from app.simulators.enterprise import openapi_document as register_document

    return [
        SimulatorProvider(
            connector=REGISTERS,
            provider="enterprise",
            division="430000",
            # The contract's interactions present this token (the register's one consumer).
            create=partial(create_register_app, consumer_token=CONTRACT_CONSUMER_TOKEN),
            document=register_document,
            url=f"http://127.0.0.1:{DEMO_PORT}",
        )
    ]


def _elicense_providers() -> list[SimulatorProvider]:
    """The provincial e-license registry (connector ``elicense``)."""
    from app.simulators.elicense import DEMO_PORT, create_registry_app
    from app.simulators.elicense import openapi_document as registry_document

    return [
        SimulatorProvider(
            connector=ELICENSE,
            provider="registry",
            division="430000",
            # Replay has no gateway: the registry checks no assertion (it is given no keys).
            create=create_registry_app,
            document=registry_document,
            url=f"http://127.0.0.1:{DEMO_PORT}",
        )
    ]


def _alliance_providers() -> list[SimulatorProvider]:
    """The partner apps of the cross-province alliance (connector ``alliance``): 粤省事 (9017),
    随申办 (9018) and 赣服通 (9019), each in its own dialect."""
    from app.simulators.alliance import guangdong, jiangxi, shanghai

    return [partner.simulator_provider() for partner in (guangdong, shanghai, jiangxi)]


def _hotline_providers() -> list[SimulatorProvider]:
    """The 12345 hotline's ticket system (connector ``hotline``)."""
    from app.simulators.hotline import DEMO_PORT, create_hotline_app
    from app.simulators.hotline import openapi_document as hotline_document

    return [
        SimulatorProvider(
            connector=HOTLINE,
            provider="hotline",
            division="430000",
            # Replay has no gateway: no assertion is checked (no keys), no callback is sent (no
            # callback URL) and nothing moves by itself (the schedule is off).
            create=create_hotline_app,
            document=hotline_document,
            url=f"http://127.0.0.1:{DEMO_PORT}",
        )
    ]


# Every connector's providers; a later connector appends its own list function here.
_PROVIDER_LISTS: tuple[Callable[[], list[SimulatorProvider]], ...] = (
    _city_providers,
    _register_providers,
    _elicense_providers,
    _alliance_providers,
    _hotline_providers,
)


@cache
def _registry() -> dict[tuple[str, str], SimulatorProvider]:
    registry: dict[tuple[str, str], SimulatorProvider] = {}
    for provider_list in _PROVIDER_LISTS:
        for simulator in provider_list():
            key = (simulator.connector, simulator.provider)
            if key in registry:
                raise RuntimeError(f"simulator {simulator.key} is registered twice")
            registry[key] = simulator
    return registry


def simulators() -> list[SimulatorProvider]:
    """Every registered simulator, in registration order (the 14 cities first)."""
    return list(_registry().values())


def simulator_for(connector: str, provider: str) -> SimulatorProvider:
    """The simulator of ``provider`` under ``connector``; ``UnknownSimulator`` lists the known."""
    try:
        return _registry()[(connector, provider)]
    except KeyError:
        raise UnknownSimulator(connector, provider, [s.key for s in simulators()]) from None
