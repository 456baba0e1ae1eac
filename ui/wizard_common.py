"""What the add-meter wizard's pages share (manual 4.5.2, 4.5.6; ui/wizard_page.py,
wizard_view_page.py, wizard_lines_page.py): their addresses and texts, the service protocol,
refusals shown next to a form, and the line-of-communication fields."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from nicegui import ui

from cloud.services.communicators import (
    LORA_CLASSES,
    LORAWAN_VERSIONS,
    CommunicatorInfo,
    CommunicatorsService,
)
from cloud.services.documents import MAX_BYTES, DocumentsService
from cloud.services.meter_wizard import (
    MeterWizardService,
)
from cloud.services.models import AuthError, Forbidden, InvalidInput, NotFound, Role

from . import auth
from .i18n import extend, has, t
from .ports import Services

T = TypeVar("T")
MAX_MB = MAX_BYTES // 2**20  # for the labels that name the largest document
NEW_PATH = "/service/meters/new"
COMMUNICATORS_PATH = "/service/communicators"
ACTIVE = "/service/meters"

extend({
    "wizard.title": ("Добавление прибора учёта", "Add a meter"),
    "wizard.crumb.meters": ("Приборы", "Meters"),
    "wizard.only_engineer": ("Добавлять приборы учёта может только сервис-инженер.",
                             "Only a service engineer adds meters."),
    "wizard.step_of": ("Шаг {n} из {total}", "Step {n} of {total}"),
    "wizard.step.type": ("Тип и модель", "Type and model"),
    "wizard.step.location": ("Место установки", "Location"),
    "wizard.step.barcode": ("Штрихкод", "Barcode"),
    "wizard.step.line": ("Линия связи", "Communication line"),
    "wizard.step.config": ("Конфигурация", "Configuration"),
    "wizard.step.review": ("Проверка и ввод", "Review and confirm"),
    "wizard.next": ("Далее", "Next"),
    "wizard.back": ("Назад", "Back"),
    "wizard.refused": ("Исправьте данные шага: {reason}", "Fix this step: {reason}"),
    "wizard.refused.field": ("Исправьте поле «{field}»: {reason}", "Fix “{field}”: {reason}"),
    "wizard.role": ("Тип прибора учёта", "Meter type"),
    "wizard.role.individual": ("ИПУ — индивидуальный", "Individual (apartment)"),
    "wizard.role.common": ("ОДПУ — общедомовой", "Common (building)"),
    "wizard.model": ("Модель (ведущее устройство комплекта)", "Model (the kit's lead device)"),
    "wizard.model.roles": ("только {roles}", "{roles} only"),
    "wizard.building": ("Объект", "Building"),
    "wizard.premise": ("Помещение", "Premise"),
    "wizard.no_premises": ("В объекте нет помещений.", "The building has no premises."),
    "wizard.no_buildings": ("Нет доступных объектов.", "No buildings available."),
    "wizard.serial": ("Заводской номер", "Serial number"),
    "wizard.barcode": ("Штрихкод", "Barcode"),
    "wizard.scan": ("Сканировать камерой", "Scan with the camera"),
    "wizard.scan.hint": ("Наведите камеру на штрихкод прибора; после распознавания он появится в поле.",
                         "Point the camera at the meter's barcode; once read it appears in the field."),
    "wizard.scan.unsupported": ("Камера или распознавание штрихкодов недоступны в этом браузере: введите "
                                "штрихкод вручную.", "The camera or barcode detection is not available in this "
                                "browser: type the barcode."),
    "wizard.scan.stop": ("Закрыть камеру", "Close the camera"),
    "wizard.scan.read": ("Штрихкод распознан: {code}", "Barcode read: {code}"),
    "wizard.serial.hint": ("Если не указан, берётся из штрихкода.", "Taken from the barcode when empty."),
    "wizard.line.builtin": ("Встроенный модуль (данные из паспорта)", "Built-in module (passport data)"),
    "wizard.line.existing": ("Коммуникатор из списка", "A communicator from the list"),
    "wizard.line.new": ("Новая линия связи", "A new line"),
    "wizard.line.none": ("Подходящих коммуникаторов нет: задайте новую линию.",
                         "No suitable communicator: enter a new line."),
    "wizard.line.communicator": ("Коммуникатор", "Communicator"),
    "wizard.line.kind": ("Тип линии", "Line type"),
    "wizard.line.unit": ("Адрес Modbus прибора", "Meter's Modbus address"),
    "wizard.passport.read": ("Прочитать паспорт", "Read the passport"),
    "wizard.passport.none": ("Паспорт от устройства не поступал за 30 дней: разбудите модуль (магнит) или введите "
                             "данные вручную.", "No passport from the device in 30 days: wake the module (magnet) "
                             "or enter the data by hand."),
    "wizard.passport.found": ("Паспорт: {model}, № {serial}, ПО {firmware}, поверка {verified}, входы: {inputs}",
                              "Passport: {model}, no. {serial}, firmware {firmware}, verified {verified}, "
                              "inputs: {inputs}"),
    "wizard.passport.other_model": ("Внимание: по паспорту это {model}, выбрана модель {chosen}.",
                                    "Note: the passport says {model}, the chosen model is {chosen}."),
    "wizard.calculator": ("Вычислитель комплекта", "The kit's calculator"),
    "wizard.kit": ("Состав комплекта", "Kit composition"),
    "wizard.kit.add": ("Добавить устройство", "Add a device"),
    "wizard.kit.empty": ("Устройства комплекта не указаны.", "No kit devices listed."),
    "wizard.kit.kind": ("Устройство", "Device"),
    "wizard.kit.channel": ("Канал", "Channel"),
    "wizard.kit.model": ("Модель", "Model"),
    "wizard.kit.radio_module": ("Модуль радиоинтерфейса", "Radio module"),
    "wizard.kit.flow_transducer": ("Преобразователь расхода", "Flow transducer"),
    "wizard.kit.temperature_sensor": ("Датчик температуры", "Temperature sensor"),
    "wizard.kit.water_meter": ("Счётчик воды", "Water meter"),
    "wizard.kit.pulse_meter": ("Счётчик на импульсном входе", "Meter on a pulse input"),
    "wizard.kit.hint_calc": ("На тепловой ввод (канал 1): два преобразователя расхода и два датчика температуры "
                             "(подача и обратка).", "Heat input (channel 1): two flow transducers and two "
                             "temperature sensors (supply and return)."),
    "wizard.input": ("Вход {n}", "Input {n}"),
    "wizard.inputs": ("Число импульсных входов", "Pulse inputs"),
    "wizard.resource": ("Учитываемый ресурс", "Resource measured"),
    "wizard.tariffs": ("Число тарифов", "Tariffs"),
    "wizard.phases": ("Подключение", "Connection"),
    "wizard.phases.1": ("однофазный", "single-phase"),
    "wizard.phases.3": ("трёхфазный", "three-phase"),
    "wizard.phase": ("Фаза", "Phase"),
    "wizard.ct_ratio": ("Множитель показаний (ТТ)", "Reading multiplier (CT)"),
    "wizard.ct_ratio.hint": ("Только для ОДПУ с трансформаторами тока, если счётчик сам не учитывает коэффициент.",
                             "Only for a building meter with current transformers that does not apply the ratio."),
    "wizard.password": ("Пароль администратора прибора", "Meter admin password"),
    "wizard.password.hint": ("Оставьте пустым, если на приборе заводской пароль.",
                             "Leave empty when the meter has the factory password."),
    "wizard.archives": ("Типы архивов", "Archive kinds"),
    "wizard.verified_on": ("Дата поверки", "Verification date"),
    "wizard.next_verification_on": ("Дата следующей поверки", "Next verification"),
    "wizard.installed_on": ("Дата установки", "Installation date"),
    "wizard.review.channels": ("Каналы", "Channels"),
    "wizard.review.confirm": ("Ввести в эксплуатацию", "Commission"),
    "wizard.review.question": ("Добавить прибор {model} № {serial} в «{address}» и передать список приборов на "
                               "сервер опроса?", "Add the {model} no. {serial} at {address} and send the meter "
                               "list to the edge?"),
    "wizard.review.yes": ("Добавить", "Add"),
    "wizard.cancel": ("Отмена", "Cancel"),
    "wizard.warn.no_season": ("Для объекта не установлен отопительный сезон: при добавлении прибора учёта тепла в "
                              "журнал событий записано предупреждение.", "The building has no heating season: a "
                              "warning is recorded in the event journal for the new heat meter."),
    "wizard.warn.no_season.ahead": ("Для объекта не установлен отопительный сезон: при добавлении этого прибора "
                                    "учёта тепла в журнал событий будет записано предупреждение.",
                                    "The building has no heating season: adding this heat meter records a warning "
                                    "in the event journal."),
    "wizard.warn.no_season.link": ("Установить сезон", "Set the season"),
    "wizard.done": ("Прибор учёта {serial} добавлен", "Meter {serial} added"),
    "wizard.done.pushed": ("Список приборов передан на сервер опроса (команда {command}).",
                           "The meter list was sent to the edge (command {command})."),
    "wizard.done.not_pushed": ("Список приборов не передан: {reason}", "The meter list was not sent: {reason}"),
    "wizard.done.open": ("Открыть прибор", "Open the meter"),
    "wizard.done.another": ("Добавить ещё", "Add another"),
})


class WizardServices(Services, Protocol):
    @property
    def wizard(self) -> MeterWizardService: ...

    @property
    def documents(self) -> DocumentsService: ...

    @property
    def communicators(self) -> CommunicatorsService: ...


# --- shared helpers --------------------------------------------------------------------------------

async def attempt_here(call: Awaitable[T], error: ui.label) -> T | None:
    """Await a service call from a form; a refusal is shown in ``error`` next to the form."""
    error.set_visibility(False)
    try:
        return await call
    except AuthError:
        auth.session_ended()
        return None
    except NotFound:
        text = t("error.not_found")
    except Forbidden:
        text = t("error.forbidden_text")
    except InvalidInput as refusal:
        text = refused_text(str(refusal))
    error.text = text
    error.set_visibility(True)
    return None


# the service names the field first ("serial: ..."); the form says which of its fields that is
FIELD_KEYS = {
    "role": "wizard.role", "model": "wizard.model", "building_id": "wizard.building", "premise_id": "wizard.premise",
    "serial": "wizard.serial", "barcode": "wizard.barcode", "line.mode": "wizard.step.line",
    "line.communicator_id": "wizard.line.communicator", "line.unit": "wizard.line.unit",
    "line.spec.kind": "wizard.line.kind", "line.spec.dev_eui": "lines.dev_eui", "dev_eui": "lines.dev_eui",
    "host": "lines.host", "port": "lines.port", "imei": "lines.imei", "iccid": "lines.iccid", "phone": "lines.phone",
    "lora_class": "lines.class", "lorawan_version": "lines.version", "name": "lines.name", "calculator":
    "wizard.calculator", "kit": "wizard.kit", "channel_resources": "wizard.resource", "inputs": "wizard.inputs",
    "tariffs": "wizard.tariffs", "phases": "wizard.phases", "phase": "wizard.phase", "ct_ratio": "wizard.ct_ratio",
    "admin_password": "wizard.password", "archive_kinds": "wizard.archives", "verified_on": "wizard.verified_on",
    "next_verification_on": "wizard.next_verification_on", "installed_on": "wizard.installed_on",
    "kind": "docs.kind", "sensor": "docs.sensor", "file": "docs.file.name",
}


def refused_text(message: str) -> str:
    """A service refusal in the form's words: the field's name in the page's language, then the reason."""
    field, sep, reason = message.partition(": ")
    key = FIELD_KEYS.get(field)
    if not sep or key is None or not has(key):
        return t("wizard.refused", reason=message)
    return t("wizard.refused.field", field=t(key, mb=MAX_MB), reason=reason)


def error_label(marker: str) -> ui.label:
    label = ui.label("").classes("text-sm text-[#c2413b] break-words w-full").mark(marker)
    label.set_visibility(False)
    return label


def may_add(viewer: auth.Viewer) -> bool:
    return viewer.user.role is Role.ENGINEER and not viewer.user.reader


def may_write(viewer: auth.Viewer) -> bool:
    return not viewer.user.reader and viewer.user.role in (Role.DISPATCHER, Role.ENGINEER)


def resource_text(code: str) -> str:
    key = f"resource.{code}"
    return t(key) if has(key) else code


async def finished(call: Awaitable[None]) -> bool:
    """A call that returns nothing, as True once done (``auth.attempt`` gives None on a refusal)."""
    await call
    return True


def local_time(moment: Any, time_zone: str) -> Any:
    return moment.astimezone(ZoneInfo(time_zone)).replace(tzinfo=None)


def season_warning(*, ahead: bool = False) -> None:
    with ui.row().classes("w-full items-center gap-2 px-3 py-2 rounded-lg bg-amber-50 text-amber-900") \
            .mark("wizard-no-season"):
        ui.icon("warning_amber", size="20px")
        ui.label(t("wizard.warn.no_season.ahead" if ahead else "wizard.warn.no_season")) \
            .classes("text-sm flex-1 min-w-[12rem]")
        ui.link(t("wizard.warn.no_season.link"), "/service/season").classes("du-link text-sm")


def fact_row(label: str, value: str) -> None:
    with ui.row().classes("w-full gap-2 no-wrap items-baseline"):
        ui.label(label).classes("text-xs du-muted w-32 shrink-0")
        ui.label(value).classes("text-sm break-words min-w-0")


def to_int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def to_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def line_text(c: CommunicatorInfo) -> str:
    s = c.spec
    where = {"tcp": f"{s.host}:{s.port}", "gprs": f"IMEI {s.imei}", "lora": f"DevEUI {s.dev_eui}"}[s.kind]
    return " · ".join(x for x in (s.name, s.serial, t(f"lines.kind.{s.kind}"), where) if x)


def line_fields(values: dict[str, Any], kind: str, field: Callable[..., None]) -> None:
    """The fields of one line kind (4.5.6): TCP host and port, GPRS two identifiers, LoRa DevEUI, class, version."""
    if kind == "tcp":
        field("host", t("lines.host"))
        field("port", t("lines.port"), number=True)
    elif kind == "gprs":
        field("imei", t("lines.imei"))
        field("iccid", t("lines.iccid"))
        field("phone", t("lines.phone"))
    else:
        field("dev_eui", t("lines.dev_eui"))
        ui.select(list(LORA_CLASSES), label=t("lines.class"), value=values.get("lora_class") or "A",
                  on_change=lambda e: values.__setitem__("lora_class", e.value)).props("outlined dense") \
            .classes("w-full")
        ui.select(list(LORAWAN_VERSIONS), label=t("lines.version"), value=values.get("lorawan_version") or "1.0.2",
                  on_change=lambda e: values.__setitem__("lorawan_version", e.value)).props("outlined dense") \
            .classes("w-full")
