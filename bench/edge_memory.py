"""Edge agent memory with 5,000 meters configured, and CPU per 1,000 meters in steady state.

A real `python -m domuchet edge` process is configured with 5,000 LoRaWAN apartment meters
(three simulated buildings) and its status endpoint on, as by default. Its resident memory is
read from /proc when idle. Then simulated hours of uplinks are sent, one per meter per hour,
as ChirpStack JSON over the nats-server MQTT listener. The process's CPU time is measured until
every value is in its buffer and synced to JetStream. After that come its CPU while it idles
with every meter heard (the gap keeper's passes) and its memory after one GET /status.
Run: python -m bench.edge_memory [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import nats
import paho.mqtt.client as mqtt
from nats.js.api import StreamConfig

from domuchet import natsserver
from protocol import subjects
from simulators.compact2 import Compact2
from simulators.scenario import BuildingSpec, Scenario, plan
from simulators.world import World, commissioning_utc

SITE = "bench-mem"
STEADY_S = 10.0  # how long the idle CPU after the load is measured
BUILDINGS = (2000, 2000, 1000)  # apartments per simulated building: 5,000 meters
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def devices() -> list[Compact2]:
    out = []
    for seed, apartments in enumerate(BUILDINGS, start=1):
        # commissioned three days ago ("auto"): the edge rejects archives its clock says cannot be
        # real (from the future, or older than the device keeps), so a fixed date would go stale
        scenario = Scenario(BuildingSpec(site=f"mem{seed}", address="bench", apartments=apartments), seed=seed)
        p = plan(scenario)
        world = World(scenario, p, commissioning_utc(scenario))
        out += [Compact2(world, a, scenario.lora_application_id) for a in p.apartments]
    return out


def edge_toml(devs: list[Compact2], data_dir: Path, nats_url: str, mqtt_port: int, status_port: int) -> str:
    commissioned = devs[0].world.commissioning.isoformat()
    lines = ["[edge]", f'site = "{SITE}"', 'time_zone = "Europe/Moscow"', f'data_dir = "{data_dir}"',
             f'nats_url = "{nats_url}"', f"mqtt_port = {mqtt_port}", f"status_port = {status_port}",
             "batch_max_records = 2000"]
    for d in devs:
        lines += ["[[edge.meters]]", f'serial = "{d.apartment.meter_serial}"', 'model = "KARAT-Compact-2-223"',
                  'transport = "lorawan"', f'commissioned = "{commissioned}"', f'dev_eui = "{d.apartment.dev_eui}"']
    return "\n".join(lines) + "\n"


async def _make_stream(url: str) -> None:
    nc = await nats.connect(url)
    await nc.jetstream().add_stream(StreamConfig(name=subjects.STREAM_UP, subjects=[subjects.STREAM_UP_SUBJECTS]))
    await nc.close()


def _wait_log(path: Path, text: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"edge agent did not log {text!r}; see {path}")
        time.sleep(0.2)


def _buffer_counts(db: Path) -> tuple[int, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        values = conn.execute("SELECT count(*) FROM archive").fetchone()[0]
        unbatched = conn.execute("SELECT count(*) FROM archive WHERE batch IS NULL").fetchone()[0]
    return values, unbatched


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one simulated hour of uplinks instead of three")
    hours = 1 if ap.parse_args().quick else 3
    devs = devices()
    meters = len(devs)
    print(f"edge agent with {meters:,} LoRaWAN meters configured; then {hours} simulated hour(s) of uplinks")
    with tempfile.TemporaryDirectory(prefix="bench-edge-mem-") as tmp:
        root = Path(tmp)
        cfg = natsserver.NatsSettings(port=_free_port(), mqtt_port=_free_port())
        server = natsserver.start(cfg, root / "nats", root / "nats.log", auth=False)
        asyncio.run(_make_stream(cfg.url))
        conf = root / "edge.toml"
        status_port = _free_port()
        conf.write_text(edge_toml(devs, root / "edge", cfg.url, cfg.mqtt_port, status_port))
        log = root / "edge.log"
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        with open(log, "ab") as out:
            edge = subprocess.Popen([sys.executable, "-m", "domuchet", "edge", "--config", str(conf)],
                                    stdout=out, stderr=out, env=env)
        try:
            _wait_log(log, "event=mqtt_connected", edge)
            time.sleep(2.0)
            idle_rss = _rss_mib(edge.pid)
            print(f"  idle, {meters:,} meters configured: RSS {idle_rss:.1f} MiB")
            events = [(d.topic, d.up_event(i, d.world.hour_start(i + 1) + timedelta(seconds=7)))
                      for i in range(hours) for d in devs]
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-ns")
            client.max_queued_messages_set(0)
            client.connect(cfg.host, cfg.mqtt_port)
            client.loop_start()
            cpu0, t0 = _cpu_s(edge.pid), time.perf_counter()
            infos = [client.publish(topic, payload, qos=1) for topic, payload in events]
            for info in infos:
                info.wait_for_publish(60)
            expected = len(events) * 3  # heat, hot and cold water: one value each
            db = root / "edge" / "buffer.db"
            while True:
                values, unbatched = _buffer_counts(db)
                if values >= expected and unbatched == 0:
                    break
                if time.perf_counter() - t0 > 300:
                    raise RuntimeError(f"only {values} values buffered after 300 s")
                time.sleep(0.2)
            time.sleep(1.0)  # let the last batches go out
            cpu, wall = _cpu_s(edge.pid) - cpu0, time.perf_counter() - t0
            busy_rss, peak_rss = _rss_mib(edge.pid), _rss_mib(edge.pid, "VmHWM")
            steady0 = _cpu_s(edge.pid)
            time.sleep(STEADY_S)
            steady_pct = 100 * (_cpu_s(edge.pid) - steady0) / STEADY_S
            with urllib.request.urlopen(f"http://127.0.0.1:{status_port}/status", timeout=30) as resp:
                status_devices = len(json.load(resp)["devices"])
            status_rss = _rss_mib(edge.pid)
            client.loop_stop()
            client.disconnect()
            per_1000 = cpu / hours / (meters / 1000)
            print(f"  {len(events):,} uplinks ({values:,} values) decoded, buffered and published in {wall:.1f} s; "
                  f"edge CPU {cpu:.2f} s")
            print(f"  CPU per 1,000 meters per hour of archives: {per_1000:.3f} s "
                  f"({100 * per_1000 / 3600:.4f} % of one core)")
            print(f"  RSS after load {busy_rss:.1f} MiB, peak {peak_rss:.1f} MiB")
            print(f"  idle with every meter heard: CPU {steady_pct:.1f} % of one core")
            print(f"  RSS after one GET /status ({status_devices:,} devices) {status_rss:.1f} MiB")
        finally:
            edge.terminate()
            edge.wait(timeout=30)
            server.terminate()
            server.wait(timeout=30)
    print(json.dumps({"bench": "edge_memory", "meters": meters, "idle_rss_mib": round(idle_rss, 1),
                      "rss_after_load_mib": round(busy_rss, 1), "peak_rss_mib": round(peak_rss, 1),
                      "rss_after_status_mib": round(status_rss, 1), "steady_cpu_pct": round(steady_pct, 1),
                      "target_rss_mib": 100, "uplinks": len(events),
                      "cpu_s_per_1000_meters_per_hour": round(per_1000, 3)}))


if __name__ == "__main__":
    main()
