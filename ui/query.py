"""Page state in the address bar: ``?resource=heat&granularity=day&period=2025-03-01``.

Links and reloads keep what the person was looking at. A bad value is named in a warning
on the page and replaced by the default, never a crash. Pure; tests: tests/ui/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar
from urllib.parse import urlencode

from cloud.services.models import FIRST_DAY, LAST_DAY, Granularity
from protocol.vocabulary import Resource

from .i18n import t

T = TypeVar("T")


def parse_param(convert: Callable[[str], T], name: str, value: str | None, problems: list[str]) -> T | None:
    """``convert(value)``, or None for an empty value; a value it refuses is named in ``problems``."""
    if not value:
        return None
    try:
        return convert(value)
    except ValueError:
        problems.append(t("error.bad_parameter", name=name, value=value))
        return None


def parse_day(text: str) -> date:
    """An ISO date within the services' sane range (models.FIRST_DAY..LAST_DAY): a period of 9999 or
    1900 is a bad parameter like a misspelt one, not a query that fails."""
    day = date.fromisoformat(text)
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{text}: not within {FIRST_DAY}..{LAST_DAY}")
    return day


def parse_channel(text: str) -> int:
    """A channel number, 0..65535 (the archive's UInt16)."""
    number = int(text)
    if not 0 <= number <= 65535:
        raise ValueError(f"{text}: not a channel")
    return number


@dataclass(frozen=True, slots=True)
class PageQuery:
    resource: Resource | None = None
    granularity: Granularity | None = None
    period: date | None = None
    channel: int | None = None
    problems: tuple[str, ...] = field(default=())

    @classmethod
    def parse(
        cls,
        *,
        resource: str | None = None,
        granularity: str | None = None,
        period: str | None = None,
        channel: str | None = None,
    ) -> PageQuery:
        problems: list[str] = []
        parsed_resource = parse_param(Resource, "resource", resource, problems)
        parsed_granularity = parse_param(Granularity, "granularity", granularity, problems)
        parsed_period = parse_param(parse_day, "period", period, problems)
        parsed_channel = parse_param(parse_channel, "channel", channel, problems)
        return cls(parsed_resource, parsed_granularity, parsed_period, parsed_channel, tuple(problems))


def page_url(path: str, **params: str | int | date | None) -> str:
    """``path`` with the given non-empty parameters as its query string."""
    pairs = {
        key: value.isoformat() if isinstance(value, date) else str(value)
        for key, value in params.items()
        if value is not None
    }
    return f"{path}?{urlencode(pairs)}" if pairs else path
