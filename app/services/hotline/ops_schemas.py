"""Response models of the operators' hotline API (they document /ops/hotline in the gateway's
OpenAPI document); the answers themselves are built by ``app.services.hotline.figures``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.services.hotline.closing import MAX_RESOLUTION

_RATE = "part / whole, from 0 to 1; null when there is nothing to divide by"
_CARD = "yellow (its deadline is near), red (past it) or null (none, or closed)"


class StatusCountOut(BaseModel):
    status: str = Field(description="accepted, dispatched, handling, replied, closed, ...")
    label: str = Field(description="受理, 派单, 办理, 回复, 办结, 回访, 评价")
    tickets: int


class TicketDivisionOut(BaseModel):
    division: str
    division_name: str | None
    total: int
    open: int
    closed: int
    closed_on_time: int
    yellow: int = Field(description="open tickets with a yellow card")
    red: int = Field(description="open tickets past their deadline")


class TicketFiguresOut(BaseModel):
    total: int
    open: int
    closed: int = Field(description="closed (办结) at some point: closed, revisited or rated")
    by_status: list[StatusCountOut] = Field(description="every status, in the hotline's order")
    by_division: list[TicketDivisionOut] = Field(description="by the ticket's division, by code")


class OnTimeOut(BaseModel):
    closed: int
    closed_on_time: int = Field(description="closed by their deadline (closed_at <= deadline)")
    rate: float | None = Field(description="closed_on_time / closed; " + _RATE)
    open_late: int = Field(description="open tickets already past their deadline")


class CardCountsOut(BaseModel):
    yellow: int
    red: int


class CardsOut(BaseModel):
    yellow: int = Field(description="open tickets and follow-ups with a yellow card")
    red: int = Field(description="open tickets and follow-ups past their deadline")
    tickets: CardCountsOut
    follow_ups: CardCountsOut


class RatingGroupOut(BaseModel):
    key: str | None = Field(description="the item code (null: no item), division or channel")
    name: str | None = Field(description="the item's catalog name, division's or channel's name")
    ratings: int
    satisfied: int = Field(description="ratings of 非常满意, 满意 or 基本满意")
    rate: float | None = Field(description="satisfied / ratings; " + _RATE)
    levels: dict[str, int] = Field(
        description="ratings per level: very-satisfied, satisfied, basically-satisfied,"
        " dissatisfied, very-dissatisfied"
    )


class SatisfactionOut(BaseModel):
    ratings: int
    satisfied: int = Field(description="ratings of 非常满意, 满意 or 基本满意")
    rate: float | None = Field(description="satisfied / ratings; " + _RATE)
    levels: dict[str, int]
    by_item: list[RatingGroupOut] = Field(description="the 100 most rated items")
    items_truncated: bool = Field(description="more items were rated than by_item shows")
    by_division: list[RatingGroupOut] = Field(description="by the rated service's division")
    by_channel: list[RatingGroupOut]


class FollowUpDivisionOut(BaseModel):
    division: str
    division_name: str | None
    open: int
    overdue: int = Field(description="open and past their deadline (a red card)")
    yellow: int
    closed: int
    closed_on_time: int


class FollowUpFiguresOut(BaseModel):
    open: int
    overdue: int = Field(description="open and past their deadline (a red card)")
    yellow: int
    closed: int
    closed_on_time: int
    by_division: list[FollowUpDivisionOut]


class HotlineSummaryOut(BaseModel):
    as_of: str
    yellow_days: int = Field(
        description="working days before its deadline an open ticket or follow-up turns yellow"
    )
    tickets: TicketFiguresOut
    on_time: OnTimeOut
    cards: CardsOut
    satisfaction: SatisfactionOut
    follow_ups: FollowUpFiguresOut


class ListFiltersOut(BaseModel):
    state: str = Field(description="open, closed or all")
    status: list[str] | None = None
    division: list[str] | None = Field(description="the divisions asked for and those under them")
    card: str | None


class TicketRowOut(BaseModel):
    id: str
    number: str | None = Field(description="the hotline system's ticket number (工单编号)")
    division: str
    division_name: str | None
    category: str
    channel: str
    desk: str = Field(description="centre, or zqt (政企通)")
    priority: str
    centre: str | None = Field(description="the unit handling it (承办单位)")
    item_code: str | None
    status: str
    status_label: str
    filed_at: str
    deadline: str
    deadline_estimated: bool
    closed_at: str | None
    card: str | None = Field(description=_CARD)
    on_time: bool | None = Field(description="closed by its deadline; null while open")


class TicketListOut(BaseModel):
    as_of: str
    filters: ListFiltersOut
    limit: int
    total: int = Field(description="tickets matching the filters")
    truncated: bool
    tickets: list[TicketRowOut]


class FollowUpOut(BaseModel):
    id: str
    rating_id: str
    division: str = Field(description="the rated item's division, which owns the follow-up")
    division_name: str | None
    item_code: str | None
    item_name: str | None
    subject_kind: str | None = Field(description="ticket or call: what was rated")
    channel: str | None
    level: str | None = Field(description="dissatisfied or very-dissatisfied")
    level_label: str | None
    opened_at: str
    deadline: str
    deadline_estimated: bool
    card: str | None = Field(description=_CARD)
    closed_at: str | None
    closed_by: str | None
    resolution: str | None
    on_time: bool | None = Field(description="closed by its deadline; null while open")


class FollowUpListOut(BaseModel):
    as_of: str
    filters: ListFiltersOut
    divisions: list[str] | None = Field(
        description="a division admin's reach (null: every division)"
    )
    limit: int
    total: int
    truncated: bool
    follow_ups: list[FollowUpOut]


class FollowUpCloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: str = Field(
        min_length=1,
        max_length=MAX_RESOLUTION,
        pattern=r"\S",
        description="what was done about the rating (not blank)",
    )
