"""The building balance's rules (manual 4.1.2, 4.1.4, 4.6.5; DESIGN.md section 5), as pure functions.

Imbalance = building meter − Σ(apartment meters with sign + or −; excluded ones left out):
``signed_figure`` keeps the known part and counts the meters like ``consumption.figure`` does, so
a missing meter still makes the sum partial. ``period_total`` is the figure of a whole view: its
imbalance is given only when every period of it up to now is complete (a period still running,
today included, or one after the newest archive is not). ``share_pct`` and ``specific`` are the
columns of 4.1.4. No I/O; tests: tests/unit/cloud/test_balance_rules.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from cloud.services import consumption as calc
from cloud.services.models import ConsumptionPoint, Figure, Granularity, InvalidInput


class Sign(StrEnum):
    """An apartment meter's place in the building balance (manual 4.6.5; registry meters.balance_sign)."""

    ADDED = "+"  # its consumption is added to the apartments' sum
    SUBTRACTED = "-"  # subtracted from it (e.g. a sub-meter already counted by another apartment meter)
    EXCLUDED = "excluded"  # not part of the balance


def parse_sign(value: object, where: str) -> Sign:
    """``value`` as a Sign, or InvalidInput naming ``where`` and the allowed values."""
    if isinstance(value, str) and value in _SIGNS:
        return Sign(value)
    allowed = ", ".join(repr(s.value) for s in Sign)
    raise InvalidInput(f"{where}: sign must be one of {allowed}, got {value!r}")


_SIGNS = frozenset(s.value for s in Sign)


def signed_figure(added: Figure, subtracted: Figure) -> Figure:
    """Σ added − Σ subtracted over one period: the known parts, the meters counted on both sides
    (a missing meter of either side makes the result partial, never a zero)."""
    known = [v for v in (added.value, -subtracted.value if subtracted.value is not None else None) if v is not None]
    return Figure(value=round(sum(known), 9) if known else None,
                  expected=added.expected + subtracted.expected, known=added.known + subtracted.known,
                  suspect=added.suspect + subtracted.suspect, derived=added.derived or subtracted.derived)


@dataclass(frozen=True, slots=True)
class PeriodTotal:
    """The figures of a whole view (a month of days, a year of months) of the building page.

    ``imbalance`` is null unless every period of the view up to now is complete; ``pending`` are
    the local starts of the periods that are not: incomplete ones, ones still running (today) and
    ones after the newest archive (nothing arrived).
    """

    building: Figure
    apartments: Figure
    imbalance: float | None
    imbalance_pct: float | None
    pending: tuple[datetime, ...]
    running: datetime | None  # the period of the view that contains now (today, this month), if any


def period_total(points: Sequence[ConsumptionPoint], granularity: Granularity, period: date, now: datetime,
                 has_building: bool, has_apartments: bool) -> PeriodTotal:
    """The view's totals and its imbalance by the rule above; ``now`` is the building's local time (naive)."""
    building = calc.total(p.building_figure for p in points)
    apartments = calc.total(p.apartments_figure for p in points)
    shown = {p.period: p for p in points}
    pending: list[datetime] = []
    running = None
    for label in calc.period_starts(granularity, period):
        if label > now:
            continue  # not due yet
        end = calc.span(granularity, label)[1]
        if end > now:
            running = label
        point = shown.get(label)
        if point is None:
            # before the first archive nothing was expected; after the newest one nothing arrived
            if shown and label > max(shown):
                pending.append(label)
            continue
        if end > now or not (point.building_figure.complete and point.apartments_figure.complete):
            pending.append(label)
    imbalance: tuple[float | None, float | None] = (None, None)
    if has_building and has_apartments and not pending:
        imbalance = calc.imbalance(building, apartments)
    return PeriodTotal(building, apartments, imbalance[0], imbalance[1], tuple(pending), running)


def share_pct(part: Figure, whole: Figure) -> float | None:
    """``part`` in % of ``whole`` (a premise's share of the building meter, 4.1.4): only when both
    are complete and the whole is above zero."""
    if not (part.expected and whole.expected and part.complete and whole.complete):
        return None
    if part.value is None or whole.value is None or whole.value <= 0:
        return None
    return round(part.value / whole.value * 100, 2)


def specific(figure: Figure, divisor: float) -> float | None:
    """The known value per unit of ``divisor`` (m² of area for heat, residents otherwise, 4.1.4);
    null when nothing is known or there is nothing to divide by (no residents)."""
    if figure.value is None or divisor <= 0:
        return None
    return round(figure.value / divisor, 9)
