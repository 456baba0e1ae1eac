"""The selectors every page shares (manual 3.4, 4.1): city, building and period.

A page takes what its address asks for first, then what the person chose last on any page,
then its own default; whatever it shows it remembers, so the next page opens on the same
city, building and period. Kept in the browser's signed-in storage (``app.storage.user``).
Imports nicegui's storage and the service models only; tests: tests/ui/test_navigation.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from nicegui import app

from cloud.services.models import FIRST_DAY, LAST_DAY, BuildingSummary, Granularity

KEY = "selection"
CITIES_KEY = "company_cities"  # the company's city names, refreshed by every page's sign-in guard
ZONES_KEY = "city_zones"  # city name -> IANA time zone, refreshed with them


@dataclass(frozen=True, slots=True)
class Selection:
    city: str | None = None
    building_id: int | None = None
    period: date | None = None


def current() -> Selection:
    """What the person chose last (nothing outside a page, e.g. in scripts)."""
    try:
        stored = app.storage.user.get(KEY) or {}
    except RuntimeError:
        return Selection()
    period = None
    if isinstance(stored.get("period"), str):
        try:
            period = date.fromisoformat(stored["period"])
        except ValueError:
            period = None
    if period is not None and not FIRST_DAY <= period <= LAST_DAY:
        period = None
    building = stored.get("building_id")
    city = stored.get("city")
    return Selection(city if isinstance(city, str) else None,
                     building if isinstance(building, int) and building > 0 else None, period)


def remember(*, city: str | None = None, building_id: int | None = None, period: date | None = None,
             span: str = "day") -> None:
    """Keep the given choices (the others stay as they were). ``span`` says what ``period`` stands
    for: a "day", or the "month" or "year" it starts (see ``view_span``/``total_span``)."""
    if span not in SPANS:
        raise ValueError(f"span must be one of {', '.join(SPANS)}, got {span!r}")
    try:
        stored = dict(app.storage.user.get(KEY) or {})
    except RuntimeError:
        return
    if city is not None:
        stored["city"] = city
    if building_id is not None:
        stored["building_id"] = building_id
    if period is not None:
        stored["period"] = period.isoformat()
        stored["span"] = span
    app.storage.user[KEY] = stored


SPANS = ("day", "month", "year")


def view_span(granularity: Granularity) -> str:
    """What a chart's period covers: hours of a day, days of a month, months of a year (4.1.2, 4.1.7)."""
    return {Granularity.HOUR: "day", Granularity.DAY: "month", Granularity.MONTH: "year"}[granularity]


def total_span(granularity: Granularity) -> str:
    """What a one-period total covers: a day or a month (4.1.1, 4.1.4, 4.1.5)."""
    return {Granularity.HOUR: "day", Granularity.DAY: "day", Granularity.MONTH: "month"}[granularity]


def company_cities() -> list[str]:
    """The company's cities as the last page load found them (empty outside a page)."""
    try:
        names = app.storage.user.get(CITIES_KEY) or []
    except RuntimeError:
        return []
    return [n for n in names if isinstance(n, str)]


def city_zone(city: str) -> str:
    """The time zone of one of the company's cities (UTC when unknown: then the page says so)."""
    try:
        zones = app.storage.user.get(ZONES_KEY) or {}
    except RuntimeError:
        return "UTC"
    zone = zones.get(city)
    return zone if isinstance(zone, str) and zone else "UTC"


def chosen_city() -> str | None:
    """The city the person works in: their choice when the company has several, else the only one."""
    names = company_cities()
    chosen = current().city
    if chosen in names:
        return chosen
    return names[0] if names else None


def cities(buildings: Sequence[BuildingSummary]) -> list[str]:
    """The cities of the company's buildings, in name order."""
    return sorted({b.city for b in buildings})


def city_buildings(buildings: Sequence[BuildingSummary]) -> list[BuildingSummary]:
    """The buildings of the chosen city; all of them when the company works in one city."""
    names = company_cities() or cities(buildings)
    chosen = chosen_city() if company_cities() else current().city
    if len(names) <= 1 or chosen is None or not any(b.city in names for b in buildings):
        return list(buildings)
    return [b for b in buildings if b.city == chosen]


def building(buildings: Sequence[BuildingSummary], asked: int | None = None) -> BuildingSummary | None:
    """The building to show: the one asked for, else the last chosen, else the first of the city's."""
    by_id = {b.id: b for b in buildings}
    for candidate in (asked, current().building_id):
        if candidate is not None and candidate in by_id:
            return by_id[candidate]
    shown = city_buildings(buildings)
    return shown[0] if shown else None


def period(asked: date | None, default: date) -> date:
    """The period to show: the one asked for, else the last chosen, else ``default``. A month or
    year chosen last gives its day the page would open on anyway when that lies inside it, else
    its last day: a day page after a month view shows a day of that month, not its 1st."""
    if asked:
        return asked
    try:
        stored = app.storage.user.get(KEY) or {}
    except RuntimeError:
        stored = {}
    chosen = current().period
    if chosen is None:
        return default
    span = stored.get("span", "day")
    if span == "month":
        end = (chosen.replace(day=28) + timedelta(days=4)).replace(day=1)
    elif span == "year":
        end = chosen.replace(year=chosen.year + 1, month=1, day=1) if chosen.year < LAST_DAY.year else LAST_DAY
    else:
        return chosen
    return default if chosen <= default < end else min(end - timedelta(days=1), LAST_DAY)
