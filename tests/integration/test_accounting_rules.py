"""The consumption rules (manual 4.1.5/4.1.6, DESIGN.md section 5) through the service layer:
archives go in through the real ingest (``Ingest.handle``, the company key from the registry)
into chDB, figures come out of AccountingService. Every expected number is worked out by hand
in the comment next to it. The building is in Asia/Novosibirsk (UTC+7): its days start at
17:00 UTC the day before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from cloud.ingest import Ingest
from cloud.seed import UserSeed, seed_company
from cloud.services.container import Services
from cloud.services.models import Figure, Granularity
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol import catalogue, subjects
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind, Nature, Resource
from protocol.wire import ArchiveRecord, Batch, encode_batch

TZ = "Asia/Novosibirsk"
NSK = zone(TZ)
SITE = "rules"
HOUR, DAY, MONTH = ArchiveKind.HOUR, ArchiveKind.DAY, ArchiveKind.MONTH
INTEGRAL, INTERVAL = Nature.INTEGRAL, Nature.INTERVAL
JAN = date(2026, 1, 1)


@dataclass(frozen=True)
class Meter:
    serial: str
    model: str
    premise: str | None  # None: a building meter
    archives: str = "hour, integral"
    status: str = "in_service"
    commissioned: datetime | None = None  # local time of the building
    decommissioned: datetime | None = None
    reporting_day: int = 1
    ct_ratio: float = 1.0
    tariffs: int = 0
    initial: dict[str, float] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)


@dataclass
class World:
    svc: Services
    token: str
    building: int
    premises: dict[str, int]
    meters: dict[str, int]


def _iso(local: datetime | None) -> str | None:
    return None if local is None else local_to_utc(local, NSK).isoformat()


def _register(registry: Registry, company: int, site: str, meters: list[Meter]) -> tuple[int, dict, dict]:
    with registry.connect() as db:
        building = db.execute("INSERT INTO buildings (company_id, site, address, city, time_zone, area_m2, residents) "
                              "VALUES (?, ?, ?, 'Новосибирск', ?, 300.0, 9)",
                              (company, site, f"ул. Правил, {site}", TZ)).lastrowid
        premises: dict[str, int] = {}
        ids: dict[str, int] = {}
        for m in meters:
            if m.premise is not None and m.premise not in premises:
                premises[m.premise] = db.execute(
                    "INSERT INTO premises (building_id, number, kind, area_m2, residents) "
                    "VALUES (?, ?, 'apartment', 50.0, 2)", (building, m.premise)).lastrowid
            spec = catalogue.model(m.model)
            if m.tariffs:
                spec = spec.with_tariffs(m.tariffs)
            ids[m.serial] = db.execute(
                "INSERT INTO meters (company_id, building_id, premise_id, serial, model, role, communicator, archives, "
                "status, commissioned_at, decommissioned_at, reporting_day, ct_ratio, tariffs, initial_readings, "
                "final_readings) VALUES (?, ?, ?, ?, ?, ?, 'test', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (company, building, premises.get(m.premise or ""), m.serial, m.model,
                 "common" if m.premise is None else "individual", m.archives, m.status, _iso(m.commissioned),
                 _iso(m.decommissioned), m.reporting_day, m.ct_ratio, m.tariffs, json.dumps(m.initial),
                 json.dumps(m.final))).lastrowid
            for c in spec.channels:
                db.execute("INSERT INTO meter_channels (meter_id, number, resource, parameters, tariff) "
                           "VALUES (?, ?, ?, ?, ?)", (ids[m.serial], c.number, c.resource.value,
                                                      ",".join(c.parameters), c.tariff))
    return building, premises, ids


def rec(serial: str, kind: ArchiveKind, nature: Nature, local: datetime, value: float, channel: int = 1,
        parameter: str = "Q") -> ArchiveRecord:
    start = int(local_to_utc(local, NSK).timestamp())
    return ArchiveRecord(serial, channel, kind, nature, start, {parameter: round(value, 6)}, received_at=start + 60.0)


def hourly(serial: str, first: datetime, hours: int, value, nature: Nature = INTEGRAL, channel: int = 1,
           parameter: str = "Q", skip: tuple[datetime, ...] = ()) -> list[ArchiveRecord]:
    """Hourly records from local ``first``; ``value(h)`` gives record h's value (h = 0 for ``first``)."""
    out = []
    for h in range(hours):
        local = first + timedelta(hours=h)
        if local not in skip:
            out.append(rec(serial, HOUR, nature, local, value(h), channel, parameter))
    return out


async def _ingest(clickhouse: ClickHouse, registry: Registry, site: str, records: list[ArchiveRecord],
                  seq: int = 1) -> None:
    """Through the real ingest: decoded, checked against the registry, stored under the site's company."""
    ingest = Ingest("nats://127.0.0.1:1", clickhouse, known_meters=registry.meter_serials_by_site,
                    companies=registry.company_by_site)
    batch = Batch(site, seq, tuple(records), 1.0)
    outcome = await ingest.handle(subjects.archive_subject(site), encode_batch(batch), {"Nats-Msg-Id": batch.msg_id})
    assert outcome.reason is None, outcome.reason
    assert outcome.stored_values == len(records)


async def _world(clickhouse: ClickHouse, tmp_path: Path, meters: list[Meter], records: list[ArchiveRecord]) -> World:
    registry = Registry(tmp_path / "registry.db")
    company = seed_company(registry, "УК Правила", "Новосибирск", (UserSeed("disp", "Диспетчер", "dispatcher", "pw"),))
    building, premises, ids = _register(registry, company, SITE, meters)
    await _ingest(clickhouse, registry, SITE, records)
    svc = Services.create(registry, clickhouse)
    token = (await svc.auth.login("disp", "pw")).token
    return World(svc, token, building, premises, ids)


def _by_day(points) -> dict[int, object]:
    return {p.period.day: p for p in points}


# --- several building inputs; the company scope ----------------------------------------------------


async def test_several_building_inputs_one_missing_is_partial_without_imbalance(clickhouse, tmp_path) -> None:
    first = datetime(2026, 1, 9, 23)  # record h holds the reading at Jan 10 00:00 + h hours
    rates = {"307R0001": 0.03, "307R0002": 0.02, "223R0001": 0.01, "223R0002": 0.02}
    meters = [Meter("307R0001", "KARAT-307", None), Meter("307R0002", "KARAT-307", None),
              Meter("223R0001", "KARAT-Compact-2-223", "1"), Meter("223R0002", "KARAT-Compact-2-223", "2")]
    records = []
    for serial, rate in rates.items():
        skip = (datetime(2026, 1, 10, 23),) if serial == "307R0002" else ()  # input 2's reading at Jan 11 00:00
        records += hourly(serial, first, 73, lambda h, r=rate: 100 + r * h, skip=skip)
    world = await _world(clickhouse, tmp_path, meters, records)
    # another company's meter with the same serial, huge readings at the same hours: never mixed in
    stranger = Registry(tmp_path / "registry.db")
    other = seed_company(stranger, "УК Чужая", "Новосибирск", ())
    _register(stranger, other, "rules-other", [Meter("307R0001", "KARAT-307", None)])
    await _ingest(clickhouse, stranger, "rules-other", hourly("307R0001", first, 73, lambda h: 900 + 5 * h))

    result = await world.svc.accounting.building_consumption(world.token, world.building, Resource.HEAT,
                                                             Granularity.DAY, JAN)
    days = _by_day(result.points)
    assert sorted(days) == [9, 10, 11, 12]  # from the first record (23:00 on Jan 9) to the newest
    assert days[9].building_figure == Figure(None, expected=2, known=0)  # no reading at its start: «–*»
    # Jan 10 and 11: input 1 = 24 x 0.03 = 0.72 known, input 2 missing -> «0,720*», no imbalance
    for day in (10, 11):
        assert days[day].building == pytest.approx(0.72)
        assert days[day].building_complete is False
        # derived: the meters give hourly archives only
        assert days[day].building_figure == Figure(pytest.approx(0.72), expected=2, known=1, derived=True)
        assert days[day].apartments == pytest.approx(0.72)  # 24 x (0.01 + 0.02)
        assert days[day].imbalance is None
    # Jan 12: both inputs, 24 x (0.03 + 0.02) = 1.2; imbalance 1.2 - 0.72 = 0.48 = 40 % of 1.2
    assert days[12].building == pytest.approx(1.2)
    assert days[12].building_complete is True
    assert (days[12].imbalance, days[12].imbalance_pct) == (pytest.approx(0.48), pytest.approx(40.0))


async def test_bit_flip_hour_is_suspect_and_left_out(clickhouse, tmp_path) -> None:
    readings = {0: 8.30, 1: 8.35, 2: 1082.0, 3: 8.40, 4: 8.45}  # records of 09:00 .. 13:00 local, Jan 10
    world = await _world(clickhouse, tmp_path, [Meter("307R0001", "KARAT-307", None)],
                         hourly("307R0001", datetime(2026, 1, 10, 9), 5, lambda h: readings[h]))
    result = await world.svc.accounting.building_consumption(world.token, world.building, Resource.HEAT,
                                                             Granularity.HOUR, date(2026, 1, 10))
    hours = {p.period.hour: p for p in result.points}
    assert hours[10].building == pytest.approx(0.05)  # 8.35 - 8.30
    # 8.35 -> 1082.0 is +1073.65 Gcal in an hour, above the KARAT-307's 125 Gcal/h: suspect, not a value
    assert hours[11].building is None
    assert hours[11].building_figure == Figure(None, expected=1, known=0, suspect=1)
    assert hours[12].building_figure.suspect == 1  # 1082.0 -> 8.40 back: no plausible wrap either
    assert hours[13].building == pytest.approx(0.05)  # 8.45 - 8.40
    archive = await world.svc.accounting.meter_archive(world.token, world.meters["307R0001"], 1, Granularity.HOUR,
                                                       date(2026, 1, 10))
    rows = {r.period.hour: r for r in archive.rows}
    assert rows[11].values["Q"] == pytest.approx(1082.0)  # stored and shown as received
    assert rows[11].suspect == ("Q",)
    assert rows[10].suspect == ()


# --- one premise, several meters; interval and integral -------------------------------------------


async def test_premise_of_two_meters_interval_and_integral_kept_apart(clickhouse, tmp_path) -> None:
    first = datetime(2026, 1, 10)
    gap = datetime(2026, 1, 11, 5)
    meters = [Meter("926R0001", "KARAT-926LW", "7", archives="hour, interval, integral"),
              Meter("926R0002", "KARAT-926LW", "7", archives="hour, interval")]
    records = (hourly("926R0001", first, 48, lambda h: 0.01, INTERVAL, parameter="V", skip=(gap,))
               # the same meter's integral readings of the same hours: a separate row, never replaced
               + hourly("926R0001", first - timedelta(hours=1), 49, lambda h: 1000 + 0.01 * h, parameter="V")
               + hourly("926R0002", first, 48, lambda h: 0.02, INTERVAL, parameter="V",
                        skip=(datetime(2026, 1, 10, 7),)))
    world = await _world(clickhouse, tmp_path, meters, records)
    result = await world.svc.accounting.premise_consumption(world.token, world.premises["7"], Resource.COLD_WATER,
                                                            Granularity.DAY, JAN)
    figures = {p.day: f for (p, _), f in zip(result.points, result.figures, strict=True)}
    # Jan 10: meter 1 = 24 x 0.01 = 0.24; meter 2 misses 07:00 -> the known part «0,240*»
    assert figures[10] == Figure(pytest.approx(0.24), expected=2, known=1, derived=True)
    # Jan 11: meter 1's interval hour 05:00 is missing, so its integral readings give the day:
    # 1000 + 0.01 x 48 - (1000 + 0.01 x 24) = 0.24; meter 2 = 24 x 0.02 = 0.48; sum 0.72
    assert figures[11] == Figure(pytest.approx(0.72), expected=2, known=2, derived=True)
    assert dict(result.points)[datetime(2026, 1, 11)] == pytest.approx(0.72)


async def test_replacement_by_a_new_serial_continues_the_premise(clickhouse, tmp_path) -> None:
    swap = datetime(2026, 1, 11, 12)
    meters = [Meter("223R0003", "KARAT-Compact-2-223", "3", status="decommissioned", decommissioned=swap,
                    final={"1:Q": 200.12}),
              Meter("223R0004", "KARAT-Compact-2-223", "3", commissioned=swap, initial={"1:Q": 0.5})]
    # old: record h from Jan 9 23:00 reads 199.76 + 0.01 h, the last one (11:00 Jan 11, h = 36) 200.12
    old = hourly("223R0003", datetime(2026, 1, 9, 23), 37, lambda h: 199.76 + 0.01 * h)
    # new: record k from 12:00 Jan 11 reads 0.5 + 0.02 (k + 1)
    new = hourly("223R0004", swap, 36, lambda k: 0.5 + 0.02 * (k + 1))
    world = await _world(clickhouse, tmp_path, meters, old + new)
    result = await world.svc.accounting.premise_consumption(world.token, world.premises["3"], Resource.HEAT,
                                                            Granularity.DAY, JAN)
    days = {p.day: (v, f) for (p, v), f in zip(result.points, result.figures, strict=True)}
    # Jan 10: the old meter alone, 200.00 - 199.76 = 0.24
    assert days[10] == (pytest.approx(0.24), Figure(pytest.approx(0.24), expected=1, known=1, derived=True))
    # Jan 11: (old final 200.12 - old opening 200.00) + (new closing 0.74 - new initial 0.5) = 0.12 + 0.24 = 0.36
    assert days[11] == (pytest.approx(0.36), Figure(pytest.approx(0.36), expected=2, known=2, derived=True))
    # Jan 12: the new meter alone, 0.5 + 0.02 x 36 - 0.74 = 1.22 - 0.74 = 0.48
    assert days[12][0] == pytest.approx(0.48)


async def test_commissioning_mid_day_is_not_missing(clickhouse, tmp_path) -> None:
    commissioned = datetime(2026, 1, 10, 14)
    meters = [Meter("223R0005", "KARAT-Compact-2-223", "5", commissioned=commissioned, initial={"1:Q": 5.0})]
    world = await _world(clickhouse, tmp_path, meters,
                         hourly("223R0005", commissioned, 34, lambda k: 5.0 + 0.05 * (k + 1)))
    result = await world.svc.accounting.premise_consumption(world.token, world.premises["5"], Resource.HEAT,
                                                            Granularity.DAY, JAN)
    days = dict(result.points)
    # Jan 10: reading at Jan 11 00:00 (record 23:00, k = 9) 5.0 + 0.05 x 10 = 5.5, minus initial 5.0 = 0.5
    assert days[datetime(2026, 1, 10)] == pytest.approx(0.5)
    assert result.figures[0].complete
    # Jan 11: record k = 33 reads 5.0 + 0.05 x 34 = 6.7; 6.7 - 5.5 = 1.2
    assert days[datetime(2026, 1, 11)] == pytest.approx(1.2)


# --- electricity ---------------------------------------------------------------------------------


async def test_electricity_total_and_tariffs_apart_with_ct_ratio(clickhouse, tmp_path) -> None:
    meters = [Meter("941R0001", "KARAT-941LW", "4", tariffs=2, ct_ratio=40.0)]
    readings = {1: (1000.0, 1012.5), 2: (600.0, 608.0), 3: (400.0, 404.5)}  # total, T1 (day), T2 (night)
    records = []
    for channel, (opening, closing) in readings.items():
        records += [rec("941R0001", HOUR, INTEGRAL, datetime(2026, 1, 10, 23), opening, channel, "E"),
                    rec("941R0001", HOUR, INTEGRAL, datetime(2026, 1, 11, 23), closing, channel, "E")]
    world = await _world(clickhouse, tmp_path, meters, records)
    result = await world.svc.accounting.premise_consumption(world.token, world.premises["4"], Resource.ELECTRICITY,
                                                            Granularity.DAY, JAN)
    days = dict(result.points)
    # the total channel alone: 12.5 kWh on the register x CT 40 = 500 kWh (not total + T1 + T2)
    assert days[datetime(2026, 1, 11)] == pytest.approx(500.0)
    tariffs = {t.tariff: t.figures for t in result.tariffs}
    assert sorted(tariffs) == ["T1", "T2"]
    index = [p for p, _ in result.points].index(datetime(2026, 1, 11))
    assert tariffs["T1"][index].value == pytest.approx(320.0)  # 8.0 x 40
    assert tariffs["T2"][index].value == pytest.approx(180.0)  # 4.5 x 40


# --- archives by kind: daily-only, monthly with a reporting day -------------------------------------


async def test_daily_only_meter_in_a_building_east_of_utc(clickhouse, tmp_path) -> None:
    meters = [Meter("223R0006", "KARAT-Compact-2-223", "6", archives="day, integral")]
    # day records keyed at local midnight = 17:00 UTC the day before; each reads the counter at its end
    records = [rec("223R0006", DAY, INTEGRAL, datetime(2026, 1, 9), 50.0),
               rec("223R0006", DAY, INTEGRAL, datetime(2026, 1, 10), 52.5)]
    world = await _world(clickhouse, tmp_path, meters, records)
    result = await world.svc.accounting.premise_consumption(world.token, world.premises["6"], Resource.HEAT,
                                                            Granularity.DAY, JAN)
    days = dict(result.points)
    assert days[datetime(2026, 1, 10)] == pytest.approx(2.5)  # 52.5 - 50.0, from the daily archive
    assert result.figures[-1].derived is False
    assert days[datetime(2026, 1, 9)] is None  # no reading at its start: «–*»


async def test_monthly_archive_by_the_reporting_day(clickhouse, tmp_path) -> None:
    meters = [Meter("223R0007", "KARAT-Compact-2-223", "8", archives="month, integral", reporting_day=25)]
    # the month records of January (Jan 25 - Feb 25) and February (Feb 25 - Mar 25), keyed by their start
    records = [rec("223R0007", MONTH, INTEGRAL, datetime(2026, 1, 25), 100.0),
               rec("223R0007", MONTH, INTEGRAL, datetime(2026, 2, 25), 130.0)]
    world = await _world(clickhouse, tmp_path, meters, records)
    result = await world.svc.accounting.premise_consumption(world.token, world.premises["8"], Resource.HEAT,
                                                            Granularity.MONTH, JAN)
    months = dict(result.points)
    assert months[datetime(2026, 2, 1)] == pytest.approx(30.0)  # 130.0 - 100.0: February Feb 25 - Mar 25
    assert months[datetime(2026, 1, 1)] is None  # December's record is not there
    archive = await world.svc.accounting.meter_archive(world.token, world.meters["223R0007"], 1, Granularity.MONTH,
                                                       JAN)
    assert {r.period.month: r.values["Q"] for r in archive.rows if r.values["Q"] is not None} == {1: 100.0, 2: 130.0}
    assert archive.derived_from is None


async def test_days_derived_from_hourly_interval_archive_are_marked(clickhouse, tmp_path) -> None:
    meters = [Meter("926R0003", "KARAT-926LW", "9", archives="hour, interval")]
    world = await _world(clickhouse, tmp_path, meters,
                         hourly("926R0003", datetime(2026, 1, 10), 24, lambda h: 0.05, INTERVAL, parameter="V"))
    archive = await world.svc.accounting.meter_archive(world.token, world.meters["926R0003"], 1, Granularity.DAY,
                                                       JAN)
    rows = {r.period.day: r.values["V"] for r in archive.rows}
    assert archive.derived_from == "hour"
    assert archive.nature == "interval"
    assert rows[10] == pytest.approx(1.2)  # 24 x 0.05 m3
    assert rows[11] is None
