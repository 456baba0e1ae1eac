"""Wires the service layer over its storage; the one object the UI and the API receive."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from cloud.billing.gis_numbers import GisNumbersService
from cloud.billing.service import BillingService
from cloud.reports.service import ReportsService
from cloud.services.accounting import AccountingService
from cloud.services.api_tokens import ApiTokenService
from cloud.services.arrival import ArrivalService
from cloud.services.auth import AuthService
from cloud.services.balance import BalanceService
from cloud.services.balance_groups import BalanceGroupsService
from cloud.services.buildings import BuildingsService
from cloud.services.cities import CitiesService
from cloud.services.commands import CommandService
from cloud.services.communicators import CommunicatorsService
from cloud.services.companies import CompaniesService
from cloud.services.counters import CounterService
from cloud.services.desk import DeskService
from cloud.services.deviations import DeviationsService
from cloud.services.documents import DocumentsService
from cloud.services.events import EventsService
from cloud.services.heating import HeatingService
from cloud.services.lora import LoraService
from cloud.services.members import MembersService
from cloud.services.meter_wizard import MeterWizardService
from cloud.services.meters_admin import MetersService
from cloud.services.navigation import NavigationService
from cloud.services.norms import NormsService
from cloud.services.notices import NoticesService
from cloud.services.objects import ObjectsService
from cloud.services.overview import OverviewService
from cloud.services.power_limits import PowerLimitsService
from cloud.services.premises_admin import PremisesService
from cloud.services.procedures import ProceduresService
from cloud.services.profile import ProfileService
from cloud.services.readings import ReadingsService
from cloud.services.register import RegisterService
from cloud.services.resident_app import ResidentAppService
from cloud.services.residents import ResidentsService
from cloud.services.service_meters import ServiceMetersService
from cloud.services.sites import SitesService
from cloud.services.users import UsersService
from cloud.services.verification import VerificationService
from cloud.services.weather import WeatherService
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
    # sections "Учёт" and "Мониторинг" and their settings (manual 4.1, 4.2, 4.5.7, 4.6)
    overview: OverviewService
    balance: BalanceService
    register: RegisterService
    balance_groups: BalanceGroupsService
    deviations: DeviationsService
    events: EventsService
    lora: LoraService
    heating: HeatingService
    weather: WeatherService
    # section «Сервис» and the settings built with it (manual 4.5, 4.6, 3.4)
    procedures: ProceduresService
    service_meters: ServiceMetersService
    verification: VerificationService
    wizard: MeterWizardService
    documents: DocumentsService
    desk: DeskService
    notices: NoticesService
    power: PowerLimitsService
    objects: ObjectsService
    profile: ProfileService
    # sections «Отчёты» and «Биллинг» (manual 4.3, 4.4)
    reports: ReportsService
    billing: BillingService
    norms: NormsService  # consumption norms of the building balance report (4.3.3)
    gis_numbers: GisNumbersService  # meters' numbers in ГИС ЖКХ, for the billing document (4.4.1)
    members: MembersService  # users of other companies working in this one, and the working company (3.4)
    navigation: NavigationService = field(init=False)  # what data exist, for the menu and start page (2.3, 3.3)
    # the residents' app (manual 3.6): set by ``create`` from the services it reads through
    resident_app: ResidentAppService = field(init=False)

    @classmethod
    def create(cls, registry: Registry, clickhouse: ClickHouse, session_hours: float = 24.0) -> Services:
        auth = AuthService(registry, session_hours)
        services = cls(auth=auth, accounting=AccountingService(registry, clickhouse, auth),
                   counters=CounterService(registry, auth), api_tokens=ApiTokenService(registry, auth),
                   readings=ReadingsService(registry, clickhouse, auth), users=UsersService(registry, auth),
                   commands=(commands := CommandService(registry, auth, clickhouse=clickhouse)),
                   arrival=ArrivalService(registry, clickhouse, auth, commands),
                   cities=CitiesService(registry, auth), sites=SitesService(registry, auth),
                   buildings=BuildingsService(registry, auth), communicators=CommunicatorsService(registry, auth),
                   residents=ResidentsService(registry, auth), companies=CompaniesService(registry, auth),
                   premises=PremisesService(registry, auth), meters=MetersService(registry, auth),
                   overview=OverviewService(registry, clickhouse, auth),
                   balance=BalanceService(registry, clickhouse, auth),
                   register=RegisterService(registry, clickhouse, auth),
                   balance_groups=BalanceGroupsService(registry, clickhouse, auth),
                   deviations=DeviationsService(registry, clickhouse, auth),
                   events=EventsService(registry, clickhouse, auth), lora=LoraService(registry, clickhouse, auth),
                   heating=HeatingService(registry, clickhouse, auth),
                   weather=WeatherService(registry, clickhouse, auth),
                   reports=ReportsService(registry, clickhouse, auth),
                   billing=BillingService(registry, clickhouse, auth), norms=NormsService(registry, clickhouse, auth),
                   gis_numbers=GisNumbersService(registry, clickhouse, auth), members=MembersService(registry, auth),
                   **{name: kind(registry, clickhouse, auth, commands) for name, kind in _SERVICE_SECTION.items()})
        services.reports.services = services  # a report reads through the other services
        services.navigation = NavigationService(registry, auth)
        services.resident_app = ResidentAppService(registry, clickhouse, services.residents, services.accounting,
                                                   services.desk, services.notices, session_hours)
        return services

    def set_clock(self, clock: Callable[[], datetime]) -> None:
        """Make every service that knows "today" read it from ``clock`` (tests, the demo). Sign-in
        keeps the real clock: sessions and login throttling live in real time."""
        for service in vars(self).values():
            if hasattr(service, "clock") and service is not self.auth:
                service.clock = clock


# the services of section «Сервис» and its settings: each takes (registry, clickhouse, auth, commands)
_SERVICE_SECTION: dict[str, type] = {
    "procedures": ProceduresService,
    "service_meters": ServiceMetersService,
    "verification": VerificationService,
    "wizard": MeterWizardService,
    "documents": DocumentsService,
    "desk": DeskService,
    "notices": NoticesService,
    "power": PowerLimitsService,
    "objects": ObjectsService,
    "profile": ProfileService,
}
