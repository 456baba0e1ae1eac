"""Implausible counter increments become events (DESIGN.md section 5, "Plausibility").

A value is stored as the device sent it. A background check reads the integral counter records
ingested since its last pass, each with the record before it in its series, and where the
increase (across one wrap of the register) is larger than the device catalogue allows for the
time between the two, writes a ``device_events`` row: code ``implausible_increment``, severity
warning, source ``cloud``, with the channel, parameter, both readings, the increase and the limit
in its detail. The views mark the same periods suspect and leave them out of consumption
(cloud/services/consumption.py applies the same limits when it reads). The event id is a digest
of the series and period, so a second pass over the same rows (a restart, a replayed batch)
changes nothing. Tests: tests/integration/test_plausibility.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cloud.services.consumption import counter_delta, counter_limits
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.vocabulary import PARAMETERS

log = logging.getLogger(__name__)

CODE = "implausible_increment"
COUNTERS = sorted(p.code for p in PARAMETERS.values() if p.summable)
LOOKBACK = timedelta(days=62)  # how far back the record before a new one is looked for (a month and more)
FIRST_PASS = timedelta(days=2)
OVERLAP = timedelta(seconds=30)  # what a freshly started check looks at: rows ingested in the last two days
EVENT_COLUMNS = ("company", "site", "id", "meter", "at", "code", "severity", "source", "detail")

_NEW = """
SELECT min(period_start), max(ingested_at), count() FROM {db}.archive
WHERE ingested_at > {since:DateTime64(3)} AND nature = 'integral' AND parameter IN {counters:Array(String)}
"""
# every integral counter record ingested in (since, upto], with the record before it in its series
_PAIRS = """
SELECT company, site, meter, channel, kind, parameter, prev_start, prev_value, period_start, value
FROM (
    SELECT company, site, meter, channel, kind, parameter, period_start, value, ingested_at,
           lagInFrame(period_start, 1, toDateTime(0, 'UTC')) OVER w AS prev_start,
           lagInFrame(value, 1, value) OVER w AS prev_value
    FROM {db}.archive FINAL
    WHERE nature = 'integral' AND parameter IN {counters:Array(String)} AND period_start >= {lo:DateTime}
      AND (company, meter) IN (SELECT DISTINCT company, meter FROM {db}.archive
                               WHERE ingested_at > {since:DateTime64(3)} AND ingested_at <= {upto:DateTime64(3)}
                                 AND nature = 'integral')
    WINDOW w AS (PARTITION BY company, meter, channel, kind, parameter ORDER BY period_start
                 ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
)
WHERE ingested_at > {since:DateTime64(3)} AND ingested_at <= {upto:DateTime64(3)}
  AND prev_start > toDateTime(0, 'UTC')
"""


@dataclass(frozen=True, slots=True)
class Finding:
    company: int
    site: str
    meter: str
    channel: int
    kind: str
    parameter: str
    previous_start: datetime  # UTC
    previous: float
    start: datetime  # UTC: the period whose record jumped
    value: float
    increase: float | None  # None: backwards on a counter whose width is unknown
    limit: float

    def event_row(self) -> tuple:
        key = f"{self.company}|{self.meter}|{self.channel}|{self.kind}|{self.parameter}|{self.start.isoformat()}"
        event_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") >> 1
        detail = {"channel": self.channel, "kind": self.kind, "parameter": self.parameter,
                  "previous_period_utc": self.previous_start.isoformat(), "previous": self.previous,
                  "value": self.value, "increase": self.increase, "limit": round(self.limit, 9)}
        return (self.company, self.site, event_id, self.meter, round(self.start.timestamp() * 1000), CODE, "warning",
                "cloud", json.dumps(detail, ensure_ascii=False, sort_keys=True))


def judge(model: str, parameter: str, previous_start: datetime, previous: float, start: datetime,
          value: float) -> tuple[float | None, float] | None:
    """(increase, limit) when the step from ``previous`` to ``value`` is implausible for the
    model's counter over the time between the two records; None when it is plausible or the
    catalogue knows no limit for it."""
    modulus, per_hour = counter_limits(model, parameter)
    if per_hour is None:
        return None
    limit = per_hour * (start - previous_start).total_seconds() / 3600
    increase = counter_delta(previous, value, modulus)
    if increase is not None and increase <= limit:
        return None
    return increase, limit


class PlausibilityCheck:
    """Runs ``scan`` every ``interval_s`` seconds; each pass starts where the last one ended."""

    def __init__(self, registry: Registry, clickhouse: ClickHouse, interval_s: float = 30.0) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.interval_s = interval_s
        self._since: datetime | None = None
        self._reported: set[int] = set()  # event ids written by this process (each logged once)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.scan()
            try:
                await asyncio.wait_for(stop.wait(), self.interval_s)
            except TimeoutError:
                pass

    async def scan(self) -> list[Finding]:
        """One pass over the rows ingested since the last; returns what it newly reported."""
        since = self._since or datetime.now(UTC) - FIRST_PASS
        first, upto, count = (await self.ch.query(_NEW, {"since": since, "counters": COUNTERS}))[0]
        if not count:
            return []
        upto = upto.replace(tzinfo=UTC) if upto.tzinfo is None else upto
        rows = await self.ch.query(_PAIRS, {"since": since, "upto": upto, "counters": COUNTERS,
                                            "lo": first.replace(tzinfo=None) - LOOKBACK})
        models = await asyncio.to_thread(self._models)
        found = []
        for company, site, meter, channel, kind, parameter, prev_start, prev_value, start, value in rows:
            model = models.get((company, meter))
            if model is None:
                continue  # a meter the registry no longer knows: nothing to judge it by
            verdict = judge(model, parameter, prev_start, prev_value, start, value)
            if verdict is not None:
                found.append(Finding(company, site, meter, channel, str(kind), parameter,
                                     prev_start.replace(tzinfo=UTC), prev_value, start.replace(tzinfo=UTC), value,
                                     *verdict))
        fresh = [f for f in found if f.event_row()[2] not in self._reported]
        if fresh:
            await self.ch.insert("device_events", [f.event_row() for f in fresh], EVENT_COLUMNS)
            if len(self._reported) > 100_000:
                self._reported.clear()
            self._reported.update(f.event_row()[2] for f in fresh)
            for f in fresh:
                log.warning("event=%s company=%s meter=%s channel=%d parameter=%s period_utc=%s previous=%s "
                            "value=%s increase=%s limit=%.6g", CODE, f.company, f.meter, f.channel, f.parameter,
                            f.start.isoformat(), f.previous, f.value, f.increase, f.limit)
        # an insert that began before this pass may commit just after it with an earlier
        # ingested_at: the next pass looks a little back (findings are idempotent)
        self._since = upto - OVERLAP
        return fresh

    def _models(self) -> dict[tuple[int, str], str]:
        return {(r["company_id"], r["serial"]): r["model"]
                for r in self.registry.all("SELECT company_id, serial, model FROM meters")}
