"""The edge agent's local status endpoint (edge/status.py, aiohttp) and `domuchet edge status`
(domuchet/edge_status_cmd.py) against a running agent on real parts: nats-server, the cloud's
ingest on chDB, a pymodbus KARAT-307. Loss of the cloud connection shows within seconds."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloud.storage.clickhouse import ClickHouse
from domuchet import cli, edge_status_cmd, natsserver
from edge.agent import EdgeAgent
from edge.config import MeterConfig
from edge.status import snapshot
from protocol import lorawan
from protocol.periods import to_device_seconds
from protocol.vocabulary import ArchiveKind
from tests.chaos.edge_support import (
    CuttableProxy,
    edge_config,
    hours,
    meter_config,
    modbus_device,
    supervised_ingest,
    until,
)
from tests.conftest import free_port


async def _snap(url: str) -> dict:
    return await asyncio.to_thread(edge_status_cmd.fetch, url)


async def test_status_endpoint_and_command_show_the_agent_state(tmp_path: Path, clickhouse: ClickHouse,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    nats_cfg = natsserver.NatsSettings(port=free_port(), mqtt_port=free_port())
    nats_proc = natsserver.start(nats_cfg, tmp_path / "nats", tmp_path / "nats.log", new_session=False, auth=False)
    commissioned = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - hours(30)
    status_port = free_port()
    url = f"http://127.0.0.1:{status_port}/status"
    async with modbus_device(commissioned, commissioned + hours(24.5), speed=600.0) as dev:
        config = edge_config(tmp_path / "edge", [meter_config(dev)], nats_url=nats_cfg.url, status_port=status_port,
                             disk_budget_bytes=64 * 1024 * 1024)
        agent = EdgeAgent(config)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(agent.run(stop)), asyncio.create_task(supervised_ingest(nats_cfg.url,
                                                                                             clickhouse, stop))]
        try:
            async def healthy() -> bool:
                try:
                    s = await _snap(url)
                except OSError:
                    return False
                return (s["sync"]["nats_connected"] and s["sync"]["stored_watermark"] >= 1
                        and s["devices"][0]["last_ok_at"] is not None and s["buffer"]["values"] > 0)
            await until(healthy, 30, "a healthy status")
            s = await _snap(url)
            assert s["site"] == "edge-test"
            (d,) = s["devices"]
            assert d["serial"] == dev.device.serial
            assert d["clock_offset_s"] is not None
            assert d["last_error"] == ""
            assert s["disk"]["budget_bytes"] == 64 * 1024 * 1024
            assert 0 < s["disk"]["used_bytes"] < s["disk"]["budget_bytes"]
            assert s["disk"]["level"] == "ok"
            assert s["sync"]["last_sync_at"] is not None
            assert set(s["buffer"]) >= {"values", "unsynced_values", "oldest_unsynced_age_s", "batches"}
            assert "open_gaps" in s
            assert "lost_periods" in s

            out = io.StringIO()
            assert await asyncio.to_thread(edge_status_cmd.main, {}, url, out) == 0
            text = out.getvalue()
            assert "edge site edge-test" in text
            assert "connected" in text
            assert "DISCONNECTED" not in text
            assert dev.device.serial in text
            assert "disk budget" in text
            assert "open gaps" in text
            argv = ["edge", "status", "--url", f"http://127.0.0.1:{status_port}"]
            assert await asyncio.to_thread(cli.main, argv) == 0
            assert dev.device.serial in capsys.readouterr().out

            await dev.stop()  # the device goes off the line: its error shows

            async def device_error() -> bool:
                return bool((await _snap(url))["devices"][0]["last_error"])
            await until(device_error, 15, "the device error in status")

            nats_proc.kill()  # the cloud link goes: it must show within seconds
            nats_proc.wait()

            async def nats_down() -> bool:
                return not (await _snap(url))["sync"]["nats_connected"]
            await until(nats_down, 10, "NATS shown disconnected")
            out = io.StringIO()
            assert await asyncio.to_thread(edge_status_cmd.main, {}, url, out) == 0
            assert "DISCONNECTED" in out.getvalue()
            assert "error:" in out.getvalue()
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            if nats_proc.poll() is None:
                nats_proc.kill()
                nats_proc.wait()


def test_status_command_names_the_url_when_no_agent_answers(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert cli.main(["edge", "status", "--url", url]) == 1
    err = capsys.readouterr().err
    assert f"{url}/status" in err
    assert "is the edge agent running" in err


def test_status_url_comes_from_the_config_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert edge_status_cmd.status_url({}, None) == "http://127.0.0.1:8081/status"
    assert edge_status_cmd.status_url({"edge": {"status_port": 9999}}, None) == "http://127.0.0.1:9999/status"
    monkeypatch.setenv("DOMUCHET_EDGE_STATUS_PORT", "7777")
    assert edge_status_cmd.status_url({"edge": {"status_port": 9999}}, None) == "http://127.0.0.1:7777/status"
    assert edge_status_cmd.status_url({}, "http://h:1/status") == "http://h:1/status"


async def test_a_silent_uplink_cut_shows_in_status_within_seconds(tmp_path: Path, nats) -> None:
    proxy = CuttableProxy(nats.port)
    await proxy.start()
    agent = EdgeAgent(edge_config(tmp_path / "edge", [], nats_url=f"nats://127.0.0.1:{proxy.port}"))
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await until(lambda: agent.sync.connected, 20, "the NATS connection")
        proxy.cut = True  # no FIN, no RST: the bytes just stop
        await until(lambda: not agent.sync.connected, 20, "the silent cut detected by pings")
        s = snapshot(agent)
        assert s["sync"]["nats_connected"] is False
        assert s["sync"]["nats_down_for_s"] is not None
        assert s["sync"]["backpressure"] is False
        assert s["disk"]["used_bytes"] >= s["disk"]["wal_bytes"] >= 0  # the write-ahead log counts
        assert s["buffer"]["unsynced_events"] == s["buffer"]["unsynced_command_results"] == 0
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await proxy.close()


async def test_status_shows_lora_gaps_and_each_meter_by_its_own_endpoint(tmp_path: Path) -> None:
    """A LoRa meter's open gaps and lost periods count like a Modbus meter's; an RTU meter is found
    by its serial port and unit, a TCP meter by host:port and unit, a LoRa meter by its devEUI."""
    dev_eui = "70b3d5e75e00c001"
    meters = [
        MeterConfig(serial="30700001", model="KARAT-307", transport="modbus-tcp", commissioned="2026-01-07T21:00+00:00",
                    host="10.0.0.5", port=502, unit=2),
        MeterConfig(serial="30600003", model="KARAT-306", transport="modbus-rtu", commissioned="2026-01-07T21:00+00:00",
                    serial_port="/dev/ttyUSB0", unit=3),
        # commissioned 2026-01-08 00:00 Moscow; the device keeps one day of hours
        MeterConfig(serial="223000009", model="KARAT-Compact-2-223", transport="lorawan",
                    commissioned="2026-01-07T21:00+00:00", dev_eui=dev_eui, archive_depth_days=1),
    ]
    agent = EdgeAgent(edge_config(tmp_path / "edge", meters, lora_application_id="app"))  # time service off
    try:
        frame = lorawan.encode(lorawan.CompactArchive(ArchiveKind.HOUR, to_device_seconds(datetime(2026, 1, 10, 4)),
                                                      1, 2, 3))
        agent.lora.handle("t", json.dumps({"deviceInfo": {"devEui": dev_eui}, "fCnt": 1, "fPort": lorawan.FPORT,
                                           "data": base64.b64encode(frame).decode()}).encode())
        agent.lora_gaps.check(meters[2])
        # the 04:00 record shows the device's clock at 2026-01-10 05:00: the hours closed since
        # commissioning are 24 (01-08) + 24 (01-09) + 5 (01-10 00..04) = 53; a day of depth keeps
        # those from 01-09 05:00 on: 19 + 5 = 24, of which 04:00 arrived -> 23 open gaps, and
        # 53 - 24 = 29 lost
        s = snapshot(agent)
    finally:
        agent.buffer.close()
    devices = {d["serial"]: d for d in s["devices"]}
    lora = devices["223000009"]
    assert (lora["open_gaps"], lora["oldest_gap"], lora["lost_periods"]) == (23, "2026-01-09 05:00:00", 29)
    assert (s["open_gaps"], s["lost_periods"]) == (23, 29)
    assert lora["endpoint"] == dev_eui
    assert devices["30700001"]["endpoint"] == "10.0.0.5:502 #2"
    assert devices["30600003"]["endpoint"] == "/dev/ttyUSB0@9600 #3"  # port@baud (default 9600)
    assert lora["last_ok_at"] is not None
    out = io.StringIO()
    edge_status_cmd.render(json.loads(json.dumps(s)), out)
    (line,) = [ln for ln in out.getvalue().splitlines() if ln.strip().startswith("223000009")]
    assert "23 open gaps (oldest 2026-01-09 05:00:00), 29 periods lost" in line
