"""One time base inside the edge buffer (edge/buffer_schema.py version 3, edge/gaps.py): the periods
of ``gaps``, ``lost`` and ``cursors`` and the device times of ``lora_clock`` are UTC epoch seconds;
the device's local clock exists only at the driver boundary. A buffer of version 2 (device
seconds) is converted once, with the site's time zone, in its migration transaction.

Moscow is UTC+3 all year. 2026-01-01 00:00 UTC is 1767225600; a device second count is the UTC
count of the same wall-clock reading, so local 2026-01-01 03:00 is 1767225600 + 3 * 3600."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.buffer import Buffer
from edge.buffer_schema import SCHEMA_VERSION
from edge.drivers.modbus_link import ModbusLink
from edge.drivers.modbus_tcp import Karat307Client, Karat307Poller
from edge.gaps import GapBook
from protocol.errors import DecodeError
from protocol.vocabulary import ArchiveKind
from tests.chaos.edge_support import UNIT, edge_config, meter_config, modbus_device

JAN1 = 1_767_225_600  # 2026-01-01 00:00 UTC
H = 3600
MSK = 3 * H  # Moscow's offset from UTC
HOUR = ArchiveKind.HOUR


def _version_2_buffer(path: Path) -> None:
    """A buffer file as the version 2 edge left it: gap bookkeeping in device seconds (Moscow)."""
    Buffer(path).close()
    conn = sqlite3.connect(path)
    conn.executescript(f"""  -- constants of this test
        PRAGMA user_version = 2;
        CREATE TABLE lora_clock (meter TEXT PRIMARY KEY, device_time INTEGER, at FLOAT);
        -- local 03:00 and local 00:00 on 2026-01-01: 03:00 becomes the UTC value 00:00 had as device seconds
        INSERT INTO gaps VALUES ('m1', 'hour', {JAN1 + 3 * H}, 2, 5.0, 'x'), ('m1', 'hour', {JAN1}, 0, 0.0, '');
        -- the month of December 2025, local: 2025-12-01 00:00 = JAN1 - 31 days; kept for a pending batch
        INSERT INTO lost (meter, kind, period, reason, at) VALUES ('m1', 'month', {JAN1 - 31 * 86400}, 'refused', 4.0);
        INSERT INTO cursors VALUES ('m1', 'hour', {JAN1 + 5 * H});
        INSERT INTO lora_clock VALUES ('L1', {JAN1 + 6 * H + 1800}, 9.0);
    """)  # noqa: S608
    conn.close()


def test_a_version_2_buffer_opens_as_version_3_with_utc_periods(tmp_path: Path) -> None:
    path = tmp_path / "buffer.db"
    _version_2_buffer(path)
    buf = Buffer(path, "Europe/Moscow")
    assert buf.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    # local 03:00 -> 00:00 UTC = JAN1; local 00:00 -> 2025-12-31 21:00 UTC = JAN1 - 3 h
    assert buf.db.execute("SELECT period, attempts, last_error FROM gaps ORDER BY period").fetchall() == [
        (JAN1 - MSK, 0, ""), (1_767_225_600, 2, "x")]
    # December 2025 starts at local midnight of the 1st: 2025-11-30 21:00 UTC = 1764547200 - 10800
    assert buf.db.execute("SELECT kind, period, reason FROM lost").fetchall() == [("month", 1_764_536_400, "refused")]
    assert buf.cursor("m1", HOUR) == JAN1 + 5 * H - MSK  # local 05:00 = 02:00 UTC
    assert buf.db.execute("SELECT device_time FROM lora_clock").fetchall() == [(JAN1 + 6 * H + 1800 - MSK,)]
    # the batch carries the UTC start as the buffer keeps it
    (events,) = buf.next_batches(10, 100, "s")
    assert [(x.meter, x.kind, x.period_start) for x in events.lost] == [("m1", ArchiveKind.MONTH, 1_764_536_400)]
    buf.close()
    again = Buffer(path, "Europe/Moscow")  # version 3 now: opening again converts nothing
    assert again.cursor("m1", HOUR) == JAN1 + 2 * H
    assert [r[0] for r in again.db.execute("SELECT period FROM gaps ORDER BY period")] == [JAN1 - MSK, JAN1]
    again.close()


def test_an_unknown_time_zone_is_refused_before_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "buffer.db"
    _version_2_buffer(path)
    with pytest.raises(DecodeError, match="time_zone: unknown IANA time zone 'Europe/Atlantis'"):
        Buffer(path, "Europe/Atlantis")
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert conn.execute("SELECT last_period FROM cursors").fetchone()[0] == JAN1 + 5 * H
    conn.close()


async def test_a_moscow_device_loses_an_hour_by_its_utc_start(tmp_path: Path) -> None:
    """Commissioned 2026-01-10 00:00 UTC (03:00 Moscow); its clock stands at 2026-01-11 03:30 Moscow;
    it keeps one day. The hours 01-10 03:00 .. 01-11 02:00 Moscow have closed (24); one day back from
    03:30 is 01-10 03:30, so only the hour from 01-10 03:00 Moscow is lost: 2026-01-10 00:00 UTC =
    JAN1 + 9 days = 1768003200. The cursor is the last hour, 01-11 02:00 Moscow = 01-10 23:00 UTC."""
    commissioned = datetime(2026, 1, 10, tzinfo=UTC)
    now = commissioned + timedelta(days=1, minutes=30)
    async with modbus_device(commissioned, now, speed=1.0) as dev:
        dev.device.clock.freeze(now)
        buf = Buffer(tmp_path / "buffer.db", "Europe/Moscow")
        cfg = edge_config(tmp_path, [meter_config(dev, archive_depth_days=1)])
        assert cfg.time_zone == "Europe/Moscow"
        poller = Karat307Poller(cfg.meters[0], cfg, buf,
                                Karat307Client(ModbusLink.tcp("127.0.0.1", dev.port, timeout=1.0), UNIT))
        serial = dev.device.serial
        try:
            await poller.poll_once()
        finally:
            poller.client.close()
        lost = GapBook(buf, 1, 1).lost(serial, HOUR)
        assert lost == {1_768_003_200: "older than the device's archive depth (1 d)"}
        assert buf.cursor(serial, HOUR) == 1_768_003_200 + 23 * H
        batches = buf.next_batches(10, 1000, "s")
        lost_sent = [(x.meter, x.kind, x.period_start) for b in batches for x in b.lost]
        assert lost_sent == [(serial, HOUR, 1_768_003_200)]
        # the event says it in the building's local time
        (event,) = buf.events(kind="periods_lost")
        assert (event["detail"]["first_period"], event["detail"]["last_period"]) == (
            "2026-01-10 03:00:00", "2026-01-10 03:00:00")
        buf.close()
