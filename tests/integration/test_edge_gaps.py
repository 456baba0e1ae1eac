"""Gaps and backfill of a Modbus meter on a real pymodbus simulator (edge/gaps.py): a device
offline for days is polled again without a restart and backfilled newest first; periods beyond
its archive depth are recorded as lost with the reason, exactly those, and never filled in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pymodbus.constants import ExcCodes

from edge.buffer import Buffer
from edge.drivers.modbus_link import ModbusLink
from edge.drivers.modbus_tcp import Karat307Client, Karat307Poller
from edge.gaps import GapBook
from protocol.periods import local_to_utc, period_start, periods, to_device_seconds, utc_periods, utc_to_local, zone
from protocol.vocabulary import ArchiveKind
from tests.chaos.edge_support import UNIT, ModbusDevice, edge_config, hours, meter_config, modbus_device, until

COMMISSIONED = datetime(2026, 1, 10, 0, 0, tzinfo=UTC)
HOUR = ArchiveKind.HOUR


def _stored(buf: Buffer, serial: str) -> dict[int, float]:
    """Period start (UTC seconds) -> when it was received, for one meter's channel 1."""
    return dict(buf.db.execute("SELECT period_start, min(received_at) FROM archive WHERE meter = ? AND channel = 1 "
                               "GROUP BY period_start", [serial]).fetchall())


def _closed_device_periods(dev: ModbusDevice) -> list[datetime]:
    """Every hourly period (device local time) closed by the device's clock since commissioning."""
    first = utc_to_local(COMMISSIONED, dev.device.world.tz)
    return list(periods(HOUR, first, dev.device.device_now()))


def _utc(dev: ModbusDevice, local: datetime) -> int:
    return int(local_to_utc(local, dev.device.world.tz).timestamp())


async def _run(poller: Karat307Poller):
    stop = asyncio.Event()
    return stop, asyncio.create_task(poller.run(stop))


def _poller(tmp_path: Path, dev: ModbusDevice, buf: Buffer, **meter: object) -> Karat307Poller:
    cfg = edge_config(tmp_path, [meter_config(dev, **meter)])
    return Karat307Poller(cfg.meters[0], cfg, buf,
                          Karat307Client(ModbusLink.tcp("127.0.0.1", dev.port, timeout=1.0), UNIT))


async def test_device_offline_for_days_is_backfilled_newest_first_without_restart(tmp_path: Path) -> None:
    async with modbus_device(COMMISSIONED, COMMISSIONED + hours(5.5), speed=1.0) as dev:
        buf = Buffer(tmp_path / "buffer.db")
        poller = _poller(tmp_path, dev, buf)
        stop, task = await _run(poller)
        try:
            await until(lambda: len(_stored(buf, dev.device.serial)) == 5, 15, "the first five hours")
            await dev.stop()
            await until(lambda: bool(poller.last_error), 15, "the poller to notice the device is gone")
            dev.jump(COMMISSIONED + hours(5.5 + 72), speed=1.0)  # three days pass while it is off the line
            await asyncio.sleep(1.0)  # several failed polls, with backoff
            assert len(_stored(buf, dev.device.serial)) == 5
            await dev.start()  # same agent, same poller task: nothing restarted
            expected = {_utc(dev, p) for p in _closed_device_periods(dev)}
            assert len(expected) == 77
            await until(lambda: set(_stored(buf, dev.device.serial)) == expected, 30, "the backfill")
            await until(lambda: GapBook(buf, 1, 1).open(dev.device.serial, HOUR) == [], 10, "no open gaps")
        finally:
            stop.set()
            await task
        got = _stored(buf, dev.device.serial)
        outage_start = _utc(dev, utc_to_local(COMMISSIONED + hours(5), dev.device.world.tz))
        backfilled = sorted(p for p in got if p >= outage_start)
        received = [got[p] for p in backfilled]
        assert received == sorted(received, reverse=True), "backfill must go newest first"
        assert GapBook(buf, 1, 1).lost(dev.device.serial, HOUR) == {}
        buf.close()


@pytest.mark.parametrize(("edge_depth_days", "reason"), [(45, "older than the device's archive depth"),
                                                        (60, "device refused")])
async def test_offline_longer_than_archive_depth_records_exactly_the_lost_periods(
        tmp_path: Path, edge_depth_days: int, reason: str) -> None:
    """With the right depth configured the agent does not even ask; with a larger one the device
    refuses (Modbus exception 03). Either way: exactly the periods beyond 45 days are lost."""
    async with modbus_device(COMMISSIONED, COMMISSIONED + hours(5.5), speed=1.0) as dev:
        buf = Buffer(tmp_path / "buffer.db")
        poller = _poller(tmp_path, dev, buf, archive_depth_days=edge_depth_days)
        serial = dev.device.serial
        stop, task = await _run(poller)
        try:
            await until(lambda: len(_stored(buf, serial)) == 5, 15, "the first five hours")
            await dev.stop()
            await until(lambda: bool(poller.last_error), 15, "the poller to notice the device is gone")
            dev.jump(COMMISSIONED + timedelta(days=50, hours=5, minutes=30), speed=1.0)
            await dev.start()
            closed = _closed_device_periods(dev)
            already = closed[:5]  # read before the outage
            refused = [p for p in closed[5:]
                       if dev.device.record(HOUR, to_device_seconds(p)) == ExcCodes.ILLEGAL_VALUE]
            kept = already + [p for p in closed[5:] if p not in set(refused)]
            assert len(refused) == 121
            assert len(kept) == 5 + 1079
            book = GapBook(buf, 1, 1)
            await until(lambda: len(_stored(buf, serial)) == len(kept) and not book.open(serial, HOUR), 60,
                        "the backfill of 45 days")
        finally:
            stop.set()
            await task
        lost = book.lost(serial, HOUR)
        assert set(lost) == {_utc(dev, p) for p in refused}  # kept by their UTC starts
        assert all(r.startswith(reason) for r in lost.values()), set(lost.values())
        assert set(_stored(buf, serial)) == {_utc(dev, p) for p in kept}  # lost ones never filled in
        events = buf.events(kind="periods_lost", limit=1000)
        assert sum(e["count"] for e in events) == 121
        assert book.summary()[serial]["lost_periods"] == 121
        buf.close()


async def test_a_period_the_device_has_not_closed_yet_is_asked_again_later(tmp_path: Path) -> None:
    """The gateway thinks a period is due, the device says "empty": the gap stays open, with backoff."""
    async with modbus_device(COMMISSIONED, COMMISSIONED + hours(2.5), speed=1.0) as dev:
        buf = Buffer(tmp_path / "buffer.db")
        book = GapBook(buf, 0.2, 5.0, "Europe/Moscow")
        local_now = dev.device.device_now()
        first = int(COMMISSIONED.timestamp())  # 03:00 Moscow starts an hour
        # register one hour more than the device has closed, as a gateway with a fast clock would
        book.register(dev.device.serial, HOUR, first, _utc(dev, period_start(HOUR, local_now) + timedelta(hours=1)),
                      timedelta(days=45))
        poller = _poller(tmp_path, dev, buf)
        poller.gaps = book
        assert await poller.poll_once() == 2
        (open_gap,) = book.open(dev.device.serial, HOUR)
        assert open_gap == _utc(dev, period_start(HOUR, local_now))
        row = buf.db.execute("SELECT attempts, last_error FROM gaps").fetchone()
        assert row == (1, "device has no record yet")
        assert await poller.poll_once() == 0  # backing off: not asked again at once
        assert buf.db.execute("SELECT attempts FROM gaps").fetchone()[0] == 1
        poller.client.close()
        buf.close()


def _ts(*moment: int) -> int:
    """UTC epoch seconds of a UTC date and time."""
    return int(datetime(*moment, tzinfo=UTC).timestamp())


def test_each_archive_kind_closes_on_its_own_schedule() -> None:
    """Hours and days close at their end by the device's clock; a month once its reporting day has
    begun. All in UTC seconds, stepped on the Moscow calendar (UTC+3 all year)."""
    from edge.gaps import first_period, schedule_now

    msk = zone("Europe/Moscow")
    now = _ts(2026, 3, 3, 21, 30)  # 2026-03-04 00:30 Moscow
    assert schedule_now(HOUR, now, msk) == now
    assert schedule_now(ArchiveKind.DAY, now, msk) == now
    feb = _ts(2026, 1, 31, 21)  # February starts at 2026-02-01 00:00 Moscow
    month = ArchiveKind.MONTH
    # reporting day 1: closed by 03-04 00:30; day 4: by 03-01 00:30 (after March began); day 5: by 02-28 00:30
    assert list(utc_periods(month, feb, schedule_now(month, now, msk, reporting_day=1), msk)) == [feb]
    assert list(utc_periods(month, feb, schedule_now(month, now, msk, reporting_day=4), msk)) == [feb]
    assert schedule_now(month, now, msk, reporting_day=4) == _ts(2026, 2, 28, 21, 30)  # 03-01 00:30 Moscow
    assert list(utc_periods(month, feb, schedule_now(month, now, msk, reporting_day=5), msk)) == []
    # commissioned 2026-01-10 03:00 Moscow (00:00 UTC): the first day is the 11th, from 01-10 21:00 UTC
    assert first_period(ArchiveKind.DAY, datetime(2026, 1, 10, tzinfo=UTC), msk) == _ts(2026, 1, 10, 21)
    # commissioned at local midnight of the 10th (01-09 21:00 UTC): that very day
    assert first_period(ArchiveKind.DAY, datetime(2026, 1, 9, 21, tzinfo=UTC), msk) == _ts(2026, 1, 9, 21)
    # the first month is February: 2026-02-01 00:00 Moscow = 01-31 21:00 UTC
    assert first_period(month, datetime(2026, 1, 10, tzinfo=UTC), msk) == feb


async def test_daily_archives_are_read_after_midnight_by_the_device_clock(tmp_path: Path) -> None:
    """Commissioned 03:00 Moscow on the 10th; at 03:30 on the 13th the device has closed the days of
    the 11th and the 12th (the 10th began before commissioning): exactly those are read, as day records."""
    async with modbus_device(COMMISSIONED, COMMISSIONED + hours(72.5), speed=1.0) as dev:
        buf = Buffer(tmp_path / "buffer.db")
        poller = _poller(tmp_path, dev, buf, archive_kinds=["hour", "day"])
        serial = dev.device.serial
        stop, task = await _run(poller)

        def days() -> set[int]:
            return {r[0] for r in buf.db.execute("SELECT DISTINCT period_start FROM archive WHERE meter = ? "
                                                 "AND kind = 'day'", [serial])}
        try:
            await until(lambda: len(days()) == 2 and len(_stored(buf, serial)) >= 72, 30, "two days and 72 hours")
        finally:
            stop.set()
            await task
        assert days() == {_utc(dev, datetime(2026, 1, 11)), _utc(dev, datetime(2026, 1, 12))}
        assert GapBook(buf, 1, 1).open(serial, ArchiveKind.DAY) == []
        # the last day registered is the 12th: 2026-01-12 00:00 Moscow = 2026-01-11 21:00 UTC
        assert buf.cursor(serial, ArchiveKind.DAY) == int(datetime(2026, 1, 11, 21, tzinfo=UTC).timestamp())
        buf.close()
