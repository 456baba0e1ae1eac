"""Shared parts of the edge tests (tests/chaos/test_edge_*.py, tests/integration/test_edge_*.py):
a simulated KARAT-307 on a real pymodbus server that can go offline and come back, edge configs,
the records a simulated building must produce, and exactly-once checks against ClickHouse (archive
values, and the events and lost periods the edge recorded)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats as nats_client
import pytest
from nats.js.api import AckPolicy, ConsumerConfig
from pymodbus.server import ModbusTcpServer

from cloud.ingest import Ingest
from cloud.storage.clickhouse import ClickHouse
from cloud.streams import DURABLE, ensure_streams
from edge.config import EdgeConfig, MeterConfig
from protocol import subjects
from simulators.karat307 import Karat307, tcp_server
from simulators.runner import SimulatedBuilding
from simulators.scenario import BuildingSpec, Scenario, load, plan
from simulators.world import SimClock, World
from tests.conftest import PLAIN, free_port

SERIAL = "30700555"
UNIT = 3


async def until(predicate: Callable[[], Awaitable[bool] | bool], timeout: float, what: str) -> None:
    """Wait for a condition; the deadline only keeps a broken run from hanging."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)


def device_world(commissioning: datetime, site: str = "edge-test") -> World:
    spec = BuildingSpec(site=site, address="test", apartments=2, heat_meter_serial=SERIAL, heat_meter_unit=UNIT)
    scenario = Scenario(spec, seed=5, start=commissioning.strftime("%Y-%m-%dT%H:%M"))
    return World(scenario, plan(scenario), commissioning)


@dataclass
class ModbusDevice:
    """One simulated KARAT-307 on a free port; ``stop``/``start`` take it off the line and back."""

    device: Karat307
    port: int
    server: ModbusTcpServer | None = None

    async def start(self) -> None:
        self.server = tcp_server([self.device], "127.0.0.1", self.port)
        await self.server.serve_forever(background=True)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None

    def jump(self, to_utc: datetime, speed: float) -> None:
        """Let simulated time pass (for example while the device is offline)."""
        self.device.clock = SimClock(to_utc, speed)


@contextlib.asynccontextmanager
async def modbus_device(commissioning: datetime, now: datetime, speed: float) -> AsyncIterator[ModbusDevice]:
    world = device_world(commissioning)
    dev = ModbusDevice(Karat307(world, SimClock(now, speed), UNIT), free_port())
    await dev.start()
    try:
        yield dev
    finally:
        await dev.stop()


def meter_config(dev: ModbusDevice, **overrides: object) -> MeterConfig:
    return MeterConfig(serial=dev.device.serial, model="KARAT-307", transport="modbus-tcp",
                       commissioned=dev.device.world.commissioning.isoformat(), port=dev.port, unit=UNIT,
                       **overrides)  # type: ignore[arg-type]


def edge_config(data_dir: Path, meters: list[MeterConfig], site: str = "edge-test", **overrides: object) -> EdgeConfig:
    # the simulated devices live in the past (2026-01 .. 03): their clocks are not judged here
    # (tests/integration/test_edge_*_boundary.py judge them)
    base = EdgeConfig(site=site, time_zone="Europe/Moscow", data_dir=data_dir, poll_interval_s=0.1,
                      status_port=0, device_backoff_max_s=0.5, gap_backoff_max_s=1.0, max_clock_drift_s=0.0,
                      meters=meters)
    return replace(base, **overrides)  # type: ignore[arg-type]


# --- a whole simulated building (Modbus + LoRaWAN), as in tests/integration/test_pipeline.py ---

def building_scenario(site: str, speed: float, apartments: int = 3) -> Scenario:
    s = load("demo")
    return replace(s, speed=speed, start="2026-01-15T00:00",
                   building=replace(s.building, apartments=apartments, site=site, **PLAIN))


def building_meters(building: SimulatedBuilding, modbus_port: int) -> list[MeterConfig]:
    commissioned = building.state.commissioning.isoformat()
    b = building.scenario.building
    meters = [MeterConfig(serial=b.heat_meter_serial, model="KARAT-307", transport="modbus-tcp",
                          commissioned=commissioned, port=modbus_port, unit=b.heat_meter_unit)]
    meters += [MeterConfig(serial=a.meter_serial, model="KARAT-Compact-2-223", transport="lorawan",
                           commissioned=commissioned, dev_eui=a.dev_eui) for a in building.plan.apartments]
    return meters


def expected_keys(building: SimulatedBuilding, closed_hours: int, sent_hours: int) -> set[tuple]:
    """(meter, channel, parameter, period start UTC) of every Q and V value the building produced."""
    world, out = building.world, set()
    serials = [(building.heat_meter.serial, closed_hours)]
    serials += [(a.meter_serial, sent_hours) for a in building.plan.apartments]
    for serial, hours in serials:
        for i in range(hours):
            start = world.hour_start(i).astimezone(UTC).replace(tzinfo=None)
            out |= {(serial, 1, "Q", start), (serial, 2, "V", start), (serial, 3, "V", start)}
    return out


async def stored_keys(clickhouse: ClickHouse) -> set[tuple]:
    rows = await clickhouse.query("SELECT DISTINCT meter, channel, parameter, period_start FROM {db}.archive "
                                  "WHERE parameter IN ('Q', 'V')")
    return {(m, c, p, t.replace(tzinfo=None)) for m, c, p, t in rows}


async def assert_exactly_once(clickhouse: ClickHouse, expected: set[tuple]) -> None:
    """Every expected key is stored, nothing else, and no value was inserted twice."""
    got = await stored_keys(clickhouse)
    assert got - expected == set(), f"{len(got - expected)} unexpected keys, e.g. {sorted(got - expected)[:3]}"
    assert expected - got == set(), f"{len(expected - got)} keys missing, e.g. {sorted(expected - got)[:3]}"
    raw, distinct = (await clickhouse.query(
        "SELECT count(), uniqExact(meter, channel, kind, parameter, period_start) FROM {db}.archive"))[0]
    assert raw == distinct, f"{raw - distinct} values stored twice"


async def streams_ready(url: str) -> bool:
    """Whether the ingest has created the JetStream streams (the upstream one stands for all)."""
    nc = await nats_client.connect(url)
    try:
        await nc.jetstream().stream_info(subjects.STREAM_UP)
        return True
    except nats_client.js.errors.NotFoundError:
        return False
    finally:
        await nc.close()


async def supervised_ingest(nats_url: str, clickhouse: ClickHouse, stop: asyncio.Event) -> None:
    """The cloud's ingest, restarted after a failure the way domuchet/cloud_process.py does."""
    while not stop.is_set():
        try:
            await Ingest(nats_url, clickhouse).run(stop)
        except Exception:  # the test's supervisor: log and start again
            logging.getLogger(__name__).exception("event=ingest_failed restart_in_s=0.5")
            await asyncio.sleep(0.5)


def utc_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def edge_toml(config: EdgeConfig) -> str:
    """The [edge] table of a config file for ``python -m domuchet edge --config FILE``."""
    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
    lines = ["[edge]"]
    for f in fields(config):
        if f.name != "meters":
            lines.append(f"{f.name} = {value(getattr(config, f.name))}")
    for meter in config.meters:
        lines.append("[[edge.meters]]")
        lines += [f"{f.name} = {value(getattr(meter, f.name))}" for f in fields(meter)]
    return "\n".join(lines) + "\n"


# --- events and lost periods: what the edge recorded is in ClickHouse, each once -------------

def edge_events_and_lost(db: Path) -> tuple[dict[int, str], set[tuple], int]:
    """From an edge buffer file (the agent may be running): event id -> code, lost periods as
    (meter, kind, period start UTC epoch, as the buffer keeps it), and how many events or lost
    periods are not yet confirmed stored by the cloud."""
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        events = dict(conn.execute("SELECT id, kind FROM events").fetchall())
        lost = set(conn.execute("SELECT meter, kind, period FROM lost").fetchall())
        unsynced = sum(conn.execute(
            f"SELECT count(*) FROM {t} WHERE batch IS NULL OR batch IN "  # noqa: S608
            "(SELECT seq FROM batches WHERE state != 'stored')").fetchone()[0] for t in ("events", "lost"))
    return events, lost, unsynced


async def cloud_events_and_lost(clickhouse: ClickHouse, site: str) -> tuple[dict[int, int], dict[tuple, int]]:
    """ClickHouse's device_events (id -> rows) and lost_periods ((meter, kind, start) -> rows) of a site."""
    events = await clickhouse.query("SELECT id, count() FROM {db}.device_events WHERE site = {site:String} "
                                    "GROUP BY id", {"site": site})
    lost = await clickhouse.query("SELECT meter, toString(kind), toUnixTimestamp(period_start), count() "
                                  "FROM {db}.lost_periods WHERE site = {site:String} GROUP BY 1, 2, 3",
                                  {"site": site})
    return {i: n for i, n in events}, {(m, k, t): n for m, k, t, n in lost}


async def assert_events_and_lost_exactly_once(clickhouse: ClickHouse, db: Path, site: str,
                                              timeout: float = 30) -> tuple[dict[int, str], set[tuple]]:
    """Once the edge has every event and lost period confirmed stored: ClickHouse holds exactly
    the edge's events (by id) and lost periods (by key), none of them twice. Returns the edge's."""
    await until(lambda: edge_events_and_lost(db)[2] == 0, timeout,
                "every event and lost period confirmed stored")
    events, lost, _ = edge_events_and_lost(db)
    cloud_events, cloud_lost = await cloud_events_and_lost(clickhouse, site)
    assert set(cloud_events) == set(events), (
        f"events missing in ClickHouse: {sorted(set(events) - set(cloud_events))[:5]}, "
        f"unexpected: {sorted(set(cloud_events) - set(events))[:5]}")
    assert set(cloud_lost) == lost, (f"lost periods missing: {sorted(lost - set(cloud_lost))[:3]}, "
                                     f"unexpected: {sorted(set(cloud_lost) - lost)[:3]}")
    doubled = [i for i, n in cloud_events.items() if n > 1] + [k for k, n in cloud_lost.items() if n > 1]
    assert not doubled, f"stored twice: {doubled[:5]}"
    return events, lost


class CuttableProxy:
    """A TCP relay to nats-server whose uplink can be cut silently (bytes swallowed in both
    directions, sockets left open, as a dead mobile link) and restored (old sockets closed)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.cut = False
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                if not self.cut:
                    dst.write(data)
                    await dst.drain()
        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            up_writer.close()

    def restore(self) -> None:
        for w in self.writers:
            w.close()
        self.writers.clear()
        self.cut = False

    async def close(self) -> None:
        self.restore()
        if self.server is not None:
            self.server.close()


# --- waits that fail when progress stops, and the ingest's consumer for kill tests ------------

STALL_S = 20.0  # no change of the watched state for this long: the run is stuck, not slow


async def until_progress(done: Callable[[], Awaitable[bool] | bool], progress: Callable[[], Awaitable[object] | object],
                         what: str, stall_s: float = STALL_S, check: Callable[[], None] | None = None,
                         poll_s: float = 0.05) -> None:
    """Wait for ``done``; fail only when ``progress`` has shown the same value for ``stall_s``
    (a slow machine waits longer, a stuck pipeline fails), or at once when ``check`` fails (a
    process the test runs has died)."""
    async def value(fn: Callable[[], Awaitable[object] | object]) -> object:
        result = fn()
        return await result if isinstance(result, Awaitable) else result
    loop = asyncio.get_running_loop()
    seen: object = object()
    since = loop.time()
    while not await value(done):
        if check is not None:
            check()
        now_seen = await value(progress)
        if now_seen != seen:
            seen, since = now_seen, loop.time()
        elif loop.time() - since > stall_s:
            pytest.fail(f"waiting for {what}: no progress for {stall_s:.0f} s (stuck at {now_seen!r})")
        await asyncio.sleep(poll_s)


async def ingest_consumer(nats_url: str, ack_wait_s: float) -> None:
    """The up streams, the watermark bucket and the ingest's durable consumer, made as the ingest
    makes them (cloud/ingest.py ``_subscribe``, which keeps an existing durable as it is) but with
    an ack wait of ``ack_wait_s`` instead of 60 s: what a killed worker had fetched and not
    acknowledged comes again that much sooner, so a kill test does not wait a minute per kill."""
    nc = await nats_client.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        await js.add_consumer(subjects.STREAM_UP, ConsumerConfig(
            name=DURABLE, durable_name=DURABLE, filter_subject=subjects.STREAM_UP_SUBJECTS,
            ack_policy=AckPolicy.EXPLICIT, ack_wait=ack_wait_s, max_ack_pending=1024))
    finally:
        await nc.close()
