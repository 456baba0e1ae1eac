"""How values, periods and domain names read on screen: decimal comma in Russian, missing
archives as ``–*`` and incomplete sums marked ``*`` (manual 4.1.5).

Pure formatting over ``ui.i18n``; imports the vocabulary from protocol/. Tests: tests/ui/.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from cloud.services.models import Granularity, UserInfo
from protocol.vocabulary import PARAMETERS, MeterRole, Resource

from .i18n import current_language, has, t

MISSING = "–*"  # no archive for the period, nothing known (manual 4.1.5)
PARTIAL_MARK = "*"  # the known part of a sum, not all meters reported
_NBSP = "\u00a0"

# Decimal places by unit code; percentages have their own.
_DIGITS: dict[str, int] = {"Gcal": 3, "m3": 3, "kWh": 2, "degC": 2}
PERCENT_DIGITS = 1

RESOURCE_ORDER: tuple[Resource, ...] = (
    Resource.HEAT,
    Resource.HOT_WATER,
    Resource.COLD_WATER,
    Resource.GAS,
    Resource.ELECTRICITY,
    Resource.SEWAGE,
)


def digits(unit: str) -> int:
    """Decimal places shown for values in ``unit`` (a unit code such as ``"Gcal"``)."""
    return _DIGITS.get(unit, 3)


def number(value: float, places: int = 3, *, lang: str | None = None) -> str:
    """``1234.5`` → ``"1 234,500"`` in Russian (no-break space, decimal comma), ``"1,234.500"`` in English.
    A value that rounds to zero prints without a sign ("-0,0" read as an error)."""
    if round(value, places) == 0:
        value = 0.0
    text = f"{value:,.{places}f}"
    if (lang or current_language()) == "en":
        return text
    return text.replace(",", _NBSP).replace(".", ",")


def integer(value: int) -> str:
    """A count with thousands grouped the way the page's language does it."""
    text = f"{value:,d}"
    return text if current_language() == "en" else text.replace(",", _NBSP)


def amount(value: float | None, unit: str, *, complete: bool = True) -> str:
    """A consumption cell: ``–*`` when unknown, ``1,770*`` when only partly known."""
    if value is None:
        return MISSING
    text = number(value, digits(unit))
    return text if complete else text + PARTIAL_MARK


def percent(value: float | None) -> str:
    return MISSING if value is None else number(value, PERCENT_DIGITS)


def unit(code: str) -> str:
    """The readable unit for a unit code (``"Gcal"`` → ``"Гкал"``); an unknown code reads as is."""
    return t(f"unit.{code}") if has(f"unit.{code}") else code


def resource(value: Resource) -> str:
    return t(f"resource.{value.value}")


def resources(values: Iterable[Resource]) -> str:
    return ", ".join(resource(r) for r in values)


def sort_resources(values: Iterable[Resource]) -> tuple[Resource, ...]:
    """Resources in the order the manual lists them, without repeats."""
    wanted = set(values)
    return tuple(r for r in RESOURCE_ORDER if r in wanted)


def meter_role(role: MeterRole) -> str:
    return t(f"meter.role.{role.value}")


def premise_kind(kind: str) -> str:
    """The premise kind as read ("apartment" → "Квартира"); an unknown kind reads as it is."""
    return t(f"premise.kind.{kind}") if has(f"premise.kind.{kind}") else kind


def meter_status(status: str) -> str:
    return t(f"meter.status.{status}") if has(f"meter.status.{status}") else status


def user_role(user: UserInfo) -> str:
    """The role as the header shows it; reader status overrides the role (manual 2.3)."""
    return t("role.reader") if user.reader else t(f"role.{user.role.value}")


def parameter(code: str, nature: str) -> str:
    """A parameter's short name: interval values of a counter are increments, ``∆Q``."""
    known = PARAMETERS.get(code)
    if nature == "interval" and known is not None and known.summable:
        return t(f"param.d{code}") if has(f"param.d{code}") else t("param.delta", code=code)
    return code


def parameter_description(code: str) -> str:
    return t(f"param.{code}") if has(f"param.{code}") else code


def archives(text: str) -> str:
    """``"hour, integral"`` → ``"часовые, интегральные"``; unknown words read as they are."""
    words = [w.strip() for w in text.split(",") if w.strip()]
    return ", ".join(t(f"archive.{w}") if has(f"archive.{w}") else w for w in words)


def month_name(month: int, *, short: bool = False) -> str:
    return t(f"month.short.{month}" if short else f"month.{month}")


def period_title(period: date, granularity: Granularity, *, capital: bool = True) -> str:
    """What a period picker shows: the day, the month or the year being looked at."""
    if granularity == Granularity.HOUR:
        return day(period)
    if granularity == Granularity.DAY:
        month = month_name(period.month)
        return t("period.month_year", month=month.capitalize() if capital else month, year=period.year)
    return t("period.year", year=period.year)


def day(value: date) -> str:
    return value.strftime("%m/%d/%Y") if current_language() == "en" else value.strftime("%d.%m.%Y")


def moment(value: datetime) -> str:
    """A local date and time, minutes precision."""
    return f"{day(value)} {value:%H:%M}"


def point_label(value: datetime, granularity: Granularity, *, short: bool = False) -> str:
    """A table row's or a chart category's name for one period of ``granularity``."""
    if granularity == Granularity.HOUR:
        return f"{value:%H:%M}" if short else moment(value)
    if granularity == Granularity.DAY:
        return f"{value:%d}" if short else day(value)
    if short:
        return month_name(value.month, short=True)
    return t("period.month_year", month=month_name(value.month), year=value.year)
