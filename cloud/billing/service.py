"""Billing centres and the automatic export of readings (manual 4.4.2). PLACEHOLDER: being written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from cloud.services.auth import AuthService
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry


class BillingService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
