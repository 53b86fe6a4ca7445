"""The 12345 citizen hotline's ticket system (12345热线工单系统), simulated.

The upstream behind the gateway's hotline API: the gateway's ``hotline`` connector speaks its
protocol, which is the hotline's own (POST, the envelope ``{"code", "msg", "data"}``, pinyin
field names, two-digit status codes), not the canonical API's. Tickets move 01 受理 →
02 派单 → 03 办理 → 04 回复 → 05 办结 → 06 回访 → 07 评价, handled by the prefecture's sub-centre
(or the 政企通 desk); every transition is called back to the gateway, signed with HMAC-SHA256.
Its contract is ``contracts/hotline/hotline.contract.yaml``. The product never imports this
package (it plays an independent system: nothing here imports the gateway's connectors or
services).

- ``create_hotline_app(callback_url=..., callback_secret=..., ...)``: the hotline as an ASGI
  app (create, query, evaluate), with fault injection, ``/_sim/*`` provider states and controls
  (advance a ticket, hold and deliver callbacks, the automatic schedule); given the gateway's
  keys it checks its signed assertion;
- ``Hotline``: one system's tickets, outbox and schedule (``app.state.hotline``);
- ``signature(secret, timestamp, body)``: the callbacks' ``X-Hotline-Signature``;
- ``openapi_document()``: its OpenAPI document, also served at ``/openapi.yaml``;
- ``HotlineServer``: the app on a real socket.
"""

from app.simulators.assertions import ASSERTION_HEADER
from app.simulators.hotline.app import (
    DEFAULT_AUDIENCE,
    Hotline,
    create_hotline_app,
    openapi_document,
)
from app.simulators.hotline.outbox import (
    DELIVERED,
    EVENT_HEADER,
    FAILED,
    QUEUED,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Outbox,
    signature,
)
from app.simulators.hotline.provider_states import PROVIDER_STATES
from app.simulators.hotline.schedule import Scheduler, ScheduleSettings
from app.simulators.hotline.serve import HotlineServer
from app.simulators.hotline.state import (
    CATEGORIES,
    CHANNELS,
    LEVELS,
    PRIORITIES,
    STATUS_NAMES,
    ZQT,
    HotlineState,
    Ticket,
    handling_unit,
)

# Where `xyb demo` serves it, after the cities (9001-9014), the registers (9015, 9016) and the
# alliance partners (9017-9019).
DEMO_PORT = 9020

__all__ = [
    "ASSERTION_HEADER",
    "CATEGORIES",
    "CHANNELS",
    "DEFAULT_AUDIENCE",
    "DELIVERED",
    "DEMO_PORT",
    "EVENT_HEADER",
    "FAILED",
    "LEVELS",
    "PRIORITIES",
    "PROVIDER_STATES",
    "QUEUED",
    "SIGNATURE_HEADER",
    "STATUS_NAMES",
    "TIMESTAMP_HEADER",
    "ZQT",
    "Hotline",
    "HotlineServer",
    "HotlineState",
    "Outbox",
    "ScheduleSettings",
    "Scheduler",
    "Ticket",
    "create_hotline_app",
    "handling_unit",
    "openapi_document",
    "signature",
]
