"""The add-meter wizard, the meter view, its documents and the communicators page as a user sees them
(NiceGUI's simulated user over the real services, registry and chDB; cloud_data's building, which has
no heating season): an engineer walks the wizard to a Compact-2-223 in flat 1, is refused on a bad
serial in Russian on the way, sees the 4.5.7 warning and the meter view; documents uploaded, listed and deleted
after a confirmation; communicators added with a refused field first; dispatchers, readers and
administrators get what their roles allow."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User

from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data, support_wizard
from tests.ui.conftest import login as ui_login


@pytest.fixture
def engineers(seeded: cloud_data.Seeded, ui_registry: Registry) -> cloud_data.Seeded:
    support_wizard.add_engineers(ui_registry, seeded)
    return seeded


def _set(user: User, marker: str, value: Any) -> None:
    """Choose a value in a select (the simulated user's click does not reach a select's options)."""
    element = user.find(marker=marker).elements.pop()
    assert isinstance(element, ui.select | ui.input | ui.number)
    assert user.client is not None
    with user.client:
        element.value = value


async def _next(user: User, step: str) -> None:
    user.find(marker="wizard-next").click()
    await user.should_see(marker=f"wizard-step-{step}")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_engineer_adds_a_compact_2_223_step_by_step(engineers, ui_registry: Registry, user: User) -> None:
    b = engineers.building_id
    flat = support_wizard.premise(ui_registry, b, "1")
    await ui_login(user, "eng", "eng-pass")
    await user.should_see("Мониторинг")
    await user.open("/service/meters/new")
    await user.should_see("Добавление прибора учёта")
    await user.should_see("Шаг 1 из 6")
    user.find(marker="wizard-role-individual-on").click()
    user.find(marker="wizard-model-KARAT-Compact-2-223").click()
    await user.should_see(marker="wizard-model-KARAT-Compact-2-223-on")
    await _next(user, "location")
    # the company's only building is chosen already, its premises listed (one choice fewer on a phone)
    assert next(iter(user.find(marker="wizard-building").elements)).value == b
    await user.should_see(marker="wizard-premise")
    _set(user, "wizard-building", None)
    await user.should_not_see(marker="wizard-premise")
    user.find(marker="wizard-next").click()  # no building chosen: refused next to the form
    await user.should_see("Исправьте поле «Объект»")
    _set(user, "wizard-building", b)
    await user.should_see(marker="wizard-premise")
    _set(user, "wizard-premise", flat)
    await _next(user, "barcode")
    user.find(marker="wizard-serial").type("223T0001")  # the seeded flat meter's: taken
    user.find(marker="wizard-next").click()
    await user.should_see("has serial '223T0001' already")
    user.find(marker="wizard-serial").clear()
    user.javascript_rules[re.compile(r".*'BarcodeDetector' in window.*", re.DOTALL)] = lambda _: False
    user.find(marker="wizard-scan").click()  # a browser without BarcodeDetector: typing stays, and it says so
    await user.should_see("введите штрихкод вручную")
    user.find(marker="wizard-barcode").type("223U0007")  # the serial comes from the barcode
    await _next(user, "line")
    await user.should_see(marker="wizard-line-builtin-on")
    user.find(marker="wizard-dev_eui").type("70B3D5E75E2A7007")
    await _next(user, "config")
    await user.should_see(marker="wizard-resource-2")
    await _next(user, "review")
    await user.should_see("223U0007")
    await user.should_see("LoRaWAN 70b3d5e75e2a7007")
    await user.should_see(marker="wizard-no-season")  # a heat meter, no heating season (4.5.7)
    user.find(marker="wizard-confirm").click()
    await user.should_see(marker="wizard-confirm-dialog")
    user.find(marker="wizard-confirm-yes").click()
    await user.should_see("Прибор учёта 223U0007 добавлен")
    await user.should_see("Список приборов передан на сервер опроса")
    row = ui_registry.one("SELECT id, model, premise_id, barcode FROM meters WHERE serial = '223U0007'")
    assert (row["model"], row["premise_id"], row["barcode"]) == ("KARAT-Compact-2-223", flat, "223U0007")
    channels = ui_registry.all("SELECT number, resource FROM meter_channels WHERE meter_id = ? ORDER BY number",
                               row["id"])
    assert [(c["number"], c["resource"]) for c in channels] == [(1, "heat"), (2, "hot_water"), (3, "cold_water")]

    user.find(marker="wizard-open").click()
    await user.should_see("Прибор учёта 223U0007")
    await user.should_see(marker="view-passport")
    await user.should_see("Теплосчетчик КАРАТ-Компакт-2-223")
    await user.should_see("Документы (0)")
    await user.should_see("Сервисные операции")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_documents_uploaded_listed_and_deleted_after_a_confirmation(engineers, ui_registry: Registry,
                                                                   clickhouse: ClickHouse, user: User) -> None:
    meter = ui_registry.one("SELECT id FROM meters WHERE serial = '223T0001'")["id"]
    services = Services.create(ui_registry, clickhouse)
    token = (await services.auth.login("eng", "eng-pass")).token
    doc = await services.documents.upload(token, meter, "meter_passport", "паспорт.pdf", b"%PDF passport")
    await ui_login(user, "reader", "reader-pass")
    await user.should_see("Мониторинг")
    await user.open(f"/service/meters/{meter}/documents")
    await user.should_see("паспорт.pdf")
    await user.should_see("Паспорт прибора")
    await user.should_not_see(marker="docs-upload")  # a reader reads
    await user.should_not_see(marker=f"doc-delete-{doc.id}")
    await user.open("/logout")
    await ui_login(user, "eng", "eng-pass")
    await user.should_see("Мониторинг")
    await user.open(f"/service/meters/{meter}/documents")
    await user.should_see(marker="docs-upload")
    upload = user.find(marker="docs-file").elements.pop()
    assert isinstance(upload, ui.upload)
    assert user.client is not None
    with user.client:
        await upload.handle_uploads([SmallFileUpload("пусто.pdf", "application/pdf", b"")])
    await user.should_see("is empty")  # refused next to the form, nothing stored
    _set(user, "docs-kind", "commissioning_act")
    with user.client:
        await upload.handle_uploads([SmallFileUpload("акт.pdf", "application/pdf", b"%PDF act")])
    await user.should_see("Документ «акт.pdf» добавлен")
    await user.should_see("Акт ввода в эксплуатацию узла учёта")
    act = ui_registry.one("SELECT id, sha256 FROM meter_documents WHERE original_name = 'акт.pdf'")
    assert act["sha256"] == hashlib.sha256(b"%PDF act").hexdigest()
    user.find(marker=f"doc-delete-{doc.id}").click()
    await user.should_see(marker="doc-delete-dialog")
    user.find(marker="doc-delete-yes").click()
    await user.should_see("Документ удалён")
    await user.should_not_see("паспорт.pdf")
    assert ui_registry.one("SELECT count(*) AS n FROM meter_documents")["n"] == 1  # the act stays


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_communicators_added_with_each_field_checked(engineers, ui_registry: Registry, user: User) -> None:
    await ui_login(user, "disp", "disp-pass")
    await user.should_see("Мониторинг")
    await user.open("/service/communicators")
    await user.should_see("Коммуникаторов нет.")
    user.find(marker="lines-add").click()
    await user.should_see(marker="lines-dialog")
    _set(user, "lines-form-kind", "gprs")
    await user.should_see(marker="lines-imei")
    user.find(marker="lines-name").type("Шкаф связи")
    user.find(marker="lines-imei").type("356938035643809")
    user.find(marker="lines-save").click()
    await user.should_see("two identifiers")  # the second identifier is mandatory (4.5.6)
    user.find(marker="lines-iccid").type("8970101234567890123")
    user.find(marker="lines-save").click()
    await user.should_see("Коммуникатор сохранён")
    await user.should_see("Шкаф связи")
    assert ui_registry.one("SELECT kind, iccid FROM communicators")["iccid"] == "8970101234567890123"


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_only_an_engineer_gets_the_wizard_and_administrators_none_of_the_pages(engineers, ui_registry: Registry,
                                                                                     user: User) -> None:
    meter = ui_registry.one("SELECT id FROM meters WHERE serial = '223T0001'")["id"]
    await ui_login(user, "disp", "disp-pass")
    await user.should_see("Мониторинг")
    await user.open("/service/meters/new")
    await user.should_see("Добавлять приборы учёта может только сервис-инженер.")
    await user.open(f"/service/meters/{meter}")
    await user.should_see("Прибор учёта 223T0001")
    await user.should_not_see(marker="view-password-set")
    await user.open("/logout")
    await ui_login(user, "reader", "reader-pass")
    await user.should_see("Мониторинг")
    await user.open("/service/meters/new")
    await user.should_see("Добавлять приборы учёта может только сервис-инженер.")
    await user.open("/service/communicators")
    await user.should_see("Связь")
    await user.should_not_see(marker="lines-add")
    other = ui_registry.one("SELECT id FROM meters WHERE serial = '307X0001'")["id"]
    await user.open(f"/service/meters/{other}")  # another company's meter
    await user.should_see("Прибор учёта не найден или недоступен.")
    await user.open("/logout")
    await ui_login(user, "admin", "admin-pass")
    await user.should_see(marker="users-table")
    for path in ("/service/meters/new", f"/service/meters/{meter}", f"/service/meters/{meter}/documents",
                 "/service/communicators"):
        await user.open(path)
        await user.should_see("Нет доступа")
