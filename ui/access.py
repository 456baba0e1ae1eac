"""What each role may see in the UI (manual 2.3, 3.1): the navigation map and page access.

The main menu has the manual's sections (Учёт, Мониторинг, Отчёты, Биллинг, Сервис, Настройки)
that the role may use, and in them the items the company's data make useful ("в зависимости от
назначенной Роли и наличия данных"): without buildings only the first steps are offered, the LoRa
page needs LoRaWAN devices, the temperature schedule and the heating season heat meters, power
limitation electricity meters. A section left empty is not shown. The service layer checks the
same rules on the server; hiding here is for the person, not for security. Imports only the
service models; tests: tests/ui/test_navigation.py, tests/unit/ui/test_access.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cloud.services.models import Role, UserInfo
from cloud.services.navigation import NavFacts
from protocol.vocabulary import Resource


def may_use_accounting(user: UserInfo) -> bool:
    """Dispatchers and engineers use "Учёт" and "Мониторинг"; reader status grants them read-only whatever the role."""
    return user.reader or user.role in (Role.DISPATCHER, Role.ENGINEER)


def may_administer(user: UserInfo) -> bool:
    """Only an administrator without reader status manages users."""
    return user.role == Role.ADMINISTRATOR and not user.reader


def may_change_settings(user: UserInfo) -> bool:
    """Only a dispatcher without reader status changes the settings of 4.6 and the heating season (4.5.7)."""
    return user.role == Role.DISPATCHER and not user.reader


def _everyone(user: UserInfo) -> bool:
    return True


def _always(facts: NavFacts) -> bool:
    return True


def _buildings(facts: NavFacts) -> bool:
    return facts.buildings > 0


def _lora(facts: NavFacts) -> bool:
    return facts.lora


def _heat(facts: NavFacts) -> bool:
    return Resource.HEAT in facts.resources


def _electricity(facts: NavFacts) -> bool:
    return Resource.ELECTRICITY in facts.resources


@dataclass(frozen=True, slots=True)
class NavItem:
    label_key: str
    icon: str
    href: str
    allowed: Callable[[UserInfo], bool] = may_use_accounting
    useful: Callable[[NavFacts], bool] = _buildings  # whether the company's data give the page something to show


@dataclass(frozen=True, slots=True)
class NavSection:
    label_key: str
    items: tuple[NavItem, ...]


ACCOUNTING = NavSection("nav.accounting", (NavItem("nav.buildings", "apartment", "/", useful=_always),))
MONITORING = NavSection("nav.monitoring", (
    NavItem("nav.deviations", "troubleshoot", "/monitoring/deviations"),
    NavItem("nav.events", "notifications", "/monitoring/events"),
    NavItem("nav.data", "fact_check", "/monitoring/data"),
    NavItem("nav.lora", "cell_tower", "/monitoring/lora", useful=_lora),
    NavItem("nav.temperature", "device_thermostat", "/monitoring/temperature", useful=_heat),
))
REPORTS = NavSection("nav.reports", (NavItem("nav.reports_list", "summarize", "/reports"),))
BILLING = NavSection("nav.billing_section", (
    NavItem("nav.billing_document", "description", "/billing"),
    NavItem("nav.billing_runs", "sync_alt", "/billing/runs"),
))
SERVICE = NavSection("nav.service", (
    NavItem("nav.service_meters", "speed", "/service/meters"),
    NavItem("nav.verification", "event_available", "/service/verification"),
    NavItem("nav.operations", "engineering", "/service/operations"),
    NavItem("nav.communicators", "router", "/service/communicators"),
    NavItem("nav.season", "ac_unit", "/service/season", useful=_heat),
    NavItem("nav.power", "power_off", "/service/power", useful=_electricity),
    NavItem("nav.desk", "support_agent", "/service/desk"),
    NavItem("nav.notices", "campaign", "/service/notices"),
))
SETTINGS = NavSection("nav.settings", (
    NavItem("nav.settings_buildings", "domain", "/settings/buildings", useful=_always),
    NavItem("nav.billing", "receipt_long", "/settings/billing"),
    NavItem("nav.billing_centres", "account_balance", "/settings/billing-centres", useful=_always),
    NavItem("nav.imbalance", "balance", "/settings/imbalance"),
    NavItem("nav.norms", "straighten", "/settings/norms", useful=_always),
    NavItem("nav.relays", "electrical_services", "/settings/relays", useful=_electricity),
    NavItem("nav.deadlines", "timer", "/settings/deadlines", useful=_always),
    NavItem("nav.subscriptions", "mark_email_unread", "/settings/subscriptions", useful=_always),
    NavItem("nav.users", "group", "/users", may_administer, _always),
    NavItem("nav.company", "business", "/settings/company", _everyone, _always),  # 4.6.15: the administrator edits
))
ACCOUNT = NavSection("nav.account", (
    NavItem("nav.profile", "account_circle", "/profile", _everyone, _always),
    NavItem("tokens.mine", "vpn_key", "/tokens", _everyone, _always),
))
NAV_FACTS_KEY = "nav_facts"  # app.storage.client: the page's NavFacts, read by ui.auth.require_viewer
SECTIONS: tuple[NavSection, ...] = (ACCOUNTING, MONITORING, REPORTS, BILLING, SERVICE, SETTINGS, ACCOUNT)


def navigation(user: UserInfo, facts: NavFacts | None = None) -> tuple[NavSection, ...]:
    """The sections of the main menu with only the items the user may use and the data make useful
    (every item when the facts are not known); empty sections left out."""
    shown = []
    for section in SECTIONS:
        items = tuple(item for item in section.items
                      if item.allowed(user) and (facts is None or item.useful(facts)))
        if items:
            shown.append(NavSection(section.label_key, items))
    return tuple(shown)


def home(user: UserInfo) -> str:
    """Where the user lands after signing in when no page was asked for."""
    return "/" if may_use_accounting(user) else "/users"
