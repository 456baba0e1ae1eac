"""Gaps of LoRaWAN meters and their backfill by downlink (archive request, protocol/lorawan_down.py);
part of the LoRaWAN transport (edge/drivers/lorawan.py).

A LoRa meter sends its archives on its own schedule; the edge cannot ask it for its clock, so
the device time it goes by is the latest one the meter's own uplinks showed (lorawan_mqtt.py
keeps it in ``lora_clock``, as UTC seconds like every time in the buffer; an archive request
goes out in the device's local time). From commissioning on, every period closed by that
time is registered (edge/gaps.py); one that has not arrived is a gap. Open gaps are asked for
again with one archive-request downlink per run of consecutive periods (newest run first, at
most ``MAX_BACKFILL_RECORDS``), with backoff per period; a gap older than the device's depth is
lost. The uplinks answering a request close their gaps as any archive uplink does.
One task keeps every meter; a pass checks only the meters whose check could do something
(``check_pass``), so a site of 5,000 quiet meters costs two reads a pass, not 20,000 queries.
Tests: tests/integration/test_edge_lora_gaps.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta

from edge.buffer import Buffer
from edge.config import EdgeConfig, MeterConfig
from edge.drivers.lorawan_mqtt import DownlinkError, LoraUplinkHandler
from edge.gaps import Gap, GapBook, first_period, schedule_now, shown
from protocol import lorawan_down
from protocol.periods import utc_next_period, utc_shift, utc_to_device, zone
from protocol.vocabulary import ArchiveKind

log = logging.getLogger(__name__)
Send = Callable[[str, lorawan_down.Downlink], None]
RECHECK_S = 600.0  # every meter is checked at least this often, whatever changed or not
# archive requests waiting at the network server for one device: the next is there when the device
# takes one after an uplink, and requests never pile up beyond what it answers within the timeout
MAX_QUEUED = 2


class LoraGapKeeper:
    """Registers the periods each LoRa meter must have and requests the missing ones by downlink."""

    def __init__(self, config: EdgeConfig, buffer: Buffer, handler: LoraUplinkHandler, send: Send,
                 meters: Callable[[], list[MeterConfig]]) -> None:
        self.config = config
        self.buffer = buffer
        self.handler = handler
        self.send = send
        self.meters = meters
        self.tz = zone(config.time_zone)
        # a class A device hears a downlink only after its next uplink: a request is not repeated
        # before its answer could have come (downlink_timeout_s), so requests never pile up
        base = config.downlink_timeout_s
        self.gaps = GapBook(buffer, base, max(config.gap_backoff_max_s, base), config.time_zone)
        self.requests_sent = 0
        self._checked: dict[str, int] = {}  # meter -> the device time its last check went by
        self._checked_list: list[MeterConfig] | None = None  # the meter list those checks saw
        self._recheck_at = 0.0
        # meter -> its requests not answered yet: (sent at, kind, first and last period, periods)
        self._queued: dict[str, list[tuple[float, ArchiveKind, int, int, int]]] = {}

    def check(self, meter: MeterConfig) -> int:
        """Register, expire and request one meter's periods; returns how many downlinks were sent."""
        now = self.handler.device_time(meter.serial)  # UTC seconds
        if now is None:
            return 0  # nothing heard yet: no clock to go by (and no way to reach a class A device)
        sent = 0
        for kind in meter.kinds:
            depth = timedelta(days=meter.depth_days(kind))
            first = first_period(kind, meter.commissioned_at, self.tz)
            opened, _ = self.gaps.register(meter.serial, kind, first,
                                           schedule_now(kind, now, self.tz, meter.reporting_day), depth)
            if opened:
                self._drop_present(meter.serial, kind)
            self.gaps.expire(meter.serial, kind, utc_shift(now, -depth, self.tz),
                             f"older than the device's archive depth ({depth.days} d)")
            if self._queue_full(meter.serial):
                continue  # registering and expiring go on; the request waits for an answer
            due = self.gaps.due(meter.serial, kind, lorawan_down.MAX_BACKFILL_RECORDS)
            if due:
                sent += self._request(meter, kind, due)
        return sent

    def _queue_full(self, serial: str) -> bool:
        """Whether ``MAX_QUEUED`` of the meter's requests wait unanswered. A request is answered once
        any of its periods has arrived (or been lost): a device sends a request's records together;
        it is given up after ``downlink_timeout_s`` (its periods are asked again by their backoff)."""
        queued = self._queued.get(serial)
        if not queued:
            return False
        now = time.time()
        waiting = []
        for entry in queued:
            sent_at, kind, first, last, count = entry
            if sent_at + self.config.downlink_timeout_s <= now:
                continue
            open_ = self.buffer.db.execute("SELECT count(*) FROM gaps WHERE meter = ? AND kind = ? AND period "
                                           "BETWEEN ? AND ?", [serial, kind.value, first, last]).fetchone()[0]
            if open_ == count:
                waiting.append(entry)
        self._queued[serial] = waiting
        return len(waiting) >= MAX_QUEUED

    def _drop_present(self, serial: str, kind: ArchiveKind) -> None:
        """Close fresh gaps whose period arrived before it was registered (the usual case)."""
        fresh = [r[0] for r in self.buffer.db.execute(
            "SELECT period FROM gaps WHERE meter = ? AND kind = ? AND attempts = 0", [serial, kind.value])]
        present = self.buffer.periods_present(serial, kind, fresh)

        def write() -> None:
            for period in present:
                self.gaps.close_period(serial, kind, period)
        self.buffer.write(write)

    def _request(self, meter: MeterConfig, kind: ArchiveKind, due: list[Gap]) -> int:
        """One archive request (in the device's local time) for the newest run of consecutive due periods."""
        run = [due[0]]
        for gap in due[1:]:
            if utc_next_period(kind, gap.period, self.tz) != run[-1].period:
                break
            run.append(gap)
        first, last = run[-1].period, run[0].period
        try:
            self.send(meter.dev_eui, lorawan_down.ArchiveRequest(kind, utc_to_device(first, self.tz),
                                                                 utc_to_device(last, self.tz)))
        except DownlinkError as exc:
            self._retry_later(run, str(exc))
            log.warning("event=lora_backfill_unsent meter=%s reason=%r", meter.serial, str(exc))
            return 0
        self._retry_later(run, "archive requested by downlink")
        self._queued.setdefault(meter.serial, []).append((time.time(), kind, first, last, len(run)))
        self.requests_sent += 1
        log.info("event=lora_backfill_requested meter=%s kind=%s first=%s last=%s periods=%d", meter.serial,
                 kind.value, shown(first, self.tz), shown(last, self.tz), len(run))
        return 1

    def _retry_later(self, run: list[Gap], reason: str) -> None:
        """Back off on a request's periods in one transaction (one commit, not one a period)."""
        def write() -> None:
            for gap in run:
                self.gaps.retry_later(gap, reason)
        self.buffer.write(write)

    def check_pass(self) -> int:
        """Check every LoRa meter whose check could do something; returns how many were checked.
        Apart from the wall clock (through its gaps' backoff), a check depends only on the meter's
        settings and the device time it goes by, and it leaves nothing to register or expire for
        that time. So a meter is skipped while the meter list is the one of its last check, its
        device time is the same and none of its gaps is due. All meters are checked after a new
        meter list and every ``RECHECK_S``, in case a gap or cursor changed in some other way."""
        now = time.time()
        meters = self.meters()
        if meters is not self._checked_list or now >= self._recheck_at:
            self._checked.clear()
            self._checked_list, self._recheck_at = meters, now + RECHECK_S
        db = self.buffer.db
        clocks: dict[str, int] = dict(db.execute("SELECT meter, device_time FROM lora_clock").fetchall())
        due = {r[0] for r in db.execute("SELECT DISTINCT meter FROM gaps WHERE next_try_at <= ?", [now])}
        checked = 0
        for meter in meters:
            latest = clocks.get(meter.serial)
            if meter.transport != "lorawan" or latest is None:
                continue  # nothing heard yet: ``check`` has no clock to go by either
            if self._checked.get(meter.serial) == latest and meter.serial not in due:
                continue
            self.check(meter)
            self._checked[meter.serial] = latest
            checked += 1
        return checked

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.check_pass()
            try:
                await asyncio.wait_for(stop.wait(), max(self.config.poll_interval_s, 0.5))
            except TimeoutError:
                pass
