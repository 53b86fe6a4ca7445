"""The registry's own protocol: every operation a POST of a JSON object, every answer the envelope
``{"resultCode", "resultMsg", "data"}`` (app/simulators/elicense speaks it; its contract is
contracts/elicense/registry.contract.yaml). The registry's refusals (1xxx, 2xxx) come back as
answers for the caller to map (app.connectors.envelope)."""

from __future__ import annotations

from app.connectors.base import ConnectorConfig
from app.connectors.envelope import Envelope, EnvelopeAnswer, EnvelopeClient

TYPES = "/api/v2/zzlx/query"
HOLDER = "/api/v2/zz/query"
DETAIL = "/api/v2/zz/detail"
ISSUE = "/api/v2/zz/issue"
REVOKE = "/api/v2/zz/revoke"

SUCCESS = "0000"
BAD_PARAMETER = "1001"
UNKNOWN_TYPE = "1002"
NO_SUCH_LICENSE = "2001"
ALREADY_EXISTS = "2002"
STATUS_FORBIDS = "2003"

RegistryAnswer = EnvelopeAnswer


class RegistryClient(EnvelopeClient):
    """POSTs envelopes to the registry over the connector's transport (one pool)."""

    def __init__(self, config: ConnectorConfig) -> None:
        super().__init__(
            config, Envelope("The e-license registry", "resultCode", "resultMsg", SUCCESS)
        )
