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
import os
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from zoneinfo import ZoneInfo

from cloud.seed import (
    DEMO_RESIDENT,
    DEMO_USERS,
    BuildingSeed,
    DeviceSeed,
    PremiseSeed,
    seed_building,
    seed_company,
    seed_demo_residents,
    seed_demo_settings,
)
from cloud.services.container import Services
from cloud.services.meters_admin import archives_text
from cloud.storage.registry import Registry
from domuchet import demo_billing, natsserver, settings
from domuchet.cli import _cloud_config, _logging
from protocol import catalogue
from protocol.periods import utc_to_local, zone
from protocol.settings import ConfigError
from simulators.fleet import state_dir
from simulators.runner import SimState
from simulators.scenario import ApartmentPlan, BuildingPlan, Scenario, load_fleet, plan

log = logging.getLogger(__name__)
CITY = "Казань"
COMPANY = "УК «Демо-Дом»"
# the progress line counts at most this many days of hours, and of days (data arrival's 2000 periods)
HOURS_SHOWN_DAYS, DAYS_SHOWN = 80, 1900
DEMO_HISTORY_DAYS = 62  # two months: the previous month is whole on any day of the year (its first day <= 61 days back)
DEMO_SPEED = 86_400.0  # after a stop the simulator catches up with the wall clock a day per second
DEMO_WAKEUP_S = 0.5  # a radio device with downlinks queued uplinks within half a second (lora_wakeup_s)
EDGE_START_S = 20.0  # how long the simulator waits for the edge's MQTT subscription


# what the edge reads of each model, as the simulated devices keep them (protocol/catalogue.py): the
# KARAT-307 hourly and daily archives, the Compact-2 also monthly ones
HEAT_METER_KINDS = ("hour", "day")
APARTMENT_KINDS = ("hour", "day", "month")
REPORTING_DAY = 1  # monthly archives are read once the first day of the next month has begun


def _kinds(kinds: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{k}"' for k in kinds) + "]"


@dataclass(frozen=True)
class DemoBuilding:
    """One simulated building of the demo: its scenario, plan, simulator state and Modbus TCP port."""

    scenario: Scenario
    plan: BuildingPlan
    state: SimState
    modbus_port: int

    @property
    def commissioned(self) -> str:
        return self.state.commissioning.isoformat()


def edge_toml(site: str, buildings: list[DemoBuilding], nats_url: str, sim: settings.SimSettings, data_dir: Path,
              credentials: natsserver.Credentials | None = None) -> str:
    """The edge agent's config for the simulated buildings (one edge site: a building's gateway, or
    for a fleet a district's, hearing every radio device on one network server), with its site's
    NATS user and the MQTT feed's user when ``credentials`` are given. Its clock checks stay on
    (the default ``max_clock_drift_s``): the simulator's clock never runs ahead of the wall clock."""
    first = buildings[0].scenario
    # a downlink's answers come after the device's next uplink; the demo's devices wake within a
    # second when one waits (lora_wakeup_s), so a request unanswered for a minute is asked again
    timeout = 60.0 if first.lora_wakeup_s else 7200.0
    lines = ["[edge]", f'site = "{site}"', f'time_zone = "{first.building.time_zone}"', f'data_dir = "{data_dir}"',
             f'nats_url = "{nats_url}"', f'mqtt_host = "{sim.mqtt_host}"', f"mqtt_port = {sim.mqtt_port}",
             "poll_interval_s = 0.5", f"downlink_timeout_s = {timeout:g}"]
    if credentials is not None:
        user, password = credentials.site_user(site)
        lines += [f'nats_user = "{user}"', f'nats_password = "{password}"', f'mqtt_user = "{natsserver.LORA_USER}"',
                  f'mqtt_password = "{credentials.lora}"']
    lines.append("")
    for d in buildings:
        lines += _meters_toml(d, sim)
    return "\n".join(lines)


def _meters_toml(demo: DemoBuilding, sim: settings.SimSettings) -> list[str]:
    scenario, building, commissioned = demo.scenario, demo.plan, demo.commissioned
    b = scenario.building
    lines = ["[[edge.meters]]", f'serial = "{b.heat_meter_serial}"', 'model = "KARAT-307"',
             'transport = "modbus-tcp"', f'commissioned = "{commissioned}"', f'host = "{sim.host}"',
             f"port = {demo.modbus_port}", f"unit = {b.heat_meter_unit}", f"archive_kinds = {_kinds(HEAT_METER_KINDS)}",
             f"reporting_day = {REPORTING_DAY}", ""]
    for d in building.radio_devices:
        lines += ["[[edge.meters]]", f'serial = "{d.serial}"', f'model = "{d.model}"', 'transport = "lorawan"',
                  f'commissioned = "{commissioned}"', f'dev_eui = "{d.dev_eui}"',
                  f"archive_kinds = {_kinds(_device_kinds(d.model))}", f"reporting_day = {REPORTING_DAY}", ""]
    for a in registered(scenario, building):
        lines += ["[[edge.meters]]", f'serial = "{a.meter_serial}"', f'model = "{b.compact2_model}"',
                  'transport = "lorawan"', f'commissioned = "{commissioned}"', f'dev_eui = "{a.dev_eui}"',
                  f"archive_kinds = {_kinds(APARTMENT_KINDS)}", f"reporting_day = {REPORTING_DAY}", ""]
    return lines


def _device_kinds(model: str) -> tuple[str, ...]:
    """The archive kinds a radio device keeps (protocol/catalogue.py), all of which the edge reads."""
    kept = {a.kind.value for a in catalogue.model(model).archives}
    return tuple(kind for kind in ("hour", "day", "month") if kind in kept)


def registered(scenario: Scenario, building: BuildingPlan) -> tuple[ApartmentPlan, ...]:
    """The apartments whose meters the demo registers; the last ``unregistered_meters`` are for an
    engineer to commission."""
    spare = scenario.building.unregistered_meters
    return building.apartments[:len(building.apartments) - spare]


def building_seed(scenario: Scenario, building: BuildingPlan, sim: settings.SimSettings,
                  commissioned: str | None = None, site: str | None = None,
                  modbus_port: int | None = None) -> BuildingSeed:
    """The registry's view of the simulated building: the same meters, commissioning time (the start
    of their service period), archive kinds and reporting day as the devices and the edge have.
    ``site``: the edge site, when it is not the building's own (a fleet's district gateway)."""
    b = scenario.building
    return BuildingSeed(
        site=site or b.site, account_prefix=b.site, address=b.address, city=CITY, time_zone=b.time_zone,
        heat_meter_serial=b.heat_meter_serial, heat_meter_model="KARAT-307",
        heat_meter_communicator=f"Modbus TCP {sim.host}:{modbus_port or sim.modbus_port} #{b.heat_meter_unit}",
        premises=tuple(PremiseSeed(a.number, a.area_m2, a.residents, a.meter_serial, b.compact2_model,
                                   f"LoRaWAN {a.dev_eui}", ", ".join((*APARTMENT_KINDS, "integral")))
                       if a in registered(scenario, building) else PremiseSeed(a.number, a.area_m2, a.residents,
                                                                               "", "", "")
                       for a in building.apartments),
        heat_meter_archives=", ".join((*HEAT_METER_KINDS, "integral")),
        commissioned_at=commissioned, reporting_day=REPORTING_DAY,
        devices=tuple(DeviceSeed(d.apartment, d.serial, d.model, f"LoRaWAN {d.dev_eui}",
                                 archives_text(catalogue.model(d.model), _device_kinds(d.model)),
                                 tariffs=d.tariffs if d.model == catalogue.ELECTRICITY_941 else None,
                                 phase=d.phase or None, ct_ratio=float(d.multiplier))
                      for d in building.radio_devices))


def wait_for_line(path: Path, offset: int, text: str, timeout_s: float) -> bool:
    """Whether ``text`` appeared in the log ``path`` after byte ``offset`` within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            with path.open("rb") as f:
                f.seek(offset)
                if text.encode() in f.read():
                    return True
        time.sleep(0.1)
    return False


class Children:
    """The demo's child processes, stopped in a safe order."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], stdout: Path, stderr: Path, env: dict[str, str] | None = None) -> None:
        """Start a child; ``env`` is added to this process's environment (credentials stay off its command line)."""
        with open(stdout, "ab") as out, open(stderr, "ab") as err:
            proc = subprocess.Popen(argv, stdout=out, stderr=err, start_new_session=True,  # noqa: S603
                                    env={**os.environ, **(env or {})})
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


def demo_buildings(sim_cfg: settings.SimSettings, data_dir: Path, speed: float,
                   history_days: int | None) -> tuple[str, list[DemoBuilding], bool]:
    """The scenario's buildings (one, or a fleet's), each with the simulator state the demo and the
    simulator share, created on a fresh data directory: the edge site, the buildings, and whether
    the state was there already. Whatever the scenario file says for `domuchet sim`, the demo's
    buildings start with their history in the devices' archives and catch up after a stop
    ``speed`` times faster than the wall clock (docs/demo.md)."""
    fleet = load_fleet(sim_cfg.scenario)
    single = len(fleet.scenarios) == 1
    site = fleet.scenarios[0].building.site if single else fleet.name
    _same_site(data_dir, site, sim_cfg.scenario)
    out, resumed = [], []
    for k, scenario in enumerate(fleet.scenarios):
        scenario = replace(scenario, speed=speed, past="archives",
                           history_days=DEMO_HISTORY_DAYS if history_days is None else history_days,
                           lora_wakeup_s=scenario.lora_wakeup_s or DEMO_WAKEUP_S)
        path = state_dir(fleet, scenario, data_dir / "sim") / "state.json"  # where `domuchet sim` keeps it
        resumed.append(path.exists())
        out.append(DemoBuilding(scenario, plan(scenario), SimState.load_or_create(path, scenario),
                                sim_cfg.modbus_port + k))
    return site, out, all(resumed)


def _same_site(data_dir: Path, site: str, scenario: str) -> None:
    """Refuse a scenario of another edge site on a data directory that holds a demo: its buffer,
    registry and simulator state belong to the site that made them."""
    path = data_dir / "edge.toml"
    if not path.exists():
        return
    try:
        made = tomllib.loads(path.read_text(encoding="utf-8")).get("edge", {}).get("site")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(path), "(file)", f"cannot read the demo's edge config: {exc}") from exc
    if made is not None and made != site:
        raise ConfigError(str(data_dir), "--scenario", f"this data directory holds the demo of edge site {made!r}; "
                                                       f"scenario {scenario!r} is edge site {site!r}: give it "
                                                       "another --data-dir")


def run_demo(args, doc: dict, data_dir: Path) -> int:
    data_dir = data_dir.resolve()
    logs = data_dir / "logs"
    _logging(logs / "cloud.log")
    nats_cfg = settings.nats(doc, args.config, port=args.nats_port, mqtt_port=args.mqtt_port)
    sim_cfg = settings.section(doc, "sim", settings.SimSettings, args.config, scenario=args.scenario,
                               speed=args.speed, modbus_port=args.modbus_port, mqtt_port=nats_cfg.mqtt_port,
                               weather_port=args.weather_port)
    site, buildings, resumed = demo_buildings(sim_cfg, data_dir, sim_cfg.speed or DEMO_SPEED, args.history_days)
    first = buildings[0]
    scenario, state, tz = first.scenario, first.state, zone(first.scenario.building.time_zone)
    if resumed and args.history_days is not None:
        print(f"  --history-days applies to a fresh data directory; {data_dir} continues the building "
              f"commissioned {state.commissioning:%d.%m.%Y %H:%M} UTC", flush=True)
    # NATS with accounts: the cloud's user, the edge site's user, the LoRaWAN feed's MQTT user
    nats_cfg = replace(nats_cfg, sites=sorted({*nats_cfg.sites, site}))
    credentials = natsserver.ensure_credentials(data_dir / "nats", nats_cfg.sites)
    edge_cfg = data_dir / "edge.toml"
    edge_cfg.write_text(edge_toml(site, buildings, nats_cfg.url, sim_cfg, data_dir / "edge", credentials))
    edge_cfg.chmod(0o600)  # it holds the site's password
    cloud_cfg = _cloud_config(args, doc, data_dir, port=args.port,
                              weather_url=f"http://{sim_cfg.host}:{sim_cfg.weather_port}" if sim_cfg.weather_port
                              else None,
                              nats_url=natsserver.with_user(nats_cfg.url, natsserver.CLOUD_USER, credentials.cloud))

    children = Children()
    print(f"ДомУчёт demo: starting NATS on {nats_cfg.url} (MQTT {nats_cfg.mqtt_port}) ...", flush=True)
    children.add("nats", natsserver.start(nats_cfg, data_dir / "nats", logs / "nats.log"))
    started_at = time.monotonic()

    building_ids: list[int] = []
    resident_code: list[str] = []  # apartment 2's fresh activation code, printed for trying the residents' app

    def prepare(registry: Registry) -> None:
        company_id = seed_company(registry, COMPANY, CITY, DEMO_USERS)
        today = datetime.now(tz).date()
        for d in buildings:
            building_ids.append(seed_building(registry, company_id, building_seed(
                d.scenario, d.plan, sim_cfg, d.commissioned, site=site, modbus_port=d.modbus_port)))
            seed_demo_settings(registry, building_ids[-1], today)
        resident_code.append(seed_demo_residents(registry, building_ids[0], today))

    def on_started(_services: Services) -> None:
        py = sys.executable
        common = ["--data-dir", str(data_dir)]
        sim_args = [py, "-m", "domuchet", "sim", *common, "--scenario", sim_cfg.scenario, "--speed",
                    str(scenario.speed), "--lora-wakeup-s", str(scenario.lora_wakeup_s),
                    "--modbus-port", str(sim_cfg.modbus_port), "--mqtt-port",
                    str(nats_cfg.mqtt_port), "--weather-port", str(sim_cfg.weather_port)]
        if args.config:
            sim_args += ["--config", str(args.config)]
        # the edge first: the network server forwards an uplink only to a subscription that exists, so
        # the devices' first uplinks (the edge learns their clocks from them) wait for the edge's
        edge_log = logs / "edge.log"
        seen = edge_log.stat().st_size if edge_log.exists() else 0
        children.start("edge", [py, "-m", "domuchet", "edge", "--config", str(edge_cfg), *common],
                       logs / "edge.out", edge_log)
        if not wait_for_line(edge_log, seen, "event=mqtt_connected", EDGE_START_S):
            log.warning("event=edge_not_subscribed wait_s=%s log=%s", EDGE_START_S, edge_log)
        children.start("sim", sim_args, logs / "sim-devices.jsonl", logs / "sim.log",
                       env={"DOMUCHET_SIM_MQTT_USER": natsserver.LORA_USER,
                            "DOMUCHET_SIM_MQTT_PASSWORD": credentials.lora})
        url = f"http://{cloud_cfg.host}:{cloud_cfg.port}"
        print(f"ДомУчёт demo is up: open {url}", flush=True)
        print("  logins: " + ", ".join(f"{u.login} / {u.password}" for u in DEMO_USERS), flush=True)
        print(f"  residents' app: {url}/kv — {DEMO_RESIDENT[0]} / {DEMO_RESIDENT[2]} (apartment 1)", flush=True)
        if resident_code and resident_code[0]:
            print(f"  an activation code for apartment 2 (valid a week): {resident_code[0]} — "
                  f"{url}/kv/register?code={resident_code[0]}", flush=True)
        where = (f"simulated building: {scenario.building.address}, {len(first.plan.apartments)} apartments"
                 if len(buildings) == 1 else
                 f"simulated buildings: {len(buildings)} ({scenario.building.address} and the others; one edge "
                 f"site {site!r}), {sum(len(d.plan.apartments) for d in buildings)} apartments")
        print(f"  {where}, commissioned {utc_to_local(state.commissioning, tz):%d.%m.%Y %H:%M}"
              f"; data and logs in {data_dir}; Ctrl-C stops", flush=True)
        for a in first.plan.apartments[len(registered(scenario, first.plan)):]:
            print(f"  a meter to commission: {scenario.building.address}, apartment {a.number}, "
                  f"{scenario.building.compact2_model} serial {a.meter_serial}, DevEUI {a.dev_eui} "
                  "(Сервис → Приборы → Добавить ПУ)", flush=True)
        if resumed:
            print(f"  continuing from the stored state: the time since {state.sim_now:%d.%m.%Y %H:%M} UTC is "
                  f"filled in (the simulator catches up at x{scenario.speed:g}, the edge backfills)", flush=True)

    billing_url = f"http://{sim_cfg.host}:{args.billing_port}"

    async def billing_centre(services: Services, stop: asyncio.Event) -> None:
        while not building_ids and not stop.is_set():
            await asyncio.sleep(0.1)
        if building_ids:
            await demo_billing.serve(services.billing.registry, building_ids[0], sim_cfg.host, args.billing_port, stop)

    async def progress(services: Services, stop: asyncio.Event) -> None:
        demo_user = DEMO_USERS[0]
        session = await services.auth.login(demo_user.login, demo_user.password)
        complete = False
        while not stop.is_set():
            if building_ids:
                line, done = await history_line(services, session.token, building_ids, state.commissioning,
                                                scenario.building.time_zone)
                if done and not complete:
                    line += f"; history complete {time.monotonic() - started_at:.1f} s after start"
                    today = datetime.now(tz).date()
                    if await asyncio.to_thread(demo_billing.register_centre, services.billing.registry,
                                               building_ids[0], billing_url, today):
                        line += (f"; billing centre «{demo_billing.CENTRE_NAME}» at {billing_url} registered: "
                                 "its export runs within a minute (Биллинг → Протоколы выгрузки)")
                complete = complete or done
                print(f"  [{time.strftime('%H:%M:%S')}] {line}", flush=True)
            try:
                await asyncio.wait_for(stop.wait(), 2.0 if not complete else 30.0)
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
        run_cloud(cloud_cfg, prepare=prepare, on_started=on_started, background=[progress, billing_centre],
                  on_stopped=on_stopped)
    finally:
        children.stop(("sim", "edge", "nats"))
    return 0


def first_whole_day(commissioning: datetime, tz: ZoneInfo) -> date:
    """The first local day that begins at or after commissioning: the first day with a daily archive."""
    local = utc_to_local(commissioning, tz)
    return local.date() if local.time() == dt_time(0) else local.date() + timedelta(days=1)


async def history_line(services: Services, token: str, building_ids: list[int], commissioning: datetime,
                       time_zone: str) -> tuple[str, bool]:
    """How far the history is: per archive kind, the periods due since commissioning that ClickHouse
    has (data arrival, manual 4.2.3) and those the edge reported lost (older than the devices keep),
    over the buildings; complete when every due period is one or the other."""
    tz = zone(time_zone)
    today = datetime.now(UTC).astimezone(tz).date()
    first = max(utc_to_local(commissioning, tz).date(), today - timedelta(days=HOURS_SHOWN_DAYS))
    parts, done = [], True
    # the edge reads days from the first whole one (edge/gaps.py first_period): not the commissioning day
    days_since = max(first_whole_day(commissioning, tz), today - timedelta(days=DAYS_SHOWN))
    for kind, since in (("hour", first), ("day", days_since)):
        received = lost = due = 0
        for building_id in building_ids:
            report = await services.arrival.report(token, building_id, kind, since, today)
            received, due = received + report.received, due + report.due
            lost += sum(m.lost for m in report.meters)
            done = done and report.due > 0
        pct = 100.0 * (received + lost) / due if due else 100.0
        parts.append(f"{kind}s {received}/{due} stored" + (f", {lost} lost" if lost else "") + f" ({pct:.0f} %)")
        done = done and received + lost == due
    return f"history since {first:%d.%m.%Y}: " + "; ".join(parts), done


def device_lines(data_dir: Path) -> list[dict]:
    """The simulator's device lines of the last demo run (for QA tools)."""
    path = data_dir / "logs" / "sim-devices.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
