"""The screens of «Учёт» and «Мониторинг» on a city's worth of buildings, through the real API.

Builds a city (full size: 1,000 buildings x 100 apartments, one year of hourly archives: a
building heat meter with Q, T1 and T2 and an apartment heat meter per apartment, 885 million
archive values) in chDB and the registry, with the settings the screens read: a balance group,
a deviation rule and the heating season per building, a weather station with a year of hourly
outdoor temperatures, LoRa end devices with ten days of uplinks, and device events. Then it
calls every operation of issue 13 for one building and one month through the /api/v1 routes
(in process, over ASGI: the service layer, the API's validation and serialisation, not the
network) and prints p50/p95 per operation (target p95 < 300 ms; the city-wide
`specific_consumption` < 1 s), and, with --browser, the time to first contentful paint of
each page in headless Chromium (target < 1.5 s) served by a real `domuchet cloud` process on
the same data.

Run: python -m bench.dashboards [--quick] [--buildings N] [--apartments N] [--days N]
[--repeat N] [--browser]. Prints what it does, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from cloud.api import install_error_handlers, router
from cloud.seed import UserSeed, seed_company
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry

TARGET_MS = 300.0
TARGET_CITY_MS = 1000.0
TARGET_PAINT_MS = 1500.0
TZ = "Europe/Moscow"
CITY = "Казань"
LAT, LON = 55.79, 49.12
FIRST_DAY = date(2025, 12, 1)  # a year of archives up to FIRST_DAY + days
LOGIN, PASSWORD = "bench", "bench-pass"
OPERATIONS = ("specific_consumption", "building_consumption", "building_meters", "premises_consumption",
              "consumption_register", "premise_consumption", "meter_archive", "balance_group_consumption",
              "deviations", "events", "data_arrival", "lora_devices", "lora_packets",
              "temperature_schedule_control")
CITY_WIDE = ("specific_consumption",)
# optional parameters the bench sets (the others keep their defaults: the city is the user's own)
OPTIONAL_FILLED = {"granularity", "kind", "period", "from", "to", "direction", "limit", "offset", "building_id",
                   "meter_id", "channel", "resource"}


def building_meter(b: int) -> str:
    return f"B{b:04d}"


def apartment_meter(b: int, a: int) -> str:
    return f"A{b:04d}{a:03d}"


def dev_eui(b: int, a: int) -> str:
    return f"70b3d5{b:05d}{a:05d}"  # lower case, as the edge and the registry store them


@dataclass(frozen=True)
class City:
    company: int
    buildings: list[int]  # registry ids, building b at index b
    premise: int  # a premise of the measured building
    meter: int  # its apartment meter
    group: int | None  # the measured building's balance group
    heat_meter: int  # the measured building's heat meter (registry id)


def register(registry: Registry, buildings: int, apartments: int) -> City:
    """The city in the registry: buildings, premises, meters, LoRa end devices and the settings."""
    company = seed_company(registry, "УК Город", CITY, (UserSeed(LOGIN, "Бенч Диспетчер", "dispatcher", PASSWORD),))
    now = datetime.now(UTC).isoformat()
    ids: list[int] = []
    with registry.connect() as db:
        city_id = db.execute("SELECT id FROM cities WHERE name = ?", (CITY,)).fetchone()[0]
        db.execute("INSERT OR IGNORE INTO weather_stations (code, name, latitude, longitude) VALUES "
                   "('bench-station', 'Казань, метеостанция', ?, ?)", (LAT, LON))
        for b in range(buildings):
            building = int(db.execute(
                "INSERT INTO buildings (company_id, site, address, city, city_id, time_zone, area_m2, residents, "
                "latitude, longitude) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (company, f"site{b // 50}", f"ул. Бенч, {b + 1}", CITY, city_id, TZ, 55.0 * apartments,
                 2 * apartments, LAT + b * 1e-4, LON)).lastrowid or 0)
            ids.append(building)
            meter = db.execute(
                "INSERT INTO meters (company_id, building_id, serial, model, role, communicator, archives, "
                "commissioned_at) VALUES (?, ?, ?, 'KARAT-307', 'common', 'Modbus TCP', 'hour, integral', ?)",
                (company, building, building_meter(b), f"{FIRST_DAY.isoformat()}T00:00:00+03:00")).lastrowid
            db.execute("INSERT INTO meter_channels (meter_id, number, resource, parameters) "
                       "VALUES (?, 1, 'heat', 'Q,T1,T2')", (meter,))
            db.execute("INSERT INTO heating_seasons (building_id, season, starts_on, set_at) "
                       "VALUES (?, 'heating', ?, ?)", (building, (FIRST_DAY - timedelta(days=60)).isoformat(), now))
            db.execute("INSERT INTO deviation_rules (building_id, resource, parameter, enabled, rule, tolerance, "
                       "tolerance_unit, updated_at) VALUES (?, 'heat', 'T1', 1, 'mean3d', 10, 'percent', ?)",
                       (building, now))
            children = []
            for a in range(apartments):
                premise = db.execute("INSERT INTO premises (building_id, number, kind, area_m2, residents) "
                                     "VALUES (?, ?, 'apartment', 55, 2)", (building, str(a + 1))).lastrowid
                communicator = db.execute(
                    "INSERT INTO communicators (company_id, kind, placement, serial, dev_eui, lora_class, "
                    "lorawan_version) VALUES (?, 'lora', 'builtin', ?, ?, 'A', '1.0.3')",
                    (company, apartment_meter(b, a), dev_eui(b, a))
                ).lastrowid
                child = db.execute(
                    "INSERT INTO meters (company_id, building_id, premise_id, serial, model, role, communicator, "
                    "communicator_id, archives, commissioned_at) VALUES (?, ?, ?, ?, 'KARAT-Compact-2-223', "
                    "'individual', ?, ?, 'hour, integral', ?)",
                    (company, building, premise, apartment_meter(b, a), f"LoRaWAN {dev_eui(b, a)}", communicator,
                     f"{FIRST_DAY.isoformat()}T00:00:00+03:00")).lastrowid
                db.execute("INSERT INTO meter_channels (meter_id, number, resource, parameters) "
                           "VALUES (?, 1, 'heat', 'Q')", (child,))
                children.append(child)
            group = db.execute("INSERT INTO balance_groups (building_id, name, resource, root_meter_id, created_at) "
                               "VALUES (?, 'Весь дом', 'heat', ?, ?)", (building, meter, now)).lastrowid
            db.executemany("INSERT INTO balance_group_members (group_id, meter_id, sign) VALUES (?, ?, '+')",
                           [(group, c) for c in children])
        first = ids[0]
        premise = db.execute("SELECT min(id) FROM premises WHERE building_id = ?", (first,)).fetchone()[0]
        meter = db.execute("SELECT id FROM meters WHERE premise_id = ?", (premise,)).fetchone()[0]
        heat = db.execute("SELECT id FROM meters WHERE building_id = ? AND role = 'common'", (first,)).fetchone()[0]
        group = db.execute("SELECT id FROM balance_groups WHERE building_id = ?", (first,)).fetchone()[0]
    return City(company, ids, premise, meter, group, heat)


def fill(ch: ClickHouse, company: int, buildings: int, apartments: int, days: int) -> float:
    """Store the archives, outdoor temperatures, radio packets and events with INSERT ... SELECT
    inside ClickHouse, a slice of buildings at a time; returns the seconds taken.

    Counters grow by 0.9 Gcal/h (a building meter) or 0.008 Gcal/h (an apartment) plus hashed
    noise below 0.001, so they stay monotonic; T1/T2 follow a 95/70 schedule with noise.
    """
    hours = days * 24
    start = f"toDateTime('{FIRST_DAY.isoformat()} 00:00:00', 'UTC') - 3 * 3600"
    t = time.perf_counter()
    db = ch.database
    # building meters: Q, T1 and T2 per hour
    ch.client.command(f"""
INSERT INTO {db}.archive (company, site, meter, channel, kind, nature, parameter, period_start, value, quality,
                          version, received_at, batch_seq)
SELECT {company}, concat('site', toString(intDiv(b, 50))), concat('B', leftPad(toString(b), 4, '0')), 1, 'hour',
       if(p = 'Q', 'integral', 'interval'), p, {start} + h * 3600,
       toDecimal64(multiIf(p = 'Q', 100 + 0.9 * (h + 1) + (cityHash64(b, h) % 1000) / 1e6,
                           p = 'T1', 75 + 10 * sin(h / 24 / 58) + (cityHash64(b, h, 1) % 300) / 100,
                           52 + 6 * sin(h / 24 / 58) + (cityHash64(b, h, 2) % 300) / 100), 6),
       0, 0, toDateTime64({start} + (h + 1) * 3600 + 60, 3, 'UTC'), h + 1
FROM (SELECT intDiv(number, {hours}) AS b, number % {hours} AS h FROM numbers({buildings * hours}))
ARRAY JOIN ['Q', 'T1', 'T2'] AS p""")  # noqa: S608 - integers and constants of this module only
    step = max(1, 20_000_000 // (apartments * hours))
    for first in range(0, buildings, step):
        count = min(step, buildings - first)
        ch.client.command(f"""
INSERT INTO {db}.archive (company, site, meter, channel, kind, nature, parameter, period_start, value, quality,
                          version, received_at, batch_seq)
SELECT {company}, concat('site', toString(intDiv(b, 50))),
       concat('A', leftPad(toString(b), 4, '0'), leftPad(toString(a), 3, '0')), 1, 'hour', 'integral', 'Q',
       {start} + h * 3600, toDecimal64(10 + 0.008 * (h + 1) + (cityHash64(b, a, h) % 1000) / 1e6, 6),
       0, 0, toDateTime64({start} + (h + 1) * 3600 + 60, 3, 'UTC'), h + 1
FROM (SELECT {first} + intDiv(number, {apartments * hours}) AS b, intDiv(number, {hours}) % {apartments} AS a,
             number % {hours} AS h FROM numbers({count * apartments * hours}))""")  # noqa: S608
        done = first + count
        print(f"  archives of {done:,} / {buildings:,} buildings ({done * (apartments + 3) * hours:,} values, "
              f"{time.perf_counter() - t:.0f} s)", flush=True)
    ch.client.command(f"""
INSERT INTO {db}.weather_observations (station, at, temperature_c, received_at)
SELECT 'bench-station', {start} + number * 3600, -12 + 10 * sin(number / 24 / 58) + (cityHash64(number) % 400) / 100,
       now64(3) FROM numbers({hours})""")  # noqa: S608
    # LoRa: an uplink every 6 hours for the last ten days, one in 50 lost; events: one a week per apartment meter
    last = f"{start} + {hours} * 3600"
    ch.client.command(f"""
INSERT INTO {db}.radio_packets (site, epoch, id, at, dev_eui, direction, f_cnt, f_port, rssi, snr, gateway,
                                frequency, payload, error)
SELECT concat('site', toString(intDiv(b, 50))), '', number, toDateTime64({last} - (40 - k) * 6 * 3600, 3, 'UTC'),
       concat('70b3d5', leftPad(toString(b), 5, '0'), leftPad(toString(a), 5, '0')), 'up', 1000 + k, 2,
       -90 - toInt16(cityHash64(number) % 30), 5.5 - (cityHash64(number, 1) % 100) / 10, 'gw-0001', 868100000,
       concat('01', hex(cityHash64(number))), ''
FROM (SELECT intDiv(number, {apartments * 40}) AS b, intDiv(number, 40) % {apartments} AS a, number % 40 AS k,
             number FROM numbers({buildings * apartments * 40}))
WHERE cityHash64(number, 7) % 50 != 0""")  # noqa: S608
    ch.client.command(f"""
INSERT INTO {db}.device_events (company, site, epoch, id, meter, at, code, severity, source, detail)
SELECT {company}, concat('site', toString(intDiv(b, 50))), '', number,
       concat('A', leftPad(toString(b), 4, '0'), leftPad(toString(a), 3, '0')),
       toDateTime64({start} + (w * 7 * 24 + cityHash64(number) % 150) * 3600, 3, 'UTC'),
       arrayElement(['magnet', 'case_open', 'battery_low'], 1 + cityHash64(number, 2) % 3),
       arrayElement(['info', 'warning', 'alarm'], 1 + cityHash64(number, 3) % 3), 'device', ''
FROM (SELECT intDiv(number, {apartments * (days // 7)}) AS b, intDiv(number, {days // 7}) % {apartments} AS a,
             number % {days // 7} AS w, number FROM numbers({buildings * apartments * (days // 7)}))""")  # noqa: S608
    return time.perf_counter() - t


def _value(name: str, city: City, period: date, building: int) -> Any:
    """A value for a parameter of an operation, by its name (None: the bench knows no value for it)."""
    month_end = (period.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    values: dict[str, Any] = {
        "building_id": building, "premise_id": city.premise, "meter_id": city.meter, "group_id": city.group,
        "dev_eui": dev_eui(0, 0), "resource": "heat", "granularity": "day", "period": period.isoformat(),
        "from": period.isoformat(), "to": month_end.isoformat(), "kind": "hour", "channel": 1,
        "direction": "up", "limit": 100, "offset": 0,
    }
    return values.get(name)


def operations(spec: dict[str, Any]) -> dict[str, tuple[str, str, list[dict[str, Any]]]]:
    """operationId -> (method, path, parameters) of the OpenAPI description."""
    found = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            found[op["operationId"]] = (method.upper(), path, op.get("parameters", []))
    return found


def request_for(op: tuple[str, str, list[dict[str, Any]]], city: City, period: date,
                building: int) -> tuple[str, dict[str, Any]] | str:
    """The URL and query of one call, or the name of a required parameter the bench cannot fill."""
    _method, path, params = op
    query: dict[str, Any] = {}
    for p in params:
        value = _value(p["name"], city, period, building)
        if p["name"] == "meter_id" and "temperature" in path:
            value = city.heat_meter
        if value is None or (not p.get("required") and p["name"] not in OPTIONAL_FILLED):
            if p.get("required"):
                return p["name"]
            continue
        if p["in"] == "path":
            path = path.replace("{" + p["name"] + "}", str(value))
        elif p["in"] == "query":
            query[p["name"]] = value
    return path, query


async def timed(label: str, repeat: int, target: float, call) -> dict:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    p50 = statistics.median(samples)
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    print(f"  {label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms over {repeat} calls "
          f"({'meets' if p95 < target else 'misses'} the {target:.0f} ms target)", flush=True)
    return {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1), "target_ms": target}


async def measure_api(registry: Registry, ch: ClickHouse, city: City, period: date, repeat: int) -> dict:
    services = Services.create(registry, ch)
    services.set_clock(lambda: datetime.combine(period + timedelta(days=20), datetime.min.time(), UTC))
    session = await services.auth.login(LOGIN, PASSWORD)
    user = await services.auth.user(session.token)
    token = (await services.api_tokens.create(session.token, user.id, "bench")).token
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router(ch, "local", services))
    ops = operations(app.openapi())
    figures: dict[str, Any] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        for name in OPERATIONS:
            if name not in ops:
                print(f"  {name}: not in the API", flush=True)
                figures[name] = {"missing": True}
                continue
            made = request_for(ops[name], city, period, city.buildings[0])
            if isinstance(made, str):
                print(f"  {name}: needs parameter {made!r} the bench cannot fill", flush=True)
                figures[name] = {"skipped": made}
                continue
            url, query = made

            async def call(url: str = url, query: dict[str, Any] = query, name: str = name) -> None:
                answer = await client.get(url, params=query)
                if answer.status_code != 200:
                    raise RuntimeError(f"{name} {url} {query}: {answer.status_code} {answer.text[:300]}")

            await call()  # warm the caches once, as a running cloud would be
            figures[name] = await timed(name, repeat, TARGET_CITY_MS if name in CITY_WIDE else TARGET_MS, call)
    return figures


PAGES = ("/", "/buildings/{b}", "/buildings/{b}/meters", "/buildings/{b}/premises", "/buildings/{b}/register",
         "/buildings/{b}/groups", "/premises/{p}", "/meters/{m}", "/monitoring/deviations", "/monitoring/events",
         "/monitoring/data", "/monitoring/lora", "/monitoring/temperature", "/service/season",
         "/settings/imbalance", "/settings/buildings/{b}/balance", "/settings/buildings/{b}/temperature")


def measure_paint(data_dir: Path, city: City, period: date) -> dict:
    """First contentful paint of each page in headless Chromium, from a real `domuchet cloud`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    from domuchet import natsserver
    from tests.cloud_process import get, plain_env
    from tests.conftest import free_port

    settings = natsserver.NatsSettings(port=free_port(), mqtt_port=free_port())
    nats = natsserver.start(settings, data_dir.parent / "nats", data_dir.parent / "nats.log", new_session=False,
                            auth=False)
    port = free_port()
    config = data_dir.parent / "cloud.toml"
    config.write_text(f'[cloud]\nport = {port}\nnats_url = "{settings.url}"\n')
    log = open(data_dir.parent / "cloud.log", "wb")  # closed in the finally below
    cloud = subprocess.Popen([sys.executable, "-m", "domuchet", "cloud", "--config", str(config), "--data-dir",
                              str(data_dir)], stdout=log, stderr=subprocess.STDOUT, env=plain_env())
    base = f"http://127.0.0.1:{port}"
    figures: dict[str, Any] = {}
    driver = None
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                get(base + "/api/health")
                break
            except OSError:
                if cloud.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("domuchet cloud did not start: see cloud.log") from None
                time.sleep(0.5)
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1440,1000"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                                  options=options)
        driver.get(base + "/login")
        inputs = driver.find_elements(By.CSS_SELECTOR, "input")
        inputs[0].send_keys(LOGIN)
        inputs[1].send_keys(PASSWORD)
        driver.find_element(By.XPATH, "//button[contains(., 'Войти')]").click()
        time.sleep(3)
        for template in PAGES:
            path = template.format(b=city.buildings[0], p=city.premise, m=city.meter)
            samples, served = [], []
            for _ in range(3):
                driver.get(base + path)
                paint = None
                for _ in range(100):  # the paint entry may come a moment after the load event
                    paint = driver.execute_script(
                        "const e = performance.getEntriesByName('first-contentful-paint')[0];"
                        "return e ? e.startTime : null;")
                    if paint is not None:
                        break
                    time.sleep(0.1)
                served.append(float(driver.execute_script(
                    "return performance.getEntriesByType('navigation')[0].responseEnd;")))
                if paint is not None:
                    samples.append(float(paint))
            best = statistics.median(samples) if samples else None
            figures[template] = {"first_paint_ms": round(best, 1) if best is not None else None,
                                 "served_ms": round(statistics.median(served), 1), "target_ms": TARGET_PAINT_MS}
            shown = f"{best:.0f} ms" if best is not None else f"no paint ({driver.title!r})"
            print(f"  {template}: first contentful paint {shown}, page served in "
                  f"{statistics.median(served):.0f} ms", flush=True)
    finally:
        if driver is not None:
            driver.quit()
        cloud.terminate()
        cloud.wait(timeout=60)
        log.close()
        nats.terminate()
        nats.wait(timeout=10)
    return figures


async def bench(buildings: int, apartments: int, days: int, repeat: int, browser: bool) -> dict:
    root = Path(tempfile.mkdtemp(prefix="domuchet-bench-dashboards-"))
    data_dir = root / "data"
    data_dir.mkdir()
    ch = ClickHouse(f"chdb://{(data_dir / 'clickhouse').resolve()}", database="domuchet")
    try:
        ch.open_sync()
        registry = Registry(data_dir / "registry.db")
        t = time.perf_counter()
        city = register(registry, buildings, apartments)
        print(f"registered {buildings:,} buildings x {apartments} apartments in {time.perf_counter() - t:.0f} s",
              flush=True)
        values = buildings * (apartments + 3) * days * 24
        print(f"storing {days} days of hourly archives: {values:,} values", flush=True)
        fill_s = fill(ch, city.company, buildings, apartments, days)
        print(f"stored in {fill_s:.0f} s", flush=True)
        period = (FIRST_DAY + timedelta(days=days - 40)).replace(day=1)
        print(f"one building, the month of {period:%Y-%m}, through /api/v1:", flush=True)
        api = await measure_api(registry, ch, city, period, repeat)
    finally:
        ch.close_sync()
    paint: dict[str, Any] = {}
    try:
        if browser:
            print("first contentful paint in headless Chromium (a real `domuchet cloud`):", flush=True)
            paint = measure_paint(data_dir, city, period)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    measured = [f["p95_ms"] / f["target_ms"] for f in api.values() if "p95_ms" in f]
    return {"bench": "dashboards", "buildings": buildings, "apartments": apartments, "days": days,
            "archive_values": values, "fill_s": round(fill_s, 1), "operations": api, "pages": paint,
            "target_p95_ms": TARGET_MS, "target_city_ms": TARGET_CITY_MS, "target_paint_ms": TARGET_PAINT_MS,
            "ratio_worst_p95_to_target": round(max(measured), 3) if measured else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 buildings x 20 apartments x 60 days: under a minute")
    ap.add_argument("--buildings", type=int, default=1000)
    ap.add_argument("--apartments", type=int, default=100)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--browser", action="store_true", help="also measure first paint in headless Chromium")
    args = ap.parse_args()
    if args.quick:
        args.buildings, args.apartments, args.days, args.repeat = 20, 20, 60, 10
    if not 1 <= args.buildings <= 9999 or not 1 <= args.apartments <= 999 or not 45 <= args.days <= 366:
        ap.error("--buildings 1..9999, --apartments 1..999, --days 45..366")
    print(json.dumps(asyncio.run(bench(args.buildings, args.apartments, args.days, args.repeat, args.browser))))


if __name__ == "__main__":
    main()
