"""The monthly readings export (manual 4.3.7) for a city: wall time and peak memory.

Builds a company of 1,000 buildings x 100 apartments in the registry and chDB (each apartment: a cold
water meter, a hot water meter and a two-tariff electricity meter; each building a heat meter: 301,000
meters, 501,000 counters) with month records for November and December 2025 (the building heat meters,
a KARAT-307 without month archives, have day records of the months' last days; one counter in 200 has
no December record: those cells are «–*»). Then it makes «Выгрузка показаний за месяц» for December
through ReportsService (``report`` + ``xlsx.write``, as the background job does) and prints the wall time
and the peak memory (Python's tracemalloc peak while the report is built and its rows generated, on a
run of its own because tracing slows it; and the ru_maxrss of a process of its own that only opens the
storage and makes the export, as the cloud does, which includes chDB's engine)
against the targets (< 60 s, < 500 MB), with the baseline of the same run: the same rows written with
the csv module (the I/O floor).

Run: python -m bench.reports [--quick] [--buildings N] [--apartments N]. Prints what it does, then one
JSON line. Not part of the pass/fail suite (tests/integration/test_reports_exports.py runs a tiny one).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from cloud.reports import xlsx
from cloud.reports.table import MISSING, Partial, Report
from cloud.seed import UserSeed, seed_company
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry

TARGET_S = 60.0
TARGET_MB = 500.0
TZ = "Europe/Moscow"
LOGIN, PASSWORD = "bench", "bench-pass"
MONTH = "2025-12"
# apartment meters: (serial prefix, model, [(channel, resource, tariff)])
APARTMENT_METERS = (("C", "KARAT-926LW", ((1, "cold_water", None),)),
                    ("H", "KARAT-926LW", ((1, "hot_water", None),)),
                    ("E", "KARAT-941LW", ((1, "electricity", "total"), (2, "electricity", "T1"),
                                          (3, "electricity", "T2"))))


def serial(prefix: str, b: int, a: int | None = None) -> str:
    return f"{prefix}{b:04d}" if a is None else f"{prefix}{b:04d}{a:03d}"


def register(registry: Registry, buildings: int, apartments: int) -> int:
    """The company in the registry (bulk inserts in one transaction); returns its id."""
    company = seed_company(registry, "УК Город", "Казань", (UserSeed(LOGIN, "Бенч Диспетчер", "dispatcher", PASSWORD),))
    with registry.connect() as db:
        first_meter = (db.execute("SELECT coalesce(max(id), 0) FROM meters").fetchone()[0]) + 1
        first_premise = (db.execute("SELECT coalesce(max(id), 0) FROM premises").fetchone()[0]) + 1
        first_building = (db.execute("SELECT coalesce(max(id), 0) FROM buildings").fetchone()[0]) + 1
        db.executemany("INSERT INTO buildings (id, company_id, site, address, city, time_zone, area_m2, residents) "
                       "VALUES (?, ?, ?, ?, 'Казань', ?, ?, ?)",
                       [(first_building + b, company, f"site{b // 50}", f"ул. Бенч, {b + 1}", TZ, 55.0 * apartments,
                         2 * apartments) for b in range(buildings)])
        db.executemany("INSERT INTO premises (id, building_id, number, kind, area_m2, residents, account) "
                       "VALUES (?, ?, ?, 'apartment', 55.0, 2, ?)",
                       [(first_premise + b * apartments + a, first_building + b, str(a + 1), f"{b:04d}-{a + 1:03d}")
                        for b in range(buildings) for a in range(apartments)])
        meters: list[tuple[Any, ...]] = []
        channels: list[tuple[Any, ...]] = []
        meter_id = first_meter
        for b in range(buildings):
            meters.append((meter_id, company, first_building + b, None, serial("B", b), "KARAT-307", "common",
                           "hour, day, integral", 0))
            channels.append((meter_id, 1, "heat", "Q,V1,V2,T1,T2", None))
            meter_id += 1
            for a in range(apartments):
                premise = first_premise + b * apartments + a
                for prefix, model, chans in APARTMENT_METERS:
                    meters.append((meter_id, company, first_building + b, premise, serial(prefix, b, a), model,
                                   "individual", "hour, day, month, integral", 2 if prefix == "E" else 0))
                    channels.extend((meter_id, n, res, "E" if res == "electricity" else "V", tariff)
                                    for n, res, tariff in chans)
                    meter_id += 1
        db.executemany("INSERT INTO meters (id, company_id, building_id, premise_id, serial, model, role, "
                       "communicator, archives, tariffs) VALUES (?, ?, ?, ?, ?, ?, ?, 'LoRaWAN', ?, ?)", meters)
        db.executemany("INSERT INTO meter_channels (meter_id, number, resource, parameters, tariff) "
                       "VALUES (?, ?, ?, ?, ?)", channels)
    return company


def fill(ch: ClickHouse, company: int, buildings: int, apartments: int) -> float:
    """Store the month records (INSERT ... SELECT inside ClickHouse); returns the seconds taken.
    Month records are keyed by the local 1st 00:00 (21:00 UTC the day before); a counter grows by a
    hashed amount a month, so December's reading is above November's."""
    db = ch.database
    t = time.perf_counter()
    columns = ("company, site, meter, channel, kind, nature, parameter, period_start, value, quality, version, "
               "received_at, batch_seq")
    # apartments: 5 counters each (C ch1 V, H ch1 V, E ch1-3 E), months Nov (m=0) and Dec (m=1)
    ch.client.command(f"""
INSERT INTO {db}.archive ({columns})
SELECT {company}, concat('site', toString(intDiv(b, 50))),
       concat(arrayElement(['C', 'H', 'E', 'E', 'E'], k + 1), leftPad(toString(b), 4, '0'),
              leftPad(toString(a), 3, '0')),
       arrayElement([1, 1, 1, 2, 3], k + 1), 'month', 'integral', if(k < 2, 'V', 'E'),
       if(m = 0, toDateTime('2025-10-31 21:00:00', 'UTC'), toDateTime('2025-11-30 21:00:00', 'UTC')),
       toDecimal64(100 * (k + 1) + (m + 1) * (1 + (cityHash64(b, a, k) % 1000) / 100), 6),
       0, 0, toDateTime64('2026-01-02 00:00:00', 3, 'UTC'), 1
FROM (SELECT intDiv(number, {apartments * 10}) AS b, intDiv(number, 10) % {apartments} AS a,
             intDiv(number, 2) % 5 AS k, number % 2 AS m FROM numbers({buildings * apartments * 10}))
WHERE NOT (m = 1 AND cityHash64(b, a, k, 7) % 200 = 0)""")  # noqa: S608 - integers and constants of this module only
    # building heat meters (no month archive): day records of Nov 30 and Dec 31 read the months' ends
    ch.client.command(f"""
INSERT INTO {db}.archive ({columns})
SELECT {company}, concat('site', toString(intDiv(b, 50))), concat('B', leftPad(toString(b), 4, '0')), 1, 'day',
       'integral', 'Q', if(m = 0, toDateTime('2025-11-29 21:00:00', 'UTC'), toDateTime('2025-12-30 21:00:00', 'UTC')),
       toDecimal64(1000 + (m + 1) * 300 + (cityHash64(b) % 100) / 10, 6), 0, 0,
       toDateTime64('2026-01-02 00:00:00', 3, 'UTC'), 1
FROM (SELECT intDiv(number, 2) AS b, number % 2 AS m FROM numbers({buildings * 2}))""")  # noqa: S608
    return time.perf_counter() - t


def csv_cell(value: object) -> object:
    if value is MISSING:
        return "–*"
    if isinstance(value, Partial):
        return f"{value.value}*"
    return "" if value is None else value


def write_csv(report: Report, path: Path) -> tuple[int, int]:
    """The same rows with the csv module: the floor of writing them at all. (rows, «–*» cells)"""
    rows = missing = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        for sheet in report.sheets:
            out.writerow([c.header for c in sheet.columns])
            for row in sheet.rows:
                out.writerow([csv_cell(v) for v in row])
                rows += 1
                missing += sum(1 for v in row if v is MISSING)
    return rows, missing


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(registry: Registry, ch: ClickHouse, out_dir: Path) -> dict[str, Any]:
    """Make the export three times: timed (report + xlsx), as csv (the floor), traced (tracemalloc peak)."""
    services = Services.create(registry, ch)
    token = (await services.auth.login(LOGIN, PASSWORD)).token
    reports = services.reports
    rss_before = _rss_mb()
    t = time.perf_counter()
    report = await reports.report(token, "monthly_readings", {"month": MONTH})
    built_s = time.perf_counter() - t
    rows: list[int] = [0]
    await asyncio.to_thread(xlsx.write, report, out_dir / "monthly.xlsx", lambda n: rows.__setitem__(0, n))
    wall_s = time.perf_counter() - t
    rss_after = _rss_mb()
    again = await reports.report(token, "monthly_readings", {"month": MONTH})
    t = time.perf_counter()
    csv_rows, missing = write_csv(again, out_dir / "monthly.csv")
    csv_s = time.perf_counter() - t
    del report, again
    # the peak of Python's allocations: building the report and generating every row (written as csv: the
    # xlsx writer streams rows to disk, and tracing it would take minutes)
    tracemalloc.start()
    traced = await reports.report(token, "monthly_readings", {"month": MONTH})
    write_csv(traced, out_dir / "monthly-traced.csv")
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {"rows": rows[0], "csv_rows": csv_rows, "missing_cells": missing, "build_s": round(built_s, 2),
            "wall_s": round(wall_s, 2), "xlsx_mb": round((out_dir / "monthly.xlsx").stat().st_size / 2**20, 1),
            "csv_write_s": round(csv_s, 2), "tracemalloc_peak_mb": round(peak_mb, 1),
            "ru_maxrss_before_mb": round(rss_before, 1), "ru_maxrss_mb": round(rss_after, 1)}


def _storage(root: Path) -> tuple[Registry, ClickHouse]:
    ch = ClickHouse(f"chdb://{(root / 'clickhouse').resolve()}", database="domuchet")
    ch.open_sync()
    return Registry(root / "registry.db"), ch


async def measured_alone(root: Path) -> dict[str, Any]:
    """``measure`` in this process, which did nothing before but open the storage: its ru_maxrss is the
    export's peak with the embedded engine open, not the seeding's (the cloud makes reports so)."""
    registry, ch = _storage(root)
    try:
        rss_open = _rss_mb()
        return {**await measure(registry, ch, root), "ru_maxrss_open_mb": round(rss_open, 1)}
    finally:
        ch.close_sync()


async def bench(buildings: int, apartments: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="domuchet-bench-reports-"))
    try:
        registry, ch = _storage(root)
        try:
            t = time.perf_counter()
            company = register(registry, buildings, apartments)
            print(f"registered {buildings:,} buildings x {apartments} apartments "
                  f"({buildings * (3 * apartments + 1):,} meters) in {time.perf_counter() - t:.0f} s", flush=True)
            fill_s = fill(ch, company, buildings, apartments)
        finally:
            ch.close_sync()
        print(f"stored two months of records in {fill_s:.0f} s; making the export of {MONTH} in a process of "
              "its own", flush=True)
        child = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.reports", "--measure", str(root),
                                                     stdout=asyncio.subprocess.PIPE)
        out, _ = await child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"the measuring process failed ({child.returncode})")
        result = json.loads(out.decode().strip().splitlines()[-1])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"export: {result['rows']:,} rows in {result['wall_s']} s (target < {TARGET_S:.0f} s; csv of the same "
          f"rows {result['csv_write_s']} s), tracemalloc peak {result['tracemalloc_peak_mb']} MB, ru_maxrss "
          f"{result['ru_maxrss_mb']} MB (target < {TARGET_MB:.0f} MB; the process with the storage open and "
          f"nothing done: {result['ru_maxrss_open_mb']} MB)", flush=True)
    return {"bench": "reports", "report": "monthly_readings", "buildings": buildings, "apartments": apartments,
            **result, "target_s": TARGET_S, "target_mb": TARGET_MB,
            "ratio_time_to_target": round(result["wall_s"] / TARGET_S, 3),
            "ratio_memory_to_target": round(max(result["tracemalloc_peak_mb"], result["ru_maxrss_mb"]) / TARGET_MB, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="50 buildings x 100 apartments")
    ap.add_argument("--buildings", type=int, default=1000)
    ap.add_argument("--apartments", type=int, default=100)
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child that makes the export
    args = ap.parse_args()
    if args.measure is not None:
        print(json.dumps(asyncio.run(measured_alone(args.measure))))
        return
    if args.quick:
        args.buildings = 50
    if not 1 <= args.buildings <= 9999 or not 1 <= args.apartments <= 999:
        ap.error("--buildings 1..9999, --apartments 1..999")
    print(json.dumps(asyncio.run(bench(args.buildings, args.apartments))))


if __name__ == "__main__":
    main()
