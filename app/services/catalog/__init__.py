"""The catalog of service items (政务服务事项): files, storage, search, generator, targets."""

from app.services.catalog.targets import catalog_target_values

__all__ = ["catalog_target_values"]
