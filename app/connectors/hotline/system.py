"""The 12345 system's own protocol: every operation a POST of a JSON object, every answer the
envelope ``{"code", "msg", "data"}`` (app/simulators/hotline speaks it; its contract is
contracts/hotline/hotline.contract.yaml). The system's refusals (1xxx, 2xxx) come back as answers
for the connector to map."""

from __future__ import annotations

from app.connectors.base import ConnectorConfig
from app.connectors.envelope import Envelope, EnvelopeAnswer, EnvelopeClient

CREATE = "/api/12345/gd/create"
QUERY = "/api/12345/gd/query"
EVALUATE = "/api/12345/gd/evaluate"

SUCCESS = "0000"
BAD_PARAMETER = "1001"
NO_SUCH_TICKET = "2001"
REFERENCE_REUSED = "2002"
STATUS_FORBIDS = "2003"

SystemAnswer = EnvelopeAnswer


class HotlineSystem(EnvelopeClient):
    """POSTs envelopes to the 12345 system over the connector's transport (one pool)."""

    def __init__(self, config: ConnectorConfig) -> None:
        super().__init__(config, Envelope("The 12345 system", "code", "msg", SUCCESS))
