"""What each role may see in the UI (manual 2.3): the navigation map and page access.

The service layer checks the same rules on the server; hiding here is for the person, not
for security. Imports only the service models; tests: tests/ui/.
"""

from __future__ import annotations

from dataclasses import dataclass

from cloud.services.models import Role, UserInfo


@dataclass(frozen=True, slots=True)
class NavItem:
    label_key: str
    icon: str
    href: str


@dataclass(frozen=True, slots=True)
class NavSection:
    label_key: str
    items: tuple[NavItem, ...]


ACCOUNTING = NavSection("nav.accounting", (NavItem("nav.buildings", "apartment", "/"),))
MONITORING = NavSection("nav.monitoring", (NavItem("nav.data", "fact_check", "/monitoring/data"),))
ADMINISTRATION = NavSection("nav.administration", (NavItem("nav.users", "group", "/users"),))
ACCOUNT = NavSection("nav.account", (NavItem("tokens.mine", "vpn_key", "/tokens"),))


def may_use_accounting(user: UserInfo) -> bool:
    """Dispatchers and engineers use "Учёт"; reader status grants it read-only whatever the role."""
    return user.reader or user.role in (Role.DISPATCHER, Role.ENGINEER)


def may_administer(user: UserInfo) -> bool:
    """Only an administrator without reader status manages users."""
    return user.role == Role.ADMINISTRATOR and not user.reader


def navigation(user: UserInfo) -> tuple[NavSection, ...]:
    """The sections of the left navigation, only those the user may use."""
    sections: list[NavSection] = []
    if may_use_accounting(user):
        sections.append(ACCOUNTING)
        sections.append(MONITORING)  # the same people: dispatchers, engineers, readers (manual 4.2)
    if may_administer(user):
        sections.append(ADMINISTRATION)
    sections.append(ACCOUNT)  # everyone's own API tokens (ui/tokens.py)
    return tuple(sections)


def home(user: UserInfo) -> str:
    """Where the user lands after signing in when no page was asked for."""
    return "/" if may_use_accounting(user) else "/users"
