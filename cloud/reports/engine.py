"""The report engine: a report's parameters, parsed from text (a query string, a form) with an
error that names the parameter, and the spec that ties them to a builder.

A builder is ``async (ctx, params) -> Report``: it reads through ``ctx.services`` with the
user's token (so role and company scope are the services' own), may use ``ctx.registry`` and
``ctx.clickhouse`` for bulk reads scoped by ``ctx.user.company_id``, and tells its progress with
``ctx.progress(done, total, what)``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from cloud.services.models import FIRST_DAY, LAST_DAY, MAX_ID, InvalidInput, UserInfo
from protocol.vocabulary import Resource

if TYPE_CHECKING:
    from cloud.reports.table import Report
    from cloud.services.container import Services
    from cloud.storage.clickhouse import ClickHouse
    from cloud.storage.registry import Registry

ParamKind = Literal["building", "premise", "meter", "group", "resource", "month", "day", "choice", "text", "flag"]


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter a report asks for. ``building``/``premise``/``meter``/``group`` are registry ids
    (the UI offers the company's objects; a premise, meter or group belongs to the chosen building);
    ``resource`` is one of ``choices`` (default: every resource); ``month`` is YYYY-MM; ``day`` is
    YYYY-MM-DD; ``choice`` is one of ``choices``; ``flag`` is true/false."""

    name: str
    kind: ParamKind
    label: str  # Russian, as the form shows it
    required: bool = True
    choices: tuple[tuple[str, str], ...] = ()  # (value, Russian label)
    default: str | None = None  # as text; "today", "this_month", "last_month" are worked out at parse time


@dataclass(frozen=True, slots=True)
class ReportSpec:
    key: str  # URL-safe: /api/v1/reports/{key}
    title: str  # Russian, as in the manual
    section: str  # the manual's section, e.g. "4.3.7"
    params: tuple[Param, ...]
    build: Callable[[ReportContext, dict[str, Any]], Awaitable[Report]]
    description: str = ""  # one Russian sentence for the form
    check: Callable[[dict[str, Any]], None] | None = None  # cross-parameter rules (first <= last ...)


@dataclass(slots=True)
class ReportContext:
    token: str
    user: UserInfo
    services: Services
    registry: Registry
    clickhouse: ClickHouse
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    on_progress: Callable[[float, str], None] | None = field(default=None, repr=False)

    def progress(self, done: int, total: int, what: str = "") -> None:
        """Tell the job's progress: ``done`` of ``total`` units of the building stage (0..0.9 of the bar;
        the file writer takes the rest)."""
        if self.on_progress is not None and total > 0:
            self.on_progress(0.9 * min(done, total) / total, what)


MAX_SPAN_DAYS = 3660  # a period of ten years at most: a longer one is a typing mistake
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse(spec: ReportSpec, raw: Mapping[str, Any], today: date) -> dict[str, Any]:
    """Typed parameters of ``spec`` from ``raw`` text values (a query string or a form), defaults
    filled in; InvalidInput names the parameter and what it should be. Unknown names are refused
    (a misspelt parameter must not silently fall back to a default)."""
    known = {p.name for p in spec.params}
    unknown = sorted(set(raw) - known - {"format"})
    if unknown:
        raise InvalidInput(f"{unknown[0]}: not a parameter of report {spec.key} "
                           f"(it takes {', '.join(sorted(known)) or 'none'})")
    out: dict[str, Any] = {}
    for p in spec.params:
        value = raw.get(p.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            value = p.default
        if value is None:
            if p.required:
                raise InvalidInput(f"{p.name}: required ({p.label})")
            out[p.name] = None
            continue
        out[p.name] = _value(p, str(value).strip(), today)
    if spec.check is not None:
        spec.check(out)
    return out


def _value(p: Param, text: str, today: date) -> Any:
    if p.kind in ("building", "premise", "meter", "group"):
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_ID:
            raise InvalidInput(f"{p.name}: a registry id (a whole number from 1), got {text!r}")
        return int(text)
    if p.kind == "resource":
        allowed = [v for v, _ in p.choices] or [r.value for r in Resource]
        if text not in allowed:
            raise InvalidInput(f"{p.name}: one of {', '.join(allowed)}, got {text!r}")
        return Resource(text)
    if p.kind == "choice":
        allowed = [v for v, _ in p.choices]
        if text not in allowed:
            raise InvalidInput(f"{p.name}: one of {', '.join(allowed)}, got {text!r}")
        return text
    if p.kind == "month":
        return _month(p.name, text, today)
    if p.kind == "day":
        return _day(p.name, text, today)
    if p.kind == "flag":
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise InvalidInput(f"{p.name}: true or false, got {text!r}")
        return text.lower() in ("true", "1", "yes")
    if len(text) > 300:
        raise InvalidInput(f"{p.name}: at most 300 characters")
    return text


def _month(name: str, text: str, today: date) -> date:
    if text == "this_month":
        return today.replace(day=1)
    if text == "last_month":
        return (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    m = _MONTH.match(text)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise InvalidInput(f"{name}: a month as YYYY-MM, got {text!r}")
    first = date(int(m.group(1)), int(m.group(2)), 1)
    if not FIRST_DAY <= first <= LAST_DAY:
        raise InvalidInput(f"{name}: a month from {FIRST_DAY:%Y-%m} to {LAST_DAY:%Y-%m}, got {text!r}")
    return first


def _day(name: str, text: str, today: date) -> date:
    if text == "today":
        return today
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name}: a date as YYYY-MM-DD, got {text!r}") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(f"{name}: a date from {FIRST_DAY} to {LAST_DAY}, got {text!r}")
    return day


def check_period(first: str = "first", last: str = "last") -> Callable[[dict[str, Any]], None]:
    """A ``ReportSpec.check``: ``first`` not after ``last`` and the span at most MAX_SPAN_DAYS."""
    def check(params: dict[str, Any]) -> None:
        a, b = params.get(first), params.get(last)
        if a is not None and b is not None:
            if a > b:
                raise InvalidInput(f"{first}: {a} is after {last} {b}")
            if (b - a).days > MAX_SPAN_DAYS:
                raise InvalidInput(f"{last}: a period of at most {MAX_SPAN_DAYS} days, got {(b - a).days}")
    return check


_UNSAFE = re.compile(r"[^0-9A-Za-z_.-]+")


def file_stem(key: str, *parts: object) -> str:
    """The file's name without extension: the report's key and its main parameters, ASCII only
    (a browser and a mail client keep it as it is)."""
    bits = [key] + [p.isoformat() if isinstance(p, date) else str(p) for p in parts if p is not None]
    return _UNSAFE.sub("-", "_".join(bits)).strip("-")[:120]


def month_label(first: date) -> str:
    """«ноябрь 2026» for the heading of a monthly report."""
    return f"{MONTHS[first.month - 1]} {first.year}"


MONTHS = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь",
          "ноябрь", "декабрь")
RESOURCE_RU = {Resource.HEAT: "Тепловая энергия", Resource.HOT_WATER: "Горячее водоснабжение",
               Resource.COLD_WATER: "Холодное водоснабжение", Resource.ELECTRICITY: "Электроэнергия",
               Resource.GAS: "Газ", Resource.SEWAGE: "Водоотведение"}
RESOURCE_CHOICES = tuple((r.value, RESOURCE_RU[r]) for r in Resource)
