"""The catalog's contribution to the year-end targets: items online, and of those 一网通办."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.catalog import Item
from app.models.service import Operation, Service, ServiceStatus


async def catalog_target_values(session: AsyncSession) -> dict[str, int]:
    """Items online and bound to an operation of an active service, and those also one_network."""
    # One query: a correlated EXISTS over the operations bound to each item (index on item_code).
    bound = (
        select(Operation.id)
        .join(Service, Service.id == Operation.service_id)
        .where(Operation.item_code == Item.code, Service.status == ServiceStatus.ACTIVE.value)
        .exists()
    )
    statement = select(
        func.count(Item.id),
        func.coalesce(func.sum(case((Item.one_network.is_(True), 1), else_=0)), 0),
    ).where(Item.online.is_(True), bound)
    online, one_network = (await session.execute(statement)).one()
    return {"items_online": int(online), "one_network": int(one_network)}
