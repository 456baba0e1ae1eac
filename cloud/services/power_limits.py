"""Power limitation of premises through the 941LW relay (manual 4.5.8) and relay thresholds (4.6.11)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cloud.services.auth import AuthService
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry

if TYPE_CHECKING:
    from cloud.services.commands import CommandService


class PowerLimitsService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService,
                 commands: CommandService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.commands = commands
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
