"""Pages «Расчётные центры» (/settings/billing-centres) and «Протоколы выгрузки» (/billing/runs,
/billing/runs/{id}) as a user sees them (NiceGUI's simulated user over the real services, registry,
chDB and the billing-centre simulator; the world of tests/support_billing.py): a dispatcher adds a
centre, exports now and reads the protocol (figures, the four lists, the package and the centre's
error); readers read only; administrators are refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from nicegui.testing import User

from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from simulators.billing_centre import BillingCentre
from tests import cloud_data
from tests import support_billing as support
from tests.ui.conftest import login as ui_login

MAIN = pytest.mark.nicegui_main_file("tests/ui/ui_main.py")


@pytest.fixture(autouse=True)
def wiring(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed attempt is retried at once (the services tests/ui/ui_main.py builds wait seconds)."""
    original = Services.create.__func__  # type: ignore[attr-defined]

    def create(cls: type[Services], registry: Registry, clickhouse: ClickHouse, *args: Any, **kwargs: Any) -> Services:
        services = original(cls, registry, clickhouse, *args, **kwargs)
        services.billing.engine.backoff_seconds = 0.01
        return services
    monkeypatch.setattr(Services, "create", classmethod(create))


@pytest.fixture
async def world(seeded: cloud_data.Seeded, ui_registry: Registry,
                clickhouse: ClickHouse) -> AsyncIterator[tuple[cloud_data.Seeded, BillingCentre]]:
    support.export_world(ui_registry, clickhouse, seeded)
    centre = BillingCentre(support.book(), support.today)
    await centre.start()
    yield seeded, centre
    await centre.close()


async def _open(user: User, path: str, login: str = "disp") -> None:
    await ui_login(user, login, cloud_data.PASSWORDS[login])
    await user.should_see(marker="logout")
    await user.open(path)


def _set(user: User, marker: str, value: Any) -> None:
    element = next(iter(user.find(marker=marker).elements))
    assert user.client is not None
    with user.client:
        element.value = value


async def _eventually(condition: Callable[[], bool], seconds: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "it did not happen"
        await asyncio.sleep(0.05)


@MAIN
async def test_a_dispatcher_sets_up_a_centre_exports_and_reads_the_protocol(world, ui_registry: Registry,
                                                                             user: User) -> None:
    seeded, centre = world
    await _open(user, "/settings/billing-centres")
    await user.should_see("Расчётные центры")
    await user.should_see("РИЦ не настроены.")
    user.find(marker="centre-add").click()
    await user.should_see(marker="centre-form")
    _set(user, "centre-name", "РИЦ Казань")
    _set(user, "centre-url", f"http://127.0.0.1:{centre.port}")
    _set(user, "centre-token", support.TOKEN)
    _set(user, "centre-day", 20)
    _set(user, "centre-buildings", [seeded.building_id])
    user.find(marker="centre-save").click()
    await user.should_see("сдача показаний 20-го числа")
    await user.should_see("…1234")
    await user.should_not_see(support.TOKEN)
    centre_id = ui_registry.one("SELECT id FROM billing_centres")["id"]
    user.find(marker=f"centre-run-{centre_id}").click()
    await _eventually(lambda: ui_registry.one("SELECT count(*) AS n FROM billing_runs WHERE state = 'finished'")["n"]
                      == 1)
    run_id = ui_registry.one("SELECT id FROM billing_runs")["id"]

    await user.open("/billing/runs")
    await user.should_see("Протоколы выгрузки")
    await user.should_see(marker=f"run-row-{run_id}")
    await user.should_see("завершен с ошибками")
    await user.should_see("интеграция завершена")

    await user.open(f"/billing/runs/{run_id}")
    await user.should_see("Протокол выгрузки № " + str(run_id))
    figures = {k: next(iter(user.find(marker=f"run-s-{k}").elements)).text
               for k in ("premises", "with_account", "account_failures", "first_time", "relinked", "sent", "errors")}
    assert figures == {"premises": "8", "with_account": "7",
                       "account_failures": "2 (ЛС отсутствует в РИЦ: 1, ЛС не указан: 1)", "first_time": "4",
                       "relinked": "0", "sent": "Отопление: 1", "errors": "Отопление: 1"}
    await user.should_see("Аккаунты (2)")
    await user.should_see("ЛС не указан")
    user.find(marker="run-tab-rejected").click()
    await user.should_see("показание меньше переданного ранее (500)")
    rejected = ui_registry.one("SELECT id FROM billing_run_items WHERE code = 'lower_than_previous'")["id"]
    user.find(marker=f"run-answer-{rejected}").click()
    await user.should_see(marker="run-answer-dialog")
    accepted = ui_registry.one("SELECT id FROM billing_run_items WHERE answer = 'accepted'")["id"]
    user.find(marker="run-tab-accepted").click()
    user.find(marker=f"run-package-{accepted}").click()
    await user.should_see(marker="run-package-dialog")
    user.find(marker="run-retry").click()
    await _eventually(lambda: ui_registry.one("SELECT count(*) AS n FROM billing_runs")["n"] == 2)


@MAIN
async def test_readers_read_and_administrators_are_refused(world, ui_registry: Registry, user: User) -> None:
    seeded, _centre = world
    with ui_registry.connect() as db:
        centre_id = db.execute("INSERT INTO billing_centres (company_id, name, url, token, submission_day) "
                               "VALUES (?, 'РИЦ', 'http://127.0.0.1:1', 'tok-abcdefgh', 5)",
                               (seeded.company_id,)).lastrowid
        db.execute("INSERT INTO billing_runs (centre_id, company_id, period, trigger, state, status, created_at, "
                   "started_at, finished_at, attempts, reason) VALUES (?, ?, '2026-01', 'schedule', 'finished', "
                   "'failed', '2026-01-05T09:00:00+00:00', '2026-01-05T09:00:00+00:00', "
                   "'2026-01-05T09:01:05+00:00', 3, 'РИЦ недоступен')", (centre_id, seeded.company_id))
    await _open(user, "/settings/billing-centres", login="reader")
    await user.should_see("РИЦ настраивает диспетчер")
    await user.should_see("…efgh")
    await user.should_not_see(marker="centre-add")
    await user.should_not_see(marker=f"centre-run-{centre_id}")
    await user.open("/billing/runs")
    await user.should_see("завершен провалом")
    await user.should_see("1:05")
    await user.open("/billing/runs/1")
    await user.should_see("РИЦ недоступен")
    # 25 protocols: 20 on the first page (newest first), the pages at the bottom, the oldest on page 2
    with ui_registry.connect() as db:
        for _ in range(24):
            db.execute("INSERT INTO billing_runs (centre_id, company_id, period, trigger, state, created_at) "
                       "VALUES (?, ?, '2026-01', 'manual', 'waiting', '2026-01-06T09:00:00+00:00')",
                       (centre_id, seeded.company_id))
    await user.open("/billing/runs")
    await user.should_see(marker="bruns-pages")
    await user.should_see(marker="run-row-25")
    await user.should_not_see(marker="run-row-1")
    await user.should_see("ожидание начала выгрузки")
    await user.open("/billing/runs?page=2")
    await user.should_see(marker="run-row-1")
    await user.should_not_see(marker="run-row-25")
    await user.should_not_see(marker="run-retry")
    await user.open("/billing/runs/999")
    await user.should_see("Такого протокола нет.")


@MAIN
async def test_administrators_are_refused(world, user: User) -> None:
    await _open(user, "/billing/runs", login="admin")
    await user.should_see("Нет доступа")
    await user.open("/settings/billing-centres")
    await user.should_see("Нет доступа")


