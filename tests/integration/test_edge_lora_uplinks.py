"""The edge's LoRaWAN handler reads every uplink template of the KARAT radio family: the
Compact-2 archives and the channel archives of the 926LW/941LW/927LW modules on FPort 2,
current readings, events and passports on FPort 4; anything else is kept raw with the reason."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path

import pytest

from edge.buffer import Buffer
from edge.config import EdgeConfig, MeterConfig
from edge.drivers.lorawan_mqtt import LoraUplinkHandler
from protocol import lorawan, lorawan_archive, lorawan_up
from protocol.lorawan_up import Reading
from protocol.periods import to_device_seconds
from protocol.vocabulary import ArchiveKind, Nature

DEV = "70b3d5e75e000001"
PERIOD = to_device_seconds(datetime(2026, 1, 10, 12))  # 12:00 Moscow = 09:00 UTC


def _event(port: int, data: bytes, f_cnt: int = 7) -> bytes:
    return json.dumps({"deviceInfo": {"devEui": DEV, "deviceName": "m"}, "fCnt": f_cnt, "fPort": port,
                       "data": base64.b64encode(data).decode(), "rxInfo": [{"gatewayId": "g1", "rssi": -99,
                                                                             "snr": 5.5}],
                       "txInfo": {"frequency": 868900000}, "someFutureField": 1}).encode()


@pytest.fixture
def handler(tmp_path: Path):
    config = EdgeConfig(site="t", time_zone="Europe/Moscow", data_dir=tmp_path, max_clock_drift_s=0.0, meters=[
        MeterConfig(serial="941000001", model="KARAT-941LW", transport="lorawan", commissioned="2026-01-01T00:00+00:00",
                    dev_eui=DEV)])
    buf = Buffer(tmp_path / "buffer.db")
    yield LoraUplinkHandler(config, buf), buf
    buf.close()


def _values(buf: Buffer) -> dict[tuple, float]:
    return {(c, p, k, n): v for c, p, k, n, v in buf.db.execute(
        "SELECT channel, parameter, kind, nature, value FROM archive WHERE period_start = ?",
        [1768035600])}


def test_channel_archive_of_a_module_is_stored_with_its_nature(handler) -> None:
    h, buf = handler
    frame = lorawan_archive.ChannelArchive(ArchiveKind.HOUR, PERIOD, (Reading(1, "E", 1234567), Reading(2, "E", 891)),
                                           Nature.INTERVAL)
    h.handle("t", _event(lorawan.FPORT, lorawan_archive.encode(frame)))
    got = _values(buf)
    assert set(got) == {(1, "E", "hour", "interval"), (2, "E", "hour", "interval")}
    assert got[(1, "E", "hour", "interval")] == pytest.approx(frame.readings[0].value)


def test_compact_archive_still_reads(handler) -> None:
    h, buf = handler
    h.handle("t", _event(lorawan.FPORT, lorawan.encode(lorawan.CompactArchive(ArchiveKind.HOUR, PERIOD, 1000, 2000,
                                                                               3000))))
    assert _values(buf)[(1, "Q", "hour", "integral")] == pytest.approx(0.001)


def test_device_events_are_device_events_and_readings_and_passports_are_kept(handler) -> None:
    h, buf = handler
    event = lorawan_up.DeviceEvent(PERIOD, lorawan_up.Effect.INTEGRITY, lorawan_up.Severity.ALARM, 0x0101, 0)
    h.handle("t", _event(lorawan_up.FPORT_DATA, lorawan_up.encode(event)))
    current = lorawan_up.CurrentReadings(PERIOD, (Reading(1, "E", 5000),))
    h.handle("t", _event(lorawan_up.FPORT_DATA, lorawan_up.encode(current), 8))
    passport = lorawan_up.Passport(model=941, serial=941000001, firmware=0x0203, verified=PERIOD, device_time=PERIOD,
                                   battery_pct=100, status=0, relay=1, threshold_w=5000,
                                   inputs=(lorawan_up.Resource(1),))
    h.handle("t", _event(lorawan_up.FPORT_DATA, lorawan_up.encode(passport), 9))
    kinds = [e["kind"] for e in buf.events()]
    assert kinds == ["passport", "current_readings", "integrity"]
    assert buf.events(kind="passport")[0]["detail"]["firmware"] == "2.3"
    (device_event,) = buf.events(kind="integrity")
    assert device_event["source"] == "device"
    assert device_event["severity"] == "alarm"
    assert device_event["meter"] == "941000001"
    assert device_event["at"] == 1768035600  # 12:00 Moscow by the device's clock = 09:00 UTC
    assert device_event["detail"]["event_code"] == "0x0101"
    h.handle("t", _event(lorawan_up.FPORT_DATA, lorawan_up.encode(event), 10))  # the same event again
    assert len(buf.events(kind="integrity")) == 1
    assert buf.db["radio"].count == 4  # every packet is logged, the repeat too
    assert buf.db["archive"].count == 0


def test_unknown_port_and_bad_crc_are_kept_raw_with_the_reason(handler) -> None:
    h, buf = handler
    h.handle("t", _event(9, b"\x01\x02"))
    good = lorawan.encode(lorawan.CompactArchive(ArchiveKind.HOUR, PERIOD, 1, 2, 3))
    h.handle("t", _event(lorawan.FPORT, good[:-1] + bytes([good[-1] ^ 0xFF]), 9))
    reasons = [r[0] for r in buf.db.execute("SELECT reason FROM rejects ORDER BY id")]
    assert reasons[0].startswith("fPort:")
    assert reasons[1].startswith("crc:")
    assert buf.db["archive"].count == 0
    assert [r[0] for r in buf.db.execute("SELECT error FROM radio ORDER BY id")] == reasons


def test_a_packet_heard_by_several_gateways_keeps_the_best_reception(handler) -> None:
    h, buf = handler
    event = json.loads(_event(lorawan.FPORT, lorawan.encode(lorawan.CompactArchive(ArchiveKind.HOUR, PERIOD, 1, 2, 3))))
    # listed first: the weakest; g3 has the highest SNR (7.0 > 5.5 > -2.0), so it is the one kept
    event["rxInfo"] = [{"gatewayId": "g1", "rssi": -120, "snr": -2.0}, {"gatewayId": "g2", "rssi": -90, "snr": 5.5},
                       {"gatewayId": "g3", "rssi": -95, "snr": 7.0}]
    h.handle("t", json.dumps(event).encode())
    assert buf.db.execute("SELECT gateway, rssi, snr FROM radio").fetchall() == [("g3", -95, 7.0)]


def _hour(period: int, f_cnt: int) -> tuple[str, bytes]:
    frame = lorawan.CompactArchive(ArchiveKind.HOUR, period, 1000 + f_cnt, 2000, 3000)
    return "t", _event(lorawan.FPORT, lorawan.encode(frame), f_cnt)


def test_a_batch_of_messages_is_one_commit_and_waiters_hear_it_after(handler) -> None:
    """What waited on the MQTT queue is stored in one transaction (one fsync, not two a message):
    both archives, and the message that is not an uplink kept with its reason; a command waiting
    for the device hears the two frames once they are stored."""
    h, buf = handler
    commits: list[str] = []
    buf.db.conn.set_trace_callback(lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None)
    queue = h.subscribe(DEV, lambda f: True)
    h.handle_batch([_hour(PERIOD, 7), ("t", b"not json"), _hour(PERIOD - 3600, 8)])
    assert len(commits) == 1
    assert buf.db.execute("SELECT count(DISTINCT period_start) FROM archive").fetchone()[0] == 2
    assert buf.db.execute("SELECT count(*) FROM rejects").fetchone()[0] == 1
    assert (queue.qsize(), h.received) == (2, 2)


def test_a_batch_the_buffer_cannot_write_stores_nothing_and_wakes_nobody(handler, monkeypatch) -> None:
    import sqlite3
    h, buf = handler
    queue = h.subscribe(DEV, lambda f: True)
    calls = iter([None])

    def add_radio(packet: object) -> None:  # the second message's radio row finds the disk failing
        if next(calls, "fail") == "fail":
            raise sqlite3.OperationalError("disk I/O error")
    monkeypatch.setattr(buf, "add_radio", add_radio)
    with pytest.raises(sqlite3.OperationalError):
        h.handle_batch([_hour(PERIOD, 7), _hour(PERIOD - 3600, 8)])
    assert buf.db.execute("SELECT count(*) FROM archive").fetchone()[0] == 0  # the first one rolled back too
    assert (queue.qsize(), h.received) == (0, 0)
