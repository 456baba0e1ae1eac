"""The edge agent's local status endpoint (edge/status.py, aiohttp) and `domuchet edge status`
(domuchet/edge_status_cmd.py) against a running agent on real parts: nats-server, the cloud's
ingest on chDB, a pymodbus KARAT-307. Loss of the cloud connection shows within seconds."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloud.storage.clickhouse import ClickHouse
from domuchet import cli, edge_status_cmd, natsserver
from edge.agent import EdgeAgent
from edge.status import snapshot
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
    nats_proc = natsserver.start(nats_cfg, tmp_path / "nats", tmp_path / "nats.log", new_session=False)
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
