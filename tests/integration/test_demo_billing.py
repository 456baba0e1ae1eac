"""The demo's billing centre (domuchet/demo_billing.py): its book made from the building's own meters
shows every case of manual 4.4.2 in the first protocol, and the centre is registered once.

On the seeded building (tests.cloud_data): premises 1 and 2 with accounts TEST-0001 and TEST-0002, each a
Compact-2-223 with channels cold water, heat and hot water, so the book's lines are, in order,
(TEST-0001, 223T0001, cold_water|heat|hot_water), (TEST-0002, 223T0002, cold_water|heat|hot_water).
demo_book leaves out the first account, gives the first line left (223T0002 cold water) another
serial and the second (heat) another resource, and adds a device of its own; ``book`` keys a reading
of 999,999 in at the centre for the last device (223T0002 hot water). The seed keeps heat archives
only: the test stores a day record of each water channel of 223T0002 (the day before NOW).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from domuchet import demo_billing
from protocol.vocabulary import ArchiveKind
from simulators.billing_centre import BillingCentre
from tests import cloud_data
from tests import support_register as sr


async def test_the_demo_centre_shows_every_reconciliation_case_and_is_registered_once(
        clickhouse: ClickHouse, tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    sr.store(clickhouse, seeded.company_id, [
        sr.record("223T0002", ArchiveKind.DAY, datetime(2026, 1, 12), 12.5, channel=2, parameter="V"),
        sr.record("223T0002", ArchiveKind.DAY, datetime(2026, 1, 12), 30.25, channel=3, parameter="V")])
    lines = demo_billing.book_lines(registry, seeded.building_id)
    account = [a for a, _, _ in lines]
    assert [(s, r) for _, s, r in lines] == [(serial, resource) for serial in ("223T0001", "223T0002")
                                             for resource in ("cold_water", "heat", "hot_water")]
    book = demo_billing.book(lines)
    assert account[0] not in book["accounts"]  # «ЛС отсутствует в РИЦ»
    devices = book["accounts"][account[3]]
    assert [(d["serial"], d["resource"]) for d in devices] == [
        ("223T0002-РИЦ", "cold_water"), ("223T0002", "cold_water"), ("223T0002", "hot_water"),
        ("EXTRA4", "electricity")]
    assert book["last"] == {"D00003": {"T1": 999_999.0}}

    centre = BillingCentre(book, lambda: cloud_data.NOW.date())
    await centre.start()
    try:
        assert demo_billing.register_centre(registry, seeded.building_id, f"http://127.0.0.1:{centre.port}",
                                            date(2026, 1, 31)) is True
        assert demo_billing.register_centre(registry, seeded.building_id, "http://127.0.0.1:1",
                                            date(2026, 1, 31)) is False  # a demo started again
        row = registry.one("SELECT id, submission_day FROM billing_centres")
        assert row["submission_day"] == 28  # the 31st: a month's submission day is 1..28
        services = Services.create(registry, clickhouse)
        services.set_clock(lambda: cloud_data.NOW)
        disp = (await services.auth.login("disp", cloud_data.PASSWORDS["disp"])).token
        run = await services.billing.run_now(disp, row["id"])
        assert (run.state, run.status) == ("finished", "errors")
        accounts = await services.billing.run_items(disp, run.id, "account")
        assert [(i.account, i.code) for i in accounts] == [(account[0], "account_unknown")]
        devices_failed = await services.billing.run_items(disp, run.id, "device")
        # cold water: 223T0002 is under cold water at the centre too (the heat line's) and matches
        assert [(i.serial, i.resource, i.code) for i in devices_failed] == [
            ("223T0002", "heat", "serial_other_resource")]
        rejected = await services.billing.run_items(disp, run.id, "rejected")
        assert [(i.serial, i.resource, i.code) for i in rejected] == [("223T0002", "hot_water", "lower_than_previous")]
        accepted = await services.billing.run_items(disp, run.id, "accepted")
        assert [(i.serial, i.resource) for i in accepted] == [("223T0002", "cold_water")]
        # the day record of 12.01 reads the counter at the end of that day: 30.25 m³ on 13.01
        assert (accepted[0].payload["values"], accepted[0].payload["reading_date"]) == ({"T1": 30.25}, "2026-01-13")
    finally:
        await centre.close()


def test_with_three_premises_the_other_serial_and_the_other_resource_fall_on_two_of_them() -> None:
    """Lines of accounts A, B, C, each a meter of cold and hot water: dealt one account after another
    (A cw, B cw, C cw, A hw, B hw, C hw); A is left out, B's cold water gets another serial, C's cold
    water another resource (hot water), so «№ ПУ не найден» is B's and «другой ресурс» C's."""
    lines = [(a, f"S{a}", r) for a in "ABC" for r in ("cold_water", "hot_water")]
    made = demo_billing.book(lines)
    assert "A" not in made["accounts"]
    assert [(d["serial"], d["resource"]) for d in made["accounts"]["B"]] == [
        ("SB-РИЦ", "cold_water"), ("SB", "hot_water"), ("EXTRA5", "electricity")]
    assert [(d["serial"], d["resource"]) for d in made["accounts"]["C"]] == [("SC", "hot_water"), ("SC", "hot_water")]
