"""Fleet simulator throughput: how many simulated LoRaWAN devices one core drives at ×360,
every hourly uplink published (MQTT QoS 1) to a real nats-server MQTT listener started here.

Run: python -m bench.sim_fleet [--quick] [--devices N] [--seconds S]. The bench process is pinned
to one CPU (nats-server to another when there is one). Baseline: the same number of
ready-made uplink JSON documents published by the same MQTT client with no simulation, i.e.
the client-and-broker ceiling. Prints what it does, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt

from domuchet import natsserver
from simulators.fleet import SimulatedFleet
from simulators.runner import Endpoints, SimulatedBuilding
from simulators.scenario import load_fleet
from simulators.world import SimClock

SPEED = 360.0
PER_BUILDING = 2000  # apartments (one Compact-2 each) per simulated building


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Publisher:
    """One paho client, QoS 1, counting the broker's acknowledgements."""

    def __init__(self, port: int, name: str) -> None:
        self.acked = 0
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, clean_session=True)
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(1000)
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_publish(self, _c, _u, _mid, _rc, _p) -> None:
        with self._lock:
            self.acked += 1

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1)

    def wait(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.acked < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.acked >= count

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def buildings(devices: int, data_dir: Path) -> list[SimulatedBuilding]:
    """A fleet scenario file (simulators/scenarios/README.md) of PER_BUILDING-apartment buildings."""
    full, rest = divmod(devices, PER_BUILDING)
    head = f'seed = 100\nspeed = {SPEED}\nstart = "2026-01-15T00:00"\n'
    group = '[[buildings]]\ncount = {count}\nsite = "{site}"\naddress = "bench"\napartments = {apartments}\n'
    text = head + (group.format(count=full, site="bench", apartments=PER_BUILDING) if full else "")
    text += group.format(count=1, site="bench-rest", apartments=rest) if rest else ""
    path = data_dir / "bench.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return SimulatedFleet(load_fleet(path), data_dir, Endpoints()).buildings


def run_fleet(fleet: list[SimulatedBuilding], pub: Publisher, seconds: float) -> dict:
    start = fleet[0].world.hour_start(1) - timedelta(seconds=SPEED * 0.5)
    for b in fleet:
        b.clock = SimClock(start, SPEED)  # the first hour closes half a wall second after the start
    sent, lags, wall0 = 0, [], time.monotonic()
    cpu0 = time.process_time()
    while time.monotonic() - wall0 < seconds:
        for b in fleet:
            closed_at = b.world.hour_start(b.world.hour_index(b.clock.now()))
            out = b.due_uplinks()
            for topic, payload in out:
                pub.publish(topic, payload)
            sent += len(out)
            if out:  # how late the last uplink of this hour left, in wall seconds after the hour closed
                lags.append((b.clock.now() - closed_at).total_seconds() / SPEED)
        time.sleep(0.02)
    wall = time.monotonic() - wall0
    pub.wait(sent, 60)
    acked_wall = time.monotonic() - wall0
    return {"sent": sent, "acked": pub.acked, "wall_s": wall, "acked_wall_s": acked_wall,
            "cpu_s": time.process_time() - cpu0, "max_lag_s": max(lags, default=0.0)}


def baseline(pub: Publisher, payloads: list[tuple[str, str]], count: int) -> float:
    before = pub.acked
    t = time.monotonic()
    for i in range(count):
        topic, payload = payloads[i % len(payloads)]
        pub.publish(topic, payload)
    pub.wait(before + count, 120)
    return count / (time.monotonic() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--devices", type=int)
    ap.add_argument("--seconds", type=float)
    args = ap.parse_args()
    devices = args.devices or (2_000 if args.quick else 10_000)
    seconds = args.seconds or (25.0 if args.quick else 65.0)
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[0]})
    required = devices * SPEED / 3600
    print(f"{devices} LoRaWAN devices (KARAT-Compact-2) at x{SPEED:.0f}: an hourly uplink each every "
          f"{3600 / SPEED:.0f} s of wall time = {required:.0f} uplinks/s, every one published with QoS 1 to a "
          f"nats-server MQTT listener; this process pinned to CPU {cpus[0]}, for {seconds:.0f} s")
    tmp = Path(tempfile.mkdtemp(prefix="bench-sim-fleet-"))
    settings = natsserver.NatsSettings(port=_free_port(), mqtt_port=_free_port())
    proc = natsserver.start(settings, tmp / "nats", tmp / "nats.log", new_session=False, auth=False)
    if len(cpus) > 1:
        os.sched_setaffinity(proc.pid, set(cpus[1:]))
    try:
        natsserver.wait_for_port("127.0.0.1", settings.mqtt_port, proc)
        rss0 = _rss_mb()
        t = time.perf_counter()
        fleet = buildings(devices, tmp / "sim")
        setup_s = time.perf_counter() - t
        rss_devices = _rss_mb()
        pub = Publisher(settings.mqtt_port, "bench-sim")
        fig = run_fleet(fleet, pub, seconds)
        rss_run = _rss_mb()
        rate = fig["acked"] / fig["acked_wall_s"]
        sample = [(fleet[0].lora_devices[i].topic, fleet[0].lora_devices[i].up_event(0, fleet[0].world.hour_start(1)))
                  for i in range(min(100, devices))]
        base_rate = baseline(pub, sample, min(fig["sent"], 20_000) or 1000)
        pub.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    cpu_share = fig["cpu_s"] / fig["wall_s"]
    cpu_us = fig["cpu_s"] / max(fig["sent"], 1) * 1e6
    capacity = int(3600 / SPEED / (cpu_us * 1e-6)) if fig["sent"] else 0  # devices one core could drive
    keeps_up = fig["acked"] == fig["sent"] and fig["max_lag_s"] < 3600 / SPEED
    print(f"built {len(fleet)} buildings in {setup_s:.1f} s; published {fig['sent']} uplinks, broker acknowledged "
          f"{fig['acked']} in {fig['acked_wall_s']:.1f} s = {rate:.0f}/s (required {required:.0f}/s); "
          f"CPU {cpu_share:.0%} of the one core; worst lag after an hour closed {fig['max_lag_s']:.2f} s "
          f"(must stay under {3600 / SPEED:.0f} s); RSS {rss0:.0f} MB empty, {rss_devices:.0f} MB with the "
          f"devices, {rss_run:.0f} MB after the run")
    print(f"{cpu_us:.0f} us of CPU per uplink (simulation, JSON, MQTT client): one core could drive about "
          f"{capacity} devices at x{SPEED:.0f}")
    print(f"baseline: the same client publishing ready-made uplink JSON, no simulation: {base_rate:.0f}/s")
    print(json.dumps({
        "bench": "sim_fleet", "devices": devices, "speed": SPEED, "seconds": round(fig["wall_s"], 1),
        "required_uplinks_per_s": round(required, 1), "uplinks_sent": fig["sent"], "uplinks_acked": fig["acked"],
        "uplinks_per_s": round(rate, 1), "cpu_share_of_one_core": round(cpu_share, 3),
        "max_lag_s": round(fig["max_lag_s"], 3), "keeps_up": keeps_up, "cpu_us_per_uplink": round(cpu_us, 1),
        "capacity_devices_one_core": capacity,
        "rss_mb": round(rss_run, 1), "rss_mb_per_1000_devices": round((rss_run - rss0) / devices * 1000, 2),
        "baseline_publish_only_per_s": round(base_rate, 1),
        "ratio_cpu_headroom": round(1 / cpu_share, 2) if cpu_share else None,
        "ratio_to_baseline": round(rate / base_rate, 3),
    }))


if __name__ == "__main__":
    main()
