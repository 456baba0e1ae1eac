"""The start page of a company that is not metering yet (manual 3.3: "при отсутствии введенных в
эксплуатацию ПУ или указания объектов компании, стартовая страница будет отличаться").

In place of the buildings' consumption it lists the first steps of manual 3.6 with what is done,
each step's link offered only to the role that takes it (buildings and premises: a dispatcher; the
first meter: a service engineer; residents' invitations: a dispatcher) and never to a reader. The
facts come from cloud/services/navigation.py. Tests: tests/ui/test_navigation.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from nicegui import ui

from cloud.services.models import Role, UserInfo
from cloud.services.navigation import NavFacts

from . import i18n, theme
from .i18n import t

i18n.extend({
    "start.title": ("Начало работы", "Getting started"),
    "start.no_buildings": ("У компании пока нет объектов. Пройдите первые шаги, и здесь появится потребление "
                           "ресурсов по объектам.",
                           "The company has no buildings yet. Take the first steps and the buildings' consumption "
                           "will appear here."),
    "start.no_meters": ("На объектах компании пока нет приборов учёта, введённых в эксплуатацию. Потребление "
                        "появится здесь, когда первый прибор начнёт передавать показания.",
                        "No meter is in service at the company's buildings yet. Consumption will appear here "
                        "once the first meter reports."),
    "start.done": ("Сделано", "Done"),
    "start.todo": ("Нужно сделать", "To do"),
    "start.optional": ("По желанию", "Optional"),
    "start.step_buildings": ("Объекты компании", "The company's buildings"),
    "start.step_buildings_text": ("Диспетчер добавляет дома компании: раздел «Настройки», страница «Объекты».",
                                  "A dispatcher adds the company's buildings: «Settings», page «Buildings»."),
    "start.step_premises": ("Помещения", "Premises"),
    "start.step_premises_text": ("Если будут квартирные приборы учёта, диспетчер добавляет квартиры и нежилые "
                                 "помещения объекта на странице «Помещения выбранного объекта».",
                                 "For apartment meters, a dispatcher adds the building's apartments and "
                                 "non-residential premises on the building's «Premises» page."),
    "start.step_meters": ("Первый прибор учёта", "The first meter"),
    "start.step_meters_text": ("Сервис-инженер заводит прибор учёта сервисной процедурой: раздел «Сервис», "
                               "страница «Приборы».",
                               "A service engineer registers a meter with a service procedure: «Service», "
                               "page «Meters»."),
    "start.step_residents": ("Жители", "Residents"),
    "start.step_residents_text": ("Диспетчер приглашает жителей по e-mail или выдаёт код активации на странице "
                                  "помещения; жители входят в личный кабинет по адресу /kv.",
                                  "A dispatcher invites residents by e-mail or hands out an activation code on the "
                                  "premise's page; residents sign in to their app at /kv."),
    "start.go": ("Перейти", "Open"),
    "start.counts": ("Объектов: {buildings}, помещений: {premises}, приборов учёта: {meters}, в эксплуатации: "
                     "{in_service}",
                     "Buildings: {buildings}, premises: {premises}, meters: {meters}, in service: {in_service}"),
})


@dataclass(frozen=True, slots=True)
class Step:
    title_key: str
    text_key: str
    state: str  # "done", "todo" or "optional"
    href: str | None  # offered to this viewer, or None


def needed(facts: NavFacts | None) -> bool:
    """Whether "/" shows the first steps instead of the buildings' consumption."""
    return facts is not None and (facts.buildings == 0 or facts.in_service == 0)


def steps(user: UserInfo, facts: NavFacts) -> tuple[Step, ...]:
    """The steps of manual 3.6 for this viewer: the link only for the role that takes the step."""
    dispatcher = user.role is Role.DISPATCHER and not user.reader
    engineer = user.role is Role.ENGINEER and not user.reader
    return (
        Step("start.step_buildings", "start.step_buildings_text", "done" if facts.buildings else "todo",
             "/settings/buildings" if dispatcher else None),
        Step("start.step_premises", "start.step_premises_text", "done" if facts.premises else "optional",
             "/settings/buildings" if dispatcher and facts.buildings else None),
        Step("start.step_meters", "start.step_meters_text", "done" if facts.in_service else "todo",
             "/service/meters/new" if engineer and facts.buildings else None),
        Step("start.step_residents", "start.step_residents_text", "optional",
             "/settings/buildings" if dispatcher and facts.premises else None),
    )


_STATE = {"done": ("check_circle", "#2f855a", "start.done"), "todo": ("radio_button_unchecked", "#b7791f",
                                                                    "start.todo"),
          "optional": ("more_horiz", "#627d98", "start.optional")}


def render(user: UserInfo, facts: NavFacts) -> None:
    """The page: why there is no consumption yet and the steps, each with its state in words."""
    with theme.frame(t("start.title"), user, active="/"):
        with theme.card():
            ui.label(t("start.no_buildings" if facts.buildings == 0 else "start.no_meters")).mark("start-why")
            ui.label(t("start.counts", buildings=facts.buildings, premises=facts.premises, meters=facts.meters,
                       in_service=facts.in_service)).classes("du-muted text-sm")
        for number, step in enumerate(steps(user, facts), start=1):
            icon, colour, label = _STATE[step.state]
            with theme.card().mark(f"start-step-{number}"):
                with ui.row().classes("items-center gap-2 no-wrap"):
                    ui.icon(icon, size="22px").style(f"color: {colour}").props('aria-hidden="true"')
                    ui.label(f"{number}. {t(step.title_key)}").classes("font-semibold")
                    ui.label(t(label)).classes("text-xs du-muted").mark(f"start-state-{number}-{step.state}")
                ui.label(t(step.text_key)).classes("text-sm")
                if step.href:
                    ui.link(t("start.go"), step.href).classes("du-link").mark(f"start-go-{number}")
