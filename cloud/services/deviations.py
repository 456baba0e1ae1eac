"""Deviation monitoring (manual 4.2.1) and its rules per building and parameter (4.6.7).

Skeleton: filled in by its slice of issue 13.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from cloud.services.auth import AuthService
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry


class DeviationsService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
