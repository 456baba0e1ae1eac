"""The service layer over a real registry and chDB: scope, sessions, consumption figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from cloud.services.container import Services
from cloud.services.models import AuthError, Figure, Granularity, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.vocabulary import Resource
from tests import cloud_data


@pytest.fixture
def services(clickhouse: ClickHouse, tmp_path: Path) -> tuple[Services, cloud_data.Seeded, Registry]:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    return Services.create(registry, clickhouse), seeded, registry


async def test_building_consumption_by_days(services) -> None:
    svc, seeded, _ = services
    token = (await svc.auth.login("disp", "disp-pass")).token
    result = await svc.accounting.building_consumption(token, seeded.building_id, Resource.HEAT, Granularity.DAY,
                                                       date(2026, 1, 1))
    by_day = {p.period.day: p for p in result.points}
    assert result.unit == "Gcal"
    # Jan 10 needs the reading at the end of Jan 9, which does not exist: missing, not invented
    assert by_day[10].building is None
    assert by_day[10].apartments is None
    # Jan 11: apartment 2's closing reading is missing -> partial sum of apartment 1 only
    assert by_day[11].building == pytest.approx(0.84)
    assert by_day[11].apartments == pytest.approx(0.24)
    assert by_day[11].apartments_complete is False
    # 24 h x 0.01 = 0.24 known of two meters; days derived from the hourly archives the meters give
    assert by_day[11].apartments_figure == Figure(pytest.approx(0.24), expected=2, known=1, derived=True)
    assert by_day[11].building_complete is True
    assert by_day[11].imbalance is None
    assert result.derived_from == ("hour",)
    # Jan 12: apartment 2's opening reading is the missing one
    assert by_day[12].apartments_complete is False
    assert max(by_day) == 12  # no periods after the newest data
    assert min(by_day) == 10  # nor before the first archive
    assert result.has_building_meter
    assert result.has_apartment_meters


async def test_premise_with_its_sole_meter_missing(services) -> None:
    svc, seeded, _ = services
    token = (await svc.auth.login("disp", "disp-pass")).token
    premise = next(p for p in await svc.accounting.premises(token, seeded.building_id) if p.number == "2")
    result = await svc.accounting.premise_consumption(token, premise.id, Resource.HEAT, Granularity.DAY,
                                                      date(2026, 1, 1))
    days = {p.day: (v, f) for (p, v), f in zip(result.points, result.figures, strict=True)}
    # apartment 2's only meter misses the reading at the end of Jan 11: Jan 11 and 12 are «–*»
    assert days[11] == (None, Figure(None, expected=1, known=0))
    assert days[12][0] is None
    assert days[10][0] is None  # no reading at the start of Jan 10
    assert result.tariffs == ()  # heat has no tariff zones


async def test_hourly_archive_of_a_meter(services) -> None:
    svc, seeded, _ = services
    token = (await svc.auth.login("disp", "disp-pass")).token
    meters = await svc.accounting.meters(token, seeded.building_id)
    apt2 = next(m for m in meters if m.serial == "223T0002")
    archive = await svc.accounting.meter_archive(token, apt2.id, 1, Granularity.HOUR, date(2026, 1, 11))
    assert len(archive.rows) == 24
    assert archive.rows[0].values["Q"] == pytest.approx(100 + 0.02 * 25)
    assert archive.rows[23].values["Q"] is None  # the missing record stays missing


async def test_other_company_is_invisible(services) -> None:
    svc, seeded, _ = services
    token = (await svc.auth.login("disp", "disp-pass")).token
    assert [b.address for b in await svc.accounting.buildings(token)] == ["ул. Тестовая, 1"]
    with pytest.raises(NotFound):
        await svc.accounting.building(token, seeded.other_building_id)
    with pytest.raises(NotFound):
        await svc.accounting.building_consumption(token, seeded.other_building_id, Resource.HEAT, Granularity.DAY,
                                                  date(2026, 1, 1))


async def test_login_errors_and_session_expiry(services) -> None:
    svc, _, registry = services
    with pytest.raises(AuthError):
        await svc.auth.login("disp", "wrong")
    with pytest.raises(AuthError):
        await svc.auth.login("nobody", "disp-pass")
    session = await svc.auth.login("disp", "disp-pass")
    assert session.expires_at - datetime.now(UTC) <= timedelta(hours=24)
    assert (await svc.auth.user(session.token)).login == "disp"
    with registry.connect() as db:  # a day later
        db.execute("UPDATE sessions SET expires_at = ?", ((datetime.now(UTC) - timedelta(seconds=1)).isoformat(),))
    with pytest.raises(AuthError):
        await svc.auth.user(session.token)
    session = await svc.auth.login("disp", "disp-pass")
    await svc.auth.logout(session.token)
    with pytest.raises(AuthError):
        await svc.auth.user(session.token)


async def test_administrator_has_no_accounting(services) -> None:
    svc, _, _ = services
    token = (await svc.auth.login("admin", "admin-pass")).token
    with pytest.raises(NotFound):
        await svc.accounting.buildings(token)


async def test_a_page_never_opens_on_a_new_month_with_only_its_first_hours(services) -> None:
    svc, seeded, _ = services
    token = (await svc.auth.login("disp", "disp-pass")).token
    # the seeded archive ends with the hour 2026-01-12 23:00 local: a whole day, the page opens on it
    assert await svc.accounting.default_period(token, seeded.building_id) == date(2026, 1, 12)
    # the building meter reads on into 1 February 05:00 local (02:00 UTC): the new month has five hours;
    # a page opening there would show an empty month, so the default stays on 31 January
    feb = datetime(2026, 2, 1, 2, tzinfo=UTC)
    svc.accounting.ch.insert_archive_sync(
        [(seeded.company_id, "test", "307T0001", 1, "hour", "integral", "Q", feb.replace(tzinfo=None), 200.0, 0, 1,
          feb, 99)], "test:first-of-month")
    assert await svc.accounting.default_period(token, seeded.building_id) == date(2026, 1, 31)
