"""The shape of the cloud service layer as the UI uses it: typing protocols only.

Pages receive an object of this shape through ``ui.register(services)``; the real one is
cloud/services/, tests may pass their own. Imports only the service models.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from cloud.services.models import (
    BuildingConsumption,
    BuildingSummary,
    DataStatus,
    Granularity,
    MeterArchive,
    MeterInfo,
    PremiseConsumption,
    PremiseInfo,
    Session,
    UserInfo,
)
from protocol.vocabulary import Resource


class AuthService(Protocol):
    async def login(self, login: str, password: str) -> Session: ...

    async def user(self, token: str) -> UserInfo: ...

    async def logout(self, token: str) -> None: ...


class AccountingService(Protocol):
    async def buildings(self, token: str) -> list[BuildingSummary]: ...

    async def building(self, token: str, building_id: int) -> BuildingSummary: ...

    async def premises(self, token: str, building_id: int) -> list[PremiseInfo]: ...

    async def premise(self, token: str, premise_id: int) -> PremiseInfo: ...

    async def meters(self, token: str, building_id: int) -> list[MeterInfo]: ...

    async def meter(self, token: str, meter_id: int) -> MeterInfo: ...

    async def building_consumption(
        self, token: str, building_id: int, resource: Resource, granularity: Granularity, period: date
    ) -> BuildingConsumption: ...

    async def premise_consumption(
        self, token: str, premise_id: int, resource: Resource, granularity: Granularity, period: date
    ) -> PremiseConsumption: ...

    async def meter_archive(
        self, token: str, meter_id: int, channel: int, granularity: Granularity, period: date
    ) -> MeterArchive: ...

    async def default_period(self, token: str, building_id: int) -> date: ...

    async def data_status(self, token: str) -> DataStatus: ...


class Services(Protocol):
    @property
    def auth(self) -> AuthService: ...

    @property
    def accounting(self) -> AccountingService: ...
