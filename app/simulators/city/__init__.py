"""The 14 prefectures' simulated government systems (不动产登记, 公积金, 社保, 居住证, 出生登记)."""

from app.simulators.city.api import CityState, city_error
from app.simulators.city.app import create_city_app
from app.simulators.city.data import city_data, prefectures
from app.simulators.city.drift import DRIFTS
from app.simulators.city.openapi import (
    CityItem,
    city_items,
    demo_port,
    item_code,
    openapi_document,
    openapi_json,
    openapi_version,
)
from app.simulators.city.provider_states import PROVIDER_STATES

CITY_DIVISIONS: tuple[str, ...] = tuple(p.code for p in prefectures())

__all__ = [
    "CITY_DIVISIONS",
    "DRIFTS",
    "PROVIDER_STATES",
    "CityItem",
    "CityState",
    "city_data",
    "city_error",
    "city_items",
    "create_city_app",
    "demo_port",
    "item_code",
    "openapi_document",
    "openapi_json",
    "openapi_version",
]
