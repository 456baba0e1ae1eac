"""The bounded estimate of short gaps on the premise chart (manual 4.1.6: "в определенных временных
пределах отсутствующие данные система рассчитывает для целей демонстрации картины потребления").

DESIGN.md section 5: a missing archive is never invented in accounting views, tables, totals or the
API's figures; only the apartment chart may draw an estimate, within bounded time, marked as such.
So this is a display rule, pure: a run of missing periods between two known values, no longer than
MAX_GAP of the granularity, is filled by the straight line between them; a longer run, or one at
either edge of the series (nothing known on one side), stays missing. Tests:
tests/unit/cloud/test_estimate_rules.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from cloud.services.models import Granularity

# the longest run of missing periods the chart bridges: 6 hours, 2 days; months never
MAX_GAP: dict[Granularity, int] = {Granularity.HOUR: 6, Granularity.DAY: 2, Granularity.MONTH: 0}


def bounded_estimate(values: Sequence[float | None], missing: Sequence[bool], limit: int) -> list[float | None]:
    """The estimate of each period, None where there is none: for every run of at most ``limit``
    periods that are ``missing`` (nothing known, expected) and lie between two known values, the
    linear interpolation between those values, rounded to 6 decimals. A None that is not missing
    (nothing expected: not due, outside service) ends a run without being bridged."""
    if len(values) != len(missing):
        raise ValueError(f"missing: one flag per value ({len(values)}), got {len(missing)}")
    out: list[float | None] = [None] * len(values)
    if limit <= 0:
        return out
    index = 0
    while index < len(values):
        if not (missing[index] and values[index] is None):
            index += 1
            continue
        end = index
        while end < len(values) and missing[end] and values[end] is None:
            end += 1
        before = values[index - 1] if index > 0 else None
        after = values[end] if end < len(values) else None
        length = end - index
        if before is not None and after is not None and length <= limit:
            step = (after - before) / (length + 1)
            for k in range(length):
                out[index + k] = round(before + step * (k + 1), 6)
        index = end
    return out


def chart_estimate(values: Sequence[float | None], missing: Sequence[bool],
                   granularity: Granularity) -> list[float | None]:
    """``bounded_estimate`` with the chart's bound for this granularity (MAX_GAP)."""
    return bounded_estimate(values, missing, MAX_GAP[granularity])
