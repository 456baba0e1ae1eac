"""LoRaWAN input is checked at the driver boundary (edge/drivers/lorawan_mqtt.py): an MQTT message
that is not a ChirpStack uplink of a configured meter goes to ``rejects`` with a reason naming
what was wrong, is acknowledged (it can never become valid) and the feed goes on; an archive
record or device event whose time lies beyond the time service's allowed drift from the edge's
clock is rejected with a ``clock_out_of_range`` event and never becomes data, gaps or lost
periods (a passport with such a clock is kept, with the event, but not believed). The feed runs
on a real nats-server MQTT listener that redelivers an unacknowledged message after 1 s."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from domuchet import natsserver
from edge.agent import EdgeAgent
from edge.buffer import Buffer
from edge.config import EdgeConfig, MeterConfig
from edge.drivers.lorawan_mqtt import LoraUplinkHandler
from protocol import lorawan, lorawan_up
from protocol.periods import local_to_utc, period_start, to_device_seconds, utc_to_local, zone
from protocol.vocabulary import ArchiveKind
from tests.chaos.edge_support import edge_config, until
from tests.conftest import free_port

DEV = "70b3d5e75e00b001"
SERIAL = "223000001"
APP = "0b0b0b0b-0000-4000-8000-000000000001"
TOPIC = f"application/{APP}/device/{DEV}/event/up"
TZ = zone("Europe/Moscow")
HOUR = ArchiveKind.HOUR
FAR = datetime(2106, 2, 7, 5, 0)  # an hour start below 2**32 device seconds (2106-02-07 06:28:16)


# --- a broker that redelivers what the edge does not acknowledge, within the test -------------

@pytest.fixture
def broker(tmp_path: Path) -> Iterator[natsserver.NatsSettings]:
    """nats-server with JetStream and its MQTT listener, as the ``nats`` fixture starts it, but
    redelivering an unacknowledged QoS 1 message after 1 s instead of 30 s."""
    cfg = natsserver.NatsSettings(port=free_port(), mqtt_port=free_port())
    shm = Path("/dev/shm")
    store = Path(tempfile.mkdtemp(prefix="domuchet-nats-", dir=shm if shm.is_dir() else None))
    conf = natsserver.write_config(cfg, store, auth=False)
    conf.write_text(conf.read_text().replace("mqtt {\n", 'mqtt {\n  ack_wait: "1s"\n'))
    with open(tmp_path / "nats.log", "ab") as log:
        proc = subprocess.Popen([natsserver.binary(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        natsserver.wait_for_port(cfg.host, cfg.port, proc)
        natsserver.wait_for_port(cfg.host, cfg.mqtt_port, proc)
        yield cfg
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(store, ignore_errors=True)


@contextlib.contextmanager
def network_server(port: int) -> Iterator[Callable[[bytes], None]]:
    """Publishes ChirpStack events on the uplink topic (QoS 1), as the network server does."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-network-server")
    client.connect("127.0.0.1", port)
    client.loop_start()

    def publish(payload: bytes) -> None:
        client.publish(TOPIC, payload, qos=1).wait_for_publish(5)
    try:
        yield publish
    finally:
        client.loop_stop()
        client.disconnect()


@contextlib.asynccontextmanager
async def running(config: EdgeConfig) -> AsyncIterator[EdgeAgent]:
    agent = EdgeAgent(config)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await until(lambda: agent.mqtt is not None and agent.mqtt.connected, 20, "the edge's MQTT session")
        yield agent
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


# --- frames ---------------------------------------------------------------------------------

def uplink(frame: bytes, f_port: int = lorawan.FPORT, f_cnt: int = 1, dev_eui: str = DEV, **extra: object) -> bytes:
    return json.dumps({"deviceInfo": {"applicationId": APP, "devEui": dev_eui}, "fCnt": f_cnt, "fPort": f_port,
                       "data": base64.b64encode(frame).decode(), "rxInfo": [{"gatewayId": "g1", "rssi": -99,
                                                                             "snr": 5.5}],
                       "txInfo": {"frequency": 868900000}, **extra}).encode()


def archive(start_local: datetime) -> bytes:
    """A CRC-valid Compact-2 hour archive, encoded as the simulators encode it."""
    return lorawan.encode(lorawan.CompactArchive(HOUR, to_device_seconds(start_local), 1000, 2000, 3000))


def passport(device_local: datetime) -> bytes:
    return lorawan_up.encode(lorawan_up.Passport(
        model=2223, serial=int(SERIAL), firmware=0x0102, verified=to_device_seconds(datetime(2025, 6, 1)),
        device_time=to_device_seconds(device_local), battery_pct=90, status=0, relay=lorawan_up.RELAY_ABSENT,
        threshold_w=0, inputs=(lorawan_up.Resource.HOT_WATER, lorawan_up.Resource.COLD_WATER)))


def device_event(device_local: datetime) -> bytes:
    return lorawan_up.encode(lorawan_up.DeviceEvent(to_device_seconds(device_local), lorawan_up.Effect.INTEGRITY,
                                                    lorawan_up.Severity.ALARM, 0x0101))


def utc_epoch(local: datetime) -> int:
    return int(local_to_utc(local, TZ).timestamp())


def lora_meter(commissioned_local: datetime, **overrides: object) -> MeterConfig:
    return MeterConfig(serial=SERIAL, model="KARAT-Compact-2-223", transport="lorawan", dev_eui=DEV,
                       commissioned=local_to_utc(commissioned_local, TZ).isoformat(), **overrides)  # type: ignore[arg-type]


def mqtt_config(tmp_path: Path, broker: natsserver.NatsSettings, meter: MeterConfig, **overrides: object) -> EdgeConfig:
    return edge_config(tmp_path / "edge", [meter], site="lora-boundary", nats_url=broker.url,
                       mqtt_port=broker.mqtt_port, lora_application_id=APP, **overrides)


def rejects(buf: Buffer) -> list[tuple[str, str, bytes]]:
    return [(s, r, bytes(p)) for s, r, p in buf.db.execute("SELECT source, reason, payload FROM rejects ORDER BY id")]


def stored_periods(buf: Buffer) -> set[int]:
    return {r[0] for r in buf.db.execute("SELECT DISTINCT period_start FROM archive WHERE meter = ?", [SERIAL])}


def task_failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "event=task_failed" in r.getMessage()]


# --- finding: invalid UTF-8 (and other bad envelopes) crashed the LoRa task -----------------

# '{"deviceInfo": {"' is 17 bytes (1 + 12 + 1 + 1 + 1 + 1): the 0xFF after it is byte 17
NOT_UTF8 = b'{"deviceInfo": {"\xffdevEui": "' + DEV.encode() + b'"}, "fPort": 2, "data": ""}'
GOOD = archive(datetime(2026, 1, 10, 12))
BAD_ENVELOPES = [
    (NOT_UTF8, "payload: not UTF-8 at byte 17"),
    (b"[1, 2]", "payload: expected a JSON object, got an array"),
    (b"null", "payload: expected a JSON object, got null"),
    (b"{oops", "payload: not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    (json.dumps({"deviceInfo": "x", "fPort": 2, "data": ""}).encode(), "deviceInfo: expected an object, got a string"),
    (json.dumps({"deviceInfo": {"deviceName": "m"}, "fPort": 2, "data": ""}).encode(), "deviceInfo.devEui: missing"),
    (uplink(GOOD, dev_eui="70b3"), "deviceInfo.devEui: expected 16 hex digits, got \"70b3\""),
    (uplink(GOOD, fCnt="seven"), "fCnt: expected an integer 0..4294967295, got \"seven\""),
    (uplink(GOOD, fCnt=-1), "fCnt: expected an integer 0..4294967295, got -1"),
    (uplink(GOOD, fPort=True), "fPort: expected an integer 0..255, got true"),
    (uplink(GOOD, data="!!!"), "data: not base64: \"!!!\""),
    (uplink(GOOD, data=7), "data: expected a string, got a number"),
    (uplink(GOOD, rxInfo={"rssi": 1}), "rxInfo: expected an array, got an object"),
    (uplink(GOOD, txInfo=[]), "txInfo: expected an object, got an array"),
    (uplink(GOOD, dev_eui="0011223344556677"), "deviceInfo.devEui: 0011223344556677 is not a configured meter"),
]


@pytest.fixture
def handler(tmp_path: Path) -> Iterator[tuple[LoraUplinkHandler, Buffer]]:
    config = EdgeConfig(site="t", time_zone="Europe/Moscow", data_dir=tmp_path, max_clock_drift_s=0.0,
                        meters=[lora_meter(datetime(2026, 1, 1))])  # envelopes, not clocks, are judged here
    buf = Buffer(tmp_path / "buffer.db")
    yield LoraUplinkHandler(config, buf), buf
    buf.close()


@pytest.mark.parametrize(("payload", "reason"), BAD_ENVELOPES, ids=lambda v: v[:30] if isinstance(v, str) else None)
def test_a_bad_envelope_is_rejected_with_a_reason_naming_what_was_wrong(handler, payload: bytes, reason: str) -> None:
    h, buf = handler
    h.handle(TOPIC, payload)  # returns: the message is acknowledged and the feed goes on
    assert rejects(buf) == [(f"mqtt:{TOPIC}", reason, payload)]
    assert buf.db["archive"].count == 0
    h.handle(TOPIC, uplink(GOOD, f_cnt=2))
    assert stored_periods(buf) == {utc_epoch(datetime(2026, 1, 10, 12))}


async def test_bad_messages_on_the_feed_are_rejected_acknowledged_and_the_feed_goes_on(
        broker: natsserver.NatsSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    hour = period_start(HOUR, utc_to_local(datetime.now(UTC), TZ)) - timedelta(hours=1)  # the last closed hour
    config = mqtt_config(tmp_path, broker, lora_meter(hour - timedelta(hours=2)))
    async with running(config) as agent:
        with network_server(broker.mqtt_port) as publish:
            for payload, _ in BAD_ENVELOPES:
                publish(payload)
            publish(uplink(archive(hour), f_cnt=9))
            await until(lambda: stored_periods(agent.buffer) == {utc_epoch(hour)}, 20, "the good uplink stored")
            await asyncio.sleep(3.0)  # an unacknowledged message would be back twice by now (ack_wait 1 s)
            got = rejects(agent.buffer)
    assert sorted((r, p) for _, r, p in got) == sorted((r, p) for p, r in BAD_ENVELOPES)  # each once: acknowledged
    assert task_failures(caplog) == []


# --- finding: one CRC-valid uplink dated 2106 was stored and reported 692,486 periods lost ----

async def test_an_uplink_dated_2106_is_rejected_and_moves_no_gap_bookkeeping(
        broker: natsserver.NatsSettings, tmp_path: Path) -> None:
    now_hour = period_start(HOUR, utc_to_local(datetime.now(UTC), TZ))  # H, local
    commissioned = now_hour - timedelta(hours=3)  # C: the hours C, C+1h, C+2h close by H
    config = mqtt_config(tmp_path, broker, lora_meter(commissioned), clock_threshold_s=60.0)
    async with running(config) as agent:
        with network_server(broker.mqtt_port) as publish:
            publish(uplink(archive(now_hour - timedelta(hours=1)), f_cnt=1))  # C+2h: real
            publish(uplink(archive(FAR), f_cnt=2))  # CRC-valid, by a clock in 2106
            publish(uplink(passport(FAR), f_port=lorawan_up.FPORT_DATA, f_cnt=3))
            publish(uplink(device_event(FAR), f_port=lorawan_up.FPORT_DATA, f_cnt=4))
            publish(uplink(archive(now_hour - timedelta(hours=2)), f_cnt=5))  # C+1h: real
            await until(lambda: agent.buffer.db["radio"].count >= 5, 20, "the five uplinks")
            gaps = agent.lora_gaps.gaps
            # the keeper registers C, C+1h, C+2h (closed by H, the end of the latest real period) and
            # closes the two that arrived: C alone stays open
            await until(lambda: gaps.open(SERIAL, HOUR) == [utc_epoch(commissioned)], 20, "gap C alone")
            await asyncio.sleep(0.5)  # a few more rounds of the keeper (every 0.1 s)
            assert gaps.open(SERIAL, HOUR) == [utc_epoch(commissioned)]
            assert gaps.lost(SERIAL, HOUR) == {}
            assert agent.buffer.cursor(SERIAL, HOUR) == utc_epoch(now_hour - timedelta(hours=1))
            assert agent.lora.device_time(SERIAL) == utc_epoch(now_hour)
            assert stored_periods(agent.buffer) == {utc_epoch(now_hour - timedelta(hours=1)),
                                                    utc_epoch(now_hour - timedelta(hours=2))}
            assert agent.buffer.events(kind="integrity") == []  # never in the cloud's event log
            # the passport is the device's report of itself, its clock included: kept, not believed
            assert [p["detail"]["device_time"] for p in agent.buffer.events(kind="passport")] == [FAR.isoformat()]
            assert agent.buffer.db["lost"].count == 0
            events = agent.buffer.events(kind="clock_out_of_range")
            got = rejects(agent.buffer)
    assert [e["meter"] for e in events] == [SERIAL] * 3
    assert {e["severity"] for e in events} == {"warning"}
    details = sorted((e["detail"] for e in events), key=lambda d: d["frame"])
    assert [d["frame"] for d in details] == ["event 0x0101", "hour archive", "passport"]
    # an hour archive of 05:00 can be sent from 06:00 on by the device's clock; the others carry 05:00
    assert [d["device_time"] for d in details] == ["2106-02-07T05:00:00", "2106-02-07T06:00:00",
                                                   "2106-02-07T05:00:00"]
    assert {d["allowed_drift_s"] for d in details} == {60.0}
    assert all(abs(datetime.fromisoformat(d["edge_time"]) - now_hour) < timedelta(hours=1, minutes=5)
               for d in details)
    assert [(s, r.split(":")[0]) for s, r, _ in got] == [(f"lorawan:{DEV}", "clock")] * 2
    assert sorted(p for _, _, p in got) == sorted([archive(FAR), device_event(FAR)])


# --- the allowed drift, by hand ---------------------------------------------------------------

EDGE_NOW = datetime(2026, 3, 10, 10, 59, 0)  # the edge's clock, Moscow local time
DRIFT = 60.0  # clock_threshold_s


@pytest.fixture
def clocked(tmp_path: Path) -> Iterator[tuple[LoraUplinkHandler, Buffer, list[datetime]]]:
    """A handler whose edge clock reads ``now[0]`` (local), time service threshold 60 s, 45 days of hours."""
    config = EdgeConfig(site="t", time_zone="Europe/Moscow", data_dir=tmp_path, clock_threshold_s=DRIFT,
                        meters=[lora_meter(datetime(2025, 1, 1), archive_depth_days=45)])
    buf = Buffer(tmp_path / "buffer.db")
    now = [EDGE_NOW]
    yield LoraUplinkHandler(config, buf, clock=lambda: local_to_utc(now[0], TZ).timestamp()), buf, now
    buf.close()


S = timedelta(seconds=1)
ARCHIVE_CASES = [
    # (edge clock, period start, stored?): a period can only arrive once it has ended, give or take the drift
    (EDGE_NOW, datetime(2026, 3, 10, 10), True),  # ends 11:00:00 = edge + 60 s
    (EDGE_NOW - S, datetime(2026, 3, 10, 10), False),  # ends 11:00:00 = edge + 61 s
    (EDGE_NOW, datetime(2026, 3, 10, 9), True),
    # the device keeps 45 days: 2026-03-10 10:59:00 - 45 d (10 + 28 + 7 days back) = 2026-01-24 10:59:00,
    # less the 60 s of drift = 10:58:00
    (EDGE_NOW, datetime(2026, 1, 24, 11), True),
    (EDGE_NOW, datetime(2026, 1, 24, 10), False),
    (EDGE_NOW, datetime(1970, 1, 1), False),
]


@pytest.mark.parametrize(("edge_now", "start", "stored"), ARCHIVE_CASES)
def test_an_archive_period_beyond_the_allowed_drift_is_rejected(clocked, edge_now: datetime, start: datetime,
                                                                stored: bool) -> None:
    h, buf, now = clocked
    now[0] = edge_now
    h.handle(TOPIC, uplink(archive(start)))
    assert stored_periods(buf) == ({utc_epoch(start)} if stored else set())
    assert len(buf.events(kind="clock_out_of_range")) == (0 if stored else 1)
    assert [r[1].startswith("clock:") for r in rejects(buf)] == ([] if stored else [True])


TIME_CASES = [
    # (device time, minutes the network server held the uplink before the edge got it, accepted?)
    (EDGE_NOW + 60 * S, None, True),
    (EDGE_NOW + 61 * S, None, False),
    (EDGE_NOW - 60 * S, None, True),
    (EDGE_NOW - 61 * S, None, False),
    # received by the network server two hours ago (the edge was away): judged against that moment
    (EDGE_NOW - timedelta(hours=2) - 60 * S, 120, True),
    (EDGE_NOW - timedelta(hours=2) - 61 * S, 120, False),
    (EDGE_NOW + 61 * S, 120, False),  # never later than the edge's own clock allows
]


def _held(minutes: int | None) -> dict[str, str]:
    """The network server's receive time (``time``), ``minutes`` before the edge's clock."""
    if minutes is None:
        return {}
    return {"time": (local_to_utc(EDGE_NOW, TZ) - timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")}


def _out_of_range(buf: Buffer, device_time: datetime) -> None:
    (event,) = buf.events(kind="clock_out_of_range")
    assert event["severity"] == "warning"
    assert event["meter"] == SERIAL
    assert (event["detail"]["device_time"], event["detail"]["edge_time"], event["detail"]["allowed_drift_s"]) == (
        device_time.isoformat(), EDGE_NOW.isoformat(), DRIFT)


@pytest.mark.parametrize(("device_time", "held_min", "accepted"), TIME_CASES)
def test_a_device_event_beyond_the_allowed_drift_is_rejected(clocked, device_time: datetime, held_min: int | None,
                                                             accepted: bool) -> None:
    h, buf, _ = clocked
    h.handle(TOPIC, uplink(device_event(device_time), f_port=lorawan_up.FPORT_DATA, **_held(held_min)))
    assert len(buf.events(kind="integrity")) == (1 if accepted else 0)
    if accepted:
        assert buf.events(kind="clock_out_of_range") == []
        assert rejects(buf) == []
        assert h.device_time(SERIAL) == utc_epoch(device_time)  # the buffer keeps UTC
    else:
        _out_of_range(buf, device_time)
        assert [(r[0], r[1][:6], r[2]) for r in rejects(buf)] == [(f"lorawan:{DEV}", "clock:",
                                                                   device_event(device_time))]
        assert h.device_time(SERIAL) is None  # the gap keeper's clock did not move


@pytest.mark.parametrize(("device_time", "held_min", "accepted"), TIME_CASES)
def test_a_passport_beyond_the_allowed_drift_is_kept_but_not_believed(clocked, device_time: datetime,
                                                                      held_min: int | None, accepted: bool) -> None:
    h, buf, _ = clocked
    h.handle(TOPIC, uplink(passport(device_time), f_port=lorawan_up.FPORT_DATA, **_held(held_min)))
    assert [p["detail"]["device_time"] for p in buf.events(kind="passport")] == [device_time.isoformat()]
    assert rejects(buf) == []
    if accepted:
        assert buf.events(kind="clock_out_of_range") == []
        assert h.device_time(SERIAL) == utc_epoch(device_time)  # the buffer keeps UTC
    else:
        _out_of_range(buf, device_time)
        assert h.device_time(SERIAL) is None


def test_a_period_that_does_not_start_an_hour_is_rejected(clocked) -> None:
    h, buf, _ = clocked
    h.handle(TOPIC, uplink(archive(datetime(2026, 3, 10, 9, 30))))
    assert rejects(buf) == [(f"lorawan:{DEV}", "period: 2026-03-10 09:30:00 is not the start of an hour",
                             archive(datetime(2026, 3, 10, 9, 30)))]
    assert buf.db["archive"].count == 0
    assert h.device_time(SERIAL) is None


def test_with_no_drift_limit_a_far_device_clock_is_not_judged(tmp_path: Path) -> None:
    """A simulated building runs on its own fast clock (tests, `domuchet demo` until it keeps to
    real time): with the time service off and max_clock_drift_s = 0, no check."""
    config = EdgeConfig(site="t", time_zone="Europe/Moscow", data_dir=tmp_path, max_clock_drift_s=0.0,
                        meters=[lora_meter(datetime(2025, 1, 1))])
    assert config.clock_threshold_s == 0
    buf = Buffer(tmp_path / "buffer.db")
    h = LoraUplinkHandler(config, buf, clock=lambda: local_to_utc(EDGE_NOW, TZ).timestamp())
    h.handle(TOPIC, uplink(archive(datetime(2027, 1, 5, 10))))  # 300 days ahead of the edge's clock
    assert len(stored_periods(buf)) == 1
    buf.close()


def test_with_the_time_service_off_a_clock_a_day_off_is_judged_by_default(tmp_path: Path) -> None:
    """A field install judges device clocks even with the time service off: max_clock_drift_s
    defaults to a day, so an archive period ending 300 days after the edge's clock is rejected."""
    config = EdgeConfig(site="t", time_zone="Europe/Moscow", data_dir=tmp_path,
                        meters=[lora_meter(datetime(2025, 1, 1))])
    assert (config.clock_threshold_s, config.max_clock_drift_s, config.allowed_clock_drift_s) == (0, 86_400, 86_400)
    buf = Buffer(tmp_path / "buffer.db")
    h = LoraUplinkHandler(config, buf, clock=lambda: local_to_utc(EDGE_NOW, TZ).timestamp())
    h.handle(TOPIC, uplink(archive(datetime(2027, 1, 5, 10))))
    assert stored_periods(buf) == set()
    assert [e["detail"]["allowed_drift_s"] for e in buf.events(kind="clock_out_of_range")] == [86_400]
    buf.close()
