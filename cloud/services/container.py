"""Wires the service layer over its storage; the one object the UI and the API receive."""

from __future__ import annotations

from dataclasses import dataclass

from cloud.services.accounting import AccountingService
from cloud.services.auth import AuthService
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry


@dataclass
class Services:
    auth: AuthService
    accounting: AccountingService

    @classmethod
    def create(cls, registry: Registry, clickhouse: ClickHouse, session_hours: float = 24.0) -> Services:
        auth = AuthService(registry, session_hours)
        return cls(auth=auth, accounting=AccountingService(registry, clickhouse, auth))
