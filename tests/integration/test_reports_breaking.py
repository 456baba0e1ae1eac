"""Breaking the finished reports as the people who rely on them would (slice H7), over a real registry
and chDB, read back from the XLSX. Every expected figure is worked out by hand from the archive rows
stored here; the comments carry the arithmetic.

The seeded building (tests.cloud_data, Europe/Moscow): building meter 307T0001, apartment 1 (50 m²,
223T0001) and apartment 2 (70 m², 223T0002), both apartment meters with reporting day 1 here.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from cloud.reports.service import xlsx_in_memory
from cloud.services.balance_groups import GroupDraft
from cloud.services.models import InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc
from protocol.vocabulary import ArchiveKind, Nature, Resource
from protocol.wire import ArchiveRecord
from tests import support_register as sr
from tests import support_reports_balance as support

MONTH, DAY = sr.MONTH, sr.DAY
d = datetime


@pytest.fixture
def world(clickhouse: ClickHouse, tmp_path: Path) -> support.World:
    return support.norms_world(Registry(tmp_path / "registry.db"), clickhouse)


def _months(world: support.World) -> None:
    """Month records (keyed at the start of the period, read at its end):
    223T0001: Oct 10.0, Nov 11.5, Dec 13.25 -> Nov 1.5, Dec 1.75
    223T0002: Oct 20.0, Nov 22.0, Dec 25.0  -> Nov 2.0, Dec 3.0
    307T0001 day records Oct 31 300.0, Nov 30 304.5, Dec 31 309.0 -> Nov 4.5, Dec 4.5"""
    sr.set_archives(world.registry, ("223T0001", "223T0002", "307T0001"), "hour, day, month, integral",
                    reporting_day=1)
    sr.store(world.clickhouse, world.seeded.company_id, [
        sr.record("223T0001", MONTH, d(2025, 10, 1), 10.0), sr.record("223T0001", MONTH, d(2025, 11, 1), 11.5),
        sr.record("223T0001", MONTH, d(2025, 12, 1), 13.25),
        sr.record("223T0002", MONTH, d(2025, 10, 1), 20.0), sr.record("223T0002", MONTH, d(2025, 11, 1), 22.0),
        sr.record("223T0002", MONTH, d(2025, 12, 1), 25.0),
        sr.record("307T0001", DAY, d(2025, 10, 31), 300.0), sr.record("307T0001", DAY, d(2025, 11, 30), 304.5),
        sr.record("307T0001", DAY, d(2025, 12, 31), 309.0)])


async def _balance(world: support.World) -> dict[object, list[object]]:
    disp = await support.token(world, "disp")
    report = await world.services.reports.report(disp, "building_balance", {
        "building": str(world.seeded.building_id), "resource": "heat", "first": "2025-11", "last": "2025-12"})
    _, rows = support.table(support.workbook_rows(report)["По месяцам"], "Месяц")
    return {k: [c[0] for c in row] for k, row in support.by_first(rows).items()}


def _expect_hand_figures(months: dict[object, list[object]]) -> None:
    # ИПУ Nov 1.5 + 2.0 = 3.5, Dec 1.75 + 3.0 = 4.75; ОДПУ 4.5 and 4.5; totals 8.25 and 9.0
    assert months["ноябрь 2025"][3:5] == [pytest.approx(4.5), pytest.approx(3.5)]
    assert months["декабрь 2025"][3:5] == [pytest.approx(4.5), pytest.approx(4.75)]
    assert months["Итого"][3:5] == [pytest.approx(9.0), pytest.approx(8.25)]


async def test_a_device_with_a_wrong_clock_neither_crashes_nor_counts(world: support.World) -> None:
    _months(world)
    # a month record at 03:17 inside November (not a period start) and one dated 2106 (a device
    # whose clock jumped; 2106-01-01 still fits the archive's 32-bit seconds): neither is a reading
    # of any month of the balance, so the hand figures stay as they are
    sr.store(world.clickhouse, world.seeded.company_id, [
        sr.record("223T0001", MONTH, d(2025, 11, 1, 3, 17), 777.0),
        sr.record("223T0002", MONTH, d(2106, 1, 1), 888.0),
        sr.record("307T0001", DAY, d(2025, 11, 30, 5, 0), 999.0)])
    _expect_hand_figures(await _balance(world))


async def test_another_companys_archive_under_the_same_serials_stays_out(world: support.World) -> None:
    _months(world)
    other = world.registry.one("SELECT company_id FROM buildings WHERE id = ?", world.seeded.other_building_id)
    assert other is not None
    assert other["company_id"] != world.seeded.company_id
    # the other company's devices carry the very same serials and periods, with other readings;
    # written after ours (a newer version of the same archive key)
    sr.store(world.clickhouse, other["company_id"], [
        sr.record("223T0001", MONTH, d(2025, 11, 1), 500.0), sr.record("223T0001", MONTH, d(2025, 12, 1), 900.0),
        sr.record("223T0002", MONTH, d(2025, 12, 1), 1.0),
        sr.record("307T0001", DAY, d(2025, 11, 30), 1.0)])
    _expect_hand_figures(await _balance(world))


async def test_a_day_record_of_2106_does_not_reach_the_meter_card(world: support.World) -> None:
    _months(world)
    start = int(d(2106, 1, 1).timestamp())
    sr.store(world.clickhouse, world.seeded.company_id, [
        ArchiveRecord("307T0001", 1, ArchiveKind.DAY, Nature.INTEGRAL, start, {"Q": 5000.0}, received_at=start)])
    disp = await support.token(world, "disp")
    ids = sr.meter_ids(world.registry)
    report = await world.services.reports.report(disp, "meter_card", {
        "building": str(world.seeded.building_id), "meter": str(ids["307T0001"]), "first": "2026-01-01",
        "last": "2026-01-10", "mode": "heat_and_hot_water"})
    sheets = support.workbook_rows(report)
    for title in ("Суточные значения", "Интегральные", "Итоги"):
        values = [c[0] for row in sheets[title] for c in row]
        assert 5000.0 not in values, title
    # the integral values of the previous month (December) are the day records that close Nov 30
    # (304.5, its start) and Dec 31 (309.0, its end), not the 2106 record
    integral = [c[0] for row in sheets["Интегральные"] for c in row]
    assert 304.5 in integral
    assert 309.0 in integral


async def test_a_clerk_recomputes_the_ipu_sum_from_the_archive_rows(world: support.World) -> None:
    """Meters of different reporting days, a premise with two meters, an excluded meter (4.6.5):
    223T0001 (apt 1, day 1):  Oct 10.0, Nov 11.5, Dec 13.25           -> Nov 1.5, Dec 1.75
    223T0003 (apt 1, day 1):  Oct 1.0,  Nov 1.25, Dec 2.0             -> Nov 0.25, Dec 0.75
    223T0002 (apt 2, day 15): Oct 15 20.0, Nov 15 22.0, Dec 15 24.5   -> Nov 2.0, Dec 2.5
    223T0004 (apt 3, day 1, excluded): Oct 0.0, Nov 100.0, Dec 200.0  -> left out
    ИПУ: Nov 1.5 + 0.25 + 2.0 = 3.75, Dec 1.75 + 0.75 + 2.5 = 5.0, total 8.75
    per premise: apt 1 1.5 + 1.75 + 0.25 + 0.75 = 4.25, apt 2 2.0 + 2.5 = 4.5; 4.25 + 4.5 = 8.75"""
    registry, seeded = world.registry, world.seeded
    sr.set_archives(registry, ("223T0001", "307T0001"), "hour, day, month, integral", reporting_day=1)
    sr.set_archives(registry, ("223T0002",), "hour, day, month, integral", reporting_day=15)
    p1 = registry.one("SELECT id FROM premises WHERE building_id = ? AND number = '1'", seeded.building_id)
    assert p1 is not None
    sr.add_meter(registry, seeded.building_id, p1["id"], "223T0003")
    p3 = sr.add_premise(registry, seeded.building_id, "3")
    excluded = sr.add_meter(registry, seeded.building_id, p3, "223T0004")
    sr.store(world.clickhouse, seeded.company_id, [
        sr.record("223T0001", MONTH, d(2025, 10, 1), 10.0), sr.record("223T0001", MONTH, d(2025, 11, 1), 11.5),
        sr.record("223T0001", MONTH, d(2025, 12, 1), 13.25),
        sr.record("223T0003", MONTH, d(2025, 10, 1), 1.0), sr.record("223T0003", MONTH, d(2025, 11, 1), 1.25),
        sr.record("223T0003", MONTH, d(2025, 12, 1), 2.0),
        sr.record("223T0002", MONTH, d(2025, 10, 15), 20.0), sr.record("223T0002", MONTH, d(2025, 11, 15), 22.0),
        sr.record("223T0002", MONTH, d(2025, 12, 15), 24.5),
        sr.record("223T0004", MONTH, d(2025, 10, 1), 0.0), sr.record("223T0004", MONTH, d(2025, 11, 1), 100.0),
        sr.record("223T0004", MONTH, d(2025, 12, 1), 200.0),
        sr.record("307T0001", DAY, d(2025, 10, 31), 300.0), sr.record("307T0001", DAY, d(2025, 11, 30), 304.5),
        sr.record("307T0001", DAY, d(2025, 12, 31), 309.0)])
    disp = await support.token(world, "disp")
    await world.services.balance.set_balance_signs(disp, seeded.building_id, [(excluded, "excluded")])
    report = await world.services.reports.report(disp, "building_balance", {
        "building": str(seeded.building_id), "resource": "heat", "first": "2025-11", "last": "2025-12"})
    sheets = support.workbook_rows(report)
    _, rows = support.table(sheets["По месяцам"], "Месяц")
    months = {k: [c[0] for c in row] for k, row in support.by_first(rows).items()}
    assert months["ноябрь 2025"][4] == pytest.approx(3.75)
    assert months["декабрь 2025"][4] == pytest.approx(5.0)
    assert months["Итого"][4] == pytest.approx(8.75)
    assert months["Итого"][4] == pytest.approx(months["ноябрь 2025"][4] + months["декабрь 2025"][4])
    _, rows = support.table(sheets["По помещениям"], "Помещение")
    premises = {k: [c[0] for c in row] for k, row in support.by_first(rows).items()}
    assert premises["1"][4] == "223T0001, 223T0003"
    assert premises["1"][5] == pytest.approx(4.25)
    assert premises["2"][5] == pytest.approx(4.5)
    shown = [v for k, v in premises.items() if k != "Итого"]
    # the totals row is the sum of the rows shown: figures, areas and residents alike
    assert premises["Итого"][5] == pytest.approx(sum(r[5] or 0 for r in shown)) == pytest.approx(8.75)
    assert premises["Итого"][2] == pytest.approx(sum(r[2] for r in shown))
    assert premises["Итого"][3] == sum(r[3] for r in shown)


async def test_a_twin_company_with_the_same_address_and_serials_stays_out(world: support.World) -> None:
    # the other company renames its building to our address and registers a meter with our serial;
    # every company-wide list and every object of theirs stays out of our reports
    registry, seeded = world.registry, world.seeded
    with registry.connect() as db:
        db.execute("UPDATE buildings SET address = 'ул. Тестовая, 1' WHERE id = ?", (seeded.other_building_id,))
    twin = sr.add_meter(registry, seeded.other_building_id, None, "307T0001", model="KARAT-307")
    disp = await support.token(world, "disp")
    reports = world.services.reports
    ours = await reports.report(disp, "channel_composition", {"building": str(seeded.building_id)})
    everything = await reports.report(disp, "channel_composition", {})
    assert everything.as_json()["sheets"][0]["rows"] == ours.as_json()["sheets"][0]["rows"]
    for key in ("channel_verification", "meter_verification"):
        one = (await reports.report(disp, key, {"building": str(seeded.building_id)})).as_json()
        every = (await reports.report(disp, key, {})).as_json()
        assert every["sheets"][0]["rows"] == one["sheets"][0]["rows"], key
    other = str(seeded.other_building_id)
    for key, raw in (("building_balance", {"building": other, "resource": "heat"}),
                     ("channel_changes", {"first": "2025-01-01", "last": "2026-01-01", "building": other}),
                     ("power_operations", {"building": other, "first": "2025-01-01", "last": "2026-01-01"}),
                     ("channel_verification_act", {"building": other})):
        with pytest.raises(NotFound):
            await reports.report(disp, key, raw)
    for raw in ({"building": other, "meter": str(twin)}, {"building": str(seeded.building_id), "meter": str(twin)}):
        with pytest.raises(NotFound):  # the twin meter, whether asked under its building or ours
            await reports.report(disp, "meter_card", {**raw, "first": "2026-01-10", "last": "2026-01-10",
                                                      "mode": "heat_and_hot_water"})
        with pytest.raises(NotFound):
            await reports.report(disp, "channel_verification_act", raw)


async def test_a_group_or_premise_of_another_building_is_refused(world: support.World) -> None:
    registry, seeded = world.registry, world.seeded
    with registry.connect() as db:
        empty = db.execute(  # a second building of our company, with no meters and no premises
            "INSERT INTO buildings (company_id, site, address, city, time_zone, area_m2, residents) "
            "SELECT company_id, 'empty', 'ул. Пустая, 3', city, time_zone, 0, 0 FROM buildings WHERE id = ?",
            (seeded.building_id,)).lastrowid
    premise = registry.one("SELECT id FROM premises WHERE building_id = ? AND number = '1'", seeded.building_id)
    assert premise is not None
    root = sr.add_meter(registry, seeded.building_id, None, "941B0001", model="KARAT-941LW")
    member = sr.add_meter(registry, seeded.building_id, premise["id"], "941A0001", model="KARAT-941LW")
    disp = await support.token(world, "disp")
    group = await world.services.balance_groups.create(disp, seeded.building_id, GroupDraft(
        "Ввод 1", Resource.ELECTRICITY, root, ((member, "+"),)))
    reports = world.services.reports
    with pytest.raises(NotFound, match="group"):
        await reports.report(disp, "phase_balance", {"building": str(empty), "group": str(group.id),
                                                     "first": "2025-12-30", "last": "2026-01-02"})
    with pytest.raises(InvalidInput, match="premise"):
        await reports.report(disp, "power_operations", {"kind": "premise", "building": str(empty),
                                                        "premise": str(premise["id"]), "first": "2025-01-01",
                                                        "last": "2026-01-01"})
    with pytest.raises(InvalidInput, match="meter"):
        await reports.report(disp, "channel_verification_act", {"building": str(empty), "meter": str(root)})
    # the empty building itself: every report is made, with no rows rather than an error
    for key, raw in (("building_balance", {"resource": "heat", "first": "2025-11", "last": "2025-12"}),
                     ("channel_composition", {}), ("channel_verification_act", {}),
                     ("channel_changes", {"first": "2025-12-31", "last": "2025-12-31"}),
                     ("channel_verification", {}), ("meter_verification", {})):
        report = await reports.report(disp, key, {**raw, "building": str(empty)})
        assert xlsx_in_memory(report)[:2] == b"PK", key
    # a period across a year end and a leap day (2024-02-29) on the group
    report = await reports.report(disp, "phase_balance", {"building": str(seeded.building_id),
                                                          "group": str(group.id), "first": "2024-02-28",
                                                          "last": "2024-03-01"})
    days = [row[0] for row in report.sheets[0].materialised()]
    assert days[:3] == [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]


async def test_a_meter_replaced_mid_month_counts_both_serials_in_their_service_periods(world: support.World) -> None:
    """Apartment 2's 223T0002 (day 1) is taken off on Dec 10 (00:00 local) with a final reading of 23.0;
    223T0005 is put on at the same moment reading 0.5. Month records:
    223T0001: Oct 10.0, Nov 11.5, Dec 13.25 -> Nov 1.5, Dec 1.75
    223T0002: Oct 20.0, Nov 22.0 (its December never closes) -> Nov 2.0, Dec 23.0 - 22.0 = 1.0
    223T0005: Dec 1.5 (the end of December) -> Dec 1.5 - 0.5 = 1.0
    ИПУ: Nov 1.5 + 2.0 = 3.5; Dec 1.75 + 1.0 + 1.0 = 3.75 (complete: no –*); apartment 2: 2.0 + 1.0 + 1.0 = 4.0"""
    registry, seeded = world.registry, world.seeded
    sr.set_archives(registry, ("223T0001", "223T0002", "307T0001"), "hour, day, month, integral", reporting_day=1)
    p2 = registry.one("SELECT id FROM premises WHERE building_id = ? AND number = '2'", seeded.building_id)
    assert p2 is not None
    new = sr.add_meter(registry, seeded.building_id, p2["id"], "223T0005")
    moment = local_to_utc(d(2025, 12, 10), sr.TZ).isoformat()
    with registry.connect() as db:
        db.execute("UPDATE meters SET decommissioned_at = ?, final_readings = '{\"1:Q\": 23.0}', "
                   "status = 'decommissioned' WHERE serial = '223T0002'", (moment,))
        db.execute("UPDATE meters SET commissioned_at = ?, initial_readings = '{\"1:Q\": 0.5}' WHERE id = ?",
                   (moment, new))
    sr.store(world.clickhouse, seeded.company_id, [
        sr.record("223T0001", MONTH, d(2025, 10, 1), 10.0), sr.record("223T0001", MONTH, d(2025, 11, 1), 11.5),
        sr.record("223T0001", MONTH, d(2025, 12, 1), 13.25),
        sr.record("223T0002", MONTH, d(2025, 10, 1), 20.0), sr.record("223T0002", MONTH, d(2025, 11, 1), 22.0),
        sr.record("223T0005", MONTH, d(2025, 12, 1), 1.5),
        sr.record("307T0001", DAY, d(2025, 10, 31), 300.0), sr.record("307T0001", DAY, d(2025, 11, 30), 304.5),
        sr.record("307T0001", DAY, d(2025, 12, 31), 309.0)])
    disp = await support.token(world, "disp")
    report = await world.services.reports.report(disp, "building_balance", {
        "building": str(seeded.building_id), "resource": "heat", "first": "2025-11", "last": "2025-12"})
    sheets = support.workbook_rows(report)
    _, rows = support.table(sheets["По месяцам"], "Месяц")
    months = {k: [c for c in row] for k, row in support.by_first(rows).items()}
    assert months["ноябрь 2025"][4][0] == pytest.approx(3.5)
    assert months["декабрь 2025"][4][0] == pytest.approx(3.75)
    assert months["декабрь 2025"][4][1] == "0.000"  # not a partial sum
    _, rows = support.table(sheets["По помещениям"], "Помещение")
    premises = {k: [c[0] for c in row] for k, row in support.by_first(rows).items()}
    assert premises["2"][4] == "223T0002, 223T0005"
    assert premises["2"][5] == pytest.approx(4.0)


async def test_edges_of_the_ranges(world: support.World) -> None:
    registry, seeded = world.registry, world.seeded
    bare = sr.add_meter(registry, seeded.building_id, None, "307T0009", model="KARAT-307")
    with registry.connect() as db:  # a building meter registered without any channel
        db.execute("DELETE FROM meter_channels WHERE meter_id = ?", (bare,))
    disp = await support.token(world, "disp")
    reports, b = world.services.reports, str(seeded.building_id)
    # 24 months is the longest balance (Feb 2024 .. Jan 2026, across a leap February); 25 is refused
    report = await reports.report(disp, "building_balance", {"building": b, "resource": "heat",
                                                             "first": "2024-02", "last": "2026-01"})
    assert len(report.sheets[0].materialised()) == 24
    with pytest.raises(InvalidInput, match="24 months"):
        await reports.report(disp, "building_balance", {"building": b, "resource": "heat",
                                                        "first": "2024-01", "last": "2026-01"})
    # first = last, at the first month the registry knows (models.FIRST_DAY): one empty month, no error
    report = await reports.report(disp, "building_balance", {"building": b, "resource": "heat",
                                                             "first": "2000-01", "last": "2000-01"})
    assert [row[0] for row in report.sheets[0].materialised()] == ["январь 2000"]
    with pytest.raises(InvalidInput, match="first"):
        await reports.report(disp, "building_balance", {"building": b, "resource": "heat",
                                                        "first": "1999-12", "last": "2000-01"})
    # a meter with no channels: its card is refused with a reason, its act lists no channel rows
    with pytest.raises(InvalidInput):
        await reports.report(disp, "meter_card", {"building": b, "meter": str(bare), "first": "2026-01-10",
                                                  "last": "2026-01-10", "mode": "heat_and_hot_water"})
    act = await reports.report(disp, "channel_verification_act", {"building": b, "meter": str(bare)})
    assert xlsx_in_memory(act)[:2] == b"PK"


async def test_a_colleague_cannot_fetch_my_job_and_a_reader_may_make_reports(world: support.World) -> None:
    disp, reader = await support.token(world, "disp"), await support.token(world, "reader")
    reports = world.services.reports
    mine = await reports.start(disp, "channel_composition", {})
    with pytest.raises(NotFound):  # the same company's reader, holding my job's id
        await reports.job(reader, mine.id)
    with pytest.raises(NotFound):
        await reports.job_file(reader, mine.id)
    assert (await reports.wait(disp, mine.id)).state == "done"
    theirs = await reports.start(reader, "channel_composition", {})  # a report changes nothing: readers too
    assert (await reports.wait(reader, theirs.id)).state == "done"
    path, name = await reports.job_file(reader, theirs.id)
    assert path.read_bytes()[:2] == b"PK"
    assert name.endswith(".xlsx")
    assert [j.id for j in await reports.my_jobs(disp)] == [mine.id]
