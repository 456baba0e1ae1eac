"""Page state in the address bar: ``?resource=heat&granularity=day&period=2025-03-01``.

Links and reloads keep what the person was looking at. A bad value is named in a warning
on the page and replaced by the default, never a crash. Pure; tests: tests/ui/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

from cloud.services.models import Granularity
from protocol.vocabulary import Resource

from .i18n import t


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
        parsed_resource: Resource | None = None
        parsed_granularity: Granularity | None = None
        parsed_period: date | None = None
        parsed_channel: int | None = None
        if resource:
            try:
                parsed_resource = Resource(resource)
            except ValueError:
                problems.append(t("error.bad_parameter", name="resource", value=resource))
        if granularity:
            try:
                parsed_granularity = Granularity(granularity)
            except ValueError:
                problems.append(t("error.bad_parameter", name="granularity", value=granularity))
        if period:
            try:
                parsed_period = date.fromisoformat(period)
            except ValueError:
                problems.append(t("error.bad_parameter", name="period", value=period))
        if channel:
            try:
                parsed_channel = int(channel)
            except ValueError:
                problems.append(t("error.bad_parameter", name="channel", value=channel))
        return cls(parsed_resource, parsed_granularity, parsed_period, parsed_channel, tuple(problems))


def page_url(path: str, **params: str | int | date | None) -> str:
    """``path`` with the given non-empty parameters as its query string."""
    pairs = {
        key: value.isoformat() if isinstance(value, date) else str(value)
        for key, value in params.items()
        if value is not None
    }
    return f"{path}?{urlencode(pairs)}" if pairs else path
