"""Wires the service layer over its storage; the one object the UI and the API receive."""

from __future__ import annotations

from dataclasses import dataclass

from cloud.services.accounting import AccountingService
from cloud.services.api_tokens import ApiTokenService
from cloud.services.arrival import ArrivalService
from cloud.services.auth import AuthService
from cloud.services.buildings import BuildingsService
from cloud.services.cities import CitiesService
from cloud.services.commands import CommandService
from cloud.services.communicators import CommunicatorsService
from cloud.services.companies import CompaniesService
from cloud.services.counters import CounterService
from cloud.services.meters_admin import MetersService
from cloud.services.premises_admin import PremisesService
from cloud.services.readings import ReadingsService
from cloud.services.residents import ResidentsService
from cloud.services.sites import SitesService
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
    commands: CommandService
    arrival: ArrivalService
    cities: CitiesService
    sites: SitesService
    buildings: BuildingsService
    communicators: CommunicatorsService
    residents: ResidentsService
    companies: CompaniesService
    premises: PremisesService  # registering and editing premises (reads: accounting)
    meters: MetersService  # registering, editing, replacing and decommissioning meters

    @classmethod
    def create(cls, registry: Registry, clickhouse: ClickHouse, session_hours: float = 24.0) -> Services:
        auth = AuthService(registry, session_hours)
        return cls(auth=auth, accounting=AccountingService(registry, clickhouse, auth),
                   counters=CounterService(registry, auth), api_tokens=ApiTokenService(registry, auth),
                   readings=ReadingsService(registry, clickhouse, auth), users=UsersService(registry, auth),
                   commands=(commands := CommandService(registry, auth, clickhouse=clickhouse)),
                   arrival=ArrivalService(registry, clickhouse, auth, commands),
                   cities=CitiesService(registry, auth), sites=SitesService(registry, auth),
                   buildings=BuildingsService(registry, auth), communicators=CommunicatorsService(registry, auth),
                   residents=ResidentsService(registry, auth), companies=CompaniesService(registry, auth),
                   premises=PremisesService(registry, auth), meters=MetersService(registry, auth))
