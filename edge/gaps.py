"""Which archive periods each polled meter must have, which are still missing, which are lost.

From commissioning on, every closed period of a meter is *registered* exactly once (the
per-meter cursor in the buffer says how far registration got): a registered period is either
read into the archive, open in ``gaps`` (to be requested again, newest first, with backoff),
or in ``lost`` with the reason. A period is lost only when it is older than the device's
archive depth: never registered or expired as such, or refused by the device when that old; a
younger period the device refuses (a transient exception) or answers wrongly stays open and is
asked again with backoff. A lost period is reported, never filled in. Registration follows the
device's clock (as far as the driver trusts it) and never moves back, so a clock correction
neither creates nor erases a period.
Every archive kind has its own cursor: ``schedule_now`` says when a period counts as closed
(an hour or a day at its end by the device's clock, a month once the reporting day has begun).
Every period and moment here is UTC epoch seconds (a period by its start), as everywhere in the
buffer; the driver converts the device's local time at its boundary. Periods follow the
building's local calendar (``time_zone``: the next day begins at local midnight), stepped by the
``utc_*`` helpers of protocol/periods.py.
Tests: tests/integration/test_edge_gaps.py, test_edge_modbus_boundary.py, test_edge_lora_gaps.py,
test_edge_time_base.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from edge.buffer import Buffer
from protocol.periods import utc_next_period, utc_period_start, utc_periods, utc_shift, utc_to_local, zone
from protocol.vocabulary import ArchiveKind
from protocol.wire import ArchiveRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Gap:
    meter: str
    kind: ArchiveKind
    period: int  # UTC epoch seconds of the period start
    attempts: int


def first_period(kind: ArchiveKind, commissioned: datetime | float, tz: ZoneInfo) -> int:
    """UTC start of the first local period of ``kind`` that starts at or after commissioning
    (an aware datetime or UTC seconds)."""
    if isinstance(commissioned, datetime):  # naive: UTC, as utc_to_local takes it
        commissioned = (commissioned if commissioned.tzinfo else commissioned.replace(tzinfo=UTC)).timestamp()
    moment = commissioned
    start = utc_period_start(kind, moment, tz)
    return start if start == moment else utc_next_period(kind, start, tz)


def schedule_now(kind: ArchiveKind, now: int, tz: ZoneInfo, reporting_day: int = 1) -> int:
    """The moment (UTC seconds) up to which periods of ``kind`` count as closed, given the device's
    time ``now``: hours and days when they end, a month only once its reporting day of the next
    month has begun by the local calendar."""
    if kind is ArchiveKind.MONTH:
        return utc_shift(now, -timedelta(days=reporting_day - 1), tz)
    return now


def shown(period: int, tz: ZoneInfo) -> str:
    """A period start as the building's local time, for logs, events and status ("2026-01-09 05:00:00")."""
    return str(utc_to_local(datetime.fromtimestamp(period, UTC), tz))


def depth_reason(kind: ArchiveKind, depth: timedelta) -> str:
    """Why a period beyond ``depth`` is lost (a depth of 0: the device keeps no such archive)."""
    if depth <= timedelta(0):
        return f"the device keeps no {kind.value} archive"
    return f"older than the device's archive depth ({depth.days} d)"


class GapBook:
    def __init__(self, buffer: Buffer, base_backoff_s: float, max_backoff_s: float,
                 time_zone: str | None = None) -> None:
        """``time_zone``: the building's (the driver's), whose calendar periods follow; by default the buffer's."""
        self.buffer = buffer
        self.db = buffer.db
        self.tz = zone(buffer.time_zone if time_zone is None else time_zone)
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s

    def register(self, meter: str, kind: ArchiveKind, first: int, device_now: int,
                 depth: timedelta) -> tuple[int, int]:
        """Register every period closed by ``device_now`` since the cursor (or ``first``, a period
        start, for a new meter). Periods older than ``depth`` (back from ``device_now`` on the
        local calendar) are lost at once; the others become gaps. Returns (gaps opened, periods lost)."""
        last = self.buffer.cursor(meter, kind)
        start = first if last is None else utc_next_period(kind, last, self.tz)
        oldest_kept = utc_shift(device_now, -depth, self.tz)
        new_gaps: list[int] = []
        new_lost: list[int] = []
        for p in utc_periods(kind, start, device_now, self.tz):
            (new_lost if p < oldest_kept else new_gaps).append(p)
        if not new_gaps and not new_lost:
            return 0, 0
        reason = depth_reason(kind, depth)
        top = max(new_gaps + new_lost)
        now = time.time()
        def write() -> None:
            if new_gaps:
                self.db.table("gaps").insert_all(
                    [{"meter": meter, "kind": kind.value, "period": p, "attempts": 0, "next_try_at": 0.0,
                      "last_error": ""} for p in new_gaps], ignore=True)
            if new_lost:
                self._lose(meter, kind, new_lost, reason, now)
            self.db.table("cursors").upsert({"meter": meter, "kind": kind.value, "last_period": top},
                                            pk=("meter", "kind"))
        self.buffer.write(write)  # one transaction, tried again after an eviction when the disk is full
        if new_lost:
            log.warning("event=periods_lost meter=%s kind=%s count=%d first=%s last=%s reason=beyond_depth", meter,
                        kind.value, len(new_lost), shown(min(new_lost), self.tz), shown(max(new_lost), self.tz))
        return len(new_gaps), len(new_lost)

    def due(self, meter: str, kind: ArchiveKind, limit: int) -> list[Gap]:
        """Open gaps whose backoff has passed, newest first."""
        rows = self.db.execute("SELECT period, attempts FROM gaps WHERE meter = ? AND kind = ? AND next_try_at <= ? "
                               "ORDER BY period DESC LIMIT ?", [meter, kind.value, time.time(), limit]).fetchall()
        return [Gap(meter, kind, p, a) for p, a in rows]

    def fill(self, gap: Gap, records: Iterable[ArchiveRecord], clock_offset_s: float) -> int:
        """Store a period's records and close its gap in one transaction."""
        rows = list(records)

        def write() -> int:
            added = self.buffer.insert_values(rows, clock_offset_s)
            self._close(gap)
            return added
        return self.buffer.write(write)

    def refused(self, gap: Gap, reason: str, oldest_kept: int) -> float | None:
        """The device refused the period. Older than ``oldest_kept`` (UTC seconds: its archive depth
        back from its clock) it is lost, with the reason; a younger one the device keeps, so the
        refusal was transient: the gap stays open and is asked again after its backoff. Returns
        that delay, or None when the period is lost."""
        if gap.period >= oldest_kept:
            delay = self.retry_later(gap, reason)
            log.warning("event=period_refused meter=%s kind=%s period=%s reason=%r retry_s=%.1f", gap.meter,
                        gap.kind.value, shown(gap.period, self.tz), reason, delay)
            return delay

        def write() -> None:
            self._lose(gap.meter, gap.kind, [gap.period], reason, time.time())
            self._close(gap)
        self.buffer.write(write)
        log.warning("event=period_lost meter=%s kind=%s period=%s reason=%r", gap.meter, gap.kind.value,
                    shown(gap.period, self.tz), reason)
        return None

    def retry_later(self, gap: Gap, reason: str) -> float:
        """Back off on one period; returns the delay in seconds."""
        delay = min(self.base_backoff_s * 2 ** min(gap.attempts, 30), self.max_backoff_s)
        self.buffer.write(lambda: self.db.execute(
            "UPDATE gaps SET attempts = attempts + 1, next_try_at = ?, last_error = ? "
            "WHERE meter = ? AND kind = ? AND period = ?",
            [time.time() + delay, reason, gap.meter, gap.kind.value, gap.period]))
        return delay

    def expire(self, meter: str, kind: ArchiveKind, oldest_kept: int, reason: str) -> int:
        """Open gaps the device no longer keeps (starting before ``oldest_kept``, UTC seconds: its
        depth back from its clock) become lost; returns how many."""
        limit = oldest_kept
        old = [r[0] for r in self.db.execute("SELECT period FROM gaps WHERE meter = ? AND kind = ? AND period < ?",
                                             [meter, kind.value, limit])]
        if not old:
            return 0
        def write() -> None:
            self._lose(meter, kind, old, reason, time.time())
            self.db.execute("DELETE FROM gaps WHERE meter = ? AND kind = ? AND period < ?", [meter, kind.value, limit])
        self.buffer.write(write)
        return len(old)

    def close_period(self, meter: str, kind: ArchiveKind, period: int) -> None:
        """A period arrived by other means (a LoRa uplink, a backfill command): its gap is closed."""
        self._close(Gap(meter, kind, period, 0))

    def lose(self, meter: str, kind: ArchiveKind, lost: list[int], reason: str) -> None:
        """Record periods as lost (inside the caller's transaction or its own) and close their gaps."""
        if not lost:
            return
        def write() -> None:
            self._lose(meter, kind, lost, reason, time.time())
            for p in lost:
                self._close(Gap(meter, kind, p, 0))
        self.buffer.write(write)

    def _close(self, gap: Gap) -> None:
        self.db.execute("DELETE FROM gaps WHERE meter = ? AND kind = ? AND period = ?",
                        [gap.meter, gap.kind.value, gap.period])

    def _lose(self, meter: str, kind: ArchiveKind, lost: list[int], reason: str, now: float) -> None:
        self.db.table("lost").insert_all([{"meter": meter, "kind": kind.value, "period": p, "reason": reason, "at": now}
                                    for p in lost], ignore=True)
        self.buffer.add_event("periods_lost", meter=meter, count=len(lost), archive_kind=kind.value, reason=reason,
                              first_period=shown(min(lost), self.tz), last_period=shown(max(lost), self.tz))

    # --- for status ----------------------------------------------------------------
    def summary(self) -> dict[str, dict[str, object]]:
        """Per meter: open gaps (count, oldest, newest as local time) and lost periods (count)."""
        out: dict[str, dict[str, object]] = {}
        for meter, count, oldest, newest in self.db.execute(
                "SELECT meter, count(*), min(period), max(period) FROM gaps GROUP BY meter"):
            out.setdefault(meter, {}).update(open_gaps=count, oldest_gap=shown(oldest, self.tz),
                                             newest_gap=shown(newest, self.tz))
        for meter, count in self.db.execute("SELECT meter, count(*) FROM lost GROUP BY meter"):
            out.setdefault(meter, {})["lost_periods"] = count
        return out

    def lost(self, meter: str, kind: ArchiveKind) -> dict[int, str]:
        return dict(self.db.execute("SELECT period, reason FROM lost WHERE meter = ? AND kind = ?",
                                    [meter, kind.value]).fetchall())

    def open(self, meter: str, kind: ArchiveKind) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT period FROM gaps WHERE meter = ? AND kind = ? ORDER BY period",
                                              [meter, kind.value])]
