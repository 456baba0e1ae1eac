"""The LoRa monitoring page (manual 4.2.4) as a user sees it (NiceGUI's simulated user over the real
services, registry and chDB with radio_packets rows inserted here): the device table with the last
packet, PER and its reset, the multi-select buttons (all pressed = none pressed), a row click
opening the packet log with averages, paging, page size and the uplink/downlink switch; readers
look, administrators are refused, another company's building is not reachable. The figures are
worked out in tests/support_lora.py."""

from __future__ import annotations

import asyncio

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests.support_lora import APT1, BLDG, GW_NEAR, archive_payload, seed_lora
from tests.ui.conftest import login

R = 100  # should_see retries (0.1 s apart): generous, the machine may be busy
TITLE = "Мониторинг сетевых параметров сеансов связи КУ"


def _rows(user: User, marker: str = "lora-table") -> list[dict]:
    table = user.find(marker=marker).elements.pop()
    assert isinstance(table, ui.table)
    return table.rows


def _by_serial(user: User) -> dict[str, dict]:
    return {row["meter"]: row for row in _rows(user)}


async def _serials(user: User, expected: list[str]) -> list[str]:
    """The table's meters once they are ``expected`` (a button's reload runs in the background), or
    what they are after ten seconds."""
    for _ in range(R):
        if list(_by_serial(user)) == expected:
            break
        await asyncio.sleep(0.1)
    return list(_by_serial(user))


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_sees_devices_filters_and_the_packet_log(seeded, ui_registry: Registry,
                                                                  clickhouse: ClickHouse, user: User) -> None:
    seed_lora(ui_registry, clickhouse, seeded)
    await login(user, "disp", "disp-pass")
    await user.should_see("Мониторинг", retries=R)
    await user.open(f"/monitoring/lora?building={seeded.building_id}")
    await user.should_see(TITLE, retries=R)
    rows = _by_serial(user)
    assert list(rows) == ["941E0001", "223T0001", "223T0002"]
    apt1 = rows["223T0001"]
    assert (apt1["premise"], apt1["dev_eui"], apt1["at"], apt1["function"], apt1["f_cnt"], apt1["per"]) == (
        "кв. 1", APT1, "14.01.2026 14:30:00", "0x11", "299", "0,83")
    assert (apt1["snr"], apt1["rssi"], apt1["gateway"]) == ("8,0", "-90", GW_NEAR)
    assert rows["223T0002"]["per"] == "нумерация пакетов сброшена"
    building = rows["941E0001"]
    assert (building["premise"], building["at"], building["per"]) == ("ОДПУ", "25.12.2025 15:00:00", "нет данных")

    # multi-select: electricity alone, then every button pressed = none pressed
    user.find(marker="lora-resource-electricity").click()
    assert await _serials(user, ["941E0001"]) == ["941E0001"]
    user.find(marker="lora-resource-heat").click()
    everything = ["941E0001", "223T0001", "223T0002"]
    assert await _serials(user, everything) == everything
    for resource in ("hot_water", "cold_water"):  # all four pressed: the same as none
        user.find(marker=f"lora-resource-{resource}").click()
        await asyncio.sleep(0.5)
        assert await _serials(user, everything) == everything
    user.find(marker="lora-role-individual").click()
    assert await _serials(user, ["223T0001", "223T0002"]) == ["223T0001", "223T0002"]

    # a row click opens the device's packets of 5 days: 118 uplinks, PER 1.67 %, means 5.03 dB, -99.92 dBm
    await user.should_see("Выберите строку таблицы", retries=R)
    user.find(marker="lora-table").trigger("rowClick", [{}, _by_serial(user)["223T0001"], 0])
    await user.should_see(f"Пакеты КУ {APT1} (223T0001) за последние 5 дн.", retries=R)
    await user.should_see("Пакетов: 118 (показаны 1–20)", retries=R)
    for marker, value in (("lora-avg-per", "1,67"), ("lora-avg-snr", "5,03"), ("lora-avg-rssi", "-99,92")):
        await user.should_see(value, marker=marker, retries=R)
    packets = _rows(user, "lora-packets")
    assert [p["f_cnt"] for p in packets[:3]] == ["299", "298", "296"]
    assert (packets[0]["payload"], packets[0]["gateway"], packets[0]["frequency"]) == (
        archive_payload(299), GW_NEAR, "868,9")
    assert packets[0]["gateway_hint"]  # heard twice: says which gateway is shown

    user.find(marker="lora-page-size").elements.pop().set_value(50)
    await user.should_see("Пакетов: 118 (показаны 1–50)", retries=R)
    user.find(marker="lora-pagination").elements.pop().set_value(3)
    await user.should_see("Пакетов: 118 (показаны 101–118)", retries=R)
    assert [p["f_cnt"] for p in _rows(user, "lora-packets")][:2] == ["197", "196"]

    user.find(marker="lora-direction").elements.pop().set_value("down")
    await user.should_see("Пакетов: 1 (показаны 1–1)", retries=R)
    (command,) = _rows(user, "lora-packets")
    assert (command["at"], command["function"], command["f_cnt"], command["snr"], command["gateway"]) == (
        "14.01.2026 13:00:00", "0x35", "—", "—", "—")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_address_opens_a_device_and_readers_look(seeded, ui_registry: Registry, clickhouse: ClickHouse,
                                                       user: User) -> None:
    seed_lora(ui_registry, clickhouse, seeded)
    await login(user, "reader", "reader-pass")
    await user.should_see("Мониторинг", retries=R)
    await user.open(f"/monitoring/lora?building={seeded.building_id}&device={BLDG}")
    await user.should_see(TITLE, retries=R)
    await user.should_see("нет данных: за последние 5 дн. пакетов нет", retries=R)  # last heard 20 days ago
    await user.open(f"/monitoring/lora?building={seeded.other_building_id}")
    await user.should_see("Объект не найден или недоступен.", retries=R)
    await user.open(f"/monitoring/lora?building={seeded.building_id}&size=7&role=nobody")
    await user.should_see("Неверный параметр «size»", retries=R)


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_administrator_is_refused(seeded, user: User) -> None:
    await login(user, "admin", "admin-pass")
    await user.should_see("Пользователи", retries=R)
    await user.open("/monitoring/lora")
    await user.should_see("Нет доступа", retries=R)
    await user.should_not_see(TITLE)
