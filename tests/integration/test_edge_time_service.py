"""Time service over Modbus (manual: "включение ПУ в службу времени") against a real pymodbus
simulator running at real speed with a skewed clock: the offset is measured on every read; past
the threshold the device clock is written (FC16 on REG_CLOCK) and the correction is an event;
a clock change never creates nor erases an archive period. Off by default (threshold 0)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.buffer import Buffer
from edge.config import EdgeConfig
from edge.drivers.modbus_link import ModbusLink
from edge.drivers.modbus_tcp import Karat307Client, Karat307Poller
from edge.gaps import GapBook
from protocol.vocabulary import ArchiveKind
from tests.chaos.edge_support import UNIT, ModbusDevice, edge_config, meter_config, modbus_device

HOUR = ArchiveKind.HOUR


def _commissioned() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)


def _poller(cfg: EdgeConfig, dev: ModbusDevice, buf: Buffer) -> Karat307Poller:
    return Karat307Poller(cfg.meters[0], cfg, buf,
                          Karat307Client(ModbusLink.tcp("127.0.0.1", dev.port, timeout=1.0), UNIT))


def _periods(buf: Buffer) -> set[int]:
    return {r[0] for r in buf.db.execute("SELECT DISTINCT period_start FROM archive")}


def _hours_closed_since(commissioned: datetime, skew: timedelta) -> int:
    """Hourly periods the device has closed by its own (skewed) clock."""
    return int((datetime.now(UTC) + skew - commissioned).total_seconds() // 3600)


def test_the_time_service_is_off_by_default() -> None:
    assert EdgeConfig(site="s", time_zone="Europe/Moscow", data_dir=Path("x")).clock_threshold_s == 0.0


async def test_a_skewed_device_clock_is_measured_but_left_alone_when_the_service_is_off(tmp_path: Path) -> None:
    commissioned = _commissioned()
    async with modbus_device(commissioned, datetime.now(UTC), speed=1.0) as dev:
        dev.device.clock_offset = timedelta(hours=-3)
        buf = Buffer(tmp_path / "buffer.db")
        poller = _poller(edge_config(tmp_path, [meter_config(dev)]), dev, buf)
        await poller.poll_once()
        assert poller.clock_offset_s == pytest.approx(-3 * 3600, abs=5)
        assert dev.device.clock_offset == timedelta(hours=-3)
        assert buf.events(kind="clock_corrected") == []
        offsets = {r[0] for r in buf.db.execute("SELECT round(clock_offset_s) FROM archive")}
        assert all(abs(o + 3 * 3600) <= 5 for o in offsets)  # the measured offset is kept with each value
        poller.client.close()
        buf.close()


@pytest.mark.parametrize("skew_h", [-3, 3])
async def test_a_clock_past_the_threshold_is_set_and_the_correction_logged(tmp_path: Path, skew_h: int) -> None:
    commissioned = _commissioned()
    async with modbus_device(commissioned, datetime.now(UTC), speed=1.0) as dev:
        dev.device.clock_offset = timedelta(hours=skew_h)
        buf = Buffer(tmp_path / "buffer.db")
        poller = _poller(edge_config(tmp_path, [meter_config(dev)], clock_threshold_s=30.0), dev, buf)
        low = _hours_closed_since(commissioned, timedelta(0))
        await poller.poll_once()
        high = _hours_closed_since(commissioned, timedelta(0))  # an hour may close meanwhile
        assert abs(dev.device.clock_offset.total_seconds()) < 5
        assert abs(poller.clock_offset_s or 0.0) < 5
        (event,) = buf.events(kind="clock_corrected")
        assert event["meter"] == dev.device.serial
        assert event["detail"]["offset_before_s"] == pytest.approx(skew_h * 3600, abs=5)
        assert abs(event["detail"]["offset_after_s"]) < 5
        # corrected before anything was registered: exactly the hours closed by the true clock
        assert low <= len(_periods(buf)) <= high
        await poller.poll_once()
        assert len(buf.events(kind="clock_corrected")) == 1  # within the threshold now: no second write
        poller.client.close()
        buf.close()


async def test_setting_a_fast_clock_back_neither_creates_nor_erases_a_period(tmp_path: Path) -> None:
    commissioned = _commissioned()
    async with modbus_device(commissioned, datetime.now(UTC), speed=1.0) as dev:
        dev.device.clock_offset = timedelta(hours=3)
        buf = Buffer(tmp_path / "buffer.db")
        off = edge_config(tmp_path, [meter_config(dev)])
        first = _poller(off, dev, buf)
        low = _hours_closed_since(commissioned, timedelta(hours=3))
        await first.poll_once()  # service off: reads by the device's fast clock
        before = _periods(buf)
        assert low <= len(before) <= _hours_closed_since(commissioned, timedelta(hours=3))
        cursor = buf.cursor(dev.device.serial, HOUR)
        first.client.close()

        on = _poller(replace(off, clock_threshold_s=60.0), dev, buf)
        await on.poll_once()  # sets the clock three hours back
        await on.poll_once()
        assert len(buf.events(kind="clock_corrected")) == 1
        assert _periods(buf) == before  # nothing erased, nothing new
        assert buf.cursor(dev.device.serial, HOUR) == cursor  # registration never moves back
        book = GapBook(buf, 1, 1)
        assert book.open(dev.device.serial, HOUR) == []
        assert book.lost(dev.device.serial, HOUR) == {}
        on.client.close()
        buf.close()
