"""Commissioning end to end from the engineer's phone (manual 4.5.2, 4.5.5; issue 14's test "an
engineer commissions a simulated Compact-2-223 through the UI, the edge starts polling it, archives
appear"). Every part is real: a nats-server with its MQTT listener, chDB, the registry, the cloud's
command bus and ingest on NiceGUI's loop (tests/ui/commission_main.py, on the real clock), an edge
agent and a simulated building whose second apartment's Compact-2-223 transmits unregistered
(tests/support_commission.py, set up as `domuchet demo` sets up its own).

The engineer adds the meter with the wizard, starts «Установка ПУ» at «ввод ПУ в эксплуатацию»,
completes it with today's date, and the automatic operations (availability test, passport check,
time service) run on the simulated device through the edge. Then the edge polls the meter from the
local midnight of the commissioning date and its hourly archives since then reach ClickHouse."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nicegui.elements.mixins.value_element import ValueElement
from nicegui.testing import User

from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from edge.agent import EdgeAgent
from edge.config import EdgeConfig
from protocol.periods import zone
from simulators.runner import SimulatedBuilding
from tests import support_commission as support
from tests.chaos.edge_support import until
from tests.conftest import free_port
from tests.ui.conftest import login as ui_login


@dataclass(frozen=True)
class Site:
    sim: SimulatedBuilding
    registry: Registry
    building_id: int


@pytest.fixture
def site(nats, clickhouse: ClickHouse, chdb_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    """The seeded registry and the simulated building; the DU_TEST_* variables commission_main reads
    (this fixture comes before ``user``, which runs the main file)."""
    sim = support.building(tmp_path, free_port(), nats.mqtt_port)
    registry = Registry(tmp_path / "registry.db")
    building_id = support.seed(registry, sim)
    monkeypatch.setenv("DU_TEST_CHDB_DSN", f"chdb://{chdb_path}")
    monkeypatch.setenv("DU_TEST_CHDB_DATABASE", clickhouse.database)
    monkeypatch.setenv("DU_TEST_REGISTRY", str(registry.path))
    monkeypatch.setenv("DU_TEST_NATS_URL", nats.url)
    return Site(sim, registry, building_id)


@contextlib.asynccontextmanager
async def edge_and_building(config: EdgeConfig, building: SimulatedBuilding) -> AsyncIterator[EdgeAgent]:
    """The edge first, then the simulator (the network server forwards only to a subscription that
    exists, as on a real site: the devices' first uplinks teach the edge their clocks)."""
    agent = EdgeAgent(config)
    stop, sim_stop = asyncio.Event(), asyncio.Event()
    edge = asyncio.create_task(agent.run(stop))
    sim: asyncio.Task | None = None
    with open(os.devnull, "w") as devnull:
        try:
            await until(lambda: agent.mqtt is not None and agent.mqtt.connected, 20, "the edge's MQTT session")
            sim = asyncio.create_task(building.run(devnull, sim_stop))
            yield agent
        finally:
            sim_stop.set()
            if sim is not None:
                await sim
            stop.set()
            await edge


def _set(user: User, marker: str, value: object) -> None:
    """Set a select's or input's value (the simulated user's click does not reach a q-select's options)."""
    element = user.find(marker=marker).elements.pop()
    assert isinstance(element, ValueElement)
    assert user.client is not None
    with user.client:
        element.value = value


async def _next(user: User, step: str) -> None:
    user.find(marker="wizard-next").click()
    await user.should_see(marker=f"wizard-step-{step}")


@pytest.mark.nicegui_main_file("tests/ui/commission_main.py")
async def test_engineer_commissions_a_simulated_compact_2_223(site: Site, nats, clickhouse: ClickHouse,
                                                               tmp_path: Path, user: User) -> None:
    sim, registry = site.sim, site.registry
    spare = support.spare(sim)
    serial = spare.meter_serial
    tz = zone(sim.scenario.building.time_zone)
    now = datetime.now(UTC).astimezone(tz)
    # the commissioning date: today; in the first hour of a local day, whose hour has not closed yet,
    # yesterday (an install may be commissioned on an earlier date than it began, 4.5.5)
    commissioned_on = now.date() if now.hour >= 1 else now.date() - timedelta(days=1)
    midnight = datetime(commissioned_on.year, commissioned_on.month, commissioned_on.day, tzinfo=tz)
    # the hours closed since that midnight, by the hour the test began: each must reach ClickHouse
    closed = int((now - midnight).total_seconds() // 3600)
    assert closed >= 1
    expected = {int((midnight + timedelta(hours=h)).timestamp()) for h in range(closed)}

    async with edge_and_building(support.edge(tmp_path, sim, nats.url), sim) as agent:
        assert agent.drivers.driver(serial) is None  # on the shelf: transmitting, unknown to the edge
        assert registry.one("SELECT count(*) AS n FROM meters WHERE serial = ?", serial)["n"] == 0

        # 1. the add-meter wizard, one step per screen
        await ui_login(user, support.ENGINEER.login, support.ENGINEER.password)
        await user.should_see("Мониторинг")
        await user.open("/service/meters/new")
        await user.should_see("Шаг 1 из 6")
        user.find(marker="wizard-role-individual-on").click()
        user.find(marker="wizard-model-KARAT-Compact-2-223").click()
        await user.should_see(marker="wizard-model-KARAT-Compact-2-223-on")
        await _next(user, "location")
        _set(user, "wizard-building", site.building_id)
        await user.should_see(marker="wizard-premise")
        premise = registry.one("SELECT id FROM premises WHERE building_id = ? AND number = ?", site.building_id,
                               spare.number)["id"]
        _set(user, "wizard-premise", premise)
        await _next(user, "barcode")
        user.find(marker="wizard-serial").type(serial)
        await _next(user, "line")
        await user.should_see(marker="wizard-line-builtin-on")  # the Compact-2's built-in LoRa module
        user.find(marker="wizard-dev_eui").type(spare.dev_eui.upper())
        await _next(user, "config")
        await user.should_see(marker="wizard-archives")
        _set(user, "wizard-archives", ["hour", "day", "month"])
        await _next(user, "review")
        await user.should_see(f"LoRaWAN {spare.dev_eui}")
        user.find(marker="wizard-confirm").click()
        await user.should_see(marker="wizard-confirm-dialog")
        user.find(marker="wizard-confirm-yes").click()
        await user.should_see(f"Прибор учёта {serial} добавлен")
        await user.should_see("Список приборов передан на сервер опроса")
        meter = registry.one("SELECT id, premise_id, model FROM meters WHERE serial = ?", serial)
        assert (meter["premise_id"], meter["model"]) == (premise, "KARAT-Compact-2-223")

        # 2. «Установка ПУ», started at «ввод ПУ в эксплуатацию»: not polled until commissioned
        await user.open(f"/service/meters/{meter['id']}/operations")
        await user.should_see(f"Сервисные операции ПУ {serial}")
        _set(user, "procedures-start-kind", "install")
        _set(user, "procedures-start-operation", "commissioning")
        user.find(marker="procedures-start-button").click()
        await user.should_see(marker="procedures-start-dialog")
        user.find(marker="procedures-start-dialog-yes").click()
        await user.should_see("Текущая процедура: установка ПУ")
        await user.should_see(marker="procedures-complete-form")
        await until(lambda: agent.drivers.driver(serial) is None, 30, "the edge to leave the uninstalled meter")

        # 3. commissioned: the date, the next verification, the archives to transfer
        _set(user, "procedures-done-on", commissioned_on.isoformat())
        _set(user, "procedures-next-verification", commissioned_on.replace(year=commissioned_on.year + 6).isoformat())
        _set(user, "procedures-archives", ["hour", "day", "month"])
        user.find(marker="procedures-complete").click()
        await user.should_see(marker="procedures-complete-dialog")
        user.find(marker="procedures-complete-dialog-yes").click()
        await user.should_see("тест на доступность ПУ")
        procedure = registry.one("SELECT id FROM procedures WHERE meter_id = ?", meter["id"])["id"]

        # 4. the automatic operations run on the device through the edge; the page follows them
        def state() -> str:
            return registry.one("SELECT state FROM procedures WHERE id = ?", procedure)["state"]
        await until(lambda: state() != "active", 40, "the automatic operations to run on the simulated device")
        steps = {r["operation"]: (r["state"], r["notes"]) for r in registry.all(
            "SELECT operation, state, notes FROM procedure_steps WHERE procedure_id = ?", procedure)}
        assert state() == "completed", steps
        assert [op for op, (s, _) in steps.items() if s != "done"] == [], steps
        assert steps["availability_test"][1].startswith("ПУ доступен, ответ за ")
        # the module's passport (from the availability test) names the device: serial and model checked too
        assert steps["passport_check"][1].startswith("паспортные данные согласованы: серийный номер, модель и ")
        await user.should_see("установка ПУ: завершена")  # the meter's history on the page

        # 5. the edge polls it from the commissioning date's local midnight; its archives arrive
        await until(lambda: agent.drivers.driver(serial) is not None, 10, "the edge to poll the meter")
        entry = next(m for m in agent.config.meters if m.serial == serial)
        assert entry.commissioned_at == midnight
        assert entry.dev_eui == spare.dev_eui

        async def stored() -> set[int]:
            rows = await clickhouse.query(
                "SELECT DISTINCT toUnixTimestamp(period_start) FROM {db}.archive WHERE meter = {m:String} "
                "AND kind = 'hour'", {"m": serial})
            return {r[0] for r in rows}

        async def covered() -> bool:
            return expected <= await stored()
        await until(covered, 40, "the meter's hourly archives in ClickHouse")
        assert min(await stored()) == min(expected)  # nothing from before the commissioning date

