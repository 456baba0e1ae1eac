"""What each role may see in the UI (manual 2.3, 3.1): the navigation map and page access.

The main menu has the manual's sections (Учёт, Мониторинг, Отчёты, Биллинг, Сервис, Настройки)
that the role may use; a section with nothing built yet is not shown. The service layer checks
the same rules on the server; hiding here is for the person, not for security. Imports only the
service models; tests: tests/ui/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cloud.services.models import Role, UserInfo


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


@dataclass(frozen=True, slots=True)
class NavItem:
    label_key: str
    icon: str
    href: str
    allowed: Callable[[UserInfo], bool] = may_use_accounting


@dataclass(frozen=True, slots=True)
class NavSection:
    label_key: str
    items: tuple[NavItem, ...]


ACCOUNTING = NavSection("nav.accounting", (NavItem("nav.buildings", "apartment", "/"),))
MONITORING = NavSection("nav.monitoring", (
    NavItem("nav.deviations", "troubleshoot", "/monitoring/deviations"),
    NavItem("nav.events", "notifications", "/monitoring/events"),
    NavItem("nav.data", "fact_check", "/monitoring/data"),
    NavItem("nav.lora", "cell_tower", "/monitoring/lora"),
    NavItem("nav.temperature", "device_thermostat", "/monitoring/temperature"),
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
    NavItem("nav.season", "ac_unit", "/service/season"),
    NavItem("nav.power", "power_off", "/service/power"),
    NavItem("nav.desk", "support_agent", "/service/desk"),
    NavItem("nav.notices", "campaign", "/service/notices"),
))
SETTINGS = NavSection("nav.settings", (
    NavItem("nav.settings_buildings", "domain", "/settings/buildings"),
    NavItem("nav.billing", "receipt_long", "/settings/billing"),
    NavItem("nav.billing_centres", "account_balance", "/settings/billing-centres"),
    NavItem("nav.imbalance", "balance", "/settings/imbalance"),
    NavItem("nav.norms", "straighten", "/settings/norms"),
    NavItem("nav.relays", "electrical_services", "/settings/relays"),
    NavItem("nav.deadlines", "timer", "/settings/deadlines"),
    NavItem("nav.subscriptions", "mark_email_unread", "/settings/subscriptions"),
    NavItem("nav.users", "group", "/users", may_administer),
    NavItem("nav.company", "business", "/settings/company", _everyone),  # 4.6.15: the administrator edits
))
ACCOUNT = NavSection("nav.account", (
    NavItem("nav.profile", "account_circle", "/profile", _everyone),
    NavItem("tokens.mine", "vpn_key", "/tokens", _everyone),
))
SECTIONS: tuple[NavSection, ...] = (ACCOUNTING, MONITORING, REPORTS, BILLING, SERVICE, SETTINGS, ACCOUNT)


def navigation(user: UserInfo) -> tuple[NavSection, ...]:
    """The sections of the main menu with only the items the user may use; empty sections left out."""
    shown = []
    for section in SECTIONS:
        items = tuple(item for item in section.items if item.allowed(user))
        if items:
            shown.append(NavSection(section.label_key, items))
    return tuple(shown)


def home(user: UserInfo) -> str:
    """Where the user lands after signing in when no page was asked for."""
    return "/" if may_use_accounting(user) else "/users"
