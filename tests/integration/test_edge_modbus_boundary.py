"""Device input checked at the Modbus driver boundary (edge/drivers/modbus_tcp.py, edge/gaps.py),
against a real pymodbus simulator of the KARAT-307 whose answers a test spoils
(simulators/faults.py ArchiveFault) or whose clock it moves:

- a refusal (exception 03) of a period younger than the device's archive depth is not a loss:
  the period stays an open gap and is asked again after its backoff;
- a record whose own period is not the one requested is rejected (a ``rejects`` row naming
  both periods and an event), never stored, and its period is asked again;
- a device clock far from the edge's (beyond the allowed drift: a day with the time service
  off) is reported by one event, and no period beyond the edge's clock plus that drift is ever
  requested, stored or declared lost.

The device runs on the edge's own time (its simulated clock frozen at the wall clock's now), so
the hours it has closed are the last ones by the edge's clock too."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.buffer import Buffer
from edge.config import EdgeConfig, MeterConfig
from edge.drivers.modbus_link import ModbusLink
from edge.drivers.modbus_tcp import Karat307Client, Karat307Poller
from edge.gaps import GapBook
from protocol import karat307 as regs
from protocol.periods import from_device_seconds, to_device_seconds, utc_to_local
from protocol.vocabulary import ArchiveKind
from simulators.faults import ArchiveFault
from tests.chaos.edge_support import UNIT, ModbusDevice, edge_config, meter_config, modbus_device

HOUR = ArchiveKind.HOUR
CLOSED = 8  # commissioned 8 whole hours before the current hour: hours -8 .. -1 have closed
UNSERVICED_DRIFT_S = 86_400  # EdgeConfig.max_clock_drift_s's default: with the time service off, a day


def _now() -> tuple[datetime, datetime]:
    """The wall clock's now (UTC) and the start of its hour."""
    now = datetime.now(UTC)
    return now, now.replace(minute=0, second=0, microsecond=0)


@asynccontextmanager
async def _device(commissioned: datetime, now: datetime) -> AsyncIterator[ModbusDevice]:
    """A KARAT-307 commissioned at ``commissioned`` whose clock stands still at ``now`` (so an
    hour closing during the test changes nothing)."""
    async with modbus_device(commissioned, now, speed=1.0) as dev:
        dev.device.clock.freeze(now)
        yield dev


def _local(dev: ModbusDevice, moment_utc: datetime) -> int:
    """Device seconds of a UTC moment by the building's clock."""
    return to_device_seconds(utc_to_local(moment_utc, dev.device.world.tz))


def _poller(tmp_path: Path, dev: ModbusDevice, buf: Buffer, **meter: object) -> Karat307Poller:
    # the default, as a field install runs (edge_config turns it off for the simulated past)
    assert EdgeConfig(site="s", time_zone="UTC", data_dir=tmp_path).max_clock_drift_s == UNSERVICED_DRIFT_S
    cfg = edge_config(tmp_path, [meter_config(dev, **meter)], max_clock_drift_s=UNSERVICED_DRIFT_S)
    return Karat307Poller(cfg.meters[0], cfg, buf,
                          Karat307Client(ModbusLink.tcp("127.0.0.1", dev.port, timeout=1.0), UNIT))


def _stored(buf: Buffer) -> set[int]:
    """Period starts (UTC epoch seconds) with a stored value."""
    return {r[0] for r in buf.db.execute("SELECT DISTINCT period_start FROM archive")}


def _gap_row(buf: Buffer, period: int) -> tuple[int, str]:
    return buf.db.execute("SELECT attempts, last_error FROM gaps WHERE period = ?", [period]).fetchone()


# --- 1. a transient exception 03 is not a lost period -----------------------------------------

async def test_a_transient_exception_03_leaves_a_young_period_open_and_it_is_read_again(tmp_path: Path) -> None:
    now, now_hour = _now()
    async with _device(now_hour - timedelta(hours=CLOSED), now) as dev:
        six_hours_old = _local(dev, now_hour - timedelta(hours=6))
        six_hours_old_utc = int((now_hour - timedelta(hours=6)).timestamp())  # the buffer keeps UTC
        dev.device.archive_fault = ArchiveFault(dev.device, "refuse", periods={six_hours_old}, times=1)
        buf = Buffer(tmp_path / "buffer.db")
        poller = _poller(tmp_path, dev, buf)
        book = GapBook(buf, 1, 1)
        serial = dev.device.serial
        try:
            assert await poller.poll_once() == CLOSED - 1  # 8 closed hours, one refused once
            assert book.lost(serial, HOUR) == {}  # six hours old, the device keeps 45 days
            assert book.open(serial, HOUR) == [six_hours_old_utc]
            attempts, error = _gap_row(buf, six_hours_old_utc)
            assert attempts == 1
            assert error.startswith("device refused")
            assert buf.events(kind="periods_lost") == []
            await asyncio.sleep(0.3)  # the backoff: poll_interval_s 0.1 s x 2**0
            assert await poller.poll_once() == 1
            assert book.open(serial, HOUR) == []
            assert book.lost(serial, HOUR) == {}
            assert len(_stored(buf)) == CLOSED
        finally:
            poller.client.close()
            buf.close()


async def test_a_backfill_does_not_lose_a_young_period_the_device_refused_once(tmp_path: Path) -> None:
    now, now_hour = _now()
    commissioned = now_hour - timedelta(hours=CLOSED)
    async with _device(commissioned, now) as dev:
        six_hours_old = _local(dev, now_hour - timedelta(hours=6))
        dev.device.archive_fault = ArchiveFault(dev.device, "refuse", periods={six_hours_old}, times=1)
        buf = Buffer(tmp_path / "buffer.db")
        poller = _poller(tmp_path, dev, buf)
        book = GapBook(buf, 1, 1)
        try:
            done = await poller.backfill(HOUR, int(commissioned.timestamp()), int(now_hour.timestamp()))
            assert (done["records"], done["lost"], done["periods"]) == (CLOSED - 1, 0, CLOSED)
            assert book.lost(dev.device.serial, HOUR) == {}
            assert buf.events(kind="periods_lost") == []
            await poller.poll_once()  # registers the 8 hours (none was before the backfill) and reads them
            assert len(_stored(buf)) == CLOSED
            assert book.open(dev.device.serial, HOUR) == []
            assert book.lost(dev.device.serial, HOUR) == {}
        finally:
            poller.client.close()
            buf.close()


# --- 2. the record's own period must be the one requested ---------------------------------------

async def test_a_record_for_another_hour_is_rejected_and_its_period_asked_again(tmp_path: Path) -> None:
    now, now_hour = _now()
    async with _device(now_hour - timedelta(hours=CLOSED), now) as dev:
        asked = _local(dev, now_hour - timedelta(hours=3))
        answered = asked + 3600  # the device answers with the next hour's record
        dev.device.archive_fault = ArchiveFault(dev.device, "shift", periods={asked}, times=1, shift=1)
        buf = Buffer(tmp_path / "buffer.db")
        poller = _poller(tmp_path, dev, buf)
        book = GapBook(buf, 1, 1)
        serial = dev.device.serial
        asked_utc = int((now_hour - timedelta(hours=3)).timestamp())
        try:
            assert await poller.poll_once() == CLOSED - 1
            assert asked_utc not in _stored(buf)  # another hour's values are never stored under it
            assert book.open(serial, HOUR) == [asked_utc]  # the buffer keeps UTC, the device was asked locally
            assert book.lost(serial, HOUR) == {}
            (source, reason, payload), = buf.db.execute("SELECT source, reason, payload FROM rejects").fetchall()
            assert source == f"modbus:{serial}"
            assert str(from_device_seconds(asked)) in reason  # requested ...
            assert str(from_device_seconds(answered)) in reason  # ... and received
            registers = list(struct.unpack(f">{regs.RECORD_LENGTH}H", payload))
            record = regs.decode_record(HOUR, registers)
            assert record is not None
            assert record.period == answered  # the record block as the device sent it
            (event,) = buf.events(kind="record_rejected")
            assert event["meter"] == serial
            attempts, error = _gap_row(buf, asked_utc)
            assert attempts == 1
            assert str(from_device_seconds(answered)) in error

            await asyncio.sleep(0.3)  # past the backoff: asked again, the device answers right
            assert await poller.poll_once() == 1
            true = regs.decode_record(HOUR, dev.device.record(HOUR, asked))  # type: ignore[arg-type]
            assert true is not None
            heat = buf.db.execute("SELECT value FROM archive WHERE period_start = ? AND channel = 1 AND "
                                  "parameter = 'Q'", [asked_utc]).fetchone()[0]
            assert heat == pytest.approx(true.heat_kcal / 1e6)
            assert book.open(serial, HOUR) == []
        finally:
            poller.client.close()
            buf.close()


# --- 3. a device clock far from the edge's ---------------------------------------------------------

def _set_device_clock(dev: ModbusDevice, to_local: datetime | None = None, by: timedelta | None = None) -> None:
    true_local = utc_to_local(dev.device.clock.now(), dev.device.world.tz)
    dev.device.clock_offset = (to_local - true_local) if to_local is not None else by or timedelta(0)


def _spy_requests(dev: ModbusDevice) -> list[int]:
    """Every period the device is asked for (its archive request handler, wrapped)."""
    asked: list[int] = []
    real = dev.device.record

    def record(kind: ArchiveKind, period: int) -> object:
        asked.append(period)
        return real(kind, period)
    dev.device.record = record  # type: ignore[method-assign,assignment]
    return asked


CLOCKS = {
    "2106": {"to_local": datetime(2106, 1, 1)},  # the last year a u32 of device seconds reaches
    "three years ahead": {"by": timedelta(days=3 * 365)},
    "five years behind": {"by": -timedelta(days=5 * 365)},
}


@pytest.mark.parametrize("clock", list(CLOCKS))
async def test_a_device_clock_far_from_the_edge_is_reported_and_never_makes_data_or_losses(
        tmp_path: Path, clock: str) -> None:
    now, now_hour = _now()
    async with _device(now_hour - timedelta(hours=CLOSED), now) as dev:
        _set_device_clock(dev, **CLOCKS[clock])  # type: ignore[arg-type]
        asked = _spy_requests(dev)
        buf = Buffer(tmp_path / "buffer.db")
        poller = _poller(tmp_path, dev, buf)
        book = GapBook(buf, 1, 1)
        serial = dev.device.serial
        try:
            await asyncio.wait_for(poller.poll_once(), 30)
            await asyncio.sleep(0.3)
            await asyncio.wait_for(poller.poll_once(), 30)
            limit_utc = datetime.now(UTC) + timedelta(seconds=UNSERVICED_DRIFT_S)  # the edge's clock + a day
            limit = _local(dev, limit_utc)
            assert all(p < limit for p in asked), f"asked for {from_device_seconds(max(asked))}"
            assert all(p < limit_utc.timestamp() for p in _stored(buf))
            assert all(p < limit for p in book.open(serial, HOUR))
            assert book.lost(serial, HOUR) == {}
            assert buf.events(kind="periods_lost") == []
            (event,) = buf.events(kind="clock_out_of_range")  # once, not once per poll
            assert event["meter"] == serial
            assert event["severity"] == "warning"
            device_time = utc_to_local(dev.device.clock.now(), dev.device.world.tz) + dev.device.clock_offset
            assert event["detail"]["device_time"].startswith(device_time.strftime("%Y-%m-%d"))
        finally:
            poller.client.close()
            buf.close()


async def test_with_the_time_service_on_a_clock_it_cannot_set_is_held_to_its_threshold(tmp_path: Path) -> None:
    """Time service on (30 s); the device clock runs two hours ahead and ignores the clock write:
    the two hours it believes closed are beyond the edge's clock + 30 s and are never asked for."""
    now, now_hour = _now()
    async with _device(now_hour - timedelta(hours=CLOSED), now) as dev:
        _set_device_clock(dev, by=timedelta(hours=2))
        dev.device.set_clock = lambda device_seconds: None  # type: ignore[method-assign]
        asked = _spy_requests(dev)
        buf = Buffer(tmp_path / "buffer.db")
        cfg = edge_config(tmp_path, [meter_config(dev)], clock_threshold_s=30.0)
        poller = Karat307Poller(cfg.meters[0], cfg, buf,
                                Karat307Client(ModbusLink.tcp("127.0.0.1", dev.port, timeout=1.0), UNIT))
        try:
            await poller.poll_once()
            limit = _local(dev, datetime.now(UTC) + timedelta(seconds=30))
            assert asked, "the hours closed by the edge's clock are read"
            assert all(p + 3600 <= limit for p in asked), f"asked for {from_device_seconds(max(asked))}"
            assert len(_stored(buf)) >= CLOSED  # hours -8 .. -1 (and 0 should the edge's clock close it meanwhile)
            (event,) = buf.events(kind="clock_out_of_range")
            assert event["detail"]["allowed_drift_s"] == 30.0
            assert GapBook(buf, 1, 1).lost(dev.device.serial, HOUR) == {}
        finally:
            poller.client.close()
            buf.close()


async def test_a_backfill_by_a_clock_in_2106_neither_asks_beyond_the_edge_clock_nor_loses(tmp_path: Path) -> None:
    now, now_hour = _now()
    commissioned = now_hour - timedelta(hours=CLOSED)
    async with _device(commissioned, now) as dev:
        _set_device_clock(dev, to_local=datetime(2106, 1, 1))
        asked = _spy_requests(dev)
        buf = Buffer(tmp_path / "buffer.db")
        poller = _poller(tmp_path, dev, buf)
        try:
            ten_years = int((now_hour + timedelta(days=3653)).timestamp())
            done = await asyncio.wait_for(poller.backfill(HOUR, int(commissioned.timestamp()), ten_years), 30)
            limit = _local(dev, datetime.now(UTC) + timedelta(seconds=UNSERVICED_DRIFT_S))
            assert all(p < limit for p in asked)
            assert done["lost"] == 0
            assert done["records"] == 0  # the device (by its clock) keeps none of the real hours
            assert GapBook(buf, 1, 1).lost(dev.device.serial, HOUR) == {}
            assert len(buf.events(kind="clock_out_of_range")) == 1
        finally:
            poller.client.close()
            buf.close()


# --- depths from the catalogue -----------------------------------------------------------------------

def test_a_meters_archive_depth_defaults_to_its_models_catalogue_entry() -> None:
    def meter(model: str, **depths: int) -> MeterConfig:
        return MeterConfig(serial="1", model=model, transport="modbus-tcp", commissioned="2026-01-01T00:00+00:00",
                           archive_kinds=["hour", "day"], **depths)  # type: ignore[arg-type]
    day = ArchiveKind.DAY
    k307, k306 = meter("KARAT-307"), meter("KARAT-306")
    # docs/protocols.md section 2: the 307 keeps 45 days of hours and 366 days; the 306 31 and 184
    assert (k307.depth_days(HOUR), k307.depth_days(day)) == (45, 366)
    assert (k306.depth_days(HOUR), k306.depth_days(day)) == (31, 184)
    overridden = meter("KARAT-306", archive_depth_days=10, daily_depth_days=20)
    assert (overridden.depth_days(HOUR), overridden.depth_days(day)) == (10, 20)
    with pytest.raises(ValueError, match="KARAT-999"):
        meter("KARAT-999")
    with pytest.raises(ValueError, match="KARAT-999"):  # a model the catalogue does not know is refused
        meter("KARAT-999", archive_depth_days=10, daily_depth_days=20)
    with pytest.raises(ValueError, match="archive_depth_days"):
        meter("KARAT-307", archive_depth_days=-1)
