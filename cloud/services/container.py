"""Wires the service layer over its storage; the one object the UI and the API receive."""

from __future__ import annotations

from dataclasses import dataclass

from cloud.services.accounting import AccountingService
from cloud.services.api_tokens import ApiTokenService
from cloud.services.auth import AuthService
from cloud.services.counters import CounterService
from cloud.services.readings import ReadingsService
from cloud.services.users import UsersService
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry


@dataclass
class Services:
    auth: AuthService
    accounting: AccountingService
    counters: CounterService
    api_tokens: ApiTokenService
    readings: ReadingsService
    users: UsersService

    @classmethod
    def create(cls, registry: Registry, clickhouse: ClickHouse, session_hours: float = 24.0) -> Services:
        auth = AuthService(registry, session_hours)
        return cls(auth=auth, accounting=AccountingService(registry, clickhouse, auth),
                   counters=CounterService(registry, auth), api_tokens=ApiTokenService(registry, auth),
                   readings=ReadingsService(registry, clickhouse, auth), users=UsersService(registry, auth))
