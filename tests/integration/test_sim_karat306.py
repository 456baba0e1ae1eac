"""The KARAT-306 (simulators/karat306.py) beside a KARAT-307 on one Modbus TCP server, read with
pymodbus's client: the smaller calculator answers the same register map with its own model code,
its own physics (the hot-water heat input: heat = drawn water heated from the cold-water
temperature plus what the circulation loop loses), no third flow channel, and shorter archives
(hours 31 days, days 184 days) whose older periods it refuses with exception 03."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from pymodbus.client import AsyncModbusTcpClient

from protocol import karat307 as regs
from protocol.periods import local_to_utc, period_start, to_device_seconds, utc_to_local
from protocol.vocabulary import ArchiveKind
from simulators.karat306 import Karat306, cold_water_temperature
from simulators.karat307 import Karat307, tcp_server
from simulators.scenario import BuildingSpec, Scenario, plan
from simulators.world import SimClock, World, commissioning_utc
from tests.conftest import free_port

SEED = 17
AGE = timedelta(days=200)  # in service since January; it is now late July


@dataclass
class Site:
    world: World
    k307: Karat307
    k306: Karat306
    client: AsyncModbusTcpClient


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    scenario = Scenario(BuildingSpec(site="k306", address="x", apartments=4), seed=SEED, start="2025-01-10T00:00")
    world = World(scenario, plan(scenario), commissioning_utc(scenario))
    clock = SimClock(world.commissioning + AGE, 1.0)
    clock.freeze()
    k307, k306 = Karat307(world, clock, 1), Karat306(world, clock, 2, "30617002")
    port = free_port()
    server = tcp_server([k307, k306], "127.0.0.1", port)
    await server.serve_forever(background=True)
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=5, retries=0)
    assert await client.connect()
    try:
        yield Site(world, k307, k306, client)
    finally:
        client.close()
        await server.shutdown()


async def _record(site: Site, unit: int, kind: ArchiveKind, start_local: datetime) -> regs.Karat307Record | int:
    """The record of a period, or the exception code the request was refused with."""
    written = await site.client.write_registers(
        regs.REG_ARCHIVE_REQUEST, regs.encode_archive_request(kind, to_device_seconds(start_local)), device_id=unit)
    if written.isError():
        return written.exception_code
    response = await site.client.read_holding_registers(regs.REG_ARCHIVE_RECORD, count=regs.RECORD_LENGTH,
                                                        device_id=unit)
    assert not response.isError(), response
    record = regs.decode_record(kind, response.registers)
    assert record is not None
    return record


def _ago(site: Site, kind: ArchiveKind, days: float) -> datetime:
    return period_start(kind, site.k306.device_now() - timedelta(days=days))


async def test_identity(site: Site) -> None:
    response = await site.client.read_holding_registers(regs.REG_MODEL, count=3, device_id=2)
    assert response.registers[0] == 306
    assert regs.registers_to_u32(response.registers[1:3]) == 30617002


async def test_heat_of_the_hot_water_input(site: Site) -> None:
    morning = _ago(site, ArchiveKind.HOUR, 2).replace(hour=7)  # the morning peak: water is drawn
    records = {}
    for unit in (1, 2):
        for start in (morning, morning + timedelta(hours=1)):
            record = await _record(site, unit, ArchiveKind.HOUR, start)
            assert isinstance(record, regs.Karat307Record)
            records[unit, start.hour] = record
    a, b = records[2, 7], records[2, 8]  # the 306: hour 07-08, then 08-09
    drawn = b.hot_water_litres - a.hot_water_litres
    supply, circulation = b.supply_litres - a.supply_litres, b.return_litres - a.return_litres
    assert drawn > 0
    assert supply - circulation == drawn  # V1 - V2: what the taps took
    assert b.cold_water_litres == a.cold_water_litres == 0  # no third flow input
    # the same water the building's 307 counts on its hot-water channel in that hour
    assert drawn == records[1, 8].hot_water_litres - records[1, 7].hot_water_litres
    t1, t2 = b.supply_temp_centi / 100, b.return_temp_centi / 100
    assert 58 < t1 < 66
    assert t1 - 9 < t2 < t1
    utc = local_to_utc(morning + timedelta(hours=1), site.world.tz)
    t_cold = cold_water_temperature(utc, SEED)
    assert 12 < t_cold < 17  # late July
    heat = b.heat_kcal - a.heat_kcal
    assert heat == pytest.approx(drawn * (t1 - t_cold) + circulation * (t1 - t2), abs=1)
    assert 0 < circulation * (t1 - t2) < heat / 2  # the loop's loss is the smaller part at the peak


async def test_shorter_archives_than_the_307(site: Site) -> None:
    illegal_value = 3
    for kind, days, k306, k307 in ((ArchiveKind.HOUR, 30, "record", "record"),
                                   (ArchiveKind.HOUR, 35, illegal_value, "record"),
                                   (ArchiveKind.DAY, 180, "record", "record"),
                                   (ArchiveKind.DAY, 190, illegal_value, "record"),
                                   (ArchiveKind.MONTH, 60, illegal_value, illegal_value)):
        start = _ago(site, kind, days)
        for unit, expected in ((2, k306), (1, k307)):
            answer = await _record(site, unit, kind, start)
            assert (answer if isinstance(answer, int) else "record") == expected, (kind, days, unit)


async def test_day_record_is_the_last_hour_of_the_day(site: Site) -> None:
    day = _ago(site, ArchiveKind.DAY, 10)
    record = await _record(site, 2, ArchiveKind.DAY, day)
    assert isinstance(record, regs.Karat307Record)
    last_hour = site.world.hour_index(local_to_utc(day + timedelta(days=1), site.world.tz)) - 1
    heat, v1, v2, drawn = site.k306.counters(last_hour)
    assert (record.heat_kcal, record.supply_litres, record.return_litres, record.hot_water_litres) == \
        (heat, v1, v2, drawn)
    assert record.period == to_device_seconds(day)
    assert utc_to_local(site.world.hour_start(last_hour), site.world.tz).hour == 23


async def test_the_edge_client_reads_the_306(site: Site) -> None:
    """The edge agent's own Modbus client (the one its poller uses for KARAT-306 meters) reads the
    306 behind the same gateway port as the 307, and gets PeriodRefused past the 306's depth."""
    from edge.drivers.modbus_link import ModbusLink
    from edge.drivers.modbus_tcp import Karat307Client, PeriodRefused

    client = Karat307Client(ModbusLink.tcp("127.0.0.1", site.client.comm_params.port), 2)
    try:
        hour = _ago(site, ArchiveKind.HOUR, 2)
        assert await client.archive(ArchiveKind.HOUR, to_device_seconds(hour)) == \
            await _record(site, 2, ArchiveKind.HOUR, hour)
        with pytest.raises(PeriodRefused):
            await client.archive(ArchiveKind.HOUR, to_device_seconds(_ago(site, ArchiveKind.HOUR, 35)))
    finally:
        client.close()
