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
Tests: tests/integration/test_edge_gaps.py, test_edge_modbus_boundary.py, test_edge_lora_gaps.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from edge.buffer import Buffer
from protocol.periods import from_device_seconds, next_period, period_start, periods, to_device_seconds
from protocol.vocabulary import ArchiveKind
from protocol.wire import ArchiveRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Gap:
    meter: str
    kind: ArchiveKind
    period: int  # device seconds of the period start
    attempts: int


def first_period(kind: ArchiveKind, commissioned_local: datetime) -> datetime:
    """The first period of ``kind`` that starts at or after commissioning (device local time)."""
    start = period_start(kind, commissioned_local)
    return start if start == commissioned_local else next_period(kind, start)


def schedule_now(kind: ArchiveKind, device_now: datetime, reporting_day: int = 1) -> datetime:
    """The moment up to which periods of ``kind`` count as closed: hours and days when they end
    by the device's clock, a month only once its reporting day of the next month has begun."""
    if kind is ArchiveKind.MONTH:
        return device_now - timedelta(days=reporting_day - 1)
    return device_now


def depth_reason(kind: ArchiveKind, depth: timedelta) -> str:
    """Why a period beyond ``depth`` is lost (a depth of 0: the device keeps no such archive)."""
    if depth <= timedelta(0):
        return f"the device keeps no {kind.value} archive"
    return f"older than the device's archive depth ({depth.days} d)"


class GapBook:
    def __init__(self, buffer: Buffer, base_backoff_s: float, max_backoff_s: float) -> None:
        self.buffer = buffer
        self.db = buffer.db
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s

    def register(self, meter: str, kind: ArchiveKind, first: datetime, device_now: datetime,
                 depth: timedelta) -> tuple[int, int]:
        """Register every period closed by ``device_now`` since the cursor (or ``first``, a period
        start, for a new meter). Periods older than ``depth`` are lost at once; the others become
        gaps. Returns (gaps opened, periods lost)."""
        last = self.buffer.cursor(meter, kind)
        start = first if last is None else next_period(kind, from_device_seconds(last))
        oldest_kept = device_now - depth
        new_gaps: list[int] = []
        new_lost: list[int] = []
        for p in periods(kind, start, device_now):
            (new_lost if p < oldest_kept else new_gaps).append(to_device_seconds(p))
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
                        kind.value, len(new_lost), from_device_seconds(min(new_lost)),
                        from_device_seconds(max(new_lost)))
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

    def refused(self, gap: Gap, reason: str, oldest_kept: datetime) -> float | None:
        """The device refused the period. Older than ``oldest_kept`` (its archive depth back from
        its clock) it is lost, with the reason; a younger one the device keeps, so the refusal was
        transient: the gap stays open and is asked again after its backoff. Returns that delay,
        or None when the period is lost."""
        if from_device_seconds(gap.period) >= oldest_kept:
            delay = self.retry_later(gap, reason)
            log.warning("event=period_refused meter=%s kind=%s period=%s reason=%r retry_s=%.1f", gap.meter,
                        gap.kind.value, from_device_seconds(gap.period), reason, delay)
            return delay

        def write() -> None:
            self._lose(gap.meter, gap.kind, [gap.period], reason, time.time())
            self._close(gap)
        self.buffer.write(write)
        log.warning("event=period_lost meter=%s kind=%s period=%s reason=%r", gap.meter, gap.kind.value,
                    from_device_seconds(gap.period), reason)
        return None

    def retry_later(self, gap: Gap, reason: str) -> float:
        """Back off on one period; returns the delay in seconds."""
        delay = min(self.base_backoff_s * 2 ** min(gap.attempts, 30), self.max_backoff_s)
        self.buffer.write(lambda: self.db.execute(
            "UPDATE gaps SET attempts = attempts + 1, next_try_at = ?, last_error = ? "
            "WHERE meter = ? AND kind = ? AND period = ?",
            [time.time() + delay, reason, gap.meter, gap.kind.value, gap.period]))
        return delay

    def expire(self, meter: str, kind: ArchiveKind, oldest_kept: datetime, reason: str) -> int:
        """Open gaps the device no longer keeps (older than its depth) become lost; returns how many."""
        limit = to_device_seconds(oldest_kept)
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
                              first_period=str(from_device_seconds(min(lost))),
                              last_period=str(from_device_seconds(max(lost))))

    # --- for status ----------------------------------------------------------------
    def summary(self) -> dict[str, dict[str, object]]:
        """Per meter: open gaps (count, oldest, newest) and lost periods (count)."""
        out: dict[str, dict[str, object]] = {}
        for meter, count, oldest, newest in self.db.execute(
                "SELECT meter, count(*), min(period), max(period) FROM gaps GROUP BY meter"):
            out.setdefault(meter, {}).update(open_gaps=count, oldest_gap=str(from_device_seconds(oldest)),
                                             newest_gap=str(from_device_seconds(newest)))
        for meter, count in self.db.execute("SELECT meter, count(*) FROM lost GROUP BY meter"):
            out.setdefault(meter, {})["lost_periods"] = count
        return out

    def lost(self, meter: str, kind: ArchiveKind) -> dict[int, str]:
        return dict(self.db.execute("SELECT period, reason FROM lost WHERE meter = ? AND kind = ?",
                                    [meter, kind.value]).fetchall())

    def open(self, meter: str, kind: ArchiveKind) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT period FROM gaps WHERE meter = ? AND kind = ? ORDER BY period",
                                              [meter, kind.value])]
