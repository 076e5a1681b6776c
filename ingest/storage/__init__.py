"""Storage adapters behind one seam (``Storage.write(lines)``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._base import Storage, StorageError, StorageRejected, StorageUnavailable
from ._influx1 import Influx1Storage
from ._influx2 import Influx2Storage

if TYPE_CHECKING:
    from ingest.config import StorageConfig


def open_storage(cfg: StorageConfig) -> Storage:
    """The adapter the config asks for."""
    if cfg.kind == "influx2":
        return Influx2Storage(
            cfg.url,
            org=cfg.org,
            bucket=cfg.bucket,
            token=cfg.token() or "",
            timeout_s=cfg.timeout_s,
        )
    return Influx1Storage(
        cfg.url,
        cfg.database,
        retention_policy=cfg.retention_policy,
        username=cfg.username,
        password=cfg.password(),
        timeout_s=cfg.timeout_s,
        use_gzip=cfg.gzip,
    )


__all__ = [
    "Influx1Storage",
    "Influx2Storage",
    "Storage",
    "StorageError",
    "StorageRejected",
    "StorageUnavailable",
    "open_storage",
]
