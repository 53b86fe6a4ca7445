"""The partners' dialects, by the partner's GB/T 2260 code."""

from __future__ import annotations

from app.connectors.alliance.dialects.base import Dialect


def dialect_for(division: str) -> Dialect | None:
    """The dialect of the partner at ``division``; None when no partner is there."""
    # Imported here: each dialect is its own module, loaded only where a partner is onboarded.
    if division == "440000":
        from app.connectors.alliance.dialects.guangdong import GuangdongDialect

        return GuangdongDialect()
    if division == "310000":
        from app.connectors.alliance.dialects.shanghai import ShanghaiDialect

        return ShanghaiDialect()
    if division == "360000":
        from app.connectors.alliance.dialects.jiangxi import JiangxiDialect

        return JiangxiDialect()
    return None
