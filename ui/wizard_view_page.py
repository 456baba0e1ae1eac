"""Pages «Просмотр ПУ» (manual 4.5.2) and the meter's documents: the meter's passport, location,
communication line, kit and settings, channels and verification dates, with links to its service
operations, measuring channels, documents and metering data; the documents listed, downloaded (checked
against their SHA-256), added and deleted after a confirmation. Readers read; a service engineer also
sets or restores the 941LW admin password. Routes (registered by ui/wizard_page.py):
/service/meters/{id}, /service/meters/{id}/documents. Tests: tests/ui/test_wizard_ui.py.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from cloud.services.documents import KINDS, MAX_BYTES, SENSOR_KINDS, DocumentCorrupted, DocumentInfo
from cloud.services.meter_wizard import MeterView

from . import auth, fmt, theme, widgets
from .i18n import extend, t
from .wizard_common import (
    ACTIVE,
    WizardServices,
    attempt_here,
    error_label,
    fact_row,
    finished,
    line_text,
    local_time,
    may_write,
    resource_text,
)

extend({
    "view.title": ("Прибор учёта {serial}", "Meter {serial}"),
    "view.passport": ("Паспорт", "Passport"),
    "view.model": ("Модель", "Model"),
    "view.type": ("Тип", "Type"),
    "view.status": ("Состояние", "Status"),
    "view.location": ("Место установки", "Location"),
    "view.line": ("Линия связи", "Communication line"),
    "view.line.none": ("Коммуникатор не привязан.", "No communicator linked."),
    "view.kit": ("Комплект и настройки", "Kit and settings"),
    "view.channels": ("Каналы", "Channels"),
    "view.verification": ("Поверка", "Verification"),
    "view.installed": ("Установлен", "Installed"),
    "view.commissioned": ("Введён в эксплуатацию", "Commissioned"),
    "view.decommissioned": ("Выведен из эксплуатации", "Decommissioned"),
    "view.password.set": ("задан (не заводской)", "set (not the factory one)"),
    "view.password.factory": ("заводской", "factory"),
    "view.password.change": ("Задать пароль", "Set the password"),
    "view.password.restore": ("Вернуть заводской", "Restore the factory one"),
    "view.password.restore_q": ("Вернуть заводской пароль администратора в модуле связи прибора {serial}?",
                                "Restore the factory admin password in the module of meter {serial}?"),
    "view.password.saved": ("Пароль сохранён", "Password saved"),
    "view.links.operations": ("Сервисные операции", "Service operations"),
    "view.links.channels": ("Измерительные каналы", "Measuring channels"),
    "view.links.documents": ("Документы ({count})", "Documents ({count})"),
    "view.links.data": ("Учётные данные", "Metering data"),
    "view.none": ("—", "—"),
    "docs.title": ("Документы прибора {serial}", "Documents of meter {serial}"),
    "docs.kind.meter_passport": ("Паспорт прибора", "Meter passport"),
    "docs.kind.commissioning_act": ("Акт ввода в эксплуатацию узла учёта", "Commissioning act"),
    "docs.kind.meter_certificate": ("Свидетельство о поверке прибора", "Meter verification certificate"),
    "docs.kind.sensor_passport": ("Паспорт датчика", "Sensor passport"),
    "docs.kind.sensor_certificate": ("Свидетельство о поверке датчика", "Sensor verification certificate"),
    "docs.empty": ("Документов нет.", "No documents."),
    "docs.upload": ("Добавить документ", "Add a document"),
    "docs.kind": ("Вид документа", "Document kind"),
    "docs.sensor": ("Заводской номер датчика", "Sensor serial"),
    "docs.file": ("Файл (до {mb} МБ)", "File (up to {mb} MB)"),
    "docs.file.name": ("Файл", "File"),
    "docs.too_big": ("Файл больше {mb} МБ: выберите файл поменьше (скан страниц паспорта).",
                     "The file is over {mb} MB: choose a smaller one (a scan of the passport's pages)."),
    "docs.uploaded": ("Документ «{name}» добавлен", "Document “{name}” added"),
    "docs.download": ("Скачать", "Download"),
    "docs.delete": ("Удалить", "Delete"),
    "docs.delete_q": ("Удалить документ «{name}»? Файл будет удалён безвозвратно.",
                      "Delete the document “{name}”? The file is removed for good."),
    "docs.deleted": ("Документ удалён", "Document deleted"),
    "docs.corrupted": ("Файл документа повреждён или изменён: {reason}", "The document's file is damaged or "
                       "changed: {reason}"),
    "docs.col.kind": ("Вид", "Kind"),
    "docs.col.name": ("Файл", "File"),
    "docs.col.size": ("Размер", "Size"),
    "docs.col.by": ("Загрузил", "Uploaded by"),
    "docs.size": ("{kb} КБ", "{kb} KB"),
})


# --- the meter view ----------------------------------------------------------------------------------------

class MeterViewPage:
    def __init__(self, services: WizardServices, viewer: auth.Viewer, meter_id: int) -> None:
        self.services = services
        self.viewer = viewer
        self.meter_id = meter_id
        self.view: MeterView | None = None

    async def load(self) -> None:
        self.view = await self.services.wizard.view(self.viewer.token, self.meter_id)

    def render(self) -> None:
        view = self.view
        if view is None:
            return
        with theme.frame(t("view.title", serial=view.meter.serial), self.viewer.user, active=ACTIVE,
                         subtitle=view.model_title, crumbs=((t("wizard.crumb.meters"), ACTIVE),)):
            self.body()

    @ui.refreshable_method
    def body(self) -> None:
        view = self.view
        if view is None:
            return
        m = view.meter
        with ui.row().classes("w-full gap-2").mark("view-links"):
            for text, href in ((t("view.links.operations"), f"/service/meters/{m.id}/operations"),
                               (t("view.links.channels"), f"/service/meters/{m.id}/channels"),
                               (t("view.links.documents", count=view.documents), f"/service/meters/{m.id}/documents"),
                               (t("view.links.data"), f"/meters/{m.id}")):
                ui.link(text, href).classes("du-link px-3 py-1 rounded-lg bg-[#e6eef7] text-sm")
        with ui.element("div").classes("grid w-full gap-3 grid-cols-1 md:grid-cols-2"):
            with theme.card(t("view.passport")).mark("view-passport"):
                fact_row(t("view.model"), f"{view.model_title} ({m.model})")
                fact_row(t("wizard.serial"), m.serial)
                fact_row(t("wizard.barcode"), view.barcode or "—")
                fact_row(t("view.type"), t(f"wizard.role.{m.role.value}"))
                fact_row(t("view.status"), fmt.meter_status(m.status))
            with theme.card(t("view.location")).mark("view-location"):
                fact_row(t("wizard.building"), f"{view.address} ({view.city})")
                if m.premise_number:
                    fact_row(t("wizard.premise"), m.premise_number)
                if m.installed_on:
                    fact_row(t("view.installed"), fmt.day(m.installed_on))
                if m.commissioned_at:
                    fact_row(t("view.commissioned"), fmt.moment(local_time(m.commissioned_at, view.time_zone)))
                if m.decommissioned_at:
                    fact_row(t("view.decommissioned"), fmt.moment(local_time(m.decommissioned_at, view.time_zone)))
            with theme.card(t("view.line")).mark("view-line"):
                fact_row(t("view.line"), m.communicator or "—")
                c = view.communicator
                if c is None:
                    theme.message(t("view.line.none"))
                else:
                    fact_row(t("lines.filter.kind"), t(f"lines.kind.{c.spec.kind}"))
                    fact_row(t("lines.filter.placement"), t(f"lines.placement.{c.spec.placement}"))
                    fact_row(t("lines.name"), line_text(c))
            with theme.card(t("view.verification")).mark("view-verification"):
                fact_row(t("wizard.verified_on"), fmt.day(view.verified_on) if view.verified_on else "—")
                fact_row(t("wizard.next_verification_on"),
                     fmt.day(view.next_verification_on) if view.next_verification_on else "—")
            with theme.card(t("view.channels")).mark("view-channels"):
                for ch in m.channels:
                    ui.label(f"{ch.number}: {resource_text(ch.resource.value)} ({', '.join(ch.parameters)})"
                             + (f" · {ch.tariff}" if ch.tariff else "")).classes("text-sm")
                fact_row(t("wizard.archives"), fmt.archives(m.archives))
            with theme.card(t("view.kit")).mark("view-kit"):
                if view.calculator:
                    fact_row(t("wizard.calculator"), view.calculator)
                if m.tariffs:
                    fact_row(t("wizard.tariffs"), str(m.tariffs))
                if view.phases:
                    phase = f", {m.phase}" if m.phase else ""
                    fact_row(t("wizard.phases"), t(f"wizard.phases.{view.phases}") + phase)
                if m.ct_ratio != 1:
                    fact_row(t("wizard.ct_ratio"), fmt.number(m.ct_ratio, 3))
                if view.admin_password:
                    fact_row(t("wizard.password"), t(f"view.password.{view.admin_password}"))
                    if view.may_service:
                        with ui.row().classes("gap-2"):
                            ui.button(t("view.password.change"), icon="key", on_click=self._password) \
                                .props("outline no-caps dense").mark("view-password-set")
                            if view.admin_password != "factory":  # noqa: S105 - a state, not a password
                                ui.button(t("view.password.restore"), icon="restart_alt",
                                          on_click=self._restore).props("outline no-caps dense") \
                                    .mark("view-password-restore")
                for part in view.kit:
                    ui.label(f"{t(f'wizard.kit.{part.kind}')} {part.serial}"
                             + (f" · {t('wizard.kit.channel').lower()} {part.channel}" if part.channel else "")) \
                        .classes("text-sm")

    def _password(self) -> None:
        with ui.dialog() as dialog, theme.card().classes("max-w-md"):
            field = ui.input(t("wizard.password"), password=True, password_toggle_button=True) \
                .props("outlined dense autocomplete=off").classes("w-full").mark("view-password-field")
            error = error_label("view-password-error")

            async def save() -> None:
                async with theme.working():
                    done = await attempt_here(self.services.wizard.set_admin_password(
                        self.viewer.token, self.meter_id, field.value or None), error)
                if done is None:
                    return
                dialog.close()
                self.view = done
                ui.notify(t("view.password.saved"), type="positive")
                self.body.refresh()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("wizard.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("lines.save"), on_click=save).props("unelevated no-caps").mark("view-password-save")
        dialog.open()

    def _restore(self) -> None:
        view = self.view
        if view is None:
            return
        with ui.dialog() as dialog, theme.card().classes("max-w-md"):
            ui.label(t("view.password.restore_q", serial=view.meter.serial)).classes("break-words")
            error = error_label("view-restore-error")

            async def restore() -> None:
                async with theme.working():
                    done = await attempt_here(self.services.wizard.restore_factory_password(
                        self.viewer.token, self.meter_id), error)
                if done is None:
                    return
                dialog.close()
                self.view = done
                self.body.refresh()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("wizard.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("view.password.restore"), on_click=restore).props("unelevated no-caps") \
                    .mark("view-restore-yes")
        dialog.open()


# --- documents --------------------------------------------------------------------------------------------

class DocumentsPage:
    def __init__(self, services: WizardServices, viewer: auth.Viewer, meter_id: int) -> None:
        self.services = services
        self.viewer = viewer
        self.meter_id = meter_id
        self.view: MeterView | None = None
        self.documents: list[DocumentInfo] = []
        self.kind = KINDS[0]
        self.sensor = ""

    async def load(self) -> None:
        self.view = await self.services.wizard.view(self.viewer.token, self.meter_id)
        self.documents = await self.services.documents.list(self.viewer.token, self.meter_id)

    def render(self) -> None:
        view = self.view
        if view is None:
            return
        with theme.frame(t("docs.title", serial=view.meter.serial), self.viewer.user, active=ACTIVE,
                         crumbs=((t("view.title", serial=view.meter.serial), f"/service/meters/{self.meter_id}"),)):
            if may_write(self.viewer):
                self._upload()
            self.body()

    def _upload(self) -> None:
        with theme.card(t("docs.upload")).mark("docs-upload"):
            with ui.row().classes("w-full gap-2"):
                ui.select({k: t(f"docs.kind.{k}") for k in KINDS}, label=t("docs.kind"), value=self.kind,
                          on_change=lambda e: self._kind(e.value)).props("outlined dense") \
                    .classes("flex-1 min-w-[12rem]").mark("docs-kind")
                self.sensor_field = ui.input(t("docs.sensor"),
                                             on_change=lambda e: setattr(self, "sensor", e.value or "")) \
                    .props("outlined dense").classes("flex-1 min-w-[10rem]").mark("docs-sensor")
                self.sensor_field.set_visibility(self.kind in SENSOR_KINDS)
            self.upload_error = error_label("docs-error")
            upload = ui.upload(label=t("docs.file", mb=MAX_BYTES // 2**20), auto_upload=True, max_file_size=MAX_BYTES,
                               on_upload=self._uploaded, on_rejected=self._rejected) \
                .props("flat bordered").classes("w-full").mark("docs-file")
            widgets.name_uploader(upload)

    def _rejected(self) -> None:
        """The browser refused the file before sending it (over MAX_BYTES)."""
        self.upload_error.text = t("docs.too_big", mb=MAX_BYTES // 2**20)
        self.upload_error.set_visibility(True)

    def _kind(self, kind: str) -> None:
        self.kind = kind
        self.sensor_field.set_visibility(kind in SENSOR_KINDS)

    async def _uploaded(self, event: Any) -> None:
        data = await event.file.read()
        async with theme.working():
            info = await attempt_here(self.services.documents.upload(
                self.viewer.token, self.meter_id, self.kind, event.file.name, data,
                self.sensor if self.kind in SENSOR_KINDS else ""), self.upload_error)
        if info is None:
            return
        ui.notify(t("docs.uploaded", name=info.name), type="positive")
        await self._reload()

    async def _reload(self) -> None:
        async with theme.working():
            found = await auth.attempt(self.services.documents.list(self.viewer.token, self.meter_id))
        if found is not None:
            self.documents = found
        self.body.refresh()

    @ui.refreshable_method
    def body(self) -> None:
        view = self.view
        with theme.card().mark("docs-list"):
            if not self.documents or view is None:
                theme.message(t("docs.empty"))
                return
            for doc in self.documents:
                with ui.row().classes("w-full items-center gap-2 no-wrap border-b border-[#edf1f5] py-1") \
                        .mark(f"doc-{doc.id}"):
                    with ui.column().classes("gap-0 flex-1 min-w-0"):
                        ui.label(doc.name).classes("text-sm font-semibold truncate")
                        ui.label(t(f"docs.kind.{doc.kind}") + (f" · {doc.sensor}" if doc.sensor else "")) \
                            .classes("text-xs du-muted break-words")
                        size = t("docs.size", kb=fmt.number(doc.size / 1024, 1))
                        at = fmt.moment(local_time(doc.uploaded_at, view.time_zone))
                        ui.label(f"{size} · SHA-256 {doc.sha256[:12]}… · {doc.uploaded_by or '—'}, {at}") \
                            .classes("text-xs du-muted break-words")
                    ui.button(icon="download", on_click=lambda d=doc: self._download(d)) \
                        .props(f'flat round dense aria-label="{t("docs.download")}"') \
                        .tooltip(t("docs.download")).mark(f"doc-download-{doc.id}")
                    if may_write(self.viewer):
                        ui.button(icon="delete", on_click=lambda d=doc: self._ask_delete(d)) \
                            .props(f'flat round dense color=negative aria-label="{t("docs.delete")}"') \
                            .tooltip(t("docs.delete")) \
                            .mark(f"doc-delete-{doc.id}")

    async def _download(self, doc: DocumentInfo) -> None:
        try:
            async with theme.working():
                found = await auth.attempt(self.services.documents.download(self.viewer.token, doc.id))
        except DocumentCorrupted as exc:
            ui.notify(t("docs.corrupted", reason=str(exc)), type="negative", multi_line=True)
            return
        if found is not None:
            info, data = found
            ui.download(data, info.name, info.content_type)

    def _ask_delete(self, doc: DocumentInfo) -> None:
        with ui.dialog() as dialog, theme.card().classes("max-w-md").mark("doc-delete-dialog"):
            ui.label(t("docs.delete_q", name=doc.name)).classes("break-words")

            async def delete() -> None:
                async with theme.working():
                    done = await auth.attempt(finished(self.services.documents.delete(self.viewer.token, doc.id)))
                dialog.close()
                if not done:
                    return
                ui.notify(t("docs.deleted"), type="positive")
                await self._reload()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("wizard.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("docs.delete"), on_click=delete).props("unelevated no-caps color=negative") \
                    .mark("doc-delete-yes")
        dialog.open()
