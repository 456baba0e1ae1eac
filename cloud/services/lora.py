"""LoRa monitoring: end devices, their last packet, PER and the packet log (manual 4.2.4).

Skeleton: filled in by its slice of issue 13.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from cloud.services.auth import AuthService
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry


class LoraService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
