"""Dashboard query latency over a large archive in chDB, through the real service layer.

Stores hourly heat counter readings for METERS meters over DAYS days (full size: 10,000 meters
x 365 days = 87.6 million archive values, one parameter per meter-hour), registers them as
buildings of 100 meters (1 building meter + 99 apartment meters), then measures p50/p95 of
what a dispatcher opens: a building's daily consumption for a month (with the daily
imbalance), the building's monthly consumption and imbalance for a year, and one meter's
hourly archive for a day. Also prints the disk bytes per stored archive value, of the archive
table and, as the baseline, of the same values in the archive's definition before the
tenant-safe, compact one (migration 1's Float64 values and per-row batch strings). Targets:
p95 under 200 ms for each query; at most 4 bytes on disk per stored value.

Run: python -m bench.queries [--quick] [--meters N] [--days N] [--repeat N]. Prints what it
does, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from cloud.seed import UserSeed, seed_company
from cloud.services.container import Services
from cloud.services.models import Granularity
from cloud.storage import schema
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.vocabulary import Resource

PER_BUILDING = 100
FIRST_DAY = date(2025, 1, 1)
TARGET_MS = 200.0
TARGET_BYTES = 4.0


def serial(n: int) -> str:
    return f"M{n:05d}"


def register(registry: Registry, meters: int) -> list[int]:
    """Buildings of PER_BUILDING meters each: meter 0 of a building is its building meter."""
    company = seed_company(registry, "УК Бенч", "Казань", (UserSeed("bench", "Бенч", "dispatcher", "bench-pass"),))
    ids = []
    with registry.connect() as db:
        for b in range(0, meters, PER_BUILDING):
            building = db.execute("INSERT INTO buildings (company_id, site, address, city, time_zone, area_m2, "
                                  "residents) VALUES (?, 'bench', ?, 'Казань', 'Europe/Moscow', 5000, 200)",
                                  (company, f"ул. Бенч, {b // PER_BUILDING + 1}")).lastrowid
            ids.append(int(building or 0))
            for n in range(b, min(b + PER_BUILDING, meters)):
                premise = None
                if n != b:
                    premise = db.execute("INSERT INTO premises (building_id, number, kind, area_m2, residents) "
                                         "VALUES (?, ?, 'apartment', 50, 2)", (building, str(n - b))).lastrowid
                meter = db.execute(
                    "INSERT INTO meters (company_id, building_id, premise_id, serial, model, role, communicator, "
                    "archives) VALUES (?, ?, ?, ?, ?, ?, 'bench', 'hour, integral')",
                    (company, building, premise, serial(n), "KARAT-307" if n == b else "KARAT-Compact-2-223",
                     "common" if n == b else "individual")).lastrowid
                db.execute("INSERT INTO meter_channels (meter_id, number, resource, parameters) "
                           "VALUES (?, 1, 'heat', 'Q')", (meter,))
    return ids


def fill(ch: ClickHouse, meters: int, hours: int, chunk: int, company: int, table: str = "archive",
         before: bool = False) -> float:
    """Insert the readings with INSERT ... SELECT inside ClickHouse; returns the seconds taken.

    A counter grows by 0.01 Gcal/h (apartments) or 0.9 Gcal/h (building meters) plus up to
    0.001 of hashed noise, so it stays monotonic but does not compress like a straight line.
    Each hour's values arrive as the ingest writes them: received a minute after the hour's end,
    in batch number = hour. ``before`` writes the pre-migration-9 columns (the baseline).
    """
    t = time.perf_counter()
    head, tail = ("", "batch") if before else ("company, ", "batch_seq")
    batch = "concat('bench:', toString(number % {hours} + 1))" if before else "number % {hours} + 1"
    for first in range(0, meters, chunk):
        count = min(chunk, meters - first)
        ch.client.command(f"""
INSERT INTO {table} ({head}site, meter, channel, kind, nature, parameter, period_start, value, quality,
                     version, received_at, {tail})
SELECT {"" if before else f"{company}, "}'bench',
       concat('M', leftPad(toString({first} + intDiv(number, {hours})), 5, '0')), 1, 'hour', 'integral', 'Q',
       toDateTime('{FIRST_DAY.isoformat()} 00:00:00', 'UTC') - 3 * 3600 + (number % {hours}) * 3600,
       round(100 + if(({first} + intDiv(number, {hours})) % {PER_BUILDING} = 0, 0.9, 0.01)
                   * ((number % {hours}) + 1) + (cityHash64(number) % 1000) / 1e6, 6),
       0, 0, toDateTime64('{FIRST_DAY.isoformat()} 00:01:00', 3, 'UTC') - 3 * 3600 + (number % {hours} + 1) * 3600
             + (cityHash64(number, 1) % 5000) / 1000,
       {batch.format(hours=hours)}
FROM numbers({count * hours})""")  # noqa: S608 - integers and constants of this module only
        done = first + count
        print(f"  stored {done:,} / {meters:,} meters ({done * hours:,} values, {time.perf_counter() - t:.0f} s)",
              flush=True)
    return time.perf_counter() - t


def bytes_per_value(ch: ClickHouse, database: str, table: str) -> float:
    ch.client.command(f"OPTIMIZE TABLE {database}.{table} FINAL")  # parts as a day of merging leaves them
    rows, disk = ch.query_sync("SELECT sum(rows), sum(bytes_on_disk) FROM system.parts WHERE database = "
                               "{d:String} AND table = {t:String} AND active", {"d": database, "t": table})[0]
    return disk / rows


def baseline_bytes(ch: ClickHouse, meters: int, hours: int, chunk: int) -> float:
    """Bytes per value of the same data in the archive's definition before migration 9."""
    db = f"{ch.database}_before"
    ch.client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    try:
        for statement in schema.create_table(schema.ARCHIVE, db):
            ch.client.command(statement)
        fill(ch, meters, hours, chunk, 0, f"{db}.archive", before=True)
        return bytes_per_value(ch, db, "archive")
    finally:
        ch.client.command(f"DROP DATABASE IF EXISTS {db} SYNC")


async def timed(label: str, repeat: int, call) -> dict:
    samples = []
    for i in range(repeat):
        t = time.perf_counter()
        await call(i)
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    p50 = statistics.median(samples)
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    print(f"{label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms over {repeat} calls "
          f"({'meets' if p95 < TARGET_MS else 'misses'} the {TARGET_MS:.0f} ms target)")
    return {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1)}


async def bench(meters: int, days: int, repeat: int) -> dict:
    hours = days * 24
    tmp = Path(tempfile.mkdtemp(prefix="domuchet-bench-queries-"))
    ch = ClickHouse(f"chdb://{tmp / 'chdb'}", database="bench")
    try:
        ch.open_sync()
        registry = Registry(tmp / "registry.db")
        buildings = register(registry, meters)
        print(f"storing {meters:,} meters x {days} days hourly = {meters * hours:,} archive values "
              f"in {len(buildings)} buildings of {PER_BUILDING} meters")
        chunk = max(1, min(meters, 20_000_000 // hours))
        company = int(registry.one("SELECT id FROM companies")["id"])
        fill_s = fill(ch, meters, hours, chunk, company, f"{ch.database}.archive")
        per_value = bytes_per_value(ch, ch.database, "archive")
        print(f"stored in {fill_s:.0f} s; {per_value:.2f} bytes on disk per archive value "
              f"(target {TARGET_BYTES:.0f}); the baseline, before migration 9:")
        before = baseline_bytes(ch, meters, hours, chunk)
        print(f"  {before:.2f} bytes per value in the old definition ({before / per_value:.1f}x the new)")
        services = Services.create(registry, ch)
        token = (await services.auth.login("bench", "bench-pass")).token
        rng = random.Random(6)
        months = max(1, days // 31)
        meter_ids = [r["id"] for r in registry.all("SELECT id FROM meters")]

        def month(i: int) -> date:
            return date(FIRST_DAY.year, 1 + rng.randrange(min(12, months)), 1) if i >= 0 else FIRST_DAY

        async def daily(i: int) -> None:
            result = await services.accounting.building_consumption(token, rng.choice(buildings), Resource.HEAT,
                                                                    Granularity.DAY, month(i))
            if not any(p.imbalance is not None for p in result.points[1:]):
                raise RuntimeError("no imbalance computed: the data is not what the bench stored")

        async def monthly(_: int) -> None:
            await services.accounting.building_consumption(token, rng.choice(buildings), Resource.HEAT,
                                                           Granularity.MONTH, FIRST_DAY)

        async def archive(_: int) -> None:
            day = FIRST_DAY + timedelta(days=rng.randrange(days))
            await services.accounting.meter_archive(token, rng.choice(meter_ids), 1, Granularity.HOUR, day)

        await daily(-1)  # warm the caches once, as a running cloud would be
        figures = {"building_daily_month": await timed("building daily consumption + imbalance for a month", repeat,
                                                       daily),
                   "building_monthly_year": await timed("building monthly consumption + imbalance for a year",
                                                        repeat, monthly),
                   "meter_hourly_day": await timed("one meter's hourly archive for a day", repeat, archive)}
    finally:
        ch.close_sync()
        shutil.rmtree(tmp, ignore_errors=True)
    return {"bench": "queries", "meters": meters, "days": days, "archive_values": meters * hours,
            "bytes_per_value": round(per_value, 2), "baseline_bytes_per_value": round(before, 2),
            "ratio_baseline_to_bytes": round(before / per_value, 2), "target_bytes_per_value": TARGET_BYTES,
            "fill_s": round(fill_s, 1), **figures,
            "target_p95_ms": TARGET_MS,
            "ratio_worst_p95_to_target": round(max(f["p95_ms"] for f in figures.values()) / TARGET_MS, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 meters x 60 days: well under a minute")
    ap.add_argument("--meters", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--repeat", type=int, default=40)
    args = ap.parse_args()
    if args.quick:
        args.meters, args.days, args.repeat = 200, 60, 15
    if args.meters < 1 or not 1 <= args.days <= 365:
        ap.error("--meters must be >= 1 and --days 1..365")
    print(json.dumps(asyncio.run(bench(args.meters, args.days, args.repeat))))


if __name__ == "__main__":
    main()
