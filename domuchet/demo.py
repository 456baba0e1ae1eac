"""`domuchet demo`: the whole stack on one machine, on loopback, from one command.

nats-server, the simulated building and the edge agent run as child processes (logs under
<data-dir>/logs/); the cloud (ingest, services, API, UI) runs in this process. The building
plan of the scenario is what the simulator runs, what the edge is configured with and what
the registry is seeded with. Ctrl-C stops the simulator, then the edge, then the cloud and
NATS, each cleanly; started again, everything continues from the stored state.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from cloud.seed import DEMO_USERS, BuildingSeed, PremiseSeed, seed_building, seed_company
from cloud.services.container import Services
from cloud.storage.registry import Registry
from domuchet import natsserver, settings
from domuchet.cli import _cloud_config, _logging
from simulators.runner import SimState
from simulators.scenario import BuildingPlan, Scenario, load, plan

log = logging.getLogger(__name__)
CITY = "Казань"
COMPANY = "УК «Демо-Дом»"


def edge_toml(scenario: Scenario, building: BuildingPlan, commissioned: str, nats_url: str, sim: settings.SimSettings,
              data_dir: Path) -> str:
    """The edge agent's config for the simulated building."""
    b = scenario.building
    lines = ["[edge]", f'site = "{b.site}"', f'time_zone = "{b.time_zone}"', f'data_dir = "{data_dir}"',
             f'nats_url = "{nats_url}"', f'mqtt_host = "{sim.mqtt_host}"', f"mqtt_port = {sim.mqtt_port}",
             "poll_interval_s = 0.5",
             # the simulated clock runs faster than the wall clock, so the devices' clocks run ahead
             # of the edge's: not judged until the demo replays the past and keeps to real time
             "max_clock_drift_s = 0", "",
             "[[edge.meters]]", f'serial = "{b.heat_meter_serial}"', 'model = "KARAT-307"',
             'transport = "modbus-tcp"', f'commissioned = "{commissioned}"', f'host = "{sim.host}"',
             f"port = {sim.modbus_port}", f"unit = {b.heat_meter_unit}", ""]
    for a in building.apartments:
        lines += ["[[edge.meters]]", f'serial = "{a.meter_serial}"', 'model = "KARAT-Compact-2-223"',
                  'transport = "lorawan"', f'commissioned = "{commissioned}"', f'dev_eui = "{a.dev_eui}"', ""]
    return "\n".join(lines)


def building_seed(scenario: Scenario, building: BuildingPlan, sim: settings.SimSettings) -> BuildingSeed:
    b = scenario.building
    return BuildingSeed(
        site=b.site, address=b.address, city=CITY, time_zone=b.time_zone, heat_meter_serial=b.heat_meter_serial,
        heat_meter_model="KARAT-307",
        heat_meter_communicator=f"Modbus TCP {sim.host}:{sim.modbus_port} #{b.heat_meter_unit}",
        premises=tuple(PremiseSeed(a.number, a.area_m2, a.residents, a.meter_serial, "KARAT-Compact-2-223",
                                   f"LoRaWAN {a.dev_eui}") for a in building.apartments))


class Children:
    """The demo's child processes, stopped in a safe order."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], stdout: Path, stderr: Path) -> None:
        with open(stdout, "ab") as out, open(stderr, "ab") as err:
            proc = subprocess.Popen(argv, stdout=out, stderr=err, start_new_session=True)  # noqa: S603
        self.procs.append((name, proc))

    def add(self, name: str, proc: subprocess.Popen) -> None:
        self.procs.append((name, proc))

    def stop(self, names: tuple[str, ...]) -> None:
        for name, proc in self.procs:
            if name in names and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    log.warning("event=child_killed name=%s", name)
                    proc.kill()
                    proc.wait()


def run_demo(args, doc: dict, data_dir: Path) -> int:
    data_dir = data_dir.resolve()
    logs = data_dir / "logs"
    _logging(logs / "cloud.log")
    nats_cfg = settings.nats(doc, args.config, port=args.nats_port, mqtt_port=args.mqtt_port)
    sim_cfg = settings.section(doc, "sim", settings.SimSettings, args.config, scenario=args.scenario,
                               speed=args.speed, modbus_port=args.modbus_port, mqtt_port=nats_cfg.mqtt_port)
    scenario = load(sim_cfg.scenario)
    if sim_cfg.speed:
        scenario = replace(scenario, speed=sim_cfg.speed)
    building = plan(scenario)
    state = SimState.load_or_create(data_dir / "sim" / "state.json", scenario)
    edge_cfg = data_dir / "edge.toml"
    edge_cfg.write_text(edge_toml(scenario, building, state.commissioning.isoformat(), nats_cfg.url, sim_cfg,
                                  data_dir / "edge"))
    cloud_cfg = _cloud_config(args, doc, data_dir, port=args.port, nats_url=nats_cfg.url)

    children = Children()
    print(f"ДомУчёт demo: starting NATS on {nats_cfg.url} (MQTT {nats_cfg.mqtt_port}) ...", flush=True)
    children.add("nats", natsserver.start(nats_cfg, data_dir / "nats", logs / "nats.log"))
    started_at = time.monotonic()

    def prepare(registry: Registry) -> None:
        company_id = seed_company(registry, COMPANY, CITY, DEMO_USERS)
        seed_building(registry, company_id, building_seed(scenario, building, sim_cfg))

    def on_started(_services: Services) -> None:
        py = sys.executable
        common = ["--data-dir", str(data_dir)]
        sim_args = [py, "-m", "domuchet", "sim", *common, "--scenario", sim_cfg.scenario, "--speed",
                    str(scenario.speed), "--modbus-port", str(sim_cfg.modbus_port), "--mqtt-port",
                    str(nats_cfg.mqtt_port)]
        if args.config:
            sim_args += ["--config", str(args.config)]
        children.start("sim", sim_args, logs / "sim-devices.jsonl", logs / "sim.log")
        children.start("edge", [py, "-m", "domuchet", "edge", "--config", str(edge_cfg), *common],
                       logs / "edge.out", logs / "edge.log")
        url = f"http://{cloud_cfg.host}:{cloud_cfg.port}"
        print(f"ДомУчёт demo is up: open {url}", flush=True)
        print("  logins: " + ", ".join(f"{u.login} / {u.password}" for u in DEMO_USERS), flush=True)
        print(f"  simulated building: {scenario.building.address}, {len(building.apartments)} apartments, "
              f"speed x{scenario.speed:g}; data and logs in {data_dir}; Ctrl-C stops", flush=True)

    async def progress(services: Services, stop: asyncio.Event) -> None:
        demo_user = DEMO_USERS[0]
        session = await services.auth.login(demo_user.login, demo_user.password)
        first_seen = (await services.accounting.data_status(session.token)).archive_values > 0
        while not stop.is_set():
            status = await services.accounting.data_status(session.token)
            if status.archive_values and not first_seen:
                first_seen = True
                print(f"  first data stored {time.monotonic() - started_at:.1f} s after start", flush=True)
            newest = status.latest_period.strftime("%d.%m.%Y %H:%M") if status.latest_period else "—"
            print(f"  [{time.strftime('%H:%M:%S')}] archive values in ClickHouse: {status.archive_values}, "
                  f"newest period: {newest}", flush=True)
            try:
                await asyncio.wait_for(stop.wait(), 5.0)
            except TimeoutError:
                pass

    def on_stopped() -> None:
        print("ДомУчёт demo: stopping the simulator and the edge ...", flush=True)
        children.stop(("sim",))
        children.stop(("edge",))
        children.stop(("nats",))
        print(f"ДомУчёт demo stopped; state kept in {data_dir}", flush=True)

    from domuchet.cloud_process import run_cloud
    try:
        run_cloud(cloud_cfg, prepare=prepare, on_started=on_started, background=[progress], on_stopped=on_stopped)
    finally:
        children.stop(("sim", "edge", "nats"))
    return 0


def device_lines(data_dir: Path) -> list[dict]:
    """The simulator's device lines of the last demo run (for QA tools)."""
    path = data_dir / "logs" / "sim-devices.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
